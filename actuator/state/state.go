// Package state is route_actuator's persisted state: operator drains and
// dampening penalties, in one small versioned JSON file under
// --storage.path. The operations on drains are pure (they take the time and
// return a new State); Save and Load are the only I/O.
package state

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/slaroute/slaroute/actuator/dampening"
)

// Version is the state file format this program writes and reads. Bump it
// on any change an older program would misread; Load refuses newer ones.
const Version = 1

// MaxReasonBytes bounds a drain's reason (and who): the number of drains is
// bounded by the configured nexthops, their size by this.
const MaxReasonBytes = 1024

// State is the content of the state file.
type State struct {
	Version   int                `json:"version"`
	Drains    []Drain            `json:"drains"`
	Dampening []dampening.Record `json:"dampening"`
}

// Drain takes a nexthop out of one route, or of every route when Route is
// zero, whatever its health, until removed or Expires.
type Drain struct {
	Nexthop netip.Addr   `json:"nexthop"`
	Route   netip.Prefix `json:"route,omitzero"`
	Reason  string       `json:"reason"`
	// Who is the authenticated user or the client's header (apiv1.Who).
	Who     string    `json:"who"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	// Forced: added with force over a min_nexthops refusal.
	Forced bool `json:"forced,omitempty"`
}

// Covers reports whether d drains nh from route p.
func (d Drain) Covers(p netip.Prefix, nh netip.Addr) bool {
	return d.Nexthop == nh && (!d.Route.IsValid() || d.Route == p)
}

// List returns the drains, sorted by nexthop and route.
func (s State) List() []Drain {
	out := slices.Clone(s.Drains)
	sortDrains(out)
	return out
}

// Drained returns the drains that take nh out of p (several when both a
// per-route and an all-routes drain exist).
func (s State) Drained(p netip.Prefix, nh netip.Addr) []Drain {
	return slices.DeleteFunc(slices.Clone(s.Drains), func(d Drain) bool { return !d.Covers(p, nh) })
}

// Route is what a drain is checked against: one configured route as the
// policy decided it last.
type Route struct {
	Prefix      netip.Prefix
	Nexthops    []netip.Addr // configured
	MinNexthops int
	// Up are the nexthops in service on their own merit: desired minus
	// those a guard keeps back in (policy's Kept).
	Up []netip.Addr
}

// Refusal errors; the API answers 400 for ErrInvalid, 404 for ErrNotFound
// and 409 for ErrBelowMin.
var (
	ErrInvalid  = errors.New("invalid drain")
	ErrNotFound = errors.New("not found")
	ErrBelowMin = errors.New("below min_nexthops")
)

// Add returns s with d added (replacing a drain of the same nexthop and
// route) after checking it against routes at now: the nexthop and route
// must be configured, reason and who set and bounded, expiry in the future,
// and no route may be left with fewer than min_nexthops nexthops in service
// (unless force; even then never with none). s is not modified.
func (s State) Add(d Drain, routes []Route, now time.Time, force bool) (State, error) {
	switch {
	case !d.Nexthop.IsValid():
		return s, fmt.Errorf("%w: nexthop must be an IP address", ErrInvalid)
	case d.Route.IsValid() && d.Route.Masked() != d.Route:
		return s, fmt.Errorf("%w: route %s has host bits set", ErrInvalid, d.Route)
	case d.Reason == "":
		return s, fmt.Errorf("%w: reason must be set", ErrInvalid)
	case len(d.Reason) > MaxReasonBytes || len(d.Who) > MaxReasonBytes:
		return s, fmt.Errorf("%w: reason and who are limited to %d bytes", ErrInvalid, MaxReasonBytes)
	case d.Who == "":
		return s, fmt.Errorf("%w: who must be set", ErrInvalid)
	case !d.Expires.IsZero() && !d.Expires.After(now):
		return s, fmt.Errorf("%w: expires %s is not in the future", ErrInvalid, d.Expires.UTC().Format(time.RFC3339))
	}
	d.Nexthop = d.Nexthop.Unmap()
	d.Created = now
	d.Forced = false
	affected := 0
	for _, r := range routes {
		if !d.Covers(r.Prefix, d.Nexthop) || !slices.Contains(r.Nexthops, d.Nexthop) {
			continue
		}
		affected++
		if !slices.Contains(r.Up, d.Nexthop) {
			continue // already out: draining it moves nothing
		}
		left := len(r.Up) - 1
		switch {
		case left == 0:
			return s, fmt.Errorf("%w: draining %s would leave route %s without nexthops", ErrBelowMin, d.Nexthop, r.Prefix)
		case left < r.MinNexthops && !force:
			return s, fmt.Errorf("%w: draining %s would leave route %s with %d nexthop(s) in service, below min_nexthops %d (force overrides)",
				ErrBelowMin, d.Nexthop, r.Prefix, left, r.MinNexthops)
		case left < r.MinNexthops:
			d.Forced = true
		}
	}
	if affected == 0 {
		if d.Route.IsValid() {
			return s, fmt.Errorf("%w: route %s with nexthop %s is not configured", ErrNotFound, d.Route, d.Nexthop)
		}
		return s, fmt.Errorf("%w: nexthop %s is in no configured route", ErrNotFound, d.Nexthop)
	}
	out, _ := s.without(func(x Drain) bool { return x.Nexthop == d.Nexthop && x.Route == d.Route })
	out.Drains = append(out.Drains, d)
	sortDrains(out.Drains)
	return out, nil
}

// Remove returns s without nexthop's drains (only route's when route is
// valid) and the drains removed; none is ErrNotFound.
func (s State) Remove(nexthop netip.Addr, route netip.Prefix) (State, []Drain, error) {
	out, removed := s.without(func(d Drain) bool {
		return d.Nexthop == nexthop.Unmap() && (!route.IsValid() || d.Route == route)
	})
	if len(removed) == 0 {
		return s, nil, fmt.Errorf("%w: no drain of %s", ErrNotFound, nexthop)
	}
	return out, removed, nil
}

// Expire returns s without the drains expired at now, and those.
func (s State) Expire(now time.Time) (State, []Drain) {
	return s.without(func(d Drain) bool { return !d.Expires.IsZero() && !now.Before(d.Expires) })
}

// NextExpiry is when the next drain expires (zero if none does): the
// reconciler must decide again then.
func (s State) NextExpiry() time.Time {
	var next time.Time
	for _, d := range s.Drains {
		if !d.Expires.IsZero() && (next.IsZero() || d.Expires.Before(next)) {
			next = d.Expires
		}
	}
	return next
}

// without returns a copy of s without the drains match matches, and those.
func (s State) without(match func(Drain) bool) (State, []Drain) {
	var removed []Drain
	s.Drains = slices.DeleteFunc(slices.Clone(s.Drains), func(d Drain) bool {
		if !match(d) {
			return false
		}
		removed = append(removed, d)
		return true
	})
	s.Dampening = slices.Clone(s.Dampening)
	return s, removed
}

func sortDrains(ds []Drain) {
	slices.SortFunc(ds, func(a, b Drain) int {
		return cmp.Or(a.Nexthop.Compare(b.Nexthop), a.Route.Addr().Compare(b.Route.Addr()), cmp.Compare(a.Route.Bits(), b.Route.Bits()))
	})
}
