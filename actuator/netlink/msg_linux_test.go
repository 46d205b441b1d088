//go:build linux

package netlink

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func serialize(data []nl.NetlinkRequestData) []byte {
	var b []byte
	for _, d := range data {
		b = append(b, d.Serialize()...)
	}
	return b
}

// The kernel dumps nexthops and routes in the same layout we send them, so
// parsing what we build must give back what we meant.
func TestMessagesRoundTrip(t *testing.T) {
	gw := netip.MustParseAddr("198.51.100.12")
	m, err := parseNexthop(serialize(memberMsg(7, 250, gw, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 7 || m.Protocol != 250 || m.Family != unix.AF_INET || m.Gateway != gw || m.OIF != 3 || m.isGroup() {
		t.Errorf("member = %+v", m)
	}

	g, err := parseNexthop(serialize(groupMsg(9, 250, []uint32{7, 8}, 128, resTimers{})))
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != 9 || !slices.Equal(g.Group, []uint32{7, 8}) || g.GroupType != nexthopGrpTypeRes || g.Buckets != 128 || g.IdleTimer != 0 || g.UnbalancedTimer != 0 {
		t.Errorf("group = %+v", g)
	}
	// Replace omits the bucket count: the kernel refuses to change it.
	g, err = parseNexthop(serialize(groupMsg(9, 250, []uint32{7}, 0, resTimers{idle: 150, unbalanced: 2000})))
	if err != nil {
		t.Fatal(err)
	}
	if g.Buckets != 0 || g.IdleTimer != 150 || g.UnbalancedTimer != 2000 || !slices.Equal(g.Group, []uint32{7}) {
		t.Errorf("replace group = %+v", g)
	}

	for _, tc := range []struct {
		p     string
		table uint32
	}{{"192.0.2.53/32", 254}, {"192.0.2.0/24", 1000}, {"2001:db8::53/128", 254}} {
		p := netip.MustParsePrefix(tc.p)
		r, err := parseRoute(serialize(nhRouteMsg(p, tc.table, 250, 9)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Prefix != p || r.Table != tc.table || r.Protocol != 250 || r.NHID != 9 || r.Type != unix.RTN_UNICAST {
			t.Errorf("route %s = %+v", tc.p, r)
		}
	}
}

func TestParseMultipath(t *testing.T) {
	var b []byte
	for _, gw := range []string{"198.51.100.11", "198.51.100.13"} {
		nh := &nl.RtNexthop{Children: []nl.NetlinkRequestData{nl.NewRtAttr(unix.RTA_GATEWAY, netip.MustParseAddr(gw).AsSlice())}}
		b = append(b, nh.Serialize()...)
	}
	got, err := parseMultipath(b)
	if err != nil || len(got) != 2 || got[0].String() != "198.51.100.11" || got[1].String() != "198.51.100.13" {
		t.Fatalf("parseMultipath = %v, %v", got, err)
	}
	if _, err := parseMultipath([]byte{2, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("a bad rtnexthop length was accepted")
	}
	if _, err := parseRoute([]byte{1, 2}); err == nil {
		t.Error("a short rtmsg was accepted")
	}
	if _, err := parseNexthop([]byte{1, 2}); err == nil {
		t.Error("a short nhmsg was accepted")
	}
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{unix.EAGAIN, true},
		{unix.ENOBUFS, true},
		{unix.EBUSY, true},
		{fmt.Errorf("recv: %w", unix.EBADF), true},
		{errors.New("Wrong sender portid 7, expected 0"), true},
		{unix.EINVAL, false},
		{fmt.Errorf("%w: Nexthop has invalid gateway", unix.EINVAL), false},
		{unix.EEXIST, false},
		{unix.ENETUNREACH, false},
		{unix.EPERM, false},
	} {
		if got := temporary(tc.err); got != tc.want {
			t.Errorf("temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
