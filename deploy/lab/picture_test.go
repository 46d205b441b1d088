//go:build linux

package lab

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A scenario in samples: dns2 fails at +1s, is withdrawn at +1.5s, repaired
// at +3s and restored at +3.4s.
func demoPicture() Picture {
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	names := []string{"dns1", "dns2", "dns3"}
	addrs := map[string]netip.Addr{"dns1": ServerAddr(1), "dns2": ServerAddr(2), "dns3": ServerAddr(3)}
	var samples []recSample
	for i := range 20 {
		s := float64(i) * 0.25
		down := s >= 1 && s < 3
		up, firing := "up", "quiet"
		if down {
			up = "down"
		}
		if s >= 1.25 && s < 3.25 {
			firing = "firing"
		}
		ans := map[string]float64{"dns1": 1.0 / 3, "dns2": 1.0 / 3, "dns3": 1.0 / 3}
		switch {
		case s >= 1 && s < 1.5:
			ans = map[string]float64{"dns1": 1.0 / 3, "failed": 1.0 / 3, "dns3": 1.0 / 3}
		case s >= 1.5 && s < 3.5:
			ans = map[string]float64{"dns1": 0.5, "dns3": 0.5}
		}
		fresh := ans
		if s >= 3.5 { // new flows reach the restored server; long-lived ones stay
			ans = map[string]float64{"dns1": 0.5, "dns3": 0.5}
		}
		samples = append(samples, recSample{At: at(s), To: at(s + 0.1),
			Up:      map[string]string{"dns1": "up", "dns2": up, "dns3": "up"},
			Firing:  map[string]string{"dns1": "quiet", "dns2": firing, "dns3": "quiet"},
			Answers: ans, Fresh: fresh})
	}
	all := []netip.Addr{ServerAddr(1), ServerAddr(2), ServerAddr(3)}
	routes := []RouteEvent{
		{At: at(-10), Nexthops: all},
		{At: at(1.5), Nexthops: []netip.Addr{ServerAddr(1), ServerAddr(3)}},
		{At: at(3.4), Nexthops: all},
		{At: at(99), Nexthops: nil}, // after the end: not drawn
	}
	marks := []Mark{{At: at(1), Label: "failure injected"}, {At: at(1.5), Label: "nexthop withdrawn"},
		{At: at(3), Label: "repaired"}, {At: at(3.4), Label: "nexthop restored"}}
	return buildPicture("Failure 1: dns2 - <stop>", "a note & more", t0, at(5), names, addrs, samples, routes, marks)
}

func TestBuildPicture(t *testing.T) {
	p := demoPicture()
	rows := map[string]Row{}
	for _, r := range p.Rows {
		rows[r.Group+" "+r.Label] = r
	}
	if len(p.Rows) != 3+3+3+4+4 {
		t.Fatalf("%d rows, want 17 (probe, alert, route per server; long-lived and new client flows per server and failed)", len(p.Rows))
	}
	spans := func(key string) string {
		var out []string
		for _, s := range rows[key].Spans {
			out = append(out, s.State+"@"+s.From.Format("05.00")+"-"+s.To.Format("05.00"))
		}
		return strings.Join(out, " ")
	}
	for key, want := range map[string]string{
		"probe dns2":                 "up@00.00-01.00 down@01.00-03.00 up@03.00-05.00",
		"probe dns1":                 "up@00.00-05.00",
		"alert dns2":                 "quiet@00.00-01.25 firing@01.25-03.25 quiet@03.25-05.00",
		"route dns2 (198.51.100.12)": "in@00.00-01.50 out@01.50-03.40 in@03.40-05.00",
		"route dns3 (198.51.100.13)": "in@00.00-05.00",
	} {
		if got := spans(key); got != want {
			t.Errorf("%s spans = %s, want %s", key, got, want)
		}
	}
	if bars := rows["clients failed"].Bars; len(bars) != 20 || bars[4].Share < 0.3 || bars[0].Share != 0 {
		t.Errorf("clients failed bars = %+v", bars)
	}
	if bars := rows["clients dns2"].Bars; bars[8].Share != 0 || bars[0].Share == 0 || bars[19].Share != 0 {
		t.Errorf("clients dns2 bars = %+v: want answers before, none while withdrawn nor after", bars)
	}
	if bars := rows["newclients dns2"].Bars; len(bars) != 20 || bars[8].Share != 0 || bars[19].Share == 0 {
		t.Errorf("newclients dns2 bars = %+v: want none while withdrawn, answers after the restore", bars)
	}
}

func TestRenderPage(t *testing.T) {
	b, err := RenderPage("demo <lab>", []Picture{demoPicture(), demoPicture()})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`<section class="scenario" id="scenario-1">`, `<section class="scenario" id="scenario-2">`,
		`data-group="probe" data-label="dns2"`, `data-group="route" data-label="dns2 (198.51.100.12)"`,
		`class="span down"`, `class="span firing"`, `class="span out"`, `class="bar"`,
		`nexthop withdrawn`, `demo &lt;lab&gt;`, `dns2 - &lt;stop&gt;`, `a note &amp; more`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") || regexp.MustCompile(`(src|href)="http`).MatchString(page) {
		t.Error("page is not self-contained")
	}
	// The plot stays in its box: every rect between the labels and the right edge.
	rects := regexp.MustCompile(`<rect class="[^"]*" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"`).FindAllStringSubmatch(page, -1)
	if len(rects) < 2*(9+8) {
		t.Fatalf("%d rects", len(rects))
	}
	for _, m := range rects {
		x, _ := strconv.ParseFloat(m[1], 64)
		w, _ := strconv.ParseFloat(m[2], 64)
		if x < picLabelW || x+w > picLabelW+picPlotW+0.6 {
			t.Errorf("rect x=%v width=%v outside the plot", x, w)
		}
	}
}
