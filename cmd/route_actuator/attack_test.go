package main

// Attacks on the actuator's HTTP edge (issue 9 items 1-2), each against the
// real server (daemon.Serve: exporter-toolkit, the daemon's http.Server, the
// actuator's handlers) on 127.0.0.1. Each failed before the fix; the figures
// they log ("reliability: ...") are the ones in docs/reliability.md:
//
//	go test -run Attack -v ./cmd/route_actuator/ | grep reliability:

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
	"github.com/slaroute/slaroute/cmd/internal/daemon"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// startActuator serves the actuator with flags args and timeouts t until the
// test ends; it returns the listen address and the registry.
func startActuator(t *testing.T, timeouts daemon.Timeouts, args ...string) (string, *prometheus.Registry) {
	t.Helper()
	addr := testenv.FreeAddr(t)
	app, flags, options := newApp()
	if _, err := app.Parse(append([]string{"--config.file=testdata/route_actuator.yml", "--web.listen-address=" + addr}, args...)); err != nil {
		t.Fatal(err)
	}
	flags.Timeouts = timeouts
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	o := options()
	o.Registry, o.Logger = reg, logger
	o.NewBackend = func(*config.Config) (route.Backend, error) {
		return routetest.New(t, map[netip.Prefix]int{netip.MustParsePrefix("192.0.2.53/32"): 1}), nil
	}
	a, err := actuator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, flags, a, reg, logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitFor(t, 10*time.Second, "server start", func() bool {
		resp, err := http.Get("http://" + addr + "/-/healthy")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return addr, reg
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// dial opens a raw connection closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slowPost sends a webhook's headers claiming length bytes and the first body byte.
func slowPost(t *testing.T, addr string, length int) net.Conn {
	t.Helper()
	c := dial(t, addr)
	if _, err := fmt.Fprintf(c, "POST /webhook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", addr, length); err != nil {
		t.Fatal(err)
	}
	return c
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// closed waits up to limit for the server to close c and says how long it took.
func closed(c net.Conn, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return time.Since(start), false
	}
	return time.Since(start), true
}

// Issue 9 item 1: 100 connections claiming Content-Length 4 MiB and sending
// one byte once grew the heap to 943 MB (the buffer was sized from the claim).
func TestAttackClaimedBodySize(t *testing.T) {
	addr, reg := startActuator(t, daemon.DefaultTimeouts, "--webhook.max-requests=200")
	heap0, fd0 := heapAlloc(), openFDs(t)
	const conns = 100
	for range conns {
		slowPost(t, addr, 4<<20)
	}
	waitFor(t, 10*time.Second, "100 webhooks in flight", func() bool {
		return gauge(t, reg, "route_actuator_webhook_requests_in_flight") == conns
	})
	heap1, fd1 := heapAlloc(), openFDs(t)
	growth := int64(heap1) - int64(heap0)
	t.Logf("reliability: %d connections claiming 4 MiB, 1 byte sent: heap %+.1f MiB, fds %d -> %d (both ends in this process)",
		conns, float64(growth)/(1<<20), fd0, fd1)
	if growth > 40<<20 {
		t.Errorf("heap grew by %d MiB for %d one-byte bodies claiming 4 MiB", growth>>20, conns)
	}
}

// Issue 9 item 2: a body sent one byte every 2 s was held forever. The read
// timeout (here 3 s) now ends it.
func TestAttackSlowBody(t *testing.T) {
	timeouts := daemon.DefaultTimeouts
	timeouts.Read = 3 * time.Second
	addr, _ := startActuator(t, timeouts)
	c := slowPost(t, addr, 1000)
	done := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		d, _ := closed(c, 20*time.Second)
		done <- d
	}()
	for i := 0; i < 10; i++ { // 20 s at most
		select {
		case <-done:
			took := time.Since(start)
			t.Logf("reliability: body dribbled 1 byte/2 s: connection closed after %.1fs (read timeout %s)", took.Seconds(), timeouts.Read)
			if took > timeouts.Read+3*time.Second {
				t.Errorf("closed after %s, want about the read timeout %s", took, timeouts.Read)
			}
			return
		case <-time.After(2 * time.Second):
			if _, err := c.Write([]byte(" ")); err != nil {
				t.Logf("write after %s: %v", time.Since(start), err)
			}
		}
	}
	t.Fatalf("connection dribbling 1 byte/2 s still open after %s", time.Since(start))
}

// Issue 9 item 2: idle keep-alive connections were held forever (500 took
// the actuator from 10 to 1,010 file descriptors). The idle timeout (here
// 1 s) now closes them.
func TestAttackIdleKeepAlive(t *testing.T) {
	timeouts := daemon.DefaultTimeouts
	timeouts.Idle = time.Second
	addr, _ := startActuator(t, timeouts)
	fd0 := openFDs(t)
	const conns = 50
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = dial(t, addr)
		fmt.Fprintf(cs[i], "GET /-/healthy HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(cs[i]), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("keep-alive request: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	fd1 := openFDs(t)
	for i, c := range cs {
		took, ok := closed(c, timeouts.Idle+5*time.Second)
		if !ok {
			t.Fatalf("idle connection %d still open after %s (idle timeout %s)", i, took, timeouts.Idle)
		}
		c.Close()
	}
	// The server's ends are closed too: this process holds both.
	var fd2 int
	waitFor(t, 5*time.Second, "file descriptors released", func() bool { fd2 = openFDs(t); return fd2 <= fd0+2 })
	t.Logf("reliability: %d idle keep-alive connections: fds %d -> %d -> %d after the idle timeout (%s)", conns, fd0, fd1, fd2, timeouts.Idle)
}

// Beyond --webhook.max-requests in flight the actuator answers 503 at once
// (Alertmanager retries on 5xx) instead of queueing.
func TestAttackInFlightBound(t *testing.T) {
	addr, reg := startActuator(t, daemon.DefaultTimeouts, "--webhook.max-requests=2")
	slowPost(t, addr, 1000)
	slowPost(t, addr, 1000)
	waitFor(t, 10*time.Second, "2 webhooks in flight", func() bool {
		return gauge(t, reg, "route_actuator_webhook_requests_in_flight") == 2
	})
	body, err := os.ReadFile("../../actuator/webhook/testdata/heartbeat.json")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.Post("http://"+addr+"/webhook", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || took > 2*time.Second {
		t.Errorf("third webhook with 2 in flight: %d after %s, want 503 at once", resp.StatusCode, took)
	}
	t.Logf("reliability: webhook beyond --webhook.max-requests=2: %d after %s", resp.StatusCode, took.Round(time.Millisecond))
}
