package config

import (
	"testing"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/exporter/configkit/configkittest"
)

// FuzzParse: seeds in testdata/fuzz/FuzzParse; see configkittest.Fuzz.
func FuzzParse(f *testing.F) { configkittest.Fuzz(f, Parse, render) }

// render writes cfg out with every key of every target explicit.
func render(cfg *Config) []byte {
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
		panic(err) // a Config always marshals
	}
	return out
}
