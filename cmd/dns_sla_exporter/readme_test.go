package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/cmd/internal/daemon"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
	"github.com/slaroute/slaroute/exporter"
	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/probe"
	"github.com/slaroute/slaroute/exporter/scheduler"
)

type nopProber struct{}

func (nopProber) Probe(ctx context.Context) probe.Outcome {
	return probe.Outcome{Result: probe.Timeout}
}
func (nopProber) Close() error { return nil }

// The docs/exporter.md's exporter block documents exactly the flags and metrics the
// binary has, every result value and every configuration key.
func TestDocsDocumentExporter(t *testing.T) {
	block := testenv.DocBlock(t, "docs/exporter.md", "exporter")
	app, _ := newApp()
	for _, f := range app.Model().Flags {
		if f.Hidden || f.Name == "help" || f.Name == "version" {
			continue
		}
		if !strings.Contains(block, "`--"+f.Name+"`") {
			t.Errorf("flag --%s is not documented", f.Name)
		}
	}

	reg := prometheus.NewRegistry()
	daemon.RegisterStandard(reg, name)
	e, err := exporter.New(exporter.Options{ConfigFile: "../../deploy/examples/dns_sla_exporter.yml", Registry: reg,
		NewProber: func(config.Target) (scheduler.Prober, error) { return nopProber{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	rl := daemon.NewReloader(reg, name, e.Reload)
	if err := rl.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer e.Run(canceled())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "dns_sla_") {
			have[mf.GetName()] = true
		}
	}
	for name := range have {
		if !strings.Contains(block, "| `"+name+"` |") {
			t.Errorf("metric %s is not in the docs/exporter.md metrics table", name)
		}
	}
	for _, m := range regexp.MustCompile("`(dns_sla_[a-z_]+)`").FindAllStringSubmatch(block, -1) {
		if !have[m[1]] && m[1] != name { // name: the program itself
			t.Errorf("docs/exporter.md documents %s, which does not exist", m[1])
		}
	}
	_, example, _ := strings.Cut(block, "```yaml\n")
	example, _, _ = strings.Cut(example, "```")
	if _, err := config.Parse("docs/exporter.md", []byte(example)); err != nil {
		t.Errorf("the docs/exporter.md's example configuration does not load: %v", err)
	}
	for _, key := range config.Keys() {
		if !regexp.MustCompile(`(?m)^\s*-? ?` + key + `:`).MatchString(block) {
			t.Errorf("config key %s is not documented", key)
		}
	}
	for r := range probe.NumResults {
		if !strings.Contains(block, "`"+r.String()+"`") {
			t.Errorf("result %s is not documented", r)
		}
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
