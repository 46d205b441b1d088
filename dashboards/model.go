// Package dashboards builds the Grafana dashboards shipped in this directory
// (dns-sla.json, route-actuator.json) as plain JSON for file provisioning.
// The JSON files are generated: edit the Go code and run `go generate ./dashboards`.
package dashboards

//go:generate go run ./gen

import (
	"encoding/json"
	"fmt"
)

// The subset of Grafana's dashboard JSON model these dashboards use.
type (
	Dashboard struct {
		UID           string      `json:"uid"`
		Title         string      `json:"title"`
		Description   string      `json:"description"`
		Tags          []string    `json:"tags"`
		Editable      bool        `json:"editable"`
		GraphTooltip  int         `json:"graphTooltip"`
		Refresh       string      `json:"refresh"`
		SchemaVersion int         `json:"schemaVersion"`
		Version       int         `json:"version"`
		Time          TimeRange   `json:"time"`
		Timezone      string      `json:"timezone"`
		Annotations   Annotations `json:"annotations"`
		Templating    Templating  `json:"templating"`
		Links         []Link      `json:"links"`
		Panels        []Panel     `json:"panels"`
	}
	TimeRange struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	Link struct {
		Title       string   `json:"title"`
		Type        string   `json:"type"`
		Tags        []string `json:"tags"`
		AsDropdown  bool     `json:"asDropdown"`
		IncludeVars bool     `json:"includeVars"`
		KeepTime    bool     `json:"keepTime"`
	}
	Annotations struct {
		List []Annotation `json:"list"`
	}
	Annotation struct {
		Name        string      `json:"name"`
		Datasource  *Datasource `json:"datasource"`
		Enable      bool        `json:"enable"`
		Hide        bool        `json:"hide"`
		IconColor   string      `json:"iconColor"`
		Expr        string      `json:"expr"`
		Step        string      `json:"step"`
		TitleFormat string      `json:"titleFormat"`
		TextFormat  string      `json:"textFormat"`
		TagKeys     string      `json:"tagKeys"`
	}
	Templating struct {
		List []Variable `json:"list"`
	}
	Variable struct {
		Name        string      `json:"name"`
		Label       string      `json:"label"`
		Type        string      `json:"type"`
		Datasource  *Datasource `json:"datasource,omitempty"`
		Query       string      `json:"query"`
		Definition  string      `json:"definition,omitempty"`
		Refresh     int         `json:"refresh"`
		Regex       string      `json:"regex"`
		Sort        int         `json:"sort,omitempty"`
		Multi       bool        `json:"multi"`
		IncludeAll  bool        `json:"includeAll"`
		AllValue    string      `json:"allValue,omitempty"`
		Current     struct{}    `json:"current"`
		Options     []struct{}  `json:"options"`
		Hide        int         `json:"hide"`
		Description string      `json:"description,omitempty"`
	}
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	GridPos struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	}
	Panel struct {
		ID          int            `json:"id"`
		Type        string         `json:"type"`
		Title       string         `json:"title"`
		Description string         `json:"description"`
		Datasource  *Datasource    `json:"datasource"`
		GridPos     GridPos        `json:"gridPos"`
		FieldConfig FieldConfig    `json:"fieldConfig"`
		Options     map[string]any `json:"options"`
		Targets     []Target       `json:"targets"`
	}
	FieldConfig struct {
		Defaults  FieldDefaults `json:"defaults"`
		Overrides []any         `json:"overrides"`
	}
	FieldDefaults struct {
		Unit       string         `json:"unit"`
		Min        *float64       `json:"min,omitempty"`
		Max        *float64       `json:"max,omitempty"`
		Decimals   *int           `json:"decimals,omitempty"`
		Color      map[string]any `json:"color,omitempty"`
		Custom     map[string]any `json:"custom,omitempty"`
		Mappings   []Mapping      `json:"mappings"`
		Thresholds Thresholds     `json:"thresholds"`
	}
	Mapping struct {
		Type    string                  `json:"type"`
		Options map[string]MappingValue `json:"options"`
	}
	MappingValue struct {
		Text  string `json:"text"`
		Color string `json:"color"`
		Index int    `json:"index"`
	}
	Thresholds struct {
		Mode  string `json:"mode"`
		Steps []Step `json:"steps"`
	}
	Step struct {
		Color string   `json:"color"`
		Value *float64 `json:"value"`
	}
	Target struct {
		RefID        string      `json:"refId"`
		Datasource   *Datasource `json:"datasource"`
		Expr         string      `json:"expr"`
		LegendFormat string      `json:"legendFormat"`
		Format       string      `json:"format,omitempty"`
		Range        bool        `json:"range"`
		Instant      bool        `json:"instant"`
	}
)

// ds is the datasource every panel, target, variable and annotation uses:
// the dashboard's `datasource` variable, so imports need no __inputs.
func ds() *Datasource { return &Datasource{Type: "prometheus", UID: "${datasource}"} }

func ptr[T any](v T) *T { return &v }

// newDashboard returns a dashboard with the datasource variable first.
func newDashboard(uid, title, description string) *Dashboard {
	return &Dashboard{
		UID: uid, Title: title, Description: description,
		Tags: []string{"slaroute"}, Editable: true, GraphTooltip: 1,
		Refresh: "5s", SchemaVersion: 39, Version: 1,
		Time:     TimeRange{From: "now-30m", To: "now"},
		Timezone: "browser",
		Links: []Link{{Title: "slaroute", Type: "dashboards", Tags: []string{"slaroute"},
			AsDropdown: true, IncludeVars: true, KeepTime: true}},
		Annotations: Annotations{List: []Annotation{}},
		Templating: Templating{List: []Variable{{
			Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus",
			Refresh: 1, Options: []struct{}{},
		}}},
	}
}

// queryVar adds a multi-value label_values variable that defaults to All.
func (d *Dashboard) queryVar(name, label, query, help string) {
	d.Templating.List = append(d.Templating.List, Variable{
		Name: name, Label: label, Type: "query", Datasource: ds(),
		Query: query, Definition: query, Refresh: 2, Sort: 1,
		Multi: true, IncludeAll: true, AllValue: ".*", Options: []struct{}{},
		Description: help,
	})
}

func (d *Dashboard) annotation(name, color, expr, title, text, tags string) {
	d.Annotations.List = append(d.Annotations.List, Annotation{
		Name: name, Datasource: ds(), Enable: true, IconColor: color,
		Expr: expr, TitleFormat: title, TextFormat: text, TagKeys: tags,
	})
}

// layout places panels left to right on Grafana's 24-column grid.
type layout struct {
	d       *Dashboard
	x, y, h int
}

// row starts a new line of panels of height h.
func (l *layout) row(h int) {
	l.y += l.h
	l.x, l.h = 0, h
}

func (l *layout) add(w int, p Panel) {
	if l.x+w > 24 {
		l.row(l.h)
	}
	p.ID = len(l.d.Panels) + 1
	p.GridPos = GridPos{H: l.h, W: w, X: l.x, Y: l.y}
	p.Datasource = ds()
	for i := range p.Targets {
		p.Targets[i].RefID = string(rune('A' + i))
		p.Targets[i].Datasource = ds()
	}
	if p.FieldConfig.Defaults.Mappings == nil {
		p.FieldConfig.Defaults.Mappings = []Mapping{}
	}
	if p.FieldConfig.Defaults.Thresholds.Steps == nil {
		p.FieldConfig.Defaults.Thresholds = Thresholds{Mode: "absolute", Steps: []Step{{Color: "green"}}}
	}
	if p.FieldConfig.Overrides == nil {
		p.FieldConfig.Overrides = []any{}
	}
	l.x += w
	l.d.Panels = append(l.d.Panels, p)
}

// q is a range query with a legend.
func q(expr, legend string) Target { return Target{Expr: expr, LegendFormat: legend, Range: true} }

func timeseries(title, help, unit string, targets ...Target) Panel {
	return Panel{
		Type: "timeseries", Title: title, Description: help,
		FieldConfig: FieldConfig{Defaults: FieldDefaults{
			Unit:   unit,
			Color:  map[string]any{"mode": "palette-classic"},
			Custom: map[string]any{"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": false},
		}},
		Options: map[string]any{
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		},
		Targets: targets,
	}
}

// stepped draws values that change in steps (counts, 0/1 states).
func stepped(p Panel) Panel {
	p.FieldConfig.Defaults.Custom["lineInterpolation"] = "stepAfter"
	return p
}

// bars draws per-interval counts as stacked bars.
func bars(p Panel) Panel {
	p.FieldConfig.Defaults.Custom["drawStyle"] = "bars"
	p.FieldConfig.Defaults.Custom["fillOpacity"] = 80
	p.FieldConfig.Defaults.Custom["stacking"] = map[string]any{"mode": "normal", "group": "A"}
	return p
}

// stateTimeline shows 0/1 series as colored bands with the given texts.
func stateTimeline(title, help, zero, one string, zeroColor, oneColor string, targets ...Target) Panel {
	return Panel{
		Type: "state-timeline", Title: title, Description: help,
		FieldConfig: FieldConfig{Defaults: FieldDefaults{
			Unit: "none", Min: ptr(0.0), Max: ptr(1.0),
			Color:    map[string]any{"mode": "thresholds"},
			Custom:   map[string]any{"fillOpacity": 80, "lineWidth": 0},
			Mappings: []Mapping{stateMapping(zero, one, zeroColor, oneColor)},
		}},
		Options: map[string]any{
			"mergeValues": true, "showValue": "never", "rowHeight": 0.9, "alignValue": "left",
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": false},
			"tooltip": map[string]any{"mode": "single", "sort": "none"},
		},
		Targets: targets,
	}
}

func stateMapping(zero, one, zeroColor, oneColor string) Mapping {
	return Mapping{Type: "value", Options: map[string]MappingValue{
		"0": {Text: zero, Color: zeroColor, Index: 0},
		"1": {Text: one, Color: oneColor, Index: 1},
	}}
}

// stat shows the last value of each series.
func stat(title, help, unit string, targets ...Target) Panel {
	return Panel{
		Type: "stat", Title: title, Description: help,
		FieldConfig: FieldConfig{Defaults: FieldDefaults{Unit: unit, Color: map[string]any{"mode": "thresholds"}}},
		Options: map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
			"textMode": "value_and_name",
		},
		Targets: targets,
	}
}

// withStates maps 0/1 to texts and colors on a stat panel.
func withStates(p Panel, zero, one, zeroColor, oneColor string) Panel {
	p.FieldConfig.Defaults.Mappings = []Mapping{stateMapping(zero, one, zeroColor, oneColor)}
	return p
}

// withThresholds colors values green below the first step.
func withThresholds(p Panel, steps ...Step) Panel {
	p.FieldConfig.Defaults.Thresholds = Thresholds{Mode: "absolute", Steps: append([]Step{{Color: "green"}}, steps...)}
	return p
}

// heatmap shows a classic histogram's per-interval bucket counts.
func heatmap(title, help, yUnit string, target Target) Panel {
	target.Format = "heatmap"
	return Panel{
		Type: "heatmap", Title: title, Description: help,
		FieldConfig: FieldConfig{Defaults: FieldDefaults{
			Unit:   "short",
			Custom: map[string]any{"scaleDistribution": map[string]any{"type": "linear"}},
		}},
		Options: map[string]any{
			"calculate": false,
			"cellGap":   1,
			"color":     map[string]any{"mode": "scheme", "scheme": "Spectral", "steps": 64, "exponent": 0.5, "fill": "dark-orange", "scale": "exponential", "reverse": false},
			"yAxis":     map[string]any{"axisPlacement": "left", "unit": yUnit},
			"rowsFrame": map[string]any{"layout": "auto", "value": "Probes"},
			"legend":    map[string]any{"show": true},
			"tooltip":   map[string]any{"mode": "single", "yHistogram": true, "showColorScale": true},
		},
		Targets: []Target{target},
	}
}

// All returns the shipped dashboards by file name.
func All() map[string]*Dashboard {
	return map[string]*Dashboard{
		"dns-sla.json":        DNSSLA(),
		"route-actuator.json": RouteActuator(),
	}
}

// Marshal renders a dashboard as the committed JSON (indented, newline-terminated).
func Marshal(d *Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}
