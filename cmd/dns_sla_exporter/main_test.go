//go:build integration

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// freePort returns a port free for both UDP and TCP on ip (dnsmasq serves both).
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type scrape map[string]float64

func get(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	s := scrape{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			s[line[:i]] = v
		}
	}
	return s
}

func series(name, target, nexthop, result string) string {
	if result != "" {
		return fmt.Sprintf(`%s{nexthop="%s",result="%s",service="192.0.2.53/32",target="%s"}`, name, nexthop, result, target)
	}
	return fmt.Sprintf(`%s{nexthop="%s",service="192.0.2.53/32",target="%s"}`, name, nexthop, target)
}

const targetsYAML = `defaults:
  interval: 250ms
  timeout: 100ms
  query_name: health.example.test.
targets:
`

func targetYAML(name, addr, extra string) string {
	return fmt.Sprintf("  - name: %s\n    address: %s\n    service: 192.0.2.53/32\n%s", name, addr, extra)
}

// The built binary against a real dnsmasq on a loopback address.
func TestBinaryAgainstDnsmasq(t *testing.T) {
	dnsmasq := testenv.RequireTool(t, "dnsmasq")
	promtool := testenv.RequireTool(t, "promtool")
	bin := testenv.Binary(t, "dns_sla_exporter")

	ip := fmt.Sprintf("127.%d.%d.%d", 100+os.Getpid()%100, rand.IntN(250)+1, rand.IntN(250)+1)
	dport := freePort(t, ip)
	dm := testenv.Start(t, exec.Command(dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--no-hosts", "--no-resolv",
		"--port="+strconv.Itoa(dport), "--listen-address="+ip, "--bind-interfaces", "--pid-file=",
		"--local=/example.test/", "--host-record=health.example.test,192.0.2.1", "--txt-record=txt.example.test,ok")).Cmd
	addr := net.JoinHostPort(ip, strconv.Itoa(dport))

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "dns_sla_exporter.yml")
	base := targetsYAML +
		targetYAML("ok", addr, "") +
		targetYAML("tcp", addr, "    protocol: tcp\n") +
		targetYAML("txt", addr, "    query_name: txt.example.test.\n    query_type: TXT\n    expect_answers: [ok]\n") +
		targetYAML("mismatch", addr, "    expect_answers: [192.0.2.9]\n") +
		targetYAML("nx", addr, "    query_name: nope.example.test.\n") +
		targetYAML("nodata", addr, "    query_type: AAAA\n") +
		targetYAML("refused", addr, "    query_name: health.other.test.\n")
	if err := os.WriteFile(cfgFile, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	web := testenv.FreeAddr(t)
	exp := testenv.Start(t, exec.Command(bin, "--config.file="+cfgFile, "--web.listen-address="+web, "--log.level=debug")).Cmd
	metricsURL := "http://" + web + "/metrics"
	testenv.WaitHTTP(t, nil, "http://"+web+"/-/ready", 10*time.Second)

	want := map[string]string{"ok": "success", "tcp": "success", "txt": "success", "mismatch": "mismatch",
		"nx": "nxdomain", "nodata": "no_answer", "refused": "refused"}
	eventually(t, "every target's expected result twice", func() bool {
		s := get(t, metricsURL)
		for target, result := range want {
			if s[series("dns_sla_probes_total", target, ip, result)] < 2 {
				return false
			}
		}
		return true
	})
	s := get(t, metricsURL)
	for target, result := range want {
		up := 0.0
		if result == "success" {
			up = 1
		}
		if got := s[series("dns_sla_up", target, ip, "")]; got != up {
			t.Errorf("dns_sla_up{target=%q} = %v, want %v", target, got, up)
		}
		for _, r := range []string{"success", "timeout", "network_error", "servfail", "refused", "nxdomain", "rcode", "no_answer", "mismatch", "malformed"} {
			v, ok := s[series("dns_sla_probes_total", target, ip, r)]
			if !ok {
				t.Errorf("no dns_sla_probes_total series for target %s result %s", target, r)
			}
			if r != result && v != 0 {
				t.Errorf("target %s: %v probes with result %s, want only %s", target, v, r, result)
			}
		}
	}
	if s["dns_sla_targets"] != 7 || s["dns_sla_exporter_config_last_reload_successful"] != 1 {
		t.Errorf("dns_sla_targets %v, reload successful %v", s["dns_sla_targets"], s["dns_sla_exporter_config_last_reload_successful"])
	}
	if s[series("dns_sla_probe_duration_seconds_count", "ok", ip, "")] < 2 {
		t.Error("no probe durations observed")
	}

	// promtool check metrics reports nothing.
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// A bad file on SIGHUP keeps the running configuration.
	os.WriteFile(cfgFile, []byte(base+"    bogus: 1\n"), 0o644)
	exp.Process.Signal(syscall.SIGHUP)
	eventually(t, "failed reload reported", func() bool {
		return get(t, metricsURL)["dns_sla_exporter_config_last_reload_successful"] == 0
	})
	before := get(t, metricsURL)[series("dns_sla_probes_total", "ok", ip, "success")]
	eventually(t, "probing to go on after a failed reload", func() bool {
		s := get(t, metricsURL)
		return s["dns_sla_targets"] == 7 && s[series("dns_sla_probes_total", "ok", ip, "success")] > before
	})

	// POST /-/reload: refused removed, ok2 added, ok's counters kept.
	next := strings.Replace(base, targetYAML("refused", addr, "    query_name: health.other.test.\n"), targetYAML("ok2", addr, ""), 1)
	os.WriteFile(cfgFile, []byte(next), 0o644)
	r, err := http.Post("http://"+web+"/-/reload", "", nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("POST /-/reload: %v %v", err, r)
	}
	r.Body.Close()
	s = get(t, metricsURL)
	if _, ok := s[series("dns_sla_up", "refused", ip, "")]; ok {
		t.Error("removed target's series still exported")
	}
	if _, ok := s[series("dns_sla_probes_total", "ok2", ip, "timeout")]; !ok {
		t.Error("added target's series missing")
	}
	if got := s[series("dns_sla_probes_total", "ok", ip, "success")]; got < before {
		t.Errorf("unchanged target's counter went from %v to %v", before, got)
	}
	if s["dns_sla_exporter_config_last_reload_successful"] != 1 || s["dns_sla_targets"] != 7 {
		t.Errorf("after reload: successful %v, targets %v", s["dns_sla_exporter_config_last_reload_successful"], s["dns_sla_targets"])
	}

	// The server dies: up goes to 0, network errors (ICMP port unreachable, TCP RST) or timeouts rise.
	failures := func(s scrape, target string) float64 {
		return s[series("dns_sla_probes_total", target, ip, "network_error")] + s[series("dns_sla_probes_total", target, ip, "timeout")]
	}
	s = get(t, metricsURL)
	f0, f0tcp := failures(s, "ok"), failures(s, "tcp")
	dm.Process.Kill()
	dm.Wait()
	eventually(t, "dns_sla_up 0 after the server died", func() bool {
		s := get(t, metricsURL)
		return s[series("dns_sla_up", "ok", ip, "")] == 0 && s[series("dns_sla_up", "tcp", ip, "")] == 0 &&
			failures(s, "ok") >= f0+2 && failures(s, "tcp") >= f0tcp+2 &&
			s[series("dns_sla_consecutive_failures", "ok", ip, "")] >= 2
	})
}

func TestConfigCheck(t *testing.T) {
	bin := testenv.Binary(t, "dns_sla_exporter")
	out, err := exec.Command(bin, "--config.check", "--config.file=../../deploy/examples/dns_sla_exporter.yml").CombinedOutput()
	if err != nil {
		t.Errorf("example config: %v\n%s", err, out)
	}
	fixture := "../../exporter/config/testdata/timeout-not-less-than-interval.yml"
	cmd := exec.Command(bin, "--config.check", "--config.file="+fixture)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("bad config: exit %v, want 1", err)
	}
	want := fixture + `:7: target "dns1": timeout 600ms must be less than interval 500ms`
	if !strings.Contains(string(out), want) {
		t.Errorf("output %q does not name the file, line and reason %q", out, want)
	}
}
