//go:build integration

package dashboards

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// Series Prometheus itself makes: they are in no /metrics.
var synthetic = map[string]bool{
	"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
	"ALERTS": true, "ALERTS_FOR_STATE": true,
}

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Record        string            `yaml:"record"`
			Alert         string            `yaml:"alert"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// rules returns the expressions of every rule in rules/*.yml by "file: rule"
// and the names recorded there.
func rules(t *testing.T) (exprs map[string]string, recorded map[string]bool) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "rules", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in ../rules (%v)", err)
	}
	exprs, recorded = map[string]string{}, map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				name := r.Record + r.Alert
				exprs[filepath.Base(f)+": "+name] = r.Expr
				if r.Record != "" {
					recorded[r.Record] = true
				}
			}
		}
	}
	return exprs, recorded
}

// scrape starts a binary on a free loopback port, waits for its /metrics
// and returns its address and the metric names exposed there. The process
// is killed by PID when the test ends.
func scrape(t *testing.T, bin string, args ...string) (string, map[string]bool) {
	t.Helper()
	addr := testenv.FreeAddr(t)
	p := testenv.Start(t, exec.Command(bin, append(args, "--web.listen-address="+addr)...))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			names, perr := exposedNames(resp)
			resp.Body.Close()
			if perr != nil {
				t.Fatalf("%s /metrics: %v", filepath.Base(bin), perr)
			}
			return addr, names
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not serve /metrics on %s: %v\n%s", filepath.Base(bin), addr, err, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exposedNames reads a text exposition: every sample name, and for each
// histogram or summary family the _bucket/_sum/_count series names.
func exposedNames(resp *http.Response) (map[string]bool, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			switch f[3] {
			case "histogram":
				names[f[2]+"_bucket"] = true
				fallthrough
			case "summary":
				names[f[2]+"_sum"], names[f[2]+"_count"] = true, true
			}
			names[f[2]] = true
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names, sc.Err()
}

// exampleExporterConfig is deploy/examples/dns_sla_exporter.yml with every
// target address moved to loopback (127.0.0.11, .12, ...): the test may send
// probes only to 127.0.0.0/8. Names, labels and everything else stay.
func exampleExporterConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "examples", "dns_sla_exporter.yml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 10
	addr := regexp.MustCompile(`(?m)^(\s*(?:-\s+)?address:\s*)\S+`)
	b = addr.ReplaceAllFunc(b, func(m []byte) []byte {
		n++
		return addr.ReplaceAll(m, []byte(fmt.Sprintf("${1}127.0.0.%d", n)))
	})
	b = regexp.MustCompile(`(?m)^\s*source_address:.*$`).ReplaceAll(b, nil)
	if n == 10 {
		t.Fatal("example exporter config has no target address")
	}
	f := filepath.Join(t.TempDir(), "dns_sla_exporter.yml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Every metric name a dashboard panel, annotation or variable queries, and
// every one a rule reads, exists in the real /metrics of the built binaries
// (run with the example configs) or is recorded by a rule.
func TestMetricNamesExist(t *testing.T) {
	bin := testenv.BinDir(t)
	exporterAddr, exposed := scrape(t, filepath.Join(bin, "dns_sla_exporter"), "--config.file="+exampleExporterConfig(t))
	actuatorAddr, names := scrape(t, filepath.Join(bin, "route_actuator"), "--dry-run",
		"--config.file="+filepath.Join("..", "deploy", "examples", "route_actuator.yml"))
	for name := range names {
		exposed[name] = true
	}
	// The families rules and dashboards are built on must be there from the
	// start (pre-initialised), or this comparison would prove nothing.
	for _, name := range []string{"dns_sla_up", "dns_sla_consecutive_failures", "dns_sla_probes_total",
		"dns_sla_probe_duration_seconds_bucket", "route_actuator_nexthop_installed", "route_actuator_changes_total"} {
		if !exposed[name] {
			t.Errorf("%s not exposed by the binaries", name)
		}
	}

	ruleExprs, recorded := rules(t)
	known := func(name string) bool { return exposed[name] || recorded[name] || synthetic[name] }
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 && expr != "vector(1)" {
			t.Errorf("%s: no metric name found in %q", where, expr)
		}
		for _, name := range names {
			if !known(name) {
				t.Errorf("%s: metric %s is neither exposed by the binaries nor recorded by a rule: %s", where, name, expr)
			}
		}
	}
	for _, f := range files {
		for where, e := range exprs(load(t, f.name)) {
			check(f.name+" "+where, e)
		}
	}
	var used []string
	for where, e := range ruleExprs {
		check("rules/"+where, e)
		used = append(used, metricNames(e)...)
	}
	sort.Strings(used)
	t.Logf("rules read %d distinct names; binaries expose %d", len(slices.Compact(used)), len(exposed))

	t.Run("queries in Prometheus", func(t *testing.T) { testQueries(t, exporterAddr, actuatorAddr) })
}

// testQueries runs a real Prometheus (2.42, as Debian ships it) that
// scrapes the two binaries and evaluates rules/*.yml, then runs every
// dashboard query with its variables filled in as Grafana would: each must be
// valid, and each panel and variable query must return data.
func testQueries(t *testing.T, exporterAddr, actuatorAddr string) {
	prom := testenv.RequireTool(t, "prometheus")
	dir := t.TempDir()
	ruleFiles, err := filepath.Abs(filepath.Join("..", "rules", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `global: {scrape_interval: 1s}
rule_files: [%q]
scrape_configs:
  - {job_name: dns_sla, static_configs: [{targets: [%q]}]}
  - {job_name: route_actuator, static_configs: [{targets: [%q]}]}
`, ruleFiles, exporterAddr, actuatorAddr), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	p := testenv.Start(t, exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn"))
	type result struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	query := func(expr string) (int, result, error) {
		var r result
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			return 0, r, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode == http.StatusOK {
			err = json.Unmarshal(b, &r)
		} else if err == nil {
			err = fmt.Errorf("%s", b)
		}
		return resp.StatusCode, r, err
	}
	// Wait for data from both jobs and for the 5s recording group.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, r, err := query(`count(up == 1) == 2 and on() count(target:dns_sla_probe_duration_seconds:p99_1m) > 0`)
		if err == nil && len(r.Data.Result) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has no data from both binaries and the rules: %v\n%s", err, p.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	fill := strings.NewReplacer("$__rate_interval", "4s", "$__interval", "4s", "$service", ".*", "$target", ".*", "$nexthop", ".*",
		"$job", ".*", "$instance", ".*")
	n := 0
	for _, f := range files {
		for where, e := range exprs(load(t, f.name)) {
			n++
			code, r, err := query(fill.Replace(e))
			switch {
			case err != nil || code != http.StatusOK:
				t.Errorf("%s %s: %q: HTTP %d: %v", f.name, where, e, code, err)
			case len(r.Data.Result) == 0 && !strings.HasPrefix(where, "annotation"):
				t.Errorf("%s %s: no data for %q", f.name, where, e)
			}
		}
	}
	t.Logf("%d queries accepted by %s", n, prom)
}
