//go:build e2e

package dnsdocs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

const page = "docs/dns-servers.md"

// snippet returns the body of the page's code block fenced as ```lang.
func snippet(t *testing.T, lang string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), page))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n```" + lang + "\n(.*?)\n```\n").FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("%s has no ```%s block", page, lang)
	}
	return m[1] + "\n"
}

func write(t *testing.T, name, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSnippetsAccepted: the daemons' own checkers accept the page's
// listen configurations; a mistyped option is refused, so the check bites.
func TestSnippetsAccepted(t *testing.T) {
	for _, c := range []struct {
		lang, tool string
		check      func(file string) *exec.Cmd
		broken     string
	}{
		{"dnsmasq", "dnsmasq", func(f string) *exec.Cmd { return exec.Command("dnsmasq", "--test", "--conf-file="+f) }, "listen-adress=192.0.2.53\n"},
		{"knot", "knotc", func(f string) *exec.Cmd { return exec.Command("knotc", "-c", f, "conf-check") }, "server:\n    lisen: 192.0.2.53@53\n"},
		{"nsd", "nsd-checkconf", func(f string) *exec.Cmd { return exec.Command("nsd-checkconf", f) }, "server:\n    ip-adress: 192.0.2.53\n"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			testenv.RequireTool(t, c.tool)
			if out, err := c.check(write(t, c.lang+".conf", snippet(t, c.lang))).CombinedOutput(); err != nil {
				t.Errorf("%s refuses the %s snippet of %s: %v\n%s", c.tool, c.lang, page, err, out)
			}
			if out, err := c.check(write(t, "broken.conf", c.broken)).CombinedOutput(); err == nil {
				t.Errorf("%s accepted a broken configuration:\n%s", c.tool, out)
			}
		})
	}
}

// Addresses of the page.
const (
	admin4, service4, router4 = "198.51.100.11", "192.0.2.53", "198.51.100.1"
	admin6, service6, router6 = "2001:db8:100::11", "2001:db8:53::53", "2001:db8:100::1"
	probeName, probeA         = "health.example.test", "192.0.2.1"
)

// TestServerSetup builds a DNS server and a router in two namespaces as the
// page says (service address on lo, the page's sysctl block, dnsmasq with
// its listen snippet) and checks each claim from the router.
func TestServerSetup(t *testing.T) {
	testenv.RequireRoot(t, "network namespaces")
	for _, tool := range []string{"ip", "dnsmasq", "kdig", "sysctl"} {
		testenv.RequireTool(t, tool)
	}
	prefix := fmt.Sprintf("sdoc%d", os.Getpid())
	srv, rtr := prefix+"-srv", prefix+"-rtr"
	ip := func(args ...string) { t.Helper(); mustRun(t, "ip", args...) }
	t.Cleanup(func() {
		for _, ns := range []string{srv, rtr} {
			if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
				for _, pid := range strings.Fields(string(out)) {
					exec.Command("kill", "-9", pid).Run()
				}
			}
			exec.Command("ip", "netns", "delete", ns).Run()
		}
	})
	ip("netns", "add", srv)
	ip("netns", "add", rtr)
	for _, s := range [][]string{
		{"-n", srv, "link", "set", "lo", "up"}, {"-n", rtr, "link", "set", "lo", "up"},
		{"-n", srv, "addr", "add", service4 + "/32", "dev", "lo"},
		{"-n", srv, "addr", "add", service6 + "/128", "dev", "lo"},
		{"-n", rtr, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", srv},
		{"-n", srv, "addr", "add", admin4 + "/24", "dev", "eth0"},
		{"-n", srv, "addr", "add", admin6 + "/64", "dev", "eth0", "nodad"},
		{"-n", rtr, "addr", "add", router4 + "/24", "dev", "lan0"},
		{"-n", rtr, "addr", "add", router6 + "/64", "dev", "lan0", "nodad"},
		{"-n", srv, "link", "set", "eth0", "up"}, {"-n", rtr, "link", "set", "lan0", "up"},
		{"-n", srv, "route", "add", "default", "via", router4},
		{"-n", srv, "-6", "route", "add", "default", "via", router6},
		// slaroute's route, reduced to this one server.
		{"-n", rtr, "route", "add", service4 + "/32", "via", admin4},
		{"-n", rtr, "-6", "route", "add", service6 + "/128", "via", admin6},
	} {
		ip(s...)
	}
	sysctl := func(kv string) { t.Helper(); mustRun(t, "ip", "netns", "exec", srv, "sysctl", "-q", "-w", kv) }
	n := 0
	for _, l := range strings.Split(snippet(t, "sysctl"), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			sysctl(strings.TrimSpace(k) + "=" + strings.TrimSpace(v))
			n++
		}
	}
	if n != 2 {
		t.Fatalf("the sysctl block of %s has %d settings, want arp_ignore and arp_announce", page, n)
	}

	conf := write(t, "dnsmasq.conf", snippet(t, "dnsmasq"))
	startDnsmasq := func(conf string) *testenv.Proc {
		p := testenv.Start(t, exec.Command("ip", "netns", "exec", srv, "dnsmasq", "--keep-in-foreground",
			"--conf-file="+conf, "--pid-file=", "--user=root", "--group=root", "--no-resolv", "--no-hosts",
			"--address=/"+probeName+"/"+probeA, "--log-facility=-"))
		deadline := time.Now().Add(5 * time.Second)
		for !answers(rtr, admin4) {
			if time.Now().After(deadline) {
				t.Fatalf("dnsmasq does not answer on %s:\n%s", admin4, p.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return p
	}
	stop := func(p *testenv.Proc) { p.Cmd.Process.Kill(); p.Cmd.Wait() }
	p := startDnsmasq(conf)

	// Both addresses answer, the service address through the route.
	for _, a := range []string{admin4, service4, admin6, service6} {
		if !answers(rtr, a) {
			t.Errorf("no answer from %s with the page's dnsmasq snippet", a)
		}
	}

	// ARP: with the page's settings the server does not claim the service
	// address on the LAN; with the kernel's default it does.
	ip("-n", rtr, "route", "replace", service4+"/32", "dev", "lan0")
	if answers(rtr, service4) {
		t.Errorf("%s answered on-link: the server answered ARP for the service address despite arp_ignore=1", service4)
	}
	sysctl("net.ipv4.conf.all.arp_ignore=0")
	ip("-n", rtr, "neigh", "flush", "dev", "lan0")
	if !answers(rtr, service4) {
		t.Errorf("with arp_ignore=0 %s did not answer on-link: the ARP check above proves nothing", service4)
	}
	sysctl("net.ipv4.conf.all.arp_ignore=1")
	ip("-n", rtr, "neigh", "flush", "dev", "lan0")

	// IPv6: neighbour discovery never advertises the /128 on lo.
	ip("-n", rtr, "-6", "route", "replace", service6+"/128", "dev", "lan0")
	if answers(rtr, service6) {
		t.Errorf("%s answered on-link: NDP advertised the service address from lo", service6)
	}
	ip("-n", rtr, "-6", "route", "replace", service6+"/128", "via", admin6)

	// The by-hand check: a rule for one source port reaches the chosen
	// server while the main table's route leads elsewhere (a server that
	// does not exist, 198.51.100.12).
	ip("-n", rtr, "route", "replace", service4+"/32", "via", "198.51.100.12")
	ip("-n", rtr, "route", "add", service4+"/32", "via", admin4, "table", "153")
	ip("-n", rtr, "rule", "add", "priority", "153", "to", service4, "ipproto", "udp", "sport", "53153", "lookup", "153")
	if !answers(rtr, service4, "-b", router4+"#53153") {
		t.Errorf("the page's policy rule does not reach %s via %s", service4, admin4)
	}
	if answers(rtr, service4, "-b", router4+"#53154") {
		t.Errorf("a query from another port reached %s: the rule check proves nothing", service4)
	}
	ip("-n", rtr, "rule", "del", "priority", "153")
	ip("-n", rtr, "route", "replace", service4+"/32", "via", admin4)

	// The warning: a server listening on its administrative address only
	// passes the probe and black-holes the clients routed to it.
	stop(p)
	startDnsmasq(write(t, "admin-only.conf", "listen-address="+admin4+"\nbind-dynamic\n"))
	if answers(rtr, service4) {
		t.Errorf("a dnsmasq listening on %s only answered on %s", admin4, service4)
	}
}

// answers reports whether a query for the probe name sent from ns to addr
// gets the probe's answer within a second (kdig, one try).
func answers(ns, addr string, extra ...string) bool {
	args := append([]string{"netns", "exec", ns, "kdig", "@" + addr, probeName, "A", "+short", "+timeout=1", "+retry=0"}, extra...)
	out, err := exec.Command("ip", args...).CombinedOutput()
	return err == nil && strings.TrimSpace(string(out)) == probeA
}
