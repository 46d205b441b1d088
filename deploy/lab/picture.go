//go:build linux

package lab

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"time"
)

// Picture is the timeline of one scenario, drawn by WritePage: rows of
// state bands (probe verdict, alert, kernel route membership per server)
// and rows of bars (the share of client flows each server answered).
type Picture struct {
	Title, Note string
	Start, End  time.Time
	Marks       []Mark
	Rows        []Row
}

// Mark is a labelled instant drawn as a vertical line (failure injected,
// nexthop withdrawn, ...).
type Mark struct {
	At    time.Time
	Label string
}

// Row is one line of a Picture: Spans for states, Bars for shares.
type Row struct {
	Group string // probe, alert, route, clients, newclients
	Label string // server name, or "failed" for client queries without answer
	Spans []Span
	Bars  []Bar
}

// Span is a state held from From to To. States: up, down (probe); firing,
// quiet (alert); in, out (route); unknown when the sample failed.
type Span struct {
	From, To time.Time
	State    string
}

// Bar is the share (0..1) of client flows in one sample interval.
type Bar struct {
	From, To time.Time
	Share    float64
}

// Group titles, in drawing order.
var pictureGroups = []struct{ Key, Title string }{
	{"probe", "probe verdict (exporter, dns_sla_verdict)"},
	{"alert", "DNSServerDown (Alertmanager)"},
	{"route", "kernel route membership (router namespace)"},
	{"clients", "answers to long-lived client flows (share per sample)"},
	{"newclients", "answers to new client flows, fresh source ports (share per sample)"},
}

// Geometry of a drawing, in SVG user units (pixels at 100%).
const (
	picLabelW = 150.0
	picPlotW  = 900.0
	picRowH   = 16.0
	picGroupH = 22.0
	picTop    = 34.0
	picBottom = 26.0
)

type svgRect struct {
	X, Y, W, H float64
	Class      string
	Fill       string
	Opacity    float64
	Title      string
}

type svgText struct {
	X, Y   float64
	Class  string
	Anchor string
	Text   string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class          string
	Title          string
}

type svgRow struct {
	Group, Label string
	Rects        []svgRect
}

type svgPicture struct {
	ID, Title, Note string
	Width, Height   float64
	Texts           []svgText
	Lines           []svgLine
	Rows            []svgRow
}

var stateFill = map[string]string{
	"up": "#2e9e44", "down": "#d62728", "firing": "#ff7f0e", "quiet": "#e8e8e8",
	"in": "#1f77b4", "out": "#e8e8e8", "unknown": "#9e9e9e",
}

// layout turns a Picture into positioned SVG shapes.
func (p Picture) layout(id string) svgPicture {
	dur := p.End.Sub(p.Start)
	if dur <= 0 {
		dur = time.Second
	}
	xOf := func(t time.Time) float64 {
		f := float64(t.Sub(p.Start)) / float64(dur)
		return picLabelW + max(0, min(1, f))*picPlotW
	}
	out := svgPicture{ID: id, Title: p.Title, Note: p.Note, Width: picLabelW + picPlotW + 20}
	y := picTop
	for _, g := range pictureGroups {
		var rows []Row
		for _, r := range p.Rows {
			if r.Group == g.Key {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		out.Texts = append(out.Texts, svgText{X: 4, Y: y + 15, Class: "group", Text: g.Title})
		y += picGroupH
		for _, r := range rows {
			sr := svgRow{Group: r.Group, Label: r.Label}
			out.Texts = append(out.Texts, svgText{X: picLabelW - 6, Y: y + picRowH - 4, Class: "label", Anchor: "end", Text: r.Label})
			for _, s := range r.Spans {
				x0, x1 := xOf(s.From), xOf(s.To)
				sr.Rects = append(sr.Rects, svgRect{X: x0, Y: y + 1, W: max(x1-x0, 0.5), H: picRowH - 2,
					Class: "span " + s.State, Fill: stateFill[s.State], Opacity: 1,
					Title: fmt.Sprintf("%s %s: %s from +%.2fs to +%.2fs", r.Group, r.Label, s.State,
						s.From.Sub(p.Start).Seconds(), s.To.Sub(p.Start).Seconds())})
			}
			for _, b := range r.Bars {
				x0, x1 := xOf(b.From), xOf(b.To)
				h := (picRowH - 2) * b.Share
				fill := "#1f77b4"
				if r.Label == "failed" {
					fill = "#d62728"
				}
				sr.Rects = append(sr.Rects, svgRect{X: x0, Y: y + picRowH - 1 - h, W: max(x1-x0, 0.5), H: h,
					Class: "bar", Fill: fill, Opacity: 1,
					Title: fmt.Sprintf("%s at +%.2fs: %.0f%% of flows", r.Label, b.From.Sub(p.Start).Seconds(), 100*b.Share)})
			}
			out.Rows = append(out.Rows, sr)
			y += picRowH
		}
	}
	bottom := y
	// Time axis: a tick per second (per 5 s beyond 30 s).
	every := time.Second
	if dur > 30*time.Second {
		every = 5 * time.Second
	}
	for t := time.Duration(0); t <= dur; t += every {
		x := xOf(p.Start.Add(t))
		out.Lines = append(out.Lines, svgLine{X1: x, Y1: picTop, X2: x, Y2: bottom, Class: "tick"})
		out.Texts = append(out.Texts, svgText{X: x, Y: bottom + 14, Class: "axis", Anchor: "middle", Text: fmt.Sprintf("%.0fs", t.Seconds())})
	}
	for i, m := range p.Marks {
		x := xOf(m.At)
		out.Lines = append(out.Lines, svgLine{X1: x, Y1: picTop - 4, X2: x, Y2: bottom, Class: "mark",
			Title: fmt.Sprintf("%s at +%.2fs", m.Label, m.At.Sub(p.Start).Seconds())})
		// Labels alternate between two lines above the plot so close marks stay readable.
		out.Texts = append(out.Texts, svgText{X: x + 2, Y: picTop - 20 + 10*float64(i%2), Class: "mark", Text: m.Label})
	}
	out.Height = bottom + picBottom
	return out
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body { font: 13px sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 18px; } h2 { font-size: 15px; margin: 24px 0 4px; }
p.note { margin: 0 0 6px; color: #555; max-width: 1000px; }
svg text { font: 11px sans-serif; fill: #222; }
svg text.group { font-weight: bold; }
svg text.mark { fill: #6a1b9a; }
svg line.tick { stroke: #ddd; stroke-width: 1; }
svg line.mark { stroke: #6a1b9a; stroke-width: 1.5; stroke-dasharray: 4 2; }
.legend span { display: inline-block; padding: 1px 6px; margin-right: 6px; color: #fff; }
</style></head>
<body>
<h1>{{.Title}}</h1>
<p class="note">Probe, alert and client rows are sampled about every 250 ms (a band starts at the sample that saw the state, so it may lag the event by up to a sample); route membership is exact (<code>ip monitor</code>). Hover a band for its times.</p>
<p class="legend"><span style="background:#2e9e44">probe up</span><span style="background:#d62728">probe down</span><span style="background:#ff7f0e">alert firing</span><span style="background:#1f77b4">in the route / answering</span><span style="background:#9e9e9e">unknown</span><span style="background:#e8e8e8;color:#222">quiet / out of the route</span></p>
{{range .Pictures}}<section class="scenario" id="{{.ID}}">
<h2>{{.Title}}</h2>{{if .Note}}
<p class="note">{{.Note}}</p>{{end}}
<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{range .Lines}}<line class="{{.Class}}" x1="{{.X1}}" y1="{{.Y1}}" x2="{{.X2}}" y2="{{.Y2}}">{{if .Title}}<title>{{.Title}}</title>{{end}}</line>
{{end}}{{range .Rows}}<g class="row" data-group="{{.Group}}" data-label="{{.Label}}">
{{range .Rects}}<rect class="{{.Class}}" x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{end}}</g>
{{end}}{{range .Texts}}<text class="{{.Class}}" x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}"{{if .Anchor}} text-anchor="{{.Anchor}}"{{end}}>{{.Text}}</text>
{{end}}</svg>
</section>
{{end}}</body></html>
`))

// RenderPage returns a self-contained HTML page (inline SVG, no scripts,
// nothing fetched) with one timeline per picture.
func RenderPage(title string, pics []Picture) ([]byte, error) {
	data := struct {
		Title    string
		Pictures []svgPicture
	}{Title: title}
	for i, p := range pics {
		data.Pictures = append(data.Pictures, p.layout(fmt.Sprintf("scenario-%d", i+1)))
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WritePage writes RenderPage's page to path.
func WritePage(path, title string, pics []Picture) error {
	b, err := RenderPage(title, pics)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
