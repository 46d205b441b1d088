package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/dampening"
	"github.com/slaroute/slaroute/actuator/events"
	"github.com/slaroute/slaroute/actuator/policy"
	"github.com/slaroute/slaroute/actuator/state"
)

// ErrNotReady refuses a drain before the first decision: there is nothing
// yet to check min_nexthops against.
var ErrNotReady = errors.New("no decision yet: the device has not been read")

// day2 is what operators add to the alerts: drains, flap dampening, and the
// cause of every change. The reconciler's lock guards it.
type day2 struct {
	st      state.State       // drains; the damper holds the penalties
	damper  *dampening.Damper // nil when dampening is off
	pending []dampening.Record
	save    func(state.State) error
	saved   state.State // as last persisted
	ring    *events.Ring
	// fallback explains an added nexthop with no cause of its own: startup
	// and reload for the first pass after them, then drift.
	fallback events.Kind
	// outWhy is, per route and nexthop, what last kept it out (drain, alert,
	// dampening), so that its return says what ended.
	outWhy map[netip.Prefix]map[netip.Addr][]events.Cause
	// origin remembers, for a nexthop missing from the device with no cause
	// of its own after a startup or reload pass (a held restore), that
	// startup or reload is why it is added later.
	origin map[netip.Prefix]map[netip.Addr]events.Kind
	last   *policy.Decision
	timer  *time.Timer
}

func (x *day2) init(o Options) {
	x.st = o.State
	x.pending = o.State.Dampening
	x.saved = x.snapshot()
	x.saved.Dampening = o.State.Dampening
	x.save = o.Save
	x.ring = o.Events
	x.fallback = events.Startup
	x.outWhy = map[netip.Prefix]map[netip.Addr][]events.Cause{}
	x.origin = map[netip.Prefix]map[netip.Addr]events.Kind{}
}

func (x *day2) setConfig(cfg *config.Config, first bool, logger *slog.Logger) {
	if !first {
		x.fallback = events.Reload
	}
	x.last = nil
	switch {
	case cfg.Dampening == nil:
		if x.damper != nil || len(x.pending) > 0 {
			logger.Info("Dampening is off: penalties are dropped")
		}
		x.damper, x.pending = nil, nil
	case x.damper == nil:
		x.damper = dampening.New(*cfg.Dampening)
		if err := x.damper.Import(x.pending); err != nil {
			logger.Error("Dropping the saved dampening penalties", "err", err)
		}
		x.pending = nil
	default:
		x.damper.SetConfig(*cfg.Dampening)
	}
}

// snapshot is the state to persist now; its lists are copies, never nil.
func (x *day2) snapshot() state.State {
	s := state.State{Version: state.Version, Drains: append([]state.Drain{}, x.st.Drains...)}
	s.Dampening = []dampening.Record{}
	if x.damper != nil {
		s.Dampening = x.damper.Export()
	}
	return s
}

// persist saves the state when it differs from what was saved last.
func (x *day2) persist(logger *slog.Logger) error {
	s := x.snapshot()
	if reflect.DeepEqual(s, x.saved) || x.save == nil {
		return nil
	}
	if err := x.save(s); err != nil {
		logger.Error("Saving the state file failed", "err", err)
		return err
	}
	x.saved = s
	return nil
}

// expire ends the drains expired at now.
func (x *day2) expire(now time.Time, logger *slog.Logger) {
	st, expired := x.st.Expire(now)
	if len(expired) == 0 {
		return
	}
	x.st = st
	for _, d := range expired {
		logger.Info("Drain expired", "nexthop", d.Nexthop, "route", drainRoute(d), "reason", d.Reason, "who", d.Who, "expires", d.Expires)
	}
	_ = x.persist(logger)
}

// suppressed is the policy's view of the damper at now.
func (x *day2) suppressed(now time.Time) func(netip.Prefix, netip.Addr) (events.DampingRef, bool) {
	if x.damper == nil {
		return nil
	}
	return func(p netip.Prefix, nh netip.Addr) (events.DampingRef, bool) {
		s := x.damper.Status(dampening.Key{Prefix: p, Nexthop: nh}, now)
		return events.DampingRef{Penalty: s.Penalty, SuppressedUntil: s.Until}, s.Suppressed
	}
}

// damp feeds the decision's alert withdrawals to the damper. Frozen routes
// are skipped: their alerts may not be the truth (lost monitoring).
func (x *day2) damp(d policy.Decision, now time.Time, routes []config.Route, logger *slog.Logger) {
	if x.damper == nil {
		return
	}
	for _, rd := range d.Routes {
		if len(rd.Frozen) > 0 {
			continue
		}
		for _, nh := range rd.Configured {
			k := dampening.Key{Prefix: rd.Prefix, Nexthop: nh}
			wasSuppressed := x.damper.Suppressed(k, now)
			if x.damper.Update(k, len(rd.Withdrawn[nh]) > 0, now) {
				s := x.damper.Status(k, now)
				if s.Suppressed && !wasSuppressed {
					logger.Warn("Nexthop suppressed for flapping", "route", rd.Prefix, "nexthop", nh, "penalty", int(s.Penalty), "flaps", s.Flaps, "until", s.Until)
				}
			}
		}
	}
	x.damper.Prune(now, func(k dampening.Key) bool {
		return slices.ContainsFunc(routes, func(r config.Route) bool { return r.Prefix == k.Prefix && slices.Contains(r.Nexthops, k.Nexthop) })
	})
	_ = x.persist(logger)
}

// held are the causes worth remembering for a nexthop's return.
func held(c []events.Cause) []events.Cause {
	return slices.DeleteFunc(slices.Clone(c), func(x events.Cause) bool {
		return x.Kind != events.Drain && x.Kind != events.Alert && x.Kind != events.Dampening
	})
}

// decided notes a pass's decision, the device after it, and sets the
// per-nexthop metrics.
func (x *day2) decided(d policy.Decision, installed map[netip.Prefix][]netip.Addr, now time.Time, m *Metrics) {
	x.last = &d
	for _, rd := range d.Routes {
		w := x.outWhy[rd.Prefix]
		if w == nil {
			w = map[netip.Addr][]events.Cause{}
			x.outWhy[rd.Prefix] = w
		}
		o := x.origin[rd.Prefix]
		if o == nil {
			o = map[netip.Addr]events.Kind{}
			x.origin[rd.Prefix] = o
		}
		for _, nh := range rd.Configured {
			switch h := held(rd.Why[nh]); {
			case slices.Contains(installed[rd.Prefix], nh) && len(h) == 0:
				delete(w, nh)
				delete(o, nh)
			case len(h) > 0:
				w[nh] = h
				delete(o, nh)
			case len(w[nh]) == 0 && x.fallback != events.Drift && o[nh] == "":
				o[nh] = x.fallback
			}
			var st dampening.Status
			if x.damper != nil {
				st = x.damper.Status(dampening.Key{Prefix: rd.Prefix, Nexthop: nh}, now)
			}
			n := m.series[rd.Prefix].nexthops[nh]
			n.drained.Set(b2f(len(x.st.Drained(rd.Prefix, nh)) > 0))
			n.suppressed.Set(b2f(st.Suppressed))
			n.penalty.Set(st.Penalty)
		}
	}
	for p := range x.outWhy {
		if !slices.ContainsFunc(d.Routes, func(r policy.Route) bool { return r.Prefix == p }) {
			delete(x.outWhy, p)
			delete(x.origin, p)
		}
	}
	x.fallback = events.Drift
}

// record explains one applied (or planned) change, keeps it in the ring
// and counts it; it returns the explanations for the log.
func (x *day2) record(c Change, d policy.Decision, now time.Time, dryRun bool, m *Metrics) []string {
	fallback := events.Cause{Kind: x.fallback}
	after := map[netip.Addr][]events.Cause{}
	i := slices.IndexFunc(d.Routes, func(r policy.Route) bool { return r.Prefix == c.Prefix })
	if i < 0 {
		fallback = events.Cause{Kind: events.NotConfigured}
	} else {
		rd := d.Routes[i]
		maps.Copy(after, rd.Why)
		for _, nh := range c.From {
			if !slices.Contains(rd.Configured, nh) {
				after[nh] = []events.Cause{{Kind: events.NotConfigured}}
			}
		}
		for nh, k := range x.origin[c.Prefix] {
			if len(after[nh]) == 0 && len(x.outWhy[c.Prefix][nh]) == 0 {
				after[nh] = []events.Cause{{Kind: k}}
			}
		}
	}
	changes := events.Changes(c.From, c.To, x.outWhy[c.Prefix], after, fallback)
	if x.ring != nil {
		x.ring.Add(events.Event{Time: now, Route: c.Prefix, From: nonNil(c.From), To: nonNil(c.To), Changes: changes, DryRun: dryRun})
	}
	causes := make([]string, len(changes))
	for i, ch := range changes {
		causes[i] = ch.String()
		if !dryRun {
			m.nhChanges.WithLabelValues(c.Prefix.String(), ch.Nexthop.String(), string(ch.Action), string(ch.Causes[0].Kind)).Inc()
		}
	}
	return causes
}

func nonNil(a []netip.Addr) []netip.Addr {
	if a == nil {
		return []netip.Addr{}
	}
	return a
}

// schedule wakes the loop when the next drain expires or suppression ends:
// no alert will arrive then.
func (x *day2) schedule(now time.Time, wake func()) {
	next := x.st.NextExpiry()
	if x.damper != nil {
		if n := x.damper.Next(now); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	if x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
	if !next.IsZero() {
		x.timer = time.AfterFunc(max(next.Sub(now), 0)+10*time.Millisecond, wake)
	}
}

// view is the drains and penalties for the API.
func (x *day2) view(now time.Time) ([]state.Drain, map[dampening.Key]dampening.Status) {
	drains := x.st.List()
	if x.damper == nil {
		return drains, nil
	}
	out := map[dampening.Key]dampening.Status{}
	for _, r := range x.damper.Export() {
		k := dampening.Key{Prefix: r.Route, Nexthop: r.Nexthop}
		out[k] = x.damper.Status(k, now)
	}
	return drains, out
}

// drainRoutes are the routes a new drain is checked against: the last
// decision's, with the nexthops in service on their own merit.
func (x *day2) drainRoutes(cfg *config.Config) ([]state.Route, error) {
	if x.last == nil {
		return nil, ErrNotReady
	}
	var out []state.Route
	for _, rd := range x.last.Routes {
		i := slices.IndexFunc(cfg.Routes, func(r config.Route) bool { return r.Prefix == rd.Prefix })
		if i < 0 {
			continue
		}
		up := slices.DeleteFunc(slices.Clone(rd.Desired), func(a netip.Addr) bool { return slices.Contains(rd.Kept, a) })
		out = append(out, state.Route{Prefix: rd.Prefix, Nexthops: cfg.Routes[i].Nexthops, MinNexthops: cfg.Routes[i].MinNexthops, Up: up})
	}
	return out, nil
}

func drainRoute(d state.Drain) string {
	if d.Route.IsValid() {
		return d.Route.String()
	}
	return "all"
}

// AddDrain records a drain after checking it against the last decision
// (state.State.Add's errors), persists it, then reconciles so that the
// nexthop is withdrawn when it returns. A drain that could not be saved is
// refused. A failing pass is not the drain's error: it holds anyway, and
// the pass's error shows in the View and the log.
func (r *Reconciler) AddDrain(ctx context.Context, d state.Drain, force bool) (state.Drain, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.day2.expire(now, r.logger)
	routes, err := r.day2.drainRoutes(r.cfg)
	if err != nil {
		return state.Drain{}, err
	}
	ns, err := r.day2.st.Add(d, routes, now, force)
	if err != nil {
		return state.Drain{}, err
	}
	old := r.day2.st
	r.day2.st = ns
	if err := r.day2.persist(r.logger); err != nil {
		r.day2.st = old
		return state.Drain{}, err
	}
	i := slices.IndexFunc(ns.Drains, func(x state.Drain) bool { return x.Nexthop == d.Nexthop.Unmap() && x.Route == d.Route })
	added := ns.Drains[i]
	attrs := []any{"nexthop", added.Nexthop, "route", drainRoute(added), "reason", added.Reason, "who", added.Who, "expires", added.Expires}
	if added.Forced {
		r.logger.Warn("Drain added with force below min_nexthops", append(attrs, "forced", true)...)
	} else {
		r.logger.Info("Drain added", attrs...)
	}
	_ = r.pass(ctx, false)
	return added, nil
}

// RemoveDrain ends nexthop's drains (only route's when valid), persists,
// and reconciles: the nexthop returns when it is healthy.
func (r *Reconciler) RemoveDrain(ctx context.Context, nexthop netip.Addr, rt netip.Prefix) ([]state.Drain, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ns, removed, err := r.day2.st.Remove(nexthop, rt)
	if err != nil {
		return nil, err
	}
	old := r.day2.st
	r.day2.st = ns
	if err := r.day2.persist(r.logger); err != nil {
		r.day2.st = old
		return nil, err
	}
	for _, d := range removed {
		r.logger.Info("Drain removed", "nexthop", d.Nexthop, "route", drainRoute(d), "reason", d.Reason, "who", d.Who)
	}
	_ = r.pass(ctx, false)
	return removed, nil
}

// Events returns the recorded route changes (see events.Ring.List).
func (r *Reconciler) Events(since uint64, limit int) []events.Event {
	if r.day2.ring == nil {
		return []events.Event{}
	}
	return r.day2.ring.List(since, limit)
}
