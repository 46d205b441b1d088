package exporter

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// serveUDP runs a miekg/dns server on 127.0.0.1 with its own handler.
func serveUDP(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dns.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	go s.ActivateAndServe()
	<-started
	t.Cleanup(func() { s.Shutdown() })
	return pc.LocalAddr().String()
}

// Misbehaving servers (wrong IDs and garbage, silence, closed port) must not
// make the running exporter grow goroutines, sockets or heap over time.
func TestNoGrowthAgainstMisbehavingServers(t *testing.T) {
	spam := serveUDP(t, func(w dns.ResponseWriter, r *dns.Msg) {
		for i := range 3 {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Id += uint16(i + 1)
			w.WriteMsg(m)
		}
		w.Write([]byte{0xde, 0xad})
	})
	silent := serveUDP(t, func(dns.ResponseWriter, *dns.Msg) {})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()

	var cfg strings.Builder
	cfg.WriteString("defaults:\n  interval: 40ms\n  timeout: 15ms\n  query_name: h.example.test.\ntargets:\n")
	for i, addr := range []string{spam, silent, closed} {
		for j := range 10 {
			fmt.Fprintf(&cfg, "  - name: t%d-%d\n    address: %s\n", i, j, addr)
		}
	}
	file := filepath.Join(t.TempDir(), "dns_sla_exporter.yml")
	os.WriteFile(file, []byte(cfg.String()), 0o644)
	reg := prometheus.NewRegistry()
	e, _ := start(t, Options{ConfigFile: file, Registry: reg})
	if err := e.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	sample := func() (int, int, uint64) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			testenv.Missing(t, "counting open fds: %v", err) // else the fd check compares 0 with 0
		}
		return runtime.NumGoroutine(), len(ents), ms.HeapAlloc
	}
	time.Sleep(300 * time.Millisecond) // every target has probed a few times
	g0, f0, h0 := sample()
	time.Sleep(1200 * time.Millisecond) // about 30 more probes per target
	g1, f1, h1 := sample()
	// Workers come and go with the probes in flight; sockets are one per UDP target.
	if g1 > g0+10 {
		t.Errorf("goroutines %d -> %d", g0, g1)
	}
	if f1 > f0+3 {
		t.Errorf("open fds %d -> %d", f0, f1)
	}
	if h1 > h0+4<<20 {
		t.Errorf("heap %d -> %d bytes", h0, h1)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "dns_sla_probes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					got[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	// 10 targets each, ~40 probes each: every misbehaviour was exercised many times.
	for _, r := range []string{"malformed", "timeout", "network_error"} {
		if got[r] < 100 {
			t.Errorf("%v %s probes, want >= 100 (all: %v)", got[r], r, got)
		}
	}
	if got["success"] != 0 {
		t.Errorf("%v successes against misbehaving servers", got["success"])
	}
}
