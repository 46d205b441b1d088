package config

import (
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var errLine = regexp.MustCompile(`^f\.yml:[1-9][0-9]*: `)

// FuzzParse holds the loader to its contract on any input (seeds in
// testdata/fuzz/FuzzParse): it never panics, every error line reads
// file:line: reason, and an accepted configuration, written out again with
// every key explicit, parses to the same configuration.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse("f.yml", b)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !errLine.MatchString(line) {
					t.Fatalf("error line %q lacks file:line", line)
				}
			}
			return
		}
		out := render(t, cfg)
		again, err := Parse("f.yml", out)
		if err != nil {
			t.Fatalf("accepted configuration written out does not parse: %v\n%s", err, out)
		}
		if o2 := render(t, again); string(o2) != string(out) {
			t.Fatalf("accepted configuration changed when parsed again:\n%s\n---\n%s", out, o2)
		}
	})
}

// render writes c out with every key explicit.
func render(t *testing.T, c *Config) []byte {
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
		t.Fatal(err)
	}
	return out
}
