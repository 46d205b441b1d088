package probe

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
	"github.com/slaroute/slaroute/exporter/config"
)

const qname = "health.example.test."

// server is an in-process DNS server on 127.0.0.1 with its own handlers
// for UDP and TCP (nil: that transport is not served).
type server struct {
	addr netip.AddrPort
}

func startServer(t *testing.T, udp, tcp dns.HandlerFunc) server {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ap := netip.MustParseAddrPort(pc.LocalAddr().String())
		var ln net.Listener
		if tcp != nil {
			ln, err = net.Listen("tcp", ap.String())
			if err != nil { // port taken for TCP: try another
				pc.Close()
				continue
			}
		}
		if udp != nil {
			serve(t, &dns.Server{PacketConn: pc, Handler: udp})
		} else {
			pc.Close() // a closed port answers ICMP port unreachable
		}
		if tcp != nil {
			serve(t, &dns.Server{Listener: ln, Handler: tcp})
		}
		return server{addr: ap}
	}
	t.Fatal("no free port for UDP and TCP")
	return server{}
}

func serve(t *testing.T, s *dns.Server) {
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	go s.ActivateAndServe()
	<-started
	t.Cleanup(func() { s.Shutdown() })
}

// answer replies with rcode and the given answer RRs (text form).
func answer(rcode int, rrs ...string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				panic(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	}
}

func silent(dns.ResponseWriter, *dns.Msg) {}

func raw(b []byte) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) { w.Write(b) }
}

func target(addr netip.AddrPort, proto string) config.Target {
	return config.Target{
		Name: "t", Address: addr, Nexthop: addr.Addr(),
		Interval: time.Second, Timeout: 300 * time.Millisecond,
		QueryName: qname, QueryType: dns.TypeA, Protocol: proto,
		ValidRcodes: []int{dns.RcodeSuccess},
	}
}

func TestProbeResults(t *testing.T) {
	a := qname + " 60 IN A 192.0.2.1"
	cname := qname + " 60 IN CNAME x.example.test."
	wrongID := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Id++
		w.WriteMsg(m)
	}
	wrongIDThenRight := func(w dns.ResponseWriter, r *dns.Msg) {
		wrongID(w, r)
		answer(dns.RcodeSuccess, a)(w, r)
	}
	notResponse := func(w dns.ResponseWriter, r *dns.Msg) {
		m := r.Copy()
		w.WriteMsg(m) // QR bit clear: an echo, not an answer
	}
	otherQuestion := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Question[0].Name = "other.example.test."
		w.WriteMsg(m)
	}
	sleepy := func(d time.Duration) dns.HandlerFunc {
		return func(w dns.ResponseWriter, r *dns.Msg) {
			time.Sleep(d)
			answer(dns.RcodeSuccess, a)(w, r)
		}
	}
	// A header with our ID is filled in by idGarbage: unparsable after it.
	idGarbage := func(w dns.ResponseWriter, r *dns.Msg) {
		b := []byte{byte(r.Id >> 8), byte(r.Id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff}
		w.Write(b)
	}
	tests := []struct {
		name    string
		handler dns.HandlerFunc
		protos  []string
		edit    func(*config.Target)
		want    Result
		resp    bool // an RTT is reported
	}{
		{"success", answer(dns.RcodeSuccess, a), both, nil, Success, true},
		{"success through CNAME", answer(dns.RcodeSuccess, qname+" 60 IN CNAME x.example.test.", "x.example.test. 60 IN A 192.0.2.1"), both, nil, Success, true},
		{"success case-insensitive owner", answer(dns.RcodeSuccess, "HEALTH.Example.TEST. 60 IN A 192.0.2.1"), udpOnly, nil, Success, true},
		{"expect_answers met", answer(dns.RcodeSuccess, qname+" 60 IN A 192.0.2.7", a), both, expect("192.0.2.1"), Success, true},
		{"expect_answers TXT", answer(dns.RcodeSuccess, qname+` 60 IN TXT "ok"`), udpOnly, func(t *config.Target) { t.QueryType = dns.TypeTXT; t.ExpectAnswers = []string{"ok"} }, Success, true},
		{"mismatch", answer(dns.RcodeSuccess, a), both, expect("192.0.2.9"), Mismatch, true},
		{"no_answer empty", answer(dns.RcodeSuccess), both, nil, NoAnswer, true},
		{"no_answer other type", answer(dns.RcodeSuccess, qname+" 60 IN AAAA 2001:db8::1"), both, nil, NoAnswer, true},
		{"no_answer other owner", answer(dns.RcodeSuccess, "x.example.test. 60 IN A 192.0.2.1"), udpOnly, nil, NoAnswer, true},
		// A CNAME is not an answer of the asked type (IP SLA `type dns`): its
		// target must have the record in the same answer section.
		{"no_answer CNAME only", answer(dns.RcodeSuccess, cname), both, nil, NoAnswer, true},
		{"no_answer CNAME only with expect_answers", answer(dns.RcodeSuccess, cname), udpOnly, expect("192.0.2.1"), NoAnswer, true},
		{"no_answer CNAME target has another type", answer(dns.RcodeSuccess, cname, "x.example.test. 60 IN AAAA 2001:db8::1"), udpOnly, nil, NoAnswer, true},
		{"no_answer CNAME target's A owned by another name", answer(dns.RcodeSuccess, cname, "y.example.test. 60 IN A 192.0.2.1"), udpOnly, nil, NoAnswer, true},
		{"no_answer CNAME chain ends in a CNAME", answer(dns.RcodeSuccess, cname, "x.example.test. 60 IN CNAME y.example.test."), udpOnly, nil, NoAnswer, true},
		{"no_answer CNAME loop", answer(dns.RcodeSuccess, cname, "x.example.test. 60 IN CNAME "+qname), udpOnly, nil, NoAnswer, true},
		{"servfail", answer(dns.RcodeServerFailure), both, nil, Servfail, true},
		{"refused", answer(dns.RcodeRefused), both, nil, Refused, true},
		{"nxdomain", answer(dns.RcodeNameError), both, nil, Nxdomain, true},
		{"rcode", answer(dns.RcodeNotImplemented), both, nil, Rcode, true},
		{"nxdomain valid but no answer", answer(dns.RcodeNameError), udpOnly, func(t *config.Target) { t.ValidRcodes = []int{0, 3} }, NoAnswer, true},
		{"timeout", silent, both, nil, Timeout, false},
		{"inside the timeout", sleepy(50 * time.Millisecond), both, nil, Success, true},
		{"past the timeout", sleepy(600 * time.Millisecond), both, nil, Timeout, false},
		{"wrong ID only", wrongID, udpOnly, nil, Malformed, false},
		{"wrong ID on TCP", wrongID, tcpOnly, nil, Malformed, true},
		{"wrong ID then right", wrongIDThenRight, udpOnly, nil, Success, true},
		{"garbage bytes", raw([]byte{0xde}), udpOnly, nil, Malformed, false},
		{"garbage with our ID", idGarbage, both, nil, Malformed, true},
		{"not a response", notResponse, both, nil, Malformed, true},
		{"other question", otherQuestion, udpOnly, nil, Malformed, true},
	}
	for _, tc := range tests {
		for _, proto := range tc.protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				t.Parallel()
				var s server
				if proto == "udp" {
					s = startServer(t, tc.handler, nil)
				} else {
					s = startServer(t, nil, tc.handler)
				}
				tg := target(s.addr, proto)
				if tc.edit != nil {
					tc.edit(&tg)
				}
				o := probeOnce(t, tg)
				if o.Result != tc.want {
					t.Fatalf("result %s (err %v), want %s", o.Result, o.Err, tc.want)
				}
				if o.Responded != tc.resp {
					t.Errorf("responded %v, want %v", o.Responded, tc.resp)
				}
				if o.Responded && (o.RTT <= 0 || o.RTT > tg.Timeout) {
					t.Errorf("rtt %v outside (0, timeout]", o.RTT)
				}
				if (o.Result == Success) != (o.Err == nil) {
					t.Errorf("err %v with result %s", o.Err, o.Result)
				}
			})
		}
	}
}

var (
	both    = []string{"udp", "tcp"}
	udpOnly = []string{"udp"}
	tcpOnly = []string{"tcp"}
)

func expect(vals ...string) func(*config.Target) {
	return func(t *config.Target) { t.ExpectAnswers = vals }
}

func probeOnce(t *testing.T, tg config.Target) Outcome {
	t.Helper()
	p, err := New(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	return p.Probe(context.Background())
}

// A context deadline earlier than the target's timeout ends the probe there.
func TestContextDeadline(t *testing.T) {
	s := startServer(t, silent, silent)
	for _, proto := range both {
		tg := target(s.addr, proto)
		tg.Timeout = 5 * time.Second
		p, err := New(tg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		o := p.Probe(ctx)
		cancel()
		p.Close()
		if o.Result != Timeout {
			t.Errorf("%s: result %s (err %v), want timeout", proto, o.Result, o.Err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: probe took %v despite a 50ms context deadline", proto, d)
		}
	}
}

func TestNetworkError(t *testing.T) {
	// Nothing listens on either transport: ICMP port unreachable / TCP RST.
	s := startServer(t, nil, nil)
	for _, proto := range both {
		if o := probeOnce(t, target(s.addr, proto)); o.Result != NetworkError {
			t.Errorf("%s: result %s (err %v), want network_error", proto, o.Result, o.Err)
		}
	}
}

func TestIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		testenv.Missing(t, "no IPv6 loopback: %v", err)
	}
	s := &dns.Server{PacketConn: pc, Handler: answer(dns.RcodeSuccess, qname+" 60 IN AAAA 2001:db8::53")}
	serve(t, s)
	tg := target(netip.MustParseAddrPort(pc.LocalAddr().String()), "udp")
	tg.QueryType = dns.TypeAAAA
	tg.ExpectAnswers = []string{"2001:db8::53"}
	tg.SourceAddress = netip.MustParseAddr("::1")
	if o := probeOnce(t, tg); o.Result != Success {
		t.Fatalf("result %s (err %v), want success", o.Result, o.Err)
	}
}

func TestTruncatedRetriedOverTCP(t *testing.T) {
	trunc := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		w.WriteMsg(m)
	}
	var tcpQueries atomic.Int32
	full := func(w dns.ResponseWriter, r *dns.Msg) {
		tcpQueries.Add(1)
		answer(dns.RcodeSuccess, qname+" 60 IN A 192.0.2.1")(w, r)
	}
	s := startServer(t, trunc, full)
	if o := probeOnce(t, target(s.addr, "udp")); o.Result != Success || !o.Responded {
		t.Fatalf("result %s (err %v), want success over TCP", o.Result, o.Err)
	}
	if n := tcpQueries.Load(); n != 1 {
		t.Errorf("%d TCP queries, want 1", n)
	}
	// Truncated, and TCP is slower than what is left of the timeout.
	slow := func(w dns.ResponseWriter, r *dns.Msg) { time.Sleep(500 * time.Millisecond); full(w, r) }
	s = startServer(t, trunc, slow)
	if o := probeOnce(t, target(s.addr, "udp")); o.Result != Timeout {
		t.Fatalf("result %s (err %v), want timeout", o.Result, o.Err)
	}
	// Truncated and nobody on TCP.
	s = startServer(t, trunc, nil)
	if o := probeOnce(t, target(s.addr, "udp")); o.Result != NetworkError {
		t.Fatalf("result %s (err %v), want network_error", o.Result, o.Err)
	}
}

func TestQueryOnTheWire(t *testing.T) {
	got := make(chan *dns.Msg, 4)
	from := make(chan string, 4)
	h := func(w dns.ResponseWriter, r *dns.Msg) {
		got <- r
		from <- w.RemoteAddr().String()
		answer(dns.RcodeSuccess, qname+" 60 IN A 192.0.2.1")(w, r)
	}
	s := startServer(t, h, nil)
	tg := target(s.addr, "udp")
	tg.RecursionDesired = true
	tg.SourceAddress = netip.MustParseAddr("127.0.0.2")
	p, err := New(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var ids []uint16
	for range 2 {
		if o := p.Probe(context.Background()); o.Result != Success {
			t.Fatalf("result %s (err %v)", o.Result, o.Err)
		}
		r := <-got
		if len(r.Question) != 1 || r.Question[0].Name != qname || r.Question[0].Qtype != dns.TypeA || !r.RecursionDesired {
			t.Errorf("query %v", r)
		}
		if src := netip.MustParseAddrPort(<-from).Addr(); src != tg.SourceAddress {
			t.Errorf("query from %s, want %s", src, tg.SourceAddress)
		}
		ids = append(ids, r.Id)
	}
	if ids[0] == ids[1] {
		t.Errorf("same ID %d twice in a row", ids[0])
	}
}

// A misbehaving server must not make the prober leak goroutines, sockets or memory.
func TestNoGrowth(t *testing.T) {
	spam := func(w dns.ResponseWriter, r *dns.Msg) {
		for i := range 3 {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Id += uint16(i + 1)
			w.WriteMsg(m)
		}
		w.Write([]byte{1, 2, 3})
	}
	servers := []server{startServer(t, spam, spam), startServer(t, silent, silent), startServer(t, nil, nil)}
	cycle := func(n int) {
		for range n {
			for _, s := range servers {
				for _, proto := range both {
					tg := target(s.addr, proto)
					tg.Timeout = 5 * time.Millisecond
					p, err := New(tg)
					if err != nil {
						t.Fatal(err)
					}
					p.Probe(context.Background())
					p.Probe(context.Background())
					p.Close()
				}
			}
		}
	}
	cycle(5) // warm up the runtime and the servers' goroutines
	time.Sleep(50 * time.Millisecond)
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	cycle(40)
	time.Sleep(50 * time.Millisecond)
	g1, f1 := runtime.NumGoroutine(), openFDs(t)
	// The servers' per-connection goroutines come and go; allow a little slack.
	if g1 > g0+5 {
		t.Errorf("goroutines %d -> %d", g0, g1)
	}
	if f1 > f0+5 {
		t.Errorf("open fds %d -> %d", f0, f1)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.Missing(t, "counting open fds: %v", err)
	}
	return len(ents)
}

func TestResultNames(t *testing.T) {
	want := []string{"success", "timeout", "network_error", "servfail", "refused", "nxdomain", "rcode", "no_answer", "mismatch", "malformed"}
	for i, w := range want {
		if got := Result(i).String(); got != w {
			t.Errorf("Result(%d) = %q, want %q", i, got, w)
		}
	}
	if NumResults != Result(len(want)) {
		t.Errorf("NumResults %d, want %d", NumResults, len(want))
	}
}
