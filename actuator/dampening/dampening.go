// Package dampening damps flapping nexthops with RFC 2439's model, as routers
// damp BGP route flaps: every withdrawal caused by an alert adds a penalty
// that decays exponentially; above suppress_threshold the nexthop stays out
// after its alert resolves, until the penalty decays below reuse_threshold.
// Penalties are capped at the ceiling reuse × 2^(max_suppress/half_life)
// (FRR's bgp_damp.c), so a nexthop is suppressed at most max_suppress after
// its last flap.
//
// It is pure: the caller passes the time, serialises calls and persists
// Export's records. The guards (fail-open, min_nexthops) are the policy's:
// it asks Suppressed and may still keep a suppressed nexthop.
package dampening

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/common/model"
)

// Config is the `dampening:` section of route_actuator.yml; no section, no dampening.
type Config struct {
	// HalfLife is how long the penalty takes to halve.
	HalfLife model.Duration `yaml:"half_life"`
	// Penalty is added each time an alert withdraws the nexthop.
	Penalty float64 `yaml:"penalty"`
	// SuppressThreshold: at or above it, a flap suppresses the nexthop.
	SuppressThreshold float64 `yaml:"suppress_threshold"`
	// ReuseThreshold: below it a suppressed nexthop may return.
	ReuseThreshold float64 `yaml:"reuse_threshold"`
	// MaxSuppress is the longest a nexthop stays suppressed after its last flap.
	MaxSuppress model.Duration `yaml:"max_suppress"`
}

// DefaultConfig fills keys a present `dampening:` section leaves out. FRR's
// defaults use a 15 minute half-life, made for BGP; DNS servers recover in
// seconds to minutes.
var DefaultConfig = Config{
	HalfLife:          model.Duration(time.Minute),
	Penalty:           1000,
	SuppressThreshold: 2500,
	ReuseThreshold:    750,
	MaxSuppress:       model.Duration(10 * time.Minute),
}

// SetDefaults fills a present section's defaults (configkit.Defaulter).
func (c *Config) SetDefaults() { *c = DefaultConfig }

// maxRatio bounds max_suppress/half_life, FRR's largest (255 min / 1 min):
// the ceiling reuse × 2^ratio stays a finite float.
const maxRatio = 255

// FieldError is a validation error about one key of the section, so that the
// configuration loader can name that key's line.
type FieldError struct {
	Field  string // YAML key, e.g. "reuse_threshold"
	Reason string
}

func (e *FieldError) Error() string { return "dampening." + e.Field + ": " + e.Reason }

// Validate checks the section; errors are *FieldError.
func (c Config) Validate() error {
	hl, ms := time.Duration(c.HalfLife), time.Duration(c.MaxSuppress)
	positive := []struct {
		field string
		ok    bool
		value any
	}{
		{"half_life", hl > 0, c.HalfLife},
		{"penalty", c.Penalty > 0 && !math.IsInf(c.Penalty, 0), c.Penalty},
		{"suppress_threshold", c.SuppressThreshold > 0 && !math.IsInf(c.SuppressThreshold, 0), c.SuppressThreshold},
		{"reuse_threshold", c.ReuseThreshold > 0, c.ReuseThreshold},
		{"max_suppress", ms > 0, c.MaxSuppress},
	}
	for _, p := range positive {
		if !p.ok {
			return &FieldError{p.field, fmt.Sprintf("must be positive and finite, not %v", p.value)}
		}
	}
	switch {
	case c.ReuseThreshold >= c.SuppressThreshold:
		return &FieldError{"reuse_threshold", fmt.Sprintf("%v must be below suppress_threshold %v", c.ReuseThreshold, c.SuppressThreshold)}
	case ms < hl:
		return &FieldError{"max_suppress", fmt.Sprintf("%s is shorter than half_life %s", c.MaxSuppress, c.HalfLife)}
	case ms > maxRatio*hl:
		return &FieldError{"max_suppress", fmt.Sprintf("%s exceeds %d × half_life %s", c.MaxSuppress, maxRatio, c.HalfLife)}
	case c.ceiling() < c.SuppressThreshold:
		return &FieldError{"suppress_threshold", fmt.Sprintf("%v is never reached: penalties are capped at reuse_threshold × 2^(max_suppress/half_life) = %.0f",
			c.SuppressThreshold, c.ceiling())}
	}
	return nil
}

// ceiling is the largest penalty: it decays to reuse in exactly max_suppress.
func (c Config) ceiling() float64 {
	return c.ReuseThreshold * math.Exp2(float64(c.MaxSuppress)/float64(c.HalfLife))
}

// Key is one nexthop of one route.
type Key struct {
	Prefix  netip.Prefix
	Nexthop netip.Addr
}

// Record is one key's state, as persisted in the state file.
type Record struct {
	Route   netip.Prefix `json:"route"`
	Nexthop netip.Addr   `json:"nexthop"`
	// Penalty as of Updated; it decays from there.
	Penalty float64   `json:"penalty"`
	Updated time.Time `json:"updated"`
	// Suppressed is set by a flap that reached suppress_threshold and holds
	// until the penalty decays below reuse_threshold.
	Suppressed bool `json:"suppressed,omitempty"`
	// Down: a withdraw alert held the nexthop down at the last Update, so a
	// repeat of the same level is not another flap (also across restarts).
	Down  bool `json:"down,omitempty"`
	Flaps int  `json:"flaps"`
}

// Status is what the API and the policy show of one key.
type Status struct {
	Penalty    float64
	Suppressed bool
	// Until is when a suppressed nexthop may return (zero when not suppressed).
	Until time.Time
	Flaps int
}

// Damper holds the penalties of every key. Not safe for concurrent use.
type Damper struct {
	cfg     Config
	entries map[Key]*Record
}

// New returns a damper; cfg must have passed Validate.
func New(cfg Config) *Damper { return &Damper{cfg: cfg, entries: map[Key]*Record{}} }

// SetConfig swaps in a reloaded configuration; penalties stay and decay
// under the new half-life from now on.
func (d *Damper) SetConfig(cfg Config) { d.cfg = cfg }

func (d *Damper) decayed(r *Record, now time.Time) float64 {
	dt := now.Sub(r.Updated)
	if dt <= 0 {
		return r.Penalty
	}
	return r.Penalty * math.Exp2(-float64(dt)/float64(d.cfg.HalfLife))
}

// until is when r's penalty falls to reuse_threshold.
func (d *Damper) until(r *Record) time.Time {
	if r.Penalty <= d.cfg.ReuseThreshold {
		return r.Updated
	}
	return r.Updated.Add(time.Duration(float64(d.cfg.HalfLife) * math.Log2(r.Penalty/d.cfg.ReuseThreshold)))
}

// Update records whether a withdraw alert holds k down at now. Each change
// from up to down is one flap: the decayed penalty plus penalty, capped at
// the ceiling, suppressing k when it reaches suppress_threshold. It reports
// whether this call was a flap. Calling it again with the same level changes
// nothing, so the caller may call it on every decision.
func (d *Damper) Update(k Key, down bool, now time.Time) bool {
	r := d.entries[k]
	if r == nil {
		if !down {
			return false
		}
		r = &Record{Route: k.Prefix, Nexthop: k.Nexthop, Updated: now}
		d.entries[k] = r
	}
	flap := down && !r.Down
	r.Down = down
	if !flap {
		return false
	}
	d.expire(r, now)
	r.Penalty = min(d.decayed(r, now)+d.cfg.Penalty, d.cfg.ceiling())
	r.Updated = now
	r.Flaps++
	if r.Penalty >= d.cfg.SuppressThreshold {
		r.Suppressed = true
	}
	return true
}

// expire ends r's suppression once its penalty has decayed below reuse.
func (d *Damper) expire(r *Record, now time.Time) {
	if r.Suppressed && !now.Before(d.until(r)) {
		r.Suppressed = false
	}
}

// Suppressed reports whether k must stay out at now, whatever its alerts say.
func (d *Damper) Suppressed(k Key, now time.Time) bool { return d.Status(k, now).Suppressed }

// Status returns k's penalty and suppression at now.
func (d *Damper) Status(k Key, now time.Time) Status {
	r := d.entries[k]
	if r == nil {
		return Status{}
	}
	s := Status{Penalty: d.decayed(r, now), Flaps: r.Flaps}
	if until := d.until(r); r.Suppressed && now.Before(until) {
		s.Suppressed, s.Until = true, until
	}
	return s
}

// Next is the earliest time a suppression ends after now (zero if none):
// the caller decides again then, since no alert will arrive to trigger it.
func (d *Damper) Next(now time.Time) time.Time {
	var next time.Time
	for _, r := range d.entries {
		if u := d.until(r); r.Suppressed && now.Before(u) && (next.IsZero() || u.Before(next)) {
			next = u
		}
	}
	return next
}

// Prune forgets keys that are up, not suppressed and whose penalty fell to
// half reuse_threshold (FRR frees its history there), and keys keep rejects
// (no longer configured). It bounds the state by the configuration.
func (d *Damper) Prune(now time.Time, keep func(Key) bool) {
	for k, r := range d.entries {
		d.expire(r, now)
		if (keep != nil && !keep(k)) || (!r.Down && !r.Suppressed && d.decayed(r, now) <= d.cfg.ReuseThreshold/2) {
			delete(d.entries, k)
		}
	}
}

// Export returns every record, sorted by route and nexthop, for the state file.
func (d *Damper) Export() []Record {
	out := make([]Record, 0, len(d.entries))
	for _, r := range d.entries {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(a.Route.Compare(b.Route), a.Nexthop.Compare(b.Nexthop))
	})
	return out
}

// CheckRecords reports the first record that makes no sense (the state
// file's loader refuses such a file rather than resetting penalties).
func CheckRecords(recs []Record) error {
	seen := make(map[Key]bool, len(recs))
	for i, r := range recs {
		k := Key{r.Route, r.Nexthop}
		switch {
		case !r.Route.IsValid() || r.Route.Masked() != r.Route || !r.Nexthop.IsValid():
			return fmt.Errorf("dampening record %d: invalid route %q or nexthop %q", i, r.Route, r.Nexthop)
		case r.Penalty < 0 || math.IsNaN(r.Penalty) || math.IsInf(r.Penalty, 0):
			return fmt.Errorf("dampening record %d (%s via %s): invalid penalty %v", i, r.Route, r.Nexthop, r.Penalty)
		case seen[k]:
			return fmt.Errorf("dampening record %d: %s via %s listed twice", i, r.Route, r.Nexthop)
		}
		seen[k] = true
	}
	return nil
}

// Import replaces the state with records from the state file, after
// CheckRecords: a record that makes no sense is an error, not a reset.
func (d *Damper) Import(recs []Record) error {
	if err := CheckRecords(recs); err != nil {
		return err
	}
	entries := make(map[Key]*Record, len(recs))
	for _, r := range recs {
		// A penalty saved under a larger ceiling (before a reload) is capped.
		r.Penalty = min(r.Penalty, d.cfg.ceiling())
		entries[Key{r.Route, r.Nexthop}] = &r
	}
	d.entries = entries
	return nil
}
