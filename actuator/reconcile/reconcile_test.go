package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
)

var (
	svc  = netip.MustParsePrefix("192.0.2.53/32")
	old  = netip.MustParsePrefix("192.0.2.99/32")
	nh1  = netip.MustParseAddr("198.51.100.11")
	nh2  = netip.MustParseAddr("198.51.100.12")
	nh3  = netip.MustParseAddr("198.51.100.13")
	all  = []netip.Addr{nh1, nh2, nh3}
	t0   = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	hbLb = map[string]string{"alertname": "DNSSLAWatchdog"}
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fakeAPI struct {
	mu     sync.Mutex
	events []alertstate.Event
	err    error
	calls  int
}

func (f *fakeAPI) Alerts(context.Context) ([]alertstate.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return slices.Clone(f.events), f.err
}

type env struct {
	t     *testing.T
	cfg   *config.Config
	fake  *routetest.Backend
	store *alertstate.Store
	clock *clock
	reg   *prometheus.Registry
	rec   *Reconciler
}

func newEnv(t *testing.T, dryRun bool, api AlertSource, mutate func(*config.Config)) *env {
	t.Helper()
	cfg := &config.Config{
		Backend:        config.Backend{Type: "netlink"},
		Routes:         []config.Route{{Prefix: svc, Nexthops: all, MinNexthops: 1}},
		Alerts:         config.DefaultAlerts,
		Alertmanager:   config.DefaultAlertmanager,
		ResyncInterval: model.Duration(time.Hour),
	}
	cfg.Alerts.Heartbeat = "DNSSLAWatchdog"
	if mutate != nil {
		mutate(cfg)
	}
	e := &env{t: t, cfg: cfg, store: alertstate.New(time.Hour), clock: &clock{t: t0}, reg: prometheus.NewPedanticRegistry()}
	e.fake = routetest.New(t, map[netip.Prefix]int{svc: 1, old: 1})
	e.rec = New(Options{Config: cfg, Backend: e.fake, Store: e.store, API: api, DryRun: dryRun,
		Metrics: NewMetrics(e.reg), Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now})
	t.Cleanup(func() { e.rec.Close() })
	return e
}

func (e *env) event(status alertstate.Status, fp string, labels map[string]string) {
	ev := alertstate.Event{Fingerprint: fp, Labels: labels, Status: status, StartsAt: t0.Add(-time.Hour)}
	if status == alertstate.Resolved {
		ev.EndsAt = e.clock.Now()
	}
	e.store.Apply(ev, e.clock.Now())
}

func (e *env) heartbeat() { e.event(alertstate.Firing, "hb", hbLb) }

func down(nh netip.Addr) map[string]string {
	return map[string]string{"alertname": "DNSServerDown", "nexthop": nh.String()}
}

func (e *env) want(nhs ...netip.Addr) {
	e.t.Helper()
	r, ok := e.fake.Get(svc)
	if len(nhs) == 0 {
		if ok {
			e.t.Fatalf("route installed as %s, want absent", r)
		}
		return
	}
	if !ok || !slices.Equal(r.Nexthops, nhs) {
		e.t.Fatalf("route = %s (present %v), want via %v", r, ok, nhs)
	}
}

func (e *env) counter(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	e.t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestStartupDoesNotFlap(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.fake.Put(route.New(svc, all...))
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Sets()); n != 0 {
		t.Fatalf("%d changes on a device that is already right: %v", n, e.fake.Sets())
	}
	if !e.rec.Ready() {
		t.Error("not ready after reading the device")
	}
}

func TestStartupFrozenWithoutHeartbeat(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want() // no heartbeat yet: nothing is created
	e.heartbeat()
	if err := e.rec.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
}

func TestWithdrawRestoreWithDelay(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
	e.event(alertstate.Firing, "d2", down(nh2))
	if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3) // withdrawals are never delayed
	e.clock.Add(time.Second)
	e.event(alertstate.Resolved, "d2", down(nh2))
	if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3) // restore waits restore_delay
	if v := e.rec.View(); !slices.Equal(v.Decision.Routes[0].PendingRestore, []netip.Addr{nh2}) {
		t.Errorf("pending restore = %v, want [%s]", v.Decision.Routes[0].PendingRestore, nh2)
	}
	e.clock.Add(time.Duration(e.cfg.Alerts.RestoreDelay) - time.Millisecond)
	e.heartbeat()
	_ = e.rec.Reconcile(t.Context())
	e.want(nh1, nh3)
	e.clock.Add(time.Millisecond)
	if err := e.rec.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
}

// Prometheus died: Alertmanager resolves everything, the withdraw alert's
// resolve arriving before the heartbeat's. The dead server must stay out.
func TestRestoreNotConfirmedWhenHeartbeatResolves(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	e.event(alertstate.Firing, "d2", down(nh2))
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)
	e.event(alertstate.Resolved, "d2", down(nh2))
	_ = e.rec.Reconcile(t.Context())
	e.clock.Add(time.Second)
	e.event(alertstate.Resolved, "hb", hbLb)
	e.clock.Add(time.Duration(e.cfg.Alerts.RestoreDelay))
	if err := e.rec.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)
	if v := e.rec.View(); v.Decision.Pipeline.Healthy || len(v.Decision.Routes[0].Frozen) == 0 {
		t.Errorf("pipeline %+v, frozen %v: want unhealthy and frozen", v.Decision.Pipeline, v.Decision.Routes[0].Frozen)
	}
	if got := e.counter("route_actuator_pipeline_healthy"); got != 0 {
		t.Errorf("pipeline_healthy = %v, want 0", got)
	}
}

func TestRestoreConfirmedByAPI(t *testing.T) {
	api := &fakeAPI{}
	e := newEnv(t, false, api, nil)
	fresh := alertstate.Event{Fingerprint: "hb", Labels: hbLb, StartsAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Second)}
	api.events = []alertstate.Event{fresh, {Fingerprint: "d2", Labels: down(nh2), StartsAt: t0.Add(-time.Minute), UpdatedAt: t0}}
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3) // the API is the source of truth at start-up

	// The withdraw alert resolves but the API still lists it: no restore.
	e.event(alertstate.Resolved, "d2", down(nh2))
	if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)

	// Gone from the API, but the heartbeat's updatedAt is stale (Prometheus dead).
	api.mu.Lock()
	stale := fresh
	stale.UpdatedAt = t0.Add(-4 * time.Minute)
	api.events = []alertstate.Event{stale}
	api.mu.Unlock()
	e.event(alertstate.Resolved, "d2", down(nh2))
	_ = e.rec.Reconcile(t.Context())
	e.want(nh1, nh3)

	if v := e.rec.View(); v.Decision.Pipeline.Healthy {
		t.Errorf("pipeline healthy after the API showed a stale heartbeat: %+v", v.Decision.Pipeline)
	}

	// Prometheus is back: the periodic re-check of a stale API confirms and restores.
	api.mu.Lock()
	api.events = []alertstate.Event{fresh}
	api.mu.Unlock()
	calls := api.calls
	if err := e.rec.Recheck(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
	if api.calls != calls+1 {
		t.Errorf("API read %d times for the re-check and restore, want 1", api.calls-calls)
	}
}

// apiAlerts sets what the fake API lists: the heartbeat updated at hbUpdated
// (zero: not listed) and a DNSServerDown for each nexthop in down.
func apiAlerts(api *fakeAPI, hbUpdated time.Time, downs ...netip.Addr) {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.events = nil
	if !hbUpdated.IsZero() {
		api.events = append(api.events, alertstate.Event{Fingerprint: "hb", Labels: hbLb, StartsAt: t0.Add(-time.Hour), UpdatedAt: hbUpdated})
	}
	for _, nh := range downs {
		api.events = append(api.events, alertstate.Event{Fingerprint: "d" + nh.String(), Labels: down(nh), StartsAt: t0.Add(-time.Hour), UpdatedAt: hbUpdated})
	}
}

// Prometheus dies; ~4 s later Alertmanager resolves everything and the
// withdraw alert's resolve arrives before the heartbeat's. With webhook
// repeats keeping the heartbeat "seen" within heartbeat_timeout, only the
// API's updatedAt (heartbeat_max_age) tells that the pipeline is dead.
func TestPrometheusDiedOutOfOrderResolves(t *testing.T) {
	api := &fakeAPI{}
	e := newEnv(t, false, api, nil)
	apiAlerts(api, t0.Add(-time.Second), nh2)
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)
	e.heartbeat() // a webhook repeat of the heartbeat: seen now, fresh for heartbeat_timeout

	death := e.clock.Now()
	e.clock.Add(4 * time.Second)
	// Alertmanager still lists the heartbeat (it resolves a moment later), no longer .12's alert.
	apiAlerts(api, death)
	e.event(alertstate.Resolved, "d"+nh2.String(), down(nh2))
	calls := api.calls
	if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3) // held: the webhook never waits for the API read a restore needs
	if api.calls != calls {
		t.Errorf("Sync read the API %d times, want 0 (the read is Run's)", api.calls-calls)
	}
	_ = e.rec.Reconcile(t.Context()) // what Run does on the trigger Sync left
	e.want(nh1, nh3)
	v := e.rec.View()
	if v.Decision.Pipeline.Healthy || len(v.Decision.FrozenAll) == 0 || !strings.Contains(v.Decision.Pipeline.Reason, "heartbeat_max_age 3s") {
		t.Errorf("pipeline %+v, frozen all %v: want unhealthy and frozen by heartbeat_max_age", v.Decision.Pipeline, v.Decision.FrozenAll)
	}
	if got := e.counter("route_actuator_pipeline_healthy"); got != 0 {
		t.Errorf("pipeline_healthy = %v, want 0", got)
	}
	// The heartbeat's resolve and re-checks of the API change nothing.
	apiAlerts(api, time.Time{})
	e.event(alertstate.Resolved, "hb", hbLb)
	for range 3 {
		e.clock.Add(time.Second)
		_ = e.rec.Recheck(t.Context())
		e.want(nh1, nh3)
	}
	if n := len(e.fake.Sets()); n != 1 {
		t.Errorf("applied %+v, want only the start-up create", e.fake.Sets())
	}
}

// A resync that finds the heartbeat's updatedAt stale freezes every route
// before any resolve arrives: no withdraw either. It unfreezes once a
// re-check finds it fresh.
func TestStaleAPIFreezesOnResync(t *testing.T) {
	api := &fakeAPI{}
	e := newEnv(t, false, api, nil)
	apiAlerts(api, t0.Add(-time.Second))
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
	e.heartbeat()
	e.clock.Add(3*time.Second + time.Millisecond)
	apiAlerts(api, t0.Add(-time.Second), nh2) // listed with its last update, 4 s old
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
	if v := e.rec.View(); v.Decision.Pipeline.Healthy || len(v.Decision.Routes[0].Frozen) == 0 {
		t.Errorf("pipeline %+v: want unhealthy, route frozen", v.Decision.Pipeline)
	}
	apiAlerts(api, e.clock.Now().Add(-time.Second), nh2)
	if err := e.rec.Recheck(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)
	if v := e.rec.View(); !v.Decision.Pipeline.Healthy {
		t.Errorf("pipeline %+v: want healthy after a fresh read", v.Decision.Pipeline)
	}
}

func TestDriftRepair(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.fake.Remove(svc)
	e.fake.Put(route.New(old, nh1)) // an owned route no longer configured
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
	if _, ok := e.fake.Get(old); ok {
		t.Error("unconfigured owned route not deleted")
	}
	e.fake.Put(route.New(svc, nh1)) // someone removed two nexthops by hand
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1) // adding nexthops back is a restore: confirmed first
	e.clock.Add(time.Duration(e.cfg.Alerts.RestoreDelay))
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...)
}

func TestFrozenAllKeepsUnconfigured(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.fake.Put(route.New(old, nh1))
	if err := e.rec.Resync(t.Context()); err != nil { // no heartbeat: frozen
		t.Fatal(err)
	}
	if _, ok := e.fake.Get(old); !ok || len(e.fake.Sets()) != 0 {
		t.Errorf("changes while frozen: %v", e.fake.Sets())
	}
}

func TestVerifyFailureCounted(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	e.fake.Ignore = true
	err := e.rec.Resync(t.Context())
	if err == nil || !strings.Contains(err.Error(), "verify 192.0.2.53/32") {
		t.Fatalf("err = %v, want a verify error", err)
	}
	if got := e.counter("route_actuator_backend_errors_total", "operation", "verify"); got != 1 {
		t.Errorf("verify errors = %v, want 1", got)
	}
	if got := e.counter("route_actuator_route_converged", "route", svc.String()); got != 0 {
		t.Errorf("converged = %v, want 0", got)
	}
}

func TestUnavailable(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.fake.SetErr = func(route.Route) error {
		return fmt.Errorf("%w: %w", route.ErrUnavailable, errors.New("session down"))
	}
	e.event(alertstate.Firing, "d2", down(nh2))
	err := e.rec.Sync(t.Context(), e.store.Version())
	if !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	// A retry after a failed run tries the device again.
	if err := e.rec.Sync(t.Context(), e.store.Version()); !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("second Sync err = %v, want ErrUnavailable", err)
	}
	if got := e.counter("route_actuator_changes_total", "action", "update", "result", "error"); got != 2 {
		t.Errorf("update errors = %v, want 2", got)
	}
	if got := e.counter("route_actuator_backend_errors_total", "operation", "verify"); got != 0 {
		t.Errorf("verify errors = %v after failed applies, want 0 (only applied changes are verified)", got)
	}
	e.fake.SetErr = nil
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)

	e.fake.ListErr = func() error { return fmt.Errorf("%w: netlink socket closed", route.ErrUnavailable) }
	if err := e.rec.Resync(t.Context()); !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("list failure err = %v, want ErrUnavailable", err)
	}
	if got := e.counter("route_actuator_backend_errors_total", "operation", "list"); got != 1 {
		t.Errorf("list errors = %v, want 1", got)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t, true, nil, nil)
	e.heartbeat()
	e.event(alertstate.Firing, "d2", down(nh2))
	e.fake.Put(route.New(svc, all...))
	for range 3 {
		if err := e.rec.Resync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.fake.Sets()); n != 0 {
		t.Fatalf("dry run applied %d changes", n)
	}
	if got := e.counter("route_actuator_changes_total", "action", "update", "result", "dry_run"); got != 1 {
		t.Errorf("dry_run changes = %v, want 1 (one distinct plan)", got)
	}
	if p := e.rec.View().Plan; len(p) != 1 || !slices.Equal(p[0].To, []netip.Addr{nh1, nh3}) {
		t.Errorf("plan = %+v", p)
	}
	if got := e.counter("route_actuator_dry_run"); got != 1 {
		t.Errorf("dry_run gauge = %v", got)
	}
}

func TestGuardMetrics(t *testing.T) {
	e := newEnv(t, false, nil, func(c *config.Config) { c.Routes[0].MinNexthops = 2 })
	e.heartbeat()
	e.event(alertstate.Firing, "d1", down(nh1))
	e.event(alertstate.Firing, "d2", down(nh2))
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3) // min_nexthops 2: keeps the lowest withdrawn address (nothing installed before)
	e.event(alertstate.Firing, "d3", down(nh3))
	if err := e.rec.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = e.rec.Reconcile(t.Context())
	e.clock.Add(time.Duration(e.cfg.Alerts.RestoreDelay))
	if err := e.rec.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(all...) // fail open, after the restore delay
	expected := `
# HELP route_actuator_guard_active Whether a guard keeps withdrawn nexthops installed.
# TYPE route_actuator_guard_active gauge
route_actuator_guard_active{reason="fail_open",route="192.0.2.53/32"} 1
route_actuator_guard_active{reason="min_nexthops",route="192.0.2.53/32"} 0
# HELP route_actuator_guard_activations_total Times a guard started holding a route.
# TYPE route_actuator_guard_activations_total counter
route_actuator_guard_activations_total{reason="fail_open",route="192.0.2.53/32"} 1
route_actuator_guard_activations_total{reason="min_nexthops",route="192.0.2.53/32"} 1
# HELP route_actuator_nexthop_installed Whether the nexthop is installed for the route on the device (read back).
# TYPE route_actuator_nexthop_installed gauge
route_actuator_nexthop_installed{nexthop="198.51.100.11",route="192.0.2.53/32"} 1
route_actuator_nexthop_installed{nexthop="198.51.100.12",route="192.0.2.53/32"} 1
route_actuator_nexthop_installed{nexthop="198.51.100.13",route="192.0.2.53/32"} 1
# HELP route_actuator_route_converged Whether the installed nexthops equal the desired ones.
# TYPE route_actuator_route_converged gauge
route_actuator_route_converged{route="192.0.2.53/32"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(expected), "route_actuator_guard_active",
		"route_actuator_guard_activations_total", "route_actuator_nexthop_installed", "route_actuator_route_converged"); err != nil {
		t.Error(err)
	}
}

func TestMetricsInitialisedAndLint(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	expected := `
# HELP route_actuator_changes_total Route changes by action and result (dry_run: planned, not applied).
# TYPE route_actuator_changes_total counter
route_actuator_changes_total{action="create",result="dry_run"} 0
route_actuator_changes_total{action="create",result="error"} 0
route_actuator_changes_total{action="create",result="success"} 0
route_actuator_changes_total{action="delete",result="dry_run"} 0
route_actuator_changes_total{action="delete",result="error"} 0
route_actuator_changes_total{action="delete",result="success"} 0
route_actuator_changes_total{action="update",result="dry_run"} 0
route_actuator_changes_total{action="update",result="error"} 0
route_actuator_changes_total{action="update",result="success"} 0
# HELP route_actuator_backend_errors_total Backend failures by operation (verify: read-back differs from what was applied).
# TYPE route_actuator_backend_errors_total counter
route_actuator_backend_errors_total{operation="apply"} 0
route_actuator_backend_errors_total{operation="list"} 0
route_actuator_backend_errors_total{operation="verify"} 0
# HELP route_actuator_route_configured_nexthops Nexthops configured for the route.
# TYPE route_actuator_route_configured_nexthops gauge
route_actuator_route_configured_nexthops{route="192.0.2.53/32"} 3
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(expected), "route_actuator_changes_total",
		"route_actuator_backend_errors_total", "route_actuator_route_configured_nexthops"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestReloadRemovesRouteSeries(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := *e.cfg
	cfg.Routes = []config.Route{{Prefix: old, Nexthops: []netip.Addr{nh1}, MinNexthops: 1}}
	e.rec.SetConfig(&cfg, e.fake, nil)
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.fake.Get(svc); ok {
		t.Error("route removed from the configuration is still installed")
	}
	if n := testutil.CollectAndCount(e.rec.m.configured); n != 1 {
		t.Errorf("%d route_configured_nexthops series, want 1", n)
	}
}

// A webhook that changes no alert state returns without waiting for a run in
// progress (the device lock); one that does waits for it.
func TestSyncWithoutChangeDoesNotWait(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	v := e.store.Version()
	e.rec.mu.Lock() // a run in progress
	done := make(chan error, 1)
	go func() { done <- e.rec.Sync(t.Context(), v) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		e.rec.mu.Unlock()
		t.Fatal("Sync of an evaluated version waited for the device lock")
	}
	e.event(alertstate.Firing, "d2", down(nh2))
	go func() { done <- e.rec.Sync(t.Context(), e.store.Version()) }()
	select {
	case <-done:
		t.Fatal("Sync of a new version did not wait for the run in progress")
	case <-time.After(50 * time.Millisecond):
	}
	e.rec.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)
}

// With alertmanager.url, webhooks arriving before the first API read change
// nothing: the API, not a heartbeat notification, is the truth at start-up.
func TestNothingBeforeFirstAPIRead(t *testing.T) {
	api := &fakeAPI{}
	apiAlerts(api, t0.Add(-time.Second), nh2)
	e := newEnv(t, false, api, nil)
	e.heartbeat()
	if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
		t.Fatal(err)
	}
	e.want()
	if v := e.rec.View(); v.Decision.Pipeline.Healthy || !v.Listed {
		t.Errorf("pipeline %+v, listed %v: want unhealthy until the API is read, device read", v.Decision.Pipeline, v.Listed)
	}
	api.mu.Lock()
	api.err = errors.New("connection refused")
	api.mu.Unlock()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want()
	if v := e.rec.View(); v.APIError == "" || v.Decision.Pipeline.Healthy {
		t.Errorf("API error %q, pipeline %+v: want the error shown and the pipeline unconfirmed", v.APIError, v.Decision.Pipeline)
	}
	api.mu.Lock()
	api.err = nil
	api.mu.Unlock()
	if err := e.rec.Recheck(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh3)
	if n := len(e.fake.Sets()); n != 1 {
		t.Errorf("applied %+v, want one create without .12 (no flap)", e.fake.Sets())
	}
}

// The heartbeat comes back after a gap in the alert pipeline, notified with
// its old startsAt (Prometheus keeps its activeAt). Routes must unfreeze
// within the 1 s API re-check, not at the next resync (1 h here):
//   - Alertmanager restarted: a resync finds it empty and infers the
//     heartbeat resolved; the notification after Prometheus re-sends wins
//     over that inferred resolve, and the re-check confirms;
//   - Prometheus silent for over 4 x resend-delay (rediscovering
//     Alertmanagers after a reload): Alertmanager notifies the heartbeat
//     resolved, so the re-notified firing is older and dropped (an HA stale
//     firing looks the same); the API re-read while unhealthy shows it back.
func TestHeartbeatBackAfterGapUnfreezes(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  func(e *env, api *fakeAPI)
	}{
		{"Alertmanager restarted, resync in the gap", func(e *env, api *fakeAPI) {
			apiAlerts(api, time.Time{})
			if err := e.rec.Resync(t.Context()); err != nil {
				t.Error(err)
			}
		}},
		{"Prometheus silent, Alertmanager resolved the heartbeat", func(e *env, api *fakeAPI) {
			apiAlerts(api, time.Time{}, nh2)
			e.event(alertstate.Resolved, "hb", hbLb)
			if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
				t.Error(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{}
			e := newEnv(t, false, api, nil)
			apiAlerts(api, e.clock.Now(), nh2)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- e.rec.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			waitRoute(t, e, nh1, nh3)
			e.heartbeat()

			tc.gap(e, api)
			if v := e.rec.View(); v.Decision.Pipeline.Healthy {
				t.Fatalf("pipeline %+v in the gap, want unhealthy", v.Decision.Pipeline)
			}
			// Alertmanager has the heartbeat again, and .13 went down meanwhile.
			apiAlerts(api, e.clock.Now(), nh2, nh3)
			e.heartbeat() // the old startsAt
			e.event(alertstate.Firing, "d"+nh3.String(), down(nh3))
			if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
				t.Fatal(err)
			}
			waitRoute(t, e, nh1)
		})
	}
}

// waitRoute waits up to 3 s (three API re-checks) for svc to be via nhs.
func waitRoute(t *testing.T, e *env, nhs ...netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r, ok := e.fake.Get(svc)
		if ok && slices.Equal(r.Nexthops, nhs) {
			return
		}
		if time.Now().After(deadline) {
			v := e.rec.View()
			t.Fatalf("route = %s (present %v), want via %v; pipeline %+v", r, ok, nhs, v.Decision.Pipeline)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDiff(t *testing.T) {
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	inst := func(nhs ...netip.Addr) map[netip.Prefix][]netip.Addr {
		return map[netip.Prefix][]netip.Addr{svc: nhs}
	}
	for _, tc := range []struct {
		name      string
		installed map[netip.Prefix][]netip.Addr
		desired   []route.Route
		want      []Change
	}{
		{"equal is no-op", inst(nh1, nh2), []route.Route{route.New(svc, nh2, nh1)}, nil},
		{"create", nil, []route.Route{route.New(svc, nh1)}, []Change{{Action: Create, Prefix: svc, To: []netip.Addr{nh1}}}},
		{"withdraw one", inst(nh1, nh2), []route.Route{route.New(svc, nh2)},
			[]Change{{Action: Update, Prefix: svc, From: []netip.Addr{nh1, nh2}, To: []netip.Addr{nh2}}}},
		{"not desired deletes", inst(nh1), nil, []Change{{Action: Delete, Prefix: svc, From: []netip.Addr{nh1}}}},
		{"ordered by prefix", nil, []route.Route{route.New(p("203.0.113.53/32"), nh1), route.New(svc, nh1), route.New(p("192.0.2.0/24"), nh1)},
			[]Change{
				{Action: Create, Prefix: p("192.0.2.0/24"), To: []netip.Addr{nh1}},
				{Action: Create, Prefix: svc, To: []netip.Addr{nh1}},
				{Action: Create, Prefix: p("203.0.113.53/32"), To: []netip.Addr{nh1}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := diff(tc.installed, tc.desired); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("diff\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// slowAPI answers like fakeAPI, but blocks every read while held.
type slowAPI struct {
	fakeAPI
	hmu     sync.Mutex
	held    chan struct{} // closed: reads proceed
	waiting chan struct{} // receives when a read starts blocking
}

func (s *slowAPI) hold() chan struct{} {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.held = make(chan struct{})
	return s.held
}

func (s *slowAPI) Alerts(ctx context.Context) ([]alertstate.Event, error) {
	s.hmu.Lock()
	held := s.held
	s.hmu.Unlock()
	select {
	case <-held:
	default:
		s.waiting <- struct{}{}
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.fakeAPI.Alerts(ctx)
}

// A slow Alertmanager API holds up only the restore that waits for it: a
// webhook that withdraws a nexthop meanwhile is applied at once.
func TestWebhookNotBlockedBySlowAPI(t *testing.T) {
	api := &slowAPI{held: make(chan struct{}), waiting: make(chan struct{}, 1)}
	close(api.held)
	apiAlerts(&api.fakeAPI, t0.Add(-time.Second), nh2)
	e := newEnv(t, false, api, func(c *config.Config) { c.Alertmanager.Timeout = model.Duration(time.Hour) })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.rec.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitRoute(t, e, nh1, nh3)

	held := api.hold() // Alertmanager stops answering
	apiAlerts(&api.fakeAPI, t0.Add(-time.Second), nh3)
	e.event(alertstate.Resolved, "d"+nh2.String(), down(nh2))
	// webhook runs Sync as the webhook handler does, failing if it waits.
	webhook := func(what string) {
		t.Helper()
		synced := make(chan error, 1)
		go func() { synced <- e.rec.Sync(t.Context(), e.store.Version()) }()
		select {
		case err := <-synced:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			close(held)
			t.Fatalf("a %s webhook waited for the Alertmanager API", what)
		}
	}
	webhook("resolve")
	select { // Run now reads the API to confirm the restore of .12, and hangs
	case <-api.waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("no API read to confirm the restore")
	}
	e.event(alertstate.Firing, "d"+nh3.String(), down(nh3))
	webhook("withdraw")
	e.want(nh1)
	close(held) // the API answers: .12 confirmed back, .13 down
	waitRoute(t, e, nh1, nh2)
}

// A pass that changes several routes hands them to the backend in one Set
// (one device read before and one after), and verifies each route: one
// that reads back wrong fails alone.
func TestOnePassOneSet(t *testing.T) {
	e := newEnv(t, false, nil, func(c *config.Config) {
		c.Routes = append(c.Routes, config.Route{Prefix: old, Nexthops: all, MinNexthops: 1})
	})
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, sets := e.fake.Calls(), len(e.fake.Sets()); n != 1 || sets != 2 {
		t.Fatalf("start-up: %d Set calls carrying %d routes, want 1 carrying 2", n, sets)
	}
	e.event(alertstate.Firing, "d2", down(nh2))
	e.fake.SetErr = func(r route.Route) error {
		if r.Prefix == old {
			return errors.New("refused")
		}
		return nil
	}
	err := e.rec.Sync(t.Context(), e.store.Version())
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want the refused route's error", err)
	}
	if n, sets := e.fake.Calls(), len(e.fake.Sets()); n != 2 || sets != 4 {
		t.Errorf("withdraw: %d Set calls carrying %d routes, want 2 carrying 4", n, sets)
	}
	e.want(nh1, nh3)
	if got := e.counter("route_actuator_changes_total", "action", "update", "result", "success"); got != 1 {
		t.Errorf("update successes = %v, want 1 (%s)", got, svc)
	}
	if got := e.counter("route_actuator_changes_total", "action", "update", "result", "error"); got != 1 {
		t.Errorf("update errors = %v, want 1 (%s)", got, old)
	}
	if got := e.counter("route_actuator_backend_errors_total", "operation", "verify"); got != 0 {
		t.Errorf("verify errors = %v, want 0 (the backend reported the failure)", got)
	}
}

// The Route changed line carries the nexthops added and removed: make
// bench-failover times a failover by them (deploy/lab/timeline.go).
func TestRouteChangedLogsDelta(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	var buf strings.Builder
	e.rec.logger = slog.New(slog.NewJSONHandler(&buf, nil))
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.event(alertstate.Firing, "d2", down(nh2))
	if err := e.rec.Sync(t.Context(), e.store.Version()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l struct {
			Msg            string
			Added, Removed []string
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if l.Msg == "Route changed" {
			got = append(got, fmt.Sprintf("+%v -%v", l.Added, l.Removed))
		}
	}
	want := []string{"+[198.51.100.11 198.51.100.12 198.51.100.13] -[]", "+[] -[198.51.100.12]"}
	if !slices.Equal(got, want) {
		t.Errorf("Route changed lines %q, want %q", got, want)
	}
}
