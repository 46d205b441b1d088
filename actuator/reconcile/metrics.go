package reconcile

import (
	"net/netip"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/route"
)

// Metrics are the reconciler's metrics.
type Metrics struct {
	nhInstalled, nhDesired              *prometheus.GaugeVec
	nhDrained, nhSuppressed, nhPenalty  *prometheus.GaugeVec
	nhChanges                           *prometheus.CounterVec
	configured, desired, installed      *prometheus.GaugeVec
	converged, frozen, guardActive      *prometheus.GaugeVec
	guardActivations                    *prometheus.CounterVec
	pipelineHealthy, lastResync, dryRun prometheus.Gauge
	changes, backendErrors, amRequests  *prometheus.CounterVec
	applyDuration                       prometheus.Histogram

	// series are the per-route children, resolved once per configuration:
	// looking up ~400 label sets on every reconcile was measurable.
	series map[netip.Prefix]*routeSeries
}

type routeSeries struct {
	nexthops                                             map[netip.Addr]*nexthopSeries // the configured ones
	desired, installed, converged, frozen, failOpen, min prometheus.Gauge
}

type nexthopSeries struct {
	installed, desired, drained, suppressed, penalty prometheus.Gauge
}

var (
	// presetCauses are the causes whose nexthop_changes_total series exist
	// from start; the others appear with their first change.
	presetCauses = []string{"alert", "drain", "dampening"}
	guardReasons = []string{policy.GuardMinNexthops, policy.GuardFailOpen}
	actions      = []string{Create, Update, Delete}
	results      = []string{"success", "error", "dry_run"}
	operations   = []string{"list", "apply", "verify"}
)

// NewMetrics registers the reconciler's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return f.NewGaugeVec(prometheus.GaugeOpts{Name: "route_actuator_" + name, Help: help}, labels)
	}
	m := &Metrics{
		nhInstalled:  g("nexthop_installed", "Whether the nexthop is installed for the route on the device (read back).", "route", "nexthop"),
		nhDesired:    g("nexthop_desired", "Whether the policy wants the nexthop installed for the route now.", "route", "nexthop"),
		nhDrained:    g("nexthop_drained", "Whether an operator's drain takes the nexthop out of the route (slaroutectl drain).", "route", "nexthop"),
		nhSuppressed: g("nexthop_suppressed", "Whether dampening keeps the nexthop out of the route for flapping.", "route", "nexthop"),
		nhPenalty:    g("dampening_penalty", "The nexthop's dampening penalty for the route, as of the last reconcile (0 without dampening).", "route", "nexthop"),
		nhChanges: f.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_nexthop_changes_total", Help: "Nexthops added to or removed from a route on the device, by change (added, removed) and first cause.",
		}, []string{"route", "nexthop", "change", "cause"}),
		configured:  g("route_configured_nexthops", "Nexthops configured for the route.", "route"),
		desired:     g("route_desired_nexthops", "Nexthops the policy wants installed for the route now.", "route"),
		installed:   g("route_installed_nexthops", "Nexthops installed for the route on the device.", "route"),
		converged:   g("route_converged", "Whether the installed nexthops equal the desired ones.", "route"),
		frozen:      g("route_frozen", "Whether the route is frozen (pipeline unhealthy or a freeze alert).", "route"),
		guardActive: g("guard_active", "Whether a guard keeps withdrawn nexthops installed.", "route", "reason"),
		guardActivations: f.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_guard_activations_total", Help: "Times a guard started holding a route.",
		}, []string{"route", "reason"}),
		pipelineHealthy: f.NewGauge(prometheus.GaugeOpts{
			Name: "route_actuator_pipeline_healthy", Help: "Whether the heartbeat alert is firing and fresh (1 when no heartbeat is configured).",
		}),
		lastResync: f.NewGauge(prometheus.GaugeOpts{
			Name: "route_actuator_last_resync_success_timestamp_seconds", Help: "Time of the last resync that read the device and left it converged.",
		}),
		dryRun: f.NewGauge(prometheus.GaugeOpts{
			Name: "route_actuator_dry_run", Help: "Whether the actuator only plans changes (--dry-run).",
		}),
		changes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_changes_total", Help: "Route changes by action and result (dry_run: planned, not applied).",
		}, []string{"action", "result"}),
		backendErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_backend_errors_total", Help: "Backend failures by operation (verify: read-back differs from what was applied).",
		}, []string{"operation"}),
		amRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_alertmanager_requests_total", Help: "Reads of the Alertmanager API by result.",
		}, []string{"result"}),
		applyDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "route_actuator_apply_duration_seconds", Help: "Time the backend took to apply one pass's changes (one Set call: read, change, read back).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
	}
	for _, a := range actions {
		for _, r := range results {
			m.changes.WithLabelValues(a, r)
		}
	}
	for _, op := range operations {
		m.backendErrors.WithLabelValues(op)
	}
	for _, r := range []string{"success", "error"} {
		m.amRequests.WithLabelValues(r)
	}
	return m
}

// initRoutes resets the per-route series to the configured routes, so removed
// routes disappear and every configured one is visible at once.
func (m *Metrics) initRoutes(routes []config.Route) {
	for _, v := range []*prometheus.GaugeVec{m.nhInstalled, m.nhDesired, m.nhDrained, m.nhSuppressed, m.nhPenalty, m.configured, m.desired, m.installed, m.converged, m.frozen, m.guardActive} {
		v.Reset()
	}
	m.guardActivations.Reset()
	m.nhChanges.Reset()
	m.series = make(map[netip.Prefix]*routeSeries, len(routes))
	for _, r := range routes {
		p := r.Prefix.String()
		s := &routeSeries{
			nexthops:  make(map[netip.Addr]*nexthopSeries, len(r.Nexthops)),
			desired:   m.desired.WithLabelValues(p),
			installed: m.installed.WithLabelValues(p),
			converged: m.converged.WithLabelValues(p),
			frozen:    m.frozen.WithLabelValues(p),
			min:       m.guardActive.WithLabelValues(p, policy.GuardMinNexthops),
			failOpen:  m.guardActive.WithLabelValues(p, policy.GuardFailOpen),
		}
		for _, nh := range r.Nexthops {
			n := nh.String()
			s.nexthops[nh] = &nexthopSeries{
				installed:  m.nhInstalled.WithLabelValues(p, n),
				desired:    m.nhDesired.WithLabelValues(p, n),
				drained:    m.nhDrained.WithLabelValues(p, n),
				suppressed: m.nhSuppressed.WithLabelValues(p, n),
				penalty:    m.nhPenalty.WithLabelValues(p, n),
			}
			for _, c := range []string{"added", "removed"} {
				for _, k := range presetCauses {
					m.nhChanges.WithLabelValues(p, n, c, k)
				}
			}
		}
		m.series[r.Prefix] = s
		m.configured.WithLabelValues(p).Set(float64(len(r.Nexthops)))
		for _, g := range guardReasons {
			m.guardActivations.WithLabelValues(p, g)
		}
	}
}

// observe sets the per-route gauges from a decision and the device state.
func (m *Metrics) observe(d policy.Decision, installed map[netip.Prefix][]netip.Addr) {
	m.pipelineHealthy.Set(b2f(d.Pipeline.Healthy))
	for _, r := range d.Routes {
		s := m.series[r.Prefix]
		have := installed[r.Prefix]
		for _, nh := range r.Configured {
			n := s.nexthops[nh]
			n.installed.Set(b2f(slices.Contains(have, nh)))
			n.desired.Set(b2f(slices.Contains(r.Desired, nh)))
		}
		s.desired.Set(float64(len(r.Desired)))
		s.installed.Set(float64(len(have)))
		s.converged.Set(b2f(route.New(r.Prefix, have...).Equal(route.New(r.Prefix, r.Desired...))))
		s.frozen.Set(b2f(len(r.Frozen) > 0))
		s.min.Set(b2f(r.Guard == policy.GuardMinNexthops))
		s.failOpen.Set(b2f(r.Guard == policy.GuardFailOpen))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
