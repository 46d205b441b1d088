// Package probe performs one DNS exchange against a server and classifies it
// the way Cisco IP SLA does: success iff a response with the query's ID
// arrives before the timeout, its RCODE is valid and its answer section holds
// an RR of the asked type for the asked name (matching expected values when
// configured). It knows nothing about scheduling or metrics.
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/exporter/config"
)

// Result classifies one probe; its String is the `result` label value.
type Result uint8

// The result values, in the order of Results.
const (
	Success Result = iota
	Timeout
	NetworkError
	Servfail
	Refused
	Nxdomain
	Rcode
	NoAnswer
	Mismatch
	Malformed
	NumResults
)

var names = [NumResults]string{"success", "timeout", "network_error", "servfail", "refused", "nxdomain", "rcode", "no_answer", "mismatch", "malformed"}

func (r Result) String() string {
	if r < NumResults {
		return names[r]
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// Outcome is what one probe observed.
type Outcome struct {
	Result Result
	// RTT is the time from sending the query to receiving its response
	// (including a TCP retry after truncation); valid when Responded.
	RTT       time.Duration
	Responded bool
	// Err explains failures for debug logs; nil on success.
	Err error
}

// maxUDP bounds the responses read over UDP; larger ones are truncated by
// the server anyway without EDNS0.
const maxUDP = 4096

// bufs holds read buffers: only probes waiting for a response hold one, so
// thousands of targets share a handful instead of keeping 4 KiB each.
var bufs = sync.Pool{New: func() any { b := make([]byte, maxUDP); return &b }}

// Prober probes one target. It keeps a connected UDP socket across probes
// (one socket per target: no per-probe socket set-up, ICMP errors reported
// as network_error). Not safe for concurrent use: the scheduler guarantees
// one probe in flight per target.
type Prober struct {
	t      config.Target
	query  []byte // packed once; only the ID (bytes 0-1) changes
	conn   *net.UDPConn
	prevID uint16 // a late answer to the previous query is ignored, not malformed
	msg    dns.Msg
	tls    *tls.Config // protocol tcp-tls
}

// New prepares a prober for t; it opens no socket yet.
func New(t config.Target) (*Prober, error) {
	q := new(dns.Msg)
	q.SetQuestion(t.QueryName, t.QueryType)
	q.RecursionDesired = t.RecursionDesired
	packed, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing query for target %q: %w", t.Name, err)
	}
	p := &Prober{t: t, query: packed}
	if t.Protocol == "tcp-tls" {
		p.tls = &tls.Config{
			ServerName:         t.TLSServerName,
			InsecureSkipVerify: t.TLSInsecureSkipVerify,
			MinVersion:         tls.VersionTLS12,
			// Resumption makes the per-probe handshake cheaper.
			ClientSessionCache: tls.NewLRUClientSessionCache(1),
		}
		if p.tls.ServerName == "" {
			p.tls.ServerName = t.Address.Addr().String()
		}
		if t.TLSCAFile != "" {
			pool, err := config.LoadCA(t.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("target %q: tls_ca_file: %w", t.Name, err)
			}
			p.tls.RootCAs = pool
		} else if pool, err := x509.SystemCertPool(); err == nil {
			// Loaded here, not lazily inside the first probe's timeout.
			p.tls.RootCAs = pool
		}
	}
	return p, nil
}

// Close releases the socket.
func (p *Prober) Close() error {
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn = nil
	return err
}

// Probe sends one query and waits at most the target's timeout (or until
// ctx's deadline, if earlier).
func (p *Prober) Probe(ctx context.Context) Outcome {
	start := time.Now()
	deadline := start.Add(p.t.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	id := uint16(rand.Uint32())
	if id == p.prevID {
		id++
	}
	binary.BigEndian.PutUint16(p.query, id)
	exchange := p.udp
	if p.t.Protocol != "udp" {
		exchange = p.tcp
	}
	o := exchange(id, start, deadline)
	p.prevID = id
	return o
}

func (p *Prober) udp(id uint16, start, deadline time.Time) Outcome {
	if p.conn == nil {
		var laddr *net.UDPAddr
		if p.t.SourceAddress.IsValid() {
			laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.t.SourceAddress, 0))
		}
		c, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(p.t.Address))
		if err != nil {
			return Outcome{Result: NetworkError, Err: err}
		}
		p.conn = c
	}
	if _, err := p.conn.Write(p.query); err != nil {
		return p.udpError(err)
	}
	if err := p.conn.SetReadDeadline(deadline); err != nil {
		return p.udpError(err)
	}
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	var bad error // a packet that was not our response
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			if isTimeout(err) {
				if bad != nil {
					return Outcome{Result: Malformed, Err: fmt.Errorf("no valid response before the timeout: %w", bad)}
				}
				return Outcome{Result: Timeout, Err: err}
			}
			return p.udpError(err)
		}
		rtt := time.Since(start)
		pkt := buf[:n]
		if n < 2 {
			bad = fmt.Errorf("%d-byte packet", n)
			continue
		}
		switch got := binary.BigEndian.Uint16(pkt); got {
		case id:
		case p.prevID:
			continue // late answer to the previous probe
		default:
			bad = fmt.Errorf("response ID %d, want %d", got, id)
			continue
		}
		if err := p.msg.Unpack(pkt); err != nil {
			return Outcome{Result: Malformed, RTT: rtt, Responded: true, Err: fmt.Errorf("unpacking response: %w", err)}
		}
		if p.msg.Truncated {
			// Retry over TCP within what is left of the same timeout.
			o := p.tcp(id, start, deadline)
			if o.Result == Timeout || o.Result == NetworkError {
				o.Err = fmt.Errorf("truncated UDP response, TCP retry: %w", o.Err)
			}
			return o
		}
		return p.classify(&p.msg, rtt)
	}
}

// udpError maps a socket error; the socket is reopened unless the error is
// an ICMP report (refused/unreachable), which leaves it usable.
func (p *Prober) udpError(err error) Outcome {
	if !isICMP(err) {
		p.Close()
	}
	return Outcome{Result: NetworkError, Err: err}
}

// tcp does the exchange over a new TCP connection, or TLS (DNS over TLS,
// RFC 7858) for tcp-tls targets; a failed handshake or verification is a
// network_error. A udp target's truncation retry is plain TCP: it has no p.tls.
func (p *Prober) tcp(id uint16, start, deadline time.Time) Outcome {
	d := &net.Dialer{Deadline: deadline}
	if p.t.SourceAddress.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.t.SourceAddress, 0))
	}
	dial := d.Dial
	if p.tls != nil {
		dial = (&tls.Dialer{NetDialer: d, Config: p.tls}).Dial
	}
	c, err := dial("tcp", p.t.Address.String())
	if err != nil {
		return netError(err)
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return Outcome{Result: NetworkError, Err: err}
	}
	// RFC 1035 4.2.2: a two-byte length, then the message.
	req := append(binary.BigEndian.AppendUint16(nil, uint16(len(p.query))), p.query...)
	if _, err := c.Write(req); err != nil {
		return netError(err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return netError(err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		if isTimeout(err) {
			return Outcome{Result: Timeout, Err: err}
		}
		return Outcome{Result: Malformed, RTT: time.Since(start), Responded: true, Err: fmt.Errorf("short TCP response: %w", err)}
	}
	rtt := time.Since(start)
	if len(resp) < 2 || binary.BigEndian.Uint16(resp) != id {
		return Outcome{Result: Malformed, RTT: rtt, Responded: true, Err: errors.New("TCP response with a wrong ID")}
	}
	var m dns.Msg
	if err := m.Unpack(resp); err != nil {
		return Outcome{Result: Malformed, RTT: rtt, Responded: true, Err: fmt.Errorf("unpacking response: %w", err)}
	}
	return p.classify(&m, rtt)
}

// classify applies the RCODE and answer rules to a response with our ID.
func (p *Prober) classify(m *dns.Msg, rtt time.Duration) Outcome {
	o := Outcome{RTT: rtt, Responded: true}
	if !m.Response || m.Opcode != dns.OpcodeQuery || !p.sameQuestion(m) {
		o.Result, o.Err = Malformed, errors.New("not a response to the query")
		return o
	}
	if !slices.Contains(p.t.ValidRcodes, m.Rcode) {
		switch m.Rcode {
		case dns.RcodeServerFailure:
			o.Result = Servfail
		case dns.RcodeRefused:
			o.Result = Refused
		case dns.RcodeNameError:
			o.Result = Nxdomain
		default:
			o.Result = Rcode
		}
		o.Err = fmt.Errorf("rcode %s", dns.RcodeToString[m.Rcode])
		return o
	}
	o.Result, o.Err = p.answers(m.Answer)
	return o
}

// sameQuestion rejects responses to another question (the ID can collide).
// Servers may omit the question section in error responses.
func (p *Prober) sameQuestion(m *dns.Msg) bool {
	if len(m.Question) == 0 {
		return m.Rcode != dns.RcodeSuccess
	}
	q := m.Question[0]
	return q.Qtype == p.t.QueryType && strings.EqualFold(q.Name, p.t.QueryName)
}

// answers looks for an RR of the query type owned by the query name or by a
// name it is aliased to through CNAMEs in the same answer section.
func (p *Prober) answers(rrs []dns.RR) (Result, error) {
	owner := p.t.QueryName
	found := false
	// Follow a CNAME chain in at most len(rrs) steps (loops end there too).
	for range len(rrs) + 1 {
		next := ""
		for _, rr := range rrs {
			h := rr.Header()
			if !strings.EqualFold(h.Name, owner) {
				continue
			}
			if h.Rrtype == p.t.QueryType {
				found = true
				if len(p.t.ExpectAnswers) == 0 || slices.Contains(p.t.ExpectAnswers, config.CanonicalRdata(rr)) {
					return Success, nil
				}
			} else if c, ok := rr.(*dns.CNAME); ok && h.Rrtype == dns.TypeCNAME {
				next = c.Target
			}
		}
		if next == "" {
			break
		}
		owner = next
	}
	if found {
		return Mismatch, errors.New("no answer matches expect_answers")
	}
	return NoAnswer, fmt.Errorf("no %s record for %s in the answer", dns.TypeToString[p.t.QueryType], p.t.QueryName)
}

func isTimeout(err error) bool {
	// A TLS handshake reports the dial deadline as a context error.
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
}

func isICMP(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTDOWN)
}

// netError is a network_error, or a timeout when the deadline cut it short.
func netError(err error) Outcome {
	if isTimeout(err) {
		return Outcome{Result: Timeout, Err: err}
	}
	return Outcome{Result: NetworkError, Err: err}
}
