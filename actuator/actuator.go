// Package actuator glues route_actuator together: configuration, backend,
// alert store, reconciler, webhook and the state API. The binary's main only
// parses flags and serves what this package hands it.
package actuator

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/ios"
	"github.com/slaroute/slaroute/actuator/netlink"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/reconcile"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/state"
	"github.com/slaroute/slaroute/actuator/webhook"
	"github.com/slaroute/slaroute/exporter/configkit"
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
	NewBackend func(*config.Config) (route.Backend, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// WebhookMaxBodyBytes bounds webhook bodies (413 above); 0 is webhook.DefaultMaxBodyBytes.
	WebhookMaxBodyBytes int64
	// WebhookMaxRequests bounds webhooks in flight (503 above); 0 is webhook.DefaultMaxRequests.
	WebhookMaxRequests int
	// StoragePath is the directory of the state file (drains, dampening
	// penalties); "" keeps the state in memory only (tests).
	StoragePath string
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
}

// ignoreTooMany counts alerts dropped because their target already holds
// alertstate.MaxPerKey firing alerts.
const ignoreTooMany = "too_many_alerts"

// CheckConfig validates a configuration file without side effects; it
// prints the configuration's warnings to stderr.
func CheckConfig(file string) error {
	_, err := loadConfig(file, func(w string) { fmt.Fprintln(os.Stderr, "warning:", w) })
	return err
}

// loadConfig loads the configuration file and hands on its warnings.
func loadConfig(file string, warn func(string)) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err == nil {
		for _, w := range cfg.Warnings {
			warn(w)
		}
	}
	return cfg, err
}

// New loads the configuration and builds the backend; it does not touch the device yet.
func New(o Options) (*Actuator, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg, api, err := o.load()
	if err != nil {
		return nil, err
	}
	if o.NewBackend == nil {
		iosMetrics := ios.NewMetrics(o.Registry)
		bgpMetrics := bgp.NewMetrics(o.Registry)
		o.NewBackend = func(c *config.Config) (route.Backend, error) { return realBackend(c, iosMetrics, bgpMetrics, o.Logger) }
	}
	backend, err := newBackend(o, cfg)
	if err != nil {
		return nil, err
	}
	a := &Actuator{
		o:      o,
		logger: o.Logger,
		store:  alertstate.New(resolvedRetention),
		cfg:    cfg,
		ignored: promauto.With(o.Registry).NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_alerts_ignored_total", Help: "Alerts (webhook events) that change nothing, by reason.",
		}, []string{"reason"}),
	}
	a.store.SetAdmit(admit(cfg))
	for _, r := range []string{policy.IgnoreUnknownNexthop, policy.IgnoreUnknownRoute, policy.IgnoreStale, policy.IgnoreUnmanaged, policy.IgnoreInvalidLabel, ignoreTooMany} {
		a.ignored.WithLabelValues(r)
	}
	ro := reconcile.Options{
		Config: cfg, Backend: backend, Store: a.store, API: api, DryRun: o.DryRun,
		Metrics: reconcile.NewMetrics(o.Registry), Logger: o.Logger, Now: o.Now,
		Events: events.NewRing(maxEvents),
	}
	if o.StoragePath != "" {
		st, err := state.Load(o.StoragePath)
		if err != nil {
			return nil, err
		}
		if len(st.Drains) > 0 || len(st.Dampening) > 0 {
			o.Logger.Info("State loaded", "file", filepath.Join(o.StoragePath, state.FileName), "drains", len(st.Drains), "dampening_records", len(st.Dampening))
		}
		ro.State, ro.Save = st, func(s state.State) error { return state.Save(o.StoragePath, s) }
	}
	a.rec = reconcile.New(ro)
	a.hook = &webhook.Handler{Ingester: a, Metrics: webhook.NewMetrics(o.Registry), Logger: o.Logger,
		MaxBodyBytes: o.WebhookMaxBodyBytes, MaxRequests: o.WebhookMaxRequests}
	return a, nil
}

// load loads the configuration file, logging its warnings, and makes its
// Alertmanager API client (nil without alertmanager.url).
func (o Options) load() (*config.Config, reconcile.AlertSource, error) {
	cfg, err := loadConfig(o.ConfigFile, func(w string) { o.Logger.Warn("Configuration", "warning", w) })
	if err != nil || cfg.Alertmanager.URL == "" {
		return cfg, nil, err
	}
	c, err := alertstate.NewAPIClient(cfg.Alertmanager.URL, time.Duration(cfg.Alertmanager.Timeout))
	if err != nil {
		return nil, nil, err
	}
	c.Now = o.Now
	return cfg, c, nil
}

// newBackend builds cfg's backend with o.NewBackend; with o.DryRun, one
// that cannot be built is reported and stood in for by unavailable.
func newBackend(o Options, cfg *config.Config) (route.Backend, error) {
	backend, err := o.NewBackend(cfg)
	if err != nil {
		if !o.DryRun {
			return nil, fmt.Errorf("starting %s backend: %w", cfg.Backend.Type, err)
		}
		o.Logger.Warn("Backend unavailable; dry run continues without reading the device", "backend", cfg.Backend.Type, "err", err)
		return unavailable{fmt.Errorf("%w: %w", route.ErrUnavailable, err)}, nil
	}
	return backend, nil
}

func realBackend(c *config.Config, m *ios.Metrics, bm *bgp.Metrics, logger *slog.Logger) (route.Backend, error) {
	b := c.Backend
	switch b.Type {
	case "netlink":
		return netlink.New(*b.Netlink, c.Placements(), logger.With("backend", "netlink"))
	case "ios":
		vrfs := map[netip.Prefix]string{}
		for p, at := range c.Placements() {
			vrfs[p] = at.VRF
		}
		return ios.New(*b.IOS, vrfs, m, logger.With("backend", "ios"))
	case "bgp":
		return bgp.New(*b.BGP, bm, logger.With("backend", "bgp"))
	}
	return nil, fmt.Errorf("unknown backend type %q", b.Type)
}

// unavailable stands in for a backend that could not be built (dry run
// only); err is route.ErrUnavailable with why.
type unavailable struct{ err error }

func (u unavailable) List(context.Context) ([]route.Route, error)                { return nil, u.err }
func (u unavailable) Set(context.Context, ...route.Route) ([]route.Route, error) { return nil, u.err }
func (u unavailable) Close() error                                               { return nil }

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
	cfg, api, err := a.o.load()
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
	a.store.SetAdmit(admit(cfg))
	a.cfg = cfg
	return nil
}

// target says which configured target an alert acts on (its store key) or
// why it can change nothing. Keys are built from parsed, configured values,
// so there are only as many as the configuration names.
func target(cfg *config.Config, labels map[string]string) (key, reason string) {
	kind, reason := policy.Classify(cfg.Routes, cfg.Alerts, labels)
	if reason != "" {
		return "", reason
	}
	if kind == policy.Heartbeat {
		return labels["alertname"], ""
	}
	// One allocation per alert (the string): this runs for every alert of
	// every webhook.
	var buf [96]byte
	k := append(buf[:0], labels["alertname"]...)
	if s := labels[cfg.Alerts.ServiceLabel]; s != "" {
		p, _ := configkit.ParseService(s) // Classify parsed it
		k = p.AppendTo(append(k, 0))
	}
	if kind == policy.Withdraw {
		nh, _ := configkit.ParseNexthop(labels[cfg.Alerts.NexthopLabel]) // Classify parsed it
		k = nh.AppendTo(append(k, 0))
	}
	return string(k), ""
}

// admit keeps in the alert store only alerts that can affect a route of cfg.
func admit(cfg *config.Config) alertstate.Admit {
	return func(labels map[string]string) (string, bool) {
		key, reason := target(cfg, labels)
		return key, reason == ""
	}
}

// Ingest records webhook alerts and waits for the reconcile they cause.
// Alerts that cannot change a route are counted by reason, not stored, and
// summed up in one log line per webhook: a flood of them costs neither
// memory nor a log line each.
func (a *Actuator) Ingest(ctx context.Context, events []alertstate.Event) error {
	a.mu.RLock()
	cfg := a.cfg
	a.mu.RUnlock()
	now := a.o.Now()
	ignored := map[string]int{}
	var example map[string]string // labels of one alert that hints at a misconfiguration
	for _, e := range events {
		key, reason := target(cfg, e.Labels)
		if reason == "" {
			e.Key = key
			switch a.store.Apply(e, now) {
			case alertstate.Stale:
				reason = policy.IgnoreStale
			case alertstate.Full:
				reason = ignoreTooMany
			}
		}
		if reason == "" {
			continue
		}
		ignored[reason]++
		if example == nil && reason != policy.IgnoreStale && reason != policy.IgnoreUnmanaged {
			example = e.Labels
		}
	}
	if len(ignored) > 0 {
		attrs := []any{"alerts", len(events)}
		for _, r := range slices.Sorted(maps.Keys(ignored)) {
			a.ignored.WithLabelValues(r).Add(float64(ignored[r]))
			attrs = append(attrs, r, ignored[r])
		}
		switch {
		case example != nil:
			a.logger.Warn("Webhook alerts that change nothing", append(attrs, "example_labels", example)...)
		case ignored[policy.IgnoreStale] > 0:
			a.logger.Info("Webhook alerts dropped as stale", attrs...)
		}
	}
	return a.rec.Sync(ctx, a.store.Version())
}

// Handlers are the actuator's endpoints for the daemon mux.
func (a *Actuator) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/webhook":                                  a.hook,
		"GET " + apiv1.PathRoutes:                   http.HandlerFunc(a.serveRoutes),
		"GET " + apiv1.PathDrains:                   http.HandlerFunc(a.serveDrains),
		"POST " + apiv1.PathDrains:                  http.HandlerFunc(a.serveAddDrain),
		"DELETE " + apiv1.PathDrains + "/{nexthop}": http.HandlerFunc(a.serveRemoveDrain),
		"GET " + apiv1.PathEvents:                   http.HandlerFunc(a.serveEvents),
	}
}

// Landing is the landing page showing the route state.
func (a *Actuator) Landing() http.Handler { return http.HandlerFunc(a.serveLanding) }
