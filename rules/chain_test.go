//go:build integration

package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// The shipped prometheus.yml, alertmanager.yml and rules in a real
// Prometheus and Alertmanager, everything on 127.0.0.1: a fake exporter
// (exact control over what each scrape returns) and a webhook receiver in
// place of route_actuator. Latencies are logged, not asserted.

// fakeExporter serves dns_sla_* series for three targets, split like the
// real exporter: collect[]=verdict with changed_within (the fast job) serves
// dns_sla_verdict of the failing targets and of those recovered within that, and every
// such scrape stands for one probe of each target; any other scrape (the
// dns_sla job) serves the probe counters and the complete verdict.
type fakeExporter struct {
	mu        sync.Mutex
	down      bool
	failing   map[string]bool
	failures  map[string]int
	successes map[string]int
	recovered map[string]time.Time // when the verdict last went from failures to 0
	probes    map[string]map[string]int
	pending   string               // state set but not scraped yet
	firstSeen map[string]time.Time // state name -> first scrape that served it
}

var nexthops = map[string]string{"dns1": "198.51.100.11", "dns2": "198.51.100.12", "dns3": "198.51.100.13"}

func newFakeExporter() *fakeExporter {
	f := &fakeExporter{failing: map[string]bool{}, failures: map[string]int{}, successes: map[string]int{}, recovered: map[string]time.Time{}, probes: map[string]map[string]int{}, firstSeen: map[string]time.Time{}}
	for tg := range nexthops {
		f.probes[tg] = map[string]int{"success": 0, "timeout": 0}
	}
	return f
}

// set changes the state and returns the name under which ServeHTTP records
// the first scrape that sees it.
func (f *fakeExporter) set(name string, down bool, failing ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	f.failing = map[string]bool{}
	for _, tg := range failing {
		f.failing[tg] = true
	}
	f.pending = name
}

func (f *fakeExporter) scrapedAt(name string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstSeen[name]
}

func (f *fakeExporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(r.URL.Query()["collect[]"], []string{"verdict"}) {
		if f.down {
			http.Error(w, "exporter down", http.StatusServiceUnavailable)
			return
		}
		var b bytes.Buffer
		b.WriteString("# TYPE dns_sla_probes_total counter\n")
		for tg, nh := range nexthops {
			for res, n := range f.probes[tg] {
				fmt.Fprintf(&b, "dns_sla_probes_total{target=%q,nexthop=%q,service=\"192.0.2.53/32\",result=%q} %d\n", tg, nh, res, n)
			}
		}
		b.WriteString("# TYPE dns_sla_verdict gauge\n")
		for tg, nh := range nexthops {
			fmt.Fprintf(&b, "dns_sla_verdict{target=%q,nexthop=%q,service=\"192.0.2.53/32\"} %d\n", tg, nh, f.failures[tg])
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(b.Bytes())
		return
	}
	within, err := model.ParseDuration(r.URL.Query().Get("changed_within"))
	if err != nil {
		http.Error(w, "the fast job must set changed_within: "+err.Error(), http.StatusBadRequest)
		return
	}
	if f.pending != "" {
		f.firstSeen[f.pending] = time.Now()
		f.pending = ""
	}
	if f.down {
		http.Error(w, "exporter down", http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	b.WriteString("# TYPE dns_sla_verdict gauge\n")
	for tg, nh := range nexthops {
		if f.failing[tg] {
			f.failures[tg]++
			f.successes[tg] = 0
			f.probes[tg]["timeout"]++
		} else {
			if f.failures[tg] > 0 {
				f.recovered[tg] = time.Now()
			}
			f.failures[tg] = 0
			f.successes[tg]++
			f.probes[tg]["success"]++
		}
		if f.failures[tg] == 0 && time.Since(f.recovered[tg]) >= time.Duration(within) {
			continue
		}
		l := fmt.Sprintf(`target=%q,nexthop=%q,service="192.0.2.53/32"`, tg, nh)
		fmt.Fprintf(&b, "dns_sla_verdict{%s} %d\n", l, f.failures[tg])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(b.Bytes())
}

// event is one alert in one webhook.
type event struct {
	at     time.Time
	status string
	labels template.KV
}

// receiver stands in for route_actuator's webhook.
type receiver struct {
	user, password string
	mu             sync.Mutex
	events         []event
	rejected       int
	multi          int // payloads with more than one alert
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	u, p, ok := req.BasicAuth()
	var d template.Data
	err := json.NewDecoder(req.Body).Decode(&d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok || u != r.user || p != r.password || err != nil || req.URL.Path != "/webhook" {
		r.rejected++
		http.Error(w, "rejected", http.StatusUnauthorized)
		return
	}
	if len(d.Alerts) > 1 {
		r.multi++
	}
	for _, a := range d.Alerts {
		r.events = append(r.events, event{at: now, status: a.Status, labels: a.Labels})
	}
}

// find returns the first event after since matching status and labels.
func (r *receiver) find(since time.Time, status string, labels map[string]string) (event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.at.Before(since) || e.status != status {
			continue
		}
		match := true
		for k, v := range labels {
			if e.labels[k] != v {
				match = false
			}
		}
		if match {
			return e, true
		}
	}
	return event{}, false
}

func (r *receiver) wait(t *testing.T, since time.Time, timeout time.Duration, status string, labels map[string]string) event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if e, ok := r.find(since, status, labels); ok {
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s webhook for %v within %v", status, labels, timeout)
	return event{}
}

// rewrite replaces each old string of the shipped file, failing if one is
// not there (the test would no longer test the shipped file).
func rewrite(t *testing.T, src, dst string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s no longer contains %q", src, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	if err := os.WriteFile(dst, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// start runs a daemon until the test ends (killed by PID) and waits for its /-/ready.
func start(t *testing.T, addr, bin string, args ...string) *exec.Cmd {
	t.Helper()
	p := testenv.Start(t, exec.Command(bin, args...))
	testenv.WaitHTTP(t, nil, "http://"+addr+"/-/ready", 20*time.Second)
	return p.Cmd
}

// waitQuery waits until an instant query returns at least one series.
func waitQuery(t *testing.T, addr, query string, timeout time.Duration) {
	t.Helper()
	u := "http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query)
	deadline := time.Now().Add(timeout)
	for {
		var res struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if resp, err := http.Get(u); err == nil {
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if err == nil && len(res.Data.Result) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result for %s within %v", query, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shippedPrometheusFlags returns the rule-related flags of deploy/prometheus/prometheus.default.
func shippedPrometheusFlags(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "prometheus.default"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ARGS="([^"]*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("prometheus.default has no ARGS")
	}
	var flags []string
	for _, f := range strings.Fields(string(m[1])) {
		if strings.HasPrefix(f, "--rules.") {
			flags = append(flags, f)
		}
	}
	if len(flags) == 0 {
		t.Fatal("prometheus.default sets no --rules.* flag (want --rules.alert.resend-delay=1s)")
	}
	return flags
}

func TestShippedChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and Alertmanager")
	}
	prom := testenv.RequireTool(t, "prometheus")
	am := testenv.RequireTool(t, "prometheus-alertmanager")
	dir := t.TempDir()
	deploy := filepath.Join("..", "deploy")
	passwordFile, err := filepath.Abs(filepath.Join(deploy, "alertmanager", "route_actuator.password"))
	if err != nil {
		t.Fatal(err)
	}
	password, err := os.ReadFile(passwordFile)
	if err != nil {
		t.Fatal(err)
	}
	rulesGlob, err := filepath.Abs("*.yml")
	if err != nil {
		t.Fatal(err)
	}

	exp := newFakeExporter()
	expSrv := httptest.NewServer(exp)
	t.Cleanup(expSrv.Close)
	rcv := &receiver{user: "alertmanager", password: strings.TrimSpace(string(password))}
	rcvSrv := httptest.NewServer(rcv)
	t.Cleanup(rcvSrv.Close)
	promAddr, amAddr, deadAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)

	rewrite(t, filepath.Join(deploy, "prometheus", "prometheus.yml"), filepath.Join(dir, "prometheus.yml"),
		"127.0.0.1:9753", strings.TrimPrefix(expSrv.URL, "http://"),
		"127.0.0.1:9754", deadAddr, // no actuator: only RouteActuatorDown cares
		"127.0.0.1:9093", amAddr,
		"127.0.0.1:9090", promAddr,
		"../../rules/*.yml", rulesGlob,
		"/etc/prometheus/route_actuator.password", passwordFile)
	rewrite(t, filepath.Join(deploy, "alertmanager", "alertmanager.yml"), filepath.Join(dir, "alertmanager.yml"),
		"http://127.0.0.1:9754/webhook", rcvSrv.URL+"/webhook",
		"/etc/prometheus/route_actuator.password", passwordFile)

	start(t, amAddr, am,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=", "--log.level=warn")
	promCmd := start(t, promAddr, prom,
		append(shippedPrometheusFlags(t), "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr, "--log.level=warn")...)

	dns1 := map[string]string{"alertname": "DNSServerDown", "target": "dns1", "nexthop": "198.51.100.11", "service": "192.0.2.53/32"}
	missingExporter := map[string]string{"alertname": "DNSSLAProbesMissing", "job": "dns_sla_verdict", "target": ""}
	t0 := time.Now()
	rcv.wait(t, t0, 20*time.Second, "firing", map[string]string{"alertname": "DNSSLAWatchdog"})
	// Until the first scrape, absent(up{job="dns_sla_verdict"}) may fire DNSSLAProbesMissing; let it settle.
	time.Sleep(3 * time.Second)
	// dns_sla.presence records every target from the 15s job's complete
	// verdict (the fast job serves only what can move a route).
	for tg := range nexthops {
		waitQuery(t, promAddr, `target:dns_sla_verdict:seen{job="dns_sla", target="`+tg+`"}`, 25*time.Second)
	}

	// A failing probe fires DNSServerDown, carrying nexthop and service.
	t1 := time.Now()
	exp.set("dns1 failing", false, "dns1")
	e := rcv.wait(t, t1, 10*time.Second, "firing", dns1)
	seen := exp.scrapedAt("dns1 failing")
	t.Logf("DNSServerDown firing: webhook %v after the scrape that first served the failure (%v after the change)", e.at.Sub(seen).Round(time.Millisecond), e.at.Sub(t1).Round(time.Millisecond))

	// Exporter down while dns1 is down: the exporter-level DNSSLAProbesMissing
	// fires (no target label: every route freezes); DNSServerDown holds and
	// nothing fires for the healthy servers. (dns1's own DNSSLAProbesMissing
	// would follow 40-60s later, from the 15s job: rules/tests.)
	t2 := time.Now()
	exp.set("exporter down", true, "dns1")
	e = rcv.wait(t, t2, 10*time.Second, "firing", missingExporter)
	t.Logf("DNSSLAProbesMissing firing: webhook %v after the first failed scrape", e.at.Sub(exp.scrapedAt("exporter down")).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	if e, ok := rcv.find(t1, "resolved", dns1); ok {
		t.Errorf("DNSServerDown for dns1 resolved at +%v while the exporter was down", e.at.Sub(t2))
	}
	for _, tg := range []string{"dns2", "dns3"} {
		if _, ok := rcv.find(t0, "firing", map[string]string{"alertname": "DNSServerDown", "target": tg}); ok {
			t.Errorf("DNSServerDown fired for healthy %s", tg)
		}
	}

	// Exporter back and dns1 healthy: both resolve.
	t3 := time.Now()
	exp.set("recovered", false)
	e = rcv.wait(t, t3, 10*time.Second, "resolved", dns1)
	t.Logf("DNSServerDown resolved: webhook %v after the scrape that first served the recovery", e.at.Sub(exp.scrapedAt("recovered")).Round(time.Millisecond))
	rcv.wait(t, t3, 10*time.Second, "resolved", missingExporter)

	// Prometheus dies: Alertmanager resolves the heartbeat after 4 x resend-delay.
	t4 := time.Now()
	if err := promCmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	e = rcv.wait(t, t4, 15*time.Second, "resolved", map[string]string{"alertname": "DNSSLAWatchdog"})
	t.Logf("DNSSLAWatchdog resolved %v after Prometheus was killed", e.at.Sub(t4).Round(time.Millisecond))

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.rejected > 0 {
		t.Errorf("%d webhook requests without the right basic auth", rcv.rejected)
	}
	if rcv.multi > 0 {
		t.Errorf("%d webhooks carried more than one alert: the actuator route must group by '...'", rcv.multi)
	}
}
