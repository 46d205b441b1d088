// Package scheduler runs one probe loop per target: ticks on an absolute
// schedule (start phase spread over the interval, no drift), one probe in
// flight per target, a tick skipped rather than piled up when a probe
// overran, and targets added, changed or removed on reload without touching
// the others.
package scheduler

import (
	"context"
	"hash/fnv"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/metrics"
	"github.com/slaroute/slaroute/exporter/probe"
)

// Prober runs one probe; the scheduler never calls it concurrently.
type Prober interface {
	Probe(ctx context.Context) probe.Outcome
	Close() error
}

// NewProber builds the prober of a target.
type NewProber func(config.Target) (Prober, error)

// Scheduler owns the probe loops.
type Scheduler struct {
	clock     Clock
	metrics   *metrics.Metrics
	newProber NewProber
	logger    *slog.Logger

	mu      sync.Mutex
	loops   map[string]*loop
	stopped bool
	align   atomic.Pointer[Alignment]

	work chan *loop    // ticks for idle workers
	quit chan struct{} // closed by Stop: idle workers exit
}

// workerIdle is how long an idle worker waits for a tick before exiting.
const workerIdle = 10 * time.Second

type loop struct {
	s      *Scheduler
	target config.Target
	prober Prober
	tm     *metrics.Target
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	next   time.Time     // the tick being waited for or probed
	phase  time.Duration // Offset of the target's name: hashed once
	up     bool          // last result, for logging changes
	probed bool

	mu    sync.Mutex // orders re-arming against stop (which cancels ctx)
	timer Timer
}

// New returns a scheduler with no targets. A nil clock or newProber means
// the real ones.
func New(m *metrics.Metrics, clock Clock, newProber NewProber, logger *slog.Logger) *Scheduler {
	if clock == nil {
		clock = RealClock{}
	}
	if newProber == nil {
		newProber = func(t config.Target) (Prober, error) { return probe.New(t) }
	}
	s := &Scheduler{clock: clock, metrics: m, newProber: newProber, logger: logger, loops: map[string]*loop{},
		work: make(chan *loop), quit: make(chan struct{})}
	s.align.Store(new(Alignment))
	return s
}

// Offset is a target's phase within its interval: stable per name, so
// restarts keep the schedule and many targets spread evenly.
func Offset(name string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(interval))
}

// nextTick is the tick after prev at phase off: the first that is not in
// the past at now and more than half an interval after prev. With off
// unchanged that is prev's grid (no drift, missed ticks skipped); with off
// moved by an alignment, the first tick on the new grid.
func nextTick(prev, now time.Time, off, interval time.Duration) time.Time {
	if half := prev.Add(interval / 2); half.After(now) {
		now = half
	}
	return tickAfter(now, off, interval)
}

// firstTick is the first tick at or after now at phase off, measured on the
// wall clock so the phase survives restarts.
func firstTick(now time.Time, off, interval time.Duration) time.Time {
	return tickAfter(now.Add(-1), off, interval)
}

func withoutLine(t config.Target) config.Target {
	t.Line = 0
	return t
}

// Apply makes the running loops match targets. Unchanged targets keep
// running with their counters; changed ones restart (keeping their series
// when the labels are the same); removed ones stop and lose their series.
// It returns once the stopped loops have exited.
func (s *Scheduler) Apply(targets []config.Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	want := make(map[string]config.Target, len(targets))
	for _, t := range targets {
		want[t.Name] = t
	}
	// Build every new prober first so that a failure changes nothing.
	probers := map[string]Prober{}
	for _, t := range targets {
		if l, ok := s.loops[t.Name]; ok && reflect.DeepEqual(withoutLine(l.target), withoutLine(t)) {
			continue
		}
		p, err := s.newProber(t)
		if err != nil {
			for _, p := range probers {
				p.Close()
			}
			return err
		}
		probers[t.Name] = p
	}
	var stopping []*loop
	keep := map[string]*metrics.Target{}
	for name, l := range s.loops {
		t, still := want[name]
		if still && probers[name] == nil {
			continue
		}
		l.stop()
		stopping = append(stopping, l)
		delete(s.loops, name)
		if still && slices.Equal(t.Labels(), l.tm.Labels()) {
			keep[name] = l.tm
		}
	}
	for _, l := range stopping {
		<-l.done
		if keep[l.target.Name] == nil {
			s.metrics.Delete(l.tm.Labels())
		}
	}
	for _, t := range targets {
		p := probers[t.Name]
		if p == nil {
			continue
		}
		tm := keep[t.Name]
		if tm == nil {
			tm = s.metrics.Target(t.Labels())
		}
		s.start(t, p, tm)
	}
	s.metrics.Targets.Set(float64(len(s.loops)))
	return nil
}

// start arms the first tick of a target. A loop holds no goroutine between
// probes: each tick runs on a pooled worker, and the next tick is armed only
// after the probe finished, so probes of one target never overlap.
func (s *Scheduler) start(t config.Target, p Prober, tm *metrics.Target) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{s: s, target: t, prober: p, tm: tm, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		phase: Offset(t.Name, t.Interval)}
	s.loops[t.Name] = l
	now := s.clock.Now()
	l.next = firstTick(now, aligned(l.phase, t.Interval, *s.align.Load()), t.Interval)
	l.mu.Lock()
	l.timer = s.clock.AfterFunc(l.next.Sub(now), func() { s.dispatch(l) })
	l.mu.Unlock()
}

// dispatch runs a tick on an idle worker, or on the calling goroutine. Workers are
// reused because a fresh goroutine per probe spends much of the probe's CPU
// growing its stack; their number follows the probes in flight and shrinks
// when idle.
func (s *Scheduler) dispatch(l *loop) {
	select {
	case s.work <- l:
	default:
		s.worker(l) // the timer's goroutine becomes a worker
	}
}

func (s *Scheduler) worker(l *loop) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		l.tick()
		idle.Reset(workerIdle)
		select {
		case l = <-s.work:
		case <-idle.C:
			return
		case <-s.quit:
			return
		}
	}
}

func (l *loop) tick() {
	s, t := l.s, &l.target
	if l.ctx.Err() != nil {
		l.finish()
		return
	}
	now := s.clock.Now()
	s.metrics.Lag.Observe(max(now.Sub(l.next), 0).Seconds())
	o := l.prober.Probe(l.ctx)
	if l.ctx.Err() != nil {
		l.finish() // stopped mid-probe: the outcome says nothing about the server
		return
	}
	now = s.clock.Now()
	l.tm.Record(o, now)
	if o.Result != probe.Success && s.logger.Enabled(l.ctx, slog.LevelDebug) {
		s.logger.Debug("Probe failed", "target", t.Name, "result", o.Result.String(), "err", o.Err)
	}
	if up := o.Result == probe.Success; up != l.up || !l.probed {
		l.up, l.probed = up, true
		s.logger.Info("Target state", "target", t.Name, "up", up, "result", o.Result.String())
	}
	l.next = nextTick(l.next, now, aligned(l.phase, t.Interval, *s.align.Load()), t.Interval)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		l.finish()
		return
	}
	l.timer.Reset(l.next.Sub(now))
}

// stop cancels the loop; done closes once no probe is in flight.
func (l *loop) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancel()
	if l.timer.Stop() {
		l.finish() // the tick was pending, not running: nobody else will finish
	}
}

func (l *loop) finish() {
	l.prober.Close()
	close(l.done)
}

// Stop ends every loop and waits for them; Apply does nothing afterwards.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	defer close(s.quit)
	for _, l := range s.loops {
		l.stop()
	}
	for name, l := range s.loops {
		<-l.done
		delete(s.loops, name)
	}
}

// Len is the number of running loops.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.loops)
}
