// Package route holds the vocabulary shared by the actuator and its backends:
// a Route (service prefix -> nexthops), the Diff between installed and
// desired state, and the Backend interface every device driver implements.
// It imports nothing from the rest of the project, so backends depend only on it.
package route

import (
	"context"
	"errors"
	"net/netip"
	"slices"
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

// Action is what a Change does to one route on the device.
type Action string

const (
	Create Action = "create" // the route is absent and gets To
	Update Action = "update" // the route exists and its nexthop set becomes To
	Delete Action = "delete" // the route is removed entirely
)

// Change turns one installed route into its desired form. From and To are
// complete nexthop sets; Add and Remove are their difference, for backends
// (like IOS) that edit one nexthop at a time.
type Change struct {
	Action Action
	Prefix netip.Prefix
	From   []netip.Addr
	To     []netip.Addr
	Add    []netip.Addr
	Remove []netip.Addr
}

// Diff returns the changes that turn installed into desired, ordered by prefix.
// A desired route with no nexthops, or an installed route absent from desired,
// yields Delete. Equal routes yield nothing, so applying Diff is idempotent.
func Diff(installed, desired []Route) []Change {
	have := index(installed)
	want := index(desired)
	var out []Change
	for p, w := range want {
		h, ok := have[p]
		switch {
		case len(w.Nexthops) == 0 && ok:
			out = append(out, change(Delete, p, h.Nexthops, nil))
		case len(w.Nexthops) == 0:
		case !ok:
			out = append(out, change(Create, p, nil, w.Nexthops))
		case !slices.Equal(h.Nexthops, w.Nexthops):
			out = append(out, change(Update, p, h.Nexthops, w.Nexthops))
		}
	}
	for p, h := range have {
		if _, ok := want[p]; !ok {
			out = append(out, change(Delete, p, h.Nexthops, nil))
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return ComparePrefix(a.Prefix, b.Prefix) })
	return out
}

func change(a Action, p netip.Prefix, from, to []netip.Addr) Change {
	return Change{Action: a, Prefix: p, From: from, To: to, Add: minus(to, from), Remove: minus(from, to)}
}

// index normalizes routes and merges duplicates of one prefix.
func index(rs []Route) map[netip.Prefix]Route {
	m := make(map[netip.Prefix]Route, len(rs))
	for _, r := range rs {
		p := r.Prefix.Masked()
		m[p] = New(p, append(slices.Clone(m[p].Nexthops), r.Nexthops...)...)
	}
	return m
}

func minus(a, b []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
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

// Backend drives one device. Implementations are declarative and idempotent:
// the reconciler lists, diffs, applies each Change, then lists again to verify.
// A Backend is used from one goroutine at a time.
type Backend interface {
	// List returns the routes this backend owns on the device: every route it
	// can prove is its own (netlink: its protocol number; IOS: its tag) and,
	// where ownership cannot be proven (IOS without a tag), the routes for
	// the managed prefixes. Prefixes are masked, nexthops normalized.
	List(ctx context.Context, managed []netip.Prefix) ([]Route, error)
	// Apply performs one change. Applying a change that is already in effect
	// succeeds without touching the device.
	Apply(ctx context.Context, c Change) error
	// Close releases sessions and sockets.
	Close() error
}

// ErrUnavailable marks errors where the device could not be reached at all
// (session down, socket error, timeout): a retry may help, so the webhook
// handler answers 5xx. Wrap it: fmt.Errorf("...: %w: %w", route.ErrUnavailable, err).
var ErrUnavailable = errors.New("backend unavailable")

// ErrUnsupported is returned by backends not available on this platform.
var ErrUnsupported = errors.New("backend not supported on this platform")
