package actuator

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
)

// FuzzWebhook drives the webhook decoder and the policy behind it with the
// strict fake backend: an invalid payload (any 4xx) never changes a route, and
// no payload breaks the backend contract (the fake fails the test on that).
// Seeds: the webhook fixtures and testdata/fuzz/FuzzWebhook.
func FuzzWebhook(f *testing.F) {
	fixtures, _ := filepath.Glob("webhook/testdata/*.json")
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	file := filepath.Join(f.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(baseConfig), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fake := routetest.New(t, map[netip.Prefix]int{svc: 1, svc2: 1})
		fake.Put(route.New(svc, netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")))
		a, err := New(Options{ConfigFile: file, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
			NewBackend: func(*config.Config) (route.Backend, error) { return fake, nil }})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := fake.Get(svc)
		w := httptest.NewRecorder()
		a.Handlers()["/webhook"].ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body)))
		after, ok := fake.Get(svc)
		if w.Code >= 400 && w.Code < 500 && (!ok || !slices.Equal(before.Nexthops, after.Nexthops)) {
			t.Errorf("code %d changed %v to %v (present %v)", w.Code, before.Nexthops, after.Nexthops, ok)
		}
	})
}
