//go:build linux

package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// LogEvent is one timestamped event of the failover chain: a line of interest
// from Alertmanager's or the actuator's JSON log, or a failed probe seen in
// the exporter's metrics (WatchProbeFailures).
type LogEvent struct {
	At     time.Time
	Kind   string // probe_failed, am_received, am_flush, route_changed
	Target string // exporter target (probe_failed, am_flush)
	FP     string // Alertmanager fingerprint (am_received, am_flush)
	State  string // active | resolved (am_*)
	Added  []string
	Remove []string
}

var (
	amAlertRE  = regexp.MustCompile(`^DNSServerDown\[([0-9a-f]+)\]\[(active|resolved)\]$`)
	amAlertsRE = regexp.MustCompile(`^\[DNSServerDown\[([0-9a-f]+)\]\[(active|resolved)\]\]$`)
	amTargetRE = regexp.MustCompile(`target="([^"]+)"`)
)

// ParseLogs reads the Alertmanager and actuator JSON logs (slog's "time" or
// go-kit's "ts") and returns the events the failover breakdown needs, in time
// order. The exporter's probe failures come from its metrics instead
// (WatchProbeFailures): its log wording is no interface.
func ParseLogs(r io.Reader) ([]LogEvent, error) {
	var out []LogEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time, TS  time.Time
			Msg       string   `json:"msg"`
			Alert     string   `json:"alert"`
			Alerts    string   `json:"alerts"`
			AggrGroup string   `json:"aggrGroup"`
			Receiver  string   `json:"receiver"`
			Added     []string `json:"added"`
			Removed   []string `json:"removed"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		at := l.Time
		if at.IsZero() {
			at = l.TS
		}
		switch l.Msg {
		case "Received alert":
			if m := amAlertRE.FindStringSubmatch(l.Alert); m != nil {
				out = append(out, LogEvent{At: at, Kind: "am_received", FP: m[1], State: m[2]})
			}
		case "flushing":
			m := amAlertsRE.FindStringSubmatch(l.Alerts)
			t := amTargetRE.FindStringSubmatch(l.AggrGroup)
			if m != nil && t != nil {
				out = append(out, LogEvent{At: at, Kind: "am_flush", FP: m[1], State: m[2], Target: t[1]})
			}
		case "Route changed":
			out = append(out, LogEvent{At: at, Kind: "route_changed", Added: l.Added, Remove: l.Removed})
		}
	}
	slices.SortStableFunc(out, func(a, b LogEvent) int { return a.At.Compare(b.At) })
	return out, sc.Err()
}

// ParseLogFiles parses several log files into one ordered event list.
func ParseLogFiles(paths ...string) ([]LogEvent, error) {
	var all []LogEvent
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		ev, err := ParseLogs(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, ev...)
	}
	slices.SortStableFunc(all, func(a, b LogEvent) int { return a.At.Compare(b.At) })
	return all, nil
}

// First returns the first event at or after t that satisfies pred.
func First(ev []LogEvent, t time.Time, pred func(LogEvent) bool) (LogEvent, bool) {
	for _, e := range ev {
		if !e.At.Before(t) && pred(e) {
			return e, true
		}
	}
	return LogEvent{}, false
}

// WatchProbeFailures polls the exporter's /metrics every interval until ctx
// ends, then returns a probe_failed event for each poll that saw a target's
// failed probes (dns_sla_probes_total with result other than success) grow.
// An event is stamped with the poll that saw it, at most interval (plus one
// HTTP round trip) after the probe's result.
func (l *Lab) WatchProbeFailures(ctx context.Context, interval time.Duration) <-chan []LogEvent {
	done := make(chan []LogEvent, 1)
	go func() {
		var out []LogEvent
		var last map[string]float64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			now := time.Now()
			if failed, err := l.failedProbes(); err == nil {
				for target, n := range failed {
					if prev, ok := last[target]; ok && n > prev {
						out = append(out, LogEvent{At: now, Kind: "probe_failed", Target: target})
					}
				}
				last = failed
			}
			select {
			case <-ctx.Done():
				done <- out
				return
			case <-t.C:
			}
		}
	}()
	return done
}

// failedProbes returns the exporter's count of failed probes per target.
func (l *Lab) failedProbes() (map[string]float64, error) {
	code, body, err := l.Get("http://" + ExporterAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("exporter /metrics: HTTP %d", code)
	}
	return failedProbeCounts(body)
}

// failedProbeCounts sums dns_sla_probes_total{result!="success"} per target
// in an exposition of the exporter's metrics.
func failedProbeCounts(exposition []byte) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range mfs["dns_sla_probes_total"].GetMetric() {
		var target, result string
		for _, lp := range m.GetLabel() {
			switch lp.GetName() {
			case "target":
				target = lp.GetValue()
			case "result":
				result = lp.GetValue()
			}
		}
		if result != "success" {
			out[target] += m.GetCounter().GetValue()
		}
	}
	return out, nil
}
