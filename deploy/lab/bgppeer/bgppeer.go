//go:build linux

// Package bgppeer runs a real BGP router for tests and benchmarks: FRR's
// zebra, staticd and bgpd in a fresh network namespace (the router), joined
// by a bridge to a namespace holding the DNS servers' addresses (the
// nexthops) and one for the BGP speaker (route_actuator). All addresses are
// documentation ranges:
//
//	router  br0      198.51.100.1/24  2001:db8:100::1/64   AS 65000, passive
//	servers srv0     198.51.100.11-13 2001:db8:100::11-13
//	speaker spk0     198.51.100.2     2001:db8:100::2      AS 65001
//
// The router holds floating static routes (distance 250, worse than eBGP's
// 20) for the service prefixes to every server: the fail-open pattern.
// Everything it starts is stopped by PID and namespace name in Stop.
// Only tests and benchmarks import it.
package bgppeer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
)

// Lab addressing.
var (
	RouterAddr   = netip.MustParseAddr("198.51.100.1")
	RouterAddr6  = netip.MustParseAddr("2001:db8:100::1")
	SpeakerAddr  = netip.MustParseAddr("198.51.100.2")
	SpeakerAddr6 = netip.MustParseAddr("2001:db8:100::2")
	// Speaker2Addr is the second speaker's address (Options.Speaker2AS),
	// in the speaker namespace too.
	Speaker2Addr = netip.MustParseAddr("198.51.100.3")
	Service      = netip.MustParsePrefix("192.0.2.53/32")
	Service6     = netip.MustParsePrefix("2001:db8:53::53/128")
	Nexthops     = []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("198.51.100.13")}
	Nexthops6    = []netip.Addr{netip.MustParseAddr("2001:db8:100::11"), netip.MustParseAddr("2001:db8:100::12"), netip.MustParseAddr("2001:db8:100::13")}
)

const (
	RouterAS  = 65000
	SpeakerAS = 65001
	// StaticDistance is the floating statics' administrative distance.
	StaticDistance = 250
)

// BackendConfig is route_actuator.yml's backend section for the lab's speaker.
const BackendConfig = `backend:
  type: bgp
  bgp:
    local_as: 65001
    router_id: 198.51.100.2
    local_address: 198.51.100.2
    neighbors:
      - {address: 198.51.100.1, peer_as: 65000, hold_time: 9s, keepalive: 3s, connect_retry: 1s}
`

// Options shape the router.
type Options struct {
	// NoStatics leaves out the floating static routes.
	NoStatics bool
	// NoAddPath makes the router refuse ADD-PATH (disable-addpath-rx).
	NoAddPath bool
	// IPv6Session peers with the speaker over IPv6 (SpeakerAddr6) instead of IPv4.
	IPv6Session bool
	// Password sets the session's TCP MD5 password (RFC 2385).
	Password string
	// Announce makes the router send the speaker that many IPv4 /32s
	// (from 203.0.113.0/24, at most 256).
	Announce int
	// HoldTime and Keepalive are the router's timers for the speaker (9s, 3s).
	HoldTime, Keepalive time.Duration
	// Speaker2AS, when set, adds a second speaker at Speaker2Addr with
	// this AS (two actuators on one router).
	Speaker2AS uint32
}

// Peer is a running FRR router with its server and speaker namespaces.
type Peer struct {
	Namespace        string // router: zebra, staticd, bgpd, the kernel routes
	ServerNamespace  string // holds the nexthops
	SpeakerNamespace string // where the BGP speaker runs
	// FRR runs the daemons in Namespace (nil in a process from Attach).
	FRR *frrpeer.Peer

	vtySocketDir string
	ownNS        []string
	nl           *netlink.Handle // in Namespace, opened by KernelRoute
}

// Missing returns the first required tool or privilege that is absent, or "".
func Missing() string {
	if m := frrpeer.Missing(); m != "" {
		return m
	}
	if _, err := exec.LookPath(frrpeer.Bgpd); err != nil {
		return frrpeer.Bgpd
	}
	return ""
}

// Start brings up the router and returns once bgpd answers vtysh and the
// floating statics are in the kernel. On error everything is stopped.
func Start(ctx context.Context, o Options) (p *Peer, err error) {
	if m := Missing(); m != "" {
		return nil, fmt.Errorf("bgppeer: %s is required", m)
	}
	if o.HoldTime == 0 {
		o.HoldTime, o.Keepalive = 9*time.Second, 3*time.Second
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	sfx := strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
	p = &Peer{}
	defer func() {
		if err != nil {
			_ = p.Stop()
			p = nil
		}
	}()
	if err = p.namespaces(ctx, sfx, o); err != nil {
		return p, err
	}
	p.FRR, err = frrpeer.Start(ctx, frrpeer.Options{Namespace: p.Namespace, NoSSH: true, Daemons: []string{frrpeer.Bgpd}, Config: Config(o)})
	if err != nil {
		return p, err
	}
	p.vtySocketDir = p.FRR.VtySocketDir
	if o.NoStatics {
		return p, nil
	}
	_, err = p.WaitKernel(ctx, 10*time.Second, Service, "static", Nexthops...)
	return p, err
}

func (p *Peer) namespaces(ctx context.Context, sfx string, o Options) error {
	p.Namespace, p.ServerNamespace, p.SpeakerNamespace = "slrbgp-r-"+sfx, "slrbgp-s-"+sfx, "slrbgp-a-"+sfx
	for _, ns := range []string{p.Namespace, p.ServerNamespace, p.SpeakerNamespace} {
		if err := ip(ctx, "netns", "add", ns); err != nil {
			return err
		}
		p.ownNS = append(p.ownNS, ns)
	}
	r, s, a := p.Namespace, p.ServerNamespace, p.SpeakerNamespace
	cmds := [][]string{
		{"-n", r, "link", "set", "lo", "up"},
		{"-n", s, "link", "set", "lo", "up"},
		{"-n", a, "link", "set", "lo", "up"},
		{"-n", r, "link", "add", "br0", "type", "bridge"},
		{"-n", r, "link", "add", "rsrv", "type", "veth", "peer", "name", "srv0", "netns", s},
		{"-n", r, "link", "add", "rspk", "type", "veth", "peer", "name", "spk0", "netns", a},
		{"-n", r, "link", "set", "rsrv", "master", "br0", "up"},
		{"-n", r, "link", "set", "rspk", "master", "br0", "up"},
		{"-n", r, "addr", "add", RouterAddr.String() + "/24", "dev", "br0"},
		{"-n", r, "addr", "add", RouterAddr6.String() + "/64", "dev", "br0", "nodad"},
		{"-n", r, "link", "set", "br0", "up"},
		{"-n", a, "addr", "add", SpeakerAddr.String() + "/24", "dev", "spk0"},
		{"-n", a, "addr", "add", SpeakerAddr6.String() + "/64", "dev", "spk0", "nodad"},
		{"-n", a, "link", "set", "spk0", "up"},
		{"-n", s, "link", "set", "srv0", "up"},
	}
	if o.Speaker2AS != 0 {
		cmds = append(cmds, []string{"-n", a, "addr", "add", Speaker2Addr.String() + "/24", "dev", "spk0"})
	}
	for i := range Nexthops {
		cmds = append(cmds,
			[]string{"-n", s, "addr", "add", Nexthops[i].String() + "/24", "dev", "srv0"},
			[]string{"-n", s, "addr", "add", Nexthops6[i].String() + "/64", "dev", "srv0", "nodad"})
	}
	for _, c := range cmds {
		if err := ip(ctx, c...); err != nil {
			return err
		}
	}
	return nil
}

// Config is the router's FRR configuration for opts.
func Config(o Options) string {
	var b strings.Builder
	b.WriteString("hostname rtr1\n")
	if !o.NoStatics {
		for i := range Nexthops {
			fmt.Fprintf(&b, "ip route %s %s %d\n", Service, Nexthops[i], StaticDistance)
			fmt.Fprintf(&b, "ipv6 route %s %s %d\n", Service6, Nexthops6[i], StaticDistance)
		}
	}
	nb := SpeakerAddr.String()
	if o.IPv6Session {
		nb = SpeakerAddr6.String()
	}
	fmt.Fprintf(&b, `router bgp %d
 bgp router-id %s
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor %s remote-as %d
 neighbor %s passive
 neighbor %s timers %d %d
`, RouterAS, RouterAddr, nb, SpeakerAS, nb, nb, int(o.Keepalive/time.Second), int(o.HoldTime/time.Second))
	if o.Announce > 0 {
		b.WriteString(" no bgp network import-check\n")
	}
	if o.Password != "" {
		fmt.Fprintf(&b, " neighbor %s password %s\n", nb, o.Password)
	}
	nb2 := Speaker2Addr.String()
	if o.Speaker2AS != 0 {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s passive\n neighbor %s timers %d %d\n",
			nb2, o.Speaker2AS, nb2, nb2, int(o.Keepalive/time.Second), int(o.HoldTime/time.Second))
	}
	for _, af := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 16\n  neighbor %s activate\n", af, nb)
		if o.Speaker2AS != 0 {
			fmt.Fprintf(&b, "  neighbor %s activate\n", nb2)
		}
		for i := 0; af == "ipv4" && i < o.Announce; i++ {
			fmt.Fprintf(&b, "  network 203.0.113.%d/32\n", i)
		}
		if o.NoAddPath {
			fmt.Fprintf(&b, "  neighbor %s disable-addpath-rx\n", nb)
		}
		b.WriteString(" exit-address-family\n")
	}
	return b.String()
}

// Vtysh runs vtysh -c for each command inside the router.
func (p *Peer) Vtysh(ctx context.Context, cmds ...string) (string, error) {
	args := []string{"netns", "exec", p.Namespace, frrpeer.Vtysh, "--vty_socket", p.vtySocketDir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.CommandContext(ctx, frrpeer.IP, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %s: %w: %s", strings.Join(cmds, "; "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// KernelRoute is the router's kernel route for a prefix.
type KernelRoute struct {
	Proto    string // "bgp", "static", "" when absent
	Nexthops []netip.Addr
}

func (r KernelRoute) String() string { return fmt.Sprintf("proto %s via %v", r.Proto, r.Nexthops) }

// FRR's kernel route protocol numbers (/etc/iproute2/rt_protos.d/frr.conf).
var protoNames = map[netlink.RouteProtocol]string{186: "bgp", 196: "static"}

// KernelRoute reads the router namespace's main table over netlink (cheap
// enough to poll every millisecond, which the benchmark does).
func (p *Peer) KernelRoute(ctx context.Context, prefix netip.Prefix) (KernelRoute, error) {
	if p.nl == nil {
		ns, err := netns.GetFromName(p.Namespace)
		if err != nil {
			return KernelRoute{}, err
		}
		defer ns.Close()
		if p.nl, err = netlink.NewHandleAt(ns); err != nil {
			return KernelRoute{}, err
		}
	}
	family := netlink.FAMILY_V4
	if prefix.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	dst := &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())}
	rs, err := p.nl.RouteListFiltered(family, &netlink.Route{Dst: dst, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil || len(rs) == 0 {
		return KernelRoute{}, err
	}
	r := KernelRoute{Proto: protoNames[rs[0].Protocol]}
	if r.Proto == "" {
		r.Proto = rs[0].Protocol.String()
	}
	add := func(ip net.IP) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			r.Nexthops = append(r.Nexthops, a.Unmap())
		}
	}
	add(rs[0].Gw)
	for _, nh := range rs[0].MultiPath {
		add(nh.Gw)
	}
	slices.SortFunc(r.Nexthops, netip.Addr.Compare)
	return r, nil
}

// WaitKernel polls until the kernel route for prefix has proto and exactly
// nexthops, and returns how long that took.
func (p *Peer) WaitKernel(ctx context.Context, timeout time.Duration, prefix netip.Prefix, proto string, nexthops ...netip.Addr) (time.Duration, error) {
	start := time.Now()
	want := KernelRoute{Proto: proto, Nexthops: slices.Clone(nexthops)}
	slices.SortFunc(want.Nexthops, netip.Addr.Compare)
	deadline := start.Add(timeout)
	for {
		got, err := p.KernelRoute(ctx, prefix)
		if err == nil && got.Proto == want.Proto && slices.Equal(got.Nexthops, want.Nexthops) {
			return time.Since(start), nil
		}
		if err == nil {
			err = fmt.Errorf("kernel route %s: %s, want %s", prefix, got, want)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop stops FRR (by PID), kills whatever else runs in the namespaces
// (a speaker a test started there), and deletes them. Safe to call twice.
func (p *Peer) Stop() error {
	var errs []error
	if p.nl != nil {
		p.nl.Close()
		p.nl = nil
	}
	if p.FRR != nil {
		errs = append(errs, p.FRR.Stop())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range p.ownNS {
		if out, err := exec.CommandContext(ctx, frrpeer.IP, "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		errs = append(errs, ip(ctx, "netns", "del", ns))
	}
	p.ownNS = nil
	return errors.Join(errs...)
}

func ip(ctx context.Context, args ...string) error {
	if out, err := exec.CommandContext(ctx, frrpeer.IP, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// envVar carries a Peer to a process run inside SpeakerNamespace (the BGP
// speaker must run there, and Go cannot move a whole process between
// namespaces, so tests and the benchmark re-execute themselves).
const envVar = "SLAROUTE_BGPPEER"

// InSpeaker returns a command running name inside SpeakerNamespace with
// the environment Attach reads.
func (p *Peer) InSpeaker(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(frrpeer.IP, append([]string{"netns", "exec", p.SpeakerNamespace, name}, args...)...)
	cmd.Env = append(os.Environ(), envVar+"="+p.Namespace+"|"+p.vtySocketDir)
	return cmd
}

// Attach returns the Peer a parent process started (for reading the
// router's state; Stop stays with the parent), or false outside InSpeaker.
func Attach() (*Peer, bool) {
	ns, dir, ok := strings.Cut(os.Getenv(envVar), "|")
	if !ok {
		return nil, false
	}
	return &Peer{Namespace: ns, vtySocketDir: dir}, true
}
