package bgp

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestReloadsLeakNoGoroutines: a reload builds a new backend and closes the
// old one. GoBGP's Serve loop never returns, so a speaker dropped at Close
// would leave its goroutines behind on every reload; stopped speakers are
// reused instead. 30 start/close cycles (two backends alive at a time, as
// during a reload) end with the goroutines they started.
func TestReloadsLeakNoGoroutines(t *testing.T) {
	cfg := Config{LocalAS: 65001, RouterID: netip.MustParseAddr("127.0.0.2"), Neighbors: []Neighbor{{
		Address: netip.MustParseAddr("127.0.0.1"), PeerAS: 65000, Port: closedPort(t),
		HoldTime: model.Duration(3 * time.Second), Keepalive: model.Duration(time.Second), ConnectRetry: model.Duration(time.Second),
	}}}
	cycle := func(old *Backend) *Backend {
		b, err := New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := b.start(ctx); err != nil {
			t.Fatal(err)
		}
		if old != nil {
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	// Warm up: the first two speakers and GoBGP's package-level goroutines.
	b := cycle(cycle(nil))
	before := settled(0)
	for range 30 {
		b = cycle(b)
	}
	after := settled(before)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if after > before+2 {
		t.Errorf("goroutines: %d after 30 reloads, %d before (leak of ~%d per reload)", after, before, (after-before)/30)
	}
	t.Logf("goroutines: %d before, %d after 30 reloads", before, after)
}

// settled returns the goroutine count once it stops falling (or reaches
// target), waiting at most 3 s for stopped sessions to wind down.
func settled(target int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && n > target; {
		time.Sleep(50 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
