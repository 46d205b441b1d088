// Package dashboards builds the Grafana dashboards shipped in this directory
// (dns-sla.json, route-actuator.json) as plain JSON for file provisioning,
// with Grafana's Go SDK (github.com/grafana/grafana-foundation-sdk/go).
// The JSON files are generated: edit the Go code and run `go generate ./dashboards`.
package dashboards

//go:generate go run ./gen

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// ds is the datasource every panel, target, variable and annotation uses:
// the dashboard's `datasource` variable, so imports need no __inputs.
func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

func ptr[T any](v T) *T { return &v }

// The variables every query filters by, so several exporters, routers or
// Prometheus jobs are never mixed on one panel.
const scrapeSel = `job=~"$job", instance=~"$instance"`

// board is a dashboard under construction: the SDK's builder plus the
// panel grid (left to right on Grafana's 24 columns) and the first error.
type board struct {
	b       *dashboard.DashboardBuilder
	x, y, h uint32
	ids     uint32
	err     error
}

// newBoard returns a dashboard with the datasource, job and instance
// variables first. jobQuery and instanceQuery are label_values queries of a
// metric only the dashboard's binary exposes.
func newBoard(uid, title, description, jobQuery, instanceQuery string) *board {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).Description(description).
		Tags([]string{"slaroute"}).Editable().Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("5s").Version(1).
		Time("now-30m", "now").Timezone(common.TimeZoneBrowser).
		Link(dashboard.NewDashboardLinkBuilder("slaroute").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"slaroute"}).AsDropdown(true).IncludeVars(true).KeepTime(true)).
		Annotations([]cog.Builder[dashboard.AnnotationQuery]{}).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		// job: all jobs scraping the binary by default (the exporter is
		// scraped by two, the verdict and the full job); instance: one
		// exporter or router at a time, never a mix.
		WithVariable(variable("job", "Job", jobQuery, "Prometheus job(s) scraping the binary (label job)", true).
			Regex(resultRegex(jobQuery, "job"))).
		WithVariable(variable("instance", "Instance", instanceQuery,
			"One scraped binary (label instance): panels never mix instances", false).
			Regex(resultRegex(instanceQuery, "instance")))
	return &board{b: b}
}

// resultRegex extracts a label's value from query_result()'s lines
// ({job="dns_sla"} 1 1700000000000); label_values needs none.
func resultRegex(query, label string) string {
	if !strings.HasPrefix(query, "query_result(") {
		return ""
	}
	return `/` + label + `="([^"]+)"/`
}

// variable is a variable of a query's values; multi ones default to All.
func variable(name, label, query, help string, multi bool) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(ds()).
		Query(dashboard.StringOrMap{String: ptr(query)}).Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Description(help)
	if multi {
		v.Multi(true).IncludeAll(true).AllValue(".*")
	}
	return v
}

// queryVar adds a multi-value variable that defaults to All.
func (d *board) queryVar(name, label, query, help string) {
	d.b.WithVariable(variable(name, label, query, help, true))
}

// annotation adds a Prometheus annotation query: one event per series and
// step where expr has a value, titled and tagged from its labels.
func (d *board) annotation(name, color, expr, title, text, tags string) {
	d.b.Annotation(dashboard.NewAnnotationQueryBuilder().Name(name).Datasource(ds()).
		Enable(true).Hide(false).IconColor(color).
		Expr(expr).TitleFormat(title).TextFormat(text).TagKeys(tags))
}

// row starts a new line of panels of height h.
func (d *board) row(h uint32) {
	d.y += d.h
	d.x, d.h = 0, h
}

// panelBuilder is what every SDK panel builder is.
type panelBuilder = cog.Builder[dashboard.Panel]

// built hands an already built panel back to the dashboard builder.
type built dashboard.Panel

func (p built) Build() (dashboard.Panel, error) { return dashboard.Panel(p), nil }

// add places a panel of width w at the next free place of the current row.
func (d *board) add(w uint32, pb panelBuilder) {
	if d.x+w > 24 {
		d.row(d.h)
	}
	p, err := pb.Build()
	if err != nil {
		if d.err == nil {
			d.err = err
		}
		return
	}
	d.ids++
	p.Id = ptr(d.ids)
	p.GridPos = &dashboard.GridPos{H: d.h, W: w, X: d.x, Y: d.y}
	p.Datasource = ptr(ds())
	d.x += w
	d.b.WithPanel(built(p))
}

// build returns the finished dashboard.
func (d *board) build() (dashboard.Dashboard, error) {
	if d.err != nil {
		return dashboard.Dashboard{}, d.err
	}
	out, err := d.b.Build()
	if err != nil {
		return out, err
	}
	// The SDK defaults annotation toggles and links to Grafana 12's
	// controls menu; keep them where every Grafana shows them.
	for i := range out.Annotations.List {
		out.Annotations.List[i].Placement = nil
	}
	for i := range out.Links {
		out.Links[i].Placement = nil
	}
	return out, nil
}

// q is a range query with a legend.
func q(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds()).Expr(expr).LegendFormat(legend).Range()
}

// targets names the queries A, B, ... in order.
func targets(qs []*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, t := range qs {
		out[i] = t.RefId(string(rune('A' + i)))
	}
	return out
}

func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).
		Steps(append([]dashboard.Threshold{{Color: "green"}}, steps...))
}

// step colors values from v up.
func step(color string, v float64) dashboard.Threshold {
	return dashboard.Threshold{Color: color, Value: &v}
}

func color(mode dashboard.FieldColorModeId) *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(mode)
}

func timeseriesPanel(title, help, unit string, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Description(help).Unit(unit).
		ColorScheme(color(dashboard.FieldColorModeIdPaletteClassic)).Thresholds(thresholds()).
		DrawStyle(common.GraphDrawStyleLine).LineWidth(1).FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).SpanNulls(common.BoolOrFloat64{Bool: ptr(false)}).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		Targets(targets(qs))
}

// stepped draws values that change in steps (counts, 0/1 states).
func stepped(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.LineInterpolation(common.LineInterpolationStepAfter)
}

// bars draws per-interval counts as stacked bars.
func bars(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A"))
}

// stateTimeline shows 0/1 series as colored bands with the given texts.
func stateTimeline(title, help, zero, one, zeroColor, oneColor string, qs ...*prometheus.DataqueryBuilder) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().Title(title).Description(help).Unit("none").Min(0).Max(1).
		ColorScheme(color(dashboard.FieldColorModeIdThresholds)).Thresholds(thresholds()).
		FillOpacity(80).LineWidth(0).
		Mappings(stateMapping(zero, one, zeroColor, oneColor)).
		MergeValues(true).ShowValue(common.VisibilityModeNever).RowHeight(0.9).AlignValue(common.TimelineValueAlignmentLeft).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).ShowLegend(false)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)).
		Targets(targets(qs))
}

func stateMapping(zero, one, zeroColor, oneColor string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: ptr(zero), Color: ptr(zeroColor), Index: ptr(int32(0))},
			"1": {Text: ptr(one), Color: ptr(oneColor), Index: ptr(int32(1))},
		},
	}}}
}

// statPanel shows the last value of each series.
func statPanel(title, help, unit string, qs ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(help).Unit(unit).
		ColorScheme(color(dashboard.FieldColorModeIdThresholds)).Thresholds(thresholds()).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)).
		ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeArea).
		JustifyMode(common.BigValueJustifyModeAuto).Orientation(common.VizOrientationAuto).
		TextMode(common.BigValueTextModeValueAndName).
		Targets(targets(qs))
}

// withStates maps 0/1 to texts and colors on a stat panel.
func withStates(p *stat.PanelBuilder, zero, one, zeroColor, oneColor string) *stat.PanelBuilder {
	return p.Mappings(stateMapping(zero, one, zeroColor, oneColor))
}

// withThresholds colors values green below the first step.
func withThresholds(p *stat.PanelBuilder, steps ...dashboard.Threshold) *stat.PanelBuilder {
	return p.Thresholds(thresholds(steps...))
}

// heatmapPanel shows a classic histogram's per-interval bucket counts.
func heatmapPanel(title, help, yUnit string, t *prometheus.DataqueryBuilder) *heatmap.PanelBuilder {
	return heatmap.NewPanelBuilder().Title(title).Description(help).Unit("short").Thresholds(thresholds()).
		ScaleDistribution(common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLinear)).
		Calculate(false).CellGap(1).
		Color(heatmap.NewHeatmapColorOptionsBuilder().Mode(heatmap.HeatmapColorModeScheme).Scheme("Spectral").
			Steps(64).Exponent(0.5).Fill("dark-orange").Scale(heatmap.HeatmapColorScaleExponential).Reverse(false)).
		YAxis(heatmap.NewYAxisConfigBuilder().AxisPlacement(common.AxisPlacementLeft).Unit(yUnit)).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutAuto).Value("Probes")).
		ShowLegend().
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true).ShowColorScale(true)).
		Targets(targets([]*prometheus.DataqueryBuilder{t.Format(prometheus.PromQueryFormatHeatmap)}))
}

// All returns the shipped dashboards by file name.
func All() (map[string]dashboard.Dashboard, error) {
	out := map[string]dashboard.Dashboard{}
	for name, f := range map[string]func() (dashboard.Dashboard, error){
		"dns-sla.json":        DNSSLA,
		"route-actuator.json": RouteActuator,
	} {
		d, err := f()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// Marshal renders a dashboard as the committed JSON (indented, newline-terminated).
func Marshal(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal dashboard %v: %w", d.Uid, err)
	}
	return append(b, '\n'), nil
}
