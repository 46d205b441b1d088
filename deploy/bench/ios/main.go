//go:build linux

// Command bench measures the IOS backend against the FRR + sshd peer:
// session open, per-change latency on a reused session (Apply = read,
// configure, read back until it matches) and restore latency, printing
// p50/p90/max over N trials. Run by bench.sh (`make bench-ios`); needs root.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/slaroute/slaroute/deploy/bench/benchfmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/ios"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
)

var (
	svc = netip.MustParsePrefix("192.0.2.53/32")
	all = []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("198.51.100.13")}
)

func main() {
	trials := flag.Int("trials", 30, "trials per measurement (>= 20)")
	platform := flag.String("platform", "cisco_iosxe", "scrapligo platform")
	flag.Parse()
	if err := run(*trials, *platform); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(trials int, platform string) error {
	ctx := context.Background()
	peer, err := frrpeer.Start(ctx, frrpeer.Options{})
	if err != nil {
		return err
	}
	defer peer.Stop()
	cfg := ios.Config{
		Address: peer.HostAddr, Username: peer.Username, PrivateKeyFile: peer.PrivateKeyFile,
		KnownHostsFile: peer.KnownHostsFile, Platform: platform, RouteTag: 53053,
		Timeout: model.Duration(10 * time.Second),
	}
	m := ios.NewMetrics(nil)
	logger := slog.New(slog.DiscardHandler)
	managed := map[netip.Prefix]string{svc: ""}

	var open []time.Duration
	for range trials {
		b, err := ios.New(cfg, managed, m, logger)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := b.List(ctx); err != nil {
			return err
		}
		open = append(open, time.Since(start))
		b.Close()
	}

	b, err := ios.New(cfg, managed, m, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.Set(ctx, route.New(svc, all...)); err != nil {
		return err
	}
	var list, withdraw, restore, kernel []time.Duration
	survivors := []netip.Addr{all[0], all[2]}
	for range trials {
		start := time.Now()
		if _, err := b.List(ctx); err != nil {
			return err
		}
		list = append(list, time.Since(start))

		start = time.Now()
		if _, err := b.Set(ctx, route.New(svc, survivors...)); err != nil {
			return err
		}
		withdraw = append(withdraw, time.Since(start))
		if err := waitKernel(ctx, peer, survivors); err != nil {
			return err
		}

		start = time.Now()
		if _, err := b.Set(ctx, route.New(svc, all...)); err != nil {
			return err
		}
		restore = append(restore, time.Since(start))
		if err := waitKernel(ctx, peer, all); err != nil {
			return err
		}
		kernel = append(kernel, time.Since(start))
	}
	v, _ := peer.Vtysh(ctx, "show version")
	fmt.Printf("IOS backend (scrapligo, platform %s) against %s over OpenSSH, %d trials\n", platform, benchfmt.FirstLine(v), trials)
	fmt.Printf("%-44s %9s %9s %9s\n", "measurement", "p50", "p90", "max")
	row := func(name string, d []time.Duration) {
		slices.Sort(d)
		fmt.Printf("%-44s %9s %9s %9s\n", name, benchfmt.Ms(benchfmt.Pct(d, 50)), benchfmt.Ms(benchfmt.Pct(d, 90)), benchfmt.Ms(d[len(d)-1]))
	}
	row("session open + first List (new backend)", open)
	row("List on reused session", list)
	row("withdraw: Apply + read-back, reused session", withdraw)
	row("restore: Apply + read-back, reused session", restore)
	row("restore until the kernel route has it", kernel)
	goal := "met"
	if benchfmt.Pct(withdraw, 50) >= 50*time.Millisecond || benchfmt.Pct(restore, 50) >= 50*time.Millisecond {
		goal = "MISSED"
	}
	fmt.Printf("goal: reused-session change + read-back < 50 ms p50: %s\n", goal)
	return nil
}

// waitKernel polls `ip route show` in the router namespace.
func waitKernel(ctx context.Context, peer *frrpeer.Peer, want []netip.Addr) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := peer.KernelNexthops(ctx, svc)
		if err != nil {
			return err
		}
		if slices.Equal(got, want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kernel route via %v, want %v", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}
