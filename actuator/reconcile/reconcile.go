// Package reconcile drives a route.Backend towards the policy's decision in
// the plain loop list -> decide -> apply -> verify. It is level triggered
// (every pass starts from the full alert state and the device state) and
// serialises every device access. A periodic resync re-reads the
// Alertmanager API and the device, which repairs drift. What the API and
// time add to a decision (heartbeat freshness, the restore gate) is the
// Gate's (gate.go).
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/dampening"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/state"
)

// Options configure a Reconciler.
type Options struct {
	Config  *config.Config
	Backend route.Backend
	Store   *alertstate.Store
	API     AlertSource // nil without alertmanager.url
	DryRun  bool
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time // defaults to time.Now
	// State is the persisted state loaded at start (drains, penalties).
	State state.State
	// Save persists the state after every change of it; nil keeps it in memory.
	Save func(state.State) error
	// Events keeps the last route changes; nil keeps none.
	Events *events.Ring
}

// View is the published state for the API and landing page.
type View struct {
	Decision   policy.Decision
	Installed  map[netip.Prefix][]netip.Addr
	Listed     bool // Installed was read from the device at least once
	LastError  string
	APIError   string
	LastResync time.Time
	DryRun     bool
	Plan       []Change // dry-run: the changes that would be applied
	// Drains are the operators' drains in force.
	Drains []state.Drain
	// Dampening is every nexthop's penalty and suppression (nil when off).
	Dampening map[dampening.Key]dampening.Status
}

// Change is what a pass does to one route: Set(Prefix, To). Action and
// From are for logs, metrics and the dry-run plan.
type Change struct {
	Action string // create, update or delete
	Prefix netip.Prefix
	From   []netip.Addr
	To     []netip.Addr
}

// Actions (label values of route_actuator_changes_total).
const (
	Create = "create"
	Update = "update"
	Delete = "delete"
)

// Reconciler owns the device.
type Reconciler struct {
	mu        sync.Mutex // serialises passes and every backend call
	cfg       *config.Config
	backend   route.Backend
	store     *alertstate.Store
	gate      *Gate
	dryRun    bool
	m         *Metrics
	logger    *slog.Logger
	now       func() time.Time
	installed map[netip.Prefix][]netip.Addr // the device as last read; nil until then
	known     bool                          // installed is the current backend's state
	evaluated uint64                        // store version the last pass decided on
	lastErr   error
	// done is evaluated+1 after a successful pass, else 0: Sync reads it
	// without r.mu, so webhooks that change nothing never wait for a pass.
	done     atomic.Uint64
	guards   map[netip.Prefix]string
	lastPlan string
	day2     day2 // drains, dampening, causes (day2.go)

	trigger chan struct{}

	viewMu sync.RWMutex
	view   View
}

// New returns a reconciler; call Run to start it.
func New(o Options) *Reconciler {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Reconciler{
		store:   o.Store,
		dryRun:  o.DryRun,
		m:       o.Metrics,
		logger:  o.Logger,
		now:     o.Now,
		trigger: make(chan struct{}, 1),
	}
	r.gate = &Gate{store: o.Store, m: o.Metrics, logger: o.Logger, now: o.Now, wake: r.Trigger,
		pending: map[dampening.Key]time.Time{}}
	r.m.dryRun.Set(b2f(o.DryRun))
	r.day2.init(o)
	r.setConfig(o.Config, o.Backend, o.API, true)
	return r
}

// SetConfig swaps in a reloaded configuration. A different backend replaces
// the old one, which is closed here under r.mu, so never during a change;
// the device is then re-read before any change.
func (r *Reconciler) SetConfig(cfg *config.Config, b route.Backend, api AlertSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.backend != nil && b != r.backend {
		if err := r.backend.Close(); err != nil {
			r.logger.Warn("Closing the previous backend failed", "err", err)
		}
	}
	r.setConfig(cfg, b, api, false)
	r.Trigger()
}

func (r *Reconciler) setConfig(cfg *config.Config, b route.Backend, api AlertSource, first bool) {
	if b != r.backend {
		r.known = false
	}
	r.cfg, r.backend = cfg, b
	r.gate.setConfig(cfg, api, first)
	r.evaluated = 0
	r.done.Store(0)
	r.guards = map[netip.Prefix]string{}
	r.m.initRoutes(cfg.Routes)
	r.day2.setConfig(cfg, first, r.logger)
}

// Trigger asks Run for a reconcile soon.
func (r *Reconciler) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Ready reports whether the device has been read at least once.
func (r *Reconciler) Ready() bool { return r.View().Listed }

// View returns the last published state.
func (r *Reconciler) View() View {
	r.viewMu.RLock()
	defer r.viewMu.RUnlock()
	return r.view
}

// Close releases the backend.
func (r *Reconciler) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backend.Close()
}

// staleRecheck is how often the Alertmanager API is re-read while the Gate
// asks for it, so that routes unfreeze soon after Prometheus is back.
const staleRecheck = time.Second

// Run resyncs at start and every resync_interval, and reconciles on Trigger,
// until ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	recheck := time.NewTicker(staleRecheck)
	defer recheck.Stop()
	for {
		_ = r.Resync(ctx)
		r.mu.Lock()
		interval := time.Duration(r.cfg.ResyncInterval)
		r.mu.Unlock()
		t := time.NewTimer(interval)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-r.trigger:
				_ = r.Reconcile(ctx)
			case <-recheck.C:
				if _, recheck, _ := r.gate.status(); recheck {
					_ = r.Recheck(ctx)
				}
			case <-t.C:
				break wait
			}
		}
	}
}

// Resync re-reads the Alertmanager API (when configured) and the device, then reconciles.
func (r *Reconciler) Resync(ctx context.Context) error {
	r.gate.Read(ctx)
	r.store.GC(r.now())
	err := r.reconcile(ctx, true)
	if err == nil {
		r.m.lastResync.SetToCurrentTime()
		r.viewMu.Lock()
		r.view.LastResync = r.now()
		r.viewMu.Unlock()
	}
	return err
}

// Recheck re-reads the Alertmanager API, then reconciles from the cached device state.
func (r *Reconciler) Recheck(ctx context.Context) error {
	r.gate.Read(ctx)
	return r.reconcile(ctx, false)
}

// Reconcile runs once from the cached device state.
func (r *Reconciler) Reconcile(ctx context.Context) error {
	return r.reconcile(ctx, false)
}

// reconcile is one pass; when it held restores for confirmation, the API is
// read (without r.mu) and a second pass may release them. After a failed
// pass it does not retry at once: the device may be down.
func (r *Reconciler) reconcile(ctx context.Context, full bool) error {
	err := r.locked(ctx, full)
	if confirm, _, _ := r.gate.status(); confirm && err == nil {
		r.gate.Read(ctx)
		err = r.locked(ctx, false)
	}
	return err
}

func (r *Reconciler) locked(ctx context.Context, full bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pass(ctx, full)
}

// Sync makes sure a successful pass at least as new as store version has
// run: concurrent webhooks share one pass. After a failed pass it runs
// again, so that a retried notification retries the device. It never waits
// for the Alertmanager API: restores held for confirmation go to Run.
func (r *Reconciler) Sync(ctx context.Context, version uint64) error {
	if r.done.Load() > version {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evaluated >= version && r.lastErr == nil {
		return nil
	}
	err := r.pass(ctx, false)
	if confirm, _, _ := r.gate.status(); confirm {
		r.Trigger()
	}
	return err
}

// pass is list -> decide -> apply -> verify; r.mu is held. The device is
// listed on full (resync) or when the cache is not the device's; otherwise
// the cache, which every Set's read-back keeps current, stands in for it.
func (r *Reconciler) pass(ctx context.Context, full bool) (err error) {
	// A client hanging up must not leave a change half done.
	ctx = context.WithoutCancel(ctx)
	defer func() {
		r.lastErr = err
		if err == nil {
			r.done.Store(r.evaluated + 1)
		} else {
			r.done.Store(0)
		}
	}()
	var listErr error
	if full || !r.known {
		listErr = r.list(ctx)
	}
	d, version := r.decide()
	if listErr != nil {
		r.publish(d, nil, listErr)
		return listErr
	}
	r.evaluated = version
	changes := diff(r.installed, r.desiredRoutes(d))
	if r.dryRun {
		r.plan(changes, d)
		r.day2.decided(d, r.installed, r.now(), r.m)
		r.publish(d, changes, nil)
		return nil
	}
	if len(changes) > 0 {
		err = r.apply(ctx, changes, d)
	}
	r.day2.decided(d, r.installed, r.now(), r.m)
	r.day2.schedule(r.now(), r.Trigger)
	r.publish(d, nil, err)
	return err
}

// decide runs the policy once on the alert state, the cached device state
// and the gate's verdict.
func (r *Reconciler) decide() (policy.Decision, uint64) {
	state, version := r.store.Snapshot()
	now := r.now()
	gin := r.gate.input(now)
	r.day2.expire(now, r.logger)
	d := policy.Decide(policy.Input{
		Routes: r.cfg.Routes, Alerts: r.cfg.Alerts, State: state, Installed: r.installed, Now: now,
		APIStale: gin.stale, Restorable: gin.restorable,
		Drains: r.day2.st.Drains, Suppressed: r.day2.suppressed(now),
	})
	r.day2.damp(d, now, r.cfg.Routes, r.logger)
	r.gate.decided(d, gin, now)
	r.noteGuards(d.Routes)
	return d, version
}

// apply hands the backend every change of the pass in one Set, which reads
// the device once before and once after, and verifies each route: the route
// read back must be the one wanted. This comparison is the one read-back
// check. A route that differs counts as an error of the change; as a verify
// error only when the backend reported no error.
func (r *Reconciler) apply(ctx context.Context, changes []Change, d policy.Decision) error {
	want := make([]route.Route, len(changes))
	for i, c := range changes {
		want[i] = route.New(c.Prefix, c.To...)
	}
	start := time.Now()
	got, err := r.backend.Set(ctx, want...)
	r.m.applyDuration.Observe(time.Since(start).Seconds())
	var errs []error
	if err != nil {
		r.known = false // the device may be half changed: read it next pass
		r.logger.Error("Applying route changes failed", "routes", len(changes), "err", err)
		errs = append(errs, fmt.Errorf("apply: %w", err))
	}
	if len(got) != len(want) {
		if err == nil {
			r.known = false
			errs = append(errs, fmt.Errorf("apply: backend read back %d routes for %d", len(got), len(want)))
		}
		for _, c := range changes {
			r.m.changes.WithLabelValues(c.Action, "error").Inc()
			r.m.backendErrors.WithLabelValues("apply").Inc()
		}
		return errors.Join(errs...)
	}
	for i, c := range changes {
		g := route.New(c.Prefix, got[i].Nexthops...)
		if len(g.Nexthops) == 0 {
			delete(r.installed, c.Prefix)
		} else {
			r.installed[c.Prefix] = g.Nexthops
		}
		switch {
		case g.Equal(want[i]):
			r.m.changes.WithLabelValues(c.Action, "success").Inc()
			added, removed := delta(c.From, c.To)
			causes := r.day2.record(c, d, r.now(), false, r.m)
			r.logger.Info("Route changed", "action", c.Action, "route", c.Prefix, "from", c.From, "to", c.To,
				"added", added, "removed", removed, "causes", causes)
		case err != nil:
			r.m.changes.WithLabelValues(c.Action, "error").Inc()
			r.m.backendErrors.WithLabelValues("apply").Inc()
		default:
			r.m.changes.WithLabelValues(c.Action, "error").Inc()
			r.m.backendErrors.WithLabelValues("verify").Inc()
			r.logger.Error("Route read back differs from the change applied", "route", c.Prefix, "want", want[i].Nexthops, "have", g.Nexthops)
			errs = append(errs, fmt.Errorf("verify %s: installed %v, want %v", c.Prefix, g.Nexthops, want[i].Nexthops))
		}
	}
	return errors.Join(errs...)
}

// delta returns the nexthops of to not in from, and of from not in to: the
// "added" and "removed" fields of the Route changed log line (the failover
// bench reads them, deploy/lab/timeline.go).
func delta(from, to []netip.Addr) (added, removed []netip.Addr) {
	for _, a := range to {
		if !slices.Contains(from, a) {
			added = append(added, a)
		}
	}
	for _, a := range from {
		if !slices.Contains(to, a) {
			removed = append(removed, a)
		}
	}
	return added, removed
}

func (r *Reconciler) list(ctx context.Context) error {
	routes, err := r.backend.List(ctx)
	if err != nil {
		r.m.backendErrors.WithLabelValues("list").Inc()
		r.logger.Error("Listing routes failed", "err", err)
		return fmt.Errorf("list: %w", err)
	}
	r.installed = make(map[netip.Prefix][]netip.Addr, len(routes))
	for _, rt := range routes {
		rt = route.New(rt.Prefix, rt.Nexthops...)
		r.installed[rt.Prefix] = rt.Nexthops
	}
	r.known = true
	return nil
}

// diff returns the changes that turn installed into desired, ordered by
// prefix: routes that differ, owned routes not desired (delete).
func diff(installed map[netip.Prefix][]netip.Addr, desired []route.Route) []Change {
	var out []Change
	want := make(map[netip.Prefix]bool, len(desired))
	for _, w := range desired {
		want[w.Prefix] = true
		have, ok := installed[w.Prefix]
		switch {
		case !ok:
			out = append(out, Change{Action: Create, Prefix: w.Prefix, To: w.Nexthops})
		case !slices.Equal(have, w.Nexthops):
			out = append(out, Change{Action: Update, Prefix: w.Prefix, From: have, To: w.Nexthops})
		}
	}
	for p, have := range installed {
		if !want[p] {
			out = append(out, Change{Action: Delete, Prefix: p, From: have})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return route.ComparePrefix(a.Prefix, b.Prefix) })
	return out
}

func (r *Reconciler) noteGuards(routes []policy.Route) {
	for _, rd := range routes {
		prev := r.guards[rd.Prefix]
		if rd.Guard != "" && rd.Guard != prev {
			r.m.guardActivations.WithLabelValues(rd.Prefix.String(), rd.Guard).Inc()
			r.logger.Warn("Guard holds withdrawn nexthops", "route", rd.Prefix, "reason", rd.Guard, "kept", rd.Kept)
		}
		r.guards[rd.Prefix] = rd.Guard
	}
}

// desiredRoutes are the routes to hold (normalized, with nexthops). Owned
// routes that are no longer configured are deleted, unless every route is frozen.
func (r *Reconciler) desiredRoutes(d policy.Decision) []route.Route {
	var out []route.Route
	configured := map[netip.Prefix]bool{}
	for _, rd := range d.Routes {
		configured[rd.Prefix] = true
		if len(rd.Desired) > 0 {
			out = append(out, route.New(rd.Prefix, rd.Desired...))
		}
	}
	if len(d.FrozenAll) > 0 {
		for p, nhs := range r.installed {
			if !configured[p] {
				out = append(out, route.Route{Prefix: p, Nexthops: nhs})
			}
		}
	}
	return out
}

// plan logs and counts a dry-run plan once per distinct plan.
func (r *Reconciler) plan(changes []Change, d policy.Decision) {
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintf(&b, "%s %s %v -> %v; ", c.Action, c.Prefix, c.From, c.To)
	}
	if b.String() == r.lastPlan {
		return
	}
	r.lastPlan = b.String()
	for _, c := range changes {
		r.m.changes.WithLabelValues(c.Action, "dry_run").Inc()
		causes := r.day2.record(c, d, r.now(), true, r.m)
		r.logger.Info("Dry run: would change route", "action", c.Action, "route", c.Prefix, "from", c.From, "to", c.To, "causes", causes)
	}
}

func (r *Reconciler) publish(d policy.Decision, plan []Change, err error) {
	r.m.observe(d, r.installed)
	_, _, apiErr := r.gate.status()
	v := View{
		Decision:  d,
		Installed: maps.Clone(r.installed), // its nexthop slices are replaced, never changed in place
		Listed:    r.installed != nil,
		APIError:  apiErr,
		DryRun:    r.dryRun,
		Plan:      plan,
	}
	v.Drains, v.Dampening = r.day2.view(r.now())
	if err != nil {
		v.LastError = err.Error()
	}
	r.viewMu.Lock()
	v.LastResync = r.view.LastResync
	r.view = v
	r.viewMu.Unlock()
}

// Backend returns the backend in use.
func (r *Reconciler) Backend() route.Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backend
}
