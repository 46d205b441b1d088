//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slaroute/slaroute/deploy/lab"
)

// netlinkConfig is one `backend.netlink` variant the restore bench runs: a
// preset name or "key=value,key=value" overriding the shipped section.
type netlinkConfig struct {
	name      string
	overrides map[string]any
}

var presets = map[string]map[string]any{
	"shipped":   nil, // deploy/examples/route_actuator.yml as it is
	"old":       {"buckets": 128, "idle_timer": "0s", "unbalanced_timer": "0s"},
	"multipath": {"mode": "multipath"},
}

func parseNetlinkConfig(s string) (netlinkConfig, error) {
	if o, ok := presets[s]; ok {
		return netlinkConfig{name: s, overrides: o}, nil
	}
	o := map[string]any{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return netlinkConfig{}, fmt.Errorf("restore config %q: want shipped, old, multipath or key=value,... (backend.netlink keys)", s)
		}
		if n, err := strconv.Atoi(v); err == nil {
			o[k] = n // YAML would quote a numeric string
		} else {
			o[k] = v
		}
	}
	return netlinkConfig{name: s, overrides: o}, nil
}

// describe reads the effective sizing back from the kernel's group.
func describe(e *lab.Env) string {
	out, err := e.NexthopGroup()
	if err != nil || out == "" {
		return "multipath route"
	}
	return out
}

type restoreRow struct {
	cfg   string
	group string
	rate  float64
	r     lab.Restore
}

// runRestoreBench measures restores under the lab's realistic load, for each
// configuration and rate: what breaks on the surviving servers and how fast
// the returning server gets its share of new queries.
func runRestoreBench(ctx context.Context, e *lab.Env, cfgs []string, rates []float64, limit time.Duration) error {
	var rows []restoreRow
	victim := e.Servers[1]
	fmt.Printf("restore bench: %s is stopped, withdrawn and started again under load: UDP queries at each rate from fresh random source ports, 24 TCP DNS sessions (one query every 200 ms each), 6 zone transfers (AXFR, ~680 KB read at 128 KiB/s)\n", victim.Name)
	for i, c := range cfgs {
		nc, err := parseNetlinkConfig(c)
		if err != nil {
			return err
		}
		if i > 0 || nc.overrides != nil {
			if err := e.Stack.UseNetlink(nc.overrides); err != nil {
				return err
			}
		}
		if err := e.Healthy(30 * time.Second); err != nil {
			return err
		}
		group := describe(e)
		fmt.Printf("\nconfig %s: %s\n", nc.name, group)
		for _, rate := range rates {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := e.Healthy(30 * time.Second); err != nil {
				return err
			}
			t, err := e.StartTraffic(lab.TrafficConfig{Rate: rate})
			if err != nil {
				return err
			}
			time.Sleep(3 * time.Second) // sessions and transfers spread, buckets busy
			r, err := e.MeasureRestore(t, victim, lab.RestoreOpts{WithdrawTimeout: 15 * time.Second, RestoreTimeout: 30 * time.Second,
				Settle: 3 * time.Second, Max: limit})
			if serr := t.Stop(); err == nil {
				err = serr
			}
			if err != nil {
				return err
			}
			fmt.Printf("  %6.0f q/s (sent %.0f/s, lost %d): TCP sessions broken on survivors %d/%d (query timeouts %d), transfers %d/%d; %s share of new UDP queries: %s\n",
				rate, r.Achieved, r.Lost, r.SessionsBroken, r.Sessions, r.SessionTimeouts, r.TransfersBroken, r.Transfers, victim.Name, r.SharesText())
			rows = append(rows, restoreRow{cfg: nc.name, group: group, rate: rate, r: r})
		}
	}
	if len(cfgs) > 0 && (len(cfgs) > 1 || presets[cfgs[0]] != nil) {
		if err := e.Stack.UseNetlink(nil); err != nil { // back to the shipped config
			return err
		}
	}
	restoreTable(rows)
	return nil
}

func restoreTable(rows []restoreRow) {
	fmt.Printf("\nrestore under load (fair share 1/3; 'fair after' = first 0.5 s step with >= 90%% of it):\n")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "config\tq/s\tsent/s\tTCP broken\tAXFR broken\tshare 0.5s\t1s\t2s\t5s\tfair after\t")
	at := func(r lab.Restore, d time.Duration) string {
		if s := r.ShareAt(d); s >= 0 {
			return fmt.Sprintf("%.0f%%", 100*s)
		}
		return "-"
	}
	for _, row := range rows {
		r := row.r
		fair := "never"
		if r.FairAfter >= 0 {
			fair = fmt.Sprintf("%.1f s", r.FairAfter.Seconds())
		} else if len(r.Share) > 0 {
			fair = fmt.Sprintf("> %.1f s", float64(len(r.Share))*lab.Step.Seconds())
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%d/%d\t%d/%d\t%s\t%s\t%s\t%s\t%s\t\n", row.cfg, row.rate, r.Achieved,
			r.SessionsBroken, r.Sessions, r.TransfersBroken, r.Transfers,
			at(r, 500*time.Millisecond), at(r, time.Second), at(r, 2*time.Second), at(r, 5*time.Second), fair)
	}
	w.Flush()
	seen := map[string]bool{}
	for _, row := range rows {
		if !seen[row.cfg] {
			seen[row.cfg] = true
			fmt.Printf("  %s: %s\n", row.cfg, row.group)
		}
	}
}
