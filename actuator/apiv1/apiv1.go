// Package apiv1 is route_actuator's HTTP API as seen on the wire: the JSON
// of /api/v1/routes, /api/v1/drains and /api/v1/events, and a client for
// it (slaroutectl, end-to-end tests). It imports no backend, so the CLI
// stays small.
package apiv1

import (
	"cmp"
	"strings"
	"time"
	"unicode"

	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/state"
)

// Paths.
const (
	PathRoutes = "/api/v1/routes"
	PathDrains = "/api/v1/drains" // POST, GET; DELETE PathDrains/{nexthop}[?route=P]
	PathEvents = "/api/v1/events" // GET [?since=SEQ][&limit=N]
)

// HeaderWho names the person behind a request whose credentials a team
// shares (slaroutectl sends --who, default $USER); see Who.
const HeaderWho = "X-Slaroute-Who"

// Routes is GET /api/v1/routes.
type Routes struct {
	Pipeline   Pipeline   `json:"pipeline"`
	DryRun     bool       `json:"dry_run"`
	FrozenAll  []string   `json:"frozen_all"`
	LastError  string     `json:"last_error,omitempty"`
	APIError   string     `json:"alertmanager_error,omitempty"`
	LastResync *time.Time `json:"last_resync,omitempty"`
	Routes     []Route    `json:"routes"`
	// Unconfigured are routes the backend owns that are no longer configured.
	Unconfigured []RouteNexthops `json:"unconfigured"`
	// Plan is, in dry-run mode, what would be applied.
	Plan []PlannedChange `json:"plan"`
}

// Pipeline is the heartbeat's verdict.
type Pipeline struct {
	Healthy           bool       `json:"healthy"`
	Reason            string     `json:"reason,omitempty"`
	HeartbeatLastSeen *time.Time `json:"heartbeat_last_seen,omitempty"`
}

// Route is one configured route.
type Route struct {
	Prefix         string             `json:"prefix"`
	MinNexthops    int                `json:"min_nexthops"`
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
	// Nexthops has one entry per configured nexthop, in Configured's order.
	Nexthops []Nexthop `json:"nexthops"`
}

// Nexthop is one configured nexthop of a route and why it is where it is.
type Nexthop struct {
	Nexthop   string `json:"nexthop"`
	Desired   bool   `json:"desired"`
	Installed bool   `json:"installed"`
	// Why: for a nexthop not desired, every cause keeping it out (alert,
	// drain, dampening, restore_pending, frozen); for a desired one a guard
	// keeps in, that guard; for one desired but not installed, not_converged.
	// Empty for a healthy installed nexthop.
	Why       []events.Cause     `json:"why"`
	Drained   *events.DrainRef   `json:"drained,omitempty"`
	Dampening *events.DampingRef `json:"dampening,omitempty"`
}

// WithdrawnNexthop names a nexthop with an active withdraw alert and why.
type WithdrawnNexthop struct {
	Nexthop string            `json:"nexthop"`
	Reasons []events.AlertRef `json:"reasons"`
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

// DrainRequest is the body of POST /api/v1/drains; the answer is 201 with
// the state.Drain, 409 (Error) when it would leave a route below
// min_nexthops, 404 for an unconfigured nexthop or route, 400 otherwise.
type DrainRequest struct {
	Nexthop string    `json:"nexthop"`
	Reason  string    `json:"reason"`
	Route   string    `json:"route,omitempty"`  // default: every route with the nexthop
	Expires time.Time `json:"expires,omitzero"` // default: until removed
	Force   bool      `json:"force,omitempty"`  // over a min_nexthops refusal
}

// Drains is GET /api/v1/drains, and the 200 answer of DELETE with the drains it ended.
type Drains struct {
	Drains []state.Drain `json:"drains"`
}

// Events is GET /api/v1/events, oldest first.
type Events struct {
	Events []events.Event `json:"events"`
}

// ErrorBody is the JSON of every 4xx/5xx answer of these endpoints.
type ErrorBody struct {
	Error string `json:"error"`
}

// maxWho bounds the header's share of a drain's who.
const maxWho = 128

// Who is who a drain records: the authenticated (basic auth) user, the
// person the request names in HeaderWho when it differs ("alice via ops"),
// or "anonymous". The header is cut to printable text and a bounded length.
func Who(authUser, header string) string {
	header = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, header)
	header = strings.TrimSpace(header)
	if len(header) > maxWho {
		header = strings.ToValidUTF8(header[:maxWho], "")
	}
	switch {
	case authUser == "":
		return cmp.Or(header, "anonymous")
	case header == "" || header == authUser:
		return authUser
	}
	return header + " via " + authUser
}
