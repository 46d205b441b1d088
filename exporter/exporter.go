// Package exporter glues the dns_sla_exporter together: configuration,
// metrics, the probe scheduler and the subsets of /metrics Prometheus
// scrapes at different intervals. The web server lives in the main.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/metrics"
	"github.com/slaroute/slaroute/exporter/scheduler"
)

// Options configure an Exporter.
type Options struct {
	ConfigFile string
	Registry   prometheus.Registerer
	Logger     *slog.Logger
	// Clock and NewProber are for tests; nil means the real ones.
	Clock     scheduler.Clock
	NewProber scheduler.NewProber
}

// Exporter probes the configured targets continuously.
type Exporter struct {
	opts  Options
	sched *scheduler.Scheduler
	mu    sync.Mutex // serializes Apply
	cfg   atomic.Pointer[config.Config]
	// verdict gathers metrics.VerdictFamilies alone: the fast scrape
	// never computes the histograms and counters it does not serve.
	verdict *prometheus.Registry
	metrics *metrics.Metrics
	scrapes scrapeClock
	aligned prometheus.Gauge
}

// New registers the metrics; probing starts with the first successful Reload.
func New(o Options) (*Exporter, error) {
	if o.Registry == nil {
		return nil, errors.New("exporter: nil registry")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := metrics.New(o.Registry)
	verdict := prometheus.NewRegistry()
	verdict.MustRegister(m.Verdict())
	if o.Clock == nil {
		o.Clock = scheduler.RealClock{}
	}
	aligned := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dns_sla_probe_alignment_interval_seconds",
		Help: "Interval of the fast scrape job (changed_within) the probes are aligned to, 0 when not aligned.",
	})
	o.Registry.MustRegister(aligned)
	return &Exporter{opts: o, sched: scheduler.New(m, o.Clock, o.NewProber, o.Logger), verdict: verdict, metrics: m, aligned: aligned}, nil
}

// Reload reads the configuration file and applies it; on any error the
// running configuration is left untouched.
func (e *Exporter) Reload(_ context.Context) error {
	cfg, err := config.Load(e.opts.ConfigFile)
	if err != nil {
		return err
	}
	return e.Apply(cfg)
}

// Apply switches to cfg.
func (e *Exporter) Apply(cfg *config.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.sched.Apply(cfg.Targets); err != nil {
		return err
	}
	e.cfg.Store(cfg)
	e.opts.Logger.Info("Configuration applied", "file", e.opts.ConfigFile, "targets", len(cfg.Targets))
	return nil
}

// Config returns the running configuration (nil before the first load).
func (e *Exporter) Config() *config.Config { return e.cfg.Load() }

// Ready reports whether a configuration is loaded and probing.
func (e *Exporter) Ready() bool { return e.cfg.Load() != nil }

// Run probes until ctx is done, then stops every probe loop.
func (e *Exporter) Run(ctx context.Context) error {
	<-ctx.Done()
	e.sched.Stop()
	return nil
}

// Subsets of the exposition, named in collect[] or exclude[] URL parameters
// (node_exporter's convention) so that Prometheus scrapes what drives routes
// often and the rest at the usual pace, in two jobs:
//
//	verdict   dns_sla_verdict (one gauge per target: what the route-driving rules read)
//	probes    dns_sla_up, dns_sla_consecutive_failures, dns_sla_consecutive_successes,
//	          dns_sla_state_changes_total, dns_sla_probes_total, dns_sla_probe_duration_seconds,
//	          dns_sla_last_success_timestamp_seconds
//	exporter  everything else: dns_sla_targets, scheduling lag, reload, build, Go and process metrics
const (
	SubsetVerdict  = "verdict"
	SubsetProbes   = "probes"
	SubsetExporter = "exporter"
)

// Subsets are the names collect[] and exclude[] accept.
var Subsets = []string{SubsetVerdict, SubsetProbes, SubsetExporter}

func subsetOf(family string) string {
	switch {
	case slices.Contains(metrics.VerdictFamilies, family):
		return SubsetVerdict
	case slices.Contains(metrics.ProbeFamilies, family):
		return SubsetProbes
	}
	return SubsetExporter
}

// MetricsHandler serves full (the whole registry) on a request without
// parameters and a subset with collect[] or exclude[]. collect[]=verdict
// with changed_within=<duration> serves the verdicts that can move a route
// (metrics.Changed: failing, or recovered within the duration), what the
// shipped fast job scrapes. An unknown name, both parameters, a selection
// of nothing or a changed_within that is not a positive duration or comes
// with another selection is a 400, never a silent full scrape. opts are the
// daemon's handler options, so every variant has the same error handling
// and limits.
func (e *Exporter) MetricsHandler(full prometheus.Gatherer, opts promhttp.HandlerOpts) http.Handler {
	whole, verdict := promhttp.HandlerFor(full, opts), promhttp.HandlerFor(e.verdict, opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sel, err := selection(q["collect[]"], q["exclude[]"])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		verdictOnly := slices.Equal(sel, []string{SubsetVerdict})
		within, windowed := q["changed_within"]
		switch {
		case windowed:
			d, err := changedWithin(verdictOnly, within)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			now := e.opts.Clock.Now()
			e.alignTo(now)
			// The window and the time are the request's: a registry per
			// request, of one collector (a few allocations at 4 scrapes/s).
			g := prometheus.NewRegistry()
			g.MustRegister(e.metrics.Changed(now, d))
			promhttp.HandlerFor(g, opts).ServeHTTP(w, r)
		case len(sel) == len(Subsets):
			whole.ServeHTTP(w, r)
		case verdictOnly:
			verdict.ServeHTTP(w, r)
		default:
			// A handler per request, as node_exporter's collect[]: the
			// other selections are for the slow jobs.
			g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
				mfs, err := full.Gather()
				return slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool {
					return !slices.Contains(sel, subsetOf(mf.GetName()))
				}), err
			})
			promhttp.HandlerFor(g, opts).ServeHTTP(w, r)
		}
	})
}

// selection resolves collect[] or exclude[] to the selected subsets, in
// Subsets order; neither parameter selects them all.
func selection(collect, exclude []string) ([]string, error) {
	if len(collect) > 0 && len(exclude) > 0 {
		return nil, errors.New("combined collect[] and exclude[] queries are not allowed")
	}
	named := map[string]bool{}
	for _, n := range append(collect, exclude...) {
		if !slices.Contains(Subsets, n) {
			return nil, fmt.Errorf("unknown subset %q in collect[] or exclude[] (known: %s)", n, strings.Join(Subsets, ", "))
		}
		named[n] = true
	}
	var sel []string
	for _, n := range Subsets {
		if named[n] == (len(collect) > 0) {
			sel = append(sel, n)
		}
	}
	if len(sel) == 0 {
		return nil, errors.New("exclude[] leaves nothing to collect")
	}
	return sel, nil
}

// alignTo learns the fast job's schedule from a scrape at now and moves
// the probes to it when it changed.
func (e *Exporter) alignTo(now time.Time) {
	a, changed := e.scrapes.observe(now)
	if !changed {
		return
	}
	e.sched.Align(a)
	e.aligned.Set(a.Interval.Seconds())
	if a.Interval > 0 {
		e.opts.Logger.Info("Probes aligned to the fast scrape", "interval", a.Interval, "phase", a.Phase)
	} else {
		e.opts.Logger.Info("Probes not aligned: the fast scrapes keep no single interval")
	}
}

// changedWithin parses the changed_within parameter of a selection.
func changedWithin(verdictOnly bool, values []string) (time.Duration, error) {
	if !verdictOnly {
		return 0, errors.New("changed_within applies to collect[]=verdict alone")
	}
	if len(values) != 1 {
		return 0, errors.New("changed_within given more than once")
	}
	d, err := model.ParseDuration(values[0])
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("changed_within=%q: want a positive duration such as 10m", values[0])
	}
	return time.Duration(d), nil
}
