// Package events says why routes change: a Cause per nexthop, which the
// policy returns for every nexthop it leaves out (or a guard keeps in), the
// Change it explains, and a bounded Ring of the last route changes served
// by GET /api/v1/events and written to the `Route changed` log line.
package events

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// Kind is what caused a nexthop to be removed or added (metric label value).
type Kind string

// Kinds. A removed nexthop's cause holds now; an added nexthop's cause is
// either one that ended (Cause.Ended: the alert resolved, the drain ended,
// the suppression ended) or a guard that keeps it.
const (
	Alert          Kind = "alert"           // a withdraw alert fires (Alerts)
	Drain          Kind = "drain"           // an operator drained it (Drain)
	Dampening      Kind = "dampening"       // suppressed for flapping (Dampening)
	FailOpen       Kind = "fail_open"       // every nexthop would go: all stay
	MinNexthops    Kind = "min_nexthops"    // fewer than min_nexthops would stay
	RestorePending Kind = "restore_pending" // healthy, restore awaits confirmation
	Frozen         Kind = "frozen"          // the route is frozen as it is
	NotConverged   Kind = "not_converged"   // desired, but the device does not have it (apply failed)
	NotConfigured  Kind = "not_configured"  // on the device, not in the configuration
	Drift          Kind = "drift"           // the device differed from what was set
	Startup        Kind = "startup"         // first reconcile after start
	Reload         Kind = "reload"          // first reconcile after a configuration reload
)

// AlertRef names one alert behind a cause.
type AlertRef struct {
	Name        string    `json:"alertname"`
	Fingerprint string    `json:"fingerprint"`
	Since       time.Time `json:"since,omitzero"`
	// Labels are the alert's target labels (nexthop, service, instance).
	Labels map[string]string `json:"labels,omitempty"`
}

// DrainRef is the drain behind a cause.
type DrainRef struct {
	Reason  string    `json:"reason"`
	Who     string    `json:"who"`
	Expires time.Time `json:"expires,omitzero"`
}

// DampingRef is the suppression behind a cause.
type DampingRef struct {
	Penalty         float64   `json:"penalty"`
	SuppressedUntil time.Time `json:"suppressed_until,omitzero"`
}

// Cause is one reason for one nexthop.
type Cause struct {
	Kind      Kind        `json:"kind"`
	Alerts    []AlertRef  `json:"alerts,omitempty"`
	Drain     *DrainRef   `json:"drain,omitempty"`
	Dampening *DampingRef `json:"dampening,omitempty"`
	// Ended: this cause kept the nexthop out until now (an added nexthop).
	Ended  bool   `json:"ended,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// String is the cause for a log line or a table cell.
func (c Cause) String() string {
	var b strings.Builder
	b.WriteString(string(c.Kind))
	for i, a := range c.Alerts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s%s", a.Name, labelString(a.Labels))
		if a.Fingerprint != "" {
			fmt.Fprintf(&b, " fp=%s", a.Fingerprint)
		}
		if !a.Since.IsZero() {
			fmt.Fprintf(&b, " since %s", a.Since.UTC().Format(time.RFC3339))
		}
	}
	if d := c.Drain; d != nil {
		fmt.Fprintf(&b, " %q by %s", d.Reason, d.Who)
		if !d.Expires.IsZero() {
			fmt.Fprintf(&b, " until %s", d.Expires.UTC().Format(time.RFC3339))
		}
	}
	if d := c.Dampening; d != nil {
		fmt.Fprintf(&b, " penalty %.0f", d.Penalty)
		if !d.SuppressedUntil.IsZero() {
			fmt.Fprintf(&b, " until %s", d.SuppressedUntil.UTC().Format(time.RFC3339))
		}
	}
	if c.Detail != "" {
		b.WriteString(" (" + c.Detail + ")")
	}
	if c.Ended {
		b.WriteString(" ended")
	}
	return b.String()
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	ls := make(model.LabelSet, len(l))
	for k, v := range l {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.String()
}

// Action is what happened to a nexthop.
type Action string

// Actions.
const (
	Added   Action = "added"
	Removed Action = "removed"
)

// Change is one nexthop added to or removed from a route, and why.
type Change struct {
	Nexthop netip.Addr `json:"nexthop"`
	Action  Action     `json:"action"`
	Causes  []Cause    `json:"causes"`
}

// String is "+198.51.100.12 (alert DNSServerDown{...} fp=... ended)".
func (c Change) String() string {
	sign := "+"
	if c.Action == Removed {
		sign = "-"
	}
	causes := make([]string, len(c.Causes))
	for i, x := range c.Causes {
		causes[i] = x.String()
	}
	return sign + c.Nexthop.String() + " (" + strings.Join(causes, "; ") + ")"
}

// Changes explains the step from one set of nexthops to the next. before and
// after are the policy's causes per nexthop in the previous and the current
// decision. A removed nexthop takes its causes now; an added one takes the
// guard that keeps it, else its previous causes marked Ended, else fallback
// (Startup, Reload, or Drift when the device lost what was set).
func Changes(from, to []netip.Addr, before, after map[netip.Addr][]Cause, fallback Cause) []Change {
	var out []Change
	for _, nh := range from {
		if !slices.Contains(to, nh) {
			out = append(out, Change{Nexthop: nh, Action: Removed, Causes: orFallback(after[nh], fallback)})
		}
	}
	for _, nh := range to {
		if slices.Contains(from, nh) {
			continue
		}
		causes := after[nh]
		if len(causes) == 0 {
			for _, c := range before[nh] {
				c.Ended = true
				causes = append(causes, c)
			}
		}
		out = append(out, Change{Nexthop: nh, Action: Added, Causes: orFallback(causes, fallback)})
	}
	slices.SortFunc(out, func(a, b Change) int { return a.Nexthop.Compare(b.Nexthop) })
	return out
}

func orFallback(c []Cause, fallback Cause) []Cause {
	if len(c) == 0 {
		return []Cause{fallback}
	}
	return slices.Clone(c)
}

// Event is one change of one route.
type Event struct {
	Seq     uint64       `json:"seq"`
	Time    time.Time    `json:"time"`
	Route   netip.Prefix `json:"route"`
	From    []netip.Addr `json:"from"`
	To      []netip.Addr `json:"to"`
	Changes []Change     `json:"changes"`
	DryRun  bool         `json:"dry_run,omitempty"`
}

// Ring keeps the last events; safe for concurrent use. It is circular, not a
// shifted slice: Add runs on the webhook path under the reconciler's lock, once
// per nexthop change of a pass, and must not copy the whole ring each time.
type Ring struct {
	mu   sync.Mutex
	buf  []Event
	next int // index the next event goes to
	seq  uint64
}

// NewRing returns a ring of size events (at least 1).
func NewRing(size int) *Ring { return &Ring{buf: make([]Event, 0, max(size, 1))} }

// Add numbers e (Seq counts from 1 since start) and stores it, dropping the
// oldest when full; it returns e as stored.
func (r *Ring) Add(e Event) Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.Seq = r.seq
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, e)
	} else {
		r.buf[r.next] = e
	}
	r.next = (r.next + 1) % cap(r.buf)
	return e
}

// List returns the stored events with Seq above since, oldest first, at
// most limit of the newest (limit <= 0: all).
func (r *Ring) List(since uint64, limit int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, len(r.buf))
	start := 0
	if len(r.buf) == cap(r.buf) {
		start = r.next
	}
	for i := range r.buf {
		if e := r.buf[(start+i)%len(r.buf)]; e.Seq > since {
			out = append(out, e)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}
