//go:build linux

// Package frrpeer runs a real Cisco-style CLI router for tests: FRR's zebra
// and staticd inside a fresh network namespace, and an OpenSSH server in the
// same namespace whose root login lands in vtysh (ForceCommand). A second
// namespace, joined by a veth, holds the nexthop addresses so that static
// routes resolve and reach the namespace's kernel table.
//
// Everything it starts is cleaned up by PID and namespace name in Stop.
// It needs root, FRR (/usr/lib/frr/zebra, staticd, vtysh) and OpenSSH
// (/usr/sbin/sshd, ssh-keygen).
package frrpeer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/slaroute/slaroute/deploy/lab/inns"
)

// Binaries the peer runs.
var (
	Zebra     = "/usr/lib/frr/zebra"
	Staticd   = "/usr/lib/frr/staticd"
	Bgpd      = "/usr/lib/frr/bgpd"
	Vtysh     = "/usr/bin/vtysh"
	Sshd      = "/usr/sbin/sshd"
	SSHKeygen = "ssh-keygen"
	IP        = "ip"
)

// Options shape the peer. The zero value gives the lab's standard addressing.
type Options struct {
	// Namespace, when set, is an existing namespace to run the router in
	// (the caller owns it and its links); no server namespace is created.
	Namespace string
	// RouterAddr is the router's address on the veth (198.51.100.1/24).
	RouterAddr netip.Prefix
	// Nexthops are held by the server namespace (198.51.100.11-13).
	Nexthops []netip.Addr
	// RouterAddr6, when set, is the router's IPv6 address on the veth
	// (e.g. 2001:db8:100::1/64), and Nexthops6 are held by the server
	// namespace in its subnet; without it the link carries no IPv6 address.
	RouterAddr6 netip.Prefix
	Nexthops6   []netip.Addr
	// SSHPort is sshd's port on 127.0.0.1 inside the namespace (22).
	SSHPort int
	// NoSSH runs FRR without sshd (for peers driven over BGP, not the CLI).
	NoSSH bool
	// Daemons are FRR daemons started after zebra and staticd (e.g. Bgpd).
	Daemons []string
	// Config is the FRR configuration the daemons start with.
	Config string
}

// Peer is a running FRR + sshd router.
type Peer struct {
	Namespace       string // router namespace: zebra, staticd, sshd, kernel routes
	ServerNamespace string // holds the nexthops ("" with Options.Namespace)
	// Addr is sshd's address inside Namespace: for clients run there
	// (e.g. the built actuator under `ip netns exec`).
	Addr string
	// HostAddr forwards from 127.0.0.1 in the caller's namespace to Addr:
	// for in-process clients.
	HostAddr       string
	KnownHostsFile string // pins the host key for both Addr and HostAddr
	Username       string // root; sshd forces vtysh
	PrivateKeyFile string // unencrypted ed25519 key authorized for Username
	Dir            string // keys, sockets, logs; removed by Stop
	VtySocketDir   string // pass to `vtysh --vty_socket`

	hostKey   ssh.PublicKey
	pathspace string
	ownNS     []string
	procs     []*exec.Cmd
	ln        net.Listener
	mu        sync.Mutex
	conns     map[net.Conn]struct{} // relayed client connections
	wg        sync.WaitGroup
	stopOnce  sync.Once
	stopErr   error
}

// Missing returns the first required tool or privilege that is absent, or "".
func Missing() string {
	if os.Geteuid() != 0 {
		return "root"
	}
	for _, b := range []string{Zebra, Staticd, Vtysh, Sshd, SSHKeygen, IP} {
		if _, err := exec.LookPath(b); err != nil {
			return b
		}
	}
	return ""
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
}

// Start brings up the peer and returns once vtysh answers and sshd accepts
// connections. On error everything started so far is stopped.
func Start(ctx context.Context, o Options) (p *Peer, err error) {
	if m := Missing(); m != "" {
		return nil, fmt.Errorf("frrpeer: %s is required", m)
	}
	if !o.RouterAddr.IsValid() {
		o.RouterAddr = netip.MustParsePrefix("198.51.100.1/24")
	}
	if len(o.Nexthops) == 0 {
		o.Nexthops = []netip.Addr{
			netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("198.51.100.13"),
		}
	}
	if o.SSHPort == 0 {
		o.SSHPort = 22
	}
	sfx := randomSuffix()
	p = &Peer{Username: "root", pathspace: "slrios" + sfx, conns: map[net.Conn]struct{}{}}
	defer func() {
		if err != nil {
			_ = p.Stop()
			p = nil
		}
	}()
	if p.Dir, err = os.MkdirTemp("", "frrpeer-"); err != nil {
		return p, err
	}
	// The daemons drop to user frr (FRR insists the run-as user be in the
	// frrvty group, which root is not): give them a directory of their own.
	p.VtySocketDir = filepath.Join(p.Dir, "frr")
	if err = os.Chmod(p.Dir, 0o755); err != nil {
		return p, err
	}
	if err = os.Mkdir(p.VtySocketDir, 0o755); err != nil {
		return p, err
	}
	if err = chownFRR(p.VtySocketDir); err != nil {
		return p, err
	}
	if err = p.namespaces(ctx, o, sfx); err != nil {
		return p, err
	}
	if err = p.startFRR(ctx, o); err != nil {
		return p, err
	}
	if o.NoSSH {
		return p, nil
	}
	if err = p.startSSHD(ctx, o.SSHPort); err != nil {
		return p, err
	}
	return p, p.forward()
}

func (p *Peer) namespaces(ctx context.Context, o Options, sfx string) error {
	if o.Namespace != "" {
		p.Namespace = o.Namespace
		return nil
	}
	p.Namespace, p.ServerNamespace = "slrios-r-"+sfx, "slrios-s-"+sfx
	for _, ns := range []string{p.Namespace, p.ServerNamespace} {
		if err := run(ctx, IP, "netns", "add", ns); err != nil {
			return err
		}
		p.ownNS = append(p.ownNS, ns)
	}
	cmds := [][]string{
		{"-n", p.Namespace, "link", "set", "lo", "up"},
		{"-n", p.ServerNamespace, "link", "set", "lo", "up"},
		{"-n", p.Namespace, "link", "add", "rtr0", "type", "veth", "peer", "name", "srv0", "netns", p.ServerNamespace},
		{"-n", p.Namespace, "addr", "add", o.RouterAddr.String(), "dev", "rtr0"},
		{"-n", p.Namespace, "link", "set", "rtr0", "up"},
		{"-n", p.ServerNamespace, "link", "set", "srv0", "up"},
	}
	for _, nh := range o.Nexthops {
		cmds = append(cmds, []string{"-n", p.ServerNamespace, "addr", "add",
			netip.PrefixFrom(nh, o.RouterAddr.Bits()).String(), "dev", "srv0"})
	}
	if o.RouterAddr6.IsValid() {
		// nodad: usable at once, so the connected route (and the static
		// routes via it) are there before the first change.
		cmds = append(cmds, []string{"-n", p.Namespace, "addr", "add", o.RouterAddr6.String(), "dev", "rtr0", "nodad"})
		for _, nh := range o.Nexthops6 {
			cmds = append(cmds, []string{"-n", p.ServerNamespace, "addr", "add",
				netip.PrefixFrom(nh, o.RouterAddr6.Bits()).String(), "dev", "srv0", "nodad"})
		}
	}
	for _, c := range cmds {
		if err := run(ctx, IP, c...); err != nil {
			return err
		}
	}
	return nil
}

func (p *Peer) startFRR(ctx context.Context, o Options) error {
	conf := filepath.Join(p.Dir, "frr.conf")
	if o.Config == "" {
		o.Config = "hostname rtr1\n"
	}
	if err := os.WriteFile(conf, []byte(o.Config), 0o644); err != nil {
		return err
	}
	zserv := filepath.Join(p.VtySocketDir, "zserv.api")
	for _, d := range append([]string{Zebra, Staticd}, o.Daemons...) {
		name := filepath.Base(d)
		args := []string{"netns", "exec", p.Namespace, d,
			"-N", p.pathspace, "--vty_socket", p.VtySocketDir, "-z", zserv,
			"-i", filepath.Join(p.VtySocketDir, name+".pid"), "-f", conf, "-P", "0",
			"-u", "frr", "-g", "frr", "--log", "file:" + filepath.Join(p.Dir, name+".log")}
		if err := p.spawn(IP, args...); err != nil {
			return err
		}
		// staticd needs zebra's socket; vtysh needs both vty sockets.
		sock := filepath.Join(p.VtySocketDir, name+".vty")
		if err := poll(ctx, 10*time.Second, func() error { _, err := os.Stat(sock); return err }); err != nil {
			return fmt.Errorf("frrpeer: %s did not start (see %s.log): %w", name, filepath.Join(p.Dir, name), err)
		}
	}
	return poll(ctx, 10*time.Second, func() error { _, err := p.Vtysh(ctx, "show version"); return err })
}

func (p *Peer) startSSHD(ctx context.Context, port int) error {
	hostKey := filepath.Join(p.Dir, "ssh_host_ed25519_key")
	p.PrivateKeyFile = filepath.Join(p.Dir, "id_ed25519")
	for _, k := range []string{hostKey, p.PrivateKeyFile} {
		if err := run(ctx, SSHKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "frrpeer", "-f", k); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(p.PrivateKeyFile + ".pub")
	if err != nil {
		return err
	}
	authKeys := filepath.Join(p.Dir, "authorized_keys")
	if err := os.WriteFile(authKeys, pub, 0o600); err != nil {
		return err
	}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := strings.Join([]string{
		"ListenAddress " + p.Addr,
		"HostKey " + hostKey,
		"PidFile none",
		"AuthorizedKeysFile " + authKeys,
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"AllowUsers root",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"PrintMotd no",
		"PrintLastLog no",
		"AllowTcpForwarding no",
		"X11Forwarding no",
		"AllowAgentForwarding no",
		"PermitUserEnvironment no",
		"ForceCommand " + Vtysh + " --vty_socket " + p.VtySocketDir,
		"",
	}, "\n")
	sshdConfig := filepath.Join(p.Dir, "sshd_config")
	if err := os.WriteFile(sshdConfig, []byte(cfg), 0o600); err != nil {
		return err
	}
	// sshd refuses to start without its privilege separation directory,
	// which Debian's service unit normally creates.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	if err := p.spawn(IP, "netns", "exec", p.Namespace, Sshd, "-D", "-e", "-f", sshdConfig,
		"-E", filepath.Join(p.Dir, "sshd.log")); err != nil {
		return err
	}
	hk, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return err
	}
	p.hostKey, _, _, _, err = ssh.ParseAuthorizedKey(hk)
	if err != nil {
		return err
	}
	err = poll(ctx, 10*time.Second, func() error {
		c, err := p.DialContext(ctx, "tcp", p.Addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("frrpeer: sshd did not start (see %s): %w", filepath.Join(p.Dir, "sshd.log"), err)
	}
	return nil
}

// forward listens on 127.0.0.1 in the caller's namespace and relays each
// connection to sshd inside the router namespace, then writes known_hosts.
func (p *Peer) forward() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.ln = ln
	p.HostAddr = ln.Addr().String()
	p.KnownHostsFile = filepath.Join(p.Dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(p.Addr), knownhosts.Normalize(p.HostAddr)}, p.hostKey)
	if err := os.WriteFile(p.KnownHostsFile, []byte(line+"\n"), 0o644); err != nil {
		return err
	}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() {
				p.relay(c)
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
			})
		}
	})
	return nil
}

func (p *Peer) relay(c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	u, err := p.DialContext(ctx, "tcp", p.Addr)
	cancel()
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// DialContext connects from inside the router namespace (e.g. for an
// http.Transport reaching a daemon run there). Only the socket's creation
// needs the namespace, so one locked thread switches in and back.
func (p *Peer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return inns.Dialer(p.Namespace)(ctx, network, addr)
}

// Vtysh runs vtysh -c for each command inside the router, as root (not
// over SSH): the test's own view of the device.
func (p *Peer) Vtysh(ctx context.Context, cmds ...string) (string, error) {
	args := []string{"netns", "exec", p.Namespace, Vtysh, "--vty_socket", p.VtySocketDir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return output(ctx, IP, args...)
}

// RunningRoutes returns the `ip route` and `ipv6 route` lines of vtysh's
// running config.
func (p *Peer) RunningRoutes(ctx context.Context) ([]string, error) {
	out, err := p.Vtysh(ctx, "show running-config")
	if err != nil {
		return nil, err
	}
	var lines []string
	for l := range strings.Lines(out) {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "ip route ") || strings.HasPrefix(l, "ipv6 route ") {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// KernelNexthops returns the gateways of the router namespace's kernel route
// for prefix (`ip route show PREFIX`), sorted; none when the route is absent.
func (p *Peer) KernelNexthops(ctx context.Context, prefix netip.Prefix) ([]netip.Addr, error) {
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6" // iproute2 does not infer the family from the prefix
	}
	out, err := output(ctx, IP, "-n", p.Namespace, fam, "route", "show", prefix.String())
	if err != nil {
		return nil, err
	}
	var nhs []netip.Addr
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			a, err := netip.ParseAddr(f[i+1])
			if err != nil {
				return nil, fmt.Errorf("ip route show %s: %q: %w", prefix, out, err)
			}
			nhs = append(nhs, a)
		}
	}
	slices.SortFunc(nhs, netip.Addr.Compare)
	return nhs, nil
}

// Stop kills every process the peer started (by PID, then any process left
// in its namespaces), deletes its namespaces and its directory. Safe to call twice.
func (p *Peer) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Peer) stop() error {
	var errs []error
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	// sshd's per-connection children (and their vtysh) outlive sshd, also
	// in a caller's namespace, which is not ours to empty: note them first.
	var children []proc
	for _, c := range p.procs {
		children = append(children, descendants(c.Process.Pid)...)
	}
	for i := len(p.procs) - 1; i >= 0; i-- {
		errs = append(errs, stopProcess(p.procs[i]))
	}
	killAll(children)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range p.ownNS {
		// sshd's per-connection children and their vtysh outlive the
		// listener; everything in a namespace we created is ours.
		if out, err := output(ctx, IP, "netns", "pids", ns); err == nil {
			for _, f := range strings.Fields(out) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err := run(ctx, IP, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	p.wg.Wait()
	if p.pathspace != "" {
		_ = os.Remove(filepath.Join("/var/run/frr", p.pathspace)) // zebra -N creates it
	}
	if p.Dir != "" { // always ours: Start made it
		errs = append(errs, os.RemoveAll(p.Dir))
	}
	return errors.Join(errs...)
}

func (p *Peer) spawn(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	// A file, not a pipe: sshd's session children inherit stderr, and a
	// pipe would keep Wait blocked until they exit.
	f, err := os.OpenFile(filepath.Join(p.Dir, fmt.Sprintf("proc%d.stderr", len(p.procs))), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("frrpeer: %s: %w", strings.Join(args, " "), err)
	}
	p.procs = append(p.procs, cmd)
	return nil
}

// stopProcess sends SIGTERM, then SIGKILL after 3 s, and reaps the process.
func stopProcess(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(3 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("frrpeer: %s (pid %d) ignored SIGTERM", cmd.Path, cmd.Process.Pid)
	}
}

// proc identifies a process by PID and start time, so that a PID reused
// meanwhile by an unrelated process is never killed.
type proc struct {
	pid   int
	start string
}

// startTime is field 22 of /proc/PID/stat ("" when the process is gone).
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// descendants lists the process tree below pid from /proc.
func descendants(pid int) []proc {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []proc
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, proc{c, startTime(c)})
			out = append(out, descendants(c)...)
		}
	}
	return out
}

// killAll SIGKILLs the processes still running as noted and waits up to
// 3 s until they are gone (or zombies awaiting their new parent).
func killAll(ps []proc) {
	alive := func(x proc) bool {
		st := startTime(x.pid)
		if st == "" || st != x.start {
			return false
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", x.pid))
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		return len(f) > 0 && f[0] != "Z"
	}
	for _, x := range ps {
		if alive(x) {
			_ = syscall.Kill(x.pid, syscall.SIGKILL)
		}
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !slices.ContainsFunc(ps, alive) {
			return
		}
	}
}

func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func chownFRR(dir string) error {
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("frrpeer: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}
