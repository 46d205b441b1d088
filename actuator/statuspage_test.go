//go:build integration

package actuator

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// The status page, rendered by a real browser (headless chromium), shows a
// drain with its reason and author and a suppressed nexthop with its
// penalty and end, and each nexthop's causes.
func TestStatusPageInChromium(t *testing.T) {
	chromium := testenv.RequireTool(t, "chromium")
	file := filepath.Join(t.TempDir(), "route_actuator.yml")
	if err := os.WriteFile(file, []byte(day2Config), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	d := startDay2(t, file, t.TempDir(), c)
	for i := range 3 {
		fp := string(rune('a' + i))
		d.ingest(down(fp, nh1, true, c.Now()))
		c.Add(time.Second)
		d.ingest(down(fp, nh1, false, c.Now()))
		c.Add(time.Second)
	}
	if code, body := d.do("POST", "/api/v1/drains", `{"nexthop": "198.51.100.13", "reason": "kernel <upgrade> CHG-4711", "force": true}`); code != 201 {
		t.Fatalf("drain: %d %s", code, body)
	}
	mux := d.srv.Config.Handler.(interface {
		Handle(string, http.Handler)
	})
	mux.Handle("/", d.a.Landing())

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--dump-dom", d.srv.URL+"/")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{
		`<tr class="drain"><td>198.51.100.13</td><td>every route</td><td>kernel &lt;upgrade&gt; CHG-4711 <b>(forced below min_nexthops)</b></td><td>alice</td>`,
		`<tr class="damped suppressed"><td>192.0.2.53/32</td><td>198.51.100.11</td>`,
		// the forced drain leaves one nexthop: the guard brings the suppressed one back
		`<span class="cause cause-min_nexthops">min_nexthops (over dampening)</span>`,
		`<span class="cause cause-drain">drain "kernel &lt;upgrade&gt; CHG-4711" by alice</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}
