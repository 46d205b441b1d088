//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Proc is one daemon the lab started inside a namespace, tracked by PID.
type Proc struct {
	Name string
	NS   string
	Log  string // combined stdout+stderr
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// startProc runs argv inside ns (`ip netns exec` execs it, so the PID is
// the daemon's own), logging to dir/name.log (appended across restarts).
func startProc(dir, ns, name string, argv ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "==== %s start: %v\n", time.Now().Format(time.RFC3339Nano), argv)
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: a ^C at the terminal reaches the lab, which then
	// stops its daemons in order instead of having them die under it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, NS: ns, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID of the daemon.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited returns a channel closed when the process exits.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return fmt.Errorf("%s (pid %d) is not running", p.Name, p.PID())
	}
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM (and SIGCONT, in case it is stopped), waits up to
// grace, then SIGKILLs. Stopping an exited process is a no-op.
func (p *Proc) Stop(grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	p.Kill()
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Err is the exit error once the process has exited.
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// killNS kills every process still inside namespace ns (stale labs).
func killNS(ns string) error {
	out, err := ip("netns", "pids", ns)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range splitFields(out) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err != nil || pid <= 1 {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d in %s: %w", pid, ns, err))
		}
	}
	return errors.Join(errs...)
}

// logTail returns the last lines of the daemon's log, for error messages.
func (p *Proc) logTail() string {
	if p == nil {
		return ""
	}
	state := "running"
	if !p.Running() {
		state = "exited"
	}
	return fmt.Sprintf("\n%s (%s, %s) log tail:\n%s", p.Name, state, p.Log, tail(p.Log, 8))
}
