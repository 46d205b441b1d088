package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/state"
)

// Every applied change says why, on the `Route changed` log line, in the
// ring and in route_actuator_nexthop_changes_total: startup, an alert (and
// its end), a drain and its expiry, drift repaired by a resync.
func TestChangeCauses(t *testing.T) {
	e := newEnv(t, false, nil, nil)
	var logBuf bytes.Buffer
	ring := events.NewRing(100)
	var saved []state.State
	e.rec = New(Options{Config: e.cfg, Backend: e.fake, Store: e.store, Metrics: NewMetrics(prometheus.NewRegistry()),
		Logger: slog.New(slog.NewJSONHandler(&logBuf, nil)), Now: e.clock.Now, Events: ring,
		Save: func(s state.State) error { saved = append(saved, s); return nil }})
	e.reg = prometheus.NewPedanticRegistry()
	e.rec.m = NewMetrics(e.reg)
	e.rec.m.initRoutes(e.cfg.Routes)
	ctx := t.Context()
	step := func(full bool) {
		t.Helper()
		var err error
		if full {
			err = e.rec.Resync(ctx)
		} else {
			err = e.rec.Reconcile(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	e.heartbeat()
	step(true)
	e.want(all...)
	e.event(alertstate.Firing, "fp2", down(nh2))
	step(false)
	e.want(nh1, nh3)
	e.event(alertstate.Resolved, "fp2", down(nh2))
	step(false)
	e.clock.Add(5 * time.Second) // restore_delay
	step(false)
	e.want(all...)
	if _, err := e.rec.AddDrain(ctx, state.Drain{Nexthop: nh3, Reason: "kernel upgrade", Who: "alice", Expires: e.clock.Now().Add(time.Minute)}, false); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh2)
	if len(saved) != 1 || len(saved[0].Drains) != 1 {
		t.Fatalf("saved %+v, want the drain saved once", saved)
	}
	if _, err := e.rec.AddDrain(ctx, state.Drain{Nexthop: nh3, Reason: "x", Who: "bob"}, false); err != nil || len(saved) != 2 {
		t.Fatalf("replacing a drain: %v, saved %d times", err, len(saved))
	}
	if _, err := e.rec.RemoveDrain(ctx, nh3, svc); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("removing a drain of every route by route: %v, want not found", err)
	}
	if _, err := e.rec.AddDrain(ctx, state.Drain{Nexthop: nh3, Reason: "kernel upgrade", Who: "alice", Expires: e.clock.Now().Add(time.Minute)}, false); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	e.heartbeat()
	step(false) // the drain expired; the restore waits restore_delay
	e.clock.Add(5 * time.Second)
	e.heartbeat()
	step(false)
	e.want(all...)
	if got := saved[len(saved)-1].Drains; len(got) != 0 {
		t.Errorf("after the expiry the state file holds %v", got)
	}
	e.fake.Put(route.New(svc, nh1, nh2)) // someone removed nh3 on the device
	step(true)
	e.clock.Add(5 * time.Second) // a restore like any other
	e.heartbeat()
	step(false)
	e.want(all...)

	var got []string
	for _, ev := range ring.List(0, 0) {
		for _, c := range ev.Changes {
			got = append(got, c.String())
		}
	}
	want := []string{
		"+198.51.100.11 (startup)", "+198.51.100.12 (startup)", "+198.51.100.13 (startup)",
		"-198.51.100.12 (alert DNSServerDown{nexthop=\"198.51.100.12\"} fp=fp2 since 2026-01-01T11:00:00Z)",
		"+198.51.100.12 (alert DNSServerDown{nexthop=\"198.51.100.12\"} fp=fp2 since 2026-01-01T11:00:00Z ended)",
		"-198.51.100.13 (drain \"kernel upgrade\" by alice until 2026-01-01T12:01:05Z)",
		"+198.51.100.13 (drain \"kernel upgrade\" by alice until 2026-01-01T12:01:05Z ended)",
		"+198.51.100.13 (drift)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes\n got %q\nwant %q", got, want)
	}
	var logged []string
	for _, l := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var rec struct {
			Msg    string   `json:"msg"`
			Causes []string `json:"causes"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == "Route changed" {
			logged = append(logged, rec.Causes...)
		}
	}
	if !slices.Equal(logged, want) {
		t.Errorf("Route changed log causes\n got %q\nwant %q", logged, want)
	}
	for _, c := range []struct {
		nh, change, cause string
		n                 float64
	}{{"198.51.100.12", "removed", "alert", 1}, {"198.51.100.12", "added", "alert", 1}, {"198.51.100.13", "removed", "drain", 1},
		{"198.51.100.13", "added", "drift", 1}, {"198.51.100.11", "added", "startup", 1}} {
		if got := e.counter("route_actuator_nexthop_changes_total", "nexthop", c.nh, "change", c.change, "cause", c.cause); got != c.n {
			t.Errorf("nexthop_changes_total{%s,%s,%s} = %v, want %v", c.nh, c.change, c.cause, got, c.n)
		}
	}
}

// A drain refused changes neither the state nor the device; one before the
// first decision is refused as not ready.
func TestAddDrainRefusals(t *testing.T) {
	e := newEnv(t, false, nil, func(c *config.Config) { c.Routes[0].MinNexthops = 3 })
	if _, err := e.rec.AddDrain(t.Context(), state.Drain{Nexthop: nh1, Reason: "r", Who: "w"}, false); !errors.Is(err, ErrNotReady) {
		t.Fatalf("before the first pass: %v", err)
	}
	e.heartbeat()
	if err := e.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rec.AddDrain(t.Context(), state.Drain{Nexthop: nh1, Reason: "r", Who: "w"}, false); !errors.Is(err, state.ErrBelowMin) {
		t.Fatalf("below min: %v", err)
	}
	e.want(all...)
	if v := e.rec.View(); len(v.Drains) != 0 {
		t.Errorf("refused drain recorded: %v", v.Drains)
	}
}

// A nexthop held for its restore after startup or a reload is added later
// with that cause, not as drift.
func TestStartupAndReloadCauses(t *testing.T) {
	ring := events.NewRing(10)
	e := newEnv(t, false, nil, func(c *config.Config) { c.Routes[0].Nexthops = []netip.Addr{nh1, nh2} })
	e.fake.Put(route.New(svc, nh1))
	e.rec = New(Options{Config: e.cfg, Backend: e.fake, Store: e.store, Metrics: NewMetrics(prometheus.NewRegistry()),
		Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now, Events: ring})
	ctx := t.Context()
	e.heartbeat()
	for range 2 {
		if err := e.rec.Resync(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(5 * time.Second)
		e.heartbeat()
	}
	if err := e.rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	e.want(nh1, nh2)
	cfg := *e.cfg
	cfg.Routes = []config.Route{{Prefix: svc, Nexthops: all, MinNexthops: 1}}
	e.rec.SetConfig(&cfg, e.fake, nil)
	for range 2 {
		if err := e.rec.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(5 * time.Second)
		e.heartbeat()
	}
	e.want(all...)
	var got []string
	for _, ev := range ring.List(0, 0) {
		for _, c := range ev.Changes {
			got = append(got, c.String())
		}
	}
	if want := []string{"+198.51.100.12 (startup)", "+198.51.100.13 (reload)"}; !slices.Equal(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
}
