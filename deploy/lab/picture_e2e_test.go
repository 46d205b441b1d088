//go:build e2e && linux

package lab

import (
	"image"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// CheckTimelinePage renders a timeline page with headless chromium and
// checks that the browser sees every scenario with its rows and state
// bands, and that the pixels show the states' colors. scenarios is the
// number of pictures expected; failed lists the servers each failure
// scenario must show down in the probe row, firing and out of the route.
func CheckTimelinePage(t *testing.T, path string, scenarios int, failed ...string) {
	t.Helper()
	dom, shot := testenv.Chromium(t, path, 1100, 900*scenarios)
	for i := 1; i <= scenarios; i++ {
		id := `id="scenario-` + string(rune('0'+i)) + `"`
		sec, ok := section(dom, id)
		if !ok {
			t.Errorf("rendered page has no section %s", id)
			continue
		}
		for _, g := range []string{"probe", "alert", "route", "clients", "newclients"} {
			if !strings.Contains(sec, `data-group="`+g+`"`) {
				t.Errorf("scenario %d: no %s rows", i, g)
			}
		}
		if i <= len(failed) {
			srv := failed[i-1]
			for _, c := range []struct{ group, label, state string }{
				{"probe", srv, "down"}, {"alert", srv, "firing"}, {"route", srv + " (", "out"},
			} {
				if row := rowOf(sec, c.group, c.label); !strings.Contains(row, `class="span `+c.state+`"`) {
					t.Errorf("scenario %d: %s row of %s has no %s band in the rendered DOM: %.300s", i, c.group, srv, c.state, row)
				}
			}
			if !strings.Contains(sec, "nexthop withdrawn") {
				t.Errorf("scenario %d: no withdraw mark", i)
			}
		}
	}
	// Pixels: the page is not blank, and the state colors are drawn.
	colors := map[string][3]uint8{"probe up": {0x2e, 0x9e, 0x44}, "probe down": {0xd6, 0x27, 0x28},
		"alert firing": {0xff, 0x7f, 0x0e}, "in the route": {0x1f, 0x77, 0xb4}}
	seen := map[string]int{}
	nonWhite := 0
	b := shot.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl := rgb(shot, x, y)
			if r < 250 || g < 250 || bl < 250 {
				nonWhite++
			}
			for name, c := range colors {
				if near(r, c[0]) && near(g, c[1]) && near(bl, c[2]) {
					seen[name]++
				}
			}
		}
	}
	t.Logf("screenshot %dx%d: %d non-white pixels, state colors %v", b.Dx(), b.Dy(), nonWhite, seen)
	if nonWhite < b.Dx()*b.Dy()/50 {
		t.Errorf("screenshot nearly blank: %d non-white pixels of %d", nonWhite, b.Dx()*b.Dy())
	}
	for name := range colors {
		if seen[name] < 100 && (len(failed) > 0 || name == "probe up" || name == "in the route") {
			t.Errorf("screenshot shows %d pixels of the %s color", seen[name], name)
		}
	}
}

func section(dom, id string) (string, bool) {
	i := strings.Index(dom, id)
	if i < 0 {
		return "", false
	}
	rest := dom[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

func rgb(img image.Image, x, y int) (uint8, uint8, uint8) {
	r, g, b, _ := img.At(x, y).RGBA()
	return uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)
}

func near(a, b uint8) bool { d := int(a) - int(b); return d >= -6 && d <= 6 }

// rowOf returns the rendered <g> of one row: group and the label's start.
func rowOf(sec, group, label string) string {
	i := strings.Index(sec, `data-group="`+group+`" data-label="`+label)
	if i < 0 {
		return ""
	}
	row := sec[i:]
	if j := strings.Index(row, "</g>"); j >= 0 {
		row = row[:j]
	}
	return row
}

// The page the demo writes, from a synthetic scenario, as chromium renders it.
func TestTimelinePageChromium(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timeline.html")
	if err := WritePage(path, "synthetic", []Picture{demoPicture(), demoPicture()}); err != nil {
		t.Fatal(err)
	}
	CheckTimelinePage(t, path, 2, "dns2", "dns2")
}
