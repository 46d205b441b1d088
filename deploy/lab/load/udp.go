//go:build linux

// Package load is the lab's client traffic: UDP DNS queries from fresh
// random source ports at a chosen rate, long-lived TCP DNS sessions, and
// running zone transfers. Every query asks a name whose answer names the
// server (whoami TXT), so each result says which server handled the flow.
// Everything is sent from inside one network namespace to one service
// address; nothing here knows the lab's topology.
package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/slaroute/slaroute/deploy/lab/inns"
)

// Bin is the width of the UDP result histogram.
const Bin = 100 * time.Millisecond

// UDPConfig is one UDP query generator.
type UDPConfig struct {
	NS      string         // client namespace
	Srcs    []netip.Addr   // source addresses (IPv4), picked at random per query
	Dst     netip.AddrPort // service address
	Name    string         // asked as TXT; the answer's first string names the server
	Rate    float64        // queries per second
	Timeout time.Duration  // a query without answer by then is lost (default 1s)
	Workers int            // sending threads (default GOMAXPROCS)
}

// UDPStats is what a generator saw, per Bin of send time.
type UDPStats struct {
	Start   time.Time
	Servers []string  // index -> server name
	Bins    [][]int32 // [bin][server index]; the last column counts lost queries
	Sent    int
}

// Window sums the answers per server (and lost, under "") of the queries sent
// in [from, to).
func (s *UDPStats) Window(from, to time.Time) map[string]int {
	out := map[string]int{}
	b0, b1 := int(from.Sub(s.Start)/Bin), int(to.Sub(s.Start)/Bin)
	for b := max(b0, 0); b < min(b1, len(s.Bins)); b++ {
		for i, n := range s.Bins[b] {
			name := ""
			if i < len(s.Servers) {
				name = s.Servers[i]
			}
			out[name] += int(n)
		}
	}
	return out
}

// maxServers bounds the histogram's width (the lab has at most 9 servers).
const maxServers = 15

// udpState is shared by the workers.
type udpState struct {
	mu      sync.Mutex
	stats   UDPStats
	names   map[string]int
	running bool
}

func (u *udpState) record(at time.Time, server string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	col := maxServers // lost
	if server != "" {
		i, ok := u.names[server]
		if !ok && len(u.stats.Servers) < maxServers {
			i, ok = len(u.stats.Servers), true
			u.names[server] = i
			u.stats.Servers = append(u.stats.Servers, server)
		}
		if ok {
			col = i
		}
	}
	b := int(at.Sub(u.stats.Start) / Bin)
	if b < 0 {
		return
	}
	for len(u.stats.Bins) <= b {
		u.stats.Bins = append(u.stats.Bins, make([]int32, maxServers+1))
	}
	u.stats.Bins[b][col]++
}

// UDP is a running generator.
type UDP struct {
	cfg    UDPConfig
	st     *udpState
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error
}

// StartUDP starts sending at cfg.Rate until Stop. Each query opens a new
// socket bound to a random source address and port 0 (the kernel picks a
// random ephemeral port, as a resolver does), so every query is a new 5-tuple.
func StartUDP(cfg UDPConfig) (*UDP, error) {
	if len(cfg.Srcs) == 0 || !cfg.Dst.IsValid() || !cfg.Dst.Addr().Is4() || cfg.Rate <= 0 {
		return nil, fmt.Errorf("load: udp: need IPv4 sources, an IPv4 destination and a positive rate")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &UDP{cfg: cfg, cancel: cancel, st: &udpState{names: map[string]int{}}}
	u.st.stats.Start = time.Now()
	for i := range cfg.Workers {
		u.wg.Go(func() {
			err := inns.Run(cfg.NS, func() error {
				return u.worker(ctx, i, cfg.Rate/float64(cfg.Workers))
			})
			if err != nil && ctx.Err() == nil {
				u.errMu.Lock()
				u.err = errors.Join(u.err, err)
				u.errMu.Unlock()
				cancel()
			}
		})
	}
	return u, nil
}

// Stop ends the generator (queries in flight are waited for up to Timeout)
// and returns what it saw.
func (u *UDP) Stop() (UDPStats, error) {
	u.cancel()
	u.wg.Wait()
	u.st.mu.Lock()
	defer u.st.mu.Unlock()
	u.errMu.Lock()
	defer u.errMu.Unlock()
	return u.st.stats, u.err
}

// Snapshot returns a copy of the stats so far.
func (u *UDP) Snapshot() UDPStats {
	u.st.mu.Lock()
	defer u.st.mu.Unlock()
	s := u.st.stats
	s.Servers = append([]string(nil), s.Servers...)
	s.Bins = make([][]int32, len(u.st.stats.Bins))
	for i, b := range u.st.stats.Bins {
		s.Bins[i] = append([]int32(nil), b...)
	}
	return s
}

type pending struct {
	fd   int
	id   uint16
	sent time.Time
}

// worker sends its share of the rate from sockets it opens per query and
// collects the answers with epoll. It runs on a thread in the namespace.
func (u *UDP) worker(ctx context.Context, n int, rate float64) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	defer unix.Close(ep)
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(u.cfg.Name), dns.TypeTXT)
	q.RecursionDesired = false
	query, err := q.Pack()
	if err != nil {
		return err
	}
	dst := &unix.SockaddrInet4{Port: int(u.cfg.Dst.Port()), Addr: u.cfg.Dst.Addr().As4()}
	srcs := make([]unix.SockaddrInet4, len(u.cfg.Srcs))
	for i, a := range u.cfg.Srcs {
		srcs[i] = unix.SockaddrInet4{Addr: a.As4()}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(n)))
	open := map[int]pending{} // fd -> query
	var fifo []pending        // send order, for timeouts
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 1500)
	start := time.Now()
	sent := 0
	closeFD := func(fd int) {
		delete(open, fd)
		unix.Close(fd)
	}
	defer func() {
		for fd := range open {
			unix.Close(fd)
		}
	}()
	stopAt := time.Time{}
	for {
		now := time.Now()
		if stopAt.IsZero() && ctx.Err() != nil {
			stopAt = now.Add(u.cfg.Timeout)
		}
		if !stopAt.IsZero() && (len(open) == 0 || now.After(stopAt)) {
			for _, p := range fifo {
				if cur, ok := open[p.fd]; ok && cur == p {
					u.st.record(p.sent, "")
				}
			}
			return nil
		}
		// Send what is due (at most 64 per round, so answers are read in time).
		due := int(now.Sub(start).Seconds()*rate) - sent
		if !stopAt.IsZero() {
			due = 0
		}
		round := 0
		for range min(due, 64) {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("socket: %w", err)
			}
			src := srcs[rng.IntN(len(srcs))]
			if err := unix.Bind(fd, &src); err != nil {
				unix.Close(fd)
				return fmt.Errorf("bind: %w", err)
			}
			if err := unix.Connect(fd, dst); err != nil {
				unix.Close(fd)
				return fmt.Errorf("connect: %w", err)
			}
			id := uint16(rng.Uint32())
			binary.BigEndian.PutUint16(query[0:2], id)
			p := pending{fd: fd, id: id, sent: time.Now()}
			sent++
			round++
			if _, err := unix.Write(fd, query); err != nil {
				unix.Close(fd)
				u.st.record(p.sent, "")
				continue
			}
			if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
				unix.Close(fd)
				return fmt.Errorf("epoll_ctl: %w", err)
			}
			open[fd] = p
			fifo = append(fifo, p)
		}
		u.st.mu.Lock()
		u.st.stats.Sent += round
		u.st.mu.Unlock()
		k, err := unix.EpollWait(ep, events, 1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:max(k, 0)] {
			fd := int(ev.Fd)
			p, ok := open[fd]
			if !ok {
				continue
			}
			m, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			server := ""
			if err == nil {
				server = whoami(buf[:m], p.id)
			}
			u.st.record(p.sent, server)
			closeFD(fd)
		}
		// Time out the oldest queries.
		now = time.Now()
		i := 0
		for ; i < len(fifo); i++ {
			p := fifo[i]
			cur, ok := open[p.fd]
			if !ok || cur != p {
				continue // answered (the fd may be reused by a newer query)
			}
			if now.Sub(p.sent) < u.cfg.Timeout {
				break
			}
			u.st.record(p.sent, "")
			closeFD(p.fd)
		}
		fifo = fifo[i:]
	}
}

// whoami returns the first TXT string of an answer to query id ("" when the
// message is not a successful answer to it).
func whoami(b []byte, id uint16) string {
	var m dns.Msg
	if err := m.Unpack(b); err != nil || m.Id != id || m.Rcode != dns.RcodeSuccess {
		return ""
	}
	for _, rr := range m.Answer {
		if t, ok := rr.(*dns.TXT); ok && len(t.Txt) > 0 {
			return t.Txt[0]
		}
	}
	return ""
}
