package bgp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/route"
)

func TestPathRoundTrip(t *testing.T) {
	for _, tc := range []struct{ prefix, nh string }{
		{"192.0.2.53/32", "198.51.100.11"},
		{"192.0.2.0/24", "198.51.100.12"},
		{"2001:db8:53::53/128", "2001:db8:100::11"},
	} {
		p := path(netip.MustParsePrefix(tc.prefix), netip.MustParseAddr(tc.nh))
		pfx, nh, err := decode(p)
		if err != nil || pfx.String() != tc.prefix || nh.String() != tc.nh {
			t.Errorf("decode(path(%s, %s)) = %s, %s, %v", tc.prefix, tc.nh, pfx, nh, err)
		}
	}
}

func TestPathIDDistinctPerServer(t *testing.T) {
	seen := map[uint32]netip.Addr{}
	for _, s := range []string{"198.51.100.11", "198.51.100.12", "198.51.100.13", "2001:db8:100::11", "2001:db8:100::12", "2001:db8:100::13"} {
		a := netip.MustParseAddr(s)
		id := pathID(a)
		if prev, ok := seen[id]; ok || id == 0 {
			t.Errorf("path id %d of %s collides with %s", id, a, prev)
		}
		seen[id] = a
		if pathID(a) != id {
			t.Errorf("path id of %s not stable", a)
		}
	}
}

// closedPort is a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// TestSetWithoutSession: with no router reachable, Set still puts the
// paths in the speaker's RIB (the router gets them once a session comes up)
// but reports ErrUnavailable, and so does List.
func TestSetWithoutSession(t *testing.T) {
	cfg := Config{LocalAS: 65001, RouterID: netip.MustParseAddr("127.0.0.2"), Neighbors: []Neighbor{{
		Address: netip.MustParseAddr("127.0.0.1"), PeerAS: 65000, Port: closedPort(t),
		HoldTime: model.Duration(3 * time.Second), Keepalive: model.Duration(time.Second), ConnectRetry: model.Duration(time.Second),
	}}}
	reg := prometheus.NewRegistry()
	b, err := New(cfg, NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	want := route.New(netip.MustParsePrefix("192.0.2.53/32"), netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12"))
	got, err := route.SetOne(ctx, b, want)
	if !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("Set error = %v, want ErrUnavailable", err)
	}
	if !got.Equal(want) {
		t.Errorf("Set = %v, want %v in the RIB", got, want)
	}
	if _, err := b.List(ctx); !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("List error = %v, want ErrUnavailable", err)
	}
	got, _ = route.SetOne(ctx, b, route.New(want.Prefix, want.Nexthops[1]))
	if !got.Equal(route.New(want.Prefix, want.Nexthops[1])) {
		t.Errorf("after withdrawing %s: RIB %v", want.Nexthops[0], got)
	}
	got, _ = route.SetOne(ctx, b, route.New(want.Prefix))
	if len(got.Nexthops) != 0 {
		t.Errorf("after withdrawing all: RIB %v", got)
	}
	if _, err := b.Set(ctx, route.New(want.Prefix, netip.MustParseAddr("2001:db8::1"))); err == nil || errors.Is(err, route.ErrUnavailable) {
		t.Errorf("IPv6 nexthop for an IPv4 prefix: error %v", err)
	}
	if v := testutil.ToFloat64(b.metrics.state.WithLabelValues("127.0.0.1", "established")); v != 0 {
		t.Errorf("established = %v", v)
	}
	if n := testutil.CollectAndCount(b.metrics.state); n != len(sessionStates) {
		t.Errorf("%d session state series, want %d", n, len(sessionStates))
	}
}
