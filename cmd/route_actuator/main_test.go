//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator"
	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

var svc = netip.MustParsePrefix("192.0.2.53/32")

type client struct {
	t    *testing.T
	base string
	auth bool
}

func (c client) do(method, path, contentType string, body []byte) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.auth {
		req.SetBasicAuth("alertmanager", "change-me")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c client) post(fixture string) int {
	c.t.Helper()
	b, err := os.ReadFile("../../actuator/webhook/testdata/" + fixture)
	if err != nil {
		c.t.Fatal(err)
	}
	code, _ := c.do(http.MethodPost, "/webhook", "application/json", b)
	return code
}

// The real server (exporter-toolkit with basic auth from the example web
// config, the daemon mux, the actuator) driven by webhook fixtures, with the
// fake backend checking every change.
func TestServeWebhooks(t *testing.T) {
	addr := testenv.FreeAddr(t)
	app, flags, _ := newApp()
	if _, err := app.Parse([]string{"--config.file=testdata/route_actuator.yml", "--web.listen-address=" + addr,
		"--web.config.file=../../deploy/examples/web-config.yml"}); err != nil {
		t.Fatal(err)
	}
	fake := routetest.New(t, map[netip.Prefix]int{svc: 1})
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	a, err := actuator.New(actuator.Options{ConfigFile: *flags.ConfigFile, Registry: reg, Logger: logger,
		NewBackend: func(*config.Config) (route.Backend, error) { return fake, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, flags, a, reg, logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	c := client{t: t, base: "http://" + addr, auth: true}
	anon := client{t: t, base: "http://" + addr}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(c.base + "/-/healthy"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := func(nhs ...string) {
		t.Helper()
		r, ok := fake.Get(svc)
		var got []string
		for _, nh := range r.Nexthops {
			got = append(got, nh.String())
		}
		if !ok || !slices.Equal(got, nhs) {
			t.Fatalf("route via %v (present %v), want %v", got, ok, nhs)
		}
	}
	steps := []struct {
		name, fixture string
		client        client
		code          int
		route         []string
	}{
		{"unauthenticated", "heartbeat.json", anon, 401, nil},
		{"heartbeat creates the route", "heartbeat.json", c, 200, []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}},
		{"withdraw", "withdraw.json", c, 200, []string{"198.51.100.11", "198.51.100.13"}},
		{"duplicate withdraw", "withdraw.json", c, 200, []string{"198.51.100.11", "198.51.100.13"}},
		{"resolve restores", "resolve.json", c, 200, []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}},
		{"stale firing after resolve", "withdraw.json", c, 200, []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}},
		{"unknown labels change nothing", "ignored.json", c, 200, []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}},
		{"mixed group", "mixed-group.json", c, 200, []string{"198.51.100.12", "198.51.100.13"}},
		{"bad JSON", "bad-json.json", c, 400, []string{"198.51.100.12", "198.51.100.13"}},
		{"bad version", "bad-version.json", c, 400, []string{"198.51.100.12", "198.51.100.13"}},
		{"bad status", "bad-status.json", c, 400, []string{"198.51.100.12", "198.51.100.13"}},
	}
	for _, s := range steps {
		applied := len(fake.Sets())
		if code := s.client.post(s.fixture); code != s.code {
			t.Fatalf("%s: code %d, want %d", s.name, code, s.code)
		}
		if s.route == nil {
			if _, ok := fake.Get(svc); ok || len(fake.Sets()) != applied {
				t.Fatalf("%s: the route changed", s.name)
			}
			continue
		}
		want(s.route...) // the reply came after the change: no waiting
		if s.code != 200 && len(fake.Sets()) != applied {
			t.Fatalf("%s: backend called on bad input", s.name)
		}
	}
	if code, _ := c.do(http.MethodGet, "/webhook", "", nil); code != 405 {
		t.Errorf("GET /webhook: %d, want 405", code)
	}
	if code, _ := c.do(http.MethodPost, "/webhook", "text/plain", []byte("{}")); code != 415 {
		t.Errorf("text/plain: %d, want 415", code)
	}

	code, body := c.do(http.MethodGet, "/api/v1/routes", "", nil)
	var st apiv1.Routes
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/routes: %d %v", code, err)
	}
	r := st.Routes[0]
	if !st.Pipeline.Healthy || r.Prefix != "192.0.2.53/32" || !slices.Equal(r.Installed, []string{"198.51.100.12", "198.51.100.13"}) ||
		!r.Converged || len(r.Withdrawn) != 1 || r.Withdrawn[0].Nexthop != "198.51.100.11" ||
		r.Withdrawn[0].Reasons[0].Fingerprint != "2222222222222222" || r.Withdrawn[0].Reasons[0].Name != "DNSServerDown" {
		t.Errorf("state = %s", body)
	}
	if code, page := c.do(http.MethodGet, "/", "", nil); code != 200 || !strings.Contains(page, `198.51.100.11: <span class="cause cause-alert">alert DNSServerDown{nexthop=&#34;198.51.100.11&#34;, service=&#34;192.0.2.53/32&#34;} fp=2222222222222222`) {
		t.Errorf("landing page %d does not show the withdrawn nexthop and why:\n%s", code, page)
	}
	_, metrics := c.do(http.MethodGet, "/metrics", "", nil)
	for _, line := range []string{
		`route_actuator_webhook_requests_total{code="200"} 7`,
		`route_actuator_webhook_requests_total{code="400"} 3`,
		`route_actuator_webhook_requests_total{code="405"} 1`,
		`route_actuator_webhook_requests_total{code="415"} 1`,
		`route_actuator_alerts_ignored_total{reason="stale"} 1`,
		`route_actuator_alerts_ignored_total{reason="unknown_nexthop"} 1`,
		`route_actuator_alerts_ignored_total{reason="unknown_route"} 1`,
		`route_actuator_alerts_ignored_total{reason="invalid_label"} 1`,
		`route_actuator_alerts_ignored_total{reason="unmanaged_alertname"} 1`,
		`route_actuator_nexthop_installed{nexthop="198.51.100.11",route="192.0.2.53/32"} 0`,
		`route_actuator_nexthop_installed{nexthop="198.51.100.12",route="192.0.2.53/32"} 1`,
		`route_actuator_changes_total{action="update",result="success"} 3`,
		`route_actuator_config_last_reload_successful 1`,
		`route_actuator_pipeline_healthy 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestBinaryRefusesExposedListener runs the built binary with a
// non-loopback listen address and no authentication: it must exit 1 with
// the reason before building anything, and start with --web.unauthenticated.
func TestBinaryRefusesExposedListener(t *testing.T) {
	bin := testenv.Binary(t, name)
	cfg := testenv.RepoRoot(t) + "/deploy/examples/route_actuator.yml"
	addr := "0.0.0.0:" + strings.Split(testenv.FreeAddr(t), ":")[1]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--dry-run", "--web.listen-address="+addr).CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "refusing to listen on [0.0.0.0:") {
		t.Fatalf("exit %d (%v), output:\n%s", code, err, out)
	}
	// The same with --web.unauthenticated serves, and the start counts as a
	// successful configuration load.
	local := testenv.FreeAddr(t)
	testenv.Start(t, exec.Command(bin, "--config.file="+cfg, "--dry-run", "--web.unauthenticated", "--web.listen-address="+local))
	testenv.WaitHTTP(t, http.DefaultClient, "http://"+local+"/-/healthy", 10*time.Second)
	resp, err := http.Get("http://" + local + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "route_actuator_config_last_reload_successful 1") {
		t.Errorf("metrics lack route_actuator_config_last_reload_successful 1")
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// --config.check exits 1 with file:line: reason for what start would refuse
// (a null document once passed), and 0 with a warning on stderr for a secret
// file readable by others, as ssh warns.
func TestConfigCheck(t *testing.T) {
	bin := testenv.Binary(t, name)
	check := func(file string) (int, string) {
		cmd := exec.Command(bin, "--config.check", "--config.file="+file)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	fixture := "../../actuator/config/testdata/null.yml"
	if code, out := check(fixture); code != 1 || !strings.Contains(out, fixture+":1: empty configuration") {
		t.Errorf("null document: exit %d, output %q; want 1 and %s:1: empty configuration", code, out, fixture)
	}
	dir := t.TempDir()
	pw, file := dir+"/password", dir+"/route_actuator.yml"
	kh, err := filepath.Abs("../../actuator/config/testdata/ios/known_hosts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(pw, 0o644)
	if err := os.WriteFile(file, []byte("backend:\n  type: ios\n  ios:\n    address: 198.51.100.1\n    username: u\n    password_file: "+pw+
		"\n    known_hosts_file: "+kh+"\nroutes:\n  - prefix: 192.0.2.53/32\n    nexthops: [198.51.100.11]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "warning: " + file + ":6: ios password_file " + pw + " is readable by group or others (mode 0644): chmod 600 it"
	if code, out := check(file); code != 0 || !strings.Contains(out, want) {
		t.Errorf("open secret: exit %d, output %q; want 0 and %q", code, out, want)
	}
}
