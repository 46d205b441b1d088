// Package benchfmt holds what the bench mains under deploy/bench print alike:
// percentiles of measured durations, milliseconds, a program's version line,
// and what they measure alike: a process's CPU time, the load average, a free
// loopback port, a daemon's readiness.
package benchfmt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pct sorts d in place and returns its p-th percentile (nearest rank below).
func Pct(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[(len(d)-1)*p/100]
}

// Ms formats d as milliseconds with one decimal.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// FirstLine is the first non-blank line of s (e.g. `vtysh -c "show version"`), or "FRR".
func FirstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "FRR"
}

// CPUTicks is the CPU time (utime+stime, /proc/PID/stat) of process pid in
// 1/100 s, USER_HZ on Linux.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which may hold spaces and ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	s, err := strconv.ParseInt(f[12], 10, 64)
	return u + s, err
}

// LoadAvg is /proc/loadavg, printed before and after a bench: what else ran.
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return string(b)
}

// FreeAddr is a 127.0.0.1:port no socket listens on (at the time).
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitHTTP polls url every 100 ms until it answers 200 OK. It fails with the last
// answer once timeout has passed, and at once when ctx ends or exited (nil: never)
// is closed, which a caller uses for "the daemon died".
func WaitHTTP(ctx context.Context, c *http.Client, url string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("exited before it was ready")
		}
	}
}
