package ios

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/slaroute/slaroute/actuator/route"
)

// showRoutes is the one command that reads state. Both IOS and FRR's vtysh
// support the include filter, so the device returns only static route lines.
const showRoutes = "show running-config | include ^ip route"

// entry is one parsed `ip route` line: a single prefix -> nexthop pair.
type entry struct {
	Prefix  netip.Prefix
	Nexthop netip.Addr
	Tag     uint32 // 0 = untagged
}

// parseRoutes extracts the static IPv4 routes with a plain nexthop address
// from `show running-config` output, in both the IOS form
// `ip route 192.0.2.53 255.255.255.255 198.51.100.11` and the FRR form
// `ip route 192.0.2.53/32 198.51.100.11`, with optional distance, tag, name,
// track and so on. Lines it cannot prove to be that shape (VRF routes,
// interface routes, garbage) are skipped: the backend never claims a route it
// could not render back exactly. Every line is read, however long (a
// bufio.Scanner stops at 64 KiB and would hide the routes after it).
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
	if len(f) < 4 || f[0] != "ip" || f[1] != "route" {
		return entry{}, false
	}
	f = f[2:]
	var p netip.Prefix
	if strings.Contains(f[0], "/") {
		var err error
		if p, err = netip.ParsePrefix(f[0]); err != nil {
			return entry{}, false
		}
		f = f[1:]
	} else {
		var ok bool
		if p, ok = maskPrefix(f[0], f[1]); !ok {
			return entry{}, false
		}
		f = f[2:]
	}
	if len(f) == 0 || !p.Addr().Is4() {
		return entry{}, false
	}
	nh, err := netip.ParseAddr(f[0])
	if err != nil || !nh.Is4() {
		return entry{}, false // interface route (Null0, GigabitEthernet0/0 ...) or vrf
	}
	e := entry{Prefix: p.Masked(), Nexthop: nh}
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
		case "table", "nexthop-vrf", "vrf":
			return entry{}, false // another table: `no ip route P M NH` would miss it
		case "name", "track", "label", "color", "segments":
			i++ // one argument, which could look like a tag value
		case "permanent", "multicast", "onlink", "dhcp", "global":
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

// maskPrefix turns `192.0.2.53 255.255.255.255` into 192.0.2.53/32; a
// non-contiguous mask is rejected.
func maskPrefix(addr, mask string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return netip.Prefix{}, false
	}
	b := m.As4()
	ones, bits := net.IPMask(b[:]).Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

// routesFrom groups entries into routes, keeping those that are ours: with a
// tag, every route carrying it; without, the managed prefixes. Sorted by prefix.
func routesFrom(es []entry, tag uint32, managed []netip.Prefix) []route.Route {
	keep := make(map[netip.Prefix]bool, len(managed))
	for _, p := range managed {
		keep[p.Masked()] = true
	}
	by := map[netip.Prefix][]netip.Addr{}
	for _, e := range es {
		if (tag != 0 && e.Tag != tag) || (tag == 0 && !keep[e.Prefix]) {
			continue
		}
		by[e.Prefix] = append(by[e.Prefix], e.Nexthop)
	}
	out := make([]route.Route, 0, len(by))
	for p, nhs := range by {
		out = append(out, route.New(p, nhs...))
	}
	route.Sort(out)
	return out
}

// nexthopsOf returns the nexthops our routes for p currently have.
func nexthopsOf(es []entry, tag uint32, p netip.Prefix) []netip.Addr {
	for _, r := range routesFrom(es, tag, []netip.Prefix{p}) {
		if r.Prefix == p.Masked() {
			return r.Nexthops
		}
	}
	return nil
}
