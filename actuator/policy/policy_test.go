package policy

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/state"
)

var (
	svc  = netip.MustParsePrefix("192.0.2.53/32")
	svc2 = netip.MustParsePrefix("192.0.2.54/32")
	nh1  = netip.MustParseAddr("198.51.100.11")
	nh2  = netip.MustParseAddr("198.51.100.12")
	nh3  = netip.MustParseAddr("198.51.100.13")
	t0   = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	all  = []netip.Addr{nh1, nh2, nh3}
)

func testAlerts() config.Alerts {
	a := config.DefaultAlerts
	a.Heartbeat = "DNSSLAWatchdog"
	return a
}

func routes(min int) []config.Route {
	return []config.Route{
		{Prefix: svc, Nexthops: all, MinNexthops: min},
		{Prefix: svc2, Nexthops: []netip.Addr{nh1, nh2}, MinNexthops: 1},
	}
}

func firing(fp string, lastSeen time.Time, labels ...string) alertstate.Alert {
	l := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return alertstate.Alert{Event: alertstate.Event{Fingerprint: fp, Labels: l, Status: alertstate.Firing, StartsAt: t0.Add(-time.Minute)}, LastSeen: lastSeen}
}

func resolved(fp string, labels ...string) alertstate.Alert {
	a := firing(fp, time.Time{}, labels...)
	a.Status, a.EndsAt = alertstate.Resolved, t0
	return a
}

func heartbeat(seen time.Time) alertstate.Alert {
	return firing("hb", seen, "alertname", "DNSSLAWatchdog")
}

func down(fp string, nh netip.Addr, service string) alertstate.Alert {
	if service == "" {
		return firing(fp, t0, "alertname", "DNSServerDown", "nexthop", nh.String())
	}
	return firing(fp, t0, "alertname", "DNSServerDown", "nexthop", nh.String(), "service", service)
}

func TestDecide(t *testing.T) {
	installedAll := map[netip.Prefix][]netip.Addr{svc: all, svc2: {nh1, nh2}}
	yes := func(netip.Prefix, netip.Addr) bool { return true }
	for _, tc := range []struct {
		name       string
		min        int
		state      []alertstate.Alert
		installed  map[netip.Prefix][]netip.Addr
		restorable func(netip.Prefix, netip.Addr) bool
		// expectations for svc
		desired, pending []netip.Addr
		guard            string
		// kept: withdrawn nexthops the guard keeps; must be empty without a guard
		kept    []netip.Addr
		frozen  bool
		healthy bool
		// desired for svc2 (nil: {nh1, nh2})
		desired2 []netip.Addr
	}{
		{name: "no alerts", min: 1, state: []alertstate.Alert{heartbeat(t0)}, installed: installedAll, desired: all, healthy: true},
		{name: "absent routes are created whole", min: 1, state: []alertstate.Alert{heartbeat(t0)}, installed: nil, desired: all, healthy: true},
		{name: "withdraw one nexthop on every route", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, "")}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, healthy: true, desired2: []netip.Addr{nh1}},
		{name: "service label narrows to one route", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, "192.0.2.53/32")}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, healthy: true},
		{name: "service label as bare address", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, "192.0.2.54")}, installed: installedAll,
			desired: all, healthy: true, desired2: []netip.Addr{nh1}},
		{name: "duplicate alerts for one nexthop", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, ""), down("b", nh2, "192.0.2.53/32")}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, healthy: true, desired2: []netip.Addr{nh1}},
		{name: "resolved alert withdraws nothing", min: 1, state: []alertstate.Alert{heartbeat(t0), resolved("a", "alertname", "DNSServerDown", "nexthop", nh2.String())}, installed: installedAll,
			desired: all, healthy: true},
		{name: "unknown nexthop changes nothing", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", netip.MustParseAddr("198.51.100.99"), "")}, installed: installedAll,
			desired: all, healthy: true},
		{name: "unknown route changes nothing", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, "192.0.2.99/32")}, installed: installedAll,
			desired: all, healthy: true},
		{name: "invalid nexthop label changes nothing", min: 1, state: []alertstate.Alert{heartbeat(t0), firing("a", t0, "alertname", "DNSServerDown", "nexthop", "dns1")}, installed: installedAll,
			desired: all, healthy: true},
		{name: "unmanaged alertname changes nothing", min: 1, state: []alertstate.Alert{heartbeat(t0), firing("a", t0, "alertname", "DNSServerSlow", "nexthop", nh2.String())}, installed: installedAll,
			desired: all, healthy: true},
		{name: "min_nexthops keeps installed ones first", min: 2, state: []alertstate.Alert{heartbeat(t0), down("a", nh1, ""), down("b", nh2, "")},
			installed: map[netip.Prefix][]netip.Addr{svc: {nh2, nh3}, svc2: {nh1, nh2}}, desired: []netip.Addr{nh2, nh3}, guard: GuardMinNexthops, kept: []netip.Addr{nh2}, healthy: true, desired2: []netip.Addr{nh1, nh2}},
		{name: "min_nexthops then lowest address", min: 2, state: []alertstate.Alert{heartbeat(t0), down("a", nh1, "192.0.2.53/32"), down("b", nh2, "192.0.2.53/32")},
			installed: map[netip.Prefix][]netip.Addr{svc: {nh3}, svc2: {nh1, nh2}}, restorable: yes, desired: []netip.Addr{nh1, nh3}, guard: GuardMinNexthops, kept: []netip.Addr{nh1}, healthy: true},
		// Exactly min_nexthops healthy: the route holds them and no guard is
		// active (the guard_active gauge and activation counter are set from
		// Route.Guard; a false "min_nexthops" pages people for nothing).
		{name: "exactly min_nexthops remain: no guard", min: 2, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, "192.0.2.53/32")}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, healthy: true},
		{name: "min_nexthops equal to configured, none withdrawn: no guard", min: 3, state: []alertstate.Alert{heartbeat(t0)}, installed: installedAll,
			desired: all, healthy: true},
		{name: "one below min_nexthops: guard keeps one", min: 3, state: []alertstate.Alert{heartbeat(t0), down("a", nh2, "192.0.2.53/32")}, installed: installedAll,
			desired: all, guard: GuardMinNexthops, kept: []netip.Addr{nh2}, healthy: true},
		{name: "fail open keeps every nexthop", min: 1, state: []alertstate.Alert{heartbeat(t0), down("a", nh1, ""), down("b", nh2, ""), down("c", nh3, "")}, installed: installedAll,
			desired: all, guard: GuardFailOpen, kept: all, healthy: true, desired2: []netip.Addr{nh1, nh2}},
		{name: "restore held without confirmation", min: 1, state: []alertstate.Alert{heartbeat(t0)},
			installed: map[netip.Prefix][]netip.Addr{svc: {nh1, nh3}, svc2: {nh1, nh2}}, desired: []netip.Addr{nh1, nh3}, pending: []netip.Addr{nh2}, healthy: true},
		// Found by make soak: the last installed nexthop withdrawn while the
		// others wait for their restore to be confirmed. min_nexthops counts
		// what is installed, so held restores go through (configured order)
		// until it is met, instead of deleting the route.
		{name: "withdrawn last installed, others held: held restore keeps min_nexthops", min: 1,
			state:     []alertstate.Alert{heartbeat(t0), down("a", nh1, "192.0.2.53/32")},
			installed: map[netip.Prefix][]netip.Addr{svc: {nh1}, svc2: {nh1, nh2}}, desired: []netip.Addr{nh2}, pending: []netip.Addr{nh3}, healthy: true},
		{name: "one installed, min 2, held restores: one goes through", min: 2,
			state:     []alertstate.Alert{heartbeat(t0)},
			installed: map[netip.Prefix][]netip.Addr{svc: {nh3}, svc2: {nh1, nh2}}, desired: []netip.Addr{nh1, nh3}, pending: []netip.Addr{nh2}, healthy: true},
		{name: "restore confirmed", min: 1, state: []alertstate.Alert{heartbeat(t0)}, restorable: yes,
			installed: map[netip.Prefix][]netip.Addr{svc: {nh1, nh3}, svc2: {nh1, nh2}}, desired: all, healthy: true},
		{name: "heartbeat missing freezes everything", min: 1, state: []alertstate.Alert{down("a", nh2, "")}, restorable: yes,
			installed: map[netip.Prefix][]netip.Addr{svc: {nh1, nh2}}, desired: []netip.Addr{nh1, nh2}, frozen: true, desired2: []netip.Addr{}},
		{name: "heartbeat resolved freezes everything", min: 1, state: []alertstate.Alert{resolved("hb", "alertname", "DNSSLAWatchdog")}, restorable: yes,
			installed: map[netip.Prefix][]netip.Addr{svc: {nh1}, svc2: {nh1, nh2}}, desired: []netip.Addr{nh1}, frozen: true},
		{name: "heartbeat stale freezes everything", min: 1, state: []alertstate.Alert{heartbeat(t0.Add(-91 * time.Second)), down("a", nh2, "")}, restorable: yes,
			installed: installedAll, desired: all, frozen: true},
		{name: "heartbeat just fresh", min: 1, state: []alertstate.Alert{heartbeat(t0.Add(-90 * time.Second)), down("a", nh2, "192.0.2.53/32")},
			installed: installedAll, desired: []netip.Addr{nh1, nh3}, healthy: true},
		{name: "freeze alert with service freezes that route only", min: 1,
			state:     []alertstate.Alert{heartbeat(t0), down("a", nh2, ""), firing("f", t0, "alertname", "DNSSLAProbesMissing", "service", "192.0.2.53/32")},
			installed: installedAll, desired: all, frozen: true, healthy: true, desired2: []netip.Addr{nh1}},
		{name: "freeze alert without service freezes every route", min: 1,
			state:     []alertstate.Alert{heartbeat(t0), down("a", nh2, ""), firing("f", t0, "alertname", "DNSSLAProbesMissing")},
			installed: installedAll, desired: all, frozen: true, healthy: true, desired2: []netip.Addr{nh1, nh2}},
		{name: "frozen absent route stays absent", min: 1,
			state:     []alertstate.Alert{heartbeat(t0), firing("f", t0, "alertname", "DNSSLAProbesMissing")},
			installed: map[netip.Prefix][]netip.Addr{}, desired: nil, frozen: true, healthy: true, desired2: []netip.Addr{}},
		{name: "freeze alert for unknown route freezes nothing", min: 1,
			state:     []alertstate.Alert{heartbeat(t0), down("a", nh2, ""), firing("f", t0, "alertname", "DNSSLAProbesMissing", "service", "192.0.2.99/32")},
			installed: installedAll, desired: []netip.Addr{nh1, nh3}, healthy: true, desired2: []netip.Addr{nh1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Input{Routes: routes(tc.min), Alerts: testAlerts(), State: tc.state, Installed: tc.installed, Now: t0, Restorable: tc.restorable})
			if d.Pipeline.Healthy != tc.healthy {
				t.Errorf("healthy = %v (%s), want %v", d.Pipeline.Healthy, d.Pipeline.Reason, tc.healthy)
			}
			r := d.Routes[0]
			if !slices.Equal(r.Desired, tc.desired) {
				t.Errorf("desired = %v, want %v", r.Desired, tc.desired)
			}
			if !slices.Equal(r.PendingRestore, tc.pending) {
				t.Errorf("pending restore = %v, want %v", r.PendingRestore, tc.pending)
			}
			if r.Guard != tc.guard {
				t.Errorf("guard = %q, want %q", r.Guard, tc.guard)
			}
			if !slices.Equal(r.Kept, tc.kept) {
				t.Errorf("kept = %v, want %v", r.Kept, tc.kept)
			}
			if (len(r.Frozen) > 0) != tc.frozen {
				t.Errorf("frozen = %v, want %v", r.Frozen, tc.frozen)
			}
			want2 := tc.desired2
			if want2 == nil {
				want2 = []netip.Addr{nh1, nh2}
			}
			if got := d.Routes[1].Desired; !slices.Equal(got, want2) && !(len(got) == 0 && len(want2) == 0) {
				t.Errorf("svc2 desired = %v, want %v", got, want2)
			}
		})
	}
}

func TestWithdrawReasons(t *testing.T) {
	d := Decide(Input{Routes: routes(1), Alerts: testAlerts(), State: []alertstate.Alert{heartbeat(t0), down("fp1", nh2, "")}, Installed: nil, Now: t0})
	want := events.AlertRef{Name: "DNSServerDown", Fingerprint: "fp1", Since: t0.Add(-time.Minute), Labels: map[string]string{"nexthop": nh2.String()}}
	got := d.Routes[0].Withdrawn[nh2]
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("reasons = %+v, want [%+v]", got, want)
	}
	if why := d.Routes[0].Why[nh2]; len(why) != 1 || why[0].Kind != events.Alert || !reflect.DeepEqual(why[0].Alerts, []events.AlertRef{want}) {
		t.Errorf("why = %+v", why)
	}
}

// Drains and dampening: a drained nexthop is out whatever its health and
// never kept by a guard; a suppressed one is out after its alert resolved,
// and the guards keep it as they keep alert-withdrawn ones.
func TestDrainsAndSuppression(t *testing.T) {
	installedAll := map[netip.Prefix][]netip.Addr{svc: all, svc2: {nh1, nh2}}
	drain := func(nh netip.Addr, route netip.Prefix) state.Drain {
		return state.Drain{Nexthop: nh, Route: route, Reason: "kernel upgrade", Who: "alice", Created: t0}
	}
	suppress := func(nhs ...netip.Addr) func(netip.Prefix, netip.Addr) (events.DampingRef, bool) {
		return func(p netip.Prefix, nh netip.Addr) (events.DampingRef, bool) {
			if p == svc && slices.Contains(nhs, nh) {
				return events.DampingRef{Penalty: 2932, SuppressedUntil: t0.Add(2 * time.Minute)}, true
			}
			return events.DampingRef{}, false
		}
	}
	for _, tc := range []struct {
		name       string
		min        int
		alerts     []alertstate.Alert
		drains     []state.Drain
		suppressed func(netip.Prefix, netip.Addr) (events.DampingRef, bool)
		installed  map[netip.Prefix][]netip.Addr
		desired    []netip.Addr
		desired2   []netip.Addr
		guard      string
		kept       []netip.Addr
		// why[nh] are the cause kinds of svc's nexthops
		why map[netip.Addr][]events.Kind
	}{
		{name: "a drained healthy nexthop is out of every route", min: 1, drains: []state.Drain{drain(nh2, netip.Prefix{})}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, desired2: []netip.Addr{nh1}, why: map[netip.Addr][]events.Kind{nh2: {events.Drain}}},
		{name: "a per-route drain leaves the other route", min: 1, drains: []state.Drain{drain(nh2, svc)}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, desired2: []netip.Addr{nh1, nh2}, why: map[netip.Addr][]events.Kind{nh2: {events.Drain}}},
		{name: "drained and down: both causes", min: 1, alerts: []alertstate.Alert{down("a", nh2, "192.0.2.53/32")}, drains: []state.Drain{drain(nh2, svc)}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, why: map[netip.Addr][]events.Kind{nh2: {events.Drain, events.Alert}}},
		{name: "min_nexthops never keeps a drained nexthop", min: 3, drains: []state.Drain{drain(nh2, svc)}, installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, why: map[netip.Addr][]events.Kind{nh2: {events.Drain}}},
		{name: "min_nexthops keeps an alert-withdrawn one, not the drained one", min: 2, alerts: []alertstate.Alert{down("a", nh3, "192.0.2.53/32")},
			drains: []state.Drain{drain(nh2, svc)}, installed: installedAll, desired: []netip.Addr{nh1, nh3}, guard: GuardMinNexthops, kept: []netip.Addr{nh3},
			why: map[netip.Addr][]events.Kind{nh2: {events.Drain}, nh3: {events.MinNexthops}}},
		{name: "fail open keeps every nexthop not drained", min: 1, alerts: []alertstate.Alert{down("a", nh1, "192.0.2.53/32"), down("c", nh3, "192.0.2.53/32")},
			drains: []state.Drain{drain(nh2, svc)}, installed: installedAll, desired: []netip.Addr{nh1, nh3}, guard: GuardFailOpen, kept: []netip.Addr{nh1, nh3},
			why: map[netip.Addr][]events.Kind{nh1: {events.FailOpen}, nh2: {events.Drain}, nh3: {events.FailOpen}}},
		{name: "every nexthop drained: fail open keeps them all", min: 1,
			drains: []state.Drain{drain(nh1, svc), drain(nh2, svc), drain(nh3, svc)}, installed: installedAll, desired: all, guard: GuardFailOpen, kept: all,
			why: map[netip.Addr][]events.Kind{nh1: {events.FailOpen}, nh2: {events.FailOpen}, nh3: {events.FailOpen}}},
		{name: "a suppressed healthy nexthop stays out", min: 1, suppressed: suppress(nh2), installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, why: map[netip.Addr][]events.Kind{nh2: {events.Dampening}}},
		{name: "suppressed and still down", min: 1, alerts: []alertstate.Alert{down("a", nh2, "")}, suppressed: suppress(nh2), installed: installedAll,
			desired: []netip.Addr{nh1, nh3}, desired2: []netip.Addr{nh1}, why: map[netip.Addr][]events.Kind{nh2: {events.Alert, events.Dampening}}},
		{name: "min_nexthops brings a suppressed nexthop back", min: 3, suppressed: suppress(nh2), installed: installedAll,
			desired: all, guard: GuardMinNexthops, kept: []netip.Addr{nh2}, why: map[netip.Addr][]events.Kind{nh2: {events.MinNexthops}}},
		{name: "fail open brings suppressed nexthops back", min: 1, suppressed: suppress(all...), installed: installedAll,
			desired: all, guard: GuardFailOpen, kept: all, why: map[netip.Addr][]events.Kind{nh1: {events.FailOpen}, nh2: {events.FailOpen}, nh3: {events.FailOpen}}},
		{name: "a drain ended: the restore awaits confirmation", min: 1, installed: map[netip.Prefix][]netip.Addr{svc: {nh1, nh3}, svc2: {nh1, nh2}},
			desired: []netip.Addr{nh1, nh3}, why: map[netip.Addr][]events.Kind{nh2: {events.RestorePending}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Input{Routes: routes(tc.min), Alerts: testAlerts(), State: append([]alertstate.Alert{heartbeat(t0)}, tc.alerts...),
				Installed: tc.installed, Now: t0, Drains: tc.drains, Suppressed: tc.suppressed})
			r := d.Routes[0]
			if !slices.Equal(r.Desired, tc.desired) {
				t.Errorf("desired = %v, want %v", r.Desired, tc.desired)
			}
			want2 := tc.desired2
			if want2 == nil {
				want2 = []netip.Addr{nh1, nh2}
			}
			if !slices.Equal(d.Routes[1].Desired, want2) {
				t.Errorf("svc2 desired = %v, want %v", d.Routes[1].Desired, want2)
			}
			if r.Guard != tc.guard || !slices.Equal(r.Kept, tc.kept) {
				t.Errorf("guard %q kept %v, want %q %v", r.Guard, r.Kept, tc.guard, tc.kept)
			}
			got := map[netip.Addr][]events.Kind{}
			for nh, cs := range r.Why {
				for _, c := range cs {
					got[nh] = append(got[nh], c.Kind)
				}
			}
			if !reflect.DeepEqual(got, tc.why) {
				t.Errorf("why = %v, want %v", got, tc.why)
			}
			for _, cs := range r.Why {
				for _, c := range cs {
					if c.Kind == events.Drain && (c.Drain == nil || c.Drain.Who != "alice" || c.Drain.Reason != "kernel upgrade") {
						t.Errorf("drain cause %+v lacks who/reason", c)
					}
					if c.Kind == events.Dampening && (c.Dampening == nil || c.Dampening.Penalty != 2932) {
						t.Errorf("dampening cause %+v lacks its penalty", c)
					}
				}
			}
		})
	}
}

func TestNoHeartbeatConfigured(t *testing.T) {
	a := testAlerts()
	a.Heartbeat = ""
	d := Decide(Input{Routes: routes(1), Alerts: a, Now: t0})
	if !d.Pipeline.Healthy || len(d.FrozenAll) != 0 {
		t.Errorf("pipeline = %+v frozen %v, want healthy without a heartbeat configured", d.Pipeline, d.FrozenAll)
	}
}

func TestClassify(t *testing.T) {
	rs, ac := routes(1), testAlerts()
	for _, tc := range []struct {
		labels map[string]string
		kind   Kind
		reason string
	}{
		{map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.11"}, Withdraw, ""},
		{map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.13", "service": "192.0.2.54/32"}, Withdraw, IgnoreUnknownNexthop},
		{map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.99"}, Withdraw, IgnoreUnknownNexthop},
		{map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.11", "service": "192.0.2.99/32"}, Withdraw, IgnoreUnknownRoute},
		{map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.11", "service": "dns.example"}, Withdraw, IgnoreInvalidLabel},
		{map[string]string{"alertname": "DNSServerDown"}, Withdraw, IgnoreInvalidLabel},
		{map[string]string{"alertname": "DNSSLAProbesMissing"}, Freeze, ""},
		{map[string]string{"alertname": "DNSSLAProbesMissing", "service": "192.0.2.99/32"}, Freeze, IgnoreUnknownRoute},
		{map[string]string{"alertname": "DNSSLAWatchdog"}, Heartbeat, ""},
		{map[string]string{"alertname": "Other"}, Unmanaged, IgnoreUnmanaged},
		{map[string]string{}, Unmanaged, IgnoreUnmanaged},
	} {
		kind, reason := Classify(rs, ac, tc.labels)
		if kind != tc.kind || reason != tc.reason {
			t.Errorf("Classify(%v) = %v, %q; want %v, %q", tc.labels, kind, reason, tc.kind, tc.reason)
		}
	}
}

func TestAPIConfirms(t *testing.T) {
	ac := testAlerts() // heartbeat_max_age 3s, heartbeat_timeout 90s
	hb := func(fp string, updated time.Time) alertstate.Event {
		return alertstate.Event{Fingerprint: fp, Labels: map[string]string{"alertname": "DNSSLAWatchdog"}, Status: alertstate.Firing, UpdatedAt: updated}
	}
	other := alertstate.Event{Fingerprint: "d", Labels: map[string]string{"alertname": "DNSServerDown", "nexthop": nh2.String()}, Status: alertstate.Firing, UpdatedAt: t0}
	for _, tc := range []struct {
		name   string
		active []alertstate.Event
		want   bool
	}{
		{"fresh heartbeat (re-sent every resend-delay)", []alertstate.Event{hb("hb", t0.Add(-1200*time.Millisecond))}, true},
		{"at heartbeat_max_age", []alertstate.Event{hb("hb", t0.Add(-3*time.Second))}, true},
		{"just over heartbeat_max_age", []alertstate.Event{hb("hb", t0.Add(-3*time.Second-time.Millisecond))}, false},
		{"stale within heartbeat_timeout (Prometheus dead ~4s, not yet resolved)", []alertstate.Event{hb("hb", t0.Add(-4*time.Second))}, false},
		{"stale for minutes", []alertstate.Event{hb("hb", t0.Add(-4*time.Minute))}, false},
		{"no heartbeat", []alertstate.Event{other}, false},
		{"nothing active", nil, false},
		{"newest of two heartbeats counts (one Prometheus of a pair alive)", []alertstate.Event{hb("a", t0.Add(-time.Minute)), hb("b", t0.Add(-time.Second))}, true},
		{"a fresh other alert is no heartbeat", []alertstate.Event{hb("hb", t0.Add(-time.Minute)), other}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := APIConfirms(ac, tc.active, t0); got != tc.want {
				t.Errorf("APIConfirms = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
	none := ac
	none.Heartbeat = ""
	if ok, why := APIConfirms(none, nil, t0); !ok {
		t.Errorf("without a heartbeat configured: APIConfirms = false (%s), want true", why)
	}
}

// Prometheus dies at death. Alertmanager resolves every alert ~4 s later
// (4 x resend-delay 1s) in separate notifications, in any order; here the
// withdraw alert's resolve is processed first and the restore is confirmed
// against the API read then. Only a fresh updatedAt may restore.
func TestRestoreAfterPrometheusDied(t *testing.T) {
	death := t0.Add(-4 * time.Second)
	ac := testAlerts()
	hbEvent := func(updated time.Time) alertstate.Event {
		return alertstate.Event{Fingerprint: "hb", Labels: map[string]string{"alertname": "DNSSLAWatchdog"}, Status: alertstate.Firing,
			StartsAt: t0.Add(-time.Hour), UpdatedAt: updated}
	}
	installed := map[netip.Prefix][]netip.Addr{svc: {nh1, nh3}, svc2: {nh1, nh2}}
	for _, tc := range []struct {
		name string
		// state: the webhook store; the heartbeat's last webhook (a repeat) 10s ago
		state []alertstate.Alert
		// api: what GET /api/v2/alerts lists when the restore is confirmed
		api                      []alertstate.Event
		maxAge                   time.Duration
		healthy, confirmed       bool
		desired, pending, frozen bool
	}{
		{name: "pipeline alive: withdraw resolved, heartbeat fresh -> restore",
			state: []alertstate.Alert{heartbeat(t0.Add(-10 * time.Second)), resolved("d", "alertname", "DNSServerDown", "nexthop", nh2.String())},
			api:   []alertstate.Event{hbEvent(t0.Add(-time.Second))}, maxAge: 3 * time.Second,
			healthy: true, confirmed: true, desired: true},
		{name: "out of order after death: withdraw resolved, heartbeat still listed but stale -> frozen, no restore",
			state: []alertstate.Alert{heartbeat(t0.Add(-10 * time.Second)), resolved("d", "alertname", "DNSServerDown", "nexthop", nh2.String())},
			api:   []alertstate.Event{hbEvent(death)}, maxAge: 3 * time.Second,
			frozen: true},
		{name: "the bug this guards against: a max age of heartbeat_timeout restores the dead server",
			state: []alertstate.Alert{heartbeat(t0.Add(-10 * time.Second)), resolved("d", "alertname", "DNSServerDown", "nexthop", nh2.String())},
			api:   []alertstate.Event{hbEvent(death)}, maxAge: 90 * time.Second,
			healthy: true, confirmed: true, desired: true},
		{name: "after death, heartbeat already gone from the API -> frozen",
			state: []alertstate.Alert{heartbeat(t0.Add(-10 * time.Second)), resolved("d", "alertname", "DNSServerDown", "nexthop", nh2.String())},
			api:   nil, maxAge: 3 * time.Second,
			frozen: true},
		{name: "heartbeat resolve processed first -> frozen by the webhook state alone",
			state: []alertstate.Alert{resolved("hb", "alertname", "DNSSLAWatchdog"), resolved("d", "alertname", "DNSServerDown", "nexthop", nh2.String())},
			api:   []alertstate.Event{hbEvent(t0.Add(-time.Second))}, maxAge: 3 * time.Second,
			confirmed: true, frozen: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ac.HeartbeatMaxAge = model.Duration(tc.maxAge)
			ok, why := APIConfirms(ac, tc.api, t0)
			if ok != tc.confirmed {
				t.Errorf("APIConfirms = %v (%s), want %v", ok, why, tc.confirmed)
			}
			in := Input{Routes: routes(1), Alerts: ac, State: tc.state, Installed: installed, Now: t0}
			if ok {
				in.Restorable = func(netip.Prefix, netip.Addr) bool { return true }
			} else {
				in.APIStale = why
			}
			d := Decide(in)
			r := d.Routes[0]
			if d.Pipeline.Healthy != tc.healthy {
				t.Errorf("healthy = %v (%s), want %v", d.Pipeline.Healthy, d.Pipeline.Reason, tc.healthy)
			}
			if got := slices.Contains(r.Desired, nh2); got != tc.desired {
				t.Errorf("desired = %v: restores %s = %v, want %v", r.Desired, nh2, got, tc.desired)
			}
			if (len(r.Frozen) > 0) != tc.frozen {
				t.Errorf("frozen = %v, want %v", r.Frozen, tc.frozen)
			}
			if tc.frozen && !slices.Equal(r.Desired, installed[svc]) {
				t.Errorf("frozen route desired = %v, want installed %v (no withdraw, no restore)", r.Desired, installed[svc])
			}
		})
	}
}

// A stale API read freezes: no withdraw, no restore, no creation.
func TestAPIStaleFreezes(t *testing.T) {
	in := Input{Routes: routes(1), Alerts: testAlerts(), Now: t0, APIStale: "heartbeat DNSSLAWatchdog last updated in Alertmanager 4s ago",
		State:      []alertstate.Alert{heartbeat(t0), down("a", nh2, "")},
		Installed:  map[netip.Prefix][]netip.Addr{svc: {nh2, nh3}},
		Restorable: func(netip.Prefix, netip.Addr) bool { return true }}
	d := Decide(in)
	if d.Pipeline.Healthy || d.Pipeline.Reason != in.APIStale || len(d.FrozenAll) != 1 {
		t.Errorf("pipeline %+v, frozen all %v: want unhealthy for the API's reason", d.Pipeline, d.FrozenAll)
	}
	if got := d.Routes[0].Desired; !slices.Equal(got, []netip.Addr{nh2, nh3}) {
		t.Errorf("svc desired = %v, want installed [.12 .13] (no restore of .11, no withdraw of .12)", got)
	}
	if got := d.Routes[1].Desired; len(got) != 0 {
		t.Errorf("absent svc2 desired = %v, want absent", got)
	}
	in.APIStale = ""
	if got := Decide(in).Routes[0].Desired; !slices.Equal(got, []netip.Addr{nh1, nh3}) {
		t.Errorf("not stale: svc desired = %v, want [.11 .13]", got)
	}
	in.Alerts.Heartbeat, in.APIStale = "", "stale"
	if d := Decide(in); !d.Pipeline.Healthy {
		t.Errorf("without a heartbeat configured APIStale must not count: %+v", d.Pipeline)
	}
}

// Decisions over alert state built by webhooks and API reads: a resolve
// inferred from absence in the API yields to a firing received later, a
// notified resolve does not yield to a stale firing.
func TestInferredResolveDecide(t *testing.T) {
	started := t0.Add(-time.Hour)
	ev := func(status alertstate.Status, labels map[string]string, endsAt time.Time) alertstate.Event {
		return alertstate.Event{Fingerprint: alertstate.Fingerprint(labels), Labels: labels, Status: status, StartsAt: started, EndsAt: endsAt}
	}
	hbL := map[string]string{"alertname": "DNSSLAWatchdog"}
	downL := map[string]string{"alertname": "DNSServerDown", "nexthop": nh2.String()}
	hb := ev(alertstate.Firing, hbL, time.Time{})
	down2 := ev(alertstate.Firing, downL, time.Time{})
	up2 := ev(alertstate.Resolved, downL, t0)
	// A step is a webhook event, or (nil, list) an API read listing these.
	type step struct {
		hook *alertstate.Event
		api  []alertstate.Event
	}
	hook := func(e alertstate.Event) step { return step{hook: &e} }
	api := func(active ...alertstate.Event) step { return step{api: active} }
	for _, tc := range []struct {
		name    string
		steps   []step
		healthy bool
		desired []netip.Addr
	}{
		{"heartbeat re-notified after the API missed it (Alertmanager restarted)",
			[]step{hook(hb), api(), hook(hb)}, true, all},
		{"heartbeat missing from the API, not re-notified",
			[]step{hook(hb), api()}, false, all},
		{"withdraw alert re-notified after the API missed it",
			[]step{hook(hb), hook(down2), api(hb), hook(down2)}, true, []netip.Addr{nh1, nh3}},
		{"stale firing (HA peer) after a notified recovery",
			[]step{hook(hb), hook(down2), hook(up2), api(hb), hook(down2)}, true, all},
		{"stale firing after a recovery notified after the API missed the alert",
			[]step{hook(hb), hook(down2), api(hb), hook(up2), hook(down2)}, true, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := alertstate.New(time.Hour)
			now := t0
			for _, st := range tc.steps {
				now = now.Add(time.Second)
				if st.hook != nil {
					s.Apply(*st.hook, now)
					continue
				}
				for i := range st.api {
					st.api[i].UpdatedAt = now
				}
				s.Sync(st.api, now, now)
			}
			state, _ := s.Snapshot()
			d := Decide(Input{Routes: routes(1), Alerts: testAlerts(), State: state, Now: now,
				Installed:  map[netip.Prefix][]netip.Addr{svc: all, svc2: {nh1, nh2}},
				Restorable: func(netip.Prefix, netip.Addr) bool { return true }})
			if d.Pipeline.Healthy != tc.healthy {
				t.Fatalf("pipeline %+v, want healthy %v", d.Pipeline, tc.healthy)
			}
			if got := d.Routes[0].Desired; !slices.Equal(got, tc.desired) {
				t.Errorf("desired %v, want %v", got, tc.desired)
			}
		})
	}
}
