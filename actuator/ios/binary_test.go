//go:build linux && integration

package ios_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
	"github.com/slaroute/slaroute/deploy/lab/frrpeer/frrpeertest"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

const binaryConfig = `backend:
  type: ios
  ios:
    address: %s
    username: %s
    private_key_file: %s
    known_hosts_file: %s
    platform: cisco_iosxe
    route_tag: 53053
    timeout: 5s
` + testenv.ActuatorRoutes

// startActuator runs the built binary inside the router namespace, where
// sshd listens, and returns an HTTP client that dials from that namespace.
func startActuator(t *testing.T, peer *frrpeer.Peer) *http.Client {
	t.Helper()
	body := fmt.Sprintf(binaryConfig, peer.Addr, peer.Username, peer.PrivateKeyFile, peer.KnownHostsFile)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: peer.DialContext}}
	testenv.StartActuator(t, peer.Namespace, body, c, "PRIVATE KEY")
	return c
}

// waitRunning polls vtysh's running config until its route lines are want.
func waitRunning(t *testing.T, p *frrpeer.Peer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := p.RunningRoutes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("vtysh running config routes:\n%q\nwant\n%q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBinaryWebhooksIOS runs the built route_actuator with backend ios
// against the FRR peer and withdraws and restores a nexthop with real
// webhook POSTs, checking vtysh's running config and the kernel route.
func TestBinaryWebhooksIOS(t *testing.T) {
	peer := frrpeertest.Start(t, frrpeer.Options{})
	c := startActuator(t, peer)
	t0 := time.Now().Add(-time.Minute)
	all := []string{
		"ip route 192.0.2.53/32 198.51.100.11 tag 53053",
		"ip route 192.0.2.53/32 198.51.100.12 tag 53053",
		"ip route 192.0.2.53/32 198.51.100.13 tag 53053",
	}

	testenv.PostWebhook(t, c, testenv.Payload(testenv.Watchdog(t0)))
	waitRunning(t, peer, all...)
	waitKernel(t, peer, svc, nh11, nh12, nh13)

	testenv.PostWebhook(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Time{}), testenv.Watchdog(t0)))
	waitRunning(t, peer, all[0], all[2])
	waitKernel(t, peer, svc, nh11, nh13)

	testenv.PostWebhook(t, c, testenv.Payload(testenv.ServerDown("198.51.100.12", t0.Add(time.Second), time.Now()), testenv.Watchdog(t0)))
	waitRunning(t, peer, all...)
	waitKernel(t, peer, svc, nh11, nh12, nh13)

	testenv.WaitActuatorMetrics(t, c,
		"route_actuator_ios_session_up 1",
		"route_actuator_ios_cli_errors_total 0",
		`route_actuator_route_installed_nexthops{route="192.0.2.53/32"} 3`,
	)
}

// TestBinaryWebhooksIOSDualStack: the built route_actuator with one IPv4
// and one IPv6 route on the FRR peer; a webhook withdraws and restores an
// IPv6 server, leaving the IPv4 route alone, checked in vtysh's running
// config and the router namespace's kernel routes.
func TestBinaryWebhooksIOSDualStack(t *testing.T) {
	svc6 := netip.MustParsePrefix("2001:db8:53::53/128")
	v11, v12, v13 := netip.MustParseAddr("2001:db8:100::11"), netip.MustParseAddr("2001:db8:100::12"), netip.MustParseAddr("2001:db8:100::13")
	peer := frrpeertest.Start(t, frrpeer.Options{
		RouterAddr6: netip.MustParsePrefix("2001:db8:100::1/64"), Nexthops6: []netip.Addr{v11, v12, v13},
	})
	routes := strings.Replace(testenv.ActuatorRoutes, "alerts:\n", `  - prefix: 2001:db8:53::53/128
    nexthops: ["2001:db8:100::11", "2001:db8:100::12", "2001:db8:100::13"]
alerts:
`, 1)
	body := fmt.Sprintf(strings.Replace(binaryConfig, testenv.ActuatorRoutes, routes, 1), peer.Addr, peer.Username, peer.PrivateKeyFile, peer.KnownHostsFile)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: peer.DialContext}}
	testenv.StartActuator(t, peer.Namespace, body, c, "PRIVATE KEY")
	t0 := time.Now().Add(-time.Minute)
	v4 := []string{
		"ip route 192.0.2.53/32 198.51.100.11 tag 53053",
		"ip route 192.0.2.53/32 198.51.100.12 tag 53053",
		"ip route 192.0.2.53/32 198.51.100.13 tag 53053",
	}
	v6 := []string{
		"ipv6 route 2001:db8:53::53/128 2001:db8:100::11 tag 53053",
		"ipv6 route 2001:db8:53::53/128 2001:db8:100::12 tag 53053",
		"ipv6 route 2001:db8:53::53/128 2001:db8:100::13 tag 53053",
	}
	down := func(end time.Time) testenv.Alert {
		a := testenv.ServerDown("2001:db8:100::12", t0.Add(time.Second), end)
		a.Labels["service"] = svc6.String()
		return a
	}

	testenv.PostWebhook(t, c, testenv.Payload(testenv.Watchdog(t0)))
	waitRunning(t, peer, append(slices.Clone(v4), v6...)...)
	waitKernel(t, peer, svc6, v11, v12, v13)

	testenv.PostWebhook(t, c, testenv.Payload(down(time.Time{}), testenv.Watchdog(t0)))
	waitRunning(t, peer, append(slices.Clone(v4), v6[0], v6[2])...)
	waitKernel(t, peer, svc6, v11, v13)
	waitKernel(t, peer, svc, nh11, nh12, nh13)

	testenv.PostWebhook(t, c, testenv.Payload(down(time.Now()), testenv.Watchdog(t0)))
	waitRunning(t, peer, append(slices.Clone(v4), v6...)...)
	waitKernel(t, peer, svc6, v11, v12, v13)
	testenv.WaitActuatorMetrics(t, c,
		"route_actuator_ios_cli_errors_total 0",
		`route_actuator_route_installed_nexthops{route="2001:db8:53::53/128"} 3`,
	)
}
