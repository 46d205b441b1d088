package exporter

import (
	"slices"
	"sync"
	"time"

	"github.com/slaroute/slaroute/exporter/scheduler"
)

// scrapeClock learns the fast job's schedule from the arrival times of its
// scrapes (the requests with changed_within), so that the scheduler can put
// probe results just before them (scheduler.Alignment). Prometheus scrapes
// a target at a fixed offset of a fixed interval; the schedule counts once
// all but a sixth of the last scrapeSamples arrivals lie within 1/20 of the
// interval of one grid (a late scrape or a request by hand moves nothing).
// While they do not (the scrape offset moved, until the old
// arrivals are out of the window), the probes stay where they are; after
// scrapeSamples such arrivals in a row they go back to their hash phases.
// Two Prometheus servers scraping at different phases never agree: no
// alignment.
type scrapeClock struct {
	mu       sync.Mutex
	at       []time.Time
	current  scheduler.Alignment
	unstable int // observations in a row without a schedule
}

const (
	scrapeSamples = 32
	// phaseSlack is how far the estimated phase may move before the probes
	// move with it: jitter of a few milliseconds moves nothing.
	phaseSlack = 5 * time.Millisecond
)

// observe records a scrape at t and returns the schedule and whether it
// changed.
func (c *scrapeClock) observe(t time.Time) (scheduler.Alignment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, t)
	if len(c.at) > scrapeSamples {
		c.at = c.at[1:]
	}
	a, ok := estimate(c.at)
	if !ok {
		if c.unstable++; c.unstable < scrapeSamples || c.current == (scheduler.Alignment{}) {
			return c.current, false
		}
		c.current = scheduler.Alignment{}
		return c.current, true
	}
	c.unstable = 0
	if a.Interval == c.current.Interval && circular(a.Phase-c.current.Phase, a.Interval).Abs() <= phaseSlack {
		return c.current, false
	}
	c.current = a
	return a, true
}

// estimate is the schedule of arrivals; false when there are too few of
// them or they do not keep one interval and phase.
func estimate(at []time.Time) (scheduler.Alignment, bool) {
	if len(at) < scrapeSamples {
		return scheduler.Alignment{}, false
	}
	// The interval to the millisecond from spans of half the samples: a
	// span's jitter is divided by its length, and a late scrape spoils two
	// spans of many. A wrong one (the offset moved within the window) leaves
	// most arrivals off the grid below.
	half := len(at) / 2
	spans := make([]time.Duration, 0, len(at)-half)
	for i := 0; i+half < len(at); i++ {
		spans = append(spans, at[i+half].Sub(at[i])/time.Duration(half))
	}
	slices.Sort(spans)
	interval := spans[len(spans)/2].Round(time.Millisecond)
	if interval <= 0 {
		return scheduler.Alignment{}, false
	}
	// The median phase, around the last arrival's so that none wraps.
	ref := time.Duration(at[len(at)-1].UnixNano() % int64(interval))
	offs := make([]time.Duration, 0, len(at))
	for _, t := range at {
		offs = append(offs, circular(time.Duration(t.UnixNano()%int64(interval))-ref, interval))
	}
	slices.Sort(offs)
	phase := (ref + offs[len(offs)/2] + interval) % interval
	// Most arrivals on the grid: a moved offset, a wrong interval or a
	// second scraper at another phase leaves many of them off it.
	stray := 0
	for _, t := range at {
		if circular(time.Duration(t.UnixNano()%int64(interval))-phase, interval).Abs() > interval/20 {
			stray++
		}
	}
	if stray > len(at)/6 {
		return scheduler.Alignment{}, false
	}
	return scheduler.Alignment{Interval: interval, Phase: phase}, true
}

// circular maps d into [-m/2, m/2); m, an interval in whole milliseconds,
// is positive and even.
func circular(d, m time.Duration) time.Duration {
	return ((d+m/2)%m+m)%m - m/2
}
