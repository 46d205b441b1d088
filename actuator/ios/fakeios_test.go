package ios

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// fakeIOS is an in-process SSH server that behaves like an IOS vty line:
// `rtr1>` exec mode, `enable` with a secret, `rtr1#`, `rtr1(config)#`, the
// real IOS error strings, and a running config of `ip route` lines.
type fakeIOS struct {
	t        testing.TB
	ln       net.Listener
	addr     string
	hostKeys []ssh.Signer
	password string
	secret   string // enable secret; "" = enable needs none

	mu         sync.Mutex
	routes     []string // running config, IOS mask form
	received   []string // every line received except the enable secret
	auths      int      // authentication attempts
	sessions   int
	reject     string        // a config line containing this is rejected
	swallow    bool          // accept config lines but never apply them
	applyDelay time.Duration // config takes effect after this
	showDelay  time.Duration // show running-config answers after this
	conns      []net.Conn
}

func newFakeIOS(t testing.TB, password, secret string, routes ...string) *fakeIOS {
	t.Helper()
	return newFakeIOSAt(t, "127.0.0.1:0", password, secret, routes...)
}

func newFakeIOSAt(t testing.TB, listen, password, secret string, routes ...string) *fakeIOS {
	t.Helper()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIOS{t: t, password: password, secret: secret, routes: routes}
	for _, k := range []any{edKey, rsaKey} {
		s, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		f.hostKeys = append(f.hostKeys, s)
	}
	f.ln, err = net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	f.addr = f.ln.Addr().String()
	t.Cleanup(func() { f.ln.Close(); f.dropAll() })
	go f.serve()
	return f
}

// knownHosts writes a known_hosts file pinning the fake's keys of the given
// types (ssh.KeyAlgoED25519, ssh.KeyAlgoRSA) and returns its path.
func (f *fakeIOS) knownHosts(types ...string) string {
	var b strings.Builder
	for _, k := range f.hostKeys {
		if slices.Contains(types, k.PublicKey().Type()) {
			b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(f.addr)}, k.PublicKey()) + "\n")
		}
	}
	return writeFile(f.t, "known_hosts", b.String())
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fakeIOS) serve() {
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.auths++
			if string(pw) == f.password {
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		},
	}
	for _, k := range f.hostKeys {
		cfg.AddHostKey(k)
	}
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		go f.handle(c, cfg)
	}
}

// dropAll cuts every connection, like a router reload or an idle timeout.
func (f *fakeIOS) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *fakeIOS) handle(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for r := range creqs {
				_ = r.Reply(r.Type == "pty-req" || r.Type == "shell", nil)
				if r.Type == "shell" {
					f.mu.Lock()
					f.sessions++
					f.mu.Unlock()
					go f.cli(ch)
				}
			}
		}()
	}
}

type mode int

const (
	modeExec mode = iota
	modePassword
	modePriv
	modeConfig
)

func (m mode) prompt() string {
	switch m {
	case modePassword:
		return "Password: "
	case modePriv:
		return "rtr1#"
	case modeConfig:
		return "rtr1(config)#"
	}
	return "rtr1>"
}

// cli echoes input like a terminal and answers each line.
func (f *fakeIOS) cli(ch ssh.Channel) {
	defer ch.Close()
	m := modeExec
	_, _ = io.WriteString(ch, "\r\n\r\nrtr1>")
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := ch.Read(buf); err != nil {
			return
		}
		switch buf[0] {
		case '\r', '\n':
			out, next, quit := f.exec(m, string(line))
			line = line[:0]
			if quit {
				return
			}
			m = next
			_, _ = io.WriteString(ch, "\r\n"+out+m.prompt())
		default:
			line = append(line, buf[0])
			if m != modePassword {
				_, _ = ch.Write(buf)
			}
		}
	}
}

const invalidInput = "         ^\r\n% Invalid input detected at '^' marker.\r\n\r\n"

// exec answers one line in mode m: output, next mode, end of session.
func (f *fakeIOS) exec(m mode, line string) (string, mode, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m != modePassword {
		f.received = append(f.received, line)
	}
	cmd := strings.TrimSpace(line)
	switch {
	case m == modePassword:
		if cmd == f.secret {
			return "", modePriv, false
		}
		return "% Access denied\r\n\r\n", modeExec, false
	case cmd == "":
		return "", m, false
	case cmd == "exit" && m != modeConfig:
		return "", m, true
	case strings.HasPrefix(cmd, "terminal length") || strings.HasPrefix(cmd, "terminal width"):
		return "", m, false
	}
	switch m {
	case modeExec:
		if cmd == "enable" {
			if f.secret == "" {
				return "", modePriv, false
			}
			return "", modePassword, false
		}
	case modePriv:
		switch cmd {
		case showRoutes:
			time.Sleep(f.showDelay)
			var b strings.Builder
			for _, r := range f.routes {
				b.WriteString(r + "\r\n")
			}
			return b.String(), m, false
		case "configure terminal":
			return "Enter configuration commands, one per line.  End with CNTL/Z.\r\n", modeConfig, false
		case "write memory":
			return "Building configuration...\r\n[OK]\r\n", m, false
		case "disable":
			return "", modeExec, false
		}
	case modeConfig:
		switch {
		case cmd == "end" || cmd == "exit":
			return "", modePriv, false
		case f.reject != "" && strings.Contains(cmd, f.reject):
			return invalidInput, m, false
		case strings.HasPrefix(cmd, "ip route ") && len(strings.Fields(cmd)) >= 5,
			strings.HasPrefix(cmd, "ipv6 route ") && len(strings.Fields(cmd)) >= 4:
			f.config(func() { f.routes = append(f.routes, cmd) })
			return "", m, false
		case strings.HasPrefix(cmd, "no ip route ") && len(strings.Fields(cmd)) >= 6,
			strings.HasPrefix(cmd, "no ipv6 route ") && len(strings.Fields(cmd)) >= 5:
			r := strings.TrimPrefix(cmd, "no ")
			if !slices.Contains(f.routes, r) {
				return "%No matching route to delete\r\n", m, false
			}
			f.config(func() { f.routes = slices.DeleteFunc(f.routes, func(s string) bool { return s == r }) })
			return "", m, false
		case strings.HasPrefix(cmd, "ip route") || strings.HasPrefix(cmd, "no ip route") ||
			strings.HasPrefix(cmd, "ipv6 route") || strings.HasPrefix(cmd, "no ipv6 route"):
			return "% Incomplete command.\r\n\r\n", m, false
		}
	}
	return invalidInput, m, false
}

// config applies a change now, later, or never (called with f.mu held).
func (f *fakeIOS) config(apply func()) {
	switch {
	case f.swallow:
	case f.applyDelay > 0:
		time.AfterFunc(f.applyDelay, func() { f.mu.Lock(); defer f.mu.Unlock(); apply() })
	default:
		apply()
	}
}

func (f *fakeIOS) state() (routes, received []string, auths, sessions int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.routes), slices.Clone(f.received), f.auths, f.sessions
}
