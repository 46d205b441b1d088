package scheduler

import "time"

// Alignment is the schedule of the fast scrape job that reads the verdict:
// scrapes at Phase + k*Interval on the Unix clock. With it, a target whose
// probe interval is a multiple of Interval probes so that its result lands
// just before a scrape instead of anywhere up to Interval before one; so
// does its timeout when the timeout is a multiple of Interval too (500ms
// against 250ms). The zero value is no alignment: hash phases only.
type Alignment struct{ Interval, Phase time.Duration }

const (
	// AlignLead is how long before the scrape a result is due at the
	// latest: the probe's round trip and the scheduling lag fit in it.
	AlignLead = 15 * time.Millisecond
	// AlignSpread spreads the targets over this window before AlignLead,
	// so that they do not all probe in the same millisecond.
	AlignSpread = 60 * time.Millisecond
)

// aligned is the phase of a target within its interval: its hash phase
// off (Offset), or with a the same scrape slot (which of the interval's
// scrapes follows the probe: still spread by the hash) moved to just
// before that scrape.
func aligned(off, interval time.Duration, a Alignment) time.Duration {
	if a.Interval <= 0 || interval%a.Interval != 0 {
		return off
	}
	slot, within := off/a.Interval, off%a.Interval
	spread := within * AlignSpread / a.Interval
	return slot*a.Interval + mod(a.Phase-AlignLead-spread, a.Interval)
}

func mod(d, m time.Duration) time.Duration {
	if d %= m; d < 0 {
		d += m
	}
	return d
}

// tickAfter is the first time strictly after t at phase off of interval.
func tickAfter(t time.Time, off, interval time.Duration) time.Time {
	into := time.Duration(t.UnixNano() % int64(interval))
	return t.Add(mod(off-into-1, interval) + 1)
}

// Align moves every target to a's schedule from its next probe on.
func (s *Scheduler) Align(a Alignment) { s.align.Store(&a) }
