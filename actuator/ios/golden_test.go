package ios

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (rerun with -update after checking):\n--- got\n%s--- want\n%s", p, got, want)
	}
}

// The managed prefixes of the parse golden files, each in its VRF.
var goldenManaged = map[netip.Prefix]string{
	netip.MustParsePrefix("192.0.2.53/32"):        "",
	netip.MustParsePrefix("192.0.2.54/32"):        "",
	netip.MustParsePrefix("2001:db8:53::53/128"):  "",
	netip.MustParsePrefix("192.0.2.153/32"):       "DNS",
	netip.MustParsePrefix("2001:db8:53::153/128"): "DNS",
}

func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/show-*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no show fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			es := parseRoutes(string(in))
			var b strings.Builder
			b.WriteString("# entries: vrf prefix nexthop tag\n")
			for _, e := range es {
				vrf := e.VRF
				if vrf == "" {
					vrf = "-"
				}
				fmt.Fprintf(&b, "%s %s %s %d\n", vrf, e.Prefix, e.Nexthop, e.Tag)
			}
			b.WriteString("# ours without tag, managed 192.0.2.53/32 192.0.2.54/32 2001:db8:53::53/128, and 192.0.2.153/32 2001:db8:53::153/128 in vrf DNS\n")
			for _, r := range (owner{managed: goldenManaged}).routes(es) {
				fmt.Fprintf(&b, "%s\n", r)
			}
			b.WriteString("# ours with route_tag 53053\n")
			for _, r := range (owner{tag: 53053, managed: goldenManaged}).routes(es) {
				fmt.Fprintf(&b, "%s\n", r)
			}
			golden(t, name+".golden", b.String())
		})
	}
}

func TestRenderGolden(t *testing.T) {
	a := netip.MustParseAddr
	p := netip.MustParsePrefix
	on := func(vrf string, prefix netip.Prefix, tag uint32, nhs ...netip.Addr) []entry {
		var es []entry
		for _, nh := range nhs {
			es = append(es, entry{VRF: vrf, Prefix: prefix, Nexthop: nh, Tag: tag})
		}
		return es
	}
	v6 := p("2001:db8:53::53/128")
	for _, tc := range []struct {
		name   string
		vrf    string
		prefix netip.Prefix
		have   []entry
		want   []netip.Addr
		tag    uint32
	}{
		{"create", "", p("192.0.2.53/32"), nil, []netip.Addr{a("198.51.100.11"), a("198.51.100.12")}, 0},
		{"withdraw", "", p("192.0.2.53/32"), on("", p("192.0.2.53/32"), 0, a("198.51.100.11"), a("198.51.100.12")), []netip.Addr{a("198.51.100.11")}, 0},
		{"restore-tagged", "", p("192.0.2.53/32"), on("", p("192.0.2.53/32"), 53053, a("198.51.100.11")), []netip.Addr{a("198.51.100.11"), a("198.51.100.12")}, 53053},
		{"swap", "", p("192.0.2.53/32"), on("", p("192.0.2.53/32"), 0, a("198.51.100.12")), []netip.Addr{a("198.51.100.13")}, 0},
		{"delete-subnet", "", p("192.0.2.0/24"), on("", p("192.0.2.0/24"), 7, a("198.51.100.11"), a("198.51.100.13")), nil, 7},
		{"unmasked-prefix", "", p("192.0.2.77/25"), nil, []netip.Addr{a("198.51.100.11")}, 0},
		{"noop", "", p("192.0.2.53/32"), on("", p("192.0.2.53/32"), 0, a("198.51.100.11")), []netip.Addr{a("198.51.100.11")}, 0},
		{"ipv6-create-tagged", "", v6, nil, []netip.Addr{a("2001:db8:100::11"), a("2001:db8:100::12")}, 53053},
		{"ipv6-withdraw", "", v6, on("", v6, 0, a("2001:db8:100::11"), a("2001:db8:100::12")), []netip.Addr{a("2001:db8:100::12")}, 0},
		{"vrf-create", "DNS", p("192.0.2.53/32"), nil, []netip.Addr{a("198.51.100.11"), a("198.51.100.12")}, 53053},
		{"vrf-withdraw", "DNS", p("192.0.2.53/32"), on("DNS", p("192.0.2.53/32"), 53053, a("198.51.100.11"), a("198.51.100.12")), []netip.Addr{a("198.51.100.12")}, 53053},
		{"vrf-ipv6-create", "DNS", v6, nil, []netip.Addr{a("2001:db8:100::11")}, 0},
		{"vrf-moved", "DNS", p("192.0.2.53/32"), on("", p("192.0.2.53/32"), 53053, a("198.51.100.11"), a("198.51.100.12")), []netip.Addr{a("198.51.100.11"), a("198.51.100.12")}, 53053},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := renderLines(tc.vrf, tc.prefix, tc.have, tc.want, tc.tag)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, l := range lines {
				b.WriteString(l + "\n")
			}
			golden(t, "render-"+tc.name+".golden", b.String())
		})
	}
}

func TestRenderRejects(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		vrf    string
		prefix netip.Prefix
		want   []netip.Addr
		err    string
	}{
		{"", netip.MustParsePrefix("2001:db8::53/128"), []netip.Addr{a("198.51.100.1")}, "nexthop 198.51.100.1: not an unscoped address of prefix 2001:db8::53/128's family"},
		{"", netip.MustParsePrefix("192.0.2.53/32"), []netip.Addr{a("2001:db8::1")}, "nexthop 2001:db8::1: not an unscoped address of prefix 192.0.2.53/32's family"},
		{"", netip.MustParsePrefix("2001:db8::53/128"), []netip.Addr{a("fe80::1%eth0")}, "nexthop fe80::1%eth0: not an unscoped address of prefix 2001:db8::53/128's family"},
		{"", netip.Prefix{}, nil, "prefix invalid Prefix: not an IPv4 or IPv6 prefix"},
		{"DNS BLUE", netip.MustParsePrefix("192.0.2.53/32"), []netip.Addr{a("198.51.100.1")}, `vrf "DNS BLUE": not a VRF name`},
		{"x\nip route 0.0.0.0 0.0.0.0 203.0.113.1", netip.MustParsePrefix("192.0.2.53/32"), []netip.Addr{a("198.51.100.1")}, `vrf "x\nip route 0.0.0.0 0.0.0.0 203.0.113.1": not a VRF name`},
	} {
		if _, err := renderLines(tc.vrf, tc.prefix, nil, tc.want, 0); err == nil || err.Error() != tc.err {
			t.Errorf("renderLines(%q, %v, %v) error = %v, want %q", tc.vrf, tc.prefix, tc.want, err, tc.err)
		}
	}
}

func TestRelaxedPrompts(t *testing.T) {
	p, err := loadPlatform("cisco_iosxe")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		level, prompt string
		match         bool
	}{
		{"exec", "rtr1>", true},
		{"privilege-exec", "rtr1#", true},
		{"privilege-exec", "rtr1# ", true}, // FRR vtysh
		{"privilege-exec", "rtr1#  ", false},
		{"configuration", "rtr1(config)#", true},
		{"configuration", "vm(config)# ", true},
		{"configuration", "rtr1(config-if)#", true},
	} {
		re := regexpOf(t, p.PrivilegeLevels[tc.level].Pattern)
		if got := re.MatchString(tc.prompt); got != tc.match {
			t.Errorf("%s pattern %q on %q = %v, want %v", tc.level, re, tc.prompt, got, tc.match)
		}
	}
	for _, f := range []string{"% Command incomplete", "% Invalid input detected", "% Unknown command"} {
		found := false
		for _, s := range p.FailedWhenContains {
			found = found || strings.HasPrefix(f, s)
		}
		if !found {
			t.Errorf("failure string %q not detected", f)
		}
	}
	for _, op := range p.NetworkOnOpen {
		if c, _ := op["command"].(string); strings.Contains(c, "paginate") {
			t.Errorf("on-open sends %q", c)
		}
	}
}

func regexpOf(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
