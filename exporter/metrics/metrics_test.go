package metrics

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/slaroute/slaroute/exporter/probe"
)

var perTarget = []string{
	"dns_sla_up", "dns_sla_probes_total", "dns_sla_consecutive_failures",
	"dns_sla_consecutive_successes", "dns_sla_last_success_timestamp_seconds",
	"dns_sla_verdict", "dns_sla_state_changes_total",
}

func TestSeriesExistFromTheStart(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.Target([]string{"dns1", "198.51.100.11", "192.0.2.53/32"})
	m.Targets.Set(1)
	want := `
# HELP dns_sla_consecutive_failures Number of consecutive failed probes of the target (0 after a success).
# TYPE dns_sla_consecutive_failures gauge
dns_sla_consecutive_failures{nexthop="198.51.100.11",service="192.0.2.53/32",target="dns1"} 0
# HELP dns_sla_consecutive_successes Number of consecutive successful probes of the target (0 after a failure).
# TYPE dns_sla_consecutive_successes gauge
dns_sla_consecutive_successes{nexthop="198.51.100.11",service="192.0.2.53/32",target="dns1"} 0
# HELP dns_sla_last_success_timestamp_seconds Unix time of the last successful probe of the target (0 if none yet).
# TYPE dns_sla_last_success_timestamp_seconds gauge
dns_sla_last_success_timestamp_seconds{nexthop="198.51.100.11",service="192.0.2.53/32",target="dns1"} 0
# HELP dns_sla_probes_total Probes of the target by result.
# TYPE dns_sla_probes_total counter
dns_sla_probes_total{nexthop="198.51.100.11",result="malformed",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="mismatch",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="network_error",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="no_answer",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="nxdomain",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="rcode",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="refused",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="servfail",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="success",service="192.0.2.53/32",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="timeout",service="192.0.2.53/32",target="dns1"} 0
# HELP dns_sla_state_changes_total Times the target's probe result changed between success and failure.
# TYPE dns_sla_state_changes_total counter
dns_sla_state_changes_total{nexthop="198.51.100.11",service="192.0.2.53/32",target="dns1"} 0
# HELP dns_sla_targets Number of configured targets.
# TYPE dns_sla_targets gauge
dns_sla_targets 1
# HELP dns_sla_up 1 if the last probe of the target succeeded, else 0.
# TYPE dns_sla_up gauge
dns_sla_up{nexthop="198.51.100.11",service="192.0.2.53/32",target="dns1"} 0
# HELP dns_sla_verdict The probe verdict of the target: its number of consecutive failed probes (0 after a success), -1 until its first probe completed.
# TYPE dns_sla_verdict gauge
dns_sla_verdict{nexthop="198.51.100.11",service="192.0.2.53/32",target="dns1"} -1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), append(perTarget, "dns_sla_targets")...); err != nil {
		t.Error(err)
	}
	// The histograms exist too (one per target, one global).
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("%d duration series, want 1", n)
	}
	if n := testutil.CollectAndCount(m.Lag); n != 1 {
		t.Errorf("%d lag series, want 1", n)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestRecord(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	tm := m.Target([]string{"dns1", "198.51.100.11", ""})
	now := time.Unix(1700000000, 500_000_000)
	steps := []struct {
		o                              probe.Outcome
		up, fail, ok, verdict, changes float64
	}{
		{probe.Outcome{Result: probe.Success, RTT: 300 * time.Microsecond, Responded: true}, 1, 0, 1, 0, 0},
		{probe.Outcome{Result: probe.Success, RTT: 700 * time.Microsecond, Responded: true}, 1, 0, 2, 0, 0},
		{probe.Outcome{Result: probe.Timeout}, 0, 1, 0, 1, 1},
		{probe.Outcome{Result: probe.Servfail, RTT: 2 * time.Millisecond, Responded: true}, 0, 2, 0, 2, 1},
		{probe.Outcome{Result: probe.Timeout}, 0, 3, 0, 3, 1},
		{probe.Outcome{Result: probe.Success, RTT: 400 * time.Microsecond, Responded: true}, 1, 0, 1, 0, 2},
	}
	if got := value(t, reg, "dns_sla_verdict"); got != -1 {
		t.Errorf("before the first probe: verdict %v, want -1", got)
	}
	for i, s := range steps {
		tm.Record(s.o, now)
		if got := value(t, reg, "dns_sla_verdict"); got != s.verdict {
			t.Errorf("step %d: verdict %v, want %v", i, got, s.verdict)
		}
		if got := value(t, reg, "dns_sla_state_changes_total"); got != s.changes {
			t.Errorf("step %d: state changes %v, want %v", i, got, s.changes)
		}
		if got := value(t, reg, "dns_sla_up"); got != s.up {
			t.Errorf("step %d: up %v, want %v", i, got, s.up)
		}
		if got := value(t, reg, "dns_sla_consecutive_failures"); got != s.fail {
			t.Errorf("step %d: consecutive failures %v, want %v", i, got, s.fail)
		}
		if got := value(t, reg, "dns_sla_consecutive_successes"); got != s.ok {
			t.Errorf("step %d: consecutive successes %v, want %v", i, got, s.ok)
		}
	}
	want := `
# HELP dns_sla_last_success_timestamp_seconds Unix time of the last successful probe of the target (0 if none yet).
# TYPE dns_sla_last_success_timestamp_seconds gauge
dns_sla_last_success_timestamp_seconds{nexthop="198.51.100.11",service="",target="dns1"} 1.7000000005e+09
# HELP dns_sla_probes_total Probes of the target by result.
# TYPE dns_sla_probes_total counter
dns_sla_probes_total{nexthop="198.51.100.11",result="malformed",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="mismatch",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="network_error",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="no_answer",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="nxdomain",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="rcode",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="refused",service="",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.11",result="servfail",service="",target="dns1"} 1
dns_sla_probes_total{nexthop="198.51.100.11",result="success",service="",target="dns1"} 3
dns_sla_probes_total{nexthop="198.51.100.11",result="timeout",service="",target="dns1"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dns_sla_probes_total", "dns_sla_last_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	// Only responses are timed: 4 observations, in the right classic buckets.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "dns_sla_probe_duration_seconds" {
			continue
		}
		found = true
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 4 {
			t.Errorf("%d observations, want 4", h.GetSampleCount())
		}
		cum := map[float64]uint64{}
		for _, b := range h.GetBucket() {
			cum[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		if cum[0.00025] != 0 || cum[0.0005] != 2 || cum[0.001] != 3 || cum[0.0025] != 4 {
			t.Errorf("buckets %v", cum)
		}
		if h.GetSchema() == 0 && len(h.GetPositiveSpan()) == 0 {
			t.Error("no native histogram data")
		}
	}
	if !found {
		t.Error("no dns_sla_probe_duration_seconds family")
	}
}

func TestDelete(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	a := []string{"a", "198.51.100.11", ""}
	b := []string{"b", "198.51.100.12", ""}
	m.Target(a).Record(probe.Outcome{Result: probe.Success, Responded: true}, time.Now())
	m.Target(b)
	m.Delete(a)
	for _, name := range append(perTarget, "dns_sla_probe_duration_seconds") {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, mt := range mf.GetMetric() {
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == "target" && lp.GetValue() == "a" {
						t.Errorf("%s still has target a", name)
					}
				}
			}
		}
	}
	if n := testutil.CollectAndCount(m, "dns_sla_probes_total"); n != int(probe.NumResults) {
		t.Errorf("%d probes_total series left, want %d (target b)", n, probe.NumResults)
	}
}

// value returns the only sample of a gauge family.
func value(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if len(mf.GetMetric()) != 1 {
				t.Fatalf("%d %s series, want 1", len(mf.GetMetric()), name)
			}
			if c := mf.GetMetric()[0].GetCounter(); c != nil {
				return c.GetValue()
			}
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// The same labels find the same state; Record from one goroutine while
// scrapes run concurrently is race-free.
func TestConcurrentScrape(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	l := []string{"a", "198.51.100.11", "192.0.2.53/32"}
	tm := m.Target(l)
	if m.Target(l) != tm {
		t.Error("Target with the same labels returned new state")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			tm.Record(probe.Outcome{Result: probe.Success, Responded: true, RTT: time.Millisecond}, time.Now())
		}
	}()
	for range 20 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if got := value(t, reg, "dns_sla_consecutive_successes"); got != 1000 {
		t.Errorf("consecutive successes %v, want 1000", got)
	}
}

// Collect emits each family already in the registry's exposition order, which
// keeps the registry's sort linear on large scrapes.
func TestCollectOrder(t *testing.T) {
	m := New(prometheus.NewRegistry())
	for _, l := range [][]string{
		{"b", "198.51.100.2", "192.0.2.53/32"}, {"a", "198.51.100.2", "192.0.2.53/32"},
		{"c", "198.51.100.1", "192.0.2.54/32"}, {"d", "198.51.100.1", ""}, {"e", "198.51.100.10", ""},
	} {
		m.Target(l)
	}
	m.Delete([]string{"e", "198.51.100.10", ""})
	m.Target([]string{"f", "198.51.100.0", "192.0.2.53/32"})
	ch := make(chan prometheus.Metric, 1000)
	m.Collect(ch)
	close(ch)
	families := map[string][]string{}
	for mt := range ch {
		var d dto.Metric
		if err := mt.Write(&d); err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, lp := range d.GetLabel() {
			vals = append(vals, lp.GetValue())
		}
		name := mt.Desc().String()
		families[name] = append(families[name], strings.Join(vals, "\x00"))
	}
	if len(families) != 7 {
		t.Fatalf("%d families, want 7", len(families))
	}
	for name, keys := range families {
		if !slices.IsSorted(keys) {
			t.Errorf("%s not collected in sorted order: %q", name, keys)
		}
		want := 5
		if strings.Contains(name, "dns_sla_probes_total") {
			want = 5 * int(probe.NumResults)
		}
		if len(keys) != want {
			t.Errorf("%s: %d series, want %d", name, len(keys), want)
		}
	}
}

// Label pairs follow the label names, whatever their order in LabelNames:
// every series carries each name once, sorted, with its value.
func TestLabelPairsFromNames(t *testing.T) {
	m := New(prometheus.NewRegistry())
	vals := []string{"dns1", "198.51.100.11", "192.0.2.53/32"}
	tm := m.Target(vals)
	var names []string
	for _, p := range tm.pairs {
		names = append(names, p.GetName())
		if i := slices.Index(LabelNames, p.GetName()); i < 0 || vals[i] != p.GetValue() {
			t.Errorf("pair %s=%s does not match the target's labels", p.GetName(), p.GetValue())
		}
	}
	if !slices.IsSorted(names) || len(names) != len(LabelNames) {
		t.Errorf("label pairs %v, want each of %v once, sorted", names, LabelNames)
	}
	for r := range probe.NumResults {
		names = names[:0]
		for _, p := range tm.resultPairs[r] {
			names = append(names, p.GetName())
		}
		if !slices.IsSorted(names) || !slices.Contains(names, "result") {
			t.Errorf("result %s: label pairs %v not sorted or without result", r, names)
		}
	}
}

// Changed serves a target while it fails and for within after it
// recovered; a target that answers for longer, has no probe yet, or whose
// first probe succeeded is left out.
func TestChanged(t *testing.T) {
	m := New(prometheus.NewRegistry())
	t0 := time.Unix(1_700_000_000, 0)
	ok, fail := probe.Outcome{Result: probe.Success}, probe.Outcome{Result: probe.Timeout}
	steady, down, recovered, fresh, flapped := m.Target([]string{"steady", "a", "s"}), m.Target([]string{"down", "b", "s"}),
		m.Target([]string{"recovered", "c", "s"}), m.Target([]string{"fresh", "d", "s"}), m.Target([]string{"flapped", "e", "s"})
	steady.Record(ok, t0)
	steady.Record(ok, t0.Add(5*time.Minute))
	down.Record(ok, t0)
	down.Record(fail, t0.Add(8*time.Minute))
	down.Record(fail, t0.Add(9*time.Minute))
	recovered.Record(fail, t0)
	recovered.Record(ok, t0.Add(9*time.Minute))
	recovered.Record(ok, t0.Add(10*time.Minute)) // a second success is no change
	flapped.Record(ok, t0)
	flapped.Record(fail, t0.Add(3*time.Minute))
	flapped.Record(ok, t0.Add(4*time.Minute))
	_ = fresh // no probe yet: -1, not served

	for _, tc := range []struct {
		now    time.Duration
		within time.Duration
		want   map[string]float64
	}{
		{10 * time.Minute, 10 * time.Minute, map[string]float64{"down": 2, "recovered": 0, "flapped": 0}},
		{10 * time.Minute, 5 * time.Minute, map[string]float64{"down": 2, "recovered": 0}},
		{20 * time.Minute, 5 * time.Minute, map[string]float64{"down": 2}},
		// steady's first success at t0 is no recovery, however long the window.
		{time.Second, time.Hour, map[string]float64{"down": 2, "recovered": 0, "flapped": 0}},
	} {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(m.Changed(t0.Add(tc.now), tc.within))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "dns_sla_verdict" {
				t.Fatalf("family %s", mf.GetName())
			}
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "target" {
						got[l.GetValue()] = s.GetGauge().GetValue()
					}
				}
			}
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("at +%s within %s: %v, want %v", tc.now, tc.within, got, tc.want)
		}
	}
}
