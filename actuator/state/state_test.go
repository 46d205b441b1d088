package state

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	t0         = time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC)
	svc        = netip.MustParsePrefix("192.0.2.53/32")
	svc2       = netip.MustParsePrefix("192.0.2.54/32")
	nh11, nh12 = netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")
	nh13       = netip.MustParseAddr("198.51.100.13")
	nh99       = netip.MustParseAddr("198.51.100.99")
	three      = []netip.Addr{nh11, nh12, nh13}
)

func drain(nh netip.Addr, route netip.Prefix) Drain {
	return Drain{Nexthop: nh, Route: route, Reason: "kernel upgrade", Who: "alice"}
}

func TestAdd(t *testing.T) {
	min2 := []Route{{Prefix: svc, Nexthops: three, MinNexthops: 2, Up: three}}
	for _, tc := range []struct {
		name   string
		have   []Drain
		d      Drain
		routes []Route
		force  bool
		err    error
		msg    string
		forced bool
	}{
		{name: "a healthy nexthop of every route", d: drain(nh12, netip.Prefix{}), routes: min2},
		{name: "one route only", d: drain(nh12, svc), routes: min2},
		{
			name: "below min_nexthops is refused", d: drain(nh12, netip.Prefix{}), err: ErrBelowMin,
			routes: []Route{{Prefix: svc, Nexthops: three, MinNexthops: 2, Up: []netip.Addr{nh11, nh12}}},
			msg:    "draining 198.51.100.12 would leave route 192.0.2.53/32 with 1 nexthop(s) in service, below min_nexthops 2 (force overrides)",
		},
		{
			name: "force overrides min_nexthops", d: drain(nh12, netip.Prefix{}), force: true, forced: true,
			routes: []Route{{Prefix: svc, Nexthops: three, MinNexthops: 2, Up: []netip.Addr{nh11, nh12}}},
		},
		{
			name: "never the last nexthop, even forced", d: drain(nh12, netip.Prefix{}), force: true, err: ErrBelowMin,
			routes: []Route{{Prefix: svc, Nexthops: three, MinNexthops: 1, Up: []netip.Addr{nh12}}},
			msg:    "draining 198.51.100.12 would leave route 192.0.2.53/32 without nexthops",
		},
		{
			name: "a nexthop already out moves nothing and is allowed", d: drain(nh13, netip.Prefix{}),
			routes: []Route{{Prefix: svc, Nexthops: three, MinNexthops: 2, Up: []netip.Addr{nh11, nh12}}},
		},
		{
			name: "only the drained route counts", d: drain(nh12, svc2),
			routes: []Route{{Prefix: svc, Nexthops: three, MinNexthops: 3, Up: three}, {Prefix: svc2, Nexthops: three, MinNexthops: 1, Up: three}},
		},
		{name: "unknown nexthop", d: drain(nh99, netip.Prefix{}), routes: min2, err: ErrNotFound, msg: "nexthop 198.51.100.99 is in no configured route"},
		{name: "unknown route", d: drain(nh12, svc2), routes: min2, err: ErrNotFound},
		{name: "no reason", d: Drain{Nexthop: nh12, Who: "alice"}, routes: min2, err: ErrInvalid, msg: "reason must be set"},
		{name: "reason too long", d: Drain{Nexthop: nh12, Who: "alice", Reason: strings.Repeat("x", MaxReasonBytes+1)}, routes: min2, err: ErrInvalid},
		{name: "no who", d: Drain{Nexthop: nh12, Reason: "x"}, routes: min2, err: ErrInvalid},
		{name: "expired already", d: Drain{Nexthop: nh12, Reason: "x", Who: "a", Expires: t0}, routes: min2, err: ErrInvalid},
		{name: "host bits", d: drain(nh12, netip.MustParsePrefix("192.0.2.53/24")), routes: min2, err: ErrInvalid},
		{name: "re-draining replaces", have: []Drain{{Nexthop: nh12, Reason: "old", Who: "bob", Created: t0.Add(-time.Hour)}}, d: drain(nh12, netip.Prefix{}), routes: min2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := State{Version: Version, Drains: slices.Clone(tc.have)}
			got, err := s.Add(tc.d, tc.routes, t0, tc.force)
			if !errors.Is(err, tc.err) || (tc.msg != "" && !strings.HasSuffix(err.Error(), tc.msg)) {
				t.Fatalf("err %v, want %v ending %q", err, tc.err, tc.msg)
			}
			if !slices.Equal(s.Drains, tc.have) {
				t.Errorf("Add modified its receiver: %+v", s.Drains)
			}
			if err != nil {
				if !slices.Equal(got.Drains, tc.have) {
					t.Errorf("refused Add changed drains: %+v", got.Drains)
				}
				return
			}
			want := tc.d
			want.Created, want.Forced = t0, tc.forced
			if len(got.Drains) != 1 || got.Drains[0] != want {
				t.Errorf("drains %+v, want [%+v]", got.Drains, want)
			}
		})
	}
}

func TestRemoveExpireDrained(t *testing.T) {
	s := State{Drains: []Drain{
		{Nexthop: nh11, Reason: "a", Who: "w", Created: t0, Expires: t0.Add(time.Hour)},
		{Nexthop: nh12, Reason: "b", Who: "w", Created: t0},
		{Nexthop: nh12, Route: svc2, Reason: "c", Who: "w", Created: t0, Expires: t0.Add(2 * time.Hour)},
	}}
	rev := State{Drains: slices.Clone(s.Drains)}
	slices.Reverse(rev.Drains)
	if got := rev.List(); !slices.Equal(got, s.Drains) || rev.Drains[0] != s.Drains[2] {
		t.Errorf("List() = %+v, want sorted by nexthop and route, receiver untouched", got)
	}
	if got := s.Drained(svc2, nh12); len(got) != 2 {
		t.Errorf("Drained(svc2, nh12) = %+v, want the all-routes and the svc2 drain", got)
	}
	if got := s.Drained(svc, nh13); len(got) != 0 {
		t.Errorf("Drained(svc, nh13) = %+v", got)
	}
	if n := s.NextExpiry(); !n.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextExpiry = %s", n)
	}
	after, expired := s.Expire(t0.Add(time.Hour - time.Nanosecond))
	if len(expired) != 0 || len(after.Drains) != 3 {
		t.Errorf("expired early: %+v", expired)
	}
	after, expired = s.Expire(t0.Add(time.Hour))
	if len(expired) != 1 || expired[0].Nexthop != nh11 || len(after.Drains) != 2 || len(s.Drains) != 3 {
		t.Errorf("Expire at the hour: expired %+v, left %+v", expired, after.Drains)
	}
	after, removed, err := s.Remove(nh12, svc2)
	if err != nil || len(removed) != 1 || removed[0].Reason != "c" || len(after.Drains) != 2 {
		t.Errorf("Remove(nh12, svc2) = %+v, %v", removed, err)
	}
	after, removed, err = s.Remove(nh12, netip.Prefix{})
	if err != nil || len(removed) != 2 || len(after.Drains) != 1 {
		t.Errorf("Remove(nh12) = %+v, %v", removed, err)
	}
	if _, _, err := s.Remove(nh13, netip.Prefix{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of an undrained nexthop: %v", err)
	}
}
