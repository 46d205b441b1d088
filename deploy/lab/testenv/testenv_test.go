package testenv

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// WaitDNS returns only once a query was answered over each transport, even
// when the sockets exist (bound, queries queue in the kernel) before the
// server reads them, and TCP is served later than UDP.
func TestWaitDNS(t *testing.T) {
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		ln = nil
	}
	if ln == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	var answered [2]atomic.Int32 // udp, tcp
	handler := func(i int) dns.HandlerFunc {
		return func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.IPv4(192, 0, 2, 1)})
			answered[i].Add(1)
			w.WriteMsg(m)
		}
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: handler(0)}, {Listener: ln, Handler: handler(1)}}
	for i, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		time.AfterFunc(time.Duration(i+1)*300*time.Millisecond, func() { go s.ActivateAndServe() })
		t.Cleanup(func() { <-started; s.Shutdown() })
	}
	start := time.Now()
	WaitDNS(t, pc.LocalAddr().String(), "health.example.test", 10*time.Second)
	if u, c := answered[0].Load(), answered[1].Load(); u == 0 || c == 0 {
		t.Errorf("WaitDNS returned after %v with %d UDP and %d TCP queries answered, want both", time.Since(start), u, c)
	}
}
