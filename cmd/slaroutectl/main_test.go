package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/state"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	t0      = time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC)
	svc     = netip.MustParsePrefix("192.0.2.53/32")
	nh11    = netip.MustParseAddr("198.51.100.11")
	nh12    = netip.MustParseAddr("198.51.100.12")
	nh13    = netip.MustParseAddr("198.51.100.13")
	seen    = t0.Add(-2 * time.Second)
	alert13 = events.AlertRef{Name: "DNSServerDown", Fingerprint: "3f2a9c0e1b7d5a46", Since: t0.Add(-90 * time.Second),
		Labels: map[string]string{"nexthop": "198.51.100.13", "service": "192.0.2.53/32"}}
	drain12 = state.Drain{Nexthop: nh12, Reason: "kernel upgrade", Who: "alice via ops", Created: t0.Add(-time.Hour), Expires: t0.Add(3 * time.Hour)}
	damp13  = events.DampingRef{Penalty: 2932.5, SuppressedUntil: t0.Add(118 * time.Second)}
)

// routes is the planned GET /api/v1/routes: .11 serves, .12 is drained, .13
// is down and suppressed for flapping; a second route is frozen.
func routes() apiv1.Routes {
	return apiv1.Routes{
		Pipeline:  apiv1.Pipeline{Healthy: true, HeartbeatLastSeen: &seen},
		FrozenAll: []string{},
		Routes: []apiv1.Route{{
			Prefix: "192.0.2.53/32", MinNexthops: 1, Present: true, Converged: true,
			Configured: []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"},
			Desired:    []string{"198.51.100.11"}, Installed: []string{"198.51.100.11"},
			FrozenReasons: []string{}, GuardKept: []string{}, PendingRestore: []string{},
			Withdrawn: []apiv1.WithdrawnNexthop{{Nexthop: "198.51.100.13", Reasons: []events.AlertRef{alert13}}},
			Nexthops: []apiv1.Nexthop{
				{Nexthop: "198.51.100.11", Desired: true, Installed: true, Why: []events.Cause{}},
				{Nexthop: "198.51.100.12", Why: []events.Cause{{Kind: events.Drain, Drain: &events.DrainRef{Reason: drain12.Reason, Who: drain12.Who, Expires: drain12.Expires}}},
					Drained: &events.DrainRef{Reason: drain12.Reason, Who: drain12.Who, Expires: drain12.Expires}},
				{Nexthop: "198.51.100.13", Why: []events.Cause{{Kind: events.Alert, Alerts: []events.AlertRef{alert13}}, {Kind: events.Dampening, Dampening: &damp13}},
					Dampening: &damp13},
			},
		}, {
			Prefix: "2001:db8::53/128", MinNexthops: 2, Present: true, Converged: true, Frozen: true,
			Configured: []string{"2001:db8::11", "2001:db8::12"}, Desired: []string{"2001:db8::11"}, Installed: []string{"2001:db8::11"},
			FrozenReasons: []string{"freeze alert DNSSLAProbesMissing (77aa) since 2026-12-04T03:10:00Z"}, GuardKept: []string{}, PendingRestore: []string{},
			Withdrawn: []apiv1.WithdrawnNexthop{},
			Nexthops: []apiv1.Nexthop{
				{Nexthop: "2001:db8::11", Desired: true, Installed: true},
				{Nexthop: "2001:db8::12", Why: []events.Cause{{Kind: events.Frozen, Detail: "freeze alert DNSSLAProbesMissing"}}},
			},
		}},
		Unconfigured: []apiv1.RouteNexthops{},
		Plan:         []apiv1.PlannedChange{},
	}
}

// oldRoutes is an older route_actuator's answer (before issue 11), without
// min_nexthops and nexthops: status still explains it from withdrawn.
func oldRoutes() apiv1.Routes {
	r := routes()
	r.Routes = r.Routes[:1]
	r.Routes[0].Nexthops, r.Routes[0].MinNexthops = nil, 0
	r.Routes[0].Installed = append(r.Routes[0].Installed, "198.51.100.99")
	r.Unconfigured = []apiv1.RouteNexthops{{Prefix: "192.0.2.99/32", Nexthops: []string{"198.51.100.11"}}}
	return r
}

func evs() apiv1.Events {
	two := []netip.Addr{nh11, nh13}
	return apiv1.Events{Events: []events.Event{
		{Seq: 1, Time: t0.Add(-2 * time.Hour), Route: svc, To: []netip.Addr{nh11, nh12, nh13},
			Changes: events.Changes(nil, []netip.Addr{nh11, nh12, nh13}, nil, nil, events.Cause{Kind: events.Startup})},
		{Seq: 2, Time: t0.Add(-time.Hour), Route: svc, From: []netip.Addr{nh11, nh12, nh13}, To: two,
			Changes: events.Changes([]netip.Addr{nh11, nh12, nh13}, two, nil, map[netip.Addr][]events.Cause{nh12: {{Kind: events.Drain, Drain: &events.DrainRef{Reason: drain12.Reason, Who: drain12.Who, Expires: drain12.Expires}}}}, events.Cause{Kind: events.Drift})},
		{Seq: 3, Time: t0.Add(-90 * time.Second), Route: svc, From: two, To: []netip.Addr{nh11},
			Changes: events.Changes(two, []netip.Addr{nh11}, nil, map[netip.Addr][]events.Cause{nh13: {{Kind: events.Alert, Alerts: []events.AlertRef{alert13}}}}, events.Cause{Kind: events.Drift})},
	}}
}

// fake is the actuator's API as planned; it records what it was sent.
type fake struct {
	mu       sync.Mutex
	requests []string // method path?query who user
	bodies   []string
	needAuth bool
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	body := new(bytes.Buffer)
	body.ReadFrom(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" who="+r.Header.Get(apiv1.HeaderWho)+" user="+user))
	f.bodies = append(f.bodies, body.String())
	f.mu.Unlock()
	if f.needAuth && (user != "ops" || pass != "s3cret") {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	answer := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /api/v1/routes":
		answer(200, routes())
	case "GET /old/api/v1/routes":
		answer(200, oldRoutes())
	case "GET /api/v1/drains":
		answer(200, apiv1.Drains{Drains: []state.Drain{drain12}})
	case "POST /api/v1/drains":
		var req apiv1.DrainRequest
		if err := json.Unmarshal(body.Bytes(), &req); err != nil {
			answer(400, apiv1.ErrorBody{Error: err.Error()})
			return
		}
		if req.Nexthop == "198.51.100.11" && !req.Force {
			answer(409, apiv1.ErrorBody{Error: "below min_nexthops: draining 198.51.100.11 would leave route 192.0.2.53/32 with 0 nexthop(s) in service, below min_nexthops 1 (force overrides)"})
			return
		}
		d := state.Drain{Nexthop: netip.MustParseAddr(req.Nexthop), Reason: req.Reason, Who: apiv1.Who(user, r.Header.Get(apiv1.HeaderWho)), Created: t0, Expires: req.Expires}
		if req.Route != "" {
			d.Route = netip.MustParsePrefix(req.Route)
		}
		answer(201, d)
	case "DELETE /api/v1/drains/198.51.100.12":
		if r.URL.Query().Get("route") != "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answer(200, apiv1.Drains{Drains: []state.Drain{drain12}})
	case "GET /api/v1/events":
		answer(200, evs())
	default:
		answer(404, apiv1.ErrorBody{Error: "not found: no drain of " + r.URL.Path})
	}
}

func start(t *testing.T, f *fake) string {
	t.Helper()
	t.Setenv("HOME", t.TempDir()) // no ~/.config/slaroutectl.yml of the machine
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, func() time.Time { return t0 })
	return out.String(), errb.String(), code
}

func TestGolden(t *testing.T) {
	f := &fake{}
	url := start(t, f)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"status.txt", []string{"status"}},
		{"status.json", []string{"status", "-o", "json"}},
		{"status-one-route.txt", []string{"status", "2001:db8::53"}},
		{"status-old-api.txt", []string{"--actuator.url=" + url + "/old", "--who=alice", "status"}},
		{"drain-add.txt", []string{"drain", "add", "198.51.100.12", "--reason=kernel upgrade", "--route=192.0.2.53/32", "--expires=2h"}},
		{"drain-add.json", []string{"-o", "json", "drain", "add", "198.51.100.12", "--reason=kernel upgrade"}},
		{"drain-list.txt", []string{"drain", "list"}},
		{"drain-list.json", []string{"drain", "ls", "-o", "json"}},
		{"drain-remove.txt", []string{"drain", "remove", "198.51.100.12"}},
		{"drain-remove-route.txt", []string{"drain", "rm", "198.51.100.12", "--route=192.0.2.53/32"}},
		{"events.txt", []string{"events"}},
		{"events.json", []string{"events", "-o", "json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := tc.args
			if !strings.HasPrefix(args[0], "--actuator.url") {
				args = append([]string{"--actuator.url=" + url, "--who=alice"}, args...)
			}
			out, stderr, code := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				os.WriteFile(path, []byte(out), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, out, want)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wantReq := []string{
		"POST /api/v1/drains who=alice user=",
		`{"nexthop":"198.51.100.12","reason":"kernel upgrade","route":"192.0.2.53/32","expires":"2026-12-04T05:12:00Z"}`,
	}
	for i, r := range f.requests {
		if strings.HasPrefix(r, "POST") {
			if r != wantReq[0] || f.bodies[i] != wantReq[1] {
				t.Errorf("first POST: %s %s\nwant %s %s", r, f.bodies[i], wantReq[0], wantReq[1])
			}
			break
		}
	}
	if !containsPrefix(f.requests, "GET /api/v1/events?limit=50 ") {
		t.Errorf("events request: %q", f.requests)
	}
	if !containsPrefix(f.requests, "DELETE /api/v1/drains/198.51.100.12?route=192.0.2.53%2F32 ") {
		t.Errorf("no DELETE with route: %q", f.requests)
	}
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Refusals and bad input: a clear message on stderr, nothing on stdout, a
// failing exit code, and no request for what the client can check itself.
func TestErrors(t *testing.T) {
	f := &fake{}
	url := start(t, f)
	for _, tc := range []struct {
		args  []string
		code  int
		want  string
		sends bool
	}{
		{[]string{"drain", "add", "198.51.100.11", "--reason=x"}, 1, "slaroutectl: 409 Conflict: below min_nexthops: draining 198.51.100.11 would leave route 192.0.2.53/32 with 0 nexthop(s) in service, below min_nexthops 1 (force overrides)\n", true},
		{[]string{"drain", "remove", "198.51.100.13"}, 1, "slaroutectl: 404 Not Found: not found: no drain of /api/v1/drains/198.51.100.13\n", true},
		{[]string{"drain", "add", "dns1", "--reason=x"}, 1, "slaroutectl: nexthop \"dns1\" is not an IP address\n", false},
		{[]string{"drain", "add", "198.51.100.12", "--reason=x", "--expires=tomorrow"}, 1, "is neither a duration (2h) nor an RFC 3339 time", false},
		{[]string{"drain", "add", "198.51.100.12", "--reason=x", "--route=192.0.2.53/24"}, 1, `route "192.0.2.53/24" is not a prefix (192.0.2.53/32) or an address`, false},
		{[]string{"drain", "add", "198.51.100.12"}, 2, "required flag(s) '--reason' not provided", false},
		{[]string{"status", "192.0.2.1/32"}, 1, "route 192.0.2.1/32 is not configured", true},
		{[]string{"--basic-auth.username=ops", "status"}, 1, "--basic-auth.username and --basic-auth.password-file go together", false},
		{[]string{"--http.config.file=x.yml", "--basic-auth.username=ops", "status"}, 1, "exclude each other", false},
	} {
		before := len(f.requests)
		out, stderr, code := runCLI(t, append([]string{"--actuator.url=" + url}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || out != "" {
			t.Errorf("%q: exit %d stdout %q stderr %q; want exit %d and %q", tc.args, code, out, stderr, tc.code, tc.want)
		}
		if tc.sends != (len(f.requests) > before) {
			t.Errorf("%q: %d requests sent", tc.args, len(f.requests)-before)
		}
	}
}

// URL and credentials come from the config file; flags win over it.
func TestConfigFileAndAuth(t *testing.T) {
	f := &fake{needAuth: true}
	url := start(t, f)
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	home := os.Getenv("HOME")
	os.MkdirAll(filepath.Join(home, ".config"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "slaroutectl.yml"),
		[]byte("actuator.url: "+url+"\nbasic-auth.username: ops\nbasic-auth.password-file: "+pw+"\nwho: carol\n"), 0o600)
	if _, stderr, code := runCLI(t, "drain", "add", "198.51.100.12", "--reason=disk swap"); code != 0 {
		t.Fatalf("with ~/.config/slaroutectl.yml: exit %d %s", code, stderr)
	}
	if out, _, _ := runCLI(t, "--who=dave", "-o", "json", "drain", "add", "198.51.100.12", "--reason=x"); !strings.Contains(out, `"who": "dave via ops"`) {
		t.Errorf("flag did not win over the file, or who not sent: %s", out)
	}
	if _, stderr, code := runCLI(t, "--basic-auth.username=eve", "status"); code != 1 || !strings.Contains(stderr, "401 Unauthorized") {
		t.Errorf("wrong user: exit %d %s", code, stderr)
	}

	other := filepath.Join(dir, "other.yml")
	os.WriteFile(other, []byte("actuator.url: "+url+"\noutput: json\nbasic-auth.username: ops\nbasic-auth.pasword-file: "+pw+"\n"), 0o600)
	if _, stderr, code := runCLI(t, "--config.file="+other, "status"); code != 2 ||
		!strings.Contains(stderr, other+`:4: unknown key "basic-auth.pasword-file" (keys are flag names: actuator.url, basic-auth.username`) {
		t.Errorf("misspelt key: exit %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "--config.file="+filepath.Join(dir, "missing.yml"), "status"); code != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing --config.file: exit %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "--actuator.url=http://ops:s3cret@127.0.0.1:1", "status"); code != 1 || !strings.Contains(stderr, "not in --actuator.url") {
		t.Errorf("password in URL: exit %d %s", code, stderr)
	}
	if out, stderr, code := runCLI(t, "--help"); code != 0 || !strings.Contains(out, "usage: slaroutectl") || stderr != "" {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if out, stderr, code := runCLI(t, "--version"); code != 0 || !strings.HasPrefix(out, "slaroutectl, version") || stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
