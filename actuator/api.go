package actuator

import (
	"cmp"
	"encoding/json"
	"html/template"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/common/version"

	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/route"
)

// State is the JSON of GET /api/v1/routes.
type State struct {
	Pipeline   PipelineState `json:"pipeline"`
	DryRun     bool          `json:"dry_run"`
	FrozenAll  []string      `json:"frozen_all"`
	LastError  string        `json:"last_error,omitempty"`
	APIError   string        `json:"alertmanager_error,omitempty"`
	LastResync *time.Time    `json:"last_resync,omitempty"`
	Routes     []RouteState  `json:"routes"`
	// Unconfigured are routes the backend owns that are no longer configured.
	Unconfigured []RouteNexthops `json:"unconfigured"`
	// Plan is, in dry-run mode, what would be applied.
	Plan []PlannedChange `json:"plan"`
}

// PipelineState is the heartbeat's verdict.
type PipelineState struct {
	Healthy           bool       `json:"healthy"`
	Reason            string     `json:"reason,omitempty"`
	HeartbeatLastSeen *time.Time `json:"heartbeat_last_seen,omitempty"`
}

// RouteState is one configured route.
type RouteState struct {
	Prefix         string             `json:"prefix"`
	Configured     []string           `json:"configured"`
	Desired        []string           `json:"desired"`
	Installed      []string           `json:"installed"`
	Present        bool               `json:"present"`
	Converged      bool               `json:"converged"`
	Frozen         bool               `json:"frozen"`
	FrozenReasons  []string           `json:"frozen_reasons"`
	Guard          string             `json:"guard"`
	GuardKept      []string           `json:"guard_kept"`
	PendingRestore []string           `json:"pending_restore"`
	Withdrawn      []WithdrawnNexthop `json:"withdrawn"`
}

// WithdrawnNexthop names a nexthop with an active withdraw alert and why.
type WithdrawnNexthop struct {
	Nexthop string          `json:"nexthop"`
	Reasons []policy.Reason `json:"reasons"`
}

// RouteNexthops is a prefix and its nexthops.
type RouteNexthops struct {
	Prefix   string   `json:"prefix"`
	Nexthops []string `json:"nexthops"`
}

// PlannedChange is one dry-run change.
type PlannedChange struct {
	Action string   `json:"action"`
	Prefix string   `json:"prefix"`
	From   []string `json:"from"`
	To     []string `json:"to"`
}

// State returns the current state as served by the API.
func (a *Actuator) State() State {
	v := a.rec.View()
	d := v.Decision
	s := State{
		Pipeline:     PipelineState{Healthy: d.Pipeline.Healthy, Reason: d.Pipeline.Reason},
		DryRun:       v.DryRun,
		FrozenAll:    strs(d.FrozenAll),
		LastError:    v.LastError,
		APIError:     v.APIError,
		Routes:       []RouteState{},
		Unconfigured: []RouteNexthops{},
		Plan:         []PlannedChange{},
	}
	if !d.Pipeline.LastSeen.IsZero() {
		t := d.Pipeline.LastSeen.UTC()
		s.Pipeline.HeartbeatLastSeen = &t
	}
	if !v.LastResync.IsZero() {
		t := v.LastResync.UTC()
		s.LastResync = &t
	}
	configured := map[netip.Prefix]bool{}
	for _, r := range d.Routes {
		configured[r.Prefix] = true
		have := v.Installed[r.Prefix]
		rs := RouteState{
			Prefix:         r.Prefix.String(),
			Configured:     addrs(r.Configured),
			Desired:        addrs(r.Desired),
			Installed:      addrs(have),
			Present:        r.Present,
			Converged:      route.New(r.Prefix, have...).Equal(route.New(r.Prefix, r.Desired...)),
			Frozen:         len(r.Frozen) > 0,
			FrozenReasons:  strs(r.Frozen),
			Guard:          r.Guard,
			GuardKept:      addrs(r.Kept),
			PendingRestore: addrs(r.PendingRestore),
			Withdrawn:      []WithdrawnNexthop{},
		}
		for _, nh := range r.Configured {
			if reasons := r.Withdrawn[nh]; len(reasons) > 0 {
				rs.Withdrawn = append(rs.Withdrawn, WithdrawnNexthop{Nexthop: nh.String(), Reasons: reasons})
			}
		}
		s.Routes = append(s.Routes, rs)
	}
	for p, nhs := range v.Installed {
		if !configured[p] {
			s.Unconfigured = append(s.Unconfigured, RouteNexthops{Prefix: p.String(), Nexthops: addrs(nhs)})
		}
	}
	slices.SortFunc(s.Unconfigured, func(x, y RouteNexthops) int { return cmp.Compare(x.Prefix, y.Prefix) })
	for _, c := range v.Plan {
		s.Plan = append(s.Plan, PlannedChange{Action: c.Action, Prefix: c.Prefix.String(), From: addrs(c.From), To: addrs(c.To)})
	}
	return s
}

func (a *Actuator) serveRoutes(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a.State()); err != nil {
		a.logger.Error("Encoding route state failed", "err", err)
	}
}

var landing = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>route_actuator</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}.bad{color:#b00}.ok{color:#070}</style>
</head><body>
<h1>route_actuator</h1>
<p>Version {{.Version}}. <a href="/metrics">Metrics</a> · <a href="/api/v1/routes">/api/v1/routes</a> (JSON, same state)</p>
{{with .S}}
<p>Alert pipeline: {{if .Pipeline.Healthy}}<b class="ok">healthy</b>{{else}}<b class="bad">unhealthy</b>: {{.Pipeline.Reason}}{{end}}
{{with .Pipeline.HeartbeatLastSeen}} (heartbeat last seen {{.Format "2006-01-02T15:04:05Z07:00"}}){{end}}
{{if .DryRun}}<br><b>Dry run</b>: changes are planned, never applied.{{end}}
{{with .LastError}}<br><span class="bad">Last error: {{.}}</span>{{end}}
{{with .APIError}}<br><span class="bad">Alertmanager: {{.}}</span>{{end}}
{{with .LastResync}}<br>Last successful resync: {{.Format "2006-01-02T15:04:05Z07:00"}}{{end}}</p>
<table><tr><th>route</th><th>configured</th><th>desired</th><th>installed</th><th>state</th><th>withdrawn (why)</th></tr>
{{range .Routes}}<tr><td>{{.Prefix}}</td><td>{{range .Configured}}{{.}}<br>{{end}}</td><td>{{range .Desired}}{{.}}<br>{{end}}</td><td>{{range .Installed}}{{.}}<br>{{end}}</td>
<td>{{if .Converged}}<span class="ok">converged</span>{{else}}<span class="bad">not converged</span>{{end}}
{{if .Frozen}}<br><b>frozen</b>: {{range .FrozenReasons}}{{.}}; {{end}}{{end}}
{{with .Guard}}<br><b>guard {{.}}</b>{{end}}{{with .GuardKept}} keeps {{range .}}{{.}} {{end}}{{end}}
{{with .PendingRestore}}<br>restore pending confirmation: {{range .}}{{.}} {{end}}{{end}}</td>
<td>{{range .Withdrawn}}{{.Nexthop}}: {{range .Reasons}}{{.Alertname}} {{.Fingerprint}} since {{.Since.Format "2006-01-02T15:04:05Z07:00"}}; {{end}}<br>{{end}}</td></tr>
{{end}}</table>
{{with .Unconfigured}}<p>Owned routes no longer configured: {{range .}}{{.Prefix}} via {{range .Nexthops}}{{.}} {{end}}; {{end}}</p>{{end}}
{{with .Plan}}<p>Dry-run plan:</p><ul>{{range .}}<li>{{.Action}} {{.Prefix}} {{.From}} -&gt; {{.To}}</li>{{end}}</ul>{{end}}
{{end}}
</body></html>
`))

func (a *Actuator) serveLanding(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := landing.Execute(w, struct {
		Version string
		S       State
	}{version.Version, a.State()}); err != nil {
		a.logger.Error("Rendering landing page failed", "err", err)
	}
}

func addrs(in []netip.Addr) []string {
	out := make([]string, len(in))
	for i, a := range in {
		out[i] = a.String()
	}
	return out
}

func strs(in []string) []string {
	if in == nil {
		return []string{}
	}
	return in
}
