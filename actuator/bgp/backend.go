// Package bgp is the BGP backend: route_actuator runs an embedded GoBGP
// speaker that peers with the router and announces each service prefix with
// one path per healthy nexthop, next hop = the DNS server itself. ADD-PATH
// send (RFC 7911) carries all paths of a prefix over one session, so the
// router installs them as one ECMP route; withdrawing a nexthop withdraws
// its path. A speaker that dies takes its paths with it: the router must
// hold floating static routes to every server (docs/backends.md).
package bgp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/slaroute/slaroute/actuator/route"
)

// sendMax is how many paths per prefix ADD-PATH may send: more than any
// route has nexthops.
const sendMax = 255

// MaxReceived bounds what the speaker keeps of the router's own routes
// (its Adj-RIB-In), which it never uses: above this many prefixes per
// family it resets the session (Cease, maximum number of prefixes reached),
// so a router that sends its table cannot grow route_actuator's memory.
const MaxReceived = 100

var families = []*api.Family{
	{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST},
	{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST},
}

// Backend announces routes as BGP paths. Used from one goroutine at a time.
type Backend struct {
	cfg       Config
	passwords map[netip.Addr]string
	metrics   *Metrics
	logger    *slog.Logger
	sp        *speaker // taken by the first List or Set, returned by Close
	stopWatch context.CancelFunc
	warned    map[string]bool // neighbors whose ADD-PATH was checked this session
}

// New reads the password files; it does not start the speaker (a reload
// builds a new backend while the old one still holds the sessions).
func New(cfg Config, m *Metrics, logger *slog.Logger) (*Backend, error) {
	if m == nil {
		m = NewMetrics(nil)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Backend{cfg: cfg, passwords: map[netip.Addr]string{}, metrics: m, logger: logger, warned: map[string]bool{}}
	for _, nb := range cfg.Neighbors {
		if nb.PasswordFile == "" {
			continue
		}
		s, err := readPassword(nb.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("bgp neighbor %s: %w", nb.Address, err)
		}
		b.passwords[nb.Address] = s
	}
	return b, nil
}

// readPassword reads a TCP MD5 password file (config validation and New
// read it alike, so --config.check refuses what start would).
func readPassword(file string) (string, error) {
	pw, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(pw), "\r\n")
	if s == "" || len(s) > 80 { // TCP MD5 keys are at most 80 bytes (RFC 2385)
		return "", fmt.Errorf("password_file %s must hold 1..80 bytes", file)
	}
	return s, nil
}

// start runs the speaker and adds the neighbors, then waits (at most the
// longest hold time, within ctx) for a session: a fresh speaker's first
// read should see the router connected.
func (b *Backend) start(ctx context.Context) error {
	if b.sp != nil {
		return nil
	}
	sp := takeSpeaker(b.logger)
	err := sp.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: b.cfg.LocalAS, RouterId: b.cfg.RouterID.String(),
		ListenPort: -1, // active only: the router needs no way in
	}})
	if err != nil {
		sp.release()
		return fmt.Errorf("%w: starting BGP speaker: %w", route.ErrUnavailable, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	err = sp.WatchEvent(wctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		if p := r.GetPeer(); p != nil && p.Type == api.WatchEventResponse_PeerEvent_STATE && p.Peer != nil && p.Peer.State != nil {
			b.metrics.setState(p.Peer.State.NeighborAddress, p.Peer.State.SessionState)
		}
	})
	if err != nil {
		cancel()
		sp.release()
		return fmt.Errorf("%w: watching BGP sessions: %w", route.ErrUnavailable, err)
	}
	b.sp, b.stopWatch = sp, cancel
	b.resetMetrics()
	wait := time.Duration(0)
	for _, nb := range b.cfg.Neighbors {
		if err := sp.AddPeer(ctx, &api.AddPeerRequest{Peer: b.peer(nb)}); err != nil {
			return fmt.Errorf("adding BGP neighbor %s: %w", nb.Address, err)
		}
		wait = max(wait, time.Duration(nb.HoldTime))
	}
	wctx, wcancel := context.WithTimeout(ctx, wait)
	defer wcancel()
	for !b.established(wctx) {
		select {
		case <-wctx.Done():
			return nil // the caller reports the missing session
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// peer is nb as GoBGP's neighbor: both unicast families with ADD-PATH send,
// no graceful restart (FRR would keep a dead speaker's paths for the restart
// time instead of falling back to its static routes).
func (b *Backend) peer(nb Neighbor) *api.Peer {
	var afs []*api.AfiSafi
	for _, f := range families {
		afs = append(afs, &api.AfiSafi{
			Config:       &api.AfiSafiConfig{Family: f, Enabled: true},
			AddPaths:     &api.AddPaths{Config: &api.AddPathsConfig{SendMax: sendMax}},
			PrefixLimits: &api.PrefixLimit{Family: f, MaxPrefixes: MaxReceived},
		})
	}
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: nb.Address.String(), PeerAsn: nb.PeerAS, AuthPassword: b.passwords[nb.Address]},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime: seconds(nb.HoldTime), KeepaliveInterval: seconds(nb.Keepalive),
			ConnectRetry: seconds(nb.ConnectRetry), IdleHoldTimeAfterReset: seconds(nb.ConnectRetry),
		}},
		Transport:       &api.Transport{RemotePort: uint32(nb.Port)},
		GracefulRestart: &api.GracefulRestart{Enabled: false},
		AfiSafis:        afs,
	}
	if b.cfg.LocalAddress.IsValid() {
		p.Transport.LocalAddress = b.cfg.LocalAddress.String()
	}
	return p
}

func seconds[D ~int64](d D) uint64 { return uint64(time.Duration(d) / time.Second) }

// established reports whether any neighbor's session is up, and records
// (and warns once per session) which families lack ADD-PATH receive.
func (b *Backend) established(ctx context.Context) bool {
	up := false
	_ = b.sp.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.State == nil {
			return
		}
		nb := p.State.NeighborAddress
		if p.State.SessionState != api.PeerState_ESTABLISHED {
			delete(b.warned, nb)
			return
		}
		up = true
		rx := addPathReceive(p.State.RemoteCap)
		for _, f := range families {
			name := familyName(f)
			v := 0.0
			if rx[name] {
				v = 1
			} else if !b.warned[nb] {
				b.logger.Warn("Router does not receive ADD-PATH: it keeps one path per prefix, no ECMP", "neighbor", nb, "family", name)
			}
			b.metrics.addPath.WithLabelValues(nb, name).Set(v)
		}
		b.warned[nb] = true
	})
	return up
}

func familyName(f *api.Family) string {
	if f.Afi == api.Family_AFI_IP6 {
		return "ipv6"
	}
	return "ipv4"
}

// addPathReceive lists the unicast families for which the router's OPEN
// offered to receive several paths.
func addPathReceive(caps []*anypb.Any) map[string]bool {
	out := map[string]bool{}
	for _, c := range caps {
		var ap api.AddPathCapability
		if !c.MessageIs(&ap) || c.UnmarshalTo(&ap) != nil {
			continue
		}
		for _, t := range ap.Tuples {
			if t.Family != nil && t.Family.Safi == api.Family_SAFI_UNICAST &&
				(t.Mode == api.AddPathCapabilityTuple_RECEIVE || t.Mode == api.AddPathCapabilityTuple_BOTH) {
				out[familyName(t.Family)] = true
			}
		}
	}
	return out
}

func (b *Backend) neighborList() string {
	s := make([]string, len(b.cfg.Neighbors))
	for i, nb := range b.cfg.Neighbors {
		s[i] = nb.Address.String()
	}
	return strings.Join(s, ", ")
}

// List returns the paths the speaker announces (its own RIB, not the
// router's): one route per prefix, its nexthops the paths' next hops. It
// fails with ErrUnavailable while no session carries them to a router.
func (b *Backend) List(ctx context.Context) ([]route.Route, error) {
	if err := b.start(ctx); err != nil {
		return nil, err
	}
	if !b.established(ctx) {
		return nil, fmt.Errorf("%w: no BGP session established (neighbors %s)", route.ErrUnavailable, b.neighborList())
	}
	rib, err := b.rib(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]route.Route, 0, len(rib))
	for p, nhs := range rib {
		out = append(out, route.New(p, nhs...))
	}
	route.Sort(out)
	return out, nil
}

// Set makes the speaker announce exactly one path per nexthop of each route
// of want (none: withdraw the prefix) and returns what it announces
// afterwards, reading its RIB once before and once after. The paths go to
// the speaker's RIB even without a session (the router gets them when one
// comes up), but Set then fails with ErrUnavailable.
func (b *Backend) Set(ctx context.Context, want ...route.Route) ([]route.Route, error) {
	if err := b.start(ctx); err != nil {
		return nil, err
	}
	rib, err := b.rib(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	norm := make([]route.Route, len(want))
	sent := false // whether a path was handed to the speaker
	for i, w := range want {
		w = route.New(w.Prefix, w.Nexthops...)
		norm[i] = w
		if i := slices.IndexFunc(w.Nexthops, func(nh netip.Addr) bool { return nh.Is4() != w.Prefix.Addr().Is4() }); i >= 0 {
			errs = append(errs, fmt.Errorf("route %s: nexthop %s is not of the prefix's address family", w.Prefix, w.Nexthops[i]))
			continue
		}
		sent = true
		if err := b.set(ctx, rib[w.Prefix], w); err != nil {
			errs = append(errs, err)
		}
	}
	if rib, err = b.rib(ctx); err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	got := make([]route.Route, len(norm))
	for i, w := range norm {
		got[i] = route.New(w.Prefix, rib[w.Prefix]...)
	}
	if sent && !b.established(ctx) {
		errs = append(errs, fmt.Errorf("%w: the routes are in the speaker's RIB but no BGP session is established (neighbors %s)", route.ErrUnavailable, b.neighborList()))
	}
	return got, errors.Join(errs...)
}

// set announces want's missing paths and withdraws those of have it lacks.
func (b *Backend) set(ctx context.Context, have []netip.Addr, want route.Route) error {
	for _, nh := range want.Nexthops {
		if !slices.Contains(have, nh) {
			if _, err := b.sp.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path(want.Prefix, nh)}); err != nil {
				return fmt.Errorf("announcing %s via %s: %w", want.Prefix, nh, err)
			}
		}
	}
	for _, nh := range have {
		if !slices.Contains(want.Nexthops, nh) {
			if err := b.sp.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Path: path(want.Prefix, nh)}); err != nil {
				return fmt.Errorf("withdrawing %s via %s: %w", want.Prefix, nh, err)
			}
		}
	}
	return nil
}

// rib reads the speaker's locally originated paths: prefix -> next hops.
func (b *Backend) rib(ctx context.Context) (map[netip.Prefix][]netip.Addr, error) {
	out := map[netip.Prefix][]netip.Addr{}
	var perr error
	for _, f := range families {
		err := b.sp.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: f}, func(d *api.Destination) {
			for _, p := range d.Paths {
				if p.NeighborIp != "<nil>" && p.NeighborIp != "" {
					continue // learned from the router, not ours
				}
				pfx, nh, err := decode(p)
				if err != nil {
					perr = errors.Join(perr, err)
					continue
				}
				out[pfx] = append(out[pfx], nh)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("reading the BGP RIB: %w", err)
		}
	}
	return out, perr
}

// Close withdraws everything by closing the sessions (Cease) and stops the speaker.
func (b *Backend) Close() error {
	if b.sp == nil {
		return nil
	}
	b.stopWatch()
	b.sp.release()
	b.sp = nil
	b.resetMetrics()
	clear(b.warned)
	return nil
}

// resetMetrics shows every neighbor idle, without ADD-PATH.
func (b *Backend) resetMetrics() {
	for _, nb := range b.cfg.Neighbors {
		b.metrics.setState(nb.Address.String(), api.PeerState_IDLE)
		for _, f := range families {
			b.metrics.addPath.WithLabelValues(nb.Address.String(), familyName(f)).Set(0)
		}
	}
}

// pathID is the path identifier of nh's path (RFC 7911): stable per server,
// so that the path of one server is replaced or withdrawn, never another's.
func pathID(nh netip.Addr) uint32 {
	if nh.Is4() {
		return binary.BigEndian.Uint32(nh.AsSlice())
	}
	h := fnv.New32a()
	h.Write(nh.AsSlice())
	return h.Sum32()
}

// path is the BGP path for prefix via nh: IPv4 with NEXT_HOP, IPv6 with
// MP_REACH_NLRI.
func path(prefix netip.Prefix, nh netip.Addr) *api.Path {
	nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: prefix.Addr().String(), PrefixLen: uint32(prefix.Bits())})
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	fam := families[0]
	var nhAttr *anypb.Any
	if prefix.Addr().Is4() {
		nhAttr, _ = anypb.New(&api.NextHopAttribute{NextHop: nh.String()})
	} else {
		fam = families[1]
		nhAttr, _ = anypb.New(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nh.String()}, Nlris: []*anypb.Any{nlri}})
	}
	return &api.Path{Family: fam, Nlri: nlri, Pattrs: []*anypb.Any{origin, nhAttr}, Identifier: pathID(nh)}
}

// decode returns a path's prefix and next hop.
func decode(p *api.Path) (netip.Prefix, netip.Addr, error) {
	var ip api.IPAddressPrefix
	if err := p.Nlri.UnmarshalTo(&ip); err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("BGP path NLRI: %w", err)
	}
	a, err := netip.ParseAddr(ip.Prefix)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("BGP path prefix %q: %w", ip.Prefix, err)
	}
	pfx := netip.PrefixFrom(a, int(ip.PrefixLen)).Masked()
	for _, attr := range p.Pattrs {
		var s string
		var nh api.NextHopAttribute
		var mp api.MpReachNLRIAttribute
		switch {
		case attr.MessageIs(&nh):
			if err := attr.UnmarshalTo(&nh); err != nil {
				return pfx, netip.Addr{}, err
			}
			s = nh.NextHop
		case attr.MessageIs(&mp):
			if err := attr.UnmarshalTo(&mp); err != nil || len(mp.NextHops) == 0 {
				return pfx, netip.Addr{}, fmt.Errorf("BGP path %s: MP_REACH_NLRI without next hop", pfx)
			}
			s = mp.NextHops[0]
		default:
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return pfx, netip.Addr{}, fmt.Errorf("BGP path %s: next hop %q: %w", pfx, s, err)
		}
		return pfx, a, nil
	}
	return pfx, netip.Addr{}, fmt.Errorf("BGP path %s has no next hop", pfx)
}

var _ route.Backend = (*Backend)(nil)

// speaker is a GoBGP server and its Serve goroutine. GoBGP's Serve never
// returns (v3.37.0 has no way to end it), so a server is never dropped: a
// closed backend stops BGP on it (StopBgp: every session closed with Cease,
// and the next StartBgp starts from an empty RIB) and leaves it for the next
// backend, which a reload builds. At most as many servers exist as backends
// were ever started at once (two across a reload), not one per reload.
type speaker struct {
	*server.BgpServer
	log atomic.Pointer[slog.Logger]
}

var idle struct {
	sync.Mutex
	list []*speaker
}

// takeSpeaker returns a stopped speaker logging to logger, reused or new.
func takeSpeaker(logger *slog.Logger) *speaker {
	idle.Lock()
	defer idle.Unlock()
	if n := len(idle.list); n > 0 {
		sp := idle.list[n-1]
		idle.list = idle.list[:n-1]
		sp.log.Store(logger)
		return sp
	}
	sp := &speaker{}
	sp.log.Store(logger)
	sp.BgpServer = server.NewBgpServer(server.LoggerOption(logAdapter{&sp.log}))
	go sp.Serve()
	return sp
}

// release stops BGP on the speaker (its sessions close with Cease) and
// leaves it for the next backend.
func (sp *speaker) release() {
	_ = sp.StopBgp(context.Background(), &api.StopBgpRequest{})
	sp.log.Store(nil)
	idle.Lock()
	defer idle.Unlock()
	idle.list = append(idle.list, sp)
}
