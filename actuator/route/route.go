// Package route holds the vocabulary shared by the actuator and its backends:
// a Route (service prefix -> nexthops) and the declarative Backend interface
// every device driver implements.
// It imports nothing from the rest of the project, so backends depend only on it.
package route

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Route is one service prefix and the nexthops that carry it, sorted and unique.
type Route struct {
	Prefix   netip.Prefix
	Nexthops []netip.Addr
}

// New returns a Route with a masked prefix and sorted, de-duplicated nexthops.
func New(prefix netip.Prefix, nexthops ...netip.Addr) Route {
	return Route{Prefix: prefix.Masked(), Nexthops: Normalize(nexthops)}
}

// Normalize returns a sorted copy of addrs without duplicates.
func Normalize(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// Equal reports whether both routes have the same prefix and nexthop set.
func (r Route) Equal(o Route) bool {
	return r.Prefix == o.Prefix && slices.Equal(Normalize(r.Nexthops), Normalize(o.Nexthops))
}

func (r Route) String() string {
	s := make([]string, len(r.Nexthops))
	for i, nh := range r.Nexthops {
		s[i] = nh.String()
	}
	return r.Prefix.String() + " via [" + strings.Join(s, " ") + "]"
}

// Sort orders routes by prefix (address, then length), the order List returns.
func Sort(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int { return ComparePrefix(a.Prefix, b.Prefix) })
}

// ComparePrefix orders prefixes by address, then by length.
func ComparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// Placement is where on the device a route lives: in a VRF by name, or in
// a routing table by number. The zero value is the backend's default table.
// A backend learns each configured prefix's placement when it is built; a
// Route itself carries none, because a prefix is configured at most once.
type Placement struct {
	VRF   string
	Table uint32
}

// IsZero reports whether p is the backend's default table.
func (p Placement) IsZero() bool { return p == Placement{} }

func (p Placement) String() string {
	switch {
	case p.VRF != "":
		return "vrf " + p.VRF
	case p.Table != 0:
		return "table " + strconv.FormatUint(uint64(p.Table), 10)
	}
	return "default table"
}

// Backend drives one device declaratively: the reconciler hands it the
// desired state of one route and compares what Set returns with it, the one
// place where read-back verification lives. Used from one goroutine at a time.
type Backend interface {
	// List returns every route this backend owns on the device (netlink: its
	// protocol number; IOS: its tag, or the configured prefixes where no tag
	// proves ownership). Prefixes masked, nexthops normalized, sorted with Sort.
	List(ctx context.Context) ([]Route, error)
	// Set makes the device carry exactly want for want.Prefix (no nexthops:
	// remove the route) and returns the route as installed afterwards, read
	// back from the device once. Set of a route that is already installed as
	// wanted changes nothing on the device.
	Set(ctx context.Context, want Route) (Route, error)
	// Close releases sessions and sockets.
	Close() error
}

// ErrUnavailable marks errors where the device could not be reached at all
// (session down, socket error, timeout): a retry may help, so the webhook
// handler answers 5xx. Wrap it: fmt.Errorf("...: %w: %w", route.ErrUnavailable, err).
var ErrUnavailable = errors.New("backend unavailable")

// ErrUnsupported is returned by backends not available on this platform.
var ErrUnsupported = errors.New("backend not supported on this platform")
