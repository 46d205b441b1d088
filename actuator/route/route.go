// Package route holds the vocabulary shared by the actuator and its backends:
// a Route (service prefix -> nexthops) and the declarative Backend interface
// every device driver implements.
// It imports nothing from the rest of the project, so backends depend only on it.
package route

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
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
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Equal reports whether both routes have the same prefix and nexthop set.
func (r Route) Equal(o Route) bool {
	return r.Prefix == o.Prefix && slices.Equal(Normalize(r.Nexthops), Normalize(o.Nexthops))
}

func (r Route) String() string { return fmt.Sprintf("%s via %v", r.Prefix, r.Nexthops) }

// Sort orders routes by prefix (address, then length), the order List returns.
func Sort(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int { return ComparePrefix(a.Prefix, b.Prefix) })
}

// ComparePrefix orders prefixes by address, then by length.
func ComparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), a.Bits()-b.Bits())
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
// desired state of the routes one pass changes and compares what Set returns
// with it, the one place where read-back verification lives. Used from one
// goroutine at a time.
type Backend interface {
	// List returns every route this backend owns on the device (netlink: its
	// protocol number; IOS: its tag, or the configured prefixes where no tag
	// proves ownership). Prefixes masked, nexthops normalized, sorted with Sort.
	List(ctx context.Context) ([]Route, error)
	// Set makes the device carry exactly each route of want (no nexthops:
	// remove the route) and returns those routes as installed afterwards, in
	// want's order (a removed route without nexthops): the device is read
	// once before and once after the whole call, however many routes it
	// holds. want's prefixes are distinct. A route already installed as
	// wanted changes nothing on the device. A route that cannot be applied
	// does not stop the others: its error (naming the prefix) is joined into
	// the returned error next to the read back. The slice is nil when there
	// is no read back (the device unreachable, or a batch the device refused
	// as a whole, such as an IOS configuration error): the reconciler then
	// counts every route as failed and lists the device on its next pass.
	Set(ctx context.Context, want ...Route) ([]Route, error)
	// Close releases sessions and sockets.
	Close() error
}

// SetOne sets one route through b and returns it as read back.
func SetOne(ctx context.Context, b Backend, want Route) (Route, error) {
	got, err := b.Set(ctx, want)
	if len(got) != 1 {
		if err == nil {
			err = fmt.Errorf("set %s: backend returned %d routes for 1", want.Prefix, len(got))
		}
		return Route{}, err
	}
	return got[0], err
}

// ErrUnavailable marks errors where the device could not be reached at all
// (session down, socket error, timeout): a retry may help, so the webhook
// handler answers 5xx. Wrap it: fmt.Errorf("...: %w: %w", route.ErrUnavailable, err).
var ErrUnavailable = errors.New("backend unavailable")

// ErrUnsupported is returned by backends not available on this platform.
var ErrUnsupported = errors.New("backend not supported on this platform")
