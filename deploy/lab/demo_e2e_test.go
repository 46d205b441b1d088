//go:build e2e && linux

package lab

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// TestDemo runs `labctl demo` as `make demo` does (its own lab, next to the
// e2e one) and checks what it tells the operator: the printed curl for the
// actuator works as printed (credentials included) while the lab waits for
// Enter, the timeline page it names shows every scenario when chromium
// renders it, and Enter tears the lab down but keeps the advertised
// directory with the timeline.
func TestDemo(t *testing.T) {
	requireLab(t, "prometheus", "prometheus-alertmanager", "curl")
	bin := testenv.BinDir(t)
	repo := testenv.RepoRoot(t)
	labctl := filepath.Join(t.TempDir(), "labctl")
	if out, err := exec.Command("go", "build", "-o", labctl, filepath.Join(repo, "deploy", "lab", "cmd", "labctl")).CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "demo-lab")
	cmd := exec.Command(labctl, "--bin", bin, "--repo", repo, "--dir", dir, "demo")
	cmd.Dir = repo
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	prefix := "slab" + strconv.Itoa(cmd.Process.Pid)
	exited := make(chan error, 1)
	var mu sync.Mutex
	var out strings.Builder
	waiting := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "Press Enter to tear it down") {
				once.Do(func() { close(waiting) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	t.Cleanup(func() {
		// Whatever happened: the demo's processes and namespaces go.
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = DownPrefix(prefix)
		if t.Failed() {
			t.Logf("labctl output:\n%s\nstderr:\n%s", output(), stderr.String())
		}
	})
	select {
	case <-waiting:
	case err := <-exited:
		t.Fatalf("labctl demo exited before waiting for Enter: %v", err)
	case <-time.After(6 * time.Minute):
		t.Fatal("labctl demo did not reach 'Press Enter' within 6 minutes")
	}
	text := output()
	if !strings.Contains(text, "configs, data and logs in "+dir) {
		t.Errorf("the demo does not advertise its directory %s", dir)
	}

	// The printed curl, run as printed, reaches the actuator's state API.
	var curl string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "curl") && strings.Contains(l, ActuatorAddr) {
			curl = strings.TrimSpace(l)
		}
	}
	if curl == "" {
		t.Fatalf("no curl command for the actuator (%s) printed", ActuatorAddr)
	}
	res, err := exec.Command("bash", "-c", curl+" -w '\\n%{http_code}'").Output()
	if err != nil {
		t.Fatalf("printed command %q: %v", curl, err)
	}
	var body, code string
	if i := strings.LastIndex(string(res), "\n"); i >= 0 {
		body, code = strings.TrimSpace(string(res[:i])), strings.TrimSpace(string(res[i+1:]))
	}
	var st ActuatorState
	if code != "200" || json.Unmarshal([]byte(body), &st) != nil || len(st.Routes) != 1 || st.Routes[0].Prefix != ServicePrefix.String() {
		t.Errorf("printed command %q: HTTP %s, body %.300s; want 200 and the route %s", curl, code, body, ServicePrefix)
	}
	// Without its credentials the same request is refused: they matter.
	noAuth := regexp.MustCompile(`-u .*? (http://)`).ReplaceAllString(curl, "$1")
	if res, _ := exec.Command("bash", "-c", noAuth+" -o /dev/null -w '%{http_code}'").Output(); strings.TrimSpace(string(res)) != "401" {
		t.Errorf("without credentials (%q): HTTP %s, want 401", noAuth, res)
	}

	// The timeline page: named in the output, inside the lab directory.
	m := regexp.MustCompile(`Timeline of each scenario \(open in a browser\): (\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("the demo does not print its timeline's path")
	}
	timeline := m[1]
	if filepath.Dir(timeline) != dir {
		t.Errorf("timeline %s is not in the lab directory %s", timeline, dir)
	}
	victim := []string{}
	for range Modes {
		victim = append(victim, "dns2")
	}
	CheckTimelinePage(t, timeline, len(Modes)+1, victim...)

	// Enter: torn down, directory and timeline kept, and said so last.
	if _, err := io.WriteString(stdin, "\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("labctl demo after Enter: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("labctl demo did not exit within 2 minutes of Enter")
	}
	if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), prefix+"-") {
		t.Errorf("namespaces %s-* left behind:\n%s", prefix, ns)
	}
	if _, err := os.Stat(timeline); err != nil {
		t.Errorf("timeline gone after teardown: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(output()), "\n")
	if last := lines[len(lines)-1]; last != "Timeline of each scenario: "+timeline {
		t.Errorf("last line %q, want the timeline's path", last)
	}
	if !strings.Contains(output(), "kept in "+dir) {
		t.Errorf("teardown does not say the directory %s is kept", dir)
	}
}
