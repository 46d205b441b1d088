//go:build linux

package lab

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"slices"
	"time"
)

// LogEvent is one timestamped line of interest from a daemon's JSON log.
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

// ParseLogs reads the exporter, Alertmanager and actuator JSON logs (slog's
// "time" or go-kit's "ts") and returns the events the failover breakdown
// needs, in time order.
func ParseLogs(r io.Reader) ([]LogEvent, error) {
	var out []LogEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time, TS  time.Time
			Msg       string   `json:"msg"`
			Target    string   `json:"target"`
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
		case "Probe failed":
			out = append(out, LogEvent{At: at, Kind: "probe_failed", Target: l.Target})
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
