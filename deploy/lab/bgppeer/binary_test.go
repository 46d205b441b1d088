//go:build linux && integration

package bgppeer_test

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/bgppeer"
	"github.com/slaroute/slaroute/deploy/lab/inns"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

const binaryConfig = bgppeer.BackendConfig + testenv.ActuatorRoutes

// TestBinaryWebhooksBGP runs the built route_actuator with backend bgp in
// the speaker namespace: webhooks withdraw and restore a server on the FRR
// router's kernel route; kill -9 of the actuator falls back to the floating
// statics (all servers); a restarted actuator takes over again.
func TestBinaryWebhooksBGP(t *testing.T) {
	p := startPeer(t)
	ctx := context.Background()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: inns.Dialer(p.SpeakerNamespace)}}
	testenv.StartActuator(t, p.SpeakerNamespace, binaryConfig, c)
	t0 := time.Now().Add(-time.Minute)
	wait := func(what, proto string, nhs ...string) {
		t.Helper()
		d, err := p.WaitKernel(ctx, 10*time.Second, svc, proto, addrs(t, nhs...)...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: kernel route %s via %v %v after the webhook answered", what, proto, nhs, d)
	}

	testenv.PostWebhook(t, c, testenv.Payload(testenv.Watchdog(t0)))
	wait("heartbeat", "bgp", "198.51.100.11", "198.51.100.12", "198.51.100.13")
	testenv.PostWebhook(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Time{}), testenv.Watchdog(t0)))
	wait("withdraw", "bgp", "198.51.100.11", "198.51.100.13")
	testenv.PostWebhook(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Now()), testenv.Watchdog(t0)))
	wait("restore", "bgp", "198.51.100.11", "198.51.100.12", "198.51.100.13")
	testenv.WaitActuatorMetrics(t, c,
		`route_actuator_bgp_session_state{neighbor="198.51.100.1",state="established"} 1`,
		`route_actuator_route_installed_nexthops{route="192.0.2.53/32"} 3`,
	)
	testenv.PostWebhook(t, c, testenv.Payload(testenv.ServerDown("198.51.100.13", t0.Add(2*time.Second), time.Time{}), testenv.Watchdog(t0)))
	wait("withdraw before the kill", "bgp", "198.51.100.11", "198.51.100.12")

	// kill -9: everything in the speaker namespace is the actuator.
	killed := time.Now()
	out, err := exec.Command("ip", "netns", "pids", p.SpeakerNamespace).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := p.WaitKernel(ctx, 15*time.Second, svc, "static", bgppeer.Nexthops...); err != nil {
		t.Fatalf("after kill -9 of route_actuator: %v", err)
	}
	t.Logf("kill -9 of route_actuator -> floating statics via all servers in %v", time.Since(killed))

	testenv.StartActuator(t, p.SpeakerNamespace, binaryConfig, c)
	testenv.PostWebhook(t, c, testenv.Payload(testenv.ServerDown("198.51.100.13", t0.Add(2*time.Second), time.Time{}), testenv.Watchdog(t0)))
	wait("restarted actuator", "bgp", "198.51.100.11", "198.51.100.12")
}
