//go:build linux

package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/deploy/lab/inns"
)

// Names served by every lab DNS server.
const (
	ProbeName  = "health.example.test." // exporter's probe name (A)
	ProbeValue = "192.0.2.1"
	WhoamiName = "whoami.example.test." // TXT naming the server
)

// rootAnchor is the IANA root KSK-2017 DS. The front dnsmasq validates
// forwarded answers with it; the local upstream is unsigned, so any name it
// must forward fails validation and is answered SERVFAIL.
const rootAnchor = ".,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

// Server is one DNS server namespace: a front dnsmasq on the admin address
// and the service address, and an unsigned upstream dnsmasq on 127.0.0.1:5300
// used only in SERVFAIL mode. Neither writes a pid file: concurrent starts
// raced on dnsmasq's default /run/dnsmasq.pid and one of them exited.
type Server struct {
	Name string
	NS   string
	Addr netip.Addr
	dir  string
	log  *slog.Logger

	front, upstream *Proc
	stopped         bool // front SIGSTOPped
	upstreamStopped bool // upstream SIGSTOPped
}

func (s *Server) hostsDir() string { return filepath.Join(s.dir, s.Name+"-hosts") }

func (s *Server) probeFile() string { return filepath.Join(s.hostsDir(), "probe") }

// Start makes the server healthy: both daemons running (not stopped) and the
// probe name answered. It waits until the server answers.
func (s *Server) Start() error {
	if err := os.MkdirAll(s.hostsDir(), 0o755); err != nil {
		return err
	}
	if err := s.writeProbe(true); err != nil {
		return err
	}
	if s.upstream == nil || !s.upstream.Running() {
		p, err := startProc(s.dir, s.NS, s.Name+"-upstream", "dnsmasq", "--keep-in-foreground",
			"--conf-file=/dev/null", "--pid-file=", "--user=root", "--group=root", "--port=5300",
			"--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
			"--address=/"+strings.TrimSuffix(ProbeName, ".")+"/"+ProbeValue, "--log-facility=-")
		if err != nil {
			return err
		}
		s.upstream = p
	} else if s.upstreamStopped {
		if err := s.upstream.Signal(syscall.SIGCONT); err != nil {
			return err
		}
	}
	s.upstreamStopped = false
	if s.front != nil && s.front.Running() && s.stopped {
		if err := s.front.Signal(syscall.SIGCONT); err != nil {
			return err
		}
	}
	s.stopped = false
	if s.front == nil || !s.front.Running() {
		p, err := startProc(s.dir, s.NS, s.Name, "dnsmasq", "--keep-in-foreground",
			"--conf-file=/dev/null", "--pid-file=", "--user=root", "--group=root", "--port=53",
			"--listen-address="+s.Addr.String()+","+ServiceAddr.String(), "--bind-interfaces",
			"--no-resolv", "--no-hosts", "--hostsdir="+s.hostsDir(), "--local-ttl=0",
			"--txt-record="+strings.TrimSuffix(WhoamiName, ".")+","+s.Name,
			"--dnssec", "--trust-anchor="+rootAnchor, "--dnssec-check-unsigned",
			"--server=127.0.0.1#5300", "--log-facility=-")
		if err != nil {
			return err
		}
		s.front = p
	}
	return s.WaitAnswer(5 * time.Second)
}

// writeProbe adds (or removes) the probe name from the hosts file that
// dnsmasq watches with inotify: no restart, no gap.
func (s *Server) writeProbe(on bool) error {
	body := ""
	if on {
		body = ProbeValue + " " + strings.TrimSuffix(ProbeName, ".") + "\n"
	}
	tmp := s.probeFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.probeFile())
}

// Stop kills the DNS daemon (SIGTERM, like `systemctl stop`), and waits.
func (s *Server) Stop() error {
	if s.front == nil || !s.front.Running() {
		return fmt.Errorf("%s: daemon not running", s.Name)
	}
	s.front.Stop(3 * time.Second)
	s.stopped = false
	return nil
}

// ServFail keeps the daemon running but makes it answer SERVFAIL for the
// probe name (the name is forwarded to an upstream that fails DNSSEC).
func (s *Server) ServFail() error {
	return s.writeProbe(false)
}

// ProbeTimeout keeps the daemon answering every other name but lets probes
// time out: the probe name is forwarded to the upstream, which is frozen.
func (s *Server) ProbeTimeout() error {
	if s.upstream == nil || !s.upstream.Running() {
		return fmt.Errorf("%s: upstream not running", s.Name)
	}
	if err := s.upstream.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	s.upstreamStopped = true
	return s.writeProbe(false)
}

// Silence freezes the daemon (SIGSTOP): queries time out, the socket stays open.
func (s *Server) Silence() error {
	if s.front == nil || !s.front.Running() {
		return fmt.Errorf("%s: daemon not running", s.Name)
	}
	if err := s.front.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	s.stopped = true
	return nil
}

// PID of the front daemon, 0 when not running.
func (s *Server) PID() int {
	if s.front == nil || !s.front.Running() {
		return 0
	}
	return s.front.PID()
}

func (s *Server) stopAll() {
	for _, p := range []*Proc{s.front, s.upstream} {
		if p != nil {
			p.Stop(2 * time.Second)
		}
	}
}

// WaitAnswer polls the admin address until the probe name resolves.
func (s *Server) WaitAnswer(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		rcode, _, err := s.Query(ProbeName, dns.TypeA, 300*time.Millisecond)
		if err == nil && rcode == dns.RcodeSuccess {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("rcode %s", dns.RcodeToString[rcode])
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: no answer for %s within %s: %w%s", s.Name, ProbeName, timeout, last, s.front.logTail())
}

// Query asks the server's admin address from inside its own namespace,
// returning the rcode and the answer RRs as text.
func (s *Server) Query(name string, qtype uint16, timeout time.Duration) (int, []string, error) {
	var conn net.Conn
	err := inns.Run(s.NS, func() error {
		var err error
		conn, err = net.Dial("udp", netip.AddrPortFrom(s.Addr, 53).String())
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := exchange(ctx, conn, name, qtype)
	if err != nil {
		return 0, nil, err
	}
	var rrs []string
	for _, rr := range m.Answer {
		rrs = append(rrs, rr.String())
	}
	return m.Rcode, rrs, nil
}

// exchange sends one query on a connected UDP socket and waits for the reply
// with the same ID (late replies to earlier queries are skipped).
func exchange(ctx context.Context, conn net.Conn, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	co := &dns.Conn{Conn: conn}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		m, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if m.Id == q.Id {
			return m, nil
		}
	}
}
