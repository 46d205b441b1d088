package config

import (
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slaroute/slaroute/actuator/route"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Route{
		Prefix:      netip.MustParsePrefix("192.0.2.53/32"),
		Nexthops:    []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("198.51.100.13")},
		MinNexthops: 1,
	}
	if len(c.Routes) != 1 || c.Routes[0].Prefix != want.Prefix || !slices.Equal(c.Routes[0].Nexthops, want.Nexthops) || c.Routes[0].MinNexthops != 1 {
		t.Errorf("routes = %+v, want [%+v] (nexthops sorted)", c.Routes, want)
	}
	if c.Backend.Type != "netlink" || c.Backend.Netlink == nil || c.Backend.Netlink.Protocol != 250 || c.Backend.IOS != nil {
		t.Errorf("backend = %+v", c.Backend)
	}
	if c.Alerts.Heartbeat != "DNSSLAWatchdog" || time.Duration(c.Alerts.HeartbeatTimeout) != 90*time.Second ||
		time.Duration(c.Alerts.HeartbeatMaxAge) != 2500*time.Millisecond {
		t.Errorf("alerts = %+v", c.Alerts)
	}
	if c.Alertmanager.URL != "http://127.0.0.1:9093" || time.Duration(c.ResyncInterval) != 10*time.Second {
		t.Errorf("alertmanager = %+v, resync %v", c.Alertmanager, c.ResyncInterval)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("testdata/minimal.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend.Netlink == nil || c.Backend.Netlink.Mode != "resilient" || c.Backend.Netlink.Table != "main" {
		t.Errorf("netlink defaults = %+v", c.Backend.Netlink)
	}
	a := c.Alerts
	if !slices.Equal(a.Withdraw, []string{"DNSServerDown"}) || !slices.Equal(a.Freeze, []string{"DNSSLAProbesMissing"}) ||
		a.NexthopLabel != "nexthop" || a.ServiceLabel != "service" || a.Heartbeat != "" ||
		time.Duration(a.HeartbeatTimeout) != 90*time.Second || time.Duration(a.HeartbeatMaxAge) != 3*time.Second ||
		time.Duration(a.RestoreDelay) != 5*time.Second {
		t.Errorf("alert defaults = %+v", a)
	}
	if c.Alertmanager.URL != "" || time.Duration(c.Alertmanager.Timeout) != 2*time.Second || time.Duration(c.ResyncInterval) != 10*time.Second {
		t.Errorf("defaults: alertmanager %+v resync %v", c.Alertmanager, c.ResyncInterval)
	}
	if r := c.Routes[0]; r.Prefix != netip.MustParsePrefix("2001:db8::53/128") || r.MinNexthops != 1 || len(r.Nexthops) != 2 {
		t.Errorf("route = %+v", r)
	}
}

// Each route lands where it is configured; IOS takes IPv6 and VRF routes.
func TestPlacements(t *testing.T) {
	c, err := Load("testdata/placements.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Prefix]route.Placement{
		netip.MustParsePrefix("192.0.2.53/32"):    {},
		netip.MustParsePrefix("192.0.2.153/32"):   {VRF: "dns"},
		netip.MustParsePrefix("2001:db8::53/128"): {Table: 100},
	}
	if got := c.Placements(); !maps.Equal(got, want) {
		t.Errorf("placements = %v, want %v", got, want)
	}
	c, err = Load("testdata/ios-dual-stack-vrf.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Placements()[netip.MustParsePrefix("2001:db8::153/128")]; got.VRF != "DNS" || len(c.Routes) != 4 {
		t.Errorf("ios routes %+v", c.Routes)
	}
}

// The default heartbeat_max_age never exceeds a shorter heartbeat_timeout.
func TestHeartbeatMaxAgeDefault(t *testing.T) {
	for _, tc := range []struct {
		alerts string
		want   time.Duration
	}{
		{"  heartbeat_timeout: 2s\n", 2 * time.Second},
		{"  heartbeat_timeout: 10s\n", 3 * time.Second},
		{"  heartbeat_timeout: 10s\n  heartbeat_max_age: 10s\n", 10 * time.Second},
	} {
		c, err := Parse("t.yml", []byte("backend: {type: netlink}\nroutes:\n  - prefix: 192.0.2.53/32\n    nexthops: [198.51.100.11]\nalerts:\n"+tc.alerts))
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Duration(c.Alerts.HeartbeatMaxAge); got != tc.want {
			t.Errorf("%q: heartbeat_max_age = %v, want %v", tc.alerts, got, tc.want)
		}
	}
}

func TestLoadInvalid(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"unknown-field.yml", `:6: unknown field "resync_intervall"`},
		{"unknown-route-field.yml", `:5: unknown field "nexthop" in routes[]`},
		{"unknown-netlink-field.yml", `:4: unknown field "tabel" in backend.netlink`},
		{"unknown-ios-field.yml", `:6: unknown field "passwrd_file" in backend.ios`},
		{"no-backend.yml", `:1: backend section must be set`},
		{"bad-backend-type.yml", `:2: backend type "bird" is not one of netlink, ios, bgp`},
		{"bgp-missing.yml", `:2: backend type bgp needs a backend.bgp section`},
		{"bgp-with-netlink.yml", `:3: backend netlink section given but backend type is bgp`},
		{"bad-bgp-section.yml", `:9: bgp neighbor 198.51.100.1: hold_time must be at least 3s`},
		{"backend-mismatch.yml", `:4: backend ios section given but backend type is netlink`},
		{"ios-missing.yml", `:2: backend type ios needs a backend.ios section`},
		{"bad-netlink-mode.yml", `:4: netlink mode "ecmp" is not one of resilient, multipath`},
		{"no-routes.yml", `:3: at least one route must be configured`},
		{"bad-prefix.yml", `:4: route prefix "192.0.2.300/32" is not an IP prefix (e.g. 192.0.2.53/32)`},
		{"host-bits.yml", `:4: route prefix "192.0.2.53/24" has host bits set (did you mean 192.0.2.0/24?)`},
		{"no-nexthops.yml", `:4: route 192.0.2.53/32 needs at least one nexthop`},
		{"bad-nexthop.yml", `:7: route 192.0.2.53/32 nexthop "dns1.example" is not an IP address`},
		{"family-mismatch.yml", `:5: route 192.0.2.53/32 nexthop 2001:db8::11 is not of the prefix's address family`},
		{"duplicate-nexthop.yml", `:5: route 192.0.2.53/32 lists nexthop 198.51.100.11 twice`},
		{"min-nexthops.yml", `:6: route 192.0.2.53/32 min_nexthops 3 out of range 1..2`},
		{"duplicate-route.yml", `:6: duplicate route prefix 192.0.2.53/32`},
		{"alert-both-roles.yml", `:8: alertname DNSServerDown is in both alerts.withdraw and alerts.freeze`},
		{"no-withdraw.yml", `:7: alerts.withdraw must name at least one alert`},
		{"bad-label.yml", `:7: alerts.nexthop_label "next-hop" is not a valid label name`},
		{"bad-heartbeat-timeout.yml", `:8: alerts.heartbeat_timeout must be positive`},
		{"bad-heartbeat-max-age.yml", `:8: alerts.heartbeat_max_age must be positive`},
		{"heartbeat-max-age-over-timeout.yml", `:9: alerts.heartbeat_max_age 3s exceeds alerts.heartbeat_timeout 2s`},
		{"bad-duration.yml", `:6: resync_interval: "ten seconds" is not a duration (e.g. 500ms, 10s, 1m)`},
		{"bad-url.yml", `:7: alertmanager.url "127.0.0.1:9093" is not an http(s) URL`},
		{"bad-resync.yml", `:6: resync_interval must be positive`},
		{"syntax.yml", `:3: did not find expected '-' indicator`},
		{"empty.yml", `:1: empty configuration`},
		{"no-prefix.yml", `:4: route prefix must be set`},
		{"netlink-with-ios.yml", `:4: backend netlink section given but backend type is ios`},
		{"same-labels.yml", `:7: alerts.nexthop_label and alerts.service_label must differ`},
		{"empty-alertname.yml", `:7: alerts.freeze has an empty or invalid alertname ""`},
		{"bad-am-timeout.yml", `:8: alertmanager.timeout must be positive`},
		{"bad-restore-delay.yml", `:7: restore_delay: "soon" is not a duration (e.g. 500ms, 10s, 1m)`},
		{"null.yml", `:1: empty configuration`},
		{"ios-table.yml", `:11: route 192.0.2.53/32 table 100: backend ios places routes by vrf name, not by table number`},
		{"bgp-vrf.yml", `:12: route 192.0.2.53/32 vrf DNS: backend bgp announces to the router's global table only: vrf and table are not supported (peer from the VRF on the router instead)`},
		{"bgp-table.yml", `:12: route 192.0.2.53/32 table 100: backend bgp announces to the router's global table only: vrf and table are not supported (peer from the VRF on the router instead)`},
		{"vrf-and-table.yml", `:7: route 192.0.2.53/32 has both vrf and table: give one`},
		{"bad-vrf-name.yml", `:6: route 192.0.2.53/32 vrf "dns blue" is not a VRF name (1-32 of A-Z a-z 0-9 _ . : -, starting with a letter or digit)`},
		{"empty-vrf.yml", `:6: route 192.0.2.53/32 vrf "" is not a VRF name (1-32 of A-Z a-z 0-9 _ . : -, starting with a letter or digit)`},
		{"bad-table.yml", `:6: route 192.0.2.53/32 table 255 out of range 1..4294967295 (not 255, local)`},
		{"bad-table-type.yml", ":6: cannot unmarshal !!str `main` into uint32"},
		{"netlink-long-vrf.yml", `:6: route 192.0.2.53/32 vrf dns-service-farm-a: backend netlink: vrf "dns-service-farm-a" is longer than an interface name (15 bytes)`},
		{"alertname-control-character.yml", `:7: alerts.withdraw has an empty or invalid alertname "DNSServer\nDown"`},
		{"nexthop-ipv4-mapped.yml", `:5: route 192.0.2.53/32 nexthop "::ffff:198.51.100.11" is IPv4-mapped IPv6: write 198.51.100.11`},
		{"nexthop-zone.yml", `:5: route 2001:db8::53/128 nexthop "fe80::1%eth0" has a zone: nexthops are global addresses`},
		{"prefix-ipv4-mapped.yml", `:4: route prefix "::ffff:192.0.2.53/128" is IPv4-mapped IPv6: write it as IPv4`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			if want := path + tc.want; err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}
