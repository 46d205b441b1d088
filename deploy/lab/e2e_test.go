//go:build e2e && linux

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// Tolerances: loose enough for a busy 2-core CI machine, tight enough that a
// broken chain (a missed rule interval, a 5-minute group_interval, a restore
// waiting for a resync) fails. The bench measures the real distribution.
const (
	withdrawWithin = 5 * time.Second
	restoreWithin  = 8 * time.Second
	settle         = 30 * time.Second
)

var (
	envOnce sync.Once
	env     *Env
	envErr  error
	flows   *Clients
)

func TestMain(m *testing.M) {
	// Labs of earlier runs that were killed (timeout, ^C) go first.
	if os.Geteuid() == 0 {
		if stale, err := StalePrefixes(); err == nil {
			for _, p := range stale {
				fmt.Fprintln(os.Stderr, "removing stale lab", p)
				_ = DownPrefix(p)
			}
		}
	}
	code := m.Run()
	if flows != nil {
		flows.Close()
	}
	if env != nil {
		if err := env.Down(); err != nil {
			fmt.Fprintln(os.Stderr, "lab down:", err)
			code = 1
		}
		if code == 0 {
			os.RemoveAll(env.Dir) // kept for its logs when something failed
		}
	}
	os.Exit(code)
}

// lab brings the whole system up once per test binary.
func lab(t *testing.T) *Env {
	t.Helper()
	requireLab(t, "prometheus", "prometheus-alertmanager")
	envOnce.Do(func() {
		dir, err := os.MkdirTemp("", "slaroute-e2e-")
		if err != nil {
			envErr = err
			return
		}
		env, envErr = Setup(EnvConfig{Lab: Config{Dir: dir, Clients: 32,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
		if envErr == nil {
			flows, envErr = env.NewClients(256)
		}
		if envErr == nil {
			fmt.Fprintf(os.Stderr, "lab %s up, logs and configs in %s\n", env.Prefix(), dir)
		}
	})
	if envErr != nil {
		t.Fatalf("lab setup: %v", envErr)
	}
	return env
}

// diagnose logs what the actuator and Alertmanager believe, for failures.
func diagnose(t *testing.T, e *Env) {
	t.Helper()
	_, routes, err := e.Get("http://" + ActuatorAddr + "/api/v1/routes")
	t.Logf("actuator /api/v1/routes (%v):\n%s", err, routes)
	for _, am := range []string{AlertmanagerAddr, Alertmanager2Addr} {
		if as, err := e.Alerts(am); err == nil {
			t.Logf("alertmanager %s active: %v", am, Firing(as, "DNSServerDown", "DNSSLAProbesMissing", "DNSSLAWatchdog"))
		}
	}
	_, m, _ := e.Get("http://" + ActuatorAddr + "/metrics")
	var lines []string
	for _, l := range strings.Split(string(m), "\n") {
		if strings.HasPrefix(l, "route_actuator_alerts_") || strings.HasPrefix(l, "route_actuator_pipeline") ||
			strings.HasPrefix(l, "route_actuator_route_frozen") || strings.HasPrefix(l, "route_actuator_webhook_requests_total") {
			lines = append(lines, l)
		}
	}
	t.Logf("actuator metrics:\n%s\nactuator log:\n%s", strings.Join(lines, "\n"), tail(e.Stack.Proc(Actuator).Log, 15))
}

// healthy restores every server and waits for the route to carry them all.
func healthy(t *testing.T, e *Env) {
	t.Helper()
	if err := e.Healthy(settle); err != nil {
		diagnose(t, e)
		t.Fatalf("back to healthy: %v", err)
	}
}

func assertClients(t *testing.T, f Failover) {
	t.Helper()
	assertFlows(t, f)
	if f.Moved != 0 {
		t.Errorf("%d of %d flows of surviving servers moved (resilient group must keep them)", f.Moved, f.Survivors)
	}
}

// assertFlows checks the clients after a withdraw: every flow answered, none
// by the failed server.
func assertFlows(t *testing.T, f Failover) {
	t.Helper()
	t.Logf("%s %s: withdraw %v, restore %v; after withdraw %d flows: %v; survivors moved %d/%d",
		f.Server, f.Mode, f.Withdraw.Round(time.Millisecond), f.Restore.Round(time.Millisecond),
		len(f.AfterWithdraw), Spread(f.AfterWithdraw), f.Moved, f.Survivors)
	if f.ToFailed != 0 || f.FailedQueries != 0 {
		t.Errorf("after withdraw %d client answers came from %s and %d queries failed, want 0 and 0", f.ToFailed, f.Server, f.FailedQueries)
	}
	if f.Survivors == 0 {
		t.Errorf("no flow was on a surviving server before the failure: %v", Spread(f.Baseline))
	}
}

// stable asserts the kernel route did not change at all since t.
func stable(t *testing.T, e *Env, since time.Time, want []netip.Addr) {
	t.Helper()
	if ev := e.Watcher.Since(since); len(ev) != 0 {
		t.Errorf("route moved: %v", ev)
	}
	if cur := e.Watcher.Current().Nexthops; !slices.Equal(cur, want) {
		t.Errorf("route = %v, want %v", cur, want)
	}
}

func without(all []netip.Addr, nh netip.Addr) []netip.Addr {
	return slices.DeleteFunc(slices.Clone(all), func(a netip.Addr) bool { return a == nh })
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// withdrawn fails s and waits for its nexthop to leave the route.
func withdrawn(t *testing.T, e *Env, s *Server, m Mode) {
	t.Helper()
	if err := e.Fail(s, m); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Watcher.WaitFor(ctxT(t, withdrawWithin), Without(s.Addr)); err != nil {
		diagnose(t, e)
		t.Fatalf("%s %s not withdrawn: %v", s.Name, m, err)
	}
}

// TestE2E runs every scenario on one lab, in order; each starts and ends healthy.
func TestE2E(t *testing.T) {
	e := lab(t)
	all := e.Nexthops()
	dns1, dns2 := e.Servers[0], e.Servers[1]

	t.Run("spread", func(t *testing.T) {
		healthy(t, e)
		sp := Spread(flows.Sample(time.Second))
		t.Logf("%d flows: %v", len(flows.Flows), sp)
		for _, s := range e.Servers {
			if sp[s.Name] < len(flows.Flows)/10 {
				t.Errorf("only %d of %d flows reach %s", sp[s.Name], len(flows.Flows), s.Name)
			}
		}
	})

	t.Run("restore-keeps-flows", func(t *testing.T) {
		healthy(t, e)
		testRestoreKeepsFlows(t, e)
	})

	failovers := 0 // the dashboards check expects their alert causes
	for _, m := range Modes {
		t.Run("withdraw-restore/"+string(m), func(t *testing.T) {
			healthy(t, e)
			f, err := e.RunFailover(flows, dns2, m, FailoverOpts{WithdrawTimeout: withdrawWithin, RestoreTimeout: restoreWithin})
			if err != nil {
				diagnose(t, e)
				t.Fatal(err)
			}
			failovers++
			assertClients(t, f)
		})
	}

	t.Run("fail-open-guard", func(t *testing.T) {
		healthy(t, e)
		since := time.Now()
		for _, s := range e.Servers {
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range e.Servers {
			if err := e.WaitAlert(ctxT(t, withdrawWithin), AlertmanagerAddr, "DNSServerDown", map[string]string{"target": s.Name}, true); err != nil {
				t.Fatal(err)
			}
		}
		// The webhooks for all three are in; give the actuator time to act.
		time.Sleep(2 * time.Second)
		guard, err := e.Value(`route_actuator_guard_active{reason="fail_open",route="192.0.2.53/32"}`)
		if err != nil || guard != 1 {
			t.Errorf("route_actuator_guard_active{reason=fail_open} = %v (%v), want 1", guard, err)
		}
		// Withdrawing one by one may pass through a shorter set only if the
		// actuator saw the alerts one at a time; the end state must be all.
		if cur := e.Watcher.Current().Nexthops; !slices.Equal(cur, all) {
			t.Errorf("route = %v, want every nexthop kept (fail open)", cur)
		}
		for _, ev := range e.Watcher.Since(since) {
			if len(ev.Nexthops) == 0 {
				t.Errorf("route removed at %v: min_nexthops guard broken", ev.At)
			}
		}
		t.Logf("route changes while all failed: %v", e.Watcher.Since(since))
	})

	t.Run("exporter-killed-freezes", func(t *testing.T) {
		healthy(t, e)
		withdrawn(t, e, dns1, ModeStop)
		since := time.Now()
		e.Stack.Kill(Exporter)
		if err := e.WaitAlert(ctxT(t, 10*time.Second), AlertmanagerAddr, "DNSSLAProbesMissing", nil, true); err != nil {
			t.Fatal(err)
		}
		t.Logf("DNSSLAProbesMissing fired %v after the exporter was killed", time.Since(since).Round(time.Millisecond))
		// dns1 recovers while nobody can see it: its route must stay withdrawn
		// (DNSServerDown must not resolve on vanished series), dns2 failing
		// must not be withdrawn either (frozen).
		if err := dns1.Start(); err != nil {
			t.Fatal(err)
		}
		if err := dns2.Stop(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		stable(t, e, since, without(all, dns1.Addr))
		if err := e.Stack.Start(Exporter); err != nil {
			t.Fatal(err)
		}
		// Back: dns1 restored, dns2 withdrawn.
		if _, err := e.Watcher.WaitFor(ctxT(t, settle), Exactly(without(all, dns2.Addr)...)); err != nil {
			t.Fatalf("after exporter restart: %v", err)
		}
	})

	t.Run("prometheus-killed-freezes", func(t *testing.T) {
		healthy(t, e)
		withdrawn(t, e, dns1, ModeStop)
		since := time.Now()
		e.Stack.Kill(Prometheus)
		// Alertmanager resolves everything after 4 x resend-delay (~4 s).
		if err := e.WaitAlert(ctxT(t, 15*time.Second), AlertmanagerAddr, "DNSServerDown", map[string]string{"target": dns1.Name}, false); err != nil {
			t.Fatal(err)
		}
		t.Logf("Alertmanager resolved DNSServerDown{dns1} %v after Prometheus was killed", time.Since(since).Round(time.Millisecond))
		time.Sleep(3 * time.Second)
		stable(t, e, since, without(all, dns1.Addr))
		if err := e.Stack.Start(Prometheus); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		stable(t, e, since, without(all, dns1.Addr))
	})

	t.Run("actuator-killed-restarted", func(t *testing.T) {
		healthy(t, e)
		withdrawn(t, e, dns1, ModeStop)
		time.Sleep(500 * time.Millisecond)
		since := time.Now()
		e.Stack.Kill(Actuator)
		if err := e.Stack.Start(Actuator); err != nil {
			t.Fatal(err)
		}
		// Several webhook rounds and a start-up reconcile later...
		time.Sleep(4 * time.Second)
		stable(t, e, since, without(all, dns1.Addr))
		// The restarted actuator must know dns1 is down (the kernel route alone
		// would also hold if it had merely frozen everything).
		code, body, err := e.Get("http://" + ActuatorAddr + "/api/v1/routes")
		var st struct {
			Routes []struct{ Desired, Installed []string } `json:"routes"`
		}
		if err == nil && code == 200 {
			err = json.Unmarshal(body, &st)
		}
		if err != nil || code != 200 || len(st.Routes) != 1 ||
			slices.Contains(st.Routes[0].Desired, dns1.Addr.String()) || slices.Contains(st.Routes[0].Installed, dns1.Addr.String()) {
			t.Errorf("/api/v1/routes after restart, want %s neither desired nor installed: %d %v %s", dns1.Addr, code, err, body)
		}
	})

	t.Run("alertmanager-cluster", func(t *testing.T) {
		healthy(t, e)
		t0 := time.Now()
		if err := e.Stack.Cluster(); err != nil {
			t.Fatal(err)
		}
		healthy(t, e)
		// Includes Prometheus' 5 s Alertmanager-discovery refresh after the
		// reload and the actuator's freeze until its resync sees the heartbeat.
		t.Logf("chain healthy again %v after switching to two clustered Alertmanagers", time.Since(t0).Round(time.Millisecond))
		before, _ := e.Value(`sum(route_actuator_webhook_requests_total)`)
		f, err := e.RunFailover(flows, dns2, ModeStop, FailoverOpts{WithdrawTimeout: withdrawWithin, RestoreTimeout: restoreWithin,
			During: func() error {
				return e.WaitAlert(ctxT(t, 5*time.Second), Alertmanager2Addr, "DNSServerDown", map[string]string{"target": dns2.Name}, true)
			}})
		if err != nil {
			diagnose(t, e)
			t.Fatal(err)
		}
		assertClients(t, f)
		after, _ := e.Value(`sum(route_actuator_webhook_requests_total)`)
		sent := map[string]int{}
		for _, am := range []string{Alertmanager, Alertmanager2} {
			evs, err := ParseLogFiles(e.Stack.Proc(am).Log)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Kind == "am_flush" && ev.Target == dns2.Name && !ev.At.Before(f.FailedAt) {
					sent[am+" "+ev.State]++
				}
			}
		}
		t.Logf("webhooks received during the clustered failover: %v; DNSServerDown{dns2} notifications flushed per Alertmanager: %v", after-before, sent)
	})

	t.Run("dashboards", func(t *testing.T) {
		healthy(t, e)
		checkDashboards(t, e)
		checkChangeAnnotation(t, e, failovers > 0)
	})
}

// TestE2EIOS runs last (its own top-level test, after TestE2E): the same
// chain, with the actuator driving FRR's vtysh over SSH as if it were IOS.
func TestE2EIOS(t *testing.T) {
	e := lab(t)
	if m := frrpeer.Missing(); m != "" {
		testenv.Missing(t, "IOS variant needs %s", m)
	}
	healthy(t, e)
	peer, err := e.SwitchToIOS(ctxT(t, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		e.Stack.StopOne(Actuator)
		if err := peer.Stop(); err != nil {
			t.Errorf("frr peer stop: %v", err)
		}
	}()
	all := e.Nexthops()
	if _, err := e.Watcher.WaitFor(ctxT(t, settle), Exactly(all...)); err != nil {
		t.Fatalf("IOS backend did not install the route through FRR: %v\n%s", err, tail(e.Stack.Proc(Actuator).Log, 30))
	}
	running := func() []string {
		rs, err := peer.RunningRoutes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	t.Logf("vtysh: %q", running())
	dns2 := e.Servers[1]
	f, err := e.RunFailover(flows, dns2, ModeStop, FailoverOpts{WithdrawTimeout: withdrawWithin, RestoreTimeout: restoreWithin,
		During: func() error {
			for _, line := range running() {
				if strings.Contains(line, dns2.Addr.String()) {
					return fmt.Errorf("vtysh still has %q after the withdraw", line)
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	// FRR installs plain multipath: survivors' flows may move; not asserted.
	assertFlows(t, f)
	if got := running(); len(got) != 3 {
		t.Errorf("vtysh after restore: %q, want 3 routes", got)
	}
}
