// Package metrics defines the dns_sla_* metrics and updates them from probe
// outcomes. Every per-target series exists from the moment a target is
// added (all result values at 0), so rules and dashboards never see gaps.
package metrics

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

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

// Metrics holds the exporter's metric families. The per-target gauges and
// counters are served by a collector over compact per-target state whose
// label pairs are built once and shared by all of a target's series: with
// thousands of targets that is a fraction of the memory of metric vectors.
type Metrics struct {
	mu      sync.Mutex
	targets map[string]*Target // by joined label values
	sorted  []*Target          // in exposition order; nil when targets changed

	upDesc, failDesc, succDesc, lastDesc, probesDesc *prometheus.Desc
	verdictDesc, changesDesc                         *prometheus.Desc
	duration                                         *prometheus.HistogramVec
	// Targets is the number of configured targets.
	Targets prometheus.Gauge
	// Lag is how late probes start relative to their scheduled tick.
	Lag prometheus.Histogram
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		targets:  map[string]*Target{},
		upDesc:   prometheus.NewDesc("dns_sla_up", "1 if the last probe of the target succeeded, else 0.", LabelNames, nil),
		failDesc: prometheus.NewDesc("dns_sla_consecutive_failures", "Number of consecutive failed probes of the target (0 after a success).", LabelNames, nil),
		succDesc: prometheus.NewDesc("dns_sla_consecutive_successes", "Number of consecutive successful probes of the target (0 after a failure).", LabelNames, nil),
		verdictDesc: prometheus.NewDesc("dns_sla_verdict",
			"The probe verdict of the target: its number of consecutive failed probes (0 after a success), -1 until its first probe completed.", LabelNames, nil),
		changesDesc: prometheus.NewDesc("dns_sla_state_changes_total",
			"Times the target's probe result changed between success and failure.", LabelNames, nil),
		lastDesc: prometheus.NewDesc("dns_sla_last_success_timestamp_seconds", "Unix time of the last successful probe of the target (0 if none yet).", LabelNames, nil),
		probesDesc: prometheus.NewDesc("dns_sla_probes_total", "Probes of the target by result.",
			append(append([]string{}, LabelNames...), "result"), nil),
		duration: prometheus.NewHistogramVec(histogramOpts("dns_sla_probe_duration_seconds",
			"Round-trip time of probes that got a response.", DurationBuckets), LabelNames),
		Targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dns_sla_targets",
			Help: "Number of configured targets.",
		}),
		Lag: prometheus.NewHistogram(histogramOpts("dns_sla_scheduling_lag_seconds",
			"Delay between a probe's scheduled tick and its start.", LagBuckets)),
	}
	reg.MustRegister(m, m.duration, m.Targets, m.Lag)
	return m
}

// histogramOpts are classic buckets plus a native histogram where scraped.
func histogramOpts(name, help string, buckets []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets,
		NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 100, NativeHistogramMinResetDuration: time.Hour}
}

// Target is one target's state; Record is called by one goroutine at a
// time, scrapes read concurrently.
type Target struct {
	labels      []string                           // in LabelNames order
	sortKey     []string                           // labels in exposition (name) order
	pairs       []*dto.LabelPair                   // sorted by label name
	resultPairs [probe.NumResults][]*dto.LabelPair // the same with result inserted
	probes      [probe.NumResults]atomic.Uint64
	fails       atomic.Int64
	succs       atomic.Int64
	changes     atomic.Uint64
	lastSuccess atomic.Uint64 // float64 bits
	recoveredAt atomic.Int64  // Unix ns when the verdict last went from failures to 0
	duration    prometheus.Observer
}

// resultPair is shared by every target's series of one result.
var resultPair = func() (p [probe.NumResults]*dto.LabelPair) {
	for r := range probe.NumResults {
		p[r] = &dto.LabelPair{Name: proto.String("result"), Value: proto.String(r.String())}
	}
	return p
}()

// byName is LabelNames' indices in label-name order, the order of label
// pairs in the exposition; resultAt is where "result" sorts among them.
var byName, resultAt = func() ([]int, int) {
	idx := make([]int, len(LabelNames))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(LabelNames[a], LabelNames[b]) })
	at, _ := slices.BinarySearchFunc(idx, "result", func(i int, name string) int { return strings.Compare(LabelNames[i], name) })
	return idx, at
}()

// Target returns the state of the target with these label values (in
// LabelNames order), creating it with every series at 0 if needed.
func (m *Metrics) Target(labels []string) *Target {
	key := strings.Join(labels, "\xff")
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.targets[key]; ok {
		return t
	}
	t := &Target{labels: slices.Clone(labels), duration: m.duration.WithLabelValues(labels...)}
	for _, i := range byName {
		t.sortKey = append(t.sortKey, labels[i])
		t.pairs = append(t.pairs, &dto.LabelPair{Name: proto.String(LabelNames[i]), Value: proto.String(labels[i])})
	}
	for r := range probe.NumResults {
		t.resultPairs[r] = slices.Insert(slices.Clone(t.pairs), resultAt, resultPair[r])
	}
	m.targets[key] = t
	m.sorted = nil
	return t
}

// Delete removes every series of the target with these label values.
func (m *Metrics) Delete(labels []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.targets, strings.Join(labels, "\xff"))
	m.sorted = nil
	m.duration.DeleteLabelValues(labels...)
}

// Labels returns the label values the target was created with.
func (t *Target) Labels() []string { return t.labels }

// Record accounts one probe outcome observed at now.
func (t *Target) Record(o probe.Outcome, now time.Time) {
	if o.Result < probe.NumResults {
		t.probes[o.Result].Add(1)
	}
	if o.Responded {
		t.duration.Observe(o.RTT.Seconds())
	}
	if o.Result == probe.Success {
		// recoveredAt first: a scrape that reads the verdict 0 sees it fresh.
		if t.fails.Load() > 0 {
			t.recoveredAt.Store(now.UnixNano())
			t.changes.Add(1)
		}
		t.succs.Add(1)
		t.fails.Store(0)
		t.lastSuccess.Store(math.Float64bits(float64(now.UnixNano()) / 1e9))
	} else {
		if t.succs.Load() > 0 {
			t.changes.Add(1)
		}
		t.fails.Add(1)
		t.succs.Store(0)
	}
}

// Describe implements prometheus.Collector for the per-target gauges and counters.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.verdictDesc, m.upDesc, m.failDesc, m.succDesc, m.lastDesc, m.changesDesc, m.probesDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ts := m.ordered()
	verdicts{m: m, all: true}.collect(ch, ts)
	m.collectProbes(ch, ts)
}

// VerdictFamilies are the families of the route-driving probe verdict, the
// cheap subset Prometheus scrapes fast (collect[]=verdict): one small gauge
// per target that already says what the rules need (failures, or unknown).
var VerdictFamilies = []string{"dns_sla_verdict"}

// ProbeFamilies are the per-target gauges, counters, histograms and
// timestamps: dashboards and SLO rules, scraped at the usual pace.
var ProbeFamilies = []string{"dns_sla_up", "dns_sla_consecutive_failures", "dns_sla_consecutive_successes",
	"dns_sla_last_success_timestamp_seconds", "dns_sla_state_changes_total", "dns_sla_probes_total", "dns_sla_probe_duration_seconds"}

// Verdict is a collector of VerdictFamilies alone, over the same state.
func (m *Metrics) Verdict() prometheus.Collector { return verdicts{m: m, all: true} }

// Changed is a collector of the verdicts that can move a route: every
// failing target, and every target whose verdict went from failures to 0
// less than within before now. A target that answers, or has no probe yet
// (-1), or whose first probe succeeded is left out, so the fast scrape and
// the rules that read it cost what the failing and recently recovered
// targets cost, not what the farm does (an exporter restart adds nothing:
// Prometheus keeps every series it saw for hours); the rules tell a
// recovered target (0 served) from a vanished one (nothing).
func (m *Metrics) Changed(now time.Time, within time.Duration) prometheus.Collector {
	return verdicts{m: m, after: now.Add(-within).UnixNano()}
}

// verdicts collects dns_sla_verdict of every target (all) or of those
// Changed after the Unix ns after.
type verdicts struct {
	m     *Metrics
	all   bool
	after int64
}

func (c verdicts) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.verdictDesc }
func (c verdicts) Collect(ch chan<- prometheus.Metric) { c.collect(ch, c.m.ordered()) }

func (c verdicts) collect(ch chan<- prometheus.Metric, ts []*Target) {
	for _, t := range ts {
		// The verdict is read before recoveredAt, which Record stores
		// first: a verdict of 0 comes with its fresh recoveredAt.
		if v := t.verdict(); c.all || v > 0 || v == 0 && t.recoveredAt.Load() > c.after {
			ch <- &sample{desc: c.m.verdictDesc, labels: t.pairs, v: v}
		}
	}
}

// resultOrder is the results sorted by name, the exposition order.
var resultOrder = func() []probe.Result {
	rs := make([]probe.Result, 0, probe.NumResults)
	for r := range probe.NumResults {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b probe.Result) int { return strings.Compare(a.String(), b.String()) })
	return rs
}()

// ordered returns the targets sorted by label values in label-name order.
// Collecting in the order the registry sorts into makes that sort linear: it
// is most of a large scrape otherwise.
func (m *Metrics) ordered() []*Target {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sorted == nil {
		m.sorted = slices.SortedFunc(maps.Values(m.targets), func(a, b *Target) int {
			return slices.Compare(a.sortKey, b.sortKey)
		})
	}
	return m.sorted
}

// verdict is dns_sla_verdict: the consecutive failures once a probe
// completed, else -1 (both streaks are 0 only before the first probe).
// A probe's update may race the scrape between its two stores (fails set
// before succs reset, or the reverse): the value is read once from the
// streak that is current, and a race reads -1 or the previous verdict,
// never a false 0 for a failing target.
func (t *Target) verdict() float64 {
	f, s := t.fails.Load(), t.succs.Load()
	switch {
	case f > 0:
		return float64(f)
	case s > 0:
		return 0
	}
	return -1
}

func (m *Metrics) collectProbes(ch chan<- prometheus.Metric, ts []*Target) {
	for _, t := range ts {
		ch <- &sample{desc: m.upDesc, labels: t.pairs, v: float64(min(t.succs.Load(), 1))}
	}
	for _, t := range ts {
		ch <- &sample{desc: m.failDesc, labels: t.pairs, v: float64(t.fails.Load())}
	}
	for _, t := range ts {
		ch <- &sample{desc: m.succDesc, labels: t.pairs, v: float64(t.succs.Load())}
	}
	for _, t := range ts {
		ch <- &sample{desc: m.changesDesc, labels: t.pairs, v: float64(t.changes.Load()), counter: true}
	}
	for _, t := range ts {
		ch <- &sample{desc: m.lastDesc, labels: t.pairs, v: math.Float64frombits(t.lastSuccess.Load())}
	}
	// probes_total sorts by the labels before result, then result, then the
	// rest: one run of every result per group of targets equal before it.
	for i := 0; i < len(ts); {
		j := i + 1
		for j < len(ts) && slices.Equal(ts[j].sortKey[:resultAt], ts[i].sortKey[:resultAt]) {
			j++
		}
		for _, r := range resultOrder {
			for _, t := range ts[i:j] {
				ch <- &sample{desc: m.probesDesc, labels: t.resultPairs[r], v: float64(t.probes[r].Load()), counter: true}
			}
		}
		i = j
	}
}

// sample is a gauge or counter value with pre-built, shared label pairs
// (prometheus.MustNewConstMetric would rebuild them on every scrape). The
// dto value lives inside it: one allocation per series and scrape.
type sample struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	v       float64
	counter bool
	c       dto.Counter
	g       dto.Gauge
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.counter {
		s.c.Value = &s.v
		m.Counter = &s.c
	} else {
		s.g.Value = &s.v
		m.Gauge = &s.g
	}
	return nil
}
