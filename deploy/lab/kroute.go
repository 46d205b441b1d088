//go:build linux

package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// ipRoute is the part of `ip -j route show` the lab reads. iproute2 expands
// a route's nexthop object (nhid) into "nexthops" too.
type ipRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	NHID     int    `json:"nhid"`
	Protocol string `json:"protocol"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
	} `json:"nexthops"`
}

// parseRoutes returns the sorted gateways of dst in `ip -j route show` output;
// ok is false when the route is absent.
func parseRoutes(js []byte, dst netip.Prefix) (gws []netip.Addr, ok bool, err error) {
	var rs []ipRoute
	if len(js) == 0 {
		return nil, false, nil
	}
	if err := json.Unmarshal(js, &rs); err != nil {
		return nil, false, fmt.Errorf("parse ip route json: %w", err)
	}
	for _, r := range rs {
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst)
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p != dst {
			continue
		}
		ok = true
		add := func(s string) error {
			if s == "" {
				return nil
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("route %s: gateway %q: %w", r.Dst, s, err)
			}
			gws = append(gws, a)
			return nil
		}
		if err := add(r.Gateway); err != nil {
			return nil, false, err
		}
		for _, nh := range r.Nexthops {
			if err := add(nh.Gateway); err != nil {
				return nil, false, err
			}
		}
	}
	slices.SortFunc(gws, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(gws), ok, nil
}

// RouteNexthops reads the kernel's route to the service prefix in the router
// namespace: its gateways, sorted (empty when the route is absent).
func (l *Lab) RouteNexthops() ([]netip.Addr, error) { return routeNexthops(l.Router) }

// routeNexthops reads the route to the service prefix in namespace ns.
func routeNexthops(ns string) ([]netip.Addr, error) {
	out, err := ip("-j", "-n", ns, "route", "show", "table", "all", ServicePrefix.String())
	if err != nil {
		return nil, err
	}
	gws, _, err := parseRoutes([]byte(out), ServicePrefix)
	return gws, err
}

// RouteEvent is one observed state of the kernel route.
type RouteEvent struct {
	At       time.Time
	Nexthops []netip.Addr
}

// Watcher follows the kernel route continuously: `ip monitor` wakes it on
// every route or nexthop event (precise timestamps), a 100 ms poll is the
// safety net. It records every distinct state.
type Watcher struct {
	ns     string // the router namespace it watches
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	events []RouteEvent
	cond   chan struct{} // closed and replaced on each change
	err    error
}

// Watch starts a Watcher of the router namespace; Stop it when done.
func (l *Lab) Watch() (*Watcher, error) { return WatchNS(l.Router) }

// WatchNS starts a Watcher of the service route in namespace ns (a second
// router, say); Stop it when done.
func WatchNS(ns string) (*Watcher, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{ns: ns, cancel: cancel, done: make(chan struct{}), cond: make(chan struct{})}
	cmd := exec.CommandContext(ctx, "ip", "-n", ns, "monitor", "route", "nexthop")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("ip monitor: %w", err)
	}
	kick := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case kick <- time.Now():
			default:
			}
		}
	}()
	w.sample(time.Now())
	go func() {
		defer close(w.done)
		defer func() { _ = cmd.Wait() }()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case at := <-kick:
				w.sample(at)
			case at := <-tick.C:
				w.sample(at)
			}
		}
	}()
	return w, nil
}

func (w *Watcher) sample(at time.Time) {
	gws, err := routeNexthops(w.ns)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.err = err
		return
	}
	if n := len(w.events); n > 0 && slices.Equal(w.events[n-1].Nexthops, gws) {
		return
	}
	w.events = append(w.events, RouteEvent{At: at, Nexthops: gws})
	close(w.cond)
	w.cond = make(chan struct{})
}

// Stop ends the watcher.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// Events returns every distinct route state seen so far.
func (w *Watcher) Events() []RouteEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

// Current is the last observed state.
func (w *Watcher) Current() RouteEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) == 0 {
		return RouteEvent{}
	}
	return w.events[len(w.events)-1]
}

// Since returns the events observed at or after t.
func (w *Watcher) Since(t time.Time) []RouteEvent {
	var out []RouteEvent
	for _, e := range w.Events() {
		if !e.At.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// WaitFor waits until the route's nexthops satisfy pred and returns the
// time of the state change that satisfied it.
func (w *Watcher) WaitFor(ctx context.Context, pred func([]netip.Addr) bool) (time.Time, error) {
	for {
		w.mu.Lock()
		var cur RouteEvent
		seen := len(w.events) > 0
		if seen {
			cur = w.events[len(w.events)-1]
		}
		ch, err := w.cond, w.err
		w.mu.Unlock()
		if seen && pred(cur.Nexthops) {
			return cur.At, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("route stayed %v: %w (last read error: %v)", cur.Nexthops, ctx.Err(), err)
		case <-ch:
		}
	}
}

// Without reports whether nh is absent from a non-empty nexthop set.
func Without(nh netip.Addr) func([]netip.Addr) bool {
	return func(gws []netip.Addr) bool { return len(gws) > 0 && !slices.Contains(gws, nh) }
}

// Exactly reports whether the route has exactly these nexthops.
func Exactly(want ...netip.Addr) func([]netip.Addr) bool {
	w := slices.Clone(want)
	slices.SortFunc(w, func(a, b netip.Addr) int { return a.Compare(b) })
	return func(gws []netip.Addr) bool { return slices.Equal(gws, w) }
}

// NexthopGroup returns the sizing part of `ip nexthop show` for the group
// the service route uses ("type resilient buckets ... idle_timer ..."), or ""
// when the route uses no group (multipath).
func (l *Lab) NexthopGroup() (string, error) {
	out, err := ip("-n", l.Router, "route", "show", ServicePrefix.String())
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	i := slices.Index(f, "nhid")
	if i < 0 || i+1 >= len(f) {
		return "", nil
	}
	g, err := ip("-n", l.Router, "nexthop", "show", "id", f[i+1])
	if err != nil {
		return "", err
	}
	_, rest, _ := strings.Cut(g, " type ")
	rest, _, _ = strings.Cut(rest, " unbalanced_time ")
	return "type " + strings.TrimSpace(rest), nil
}
