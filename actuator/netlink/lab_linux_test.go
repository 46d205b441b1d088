//go:build linux && integration

package netlink

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// The lab: namespace "router" holds veth0 198.51.100.1/24, whose peer in a
// second namespace carries the servers 198.51.100.11-13, so the gateways are
// on a connected network; 203.0.113.1-4 on lo are client sources for lookups.
var (
	svc   = netip.MustParsePrefix("192.0.2.53/32")
	gw11  = netip.MustParseAddr("198.51.100.11")
	gw12  = netip.MustParseAddr("198.51.100.12")
	gw13  = netip.MustParseAddr("198.51.100.13")
	allGW = []netip.Addr{gw11, gw12, gw13}
)

var labSeq atomic.Int32

type lab struct {
	t    testing.TB
	name string // router namespace
	ns   netns.NsHandle
}

// needRoot skips without root and the ip command, unless CI=true where it fails.
func needRoot(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t, "network namespaces, CAP_NET_ADMIN")
	testenv.RequireTool(t, "ip")
}

func newLab(t testing.TB) *lab {
	t.Helper()
	needRoot(t)
	n := labSeq.Add(1)
	l := &lab{t: t, name: fmt.Sprintf("slnl-%d-%d", os.Getpid(), n)}
	peer := l.name + "-s"
	for _, ns := range []string{l.name, peer} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	batch(t, l.name, `
link set lo up
link add veth0 type veth peer name veth1 netns `+peer+`
address add 198.51.100.1/24 dev veth0
link set veth0 up
address add 203.0.113.1/32 dev lo
address add 203.0.113.2/32 dev lo
address add 203.0.113.3/32 dev lo
address add 203.0.113.4/32 dev lo
`)
	batch(t, peer, `
link set lo up
address add 198.51.100.11/24 dev veth1
address add 198.51.100.12/24 dev veth1
address add 198.51.100.13/24 dev veth1
link set veth1 up
`)
	// Hash on the 5-tuple, so lookups with different ports spread.
	run(t, "ip", "netns", "exec", l.name, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")
	ns, err := netns.GetFromName(l.name)
	if err != nil {
		t.Fatal(err)
	}
	l.ns = ns
	t.Cleanup(func() { ns.Close() })
	return l
}

// backend opens a backend in the lab namespace, closed at cleanup.
func (l *lab) backend(mode string) *Backend {
	l.t.Helper()
	cfg := DefaultConfig
	cfg.Mode = mode
	return l.backendWith(cfg)
}

func (l *lab) backendWith(cfg Config) *Backend {
	l.t.Helper()
	b, err := NewAt(cfg, nil, slog.New(slog.DiscardHandler), l.ns)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { b.Close() })
	return b
}

// ip runs `ip -n <lab> args...` and returns its output.
func (l *lab) ip(args ...string) string {
	l.t.Helper()
	return run(l.t, "ip", append([]string{"-n", l.name}, args...)...)
}

func (l *lab) batch(cmds string) string {
	l.t.Helper()
	return batch(l.t, l.name, cmds)
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// batch runs several ip commands in one process (ip -batch).
func batch(t testing.TB, ns, cmds string) string {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.TrimSpace(cmds) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s -batch: %v\n%s", ns, err, out)
	}
	return string(out)
}

// lookups asks the kernel which gateway each flow to the service takes:
// `ip route get` with the full 5-tuple, sources 203.0.113.1-4, n ports each.
func (l *lab) lookups(n int) map[string]netip.Addr {
	l.t.Helper()
	var b strings.Builder
	var keys []string
	for src := 1; src <= 4; src++ {
		for port := 10000; port < 10000+n; port++ {
			k := fmt.Sprintf("from 203.0.113.%d ipproto udp sport %d dport 53", src, port)
			keys = append(keys, k)
			fmt.Fprintf(&b, "route get %s %s\n", svc.Addr(), k)
		}
	}
	out := l.batch(b.String())
	got := map[string]netip.Addr{}
	sc := bufio.NewScanner(strings.NewReader(out))
	i := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != svc.Addr().String() {
			continue // the "cache" continuation lines
		}
		for j := range f[:len(f)-1] {
			if f[j] == "via" {
				got[keys[i]] = netip.MustParseAddr(f[j+1])
			}
		}
		i++
	}
	if len(got) != len(keys) {
		l.t.Fatalf("parsed %d of %d lookups:\n%s", len(got), len(keys), out)
	}
	return got
}

// monitor records the route and nexthop notifications of the lab namespace.
type monitor struct {
	t testing.TB
	s *nl.NetlinkSocket
}

const (
	rtnlgrpIPv4Route = 7
	rtnlgrpNexthop   = 32
)

func (l *lab) monitor() *monitor {
	l.t.Helper()
	s, err := nl.SubscribeAt(l.ns, netns.None(), unix.NETLINK_ROUTE, rtnlgrpIPv4Route, rtnlgrpNexthop)
	if err != nil {
		l.t.Fatal(err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := s.SetReceiveTimeout(&tv); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(s.Close)
	return &monitor{t: l.t, s: s}
}

// drain returns the notifications queued so far, as "NEWROUTE 192.0.2.53/32"
// or "DELNEXTHOP <id>".
func (m *monitor) drain() []string {
	m.t.Helper()
	var out []string
	for {
		msgs, _, err := m.s.Receive()
		if err == unix.EAGAIN {
			return out
		}
		if err != nil {
			m.t.Fatal(err)
		}
		for _, msg := range msgs {
			switch msg.Header.Type {
			case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
				r, err := parseRoute(msg.Data)
				if err != nil {
					m.t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%s %s", map[uint16]string{unix.RTM_NEWROUTE: "NEWROUTE", unix.RTM_DELROUTE: "DELROUTE"}[msg.Header.Type], r.Prefix))
			case unix.RTM_NEWNEXTHOP, unix.RTM_DELNEXTHOP:
				n, err := parseNexthop(msg.Data)
				if err != nil {
					m.t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%s %d", map[uint16]string{unix.RTM_NEWNEXTHOP: "NEWNEXTHOP", unix.RTM_DELNEXTHOP: "DELNEXTHOP"}[msg.Header.Type], n.ID))
			}
		}
	}
}
