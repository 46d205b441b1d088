//go:build e2e && linux

package lab

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The router pair (docs/deployment.md): a monitoring host with the exporter,
// Prometheus and Alertmanager, and two routers on the server LAN, each with
// its own route_actuator (netlink) that Alertmanager's one receiver reaches
// by two webhook_configs. Prometheus and Alertmanager run the operator's
// "existing" configuration below with slaroute's snippets merged in, as
// docs/deployment.md tells: deploy/prometheus/scrape_slaroute.yml and
// deploy/alertmanager/router-pair.yml.
const (
	pairMonAddr = "198.51.100.5"
	pairAMAddr  = pairMonAddr + ":9093"
	pairProm    = pairMonAddr + ":9090"
	pairExpAddr = pairMonAddr + ":9753"
)

// pairRouterAddr is router i's (0 or 1) address on the server LAN; the lab's
// router namespace is router 1, at RouterLAN.
func pairRouterAddr(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }

func pairActuator(i int) string { return pairRouterAddr(i) + ":9754" }

// An operator's Prometheus and Alertmanager before slaroute: other jobs,
// their own routes and receivers, a 30s evaluation interval.
const existingPrometheus = `
global:
  scrape_interval: 30s
  evaluation_interval: 30s
  external_labels:
    site: lab
rule_files: []
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['` + pairAMAddr + `']
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['` + pairProm + `']
`

const existingAlertmanager = `
route:
  receiver: team-mail
  group_by: [alertname]
  routes:
    - receiver: team-pager
      matchers:
        - severity="critical"
receivers:
  - name: team-mail
  - name: team-pager
`

// routerPair is the running pair.
type routerPair struct {
	*Env  // Lab's router namespace is router 1; Env.WaitAlert works
	ns    [2]string
	mon   string
	dir   string
	act   [2]*Proc
	argv  [2][]string
	files map[string]string
	prom  *Proc
	// promArgv is Prometheus' command line without --rules.* flags.
	promArgv []string
	am       *Proc
	amArgv   []string
	repo     string
	w        [2]*Watcher
	procs    []*Proc
}

// TestE2ERouterPair: a failed server leaves both routers' routes and returns
// to both; a dead actuator on one router leaves the other working, and
// RouteActuatorDown fires for that instance only.
func TestE2ERouterPair(t *testing.T) {
	requireLab(t, "prometheus", "prometheus-alertmanager")
	p := startPair(t)
	all := p.Nexthops()
	dns1, dns2, dns3 := p.Servers[0], p.Servers[1], p.Servers[2]

	t.Run("server-down-both-routers", func(t *testing.T) { p.failRepair(t, dns2, "") })

	t.Run("one-actuator-dead", func(t *testing.T) {
		killed := time.Now()
		p.act[1].Kill()
		if err := dns1.Stop(); err != nil {
			t.Fatal(err)
		}
		p.waitOne(t, 0, killed, withdrawWithin, "withdraw dns1 with router 2's actuator dead", Exactly(without(all, dns1.Addr)...))
		// Nobody changes router 2's route: it keeps what it had.
		time.Sleep(time.Second)
		stableOn(t, p.w[1], killed, all)

		down := map[string]string{"job": "route_actuator", "instance": pairActuator(1)}
		if err := p.WaitAlert(ctxT(t, 45*time.Second), pairAMAddr, "RouteActuatorDown", down, true); err != nil {
			t.Fatal(err)
		}
		t.Logf("RouteActuatorDown{instance=%q} active in Alertmanager %v after the kill", pairActuator(1), time.Since(killed).Round(time.Millisecond))
		as, err := p.Alerts(pairAMAddr)
		if err != nil {
			t.Fatal(err)
		}
		var instances []string
		for _, a := range as {
			if a.Labels["alertname"] == "RouteActuatorDown" && a.Status.State == "active" {
				instances = append(instances, a.Labels["instance"])
			}
		}
		if !slices.Equal(instances, []string{pairActuator(1)}) {
			t.Errorf("RouteActuatorDown active for instances %q, want only %q", instances, pairActuator(1))
		}

		// Router 1 restores while Alertmanager's webhooks to router 2 fail.
		since := time.Now()
		if err := dns1.Start(); err != nil {
			t.Fatal(err)
		}
		p.waitOne(t, 0, since, pairRestoreDeadPeer, "restore dns1 with router 2's actuator dead", Exactly(all...))
		// And withdraws another failure.
		since = time.Now()
		if err := dns3.Stop(); err != nil {
			t.Fatal(err)
		}
		p.waitOne(t, 0, since, withdrawWithin, "withdraw dns3 with router 2's actuator dead", Exactly(without(all, dns3.Addr)...))
		stableOn(t, p.w[1], killed, all)

		// The restarted actuator catches up from Alertmanager's state.
		since = time.Now()
		p.startActuator(t, 1)
		p.waitOne(t, 1, since, settle, "router 2's restarted actuator withdraws dns3", Exactly(without(all, dns3.Addr)...))
		if err := p.WaitAlert(ctxT(t, 30*time.Second), pairAMAddr, "RouteActuatorDown", down, false); err != nil {
			t.Error(err)
		}
		since = time.Now()
		if err := dns3.Start(); err != nil {
			t.Fatal(err)
		}
		p.waitBoth(t, since, restoreWithin, "restore dns3", Exactly(all...))
	})

	// The central model keeping Prometheus' default resend delay: the
	// actuators get heartbeat_max_age 90s (docs/deployment.md); withdrawals
	// and restores are as fast, since new and resolved alerts are sent at
	// once whatever the resend delay.
	t.Run("resend-delay-1m", func(t *testing.T) {
		// Alerts a Prometheus evaluates before it has discovered its
		// Alertmanagers (~5s after a start or reload) are dropped and, with
		// 1m, re-sent only a minute later: the heartbeat too.
		took := p.restartWith(t, p.files[Prometheus], "1m", p.files[actuator1m], 150*time.Second)
		t.Logf("with resend-delay 1m the restarted Prometheus' heartbeat reached Alertmanager and both actuators %v after the restart", took.Round(time.Millisecond))
		p.failRepair(t, dns2, " (resend-delay 1m)")
	})

	// The site-local model: deploy/prometheus/site-local.yml and
	// deploy/alertmanager/router-pair.yml as they are (addresses, paths and
	// the central Alertmanager aside) drive the pair, and two central
	// Prometheus get the site's series, one by its remote_write, one by
	// deploy/prometheus/central_federate.yml.
	t.Run("site-local", func(t *testing.T) {
		promCfg, amCfg, fedCfg, rwCfg := p.writeSiteLocalConfigs(t)
		p.start(t, p.mon, "prometheus-central-rw", "http://"+pairCentralRW+"/-/ready", "prometheus", "--config.file="+rwCfg,
			"--storage.tsdb.path="+filepath.Join(p.dir, "central-rw-data"), "--web.listen-address="+pairCentralRW,
			"--web.enable-remote-write-receiver", "--log.format=json")
		p.start(t, p.mon, "prometheus-central-fed", "http://"+pairCentralFed+"/-/ready", "prometheus", "--config.file="+fedCfg,
			"--storage.tsdb.path="+filepath.Join(p.dir, "central-fed-data"), "--web.listen-address="+pairCentralFed, "--log.format=json")
		p.am.Stop(5 * time.Second)
		setFlag(p.amArgv, "--config.file=", amCfg)
		p.am = p.start(t, p.mon, Alertmanager, "http://"+pairAMAddr+"/-/ready", p.amArgv...)
		took := p.restartWith(t, promCfg, "1s", p.files[Actuator], settle)
		t.Logf("site-local Prometheus and Alertmanager: pipelines healthy %v after the restart", took.Round(time.Millisecond))
		p.failRepair(t, dns3, " (site-local)")
		for _, c := range []string{pairCentralRW, pairCentralFed} {
			p.waitCentral(t, c)
		}
	})
}

// waitCentral waits until the central Prometheus at addr holds the site's
// route_actuator targets, both up, and its heartbeat alert.
func (p *routerPair) waitCentral(t *testing.T, addr string) {
	t.Helper()
	want := []string{pairActuator(0), pairActuator(1)}
	deadline := time.Now().Add(40 * time.Second)
	for {
		var up []string
		ss, err := p.QueryAt(addr, `up{job="route_actuator",site="site1"} == 1`)
		for _, s := range ss {
			up = append(up, s.Metric["instance"])
		}
		slices.Sort(up)
		var hb []Sample
		if err == nil {
			hb, err = p.QueryAt(addr, `ALERTS{alertname="DNSSLAWatchdog",alertstate="firing",site="site1"}`)
		}
		if err == nil && slices.Equal(up, want) && len(hb) == 1 {
			t.Logf("central Prometheus %s: route_actuator up for %v and the site's heartbeat alert", addr, up)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("central Prometheus %s: route_actuator up for %v (want %v), %d heartbeat series (want 1), err %v", addr, up, want, len(hb), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// setFlag sets the value of the flag with this prefix ("--config.file=") in argv.
func setFlag(argv []string, prefix, value string) {
	for i, a := range argv {
		if strings.HasPrefix(a, prefix) {
			argv[i] = prefix + value
		}
	}
}

// Two central Prometheus on the monitoring host, for the site-local model.
const (
	pairCentralRW  = pairMonAddr + ":9091" // remote_write receiver
	pairCentralFed = pairMonAddr + ":9092" // federates from the site-local one
)

// writeSiteLocalConfigs writes the site-local Prometheus config (shipped,
// with the lab's addresses and rules path, remote_write to pairCentralRW and
// without the central Alertmanager, which the lab has not), the site-local
// Alertmanager config (router-pair.yml as it is), the federating central's
// config (central_federate.yml pointed at the site-local Prometheus) and the
// remote-write receiver's (no scrapes).
func (p *routerPair) writeSiteLocalConfigs(t *testing.T) (prom, am, fed, rw string) {
	t.Helper()
	read := func(path string, repl ...string) map[string]any {
		b, err := os.ReadFile(filepath.Join(p.repo, path))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for i := 0; i < len(repl); i += 2 {
			if !strings.Contains(text, repl[i]) {
				t.Fatalf("%s: no %q to replace", path, repl[i])
			}
			text = strings.ReplaceAll(text, repl[i], repl[i+1])
		}
		var v map[string]any
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	write := func(name string, v map[string]any) string {
		setPasswordFile(v, filepath.Join(p.repo, "deploy/alertmanager/route_actuator.password"))
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(p.dir, name)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	site := read("deploy/prometheus/site-local.yml",
		"/etc/prometheus/slaroute/*.yml", filepath.Join(p.repo, "rules/*.yml"),
		"127.0.0.1:9093", pairAMAddr, "127.0.0.1:9090", pairProm,
		"http://prometheus.example.net:9090/api/v1/write", "http://"+pairCentralRW+"/api/v1/write")
	ams := site["alerting"].(map[string]any)["alertmanagers"].([]any)
	if len(ams) != 2 || !strings.Contains(fmt.Sprint(ams[1]), "example.net") {
		t.Fatalf("site-local.yml: want the site-local and the central Alertmanager, got %v", ams)
	}
	site["alerting"].(map[string]any)["alertmanagers"] = ams[:1]
	fedCfg := read("deploy/prometheus/central_federate.yml", "site1-prometheus.example.net:9090", pairProm)
	return write("prometheus-site-local.yml", site), write("alertmanager-site-local.yml", read("deploy/alertmanager/router-pair.yml")),
		write("prometheus-central-fed.yml", fedCfg), write("prometheus-central-rw.yml", map[string]any{"global": map[string]any{"scrape_interval": "15s"}})
}

// failRepair stops server s and waits until both routers withdraw it, then
// starts it and waits until it is back in both routes; note ends the log lines.
func (p *routerPair) failRepair(t *testing.T, s *Server, note string) {
	t.Helper()
	all := p.Nexthops()
	since := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	p.waitBoth(t, since, withdrawWithin, "withdraw "+s.Name+note, Exactly(without(all, s.Addr)...))
	since = time.Now()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	p.waitBoth(t, since, restoreWithin, "restore "+s.Name+note, Exactly(all...))
}

// A restore on the surviving router waits for the flush that retries the
// dead webhook to time out (Alertmanager: 10s) or for the actuator's resync
// (10s), whichever comes first, plus the usual chain.
const pairRestoreDeadPeer = 25 * time.Second

// waitBoth waits until both routers' routes satisfy pred, within d of since.
func (p *routerPair) waitBoth(t *testing.T, since time.Time, d time.Duration, what string, pred func([]netip.Addr) bool) {
	t.Helper()
	for i := range p.w {
		p.waitOne(t, i, since, d, what, pred)
	}
}

func (p *routerPair) waitOne(t *testing.T, i int, since time.Time, d time.Duration, what string, pred func([]netip.Addr) bool) {
	t.Helper()
	at, err := p.w[i].WaitFor(ctxT(t, d-time.Since(since)), pred)
	if err != nil {
		p.diagnose(t)
		t.Fatalf("router %d: %s: %v", i+1, what, err)
	}
	t.Logf("router %d: %s after %v", i+1, what, at.Sub(since).Round(time.Millisecond))
}

// stableOn asserts w's route did not change since t and is want.
func stableOn(t *testing.T, w *Watcher, since time.Time, want []netip.Addr) {
	t.Helper()
	if ev := w.Since(since); len(ev) != 0 {
		t.Errorf("route moved: %v", ev)
	}
	if cur := w.Current().Nexthops; !slices.Equal(cur, want) {
		t.Errorf("route = %v, want %v", cur, want)
	}
}

func (p *routerPair) diagnose(t *testing.T) {
	t.Helper()
	for i := range p.act {
		_, routes, err := p.Get("http://" + pairActuator(i) + "/api/v1/routes")
		t.Logf("router %d actuator /api/v1/routes (%v): %s", i+1, err, routes)
	}
	if as, err := p.Alerts(pairAMAddr); err == nil {
		t.Logf("alertmanager active: %v", Firing(as, "DNSServerDown", "DNSSLAProbesMissing", "DNSSLAWatchdog", "RouteActuatorDown"))
	}
}

// startPair builds the namespaces and starts every daemon; everything is
// stopped by PID and the namespaces deleted by name when the test ends,
// whatever happened.
func startPair(t *testing.T) *routerPair {
	t.Helper()
	repo, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "slaroute-pair-")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BinDir(repo, dir)
	if err != nil {
		t.Fatal(err)
	}
	// Unique per test binary and distinct from the shared lab's prefix;
	// StalePrefixes still finds it (slab<pid>-...).
	l, err := New(Config{Prefix: DefaultPrefix() + "-h14b", Servers: 3, Clients: 1, Dir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p := &routerPair{Env: &Env{Lab: l}, ns: [2]string{l.Router, l.Prefix() + "-router2"}, mon: l.Prefix() + "-mon", dir: dir, repo: repo}
	t.Cleanup(func() {
		for _, w := range p.w {
			if w != nil {
				w.Stop()
			}
		}
		for i := len(p.procs) - 1; i >= 0; i-- {
			p.procs[i].Stop(5 * time.Second)
		}
		if err := l.Down(); err != nil {
			t.Errorf("pair down: %v", err)
		}
		if t.Failed() {
			t.Logf("pair logs and configs kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	if err := l.Up(); err != nil {
		t.Fatal(err)
	}
	// Router 2 and the monitoring host join router 1's LAN bridge.
	for _, h := range []struct{ ns, port, addr string }{{p.ns[1], "r2", pairRouterAddr(1)}, {p.mon, "mon", pairMonAddr}} {
		for _, st := range [][]string{
			{"netns", "add", h.ns}, {"-n", h.ns, "link", "set", "lo", "up"},
			{"-n", l.Router, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.ns},
			{"-n", l.Router, "link", "set", h.port, "master", "lan0", "up"},
			{"-n", h.ns, "addr", "add", h.addr + "/24", "dev", "eth0"},
			{"-n", h.ns, "link", "set", "eth0", "up"},
		} {
			if _, err := ip(st...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range p.w {
		if p.w[i], err = WatchNS(p.ns[i]); err != nil {
			t.Fatal(err)
		}
	}

	files := p.writePairConfigs(t, repo)
	p.files = files
	pw, err := os.ReadFile(filepath.Join(repo, "deploy/alertmanager/route_actuator.password"))
	if err != nil {
		t.Fatal(err)
	}
	l.auth = map[string][2]string{}
	for i := range p.act {
		l.auth[pairActuator(i)] = [2]string{ActuatorUser, strings.TrimSpace(string(pw))}
	}
	ruleFlags, err := shippedRuleFlags(filepath.Join(repo, "deploy/prometheus/prometheus.default"))
	if err != nil {
		t.Fatal(err)
	}
	p.start(t, p.mon, Exporter, "http://"+pairExpAddr+"/-/ready", filepath.Join(bin, "dns_sla_exporter"),
		"--config.file="+filepath.Join(repo, "deploy/examples/dns_sla_exporter.yml"), "--web.listen-address=:9753", "--log.format=json")
	p.amArgv = []string{"prometheus-alertmanager", "--config.file=" + files[Alertmanager],
		"--storage.path=" + filepath.Join(dir, "alertmanager-data"), "--web.listen-address=" + pairAMAddr,
		"--cluster.listen-address=", "--log.level=debug", "--log.format=json"}
	p.am = p.start(t, p.mon, Alertmanager, "http://"+pairAMAddr+"/-/ready", p.amArgv...)
	for i := range p.act {
		p.argv[i] = []string{filepath.Join(bin, "route_actuator"), "--config.file=" + files[Actuator],
			"--web.listen-address=" + pairActuator(i), "--web.config.file=" + filepath.Join(repo, "deploy/examples/web-config.yml"),
			"--log.level=debug", "--log.format=json"}
		p.startActuator(t, i)
	}
	p.promArgv = []string{"prometheus", "--config.file=" + files[Prometheus],
		"--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"), "--web.listen-address=" + pairProm, "--log.format=json"}
	p.prom = p.start(t, p.mon, Prometheus, "http://"+pairProm+"/-/ready", append(slices.Clone(p.promArgv), ruleFlags...)...)
	p.waitBoth(t, time.Now(), settle, "initial route", Exactly(l.Nexthops()...))
	return p
}

func (p *routerPair) start(t *testing.T, ns, name, ready string, argv ...string) *Proc {
	t.Helper()
	pr, err := startProc(p.dir, ns, name, argv...)
	if err != nil {
		t.Fatal(err)
	}
	p.procs = append(p.procs, pr)
	if err := p.waitReady(pr, ready, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return pr
}

func (p *routerPair) startActuator(t *testing.T, i int) {
	t.Helper()
	p.act[i] = p.start(t, p.ns[i], fmt.Sprintf("%s-router%d", Actuator, i+1), "http://"+pairActuator(i)+"/-/ready", p.argv[i]...)
}

// actuator1m names the actuator config for a Prometheus with the default
// resend delay (heartbeat_max_age 90s).
const actuator1m = "route_actuator_resend1m"

// restartWith restarts Prometheus with the config file promCfg and
// resendDelay and both actuators with the config file actCfg, and waits up
// to within until Alertmanager has heard the heartbeat from the new
// Prometheus and both actuators' pipelines are healthy; it returns how long
// that took from the restart.
func (p *routerPair) restartWith(t *testing.T, promCfg, resendDelay, actCfg string, within time.Duration) time.Duration {
	t.Helper()
	for _, a := range p.act {
		a.Stop(5 * time.Second)
	}
	p.prom.Stop(10 * time.Second)
	restarted := time.Now()
	setFlag(p.promArgv, "--config.file=", promCfg)
	p.prom = p.start(t, p.mon, Prometheus, "http://"+pairProm+"/-/ready", append(slices.Clone(p.promArgv), "--rules.alert.resend-delay="+resendDelay)...)
	for i := range p.act {
		setFlag(p.argv[i], "--config.file=", actCfg)
		p.startActuator(t, i)
	}
	deadline := restarted.Add(within)
	for {
		as, err := p.Alerts(pairAMAddr)
		fresh := false
		for _, a := range as {
			fresh = fresh || (a.Labels["alertname"] == "DNSSLAWatchdog" && a.Status.State == "active" && a.UpdatedAt.After(restarted))
		}
		if fresh {
			break
		}
		if time.Now().After(deadline) {
			p.diagnose(t)
			t.Fatalf("no heartbeat from the restarted Prometheus %v after the restart (%v)", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range p.act {
		for {
			_, m, err := p.Get("http://" + pairActuator(i) + "/metrics")
			if err == nil && strings.Contains(string(m), "\nroute_actuator_pipeline_healthy 1\n") {
				break
			}
			if time.Now().After(deadline) {
				p.diagnose(t)
				t.Fatalf("router %d: pipeline not healthy %v after the restart (%v)", i+1, within, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(restarted)
}

// writePairConfigs merges slaroute's snippets into the existing configs as
// docs/deployment.md says, and writes the actuator's config: the shipped
// example with Alertmanager on the monitoring host.
func (p *routerPair) writePairConfigs(t *testing.T, repo string) map[string]string {
	t.Helper()
	pwFile := filepath.Join(repo, "deploy/alertmanager/route_actuator.password")
	var prom, scrape, am, pairAM, act map[string]any
	for _, y := range []struct {
		src  string
		text bool
		v    *map[string]any
	}{
		{existingPrometheus, true, &prom}, {"deploy/prometheus/scrape_slaroute.yml", false, &scrape},
		{existingAlertmanager, true, &am}, {"deploy/alertmanager/router-pair.yml", false, &pairAM},
		{"deploy/examples/route_actuator.yml", false, &act},
	} {
		var err error
		if y.text {
			err = yaml.Unmarshal([]byte(y.src), y.v)
		} else {
			err = readYAML(filepath.Join(repo, y.src), y.v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Prometheus: rule_files += rules/*.yml, scrape_configs += the snippet's.
	prom["rule_files"] = append(prom["rule_files"].([]any), filepath.Join(repo, "rules/*.yml"))
	prom["scrape_configs"] = append(prom["scrape_configs"].([]any), scrape["scrape_configs"].([]any)...)
	// Alertmanager: the pair's routes first under route.routes, its receivers
	// (all but the placeholder top-level one) under receivers.
	route, pairRoute := am["route"].(map[string]any), pairAM["route"].(map[string]any)
	route["routes"] = append(slices.Clone(pairRoute["routes"].([]any)), route["routes"].([]any)...)
	for _, r := range pairAM["receivers"].([]any) {
		if r.(map[string]any)["name"] != pairRoute["receiver"] {
			am["receivers"] = append(am["receivers"].([]any), r)
		}
	}
	setPasswordFile(prom, pwFile)
	setPasswordFile(am, pwFile)
	act["alertmanager"].(map[string]any)["url"] = "http://" + pairAMAddr
	// For a Prometheus that keeps the default resend delay of 1m:
	// resend-delay + rule interval < heartbeat_max_age < 4 x resend-delay.
	act1m := map[string]any{}
	for k, v := range act {
		act1m[k] = v
	}
	alerts := map[string]any{}
	for k, v := range act["alerts"].(map[string]any) {
		alerts[k] = v
	}
	alerts["heartbeat_max_age"] = "90s"
	act1m["alerts"] = alerts
	files := map[string]string{}
	for name, v := range map[string]any{Prometheus: prom, Alertmanager: am, Actuator: act, actuator1m: act1m} {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = filepath.Join(p.dir, name+".yml")
		if err := os.WriteFile(files[name], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}
