// Package reconcile drives a route.Backend towards the policy's decision:
// list the device, decide, diff, apply, read back to verify. It is level
// triggered (every run starts from the full alert state and the device) and
// serialises every device access. A periodic resync re-reads the Alertmanager
// API and the device, which repairs drift.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/route"
)

// AlertSource reads the active alerts (the Alertmanager API).
type AlertSource interface {
	Alerts(ctx context.Context) ([]alertstate.Event, error)
}

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
	Plan       []route.Change // dry-run: the changes that would be applied
}

type pendingKey struct {
	prefix  netip.Prefix
	nexthop netip.Addr
}

// Reconciler owns the device.
type Reconciler struct {
	mu        sync.Mutex // serialises decisions and every backend call
	cfg       *config.Config
	backend   route.Backend
	api       AlertSource
	store     *alertstate.Store
	dryRun    bool
	m         *Metrics
	logger    *slog.Logger
	now       func() time.Time
	installed map[netip.Prefix][]netip.Addr // nil until the device was first read
	known     bool                          // installed was read from the current backend
	evaluated uint64                        // store version the last run decided on
	lastErr   error
	// done is evaluated+1 after a successful run, else 0: Sync reads it
	// without r.mu, so webhooks that change nothing never wait for a run.
	done     atomic.Uint64
	pending  map[pendingKey]time.Time // restore wanted since (restore_delay mode)
	timer    *time.Timer
	guards   map[netip.Prefix]string
	lastPlan string
	apiErr   string
	// apiStale is why the last Alertmanager API read did not show the
	// heartbeat fresh (policy.APIConfirms); every route is frozen meanwhile.
	apiStale string
	// unhealthy: the last decision found the pipeline unhealthy. With an
	// API, it is re-read every second meanwhile: a heartbeat resolved by
	// Alertmanager (Prometheus silent for over 4 x resend-delay, e.g. while it
	// rediscovers Alertmanagers after a reload) comes back with its old
	// startsAt, and its notification is dropped as stale; only the API tells.
	unhealthy bool
	// apiFresh: the API was read for this run (Resync, Recheck); a restore
	// needs no second read.
	apiFresh bool
	// snap is the alert state snapshot of the run in progress, reused by its
	// second decision while the store version is unchanged.
	snap        []alertstate.Alert
	snapVersion uint64

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
	r.m.dryRun.Set(b2f(o.DryRun))
	r.setConfig(o.Config, o.Backend, o.API)
	if o.API != nil {
		// Until the API was read, a heartbeat webhook arriving first must not
		// create routes from a state that lacks the active withdraw alerts.
		r.apiStale = "Alertmanager API not read yet"
	}
	return r
}

// SetConfig swaps in a reloaded configuration. A different backend replaces
// the old one, which is closed here under r.mu, so never during an apply;
// the device is then re-read before any change.
func (r *Reconciler) SetConfig(cfg *config.Config, b route.Backend, api AlertSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.backend != nil && b != r.backend {
		if err := r.backend.Close(); err != nil {
			r.logger.Warn("Closing the previous backend failed", "err", err)
		}
	}
	r.setConfig(cfg, b, api)
	r.Trigger()
}

func (r *Reconciler) setConfig(cfg *config.Config, b route.Backend, api AlertSource) {
	if b != r.backend {
		r.known = false
	}
	r.cfg, r.backend, r.api = cfg, b, api
	if api == nil || cfg.Alerts.Heartbeat == "" {
		r.apiStale = ""
	}
	r.evaluated = 0
	r.done.Store(0)
	r.pending = map[pendingKey]time.Time{}
	r.guards = map[netip.Prefix]string{}
	r.m.initRoutes(cfg.Routes)
}

// Trigger asks Run for a reconcile soon.
func (r *Reconciler) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Ready reports whether the device has been read at least once.
func (r *Reconciler) Ready() bool {
	r.viewMu.RLock()
	defer r.viewMu.RUnlock()
	return r.view.Listed
}

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
	if r.timer != nil {
		r.timer.Stop()
	}
	return r.backend.Close()
}

// staleRecheck is how often the Alertmanager API is re-read while it shows
// the heartbeat stale or the pipeline is unhealthy, so that routes unfreeze
// soon after Prometheus is back.
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
				r.mu.Lock()
				stale := r.api != nil && (r.apiStale != "" || r.unhealthy)
				r.mu.Unlock()
				if stale {
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
	r.readAPI(ctx)
	r.store.GC(r.now())
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.run(ctx, true)
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
	r.readAPI(ctx)
	return r.Reconcile(ctx)
}

// readAPI reads the Alertmanager API, when configured, into the store and
// judges the heartbeat's freshness there. The request runs without r.mu.
func (r *Reconciler) readAPI(ctx context.Context) {
	r.mu.Lock()
	api, timeout := r.api, time.Duration(r.cfg.Alertmanager.Timeout)
	r.mu.Unlock()
	if api == nil {
		return
	}
	fetched := r.now()
	actx, cancel := context.WithTimeout(ctx, timeout)
	events, err := api.Alerts(actx)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if api != r.api {
		return // reloaded meanwhile
	}
	if err != nil {
		// Re-checks run every second while the API is stale: log a repeated error once.
		level := slog.LevelWarn
		if err.Error() == r.apiErr {
			level = slog.LevelDebug
		}
		r.noteAPI(err)
		r.logger.Log(ctx, level, "Reading alerts from Alertmanager failed; keeping the webhook state", "err", err)
		return
	}
	r.noteAPIAlerts(events, fetched)
}

// noteAPIAlerts records a successful API read (r.mu held): the store follows
// it and the heartbeat's updatedAt decides whether the pipeline is alive.
func (r *Reconciler) noteAPIAlerts(events []alertstate.Event, fetched time.Time) {
	r.noteAPI(nil)
	r.apiFresh = true
	r.store.Sync(events, fetched, r.now())
	ok, why := policy.APIConfirms(r.cfg.Alerts, events, r.now())
	switch {
	case !ok && r.apiStale == "":
		r.logger.Warn("Alertmanager does not show the heartbeat fresh; every route frozen", "reason", why)
	case ok && r.apiStale != "":
		r.logger.Info("Alertmanager shows the heartbeat fresh again")
	}
	r.apiStale = why
}

// Reconcile runs once from the cached device state.
func (r *Reconciler) Reconcile(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run(ctx, false)
}

// Sync makes sure a successful decision at least as new as store version
// has run: concurrent webhooks share one run. After a failed run it runs
// again, so that a retried notification retries the device.
func (r *Reconciler) Sync(ctx context.Context, version uint64) error {
	if r.done.Load() > version {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evaluated >= version && r.lastErr == nil {
		return nil
	}
	return r.run(ctx, false)
}

func (r *Reconciler) noteAPI(err error) {
	if err != nil {
		r.m.amRequests.WithLabelValues("error").Inc()
		r.apiErr = err.Error()
		return
	}
	r.m.amRequests.WithLabelValues("success").Inc()
	r.apiErr = ""
}

// run is one reconcile; r.mu is held. With full, the device is read first;
// otherwise the cached state is used and the device is only read (and then
// changed) when the decision differs from it.
func (r *Reconciler) run(ctx context.Context, full bool) (err error) {
	// A client hanging up must not leave a change half done.
	ctx = context.WithoutCancel(ctx)
	defer func() {
		r.lastErr, r.apiFresh, r.snap = err, false, nil
		if err == nil {
			r.done.Store(r.evaluated + 1)
		} else {
			r.done.Store(0)
		}
	}()
	if full || !r.known {
		if err := r.list(ctx); err != nil {
			d, _ := r.decide(ctx, false)
			r.publish(d, nil, err)
			return err
		}
	} else {
		d, version := r.decide(ctx, false)
		if len(route.Diff(r.installedRoutes(), r.desiredRoutes(d))) == 0 && !hasPending(d) {
			r.evaluated = version
			r.publish(d, nil, nil)
			return nil
		}
		if err := r.list(ctx); err != nil {
			r.publish(d, nil, err)
			return err
		}
	}
	d, version := r.decide(ctx, true)
	r.evaluated = version
	changes := route.Diff(r.installedRoutes(), r.desiredRoutes(d))
	if r.dryRun {
		r.plan(changes)
		r.publish(d, changes, nil)
		return nil
	}
	var errs []error
	var done []route.Change
	for _, c := range changes {
		start := time.Now()
		aerr := r.backend.Apply(ctx, c)
		r.m.applyDuration.Observe(time.Since(start).Seconds())
		if aerr != nil {
			r.m.changes.WithLabelValues(string(c.Action), "error").Inc()
			r.m.backendErrors.WithLabelValues("apply").Inc()
			r.logger.Error("Applying route change failed", "action", c.Action, "route", c.Prefix, "to", c.To, "err", aerr)
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Action, c.Prefix, aerr))
			continue
		}
		done = append(done, c)
		r.m.changes.WithLabelValues(string(c.Action), "success").Inc()
		r.logger.Info("Route changed", "action", c.Action, "route", c.Prefix, "from", c.From, "to", c.To, "added", c.Add, "removed", c.Remove)
	}
	if len(changes) > 0 {
		// Read back even after failures: the cache must show the device.
		if verr := r.verify(ctx, done); verr != nil {
			errs = append(errs, verr)
		}
	}
	err = errors.Join(errs...)
	r.publish(d, nil, err)
	return err
}

func (r *Reconciler) list(ctx context.Context) error {
	routes, err := r.backend.List(ctx, r.cfg.Prefixes())
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

// verify reads the device back and checks every change that was applied.
func (r *Reconciler) verify(ctx context.Context, changes []route.Change) error {
	if err := r.list(ctx); err != nil {
		r.m.backendErrors.WithLabelValues("verify").Inc()
		return fmt.Errorf("verify: %w", err)
	}
	var errs []error
	for _, c := range changes {
		have, ok := r.installed[c.Prefix]
		want := route.Normalize(c.To)
		if (c.Action == route.Delete && ok) || (c.Action != route.Delete && !slices.Equal(have, want)) {
			r.m.backendErrors.WithLabelValues("verify").Inc()
			r.logger.Error("Route read back differs from the change applied", "route", c.Prefix, "want", want, "have", have, "present", ok)
			errs = append(errs, fmt.Errorf("verify %s: installed %v, want %v", c.Prefix, have, want))
		}
	}
	return errors.Join(errs...)
}

// decide runs the policy; with confirm, restores are confirmed (API re-read
// or restore_delay) and may be released.
func (r *Reconciler) decide(ctx context.Context, confirm bool) (d policy.Decision, version uint64) {
	now := r.now()
	if r.snap == nil || r.store.Version() != r.snapVersion {
		r.snap, r.snapVersion = r.store.Snapshot()
	}
	state, version := r.snap, r.snapVersion
	in := policy.Input{Routes: r.cfg.Routes, Alerts: r.cfg.Alerts, State: state, Installed: r.installed, Now: now, APIStale: r.apiStale}
	d = policy.Decide(in)
	if !confirm {
		return d, version
	}
	defer func() { r.noteGuards(d.Routes) }()
	if !hasPending(d) {
		clear(r.pending)
		return d, version
	}
	if r.api != nil {
		if !r.apiFresh {
			fetched := now
			actx, cancel := context.WithTimeout(ctx, time.Duration(r.cfg.Alertmanager.Timeout))
			events, err := r.api.Alerts(actx)
			cancel()
			if err != nil {
				r.noteAPI(err)
				r.logger.Warn("Restore held: cannot confirm with Alertmanager", "err", err)
				return d, version
			}
			r.noteAPIAlerts(events, fetched)
			in.State, version = r.store.Snapshot()
		}
		if in.APIStale = r.apiStale; in.APIStale != "" {
			r.logger.Warn("Restore held: pipeline not confirmed by Alertmanager", "reason", in.APIStale)
			d = policy.Decide(in)
			return d, version
		}
		in.Restorable = func(netip.Prefix, netip.Addr) bool { return true }
		d = policy.Decide(in)
		return d, version
	}
	delay := time.Duration(r.cfg.Alerts.RestoreDelay)
	for _, rd := range d.Routes {
		for _, nh := range rd.PendingRestore {
			if _, ok := r.pending[pendingKey{rd.Prefix, nh}]; !ok {
				r.pending[pendingKey{rd.Prefix, nh}] = now
			}
		}
	}
	in.Restorable = func(p netip.Prefix, a netip.Addr) bool {
		since, ok := r.pending[pendingKey{p, a}]
		return ok && now.Sub(since) >= delay
	}
	d = policy.Decide(in)
	still := map[pendingKey]time.Time{}
	var next time.Duration = -1
	for _, rd := range d.Routes {
		for _, nh := range rd.PendingRestore {
			k := pendingKey{rd.Prefix, nh}
			still[k] = r.pending[k]
			if left := delay - now.Sub(r.pending[k]); next < 0 || left < next {
				next = left
			}
		}
	}
	r.pending = still
	if next >= 0 {
		if r.timer != nil {
			r.timer.Stop()
		}
		r.timer = time.AfterFunc(max(next, time.Millisecond), r.Trigger)
	}
	return d, version
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

func hasPending(d policy.Decision) bool {
	return slices.ContainsFunc(d.Routes, func(r policy.Route) bool { return len(r.PendingRestore) > 0 })
}

func (r *Reconciler) installedRoutes() []route.Route {
	out := make([]route.Route, 0, len(r.installed))
	for p, nhs := range r.installed {
		out = append(out, route.Route{Prefix: p, Nexthops: nhs})
	}
	return out
}

// desiredRoutes are the routes to hold. Owned routes that are no longer
// configured are deleted, unless every route is frozen.
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
func (r *Reconciler) plan(changes []route.Change) {
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintf(&b, "%s %s %v -> %v; ", c.Action, c.Prefix, c.From, c.To)
	}
	if b.String() == r.lastPlan {
		return
	}
	r.lastPlan = b.String()
	for _, c := range changes {
		r.m.changes.WithLabelValues(string(c.Action), "dry_run").Inc()
		r.logger.Info("Dry run: would change route", "action", c.Action, "route", c.Prefix, "from", c.From, "to", c.To)
	}
}

func (r *Reconciler) publish(d policy.Decision, plan []route.Change, err error) {
	r.unhealthy = !d.Pipeline.Healthy
	r.m.observe(d, r.installed)
	v := View{
		Decision:  d,
		Installed: make(map[netip.Prefix][]netip.Addr, len(r.installed)),
		Listed:    r.installed != nil,
		APIError:  r.apiErr,
		DryRun:    r.dryRun,
		Plan:      plan,
	}
	for p, nhs := range r.installed {
		v.Installed[p] = slices.Clone(nhs)
	}
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
