//go:build linux

package lab

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Fixed lab addresses (RFC 5737 documentation ranges only).
var (
	ServiceAddr   = netip.MustParseAddr("192.0.2.53")
	ServicePrefix = netip.PrefixFrom(ServiceAddr, 32)
	RouterLAN     = netip.MustParseAddr("198.51.100.1")
	RouterClient  = netip.MustParseAddr("203.0.113.1")
	firstClient   = netip.MustParseAddr("203.0.113.10")
)

// ServerAddr is the admin address (and nexthop) of server i (1-based).
func ServerAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}) }

// Config sizes and names a lab.
type Config struct {
	Prefix  string // namespace name prefix; default "slab<pid>"
	Servers int    // DNS server namespaces, default 3
	Clients int    // client source addresses, default 16
	Dir     string // scratch dir for configs, data and logs (required)
	Logger  *slog.Logger
}

// Lab is a running set of namespaces with their DNS servers.
type Lab struct {
	Router  string // router namespace (also hosts the monitoring stack)
	Client  string // client namespace
	Servers []*Server
	Dir     string
	cfg     Config
	log     *slog.Logger
	auth    map[string][2]string // host:port -> basic-auth user, password
}

// DefaultPrefix is unique per process, so parallel test binaries never collide.
func DefaultPrefix() string { return "slab" + strconv.Itoa(os.Getpid()) }

// New fills defaults; Up creates the namespaces.
func New(cfg Config) (*Lab, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix()
	}
	if cfg.Servers == 0 {
		cfg.Servers = 3
	}
	if cfg.Clients == 0 {
		cfg.Clients = 16
	}
	if cfg.Servers < 1 || cfg.Servers > 9 || cfg.Clients < 1 || cfg.Clients > 200 {
		return nil, fmt.Errorf("lab: servers %d (1..9) or clients %d (1..200) out of range", cfg.Servers, cfg.Clients)
	}
	if cfg.Dir == "" {
		return nil, errors.New("lab: Dir must be set")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lab{Router: cfg.Prefix + "-router", Client: cfg.Prefix + "-client", Dir: cfg.Dir, cfg: cfg, log: cfg.Logger}
	for i := 1; i <= cfg.Servers; i++ {
		l.Servers = append(l.Servers, &Server{
			Name: fmt.Sprintf("dns%d", i),
			NS:   fmt.Sprintf("%s-dns%d", cfg.Prefix, i),
			Addr: ServerAddr(i),
			dir:  cfg.Dir,
			log:  cfg.Logger,
		})
	}
	return l, nil
}

// Prefix is the namespace name prefix of this lab.
func (l *Lab) Prefix() string { return l.cfg.Prefix }

// Nexthops are the servers' admin addresses, the configured ECMP nexthops.
func (l *Lab) Nexthops() []netip.Addr {
	var out []netip.Addr
	for _, s := range l.Servers {
		out = append(out, s.Addr)
	}
	return out
}

// ClientAddrs are the client namespace's source addresses.
func (l *Lab) ClientAddrs() []netip.Addr {
	out := make([]netip.Addr, l.cfg.Clients)
	a := firstClient
	for i := range out {
		out[i] = a
		a = a.Next()
	}
	return out
}

// Server returns the server by name (dns1...), or nil.
func (l *Lab) Server(name string) *Server {
	for _, s := range l.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Up builds the namespaces and starts every DNS server. It first removes a
// lab of the same prefix, so it is idempotent; on error it tears down.
func (l *Lab) Up() error {
	if err := DownPrefix(l.cfg.Prefix); err != nil {
		return err
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return err
	}
	if err := l.build(); err != nil {
		l.Down()
		return err
	}
	for _, s := range l.Servers {
		if err := s.Start(); err != nil {
			l.Down()
			return err
		}
	}
	return nil
}

func (l *Lab) build() error {
	r, c := l.Router, l.Client
	steps := [][]string{
		{"netns", "add", r}, {"netns", "add", c},
		{"-n", r, "link", "set", "lo", "up"}, {"-n", c, "link", "set", "lo", "up"},
		{"-n", r, "link", "add", "lan0", "type", "bridge"},
		{"-n", r, "addr", "add", RouterLAN.String() + "/24", "dev", "lan0"},
		{"-n", r, "link", "set", "lan0", "up"},
		{"-n", r, "link", "add", "cl0", "type", "veth", "peer", "name", "eth0", "netns", c},
		{"-n", r, "addr", "add", RouterClient.String() + "/24", "dev", "cl0"},
		{"-n", r, "link", "set", "cl0", "up"},
		{"-n", c, "link", "set", "eth0", "up"},
	}
	for _, a := range l.ClientAddrs() {
		steps = append(steps, []string{"-n", c, "addr", "add", a.String() + "/24", "dev", "eth0"})
	}
	steps = append(steps, []string{"-n", c, "route", "add", "default", "via", RouterClient.String()})
	for i, s := range l.Servers {
		port := fmt.Sprintf("s%d", i+1)
		steps = append(steps,
			[]string{"netns", "add", s.NS},
			[]string{"-n", s.NS, "link", "set", "lo", "up"},
			[]string{"-n", s.NS, "addr", "add", ServicePrefix.String(), "dev", "lo"},
			[]string{"-n", r, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", s.NS},
			[]string{"-n", r, "link", "set", port, "master", "lan0", "up"},
			[]string{"-n", s.NS, "addr", "add", s.Addr.String() + "/24", "dev", "eth0"},
			[]string{"-n", s.NS, "link", "set", "eth0", "up"},
			[]string{"-n", s.NS, "route", "add", "default", "via", RouterLAN.String()},
		)
	}
	for _, st := range steps {
		if _, err := ip(st...); err != nil {
			return fmt.Errorf("lab up: %w", err)
		}
	}
	if err := sysctl(r, "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1"); err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	for _, s := range l.Servers {
		// The service address lives on lo: never answer ARP for it on eth0.
		if err := sysctl(s.NS, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"); err != nil {
			return fmt.Errorf("lab up: %w", err)
		}
	}
	l.log.Info("lab namespaces up", "router", r, "client", c, "servers", len(l.Servers))
	return nil
}

// Down stops the DNS servers and deletes the namespaces; safe to call twice.
func (l *Lab) Down() error {
	for _, s := range l.Servers {
		s.stopAll()
	}
	return DownPrefix(l.cfg.Prefix)
}

// DownPrefix kills every process left in namespaces named prefix-* and
// deletes them: the cleanup for a lab whose owner was killed.
func DownPrefix(prefix string) error {
	if prefix == "" {
		return errors.New("lab: empty prefix")
	}
	names, err := namespaces()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if !strings.HasPrefix(n, prefix+"-") {
			continue
		}
		if err := killNS(n); err != nil {
			errs = append(errs, err)
		}
	}
	// Processes need a moment to leave before their namespace can go.
	time.Sleep(50 * time.Millisecond)
	for _, n := range names {
		if !strings.HasPrefix(n, prefix+"-") {
			continue
		}
		if _, err := ip("netns", "delete", n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StalePrefixes lists lab prefixes (slab<pid>) whose owning process is gone.
func StalePrefixes() ([]string, error) {
	names, err := namespaces()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		p, _, ok := strings.Cut(n, "-")
		if !ok || !strings.HasPrefix(p, "slab") || seen[p] {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(p, "slab"))
		if err != nil {
			continue
		}
		seen[p] = true
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			out = append(out, p)
		}
	}
	return out, nil
}

func splitFields(s string) []string { return strings.Fields(s) }
