package ios

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/slaroute/slaroute/actuator/route"
)

// showRoutes is the one command that reads state. Both IOS and FRR's vtysh
// support the include filter with an alternation, so the device returns
// only its static route lines, IPv4 and IPv6, of every VRF.
const showRoutes = "show running-config | include ^ip route|^ipv6 route"

// entry is one parsed `ip route` or `ipv6 route` line: a single prefix ->
// nexthop pair in the global table (VRF "") or in a VRF.
type entry struct {
	VRF     string
	Prefix  netip.Prefix
	Nexthop netip.Addr
	Tag     uint32 // 0 = untagged
}

// parseRoutes extracts the static routes with a plain nexthop address from
// `show running-config` output: IPv4 in the IOS form
// `ip route 192.0.2.53 255.255.255.255 198.51.100.11` and the FRR form
// `ip route 192.0.2.53/32 198.51.100.11`, IPv6 as
// `ipv6 route 2001:DB8:53::53/128 2001:DB8:100::11`, each optionally in a VRF
// (`ip route vrf NAME ...`, `ipv6 route vrf NAME ...`, IOS only), with
// optional distance, tag, name, track and so on. Lines it cannot prove to be
// that shape (interface routes, nexthops in another VRF, garbage) are
// skipped: the backend never claims a route it could not render back
// exactly. Every line is read, however long (a bufio.Scanner stops at 64 KiB
// and would hide the routes after it).
func parseRoutes(out string) []entry {
	var es []entry
	for line := range strings.Lines(out) {
		if e, ok := parseLine(line); ok {
			es = append(es, e)
		}
	}
	return es
}

func parseLine(line string) (entry, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || (f[0] != "ip" && f[0] != "ipv6") || f[1] != "route" {
		return entry{}, false
	}
	v6 := f[0] == "ipv6"
	f = f[2:]
	var e entry
	if f[0] == "vrf" {
		if len(f) < 4 || !validVRF(f[1]) {
			return entry{}, false
		}
		e.VRF = f[1]
		f = f[2:]
	}
	var p netip.Prefix // invalid unless parsed; never zoned
	switch {
	case strings.Contains(f[0], "/"):
		p, _ = netip.ParsePrefix(f[0])
		f = f[1:]
	case !v6 && len(f) >= 2:
		p = maskPrefix(f[0], f[1])
		f = f[2:]
	}
	if !p.IsValid() || len(f) == 0 || p.Addr().Is4() == v6 || p.Addr().Is4In6() {
		return entry{}, false
	}
	nh, err := netip.ParseAddr(f[0])
	if err != nil || nh.Is4() != p.Addr().Is4() || nh.Zone() != "" || nh.Is4In6() {
		return entry{}, false // interface route (Null0, GigabitEthernet0/0 ...)
	}
	e.Prefix, e.Nexthop = p.Masked(), nh
	rest := f[1:]
	for i := 0; i < len(rest); i++ {
		switch tok := rest[i]; tok {
		case "tag":
			if i+1 >= len(rest) {
				return entry{}, false
			}
			t, err := strconv.ParseUint(rest[i+1], 10, 32)
			if err != nil {
				return entry{}, false
			}
			e.Tag = uint32(t)
			i++
		case "table", "nexthop-vrf", "vrf", "global":
			// The nexthop in another table or VRF: `no ip route P M NH`
			// would miss it.
			return entry{}, false
		case "name", "track", "label", "color", "segments":
			i++ // one argument, which could look like a tag value
		case "permanent", "multicast", "unicast", "onlink", "dhcp":
		default:
			if _, err := strconv.ParseUint(tok, 10, 8); err != nil {
				// Not a distance: an interface (FRR's `NH IFNAME`) or
				// syntax we do not know. Not ours to claim.
				return entry{}, false
			}
		}
	}
	return e, true
}

// vrfName matches the VRF names the configuration accepts.
var vrfName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$`)

// validVRF reports whether name can be rendered back into a line as read.
func validVRF(name string) bool { return vrfName.MatchString(name) }

// maskPrefix turns `192.0.2.53 255.255.255.255` into 192.0.2.53/32; a
// non-contiguous mask gives the invalid Prefix.
func maskPrefix(addr, mask string) netip.Prefix {
	a, aerr := netip.ParseAddr(addr)
	m, merr := netip.ParseAddr(mask)
	if aerr != nil || merr != nil || !a.Is4() || !m.Is4() {
		return netip.Prefix{}
	}
	if ones, bits := net.IPMask(m.AsSlice()).Size(); bits != 0 {
		return netip.PrefixFrom(a, ones)
	}
	return netip.Prefix{}
}

// owner decides which route lines are ours: with a tag, every line carrying
// it, in any VRF (the tag proves it, so a route moved to another VRF or
// removed from the configuration is cleaned up); without, the lines of the
// managed prefixes in the VRF each is configured in; lines of other VRFs
// are not ours.
type owner struct {
	tag     uint32
	managed map[netip.Prefix]string // prefix -> VRF ("" global)
}

func (o owner) ours(e entry) bool {
	if o.tag != 0 {
		return e.Tag == o.tag
	}
	vrf, ok := o.managed[e.Prefix]
	return ok && e.VRF == vrf
}

// lines returns our entries for p.
func (o owner) lines(es []entry, p netip.Prefix) []entry {
	var out []entry
	for _, e := range es {
		if e.Prefix == p && o.ours(e) {
			out = append(out, e)
		}
	}
	return out
}

// installed is the route our lines for p make: their nexthops, or none
// when a line of ours sits in a VRF other than p's (only possible with a
// tag), so that the reconciler rewrites it.
func (o owner) installed(ours []entry, p netip.Prefix) route.Route {
	vrf, managed := o.managed[p]
	nhs := make([]netip.Addr, 0, len(ours))
	for _, e := range ours {
		if managed && e.VRF != vrf {
			return route.Route{Prefix: p}
		}
		nhs = append(nhs, e.Nexthop)
	}
	return route.New(p, nhs...)
}

// routes groups our entries into routes, sorted by prefix.
func (o owner) routes(es []entry) []route.Route {
	by := map[netip.Prefix][]entry{}
	for _, e := range es {
		if o.ours(e) {
			by[e.Prefix] = append(by[e.Prefix], e)
		}
	}
	out := make([]route.Route, 0, len(by))
	for p, ours := range by {
		out = append(out, o.installed(ours, p))
	}
	route.Sort(out)
	return out
}
