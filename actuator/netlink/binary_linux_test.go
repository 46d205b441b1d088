//go:build linux && integration

package netlink

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/inns"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// client returns an HTTP client whose connections are opened inside the lab
// namespace, so 127.0.0.1 is the namespace's own loopback.
func (l *lab) client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: inns.Dialer(l.name)}}
}

const actuatorConfig = `backend:
  type: netlink
  netlink:
    protocol: 250
    mode: %s
` + testenv.ActuatorRoutes

// startActuator runs the built binary inside the lab namespace, listening on
// the namespace's 127.0.0.1:9754, and waits until it has read the kernel.
func (l *lab) startActuator(t *testing.T, mode string) *http.Client {
	t.Helper()
	c := l.client()
	testenv.StartActuator(t, l.name, fmt.Sprintf(actuatorConfig, mode), c)
	return c
}

// post sends a webhook, which the actuator must acknowledge with "ok".
func post(t *testing.T, c *http.Client, body []byte) {
	t.Helper()
	if msg := testenv.PostWebhook(t, c, body); strings.TrimSpace(msg) != "ok" {
		t.Fatalf("POST /webhook: 200 %s", msg)
	}
}

// eventually polls the kernel (via gateways) until it returns want.
func eventually(t *testing.T, what string, want []string, gateways func() []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := gateways()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: kernel has %v, want %v", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kernelGateways reads the service route's gateways from `ip route show`
// (both modes print "nexthop via" lines; resilient mode after "nhid G").
func (l *lab) kernelGateways() []string {
	var gws []string
	f := strings.Fields(l.ourRoute())
	for i := range f[:max(len(f)-1, 0)] {
		if f[i] == "via" {
			gws = append(gws, f[i+1])
		}
	}
	slices.Sort(gws)
	return gws
}

// TestBinaryWebhooks runs the built route_actuator inside a namespace and
// drives it with Alertmanager webhook payloads, checking the kernel route
// after each.
func TestBinaryWebhooks(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := newLab(t)
			c := l.startActuator(t, mode)
			all := []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}
			t0 := time.Now().Add(-time.Minute)

			// No heartbeat yet: everything frozen, nothing installed.
			if got := l.ourRoute(); got != "" {
				t.Fatalf("route installed before the heartbeat: %q", got)
			}
			post(t, c, testenv.Payload(testenv.Watchdog(t0)))
			eventually(t, "heartbeat", all, l.kernelGateways)
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, all) {
					t.Fatalf("group members = %v", m)
				}
			}

			post(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Time{}), testenv.Watchdog(t0)))
			eventually(t, "withdraw", []string{"198.51.100.11", "198.51.100.13"}, l.kernelGateways)
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, []string{"198.51.100.11", "198.51.100.13"}) {
					t.Fatalf("group members after withdraw = %v", m)
				}
			}

			// A duplicate of the same notification changes nothing.
			post(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Time{}), testenv.Watchdog(t0)))
			if got := l.kernelGateways(); !slices.Equal(got, []string{"198.51.100.11", "198.51.100.13"}) {
				t.Fatalf("after duplicate: %v", got)
			}

			post(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Now()), testenv.Watchdog(t0)))
			eventually(t, "restore", all, l.kernelGateways)
			if mode == "resilient" {
				if m := l.groupMembers(t); !slices.Equal(m, all) {
					t.Fatalf("group members after restore = %v", m)
				}
			}

			// The state API agrees with the kernel.
			testenv.WaitActuatorMetrics(t, c,
				`route_actuator_nexthop_installed{nexthop="198.51.100.12",route="192.0.2.53/32"} 1`,
				`route_actuator_route_installed_nexthops{route="192.0.2.53/32"} 3`,
			)
		})
	}
}

// TestBinaryPerRouteTable: the built route_actuator with the service route
// in its own table (`table: 100` on the route) installs it there, not in
// main, and withdraws a server there by webhook.
func TestBinaryPerRouteTable(t *testing.T) {
	l := newLab(t)
	c := l.client()
	cfg := strings.Replace(fmt.Sprintf(actuatorConfig, "resilient"), "    min_nexthops: 1\n", "    min_nexthops: 1\n    table: 100\n", 1)
	if !strings.Contains(cfg, "table: 100") {
		t.Fatal("config has no table: 100")
	}
	testenv.StartActuator(t, l.name, cfg, c)
	t0 := time.Now().Add(-time.Minute)
	gateways := func() []string {
		var gws []string
		f := strings.Fields(l.ip("route", "show", "table", "100", "proto", "250", svc.String()))
		for i := range f[:max(len(f)-1, 0)] {
			if f[i] == "via" {
				gws = append(gws, f[i+1])
			}
		}
		slices.Sort(gws)
		return gws
	}
	post(t, c, testenv.Payload(testenv.Watchdog(t0)))
	eventually(t, "heartbeat", []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}, gateways)
	post(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Time{}), testenv.Watchdog(t0)))
	eventually(t, "withdraw", []string{"198.51.100.11", "198.51.100.13"}, gateways)
	if got := l.ourRoute(); got != "" {
		t.Fatalf("route in main: %q", got)
	}
}
