// Package policy turns alert state and configuration into the routes that
// should be installed. It is pure: no I/O, no clock, no globals.
//
// Rules, in order:
//  1. The pipeline is healthy only while the heartbeat alert is firing and was
//     seen within heartbeat_timeout, and the last read of the Alertmanager API
//     (if any) showed it updated within heartbeat_max_age (Input.APIStale).
//     While unhealthy every route is frozen.
//  2. A firing freeze alert freezes the route its service label names, or
//     every route when it has no service label. A frozen route is not changed
//     at all: desired = installed (an absent route stays absent).
//  3. Desired nexthops = configured minus those named by a firing withdraw alert
//     (nexthop label, narrowed to one route by the service label when present).
//     An operator's drain (Input.Drains) takes a nexthop out whatever its
//     health; a nexthop dampening suppresses (Input.Suppressed) stays out after
//     its alert resolved.
//  4. Guards: if every nexthop would go, all configured nexthops that are not
//     drained stay (fail open; all of them if every one is drained); if fewer
//     than min_nexthops would stay, alert-withdrawn and suppressed nexthops are
//     kept back, preferring those already installed, then the lowest
//     addresses. A drain was checked against min_nexthops when it was added
//     (state.State.Add), so the guards never bring a drained nexthop back.
//  5. Adding a nexthop to an installed route is a restore and needs
//     confirmation (Input.Restorable); until then it is held back.
package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/state"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// Guard reasons (metric label values).
const (
	GuardMinNexthops = "min_nexthops"
	GuardFailOpen    = "fail_open"
)

// Ignore reasons (metric label values).
const (
	IgnoreUnknownNexthop = "unknown_nexthop"
	IgnoreUnknownRoute   = "unknown_route"
	IgnoreStale          = "stale"
	IgnoreUnmanaged      = "unmanaged_alertname"
	IgnoreInvalidLabel   = "invalid_label"
)

// Kind is the role of an alertname in the configuration.
type Kind int

const (
	Unmanaged Kind = iota
	Withdraw
	Freeze
	Heartbeat
)

// Input is everything a decision depends on.
type Input struct {
	Routes []config.Route
	Alerts config.Alerts
	State  []alertstate.Alert
	// Installed holds the routes on the device; a missing key is an absent route.
	Installed map[netip.Prefix][]netip.Addr
	Now       time.Time
	// Restorable confirms adding nexthop to an installed route; nil confirms none.
	Restorable func(netip.Prefix, netip.Addr) bool
	// APIStale, when set, says why the last read of the Alertmanager API did
	// not confirm the pipeline (APIConfirms): the pipeline is then unhealthy
	// and every route frozen. When the API is read is reconcile.Gate's, whose
	// doc is the one place that explains the heartbeat rules.
	APIStale string
	// Drains are the operators' drains (expired ones removed).
	Drains []state.Drain
	// Suppressed says whether dampening keeps a nexthop of a route out, and
	// its penalty; nil suppresses none.
	Suppressed func(netip.Prefix, netip.Addr) (events.DampingRef, bool)
}

// Pipeline is the health of the alert pipeline.
type Pipeline struct {
	Healthy  bool
	Reason   string    // why unhealthy
	LastSeen time.Time // heartbeat last confirmed firing
}

// Route is the decision for one configured route.
type Route struct {
	Prefix     netip.Prefix
	Configured []netip.Addr
	// Desired is what should be installed now; empty means absent.
	Desired   []netip.Addr
	Present   bool // the route is installed
	Withdrawn map[netip.Addr][]events.AlertRef
	// Why holds, for every configured nexthop not desired, each cause that
	// keeps it out (drain, alert, dampening, restore_pending, frozen), and
	// for one a guard keeps in, that guard.
	Why    map[netip.Addr][]events.Cause
	Frozen []string // why frozen; empty when not
	Guard  string   // "", GuardMinNexthops or GuardFailOpen
	// Kept are withdrawn nexthops a guard keeps installed.
	Kept []netip.Addr
	// PendingRestore are nexthops held back until their restore is confirmed.
	PendingRestore []netip.Addr
}

// Decision is the whole outcome.
type Decision struct {
	Pipeline Pipeline
	// FrozenAll says why every route is frozen (unhealthy pipeline, or a
	// freeze alert without service label); routes not configured any more
	// are then left in place too.
	FrozenAll []string
	Routes    []Route
}

// Classify says what an alert's labels mean for the configuration and, when
// it must be ignored, why. Unmanaged alerts return Unmanaged and IgnoreUnmanaged.
func Classify(routes []config.Route, ac config.Alerts, labels map[string]string) (Kind, string) {
	t := classify(routes, ac, labels)
	return t.kind, t.ignore
}

// alertTarget is what an alert acts on.
type alertTarget struct {
	kind    Kind
	ignore  string       // why the alert is ignored; "" when it acts
	nexthop netip.Addr   // a withdraw alert's
	route   netip.Prefix // the service label's; invalid for every route
}

func classify(routes []config.Route, ac config.Alerts, labels map[string]string) alertTarget {
	var t alertTarget
	switch name := labels["alertname"]; {
	case name != "" && name == ac.Heartbeat:
		return alertTarget{kind: Heartbeat}
	case slices.Contains(ac.Freeze, name):
		t.kind = Freeze
	case slices.Contains(ac.Withdraw, name):
		nh, err := configkit.ParseNexthop(labels[ac.NexthopLabel])
		if err != nil {
			return alertTarget{kind: Withdraw, ignore: IgnoreInvalidLabel}
		}
		t.kind, t.nexthop = Withdraw, nh
	default:
		return alertTarget{kind: Unmanaged, ignore: IgnoreUnmanaged}
	}
	// A withdraw alert's nexthop must be in the route it names, else in any.
	hasNexthop := func(r config.Route) bool { return t.kind != Withdraw || slices.Contains(r.Nexthops, t.nexthop) }
	if s := labels[ac.ServiceLabel]; s != "" {
		p, err := configkit.ParseService(s)
		i := slices.IndexFunc(routes, func(r config.Route) bool { return r.Prefix == p })
		switch {
		case err != nil:
			t.ignore = IgnoreInvalidLabel
		case i < 0:
			t.ignore = IgnoreUnknownRoute
		case !hasNexthop(routes[i]):
			t.ignore = IgnoreUnknownNexthop
		}
		t.route = p
	} else if t.kind == Withdraw && !slices.ContainsFunc(routes, hasNexthop) {
		t.ignore = IgnoreUnknownNexthop
	}
	return t
}

// PipelineHealth evaluates the heartbeat.
func PipelineHealth(ac config.Alerts, state []alertstate.Alert, now time.Time) Pipeline {
	if ac.Heartbeat == "" {
		return Pipeline{Healthy: true}
	}
	var last time.Time
	for _, a := range state {
		if a.Labels["alertname"] == ac.Heartbeat && a.Status == alertstate.Firing && a.LastSeen.After(last) {
			last = a.LastSeen
		}
	}
	timeout := time.Duration(ac.HeartbeatTimeout)
	switch {
	case last.IsZero():
		return Pipeline{Reason: fmt.Sprintf("heartbeat %s is not firing", ac.Heartbeat)}
	case now.Sub(last) > timeout:
		return Pipeline{LastSeen: last, Reason: fmt.Sprintf("heartbeat %s last seen %s ago (timeout %s)", ac.Heartbeat, now.Sub(last).Round(time.Second), timeout)}
	}
	return Pipeline{Healthy: true, LastSeen: last}
}

// Decide computes the decision for every configured route.
func Decide(in Input) Decision {
	d := Decision{Pipeline: PipelineHealth(in.Alerts, in.State, in.Now)}
	if d.Pipeline.Healthy && in.APIStale != "" && in.Alerts.Heartbeat != "" {
		d.Pipeline = Pipeline{LastSeen: d.Pipeline.LastSeen, Reason: in.APIStale}
	}
	withdrawn := map[netip.Prefix]map[netip.Addr][]events.AlertRef{}
	frozen := map[netip.Prefix][]string{}
	if !d.Pipeline.Healthy {
		d.FrozenAll = append(d.FrozenAll, "pipeline unhealthy: "+d.Pipeline.Reason)
	}
	for _, a := range in.State {
		if a.Status != alertstate.Firing {
			continue
		}
		t := classify(in.Routes, in.Alerts, a.Labels)
		if t.ignore != "" {
			continue
		}
		name := a.Labels["alertname"]
		switch t.kind {
		case Freeze:
			why := fmt.Sprintf("freeze alert %s (%s) since %s", name, a.Fingerprint, a.StartsAt.UTC().Format(time.RFC3339))
			if t.route.IsValid() {
				frozen[t.route] = append(frozen[t.route], why)
			} else {
				d.FrozenAll = append(d.FrozenAll, why)
			}
		case Withdraw:
			for _, r := range in.Routes {
				if (t.route.IsValid() && t.route != r.Prefix) || !slices.Contains(r.Nexthops, t.nexthop) {
					continue
				}
				if withdrawn[r.Prefix] == nil {
					withdrawn[r.Prefix] = map[netip.Addr][]events.AlertRef{}
				}
				withdrawn[r.Prefix][t.nexthop] = append(withdrawn[r.Prefix][t.nexthop], alertRef(in.Alerts, a))
			}
		}
	}
	for _, r := range in.Routes {
		installed, present := in.Installed[r.Prefix]
		rd := Route{
			Prefix:     r.Prefix,
			Configured: slices.Clone(r.Nexthops),
			Present:    present,
			Withdrawn:  withdrawn[r.Prefix],
			Frozen:     append(slices.Clone(d.FrozenAll), frozen[r.Prefix]...),
		}
		// target is configured minus withdrawn, after guards, before freeze and confirmation.
		out := outCauses(in, r, rd.Withdrawn)
		var target []netip.Addr
		target, rd.Guard, rd.Kept = guard(r, out, installed)
		switch {
		case len(rd.Frozen) > 0:
			rd.Desired = slices.Clone(installed)
		case !present:
			// Creating a route restores nothing that is carrying traffic.
			rd.Desired = slices.Clone(target)
		default:
			for _, nh := range target {
				switch {
				case slices.Contains(installed, nh), in.Restorable != nil && in.Restorable(r.Prefix, nh):
					rd.Desired = append(rd.Desired, nh)
				default:
					rd.PendingRestore = append(rd.PendingRestore, nh)
				}
			}
			// The guards count what is installed: when withdrawals leave fewer
			// than min_nexthops while restores wait for confirmation, held
			// restores (healthy by their latest alert) go through, in configured
			// order, rather than shrinking or deleting the route.
			for len(rd.Desired) < r.MinNexthops && len(rd.PendingRestore) > 0 {
				rd.Desired = append(rd.Desired, rd.PendingRestore[0])
				rd.PendingRestore = rd.PendingRestore[1:]
			}
			slices.SortFunc(rd.Desired, netip.Addr.Compare)
		}
		rd.Why = why(rd, out)
		d.Routes = append(d.Routes, rd)
	}
	return d
}

// outCauses returns, per configured nexthop of r that is out before the
// guards, why: drain first, then alerts, then dampening.
func outCauses(in Input, r config.Route, withdrawn map[netip.Addr][]events.AlertRef) map[netip.Addr][]events.Cause {
	out := map[netip.Addr][]events.Cause{}
	for _, nh := range r.Nexthops {
		var c []events.Cause
		for _, dr := range in.Drains {
			if dr.Covers(r.Prefix, nh) {
				c = append(c, events.Cause{Kind: events.Drain, Drain: &events.DrainRef{Reason: dr.Reason, Who: dr.Who, Expires: dr.Expires}})
			}
		}
		if a := withdrawn[nh]; len(a) > 0 {
			c = append(c, events.Cause{Kind: events.Alert, Alerts: slices.Clone(a)})
		}
		if in.Suppressed != nil {
			if ref, ok := in.Suppressed(r.Prefix, nh); ok {
				c = append(c, events.Cause{Kind: events.Dampening, Dampening: &ref})
			}
		}
		if len(c) > 0 {
			out[nh] = c
		}
	}
	return out
}

// guard applies fail-open and min_nexthops to configured minus what is out.
// Drained nexthops are never kept, unless every configured one is drained.
func guard(r config.Route, out map[netip.Addr][]events.Cause, installed []netip.Addr) (target []netip.Addr, reason string, kept []netip.Addr) {
	var keepable []netip.Addr
	for _, nh := range r.Nexthops {
		switch c := out[nh]; {
		case len(c) == 0:
			target = append(target, nh)
		case !slices.ContainsFunc(c, func(x events.Cause) bool { return x.Kind == events.Drain }):
			keepable = append(keepable, nh)
		}
	}
	switch {
	case len(target) == 0 && len(keepable) == 0:
		return slices.Clone(r.Nexthops), GuardFailOpen, slices.Clone(r.Nexthops)
	case len(target) == 0:
		return keepable, GuardFailOpen, slices.Clone(keepable)
	case len(target) >= r.MinNexthops || len(keepable) == 0:
		return target, "", nil
	}
	// Keep back installed ones first so the guard does not move traffic, then by address.
	slices.SortStableFunc(keepable, func(a, b netip.Addr) int {
		ai, bi := slices.Contains(installed, a), slices.Contains(installed, b)
		switch {
		case ai && !bi:
			return -1
		case bi && !ai:
			return 1
		}
		return a.Compare(b)
	})
	n := min(r.MinNexthops-len(target), len(keepable))
	kept = slices.SortedFunc(slices.Values(keepable[:n]), netip.Addr.Compare)
	target = append(target, kept...)
	slices.SortFunc(target, netip.Addr.Compare)
	return target, GuardMinNexthops, kept
}

// why says, per configured nexthop, what keeps it out of Desired, or which
// guard keeps it in.
func why(rd Route, out map[netip.Addr][]events.Cause) map[netip.Addr][]events.Cause {
	w := map[netip.Addr][]events.Cause{}
	for _, nh := range rd.Configured {
		desired := slices.Contains(rd.Desired, nh)
		switch {
		case desired && slices.Contains(rd.Kept, nh):
			w[nh] = []events.Cause{{Kind: events.Kind(rd.Guard), Detail: causeDetail(out[nh])}}
		case desired:
		case len(out[nh]) > 0 && !slices.Contains(rd.Kept, nh):
			w[nh] = slices.Clone(out[nh])
		case slices.Contains(rd.PendingRestore, nh):
			w[nh] = []events.Cause{{Kind: events.RestorePending}}
		case len(rd.Frozen) > 0:
			w[nh] = []events.Cause{{Kind: events.Frozen, Detail: rd.Frozen[0]}}
		}
	}
	return w
}

// causeDetail names what a guard overrides: "over alert, dampening". A kept
// nexthop always has causes: the guards keep only nexthops that are out.
func causeDetail(c []events.Cause) string {
	kinds := make([]string, len(c))
	for i, x := range c {
		kinds[i] = string(x.Kind)
	}
	return "over " + strings.Join(kinds, ", ")
}

// alertRef names a withdraw alert with its target labels (nexthop, service, instance).
func alertRef(ac config.Alerts, a alertstate.Alert) events.AlertRef {
	l := map[string]string{}
	for _, k := range []string{ac.NexthopLabel, ac.ServiceLabel, "instance"} {
		if v, ok := a.Labels[k]; ok {
			l[k] = v
		}
	}
	return events.AlertRef{Name: a.Labels["alertname"], Fingerprint: a.Fingerprint, Since: a.StartsAt, Labels: l}
}

// APIConfirms reports whether alerts just read from the Alertmanager API
// prove the pipeline alive: the heartbeat is active and Alertmanager heard of
// it from Prometheus (updatedAt) within heartbeat_max_age. Only then may a
// restore go ahead. When Prometheus dies, Alertmanager keeps listing the
// heartbeat (and the withdraw alerts) until 4 x resend-delay after the last
// send and then resolves them all, in notifications that arrive in any order;
// heartbeat_timeout (webhook repeats, tens of seconds) would still call that
// heartbeat fresh when a withdraw alert's resolve arrives first, and restore a
// dead server. updatedAt stops moving at once, so a max age between the
// resend interval and 4 x resend-delay tells a live pipeline from a dead one.
func APIConfirms(ac config.Alerts, active []alertstate.Event, now time.Time) (bool, string) {
	if ac.Heartbeat == "" {
		return true, ""
	}
	var last time.Time
	for _, e := range active {
		if e.Labels["alertname"] == ac.Heartbeat && e.UpdatedAt.After(last) {
			last = e.UpdatedAt
		}
	}
	maxAge := time.Duration(ac.HeartbeatMaxAge)
	switch {
	case last.IsZero():
		return false, fmt.Sprintf("heartbeat %s not active in Alertmanager", ac.Heartbeat)
	case now.Sub(last) > maxAge:
		return false, fmt.Sprintf("heartbeat %s last updated in Alertmanager %s ago (heartbeat_max_age %s)",
			ac.Heartbeat, now.Sub(last).Round(time.Millisecond), maxAge)
	}
	return true, ""
}
