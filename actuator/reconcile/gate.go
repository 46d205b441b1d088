package reconcile

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/dampening"
	"github.com/slaroute/slaroute/actuator/policy"
)

// AlertSource reads the active alerts (the Alertmanager API).
type AlertSource interface {
	Alerts(ctx context.Context) ([]alertstate.Event, error)
}

// Gate owns what a pass learns beyond the webhook's alert state: reads of
// the Alertmanager API, the heartbeat's freshness there, and the restore
// gate with its timers. Its lock is never held across I/O, and the
// reconciler never calls the API under its own lock.
//
// The heartbeat rules (this is the one place; policy and the docs point here):
//   - Webhooks alone: the pipeline is healthy while the heartbeat alert fires
//     and was notified within heartbeat_timeout (policy.PipelineHealth).
//     Restores wait restore_delay, timed here.
//   - With alertmanager.url, the API is the truth: until it was read once,
//     and whenever its last read did not show the heartbeat updated within
//     heartbeat_max_age (policy.APIConfirms says why updatedAt, not the
//     webhook, tells a dead Prometheus), every route is frozen. A restore
//     needs an API read taken after the state that allows it: a pass that
//     holds one asks for a read (confirm), which the loop makes outside the
//     reconciler's lock before deciding again.
//   - While the API shows the heartbeat stale or a pass found the pipeline
//     unhealthy, the API is re-read every staleRecheck: a heartbeat that
//     Alertmanager resolved (Prometheus silent over 4 x resend-delay) comes
//     back with its old startsAt, its notification is dropped as stale, and
//     only the API shows it back.
type Gate struct {
	store  *alertstate.Store
	m      *Metrics
	logger *slog.Logger
	now    func() time.Time
	wake   func() // asks for a pass: a restore_delay ran out (harmless after Close)

	mu        sync.Mutex
	api       AlertSource
	alerts    config.Alerts
	timeout   time.Duration
	stale     string // why the last API read did not confirm the heartbeat
	apiErr    string
	fresh     bool // the API was read since the last pass
	unhealthy bool // the last pass found the pipeline unhealthy
	confirm   bool // the last pass held restores for an API read
	pending   map[dampening.Key]time.Time
	timer     *time.Timer
}

func (g *Gate) setConfig(cfg *config.Config, api AlertSource, first bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.api, g.alerts, g.timeout = api, cfg.Alerts, time.Duration(cfg.Alertmanager.Timeout)
	switch {
	case api == nil || cfg.Alerts.Heartbeat == "":
		g.stale = ""
	case first:
		// A heartbeat webhook arriving before the first read must not
		// create routes from a state that lacks the active withdraw alerts.
		g.stale = "Alertmanager API not read yet"
	}
	g.confirm = false
	clear(g.pending)
}

// Read reads the Alertmanager API, when configured, into the store and
// judges the heartbeat's freshness.
func (g *Gate) Read(ctx context.Context) {
	g.mu.Lock()
	api, timeout := g.api, g.timeout
	g.mu.Unlock()
	if api == nil {
		return
	}
	fetched := g.now()
	actx, cancel := context.WithTimeout(ctx, timeout)
	events, err := api.Alerts(actx)
	cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	if api != g.api {
		return // reloaded meanwhile
	}
	if err != nil {
		g.m.amRequests.WithLabelValues("error").Inc()
		// Re-checks run every second while the API is stale: log a repeated error once.
		level := slog.LevelWarn
		if err.Error() == g.apiErr {
			level = slog.LevelDebug
		}
		g.apiErr = err.Error()
		g.logger.Log(ctx, level, "Reading alerts from Alertmanager failed; keeping the webhook state", "err", err)
		return
	}
	g.m.amRequests.WithLabelValues("success").Inc()
	g.apiErr, g.fresh, g.confirm = "", true, false
	now := g.now()
	g.store.Sync(events, fetched, now)
	ok, why := policy.APIConfirms(g.alerts, events, now)
	switch {
	case !ok && g.stale == "":
		g.logger.Warn("Alertmanager does not show the heartbeat fresh; every route frozen", "reason", why)
	case ok && g.stale != "":
		g.logger.Info("Alertmanager shows the heartbeat fresh again")
	}
	g.stale = why
}

// passInput is the gate's part of one decision.
type passInput struct {
	stale      string
	restorable func(netip.Prefix, netip.Addr) bool
	fresh      bool
}

// input hands a pass the API verdict and the restore gate; a fresh API read
// is used up by the pass that sees it.
func (g *Gate) input(now time.Time) passInput {
	g.mu.Lock()
	defer g.mu.Unlock()
	in := passInput{stale: g.stale, fresh: g.fresh}
	g.fresh = false
	if g.api != nil {
		ok := in.fresh && in.stale == ""
		in.restorable = func(netip.Prefix, netip.Addr) bool { return ok }
		return in
	}
	delay := time.Duration(g.alerts.RestoreDelay)
	in.restorable = func(p netip.Prefix, a netip.Addr) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		k := dampening.Key{Prefix: p, Nexthop: a}
		since, ok := g.pending[k]
		if !ok {
			since = now
			g.pending[k] = now
		}
		return now.Sub(since) >= delay
	}
	return in
}

// decided notes a pass's decision: with the API, held restores ask for a
// read; without, the restore_delay timer wakes the loop when the next runs out.
func (g *Gate) decided(d policy.Decision, in passInput, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unhealthy = !d.Pipeline.Healthy
	delay := time.Duration(g.alerts.RestoreDelay)
	still, next := map[dampening.Key]time.Time{}, time.Duration(-1)
	for _, rd := range d.Routes {
		for _, nh := range rd.PendingRestore {
			k := dampening.Key{Prefix: rd.Prefix, Nexthop: nh}
			still[k] = g.pending[k]
			if left := delay - now.Sub(still[k]); next < 0 || left < next {
				next = left
			}
		}
	}
	if g.api != nil {
		g.confirm = len(still) > 0 && !in.fresh
		return
	}
	g.pending = still
	if next >= 0 {
		if g.timer != nil {
			g.timer.Stop()
		}
		g.timer = time.AfterFunc(max(next, time.Millisecond), g.wake)
	}
}

// status reports what the loop must do: read the API for held restores
// (confirm) or re-check it (see Gate), and the last read's error.
func (g *Gate) status() (confirm, recheck bool, apiErr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	on := g.api != nil
	return on && g.confirm, on && (g.stale != "" || g.unhealthy), g.apiErr
}
