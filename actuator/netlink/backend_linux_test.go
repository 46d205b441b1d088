//go:build linux && integration

package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/route"
)

var modes = []string{"resilient", "multipath"}

// converge lists, then sets every route that differs from desired (owned
// routes not desired are removed) and checks the read-back, like the reconciler.
func converge(t *testing.T, b *Backend, desired ...route.Route) {
	t.Helper()
	ctx := context.Background()
	have, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range have {
		if !slices.ContainsFunc(desired, func(d route.Route) bool { return d.Prefix == h.Prefix }) {
			set(t, b, route.New(h.Prefix))
		}
	}
	for _, d := range desired {
		if !slices.ContainsFunc(have, d.Equal) {
			set(t, b, d)
		}
	}
	wantList(t, b, desired...)
}

// set calls Set and checks that the read-back is want.
func set(t *testing.T, b *Backend, want route.Route) {
	t.Helper()
	got, err := b.Set(context.Background(), want)
	if err != nil {
		t.Fatalf("Set %s: %v", want, err)
	}
	if !got.Equal(want) {
		t.Fatalf("Set %s read back %s", want, got)
	}
}

func wantList(t *testing.T, b *Backend, want ...route.Route) {
	t.Helper()
	got, err := b.List(context.Background())
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
func (l *lab) groupMembers(t *testing.T) []string {
	t.Helper()
	gid := groupID(250, 254, svc)
	line := strings.TrimSpace(l.ip("nexthop", "show", "id", fmt.Sprint(gid)))
	m := regexp.MustCompile(`^id \d+ group (\S+) type resilient buckets 4096 idle_timer 1 unbalanced_timer 20 .*proto 250`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ip nexthop show id %d = %q, want a resilient group with the default 4096 buckets, idle_timer 1, unbalanced_timer 20, proto 250", gid, line)
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
				if m := l.groupMembers(t); !slices.Equal(m, []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}) {
					t.Fatalf("group members = %v", m)
				}
			} else if !regexp.MustCompile(`^192.0.2.53 \s*nexthop via 198.51.100.11 dev veth0 weight 1 \s*nexthop via 198.51.100.12 dev veth0 weight 1 \s*nexthop via 198.51.100.13 dev veth0 weight 1$`).MatchString(got) {
				t.Fatalf("ip route show = %q", got)
			}
			mon.drain()

			// Withdraw .12, then restore it: the route itself is never deleted.
			converge(t, b, route.New(svc, gw11, gw13))
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, []string{"198.51.100.11", "198.51.100.13"}) {
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
				if m := l.groupMembers(t); len(m) != 3 {
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
			for range 2 {
				set(t, b, route.New(svc, allGW...))
			}
			if ev := mon.drain(); len(ev) != 0 {
				t.Fatalf("idempotent re-apply changed the kernel: %v", ev)
			}
			// A restarted actuator reads the routes and does not flap them.
			converge(t, l.backend(mode), route.New(svc, allGW...))
			if ev := mon.drain(); len(ev) != 0 {
				t.Fatalf("a fresh backend changed the kernel: %v", ev)
			}

			// Delete removes the route and every object of ours.
			converge(t, b)
			if got := l.ourRoute(); got != "" {
				t.Fatalf("after delete: %q", got)
			}
			if out := l.ip("nexthop", "show"); strings.Contains(out, "proto 250") {
				t.Fatalf("after delete, nexthops left: %q", out)
			}
			if _, err := b.Set(ctx, route.New(svc)); err != nil {
				t.Fatalf("delete of an absent route: %v", err)
			}
			if ev := mon.drain(); slices.ContainsFunc(ev, func(s string) bool { return strings.Contains(s, "NEW") }) {
				t.Fatalf("delete created something: %v", ev)
			}
		})
	}
}

// TestFlowsSurviveWithdraw asks the kernel's own FIB (ip route get with the
// 5-tuple, fib_multipath_hash_policy=1) where 1000 flows go before and after
// one nexthop is withdrawn, for each of the three in turn: with a resilient
// group, none of the flows of the surviving servers may move. Multipath is
// measured for comparison only (withdrawing the middle one of three moves
// nothing there either; withdrawing an outer one moves some).
func TestFlowsSurviveWithdraw(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			// idle_timer 0: each round's restore hands the returning member its
			// buckets at once (`ip route get` keeps buckets busy, so with the
			// default 1 s it would get them only after the lookups pause).
			cfg := DefaultConfig
			cfg.Mode, cfg.IdleTimer, cfg.UnbalancedTimer = mode, 0, 0
			b := l.backendWith(cfg)
			for _, gone := range allGW {
				converge(t, b, route.New(svc, allGW...))
				before := l.lookups(250)
				per := map[netip.Addr]int{}
				for _, gw := range before {
					per[gw]++
				}
				if len(per) != 3 {
					t.Fatalf("flows spread over %v, want all three servers", per)
				}

				rest := slices.DeleteFunc(slices.Clone(allGW), func(a netip.Addr) bool { return a == gone })
				converge(t, b, route.New(svc, rest...))
				after := l.lookups(250)
				moved, survivors := 0, 0
				for k, gw := range before {
					if after[k] == gone {
						t.Fatalf("flow %q still goes to the withdrawn %s", k, gone)
					}
					if gw == gone {
						continue
					}
					survivors++
					if after[k] != gw {
						moved++
					}
				}
				t.Logf("%s: %d flows %v; after withdrawing %s, %d of %d survivors' flows moved (%.1f%%)",
					mode, len(before), per, gone, moved, survivors, 100*float64(moved)/float64(survivors))
				if mode == "resilient" && moved != 0 {
					t.Errorf("resilient group: withdrawing %s moved %d of %d flows of surviving servers", gone, moved, survivors)
				}
			}
		})
	}
}

// TestDriftRepair changes the kernel behind the backend's back: List must
// show the drift and one converge pass must repair it.
func TestDriftRepair(t *testing.T) {
	gid := fmt.Sprint(groupID(250, 254, svc))
	m11, m12 := fmt.Sprint(memberID(250, gw11)), fmt.Sprint(memberID(250, gw12))
	cases := []struct {
		mode, name, cmds string
		drift            []route.Route // what List must report before the repair
	}{
		{"resilient", "route deleted", "route del 192.0.2.53/32 proto 250", nil},
		{"resilient", "group deleted", "nexthop del id " + gid, nil},
		{"resilient", "group edited", "nexthop replace id " + gid + " group " + m11 + " type resilient", []route.Route{route.New(svc, gw11)}},
		{"resilient", "member deleted", "nexthop del id " + m12, []route.Route{route.New(svc, gw11, gw13)}},
		{"resilient", "member edited", "nexthop replace id " + m12 + " via 198.51.100.99 dev veth0 proto 250", []route.Route{route.New(svc)}},
		{"resilient", "route repointed", "nexthop add id 7 via 198.51.100.11 dev veth0\nroute replace 192.0.2.53/32 nhid 7 proto 250", []route.Route{route.New(svc)}},
		{"resilient", "foreign member in group", "nexthop add id 7 via 198.51.100.11 dev veth0\nnexthop replace id " + gid + " group " + m11 + "/7 type resilient", []route.Route{route.New(svc)}},
		{"multipath", "route deleted", "route del 192.0.2.53/32 proto 250", nil},
		{"multipath", "route edited", "route replace 192.0.2.53/32 proto 250 nexthop via 198.51.100.11", []route.Route{route.New(svc, gw11)}},
		{"multipath", "route repointed", "nexthop add id 7 via 198.51.100.11 dev veth0\nroute replace 192.0.2.53/32 nhid 7 proto 250", []route.Route{route.New(svc)}},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+tc.name, func(t *testing.T) {
			l := newLab(t)
			b := l.backend(tc.mode)
			want := route.New(svc, allGW...)
			converge(t, b, want)
			before := l.ourRoute()
			l.batch(tc.cmds)
			wantList(t, b, tc.drift...)
			converge(t, b, want)
			if got := l.ourRoute(); got != before {
				t.Fatalf("after repair ip route show = %q, want %q", got, before)
			}
			if tc.mode == "resilient" {
				if m := l.groupMembers(t); len(m) != 3 {
					t.Fatalf("after repair, group members = %v", m)
				}
			}
			if strings.Contains(tc.cmds, "id 7") && !strings.Contains(l.ip("nexthop", "show", "id", "7"), "via 198.51.100.11") {
				t.Fatalf("foreign nexthop 7 was touched: %q", l.ip("nexthop", "show"))
			}
		})
	}
}

// TestReplacedByForeignRoute: someone replaces our route with their own. The
// backend no longer lists it and refuses to overwrite it.
func TestReplacedByForeignRoute(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			b := l.backend(mode)
			converge(t, b, route.New(svc, allGW...))
			l.ip("route", "replace", "192.0.2.53/32", "via", "198.51.100.11", "proto", "static")
			wantList(t, b)
			_, err := b.Set(context.Background(), route.New(svc, allGW...))
			if !errors.Is(err, ErrConflict) || errors.Is(err, route.ErrUnavailable) {
				t.Fatalf("apply over a foreign route: %v, want ErrConflict", err)
			}
			const want = "route 192.0.2.53/32: not owned by this route_actuator: create route: a route for 192.0.2.53/32 already exists in table 254 with another protocol"
			if err.Error() != want {
				t.Fatalf("error %q, want %q", err, want)
			}
			if got := strings.TrimSpace(l.ip("route", "show", "192.0.2.53/32")); got != "192.0.2.53 via 198.51.100.11 dev veth0 proto static" {
				t.Fatalf("foreign route changed: %q", got)
			}
			// Once the foreign route is gone, the next pass installs ours.
			l.ip("route", "del", "192.0.2.53/32", "proto", "static")
			converge(t, b, route.New(svc, allGW...))
		})
	}
}

// TestForeignUntouched runs a whole lifecycle next to routes and nexthop
// objects of other owners (and ours in another table) and compares the
// kernel tables before and after.
func TestForeignUntouched(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			b := l.backend(mode)
			// Separate ip processes: iproute2 6.1's batch mode caches protocol
			// names and turned "proto static" after "proto 250" into 250.
			for _, cmd := range []string{
				"nexthop add id 5 via 198.51.100.13 dev veth0",
				"nexthop add id 6 group 5 type resilient buckets 8",
				"nexthop add id 9 via 198.51.100.12 dev veth0 proto 250",
				"route add 192.0.2.54/32 nhid 6",
				"route add 192.0.2.55/32 via 198.51.100.11 proto static",
				"route add 192.0.2.56/32 nhid 9 proto 250 table 100",
				"route add 192.0.2.53/32 via 198.51.100.11 proto static metric 100",
				"route add 192.0.2.53/32 via 198.51.100.12 proto 250 table 100",
			} {
				l.ip(strings.Fields(cmd)...)
			}
			snapshot := func() string {
				return l.ip("-d", "route", "show", "table", "all") + l.ip("-d", "nexthop", "show")
			}
			before := snapshot()
			converge(t, b, route.New(svc, allGW...))
			converge(t, b, route.New(svc, gw13))
			mid := snapshot()
			for _, line := range strings.Split(strings.TrimSpace(before), "\n") {
				if !strings.Contains(mid, line) {
					t.Errorf("foreign line %q missing while our route is installed:\n%s", line, mid)
				}
			}
			converge(t, b, route.New(svc, allGW...))
			converge(t, b)
			if after := snapshot(); after != before {
				t.Fatalf("kernel tables changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestIDConflict: a foreign object sits on an ID the scheme derives for us.
func TestIDConflict(t *testing.T) {
	l := newLab(t)
	b := l.backend("resilient")
	id := fmt.Sprint(memberID(250, gw11))
	l.ip("nexthop", "add", "id", id, "via", "198.51.100.11", "dev", "veth0", "proto", "static")
	before := l.ip("nexthop", "show")
	_, err := b.Set(context.Background(), route.New(svc, allGW...))
	want := "route 192.0.2.53/32: not owned by this route_actuator: nexthop id " + id + " (for gateway 198.51.100.11) exists with protocol 4"
	if !errors.Is(err, ErrConflict) || err.Error() != want {
		t.Fatalf("Set = %v, want %q", err, want)
	}
	if after := l.ip("nexthop", "show"); after != before {
		t.Fatalf("nexthops changed:\n%s\n%s", before, after)
	}
	if got := l.ourRoute(); got != "" {
		t.Fatalf("route installed despite the conflict: %q", got)
	}
}

// TestModeSwitch: routes installed in one mode are rewritten by the other,
// and the objects of mode resilient are removed.
func TestModeSwitch(t *testing.T) {
	l := newLab(t)
	want := route.New(svc, allGW...)
	converge(t, l.backend("resilient"), want)
	mp := l.backend("multipath")
	wantList(t, mp, route.New(svc))
	converge(t, mp, want)
	if out := l.ip("nexthop", "show"); out != "" {
		t.Fatalf("resilient objects left after switching to multipath: %q", out)
	}
	res := l.backend("resilient")
	wantList(t, res, route.New(svc))
	converge(t, res, want)
}

func TestErrors(t *testing.T) {
	l := newLab(t)
	b := l.backend("resilient")
	ctx := context.Background()
	for _, tc := range []struct {
		to   []netip.Addr
		want string
	}{
		{[]netip.Addr{netip.MustParseAddr("192.0.2.99")}, "route 192.0.2.53/32: look up gateway 192.0.2.99: network is unreachable"},
		{[]netip.Addr{netip.MustParseAddr("2001:db8::1")}, "route 192.0.2.53/32: nexthop 2001:db8::1: must be an unscoped address of the prefix's family"},
	} {
		_, err := b.Set(ctx, route.Route{Prefix: svc, Nexthops: tc.to})
		if err == nil || err.Error() != tc.want || errors.Is(err, route.ErrUnavailable) {
			t.Errorf("Set(%v) = %v, want %q (not ErrUnavailable)", tc.to, err, tc.want)
		}
	}
	b.Close()
	if _, err := b.List(ctx); !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("List on a closed socket = %v, want ErrUnavailable", err)
	}
}

// BenchmarkList measures one List of 33 routes (route dumps of both
// families, plus the nexthop dump in mode resilient).
func BenchmarkList(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			l := newLab(b)
			be := l.backend(mode)
			var want []route.Route
			for i := 1; i <= 33; i++ {
				want = append(want, route.New(netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/32", i)), allGW...))
			}
			for _, r := range want {
				if _, err := be.Set(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := be.List(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOtherTable: a table above 255 (only in RTA_TABLE), absent until the
// first route, with non-default buckets and idle timer.
func TestOtherTable(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			cfg := DefaultConfig
			cfg.Mode, cfg.Table, cfg.Buckets, cfg.IdleTimer = mode, "1000", 64, model.Duration(1500*time.Millisecond)
			b := l.backendWith(cfg)
			wantList(t, b) // the table does not exist yet
			converge(t, b, route.New(svc, gw11, gw13))
			got := strings.TrimSpace(l.ip("route", "show", "table", "1000", "proto", "250"))
			if !strings.Contains(got, "nexthop via 198.51.100.11") || !strings.Contains(got, "nexthop via 198.51.100.13") {
				t.Fatalf("ip route show table 1000 = %q", got)
			}
			if l.ourRoute() != "" {
				t.Fatalf("route leaked into main: %q", l.ourRoute())
			}
			if mode == "resilient" {
				g := strings.TrimSpace(l.ip("nexthop", "show", "id", fmt.Sprint(groupID(250, 1000, svc))))
				if !strings.Contains(g, "type resilient buckets 64 idle_timer 1.5 ") {
					t.Fatalf("group = %q", g)
				}
			}
			converge(t, b)
			if got := l.ip("route", "show", "table", "1000"); got != "" {
				t.Fatalf("after delete: %q", got)
			}
		})
	}
}

// TestGroupTimers: the kernel group carries the configured buckets and
// timers (read back with `ip nexthop show`); a new configuration changes the
// timers in place on the next apply, while the bucket count stays (the kernel
// cannot resize a group).
func TestGroupTimers(t *testing.T) {
	l := newLab(t)
	show := func() string {
		return strings.TrimSpace(l.ip("nexthop", "show", "id", fmt.Sprint(groupID(250, 254, svc))))
	}
	cfg := DefaultConfig
	cfg.Buckets, cfg.IdleTimer, cfg.UnbalancedTimer = 256, model.Duration(2500*time.Millisecond), model.Duration(30*time.Second)
	converge(t, l.backendWith(cfg), route.New(svc, allGW...))
	if g := show(); !strings.Contains(g, " type resilient buckets 256 idle_timer 2.5 unbalanced_timer 30 ") {
		t.Fatalf("group = %q, want buckets 256 idle_timer 2.5 unbalanced_timer 30", g)
	}
	cfg.Buckets, cfg.IdleTimer, cfg.UnbalancedTimer = 512, model.Duration(100*time.Millisecond), 0
	b := l.backendWith(cfg)
	converge(t, b, route.New(svc, gw11, gw13))
	if g := show(); !strings.Contains(g, " type resilient buckets 256 idle_timer 0.1 unbalanced_timer 0 ") {
		t.Fatalf("group after reconfiguration = %q, want buckets 256 (kept), idle_timer 0.1, unbalanced_timer 0", g)
	}
	nhs, err := b.nexthops()
	if err != nil {
		t.Fatal(err)
	}
	if g := nhs[groupID(250, 254, svc)]; g.Buckets != 256 || g.IdleTimer != 10 || g.UnbalancedTimer != 0 || len(g.Group) != 2 {
		t.Fatalf("dumped group = %+v", g)
	}
}

// BenchmarkApply measures one Set that withdraws or restores a nexthop
// (read the kernel, replace the group or route, collect garbage).
func BenchmarkApply(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			l := newLab(b)
			be := l.backend(mode)
			ctx := context.Background()
			if _, err := be.Set(ctx, route.New(svc, allGW...)); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				to := allGW
				if i%2 == 0 {
					to = []netip.Addr{gw11, gw13}
				}
				i++
				if _, err := be.Set(ctx, route.New(svc, to...)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPerRouteTable: routes with their own table go there, the others to
// the configured table; a route whose table changes moves (created in the
// new table, then removed from the old, which is still one of ours); a
// route of our protocol in a table the configuration does not use is not
// ours. A VRF that does not exist, or a device that is not a VRF, fails the
// change with the reason and leaves List working. (A real VRF device is not
// tested here: this machine's kernel refuses `ip link add type vrf`.)
func TestPerRouteTable(t *testing.T) {
	svc2 := netip.MustParsePrefix("192.0.2.54/32")
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			l.ip("route", "add", svc2.String(), "via", "198.51.100.13", "proto", "250", "table", "200")
			foreign := l.ip("route", "show", "table", "200")
			cfg := DefaultConfig
			cfg.Mode = mode
			open := func(places map[netip.Prefix]route.Placement) *Backend {
				b, err := NewAt(cfg, places, slog.New(slog.DiscardHandler), l.ns)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				return b
			}
			show := func(table string) string {
				return strings.TrimSpace(l.ip("route", "show", "table", table, "proto", "250"))
			}

			b := open(map[netip.Prefix]route.Placement{svc2: {Table: 100}})
			converge(t, b, route.New(svc, allGW...), route.New(svc2, gw11, gw12))
			if m, t100 := show("main"), show("100"); !strings.HasPrefix(m, svc.Addr().String()) || strings.Contains(m, svc2.Addr().String()) ||
				!strings.HasPrefix(t100, svc2.Addr().String()) || strings.Contains(t100, svc.Addr().String()+" ") {
				t.Fatalf("main:\n%s\ntable 100:\n%s", m, t100)
			}

			// svc moves from main to table 100: listed without nexthops
			// until it is rewritten there.
			b = open(map[netip.Prefix]route.Placement{svc: {Table: 100}, svc2: {Table: 100}})
			wantList(t, b, route.New(svc), route.New(svc2, gw11, gw12))
			converge(t, b, route.New(svc, gw13), route.New(svc2, gw11, gw12))
			if m, t100 := show("main"), show("100"); m != "" || !strings.Contains(t100, svc.Addr().String()) || !strings.Contains(t100, svc2.Addr().String()) {
				t.Fatalf("after the move: main:\n%s\ntable 100:\n%s", m, t100)
			}
			if mode == "resilient" {
				gid := fmt.Sprintf("id %d ", groupID(250, 254, svc))
				if objs := l.ip("nexthop", "show", "proto", "250"); strings.Contains(objs, gid) {
					t.Errorf("the main table's group for %s survived the move:\n%s", svc, objs)
				}
			}
			converge(t, b)
			if t100 := show("100"); t100 != "" {
				t.Fatalf("after delete: table 100:\n%s", t100)
			}
			if got := l.ip("route", "show", "table", "200"); got != foreign {
				t.Fatalf("route in table 200 (not ours) changed: %q, was %q", got, foreign)
			}
			if objs := strings.TrimSpace(l.ip("nexthop", "show", "proto", "250")); objs != "" {
				t.Errorf("objects left after delete: %s", objs)
			}

			for vrf, want := range map[string]string{
				"nosuch": "vrf nosuch: no such device",
				"veth0":  "vrf veth0: device is of type veth, not vrf",
			} {
				b := open(map[netip.Prefix]route.Placement{svc: {VRF: vrf}})
				if _, err := b.Set(context.Background(), route.New(svc, gw11)); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Set in vrf %s: %v, want %q", vrf, err, want)
				}
				wantList(t, b)
				if m := show("main"); m != "" {
					t.Errorf("vrf %s: a route went to main: %s", vrf, m)
				}
			}
		})
	}
}
