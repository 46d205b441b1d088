//go:build linux

package bgppeer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/deploy/lab/bgppeer"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

var (
	svc, svc6        = bgppeer.Service, bgppeer.Service6
	nh11, nh12, nh13 = bgppeer.Nexthops[0], bgppeer.Nexthops[1], bgppeer.Nexthops[2]
	nh611, nh612     = bgppeer.Nexthops6[0], bgppeer.Nexthops6[1]
)

// speakerConfig is the backend config of the lab's speaker.
func speakerConfig() bgp.Config {
	return bgp.Config{LocalAS: bgppeer.SpeakerAS, RouterID: bgppeer.SpeakerAddr, LocalAddress: bgppeer.SpeakerAddr,
		Neighbors: []bgp.Neighbor{{Address: bgppeer.RouterAddr, PeerAS: bgppeer.RouterAS, Port: 179,
			HoldTime: model.Duration(9 * time.Second), Keepalive: model.Duration(3 * time.Second), ConnectRetry: model.Duration(time.Second)}}}
}

func addrs(t *testing.T, ss ...string) []netip.Addr {
	t.Helper()
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		var err error
		if out[i], err = netip.ParseAddr(s); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func startPeer(t *testing.T, opts ...bgppeer.Options) *bgppeer.Peer {
	t.Helper()
	var o bgppeer.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if m := bgppeer.Missing(); m != "" {
		testenv.Missing(t, "bgppeer: %s is required", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := bgppeer.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// speaker runs this test binary's TestSpeakerProcess inside the speaker
// namespace in mode, and returns once it printed READY (or exited, for "scenarios").
func speaker(t *testing.T, p *bgppeer.Peer, mode string, env ...string) (*testenv.Proc, *bufio.Scanner) {
	t.Helper()
	cmd := p.InSpeaker(os.Args[0], "-test.run=^TestSpeakerProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(append(cmd.Env, "SPEAKER_MODE="+mode), env...)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	proc := testenv.Start(t, cmd)
	sc := bufio.NewScanner(r)
	t.Cleanup(func() { w.Close() })
	return proc, sc
}

// runSpeaker runs TestSpeakerProcess in mode to its end and fails unless it passed.
func runSpeaker(t *testing.T, p *bgppeer.Peer, mode string, env ...string) {
	t.Helper()
	proc, sc := speaker(t, p, mode, env...)
	var out strings.Builder
	for sc.Scan() {
		fmt.Fprintln(&out, sc.Text())
		if l := sc.Text(); l == "PASS" || l == "FAIL" || strings.HasPrefix(l, "ok") {
			break
		}
	}
	err := proc.Cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "--- PASS: TestSpeakerProcess") {
		t.Fatalf("speaker process: %v\n%s", err, out.String())
	}
	t.Logf("speaker process:\n%s", out.String())
}

// TestWithoutAddPath: a router that refuses ADD-PATH keeps one path, and
// the backend says so in route_actuator_bgp_add_path_receive.
func TestWithoutAddPath(t *testing.T) {
	runSpeaker(t, startPeer(t, bgppeer.Options{NoAddPath: true}), "noaddpath")
}

// TestRouterSendsTooMuch: a router that sends more than bgp.MaxReceived
// prefixes gets its session reset instead of growing the speaker's memory.
func TestRouterSendsTooMuch(t *testing.T) {
	p := startPeer(t, bgppeer.Options{Announce: bgp.MaxReceived + 1})
	runSpeaker(t, p, "toomuch")
}

// TestPassword: with TCP MD5 on the router, the speaker needs password_file.
func TestPassword(t *testing.T) {
	runSpeaker(t, startPeer(t, bgppeer.Options{Password: "s3cret-md5"}), "password")
}

// TestIPv6Session: one session over IPv6 carries IPv4 and IPv6 paths.
func TestIPv6Session(t *testing.T) {
	runSpeaker(t, startPeer(t, bgppeer.Options{IPv6Session: true}), "ipv6session")
}

// TestBackendAgainstFRR drives the BGP backend against FRR's bgpd: ECMP by
// ADD-PATH, withdraw and restore of one nexthop, IPv6 by MP_REACH, and
// withdrawing every path falls back to the floating statics.
func TestBackendAgainstFRR(t *testing.T) {
	runSpeaker(t, startPeer(t), "scenarios")
}

// TestHungSpeaker stops the speaker process (SIGSTOP: no FIN, no
// keepalives, as a hung host): the router keeps its paths until the hold
// time (9 s) expires, then falls back to the floating statics.
func TestHungSpeaker(t *testing.T) {
	p := startPeer(t)
	ctx := context.Background()
	proc, sc := speaker(t, p, "hold")
	ready := make(chan struct{})
	go func() {
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("speaker not ready:\n%s", proc.Output())
	}
	if _, err := p.WaitKernel(ctx, 10*time.Second, svc, "bgp", nh11, nh13); err != nil {
		t.Fatal(err)
	}
	if err := proc.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	defer func() { _ = proc.Cmd.Process.Signal(syscall.SIGCONT) }()
	time.Sleep(5 * time.Second)
	if r, err := p.KernelRoute(ctx, svc); err != nil || r.Proto != "bgp" {
		t.Fatalf("5 s into the hang (hold time 9 s): kernel route %s, %v; want still bgp", r, err)
	}
	if _, err := p.WaitKernel(ctx, 15*time.Second, svc, "static", bgppeer.Nexthops...); err != nil {
		t.Fatalf("after the hold time: %v", err)
	}
	t.Logf("hung speaker -> floating statics via all servers after %v (hold time 9s)", time.Since(stopped).Round(100*time.Millisecond))
}

// TestTwoActuators: two speakers for one router. With the same AS the
// router installs the union of their servers (a server leaves only when
// both withdraw it); with different ASes it installs one speaker's servers
// (active/standby) and the other's when the first goes away.
func TestTwoActuators(t *testing.T) {
	for _, tc := range []struct {
		name string
		as2  uint32
	}{{"same-as", bgppeer.SpeakerAS}, {"different-as", bgppeer.SpeakerAS + 1}} {
		t.Run(tc.name, func(t *testing.T) {
			runSpeaker(t, startPeer(t, bgppeer.Options{Speaker2AS: tc.as2}), "pair", fmt.Sprintf("SPEAKER2_AS=%d", tc.as2))
		})
	}
}

// TestReloadAgainstFRR: a reload's new backend reuses the old one's stopped
// speaker and announces only its own paths.
func TestReloadAgainstFRR(t *testing.T) {
	runSpeaker(t, startPeer(t), "reload")
}

// TestFailOpen kills the speaker with SIGKILL: the router must fall back to
// the floating statics (all servers, never none), and a restarted speaker
// must take over again.
func TestFailOpen(t *testing.T) {
	p := startPeer(t)
	ctx := context.Background()
	for round := range 2 {
		proc, sc := speaker(t, p, "hold")
		ready := make(chan struct{})
		go func() {
			for sc.Scan() {
				if sc.Text() == "READY" {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: speaker not ready:\n%s", round, proc.Output())
		}
		if d, err := p.WaitKernel(ctx, 10*time.Second, svc, "bgp", nh11, nh13); err != nil {
			t.Fatalf("round %d: %v", round, err)
		} else {
			t.Logf("round %d: kernel route by bgp via %v, %v after the speaker was ready", round, []netip.Addr{nh11, nh13}, d)
		}
		kill := time.Now()
		if err := proc.Cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.WaitKernel(ctx, 15*time.Second, svc, "static", bgppeer.Nexthops...); err != nil {
			t.Fatalf("round %d: after kill -9: %v", round, err)
		}
		t.Logf("round %d: kill -9 -> floating statics via all servers in %v", round, time.Since(kill))
		_ = proc.Cmd.Wait()
	}
}

// TestSpeakerProcess is the speaker side, run by the tests above inside the
// speaker namespace (bgppeer.Attach); on its own it does nothing.
func TestSpeakerProcess(t *testing.T) {
	p, ok := bgppeer.Attach()
	if !ok {
		return // a helper process, not a test by itself
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	b, err := bgp.New(speakerConfig(), bgp.NewMetrics(reg), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	set := func(r route.Route) {
		t.Helper()
		got, err := b.Set(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(r) {
			t.Fatalf("Set(%v) = %v", r, got)
		}
	}
	switch os.Getenv("SPEAKER_MODE") {
	case "hold":
		set(route.New(svc, nh11, nh13))
		fmt.Println("READY")
		<-ctx.Done()
		return
	case "noaddpath":
		// The router keeps one of the three paths.
		set(route.New(svc, nh11, nh12, nh13))
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := p.KernelRoute(ctx, svc)
			if err != nil {
				t.Fatal(err)
			}
			if r.Proto == "bgp" && len(r.Nexthops) == 1 {
				t.Logf("without ADD-PATH: kernel route %s", r)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("without ADD-PATH: kernel route %s, want bgp with one nexthop", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(addPathMetrics(0)), "route_actuator_bgp_add_path_receive"); err != nil {
			t.Error(err)
		}
		return
	case "toomuch":
		// The session comes up, the router's UPDATEs exceed the limit and
		// the speaker resets the session; the router logs why.
		_, _ = b.List(ctx)
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := p.Vtysh(ctx, "show bgp neighbors "+bgppeer.SpeakerAddr.String())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "Maximum Number of Prefixes Reached") {
				t.Logf("router: %s", grepLine(out, "Maximum Number of Prefixes"))
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the router never saw a maximum-prefix reset:\n%s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	case "password":
		// Without the password the router drops the SYNs: no session.
		short, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := b.List(short); !errors.Is(err, route.ErrUnavailable) {
			t.Fatalf("List without the password: %v, want ErrUnavailable", err)
		}
		cfg := speakerConfig()
		cfg.Neighbors[0].PasswordFile = filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(cfg.Neighbors[0].PasswordFile, []byte("s3cret-md5\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		b2, err := bgp.New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b2.Close()
		if _, err := b2.Set(ctx, route.New(svc, nh11, nh12)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.WaitKernel(ctx, 10*time.Second, svc, "bgp", nh11, nh12); err != nil {
			t.Fatal(err)
		}
		return
	case "ipv6session":
		cfg := speakerConfig()
		cfg.LocalAddress = bgppeer.SpeakerAddr6
		cfg.Neighbors[0].Address = bgppeer.RouterAddr6
		b6, err := bgp.New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b6.Close()
		for _, r := range []route.Route{route.New(svc, nh11, nh12), route.New(svc6, nh611, nh612)} {
			if got, err := b6.Set(ctx, r); err != nil || !got.Equal(r) {
				t.Fatalf("Set(%v) = %v, %v", r, got, err)
			}
			if _, err := p.WaitKernel(ctx, 10*time.Second, r.Prefix, "bgp", r.Nexthops...); err != nil {
				t.Fatal(err)
			}
		}
		return
	case "reload":
		// A reload closes the old backend, and the new one reuses its
		// stopped speaker (GoBGP's Serve loop cannot end): the router
		// falls back to its statics in between, then gets exactly the new
		// backend's paths, none of the old one's.
		set(route.New(svc, nh11, nh12))
		if _, err := p.WaitKernel(ctx, 10*time.Second, svc, "bgp", nh11, nh12); err != nil {
			t.Fatal(err)
		}
		goroutines := runtime.NumGoroutine()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.WaitKernel(ctx, 10*time.Second, svc, "static", bgppeer.Nexthops...); err != nil {
			t.Fatalf("after Close: %v", err)
		}
		b2, err := bgp.New(speakerConfig(), bgp.NewMetrics(prometheus.NewRegistry()), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b2.Close()
		if got, err := b2.Set(ctx, route.New(svc, nh13)); err != nil || !got.Equal(route.New(svc, nh13)) {
			t.Fatalf("Set on the new backend = %v, %v", got, err)
		}
		if got, err := b2.List(ctx); err != nil || len(got) != 1 || !got[0].Equal(route.New(svc, nh13)) {
			t.Fatalf("List on the new backend = %v, %v, want only %s via %s", got, err, svc, nh13)
		}
		if _, err := p.WaitKernel(ctx, 10*time.Second, svc, "bgp", nh13); err != nil {
			t.Fatalf("after the reload: %v", err)
		}
		if n := runtime.NumGoroutine(); n > goroutines+2 {
			t.Errorf("goroutines: %d with the new backend's session up, %d with the old one's", n, goroutines)
		}
		return
	case "pair":
		as2, err := strconv.ParseUint(os.Getenv("SPEAKER2_AS"), 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		cfg2 := speakerConfig()
		cfg2.LocalAS, cfg2.RouterID, cfg2.LocalAddress = uint32(as2), bgppeer.Speaker2Addr, bgppeer.Speaker2Addr
		b2, err := bgp.New(cfg2, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b2.Close()
		set2 := func(r route.Route) {
			t.Helper()
			if got, err := b2.Set(ctx, r); err != nil || !got.Equal(r) {
				t.Fatalf("second speaker Set(%v) = %v, %v", r, got, err)
			}
		}
		kernel := func(want ...netip.Addr) {
			t.Helper()
			if _, err := p.WaitKernel(ctx, 10*time.Second, svc, "bgp", want...); err != nil {
				t.Fatal(err)
			}
		}
		// holds checks that the kernel route stays want for a while
		// (bgpd applies a change in ~70 ms).
		holds := func(want ...netip.Addr) {
			t.Helper()
			for range 10 {
				time.Sleep(50 * time.Millisecond)
				r, err := p.KernelRoute(ctx, svc)
				if err != nil || r.Proto != "bgp" || !slices.Equal(r.Nexthops, want) {
					t.Fatalf("kernel route %s, %v; want bgp via %v", r, err, want)
				}
			}
		}
		set(route.New(svc, nh11, nh12))
		kernel(nh11, nh12)
		set2(route.New(svc, nh12, nh13))
		if as2 == bgppeer.SpeakerAS {
			kernel(nh11, nh12, nh13) // the union
			set(route.New(svc, nh11))
			holds(nh11, nh12, nh13) // .12 stays: the second speaker still has it
			set2(route.New(svc, nh13))
			kernel(nh11, nh13)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			kernel(nh13)
			t.Logf("same AS: the router installs the union of both speakers' servers")
			return
		}
		time.Sleep(500 * time.Millisecond)
		r, err := p.KernelRoute(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		first, other := b, []netip.Addr{nh12, nh13}
		switch {
		case slices.Equal(r.Nexthops, []netip.Addr{nh11, nh12}):
		case slices.Equal(r.Nexthops, []netip.Addr{nh12, nh13}):
			first, other = b2, []netip.Addr{nh11, nh12}
		default:
			t.Fatalf("different ASes: kernel route %s, want one speaker's servers, not their union", r)
		}
		holds(r.Nexthops...)
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		kernel(other...)
		t.Logf("different ASes: the router installs one speaker's servers (%v), the other's (%v) once it is gone", r.Nexthops, other)
		return
	case "scenarios":
	default:
		t.Fatalf("SPEAKER_MODE=%q", os.Getenv("SPEAKER_MODE"))
	}
	step := func(want route.Route, proto string, kernelNH ...netip.Addr) {
		t.Helper()
		set(want)
		got, err := b.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wantList []route.Route
		if len(want.Nexthops) > 0 {
			wantList = append(wantList, want)
		}
		others := slices.DeleteFunc(slices.Clone(got), func(r route.Route) bool { return r.Prefix == want.Prefix })
		got = slices.DeleteFunc(got, func(r route.Route) bool { return r.Prefix != want.Prefix })
		if !slices.EqualFunc(got, wantList, route.Route.Equal) {
			t.Fatalf("List for %s = %v, want %v (others %v)", want.Prefix, got, wantList, others)
		}
		d, err := p.WaitKernel(ctx, 10*time.Second, want.Prefix, proto, kernelNH...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: kernel route %s via %v after %v", want, proto, kernelNH, d)
	}
	step(route.New(svc, nh11, nh12, nh13), "bgp", nh11, nh12, nh13)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP route_actuator_bgp_session_state BGP session state per neighbor: 1 for the current state (idle, connect, active, opensent, openconfirm, established), 0 for the others.
# TYPE route_actuator_bgp_session_state gauge
route_actuator_bgp_session_state{neighbor="198.51.100.1",state="active"} 0
route_actuator_bgp_session_state{neighbor="198.51.100.1",state="connect"} 0
route_actuator_bgp_session_state{neighbor="198.51.100.1",state="established"} 1
route_actuator_bgp_session_state{neighbor="198.51.100.1",state="idle"} 0
route_actuator_bgp_session_state{neighbor="198.51.100.1",state="openconfirm"} 0
route_actuator_bgp_session_state{neighbor="198.51.100.1",state="opensent"} 0
`+addPathMetrics(1))); err != nil {
		t.Error(err)
	}
	before := updatesReceived(ctx, t, p)
	step(route.New(svc, nh11, nh13), "bgp", nh11, nh13) // withdraw .12
	if after := updatesReceived(ctx, t, p); after <= before {
		t.Errorf("the router counted no UPDATE for a withdraw (%d -> %d)", before, after)
	}
	step(route.New(svc, nh11, nh12, nh13), "bgp", nh11, nh12, nh13)
	before = updatesReceived(ctx, t, p)
	step(route.New(svc, nh11, nh12, nh13), "bgp", nh11, nh12, nh13) // unchanged: changes nothing
	time.Sleep(200 * time.Millisecond)
	if after := updatesReceived(ctx, t, p); after != before {
		t.Errorf("an unchanged Set sent %d UPDATE messages to the router", after-before)
	}
	step(route.New(svc6, nh611, nh612), "bgp", nh611, nh612)
	step(route.New(svc6), "static", bgppeer.Nexthops6...)
	// Withdrawing every path leaves the floating statics: all servers, never none.
	step(route.New(svc), "static", nh11, nh12, nh13)
}

func addPathMetrics(v int) string {
	return fmt.Sprintf(`# HELP route_actuator_bgp_add_path_receive 1 if the neighbor's established session negotiated ADD-PATH receive for the family (ipv4, ipv6), else 0: without it the router keeps one path per prefix, no ECMP.
# TYPE route_actuator_bgp_add_path_receive gauge
route_actuator_bgp_add_path_receive{family="ipv4",neighbor="198.51.100.1"} %d
route_actuator_bgp_add_path_receive{family="ipv6",neighbor="198.51.100.1"} %d
`, v, v)
}

// updatesReceived is how many UPDATE messages the router received from the speaker.
func updatesReceived(ctx context.Context, t *testing.T, p *bgppeer.Peer) int {
	t.Helper()
	out, err := p.Vtysh(ctx, "show bgp neighbors "+bgppeer.SpeakerAddr.String()+" json")
	if err != nil {
		t.Fatal(err)
	}
	var nbs map[string]struct {
		MessageStats struct {
			UpdatesRecv *int `json:"updatesRecv"`
		} `json:"messageStats"`
	}
	if err := json.Unmarshal([]byte(out), &nbs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	n := nbs[bgppeer.SpeakerAddr.String()].MessageStats.UpdatesRecv
	if n == nil {
		t.Fatalf("no updatesRecv in %s", out)
	}
	return *n
}

func grepLine(s, sub string) string {
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
