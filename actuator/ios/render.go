package ios

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// renderLines returns the configuration lines that turn the nexthops we have
// for prefix into want: adds first, so that swapping one nexthop for another
// never leaves the route empty, then removes. Lines are built only from
// netip values and the configured tag, never from alert text.
func renderLines(prefix netip.Prefix, have, want []netip.Addr, tag uint32) ([]string, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() {
		return nil, fmt.Errorf("prefix %s: only IPv4 prefixes are supported", prefix)
	}
	for _, nh := range append(slices.Clone(have), want...) {
		if !nh.Is4() || nh.Zone() != "" {
			return nil, fmt.Errorf("nexthop %s: only IPv4 nexthops are supported", nh)
		}
	}
	var lines []string
	for _, nh := range want {
		if !slices.Contains(have, nh) {
			lines = append(lines, routeLine(prefix, nh, tag))
		}
	}
	for _, nh := range have {
		if !slices.Contains(want, nh) {
			lines = append(lines, "no "+routeLine(prefix, nh, tag))
		}
	}
	return lines, nil
}

// routeLine renders the IOS mask form, which FRR accepts too.
func routeLine(p netip.Prefix, nh netip.Addr, tag uint32) string {
	p = p.Masked()
	m := net.CIDRMask(p.Bits(), 32)
	mask := netip.AddrFrom4([4]byte(m))
	s := fmt.Sprintf("ip route %s %s %s", p.Addr(), mask, nh)
	if tag != 0 {
		s += fmt.Sprintf(" tag %d", tag)
	}
	return s
}
