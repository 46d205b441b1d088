package actuator

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
)

const baseConfig = `backend:
  type: netlink
  netlink:
    protocol: 250
routes:
  - prefix: 192.0.2.53/32
    nexthops: [198.51.100.11, 198.51.100.12]
alerts:
  heartbeat: DNSSLAWatchdog
resync_interval: 1h
`

var (
	svc  = netip.MustParsePrefix("192.0.2.53/32")
	svc2 = netip.MustParsePrefix("192.0.2.54/32")
)

type harness struct {
	file   string
	a      *Actuator
	fakes  []*routetest.Backend
	builds int
}

func newHarness(t *testing.T, dryRun bool, buildErr error) (*harness, error) {
	h := &harness{file: filepath.Join(t.TempDir(), "route_actuator.yml")}
	if err := os.WriteFile(h.file, []byte(baseConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{ConfigFile: h.file, DryRun: dryRun, Registry: prometheus.NewPedanticRegistry(), Logger: slog.New(slog.DiscardHandler),
		NewBackend: func(config.Backend) (route.Backend, error) {
			h.builds++
			if buildErr != nil {
				return nil, buildErr
			}
			f := routetest.New(t, map[netip.Prefix]int{svc: 1, svc2: 1})
			h.fakes = append(h.fakes, f)
			return f, nil
		}})
	h.a = a
	return h, err
}

func (h *harness) write(t *testing.T, s string) {
	t.Helper()
	if err := os.WriteFile(h.file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	h, err := newHarness(t, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	hb := alertstate.Event{Fingerprint: "hb", Labels: map[string]string{"alertname": "DNSSLAWatchdog"}, Status: alertstate.Firing, StartsAt: time.Now()}
	if err := h.a.Ingest(ctx, []alertstate.Event{hb}); err != nil {
		t.Fatal(err)
	}
	if r, ok := h.fakes[0].Get(svc); !ok || len(r.Nexthops) != 2 {
		t.Fatalf("route after heartbeat: %v %v", r, ok)
	}

	// A broken file keeps the running configuration.
	h.write(t, strings.Replace(baseConfig, "198.51.100.12]", "198.51.100.12, 198.51.100.300]", 1))
	err = h.a.Reload(ctx)
	if want := h.file + ":7: route 192.0.2.53/32 nexthop \"198.51.100.300\" is not an IP address"; err == nil || err.Error() != want {
		t.Fatalf("reload error %v, want %s", err, want)
	}
	if got := h.a.State().Routes; len(got) != 1 || len(got[0].Configured) != 2 {
		t.Errorf("after a failed reload routes = %+v, want the old configuration", got)
	}

	// Same backend section: the backend is kept; a new route is installed.
	h.write(t, strings.Replace(baseConfig, "alerts:", "  - prefix: 192.0.2.54/32\n    nexthops: [198.51.100.13]\nalerts:", 1))
	if err := h.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if h.builds != 1 {
		t.Errorf("backend built %d times, want 1 (section unchanged)", h.builds)
	}
	if err := h.a.rec.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.fakes[0].Get(svc2); !ok {
		t.Error("route added by reload not installed")
	}

	// A changed backend section builds a new backend and closes the old one.
	h.write(t, strings.Replace(baseConfig, "protocol: 250", "protocol: 251", 1))
	if err := h.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if h.builds != 2 || !h.fakes[0].Closed() || h.fakes[1].Closed() {
		t.Errorf("builds %d, old closed %v, new closed %v", h.builds, h.fakes[0].Closed(), h.fakes[1].Closed())
	}
	if err := h.a.rec.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.fakes[1].Get(svc); !ok {
		t.Error("new backend did not get the route")
	}
}

func TestBackendFailure(t *testing.T) {
	boom := errors.New("no netlink socket")
	if _, err := newHarness(t, false, boom); err == nil || !errors.Is(err, boom) {
		t.Errorf("New without dry run: %v, want the backend error", err)
	}
	h, err := newHarness(t, true, boom)
	if err != nil {
		t.Fatalf("dry run must start without a backend: %v", err)
	}
	if err := h.a.rec.Resync(t.Context()); !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("resync err = %v, want ErrUnavailable", err)
	}
	if st := h.a.State(); !st.DryRun || !strings.Contains(st.LastError, "no netlink socket") {
		t.Errorf("state = %+v", st)
	}
}

// A device that cannot be reached answers 503 so that Alertmanager retries;
// once it is back the same notification is applied.
func TestWebhookUnavailable(t *testing.T) {
	h, err := newHarness(t, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	fake := h.fakes[0]
	fake.ApplyErr = func(route.Change) error { return fmt.Errorf("%w: ssh session down", route.ErrUnavailable) }
	hook := h.a.Handlers()["/webhook"]
	body, err := os.ReadFile("webhook/testdata/heartbeat.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func() int {
		w := httptest.NewRecorder()
		hook.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body)))
		return w.Code
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("code %d, want 503", code)
	}
	applied := len(fake.Applied())
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("retry while still down: code %d, want 503", code)
	}
	if len(fake.Applied()) == applied {
		t.Error("the retried notification did not retry the device")
	}
	fake.ApplyErr = nil
	if code := post(); code != http.StatusOK {
		t.Fatalf("code %d after recovery, want 200", code)
	}
	if _, ok := fake.Get(svc); !ok {
		t.Error("route not installed after recovery")
	}
}

// Concurrent webhooks carrying the same episodes in any order (HA peers,
// retries) converge, and the fake backend sees one caller at a time.
func TestConcurrentWebhooksConverge(t *testing.T) {
	h, err := newHarness(t, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, strings.Replace(baseConfig, "alerts:\n", "alerts:\n  restore_delay: 100ms\n", 1))
	if err := h.a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	ev := func(nh string, status alertstate.Status, starts, ends time.Time) alertstate.Event {
		labels := map[string]string{"alertname": "DNSServerDown", "nexthop": nh}
		return alertstate.Event{Fingerprint: alertstate.Fingerprint(labels), Labels: labels, Status: status, StartsAt: starts, EndsAt: ends}
	}
	hb := alertstate.Event{Fingerprint: "hb", Labels: map[string]string{"alertname": "DNSSLAWatchdog"}, Status: alertstate.Firing, StartsAt: t0}
	// .11: down then up (ends resolved); .12: down, up, down again (ends firing).
	events := []alertstate.Event{
		ev("198.51.100.11", alertstate.Firing, t0, time.Time{}),
		ev("198.51.100.11", alertstate.Resolved, t0, t0.Add(time.Minute)),
		ev("198.51.100.12", alertstate.Firing, t0, time.Time{}),
		ev("198.51.100.12", alertstate.Resolved, t0, t0.Add(time.Minute)),
		ev("198.51.100.12", alertstate.Firing, t0.Add(2*time.Minute), time.Time{}),
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			e := events[(i*7)%len(events)]
			if err := h.a.Ingest(t.Context(), []alertstate.Event{hb, e}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// The restore of .11 (if it was ever withdrawn) waits restore_delay; a resync after it settles everything.
	time.Sleep(150 * time.Millisecond)
	if err := h.a.rec.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, ok := h.fakes[0].Get(svc)
	if want := []netip.Addr{netip.MustParseAddr("198.51.100.11")}; !ok || !slices.Equal(r.Nexthops, want) {
		t.Errorf("route = %v, want via %v", r, want)
	}
}
