package actuator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
)

// BenchmarkWebhook100 measures the handler with a 100-alert payload that
// changes nothing (Alertmanager's repeats): decode, classify, store, no I/O.
func BenchmarkWebhook100(b *testing.B) {
	h, body := webhookBench(b)
	post := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body)))
		if w.Code != 200 {
			b.Fatalf("code %d: %s", w.Code, w.Body)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		post()
	}
}

// BenchmarkWebhook100HTTP is BenchmarkWebhook100 through a loopback HTTP
// server and client, 4 requests in flight (as bench.sh's loadgen).
func BenchmarkWebhook100HTTP(b *testing.B) {
	h, body := webhookBench(b)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(c.CloseIdleConnections)
	b.SetParallelism(2) // x GOMAXPROCS (2) = 4 in flight
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(srv.URL+"/webhook", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("code %d", resp.StatusCode)
				return
			}
		}
	})
}

// webhookBench returns the webhook handler of an actuator with 33 routes of
// 3 nexthops, its routes installed, and a 100-alert payload that repeats the
// state (the heartbeat and 99 resolved DNSServerDown).
func webhookBench(b *testing.B) (http.Handler, []byte) {
	var cfg strings.Builder
	cfg.WriteString("backend:\n  type: netlink\nroutes:\n")
	managed := map[netip.Prefix]int{}
	var alerts []map[string]any
	t0 := time.Now().Add(-time.Hour).UTC()
	alerts = append(alerts, map[string]any{"status": "firing", "labels": map[string]string{"alertname": "DNSSLAWatchdog"}, "startsAt": t0, "fingerprint": "ffffffffffffffff"})
	for i := range 33 {
		p := fmt.Sprintf("192.0.2.%d/32", i+1)
		managed[netip.MustParsePrefix(p)] = 1
		fmt.Fprintf(&cfg, "  - prefix: %s\n    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]\n", p)
		for _, nh := range []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"} {
			alerts = append(alerts, map[string]any{"status": "resolved", "startsAt": t0, "endsAt": t0.Add(time.Second),
				"labels":      map[string]string{"alertname": "DNSServerDown", "nexthop": nh, "service": p, "severity": "critical"},
				"annotations": map[string]string{"summary": "DNS server " + nh + " fails its SLA for " + p},
				"fingerprint": fmt.Sprintf("%x", p+nh)})
		}
	}
	cfg.WriteString("alerts:\n  heartbeat: DNSSLAWatchdog\nresync_interval: 1h\n")
	file := filepath.Join(b.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	fake := routetest.New(b, managed)
	a, err := New(Options{ConfigFile: file, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		NewBackend: func(*config.Config) (route.Backend, error) { return fake, nil }})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "r", "alerts": alerts})
	h := a.Handlers()["/webhook"]
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body)))
	if w.Code != 200 {
		b.Fatalf("code %d: %s", w.Code, w.Body)
	}
	if r, ok := fake.Get(netip.MustParsePrefix("192.0.2.1/32")); !ok || len(r.Nexthops) != 3 {
		b.Fatalf("route not installed: %v", r)
	}
	return h, body
}

// BenchmarkWebhook100Toggle is BenchmarkWebhook100 with payloads that fire
// and resolve one nexthop of every route in turn: every webhook reconciles
// (decide, diff, apply to the fake backend, read back, metrics).
func BenchmarkWebhook100Toggle(b *testing.B) {
	h, body := webhookBench(b)
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		b.Fatal(err)
	}
	alerts := p["alerts"].([]any)
	at := time.Now().Add(-30 * time.Minute)
	bodies := make([][]byte, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		at = at.Add(time.Millisecond)
		for _, a := range alerts {
			a := a.(map[string]any)
			if l := a["labels"].(map[string]any); l["nexthop"] != "198.51.100.12" {
				continue
			}
			if i%2 == 0 {
				a["status"], a["startsAt"], a["endsAt"] = "firing", at, time.Time{}
			} else {
				a["status"], a["endsAt"] = "resolved", at
			}
		}
		b.StopTimer()
		bodies[i%2], _ = json.Marshal(p)
		b.StartTimer()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(bodies[i%2])))
		if w.Code != 200 {
			b.Fatalf("code %d: %s", w.Code, w.Body)
		}
	}
}
