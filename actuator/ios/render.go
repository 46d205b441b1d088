package ios

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// renderLines returns the configuration lines that turn our lines for
// prefix (have, in any VRF, as parseLine checked them) into want in VRF vrf
// ("" global): adds first, so that swapping one nexthop for another never
// leaves the route empty, then removes, each in the VRF the line is in.
// Lines are built only from netip values, the configured tag and validated
// VRF names, never from alert text.
func renderLines(vrf string, prefix netip.Prefix, have []entry, want []netip.Addr, tag uint32) ([]string, error) {
	if !prefix.IsValid() || prefix.Addr().Zone() != "" || prefix.Addr().Is4In6() {
		return nil, fmt.Errorf("prefix %s: not an IPv4 or IPv6 prefix", prefix)
	}
	if vrf != "" && !validVRF(vrf) {
		return nil, fmt.Errorf("vrf %q: not a VRF name", vrf)
	}
	v4 := prefix.Addr().Is4()
	for _, nh := range want {
		if nh.Is4() != v4 || nh.Zone() != "" || nh.Is4In6() {
			return nil, fmt.Errorf("nexthop %s: not an unscoped address of prefix %s's family", nh, prefix)
		}
	}
	var lines []string
	for _, nh := range want {
		if !slices.ContainsFunc(have, func(e entry) bool { return e.VRF == vrf && e.Nexthop == nh }) {
			lines = append(lines, routeLine(vrf, prefix, nh, tag))
		}
	}
	for _, e := range have {
		if e.VRF != vrf || !slices.Contains(want, e.Nexthop) {
			lines = append(lines, "no "+routeLine(e.VRF, prefix, e.Nexthop, tag))
		}
	}
	return lines, nil
}

// routeLine renders one static route: IPv4 in the IOS mask form, which FRR
// accepts too, IPv6 in the prefix-length form both share.
func routeLine(vrf string, p netip.Prefix, nh netip.Addr, tag uint32) string {
	p = p.Masked()
	in := ""
	if vrf != "" {
		in = "vrf " + vrf + " "
	}
	var s string
	if p.Addr().Is4() {
		m := net.CIDRMask(p.Bits(), 32)
		mask := netip.AddrFrom4([4]byte(m))
		s = fmt.Sprintf("ip route %s%s %s %s", in, p.Addr(), mask, nh)
	} else {
		s = fmt.Sprintf("ipv6 route %s%s %s", in, p, nh)
	}
	if tag != 0 {
		s += fmt.Sprintf(" tag %d", tag)
	}
	return s
}
