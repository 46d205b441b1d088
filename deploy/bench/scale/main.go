// Command scale is `make bench-scale`: the cost of the alert path in one
// Prometheus as the number of targets grows, for a baseline commit's shipped
// prometheus.yml and rules and for the working tree's, side by side in one run.
//
// The targets are a real exporter (exporter.New: the real metrics, scheduler
// and /metrics handler with its collect[] subsets) whose probers answer
// in-process instead of over the network: every scrape has exactly the
// series, labels and update pattern of N probed servers (1% of them failing,
// so DNSServerDown and its hold are active), while the bench measures
// Prometheus, not N DNS servers. Prometheus is Debian's, started with the
// config's rule files and --rules.* flags from prometheus.default.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/deploy/bench/benchfmt"
	"github.com/slaroute/slaroute/exporter"
	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/probe"
	"github.com/slaroute/slaroute/exporter/scheduler"
)

type prober struct{ fail bool }

// blipUntil (Unix ns) makes every prober fail until then: a network blip
// at the exporter, after which the fast job serves every target.
var blipUntil atomic.Int64

func (p prober) Probe(context.Context) probe.Outcome {
	if p.fail || time.Now().UnixNano() < blipUntil.Load() {
		return probe.Outcome{Result: probe.Timeout}
	}
	return probe.Outcome{Result: probe.Success, Responded: true, RTT: 800 * time.Microsecond}
}
func (prober) Close() error { return nil }

type setup struct {
	name  string
	files map[string][]byte // prometheus.yml, prometheus.default, rules/*.yml
	// blip fails every target for one probe halfway through the warmup:
	// the worst case of the working tree's sparse fast job.
	blip bool
}

func main() {
	baseline := flag.String("baseline", "", "old configuration: a directory laid out like deploy/bench/scale/baseline, or a git revision (empty: only the working tree)")
	sizes := flag.String("sizes", "500 2000 5000", "target counts")
	warmup := flag.Duration("warmup", 15*time.Second, "time before measuring")
	window := flag.Duration("window", 30*time.Second, "measured window per run")
	agesFlag := flag.String("blip-ages", "", "also measure the blip configuration again this long after the blip, in the same Prometheus (e.g. \"5m 16m\"): how long a blip costs")
	flag.Parse()
	// The longest scrape of the 15 s dns_sla job is read over warmup+window: a shorter
	// range may hold none of its scrapes.
	if *warmup+*window < 15*time.Second {
		log.Fatalf("warmup (%s) + window (%s) must be at least 15s, the dns_sla job's scrape interval", *warmup, *window)
	}
	var ages []time.Duration
	for _, f := range strings.Fields(*agesFlag) {
		d, err := time.ParseDuration(f)
		if err != nil {
			log.Fatalf("blip-ages: %v", err)
		}
		ages = append(ages, d)
	}
	log.SetFlags(0)

	var setups []setup
	if *baseline != "" {
		if st, err := os.Stat(*baseline); err == nil && st.IsDir() {
			setups = append(setups, loadDir("old ("+filepath.Base(*baseline)+")", *baseline))
		} else {
			setups = append(setups, load("old ("+*baseline+")", *baseline))
		}
	}
	tree := load("new (tree)", "")
	blip := tree
	blip.name, blip.blip = "new, after a blip", true
	setups = append(setups, tree, blip)
	fmt.Printf("load average before: %s", benchfmt.LoadAvg())
	fmt.Printf("%-8s %-22s %10s %14s %26s %8s %30s\n", "targets", "config", "prom CPU", "CPU/1k targets", "fast group eval avg/max", "missed", "scrape max / timeout (job)")
	for _, f := range strings.Fields(*sizes) {
		n, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("sizes: %v", err)
		}
		// One exporter per size, shared by the configurations.
		expAddr, stop, err := startExporter(n)
		if err != nil {
			log.Fatalf("exporter, %d targets: %v", n, err)
		}
		for _, s := range setups {
			var later []time.Duration
			if s.blip {
				later = ages
			}
			rs, err := run(s, expAddr, *warmup, *window, later)
			if err != nil {
				log.Fatalf("%s, %d targets: %v", s.name, n, err)
			}
			for i, r := range rs {
				name := s.name
				if i > 0 {
					name = fmt.Sprintf("new, %v after a blip", later[i-1])
				}
				fmt.Printf("%-8d %-22s %10.3f %14.3f %26s %8s %30s\n", n, name, r.cpu, r.cpu*1000/float64(n), r.eval, r.missed, r.scrape)
			}
		}
		stop()
	}
	fmt.Printf("load average after: %s", benchfmt.LoadAvg())
}

// load reads the shipped Prometheus files at rev (empty: the working tree).
func load(name, rev string) setup {
	s := setup{name: name, files: map[string][]byte{}}
	read := func(p string) []byte {
		if rev == "" {
			b, err := os.ReadFile(p)
			if err != nil {
				log.Fatal(err)
			}
			return b
		}
		b, err := exec.Command("git", "show", rev+":"+p).Output()
		if err != nil {
			log.Fatalf("git show %s:%s: %v", rev, p, err)
		}
		return b
	}
	s.files["prometheus.yml"] = read("deploy/prometheus/prometheus.yml")
	s.files["prometheus.default"] = read("deploy/prometheus/prometheus.default")
	var list []string
	if rev == "" {
		list, _ = filepath.Glob("rules/*.yml")
	} else {
		out, err := exec.Command("git", "ls-tree", "--name-only", rev, "rules/").Output()
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range strings.Fields(string(out)) {
			if strings.HasSuffix(p, ".yml") {
				list = append(list, p)
			}
		}
	}
	for _, p := range list {
		s.files["rules/"+filepath.Base(p)] = read(p)
	}
	return s
}

// loadDir reads a configuration kept as a fixture: prometheus.yml,
// prometheus.default and rules/*.yml under dir.
func loadDir(name, dir string) setup {
	s := setup{name: name, files: map[string][]byte{}}
	for _, f := range []string{"prometheus.yml", "prometheus.default"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			log.Fatal(err)
		}
		s.files[f] = b
	}
	list, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	if len(list) == 0 {
		log.Fatalf("%s: no rules/*.yml", dir)
	}
	for _, p := range list {
		b, err := os.ReadFile(p)
		if err != nil {
			log.Fatal(err)
		}
		s.files["rules/"+filepath.Base(p)] = b
	}
	return s
}

type result struct {
	cpu                  float64
	eval, missed, scrape string
}

func freeAddr() string {
	a, err := benchfmt.FreeAddr()
	if err != nil {
		log.Fatal(err)
	}
	return a
}

// startExporter runs the exporter for n targets on a free loopback port.
func startExporter(n int) (string, func(), error) {
	dir, err := os.MkdirTemp("", "bench-scale-exporter")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The exporter: n targets on loopback addresses that are never contacted.
	var cfg strings.Builder
	cfg.WriteString("defaults:\n  interval: 1s\n  timeout: 500ms\n  query_name: health.example.test.\ntargets:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - name: dns%05d\n    address: 127.1.%d.%d\n    service: 192.0.2.%d/32\n", i, i/250, i%250+1, i%200)
	}
	cfgFile := filepath.Join(dir, "dns_sla_exporter.yml")
	os.WriteFile(cfgFile, []byte(cfg.String()), 0o644)
	reg := prometheus.NewRegistry()
	e, err := exporter.New(exporter.Options{ConfigFile: cfgFile, Registry: reg, Logger: slog.New(slog.DiscardHandler),
		NewProber: func(t config.Target) (scheduler.Prober, error) {
			return prober{fail: strings.HasSuffix(t.Name, "00")}, nil
		}})
	if err == nil {
		err = e.Reload(ctx)
	}
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return "", nil, err
	}
	go e.Run(ctx)
	expAddr := freeAddr()
	srv := &http.Server{Addr: expAddr, Handler: e.MetricsHandler(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true})}
	go srv.ListenAndServe()
	return expAddr, func() { srv.Close(); cancel(); os.RemoveAll(dir) }, nil
}

// run measures Prometheus with setup s scraping the exporter at expAddr,
// from warmup after its start, and again at each of ages after the blip.
func run(s setup, expAddr string, warmup, window time.Duration, ages []time.Duration) ([]result, error) {
	dir, err := os.MkdirTemp("", "bench-scale")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// Prometheus: the setup's config with the exporter's address, no
	// Alertmanager or actuator (notifications are not what is measured).
	promAddr := freeAddr()
	var pc map[string]any
	if err := yaml.Unmarshal(s.files["prometheus.yml"], &pc); err != nil {
		return nil, err
	}
	delete(pc, "alerting")
	pc["rule_files"] = []any{filepath.Join(dir, "rules", "*.yml")}
	timeouts := map[string]string{}
	var jobs []any
	for _, j := range pc["scrape_configs"].([]any) {
		jm := j.(map[string]any)
		b, _ := yaml.Marshal(jm["static_configs"])
		if !strings.Contains(string(b), "127.0.0.1:9753") {
			continue
		}
		jm["static_configs"] = []any{map[string]any{"targets": []any{expAddr}}}
		jobs = append(jobs, jm)
		to, _ := jm["scrape_timeout"].(string)
		if to == "" {
			to = "10s"
		}
		timeouts[jm["job_name"].(string)] = to
	}
	pc["scrape_configs"] = jobs
	b, _ := yaml.Marshal(pc)
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), b, 0o644)
	for name, content := range s.files {
		if strings.HasPrefix(name, "rules/") {
			os.WriteFile(filepath.Join(dir, name), content, 0o644)
		}
	}
	args := []string{"--config.file=" + filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path=" + filepath.Join(dir, "tsdb"),
		"--web.listen-address=" + promAddr, "--log.level=error"}
	for _, line := range strings.Split(string(s.files["prometheus.default"]), "\n") {
		if strings.HasPrefix(line, "ARGS=") {
			args = append(args, regexp.MustCompile(`--rules\.[^ "]+`).FindAllString(line, -1)...)
		}
	}
	cmd := exec.Command("prometheus", args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	var blipAt time.Time
	if s.blip {
		time.Sleep(warmup / 2)
		blipAt = time.Now()
		blipUntil.Store(blipAt.Add(1100 * time.Millisecond).UnixNano())
		time.Sleep(warmup - warmup/2)
	} else {
		time.Sleep(warmup)
	}
	r, err := measure(cmd.Process.Pid, promAddr, timeouts, window, window+warmup)
	if err != nil {
		return nil, err
	}
	rs := []result{r}
	for _, age := range ages {
		time.Sleep(time.Until(blipAt.Add(age)))
		r, err := measure(cmd.Process.Pid, promAddr, timeouts, window, window)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// measure samples Prometheus at promAddr for window; the longest scrape is
// taken over the last rng.
func measure(pid int, promAddr string, timeouts map[string]string, window, rng time.Duration) (result, error) {
	// Rule group durations are sampled from Prometheus' own gauges every 100ms.
	groups := map[string]*struct {
		sum, max, interval float64
		n                  int
		missed0, missed1   float64
	}{}
	ticks0 := cpuTicks(pid)
	start := time.Now()
	first := true
	for time.Since(start) < window {
		m, err := scrapeSelf(promAddr)
		if err == nil {
			for g, v := range m {
				st := groups[g]
				if st == nil {
					st = &struct {
						sum, max, interval float64
						n                  int
						missed0, missed1   float64
					}{missed0: v[2]}
					groups[g] = st
				}
				if first {
					st.missed0 = v[2]
				}
				st.sum += v[0]
				st.n++
				st.max = max(st.max, v[0])
				st.interval = v[1]
				st.missed1 = v[2]
			}
			first = false
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	ticks1 := cpuTicks(pid)
	r := result{cpu: float64(ticks1-ticks0) / 100 / elapsed.Seconds()}
	// The fast groups: those with the shortest interval.
	fastest := 1e9
	for _, st := range groups {
		fastest = min(fastest, st.interval)
	}
	var evals, missed []string
	for g, st := range groups {
		if st.interval == fastest && st.n > 0 {
			evals = append(evals, fmt.Sprintf("%.0f/%.0f ms of %.0f", st.sum/float64(st.n)*1000, st.max*1000, st.interval*1000))
			missed = append(missed, fmt.Sprintf("%.0f", st.missed1-st.missed0))
			_ = g
		}
	}
	r.eval, r.missed = strings.Join(evals, ", "), strings.Join(missed, ",")
	var scr []string
	for job, to := range timeouts {
		q := fmt.Sprintf(`max_over_time(scrape_duration_seconds{job=%q}[%ds])`, job, int(max(elapsed, rng).Seconds()))
		v, err := query(promAddr, q)
		if err != nil {
			return r, err
		}
		samples, err := query(promAddr, fmt.Sprintf(`max_over_time(scrape_samples_scraped{job=%q}[%ds])`, job, int(elapsed.Seconds())))
		if err != nil {
			return r, err
		}
		d, _ := time.ParseDuration(to)
		scr = append(scr, fmt.Sprintf("%.0f ms / %s = %.0f%%, %.0f samples (%s)", v*1000, to, v/d.Seconds()*100, samples, job))
	}
	r.scrape = strings.Join(scr, "; ")
	if os.Getenv("RULES") != "" {
		resp, err := http.Get("http://" + promAddr + "/api/v1/rules")
		if err == nil {
			var rr struct {
				Data struct {
					Groups []struct {
						Name  string
						Rules []struct {
							Name           string
							EvaluationTime float64
						}
					}
				}
			}
			json.NewDecoder(resp.Body).Decode(&rr)
			resp.Body.Close()
			for _, g := range rr.Data.Groups {
				for _, ru := range g.Rules {
					fmt.Fprintf(os.Stderr, "  %s %s %.1fms\n", g.Name, ru.Name, ru.EvaluationTime*1000)
				}
			}
		}
	}
	return r, nil
}

func cpuTicks(pid int) int64 {
	t, _ := benchfmt.CPUTicks(pid)
	return t
}

// scrapeSelf returns per rule group: last duration, interval, missed iterations.
func scrapeSelf(addr string) (map[string][3]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string][3]float64{}
	re := regexp.MustCompile(`^prometheus_rule_group_(last_duration_seconds|interval_seconds|iterations_missed_total)\{rule_group="([^"]+)"\} (\S+)`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		g := out[m[2]]
		switch m[1] {
		case "last_duration_seconds":
			g[0] = v
		case "interval_seconds":
			g[1] = v
		default:
			g[2] = v
		}
		out[m[2]] = g
	}
	return out, sc.Err()
}

func query(addr, q string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if len(r.Data.Result) == 0 {
		return 0, fmt.Errorf("no result for %s", q)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}
