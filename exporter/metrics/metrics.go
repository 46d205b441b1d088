// Package metrics defines the dns_sla_* metrics and updates them from probe
// outcomes. Every per-target series exists from the moment a target is
// added (all result values at 0), so rules and dashboards never see gaps.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/exporter/probe"
)

// LabelNames are the per-target labels, in the order of config.Target.Labels.
var LabelNames = []string{"target", "nexthop", "service"}

// DurationBuckets resolve sub-millisecond LAN round trips and reach the
// largest sensible timeout; native histograms give finer detail where scraped.
var DurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// LagBuckets cover scheduling lag from tens of microseconds to a second.
var LagBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
}

// Metrics holds the exporter's metric families.
type Metrics struct {
	up, consecFail, consecSucc, lastSuccess *prometheus.GaugeVec
	probes                                  *prometheus.CounterVec
	duration                                *prometheus.HistogramVec
	// Targets is the number of configured targets.
	Targets prometheus.Gauge
	// Lag is how late probes start relative to their scheduled tick.
	Lag prometheus.Histogram
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dns_sla_up",
			Help: "1 if the last probe of the target succeeded, else 0.",
		}, LabelNames),
		consecFail: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dns_sla_consecutive_failures",
			Help: "Number of consecutive failed probes of the target (0 after a success).",
		}, LabelNames),
		consecSucc: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dns_sla_consecutive_successes",
			Help: "Number of consecutive successful probes of the target (0 after a failure).",
		}, LabelNames),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dns_sla_last_success_timestamp_seconds",
			Help: "Unix time of the last successful probe of the target (0 if none yet).",
		}, LabelNames),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dns_sla_probes_total",
			Help: "Probes of the target by result.",
		}, append(append([]string{}, LabelNames...), "result")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "dns_sla_probe_duration_seconds",
			Help:                            "Round-trip time of probes that got a response.",
			Buckets:                         DurationBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, LabelNames),
		Targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dns_sla_targets",
			Help: "Number of configured targets.",
		}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:                            "dns_sla_scheduling_lag_seconds",
			Help:                            "Delay between a probe's scheduled tick and its start.",
			Buckets:                         LagBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}),
	}
	reg.MustRegister(m.up, m.consecFail, m.consecSucc, m.lastSuccess, m.probes, m.duration, m.Targets, m.Lag)
	return m
}

// Target is the resolved set of one target's series.
type Target struct {
	labels                                  []string
	up, consecFail, consecSucc, lastSuccess prometheus.Gauge
	probes                                  [probe.NumResults]prometheus.Counter
	duration                                prometheus.Observer
	fails, succs                            int
}

// Target creates (or finds) the series of a target with these label values
// (target, nexthop, service) and initialises every one of them.
func (m *Metrics) Target(labels []string) *Target {
	t := &Target{
		labels:      labels,
		up:          m.up.WithLabelValues(labels...),
		consecFail:  m.consecFail.WithLabelValues(labels...),
		consecSucc:  m.consecSucc.WithLabelValues(labels...),
		lastSuccess: m.lastSuccess.WithLabelValues(labels...),
		duration:    m.duration.WithLabelValues(labels...),
	}
	for r := range probe.NumResults {
		t.probes[r] = m.probes.WithLabelValues(append(append([]string{}, labels...), r.String())...)
	}
	return t
}

// Delete removes every series of the target with these label values.
func (m *Metrics) Delete(labels []string) {
	m.up.DeleteLabelValues(labels...)
	m.consecFail.DeleteLabelValues(labels...)
	m.consecSucc.DeleteLabelValues(labels...)
	m.lastSuccess.DeleteLabelValues(labels...)
	m.duration.DeleteLabelValues(labels...)
	for r := range probe.NumResults {
		m.probes.DeleteLabelValues(append(append([]string{}, labels...), r.String())...)
	}
}

// Labels returns the label values the target was created with.
func (t *Target) Labels() []string { return t.labels }

// Record accounts one probe outcome observed at now.
func (t *Target) Record(o probe.Outcome, now time.Time) {
	if o.Result < probe.NumResults {
		t.probes[o.Result].Inc()
	}
	if o.Responded {
		t.duration.Observe(o.RTT.Seconds())
	}
	if o.Result == probe.Success {
		t.succs++
		t.fails = 0
		t.up.Set(1)
		t.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	} else {
		t.fails++
		t.succs = 0
		t.up.Set(0)
	}
	t.consecFail.Set(float64(t.fails))
	t.consecSucc.Set(float64(t.succs))
}
