package routetest

import (
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
)

func change(act route.Action, from, to []netip.Addr) route.Change {
	out := route.Diff([]route.Route{route.New(svc, from...)}, []route.Route{route.New(svc, to...)})
	if len(from) == 0 {
		out = route.Diff(nil, []route.Route{route.New(svc, to...)})
	}
	c := out[0]
	c.Action = act
	return c
}

func TestInvariants(t *testing.T) {
	for _, tc := range []struct {
		name      string
		installed []netip.Addr
		change    route.Change
		want      string // "" = no complaint
	}{
		{"valid create", nil, change(route.Create, nil, []netip.Addr{a, b}), ""},
		{"valid update", []netip.Addr{a, b}, change(route.Update, []netip.Addr{a, b}, []netip.Addr{a, b}[:1]), ""},
		{"create over an existing route", []netip.Addr{a}, change(route.Create, nil, []netip.Addr{a, b}), "create 192.0.2.53/32 but it exists"},
		{"From does not match", []netip.Addr{a}, change(route.Update, []netip.Addr{a, b}, []netip.Addr{b}), "does not match installed"},
		{"below min_nexthops", []netip.Addr{a, b}, change(route.Update, []netip.Addr{a, b}, []netip.Addr{a}), "fewer than min_nexthops 2"},
		{"unmanaged prefix", nil, route.Change{Action: route.Create, Prefix: other, To: []netip.Addr{a}, Add: []netip.Addr{a}}, "unmanaged prefix"},
		{"Add inconsistent", nil, route.Change{Action: route.Create, Prefix: svc, To: []netip.Addr{a, b}, Add: []netip.Addr{a}}, "inconsistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			min := 1
			if tc.name == "below min_nexthops" {
				min = 2
			}
			f := New(rec, map[netip.Prefix]int{svc: min})
			if tc.installed != nil {
				f.Set(route.New(svc, tc.installed...))
			}
			_ = f.Apply(t.Context(), tc.change)
			got := strings.Join(rec.errs, "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("complaints %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIgnoreAndErrors(t *testing.T) {
	f := New(t, map[netip.Prefix]int{svc: 1})
	f.Ignore = true
	if err := f.Apply(t.Context(), change(route.Create, nil, []netip.Addr{a})); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Get(svc); ok || len(f.Applied()) != 1 {
		t.Error("Ignore must record the change but not perform it")
	}
	f.ListErr = func() error { return route.ErrUnavailable }
	if _, err := f.List(t.Context(), nil); err != route.ErrUnavailable {
		t.Errorf("List err = %v", err)
	}
}
