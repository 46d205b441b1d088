//go:build linux

// Package netlink is the Linux backend of route_actuator: it installs each
// service route in the kernel, either through a resilient nexthop group
// (mode resilient) or as a plain RTA_MULTIPATH route (mode multipath), and
// only ever touches routes and nexthop objects marked with its protocol number.
package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// ErrConflict marks a route or nexthop ID that exists but is not this
// program's (another protocol, or a hash collision): it is left alone.
var ErrConflict = errors.New("not owned by this route_actuator")

// socketTimeout bounds every netlink exchange; the kernel answers in
// microseconds, so hitting it means the socket is broken (ErrUnavailable).
const socketTimeout = 10 * time.Second

// Backend drives the kernel routing table of one network namespace.
type Backend struct {
	cfg    Config
	table  uint32
	proto  uint8
	logger *slog.Logger
	h      *vnl.Handle              // library calls: multipath routes, gateway lookups
	raw    map[int]*nl.SocketHandle // strict-check socket for nexthop objects and dumps
	warned map[uint32]bool          // groups whose bucket count differs from the config
	places map[netip.Prefix]route.Placement
}

var _ route.Backend = (*Backend)(nil)

// New returns the backend for the current network namespace. places says
// which table each configured prefix goes to (absent or zero: cfg.Table).
func New(cfg Config, places map[netip.Prefix]route.Placement, logger *slog.Logger) (route.Backend, error) {
	return NewAt(cfg, places, logger, netns.None())
}

// NewAt returns the backend for network namespace ns (netns.None() = current).
func NewAt(cfg Config, places map[netip.Prefix]route.Placement, logger *slog.Logger, ns netns.NsHandle) (*Backend, error) {
	if err := configkit.Validate(&cfg); err != nil {
		return nil, err
	}
	masked := make(map[netip.Prefix]route.Placement, len(places))
	for p, at := range places {
		if err := cfg.CheckPlacement(at); err != nil {
			return nil, fmt.Errorf("netlink: route %s: %w", p, err)
		}
		masked[p.Masked()] = at
	}
	table, _ := cfg.TableID()
	h, err := vnl.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: open socket: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: open socket: %w", err)
	}
	b := &Backend{
		cfg: cfg, table: uint32(table), proto: uint8(cfg.Protocol), logger: logger, h: h,
		raw:    map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}},
		warned: map[uint32]bool{},
		places: masked,
	}
	tv := unix.NsecToTimeval(socketTimeout.Nanoseconds())
	err = errors.Join(
		h.SetSocketTimeout(socketTimeout),
		s.SetSendTimeout(&tv),
		s.SetReceiveTimeout(&tv),
		s.SetExtAck(true),
		unix.SetsockoptInt(s.GetFd(), unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1),
	)
	if err == nil && cfg.Mode == "resilient" {
		if _, err = b.nexthops(); err != nil {
			err = fmt.Errorf("mode resilient needs nexthop objects (Linux >= 5.13), use mode multipath on older kernels: %w", err)
		}
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return b, nil
}

// Close releases the netlink sockets.
func (b *Backend) Close() error {
	b.h.Close()
	for _, s := range b.raw {
		s.Close()
	}
	return nil
}

// List returns every route of this backend's protocol in its table. A route
// of ours that is not in the form the configured mode installs (another
// mode, a group edited to contain foreign nexthops, a route pointing at
// another object) is reported without nexthops, so the reconciler rewrites it.
func (b *Backend) List(ctx context.Context) ([]route.Route, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := b.read(true)
	if err != nil {
		return nil, err
	}
	var out []route.Route
	for p := range st.routes {
		out = append(out, b.merge(st, p))
	}
	route.Sort(out)
	return out, nil
}

// merge returns the route our routes for p make: their gateways, or none
// when one of them sits in a table other than p's (its placement changed),
// so that the reconciler rewrites it.
func (b *Backend) merge(st state, p netip.Prefix) route.Route {
	want, known := st.tables[p]
	var gws []netip.Addr
	for _, r := range st.routes[p] {
		if known && r.Table != want {
			return route.Route{Prefix: p}
		}
		g, _ := b.owned(st, r)
		gws = append(gws, g...)
	}
	return route.New(p, gws...)
}

// tableOf returns the table of placement at: its own table, its VRF
// device's table (looked up now: the VRF may have been created after
// start), or the configured one.
func (b *Backend) tableOf(at route.Placement) (uint32, error) {
	switch {
	case at.Table != 0:
		return at.Table, nil
	case at.VRF == "":
		return b.table, nil
	}
	l, err := b.h.LinkByName(at.VRF)
	if err != nil {
		var nf vnl.LinkNotFoundError
		if errors.As(err, &nf) {
			return 0, fmt.Errorf("vrf %s: no such device (create it: ip link add %s type vrf table N)", at.VRF, at.VRF)
		}
		return 0, b.wrap("look up vrf "+at.VRF, err)
	}
	v, ok := l.(*vnl.Vrf)
	if !ok {
		return 0, fmt.Errorf("vrf %s: device is of type %s, not vrf", at.VRF, l.Type())
	}
	return v.Table, nil
}

// tables returns the table of every configured prefix whose table is
// known now (a VRF device that does not exist is left out: its routes are
// created once it does) and the set of tables to read: those and the
// configured table.
func (b *Backend) tables() (map[netip.Prefix]uint32, map[uint32]bool) {
	of := make(map[netip.Prefix]uint32, len(b.places))
	set := map[uint32]bool{b.table: true}
	looked := map[route.Placement]uint32{} // one VRF lookup per placement; 0: not there
	for p, at := range b.places {
		t, ok := looked[at]
		if !ok {
			t, _ = b.tableOf(at) // 0 on error: a VRF's table is never 0
			looked[at] = t
		}
		if t != 0 {
			of[p] = t
			set[t] = true
		}
	}
	return of, set
}

// Set makes the kernel routes for want's prefixes carry exactly their
// nexthops (or removes them). It reads our routes and the objects they use
// once before, sends only what differs (a route already in place sends
// nothing), deletes objects left unused once, and reads back once.
func (b *Backend) Set(ctx context.Context, want ...route.Route) ([]route.Route, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var errs []error
	norm := make([]route.Route, len(want))
	var todo []placed
	for i, w := range want {
		w = route.New(w.Prefix, w.Nexthops...)
		norm[i] = w
		p, to := w.Prefix, w.Nexthops
		if i := slices.IndexFunc(to, func(gw netip.Addr) bool { return gw.Is4() != p.Addr().Is4() || gw.Zone() != "" }); i >= 0 {
			errs = append(errs, fmt.Errorf("route %s: nexthop %s: must be an unscoped address of the prefix's family", p, to[i]))
			continue
		}
		var table uint32
		if len(to) > 0 {
			t, err := b.tableOf(b.places[p])
			if err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", p, err))
				continue
			}
			table = t
		}
		todo = append(todo, placed{w, table})
	}
	st, err := b.read(false, todo...)
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("read: %w", err))...)
	}
	collect := false
	for _, j := range todo {
		var dropped bool
		p, to := j.Prefix, j.Nexthops
		switch {
		case len(to) == 0:
			dropped, err = b.remove(st, p, 0)
		case b.cfg.Mode == "multipath":
			dropped, err = b.installMultipath(st, p, j.table, to)
		default:
			dropped, err = b.installResilient(st, p, j.table, to)
		}
		if err == nil && len(to) > 0 && len(st.routesIn(p, j.table)) < len(st.routes[p]) {
			dropped, err = b.remove(st, p, j.table) // moved from another table
		}
		collect = collect || dropped
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", p, err))
			if errors.Is(err, route.ErrUnavailable) {
				return nil, errors.Join(errs...) // the socket failed: the rest would wait out its timeout too
			}
		}
	}
	if collect {
		if err := b.gc(); err != nil {
			errs = append(errs, err)
		}
	}
	got, err := b.readBack(norm)
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("read back: %w", err))...)
	}
	return got, errors.Join(errs...)
}

// placed is a route to set and the table it goes to (0 when removed).
type placed struct {
	route.Route
	table uint32
}

// getsMax is the most nexthop objects read one by one; beyond it a dump of
// every object costs less (a pass that changes many routes).
const getsMax = 16

// read reads our routes in every table we use, of all prefixes or of want's,
// and in mode resilient the nexthop objects: all of them, or only those the
// routes point at or that installing want would use, got one by one (for
// a few routes a dump of every object costs more than the few gets).
func (b *Backend) read(all bool, want ...placed) (state, error) {
	of, tables := b.tables()
	st := state{nhs: map[uint32]knexthop{}, routes: map[netip.Prefix][]kroute{}, tables: of}
	var fams []uint8
	if all {
		fams = []uint8{unix.AF_INET, unix.AF_INET6}
	}
	prefixes := map[netip.Prefix]bool{}
	var ids []uint32 // the objects to get
	add := func(id uint32) {
		if id != 0 && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, w := range want {
		prefixes[w.Prefix] = true
		if f := family(w.Prefix.Addr()); !slices.Contains(fams, f) {
			fams = append(fams, f)
		}
		if len(w.Nexthops) > 0 {
			add(groupID(int(b.proto), int(w.table), w.Prefix))
		}
		for _, gw := range w.Nexthops {
			add(memberID(int(b.proto), gw))
		}
	}
	if len(fams) == 0 {
		return st, nil
	}
	rs, err := b.routes(b.proto, fams...)
	if err != nil {
		return state{}, err
	}
	for _, r := range rs {
		if !tables[r.Table] || !all && !prefixes[r.Prefix] {
			continue
		}
		st.routes[r.Prefix] = append(st.routes[r.Prefix], r)
		if !all { // all dumps every object
			add(r.NHID)
			add(groupID(int(b.proto), int(r.Table), r.Prefix))
		}
	}
	switch {
	case b.cfg.Mode != "resilient":
	case all || len(ids) > getsMax:
		st.nhs, err = b.nexthops()
	default:
		for _, id := range ids {
			if err = b.nexthop(st.nhs, id); err != nil {
				break
			}
		}
	}
	if err != nil {
		return state{}, err
	}
	return st, nil
}

// readBack returns the routes for want's prefixes as the kernel holds
// them, in want's order.
func (b *Backend) readBack(want []route.Route) ([]route.Route, error) {
	q := make([]placed, len(want))
	for i, w := range want {
		q[i] = placed{Route: route.Route{Prefix: w.Prefix}}
	}
	st, err := b.read(false, q...)
	if err != nil {
		return nil, err
	}
	out := make([]route.Route, len(want))
	for i, w := range want {
		out[i] = b.merge(st, w.Prefix)
	}
	return out, nil
}

// nexthop gets object id into nhs unless already there (absent: left out),
// and the objects of its group (the kernel allows no groups in a group).
func (b *Backend) nexthop(nhs map[uint32]knexthop, id uint32) error {
	if _, ok := nhs[id]; ok {
		return nil
	}
	var n knexthop
	var perr error
	err := b.exec(unix.RTM_GETNEXTHOP, 0, nhIDMsg(id), func(m []byte) bool {
		n, perr = parseNexthop(m)
		return false
	}, unix.RTM_NEWNEXTHOP)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return b.wrap(fmt.Sprintf("get nexthop id %d", id), err)
	case perr != nil:
		return fmt.Errorf("get nexthop id %d: parse: %w", id, perr)
	}
	nhs[id] = n
	for _, m := range n.Group {
		if err := b.nexthop(nhs, m); err != nil {
			return err
		}
	}
	return nil
}

// state is what the kernel holds: the nexthop objects read, and our routes.
type state struct {
	nhs    map[uint32]knexthop
	routes map[netip.Prefix][]kroute // by prefix; protocol and table are ours
	tables map[netip.Prefix]uint32   // the table of each configured prefix, where known
}

// routesIn returns our routes for p in table.
func (st state) routesIn(p netip.Prefix, table uint32) []kroute {
	return slices.DeleteFunc(slices.Clone(st.routes[p]), func(r kroute) bool { return r.Table != table })
}

// ours reports whether nexthop object n was created by this backend.
func (b *Backend) ours(n knexthop) bool {
	return n.Protocol == b.proto && inRange(int(b.proto), n.ID)
}

// owned returns the gateways of route r when it is exactly in the form the
// configured mode installs.
func (b *Backend) owned(st state, r kroute) ([]netip.Addr, bool) {
	if r.Type != unix.RTN_UNICAST {
		return nil, false
	}
	if b.cfg.Mode == "multipath" {
		if r.NHID != 0 || len(r.Gateways) == 0 {
			return nil, false
		}
		return r.Gateways, true
	}
	g, ok := st.nhs[r.NHID]
	if !ok || r.NHID != groupID(int(b.proto), int(r.Table), r.Prefix) || !b.ours(g) ||
		!g.isGroup() || g.GroupType != nexthopGrpTypeRes {
		return nil, false
	}
	gws := make([]netip.Addr, 0, len(g.Group))
	for _, id := range g.Group {
		m, ok := st.nhs[id]
		if !ok || !b.ours(m) || m.isGroup() || !m.Gateway.IsValid() || memberID(int(b.proto), m.Gateway) != id {
			return nil, false
		}
		gws = append(gws, m.Gateway)
	}
	return gws, true
}

// installResilient points p's route in table at its resilient group of to,
// creating what is missing. It reports whether an object may have become
// unused.
func (b *Backend) installResilient(st state, p netip.Prefix, table uint32, to []netip.Addr) (dropped bool, err error) {
	proto := int(b.proto)
	members := make([]uint32, len(to))
	for i, gw := range to {
		id := memberID(proto, gw)
		members[i] = id
		n, ok := st.nhs[id]
		flags := unix.NLM_F_CREATE | unix.NLM_F_EXCL
		switch {
		case !ok:
		case !b.ours(n):
			return false, fmt.Errorf("%w: nexthop id %d (for gateway %s) exists with protocol %d", ErrConflict, id, gw, n.Protocol)
		case n.Gateway == gw && !n.isGroup():
			continue
		case n.Gateway.IsValid() && memberID(proto, n.Gateway) == id:
			return false, fmt.Errorf("%w: nexthop id %d is both %s and %s (hash collision): change the protocol number", ErrConflict, id, n.Gateway, gw)
		case n.isGroup():
			return false, fmt.Errorf("%w: nexthop id %d is a group, expected gateway %s: delete it (ip nexthop del id %d)", ErrConflict, id, gw, id)
		default: // our member, edited behind our back: put it back
			flags = unix.NLM_F_REPLACE
		}
		oif, err := b.resolve(gw, b.places[p].VRF)
		if err != nil {
			return false, err
		}
		if err := b.ack(unix.RTM_NEWNEXTHOP, flags, memberMsg(id, b.proto, gw, oif)); err != nil {
			return false, b.wrap(fmt.Sprintf("create nexthop id %d via %s", id, gw), err)
		}
		st.nhs[id] = knexthop{ID: id, Family: family(gw), Protocol: b.proto, Gateway: gw, OIF: oif} // the batch's next routes share it
		b.logger.Info("created nexthop", "id", id, "gateway", gw, "oif", oif)
	}

	gid := groupID(proto, int(table), p)
	timers := resTimers{idle: clockT(b.cfg.IdleTimer), unbalanced: clockT(b.cfg.UnbalancedTimer)}
	switch g, ok := st.nhs[gid]; {
	case !ok:
		msg := groupMsg(gid, b.proto, members, uint16(b.cfg.Buckets), timers)
		if err := b.ack(unix.RTM_NEWNEXTHOP, unix.NLM_F_CREATE|unix.NLM_F_EXCL, msg); err != nil {
			return false, b.wrap(fmt.Sprintf("create nexthop group id %d", gid), err)
		}
		b.logger.Info("created resilient nexthop group", "route", p, "id", gid, "nexthops", to, "buckets", b.cfg.Buckets,
			"idle_timer", b.cfg.IdleTimer, "unbalanced_timer", b.cfg.UnbalancedTimer)
	case !b.ours(g):
		return false, fmt.Errorf("%w: nexthop id %d (group for %s) exists with protocol %d", ErrConflict, gid, p, g.Protocol)
	case !g.isGroup() || g.GroupType != nexthopGrpTypeRes:
		return false, fmt.Errorf("%w: nexthop id %d is not a resilient group: delete it (ip nexthop del id %d)", ErrConflict, gid, gid)
	default:
		if g.Buckets != uint16(b.cfg.Buckets) && !b.warned[gid] {
			b.warned[gid] = true
			b.logger.Warn("resilient group keeps its bucket count: the kernel cannot change it in place; delete the route to apply the new one",
				"route", p, "id", gid, "buckets", g.Buckets, "configured", b.cfg.Buckets)
		}
		if slices.Equal(g.Group, members) && (resTimers{g.IdleTimer, g.UnbalancedTimer}) == timers {
			break
		}
		dropped = slices.ContainsFunc(g.Group, func(id uint32) bool { return !slices.Contains(members, id) })
		// One atomic replace of the membership: the route keeps pointing at
		// the group, and surviving members keep their buckets.
		if err := b.ack(unix.RTM_NEWNEXTHOP, unix.NLM_F_REPLACE, groupMsg(gid, b.proto, members, 0, timers)); err != nil {
			return false, b.wrap(fmt.Sprintf("replace nexthop group id %d", gid), err)
		}
		b.logger.Info("replaced resilient nexthop group", "route", p, "id", gid, "nexthops", to)
	}

	ours := st.routesIn(p, table)
	switch {
	case len(ours) == 0:
		if err := b.ack(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, nhRouteMsg(p, table, b.proto, gid)); err != nil {
			return false, b.routeErr("create route", p, table, err)
		}
		b.logger.Info("created route", "route", p, "table", table, "nhid", gid)
	case ours[0].NHID != gid || ours[0].Type != unix.RTN_UNICAST:
		msg := append(nhRouteMsg(p, table, b.proto, gid), nl.NewRtAttr(unix.RTA_PRIORITY, u32(ours[0].Priority)))
		if err := b.ack(unix.RTM_NEWROUTE, unix.NLM_F_REPLACE, msg); err != nil {
			return false, b.routeErr("replace route", p, table, err)
		}
		b.logger.Info("replaced route", "route", p, "table", table, "nhid", gid)
		dropped = true
	}
	return dropped, nil
}

// installMultipath replaces p's route in table by a multipath route via to.
// It reports whether objects of mode resilient may have become unused.
func (b *Backend) installMultipath(st state, p netip.Prefix, table uint32, to []netip.Addr) (dropped bool, err error) {
	ours := st.routesIn(p, table)
	if len(ours) > 0 {
		if gws, ok := b.owned(st, ours[0]); ok && slices.Equal(route.Normalize(gws), to) {
			return false, nil
		}
	}
	r := &vnl.Route{
		Dst:      &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Table:    int(table),
		Protocol: vnl.RouteProtocol(b.proto),
	}
	for _, gw := range to {
		r.MultiPath = append(r.MultiPath, &vnl.NexthopInfo{Gw: gw.AsSlice()})
	}
	if len(ours) == 0 {
		if err := b.h.RouteAdd(r); err != nil {
			return false, b.routeErr("create route", p, table, err)
		}
		b.logger.Info("created multipath route", "route", p, "table", table, "nexthops", to)
	} else {
		r.Priority = int(ours[0].Priority)
		if err := b.h.RouteReplace(r); err != nil {
			return false, b.routeErr("replace route", p, table, err)
		}
		b.logger.Info("replaced multipath route", "route", p, "table", table, "nexthops", to)
	}
	return len(ours) > 0 && ours[0].NHID != 0, nil // the route used objects of mode resilient
}

// remove deletes our routes for p in every table we use but keep (0: all;
// never another protocol's: the kernel matches rtm_protocol on delete),
// then the objects they used may be unused (the caller collects them).
func (b *Backend) remove(st state, p netip.Prefix, keep uint32) (dropped bool, err error) {
	for _, r := range st.routes[p] {
		if keep != 0 && r.Table == keep {
			continue
		}
		msg := append(routeKey(p, r.Table, b.proto, unix.RT_SCOPE_NOWHERE, 0), nl.NewRtAttr(unix.RTA_PRIORITY, u32(r.Priority)))
		err := b.ack(unix.RTM_DELROUTE, 0, msg)
		if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
			return false, b.routeErr("delete route", p, r.Table, err)
		}
		b.logger.Info("deleted route", "route", p, "table", r.Table)
	}
	return true, nil
}

// gc deletes our nexthop objects that nothing uses any more: groups no route
// points at, then members no group contains. Before deleting, it checks the
// routes of every table and protocol, so it never takes a route down with
// an object (the kernel deletes the routes using a deleted nexthop).
func (b *Backend) gc() error {
	nhs, err := b.nexthops()
	if err != nil {
		if b.cfg.Mode == "multipath" && !temporary(err) {
			return nil // a kernel without nexthop objects has nothing to collect
		}
		return err
	}
	ours, err := b.routes(b.proto, unix.AF_INET, unix.AF_INET6)
	if err != nil {
		return err
	}
	if len(b.unused(nhs, ours)) == 0 {
		return nil
	}
	all, err := b.routes(0, unix.AF_INET, unix.AF_INET6)
	if err != nil {
		return err
	}
	for _, n := range b.unused(nhs, all) {
		err := b.ack(unix.RTM_DELNEXTHOP, 0, nhIDMsg(n.ID))
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return b.wrap(fmt.Sprintf("delete unused nexthop id %d", n.ID), err)
		}
		b.logger.Info("deleted unused nexthop", "id", n.ID, "gateway", n.Gateway, "group", n.isGroup())
	}
	return nil
}

// unused returns our objects that none of routes uses, in a safe deletion
// order: groups first (deleting one frees its members), then members no
// remaining group (ours or foreign) contains.
func (b *Backend) unused(nhs map[uint32]knexthop, routes []kroute) []knexthop {
	used := map[uint32]bool{}
	for _, r := range routes {
		used[r.NHID] = true
	}
	var groups, members []knexthop
	inGroup := map[uint32]bool{}
	for _, n := range nhs {
		switch {
		case b.ours(n) && !used[n.ID] && n.isGroup():
			groups = append(groups, n)
		case n.isGroup():
			for _, m := range n.Group {
				inGroup[m] = true
			}
		}
	}
	for _, n := range nhs {
		if b.ours(n) && !n.isGroup() && !used[n.ID] && !inGroup[n.ID] {
			members = append(members, n)
		}
	}
	byID := func(x, y knexthop) int { return int(x.ID) - int(y.ID) }
	slices.SortFunc(groups, byID)
	slices.SortFunc(members, byID)
	return append(groups, members...)
}

// resolve finds the output interface towards gateway gw, which a gateway
// nexthop object needs (unlike RTA_MULTIPATH, where the kernel finds it),
// in VRF vrf ("" the main table).
func (b *Backend) resolve(gw netip.Addr, vrf string) (uint32, error) {
	rs, err := b.h.RouteGetWithOptions(gw.AsSlice(), &vnl.RouteGetOptions{VrfName: vrf})
	if err != nil {
		return 0, b.wrap(fmt.Sprintf("look up gateway %s", gw), err)
	}
	if len(rs) == 0 || rs[0].LinkIndex == 0 {
		return 0, fmt.Errorf("gateway %s: no route to it", gw)
	}
	if rs[0].Gw != nil {
		return 0, fmt.Errorf("gateway %s is not on a connected network (reached via %s)", gw, rs[0].Gw)
	}
	return uint32(rs[0].LinkIndex), nil
}

// nexthops dumps every nexthop object of the namespace.
func (b *Backend) nexthops() (map[uint32]knexthop, error) {
	out := map[uint32]knexthop{}
	err := b.dump(unix.RTM_GETNEXTHOP, unix.RTM_NEWNEXTHOP, []nl.NetlinkRequestData{nhmsgHeader(unix.AF_UNSPEC, 0)}, func(m []byte) error {
		n, err := parseNexthop(m)
		if err == nil {
			out[n.ID] = n
		}
		return err
	}, func() { clear(out) })
	if err != nil {
		return nil, b.wrap("list nexthops", err)
	}
	return out, nil
}

// routes dumps the routes of protocol proto (0 = any) in families. The
// kernel filters family and protocol itself because the socket is in
// strict-check mode. Tables are filtered by the callers: a kernel table
// filter answers ENOENT for a table without routes, in an NLMSG_DONE that
// vishvananda/netlink v1.3.1 misparses (panics) when extended acks are on.
func (b *Backend) routes(proto uint8, families ...uint8) ([]kroute, error) {
	var out []kroute
	for _, fam := range families {
		n := len(out)
		msg := []nl.NetlinkRequestData{rtmsgHeader(fam, 0, 0, proto, 0, 0)}
		err := b.dump(unix.RTM_GETROUTE, unix.RTM_NEWROUTE, msg, func(m []byte) error {
			r, err := parseRoute(m)
			if err == nil && r.Family == fam && (proto == 0 || r.Protocol == proto) {
				out = append(out, r)
			}
			return err
		}, func() { out = out[:n] })
		if err != nil {
			return nil, b.wrap("list routes", err)
		}
	}
	return out, nil
}

// dump runs a dump request, restarting it when the kernel reports that the
// data changed underneath (NLM_F_DUMP_INTR).
func (b *Backend) dump(typ, resType uint16, data []nl.NetlinkRequestData, f func([]byte) error, reset func()) error {
	var err error
	for range 3 {
		var perr error
		err = b.exec(typ, unix.NLM_F_DUMP, data, func(m []byte) bool {
			perr = f(m)
			return perr == nil
		}, resType)
		if perr != nil {
			return fmt.Errorf("parse: %w", perr)
		}
		if !errors.Is(err, nl.ErrDumpInterrupted) {
			return err
		}
		reset()
	}
	return err
}

// exec sends one request on the strict-check socket and passes the answers
// of type resType to f until it returns false.
func (b *Backend) exec(typ uint16, flags int, data []nl.NetlinkRequestData, f func([]byte) bool, resType uint16) (err error) {
	defer func() {
		// vishvananda/netlink v1.3.1 indexes out of range on some error
		// answers (an NLMSG_DONE carrying an error and extended-ack TLVs).
		if r := recover(); r != nil {
			err = fmt.Errorf("netlink library failed on the kernel's answer: %v", r)
		}
	}()
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: typ, Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Data:     data,
		Sockets:  b.raw,
	}
	return req.ExecuteIter(unix.NETLINK_ROUTE, resType, f)
}

// ack sends one change request asking for an acknowledgement, so that the
// kernel reports its errors.
func (b *Backend) ack(typ uint16, flags int, data []nl.NetlinkRequestData) error {
	return b.exec(typ, flags|unix.NLM_F_ACK, data, func([]byte) bool { return true }, 0)
}

// wrap names the operation and marks errors a retry may cure as route.ErrUnavailable.
func (b *Backend) wrap(op string, err error) error {
	if temporary(err) {
		return fmt.Errorf("%s: %w: %w", op, route.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (b *Backend) routeErr(op string, p netip.Prefix, table uint32, err error) error {
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%w: %s: a route for %s already exists in table %d with another protocol", ErrConflict, op, p, table)
	}
	return b.wrap(op, err)
}
