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
// the exporter's metrics (WatchProbes).
type LogEvent struct {
	At     time.Time
	Kind   string // probe_failed, probe_ok, am_received, am_flush, route_changed
	Target string // exporter target (probe_*, am_flush)
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
// (WatchProbes): its log wording is no interface.
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

// WatchProbes polls the exporter's /metrics every interval until ctx ends,
// then returns a probe_failed or probe_ok event for each poll that saw a
// target's failed or successful probes (dns_sla_probes_total by result) grow.
// An event is stamped with the poll that saw it, at most interval (plus one
// HTTP round trip) after the probe's result.
func (l *Lab) WatchProbes(ctx context.Context, interval time.Duration) <-chan []LogEvent {
	done := make(chan []LogEvent, 1)
	go func() {
		var out []LogEvent
		var last map[string]probeCount
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			now := time.Now()
			if counts, err := l.probeCounts(); err == nil {
				for target, n := range counts {
					prev, ok := last[target]
					if ok && n.failed > prev.failed {
						out = append(out, LogEvent{At: now, Kind: "probe_failed", Target: target})
					}
					if ok && n.ok > prev.ok {
						out = append(out, LogEvent{At: now, Kind: "probe_ok", Target: target})
					}
				}
				last = counts
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

// probeCount is one target's count of probes by outcome.
type probeCount struct{ ok, failed float64 }

// probeCounts returns the exporter's count of probes per target.
func (l *Lab) probeCounts() (map[string]probeCount, error) {
	code, body, err := l.Get("http://" + ExporterAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("exporter /metrics: HTTP %d", code)
	}
	return parseProbeCounts(body)
}

// parseProbeCounts sums dns_sla_probes_total per target into successful
// (result="success") and failed (any other result) probes.
func parseProbeCounts(exposition []byte) (map[string]probeCount, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return nil, err
	}
	out := map[string]probeCount{}
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
		c := out[target]
		if result == "success" {
			c.ok += m.GetCounter().GetValue()
		} else {
			c.failed += m.GetCounter().GetValue()
		}
		out[target] = c
	}
	return out, nil
}
