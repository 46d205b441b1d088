//go:build linux

// Command bgp measures the BGP backend's change latency against FRR's bgpd
// (deploy/lab/bgppeer): Set of a withdraw or restore until the router's
// kernel route has it, polled over netlink every millisecond, printing
// p50/p90/p99/max over N trials. The speaker must run in the lab's speaker
// namespace, so the command re-executes itself there. Run by bench.sh
// (`make bench-bgp`); needs root and FRR.
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

	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/deploy/lab/bgppeer"
)

func main() {
	trials := flag.Int("trials", 50, "withdraw/restore trials (>= 20)")
	flag.Parse()
	var err error
	if p, ok := bgppeer.Attach(); ok {
		err = speaker(p, *trials)
	} else {
		err = lab(*trials)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-bgp:", err)
		os.Exit(1)
	}
}

// lab starts the router and runs this command again as the speaker.
func lab(trials int) error {
	ctx := context.Background()
	p, err := bgppeer.Start(ctx, bgppeer.Options{})
	if err != nil {
		return err
	}
	defer p.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	v, _ := p.Vtysh(ctx, "show version")
	fmt.Printf("BGP backend (GoBGP, ADD-PATH) against FRR bgpd (%s) in network namespaces, %d trials\n", firstLine(v), trials)
	cmd := p.InSpeaker(self, "-trials", fmt.Sprint(trials))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func speaker(p *bgppeer.Peer, trials int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := bgp.Config{LocalAS: bgppeer.SpeakerAS, RouterID: bgppeer.SpeakerAddr, LocalAddress: bgppeer.SpeakerAddr,
		Neighbors: []bgp.Neighbor{{Address: bgppeer.RouterAddr, PeerAS: bgppeer.RouterAS, Port: 179,
			HoldTime: model.Duration(9 * time.Second), Keepalive: model.Duration(3 * time.Second), ConnectRetry: model.Duration(time.Second)}}}
	b, err := bgp.New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer b.Close()
	all := bgppeer.Nexthops
	survivors := []netip.Addr{all[0], all[2]}
	start := time.Now()
	if _, err := b.Set(ctx, route.New(bgppeer.Service, all...)); err != nil {
		return err
	}
	if _, err := p.WaitKernel(ctx, 10*time.Second, bgppeer.Service, "bgp", all...); err != nil {
		return err
	}
	first := time.Since(start)
	var set, withdraw, restore []time.Duration
	for range trials {
		for _, step := range []struct {
			nhs []netip.Addr
			out *[]time.Duration
		}{{survivors, &withdraw}, {all, &restore}} {
			start := time.Now()
			if _, err := b.Set(ctx, route.New(bgppeer.Service, step.nhs...)); err != nil {
				return err
			}
			set = append(set, time.Since(start))
			if _, err := p.WaitKernel(ctx, 10*time.Second, bgppeer.Service, "bgp", step.nhs...); err != nil {
				return err
			}
			*step.out = append(*step.out, time.Since(start))
		}
	}
	fmt.Printf("%-48s %9s %9s %9s %9s\n", "measurement", "p50", "p90", "p99", "max")
	row := func(name string, d []time.Duration) {
		slices.Sort(d)
		fmt.Printf("%-48s %9s %9s %9s %9s\n", name, ms(pct(d, 50)), ms(pct(d, 90)), ms(pct(d, 99)), ms(d[len(d)-1]))
	}
	fmt.Printf("first Set (session up) until the kernel has it: %s\n", ms(first))
	row("Set (speaker RIB + read-back)", set)
	row("withdraw: Set until the kernel route drops it", withdraw)
	row("restore: Set until the kernel route has it", restore)
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration { return sorted[(len(sorted)-1)*p/100] }

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func firstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "FRR"
}
