//go:build e2e && linux

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/events"
)

// day2Dampening suppresses a nexthop at its third flap when the flaps come
// 3-20 s apart (1000 + 2^(-s/30)·1000 + 2^(-2s/30)·1000 >= 2000, two flaps
// stay below), and the suppression ends about 20-30 s later (reuse 1500).
var day2Dampening = map[string]any{
	"half_life": "30s", "penalty": 1000, "suppress_threshold": 2000, "reuse_threshold": 1500, "max_suppress": "60s",
}

// TestDay2 is issue 11's done-when on the whole system in network
// namespaces (its own lab, prefix slab<pid>-h11): a healthy nexthop drained with
// slaroutectl is out of the kernel route within a second, stays out across
// an actuator restart and returns after undrain; a drain below min_nexthops
// is refused with 409 and changes nothing; a server stopped and started
// three times within seconds stays suppressed after it recovered until its
// penalty decays; each change's cause is in the log, the events API and
// `slaroutectl events`.
func TestDay2(t *testing.T) {
	requireLab(t, "prometheus", "prometheus-alertmanager")
	dir := t.TempDir()
	e, err := Setup(EnvConfig{
		Lab: Config{Prefix: DefaultPrefix() + "-h11", Dir: dir, Clients: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Stack: StackConfig{Actuator: map[string]any{
			"routes":    []any{map[string]any{"prefix": ServicePrefix.String(), "nexthops": []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}, "min_nexthops": 2}},
			"dampening": day2Dampening,
		}},
	})
	if err != nil {
		t.Fatalf("lab setup: %v", err)
	}
	defer func() {
		if err := e.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	}()
	ctl := func(args ...string) (string, error) {
		argv := append([]string{"netns", "exec", e.Router, filepath.Join(e.Stack.cfg.Bin, "slaroutectl"),
			"--actuator.url=http://" + ActuatorAddr, "--basic-auth.username=" + ActuatorUser,
			"--basic-auth.password-file=" + e.Stack.PasswordFile(), "--who=h11-operator"}, args...)
		out, err := exec.Command("ip", argv...).CombinedOutput()
		return string(out), err
	}
	dns1, dns2, dns3 := e.Servers[0], e.Servers[1], e.Servers[2]
	within := func(d time.Duration, pred func([]netip.Addr) bool) (time.Time, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return e.Watcher.WaitFor(ctx, pred)
	}

	// Drain a healthy nexthop: out of the kernel route within a second.
	start := time.Now()
	out, err := ctl("drain", "add", dns2.Addr.String(), "--reason=kernel upgrade CHG-4711", "--expires=1h")
	if err != nil {
		t.Fatalf("slaroutectl drain add: %v\n%s", err, out)
	}
	at, err := within(time.Second, Without(dns2.Addr))
	if err != nil {
		diagnose(t, e)
		t.Fatalf("drained %s still in the kernel route after 1 s: %v", dns2.Addr, err)
	}
	t.Logf("drain: %s withdrawn %v after slaroutectl started", dns2.Addr, at.Sub(start).Round(time.Millisecond))
	// The event ring is in memory: check the drain's event before the restart.
	if out, err := ctl("events"); err != nil || !strings.Contains(out, "-198.51.100.12 (drain \"kernel upgrade CHG-4711\" by h11-operator via alertmanager until ") {
		t.Errorf("slaroutectl events after the drain: %v\n%s", err, out)
	}

	// Below min_nexthops: 409, nothing changes.
	code, body, err := e.Post("http://"+ActuatorAddr+apiv1.PathDrains, "application/json",
		[]byte(`{"nexthop": "`+dns1.Addr.String()+`", "reason": "second"}`))
	if err != nil || code != http.StatusConflict || !strings.Contains(string(body), "below min_nexthops 2") {
		t.Errorf("drain below min_nexthops: %d %s %v, want 409", code, body, err)
	}
	if out, err := ctl("drain", "add", dns3.Addr.String(), "--reason=third"); err == nil || !strings.Contains(out, "409") {
		t.Errorf("slaroutectl drain below min_nexthops: %v %s, want exit 1 with 409", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	if got := e.Watcher.Current().Nexthops; !slices.Equal(got, []netip.Addr{dns1.Addr, dns3.Addr}) {
		t.Errorf("after refused drains the kernel route has %v", got)
	}

	// Restart: the drain holds (state file), the route is unchanged.
	e.Stack.StopOne(Actuator)
	if err := e.Stack.Start(Actuator); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got := e.Watcher.Current().Nexthops; !slices.Equal(got, []netip.Addr{dns1.Addr, dns3.Addr}) {
		t.Errorf("after an actuator restart the kernel route has %v, want the drain kept", got)
	}
	if out, err := ctl("status"); err != nil || !strings.Contains(out, `drain "kernel upgrade CHG-4711" by h11-operator via alertmanager`) {
		t.Errorf("slaroutectl status after restart: %v\n%s", err, out)
	}

	// Undrain: the nexthop returns (a restore, confirmed by Alertmanager's API).
	if out, err := ctl("drain", "remove", dns2.Addr.String()); err != nil {
		t.Fatalf("slaroutectl drain remove: %v\n%s", err, out)
	}
	if _, err := within(restoreWithin, Exactly(e.Nexthops()...)); err != nil {
		diagnose(t, e)
		t.Fatalf("after undrain: %v", err)
	}

	// Three withdraw/restore cycles of dns3: suppressed after the third.
	for i := 1; i <= 3; i++ {
		if err := dns3.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := within(withdrawWithin, Without(dns3.Addr)); err != nil {
			diagnose(t, e)
			t.Fatalf("flap %d: withdraw: %v", i, err)
		}
		if err := dns3.Start(); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			if _, err := within(restoreWithin, Exactly(e.Nexthops()...)); err != nil {
				diagnose(t, e)
				t.Fatalf("flap %d: restore: %v", i, err)
			}
		}
	}
	// dns3 is healthy again: its alert resolves, but it stays out.
	if err := e.WaitAlert(context.Background(), AlertmanagerAddr, "DNSServerDown", map[string]string{"nexthop": dns3.Addr.String()}, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got := e.Watcher.Current().Nexthops; slices.Contains(got, dns3.Addr) {
		diagnose(t, e)
		t.Fatalf("after 3 flaps and recovery the kernel route has %v, want %s suppressed", got, dns3.Addr)
	}
	var routes apiv1.Routes
	if _, body, err := e.Get("http://" + ActuatorAddr + apiv1.PathRoutes); err != nil || json.Unmarshal(body, &routes) != nil {
		t.Fatalf("/api/v1/routes: %v %s", err, body)
	}
	n := routes.Routes[0].Nexthops[2]
	if n.Dampening == nil || n.Dampening.SuppressedUntil.IsZero() || len(n.Why) == 0 || n.Why[0].Kind != events.Dampening {
		t.Fatalf("/api/v1/routes for %s: %+v", dns3.Addr, n)
	}
	t.Logf("%s suppressed: penalty %.0f until %s", dns3.Addr, n.Dampening.Penalty, n.Dampening.SuppressedUntil.Format(time.RFC3339))
	if m := metric(t, e, `route_actuator_nexthop_suppressed{nexthop="198.51.100.13",route="192.0.2.53/32"}`); m != "1" {
		t.Errorf("route_actuator_nexthop_suppressed = %q, want 1", m)
	}
	wait := time.Until(n.Dampening.SuppressedUntil) + restoreWithin
	if _, err := within(wait, Exactly(e.Nexthops()...)); err != nil {
		diagnose(t, e)
		t.Fatalf("suppression did not end by %s: %v", n.Dampening.SuppressedUntil, err)
	}
	if early := time.Until(n.Dampening.SuppressedUntil); early > time.Second {
		t.Errorf("%s returned %v before its suppression ended", dns3.Addr, early)
	}

	// Causes: slaroutectl events, the events API, the log.
	out, err = ctl("events")
	if err != nil {
		t.Fatalf("slaroutectl events: %v\n%s", err, out)
	}
	for _, want := range []string{
		"+198.51.100.12 (drain \"kernel upgrade CHG-4711\"",
		"-198.51.100.13 (alert DNSServerDown{",
		"+198.51.100.13 (dampening penalty",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("slaroutectl events lacks %q:\n%s", want, out)
		}
	}
	_, body, _ = e.Get("http://" + ActuatorAddr + apiv1.PathEvents)
	if !strings.Contains(string(body), `"kind": "dampening"`) || !strings.Contains(string(body), `"kind": "drain"`) {
		t.Errorf("/api/v1/events lacks drain or dampening causes:\n%s", body)
	}
	log, _ := os.ReadFile(e.Stack.Proc(Actuator).Log)
	for _, want := range []string{`"msg":"Route changed"`, `drain \"kernel upgrade CHG-4711\"`, `alert DNSServerDown{`, "fp=", `"msg":"Nexthop suppressed for flapping"`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("actuator log lacks %s", want)
		}
	}
	if t.Failed() {
		fmt.Fprintf(os.Stderr, "lab logs in %s\n", dir)
	}
}

// metric returns the value of one series of the actuator's /metrics.
func metric(t *testing.T, e *Env, series string) string {
	t.Helper()
	_, body, err := e.Get("http://" + ActuatorAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}
