//go:build linux

// Command loadgen drives a route_actuator running in the same network
// namespace (bench.sh starts both under `ip netns exec`) and prints:
//
//   - webhook-to-kernel latency of one withdraw: from just before the request
//     is written to the moment a netlink socket subscribed to route and
//     nexthop notifications in the namespace receives the kernel's change
//     (the replaced resilient group, or the replaced multipath route);
//   - sustained webhooks per second with 100-alert payloads, unchanged
//     (Alertmanager's re-notifications) and toggling one nexthop of every
//     route (each webhook changes the kernel).
//
// Every request goes to 127.0.0.1; the run is bounded in count and time.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

var (
	url         = flag.String("url", "http://127.0.0.1:9754", "route_actuator base URL (loopback only)")
	mode        = flag.String("mode", "resilient", "backend mode of the actuator: resilient or multipath")
	services    = flag.Int("services", 33, "routes 192.0.2.1..N-1/32 plus 192.0.2.53/32, each via 198.51.100.11-13 (must match its config)")
	withdraws   = flag.Int("withdraws", 200, "withdraw/restore cycles for the latency measurement")
	duration    = flag.Duration("duration", 5*time.Second, "length of each throughput phase")
	concurrency = flag.Int("concurrency", 4, "concurrent webhook senders in the throughput phases")
)

const (
	target  = "192.0.2.53/32"
	victim  = "198.51.100.12"
	rtnlIP4 = 7  // RTNLGRP_IPV4_ROUTE
	rtnlNH  = 32 // RTNLGRP_NEXTHOP
	nhaGrp  = 2  // NHA_GROUP
	rtaNHID = 30 // RTA_NH_ID
)

var nexthops = []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency * 2}}
	t0 := time.Now().Add(-time.Hour)
	svcs := serviceList(*services)

	// Heartbeat first: without it every route is frozen.
	mon, err := nl.Subscribe(unix.NETLINK_ROUTE, rtnlIP4, rtnlNH)
	if err != nil {
		return fmt.Errorf("subscribe to route notifications (root, same namespace?): %w", err)
	}
	defer mon.Close()
	if err := post(c, steady(svcs, t0, false)); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	drain(mon)

	// Latency of one withdraw, restoring in between (restore not measured).
	var toKernel, toReply []time.Duration
	for i := range *withdraws {
		start := time.Now()
		body := payload(watchdog(t0), down(target, victim, start, time.Time{}))
		sent := time.Now()
		replied := make(chan error, 1)
		var replyAt time.Time
		go func() { err := post(c, body); replyAt = time.Now(); replied <- err }()
		changed, err := waitTarget(mon, 2)
		if err != nil {
			return fmt.Errorf("withdraw %d: %w", i, err)
		}
		if err := <-replied; err != nil {
			return err
		}
		toKernel = append(toKernel, changed.Sub(sent))
		toReply = append(toReply, replyAt.Sub(sent))
		if err := post(c, payload(watchdog(t0), down(target, victim, start, time.Now()))); err != nil {
			return err
		}
		if _, err := waitTarget(mon, 3); err != nil {
			return fmt.Errorf("restore %d: %w", i, err)
		}
	}
	fmt.Printf("mode %s, %d routes x 3 nexthops\n", *mode, len(svcs))
	fmt.Printf("withdraw, webhook sent -> kernel changed (netlink notification): n=%d %s\n", len(toKernel), stats(toKernel))
	fmt.Printf("withdraw, webhook sent -> HTTP 200 received:                    n=%d %s\n", len(toReply), stats(toReply))

	// Throughput: identical 100-alert payloads (no kernel change), then
	// payloads that withdraw and restore .12 of every route in turn.
	same := steady(svcs, t0, true)
	fmt.Printf("100-alert payload: %d bytes\n", len(same))
	n, errs, el := load(c, func(int64) []byte { return same })
	fmt.Printf("100-alert webhooks, unchanged: %d in %.1fs = %.0f/s, %d errors (concurrency %d)\n", n, el.Seconds(), float64(n)/el.Seconds(), errs, *concurrency)
	var mu sync.Mutex
	seq, last := int64(0), time.Now()
	n, errs, el = load(c, func(int64) []byte {
		// Sequence and event time drawn together so that times grow with
		// the sequence; the payload is marshalled outside the lock.
		mu.Lock()
		seq++
		if now := time.Now(); now.After(last) {
			last = now
		} else {
			last = last.Add(time.Microsecond)
		}
		s, at := seq, last
		mu.Unlock()
		return toggled(svcs, t0, at, s)
	})
	fmt.Printf("100-alert webhooks, toggling %s on every route: %d in %.1fs = %.0f/s, %d errors (concurrency %d)\n",
		victim, n, el.Seconds(), float64(n)/el.Seconds(), errs, *concurrency)
	if errs > 0 {
		return errors.New("webhooks failed")
	}
	return nil
}

// load sends payloads from *concurrency goroutines for *duration.
func load(c *http.Client, body func(int64) []byte) (n, errs int64, elapsed time.Duration) {
	var wg sync.WaitGroup
	var nn, ee atomic.Int64
	start := time.Now()
	deadline := start.Add(*duration)
	for range *concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := post(c, body(nn.Load())); err != nil {
					if ee.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "loadgen:", err)
					}
				}
				nn.Add(1)
			}
		})
	}
	wg.Wait()
	return nn.Load(), ee.Load(), time.Since(start)
}

func serviceList(n int) []string {
	out := []string{target}
	for i := 1; i < n; i++ {
		out = append(out, fmt.Sprintf("192.0.2.%d/32", i))
	}
	return out
}

// steady is the heartbeat plus, with alerts, 99 DNSServerDown alerts: for
// every service .11 and .13 resolved, .12 firing (a 100-alert group).
func steady(svcs []string, t0 time.Time, alerts bool) []byte {
	as := []template.Alert{watchdog(t0)}
	for _, s := range svcs {
		if !alerts {
			break
		}
		for _, nh := range nexthops {
			if nh == victim {
				as = append(as, down(s, nh, t0, time.Time{}))
			} else {
				as = append(as, down(s, nh, t0, t0.Add(time.Second)))
			}
		}
	}
	return payload(as...)
}

// toggled fires .12 of every service on odd calls and resolves it on even ones.
func toggled(svcs []string, t0, at time.Time, seq int64) []byte {
	as := []template.Alert{watchdog(t0)}
	for _, s := range svcs {
		for _, nh := range nexthops {
			switch {
			case nh != victim:
				as = append(as, down(s, nh, t0, t0.Add(time.Second)))
			case seq%2 == 1:
				as = append(as, down(s, nh, at, time.Time{}))
			default:
				as = append(as, down(s, nh, at.Add(-time.Microsecond), at))
			}
		}
	}
	return payload(as...)
}

func watchdog(t0 time.Time) template.Alert {
	return template.Alert{Status: "firing", Labels: template.KV{"alertname": "DNSSLAWatchdog", "severity": "none"},
		Annotations: template.KV{}, StartsAt: t0, Fingerprint: "ffffffffffffffff"}
}

func down(service, nexthop string, start, end time.Time) template.Alert {
	a := template.Alert{
		Status:      "firing",
		Labels:      template.KV{"alertname": "DNSServerDown", "nexthop": nexthop, "service": service, "severity": "critical"},
		Annotations: template.KV{"summary": "DNS server " + nexthop + " fails its SLA for " + service},
		StartsAt:    start, Fingerprint: fmt.Sprintf("%x", service+nexthop),
	}
	if !end.IsZero() {
		a.Status, a.EndsAt = "resolved", end
	}
	return a
}

func payload(alerts ...template.Alert) []byte {
	status := "resolved"
	for _, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
	}
	b, err := json.Marshal(struct {
		template.Data
		Version         string `json:"version"`
		GroupKey        string `json:"groupKey"`
		TruncatedAlerts int    `json:"truncatedAlerts"`
	}{
		Data: template.Data{Receiver: "route_actuator", Status: status, Alerts: alerts, GroupLabels: template.KV{},
			CommonLabels: template.KV{}, CommonAnnotations: template.KV{}, ExternalURL: "http://127.0.0.1:9093"},
		Version: "4", GroupKey: `{}:{alertname=~"DNS.*"}`,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func post(c *http.Client, body []byte) error {
	resp, err := c.Post(*url+"/webhook", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(msg, []byte("ok")) {
		return fmt.Errorf("POST /webhook: %d %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// waitTarget returns when the kernel announces that the target route now
// has n nexthops: a resilient group of n members (the only group changing),
// or the target's multipath route with n gateways.
func waitTarget(s *nl.NetlinkSocket, n int) (time.Time, error) {
	tv := unix.NsecToTimeval((2 * time.Second).Nanoseconds())
	if err := s.SetReceiveTimeout(&tv); err != nil {
		return time.Time{}, err
	}
	want := netip.MustParsePrefix(target)
	for {
		msgs, _, err := s.Receive()
		if err != nil {
			return time.Time{}, fmt.Errorf("waiting for the kernel to show %d nexthops: %w", n, err)
		}
		at := time.Now()
		for _, m := range msgs {
			switch {
			case m.Header.Type == unix.RTM_NEWNEXTHOP && len(m.Data) > unix.SizeofNhmsg:
				if g := attr(m.Data[unix.SizeofNhmsg:], nhaGrp); g != nil && len(g)/unix.SizeofNexthopGrp == n {
					return at, nil
				}
			case m.Header.Type == unix.RTM_NEWROUTE && len(m.Data) > unix.SizeofRtMsg && *mode == "multipath":
				dst, _ := netip.AddrFromSlice(attr(m.Data[unix.SizeofRtMsg:], unix.RTA_DST))
				if p, err := dst.Prefix(int(m.Data[1])); err == nil && p == want && gateways(m.Data[unix.SizeofRtMsg:]) == n {
					return at, nil
				}
			}
		}
	}
}

func attr(b []byte, typ uint16) []byte {
	attrs, err := nl.ParseRouteAttr(b)
	if err != nil {
		return nil
	}
	for _, a := range attrs {
		if a.Attr.Type&^unix.NLA_F_NESTED == typ {
			return a.Value
		}
	}
	return nil
}

// gateways counts the nexthops of a route message.
func gateways(b []byte) int {
	if attr(b, rtaNHID) != nil {
		return -1
	}
	mp := attr(b, unix.RTA_MULTIPATH)
	if mp == nil {
		return 1
	}
	n := 0
	for len(mp) >= unix.SizeofRtNexthop {
		l := int(nl.NativeEndian().Uint16(mp))
		if l < unix.SizeofRtNexthop {
			break
		}
		n++
		mp = mp[min((l+3)&^3, len(mp)):]
	}
	return n
}

func drain(s *nl.NetlinkSocket) {
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	_ = s.SetReceiveTimeout(&tv)
	for {
		if _, _, err := s.Receive(); err != nil {
			return
		}
	}
}

func stats(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) string {
		return fmt.Sprintf("%.3fms", float64(s[min(int(p*float64(len(s))), len(s)-1)].Microseconds())/1000)
	}
	return fmt.Sprintf("p50=%s p90=%s p99=%s max=%s", q(0.5), q(0.9), q(0.99), q(1))
}
