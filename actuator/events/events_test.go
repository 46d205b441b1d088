package events

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	t0         = time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC)
	nh11, nh12 = netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")
	nh13       = netip.MustParseAddr("198.51.100.13")
	down       = Cause{Kind: Alert, Alerts: []AlertRef{{Name: "DNSServerDown", Fingerprint: "3f2a", Since: t0, Labels: map[string]string{"nexthop": "198.51.100.12", "service": "192.0.2.53/32"}}}}
	drained    = Cause{Kind: Drain, Drain: &DrainRef{Reason: "kernel upgrade", Who: "alice", Expires: t0.Add(3 * time.Hour)}}
	minGuard   = Cause{Kind: MinNexthops, Detail: "keeps 1 of 2"}
	startup    = Cause{Kind: Startup}
)

func TestChanges(t *testing.T) {
	for _, tc := range []struct {
		name          string
		from, to      []netip.Addr
		before, after map[netip.Addr][]Cause
		fallback      Cause
		want          []string
	}{
		{
			name: "an alert removes, its end restores",
			from: []netip.Addr{nh11, nh12}, to: []netip.Addr{nh11},
			after: map[netip.Addr][]Cause{nh12: {down}}, fallback: Cause{Kind: Drift},
			want: []string{`-198.51.100.12 (alert DNSServerDown{nexthop="198.51.100.12", service="192.0.2.53/32"} fp=3f2a since 2026-12-04T03:12:00Z)`},
		},
		{
			name: "restored: the previous causes, ended",
			from: []netip.Addr{nh11}, to: []netip.Addr{nh11, nh12},
			before: map[netip.Addr][]Cause{nh12: {drained}}, fallback: Cause{Kind: Drift},
			want: []string{`+198.51.100.12 (drain "kernel upgrade" by alice until 2026-12-04T06:12:00Z ended)`},
		},
		{
			name: "a guard keeps one back in; a drain takes another out",
			from: []netip.Addr{nh11, nh13}, to: []netip.Addr{nh12, nh13},
			before: map[netip.Addr][]Cause{nh12: {down}},
			after:  map[netip.Addr][]Cause{nh12: {minGuard}, nh11: {drained, {Kind: Dampening, Dampening: &DampingRef{Penalty: 2932.4, SuppressedUntil: t0.Add(2 * time.Minute)}}}},
			want: []string{
				`-198.51.100.11 (drain "kernel upgrade" by alice until 2026-12-04T06:12:00Z; dampening penalty 2932 until 2026-12-04T03:14:00Z)`,
				`+198.51.100.12 (min_nexthops (keeps 1 of 2))`,
			},
		},
		{
			name: "nothing known: the fallback",
			to:   []netip.Addr{nh11, nh12}, fallback: startup,
			want: []string{`+198.51.100.11 (startup)`, `+198.51.100.12 (startup)`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range Changes(tc.from, tc.to, tc.before, tc.after, tc.fallback) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
	// The caller's causes are not modified by marking them ended.
	before := map[netip.Addr][]Cause{nh12: {drained}}
	Changes(nil, []netip.Addr{nh12}, before, nil, startup)
	if before[nh12][0].Ended {
		t.Error("Changes modified before")
	}
}

func TestRing(t *testing.T) {
	r := NewRing(3)
	if got := r.List(0, 0); len(got) != 0 {
		t.Fatalf("empty ring lists %v", got)
	}
	for i := range 5 {
		if e := r.Add(Event{Time: t0.Add(time.Duration(i) * time.Second)}); e.Seq != uint64(i+1) {
			t.Fatalf("seq %d, want %d", e.Seq, i+1)
		}
	}
	seqs := func(es []Event) (s []uint64) {
		for _, e := range es {
			s = append(s, e.Seq)
		}
		return s
	}
	for _, tc := range []struct {
		since uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{3, 4, 5}},
		{3, 0, []uint64{4, 5}},
		{0, 2, []uint64{4, 5}},
		{5, 0, nil},
	} {
		if got := seqs(r.List(tc.since, tc.limit)); !slices.Equal(got, tc.want) {
			t.Errorf("List(%d, %d) = %v, want %v", tc.since, tc.limit, got, tc.want)
		}
	}
}

// The JSON the events API serves: addresses as strings, empty fields left out.
func TestEventJSON(t *testing.T) {
	e := Event{Seq: 7, Time: t0, Route: netip.MustParsePrefix("192.0.2.53/32"), From: []netip.Addr{nh11, nh12}, To: []netip.Addr{nh11},
		Changes: Changes([]netip.Addr{nh11, nh12}, []netip.Addr{nh11}, nil, map[netip.Addr][]Cause{nh12: {drained}}, startup)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":7,"time":"2026-12-04T03:12:00Z","route":"192.0.2.53/32","from":["198.51.100.11","198.51.100.12"],"to":["198.51.100.11"],` +
		`"changes":[{"nexthop":"198.51.100.12","action":"removed","causes":[{"kind":"drain","drain":{"reason":"kernel upgrade","who":"alice","expires":"2026-12-04T06:12:00Z"}}]}]}`
	if string(b) != want {
		t.Errorf("json\n got: %s\nwant: %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Changes[0].Causes[0].Drain.Who != "alice" || back.Route != e.Route {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
