package ios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/slaroute/slaroute/actuator/route"
)

const (
	testPassword = "vty-pass-Xq81"
	testSecret   = "enable-secret-Zk27"
)

var (
	svc  = netip.MustParsePrefix("192.0.2.53/32")
	nh11 = netip.MustParseAddr("198.51.100.11")
	nh12 = netip.MustParseAddr("198.51.100.12")
	nh13 = netip.MustParseAddr("198.51.100.13")
)

type harness struct {
	fake *fakeIOS
	b    *Backend
	reg  *prometheus.Registry
	logs *bytes.Buffer
}

// newHarness starts a fake IOS and a backend logged in with password and
// enable secret; mod adjusts the config before New.
func newHarness(t *testing.T, routes []string, mod func(*Config)) *harness {
	t.Helper()
	return newHarnessFor(t, map[netip.Prefix]string{svc: ""}, routes, mod)
}

// newHarnessFor is newHarness with the managed prefixes and their VRFs.
func newHarnessFor(t *testing.T, managed map[netip.Prefix]string, routes []string, mod func(*Config)) *harness {
	t.Helper()
	f := newFakeIOS(t, testPassword, testSecret, routes...)
	cfg := DefaultConfig
	cfg.Address = f.addr
	cfg.Username = "slaroute"
	cfg.PasswordFile = writeFile(t, "password", testPassword+"\n")
	cfg.EnableSecretFile = writeFile(t, "secret", testSecret+"\n")
	cfg.KnownHostsFile = f.knownHosts(ssh.KeyAlgoED25519, ssh.KeyAlgoRSA)
	cfg.Timeout = model.Duration(2 * time.Second)
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{fake: f, reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(cfg, managed, NewMetrics(h.reg), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	h.b = b
	return h
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func (h *harness) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func configLines(received []string) []string {
	var out []string
	in := false
	for _, l := range received {
		switch {
		case l == "configure terminal":
			in = true
		case l == "end":
			in = false
		case in && l != "":
			out = append(out, l)
		}
	}
	return out
}

func TestListSetWithEnableSecret(t *testing.T) {
	h := newHarness(t, []string{
		"ip route 0.0.0.0 0.0.0.0 203.0.113.1",
		"ip route 192.0.2.53 255.255.255.255 198.51.100.11",
		"ip route 192.0.2.53 255.255.255.255 198.51.100.12",
	}, nil)
	got, err := h.b.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := []route.Route{route.New(svc, nh11, nh12)}; !slices.EqualFunc(got, want, route.Route.Equal) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	// Swap .12 for .13: the add goes first.
	if got, err := route.SetOne(ctx(t), h.b, route.New(svc, nh11, nh13)); err != nil || !got.Equal(route.New(svc, nh11, nh13)) {
		t.Fatalf("Set = %s, %v", got, err)
	}
	routes, received, _, sessions := h.fake.state()
	wantRoutes := []string{
		"ip route 0.0.0.0 0.0.0.0 203.0.113.1",
		"ip route 192.0.2.53 255.255.255.255 198.51.100.11",
		"ip route 192.0.2.53 255.255.255.255 198.51.100.13",
	}
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("running config = %q, want %q", routes, wantRoutes)
	}
	wantLines := []string{
		"ip route 192.0.2.53 255.255.255.255 198.51.100.13",
		"no ip route 192.0.2.53 255.255.255.255 198.51.100.12",
	}
	if got := configLines(received); !slices.Equal(got, wantLines) {
		t.Errorf("config lines = %q, want %q", got, wantLines)
	}
	if !slices.Contains(received, "enable") || sessions != 1 {
		t.Errorf("want one session that used enable; sessions=%d received=%q", sessions, received)
	}
	if strings.Contains(h.logs.String(), testSecret) || strings.Contains(h.logs.String(), testPassword) {
		t.Errorf("a secret leaked into the logs:\n%s", h.logs)
	}
	if slices.Contains(received, testSecret) {
		t.Errorf("secret recorded as a command")
	}
	if up := h.metric(t, "route_actuator_ios_session_up"); up != 1 {
		t.Errorf("session_up = %v, want 1", up)
	}
	if n := h.metric(t, "route_actuator_ios_command_duration_seconds"); n < 3 {
		t.Errorf("command duration observations = %v, want >= 3", n)
	}
	// The same change again is already in effect: nothing is configured.
	if _, err := h.b.Set(ctx(t), route.Route{Prefix: svc, Nexthops: []netip.Addr{nh13, nh11}}); err != nil {
		t.Fatal(err)
	}
	_, received2, _, _ := h.fake.state()
	if got := configLines(received2); len(got) != len(wantLines) {
		t.Errorf("idempotent apply sent config: %q", got[len(wantLines):])
	}
	if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestWrongEnableSecretFails(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.EnableSecretFile = writeFile(t, "secret", "not-the-secret")
		c.Timeout = model.Duration(500 * time.Millisecond)
	})
	_, err := h.b.Set(ctx(t), route.New(svc, nh11))
	if !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("Set with wrong enable secret = %v, want ErrUnavailable", err)
	}
	routes, received, _, _ := h.fake.state()
	if len(routes) != 0 || slices.Contains(received, "configure terminal") {
		t.Errorf("device changed without privilege: routes=%q received=%q", routes, received)
	}
	if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(h.logs.String(), "not-the-secret") {
		t.Errorf("secret in error or logs: %v\n%s", err, h.logs)
	}
}

func TestHostKeyMismatchSendsNothing(t *testing.T) {
	f := newFakeIOS(t, testPassword, testSecret)
	other := newFakeIOS(t, testPassword, testSecret)
	// known_hosts holds another router's keys under this router's address.
	kh := writeFile(t, "known_hosts", knownhosts.Line([]string{knownhosts.Normalize(f.addr)}, other.hostKeys[0].PublicKey())+"\n"+
		knownhosts.Line([]string{knownhosts.Normalize(f.addr)}, other.hostKeys[1].PublicKey())+"\n")
	b, err := New(Config{
		Address: f.addr, Username: "slaroute", PasswordFile: writeFile(t, "pw", testPassword),
		KnownHostsFile: kh, Platform: "cisco_iosxe", Timeout: model.Duration(time.Second),
	}, map[netip.Prefix]string{svc: ""}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.List(ctx(t))
	if !errors.Is(err, route.ErrUnavailable) || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("List with mismatching host key = %v, want ErrUnavailable with key mismatch", err)
	}
	_, received, auths, sessions := f.state()
	if auths != 0 || sessions != 0 || len(received) != 0 {
		t.Errorf("credentials or commands reached a host with the wrong key: auths=%d sessions=%d received=%q", auths, sessions, received)
	}
}

func TestHostKeyPinnedTypeIsNegotiated(t *testing.T) {
	// known_hosts holds only the ed25519 key although the server also has
	// RSA, which x/crypto's client prefers: the backend must ask for ed25519
	// rather than fail with a key mismatch.
	h := newHarness(t, nil, func(c *Config) {})
	edOnly := h.fake.knownHosts(ssh.KeyAlgoED25519)
	b, err := New(Config{
		Address: h.fake.addr, Username: "slaroute", PasswordFile: writeFile(t, "pw", testPassword),
		EnableSecretFile: writeFile(t, "sec", testSecret),
		KnownHostsFile:   edOnly, Platform: "cisco_iosxe", Timeout: model.Duration(2 * time.Second),
	}, map[netip.Prefix]string{svc: ""}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.List(ctx(t)); err != nil {
		t.Fatalf("List with ed25519-only known_hosts: %v", err)
	}
}

func TestUnknownHostRefusedAtNew(t *testing.T) {
	f := newFakeIOS(t, testPassword, "")
	other := newFakeIOS(t, testPassword, "")
	_, err := New(Config{
		Address: f.addr, Username: "u", PasswordFile: writeFile(t, "pw", testPassword),
		KnownHostsFile: other.knownHosts(ssh.KeyAlgoED25519), Platform: "cisco_iosxe", Timeout: model.Duration(time.Second),
	}, map[netip.Prefix]string{svc: ""}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "has no key for") {
		t.Fatalf("New with host missing from known_hosts = %v", err)
	}
}

func TestCLIErrorFailsSet(t *testing.T) {
	h := newHarness(t, []string{"ip route 192.0.2.53 255.255.255.255 198.51.100.11"}, nil)
	h.fake.mu.Lock()
	h.fake.reject = "198.51.100.12"
	h.fake.mu.Unlock()
	_, err := h.b.Set(ctx(t), route.New(svc, nh11, nh12))
	if err == nil || !errors.Is(err, errCLI) || errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("Set of a rejected line = %v, want a CLI error that is not ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "% Invalid input detected at '^' marker.") {
		t.Errorf("error does not carry the device message: %v", err)
	}
	if n := h.metric(t, "route_actuator_ios_cli_errors_total"); n != 1 {
		t.Errorf("cli_errors_total = %v, want 1", n)
	}
	// The session survives a CLI error and the backend left config mode.
	if _, err := h.b.List(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, sessions := h.fake.state(); sessions != 1 {
		t.Errorf("sessions = %d, want 1 (no reconnect after a CLI error)", sessions)
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	h := newHarness(t, []string{"ip route 192.0.2.53 255.255.255.255 198.51.100.11"}, nil)
	if _, err := h.b.List(ctx(t)); err != nil {
		t.Fatal(err)
	}
	h.fake.dropAll()
	// The next call finds the session dead, reopens it, reads again, and changes.
	if _, err := h.b.Set(ctx(t), route.New(svc, nh11, nh12)); err != nil {
		t.Fatal(err)
	}
	routes, _, _, sessions := h.fake.state()
	if sessions != 2 || len(routes) != 2 {
		t.Errorf("sessions=%d routes=%q, want 2 sessions and 2 routes", sessions, routes)
	}
	if n := h.metric(t, "route_actuator_ios_reconnects_total"); n != 1 {
		t.Errorf("reconnects_total = %v, want 1", n)
	}
	// Router gone: unavailable, session down.
	h.fake.ln.Close()
	h.fake.dropAll()
	if _, err := h.b.List(ctx(t)); !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("List against a dead router = %v, want ErrUnavailable", err)
	}
	if up := h.metric(t, "route_actuator_ios_session_up"); up != 0 {
		t.Errorf("session_up = %v, want 0", up)
	}
}

func TestReadBackPollsAndTimesOut(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Timeout = model.Duration(600 * time.Millisecond) })
	h.fake.mu.Lock()
	h.fake.applyDelay = 150 * time.Millisecond
	h.fake.mu.Unlock()
	if _, err := h.b.Set(ctx(t), route.New(svc, nh11)); err != nil {
		t.Fatalf("Set with delayed config: %v", err)
	}
	h.fake.mu.Lock()
	h.fake.applyDelay, h.fake.swallow = 0, true
	h.fake.mu.Unlock()
	got, err := route.SetOne(ctx(t), h.b, route.New(svc, nh11, nh12))
	if err != nil || !got.Equal(route.New(svc, nh11)) {
		t.Fatalf("Set that never takes effect = %s, %v; want the read-back via [%s] for the caller to compare", got, err, nh11)
	}
}

// A slow device: the read-back deadline ends a read, not a wait between
// reads; the last complete read back is still the answer, not an error.
func TestReadBackDeadlineDuringRead(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.Timeout = model.Duration(300 * time.Millisecond) })
	if _, err := h.b.Set(ctx(t), route.New(svc, nh11)); err != nil {
		t.Fatal(err)
	}
	h.fake.mu.Lock()
	h.fake.swallow, h.fake.showDelay = true, 120*time.Millisecond
	h.fake.mu.Unlock()
	got, err := route.SetOne(ctx(t), h.b, route.New(svc, nh11, nh12))
	if err != nil || !got.Equal(route.New(svc, nh11)) {
		t.Fatalf("Set on a slow device that never applies = %s, %v; want the last read back via [%s]", got, err, nh11)
	}
}

func TestRouteTagOwnership(t *testing.T) {
	other := netip.MustParsePrefix("192.0.2.54/32")
	h := newHarness(t, []string{
		"ip route 192.0.2.53 255.255.255.255 198.51.100.11 tag 53053",
		"ip route 192.0.2.53 255.255.255.255 198.51.100.12",
		"ip route 192.0.2.54 255.255.255.255 198.51.100.13 tag 53053",
		"ip route 192.0.2.55 255.255.255.255 198.51.100.13 tag 7",
	}, func(c *Config) { c.RouteTag = 53053; c.SaveConfig = true })
	got, err := h.b.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []route.Route{route.New(svc, nh11), route.New(other, nh13)}
	if !slices.EqualFunc(got, want, route.Route.Equal) {
		t.Fatalf("List = %v, want %v (tagged routes only)", got, want)
	}
	if _, err := h.b.Set(ctx(t), route.New(other)); err != nil {
		t.Fatal(err)
	}
	routes, received, _, _ := h.fake.state()
	if slices.Contains(routes, "ip route 192.0.2.54 255.255.255.255 198.51.100.13 tag 53053") ||
		!slices.Contains(routes, "ip route 192.0.2.53 255.255.255.255 198.51.100.12") {
		t.Errorf("running config = %q", routes)
	}
	if !slices.Contains(received, "write memory") {
		t.Errorf("save_config: no write memory in %q", received)
	}
}

func TestCancelledContextDropsSession(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.fake.mu.Lock()
	h.fake.swallow = true
	h.fake.mu.Unlock()
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := h.b.Set(c, route.New(svc, nh11))
	if err == nil {
		t.Fatal("Set past its deadline succeeded")
	}
	h.fake.mu.Lock()
	h.fake.swallow = false
	h.fake.mu.Unlock()
	if _, err := h.b.Set(ctx(t), route.New(svc, nh11)); err != nil {
		t.Fatal(err)
	}
}

func TestIPv6Address(t *testing.T) {
	f := newFakeIOSAt(t, "[::1]:0", testPassword, "", "ip route 192.0.2.53 255.255.255.255 198.51.100.11")
	b, err := New(Config{
		Address: f.addr, Username: "u", PasswordFile: writeFile(t, "pw", testPassword),
		KnownHostsFile: f.knownHosts(ssh.KeyAlgoED25519), Platform: "cisco_iosxe", Timeout: model.Duration(2 * time.Second),
	}, map[netip.Prefix]string{svc: ""}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.List(ctx(t))
	if err != nil || len(got) != 1 {
		t.Fatalf("List over [::1] = %v, %v", got, err)
	}
}

// reads counts the running-config reads the fake received.
func (h *harness) reads() int {
	_, received, _, _ := h.fake.state()
	n := 0
	for _, l := range received {
		if l == showRoutes {
			n++
		}
	}
	return n
}

// A change costs one running-config read before and one read-back after;
// a Set that changes nothing costs the one read.
func TestRunningConfigReadsPerChange(t *testing.T) {
	h := newHarness(t, []string{"ip route 192.0.2.53 255.255.255.255 198.51.100.11"}, nil)
	for _, tc := range []struct {
		name  string
		want  route.Route
		reads int
	}{
		{"restore", route.New(svc, nh11, nh12, nh13), 2},
		{"withdraw", route.New(svc, nh11, nh13), 2},
		{"unchanged", route.New(svc, nh11, nh13), 1},
		{"swap", route.New(svc, nh12), 2},
		{"remove", route.New(svc), 2},
		{"absent", route.New(svc), 1},
	} {
		before := h.reads()
		got, err := route.SetOne(ctx(t), h.b, tc.want)
		if err != nil || !got.Equal(tc.want) {
			t.Fatalf("%s: Set = %s, %v, want %s", tc.name, got, err, tc.want)
		}
		if n := h.reads() - before; n != tc.reads {
			t.Errorf("%s: %d running-config reads, want %d", tc.name, n, tc.reads)
		}
	}
	// A pass that changes several routes (IPv4, IPv6, in a VRF) hands them
	// to one Set: still one read before and one after.
	v6 := netip.MustParsePrefix("2001:db8::53/128")
	a11, a12 := netip.MustParseAddr("2001:db8:100::11"), netip.MustParseAddr("2001:db8:100::12")
	managed := map[netip.Prefix]string{v6: "", netip.MustParsePrefix("192.0.2.153/32"): "DNS"}
	want := []route.Route{route.New(v6, a11, a12), route.New(netip.MustParsePrefix("192.0.2.153/32"), nh11, nh12)}
	for i := 60; i < 63; i++ {
		p := netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/32", i))
		managed[p] = ""
		want = append(want, route.New(p, nh11, nh12))
	}
	h = newHarnessFor(t, managed, nil, nil)
	before := h.reads()
	got, err := h.b.Set(ctx(t), want...)
	if err != nil || !slices.EqualFunc(got, want, route.Route.Equal) {
		t.Fatalf("batch: Set = %v, %v, want %v", got, err, want)
	}
	if n := h.reads() - before; n != 2 {
		t.Errorf("batch of %d routes: %d running-config reads, want 2", len(want), n)
	}
}

// A refused login names the user, the router and the methods tried, not
// only x/crypto's "unexpected message type 51 (expected 60)".
func TestWrongPasswordNamesUserHostMethod(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.PasswordFile = writeFile(t, "wrong", "not-the-password\n")
	})
	_, err := h.b.List(ctx(t))
	if !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("List with a wrong password = %v, want ErrUnavailable", err)
	}
	for _, want := range []string{`refused login as user "slaroute"`, "router " + h.fake.addr, "with password (", "check username and credentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "not-the-password") || strings.Contains(h.logs.String(), "not-the-password") {
		t.Errorf("password in error or logs: %v\n%s", err, h.logs)
	}
	if _, _, auths, sessions := h.fake.state(); auths == 0 || sessions != 0 {
		t.Errorf("auths=%d sessions=%d: want a refused attempt and no session", auths, sessions)
	}
}

// One router holds IPv4 and IPv6 routes, in the global table and in a VRF:
// each is installed where it is configured, lines of other VRFs are left
// alone, and with a tag a route moved to another VRF is cleaned up.
func TestDualStackAndVRF(t *testing.T) {
	v6 := netip.MustParsePrefix("2001:db8:53::53/128")
	inVRF := netip.MustParsePrefix("192.0.2.153/32")
	a11, a12 := netip.MustParseAddr("2001:db8:100::11"), netip.MustParseAddr("2001:db8:100::12")
	other := "ip route vrf OTHER 192.0.2.153 255.255.255.255 198.51.100.13"
	for _, tag := range []uint32{0, 53053} {
		t.Run(fmt.Sprintf("tag%d", tag), func(t *testing.T) {
			moved := fmt.Sprintf("ip route 192.0.2.153 255.255.255.255 198.51.100.11 tag %d", tag)
			h := newHarnessFor(t, map[netip.Prefix]string{svc: "", v6: "", inVRF: "DNS"}, []string{other, moved},
				func(c *Config) { c.RouteTag = tag })
			for _, want := range []route.Route{
				route.New(svc, nh11, nh12), route.New(v6, a11, a12), route.New(inVRF, nh11, nh12),
				route.New(v6, a12), route.New(inVRF, nh12),
			} {
				if got, err := route.SetOne(ctx(t), h.b, want); err != nil || !got.Equal(want) {
					t.Fatalf("Set(%s) = %s, %v", want, got, err)
				}
			}
			got, err := h.b.List(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			want := []route.Route{route.New(svc, nh11, nh12), route.New(inVRF, nh12), route.New(v6, a12)}
			if !slices.EqualFunc(got, want, route.Route.Equal) {
				t.Fatalf("List = %v, want %v", got, want)
			}
			sfx := ""
			if tag != 0 {
				sfx = fmt.Sprintf(" tag %d", tag)
			}
			routes, _, _, _ := h.fake.state()
			wantLines := []string{other,
				"ip route 192.0.2.53 255.255.255.255 198.51.100.11" + sfx,
				"ip route 192.0.2.53 255.255.255.255 198.51.100.12" + sfx,
				"ipv6 route 2001:db8:53::53/128 2001:db8:100::12" + sfx,
				"ip route vrf DNS 192.0.2.153 255.255.255.255 198.51.100.12" + sfx,
			}
			if tag == 0 {
				// Untagged, the global line for a prefix configured in
				// vrf DNS is not ours: it stays.
				wantLines = append(wantLines, moved)
			}
			slices.Sort(routes)
			slices.Sort(wantLines)
			if !slices.Equal(routes, wantLines) {
				t.Errorf("router config:\n%s\nwant\n%s", strings.Join(routes, "\n"), strings.Join(wantLines, "\n"))
			}
		})
	}
}

// A line the router rejects ends a configuration batch; the backend then
// sends route by route, so the rejected route fails alone and the routes
// after it still go in, without waiting out the read-back timeout.
func TestRejectedLineFailsOnlyItsRoute(t *testing.T) {
	first, second := netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("192.0.2.20/32")
	h := newHarnessFor(t, map[netip.Prefix]string{first: "", second: ""}, nil, nil)
	h.fake.mu.Lock()
	h.fake.reject = "192.0.2.10 "
	h.fake.mu.Unlock()
	want := []route.Route{route.New(first, nh11), route.New(second, nh11, nh12)}
	start := time.Now()
	got, err := h.b.Set(ctx(t), want...)
	if !errors.Is(err, errCLI) || !strings.Contains(err.Error(), "route "+first.String()) {
		t.Fatalf("err = %v, want the CLI error of %s", err, first)
	}
	if len(got) != 2 || len(got[0].Nexthops) != 0 || !got[1].Equal(want[1]) {
		t.Fatalf("Set = %v, want %s absent and %s installed", got, first, want[1])
	}
	if d := time.Since(start); d > time.Duration(DefaultConfig.Timeout)/2 {
		t.Errorf("Set took %s: the read back waited for the rejected route", d)
	}
}
