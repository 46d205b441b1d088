package actuator

import (
	"bytes"
	"crypto/ed25519"
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
	"golang.org/x/crypto/ssh"

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
		NewBackend: func(*config.Config) (route.Backend, error) {
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

	if h.builds != 1 {
		t.Errorf("backend built %d times, want 1 (a failed reload builds none)", h.builds)
	}

	// Every reload builds a new backend (it re-reads the files it names) and
	// closes the old one; a new route is installed through the new one.
	h.write(t, strings.Replace(baseConfig, "alerts:", "  - prefix: 192.0.2.54/32\n    nexthops: [198.51.100.13]\nalerts:", 1))
	if err := h.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if h.builds != 2 || !h.fakes[0].Closed() || h.fakes[1].Closed() {
		t.Errorf("builds %d, old closed %v, new closed %v", h.builds, h.fakes[0].Closed(), h.fakes[1].Closed())
	}
	h.fakes[1].Put(route.New(svc, netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")))
	if err := h.a.rec.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.fakes[1].Get(svc2); !ok {
		t.Error("route added by reload not installed")
	}

	// A changed backend section too.
	h.write(t, strings.Replace(baseConfig, "protocol: 250", "protocol: 251", 1))
	if err := h.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if h.builds != 3 || !h.fakes[1].Closed() || h.fakes[2].Closed() {
		t.Errorf("builds %d, old closed %v, new closed %v", h.builds, h.fakes[1].Closed(), h.fakes[2].Closed())
	}
	if err := h.a.rec.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.fakes[2].Get(svc); !ok {
		t.Error("new backend did not get the route")
	}
}

// A dry-run reload refuses what --config.check refuses (a null document
// once passed both and ran with backend type "") and keeps the running
// configuration and backend.
func TestDryRunReloadRefusesWhatCheckRefuses(t *testing.T) {
	h, err := newHarness(t, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"null\n", "# nothing\n", strings.Replace(baseConfig, "type: netlink", "type: ios", 1),
		strings.Replace(baseConfig, "type: netlink\n  netlink:\n    protocol: 250", "type: junos", 1)} {
		h.write(t, doc)
		checked, reloaded := CheckConfig(h.file), h.a.Reload(t.Context())
		if checked == nil || reloaded == nil || reloaded.Error() != checked.Error() {
			t.Errorf("%q: --config.check says %v, the dry-run reload %v: want the same error", doc, checked, reloaded)
		}
		if got := h.a.config().Routes; len(got) != 1 || len(got[0].Nexthops) != 2 || h.builds != 1 {
			t.Errorf("%q: after a refused reload routes = %+v, %d backends built; want the old configuration and backend", doc, got, h.builds)
		}
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
	fake.SetErr = func(route.Route) error { return fmt.Errorf("%w: ssh session down", route.ErrUnavailable) }
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
	applied := len(fake.Sets())
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("retry while still down: code %d, want 503", code)
	}
	if len(fake.Sets()) == applied {
		t.Error("the retried notification did not retry the device")
	}
	fake.SetErr = nil
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
	r, ok := h.fakes[len(h.fakes)-1].Get(svc)
	if want := []netip.Addr{netip.MustParseAddr("198.51.100.11")}; !ok || !slices.Equal(r.Nexthops, want) {
		t.Errorf("route = %v, want via %v", r, want)
	}
}

// A reload re-reads the IOS secret and known_hosts files even when the
// configuration did not change (rotated under the same path); when one
// cannot be read, the reload fails naming it (where the configuration names
// it) and the running configuration and backend stay. ios.New reads the files
// without connecting.
func TestReloadRereadsIOSFiles(t *testing.T) {
	dir := t.TempDir()
	pw, kh, file := filepath.Join(dir, "ios_password"), filepath.Join(dir, "known_hosts"), filepath.Join(dir, "route_actuator.yml")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hostKey := func(host string) string {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return host + " " + string(ssh.MarshalAuthorizedKey(k))
	}
	cfg := strings.Replace(baseConfig, "  type: netlink\n  netlink:\n    protocol: 250\n", fmt.Sprintf(`  type: ios
  ios:
    address: 127.0.0.1:22
    username: slaroute
    password_file: %s
    known_hosts_file: %s
`, pw, kh), 1)
	write(pw, "secret-1\n")
	write(kh, hostKey("127.0.0.1"))
	write(file, cfg)
	a, err := New(Options{ConfigFile: file, Registry: prometheus.NewPedanticRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.rec.Close() })
	running := a.rec.Backend()

	// The secret rotated under the same path: a new backend with it.
	write(pw, "secret-2\n")
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a.rec.Backend() == running {
		t.Fatal("reload with an unchanged configuration kept the backend built from the old secret")
	}
	running = a.rec.Backend()

	withRoute := strings.Replace(cfg, "alerts:", "  - prefix: 192.0.2.54/32\n    nexthops: [198.51.100.13]\nalerts:", 1)
	for _, tc := range []struct {
		name  string
		spoil func()
		want  string
	}{
		{"known_hosts rotated without the router's key", func() { write(kh, hostKey("192.0.2.1")) },
			file + ":7: known_hosts " + kh + " has no key for 127.0.0.1 (host keys are checked strictly)"},
		{"password file missing", func() { write(kh, hostKey("127.0.0.1")); os.Remove(pw) },
			file + ":6: ios password_file: open " + pw + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spoil()
			write(file, withRoute)
			err := a.Reload(t.Context())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("reload error %v, want %s", err, tc.want)
			}
			if a.rec.Backend() != running {
				t.Error("a failed reload replaced the backend")
			}
			if n := len(a.config().Routes); n != 1 {
				t.Errorf("after a failed reload %d routes, want the old configuration's 1", n)
			}
		})
	}
	write(pw, "secret-3\n")
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a.rec.Backend() == running || len(a.config().Routes) != 2 {
		t.Errorf("reload after the files were fixed: backend replaced %v, %d routes, want a new backend and 2 routes",
			a.rec.Backend() != running, len(a.config().Routes))
	}
}

func (a *Actuator) config() *config.Config {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

// closeLogged records Close in the same log as the applies.
type closeLogged struct {
	*routetest.Backend
	log func(string)
}

func (c closeLogged) Close() error {
	c.log("close")
	return c.Backend.Close()
}

// The old backend is closed only after an apply in flight on it finished.
func TestReloadClosesOldBackendAfterApply(t *testing.T) {
	var mu sync.Mutex
	var events []string
	log := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	started, release := make(chan struct{}), make(chan struct{})
	file := filepath.Join(t.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(baseConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	builds := 0
	a, err := New(Options{ConfigFile: file, Registry: prometheus.NewPedanticRegistry(), Logger: slog.New(slog.DiscardHandler),
		NewBackend: func(*config.Config) (route.Backend, error) {
			builds++
			f := routetest.New(t, map[netip.Prefix]int{svc: 1})
			if builds == 1 {
				f.SetErr = func(route.Route) error {
					log("apply start")
					close(started)
					<-release
					log("apply end")
					return nil
				}
			}
			return &closeLogged{f, log}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.rec.Close() })
	hb := alertstate.Event{Fingerprint: "hb", Labels: map[string]string{"alertname": "DNSSLAWatchdog"}, Status: alertstate.Firing, StartsAt: time.Now()}
	ingested := make(chan error, 1)
	go func() { ingested <- a.Ingest(t.Context(), []alertstate.Event{hb}) }()
	<-started
	reloaded := make(chan error, 1)
	go func() { reloaded <- a.Reload(t.Context()) }()
	select {
	case err := <-reloaded:
		t.Errorf("reload returned (%v) while an apply was in flight on the old backend", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"apply start", "apply end", "close"}; !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
}
