//go:build linux

package load

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/slaroute/slaroute/deploy/lab/inns"
)

// Break is one TCP session or zone transfer that ended in an error.
type Break struct {
	At     time.Time
	ID     int    // session or transfer number
	Server string // server it was on ("" when none had answered yet)
	Err    string
}

// Transfer is one zone transfer's outcome.
type Transfer struct {
	ID         int
	Start, End time.Time
	Server     string // from the SOA's MNAME (<server>.<zone>)
	Complete   bool   // the closing SOA arrived
	Err        string
	Bytes      int
}

// Sessions is N long-lived TCP DNS sessions, each asking Name (TXT) every
// Interval on one connection; a session that fails is counted and redialled.
type Sessions struct {
	NS       string
	Srcs     []netip.Addr
	Dst      netip.AddrPort
	Name     string
	N        int
	Interval time.Duration // default 200ms
	Timeout  time.Duration // per query, default 1s

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	on     []string // session -> server of its last answer
	hist   [][]serverAt
	breaks []Break
	asked  int
}

type serverAt struct {
	At     time.Time
	Server string
}

// Start dials every session and starts querying.
func (s *Sessions) Start() error {
	if s.Interval == 0 {
		s.Interval = 200 * time.Millisecond
	}
	if s.Timeout == 0 {
		s.Timeout = time.Second
	}
	s.on = make([]string, s.N)
	s.hist = make([][]serverAt, s.N)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for i := range s.N {
		s.wg.Go(func() { s.run(ctx, i) })
	}
	return nil
}

// Stop ends every session.
func (s *Sessions) Stop() {
	s.cancel()
	s.wg.Wait()
}

func (s *Sessions) run(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
	// Stagger the sessions over one interval.
	next := time.Now().Add(time.Duration(rng.Int64N(int64(s.Interval))))
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(s.Interval)
		if conn == nil {
			c, err := dialTCP(ctx, s.NS, s.Srcs[i%len(s.Srcs)], s.Dst, 0)
			if err != nil {
				s.fail(i, err)
				continue
			}
			conn = c
			s.mu.Lock()
			s.on[i] = ""
			s.mu.Unlock()
		}
		server, err := askTCP(conn, s.Name, s.Timeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail(i, err)
			conn.Close()
			conn = nil
			continue
		}
		s.mu.Lock()
		s.asked++
		if s.on[i] != server {
			s.hist[i] = append(s.hist[i], serverAt{time.Now(), server})
		}
		s.on[i] = server
		s.mu.Unlock()
	}
}

func (s *Sessions) fail(i int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.breaks = append(s.breaks, Break{At: time.Now(), ID: i, Server: s.on[i], Err: errText(err)})
	s.on[i] = ""
	s.hist[i] = append(s.hist[i], serverAt{time.Now(), ""})
}

// Breaks returns the session failures so far.
func (s *Sessions) Breaks() []Break {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Break(nil), s.breaks...)
}

// OnAt counts the sessions per server at time t (by their last answer; a
// session broken and not yet answered again counts under "").
func (s *Sessions) OnAt(t time.Time) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, h := range s.hist {
		cur := ""
		for _, x := range h {
			if x.At.After(t) {
				break
			}
			cur = x.Server
		}
		out[cur]++
	}
	return out
}

// Asked is the number of answered queries.
func (s *Sessions) Asked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked
}

// dialTCP connects from src (kernel-chosen port) inside ns; rcvbuf > 0 sets
// SO_RCVBUF before the handshake (a small window keeps a slow reader's
// server waiting, as a slow secondary does).
func dialTCP(ctx context.Context, ns string, src netip.Addr, dst netip.AddrPort, rcvbuf int) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 2 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	var c net.Conn
	err := inns.Run(ns, func() error {
		var err error
		c, err = d.DialContext(ctx, "tcp", dst.String())
		return err
	})
	return c, err
}

// askTCP sends one TXT query on a TCP DNS connection and returns the first
// string of the answer.
func askTCP(conn net.Conn, name string, timeout time.Duration) (string, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	q.RecursionDesired = false
	_ = conn.SetDeadline(time.Now().Add(timeout))
	co := &dns.Conn{Conn: conn}
	if err := co.WriteMsg(q); err != nil {
		return "", err
	}
	m, err := co.ReadMsg()
	if err != nil {
		return "", err
	}
	if m.Id != q.Id || m.Rcode != dns.RcodeSuccess {
		return "", fmt.Errorf("bad answer: id %d rcode %s", m.Id, dns.RcodeToString[m.Rcode])
	}
	for _, rr := range m.Answer {
		if t, ok := rr.(*dns.TXT); ok && len(t.Txt) > 0 {
			return t.Txt[0], nil
		}
	}
	return "", fmt.Errorf("no TXT answer")
}

// Transfers runs N zone transfers (AXFR of Zone) back to back, each read at
// ReadRate bytes/s so that one lasts seconds, like a secondary on a slow
// link; a transfer that errs before its closing SOA counts as broken.
type Transfers struct {
	NS       string
	Srcs     []netip.Addr
	Dst      netip.AddrPort
	Zone     string
	N        int
	ReadRate int           // bytes/s per transfer (default 128 KiB/s)
	Timeout  time.Duration // idle read timeout, default 2s

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	done   []Transfer
	cur    map[int]*Transfer
}

// Start starts the transfers.
func (x *Transfers) Start() error {
	if x.ReadRate == 0 {
		x.ReadRate = 128 << 10
	}
	if x.Timeout == 0 {
		x.Timeout = 2 * time.Second
	}
	x.cur = map[int]*Transfer{}
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	for i := range x.N {
		x.wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				t := x.one(ctx, i, x.Srcs[(i+n*x.N)%len(x.Srcs)])
				if ctx.Err() != nil && !t.Complete {
					return // cut by Stop, not by the network
				}
				x.mu.Lock()
				x.done = append(x.done, t)
				delete(x.cur, i)
				x.mu.Unlock()
				if !t.Complete {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	return nil
}

// Stop ends the transfers; one cut by Stop is not counted.
func (x *Transfers) Stop() []Transfer {
	x.cancel()
	x.wg.Wait()
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Transfer(nil), x.done...)
}

// Done returns the finished transfers so far.
func (x *Transfers) Done() []Transfer {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Transfer(nil), x.done...)
}

// Running returns the transfers in progress (copies).
func (x *Transfers) Running() []Transfer {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []Transfer
	for _, t := range x.cur {
		out = append(out, *t)
	}
	return out
}

func (x *Transfers) one(ctx context.Context, id int, src netip.Addr) Transfer {
	t := &Transfer{ID: id, Start: time.Now()}
	x.mu.Lock()
	x.cur[id] = t
	x.mu.Unlock()
	finish := func(err error) Transfer {
		x.mu.Lock()
		defer x.mu.Unlock()
		t.End = time.Now()
		if err != nil {
			t.Err = errText(err)
		}
		return *t
	}
	conn, err := dialTCP(ctx, x.NS, src, x.Dst, 4096)
	if err != nil {
		return finish(err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	q := new(dns.Msg)
	q.SetAxfr(dns.Fqdn(x.Zone))
	wire, err := q.Pack()
	if err != nil {
		return finish(err)
	}
	if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)); err != nil {
		return finish(err)
	}
	soas := 0
	var hdr [2]byte
	buf := make([]byte, 65535)
	for soas < 2 {
		_ = conn.SetReadDeadline(time.Now().Add(x.Timeout))
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return finish(err)
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return finish(err)
		}
		var m dns.Msg
		if err := m.Unpack(buf[:n]); err != nil {
			return finish(err)
		}
		if m.Rcode != dns.RcodeSuccess {
			return finish(fmt.Errorf("rcode %s", dns.RcodeToString[m.Rcode]))
		}
		for _, rr := range m.Answer {
			if soa, ok := rr.(*dns.SOA); ok {
				soas++
				if soas == 1 {
					x.mu.Lock()
					t.Server, _, _ = strings.Cut(soa.Ns, ".")
					x.mu.Unlock()
				}
			}
		}
		x.mu.Lock()
		t.Bytes += n + 2
		x.mu.Unlock()
		// Read no faster than ReadRate.
		if d := time.Until(t.Start.Add(time.Duration(float64(t.Bytes) / float64(x.ReadRate) * float64(time.Second)))); d > 0 {
			select {
			case <-ctx.Done():
				return finish(ctx.Err())
			case <-time.After(d):
			}
		}
	}
	x.mu.Lock()
	t.Complete = true
	x.mu.Unlock()
	return finish(nil)
}

func errText(err error) string {
	switch {
	case err == nil:
		return ""
	case strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case strings.Contains(err.Error(), "refused"):
		return "refused"
	case strings.Contains(err.Error(), "timeout"):
		return "timeout"
	case err == io.EOF || strings.Contains(err.Error(), "EOF"):
		return "closed"
	}
	return err.Error()
}
