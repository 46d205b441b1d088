package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/metrics"
	"github.com/slaroute/slaroute/exporter/probe"
)

func TestNextTick(t *testing.T) {
	base := time.Unix(1000, 0)
	s := time.Second
	tests := []struct {
		name string
		now  time.Duration // after base
		want time.Duration // after base
	}{
		{"probe done early", 300 * time.Millisecond, s},
		{"done just before the tick", 999 * time.Millisecond, s},
		{"done exactly on the tick: skip it", s, 2 * s},
		{"overran by 1.5 intervals", 2500 * time.Millisecond, 3 * s},
		{"overran by many", 10*s + 1, 11 * s},
	}
	for _, tc := range tests {
		if got := nextTick(base, base.Add(tc.now), 0, s); !got.Equal(base.Add(tc.want)) {
			t.Errorf("%s: next %v, want %v", tc.name, got.Sub(base), tc.want)
		}
	}
	// An alignment moved the phase: the first tick on the new grid more than
	// half an interval away, never two probes in a row.
	for _, tc := range []struct {
		off, now, want time.Duration
	}{
		{700 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond},
		{200 * time.Millisecond, 300 * time.Millisecond, 1200 * time.Millisecond},
		{500 * time.Millisecond, 100 * time.Millisecond, 1500 * time.Millisecond},
		{501 * time.Millisecond, 100 * time.Millisecond, 501 * time.Millisecond},
		{600 * time.Millisecond, 2500 * time.Millisecond, 2600 * time.Millisecond},
	} {
		if got := nextTick(base, base.Add(tc.now), tc.off, s); !got.Equal(base.Add(tc.want)) {
			t.Errorf("phase moved to %v, done at +%v: next +%v, want +%v", tc.off, tc.now, got.Sub(base), tc.want)
		}
	}
}

func TestOffsetsSpreadOverTheInterval(t *testing.T) {
	const n, buckets = 5000, 10
	interval := time.Second
	var count [buckets]int
	now := time.Unix(1700000000, 123456789)
	for i := range n {
		name := "dns" + strconv.Itoa(i)
		off := Offset(name, interval)
		if off < 0 || off >= interval {
			t.Fatalf("offset %v outside [0, %v)", off, interval)
		}
		if Offset(name, interval) != off {
			t.Fatal("offset not stable")
		}
		count[off*buckets/interval]++
		first := firstTick(now, off, interval)
		if first.Before(now) || !first.Before(now.Add(interval)) {
			t.Fatalf("first tick %v not within one interval of %v", first, now)
		}
		if phase := time.Duration(first.UnixNano() % int64(interval)); phase != off {
			t.Fatalf("first tick phase %v, want offset %v", phase, off)
		}
	}
	for i, c := range count {
		if c < n/buckets*8/10 || c > n/buckets*12/10 {
			t.Errorf("bucket %d of the interval holds %d of %d targets: not spread", i, c, n)
		}
	}
}

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk    *fakeClock
	f      func()
	at     time.Time
	active bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, f: f, at: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.active
	t.at, t.active = t.clk.now.Add(d), true
	return was
}

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// Advance moves time forward and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			go t.f()
		}
	}
}

// next waits until n timers are armed and returns the earliest deadline.
func (c *fakeClock) next(t *testing.T, n int) time.Time {
	t.Helper()
	for range 5000 {
		c.mu.Lock()
		var at []time.Time
		for _, tm := range c.timers {
			if tm.active {
				at = append(at, tm.at)
			}
		}
		c.mu.Unlock()
		if len(at) == n {
			return slices.MinFunc(at, func(a, b time.Time) int { return a.Compare(b) })
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d armed timers", n)
	return time.Time{}
}

// fakeProber records when it starts and takes durs[i] of fake time for probe i.
type fakeProber struct {
	clk    *fakeClock
	durs   []time.Duration
	starts []time.Time
	result probe.Result
	mu     sync.Mutex
	closed atomic.Bool
}

func (p *fakeProber) Probe(context.Context) probe.Outcome {
	p.mu.Lock()
	i := len(p.starts)
	p.starts = append(p.starts, p.clk.Now())
	p.mu.Unlock()
	if i < len(p.durs) {
		p.clk.Advance(p.durs[i])
	}
	return probe.Outcome{Result: p.result, Responded: p.result == probe.Success}
}

func (p *fakeProber) Close() error { p.closed.Store(true); return nil }

func (p *fakeProber) startTimes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.starts)
}

func tgt(name, nexthop string) config.Target {
	tg := config.Target{Name: name, Interval: time.Second, Timeout: 500 * time.Millisecond, Protocol: "udp"}
	tg.Nexthop = netip.MustParseAddr(nexthop)
	return tg
}

func TestNoDriftAndSkippedTicks(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1700000000, 0)}
	ms := time.Millisecond
	// Probe 3 overruns 2.5 intervals: the ticks it covers are skipped.
	p := &fakeProber{clk: clk, durs: []time.Duration{300 * ms, 499 * ms, 2500 * ms, 10 * ms, 999 * ms, 0}}
	s := New(metrics.New(prometheus.NewRegistry()), clk, func(config.Target) (Prober, error) { return p, nil }, slog.New(slog.DiscardHandler))
	if err := s.Apply([]config.Target{tgt("a", "198.51.100.11")}); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for range len(p.durs) {
		at := clk.next(t, 1)
		clk.Advance(at.Sub(clk.Now()))
	}
	clk.next(t, 1)
	starts := p.startTimes()
	first := starts[0]
	if phase := time.Duration(first.UnixNano() % int64(time.Second)); phase != Offset("a", time.Second) {
		t.Errorf("first probe at phase %v, want the target's offset %v", phase, Offset("a", time.Second))
	}
	want := []time.Duration{0, 1 * time.Second, 2 * time.Second, 5 * time.Second, 6 * time.Second, 7 * time.Second}
	for i, w := range want {
		if got := starts[i].Sub(first); got != w {
			t.Errorf("probe %d started at +%v, want +%v", i, got, w)
		}
	}
}

type counting struct {
	mu      sync.Mutex
	created map[string]int
	probers map[string]*fakeProber
	fail    bool
	clk     *fakeClock
}

func (c *counting) newProber(t config.Target) (Prober, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return nil, errors.New("no prober")
	}
	c.created[t.Name]++
	p := &fakeProber{clk: c.clk, result: probe.Success}
	c.probers[t.Name] = p
	return p, nil
}

func TestApplyAddRemoveKeepsCounters(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1700000000, 0)}
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	c := &counting{created: map[string]int{}, probers: map[string]*fakeProber{}, clk: clk}
	s := New(m, clk, c.newProber, slog.New(slog.DiscardHandler))
	defer s.Stop()
	step := func(n, timers int) { // n probe rounds
		for range n {
			clk.next(t, timers)
			clk.Advance(time.Second)
		}
		clk.next(t, timers)
	}
	a, b := tgt("a", "198.51.100.11"), tgt("b", "198.51.100.12")
	if err := s.Apply([]config.Target{a, b}); err != nil {
		t.Fatal(err)
	}
	step(3, 2)
	success := func(name, nexthop string) string {
		return `dns_sla_probes_total{nexthop="` + nexthop + `",result="success",service="",target="` + name + `"} `
	}
	expect := func(lines ...string) {
		t.Helper()
		got := gatherSuccess(t, reg)
		sort.Strings(lines)
		if !slices.Equal(got, lines) {
			t.Errorf("success series\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(lines, "\n"))
		}
	}
	expect(success("a", "198.51.100.11")+"3", success("b", "198.51.100.12")+"3")

	// Reload: a unchanged (only its line moved), b removed, c added.
	a2 := a
	a2.Line = 42
	if err := s.Apply([]config.Target{a2, tgt("c", "198.51.100.13")}); err != nil {
		t.Fatal(err)
	}
	expect(success("a", "198.51.100.11")+"3", success("c", "198.51.100.13")+"0")
	if !c.probers["b"].closed.Load() {
		t.Error("removed target's prober not closed")
	}
	if got := testutil.ToFloat64(m.Targets); got != 2 {
		t.Errorf("dns_sla_targets %v, want 2", got)
	}
	step(2, 2)
	expect(success("a", "198.51.100.11")+"5", success("c", "198.51.100.13")+"2")
	if c.created["a"] != 1 {
		t.Errorf("unchanged target's prober created %d times, want 1", c.created["a"])
	}

	// A failing reload changes nothing.
	c.fail = true
	if err := s.Apply([]config.Target{tgt("d", "198.51.100.14")}); err == nil {
		t.Error("Apply with a failing prober succeeded")
	}
	c.fail = false
	expect(success("a", "198.51.100.11")+"5", success("c", "198.51.100.13")+"2")

	// Same labels, other settings: restarted, counters kept. New labels: new series.
	a3 := a
	a3.QueryName = "other.example.test."
	if err := s.Apply([]config.Target{a3, tgt("c", "198.51.100.99")}); err != nil {
		t.Fatal(err)
	}
	expect(success("a", "198.51.100.11")+"5", success("c", "198.51.100.99")+"0")
	if c.created["a"] != 2 {
		t.Errorf("changed target's prober created %d times, want 2", c.created["a"])
	}
}

func gatherSuccess(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "dns_sla_probes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["result"] != "success" {
				continue
			}
			out = append(out, `dns_sla_probes_total{nexthop="`+l["nexthop"]+`",result="success",service="",target="`+l["target"]+`"} `+
				strconv.FormatFloat(m.GetCounter().GetValue(), 'g', -1, 64))
		}
	}
	sort.Strings(out)
	return out
}

// realProber sleeps on the real clock and tracks concurrent probes per target.
type realProber struct {
	sleep             time.Duration
	inFlight, maxSeen atomic.Int32
	probes            atomic.Int32
}

func (p *realProber) Probe(context.Context) probe.Outcome {
	n := p.inFlight.Add(1)
	for {
		m := p.maxSeen.Load()
		if n <= m || p.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(p.sleep)
	p.inFlight.Add(-1)
	p.probes.Add(1)
	return probe.Outcome{Result: probe.Timeout}
}

func (p *realProber) Close() error { return nil }

// One slow target never gets two probes in flight and never holds up others.
func TestNoOverlapAndNoStall(t *testing.T) {
	g0 := runtime.NumGoroutine()
	probers := map[string]*realProber{"slow": {sleep: 70 * time.Millisecond}}
	var targets []config.Target
	for i := range 10 {
		name := "fast" + strconv.Itoa(i)
		probers[name] = &realProber{}
		targets = append(targets, tgt(name, "198.51.100.1"))
	}
	targets = append(targets, tgt("slow", "198.51.100.2"))
	for i := range targets {
		targets[i].Interval = 20 * time.Millisecond
	}
	s := New(metrics.New(prometheus.NewRegistry()), nil, func(t config.Target) (Prober, error) { return probers[t.Name], nil }, slog.New(slog.DiscardHandler))
	if err := s.Apply(targets); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	s.Stop()
	for name, p := range probers {
		if m := p.maxSeen.Load(); m != 1 {
			t.Errorf("%s: %d probes in flight at once", name, m)
		}
		if name != "slow" && p.probes.Load() < 5 {
			t.Errorf("%s: only %d probes in 400ms at a 20ms interval", name, p.probes.Load())
		}
	}
	// The slow target skipped ticks instead of queueing them.
	if n := probers["slow"].probes.Load(); n > 7 {
		t.Errorf("slow target probed %d times in 400ms, more than its 70ms probes allow", n)
	}
	if s.Len() != 0 {
		t.Errorf("%d loops after Stop", s.Len())
	}
	time.Sleep(20 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > g0+1 {
		t.Errorf("goroutines %d before, %d after Stop", g0, g)
	}
}
