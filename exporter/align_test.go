package exporter

import (
	"testing"
	"time"

	"github.com/slaroute/slaroute/exporter/scheduler"
)

func TestEstimate(t *testing.T) {
	base := time.Unix(1700000000, 0)
	ms := time.Millisecond
	every := func(interval, phase time.Duration, jitter ...time.Duration) []time.Time {
		var at []time.Time
		for i := range scrapeSamples {
			d := base.Add(phase + time.Duration(i)*interval)
			if len(jitter) > 0 {
				d = d.Add(jitter[i%len(jitter)])
			}
			at = append(at, d)
		}
		return at
	}
	interleaved := every(250*ms, 37*ms)
	for i := 1; i < len(interleaved); i += 2 {
		interleaved[i] = interleaved[i].Add(110 * ms)
	}
	late := every(250*ms, 37*ms)
	late[4] = late[4].Add(60 * ms)
	late[20] = late[20].Add(90 * ms)
	for _, tc := range []struct {
		name string
		at   []time.Time
		want scheduler.Alignment
	}{
		{"steady", every(250*ms, 37*ms), scheduler.Alignment{Interval: 250 * ms, Phase: 37 * ms}},
		{"jitter", every(250*ms, 37*ms, 2*ms, -1*ms, 0, 3*ms), scheduler.Alignment{Interval: 250 * ms, Phase: 39 * ms}},
		{"two late scrapes", late, scheduler.Alignment{Interval: 250 * ms, Phase: 37 * ms}},
		{"phase wraps around 0", every(250*ms, 0, 2*ms, -2*ms), scheduler.Alignment{Interval: 250 * ms, Phase: 2 * ms}},
		{"too few", every(250*ms, 37*ms)[1:], scheduler.Alignment{}},
		{"two Prometheus servers", interleaved, scheduler.Alignment{}},
	} {
		if got, ok := estimate(tc.at); got != tc.want || ok != (tc.want != scheduler.Alignment{}) {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, ok, tc.want)
		}
	}
}

// observe reports a change once the schedule is known, not for jitter
// within phaseSlack, and again when it moves or is lost.
func TestScrapeClockObserve(t *testing.T) {
	var c scrapeClock
	at := time.Unix(1700000000, 37_000_000)
	ms := time.Millisecond
	var changes []scheduler.Alignment
	step := func(d time.Duration) {
		at = at.Add(d)
		if a, changed := c.observe(at); changed {
			changes = append(changes, a)
		}
	}
	for range scrapeSamples {
		step(250 * ms)
	}
	for range 20 {
		step(250*ms + 2*ms)
		step(250*ms - 2*ms)
	}
	if len(changes) != 1 || changes[0].Interval != 250*ms {
		t.Fatalf("changes %+v, want one to 250ms", changes)
	}
	step(250*ms + 100*ms) // Prometheus restarted with another offset
	for range 2 * scrapeSamples {
		step(250 * ms)
	}
	last := changes[len(changes)-1]
	if moved := circular(last.Phase-changes[0].Phase, 250*ms); len(changes) != 2 || last.Interval != 250*ms || (moved-100*ms).Abs() > 2*ms {
		t.Errorf("after the move: %+v", changes)
	}
	// A second Prometheus joins at another phase: the probes stay aligned
	// for a window, then go back to their hash phases.
	for range scrapeSamples {
		step(70 * ms)
		step(180 * ms)
	}
	if last := changes[len(changes)-1]; len(changes) != 3 || last != (scheduler.Alignment{}) {
		t.Errorf("with two scrapers: %+v", changes)
	}
}
