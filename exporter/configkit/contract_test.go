package configkit_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/slaroute/slaroute/actuator/alertstate"
	actuatorconfig "github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/policy"
	exporterconfig "github.com/slaroute/slaroute/exporter/config"
)

// The service/nexthop contract, one corpus: each input is accepted as the
// same value, or refused, by all three call sites: the exporter's
// configuration (nexthop, service), the actuator's configuration (routes'
// nexthops and prefix) and the policy reading alert labels.
var (
	nexthops = []struct{ in, want, err string }{
		{in: "198.51.100.12", want: "198.51.100.12"},
		{in: "2001:db8::12", want: "2001:db8::12"},
		{in: "2001:DB8:0::12", want: "2001:db8::12"},
		{in: "::ffff:198.51.100.12", err: "is IPv4-mapped IPv6: write 198.51.100.12"},
		{in: "::ffff:c633:640c", err: "is IPv4-mapped IPv6: write 198.51.100.12"},
		{in: "fe80::12%eth0", err: "has a zone"},
		{in: "2001:db8::12%1", err: "has a zone"},
		{in: "198.51.100.12/32", err: "is not an IP address"},
		{in: "198.51.100.012", err: "is not an IP address"},
		{in: "dns1.example", err: "is not an IP address"},
		{in: "", err: "is not an IP address"},
	}
	services = []struct{ in, want, err string }{
		{in: "192.0.2.53/32", want: "192.0.2.53/32"},
		{in: "192.0.2.53", want: "192.0.2.53/32"},
		{in: "192.0.2.0/24", want: "192.0.2.0/24"},
		{in: "2001:db8::53", want: "2001:db8::53/128"},
		{in: "2001:DB8::53/128", want: "2001:db8::53/128"},
		{in: "192.0.2.53/24", err: "has host bits set (did you mean 192.0.2.0/24?)"},
		{in: "2001:db8::53/64", err: "has host bits set (did you mean 2001:db8::/64?)"},
		{in: "::ffff:192.0.2.53", err: "is IPv4-mapped IPv6"},
		{in: "::ffff:192.0.2.53/128", err: "is IPv4-mapped IPv6"},
		{in: "fe80::53%eth0", err: "has a zone"},
		{in: "192.0.2.53/33", err: "is not an IP prefix"},
		{in: "dns.example", err: "is not an IP prefix"},
	}
)

// Routes the policy knows: every accepted value, and what a lax parser would
// make of the refused ones (unmapped, masked), so that accepting one shows.
var policyRoutes = []actuatorconfig.Route{
	{Prefix: netip.MustParsePrefix("192.0.2.53/32"), Nexthops: addrs("198.51.100.12"), MinNexthops: 1},
	{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Nexthops: addrs("198.51.100.12"), MinNexthops: 1},
	{Prefix: netip.MustParsePrefix("2001:db8::53/128"), Nexthops: addrs("2001:db8::12"), MinNexthops: 1},
	{Prefix: netip.MustParsePrefix("2001:db8::/64"), Nexthops: addrs("2001:db8::12", "fe80::12"), MinNexthops: 1},
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// decide is the policy's decision with one firing alert.
func decide(labels map[string]string) policy.Decision {
	return policy.Decide(policy.Input{Routes: policyRoutes, Alerts: actuatorconfig.DefaultAlerts, State: []alertstate.Alert{
		{Event: alertstate.Event{Fingerprint: "1", Labels: labels, Status: alertstate.Firing}},
	}})
}

// check compares one call site's outcome with the corpus row.
func check(t *testing.T, site, in, want, wantErr, got string, err error) {
	t.Helper()
	switch {
	case wantErr == "" && (err != nil || got != want):
		t.Errorf("%s(%q) = %q, %v; want %s", site, in, got, err, want)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q %s", in, wantErr))):
		t.Errorf("%s(%q) = %q, %v; want the error %q %s", site, in, got, err, in, wantErr)
	}
}

func exporterTarget(t *testing.T, key, value string) (exporterconfig.Target, error) {
	t.Helper()
	cfg, err := exporterconfig.Parse("x.yml", fmt.Appendf(nil,
		"targets:\n  - name: a\n    address: 198.51.100.11\n    query_name: a.example.\n    %s: %q\n", key, value))
	if err != nil {
		return exporterconfig.Target{}, err
	}
	return cfg.Targets[0], nil
}

func actuatorRoute(t *testing.T, prefix, nexthop string) (actuatorconfig.Route, error) {
	t.Helper()
	cfg, err := actuatorconfig.Parse("x.yml", fmt.Appendf(nil,
		"backend: {type: netlink}\nroutes:\n  - prefix: %q\n    nexthops: [%q]\n", prefix, nexthop))
	if err != nil {
		return actuatorconfig.Route{}, err
	}
	return cfg.Routes[0], nil
}

func TestNexthopContract(t *testing.T) {
	ac := actuatorconfig.DefaultAlerts
	for _, tc := range nexthops {
		tg, err := exporterTarget(t, "nexthop", tc.in)
		check(t, "exporter nexthop", tc.in, tc.want, tc.err, tg.Labels()[1], err)

		prefix := "192.0.2.53/32"
		if strings.Contains(tc.want, ":") {
			prefix = "2001:db8::53/128"
		}
		r, err := actuatorRoute(t, prefix, tc.in)
		got := ""
		if err == nil {
			got = r.Nexthops[0].String()
		}
		check(t, "actuator route nexthop", tc.in, tc.want, tc.err, got, err)

		// The policy refuses what the parsers refuse (the reason is the
		// metric label) and withdraws exactly the accepted address.
		labels := map[string]string{"alertname": "DNSServerDown", "nexthop": tc.in}
		_, reason := policy.Classify(policyRoutes, ac, labels)
		if wantReason := map[bool]string{true: policy.IgnoreInvalidLabel, false: ""}[tc.err != ""]; reason != wantReason {
			t.Errorf("policy.Classify(nexthop %q) ignores it as %q, want %q", tc.in, reason, wantReason)
			continue
		}
		withdrawn := map[string]bool{}
		for _, r := range decide(labels).Routes {
			for nh := range r.Withdrawn {
				withdrawn[nh.String()] = true
			}
		}
		if tc.err == "" && (len(withdrawn) != 1 || !withdrawn[tc.want]) || tc.err != "" && len(withdrawn) > 0 {
			t.Errorf("policy.Decide(nexthop %q) withdraws %v, want %q", tc.in, withdrawn, tc.want)
		}
	}
}

func TestServiceContract(t *testing.T) {
	ac := actuatorconfig.DefaultAlerts
	for _, tc := range services {
		tg, err := exporterTarget(t, "service", tc.in)
		check(t, "exporter service", tc.in, tc.want, tc.err, tg.Service, err)

		nh := "198.51.100.12"
		if strings.Contains(tc.want, ":") {
			nh = "2001:db8::12"
		}
		r, err := actuatorRoute(t, tc.in, nh)
		got := ""
		if err == nil {
			got = r.Prefix.String()
		}
		check(t, "actuator route prefix", tc.in, tc.want, tc.err, got, err)

		labels := map[string]string{"alertname": "DNSSLAProbesMissing", "service": tc.in}
		_, reason := policy.Classify(policyRoutes, ac, labels)
		if wantReason := map[bool]string{true: policy.IgnoreInvalidLabel, false: ""}[tc.err != ""]; reason != wantReason {
			t.Errorf("policy.Classify(service %q) ignores it as %q, want %q", tc.in, reason, wantReason)
			continue
		}
		var frozen []string
		for _, r := range decide(labels).Routes {
			if len(r.Frozen) > 0 {
				frozen = append(frozen, r.Prefix.String())
			}
		}
		if tc.err == "" && (len(frozen) != 1 || frozen[0] != tc.want) || tc.err != "" && len(frozen) > 0 {
			t.Errorf("policy.Decide(service %q) freezes %v, want %q", tc.in, frozen, tc.want)
		}
	}
}
