package routetest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/slaroute/slaroute/actuator/route"
)

// recorder captures the fake's complaints instead of failing this test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

var (
	svc   = netip.MustParsePrefix("192.0.2.53/32")
	other = netip.MustParsePrefix("192.0.2.99/32")
	a     = netip.MustParseAddr("198.51.100.11")
	b     = netip.MustParseAddr("198.51.100.12")
	v6    = netip.MustParseAddr("2001:db8::11")
)

func TestInvariants(t *testing.T) {
	for _, tc := range []struct {
		name string
		min  int
		want route.Route
		err  string // "" = no complaint
	}{
		{"valid create", 1, route.New(svc, a, b), ""},
		{"valid remove", 2, route.New(svc), ""},
		{"below min_nexthops", 2, route.New(svc, a), "fewer than min_nexthops 2"},
		{"unmanaged prefix", 1, route.New(other, a), "unmanaged prefix"},
		{"unsorted nexthops", 1, route.Route{Prefix: svc, Nexthops: []netip.Addr{b, a}}, "normal form"},
		{"unmasked prefix", 1, route.Route{Prefix: netip.MustParsePrefix("192.0.2.53/24"), Nexthops: []netip.Addr{a}}, "normal form"},
		{"other family", 1, route.New(svc, v6), "another family"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			f := New(rec, map[netip.Prefix]int{svc: tc.min})
			f.Put(route.New(svc, a, b))
			_, _ = f.Set(t.Context(), tc.want)
			got := strings.Join(rec.errs, "; ")
			if tc.err == "" && got != "" || tc.err != "" && !strings.Contains(got, tc.err) {
				t.Errorf("complaints %q, want %q", got, tc.err)
			}
		})
	}
}

func TestSetReturnsReadBack(t *testing.T) {
	f := New(t, map[netip.Prefix]int{svc: 1})
	got, err := route.SetOne(t.Context(), f, route.New(svc, a))
	if err != nil || !got.Equal(route.New(svc, a)) {
		t.Fatalf("Set = %s, %v", got, err)
	}
	if got, _ := route.SetOne(t.Context(), f, route.New(svc)); len(got.Nexthops) != 0 {
		t.Fatalf("Set of no nexthops left %s", got)
	}
	if _, ok := f.Get(svc); ok {
		t.Error("route still held after removal")
	}
}

func TestIgnoreAndErrors(t *testing.T) {
	f := New(t, map[netip.Prefix]int{svc: 1})
	f.Ignore = true
	got, err := route.SetOne(t.Context(), f, route.New(svc, a))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Get(svc); ok || len(f.Sets()) != 1 || len(got.Nexthops) != 0 {
		t.Error("Ignore must record the Set, not perform it, and return the unchanged route")
	}
	f.ListErr = func() error { return route.ErrUnavailable }
	if _, err := f.List(t.Context()); err != route.ErrUnavailable {
		t.Errorf("List err = %v", err)
	}
}

func TestSetBatch(t *testing.T) {
	f := New(t, map[netip.Prefix]int{svc: 1, other: 1})
	f.Put(route.New(other, a))
	f.SetErr = func(r route.Route) error {
		if r.Prefix == other {
			return route.ErrUnavailable
		}
		return nil
	}
	got, err := f.Set(t.Context(), route.New(svc, a, b), route.New(other))
	if !errors.Is(err, route.ErrUnavailable) || !strings.Contains(err.Error(), other.String()) {
		t.Errorf("err = %v, want the failed route's ErrUnavailable", err)
	}
	if len(got) != 2 || !got[0].Equal(route.New(svc, a, b)) || !got[1].Equal(route.New(other, a)) {
		t.Errorf("Set = %v, want the applied route and the failed one as held", got)
	}
	rec := &recorder{TB: t}
	f = New(rec, map[netip.Prefix]int{svc: 1})
	_, _ = f.Set(t.Context(), route.New(svc, a), route.New(svc))
	if !strings.Contains(strings.Join(rec.errs, "; "), "twice") {
		t.Errorf("complaints %q, want a duplicate prefix", rec.errs)
	}
}
