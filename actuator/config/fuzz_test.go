package config

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/exporter/configkit/configkittest"
)

// FuzzParse: seeds in testdata/fuzz/FuzzParse; see configkittest.Fuzz.
func FuzzParse(f *testing.F) { configkittest.Fuzz(f, Parse, render) }

// render writes c out with every key explicit.
func render(c *Config) []byte {
	var routes []map[string]any
	for _, r := range c.Routes {
		var nhs []string
		for _, nh := range r.Nexthops {
			nhs = append(nhs, nh.String())
		}
		routes = append(routes, map[string]any{"prefix": r.Prefix.String(), "nexthops": nhs, "min_nexthops": r.MinNexthops})
	}
	out, err := yaml.Marshal(map[string]any{"backend": c.Backend, "routes": routes, "alerts": c.Alerts,
		"alertmanager": c.Alertmanager, "resync_interval": c.ResyncInterval})
	if err != nil {
		panic(err) // a Config always marshals
	}
	return out
}
