package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// files are the shipped dashboards with their stable uids and the template
// variables each must offer besides datasource.
var files = []struct {
	name, uid string
	vars      []string
}{
	{"dns-sla.json", "slaroute-dns-sla", []string{"job", "instance", "service", "target"}},
	{"route-actuator.json", "slaroute-route-actuator", []string{"job", "instance", "service", "nexthop"}},
}

// The committed JSON is what the Go code generates.
func TestGeneratedUpToDate(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(files) {
		t.Fatalf("All() has %d dashboards, test knows %d", len(all), len(files))
	}
	for _, f := range files {
		d, ok := all[f.name]
		if !ok {
			t.Fatalf("All() lacks %s", f.name)
		}
		want, err := Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the code generates: run go generate ./dashboards", f.name)
		}
	}
}

// load reads a dashboard file as untyped JSON, so the checks below hold for
// hand edits too, not only for what the generator emits.
func load(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func list(v any) []any         { l, _ := v.([]any); return l }
func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func str(v any) string         { s, _ := v.(string); return s }
func num(v any) int            { f, _ := v.(float64); return int(f) }

// usesDatasourceVar reports whether a datasource reference is the dashboard's variable.
func usesDatasourceVar(v any) bool {
	ds := obj(v)
	return ds != nil && str(ds["uid"]) == "${datasource}"
}

var (
	rateCall  = regexp.MustCompile(`\b(?:rate|irate|increase)\s*\(`)
	rangeSel  = regexp.MustCompile(`\[([^\[\]]*)\]`)
	varRef    = regexp.MustCompile(`\$\{?(\w+)`)
	builtinDS = regexp.MustCompile(`\$\{?DS_`)
)

// rateRanges returns the ranges used inside each rate/irate/increase call.
func rateRanges(expr string) []string {
	var ranges []string
	for _, loc := range rateCall.FindAllStringIndex(expr, -1) {
		depth, end := 0, len(expr)
		for i := loc[1] - 1; i < len(expr); i++ {
			if expr[i] == '(' {
				depth++
			} else if expr[i] == ')' {
				depth--
				if depth == 0 {
					end = i
					break
				}
			}
		}
		for _, m := range rangeSel.FindAllStringSubmatch(expr[loc[1]:end], -1) {
			ranges = append(ranges, m[1])
		}
	}
	return ranges
}

func TestRateRanges(t *testing.T) {
	got := rateRanges(`sum(rate(a[$__rate_interval])) / increase(b{x="y"}[5m]) + avg_over_time(c[1h])`)
	if want := []string{"$__rate_interval", "5m"}; !slices.Equal(got, want) {
		t.Errorf("rateRanges = %q, want %q", got, want)
	}
}

// exprs returns every PromQL expression of a dashboard: panel targets,
// annotations and (selectors of) query variables, each with where it is.
func exprs(d map[string]any) map[string]string {
	out := map[string]string{}
	for _, p := range list(d["panels"]) {
		for i, tg := range list(obj(p)["targets"]) {
			out[fmt.Sprintf("panel %d %q target %d", num(obj(p)["id"]), str(obj(p)["title"]), i)] = str(obj(tg)["expr"])
		}
	}
	for _, a := range list(obj(d["annotations"])["list"]) {
		out[fmt.Sprintf("annotation %q", str(obj(a)["name"]))] = str(obj(a)["expr"])
	}
	for _, v := range list(obj(d["templating"])["list"]) {
		if str(obj(v)["type"]) == "query" {
			out[fmt.Sprintf("variable %q", str(obj(v)["name"]))] = labelValuesSelector(str(obj(v)["query"]))
		}
	}
	return out
}

func TestStructure(t *testing.T) {
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			raw, err := os.ReadFile(f.name)
			if err != nil {
				t.Fatal(err)
			}
			d := load(t, f.name)
			if got := str(d["uid"]); got != f.uid {
				t.Errorf("uid = %q, want %q", got, f.uid)
			}
			if str(d["title"]) == "" {
				t.Error("no title")
			}
			for _, k := range []string{"__inputs", "__requires", "__elements"} {
				if _, ok := d[k]; ok {
					t.Errorf("has %s: export form, not for file provisioning", k)
				}
			}
			if builtinDS.Match(raw) {
				t.Error("references a ${DS_...} import input")
			}

			vars := map[string]map[string]any{}
			for _, v := range list(obj(d["templating"])["list"]) {
				vars[str(obj(v)["name"])] = obj(v)
			}
			// query_result() yields whole series lines: without a regex the
			// variable's values would be '{job="dns_sla"} 1 1700000000000'.
			for name, v := range vars {
				if strings.HasPrefix(str(v["query"]), "query_result(") && str(v["regex"]) == "" {
					t.Errorf("variable %s: query_result without a regex to extract the value", name)
				}
			}
			dsVar := vars["datasource"]
			if dsVar == nil || str(dsVar["type"]) != "datasource" || str(dsVar["query"]) != "prometheus" {
				t.Errorf("datasource variable = %v, want type datasource, query prometheus", dsVar)
			}
			// One instance at a time; jobs default to all (the exporter is
			// scraped by a verdict job and a full one).
			if v := vars["instance"]; v == nil || v["multi"] != false || v["includeAll"] != false {
				t.Errorf("instance variable = %v, want single-valued without All", v)
			}
			if v := vars["job"]; v == nil || v["includeAll"] != true {
				t.Errorf("job variable = %v, want one with All", v)
			}
			for _, name := range f.vars {
				if v := vars[name]; v == nil || str(v["type"]) != "query" {
					t.Errorf("no query variable %q", name)
				}
			}
			for name, v := range vars {
				if str(v["type"]) == "query" && !usesDatasourceVar(v["datasource"]) {
					t.Errorf("variable %q does not use the datasource variable", name)
				}
			}
			for _, a := range list(obj(d["annotations"])["list"]) {
				if !usesDatasourceVar(obj(a)["datasource"]) {
					t.Errorf("annotation %q does not use the datasource variable", str(obj(a)["name"]))
				}
			}

			ids := map[int]bool{}
			type rect struct{ x, y, w, h int }
			var placed []rect
			used := map[string]bool{}
			panels := list(d["panels"])
			if len(panels) == 0 {
				t.Fatal("no panels")
			}
			for _, pv := range panels {
				p := obj(pv)
				id, title := num(p["id"]), str(p["title"])
				where := fmt.Sprintf("panel %d %q", id, title)
				if id == 0 || ids[id] {
					t.Errorf("%s: id missing or not unique", where)
				}
				ids[id] = true
				if title == "" {
					t.Errorf("%s: no title", where)
				}
				g := obj(p["gridPos"])
				r := rect{num(g["x"]), num(g["y"]), num(g["w"]), num(g["h"])}
				if g == nil || r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || r.x+r.w > 24 {
					t.Errorf("%s: bad gridPos %v", where, g)
				}
				for _, o := range placed {
					if r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h {
						t.Errorf("%s: gridPos %v overlaps another panel", where, g)
					}
				}
				placed = append(placed, r)
				if str(p["type"]) == "row" {
					continue
				}
				if !usesDatasourceVar(p["datasource"]) {
					t.Errorf("%s: datasource is not ${datasource}", where)
				}
				if str(obj(obj(p["fieldConfig"])["defaults"])["unit"]) == "" {
					t.Errorf("%s: no unit in fieldConfig.defaults", where)
				}
				targets := list(p["targets"])
				if len(targets) == 0 {
					t.Errorf("%s: no targets", where)
				}
				refs := map[string]bool{}
				for i, tv := range targets {
					tg := obj(tv)
					if !usesDatasourceVar(tg["datasource"]) {
						t.Errorf("%s target %d: datasource is not ${datasource}", where, i)
					}
					if str(tg["expr"]) == "" {
						t.Errorf("%s target %d: empty expr", where, i)
					}
					if ref := str(tg["refId"]); ref == "" || refs[ref] {
						t.Errorf("%s target %d: refId %q missing or repeated", where, i, ref)
					} else {
						refs[ref] = true
					}
				}
			}
			for where, e := range exprs(d) {
				// Several exporters or routers behind one datasource must
				// never be mixed: every query selects by both (the job and
				// instance variables' own by what comes before them).
				if where != `variable "job"` {
					for _, sel := range []string{`job=~"$job"`, `instance=~"$instance`} {
						if where == `variable "instance"` && sel != `job=~"$job"` {
							continue
						}
						if !strings.Contains(e, sel) {
							t.Errorf("%s: does not filter by %s: %s", where, sel, e)
						}
					}
				}
				for _, r := range rateRanges(e) {
					if r != "$__rate_interval" {
						t.Errorf("%s: rate/increase over [%s], want [$__rate_interval]: %s", where, r, e)
					}
				}
				for _, m := range varRef.FindAllStringSubmatch(e, -1) {
					used[m[1]] = true
					if vars[m[1]] == nil && !strings.HasPrefix(m[1], "__") {
						t.Errorf("%s: uses undefined variable $%s", where, m[1])
					}
				}
			}
			for _, name := range f.vars {
				if !used[name] {
					t.Errorf("variable %q is defined but no query uses it", name)
				}
			}
		})
	}
}

// The provisioning files load dashboards from a directory of these JSON files
// and define a Prometheus datasource whose scrape interval matches the 1s jobs.
func TestProvisioning(t *testing.T) {
	dir := filepath.Join("..", "deploy", "grafana", "provisioning")
	decode := func(name string, v any) {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var dsCfg struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string `yaml:"name"`
			UID       string `yaml:"uid"`
			Type      string `yaml:"type"`
			Access    string `yaml:"access"`
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"isDefault"`
			Editable  bool   `yaml:"editable"`
			JSONData  struct {
				TimeInterval string `yaml:"timeInterval"`
				HTTPMethod   string `yaml:"httpMethod"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decode("datasources/slaroute.yml", &dsCfg)
	if dsCfg.APIVersion != 1 || len(dsCfg.Datasources) != 1 {
		t.Fatalf("datasources: apiVersion %d, %d datasources; want 1, 1", dsCfg.APIVersion, len(dsCfg.Datasources))
	}
	if s := dsCfg.Datasources[0]; s.Type != "prometheus" || s.URL != "http://127.0.0.1:9090" || s.JSONData.TimeInterval != "1s" {
		t.Errorf("datasource = %+v, want prometheus at http://127.0.0.1:9090 with timeInterval 1s", s)
	}
	// Operators already run Grafana: a provisioned default would clash with theirs.
	if dsCfg.Datasources[0].IsDefault {
		t.Error("datasources/slaroute.yml sets isDefault: true; it must never claim the default datasource")
	}

	var dashCfg struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decode("dashboards/slaroute.yml", &dashCfg)
	if dashCfg.APIVersion != 1 || len(dashCfg.Providers) != 1 {
		t.Fatalf("dashboards: apiVersion %d, %d providers; want 1, 1", dashCfg.APIVersion, len(dashCfg.Providers))
	}
	if p := dashCfg.Providers[0]; p.Type != "file" || !filepath.IsAbs(p.Options.Path) {
		t.Errorf("provider = %+v, want type file with an absolute path", p)
	}
}
