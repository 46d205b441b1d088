package actuator

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"

	"github.com/prometheus/common/version"

	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/dampening"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/reconcile"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/state"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// State returns the current state as served by the API.
func (a *Actuator) State() apiv1.Routes {
	v := a.rec.View()
	d := v.Decision
	a.mu.RLock()
	cfg := a.cfg
	a.mu.RUnlock()
	s := apiv1.Routes{
		Pipeline:     apiv1.Pipeline{Healthy: d.Pipeline.Healthy, Reason: d.Pipeline.Reason},
		DryRun:       v.DryRun,
		FrozenAll:    nonNil(d.FrozenAll),
		LastError:    v.LastError,
		APIError:     v.APIError,
		Routes:       []apiv1.Route{},
		Unconfigured: []apiv1.RouteNexthops{},
		Plan:         []apiv1.PlannedChange{},
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
		rs := apiv1.Route{
			Prefix:         r.Prefix.String(),
			MinNexthops:    minNexthops(cfg, r.Prefix),
			Configured:     addrs(r.Configured),
			Desired:        addrs(r.Desired),
			Installed:      addrs(have),
			Present:        r.Present,
			Converged:      route.New(r.Prefix, have...).Equal(route.New(r.Prefix, r.Desired...)),
			Frozen:         len(r.Frozen) > 0,
			FrozenReasons:  nonNil(r.Frozen),
			Guard:          r.Guard,
			GuardKept:      addrs(r.Kept),
			PendingRestore: addrs(r.PendingRestore),
			Withdrawn:      []apiv1.WithdrawnNexthop{},
			Nexthops:       []apiv1.Nexthop{},
		}
		for _, nh := range r.Configured {
			if reasons := r.Withdrawn[nh]; len(reasons) > 0 {
				rs.Withdrawn = append(rs.Withdrawn, apiv1.WithdrawnNexthop{Nexthop: nh.String(), Reasons: reasons})
			}
			rs.Nexthops = append(rs.Nexthops, nexthopState(v, r, have, nh))
		}
		s.Routes = append(s.Routes, rs)
	}
	for p, nhs := range v.Installed {
		if !configured[p] {
			s.Unconfigured = append(s.Unconfigured, apiv1.RouteNexthops{Prefix: p.String(), Nexthops: addrs(nhs)})
		}
	}
	slices.SortFunc(s.Unconfigured, func(x, y apiv1.RouteNexthops) int { return cmp.Compare(x.Prefix, y.Prefix) })
	for _, c := range v.Plan {
		s.Plan = append(s.Plan, apiv1.PlannedChange{Action: c.Action, Prefix: c.Prefix.String(), From: addrs(c.From), To: addrs(c.To)})
	}
	return s
}

// nexthopState is one configured nexthop of a route in the API: where it
// is, why, its drain and its dampening.
func nexthopState(v reconcile.View, r policy.Route, have []netip.Addr, nh netip.Addr) apiv1.Nexthop {
	n := apiv1.Nexthop{
		Nexthop:   nh.String(),
		Desired:   slices.Contains(r.Desired, nh),
		Installed: slices.Contains(have, nh),
		Why:       append([]events.Cause{}, r.Why[nh]...), // a copy, [] rather than null
	}
	if n.Desired && !n.Installed && v.Listed {
		n.Why = append(n.Why, events.Cause{Kind: events.NotConverged})
	}
	if i := slices.IndexFunc(v.Drains, func(d state.Drain) bool { return d.Covers(r.Prefix, nh) }); i >= 0 {
		d := v.Drains[i]
		n.Drained = &events.DrainRef{Reason: d.Reason, Who: d.Who, Expires: d.Expires}
	}
	if st, ok := v.Dampening[dampening.Key{Prefix: r.Prefix, Nexthop: nh}]; ok {
		n.Dampening = &events.DampingRef{Penalty: math.Round(st.Penalty), SuppressedUntil: st.Until}
	}
	return n
}

func minNexthops(cfg *config.Config, p netip.Prefix) int {
	if i := slices.IndexFunc(cfg.Routes, func(r config.Route) bool { return r.Prefix == p }); i >= 0 {
		return cfg.Routes[i].MinNexthops
	}
	return 0
}

func (a *Actuator) serveRoutes(w http.ResponseWriter, _ *http.Request) {
	a.writeJSON(w, http.StatusOK, a.State())
}

func (a *Actuator) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.logger.Error("Encoding API answer failed", "err", err)
	}
}

func (a *Actuator) writeError(w http.ResponseWriter, code int, err error) {
	a.writeJSON(w, code, apiv1.ErrorBody{Error: err.Error()})
}

// maxDrainBody bounds POST /api/v1/drains: reason and who are bounded too.
const maxDrainBody = 16 << 10

// maxEvents bounds the events kept and served.
const maxEvents = 1000

func (a *Actuator) serveAddDrain(w http.ResponseWriter, r *http.Request) {
	var req apiv1.DrainRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDrainBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		code := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			code = http.StatusRequestEntityTooLarge
		}
		a.writeError(w, code, fmt.Errorf("invalid drain request: %w", err))
		return
	}
	if dec.More() {
		a.writeError(w, http.StatusBadRequest, errors.New("invalid drain request: one JSON object expected"))
		return
	}
	nh, p, err := parseTarget(req.Nexthop, req.Route)
	var added state.Drain
	if err == nil {
		d := state.Drain{Nexthop: nh, Route: p, Reason: req.Reason, Expires: req.Expires, Who: who(r)}
		added, err = a.rec.AddDrain(r.Context(), d, req.Force)
	}
	if err != nil {
		a.writeError(w, drainErrorCode(err), err)
		return
	}
	a.writeJSON(w, http.StatusCreated, added)
}

func (a *Actuator) serveRemoveDrain(w http.ResponseWriter, r *http.Request) {
	nh, p, err := parseTarget(r.PathValue("nexthop"), r.URL.Query().Get("route"))
	var removed []state.Drain
	if err == nil {
		removed, err = a.rec.RemoveDrain(r.Context(), nh, p)
	}
	if err != nil {
		a.writeError(w, drainErrorCode(err), err)
		return
	}
	a.logger.Info("Drain removal requested", "nexthop", nh, "who", who(r))
	a.writeJSON(w, http.StatusOK, apiv1.Drains{Drains: removed})
}

// parseTarget parses a drain's nexthop and, unless "", its route; their
// errors are state.ErrInvalid.
func parseTarget(nexthop, rt string) (nh netip.Addr, p netip.Prefix, err error) {
	if nh, err = configkit.ParseNexthop(nexthop); err != nil {
		return nh, p, fmt.Errorf("%w: nexthop %w", state.ErrInvalid, err)
	}
	if rt != "" {
		if p, err = configkit.ParseService(rt); err != nil {
			return nh, p, fmt.Errorf("%w: route %w", state.ErrInvalid, err)
		}
	}
	return nh, p, nil
}

func (a *Actuator) serveDrains(w http.ResponseWriter, _ *http.Request) {
	a.writeJSON(w, http.StatusOK, apiv1.Drains{Drains: nonNil(a.rec.View().Drains)})
}

func (a *Actuator) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since uint64
	limit := 0
	var err error
	if s := q.Get("since"); s != "" {
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			a.writeError(w, http.StatusBadRequest, fmt.Errorf("since %q is not a sequence number", s))
			return
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			a.writeError(w, http.StatusBadRequest, fmt.Errorf("limit %q is not a count", s))
			return
		}
	}
	a.writeJSON(w, http.StatusOK, apiv1.Events{Events: a.rec.Events(since, limit)})
}

// who names the person behind a request (apiv1.Who). The web server has
// checked the basic auth credentials when it requires them.
func who(r *http.Request) string {
	user, _, _ := r.BasicAuth()
	return apiv1.Who(user, r.Header.Get(apiv1.HeaderWho))
}

func drainErrorCode(err error) int {
	switch {
	case errors.Is(err, state.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, state.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, state.ErrBelowMin):
		return http.StatusConflict
	case errors.Is(err, reconcile.ErrNotReady):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
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
<td>{{range .Nexthops}}{{if .Why}}<span class="nexthop" data-nexthop="{{.Nexthop}}">{{.Nexthop}}: {{range .Why}}<span class="cause cause-{{.Kind}}">{{.}}</span>; {{end}}</span><br>{{end}}{{end}}</td></tr>
{{end}}</table>
{{end}}
<h2>Drains</h2>
{{with .Drains}}<table id="drains"><tr><th>nexthop</th><th>route</th><th>reason</th><th>who</th><th>since</th><th>until</th></tr>
{{range .}}<tr class="drain"><td>{{.Nexthop}}</td><td>{{if .Route.IsValid}}{{.Route}}{{else}}every route{{end}}</td><td>{{.Reason}}{{if .Forced}} <b>(forced below min_nexthops)</b>{{end}}</td><td>{{.Who}}</td><td>{{.Created.UTC.Format "2006-01-02T15:04:05Z07:00"}}</td><td>{{if .Expires.IsZero}}until removed{{else}}{{.Expires.UTC.Format "2006-01-02T15:04:05Z07:00"}}{{end}}</td></tr>
{{end}}</table>{{else}}<p id="no-drains">No drains.</p>{{end}}
<h2>Dampening</h2>
{{with .Damped}}<table id="dampening"><tr><th>route</th><th>nexthop</th><th>penalty</th><th>suppressed until</th></tr>
{{range .}}<tr class="damped{{if .Suppressed}} suppressed{{end}}"><td>{{.Prefix}}</td><td>{{.Nexthop}}</td><td>{{printf "%.0f" .Penalty}}</td><td>{{if .Suppressed}}<b>{{.Until.UTC.Format "2006-01-02T15:04:05Z07:00"}}</b>{{else}}not suppressed{{end}}</td></tr>
{{end}}</table>{{else}}<p id="no-dampening">{{if $.Dampening}}No penalties.{{else}}Dampening is off (no <code>dampening:</code> section).{{end}}</p>{{end}}
{{with .S}}{{with .Unconfigured}}<p>Owned routes no longer configured: {{range .}}{{.Prefix}} via {{range .Nexthops}}{{.}} {{end}}; {{end}}</p>{{end}}
{{with .Plan}}<p>Dry-run plan:</p><ul>{{range .}}<li>{{.Action}} {{.Prefix}} {{.From}} -&gt; {{.To}}</li>{{end}}</ul>{{end}}
{{end}}
</body></html>
`))

type landingPage struct {
	Version   string
	S         apiv1.Routes
	Drains    []state.Drain
	Dampening bool
	Damped    []damped
}

type damped struct {
	dampening.Key
	dampening.Status
}

func (a *Actuator) serveLanding(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v := a.rec.View()
	page := landingPage{Version: version.Version, S: a.State(), Drains: v.Drains, Dampening: v.Dampening != nil}
	for k, st := range v.Dampening {
		page.Damped = append(page.Damped, damped{k, st})
	}
	slices.SortFunc(page.Damped, func(x, y damped) int {
		return cmp.Or(route.ComparePrefix(x.Prefix, y.Prefix), x.Nexthop.Compare(y.Nexthop))
	})
	if err := landing.Execute(w, page); err != nil {
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

// nonNil returns s, or an empty slice for nil: JSON [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
