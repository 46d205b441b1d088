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
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
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
	managed := []netip.Prefix{svc}

	var open []time.Duration
	for range trials {
		b, err := ios.New(cfg, m, logger)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := b.List(ctx, managed); err != nil {
			return err
		}
		open = append(open, time.Since(start))
		b.Close()
	}

	b, err := ios.New(cfg, m, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	create := route.Change{Action: route.Create, Prefix: svc, To: all}
	if err := b.Apply(ctx, create); err != nil {
		return err
	}
	var list, withdraw, restore, kernel []time.Duration
	survivors := []netip.Addr{all[0], all[2]}
	for range trials {
		start := time.Now()
		if _, err := b.List(ctx, managed); err != nil {
			return err
		}
		list = append(list, time.Since(start))

		start = time.Now()
		if err := b.Apply(ctx, route.Change{Action: route.Update, Prefix: svc, From: all, To: survivors, Remove: all[1:2]}); err != nil {
			return err
		}
		withdraw = append(withdraw, time.Since(start))
		if err := waitKernel(ctx, peer, survivors); err != nil {
			return err
		}

		start = time.Now()
		if err := b.Apply(ctx, route.Change{Action: route.Update, Prefix: svc, From: survivors, To: all, Add: all[1:2]}); err != nil {
			return err
		}
		restore = append(restore, time.Since(start))
		if err := waitKernel(ctx, peer, all); err != nil {
			return err
		}
		kernel = append(kernel, time.Since(start))
	}
	v, _ := peer.Vtysh(ctx, "show version")
	fmt.Printf("IOS backend (scrapligo, platform %s) against %s over OpenSSH, %d trials\n", platform, firstLine(v), trials)
	fmt.Printf("%-44s %9s %9s %9s\n", "measurement", "p50", "p90", "max")
	row := func(name string, d []time.Duration) {
		slices.Sort(d)
		fmt.Printf("%-44s %9s %9s %9s\n", name, ms(pct(d, 50)), ms(pct(d, 90)), ms(d[len(d)-1]))
	}
	row("session open + first List (new backend)", open)
	row("List on reused session", list)
	row("withdraw: Apply + read-back, reused session", withdraw)
	row("restore: Apply + read-back, reused session", restore)
	row("restore until the kernel route has it", kernel)
	goal := "met"
	if pct(withdraw, 50) >= 50*time.Millisecond || pct(restore, 50) >= 50*time.Millisecond {
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

func pct(sorted []time.Duration, p int) time.Duration {
	slices.Sort(sorted)
	return sorted[(len(sorted)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func firstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "FRR"
}
