//go:build linux

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slaroute/slaroute/deploy/lab"
)

// demoRate is the client query load (queries/s) during each demo failover.
const demoRate = 400.0

var modeText = map[lab.Mode]string{
	lab.ModeStop:         "its DNS daemon is stopped",
	lab.ModeServfail:     "it still runs but answers SERVFAIL for the probe name (the ISC method cannot see this)",
	lab.ModeProbeTimeout: "it still answers clients but no longer the probe name (probes time out)",
	lab.ModeSilent:       "it stops answering anything (process frozen: every query times out)",
}

// modeNote explains a scenario's header in one sentence, printed below it.
var modeNote = map[lab.Mode]string{
	lab.ModeServfail: "  Why ISC cannot see it: ISC's technote runs OSPF on each DNS server, so the route follows the host and its\n" +
		"  routing daemon, and a hung or wrong-answering DNS daemon keeps its route.",
}

// recordEvery is the timeline's sampling step.
const recordEvery = 250 * time.Millisecond

// runDemo runs the scenarios and draws each one's timeline into
// timelinePath (also when a scenario fails: what was recorded until then).
func runDemo(ctx context.Context, e *lab.Env, timelinePath string) (err error) {
	sample, load, err := openFlows(e)
	if err != nil {
		return err
	}
	defer sample.Close()
	defer load.Close()
	// Flows of their own for the timeline: asked once per step.
	recFlows, err := e.NewClients(48)
	if err != nil {
		return err
	}
	defer recFlows.Close()
	var pics []lab.Picture
	defer func() {
		if len(pics) == 0 {
			return
		}
		title := fmt.Sprintf("slaroute demo: %s via %s (lab %s)", lab.ServicePrefix, strings.Join(nexthopNames(e), ", "), e.Prefix())
		if werr := lab.WritePage(timelinePath, title, pics); werr != nil && err == nil {
			err = werr
		}
	}()

	section("The ECMP route in the router namespace (installed by route_actuator, netlink backend, resilient group)")
	showRoute(e)
	sp := lab.Spread(sample.Sample(time.Second))
	fmt.Printf("%d client flows (%d source addresses x ports) asking whoami.example.test TXT at %s:\n  %s\n",
		len(sample.Flows), len(e.ClientAddrs()), lab.ServiceAddr, spreadText(sp))

	// Realistic load during every failover, so each restore reports what it
	// did to live TCP sessions and zone transfers.
	tr, err := e.StartTraffic(lab.TrafficConfig{Rate: demoRate})
	if err != nil {
		return err
	}
	defer func() { _ = tr.Stop() }()
	fmt.Printf("background load: %.0f UDP queries/s from fresh random source ports, 24 TCP DNS sessions (a query every 200 ms each), 6 zone transfers (AXFR of %s)\n",
		demoRate, lab.XfrZone)
	var restores []lab.Restore

	victim := e.Servers[1]
	for i, m := range lab.Modes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		section(fmt.Sprintf("Failure %d: %s (%s) - %s", i+1, victim.Name, victim.Addr, modeText[m]))
		if n := modeNote[m]; n != "" {
			fmt.Println(n)
		}
		rec := e.StartRecording(recFlows, recordEvery)
		f, err := e.RunFailover(sample, victim, m, lab.FailoverOpts{
			WithdrawTimeout: 15 * time.Second, RestoreTimeout: 30 * time.Second,
			Load: load, Rate: demoRate, Traffic: tr, TrafficMax: 5 * time.Second,
			During: func() error {
				showRoute(e)
				return nil
			}})
		pics = append(pics, rec.Stop(fmt.Sprintf("Failure %d: %s (%s) - %s", i+1, victim.Name, victim.Addr, modeText[m]),
			strings.TrimSpace(strings.Join(strings.Fields(modeNote[m]), " ")), failoverMarks(f)...))
		if err != nil {
			return err
		}
		fmt.Printf("  nexthop %s left the kernel route %s after the failure\n", victim.Addr, secs(f.Withdraw))
		fmt.Printf("  client queries at %.0f/s over %d flows: %d sent until the withdraw, %d failed (%.0f%%; %s had %.0f%% of the flows; failures on other servers' flows: %d)\n",
			demoRate, len(load.Flows), f.LoadSent, f.LoadLost, pct(f.LoadLost, f.LoadSent), victim.Name, 100*f.LoadShare, f.LoadLostSurvivors)
		if m == lab.ModeServfail || m == lab.ModeProbeTimeout {
			fmt.Println("  (clients' own queries were still answered: only the probe name failed)")
		}
		fmt.Printf("  client flows after the withdraw: %s; flows of the surviving servers that moved: %d of %d\n",
			spreadText(lab.Spread(f.AfterWithdraw)), f.Moved, f.Survivors)
		fmt.Printf("  %s repaired: nexthop back in the route %s later\n", victim.Name, secs(f.Restore))
		if r := f.Restored; r != nil {
			fmt.Printf("  restore under load: TCP sessions broken on the surviving servers %d of %d, zone transfers %d of %d;\n    %s's share of new UDP queries per 0.5 s: %s\n",
				r.SessionsBroken, r.Sessions, r.TransfersBroken, r.Transfers, victim.Name, r.SharesText())
			restores = append(restores, *r)
		}
	}
	section("Summary of the restores under load")
	for i, r := range restores {
		fair := "not within the observation"
		if r.FairAfter >= 0 {
			fair = "after " + secs(r.FairAfter)
		}
		fmt.Printf("  %-13s TCP sessions broken on survivors %d/%d, transfers %d/%d, %s at >= 90%% of its fair share %s\n",
			lab.Modes[i], r.SessionsBroken, r.Sessions, r.TransfersBroken, r.Transfers, r.Server, fair)
	}
	if err := tr.Stop(); err != nil {
		return err
	}

	section("Guard: every server fails at once")
	rec := e.StartRecording(recFlows, recordEvery)
	time.Sleep(time.Second) // the healthy state before, on the picture
	marks := []lab.Mark{{At: time.Now(), Label: "all servers stopped"}}
	var guardOnce sync.Once
	guardDone := func() {
		guardOnce.Do(func() {
			pics = append(pics, rec.Stop("Guard: every server fails at once",
				"DNSServerDown fires for all three servers, yet the route keeps every nexthop (fail open): a probe or monitoring fault must not black-hole the service.", marks...))
		})
	}
	defer guardDone()
	for _, s := range e.Servers {
		if err := s.Stop(); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for _, s := range e.Servers {
		if err := e.WaitAlert(wctx, lab.AlertmanagerAddr, "DNSServerDown", map[string]string{"target": s.Name}, true); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	fmt.Println("  DNSServerDown fires for all three servers, yet the route keeps every nexthop (fail open:")
	fmt.Println("  a probe or monitoring fault must not black-hole the service):")
	showRoute(e)
	g, _ := e.Value(`route_actuator_guard_active{reason="fail_open"}`)
	fmt.Printf("  route_actuator_guard_active{reason=\"fail_open\"} = %v\n", g)
	fmt.Println("  starting all servers again...")
	marks = append(marks, lab.Mark{At: time.Now(), Label: "all started again"})
	err = e.Healthy(30 * time.Second)
	if err == nil {
		marks = append(marks, lab.Mark{At: time.Now(), Label: "healthy"})
		time.Sleep(time.Second)
	}
	guardDone()
	if err != nil {
		return err
	}
	showRoute(e)
	return nil
}

// failoverMarks are a failover's instants worth a line on its timeline.
func failoverMarks(f lab.Failover) []lab.Mark {
	var out []lab.Mark
	for _, m := range []lab.Mark{
		{At: f.FailedAt, Label: "failure injected"},
		{At: f.WithdrawnAt, Label: "nexthop withdrawn"},
		{At: f.RecoveredAt, Label: "repaired"},
		{At: f.RestoredAt, Label: "nexthop restored"},
	} {
		if !m.At.IsZero() {
			out = append(out, m)
		}
	}
	return out
}

func nexthopNames(e *lab.Env) []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.Name+" "+s.Addr.String())
	}
	return out
}

// openFlows opens the client flows both commands use: 256 sampled once per
// step (who answers each flow) and 128 carrying a constant query load.
func openFlows(e *lab.Env) (sample, load *lab.Clients, err error) {
	if sample, err = e.NewClients(256); err != nil {
		return nil, nil, err
	}
	if load, err = e.NewClients(128); err != nil {
		sample.Close()
		return nil, nil, err
	}
	return sample, load, nil
}

func section(s string) { fmt.Printf("\n=== %s\n", s) }

func showRoute(e *lab.Env) {
	nhs, err := e.RouteNexthops()
	if err != nil {
		fmt.Println("  route:", err)
		return
	}
	var parts []string
	for _, nh := range nhs {
		parts = append(parts, nh.String())
	}
	fmt.Printf("  kernel route %s via %s\n", lab.ServicePrefix, strings.Join(parts, ", "))
}

func spreadText(sp map[string]int) string {
	var parts []string
	for _, name := range []string{"dns1", "dns2", "dns3"} {
		parts = append(parts, fmt.Sprintf("%s %d", name, sp[name]))
	}
	if sp[""] > 0 {
		parts = append(parts, fmt.Sprintf("failed %d", sp[""]))
	}
	return strings.Join(parts, ", ")
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
