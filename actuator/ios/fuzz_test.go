package ios

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParseRoutes feeds device output to the `show running-config` parser.
// Seeds: the show fixtures (testdata/show-*.txt) and single-line edge cases
// in testdata/fuzz/FuzzParseRoutes. Invariants: no panic; every line is
// parsed on its own (no line hides the ones after it); every entry is an
// IPv4 prefix in canonical form with an IPv4 nexthop; and what the backend
// would render for it (add and remove) parses back to the same entry, so it
// never claims a route it cannot render back exactly.
func FuzzParseRoutes(f *testing.F) {
	files, err := filepath.Glob("testdata/show-*.txt")
	if err != nil || len(files) == 0 {
		f.Fatalf("no show fixtures: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, out string) {
		es := parseRoutes(out)
		var perLine []entry
		for line := range strings.Lines(out) {
			if e, ok := parseLine(line); ok {
				perLine = append(perLine, e)
			}
		}
		if !slices.Equal(es, perLine) {
			t.Fatalf("parseRoutes found %d entries, its lines one by one %d", len(es), len(perLine))
		}
		var rendered []string
		for _, e := range es {
			if !e.Prefix.IsValid() || e.Prefix.Addr().Is4() != e.Nexthop.Is4() || e.Prefix != e.Prefix.Masked() || e.Nexthop.Zone() != "" ||
				(e.VRF != "" && !validVRF(e.VRF)) {
				t.Fatalf("entry %+v: want a masked prefix, a nexthop of its family and a valid VRF", e)
			}
			add, err := renderLines(e.VRF, e.Prefix, nil, []netip.Addr{e.Nexthop}, e.Tag)
			if err != nil || len(add) != 1 {
				t.Fatalf("entry %+v renders %q, %v", e, add, err)
			}
			if back, ok := parseLine(add[0]); !ok || back != e {
				t.Fatalf("entry %+v renders %q, which parses as %+v (ok %v)", e, add[0], back, ok)
			}
			del, err := renderLines(e.VRF, e.Prefix, []entry{e}, nil, e.Tag)
			if err != nil || len(del) != 1 || del[0] != "no "+add[0] {
				t.Fatalf("entry %+v: removal renders %q, %v; want %q", e, del, err, "no "+add[0])
			}
			rendered = append(rendered, add[0])
		}
		if back := parseRoutes(strings.Join(rendered, "\n")); !slices.Equal(back, es) {
			t.Fatalf("rendering every entry and parsing it back gives %v, want %v", back, es)
		}
	})
}

// A line longer than bufio.Scanner's 64 KiB token limit stopped the scan
// silently: every route, before and after it, went unseen, so a withdrawn
// nexthop was never removed. Found by FuzzParseRoutes' per-line invariant.
func TestParseRoutesLongLine(t *testing.T) {
	out := "ip route 192.0.2.53 255.255.255.255 198.51.100.11\n" +
		"ip route 192.0.2.54 255.255.255.255 198.51.100.11 name " + strings.Repeat("x", 70000) + "\n" +
		"ip route 192.0.2.53 255.255.255.255 198.51.100.12\n"
	want := []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")}
	p := netip.MustParsePrefix("192.0.2.53/32")
	o := owner{managed: map[netip.Prefix]string{p: ""}}
	if got := o.installed(o.lines(parseRoutes(out), p), p); !slices.Equal(got.Nexthops, want) {
		t.Errorf("nexthops %v, want %v", got.Nexthops, want)
	}
}
