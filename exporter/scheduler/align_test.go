package scheduler

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/metrics"
)

// Aligned, a target keeps its slot among the interval's scrapes (the hash
// still spreads targets over them) and its result is due AlignLead to
// AlignLead+AlignSpread before the scrape; an interval that is no multiple
// of the scrape interval keeps the hash phase.
func TestOffsetAligned(t *testing.T) {
	a := Alignment{Interval: 250 * time.Millisecond, Phase: 37 * time.Millisecond}
	slots := map[time.Duration]int{}
	for i := range 2000 {
		name := "dns" + strconv.Itoa(i)
		off := aligned(Offset(name, time.Second), time.Second, a)
		if off < 0 || off >= time.Second {
			t.Fatalf("%s: offset %v outside the interval", name, off)
		}
		if got, want := off/a.Interval, Offset(name, time.Second)/a.Interval; got != want {
			t.Fatalf("%s: slot %d, want %d", name, got, want)
		}
		slots[off/a.Interval]++
		before := mod(a.Phase-off, a.Interval)
		if before < AlignLead || before >= AlignLead+AlignSpread {
			t.Fatalf("%s: probe %v before the scrape, want [%v, %v)", name, before, AlignLead, AlignLead+AlignSpread)
		}
		if got := aligned(Offset(name, 1100*time.Millisecond), 1100*time.Millisecond, a); got != Offset(name, 1100*time.Millisecond) {
			t.Fatalf("%s: 1.1s interval moved to %v", name, got)
		}
		if got := aligned(Offset(name, time.Second), time.Second, Alignment{}); got != Offset(name, time.Second) {
			t.Fatalf("%s: no alignment moved it to %v", name, got)
		}
	}
	for s, n := range slots {
		if n < 400 || n > 600 {
			t.Errorf("slot %d holds %d of 2000 targets: not spread", s, n)
		}
	}
}

func TestTickAfter(t *testing.T) {
	base := time.Unix(1700000000, 0)
	ms := time.Millisecond
	for _, tc := range []struct{ at, off, want time.Duration }{
		{0, 0, time.Second},
		{0, 300 * ms, 300 * ms},
		{300 * ms, 300 * ms, 1300 * ms},
		{299 * ms, 300 * ms, 300 * ms},
		{999 * ms, 0, time.Second},
	} {
		if got := tickAfter(base.Add(tc.at), tc.off, time.Second); !got.Equal(base.Add(tc.want)) {
			t.Errorf("after +%v at phase %v: +%v, want +%v", tc.at, tc.off, got.Sub(base), tc.want)
		}
	}
}

// Align moves running loops to the new grid from their next probe, never
// sooner than half an interval after the last one.
func TestAlignMovesProbes(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1700000000, 0)}
	p := &fakeProber{clk: clk, durs: make([]time.Duration, 6)}
	s := New(metrics.New(prometheus.NewRegistry()), clk, func(config.Target) (Prober, error) { return p, nil }, slog.New(slog.DiscardHandler))
	if err := s.Apply([]config.Target{tgt("a", "198.51.100.11")}); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	a := Alignment{Interval: 250 * time.Millisecond, Phase: 37 * time.Millisecond}
	for i := range len(p.durs) {
		at := clk.next(t, 1) // probe i is armed
		if i == 2 {
			s.Align(a)
		}
		clk.Advance(at.Sub(clk.Now()))
	}
	clk.next(t, 1)
	starts := p.startTimes()
	phase := func(t time.Time) time.Duration { return time.Duration(t.UnixNano() % int64(time.Second)) }
	for i, st := range starts {
		want := Offset("a", time.Second)
		if i >= 3 { // probe 2 was armed before the Align call
			want = aligned(Offset("a", time.Second), time.Second, a)
		}
		if phase(st) != want {
			t.Errorf("probe %d at phase %v, want %v", i, phase(st), want)
		}
		if i > 0 && st.Sub(starts[i-1]) < 500*time.Millisecond {
			t.Errorf("probe %d only %v after the previous one", i, st.Sub(starts[i-1]))
		}
	}
}
