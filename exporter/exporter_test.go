package exporter

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// collect[] and exclude[] select subsets of /metrics; a typo or a
// contradiction is a 400, never a silent full scrape.
func TestMetricsHandlerSubsets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dns_sla_exporter.yml")
	os.WriteFile(file, []byte("defaults:\n  query_name: h.example.test.\ntargets:\n  - name: a\n    address: 127.0.0.1\n"), 0o644)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	e, _ := start(t, Options{ConfigFile: file, Registry: reg,
		NewProber: func(config.Target) (scheduler.Prober, error) { return nopProber{}, nil }})
	if err := e.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := e.MetricsHandler(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	families := func(query string) (int, []string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics"+query, nil))
		var names []string
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
				names = append(names, strings.Fields(f)[0])
			}
		}
		return rec.Code, names
	}
	has := func(names []string, prefix string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) })
	}
	code, all := families("")
	if code != 200 || !has(all, "dns_sla_up") || !has(all, "dns_sla_probes_total") || !has(all, "go_") {
		t.Fatalf("full scrape: %d %v", code, all)
	}
	code, got := families("?collect[]=verdict")
	if want := []string{"dns_sla_verdict"}; code != 200 || !slices.Equal(got, want) {
		t.Errorf("collect[]=verdict: %d %v, want %v", code, got, want)
	}
	code, got = families("?exclude[]=verdict")
	if code != 200 || len(got) != len(all)-1 || has(got, "dns_sla_verdict") || !has(got, "dns_sla_up") || !has(got, "go_") || !has(got, "dns_sla_probe_duration_seconds") {
		t.Errorf("exclude[]=verdict: %d %v", code, got)
	}
	code, got = families("?collect[]=probes&collect[]=verdict")
	if code != 200 || len(got) != 8 || has(got, "go_") || has(got, "dns_sla_targets") {
		t.Errorf("collect[]=probes&collect[]=verdict: %d %v", code, got)
	}
	// The only target never recovered (it times out, or has no probe yet):
	// served while it fails, never with -1.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics?collect[]=verdict&changed_within=10m", nil))
	if body := rec.Body.String(); rec.Code != 200 || strings.Contains(body, "} -1") {
		t.Errorf("collect[]=verdict&changed_within=10m: %d\n%s", rec.Code, body)
	}
	for _, q := range []string{"?collect[]=verdikt", "?collect[]=verdict&exclude[]=probes", "?exclude[]=verdict&exclude[]=probes&exclude[]=exporter",
		"?changed_within=10m", "?collect[]=probes&changed_within=10m", "?collect[]=verdict&collect[]=probes&changed_within=10m",
		"?collect[]=verdict&changed_within=0s", "?collect[]=verdict&changed_within=-1m", "?collect[]=verdict&changed_within=ten",
		"?collect[]=verdict&changed_within=1m&changed_within=2m"} {
		if code, _ := families(q); code != 400 {
			t.Errorf("%s: status %d, want 400", q, code)
		}
	}
}
