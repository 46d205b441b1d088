package netlink

import (
	"net/netip"
	"testing"
)

func TestIDScheme(t *testing.T) {
	for _, tc := range []struct {
		protocol int
		lo, hi   uint32
	}{
		{5, 0x82800000, 0x82ffffff},
		{250, 0xfd000000, 0xfd7fffff},
		{255, 0xff800000, 0xffffffff},
	} {
		lo, hi := idRange(tc.protocol)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("idRange(%d) = %#x..%#x, want %#x..%#x", tc.protocol, lo, hi, tc.lo, tc.hi)
		}
	}
	p := netip.MustParsePrefix("192.0.2.53/32")
	gw := netip.MustParseAddr("198.51.100.11")
	// Pinned: IDs are part of the documented on-kernel state and must not
	// change between releases.
	if got := memberID(250, gw); got != 4248148070 {
		t.Errorf("memberID = %d", got)
	}
	if got := groupID(250, 254, p); got != 4251226995 {
		t.Errorf("groupID = %d", got)
	}
	if groupID(250, 254, p) != groupID(250, 254, netip.MustParsePrefix("192.0.2.53/32")) {
		t.Error("groupID is not deterministic")
	}
	if groupID(250, 254, p) == groupID(250, 100, p) {
		t.Error("groupID ignores the table")
	}
	seen := map[uint32]string{}
	check := func(id uint32, what string) {
		t.Helper()
		if !inRange(250, id) || inRange(251, id) || inRange(249, id) {
			t.Errorf("%s: id %#x outside protocol 250's range", what, id)
		}
		if prev, ok := seen[id]; ok {
			t.Errorf("%s and %s share id %d", what, prev, id)
		}
		seen[id] = what
	}
	for i := range 256 {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		check(memberID(250, a), "member "+a.String())
		if memberID(250, a)&idGroupBit != 0 {
			t.Errorf("member id of %s has the group bit", a)
		}
		q := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)
		check(groupID(250, 254, q), "group "+q.String())
	}
}
