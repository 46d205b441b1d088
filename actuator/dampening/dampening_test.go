package dampening

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

var (
	t0 = time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC)
	k  = Key{netip.MustParsePrefix("192.0.2.53/32"), netip.MustParseAddr("198.51.100.12")}
)

// issueConfig is the example of issue 11 (also the defaults).
var issueConfig = Config{
	HalfLife: model.Duration(time.Minute), Penalty: 1000, SuppressThreshold: 2500, ReuseThreshold: 750,
	MaxSuppress: model.Duration(10 * time.Minute),
}

// step is one observation: at t0+at, down says whether a withdraw alert holds k down.
type step struct {
	at   time.Duration
	down bool
}

// cycles returns n withdraw/restore cycles, one every period, down for half of it.
func cycles(n int, period time.Duration) []step {
	var s []step
	for i := range n {
		s = append(s, step{time.Duration(i) * period, true}, step{time.Duration(i)*period + period/2, false})
	}
	return s
}

func TestDamper(t *testing.T) {
	hold := model.Duration(30 * time.Second)
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
		// checks: at t0+at, suppressed or not (and until, when set)
		checks []check
		flaps  int
	}{
		{
			name: "one flap: penalty 1000 < 2500, no suppression", cfg: issueConfig, steps: cycles(1, 2*time.Second), flaps: 1,
			checks: []check{{at: 2 * time.Second, suppressed: false, penalty: 1000 * pow2(-2.0/60)}},
		},
		{
			name: "two flaps within seconds: about 2000, still below suppress", cfg: issueConfig, steps: cycles(2, 2*time.Second), flaps: 2,
			checks: []check{{at: 4 * time.Second, suppressed: false}},
		},
		{
			// Third flap at t0+4s: 1000·2^(-4/60)+1000·2^(-2/60)+1000 ≈ 2932 >= 2500.
			// It decays to 750 after 60s·log2(2932.5/750) ≈ 118s.
			name: "three withdraw/restore cycles within seconds suppress until the penalty decays below reuse",
			cfg:  issueConfig, steps: cycles(3, 2*time.Second), flaps: 3,
			checks: []check{
				{at: 5 * time.Second, suppressed: true, until: t0.Add(4*time.Second + untilAfter(issueConfig, (pow2(-4.0/60)+pow2(-2.0/60)+1)*1000))},
				{at: 120 * time.Second, suppressed: true},
				{at: 123 * time.Second, suppressed: false},
			},
		},
		{
			// Twenty flaps a second apart would add up to about 17900; the
			// ceiling 750·2^(3m/1m) = 6000 caps them, and 6000 decays to reuse
			// in exactly max_suppress after the last flap.
			name:  "max_suppress caps the suppression after the last flap",
			cfg:   Config{HalfLife: model.Duration(time.Minute), MaxSuppress: model.Duration(3 * time.Minute), Penalty: 1000, SuppressThreshold: 2500, ReuseThreshold: 750},
			steps: cycles(20, time.Second), flaps: 20,
			checks: []check{
				{at: 19*time.Second + time.Second/2, suppressed: true, until: t0.Add(19*time.Second + 3*time.Minute), penalty: 6000 * pow2(-0.5/60)},
				{at: 19*time.Second + 3*time.Minute - time.Millisecond, suppressed: true},
				{at: 19*time.Second + 3*time.Minute, suppressed: false},
			},
		},
		{
			// delay up 30 (Cisco track): penalty = suppress = ceiling, one flap suppresses for exactly half_life = max_suppress.
			name:  "a fixed hold: every withdrawal keeps the nexthop out 30s",
			cfg:   Config{HalfLife: hold, MaxSuppress: hold, Penalty: 1000, SuppressThreshold: 1000, ReuseThreshold: 500},
			steps: []step{{0, true}, {5 * time.Second, false}, {40 * time.Second, true}, {41 * time.Second, false}},
			flaps: 2,
			checks: []check{
				{at: 5 * time.Second, suppressed: true, until: t0.Add(30 * time.Second)},
				{at: 30 * time.Second, suppressed: false},
				{at: 41 * time.Second, suppressed: true, until: t0.Add(70 * time.Second)},
				{at: 70 * time.Second, suppressed: false},
			},
		},
		{
			name: "a long outage counts once: the same level repeated is no flap",
			cfg:  issueConfig, flaps: 1,
			steps:  []step{{0, true}, {time.Second, true}, {2 * time.Second, true}, {3 * time.Second, true}, {4 * time.Second, false}, {5 * time.Second, false}},
			checks: []check{{at: 5 * time.Second, suppressed: false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			d := New(tc.cfg)
			flaps := 0
			steps := tc.steps
			for _, c := range tc.checks {
				for len(steps) > 0 && steps[0].at <= c.at {
					if d.Update(k, steps[0].down, t0.Add(steps[0].at)) {
						flaps++
					}
					steps = steps[1:]
				}
				now := t0.Add(c.at)
				s := d.Status(k, now)
				if s.Suppressed != c.suppressed || d.Suppressed(k, now) != c.suppressed {
					t.Errorf("at +%s: suppressed %v, want %v (status %+v)", c.at, s.Suppressed, c.suppressed, s)
				}
				if !c.until.IsZero() && s.Until.Sub(c.until).Abs() > time.Millisecond {
					t.Errorf("at +%s: until %s, want %s", c.at, s.Until, c.until)
				}
				if c.suppressed && !s.Until.After(now) {
					t.Errorf("at +%s: suppressed with until %s not after now", c.at, s.Until)
				}
				if c.penalty != 0 && abs(s.Penalty-c.penalty) > 0.01 {
					t.Errorf("at +%s: penalty %.3f, want %.3f", c.at, s.Penalty, c.penalty)
				}
				if c.suppressed && d.Next(now) != s.Until {
					t.Errorf("at +%s: Next %s, want the suppression's end %s", c.at, d.Next(now), s.Until)
				}
			}
			for _, s := range steps {
				if d.Update(k, s.down, t0.Add(s.at)) {
					flaps++
				}
			}
			if flaps != tc.flaps || d.Status(k, t0).Flaps != tc.flaps {
				t.Errorf("flaps %d (status %d), want %d", flaps, d.Status(k, t0).Flaps, tc.flaps)
			}
		})
	}
}

type check struct {
	at         time.Duration
	suppressed bool
	until      time.Time
	penalty    float64
}

func pow2(x float64) float64 { return math.Exp2(x) }

func untilAfter(c Config, penalty float64) time.Duration {
	return time.Duration(float64(c.HalfLife) * math.Log2(penalty/c.ReuseThreshold))
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestPruneExportImport(t *testing.T) {
	d := New(issueConfig)
	other := Key{k.Prefix, netip.MustParseAddr("198.51.100.13")}
	for _, s := range cycles(3, 2*time.Second) {
		d.Update(k, s.down, t0.Add(s.at))
	}
	d.Update(other, true, t0)
	d.Update(other, false, t0.Add(time.Second))

	// Export/Import round trip through JSON keeps suppression and penalty.
	recs := d.Export()
	if len(recs) != 2 || recs[0].Nexthop != k.Nexthop || recs[1].Nexthop != other.Nexthop {
		t.Fatalf("export = %+v", recs)
	}
	d2 := New(issueConfig)
	if err := d2.Import(recs); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(10 * time.Second)
	if d2.Status(k, now) != d.Status(k, now) || !d2.Suppressed(k, now) {
		t.Errorf("imported status %+v, want %+v", d2.Status(k, now), d.Status(k, now))
	}

	// After 2 half-lives other's 1000 is at 250 <= 375: forgotten; k stays (suppressed).
	d.Prune(t0.Add(2*time.Minute+time.Second), nil)
	if got := d.Export(); len(got) != 1 || got[0].Nexthop != k.Nexthop {
		t.Errorf("after prune: %+v", got)
	}
	d.Prune(t0, func(Key) bool { return false })
	if got := d.Export(); len(got) != 0 {
		t.Errorf("keys not kept must go: %+v", got)
	}

	for _, bad := range [][]Record{
		{{Route: k.Prefix, Nexthop: k.Nexthop, Penalty: -1}},
		{{Route: netip.MustParsePrefix("192.0.2.53/24"), Nexthop: k.Nexthop}},
		{{Route: k.Prefix}},
		{{Route: k.Prefix, Nexthop: k.Nexthop}, {Route: k.Prefix, Nexthop: k.Nexthop}},
	} {
		if err := d2.Import(bad); err == nil {
			t.Errorf("Import(%+v) succeeded", bad)
		}
	}
	if !d2.Suppressed(k, now) {
		t.Error("a refused Import changed the state")
	}
}
