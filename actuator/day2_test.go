package actuator

import (
	"encoding/json"
	"io"
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
	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
	"github.com/slaroute/slaroute/actuator/state"
)

const day2Config = `backend:
  type: netlink
routes:
  - prefix: 192.0.2.53/32
    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]
    min_nexthops: 2
alerts:
  heartbeat: DNSSLAWatchdog
  restore_delay: 0s
dampening:
  half_life: 60s
  penalty: 1000
  suppress_threshold: 2500
  reuse_threshold: 750
  max_suppress: 10m
resync_interval: 1h
`

var (
	nh1 = netip.MustParseAddr("198.51.100.11")
	nh2 = netip.MustParseAddr("198.51.100.12")
	nh3 = netip.MustParseAddr("198.51.100.13")
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type day2 struct {
	t     *testing.T
	a     *Actuator
	fake  *routetest.Backend
	srv   *httptest.Server
	reg   *prometheus.Registry
	clock *clock
}

// startDay2 starts an actuator on dir's state file with a fresh fake device,
// as after a restart, and sends the heartbeat.
func startDay2(t *testing.T, file, dir string, c *clock) *day2 {
	t.Helper()
	d := &day2{t: t, reg: prometheus.NewPedanticRegistry(), clock: c, fake: routetest.New(t, map[netip.Prefix]int{svc: 1})}
	a, err := New(Options{ConfigFile: file, StoragePath: dir, Registry: d.reg, Logger: slog.New(slog.DiscardHandler), Now: c.Now,
		NewBackend: func(*config.Config) (route.Backend, error) { return d.fake, nil }})
	if err != nil {
		t.Fatal(err)
	}
	d.a = a
	mux := http.NewServeMux()
	for p, h := range a.Handlers() {
		mux.Handle(p, h)
	}
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	d.heartbeat()
	return d
}

func (d *day2) heartbeat() {
	d.t.Helper()
	d.ingest(alertstate.Event{Fingerprint: "hb", Labels: map[string]string{"alertname": "DNSSLAWatchdog"}, Status: alertstate.Firing, StartsAt: d.clock.Now()})
}

func (d *day2) ingest(e ...alertstate.Event) {
	d.t.Helper()
	if err := d.a.Ingest(d.t.Context(), e); err != nil {
		d.t.Fatal(err)
	}
}

func (d *day2) installed() []netip.Addr {
	r, _ := d.fake.Get(svc)
	return r.Nexthops
}

func (d *day2) do(method, path, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.srv.URL+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set(apiv1.HeaderWho, "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric is the value of a route/nexthop series of svc.
func (d *day2) metric(name string, nh netip.Addr) float64 {
	d.t.Helper()
	mfs, err := d.reg.Gather()
	if err != nil {
		d.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["route"] == svc.String() && l["nexthop"] == nh.String() {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	d.t.Fatalf("no %s for %s", name, nh)
	return 0
}

func down(fp string, nh netip.Addr, firing bool, at time.Time) alertstate.Event {
	e := alertstate.Event{Fingerprint: fp, Labels: map[string]string{"alertname": "DNSServerDown", "nexthop": nh.String(), "instance": "dns" + fp}, Status: alertstate.Firing, StartsAt: at}
	if !firing {
		e.Status, e.StartsAt, e.EndsAt = alertstate.Resolved, at.Add(-time.Second), at
	}
	return e
}

// Drains through the API: withdrawn whatever the health, refused below
// min_nexthops with 409, bad input 4xx with no change, kept across a restart
// in the state file, ended by DELETE; each change with its cause in the events.
func TestDrainAPI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(day2Config), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 12, 5, 3, 12, 0, 0, time.UTC)}
	d := startDay2(t, file, dir, c)
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh2, nh3}) {
		t.Fatalf("installed %v", got)
	}

	code, body := d.do("POST", "/api/v1/drains", `{"nexthop": "198.51.100.13", "reason": "kernel upgrade", "expires": "2026-12-05T06:00:00Z"}`)
	if code != http.StatusCreated || !strings.Contains(body, `"who": "alice"`) || !strings.Contains(body, `"reason": "kernel upgrade"`) {
		t.Fatalf("POST drain: %d %s", code, body)
	}
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh2}) {
		t.Fatalf("after drain installed %v, want 198.51.100.13 withdrawn", got)
	}
	if got := d.metric("route_actuator_nexthop_drained", nh3); got != 1 {
		t.Errorf("route_actuator_nexthop_drained = %v", got)
	}

	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"nexthop": "198.51.100.12", "reason": "second"}`, http.StatusConflict, "below min_nexthops: draining 198.51.100.12 would leave route 192.0.2.53/32 with 1 nexthop(s) in service, below min_nexthops 2 (force overrides)"},
		{`{"nexthop": "198.51.100.12"}`, http.StatusBadRequest, "reason must be set"},
		{`{"nexthop": "198.51.100.99", "reason": "x"}`, http.StatusNotFound, "nexthop 198.51.100.99 is in no configured route"},
		{`{"nexthop": "dns1", "reason": "x"}`, http.StatusBadRequest, "is not an IP address"},
		{`{"nexthop": "198.51.100.12", "reason": "x", "routee": "192.0.2.53/32"}`, http.StatusBadRequest, `unknown field \"routee\"`},
		{`{"nexthop": "198.51.100.12", "reason": "x", "expires": "2020-01-01T00:00:00Z"}`, http.StatusBadRequest, "is not in the future"},
		{`{"nexthop": "198.51.100.12", "reason": "` + strings.Repeat("x", 20000) + `"}`, http.StatusRequestEntityTooLarge, "too large"},
		{`[`, http.StatusBadRequest, "invalid drain request"},
	} {
		code, body := d.do("POST", "/api/v1/drains", tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %.60s: %d %s, want %d %q", tc.body, code, body, tc.code, tc.want)
		}
		if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh2}) {
			t.Fatalf("a refused drain changed the route: %v", got)
		}
	}
	if code, body := d.do("GET", "/api/v1/drains", ""); code != 200 || strings.Count(body, `"nexthop"`) != 1 {
		t.Errorf("GET drains: %d %s", code, body)
	}

	// Restart: a new actuator on the same state file and an empty device.
	d = startDay2(t, file, dir, c)
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh2}) {
		t.Fatalf("after restart installed %v, want the drain kept", got)
	}
	var routes apiv1.Routes
	_, body = d.do("GET", "/api/v1/routes", "")
	if err := json.Unmarshal([]byte(body), &routes); err != nil {
		t.Fatal(err)
	}
	if n := routes.Routes[0].Nexthops[2]; n.Drained == nil || n.Drained.Reason != "kernel upgrade" || len(n.Why) != 1 || n.Why[0].Kind != events.Drain {
		t.Errorf("/api/v1/routes nexthop 3 = %+v", n)
	}

	if code, body := d.do("DELETE", "/api/v1/drains/198.51.100.13", ""); code != 200 || !strings.Contains(body, "kernel upgrade") {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh2, nh3}) {
		t.Fatalf("after undrain installed %v", got)
	}
	if code, _ := d.do("DELETE", "/api/v1/drains/198.51.100.13", ""); code != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", code)
	}
	st, err := state.Load(dir)
	if err != nil || len(st.Drains) != 0 {
		t.Errorf("state file after undrain: %+v %v", st, err)
	}

	_, body = d.do("GET", "/api/v1/events", "")
	var ev apiv1.Events
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ev.Events {
		for _, ch := range e.Changes {
			got = append(got, ch.String())
		}
	}
	want := []string{
		"+198.51.100.12 (startup)", // the restart's fresh device
		`+198.51.100.13 (drain "kernel upgrade" by alice until 2026-12-05T06:00:00Z ended)`,
	}
	if !slices.Contains(got, want[1]) || !slices.Contains(got, want[0]) {
		t.Errorf("events %q lack %q", got, want)
	}

	// A forced drain below min_nexthops, and an expiry.
	if code, body := d.do("POST", "/api/v1/drains", `{"nexthop": "198.51.100.12", "reason": "r"}`); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := d.do("POST", "/api/v1/drains", `{"nexthop": "198.51.100.13", "reason": "r", "force": true, "expires": "2026-12-05T03:20:00Z"}`); code != 201 || !strings.Contains(body, `"forced": true`) {
		t.Fatalf("forced: %d %s", code, body)
	}
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1}) {
		t.Fatalf("forced drains: installed %v", got)
	}
	if code, body := d.do("POST", "/api/v1/drains", `{"nexthop": "198.51.100.11", "reason": "r", "force": true}`); code != http.StatusConflict || !strings.Contains(body, "without nexthops") {
		t.Errorf("draining the last nexthop: %d %s", code, body)
	}
	c.Add(10 * time.Minute)
	d.heartbeat()
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh3}) {
		t.Errorf("after the expiry installed %v, want 198.51.100.13 back", got)
	}
}

// Three withdraw/restore cycles within seconds suppress the nexthop until
// its penalty decays; penalties survive a restart.
func TestDampeningSuppresses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(day2Config), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 12, 5, 3, 12, 0, 0, time.UTC)}
	d := startDay2(t, file, dir, c)
	for i := range 3 {
		fp := string(rune('a' + i))
		d.ingest(down(fp, nh1, true, c.Now()))
		if got := d.installed(); slices.Contains(got, nh1) {
			t.Fatalf("flap %d: still installed", i)
		}
		c.Add(time.Second)
		d.ingest(down(fp, nh1, false, c.Now()))
		c.Add(time.Second)
		if i < 2 && !slices.Contains(d.installed(), nh1) {
			t.Fatalf("flap %d: not restored", i)
		}
	}
	if got := d.installed(); slices.Contains(got, nh1) {
		t.Fatalf("after 3 flaps installed %v, want 198.51.100.11 suppressed", got)
	}
	if got := d.metric("route_actuator_nexthop_suppressed", nh1); got != 1 {
		t.Errorf("route_actuator_nexthop_suppressed = %v", got)
	}
	var routes apiv1.Routes
	_, body := d.do("GET", "/api/v1/routes", "")
	if err := json.Unmarshal([]byte(body), &routes); err != nil {
		t.Fatal(err)
	}
	n := routes.Routes[0].Nexthops[0]
	if n.Dampening == nil || n.Dampening.Penalty < 2500 || n.Dampening.SuppressedUntil.IsZero() || len(n.Why) != 1 || n.Why[0].Kind != events.Dampening {
		t.Fatalf("/api/v1/routes nexthop 1 = %+v", n)
	}
	until := n.Dampening.SuppressedUntil

	// Restart: still suppressed.
	d = startDay2(t, file, dir, c)
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh2, nh3}) {
		t.Fatalf("after restart installed %v, want 198.51.100.11 still suppressed", got)
	}
	c.t = until.Add(time.Second)
	d.heartbeat()
	if got := d.installed(); !slices.Equal(got, []netip.Addr{nh1, nh2, nh3}) {
		t.Fatalf("after the penalty decayed installed %v", got)
	}
	evs := d.a.rec.Events(0, 0)
	last := evs[len(evs)-1].Changes[0].String()
	if !strings.HasPrefix(last, "+198.51.100.11 (dampening penalty") || !strings.HasSuffix(last, "ended)") {
		t.Errorf("last change %q, want dampening ended", last)
	}
}

func TestEventsAPIBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(day2Config), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDay2(t, file, t.TempDir(), &clock{t: time.Date(2026, 12, 5, 3, 12, 0, 0, time.UTC)})
	for _, q := range []string{"?limit=x", "?since=-1", "?limit=-2"} {
		if code, _ := d.do("GET", "/api/v1/events"+q, ""); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if code, body := d.do("GET", "/api/v1/events?limit=1", ""); code != 200 || strings.Count(body, `"seq"`) != 1 {
		t.Errorf("limit=1: %d %s", code, body)
	}
}
