//go:build linux

// Package frrpeertest adapts frrpeer to tests: frrpeer itself returns errors
// and never imports testing, so that the lab and the benches can use it too.
package frrpeertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// Start starts a peer for a test and stops it in t.Cleanup. A missing tool
// or privilege skips the test, or fails it when CI=true (CI must run it).
func Start(t testing.TB, o frrpeer.Options) *frrpeer.Peer {
	t.Helper()
	if m := frrpeer.Missing(); m != "" {
		testenv.Missing(t, "frrpeer: %s is required", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := frrpeer.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"zebra.log", "staticd.log", "sshd.log"} {
				if b, err := os.ReadFile(p.Dir + "/" + f); err == nil && len(b) > 0 {
					t.Logf("frrpeer %s:\n%s", f, b)
				}
			}
		}
		if err := p.Stop(); err != nil {
			t.Errorf("frrpeer stop: %v", err)
		}
	})
	return p
}
