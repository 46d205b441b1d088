package probe

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/exporter/config"
)

// FuzzClassify feeds response bytes to the classifier for a target asking
// qtype (optionally with one expected answer, optionally with NXDOMAIN
// valid). The seeds in testdata/fuzz/FuzzClassify are the responses of
// TestProbeResults, the CNAME-only cases among them, in wire form.
// Invariants: no panic; the result is one a response can have; it agrees
// with the message (no success without an RR of the asked type, no
// no_answer while the asked name owns one, rcode results only for that
// rcode); a Msg reused from an earlier response (as the UDP path does)
// classifies exactly like a fresh one.
func FuzzClassify(f *testing.F) {
	prev := new(dns.Msg)
	prev.SetQuestion(qname, dns.TypeA)
	prev.Response = true
	prev.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: netip.MustParseAddr("192.0.2.1").AsSlice()}}
	prevWire, err := prev.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, resp []byte, qtype uint16, expect string, nxValid bool) {
		tg := target(netip.MustParseAddrPort("127.0.0.1:53"), "udp")
		tg.QueryType = qtype
		if expect != "" {
			tg.ExpectAnswers = []string{expect}
		}
		if nxValid {
			tg.ValidRcodes = []int{dns.RcodeSuccess, dns.RcodeNameError}
		}
		p, err := New(tg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		var m dns.Msg
		if m.Unpack(resp) != nil {
			return // the prober reports malformed before classifying
		}
		const rtt = 7 * time.Millisecond
		o := p.classify(&m, rtt)
		checkOutcome(t, tg, &m, o)

		if err := p.msg.Unpack(prevWire); err != nil {
			t.Fatal(err)
		}
		if err := p.msg.Unpack(resp); err != nil {
			t.Fatalf("unpacks fresh but not into a reused Msg: %v", err)
		}
		if o2 := p.classify(&p.msg, rtt); o2.Result != o.Result {
			t.Errorf("reused Msg: %s, fresh Msg: %s", o2.Result, o.Result)
		}
	})
}

func checkOutcome(t *testing.T, tg config.Target, m *dns.Msg, o Outcome) {
	t.Helper()
	if !o.Responded || o.RTT != 7*time.Millisecond {
		t.Errorf("responded %v rtt %v: a classified response must keep its RTT", o.Responded, o.RTT)
	}
	if (o.Result == Success) != (o.Err == nil) {
		t.Errorf("result %s with err %v", o.Result, o.Err)
	}
	var ofType, owned, expected bool // RRs of the asked type: any, owned by the asked name, matching expect
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Rrtype != tg.QueryType {
			continue
		}
		ofType = true
		owned = owned || strings.EqualFold(h.Name, tg.QueryName)
		expected = expected || slices.Contains(tg.ExpectAnswers, config.CanonicalRdata(rr))
	}
	valid := slices.Contains(tg.ValidRcodes, m.Rcode)
	wellFormed := m.Response && m.Opcode == dns.OpcodeQuery
	var bad error
	switch o.Result {
	case Success:
		switch {
		case !wellFormed || !valid:
			bad = errors.New("success for a non-response or an invalid rcode")
		case !ofType:
			bad = errors.New("success without an RR of the asked type")
		case len(tg.ExpectAnswers) > 0 && !expected:
			bad = errors.New("success without an expected answer")
		}
	case Mismatch:
		if !wellFormed || !valid || !ofType || len(tg.ExpectAnswers) == 0 {
			bad = errors.New("mismatch needs a valid response with an RR of the asked type and expect_answers")
		}
	case NoAnswer:
		if !wellFormed || !valid || owned {
			bad = errors.New("no_answer for a response whose asked name owns an RR of the asked type, or an invalid rcode")
		}
	case Servfail, Refused, Nxdomain, Rcode:
		want := map[int]Result{dns.RcodeServerFailure: Servfail, dns.RcodeRefused: Refused, dns.RcodeNameError: Nxdomain}[m.Rcode]
		if want == Success { // zero value: any other rcode
			want = Rcode
		}
		if !wellFormed || valid || o.Result != want {
			bad = errors.New("rcode result does not match the response's rcode")
		}
	case Malformed:
		if wellFormed && len(m.Question) == 1 && m.Question[0].Qtype == tg.QueryType && strings.EqualFold(m.Question[0].Name, tg.QueryName) {
			bad = errors.New("malformed for a response to the query")
		}
	default:
		bad = errors.New("not a result a response can have")
	}
	if bad != nil {
		t.Errorf("%s (err %v) for rcode %s: %v\n%s", o.Result, o.Err, dns.RcodeToString[m.Rcode], bad, m)
	}
}
