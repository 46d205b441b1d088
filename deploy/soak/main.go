//go:build linux

// Command soak runs the built dns_sla_exporter and route_actuator under a
// bounded stream of hostile input (`make soak`, docs/reliability.md):
//
//   - the exporter probes N targets (default 1,000) on 127.77.x.y, each an
//     in-process miekg/dns server that switches every 2-6 s between good
//     answers, garbage bytes, wrong IDs, TC, huge answers, slow answers
//     (beyond the timeout), SERVFAIL and silence;
//   - the actuator runs in a namespace it creates (router with 198.51.100.0/24
//     on a veth, service route 192.0.2.53/32) and gets a random stream of
//     valid and invalid webhooks; after every webhook the kernel route must
//     hold at least min_nexthops and only configured nexthops, and an invalid
//     webhook must get a 4xx.
//
// Every -sample it prints each daemon's RSS, goroutines and open FDs (from
// its /metrics); at the end it fails on a growth trend (mean of the last
// third of the post-warm-up samples against the first third) or on any
// violation, and prints a one-line summary.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/actuator/webhook"
	"github.com/slaroute/slaroute/deploy/bench/benchfmt"
	"github.com/slaroute/slaroute/deploy/lab"
	"github.com/slaroute/slaroute/deploy/lab/inns"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

const (
	dnsPort = 20053
	actAddr = "127.0.0.1:9754"
)

// minNexthops is the soak route's guard (-min-nexthops).
var minNexthops = 2

var nexthops = []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}

// Growth margins: a trend fails only when the last third's mean exceeds the
// first third's by more than both the relative and the absolute margin, so
// GC noise on a loaded machine is not a failure but steady growth is.
const (
	relMargin  = 0.25 // 25 %
	rssSlack   = 8 << 20
	gorSlack   = 20.0
	fdSlack    = 10.0
	settleTime = 10 * time.Second
)

// behaviours of a soak DNS server.
const (
	good = iota
	garbage
	wrongID
	truncated
	huge
	slow
	servfail
	silence
	nModes
)

var modeNames = [nModes]string{"good", "garbage", "wrong_id", "tc", "huge", "slow", "servfail", "silence"}

func main() {
	dur := flag.Duration("duration", envDuration("SOAK_DURATION", 5*time.Minute), "how long to run (env SOAK_DURATION)")
	sample := flag.Duration("sample", envDuration("SOAK_SAMPLE", 10*time.Second), "sampling period (env SOAK_SAMPLE)")
	targets := flag.Int("targets", 1000, "exporter targets (one DNS server each)")
	flag.IntVar(&minNexthops, "min-nexthops", minNexthops, "min_nexthops of the soak route (1..3)")
	bin := flag.String("bin", "bin", "directory of the built binaries")
	growth := flag.Bool("growth", true, "fail on a growth trend (make test's short run checks the route invariants only: 30 s is too short to tell a trend from GC noise)")
	flag.Parse()
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *dur, *sample, *targets, *bin, *growth))
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Fatalf("%s=%q: %v", name, v, err)
		}
		return d
	}
	return def
}

func run(ctx context.Context, dur, sample time.Duration, n int, bin string, growth bool) int {
	if os.Geteuid() != 0 {
		log.Print("soak: needs root (network namespaces)")
		return 1
	}
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	dir, err := os.MkdirTemp("", "slaroute-soak-")
	if err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(dir)

	// DNS servers.
	modes := make([]atomic.Int32, n)
	go flip(ctx, modes)
	srvs, err := startServers(n, modes)
	defer func() {
		for _, s := range srvs {
			_ = s.Shutdown()
		}
	}()
	if err != nil {
		log.Printf("soak: dns servers: %v", err)
		return 1
	}

	// Exporter.
	var cfg strings.Builder
	cfg.WriteString("defaults:\n  interval: 1s\n  timeout: 500ms\n  query_name: health.example.test.\ntargets:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - name: soak%04d\n    address: %s:%d\n    service: 192.0.2.53/32\n", i, serverAddr(i), dnsPort)
	}
	expCfg := filepath.Join(dir, "dns_sla_exporter.yml")
	if err := os.WriteFile(expCfg, []byte(cfg.String()), 0o644); err != nil {
		log.Print(err)
		return 1
	}
	expAddr, err := benchfmt.FreeAddr()
	if err != nil {
		log.Print(err)
		return 1
	}
	exp, err := start(dir, "dns_sla_exporter", filepath.Join(bin, "dns_sla_exporter"), "--config.file="+expCfg, "--web.listen-address="+expAddr)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer stopProc(exp)

	// Router namespace and actuator.
	ns := fmt.Sprintf("slsoak%d", os.Getpid())
	defer cleanupNS(ns)
	if err := setupNS(ns); err != nil {
		log.Printf("soak: namespace: %v", err)
		return 1
	}
	actCfg := filepath.Join(dir, "route_actuator.yml")
	if err := os.WriteFile(actCfg, []byte(actuatorConfig()), 0o600); err != nil {
		log.Print(err)
		return 1
	}
	act, err := start(dir, "route_actuator", "ip", "netns", "exec", ns, filepath.Join(bin, "route_actuator"),
		"--config.file="+actCfg, "--web.listen-address="+actAddr)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer stopProc(act)
	nsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: inns.Dialer(ns)}}
	hostClient := &http.Client{Timeout: 10 * time.Second}
	if err := benchfmt.WaitHTTP(ctx, nsClient, "http://"+actAddr+"/-/ready", 20*time.Second, nil); err != nil {
		log.Printf("soak: route_actuator: %v (log %s)", err, tail(act))
		return 1
	}
	if err := benchfmt.WaitHTTP(ctx, hostClient, "http://"+expAddr+"/-/ready", 20*time.Second, nil); err != nil {
		log.Printf("soak: dns_sla_exporter: %v (log %s)", err, tail(exp))
		return 1
	}

	// The stream: sequential webhooks, the kernel route checked after each.
	router := &lab.Lab{Router: ns}
	st := &stream{c: nsClient, start: time.Now(), firing: map[string]time.Time{}}
	var samples []sampleRow
	fmt.Printf("soak: %d targets, %s, sampling every %s, namespace %s\n", n, dur, sample, ns)
	fmt.Printf("%8s %10s %8s %7s %10s %8s %7s %9s %10s\n", "t", "exp_rss", "exp_gor", "exp_fd", "act_rss", "act_gor", "act_fd", "webhooks", "violations")
	end := time.Now().Add(dur)
	next := time.Now().Add(sample)
	installed := false
	for time.Now().Before(end) && ctx.Err() == nil {
		if !installed {
			// The first valid webhook installs the route; invariants hold from then on.
			st.post(st.valid())
		} else {
			st.step()
		}
		gws, err := router.RouteNexthops()
		if err != nil {
			st.violate("read route: %v", err)
		} else if len(gws) > 0 || installed {
			installed = true
			checkRoute(st, gws)
		}
		if !exp.running() || !act.running() {
			st.violate("a daemon exited: exporter %v, actuator %v", exp.running(), act.running())
			break
		}
		if time.Now().After(next) {
			next = next.Add(sample)
			row, err := takeSample(hostClient, nsClient, expAddr, time.Since(st.start))
			if err != nil {
				st.violate("sample: %v", err)
				continue
			}
			row.webhooks, row.violations = st.sent, st.nviol
			samples = append(samples, row)
			fmt.Println(row)
		}
		time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond)
	}
	var trend []string
	if growth {
		trend = checkTrend(samples, dur)
	}
	fmt.Printf("exporter probes by result: %s\n", probeResults(hostClient, expAddr))
	fmt.Printf("kernel route after each webhook: 3 nexthops %d times, 2: %d, 1: %d, absent: %d (min_nexthops %d)\n",
		st.byCount[3], st.byCount[2], st.byCount[1], st.byCount[0], minNexthops)
	for _, v := range st.violations {
		fmt.Println("VIOLATION:", v)
	}
	for _, t := range trend {
		fmt.Println("GROWTH:", t)
	}
	ok := st.nviol == 0 && len(trend) == 0 && ctx.Err() == nil && len(samples) > 0
	verdict := "PASS"
	if !ok {
		verdict = "FAIL"
	}
	fmt.Printf("soak %s: %s, %d targets, %d webhooks (%d invalid, 4xx each), %d route checks, %d violations, %d growth trends, %d samples; counts by kind: %s\n",
		verdict, time.Since(st.start).Round(time.Second), n, st.sent, st.invalid, st.checks, st.nviol, len(trend), len(samples), st.kindSummary())
	if !ok {
		if keep := os.Getenv("SOAK_KEEP_LOGS"); keep != "" {
			_ = exec.Command("cp", exp.log, act.log, keep).Run()
		}
		return 1
	}
	return 0
}

func serverAddr(i int) string { return fmt.Sprintf("127.77.%d.%d", i/250, i%250+1) }

// startServers starts a UDP and a TCP server per target (index 2i and 2i+1).
func startServers(n int, modes []atomic.Int32) ([]*dns.Server, error) {
	var srvs []*dns.Server
	for i := range n {
		h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { answer(w, r, modes[i].Load()) })
		addr := net.JoinHostPort(serverAddr(i), strconv.Itoa(dnsPort))
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return srvs, err
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			pc.Close()
			return srvs, err
		}
		u := &dns.Server{PacketConn: pc, Handler: h}
		t := &dns.Server{Listener: l, Handler: h, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
		srvs = append(srvs, u, t)
	}
	for _, s := range srvs {
		s := s
		go func() { _ = s.ActivateAndServe() }()
	}
	return srvs, nil
}

// flip gives every server a random behaviour for a random 2-6 s, forever.
func flip(ctx context.Context, modes []atomic.Int32) {
	until := make([]time.Time, len(modes))
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for i := range modes {
				if now.After(until[i]) {
					modes[i].Store(int32(rand.IntN(nModes)))
					until[i] = now.Add(2*time.Second + rand.N(4*time.Second))
				}
			}
		}
	}
}

func answer(w dns.ResponseWriter, r *dns.Msg, mode int32) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	a := func(ip string) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(ip)}
	}
	if len(r.Question) == 0 {
		return
	}
	switch mode {
	case good:
		m.Answer = []dns.RR{a("192.0.2.1")}
	case garbage:
		b := make([]byte, 1+rand.IntN(300))
		for i := range b {
			b[i] = byte(rand.IntN(256))
		}
		_, _ = w.Write(b)
		return
	case wrongID:
		m.Answer = []dns.RR{a("192.0.2.1")}
		m.Id++
	case truncated:
		m.Truncated = true
	case huge:
		for i := range 300 {
			m.Answer = append(m.Answer, a(fmt.Sprintf("192.0.2.%d", i%250+1)))
		}
	case slow:
		time.Sleep(700 * time.Millisecond) // the exporter's timeout is 500ms
		m.Answer = []dns.RR{a("192.0.2.1")}
	case servfail:
		m.Rcode = dns.RcodeServerFailure
	case silence:
		return
	}
	_ = w.WriteMsg(m)
}

// actuatorConfig is the shipped example's backend section with the soak's
// route (min_nexthops 2, so the guard is exercised) and no Alertmanager.
func actuatorConfig() string {
	b, err := os.ReadFile("deploy/examples/route_actuator.yml")
	if err != nil {
		log.Fatal(err)
	}
	backend, _, ok := strings.Cut(string(b), "\nroutes:")
	if !ok {
		log.Fatal("deploy/examples/route_actuator.yml: no routes: section")
	}
	return backend + "\n" + strings.Replace(testenv.ActuatorRoutes, "min_nexthops: 1", "min_nexthops: "+strconv.Itoa(minNexthops), 1)
}

func setupNS(ns string) error {
	cmds := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "soak0", "type", "veth", "peer", "name", "soak1"},
		{"-n", ns, "addr", "add", "198.51.100.1/24", "dev", "soak0"},
		{"-n", ns, "link", "set", "soak0", "up"},
		{"-n", ns, "link", "set", "soak1", "up"},
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// cleanupNS kills what still runs in ns (by PID) and deletes it by name.
func cleanupNS(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
}

type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(dir, name string, argv ...string) (*proc, error) {
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: exec.Command(argv[0], argv[1:]...), log: f.Name(), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func stopProc(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func tail(p *proc) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stream sends webhooks and tracks what was sent.
type stream struct {
	c          *http.Client
	start      time.Time
	firing     map[string]time.Time // nexthop -> startsAt of its firing alert
	sent       int
	invalid    int
	checks     int
	nviol      int
	byCount    [4]int // route checks by number of nexthops (0-3)
	kinds      map[string]int
	violations []string
}

func (s *stream) violate(format string, args ...any) {
	s.nviol++
	if len(s.violations) < 50 { // the first 50 are printed; nviol counts all
		s.violations = append(s.violations, fmt.Sprintf("%s: ", time.Since(s.start).Round(time.Millisecond))+fmt.Sprintf(format, args...))
	}
}

func (s *stream) kindSummary() string {
	var parts []string
	for _, k := range []string{"valid", "malformed", "version", "unknown_labels", "oversize", "flood"} {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s.kinds[k]))
	}
	return strings.Join(parts, " ")
}

// valid is a webhook with the heartbeat and a random nexthop firing or resolved.
func (s *stream) valid() []byte {
	nh := nexthops[rand.IntN(len(nexthops))]
	// A new firing starts now: one that started before the last resolve's
	// end would be stale (docs/actuator.md, event order).
	start, end := time.Now(), time.Time{}
	if s.firing[nh] != (time.Time{}) {
		start, end = s.firing[nh], time.Now()
		s.firing[nh] = time.Time{}
	} else {
		s.firing[nh] = start
	}
	return testenv.Payload(testenv.Watchdog(s.start), testenv.ServerDown(nh, start, end))
}

func (s *stream) step() {
	kind := []string{"valid", "valid", "valid", "malformed", "version", "unknown_labels", "oversize", "flood"}[rand.IntN(8)]
	if s.kinds == nil {
		s.kinds = map[string]int{}
	}
	s.kinds[kind]++
	switch kind {
	case "valid":
		s.post(s.valid())
	case "malformed":
		b := s.valid()
		s.postInvalid(kind, b[:rand.IntN(len(b)-1)])
	case "version":
		s.postInvalid(kind, bytes.Replace(s.validNoState(), []byte(`"version":"4"`), []byte(`"version":"3"`), 1))
	case "unknown_labels":
		// An alert without its labels' nexthop mapping to a configured route
		// is valid JSON that changes nothing: 200 or 4xx, never a route change.
		a := testenv.ServerDown("198.51.100.99", s.start, time.Time{})
		a.Labels["nexthop"] = []string{"198.51.100.99", "203.0.113.7", "not-an-ip", ""}[rand.IntN(4)]
		a.Labels["bogus"] = "x"
		s.postAny(kind, testenv.Payload(testenv.Watchdog(s.start), a))
	case "oversize":
		body := s.validNoState()
		pad := bytes.Repeat([]byte(" "), webhook.DefaultMaxBodyBytes+1)
		s.postInvalid(kind, append(append(body[:len(body)-1:len(body)-1], pad...), '}'))
	case "flood":
		var as []testenv.Alert
		as = append(as, testenv.Watchdog(s.start))
		for range 2000 {
			a := testenv.ServerDown(fmt.Sprintf("203.0.113.%d", rand.IntN(254)+1), s.start, time.Time{})
			a.Fingerprint = fmt.Sprintf("%016x", rand.Uint64())
			as = append(as, a)
		}
		s.post(testenv.Payload(as...))
	}
}

// validNoState is a well-formed payload that does not change s.firing.
func (s *stream) validNoState() []byte {
	return testenv.Payload(testenv.Watchdog(s.start))
}

func (s *stream) send(body []byte) (int, string) {
	s.sent++
	resp, err := s.c.Post("http://"+actAddr+"/webhook", "application/json", bytes.NewReader(body))
	if err != nil {
		s.violate("POST /webhook: %v", err)
		return 0, ""
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

func (s *stream) post(body []byte) {
	if code, msg := s.send(body); code != 0 && code != http.StatusOK {
		s.violate("valid webhook: %d %s", code, msg)
	}
}

// postAny accepts 200 (ignored alert) or a 4xx (refused), nothing else.
func (s *stream) postAny(kind string, body []byte) {
	if code, msg := s.send(body); code != 0 && code != http.StatusOK && (code < 400 || code > 499) {
		s.violate("%s webhook: want 200 or 4xx, got %d %s", kind, code, msg)
	}
}

func (s *stream) postInvalid(kind string, body []byte) {
	s.invalid++
	if code, msg := s.send(body); code != 0 && (code < 400 || code > 499) {
		s.violate("%s webhook: want 4xx, got %d %s", kind, code, msg)
	}
}

func checkRoute(s *stream, gws []netip.Addr) {
	s.checks++
	if len(gws) < len(s.byCount) {
		s.byCount[len(gws)]++
	}
	if len(gws) < minNexthops {
		s.violate("route has %d nexthops %v, min_nexthops %d", len(gws), gws, minNexthops)
	}
	for _, g := range gws {
		known := false
		for _, nh := range nexthops {
			known = known || g.String() == nh
		}
		if !known {
			s.violate("route has unconfigured nexthop %s", g)
		}
	}
}

type stats struct{ rss, gor, fds float64 }

type sampleRow struct {
	t                    time.Duration
	exp, act             stats
	webhooks, violations int
}

func (r sampleRow) String() string {
	mb := func(b float64) string { return fmt.Sprintf("%.1fMiB", b/(1<<20)) }
	return fmt.Sprintf("%8s %10s %8.0f %7.0f %10s %8.0f %7.0f %9d %10d", r.t.Round(time.Second), mb(r.exp.rss), r.exp.gor, r.exp.fds,
		mb(r.act.rss), r.act.gor, r.act.fds, r.webhooks, r.violations)
}

func takeSample(host, nsc *http.Client, expAddr string, t time.Duration) (sampleRow, error) {
	row := sampleRow{t: t}
	var err error
	if row.exp, err = scrape(host, "http://"+expAddr+"/metrics"); err != nil {
		return row, fmt.Errorf("exporter: %w", err)
	}
	if row.act, err = scrape(nsc, "http://"+actAddr+"/metrics"); err != nil {
		return row, fmt.Errorf("actuator: %w", err)
	}
	return row, nil
}

func scrape(c *http.Client, url string) (stats, error) {
	resp, err := c.Get(url)
	if err != nil {
		return stats{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return stats{}, err
	}
	var s stats
	found := 0
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "process_resident_memory_bytes":
			s.rss, found = v, found+1
		case "go_goroutines":
			s.gor, found = v, found+1
		case "process_open_fds":
			s.fds, found = v, found+1
		}
	}
	if found != 3 {
		return s, fmt.Errorf("%s: missing process/go metrics", url)
	}
	return s, nil
}

// checkTrend drops the warm-up (the first quarter of the run, at least
// settleTime) and compares the mean of the last third of the remaining
// samples with the first third.
func checkTrend(rows []sampleRow, dur time.Duration) []string {
	warm := max(dur/4, settleTime)
	var rs []sampleRow
	for _, r := range rows {
		if r.t >= warm {
			rs = append(rs, r)
		}
	}
	if len(rs) < 3 {
		return []string{fmt.Sprintf("only %d samples after the %s warm-up: run longer or sample more often", len(rs), warm)}
	}
	k := len(rs) / 3
	mean := func(rows []sampleRow, get func(sampleRow) float64) float64 {
		var sum float64
		for _, r := range rows {
			sum += get(r)
		}
		return sum / float64(len(rows))
	}
	var out []string
	for _, m := range []struct {
		name  string
		slack float64
		get   func(sampleRow) float64
	}{
		{"dns_sla_exporter RSS", rssSlack, func(r sampleRow) float64 { return r.exp.rss }},
		{"dns_sla_exporter goroutines", gorSlack, func(r sampleRow) float64 { return r.exp.gor }},
		{"dns_sla_exporter fds", fdSlack, func(r sampleRow) float64 { return r.exp.fds }},
		{"route_actuator RSS", rssSlack, func(r sampleRow) float64 { return r.act.rss }},
		{"route_actuator goroutines", gorSlack, func(r sampleRow) float64 { return r.act.gor }},
		{"route_actuator fds", fdSlack, func(r sampleRow) float64 { return r.act.fds }},
	} {
		first, last := mean(rs[:k], m.get), mean(rs[len(rs)-k:], m.get)
		if last > first*(1+relMargin) && last-first > m.slack {
			out = append(out, fmt.Sprintf("%s: first third mean %.0f, last third mean %.0f (margin +%.0f%% and +%.0f)", m.name, first, last, relMargin*100, m.slack))
		}
	}
	return out
}

// probeResults sums dns_sla_probes_total over targets by result.
func probeResults(c *http.Client, expAddr string) string {
	resp, err := c.Get("http://" + expAddr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := map[string]float64{}
	var order []string
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "dns_sla_probes_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `result="`)
		res, _, _ := strings.Cut(rest, `"`)
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		if _, ok := sum[res]; !ok {
			order = append(order, res)
		}
		sum[res] += v
	}
	var parts []string
	for _, r := range order {
		parts = append(parts, fmt.Sprintf("%s=%.0f", r, sum[r]))
	}
	return strings.Join(parts, " ")
}
