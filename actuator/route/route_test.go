package route

import (
	"net/netip"
	"reflect"
	"testing"
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func r(p string, nhs ...string) Route { return New(netip.MustParsePrefix(p), addrs(nhs...)...) }

func TestNewNormalizes(t *testing.T) {
	got := New(netip.MustParsePrefix("192.0.2.53/24"), addrs("198.51.100.12", "198.51.100.11", "198.51.100.12")...)
	want := Route{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Nexthops: addrs("198.51.100.11", "198.51.100.12")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("New = %+v, want %+v", got, want)
	}
	if !got.Equal(Route{Prefix: want.Prefix, Nexthops: addrs("198.51.100.12", "198.51.100.11")}) {
		t.Error("Equal depends on nexthop order")
	}
	if got.Equal(r("192.0.2.0/24", "198.51.100.11")) {
		t.Error("Equal ignores a missing nexthop")
	}
}

func TestSortByPrefix(t *testing.T) {
	rs := []Route{r("203.0.113.53/32", "198.51.100.11"), r("192.0.2.53/32", "198.51.100.11"), r("192.0.2.0/24", "198.51.100.11")}
	Sort(rs)
	var ps []string
	for _, x := range rs {
		ps = append(ps, x.Prefix.String())
	}
	want := []string{"192.0.2.0/24", "192.0.2.53/32", "203.0.113.53/32"}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("order %v, want %v", ps, want)
	}
}
