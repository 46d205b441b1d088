//go:build linux

// Command bgp measures the BGP backend's change latency against FRR's bgpd
// (deploy/lab/bgppeer), until the router's kernel route has the change
// (polled over netlink every millisecond), printing p50/p90/p99/max over N
// trials: first Set of the backend alone (the speaker must run in the lab's
// speaker namespace, so the command re-executes itself there), then webhook
// POSTs to the built route_actuator run in that namespace. Run by bench.sh
// (`make bench-bgp`); needs root and FRR.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/slaroute/slaroute/deploy/bench/benchfmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/deploy/lab/bgppeer"
	"github.com/slaroute/slaroute/deploy/lab/inns"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

func main() {
	trials := flag.Int("trials", 50, "withdraw/restore trials (>= 20)")
	binary := flag.String("binary", "bin/route_actuator", "the built route_actuator")
	flag.Parse()
	var err error
	if p, ok := bgppeer.Attach(); ok {
		err = speaker(p, *trials)
	} else {
		err = lab(*trials, *binary)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-bgp:", err)
		os.Exit(1)
	}
}

// lab starts the router and runs this command again as the speaker.
func lab(trials int, binary string) error {
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
	fmt.Printf("BGP backend (GoBGP, ADD-PATH) against FRR bgpd (%s) in network namespaces, %d trials\n", benchfmt.FirstLine(v), trials)
	cmd := p.InSpeaker(self, "-trials", fmt.Sprint(trials))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	return webhooks(ctx, p, trials, binary)
}

// actuatorConfig is route_actuator.yml for the webhook stage: the lab's
// speaker, the test routes and alerts, restore_delay 0s (as bench-actuator).
const actuatorConfig = bgppeer.BackendConfig + `routes:
  - prefix: 192.0.2.53/32
    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]
alerts:
  heartbeat: DNSSLAWatchdog
  restore_delay: 0s
resync_interval: 10s
`

// webhooks runs the built route_actuator in the speaker namespace and times
// webhook POSTs (from just before the request) until the kernel route changes.
func webhooks(ctx context.Context, p *bgppeer.Peer, trials int, binary string) error {
	dir, err := os.MkdirTemp("", "bench-bgp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "route_actuator.yml")
	if err := os.WriteFile(cfg, []byte(actuatorConfig), 0o600); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "route_actuator.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", p.SpeakerNamespace, binary, "--config.file="+cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: inns.Dialer(p.SpeakerNamespace)}}
	post := func(alerts ...testenv.Alert) error {
		resp, err := c.Post(testenv.ActuatorURL+"/webhook", "application/json", bytes.NewReader(testenv.Payload(alerts...)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST /webhook: %s", resp.Status)
		}
		return nil
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(testenv.ActuatorURL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("route_actuator not ready: %v\n%s", err, b)
		}
	}
	t0 := time.Now().Add(-time.Minute)
	all := bgppeer.Nexthops
	if err := post(testenv.Watchdog(t0)); err != nil {
		return err
	}
	if _, err := p.WaitKernel(ctx, 10*time.Second, bgppeer.Service, "bgp", all...); err != nil {
		return err
	}
	var withdraw, restore []time.Duration
	for range trials {
		// Each firing starts after the last resolve: earlier would be stale.
		start := time.Now()
		began := start
		if err := post(testenv.ServerDown("198.51.100.12", began, time.Time{}), testenv.Watchdog(t0)); err != nil {
			return err
		}
		if _, err := p.WaitKernel(ctx, 10*time.Second, bgppeer.Service, "bgp", all[0], all[2]); err != nil {
			return err
		}
		withdraw = append(withdraw, time.Since(start))
		start = time.Now()
		if err := post(testenv.ServerDown("198.51.100.12", began, time.Now()), testenv.Watchdog(t0)); err != nil {
			return err
		}
		if _, err := p.WaitKernel(ctx, 10*time.Second, bgppeer.Service, "bgp", all...); err != nil {
			return err
		}
		restore = append(restore, time.Since(start))
	}
	fmt.Printf("built route_actuator (%s), restore_delay 0s:\n", binary)
	row("withdraw: webhook until the kernel route drops it", withdraw)
	row("restore: webhook until the kernel route has it", restore)
	return nil
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
	fmt.Printf("%-52s %9s %9s %9s %9s\n", "measurement", "p50", "p90", "p99", "max")
	fmt.Printf("first Set (session up) until the kernel has it: %s\n", benchfmt.Ms(first))
	row("Set (speaker RIB + read-back)", set)
	row("withdraw: Set until the kernel route drops it", withdraw)
	row("restore: Set until the kernel route has it", restore)
	return nil
}

func row(name string, d []time.Duration) {
	slices.Sort(d)
	fmt.Printf("%-52s %9s %9s %9s %9s\n", name, benchfmt.Ms(benchfmt.Pct(d, 50)), benchfmt.Ms(benchfmt.Pct(d, 90)), benchfmt.Ms(benchfmt.Pct(d, 99)), benchfmt.Ms(d[len(d)-1]))
}
