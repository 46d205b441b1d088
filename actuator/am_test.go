//go:build integration

package actuator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// startAlertmanager runs Debian's Alertmanager on loopback, clustering off,
// notifying hook for every alert in its own group at once.
func startAlertmanager(t *testing.T, hook string) string {
	bin := testenv.RequireTool(t, "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: actuator
  group_by: ['...']
  group_wait: 0s
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: actuator
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+dir,
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	testenv.Start(t, cmd)
	base := "http://" + addr
	testenv.WaitHTTP(t, nil, base+"/-/ready", 20*time.Second)
	return base
}

// postAlert sends one alert to Alertmanager as Prometheus would; a zero
// endsAt marks it firing, a past one resolved.
func postAlert(t *testing.T, am string, labels map[string]string, startsAt, endsAt time.Time) {
	t.Helper()
	if err := sendAlert(am, labels, startsAt, endsAt); err != nil {
		t.Fatal(err)
	}
}

func sendAlert(am string, labels map[string]string, startsAt, endsAt time.Time) error {
	a := map[string]any{"labels": labels, "startsAt": startsAt}
	if !endsAt.IsZero() {
		a["endsAt"] = endsAt
	}
	b, _ := json.Marshal([]any{a})
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("posting alert: %s", resp.Status)
	}
	return nil
}

func waitRoute(t *testing.T, f *routetest.Backend, what string, nhs ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r, _ := f.Get(svc)
		got = got[:0]
		for _, nh := range r.Nexthops {
			got = append(got, nh.String())
		}
		if slices.Equal(got, nhs) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: route via %v, want %v", what, got, nhs)
}

// A real Alertmanager: its API is the truth at start-up, its notifications
// withdraw and restore, and a restore waits until Alertmanager shows the
// heartbeat freshly updated (the "Prometheus died" case): with
// heartbeat_timeout 90s the webhook state alone would still call the
// pipeline healthy, only heartbeat_max_age sees the heartbeat go stale.
func TestRealAlertmanager(t *testing.T) {
	var handler atomic.Pointer[http.Handler]
	var dropped atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		dropped.Add(1) // the actuator is not up yet: these notifications are lost
	}))
	t.Cleanup(hook.Close)
	am := startAlertmanager(t, hook.URL+"/webhook")

	start := time.Now().Add(-time.Minute).UTC()
	heartbeat := map[string]string{"alertname": "DNSSLAWatchdog"}
	down12 := map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.12", "service": "192.0.2.53/32"}
	down11 := map[string]string{"alertname": "DNSServerDown", "nexthop": "198.51.100.11", "service": "192.0.2.53/32"}
	postAlert(t, am, heartbeat, start, time.Time{})
	postAlert(t, am, down12, start, time.Time{})
	// "Prometheus": re-sends the heartbeat every 500ms (resend-delay) until it dies.
	promDone, promStop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(promDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-promStop:
				return
			case <-tick.C:
				if err := sendAlert(am, heartbeat, start, time.Time{}); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	killProm := sync.OnceFunc(func() { close(promStop); <-promDone })
	t.Cleanup(killProm)

	file := filepath.Join(t.TempDir(), "route_actuator.yml")
	cfg := fmt.Sprintf(`backend:
  type: netlink
routes:
  - prefix: 192.0.2.53/32
    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]
alerts:
  heartbeat: DNSSLAWatchdog
  heartbeat_timeout: 90s
  heartbeat_max_age: 2s
alertmanager:
  url: %s
resync_interval: 1h
`, am)
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := routetest.New(t, map[netip.Prefix]int{svc: 1})
	a, err := New(Options{ConfigFile: file, Registry: prometheus.NewPedanticRegistry(), Logger: slog.New(slog.DiscardHandler),
		NewBackend: func(config.Backend) (route.Backend, error) { return fake, nil }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range a.Handlers() {
		mux.Handle(p, h)
	}
	// Alertmanager's first notifications may arrive before the first API
	// read or be lost: start-up must come from the API either way.
	var h http.Handler = mux
	handler.Store(&h)
	done := make(chan error, 1)
	ctx := t.Context()
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { <-done })

	// Start-up: the API, not the lost notifications, says .12 is down.
	waitRoute(t, fake, "start-up from the API", "198.51.100.11", "198.51.100.13")
	if n := len(fake.Applied()); n != 1 || fake.Applied()[0].Action != route.Create {
		t.Errorf("start-up changes %+v, want one create without .12 (no flap)", fake.Applied())
	}

	// Withdraw through a real notification.
	postAlert(t, am, down11, time.Now().UTC(), time.Time{})
	waitRoute(t, fake, "withdraw .11 by notification", "198.51.100.13")

	// Restore through a real resolved notification, confirmed by the API.
	postAlert(t, am, down12, start, time.Now().UTC())
	waitRoute(t, fake, "restore .12 by resolved notification", "198.51.100.12", "198.51.100.13")

	// Prometheus "dies": nothing updates the heartbeat any more. A resolve
	// arriving now must not restore .11.
	killProm()
	time.Sleep(2500 * time.Millisecond)
	applied := len(fake.Applied())
	postAlert(t, am, down11, time.Now().Add(-time.Second).UTC(), time.Now().UTC())
	resolved := func() bool {
		snap, _ := a.store.Snapshot()
		return slices.ContainsFunc(snap, func(al alertstate.Alert) bool {
			return al.Labels["nexthop"] == "198.51.100.11" && al.Status == alertstate.Resolved
		})
	}
	// The webhook's reconcile has run once the state shows the resolve and
	// the pipeline verdict from the API read that tried to confirm it.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !(resolved() && !a.State().Pipeline.Healthy) {
		time.Sleep(10 * time.Millisecond)
	}
	if !resolved() {
		t.Fatal("the resolved notification for .11 never arrived")
	}
	if n := len(fake.Applied()); n != applied {
		t.Fatalf("route changed while the heartbeat was stale: %+v", fake.Applied()[applied:])
	}
	if st := a.State(); st.Pipeline.Healthy {
		t.Errorf("pipeline healthy with a stale heartbeat: %+v", st.Pipeline)
	}

	// Prometheus is back: the heartbeat is updated; the re-check of the stale
	// API (every second) confirms and restores.
	postAlert(t, am, heartbeat, start, time.Time{})
	waitRoute(t, fake, "restore after the heartbeat came back", "198.51.100.11", "198.51.100.12", "198.51.100.13")
	if dropped.Load() == 0 {
		t.Log("no notification arrived before the actuator started")
	}
}
