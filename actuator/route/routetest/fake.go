// Package routetest is a fake route.Backend for unit tests. It keeps routes
// in memory, records every call and fails the test when the caller breaks
// the backend contract: a Change whose From is not the current state, Add or
// Remove inconsistent with From and To, fewer nexthops than a route's
// minimum, a prefix outside the managed set, or concurrent use.
package routetest

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slaroute/slaroute/actuator/route"
)

// Backend is the fake. Its zero value is not usable: call New.
type Backend struct {
	t       testing.TB
	mu      sync.Mutex
	busy    atomic.Bool
	routes  map[netip.Prefix]route.Route
	min     map[netip.Prefix]int
	applied []route.Change
	closed  bool

	// ListErr and ApplyErr, when set, are returned instead of doing the call.
	ListErr  func() error
	ApplyErr func(route.Change) error
	// Ignore makes Apply report success without changing anything, so that
	// the caller's read-back verification must notice.
	Ignore bool
}

// New returns a fake managing the given prefixes with their minimum nexthop counts.
func New(t testing.TB, managed map[netip.Prefix]int) *Backend {
	return &Backend{t: t, routes: map[netip.Prefix]route.Route{}, min: managed}
}

var _ route.Backend = (*Backend)(nil)

func (b *Backend) enter(op string) func() {
	if !b.busy.CompareAndSwap(false, true) {
		b.t.Errorf("routetest: concurrent %s: a Backend is used from one goroutine at a time", op)
	}
	return func() { b.busy.Store(false) }
}

// List returns every route held, like a backend listing what it owns.
func (b *Backend) List(ctx context.Context, managed []netip.Prefix) ([]route.Route, error) {
	defer b.enter("List")()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		b.t.Errorf("routetest: List after Close")
	}
	if b.ListErr != nil {
		if err := b.ListErr(); err != nil {
			return nil, err
		}
	}
	out := make([]route.Route, 0, len(b.routes))
	for _, r := range b.routes {
		out = append(out, route.New(r.Prefix, r.Nexthops...))
	}
	route.Sort(out)
	return out, nil
}

// Apply checks the change against the contract and performs it.
func (b *Backend) Apply(ctx context.Context, c route.Change) error {
	defer b.enter("Apply")()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		b.t.Errorf("routetest: Apply after Close")
	}
	b.check(c)
	b.applied = append(b.applied, c)
	if b.ApplyErr != nil {
		if err := b.ApplyErr(c); err != nil {
			return err
		}
	}
	if b.Ignore {
		return nil
	}
	if c.Action == route.Delete {
		delete(b.routes, c.Prefix)
	} else {
		b.routes[c.Prefix] = route.New(c.Prefix, c.To...)
	}
	return nil
}

func (b *Backend) check(c route.Change) {
	t := b.t
	min, ok := b.min[c.Prefix]
	if !ok {
		t.Errorf("routetest: %s touches unmanaged prefix %s", c.Action, c.Prefix)
	}
	cur, present := b.routes[c.Prefix]
	switch c.Action {
	case route.Create:
		if present {
			t.Errorf("routetest: create %s but it exists as %s", c.Prefix, cur)
		}
	case route.Update, route.Delete:
		if !present {
			t.Errorf("routetest: %s %s but it is absent", c.Action, c.Prefix)
		} else if !slices.Equal(route.Normalize(c.From), cur.Nexthops) {
			t.Errorf("routetest: %s %s From %v does not match installed %v", c.Action, c.Prefix, c.From, cur.Nexthops)
		}
	default:
		t.Errorf("routetest: unknown action %q", c.Action)
	}
	if c.Action != route.Delete && ok && len(route.Normalize(c.To)) < min {
		t.Errorf("routetest: %s %s installs %d nexthops %v, fewer than min_nexthops %d", c.Action, c.Prefix, len(c.To), c.To, min)
	}
	if c.Action == route.Delete && len(c.To) != 0 {
		t.Errorf("routetest: delete %s with To %v", c.Prefix, c.To)
	}
	// An empty From diffs as an update from nothing: its Add and Remove are a create's.
	want := route.Diff([]route.Route{route.New(c.Prefix, c.From...)}, []route.Route{route.New(c.Prefix, c.To...)})
	if len(want) == 1 && (!slices.Equal(route.Normalize(want[0].Add), route.Normalize(c.Add)) || !slices.Equal(route.Normalize(want[0].Remove), route.Normalize(c.Remove))) {
		t.Errorf("routetest: change %+v has Add/Remove inconsistent with From/To", c)
	}
}

// Close marks the fake closed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// Set installs r directly, as drift or a pre-existing route would.
func (b *Backend) Set(r route.Route) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.routes[r.Prefix] = route.New(r.Prefix, r.Nexthops...)
}

// Remove deletes a route directly (drift).
func (b *Backend) Remove(p netip.Prefix) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.routes, p)
}

// Get returns the route held for p.
func (b *Backend) Get(p netip.Prefix) (route.Route, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.routes[p]
	return r, ok
}

// Applied returns the changes applied so far (including failed ones).
func (b *Backend) Applied() []route.Change {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.applied)
}

// Closed reports whether Close was called.
func (b *Backend) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
