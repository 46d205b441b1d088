// Package rules holds no Go code: its tests check the rule files' conventions
// (labels, annotations, runbook sections, promtool tests for every alert, the
// docs/alerts.md table) and run the shipped rules, prometheus.yml and
// alertmanager.yml in a real Prometheus and Alertmanager.
package rules

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []rule `yaml:"rules"`
}

// loadGroups decodes every rules/*.yml strictly.
func loadGroups(t *testing.T) []group {
	t.Helper()
	files, err := filepath.Glob("*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files (%v)", err)
	}
	var groups []group
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []group `yaml:"groups"`
		}
		dec := yaml.NewDecoder(r)
		dec.KnownFields(true)
		err = dec.Decode(&rf)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		groups = append(groups, rf.Groups...)
	}
	return groups
}

// The alerts route_actuator acts on: they must be evaluated fast and fire at once.
var driving = []string{"DNSServerDown", "DNSSLAProbesMissing", "DNSSLAWatchdog"}

const runbookBase = "https://github.com/slaroute/slaroute/blob/main/rules/runbook.md#"

func TestConventions(t *testing.T) {
	runbook, err := os.ReadFile("runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	block := testenv.DocBlock(t, "docs/alerts.md", "alerts")
	var tests strings.Builder
	testFiles, _ := filepath.Glob(filepath.Join("tests", "*.yml"))
	for _, f := range testFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tests.Write(b)
	}
	recordName := regexp.MustCompile(`^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$`)
	headings := regexp.MustCompile(`(?m)^## (\w+)$`).FindAllStringSubmatch(string(runbook), -1)

	var alerts []string
	for _, g := range loadGroups(t) {
		for _, r := range g.Rules {
			if r.Record != "" {
				if !recordName.MatchString(r.Record) {
					t.Errorf("recording rule %s: name is not level:metric:operations", r.Record)
				}
				if !strings.Contains(block, "`"+r.Record+"`") && !strings.Contains(block, "`:"+r.Record[strings.LastIndex(r.Record, ":")+1:]+"`") {
					t.Errorf("recording rule %s is not in the docs/alerts.md alerts block", r.Record)
				}
				continue
			}
			a := r.Alert
			alerts = append(alerts, a)
			switch r.Labels["severity"] {
			case "critical", "warning", "none":
			default:
				t.Errorf("%s: severity %q, want critical, warning or none", a, r.Labels["severity"])
			}
			want := []string{"description", "runbook_url", "summary"}
			if slices.Contains(driving, a) {
				// Rendered at every 100ms evaluation per firing alert: static
				// and few (rules/dns_sla.alerts.yml says why).
				want = []string{"runbook_url"}
				if len(r.Labels) != 1 {
					t.Errorf("%s drives route_actuator: labels %v, want severity alone", a, r.Labels)
				}
			}
			if got := slices.Sorted(maps.Keys(r.Annotations)); !slices.Equal(got, want) {
				t.Errorf("%s: annotations %v, want %v", a, got, want)
			}
			if want := runbookBase + strings.ToLower(a); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", a, r.Annotations["runbook_url"], want)
			}
			if !slices.ContainsFunc(headings, func(h []string) bool { return h[1] == a }) {
				t.Errorf("%s: no '## %s' section in runbook.md", a, a)
			}
			if !strings.Contains(block, "`"+a+"`") {
				t.Errorf("%s is not in the docs/alerts.md alerts block", a)
			}
			// Each alert is tested firing and (but the heartbeat) not firing.
			if !regexp.MustCompile(`alertname: ` + a + `\n +exp_alerts:( &\w+)?\n`).MatchString(tests.String()) {
				t.Errorf("%s: rules/tests has no case where it fires", a)
			}
			if a != "DNSSLAWatchdog" && !regexp.MustCompile(`alertname: `+a+`\n +exp_alerts: \[\]`).MatchString(tests.String()) {
				t.Errorf("%s: rules/tests has no case where it does not fire", a)
			}
			if slices.Contains(driving, a) && (g.Interval != "100ms" || r.For != "0s") {
				t.Errorf("%s drives route_actuator: want interval 100ms and for 0s, got %q and %q", a, g.Interval, r.For)
			}
		}
	}
	for _, h := range headings {
		if !slices.Contains(alerts, h[1]) {
			t.Errorf("runbook.md section %s has no alert", h[1])
		}
	}
	for _, a := range driving {
		if !slices.Contains(alerts, a) {
			t.Errorf("alert %s missing", a)
		}
	}
}
