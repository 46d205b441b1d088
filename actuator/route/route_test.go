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

func TestDiff(t *testing.T) {
	svc := netip.MustParsePrefix("192.0.2.53/32")
	tests := []struct {
		name               string
		installed, desired []Route
		want               []Change
	}{
		{"equal is no-op", []Route{r("192.0.2.53/32", "198.51.100.12", "198.51.100.11")}, []Route{r("192.0.2.53/32", "198.51.100.11", "198.51.100.12")}, nil},
		{"create", nil, []Route{r("192.0.2.53/32", "198.51.100.11")},
			[]Change{{Action: Create, Prefix: svc, To: addrs("198.51.100.11"), Add: addrs("198.51.100.11")}}},
		{"withdraw one", []Route{r("192.0.2.53/32", "198.51.100.11", "198.51.100.12")}, []Route{r("192.0.2.53/32", "198.51.100.12")},
			[]Change{{Action: Update, Prefix: svc, From: addrs("198.51.100.11", "198.51.100.12"), To: addrs("198.51.100.12"), Remove: addrs("198.51.100.11")}}},
		{"swap", []Route{r("192.0.2.53/32", "198.51.100.11")}, []Route{r("192.0.2.53/32", "198.51.100.12")},
			[]Change{{Action: Update, Prefix: svc, From: addrs("198.51.100.11"), To: addrs("198.51.100.12"), Add: addrs("198.51.100.12"), Remove: addrs("198.51.100.11")}}},
		{"empty desired deletes", []Route{r("192.0.2.53/32", "198.51.100.11")}, []Route{r("192.0.2.53/32")},
			[]Change{{Action: Delete, Prefix: svc, From: addrs("198.51.100.11"), Remove: addrs("198.51.100.11")}}},
		{"empty desired and absent is no-op", nil, []Route{r("192.0.2.53/32")}, nil},
		{"unmanaged installed deletes", []Route{r("192.0.2.53/32", "198.51.100.11")}, nil,
			[]Change{{Action: Delete, Prefix: svc, From: addrs("198.51.100.11"), Remove: addrs("198.51.100.11")}}},
		{"duplicate installed entries merge", []Route{r("192.0.2.53/32", "198.51.100.11"), r("192.0.2.53/32", "198.51.100.12")},
			[]Route{r("192.0.2.53/32", "198.51.100.11", "198.51.100.12")}, nil},
		{"unmasked prefix", []Route{{Prefix: netip.MustParsePrefix("192.0.2.53/24"), Nexthops: addrs("198.51.100.11")}},
			[]Route{r("192.0.2.0/24", "198.51.100.11")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.installed, tc.desired)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Diff()\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDiffOrderedByPrefix(t *testing.T) {
	got := Diff(nil, []Route{r("203.0.113.53/32", "198.51.100.11"), r("192.0.2.53/32", "198.51.100.11"), r("192.0.2.0/24", "198.51.100.11")})
	var ps []string
	for _, c := range got {
		ps = append(ps, c.Prefix.String())
	}
	want := []string{"192.0.2.0/24", "192.0.2.53/32", "203.0.113.53/32"}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("order %v, want %v", ps, want)
	}
}
