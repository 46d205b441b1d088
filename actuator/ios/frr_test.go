//go:build linux && integration

package ios_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/ios"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
	"github.com/slaroute/slaroute/deploy/lab/frrpeer/frrpeertest"
)

var (
	svc     = netip.MustParsePrefix("192.0.2.53/32")
	foreign = netip.MustParsePrefix("192.0.2.99/32")
	nh11    = netip.MustParseAddr("198.51.100.11")
	nh12    = netip.MustParseAddr("198.51.100.12")
	nh13    = netip.MustParseAddr("198.51.100.13")
)

// waitKernel polls the router namespace's kernel table: zebra installs what
// staticd hands it asynchronously.
func waitKernel(t *testing.T, p *frrpeer.Peer, prefix netip.Prefix, want ...netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := p.KernelNexthops(context.Background(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kernel route %s via %v, want %v", prefix, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantRunning(t *testing.T, p *frrpeer.Peer, want ...string) {
	t.Helper()
	got, err := p.RunningRoutes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("vtysh running config routes:\n%q\nwant\n%q", got, want)
	}
}

// TestFRRWithdrawRestore drives a real FRR over a real sshd, for every
// supported platform definition: create, withdraw, restore, delete, with a
// foreign route that must stay untouched.
func TestFRRWithdrawRestore(t *testing.T) {
	peer := frrpeertest.Start(t, frrpeer.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := peer.Vtysh(ctx, "configure terminal", "ip route 192.0.2.99/32 198.51.100.13"); err != nil {
		t.Fatal(err)
	}
	foreignLine := "ip route 192.0.2.99/32 198.51.100.13"
	for _, platform := range ios.Platforms {
		t.Run(platform, func(t *testing.T) {
			m := ios.NewMetrics(prometheus.NewRegistry())
			b, err := ios.New(ios.Config{
				Address: peer.HostAddr, Username: peer.Username, PrivateKeyFile: peer.PrivateKeyFile,
				KnownHostsFile: peer.KnownHostsFile, Platform: platform, RouteTag: 53053,
				Timeout: model.Duration(5 * time.Second),
			}, map[netip.Prefix]string{svc: ""}, m, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			step := func(desired ...netip.Addr) {
				t.Helper()
				if got, err := b.Set(ctx, route.New(svc, desired...)); err != nil || !got.Equal(route.New(svc, desired...)) {
					t.Fatalf("Set = %s, %v, want via %v", got, err, desired)
				}
				got, err := b.List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var want []route.Route
				if len(desired) > 0 {
					want = []route.Route{route.New(svc, desired...)}
				}
				if !slices.EqualFunc(got, want, route.Route.Equal) {
					t.Fatalf("List = %v, want %v", got, want)
				}
				waitKernel(t, peer, svc, desired...)
			}

			step(nh11, nh12, nh13)
			wantRunning(t, peer,
				"ip route 192.0.2.53/32 198.51.100.11 tag 53053",
				"ip route 192.0.2.53/32 198.51.100.12 tag 53053",
				"ip route 192.0.2.53/32 198.51.100.13 tag 53053",
				foreignLine)
			step(nh11, nh13) // withdraw .12
			wantRunning(t, peer,
				"ip route 192.0.2.53/32 198.51.100.11 tag 53053",
				"ip route 192.0.2.53/32 198.51.100.13 tag 53053",
				foreignLine)
			step(nh11, nh12, nh13) // restore .12
			step(nh12)             // down to one: swap order keeps it non-empty
			step()                 // delete
			wantRunning(t, peer, foreignLine)
			waitKernel(t, peer, foreign, nh13)

			if n := testutil.ToFloat64(m.Reconnects); n != 0 {
				t.Errorf("reconnects_total = %v, want 0 (one reused session)", n)
			}
			if n := testutil.ToFloat64(m.CLIErrors); n != 0 {
				t.Errorf("cli_errors_total = %v, want 0", n)
			}
		})
	}
}

// TestFRRIPv6 drives IPv4 and IPv6 service routes on one router through
// FRR's vtysh over sshd: `ipv6 route P/L NH tag T` lines appear in the
// running config and zebra installs the kernel route in the router's
// namespace, with every nexthop; withdraw, restore and delete.
func TestFRRIPv6(t *testing.T) {
	svc6 := netip.MustParsePrefix("2001:db8:53::53/128")
	v11, v12, v13 := netip.MustParseAddr("2001:db8:100::11"), netip.MustParseAddr("2001:db8:100::12"), netip.MustParseAddr("2001:db8:100::13")
	peer := frrpeertest.Start(t, frrpeer.Options{
		RouterAddr6: netip.MustParsePrefix("2001:db8:100::1/64"), Nexthops6: []netip.Addr{v11, v12, v13},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, platform := range ios.Platforms {
		t.Run(platform, func(t *testing.T) {
			m := ios.NewMetrics(prometheus.NewRegistry())
			b, err := ios.New(ios.Config{
				Address: peer.HostAddr, Username: peer.Username, PrivateKeyFile: peer.PrivateKeyFile,
				KnownHostsFile: peer.KnownHostsFile, Platform: platform, RouteTag: 53053,
				Timeout: model.Duration(5 * time.Second),
			}, map[netip.Prefix]string{svc: "", svc6: ""}, m, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			set := func(want route.Route) {
				t.Helper()
				if got, err := b.Set(ctx, want); err != nil || !got.Equal(want) {
					t.Fatalf("Set = %s, %v, want %s", got, err, want)
				}
				waitKernel(t, peer, want.Prefix, want.Nexthops...)
			}
			set(route.New(svc, nh11, nh12))
			set(route.New(svc6, v11, v12, v13))
			wantRunning(t, peer,
				"ip route 192.0.2.53/32 198.51.100.11 tag 53053",
				"ip route 192.0.2.53/32 198.51.100.12 tag 53053",
				"ipv6 route 2001:db8:53::53/128 2001:db8:100::11 tag 53053",
				"ipv6 route 2001:db8:53::53/128 2001:db8:100::12 tag 53053",
				"ipv6 route 2001:db8:53::53/128 2001:db8:100::13 tag 53053")
			got, err := b.List(ctx)
			if want := []route.Route{route.New(svc, nh11, nh12), route.New(svc6, v11, v12, v13)}; err != nil || !slices.EqualFunc(got, want, route.Route.Equal) {
				t.Fatalf("List = %v, %v, want %v", got, err, want)
			}
			set(route.New(svc6, v11, v13)) // withdraw ::12
			set(route.New(svc6, v11, v12, v13))
			set(route.New(svc6))
			set(route.New(svc))
			wantRunning(t, peer)
			if n := testutil.ToFloat64(m.CLIErrors); n != 0 {
				t.Errorf("cli_errors_total = %v, want 0", n)
			}
		})
	}
}
