//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/deploy/lab/inns"
)

// Flow is one client 5-tuple: a UDP socket bound to one client source
// address and an ephemeral port, connected to the service address.
type Flow struct {
	Src  netip.AddrPort
	conn *net.UDPConn
	mu   sync.Mutex
}

// Clients holds many flows spread over the client source addresses.
type Clients struct {
	Flows []*Flow
}

// Answer is one client query's outcome: the server named by the TXT answer,
// or Err.
type Answer struct {
	At     time.Time
	Flow   int
	Server string
	Err    error
}

// NewClients opens n flows in the client namespace, round-robin over its
// source addresses. Close them with Close.
func (l *Lab) NewClients(n int) (*Clients, error) {
	srcs := l.ClientAddrs()
	c := &Clients{}
	err := inns.Run(l.Client, func() error {
		for i := range n {
			laddr := &net.UDPAddr{IP: srcs[i%len(srcs)].AsSlice()}
			conn, err := net.DialUDP("udp", laddr, &net.UDPAddr{IP: ServiceAddr.AsSlice(), Port: 53})
			if err != nil {
				return fmt.Errorf("client flow %d: %w", i, err)
			}
			c.Flows = append(c.Flows, &Flow{Src: conn.LocalAddr().(*net.UDPAddr).AddrPort(), conn: conn})
		}
		return nil
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes every flow.
func (c *Clients) Close() {
	for _, f := range c.Flows {
		f.conn.Close()
	}
}

// Ask sends one whoami query on the flow and returns the answering server.
func (f *Flow) Ask(timeout time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := exchange(ctx, f.conn, WhoamiName, dns.TypeTXT)
	if err != nil {
		return "", err
	}
	if m.Rcode != dns.RcodeSuccess {
		return "", fmt.Errorf("rcode %s", dns.RcodeToString[m.Rcode])
	}
	for _, rr := range m.Answer {
		if t, ok := rr.(*dns.TXT); ok && len(t.Txt) > 0 {
			return strings.Join(t.Txt, ""), nil
		}
	}
	return "", errors.New("no TXT answer")
}

// Sample asks once on every flow concurrently; result[i] is flow i's answer.
func (c *Clients) Sample(timeout time.Duration) []Answer {
	out := make([]Answer, len(c.Flows))
	var wg sync.WaitGroup
	for i, f := range c.Flows {
		wg.Go(func() {
			srv, err := f.Ask(timeout)
			out[i] = Answer{At: time.Now(), Flow: i, Server: srv, Err: err}
		})
	}
	wg.Wait()
	return out
}

// Spread counts answers per server; failures count under "".
func Spread(as []Answer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		if a.Err != nil {
			m[""]++
			continue
		}
		m[a.Server]++
	}
	return m
}

// Run queries at a fixed total rate (queries/s) spread evenly over the
// flows until ctx ends, and returns every answer in time order per flow.
// Each query times out after min(period, 500ms) so a flow never overlaps.
func (c *Clients) Run(ctx context.Context, rate float64) []Answer {
	period := time.Duration(float64(len(c.Flows)) / rate * float64(time.Second))
	timeout := min(period, 500*time.Millisecond)
	var mu sync.Mutex
	var out []Answer
	var wg sync.WaitGroup
	start := time.Now()
	for i, f := range c.Flows {
		wg.Go(func() {
			// Stagger flows over one period so the rate is smooth.
			next := start.Add(period * time.Duration(i) / time.Duration(len(c.Flows)))
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				at := time.Now()
				srv, err := f.Ask(timeout)
				mu.Lock()
				out = append(out, Answer{At: at, Flow: i, Server: srv, Err: err})
				mu.Unlock()
				next = next.Add(period)
				if now := time.Now(); next.Before(now) {
					next = now
				}
			}
		})
	}
	wg.Wait()
	return out
}
