package actuator

import (
	"net/netip"
	"testing"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/policy"
)

// The memo answers exactly policy.Classify: per label set, per configuration.
func TestClassifierMemo(t *testing.T) {
	route := func(nhs ...string) *config.Config {
		c := &config.Config{Alerts: config.DefaultAlerts}
		r := config.Route{Prefix: netip.MustParsePrefix("192.0.2.53/32"), MinNexthops: 1}
		for _, nh := range nhs {
			r.Nexthops = append(r.Nexthops, netip.MustParseAddr(nh))
		}
		c.Routes = []config.Route{r}
		return c
	}
	down := func(fp, nh string) alertstate.Event {
		return alertstate.Event{Fingerprint: fp, Labels: map[string]string{"alertname": "DNSServerDown", "nexthop": nh}}
	}
	cfg1, cfg2 := route("198.51.100.11"), route("198.51.100.11", "198.51.100.12")
	var c classifier
	for _, tc := range []struct {
		name   string
		cfg    *config.Config
		ev     alertstate.Event
		reason string
	}{
		{"known nexthop", cfg1, down("a", "198.51.100.11"), ""},
		{"same again (memo)", cfg1, down("a", "198.51.100.11"), ""},
		{"same fingerprint, other labels", cfg1, down("a", "198.51.100.12"), policy.IgnoreUnknownNexthop},
		{"unknown nexthop (memo)", cfg1, down("a", "198.51.100.12"), policy.IgnoreUnknownNexthop},
		{"reloaded configuration knows it", cfg2, down("a", "198.51.100.12"), ""},
	} {
		got := c.classify(tc.cfg, []alertstate.Event{tc.ev})[0]
		kind, reason := policy.Classify(tc.cfg.Routes, tc.cfg.Alerts, tc.ev.Labels)
		if got.kind != kind || got.reason != reason || reason != tc.reason {
			t.Errorf("%s: memo %v %q, Classify %v %q, want reason %q", tc.name, got.kind, got.reason, kind, reason, tc.reason)
		}
	}
}
