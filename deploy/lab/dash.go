//go:build linux

package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// PanelQuery is one PromQL expression of a dashboard panel.
type PanelQuery struct {
	Dashboard, Panel, RefID, Expr string
}

// DashboardQueries returns every panel target expression of every
// dashboards/*.json under repo, nested row panels included, and the
// expression inside each query variable (label_values or query_result).
func DashboardQueries(repo string) ([]PanelQuery, error) {
	var out []PanelQuery
	err := eachDashboard(repo, func(name string, d dashboard) {
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				out = append(out, PanelQuery{Dashboard: name, Panel: "variable " + v.Name, Expr: variableExpr(v.Query)})
			}
		}
		var walk func(ps []panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				for _, t := range p.Targets {
					if strings.TrimSpace(t.Expr) != "" {
						out = append(out, PanelQuery{Dashboard: name, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
					}
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	})
	return out, err
}

type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

// Annotation is one Prometheus annotation query of a dashboard.
type Annotation struct {
	Dashboard, Name, Expr string
}

// DashboardAnnotations returns every annotation query of dashboards/*.json under repo.
func DashboardAnnotations(repo string) ([]Annotation, error) {
	var out []Annotation
	err := eachDashboard(repo, func(name string, d dashboard) {
		for _, a := range d.Annotations.List {
			if strings.TrimSpace(a.Expr) != "" {
				out = append(out, Annotation{Dashboard: name, Name: a.Name, Expr: a.Expr})
			}
		}
	})
	return out, err
}

// eachDashboard decodes every dashboards/*.json under repo.
func eachDashboard(repo string, fn func(name string, d dashboard)) error {
	files, err := filepath.Glob(filepath.Join(repo, "dashboards", "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fn(filepath.Base(f), d)
	}
	return nil
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

var (
	labelValuesRE = regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`)
	queryResultRE = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// variableExpr is the PromQL a query variable runs: the selector of
// label_values(selector, label), the expression of query_result(expr).
func variableExpr(q string) string {
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		return m[1]
	}
	if m := queryResultRE.FindStringSubmatch(q); m != nil {
		return m[1]
	}
	return q
}

// varRE matches Grafana variables: $name, ${name}, ${name:format}, [[name]].
var varRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// LabVars are sensible values for the dashboards' variables in the lab;
// unknown variables become ".*", Grafana's usual "All".
var LabVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "5m",
	"service":         ServicePrefix.String(),
	"route":           ServicePrefix.String(),
	"target":          "dns1",
	"nexthop":         ServerAddr(1).String(),
}

// Substitute replaces Grafana variables in expr with vars (".*" when unknown).
func Substitute(expr string, vars map[string]string) string {
	return varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := vars[name]; ok {
			return v
		}
		return ".*"
	})
}
