package exporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/probe"
	"github.com/slaroute/slaroute/exporter/scheduler"
)

type nopProber struct{}

func (nopProber) Probe(context.Context) probe.Outcome { return probe.Outcome{Result: probe.Timeout} }
func (nopProber) Close() error                        { return nil }

func TestReloadKeepsConfigOnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dns_sla_exporter.yml")
	good := "defaults:\n  query_name: h.example.test.\ntargets:\n  - name: a\n    address: 127.0.0.1\n  - name: b\n    address: 127.0.0.2\n"
	os.WriteFile(file, []byte(good), 0o644)
	reg := prometheus.NewPedanticRegistry()
	e, stop := start(t, Options{ConfigFile: file, Registry: reg,
		NewProber: func(config.Target) (scheduler.Prober, error) { return nopProber{}, nil }})
	ctx := t.Context()
	if e.Ready() {
		t.Error("ready before any configuration")
	}
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !e.Ready() || len(e.Config().Targets) != 2 {
		t.Fatalf("ready %v, config %+v", e.Ready(), e.Config())
	}
	os.WriteFile(file, []byte(strings.Replace(good, "127.0.0.2", "not-an-ip", 1)), 0o644)
	err := e.Reload(ctx)
	want := file + `:7: target "b": address "not-an-ip" is not IP or IP:port (IPv6 as [addr]:port)`
	if err == nil || err.Error() != want {
		t.Errorf("reload error %v, want %s", err, want)
	}
	if len(e.Config().Targets) != 2 || e.Config().Targets[1].Address.Addr().String() != "127.0.0.2" {
		t.Errorf("config changed by a failed reload: %+v", e.Config())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader("# HELP dns_sla_targets Number of configured targets.\n# TYPE dns_sla_targets gauge\ndns_sla_targets 2\n"), "dns_sla_targets"); err != nil {
		t.Error(err)
	}
	if !stop() {
		t.Fatal("Run did not return after cancel")
	}
}

// start builds an exporter and runs it until the test ends; stop ends it
// earlier and reports whether Run returned.
func start(t *testing.T, o Options) (*Exporter, func() bool) {
	t.Helper()
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	stop := func() bool {
		cancel()
		select {
		case <-done:
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}
	t.Cleanup(func() { stop() })
	return e, stop
}
