//go:build linux

package lab

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Sample is one value of a series at a time.
type Sample struct {
	Metric map[string]string
	At     time.Time
	Value  float64
}

type promResp struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// Query runs an instant PromQL query against the lab Prometheus. For range
// selectors (matrix results) every raw sample is returned.
func (l *Lab) Query(expr string) ([]Sample, error) { return l.QueryAt(PrometheusAddr, expr) }

// QueryAt runs an instant PromQL query against the Prometheus at addr
// (host:port, reached from the router namespace).
func (l *Lab) QueryAt(addr, expr string) ([]Sample, error) {
	return l.query(expr, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(expr))
}

// QueryRange runs a PromQL range query against the lab Prometheus from
// start to end every step, as Grafana runs panels and annotation queries,
// and returns every point.
func (l *Lab) QueryRange(expr string, start, end time.Time, step time.Duration) ([]Sample, error) {
	return l.query(expr, fmt.Sprintf("http://%s/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=%g", PrometheusAddr,
		url.QueryEscape(expr), float64(start.UnixMilli())/1000, float64(end.UnixMilli())/1000, step.Seconds()))
}

func (l *Lab) query(expr, u string) ([]Sample, error) {
	code, body, err := l.Get(u)
	if err != nil {
		return nil, err
	}
	var r promResp
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: status %d: %w", expr, code, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, r.Error)
	}
	var out []Sample
	for _, res := range r.Data.Result {
		vals := res.Values
		if res.Value != nil {
			vals = append(vals, res.Value)
		}
		for _, v := range vals {
			s, err := parsePoint(v)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", expr, err)
			}
			s.Metric = res.Metric
			out = append(out, s)
		}
	}
	return out, nil
}

func parsePoint(v []any) (Sample, error) {
	if len(v) != 2 {
		return Sample{}, fmt.Errorf("bad point %v", v)
	}
	ts, ok := v[0].(float64)
	str, ok2 := v[1].(string)
	if !ok || !ok2 {
		return Sample{}, fmt.Errorf("bad point %v", v)
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return Sample{}, err
	}
	return Sample{At: time.UnixMilli(int64(ts * 1000)), Value: f}, nil
}

// Alert is one alert as Alertmanager's API v2 reports it.
type Alert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	StartsAt  time.Time `json:"startsAt"`
	UpdatedAt time.Time `json:"updatedAt"` // when Alertmanager last heard of it from Prometheus
}

// Alerts lists the alerts active in the Alertmanager at addr (host:port).
func (l *Lab) Alerts(addr string) ([]Alert, error) {
	code, body, err := l.Get("http://" + addr + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	if err != nil {
		return nil, err
	}
	var as []Alert
	if err := json.Unmarshal(body, &as); err != nil {
		return nil, fmt.Errorf("alertmanager alerts: status %d: %w", code, err)
	}
	return as, nil
}
