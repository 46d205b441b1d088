// Package routetest is a fake route.Backend for unit tests. It keeps routes
// in memory, records every Set and fails the test when the caller breaks the
// backend contract (metallb's strict fake): a route not in normal form
// (unmasked prefix, unsorted or duplicate nexthops), a nexthop of another
// family, a prefix outside the managed set, fewer nexthops than a route's
// minimum (zero removes), use after Close, or concurrent use.
package routetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slaroute/slaroute/actuator/route"
)

// Backend is the fake. Its zero value is not usable: call New.
type Backend struct {
	t      testing.TB
	mu     sync.Mutex
	busy   atomic.Bool
	routes map[netip.Prefix]route.Route
	min    map[netip.Prefix]int
	sets   []route.Route
	calls  int
	closed bool

	// ListErr and SetErr, when set, are returned instead of doing the call.
	ListErr func() error
	SetErr  func(route.Route) error
	// Ignore makes Set leave the device as it is and return what it holds,
	// so that the caller's read-back verification must notice.
	Ignore bool
}

// New returns a fake managing the given prefixes with their minimum nexthop counts.
func New(t testing.TB, managed map[netip.Prefix]int) *Backend {
	return &Backend{t: t, routes: map[netip.Prefix]route.Route{}, min: managed}
}

var _ route.Backend = (*Backend)(nil)

// enter checks that op is neither concurrent nor after Close, and locks b until the returned func runs.
func (b *Backend) enter(op string) func() {
	if !b.busy.CompareAndSwap(false, true) {
		b.t.Errorf("routetest: concurrent %s: a Backend is used from one goroutine at a time", op)
	}
	b.mu.Lock()
	if b.closed {
		b.t.Errorf("routetest: %s after Close", op)
	}
	return func() {
		b.mu.Unlock()
		b.busy.Store(false)
	}
}

// List returns every route held, like a backend listing what it owns.
func (b *Backend) List(ctx context.Context) ([]route.Route, error) {
	defer b.enter("List")()
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

// Set checks want against the contract, installs each route and returns
// what is held for each. An error from SetErr skips that route only.
func (b *Backend) Set(ctx context.Context, want ...route.Route) ([]route.Route, error) {
	defer b.enter("Set")()
	b.calls++
	seen := map[netip.Prefix]bool{}
	var errs []error
	for _, w := range want {
		if seen[w.Prefix] {
			b.t.Errorf("routetest: Set names prefix %s twice", w.Prefix)
		}
		seen[w.Prefix] = true
		b.check(w)
		b.sets = append(b.sets, route.Route{Prefix: w.Prefix, Nexthops: slices.Clone(w.Nexthops)})
		if b.SetErr != nil {
			if err := b.SetErr(w); err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", w.Prefix, err))
				continue
			}
		}
		if b.Ignore {
			continue
		}
		if len(w.Nexthops) == 0 {
			delete(b.routes, w.Prefix)
		} else {
			b.routes[w.Prefix] = route.New(w.Prefix, w.Nexthops...)
		}
	}
	got := make([]route.Route, len(want))
	for i, w := range want {
		got[i] = route.Route{Prefix: w.Prefix}
		if r, ok := b.routes[w.Prefix]; ok {
			got[i] = r
		}
	}
	return got, errors.Join(errs...)
}

func (b *Backend) check(want route.Route) {
	t := b.t
	if want.Prefix != want.Prefix.Masked() || !slices.Equal(want.Nexthops, route.Normalize(want.Nexthops)) {
		t.Errorf("routetest: Set %s is not in normal form (route.New)", want)
	}
	for _, nh := range want.Nexthops {
		if nh.Is4() != want.Prefix.Addr().Is4() {
			t.Errorf("routetest: Set %s: nexthop %s of another family", want.Prefix, nh)
		}
	}
	min, ok := b.min[want.Prefix]
	if !ok {
		t.Errorf("routetest: Set touches unmanaged prefix %s", want.Prefix)
	}
	if n := len(want.Nexthops); ok && n > 0 && n < min {
		t.Errorf("routetest: Set %s installs %d nexthops, fewer than min_nexthops %d", want, n, min)
	}
}

// Close marks the fake closed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// Put installs r directly, as drift or a pre-existing route would.
func (b *Backend) Put(r route.Route) {
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

// Sets returns the routes handed to Set so far (including failed calls).
func (b *Backend) Sets() []route.Route {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sets)
}

// Calls returns how many times Set was called (each reads the device once
// before and once after, however many routes it carries).
func (b *Backend) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// Closed reports whether Close was called.
func (b *Backend) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
