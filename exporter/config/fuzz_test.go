package config

import (
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"
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

// render writes cfg out with every key of every target explicit.
func render(t *testing.T, cfg *Config) []byte {
	var targets []map[string]any
	for _, tg := range cfg.Targets {
		m := map[string]any{
			"name": tg.Name, "address": tg.Address.String(), "nexthop": tg.Nexthop.String(),
			"interval": tg.Interval.String(), "timeout": tg.Timeout.String(), "query_name": tg.QueryName,
			"query_type": dns.TypeToString[tg.QueryType], "protocol": tg.Protocol, "recursion_desired": tg.RecursionDesired,
			"expect_answers": tg.ExpectAnswers,
		}
		var rcodes []string
		for _, rc := range tg.ValidRcodes {
			rcodes = append(rcodes, dns.RcodeToString[rc])
		}
		m["valid_rcodes"] = rcodes
		if tg.Service != "" {
			m["service"] = tg.Service
		}
		if tg.SourceAddress.IsValid() {
			m["source_address"] = tg.SourceAddress.String()
		}
		if tg.Protocol == "tcp-tls" {
			m["tls_server_name"], m["tls_ca_file"], m["tls_insecure_skip_verify"] = tg.TLSServerName, tg.TLSCAFile, tg.TLSInsecureSkipVerify
		}
		targets = append(targets, m)
	}
	out, err := yaml.Marshal(map[string]any{"targets": targets})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
