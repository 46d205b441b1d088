package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/events"
)

// table aligns tab-separated lines into columns for w, without the
// padding an empty last cell would leave at the end of a line.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, header string) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(t.tw, header)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(t.buf.String()) {
		if _, err := io.WriteString(t.w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeStatus prints the pipeline and one table per route (only one when
// route is set): every configured nexthop, installed or not, and why.
func writeStatus(w io.Writer, r apiv1.Routes, route string) error {
	routes := r.Routes
	if route != "" {
		routes = slices.DeleteFunc(slices.Clone(routes), func(x apiv1.Route) bool { return x.Prefix != route })
		if len(routes) == 0 {
			return fmt.Errorf("route %s is not configured", route)
		}
	}
	p := r.Pipeline
	if p.Healthy {
		fmt.Fprint(w, "Alert pipeline: healthy")
	} else {
		fmt.Fprintf(w, "Alert pipeline: UNHEALTHY: %s", p.Reason)
	}
	if p.HeartbeatLastSeen != nil {
		fmt.Fprintf(w, " (heartbeat last seen %s)", stamp(*p.HeartbeatLastSeen))
	}
	fmt.Fprintln(w)
	if r.DryRun {
		fmt.Fprintln(w, "Dry run: changes are planned, never applied.")
	}
	for _, f := range r.FrozenAll {
		fmt.Fprintf(w, "All routes frozen: %s\n", f)
	}
	if r.LastError != "" {
		fmt.Fprintf(w, "Last error: %s\n", r.LastError)
	}
	if r.APIError != "" {
		fmt.Fprintf(w, "Alertmanager: %s\n", r.APIError)
	}
	for _, rt := range routes {
		state := []string{"converged"}
		if !rt.Converged {
			state[0] = "NOT CONVERGED"
		}
		if !rt.Present {
			state = append(state, "absent")
		}
		if rt.MinNexthops > 0 {
			state = append(state, fmt.Sprintf("min_nexthops %d", rt.MinNexthops))
		}
		if rt.Guard != "" {
			state = append(state, "guard "+rt.Guard)
		}
		for _, f := range rt.FrozenReasons {
			state = append(state, "frozen: "+f)
		}
		fmt.Fprintf(w, "\n%s: %s\n", rt.Prefix, strings.Join(state, ", "))
		tw := newTable(w, "NEXTHOP\tINSTALLED\tDESIRED\tWHY")
		for _, nh := range nexthops(rt) {
			why := make([]string, len(nh.Why))
			for i, c := range nh.Why {
				why[i] = c.String()
			}
			tw.row(nh.Nexthop, yesNo(nh.Installed), yesNo(nh.Desired), strings.Join(why, "; "))
		}
		if err := tw.flush(); err != nil {
			return err
		}
	}
	for _, u := range r.Unconfigured {
		if route == "" {
			fmt.Fprintf(w, "\n%s: owned on the device but no longer configured, via %s\n", u.Prefix, strings.Join(u.Nexthops, " "))
		}
	}
	return nil
}

// nexthops returns the route's per-nexthop rows, derived from the route's
// lists when the actuator predates the nexthops field.
func nexthops(rt apiv1.Route) []apiv1.Nexthop {
	out := slices.Clone(rt.Nexthops)
	if len(out) == 0 {
		for _, nh := range rt.Configured {
			n := apiv1.Nexthop{Nexthop: nh, Desired: slices.Contains(rt.Desired, nh), Installed: slices.Contains(rt.Installed, nh)}
			for _, wd := range rt.Withdrawn {
				if wd.Nexthop == nh {
					n.Why = append(n.Why, events.Cause{Kind: events.Alert, Alerts: wd.Reasons})
				}
			}
			switch {
			case slices.Contains(rt.GuardKept, nh):
				n.Why = append(n.Why, events.Cause{Kind: events.Kind(rt.Guard)})
			case slices.Contains(rt.PendingRestore, nh):
				n.Why = append(n.Why, events.Cause{Kind: events.RestorePending})
			case rt.Frozen && !n.Desired:
				n.Why = append(n.Why, events.Cause{Kind: events.Frozen})
			}
			out = append(out, n)
		}
	}
	for _, nh := range rt.Installed {
		if !slices.Contains(rt.Configured, nh) {
			out = append(out, apiv1.Nexthop{Nexthop: nh, Installed: true, Why: []events.Cause{{Kind: events.NotConfigured}}})
		}
	}
	return out
}

func writeDrains(w io.Writer, d apiv1.Drains) error {
	tw := newTable(w, "NEXTHOP\tROUTE\tREASON\tWHO\tCREATED\tEXPIRES")
	for _, x := range d.Drains {
		route := "all"
		if x.Route.IsValid() {
			route = x.Route.String()
		}
		reason := x.Reason
		if x.Forced {
			reason += " (forced below min_nexthops)"
		}
		tw.row(x.Nexthop.String(), route, reason, x.Who, stamp(x.Created), stamp(x.Expires))
	}
	return tw.flush()
}

func writeEvents(w io.Writer, e apiv1.Events) error {
	tw := newTable(w, "SEQ\tTIME\tROUTE\tCHANGE")
	for _, ev := range e.Events {
		route := ev.Route.String()
		if ev.DryRun {
			route += " (dry run)"
		}
		lead := []string{strconv.FormatUint(ev.Seq, 10), stamp(ev.Time), route}
		if len(ev.Changes) == 0 {
			tw.row(append(lead, fmt.Sprintf("%s -> %s", ev.From, ev.To))...)
		}
		for _, c := range ev.Changes {
			tw.row(append(lead, c.String())...)
			lead = []string{"", "", ""} // an event's further changes: one line each
		}
	}
	return tw.flush()
}
