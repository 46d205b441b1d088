//go:build linux

package ios_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slaroute/slaroute/actuator/ios/frrpeer"
)

// actuatorBinary returns the built route_actuator: $SLAROUTE_BIN (make test
// sets it) or a fresh build.
func actuatorBinary(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("SLAROUTE_BIN"); dir != "" {
		p := filepath.Join(dir, "route_actuator")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SLAROUTE_BIN=%s: %v", dir, err)
		}
		return p
	}
	p := filepath.Join(t.TempDir(), "route_actuator")
	if out, err := exec.Command("go", "build", "-o", p, "../../cmd/route_actuator").CombinedOutput(); err != nil {
		t.Fatalf("go build route_actuator: %v\n%s", err, out)
	}
	return p
}

const binaryConfig = `backend:
  type: ios
  ios:
    address: %s
    username: %s
    private_key_file: %s
    known_hosts_file: %s
    platform: cisco_iosxe
    route_tag: 53053
    timeout: 5s
routes:
  - prefix: 192.0.2.53/32
    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]
    min_nexthops: 1
alerts:
  withdraw: [DNSServerDown]
  freeze: [DNSSLAProbesMissing]
  heartbeat: DNSSLAWatchdog
  heartbeat_timeout: 90s
  restore_delay: 200ms
resync_interval: 10s
`

// startActuator runs the built binary inside the router namespace, where
// sshd listens, and returns an HTTP client that dials from that namespace.
func startActuator(t *testing.T, peer *frrpeer.Peer) *http.Client {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "route_actuator.yml")
	body := fmt.Sprintf(binaryConfig, peer.Addr, peer.Username, peer.PrivateKeyFile, peer.KnownHostsFile)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "route_actuator.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", peer.Namespace, actuatorBinary(t), "--config.file="+cfg, "--log.level=debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		b, _ := os.ReadFile(logf.Name())
		if t.Failed() {
			t.Logf("route_actuator log:\n%s", b)
		}
		for _, secret := range []string{"PRIVATE KEY"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("route_actuator log contains %q", secret)
			}
		}
	})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: peer.DialContext}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get("http://127.0.0.1:9754/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("route_actuator not ready after 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// payload is the body of Alertmanager's webhook notifier (version 4).
func payload(alerts ...alert) []byte {
	status := "resolved"
	for _, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
	}
	b, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{alertname="DNSServerDown"}`, "truncatedAlerts": 0,
		"status": status, "receiver": "route_actuator", "externalURL": "http://127.0.0.1:9093",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"alerts": alerts,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func watchdog(start time.Time) alert {
	return alert{Status: "firing", Labels: map[string]string{"alertname": "DNSSLAWatchdog", "severity": "none"},
		StartsAt: start, Fingerprint: "00000000000000aa"}
}

func serverDown(nexthop string, start, end time.Time) alert {
	a := alert{Status: "firing", Labels: map[string]string{"alertname": "DNSServerDown", "nexthop": nexthop,
		"service": "192.0.2.53/32", "severity": "critical"}, StartsAt: start, Fingerprint: "1" + strings.ReplaceAll(nexthop, ".", "")}
	if !end.IsZero() {
		a.Status, a.EndsAt = "resolved", end
	}
	return a
}

func post(t *testing.T, c *http.Client, body []byte) {
	t.Helper()
	resp, err := c.Post("http://127.0.0.1:9754/webhook", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /webhook: %d %s", resp.StatusCode, msg)
	}
}

// waitRunning polls vtysh's running config until its route lines are want.
func waitRunning(t *testing.T, p *frrpeer.Peer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := p.RunningRoutes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("vtysh running config routes:\n%q\nwant\n%q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBinaryWebhooksIOS runs the built route_actuator with backend ios
// against the FRR peer and withdraws and restores a nexthop with real
// webhook POSTs, checking vtysh's running config and the kernel route.
func TestBinaryWebhooksIOS(t *testing.T) {
	peer := frrpeer.StartT(t, frrpeer.Options{})
	c := startActuator(t, peer)
	t0 := time.Now().Add(-time.Minute)
	all := []string{
		"ip route 192.0.2.53/32 198.51.100.11 tag 53053",
		"ip route 192.0.2.53/32 198.51.100.12 tag 53053",
		"ip route 192.0.2.53/32 198.51.100.13 tag 53053",
	}

	post(t, c, payload(watchdog(t0)))
	waitRunning(t, peer, all...)
	waitKernel(t, peer, svc, nh11, nh12, nh13)

	post(t, c, payload(serverDown("198.51.100.12", t0.Add(time.Second), time.Time{}), watchdog(t0)))
	waitRunning(t, peer, all[0], all[2])
	waitKernel(t, peer, svc, nh11, nh13)

	post(t, c, payload(serverDown("198.51.100.12", t0.Add(time.Second), time.Now()), watchdog(t0)))
	waitRunning(t, peer, all...)
	waitKernel(t, peer, svc, nh11, nh12, nh13)

	resp, err := c.Get("http://127.0.0.1:9754/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"route_actuator_ios_session_up 1",
		"route_actuator_ios_cli_errors_total 0",
		`route_actuator_route_installed_nexthops{route="192.0.2.53/32"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
