// Command alertmanager is `make bench-alertmanager`: Alertmanager's CPU under
// the shipped deploy/alertmanager/alertmanager.yml while N route-driving
// alerts fire at once (a mass outage), sent as Prometheus sends them.
//
// Prometheus (--rules.alert.resend-delay=1s, deploy/prometheus/prometheus.default)
// re-sends every firing alert each second, in batches of 64, with
// endsAt = now + 4 x 1 s. This bench does the same through /api/v2/alerts for
// N DNSServerDown alerts (the labels rules/dns_sla.alerts.yml gives them) and
// the DNSSLAWatchdog heartbeat. Every such alert is its own aggregation group
// on the route_actuator route (group_by ['...']), ticking every group_interval:
// that is what grows with N. Alertmanager is Debian's, clustering off; its
// route_actuator webhook points at a receiver in this process, which checks
// the basic auth and counts the webhooks. The window defaults to the route's
// repeat_interval, so that it holds one re-send of every alert.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/deploy/bench/benchfmt"
)

const (
	resend    = time.Second // Prometheus' --rules.alert.resend-delay (prometheus.default)
	batchSize = 64          // Prometheus' notifier batch (maxBatchSize)
	receiver  = "route_actuator"
	user      = "alertmanager" // the webhook's basic-auth user in the shipped config
	password  = "bench"
)

func main() {
	cfgFile := flag.String("config", "deploy/alertmanager/alertmanager.yml", "the shipped Alertmanager configuration")
	amBin := flag.String("alertmanager", "/usr/bin/prometheus-alertmanager", "Alertmanager binary")
	sizes := flag.String("sizes", "50 500 5000", "numbers of firing DNSServerDown alerts")
	intervals := flag.String("group-intervals", "shipped 100ms", "group_interval of the route_actuator route per row (shipped: the file's)")
	warmup := flag.Duration("warmup", 8*time.Second, "time from the first alerts to the window (the first notification of every alert falls in it)")
	window := flag.Duration("window", 0, "measured window (0: the route's repeat_interval, one re-send of every alert)")
	flag.Parse()
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *cfgFile, *amBin, *sizes, *intervals, *warmup, *window)
	stop()
	if err != nil {
		log.Fatalf("bench-alertmanager: %v", err)
	}
}

func run(ctx context.Context, cfgFile, amBin, sizes, intervals string, warmup, window time.Duration) error {
	shipped, err := os.ReadFile(cfgFile)
	if err != nil {
		return err
	}
	ver, _ := exec.Command(amBin, "--version").CombinedOutput()
	var ns []int
	for _, f := range strings.Fields(sizes) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return fmt.Errorf("sizes: %q", f)
		}
		ns = append(ns, n)
	}
	gis := strings.Fields(intervals)
	for _, gi := range gis {
		if _, err := time.ParseDuration(gi); err != nil && gi != "shipped" {
			return fmt.Errorf("group-intervals: %q", gi)
		}
	}

	rcv, err := startReceiver()
	if err != nil {
		return err
	}
	defer rcv.srv.Close()

	fmt.Printf("%s; %s, alerts re-sent every %s in batches of %d\n", benchfmt.FirstLine(string(ver)), cfgFile, resend, batchSize)
	fmt.Printf("load average before: %s", benchfmt.LoadAvg())
	fmt.Printf("%7s %15s %10s %11s %7s %10s %10s %7s\n", "alerts", "group_interval", "AM cores", "webhooks/s", "failed", "post max", "in warmup", "AM log")
	for _, n := range ns {
		for _, gi := range gis {
			r, err := measure(ctx, shipped, amBin, rcv, n, gi, warmup, window)
			if err != nil {
				return fmt.Errorf("%d alerts, group_interval %s: %w", n, gi, err)
			}
			fmt.Printf("%7d %15s %10.3f %11.1f %7d %10s %10d %7s\n", n, r.gi, r.cpu, r.webhooks, r.failed, benchfmt.Ms(r.postMax), r.warmupHooks, r.log)
		}
	}
	fmt.Printf("load average after: %s", benchfmt.LoadAvg())
	fmt.Println("failed: webhooks the receiver refused plus Alertmanager's alertmanager_notifications_failed_total, in the window;")
	fmt.Println("post max: the longest round of posting every alert once in the window (over 1s: Alertmanager cannot take the alerts as fast as Prometheus sends them);")
	fmt.Println("in warmup: webhooks before the window, one per alert (the heartbeat included) when every alert was notified at once;")
	fmt.Println("AM log: error/warning lines Alertmanager logged over the whole run (see their first lines above the table row).")
	return nil
}

// hook is the webhook receiver standing in for route_actuator.
type hook struct {
	srv       *http.Server
	url       string
	ok, bad   atomic.Int64 // webhooks accepted / refused (auth, body)
	lastError atomic.Value // string
}

func startReceiver() (*hook, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hook{url: "http://" + l.Addr().String() + "/webhook"}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []json.RawMessage `json:"alerts"`
		}
		u, p, ok := r.BasicAuth()
		err := json.NewDecoder(r.Body).Decode(&msg)
		io.Copy(io.Discard, r.Body)
		switch {
		case !ok || u != user || p != password:
			err = errors.New("bad basic auth")
		case err == nil && len(msg.Alerts) == 0:
			err = errors.New("no alerts")
		}
		if err != nil {
			h.bad.Add(1)
			h.lastError.Store(err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.ok.Add(1)
	})}
	go h.srv.Serve(l)
	return h, nil
}

type result struct {
	gi       string
	cpu      float64
	webhooks float64
	// warmupHooks: the webhooks before the window, at least one per alert
	// (n + the heartbeat) when each was sent at once.
	warmupHooks int64
	failed      int64
	postMax     time.Duration
	log         string
}

// amConfig returns the shipped configuration with the route_actuator webhook
// sent to url with passwordFile, and the route_actuator route's group_interval
// set to gi (unless "shipped"), with that route's group_interval and
// repeat_interval.
func amConfig(shipped []byte, url, passwordFile, gi string) (out []byte, groupInterval, repeat string, err error) {
	var c map[string]any
	if err := yaml.Unmarshal(shipped, &c); err != nil {
		return nil, "", "", err
	}
	found := false
	recvs, _ := c["receivers"].([]any)
	for _, r := range recvs {
		rm, _ := r.(map[string]any)
		if rm["name"] != receiver {
			continue
		}
		whs, _ := rm["webhook_configs"].([]any)
		if len(whs) != 1 {
			return nil, "", "", fmt.Errorf("receiver %s: %d webhook_configs, want 1", receiver, len(whs))
		}
		wh := whs[0].(map[string]any)
		wh["url"] = url
		auth := map[string]any{"username": user, "password_file": passwordFile}
		if hc, ok := wh["http_config"].(map[string]any); ok {
			if ba, ok := hc["basic_auth"].(map[string]any); ok {
				if ba["username"] != user {
					return nil, "", "", fmt.Errorf("receiver %s: basic_auth user %v, want %s", receiver, ba["username"], user)
				}
				hc["basic_auth"] = auth
			}
		} else {
			wh["http_config"] = map[string]any{"basic_auth": auth}
		}
		found = true
	}
	if !found {
		return nil, "", "", fmt.Errorf("no receiver %s", receiver)
	}
	route, _ := c["route"].(map[string]any)
	routes, _ := route["routes"].([]any)
	found = false
	for _, r := range routes {
		rm, _ := r.(map[string]any)
		if rm["receiver"] != receiver || found {
			continue
		}
		found = true
		if gi != "shipped" {
			rm["group_interval"] = gi
		}
		groupInterval, _ = rm["group_interval"].(string)
		repeat, _ = rm["repeat_interval"].(string)
	}
	if !found || groupInterval == "" || repeat == "" {
		return nil, "", "", fmt.Errorf("no route to %s with group_interval and repeat_interval", receiver)
	}
	out, err = yaml.Marshal(c)
	return out, groupInterval, repeat, err
}

// measure runs one Alertmanager with n firing DNSServerDown alerts.
func measure(ctx context.Context, shipped []byte, amBin string, rcv *hook, n int, gi string, warmup, window time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "bench-alertmanager")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	pwFile := filepath.Join(dir, "route_actuator.password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return result{}, err
	}
	cfg, groupInterval, repeat, err := amConfig(shipped, rcv.url, pwFile, gi)
	if err != nil {
		return result{}, err
	}
	r := result{gi: groupInterval}
	if gi == "shipped" {
		r.gi += " (shipped)"
	}
	if window == 0 {
		if window, err = time.ParseDuration(repeat); err != nil {
			return r, fmt.Errorf("repeat_interval %q: %w", repeat, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), cfg, 0o644); err != nil {
		return r, err
	}

	addr, err := benchfmt.FreeAddr()
	if err != nil {
		return r, err
	}
	logPath := filepath.Join(dir, "alertmanager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return r, err
	}
	defer logFile.Close()
	cmd := exec.Command(amBin, "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Killed with this process even when it dies without running defers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	base := "http://" + addr
	if err := benchfmt.WaitHTTP(ctx, http.DefaultClient, base+"/-/ready", 10*time.Second, exited); err != nil {
		return r, fmt.Errorf("%w; log: %s", err, firstLines(logPath, 5))
	}

	// Prometheus: every resend, each firing alert once, batches of 64 in a row.
	postCtx, stopPost := context.WithCancel(ctx)
	var postMax atomic.Int64
	var postErr atomic.Value
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		post(postCtx, base, n, &postMax, &postErr)
	}()
	defer func() { stopPost(); <-posted }()

	okStart := rcv.ok.Load()
	if err := sleep(ctx, exited, warmup); err != nil {
		return r, err
	}
	failed0, err := notificationsFailed(base)
	if err != nil {
		return r, err
	}
	ok0, bad0 := rcv.ok.Load(), rcv.bad.Load()
	r.warmupHooks = ok0 - okStart
	postMax.Store(0) // the rounds of the window: the first ones create every group
	ticks0, err := benchfmt.CPUTicks(cmd.Process.Pid)
	t0 := time.Now()
	if err != nil {
		return r, err
	}
	if err := sleep(ctx, exited, window); err != nil {
		return r, err
	}
	ticks1, err := benchfmt.CPUTicks(cmd.Process.Pid)
	t1 := time.Now()
	if err != nil {
		return r, err
	}
	ok1, bad1 := rcv.ok.Load(), rcv.bad.Load()
	failed1, err := notificationsFailed(base)
	if err != nil {
		return r, err
	}
	if e, _ := postErr.Load().(string); e != "" {
		return r, fmt.Errorf("posting alerts: %s", e)
	}
	secs := t1.Sub(t0).Seconds()
	r.cpu = float64(ticks1-ticks0) / 100 / secs // USER_HZ: /proc counts in 1/100 s
	r.webhooks = float64(ok1-ok0) / secs
	r.failed = bad1 - bad0 + int64(failed1-failed0)
	r.postMax = time.Duration(postMax.Load())
	if e, _ := rcv.lastError.Load().(string); bad1 > bad0 {
		fmt.Printf("  receiver refused %d webhooks, last: %s\n", bad1-bad0, e)
	}
	stopPost()
	<-posted
	lines := logLines(logPath)
	r.log = strconv.Itoa(len(lines))
	for i, l := range lines {
		if i == 3 {
			fmt.Printf("  ... %d more\n", len(lines)-3)
			break
		}
		fmt.Printf("  alertmanager: %s\n", l)
	}
	return r, nil
}

// sleep waits d unless ctx ends (a signal) or Alertmanager exits.
func sleep(ctx context.Context, exited <-chan struct{}, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return errors.New("stopped by a signal")
	case <-exited:
		return errors.New("alertmanager exited")
	}
}

// post sends n DNSServerDown alerts and the DNSSLAWatchdog heartbeat every
// resend until ctx ends, recording the longest round and the first error.
func post(ctx context.Context, base string, n int, roundMax *atomic.Int64, firstErr *atomic.Value) {
	start := time.Now().UTC()
	const runbook = "https://github.com/slaroute/slaroute/blob/main/rules/runbook.md#"
	alerts := []model.Alert{{
		Labels:      model.LabelSet{"alertname": "DNSSLAWatchdog", "severity": "none"},
		Annotations: model.LabelSet{"runbook_url": runbook + "dnsslawatchdog"},
		StartsAt:    start,
	}}
	for i := range n {
		alerts = append(alerts, model.Alert{
			// The labels of target:dns_sla_verdict:down from the dns_sla_verdict job.
			Labels: model.LabelSet{"alertname": "DNSServerDown", "severity": "warning",
				"target": model.LabelValue(fmt.Sprintf("dns%05d", i)), "nexthop": model.LabelValue(fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)),
				"service": model.LabelValue(fmt.Sprintf("192.0.2.%d/32", i%200)), "instance": "127.0.0.1:9753", "job": "dns_sla_verdict"},
			Annotations: model.LabelSet{"runbook_url": runbook + "dnsserverdown"},
			StartsAt:    start,
		})
	}
	client := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(resend)
	defer tick.Stop()
	for {
		t := time.Now()
		for i := range alerts {
			alerts[i].EndsAt = t.UTC().Add(4 * resend)
		}
		for i := 0; i < len(alerts); i += batchSize {
			body, _ := json.Marshal(alerts[i:min(i+batchSize, len(alerts))])
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v2/alerts", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("POST /api/v2/alerts: %s", resp.Status)
				}
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}
		if d := int64(time.Since(t)); d > roundMax.Load() {
			roundMax.Store(d)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// notificationsFailed is Alertmanager's alertmanager_notifications_failed_total, summed.
func notificationsFailed(base string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "alertmanager_notifications_failed_total{") {
			v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			sum += v
		}
	}
	return sum, sc.Err()
}

// logLines are the error and warning lines of Alertmanager's log.
func logLines(path string) []string {
	b, _ := os.ReadFile(path)
	var out []string
	for l := range strings.Lines(string(b)) {
		if strings.Contains(l, "level=error") || strings.Contains(l, "level=warn") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func firstLines(path string, k int) string {
	b, _ := os.ReadFile(path)
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(ls[:min(k, len(ls))], " | ")
}
