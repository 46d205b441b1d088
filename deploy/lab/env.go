//go:build linux

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/slaroute/slaroute/deploy/lab/frrpeer"
)

// Env is a whole running system: lab namespaces, monitoring stack and a
// watcher on the kernel route. The demo, the e2e tests and the bench share it.
type Env struct {
	*Lab
	Stack   *Stack
	Watcher *Watcher
	Log     *slog.Logger
}

// EnvConfig configures Setup.
type EnvConfig struct {
	Lab   Config
	Stack StackConfig
}

// Setup brings up the lab and the stack and waits until the route carries
// every server. On error everything started is torn down.
func Setup(cfg EnvConfig) (*Env, error) {
	if cfg.Lab.Logger == nil {
		cfg.Lab.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stack.Repo == "" {
		wd, _ := os.Getwd()
		repo, err := FindRepo(wd)
		if err != nil {
			return nil, err
		}
		cfg.Stack.Repo = repo
	}
	if cfg.Stack.Bin == "" {
		bin, err := BinDir(cfg.Stack.Repo, filepath.Join(cfg.Lab.Dir, "bin"))
		if err != nil {
			return nil, err
		}
		cfg.Stack.Bin = bin
	}
	l, err := New(cfg.Lab)
	if err != nil {
		return nil, err
	}
	if err := l.Up(); err != nil {
		return nil, err
	}
	e := &Env{Lab: l, Log: cfg.Lab.Logger}
	if e.Watcher, err = l.Watch(); err != nil {
		e.Down()
		return nil, err
	}
	if e.Stack, err = l.StartStack(cfg.Stack); err != nil {
		e.Down()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Watcher.WaitFor(ctx, Exactly(l.Nexthops()...)); err != nil {
		e.Down()
		return nil, fmt.Errorf("initial route: %w\n%s", err, tail(e.Stack.Proc(Actuator).Log, 30))
	}
	return e, nil
}

// Down stops everything, in order, and deletes the namespaces.
func (e *Env) Down() error {
	if e.Stack != nil {
		e.Stack.Stop()
	}
	if e.Watcher != nil {
		e.Watcher.Stop()
	}
	return e.Lab.Down()
}

// Mode is a way to make a DNS server fail.
type Mode string

const (
	ModeStop     Mode = "stop"     // daemon stopped
	ModeServfail Mode = "servfail" // SERVFAIL for the probe name
	ModeSilent   Mode = "silent"   // daemon frozen: timeouts
	// ModeProbeTimeout: the daemon answers clients but not the probe name.
	ModeProbeTimeout Mode = "probe-timeout"
)

// Modes in demo/bench order.
var Modes = []Mode{ModeStop, ModeServfail, ModeProbeTimeout, ModeSilent}

// Fail applies mode to server s.
func (e *Env) Fail(s *Server, m Mode) error {
	switch m {
	case ModeStop:
		return s.Stop()
	case ModeServfail:
		return s.ServFail()
	case ModeSilent:
		return s.Silence()
	case ModeProbeTimeout:
		return s.ProbeTimeout()
	}
	return fmt.Errorf("unknown failure mode %q", m)
}

// Healthy restores every server and waits until Alertmanager holds the
// heartbeat and no withdraw or freeze alert, the actuator's pipeline is
// healthy and it wants and has every nexthop, and the kernel route carries
// them all.
func (e *Env) Healthy(timeout time.Duration) error {
	for _, s := range e.Servers {
		if err := s.Start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var why string
	for {
		why = e.unhealthy()
		if why == "" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("healthy: %s", why)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := e.Watcher.WaitFor(ctx, Exactly(e.Nexthops()...)); err != nil {
		return fmt.Errorf("healthy: %w", err)
	}
	return nil
}

// unhealthy says why the chain is not in its healthy steady state, or "".
func (e *Env) unhealthy() string {
	as, err := e.Alerts(AlertmanagerAddr)
	if err != nil {
		return err.Error()
	}
	if f := Firing(as, "DNSServerDown", "DNSSLAProbesMissing"); len(f) > 0 {
		return fmt.Sprintf("alerts active: %v", f)
	}
	if len(Firing(as, "DNSSLAWatchdog")) == 0 {
		return "no DNSSLAWatchdog in Alertmanager yet"
	}
	st, err := e.ActuatorState()
	if err != nil {
		return err.Error()
	}
	if !st.Pipeline.Healthy {
		return "actuator pipeline unhealthy: " + st.Pipeline.Reason
	}
	if len(st.Routes) != 1 || !st.Routes[0].Converged || len(st.Routes[0].Desired) != len(e.Servers) {
		return fmt.Sprintf("actuator routes not all desired and converged: %+v", st.Routes)
	}
	return ""
}

// RouteState is one route of the actuator's /api/v1/routes.
type RouteState struct {
	Prefix    string   `json:"prefix"`
	Desired   []string `json:"desired"`
	Installed []string `json:"installed"`
	Converged bool     `json:"converged"`
}

// ActuatorState is the part of the actuator's /api/v1/routes the lab reads.
type ActuatorState struct {
	Pipeline struct {
		Healthy bool   `json:"healthy"`
		Reason  string `json:"reason"`
	} `json:"pipeline"`
	Routes []RouteState `json:"routes"`
}

// ActuatorState reads the actuator's state API.
func (e *Env) ActuatorState() (ActuatorState, error) {
	var st ActuatorState
	code, body, err := e.Get("http://" + ActuatorAddr + "/api/v1/routes")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("actuator /api/v1/routes: status %d: %w", code, err)
	}
	return st, nil
}

// Firing returns "alertname{target}" for the active alerts with these names.
func Firing(as []Alert, names ...string) []string {
	var out []string
	for _, a := range as {
		if slices.Contains(names, a.Labels["alertname"]) && a.Status.State == "active" {
			out = append(out, a.Labels["alertname"]+"{"+a.Labels["target"]+"}")
		}
	}
	slices.Sort(out)
	return out
}

// WaitAlert waits until the Alertmanager at addr has an active alert named
// name whose labels include match.
func (e *Env) WaitAlert(ctx context.Context, addr, name string, match map[string]string, active bool) error {
	for {
		as, err := e.Alerts(addr)
		if err == nil {
			found := false
			for _, a := range as {
				if a.Labels["alertname"] != name || a.Status.State != "active" {
					continue
				}
				ok := true
				for k, v := range match {
					ok = ok && a.Labels[k] == v
				}
				found = found || ok
			}
			if found == active {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("alert %s%v active=%v not reached at %s: %w (%v)", name, match, active, addr, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Failover is one measured withdraw and restore of a server.
type Failover struct {
	Server        string
	Mode          Mode
	Withdraw      time.Duration // failure injected -> nexthop gone from the kernel route
	Restore       time.Duration // recovery -> nexthop back
	FailedAt      time.Time
	WithdrawnAt   time.Time
	RecoveredAt   time.Time
	RestoredAt    time.Time
	Baseline      []Answer // every flow before the failure
	AfterWithdraw []Answer // every flow after the withdraw
	Moved         int      // survivors' flows that changed server
	Survivors     int      // flows on surviving servers before the failure
	ToFailed      int      // answers from the failed server after withdraw
	FailedQueries int      // client queries without answer after withdraw
	// With FailoverOpts.Load: queries sent from the failure to the withdraw,
	// those of them that failed, those that failed on flows of the surviving
	// servers, and the share of load flows the failed server had.
	LoadSent, LoadLost, LoadLostSurvivors int
	LoadShare                             float64
}

// FailoverOpts bounds one Failover.
type FailoverOpts struct {
	WithdrawTimeout, RestoreTimeout time.Duration
	// During, when set, runs while the server is failed and withdrawn.
	During func() error
	// Load, when set, queries at Rate per second over its flows from just
	// before the failure until shortly after the withdraw.
	Load *Clients
	Rate float64
}

// RunFailover fails s in mode m, waits for the withdraw, samples the clients,
// recovers s and waits for the restore.
func (e *Env) RunFailover(c *Clients, s *Server, m Mode, o FailoverOpts) (Failover, error) {
	f := Failover{Server: s.Name, Mode: m}
	f.Baseline = c.Sample(time.Second)
	var loadDone chan []Answer
	stopLoad := func() {}
	if o.Load != nil {
		ctx, cancel := context.WithCancel(context.Background())
		stopLoad = cancel
		loadDone = make(chan []Answer, 1)
		go func() { loadDone <- o.Load.Run(ctx, o.Rate) }()
		// One full round of every load flow before the failure.
		time.Sleep(time.Duration(float64(len(o.Load.Flows)) / o.Rate * 1.5 * float64(time.Second)))
	}
	f.FailedAt = time.Now()
	if err := e.Fail(s, m); err != nil {
		stopLoad()
		return f, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.WithdrawTimeout)
	at, err := e.Watcher.WaitFor(ctx, Without(s.Addr))
	cancel()
	if err != nil {
		stopLoad()
		_ = s.Start()
		return f, fmt.Errorf("%s %s: withdraw: %w", s.Name, m, err)
	}
	f.WithdrawnAt, f.Withdraw = at, at.Sub(f.FailedAt)
	if o.Load != nil {
		time.Sleep(600 * time.Millisecond) // let queries in flight at the withdraw finish
		stopLoad()
		answers := <-loadDone
		before := map[int]string{} // flow -> server before the failure
		for _, a := range answers {
			if a.At.Before(f.FailedAt) && a.Err == nil {
				before[a.Flow] = a.Server
			}
		}
		onVictim := 0
		for _, srv := range before {
			if srv == s.Name {
				onVictim++
			}
		}
		f.LoadShare = float64(onVictim) / float64(len(o.Load.Flows))
		for _, a := range answers {
			if a.At.Before(f.FailedAt) || a.At.After(f.WithdrawnAt) {
				continue
			}
			f.LoadSent++
			if a.Err != nil {
				f.LoadLost++
				if srv, ok := before[a.Flow]; ok && srv != s.Name {
					f.LoadLostSurvivors++
				}
			}
		}
	}
	f.AfterWithdraw = c.Sample(time.Second)
	for i, a := range f.AfterWithdraw {
		b := f.Baseline[i]
		if a.Err != nil {
			f.FailedQueries++
		} else if a.Server == s.Name {
			f.ToFailed++
		}
		if b.Err == nil && b.Server != s.Name {
			f.Survivors++
			if a.Server != b.Server {
				f.Moved++
			}
		}
	}
	if o.During != nil {
		if err := o.During(); err != nil {
			_ = s.Start()
			return f, err
		}
	}
	f.RecoveredAt = time.Now()
	if err := s.Start(); err != nil {
		return f, err
	}
	ctx, cancel = context.WithTimeout(context.Background(), o.RestoreTimeout)
	defer cancel()
	at, err = e.Watcher.WaitFor(ctx, Exactly(e.Nexthops()...))
	if err != nil {
		return f, fmt.Errorf("%s %s: restore: %w", s.Name, m, err)
	}
	f.RestoredAt, f.Restore = at, at.Sub(f.RecoveredAt)
	return f, nil
}

// Value evaluates expr in the lab Prometheus and returns the sum of its
// results (an error when there is none).
func (e *Env) Value(expr string) (float64, error) {
	res, err := e.Query(expr)
	if err != nil {
		return 0, err
	}
	if len(res) == 0 {
		return 0, fmt.Errorf("%s: no data", expr)
	}
	var sum float64
	for _, s := range res {
		sum += s.Value
	}
	return sum, nil
}

// SwitchToIOS replaces the netlink backend by the IOS backend driving a real
// FRR (zebra + staticd, vtysh behind sshd) in the router namespace: the
// actuator stops, its kernel route and nexthop objects are removed, FRR
// starts, and the actuator restarts speaking SSH to vtysh. Stop the returned
// peer before Down.
func (e *Env) SwitchToIOS(ctx context.Context) (*frrpeer.Peer, error) {
	e.Stack.StopOne(Actuator)
	if _, err := ip("-n", e.Router, "route", "del", ServicePrefix.String(), "proto", "250"); err != nil {
		return nil, err
	}
	if _, err := ip("-n", e.Router, "nexthop", "flush"); err != nil {
		return nil, err
	}
	p, err := frrpeer.Start(ctx, frrpeer.Options{Namespace: e.Router})
	if err != nil {
		return nil, err
	}
	err = e.Stack.UseIOS(map[string]any{
		"address":          p.Addr,
		"username":         p.Username,
		"private_key_file": p.PrivateKeyFile,
		"known_hosts_file": p.KnownHostsFile,
		"platform":         "cisco_iosxe",
		"route_tag":        53053,
		"timeout":          "10s",
	})
	if err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}
