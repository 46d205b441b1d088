// Package actuator glues route_actuator together: configuration, backend,
// alert store, reconciler, webhook and the state API. The binary's main only
// parses flags and serves what this package hands it.
package actuator

import (
	"context"

	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/ios"
	"github.com/slaroute/slaroute/actuator/netlink"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/reconcile"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/webhook"
)

// resolvedRetention keeps resolved alerts so that late stale firings for them
// are still recognised (HA peers were seen 12-15 s late).
const resolvedRetention = time.Hour

// Options configure an Actuator.
type Options struct {
	ConfigFile string
	DryRun     bool
	Registry   prometheus.Registerer
	Logger     *slog.Logger
	// NewBackend builds the backend of a configuration; nil builds the real
	// one (netlink or ios). Tests inject a fake.
	NewBackend func(config.Backend) (route.Backend, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// WebhookMaxBodyBytes bounds webhook bodies (413 above); 0 is webhook.DefaultMaxBodyBytes.
	WebhookMaxBodyBytes int64
}

// Actuator is one running route_actuator.
type Actuator struct {
	o       Options
	logger  *slog.Logger
	store   *alertstate.Store
	rec     *reconcile.Reconciler
	hook    *webhook.Handler
	ignored *prometheus.CounterVec

	mu  sync.RWMutex // guards cfg
	cfg *config.Config

	classes classifier
}

// CheckConfig validates a configuration file without side effects.
func CheckConfig(file string) error {
	_, err := config.Load(file)
	return err
}

// New loads the configuration and builds the backend; it does not touch the device yet.
func New(o Options) (*Actuator, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg, err := config.Load(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	if o.NewBackend == nil {
		iosMetrics := ios.NewMetrics(o.Registry)
		bgpMetrics := bgp.NewMetrics(o.Registry)
		o.NewBackend = func(b config.Backend) (route.Backend, error) { return realBackend(b, iosMetrics, bgpMetrics, o.Logger) }
	}
	backend, err := newBackend(o, cfg)
	if err != nil {
		return nil, err
	}
	api, err := apiClient(cfg)
	if err != nil {
		return nil, err
	}
	a := &Actuator{
		o:      o,
		logger: o.Logger,
		store:  alertstate.New(resolvedRetention),
		cfg:    cfg,
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_alerts_ignored_total", Help: "Alerts (webhook events) that change nothing, by reason.",
		}, []string{"reason"}),
	}
	o.Registry.MustRegister(a.ignored)
	for _, r := range []string{policy.IgnoreUnknownNexthop, policy.IgnoreUnknownRoute, policy.IgnoreStale, policy.IgnoreUnmanaged, policy.IgnoreInvalidLabel} {
		a.ignored.WithLabelValues(r)
	}
	a.rec = reconcile.New(reconcile.Options{
		Config: cfg, Backend: backend, Store: a.store, API: api, DryRun: o.DryRun,
		Metrics: reconcile.NewMetrics(o.Registry), Logger: o.Logger, Now: o.Now,
	})
	a.hook = &webhook.Handler{Ingester: a, Metrics: webhook.NewMetrics(o.Registry), Logger: o.Logger, MaxBodyBytes: o.WebhookMaxBodyBytes}
	return a, nil
}

func apiClient(cfg *config.Config) (reconcile.AlertSource, error) {
	if cfg.Alertmanager.URL == "" {
		return nil, nil
	}
	return alertstate.NewAPIClient(cfg.Alertmanager.URL, time.Duration(cfg.Alertmanager.Timeout))
}

// newBackend builds cfg's backend with o.NewBackend; with o.DryRun, one
// that cannot be built is reported and stood in for by unavailable.
func newBackend(o Options, cfg *config.Config) (route.Backend, error) {
	backend, err := o.NewBackend(cfg.Backend)
	if err != nil {
		if !o.DryRun {
			return nil, fmt.Errorf("starting %s backend: %w", cfg.Backend.Type, err)
		}
		o.Logger.Warn("Backend unavailable; dry run continues without reading the device", "backend", cfg.Backend.Type, "err", err)
		return unavailable{err}, nil
	}
	return backend, nil
}

func realBackend(b config.Backend, m *ios.Metrics, bm *bgp.Metrics, logger *slog.Logger) (route.Backend, error) {
	switch b.Type {
	case "netlink":
		return netlink.New(*b.Netlink, logger.With("backend", "netlink"))
	case "ios":
		return ios.New(*b.IOS, m, logger.With("backend", "ios"))
	case "bgp":
		be, err := bgp.New(*b.BGP, bm, logger.With("backend", "bgp"))
		if err != nil {
			return nil, err
		}
		return bgpChanges{be}, nil
	}
	return nil, fmt.Errorf("unknown backend type %q", b.Type)
}

// bgpChanges drives the BGP backend, which implements the declarative
// List/Set contract (CONTRACT.md), through today's List/Apply interface.
// TODO(hbgp): drop it when the reconciler moves to List/Set.
type bgpChanges struct{ *bgp.Backend }

func (b bgpChanges) List(ctx context.Context, _ []netip.Prefix) ([]route.Route, error) {
	return b.Backend.List(ctx)
}

func (b bgpChanges) Apply(ctx context.Context, c route.Change) error {
	_, err := b.Set(ctx, route.New(c.Prefix, c.To...))
	return err
}

// unavailable stands in for a backend that could not be built (dry run only).
type unavailable struct{ err error }

func (u unavailable) List(context.Context, []netip.Prefix) ([]route.Route, error) {
	return nil, fmt.Errorf("%w: %w", route.ErrUnavailable, u.err)
}
func (u unavailable) Apply(context.Context, route.Change) error {
	return fmt.Errorf("%w: %w", route.ErrUnavailable, u.err)
}
func (u unavailable) Close() error { return nil }

// Run reconciles until ctx is done, then closes the backend.
func (a *Actuator) Run(ctx context.Context) error {
	defer a.rec.Close()
	return a.rec.Run(ctx)
}

// Ready reports whether the device has been read.
func (a *Actuator) Ready() bool { return a.rec.Ready() }

// Reload re-reads the configuration file and builds a new backend from it,
// which re-reads the files it names (IOS secrets and known_hosts rotated
// under the same path); neither connects. On error the running configuration
// and backend stay. The reconciler closes the old backend after the swap,
// between two runs, so never under an apply in flight.
func (a *Actuator) Reload(ctx context.Context) error {
	cfg, err := config.Load(a.o.ConfigFile)
	if err != nil {
		return err
	}
	api, err := apiClient(cfg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	backend, err := newBackend(a.o, cfg)
	if err != nil {
		return err
	}
	a.rec.SetConfig(cfg, backend, api)
	a.cfg = cfg
	return nil
}

// Ingest records webhook alerts and waits for the reconcile they cause.
func (a *Actuator) Ingest(ctx context.Context, events []alertstate.Event) error {
	a.mu.RLock()
	cfg := a.cfg
	a.mu.RUnlock()
	now := a.o.Now()
	classes := a.classes.classify(cfg, events)
	for i, e := range events {
		kind, reason := classes[i].kind, classes[i].reason
		if kind == policy.Unmanaged {
			a.ignored.WithLabelValues(reason).Inc()
			continue
		}
		if a.store.Apply(e, now) == alertstate.Stale {
			a.ignored.WithLabelValues(policy.IgnoreStale).Inc()
			a.logger.Info("Dropped stale alert event", "alertname", e.Labels["alertname"], "fingerprint", e.Fingerprint, "status", e.Status, "at", e.Time())
			continue
		}
		if reason != "" {
			a.ignored.WithLabelValues(reason).Inc()
			a.logger.Warn("Alert changes nothing", "reason", reason, "labels", e.Labels)
		}
	}
	return a.rec.Sync(ctx, a.store.Version())
}

// Handlers are the actuator's endpoints for the daemon mux.
func (a *Actuator) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/webhook":           a.hook,
		"GET /api/v1/routes": http.HandlerFunc(a.serveRoutes),
	}
}

// Landing is the landing page showing the route state.
func (a *Actuator) Landing() http.Handler { return http.HandlerFunc(a.serveLanding) }
