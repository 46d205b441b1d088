//go:build linux

package netlink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
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
	out, err := exec.Command("go", "build", "-o", p, "../../cmd/route_actuator").CombinedOutput()
	if err != nil {
		t.Fatalf("go build route_actuator: %v\n%s", err, out)
	}
	return p
}

// client returns an HTTP client whose connections are opened inside the lab
// namespace, so 127.0.0.1 is the namespace's own loopback.
func (l *lab) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer orig.Close()
		if err := netns.Set(l.ns); err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if netns.Set(orig) == nil {
			// Only a thread back in its own namespace may serve other goroutines.
			runtime.UnlockOSThread()
		}
		return c, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial}}
}

// alert is one alert of an Alertmanager webhook payload (version 4).
type alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// payload builds the body Alertmanager's webhook notifier sends.
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

const actuatorConfig = `backend:
  type: netlink
  netlink:
    protocol: 250
    mode: %s
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

// startActuator runs the built binary inside the lab namespace, listening on
// the namespace's 127.0.0.1:9754, and waits until it has read the kernel.
func (l *lab) startActuator(t *testing.T, mode string) *http.Client {
	t.Helper()
	bin := actuatorBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "route_actuator.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, actuatorConfig, mode), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "route_actuator.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", l.name, bin, "--config.file="+cfg, "--log.level=debug")
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
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("route_actuator log:\n%s", b)
		}
	})
	c := l.client()
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

func post(t *testing.T, c *http.Client, body []byte) {
	t.Helper()
	resp, err := c.Post("http://127.0.0.1:9754/webhook", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(msg)) != "ok" {
		t.Fatalf("POST /webhook: %d %s", resp.StatusCode, msg)
	}
}

// eventually polls the kernel (via gateways) until it returns want.
func eventually(t *testing.T, what string, want []string, gateways func() []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := gateways()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: kernel has %v, want %v", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kernelGateways reads the service route's gateways from `ip route show`
// (both modes print "nexthop via" lines; resilient mode after "nhid G").
func (l *lab) kernelGateways() []string {
	var gws []string
	f := strings.Fields(l.ourRoute())
	for i := range f[:max(len(f)-1, 0)] {
		if f[i] == "via" {
			gws = append(gws, f[i+1])
		}
	}
	slices.Sort(gws)
	return gws
}

// TestBinaryWebhooks runs the built route_actuator inside a namespace and
// drives it with Alertmanager webhook payloads, checking the kernel route
// after each.
func TestBinaryWebhooks(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			c := l.startActuator(t, mode)
			all := []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}
			t0 := time.Now().Add(-time.Minute)

			// No heartbeat yet: everything frozen, nothing installed.
			if got := l.ourRoute(); got != "" {
				t.Fatalf("route installed before the heartbeat: %q", got)
			}
			post(t, c, payload(watchdog(t0)))
			eventually(t, "heartbeat", all, l.kernelGateways)
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, all) {
					t.Fatalf("group members = %v", m)
				}
			}

			post(t, c, payload(serverDown("198.51.100.12", t0.Add(time.Second), time.Time{}), watchdog(t0)))
			eventually(t, "withdraw", []string{"198.51.100.11", "198.51.100.13"}, l.kernelGateways)
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, []string{"198.51.100.11", "198.51.100.13"}) {
					t.Fatalf("group members after withdraw = %v", m)
				}
			}

			// A duplicate of the same notification changes nothing.
			post(t, c, payload(serverDown("198.51.100.12", t0.Add(time.Second), time.Time{}), watchdog(t0)))
			if got := l.kernelGateways(); !slices.Equal(got, []string{"198.51.100.11", "198.51.100.13"}) {
				t.Fatalf("after duplicate: %v", got)
			}

			post(t, c, payload(serverDown("198.51.100.12", t0.Add(time.Second), time.Now()), watchdog(t0)))
			eventually(t, "restore", all, l.kernelGateways)
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, all) {
					t.Fatalf("group members after restore = %v", m)
				}
			}

			// The state API agrees with the kernel.
			resp, err := c.Get("http://127.0.0.1:9754/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{
				`route_actuator_nexthop_installed{nexthop="198.51.100.12",route="192.0.2.53/32"} 1`,
				`route_actuator_route_installed_nexthops{route="192.0.2.53/32"} 3`,
			} {
				if !strings.Contains(string(body), want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}
