//go:build linux

package netlink

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slaroute/slaroute/actuator/route"
)

var modes = []string{"resilient", "multipath"}

// converge lists, diffs against desired and applies, like the reconciler.
func converge(t *testing.T, b *Backend, desired ...route.Route) {
	t.Helper()
	ctx := context.Background()
	have, err := b.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range route.Diff(have, desired) {
		if err := b.Apply(ctx, c); err != nil {
			t.Fatalf("apply %+v: %v", c, err)
		}
	}
	wantList(t, b, desired...)
}

func wantList(t *testing.T, b *Backend, want ...route.Route) {
	t.Helper()
	got, err := b.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		got = nil
	}
	if len(want) == 0 {
		want = nil
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
}

// ourRoute is `ip route show` of the service route with protocol 250 (the
// filter hides "proto 250" from the output), empty when absent.
func (l *lab) ourRoute() string {
	return strings.TrimSpace(l.ip("route", "show", "table", "main", "proto", "250", svc.String()))
}

// groupMembers reads the member gateways of the route's group with `ip nexthop show`.
func (l *lab) groupMembers(t *testing.T, b *Backend) []string {
	t.Helper()
	gid := groupID(250, 254, svc)
	line := strings.TrimSpace(l.ip("nexthop", "show", "id", fmt.Sprint(gid)))
	m := regexp.MustCompile(`^id \d+ group (\S+) type resilient buckets 128 idle_timer 0 .*proto 250`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ip nexthop show id %d = %q, want a resilient group of 128 buckets, idle_timer 0, proto 250", gid, line)
	}
	var gws []string
	for _, id := range strings.Split(m[1], "/") {
		out := strings.TrimSpace(l.ip("nexthop", "show", "id", id))
		mm := regexp.MustCompile(`^id \d+ via (\S+) dev veth0 scope link proto 250`).FindStringSubmatch(out)
		if mm == nil {
			t.Fatalf("member %s: %q", id, out)
		}
		gws = append(gws, mm[1])
	}
	slices.Sort(gws)
	return gws
}

func TestLifecycle(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			b := l.backend(mode)
			mon := l.monitor()
			ctx := context.Background()
			gid := groupID(250, 254, svc)

			// Create.
			converge(t, b, route.New(svc, allGW...))
			got := l.ourRoute()
			if mode == "resilient" {
				if want := fmt.Sprintf("192.0.2.53 nhid %d \n\tnexthop via", gid); !strings.HasPrefix(got, want) {
					t.Fatalf("ip route show = %q, want prefix %q", got, want)
				}
				if m := l.groupMembers(t, b); !slices.Equal(m, []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}) {
					t.Fatalf("group members = %v", m)
				}
			} else if !regexp.MustCompile(`^192.0.2.53 \s*nexthop via 198.51.100.11 dev veth0 weight 1 \s*nexthop via 198.51.100.12 dev veth0 weight 1 \s*nexthop via 198.51.100.13 dev veth0 weight 1$`).MatchString(got) {
				t.Fatalf("ip route show = %q", got)
			}
			mon.drain()

			// Withdraw .12, then restore it: the route itself is never deleted.
			converge(t, b, route.New(svc, gw11, gw13))
			if mode == "resilient" {
				if m := l.groupMembers(t, b); !slices.Equal(m, []string{"198.51.100.11", "198.51.100.13"}) {
					t.Fatalf("after withdraw, group members = %v", m)
				}
				// Nothing uses the withdrawn member object any more: it is gone.
				if out := l.ip("nexthop", "show"); strings.Contains(out, "198.51.100.12") {
					t.Fatalf("after withdraw, ip nexthop show = %q", out)
				}
			} else if strings.Contains(l.ourRoute(), "198.51.100.12") {
				t.Fatalf("after withdraw: %q", l.ourRoute())
			}
			converge(t, b, route.New(svc, allGW...))
			if mode == "resilient" {
				if m := l.groupMembers(t, b); len(m) != 3 {
					t.Fatalf("after restore, group members = %v", m)
				}
				if !strings.HasPrefix(l.ourRoute(), fmt.Sprintf("192.0.2.53 nhid %d ", gid)) {
					t.Fatalf("after restore: %q", l.ourRoute())
				}
			}
			ev := mon.drain()
			t.Logf("withdraw and restore: %v", ev)
			want := fmt.Sprintf("NEWNEXTHOP %d", gid)
			if mode == "multipath" {
				want = "NEWROUTE " + svc.String()
			}
			if !slices.Contains(ev, want) {
				t.Fatalf("no %q among the notifications %v", want, ev)
			}
			for _, ev := range ev {
				if strings.HasPrefix(ev, "DELROUTE") {
					t.Fatalf("withdraw/restore deleted a route: %s", ev)
				}
			}

			// Re-applying a change already in effect sends nothing.
			for _, c := range []route.Change{
				{Action: route.Update, Prefix: svc, From: allGW, To: allGW},
				{Action: route.Create, Prefix: svc, To: allGW},
			} {
				if err := b.Apply(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			if ev := mon.drain(); len(ev) != 0 {
				t.Fatalf("idempotent re-apply changed the kernel: %v", ev)
			}

			// Delete removes the route and every object of ours.
			converge(t, b)
			if got := l.ourRoute(); got != "" {
				t.Fatalf("after delete: %q", got)
			}
			if out := l.ip("nexthop", "show"); strings.Contains(out, "proto 250") {
				t.Fatalf("after delete, nexthops left: %q", out)
			}
			if err := b.Apply(ctx, route.Change{Action: route.Delete, Prefix: svc, From: allGW}); err != nil {
				t.Fatalf("delete of an absent route: %v", err)
			}
			if ev := mon.drain(); slices.ContainsFunc(ev, func(s string) bool { return strings.Contains(s, "NEW") }) {
				t.Fatalf("delete created something: %v", ev)
			}
		})
	}
}

var _ = errors.Is
var _ = netip.Addr{}
