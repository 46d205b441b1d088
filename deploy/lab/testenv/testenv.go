// Package testenv is the shared plumbing of slaroute's tests: the CI=true
// rule for missing tools or root, free loopback ports, the built binaries,
// processes killed by PID when the test ends, HTTP and DNS readiness,
// documentation blocks, and route_actuator run inside a network namespace and
// fed Alertmanager webhooks. Only _test.go files (and deploy/lab) import it;
// it depends on the standard library and miekg/dns alone.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/deploy/bench/benchfmt"
)

// Missing fails the test when CI=true (CI must run everything) and skips it
// otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireTool returns the path of a program on $PATH, or calls Missing.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found (run make deps): %v", name, err)
	}
	return p
}

// RequireRoot calls Missing unless the test runs as root; why says what for.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root (%s)", why)
	}
}

// FreeAddr returns a 127.0.0.1:port that was free for TCP a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// BinDir returns the directory holding dns_sla_exporter and route_actuator:
// $SLAROUTE_BIN (the Makefile sets it) or a fresh build of both.
func BinDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("SLAROUTE_BIN"); dir != "" {
		return dir
	}
	dir := t.TempDir()
	for _, name := range []string{"dns_sla_exporter", "route_actuator"} {
		build(t, dir, name)
	}
	return dir
}

// Binary returns one built binary (dns_sla_exporter or route_actuator):
// $SLAROUTE_BIN/name, which must exist, or a fresh build.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("SLAROUTE_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SLAROUTE_BIN=%s: %v", dir, err)
		}
		return p
	}
	return build(t, t.TempDir(), name)
}

// build compiles ./cmd/name by import path, so it works from any package
// directory of the module.
func build(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", p, "github.com/slaroute/slaroute/cmd/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return p
}

// Proc is a process started by Start.
type Proc struct {
	Cmd *exec.Cmd
	out lockedBuffer
}

// Output is what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Start starts cmd with stdout and stderr captured (unless already set) and
// kills it by PID when the test ends, logging its output if the test failed.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd}
	if cmd.Stdout == nil && cmd.Stderr == nil {
		cmd.Stdout, cmd.Stderr = &p.out, &p.out
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if out := p.Output(); t.Failed() && out != "" {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out)
		}
	})
	return p
}

// WaitHTTP polls url with c (http.DefaultClient if nil) until it answers
// 200 OK, failing the test after timeout.
func WaitHTTP(t testing.TB, c *http.Client, url string, timeout time.Duration) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	if err := benchfmt.WaitHTTP(context.Background(), c, url, timeout, nil); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// WaitDNS polls the DNS server at addr (host:port) until a query for name
// (type A) is answered NOERROR over both UDP and TCP, failing the test after
// timeout. A started server binds its sockets some time after exec returns:
// a test that probes it before then counts "connection refused" as a
// network_error under load.
func WaitDNS(t testing.TB, addr, name string, timeout time.Duration) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	deadline := time.Now().Add(timeout)
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: 500 * time.Millisecond}
		for {
			r, _, err := c.Exchange(q, addr)
			if err == nil && r.Rcode != dns.RcodeSuccess {
				err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("DNS server %s not answering %s over %s after %v: %v", addr, name, network, timeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// DocBlock returns the text of the repository's file (e.g. "docs/exporter.md")
// between <!-- BEGIN name --> and <!-- END name -->: the part of the docs a test
// holds to the code.
func DocBlock(t testing.TB, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), file))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "<!-- BEGIN "+name+" -->")
	block, _, ok2 := strings.Cut(block, "<!-- END "+name+" -->")
	if !ok || !ok2 {
		t.Fatalf("%s has no %s block", file, name)
	}
	return block
}

// RepoRoot is the directory of go.mod above the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// lockedBuffer is written by exec's copying goroutines while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
