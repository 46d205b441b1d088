package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ActuatorURL is where route_actuator listens inside its namespace.
const ActuatorURL = "http://127.0.0.1:9754"

// ActuatorRoutes completes a route_actuator config after its backend
// section: service 192.0.2.53/32 over 198.51.100.11-13, driven by the alerts
// Watchdog and ServerDown make.
const ActuatorRoutes = `routes:
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

// Actuator is the built route_actuator running inside a network namespace.
type Actuator struct {
	Log  string // its log file
	cmd  *exec.Cmd
	once sync.Once
}

// StartActuator runs the built route_actuator with config (YAML text) inside
// namespace ns and waits until c, which must dial from inside ns, gets 200
// from /-/ready. When the test ends it is stopped (SIGTERM, then kill by
// PID), its log is logged if the test failed, and the test fails if the log
// contains any of forbidden.
func StartActuator(t testing.TB, ns, config string, c *http.Client, forbidden ...string) *Actuator {
	t.Helper()
	bin := Binary(t, "route_actuator")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "route_actuator.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "route_actuator.log"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Actuator{Log: logf.Name(), cmd: exec.Command("ip", "netns", "exec", ns, bin, "--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"), "--log.level=debug")}
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop()
		logf.Close()
		b, _ := os.ReadFile(a.Log)
		for _, s := range forbidden {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("route_actuator log contains %q", s)
			}
		}
		if t.Failed() {
			t.Logf("route_actuator log:\n%s", b)
		}
	})
	WaitHTTP(t, c, ActuatorURL+"/-/ready", 10*time.Second)
	return a
}

// Stop sends SIGTERM and waits, killing by PID after 5 s; later calls do nothing.
func (a *Actuator) Stop() {
	a.once.Do(func() {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = a.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = a.cmd.Process.Kill()
			<-done
		}
	})
}

// Alert is one alert of an Alertmanager webhook payload (version 4).
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Payload is the body Alertmanager's webhook notifier sends for alerts.
func Payload(alerts ...Alert) []byte {
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

// Watchdog is the firing heartbeat alert.
func Watchdog(start time.Time) Alert {
	return Alert{Status: "firing", Labels: map[string]string{"alertname": "DNSSLAWatchdog", "severity": "none"},
		StartsAt: start, Fingerprint: "00000000000000aa"}
}

// ServerDown is DNSServerDown for nexthop of service 192.0.2.53/32, firing
// or, with a non-zero end, resolved.
func ServerDown(nexthop string, start, end time.Time) Alert {
	a := Alert{Status: "firing", Labels: map[string]string{"alertname": "DNSServerDown", "nexthop": nexthop,
		"service": "192.0.2.53/32", "severity": "critical"}, StartsAt: start, Fingerprint: "1" + strings.ReplaceAll(nexthop, ".", "")}
	if !end.IsZero() {
		a.Status, a.EndsAt = "resolved", end
	}
	return a
}

// PostWebhook POSTs body to the actuator's /webhook with c, fails the test
// unless it answers 200, and returns the response body.
func PostWebhook(t testing.TB, c *http.Client, body []byte) string {
	t.Helper()
	resp, err := c.Post(ActuatorURL+"/webhook", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /webhook: %d %s", resp.StatusCode, msg)
	}
	return string(msg)
}

// ActuatorMetrics returns the actuator's /metrics text, fetched with c.
func ActuatorMetrics(t testing.TB, c *http.Client) string {
	t.Helper()
	resp, err := c.Get(ActuatorURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(body)
}

// WaitActuatorMetrics polls route_actuator's /metrics until every wanted
// line is present, failing after 10 s. The actuator sets its metrics after
// its own read-back of the device, which may end just after a test already
// sees the change on the device, so a single scrape would race.
func WaitActuatorMetrics(t testing.TB, c *http.Client, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := ActuatorMetrics(t, c)
		var missing []string
		for _, want := range wants {
			if !strings.Contains(body, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("route_actuator /metrics lacks %q", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
