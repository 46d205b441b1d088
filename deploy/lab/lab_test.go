//go:build linux

package lab

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestParseRoutes(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name, js string
		want     []netip.Addr
		ok       bool
		err      string
	}{
		{name: "absent", js: `[]`},
		{name: "empty output", js: ``},
		{name: "single gateway", js: `[{"dst":"192.0.2.53","gateway":"198.51.100.12","protocol":"250"}]`,
			want: []netip.Addr{a("198.51.100.12")}, ok: true},
		{name: "resilient group expanded", js: `[{"dst":"192.0.2.53","nhid":100,"protocol":"250","nexthops":[{"gateway":"198.51.100.13"},{"gateway":"198.51.100.11"}]},{"dst":"198.51.100.0/24","dev":"lan0"}]`,
			want: []netip.Addr{a("198.51.100.11"), a("198.51.100.13")}, ok: true},
		{name: "other prefix only", js: `[{"dst":"192.0.2.54","gateway":"198.51.100.12"}]`},
		{name: "bad json", js: `{`, err: "parse ip route json: unexpected end of JSON input"},
		{name: "bad gateway", js: `[{"dst":"192.0.2.53","gateway":"x"}]`, err: `route 192.0.2.53: gateway "x": ParseAddr("x"): unable to parse IP`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := parseRoutes([]byte(tc.js), ServicePrefix)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v %v %v, want %v %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}

// TestLabInfra brings the namespaces and dnsmasq servers up without the
// monitoring chain, routes the service by hand and checks every failure
// mode the e2e tests rely on, as seen by real DNS queries.
func TestLabInfra(t *testing.T) {
	requireLab(t)
	l, err := New(Config{Prefix: DefaultPrefix() + "-infra", Dir: t.TempDir(), Clients: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	if err := l.Up(); err != nil {
		t.Fatal(err)
	}
	if err := l.Up(); err != nil { // idempotent: rebuilds cleanly
		t.Fatalf("second up: %v", err)
	}
	w, err := l.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Stand-in for the actuator: a multipath route via every server.
	args := []string{"-n", l.Router, "route", "add", ServicePrefix.String(), "proto", "250"}
	for _, nh := range l.Nexthops() {
		args = append(args, "nexthop", "via", nh.String())
	}
	if _, err := ip(args...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.WaitFor(ctx, Exactly(l.Nexthops()...)); err != nil {
		t.Fatalf("watcher: %v", err)
	}

	c, err := l.NewClients(60)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := c.Sample(time.Second)
	spread := Spread(first)
	t.Logf("spread over %d flows: %v", len(first), spread)
	for _, s := range l.Servers {
		if spread[s.Name] == 0 {
			t.Errorf("no flow reached %s: %v", s.Name, spread)
		}
	}
	if spread[""] != 0 {
		t.Errorf("%d client queries failed", spread[""])
	}
	again := c.Sample(time.Second)
	for i := range first {
		if again[i].Server != first[i].Server {
			t.Errorf("flow %v moved %s -> %s without a route change", c.Flows[i].Src, first[i].Server, again[i].Server)
		}
	}

	s := l.Servers[0]
	probe := func() (int, error) {
		rc, _, err := s.Query(ProbeName, dns.TypeA, 400*time.Millisecond)
		return rc, err
	}
	check := func(mode string, wantRcode int, wantErr bool) {
		t.Helper()
		rc, err := probe()
		if wantErr != (err != nil) || (!wantErr && rc != wantRcode) {
			t.Fatalf("%s: probe rcode %s err %v, want rcode %s err %v", mode, dns.RcodeToString[rc], err, dns.RcodeToString[wantRcode], wantErr)
		}
	}
	check("healthy", dns.RcodeSuccess, false)
	if err := s.ServFail(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // inotify
	check("servfail", dns.RcodeServerFailure, false)
	if _, txt, err := s.Query(WhoamiName, dns.TypeTXT, time.Second); err != nil || len(txt) != 1 {
		t.Fatalf("servfail mode must still answer other names: %v %v", txt, err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.ProbeTimeout(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // inotify
	check("probe-timeout", 0, true)
	if _, txt, err := s.Query(WhoamiName, dns.TypeTXT, time.Second); err != nil || len(txt) != 1 {
		t.Fatalf("probe-timeout mode must still answer other names: %v %v", txt, err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("recover from probe-timeout: %v", err)
	}
	if err := s.Silence(); err != nil {
		t.Fatal(err)
	}
	check("silent", 0, true)
	if err := s.Start(); err != nil {
		t.Fatalf("recover from silence: %v", err)
	}
	pid := s.PID()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	check("stopped", 0, true)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.PID() == pid || s.PID() == 0 {
		t.Fatalf("restart kept pid %d", pid)
	}
	check("restarted", dns.RcodeSuccess, false)
}

func TestStalePrefixes(t *testing.T) {
	requireLab(t)
	// A prefix whose pid cannot exist (beyond pid_max) is stale.
	prefix := "slab99999999"
	if _, err := ip("netns", "add", prefix+"-x"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DownPrefix(prefix) })
	stale, err := StalePrefixes()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(stale, prefix) {
		t.Fatalf("stale = %v, want %s", stale, prefix)
	}
	if slices.Contains(stale, DefaultPrefix()) {
		t.Fatalf("own prefix reported stale: %v", stale)
	}
	if err := DownPrefix(prefix); err != nil {
		t.Fatal(err)
	}
	names, _ := namespaces()
	if slices.Contains(names, prefix+"-x") {
		t.Fatal("namespace survived DownPrefix")
	}
}

func TestSubstitute(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`rate(dns_sla_probes_total{target=~"$target"}[$__rate_interval])`, `rate(dns_sla_probes_total{target=~"dns1"}[1m])`},
		{`x{service="${service}",instance=~"${instance:regex}"}`, `x{service="192.0.2.53/32",instance=~".*"}`},
		{`y{route=~"[[route]]"}`, `y{route=~"192.0.2.53/32"}`},
		{`vector(1)`, `vector(1)`},
	} {
		if got := Substitute(tc.in, LabVars); got != tc.want {
			t.Errorf("Substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The lab runs Prometheus with the shipped defaults file's rule flags.
func TestShippedRuleFlags(t *testing.T) {
	flags, err := shippedRuleFlags("../prometheus/prometheus.default")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, "--rules.alert.resend-delay=") }) {
		t.Errorf("flags %q: no --rules.alert.resend-delay", flags)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"no ARGS line":      "# comment only\n",
		"no --rules.* flag": `ARGS="--config.file=/etc/prometheus/prometheus.yml"` + "\n",
	} {
		p := filepath.Join(dir, "prometheus.default")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := shippedRuleFlags(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
