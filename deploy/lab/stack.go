//go:build linux

package lab

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/deploy/lab/inns"
)

// Listen addresses of the monitoring stack inside the router namespace.
const (
	ExporterAddr      = "127.0.0.1:9753"
	ActuatorAddr      = "127.0.0.1:9754"
	PrometheusAddr    = "127.0.0.1:9090"
	AlertmanagerAddr  = "127.0.0.1:9093"
	Alertmanager2Addr = "127.0.0.1:9094"
	amClusterPort1    = "127.0.0.1:9096"
	amClusterPort2    = "127.0.0.1:9097"
)

// StackConfig says where the shipped configs and built binaries are.
type StackConfig struct {
	Repo string // repository root: deploy/, rules/ are read from here
	Bin  string // directory holding dns_sla_exporter and route_actuator
	// IOS, when set, replaces the shipped netlink backend with this
	// `backend.ios` section.
	IOS map[string]any
	// Netlink, when set, overrides keys of the shipped `backend.netlink`
	// section (the bench compares the shipped sizing with others).
	Netlink map[string]any
}

// Stack is the monitoring chain running in the router namespace.
type Stack struct {
	l     *Lab
	cfg   StackConfig
	dir   string
	procs map[string]*Proc
	argv  map[string][]string
	// Files are the rewritten configs the daemons run with.
	Files map[string]string
}

// Component names accepted by Start/Stop/Kill.
const (
	Exporter      = "dns_sla_exporter"
	Prometheus    = "prometheus"
	Alertmanager  = "alertmanager"
	Alertmanager2 = "alertmanager2"
	Actuator      = "route_actuator"
)

// StartStack writes the lab's copies of the shipped configs and starts
// exporter, Alertmanager, Prometheus and actuator, waiting for each to be ready.
func (l *Lab) StartStack(cfg StackConfig) (*Stack, error) {
	s := &Stack{l: l, cfg: cfg, dir: filepath.Join(l.Dir, "stack"), procs: map[string]*Proc{}, argv: map[string][]string{}, Files: map[string]string{}}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	if err := s.writeConfigs(false); err != nil {
		return nil, err
	}
	s.argv[Exporter] = []string{filepath.Join(cfg.Bin, "dns_sla_exporter"),
		"--config.file=" + s.Files[Exporter], "--web.listen-address=" + ExporterAddr, "--log.level=debug", "--log.format=json"}
	ruleFlags, err := shippedRuleFlags(filepath.Join(cfg.Repo, "deploy/prometheus/prometheus.default"))
	if err != nil {
		return nil, err
	}
	s.argv[Prometheus] = append([]string{"prometheus", "--config.file=" + s.Files[Prometheus],
		"--storage.tsdb.path=" + filepath.Join(s.dir, "prometheus-data"),
		"--web.listen-address=" + PrometheusAddr, "--web.enable-lifecycle", "--log.format=json"}, ruleFlags...)
	s.argv[Alertmanager] = s.amArgv(1, false)
	// Authenticated like the shipped deployment: Alertmanager's webhook and
	// Prometheus' scrape both send the example credentials.
	pw, err := os.ReadFile(s.PasswordFile())
	if err != nil {
		return nil, err
	}
	l.auth = map[string][2]string{ActuatorAddr: {ActuatorUser, strings.TrimSpace(string(pw))}}
	s.argv[Actuator] = []string{filepath.Join(cfg.Bin, "route_actuator"),
		"--config.file=" + s.Files[Actuator], "--web.listen-address=" + ActuatorAddr,
		"--web.config.file=" + filepath.Join(cfg.Repo, "deploy/examples/web-config.yml"),
		"--log.level=debug", "--log.format=json"}
	for _, name := range []string{Exporter, Alertmanager, Actuator, Prometheus} {
		if err := s.Start(name); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) amArgv(n int, cluster bool) []string {
	web, listen, peer := AlertmanagerAddr, amClusterPort1, amClusterPort2
	if n == 2 {
		web, listen, peer = Alertmanager2Addr, amClusterPort2, amClusterPort1
	}
	argv := []string{"prometheus-alertmanager", "--config.file=" + s.Files[Alertmanager],
		fmt.Sprintf("--storage.path=%s/alertmanager%d-data", s.dir, n),
		"--web.listen-address=" + web, "--log.level=debug", "--log.format=json"}
	if cluster {
		return append(argv, "--cluster.listen-address="+listen, "--cluster.peer="+peer,
			"--cluster.advertise-address="+listen, "--cluster.settle-timeout=2s")
	}
	return append(argv, "--cluster.listen-address=")
}

// readyURL is each component's readiness endpoint.
func readyURL(name string) string {
	switch name {
	case Exporter:
		return "http://" + ExporterAddr + "/-/ready"
	case Prometheus:
		return "http://" + PrometheusAddr + "/-/ready"
	case Alertmanager:
		return "http://" + AlertmanagerAddr + "/-/ready"
	case Alertmanager2:
		return "http://" + Alertmanager2Addr + "/-/ready"
	case Actuator:
		return "http://" + ActuatorAddr + "/-/ready"
	}
	return ""
}

// Start (re)starts one component and waits until it reports ready.
func (s *Stack) Start(name string) error {
	argv, ok := s.argv[name]
	if !ok {
		return fmt.Errorf("unknown component %q", name)
	}
	if p := s.procs[name]; p != nil && p.Running() {
		return nil
	}
	p, err := startProc(s.dir, s.l.Router, name, argv...)
	if err != nil {
		return err
	}
	s.procs[name] = p
	return s.waitReady(name, 30*time.Second)
}

func (s *Stack) waitReady(name string, timeout time.Duration) error {
	return s.l.waitReady(s.procs[name], readyURL(name), timeout)
}

// waitReady polls url (fetched inside the router namespace) until it
// answers 200, failing early when p exits.
func (l *Lab) waitReady(p *Proc, url string, timeout time.Duration) error {
	name := p.Name
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if !p.Running() {
			return fmt.Errorf("%s exited: %v\n%s", name, p.Err(), tail(p.Log, 20))
		}
		code, _, err := l.Get(url)
		if err == nil && code == http.StatusOK {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("status %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %v\n%s", name, timeout, last, tail(p.Log, 20))
}

// ActuatorUser is the basic-auth user of the shipped web config
// (deploy/examples/web-config.yml) that Alertmanager and Prometheus send.
const ActuatorUser = "alertmanager"

// PasswordFile holds ActuatorUser's password: the shipped example password
// that matches the hash in deploy/examples/web-config.yml.
func (s *Stack) PasswordFile() string {
	return filepath.Join(s.cfg.Repo, "deploy/alertmanager/route_actuator.password")
}

// Proc returns a running component's process, or nil.
func (s *Stack) Proc(name string) *Proc { return s.procs[name] }

// Kill SIGKILLs one component (a crash), by PID.
func (s *Stack) Kill(name string) {
	if p := s.procs[name]; p != nil {
		p.Kill()
	}
}

// StopOne stops one component gracefully.
func (s *Stack) StopOne(name string) {
	if p := s.procs[name]; p != nil {
		p.Stop(5 * time.Second)
	}
}

// Stop stops every component: the actuator first, so nothing acts on a
// half-dismantled pipeline.
func (s *Stack) Stop() {
	for _, name := range []string{Actuator, Prometheus, Alertmanager2, Alertmanager, Exporter} {
		s.StopOne(name)
	}
}

// Cluster switches to two clustered Alertmanagers (9093 and 9094) that
// Prometheus both notifies, so the actuator receives duplicate webhooks.
func (s *Stack) Cluster() error {
	s.StopOne(Alertmanager)
	s.argv[Alertmanager] = s.amArgv(1, true)
	s.argv[Alertmanager2] = s.amArgv(2, true)
	for _, n := range []string{Alertmanager, Alertmanager2} {
		if err := s.Start(n); err != nil {
			return err
		}
	}
	if err := s.writeConfigs(true); err != nil {
		return err
	}
	return s.ReloadPrometheus()
}

// ReloadPrometheus asks Prometheus to re-read its configuration.
func (s *Stack) ReloadPrometheus() error {
	code, body, err := s.l.Post("http://"+PrometheusAddr+"/-/reload", "", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("prometheus reload: %d %s", code, body)
	}
	return nil
}

// writeConfigs copies the shipped configs, rewriting only what must differ
// in the lab: absolute rule paths, the Alertmanager list, the webhook
// password file, and the actuator's backend.
func (s *Stack) writeConfigs(cluster bool) error {
	repo := s.cfg.Repo
	// Prometheus: rule_files are relative to the shipped file's directory.
	var prom map[string]any
	if err := readYAML(filepath.Join(repo, "deploy/prometheus/prometheus.yml"), &prom); err != nil {
		return err
	}
	if rf, ok := prom["rule_files"].([]any); ok {
		for i, r := range rf {
			if p, ok := r.(string); ok && !filepath.IsAbs(p) {
				rf[i] = filepath.Join(repo, "deploy/prometheus", p)
			}
		}
	}
	if cluster {
		prom["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{
			"static_configs": []any{map[string]any{"targets": []any{AlertmanagerAddr, Alertmanager2Addr}}}}}}
	}
	pwFile := s.PasswordFile()
	setPasswordFile(prom, pwFile)
	if err := s.writeYAML(Prometheus, "prometheus.yml", prom); err != nil {
		return err
	}

	// Alertmanager: the same webhook password file.
	var am map[string]any
	if err := readYAML(filepath.Join(repo, "deploy/alertmanager/alertmanager.yml"), &am); err != nil {
		return err
	}
	setPasswordFile(am, pwFile)
	if err := s.writeYAML(Alertmanager, "alertmanager.yml", am); err != nil {
		return err
	}

	// Exporter: the shipped example already names the lab's servers.
	b, err := os.ReadFile(filepath.Join(repo, "deploy/examples/dns_sla_exporter.yml"))
	if err != nil {
		return err
	}
	s.Files[Exporter] = filepath.Join(s.dir, "dns_sla_exporter.yml")
	if err := os.WriteFile(s.Files[Exporter], b, 0o644); err != nil {
		return err
	}
	return s.writeActuatorConfig()
}

func (s *Stack) writeActuatorConfig() error {
	var act map[string]any
	shipped := filepath.Join(s.cfg.Repo, "deploy/examples/route_actuator.yml")
	if err := readYAML(shipped, &act); err != nil {
		return err
	}
	if s.cfg.IOS != nil {
		act["backend"] = map[string]any{"type": "ios", "ios": s.cfg.IOS}
	} else if be, _ := act["backend"].(map[string]any); be == nil || be["type"] != "netlink" {
		return fmt.Errorf("%s: the lab expects backend.type netlink", shipped)
	} else if len(s.cfg.Netlink) > 0 {
		nl, _ := be["netlink"].(map[string]any)
		if nl == nil {
			nl = map[string]any{}
			be["netlink"] = nl
		}
		for k, v := range s.cfg.Netlink {
			nl[k] = v
		}
	}
	return s.writeYAML(Actuator, "route_actuator.yml", act)
}

// UseIOS restarts the actuator with this `backend.ios` section.
func (s *Stack) UseIOS(ios map[string]any) error {
	s.StopOne(Actuator)
	s.cfg.IOS = ios
	if err := s.writeActuatorConfig(); err != nil {
		return err
	}
	return s.Start(Actuator)
}

// UseNetlink restarts the actuator with these `backend.netlink` overrides
// (nil: the shipped section) after removing its route and nexthop objects,
// since a resilient group keeps its bucket count for life.
func (s *Stack) UseNetlink(overrides map[string]any) error {
	s.StopOne(Actuator)
	if _, err := ip("-n", s.l.Router, "route", "del", ServicePrefix.String(), "proto", "250"); err != nil {
		return err
	}
	if _, err := ip("-n", s.l.Router, "nexthop", "flush"); err != nil {
		return err
	}
	s.cfg.Netlink = overrides
	if err := s.writeActuatorConfig(); err != nil {
		return err
	}
	return s.Start(Actuator)
}

func (s *Stack) writeYAML(name, file string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	s.Files[name] = filepath.Join(s.dir, file)
	return os.WriteFile(s.Files[name], b, 0o644)
}

// shippedRuleFlags returns the --rules.* flags (the alert resend delay)
// that the shipped Debian defaults file gives Prometheus, so the lab runs
// Prometheus as the deployment does.
func shippedRuleFlags(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		args, ok := strings.CutPrefix(strings.TrimSpace(line), "ARGS=")
		if !ok {
			continue
		}
		var flags []string
		for _, f := range strings.Fields(strings.Trim(args, `"`)) {
			if strings.HasPrefix(f, "--rules.") {
				flags = append(flags, f)
			}
		}
		if len(flags) == 0 {
			return nil, fmt.Errorf("%s: ARGS sets no --rules.* flag", path)
		}
		return flags, nil
	}
	return nil, fmt.Errorf("%s: no ARGS line", path)
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// setPasswordFile points every password_file at the shipped example
// password (installed under /etc in production), which matches the bcrypt
// hash in deploy/examples/web-config.yml.
func setPasswordFile(cfg any, path string) {
	walk(cfg, func(m map[string]any) {
		if _, ok := m["password_file"]; ok {
			m["password_file"] = path
		}
	})
}

// walk calls fn on every mapping inside v.
func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// tail returns the last n lines of a log file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// HTTP returns a client whose connections are made inside the router
// namespace, where the whole monitoring stack listens on 127.0.0.1.
func (l *Lab) HTTP() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: inns.Dialer(l.Router), DisableKeepAlives: true}}
}

// Get fetches url inside the router namespace, with the credentials the
// lab knows for its host.
func (l *Lab) Get(url string) (int, []byte, error) {
	return l.do(http.MethodGet, url, "", nil)
}

// Post sends body to url inside the router namespace.
func (l *Lab) Post(url, ctype string, body []byte) (int, []byte, error) {
	return l.do(http.MethodPost, url, ctype, body)
}

func (l *Lab) do(method, url, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if a, ok := l.auth[req.URL.Host]; ok {
		req.SetBasicAuth(a[0], a[1])
	}
	resp, err := l.HTTP().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// FindRepo walks up from dir to the slaroute module root.
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/slaroute/slaroute\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no slaroute go.mod above %s", dir)
		}
	}
}

// BinDir returns $SLAROUTE_BIN, or builds both binaries into dir.
func BinDir(repo, dir string) (string, error) {
	if b := os.Getenv("SLAROUTE_BIN"); b != "" {
		return b, nil
	}
	for _, name := range []string{"dns_sla_exporter", "route_actuator"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %w\n%s", name, err, out)
		}
	}
	return dir, nil
}
