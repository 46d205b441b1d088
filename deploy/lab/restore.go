//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/load"
)

// Traffic is the realistic client load of the lab (package load): UDP
// queries from fresh random source ports, long-lived TCP DNS sessions and
// zone transfers, all to the service address from the client namespace.
type Traffic struct {
	Rate      float64
	UDP       *load.UDP
	Sessions  *load.Sessions
	Transfers *load.Transfers
}

// TrafficConfig sizes a Traffic.
type TrafficConfig struct {
	Rate      float64 // UDP queries/s
	Sessions  int     // TCP sessions, one query every 200 ms each (default 24)
	Transfers int     // concurrent AXFRs of XfrZone (default 6)
}

// StartTraffic starts the load; Stop it.
func (l *Lab) StartTraffic(c TrafficConfig) (*Traffic, error) {
	if c.Sessions == 0 {
		c.Sessions = 24
	}
	if c.Transfers == 0 {
		c.Transfers = 6
	}
	srcs := l.ClientAddrs()
	t := &Traffic{Rate: c.Rate}
	var err error
	if t.UDP, err = load.StartUDP(load.UDPConfig{NS: l.Client, Srcs: srcs, Dst: netip.AddrPortFrom(ServiceAddr, 53),
		Name: WhoamiName, Rate: c.Rate}); err != nil {
		return nil, err
	}
	t.Sessions = &load.Sessions{NS: l.Client, Srcs: srcs, Dst: netip.AddrPortFrom(ServiceAddr, 53), Name: WhoamiName, N: c.Sessions}
	t.Transfers = &load.Transfers{NS: l.Client, Srcs: srcs, Dst: netip.AddrPortFrom(ServiceAddr, XfrPort), Zone: XfrZone, N: c.Transfers}
	if err := t.Sessions.Start(); err != nil {
		_, _ = t.UDP.Stop()
		return nil, err
	}
	if err := t.Transfers.Start(); err != nil {
		t.Sessions.Stop()
		_, _ = t.UDP.Stop()
		return nil, err
	}
	return t, nil
}

// Stop ends the load and returns the UDP generator's error, if any.
func (t *Traffic) Stop() error {
	t.Sessions.Stop()
	t.Transfers.Stop()
	_, err := t.UDP.Stop()
	return err
}

// Step is the share measurement: one restore's results under Traffic.
const Step = 500 * time.Millisecond

// Restore is one restore of a server measured under Traffic.
type Restore struct {
	Server      string
	RecoveredAt time.Time // server started again
	RestoredAt  time.Time // its nexthop back in the kernel route
	Until       time.Time // end of the observation
	// UDP queries/s actually sent during the observation (the generator may
	// fall short of the configured rate on a busy machine), and lost.
	Achieved float64
	Lost     int
	// TCP sessions and zone transfers on the surviving servers when the
	// server came back, and how many of them broke afterwards (reset or
	// closed: distinct sessions); SessionTimeouts counts queries of those
	// sessions that timed out instead (an overloaded machine, not a move).
	Sessions, SessionsBroken, SessionTimeouts int
	Transfers, TransfersBroken                int
	// Share is the returning server's share of the answered new UDP queries
	// in consecutive Steps from RestoredAt; Fair is 1/servers.
	Share []float64
	Fair  float64
	// FairAfter is the end of the first step whose share reached 90% of
	// Fair (-1: not within the observation).
	FairAfter time.Duration
}

// ShareAt returns the share in the step ending at d after the restore (-1
// when the observation was shorter).
func (r Restore) ShareAt(d time.Duration) float64 {
	i := int(d/Step) - 1
	if i < 0 || i >= len(r.Share) {
		return -1
	}
	return r.Share[i]
}

// RestoreOpts bounds MeasureRestore.
type RestoreOpts struct {
	WithdrawTimeout, RestoreTimeout time.Duration
	// Settle is the wait between the withdraw and the recovery, so sessions
	// and transfers broken by the withdraw are back on the survivors.
	Settle time.Duration
	// Max bounds the observation after the restore (it ends earlier, once
	// the share has been fair for two steps and 2 s have passed).
	Max time.Duration
}

// MeasureRestore stops s, waits for its withdraw and Settle, starts it again
// and follows the restore under t: what broke on the surviving servers and
// how fast s gets its share of new queries.
func (e *Env) MeasureRestore(t *Traffic, s *Server, o RestoreOpts) (Restore, error) {
	var r Restore
	if err := s.Stop(); err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.WithdrawTimeout)
	_, err := e.Watcher.WaitFor(ctx, Without(s.Addr))
	cancel()
	if err != nil {
		_ = s.Start()
		return r, fmt.Errorf("%s: withdraw: %w", s.Name, err)
	}
	time.Sleep(o.Settle)
	recovered := time.Now()
	if err := s.Start(); err != nil {
		return r, err
	}
	ctx, cancel = context.WithTimeout(context.Background(), o.RestoreTimeout)
	defer cancel()
	restored, err := e.Watcher.WaitFor(ctx, Exactly(e.Nexthops()...))
	if err != nil {
		return r, fmt.Errorf("%s: restore: %w", s.Name, err)
	}
	return e.ObserveRestore(t, s, recovered, restored, o.Max), nil
}

// ObserveRestore follows the restore of s (started at recovered, its nexthop
// back in the route at restored) under t, for at most limit after restored.
func (e *Env) ObserveRestore(t *Traffic, s *Server, recovered, restored time.Time, limit time.Duration) Restore {
	r := Restore{Server: s.Name, Fair: 1 / float64(len(e.Servers)), FairAfter: -1, RecoveredAt: recovered, RestoredAt: restored}
	// Follow until fair for two steps (and at least 2 s), or Max; then one
	// UDP timeout more, so every query of the last step has its outcome.
	for {
		time.Sleep(Step)
		r.Until = time.Now()
		r.share(t.UDP.Snapshot())
		n := len(r.Share)
		fair := n >= 2 && r.Share[n-1] >= 0.9*r.Fair && r.Share[n-2] >= 0.9*r.Fair
		if (fair && r.Until.Sub(r.RestoredAt) >= 2*time.Second) || r.Until.Sub(r.RestoredAt) >= limit {
			break
		}
	}
	time.Sleep(1200 * time.Millisecond)
	st := t.UDP.Snapshot()
	r.share(st)
	w := st.Window(r.RecoveredAt, r.Until)
	sent := 0
	for _, n := range w {
		sent += n
	}
	r.Lost = w[""]
	r.Achieved = float64(sent) / r.Until.Sub(r.RecoveredAt).Seconds()

	survivor := func(name string) bool { return name != "" && name != s.Name }
	for name, n := range t.Sessions.OnAt(r.RecoveredAt) {
		if survivor(name) {
			r.Sessions += n
		}
	}
	broken := map[int]bool{}
	for _, b := range t.Sessions.Breaks() {
		if b.At.Before(r.RecoveredAt) || b.At.After(r.Until) || !survivor(b.Server) {
			continue
		}
		if b.Err == "timeout" {
			r.SessionTimeouts++
		} else {
			broken[b.ID] = true
		}
	}
	r.SessionsBroken = len(broken)
	xs := append(t.Transfers.Running(), t.Transfers.Done()...)
	for _, x := range xs {
		running := x.Start.Before(r.RecoveredAt) && (x.End.IsZero() || x.End.After(r.RecoveredAt))
		if !running || !survivor(x.Server) {
			continue
		}
		r.Transfers++
		if !x.Complete && x.Err != "" && !x.End.After(r.Until) {
			r.TransfersBroken++
		}
	}
	return r
}

// share fills Share from the queries sent since RestoredAt, in Steps up to
// Until, and FairAfter.
func (r *Restore) share(st load.UDPStats) {
	r.Share = r.Share[:0]
	r.FairAfter = -1
	for at := r.RestoredAt; !at.Add(Step).After(r.Until); at = at.Add(Step) {
		w := st.Window(at, at.Add(Step))
		answered := 0
		for name, n := range w {
			if name != "" {
				answered += n
			}
		}
		share := 0.0
		if answered > 0 {
			share = float64(w[r.Server]) / float64(answered)
		}
		r.Share = append(r.Share, share)
		if r.FairAfter < 0 && share >= 0.9*r.Fair {
			r.FairAfter = time.Duration(len(r.Share)) * Step
		}
	}
}

// SharesText formats the shares as "0.5s 12% | 1.0s 33% ...".
func (r Restore) SharesText() string {
	var out []string
	for i, s := range r.Share {
		out = append(out, fmt.Sprintf("%.1fs %.0f%%", float64(i+1)*Step.Seconds(), 100*s))
	}
	return strings.Join(out, "  ")
}
