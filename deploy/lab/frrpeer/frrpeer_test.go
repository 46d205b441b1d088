//go:build linux

package frrpeer

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// The lab reuses the peer in a namespace it owns: the peer must start there
// without creating namespaces, and Stop must leave the namespace in place
// with none of the peer's processes in it.
func TestExistingNamespace(t *testing.T) {
	if m := Missing(); m != "" {
		testenv.Missing(t, "%s is required", m)
	}
	ns := "slrios-x-" + randomSuffix()
	if out, err := exec.Command(IP, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(IP, "netns", "del", ns).Run() })
	if out, err := exec.Command(IP, "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, Options{Namespace: ns, SSHPort: 2222})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if p.Namespace != ns || p.ServerNamespace != "" || p.Addr != "127.0.0.1:2222" {
		t.Errorf("peer = %+v", p)
	}
	out, err := p.Vtysh(ctx, "show running-config")
	if err != nil || !strings.Contains(out, "hostname rtr1") {
		t.Fatalf("vtysh: %v\n%s", err, out)
	}
	// sshd answers through the forwarder with an SSH banner.
	c, err := net.DialTimeout("tcp", p.HostAddr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-OpenSSH") {
		t.Fatalf("banner %q: %v", banner, err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/netns/" + ns); err != nil {
		t.Errorf("Stop removed the caller's namespace: %v", err)
	}
	pids, _ := exec.Command(IP, "netns", "pids", ns).Output()
	if s := strings.TrimSpace(string(pids)); s != "" {
		t.Errorf("processes left in %s: %s", ns, s)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s: %v", p.Dir, err)
	}
}
