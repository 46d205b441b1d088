// Package exporter glues the dns_sla_exporter together: configuration,
// metrics and the probe scheduler. The web server lives in the main.
package exporter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/exporter/config"
	"github.com/slaroute/slaroute/exporter/metrics"
	"github.com/slaroute/slaroute/exporter/scheduler"
)

// Options configure an Exporter.
type Options struct {
	ConfigFile string
	Registry   prometheus.Registerer
	Logger     *slog.Logger
	// Clock and NewProber are for tests; nil means the real ones.
	Clock     scheduler.Clock
	NewProber scheduler.NewProber
}

// Exporter probes the configured targets continuously.
type Exporter struct {
	opts   Options
	sched  *scheduler.Scheduler
	mu     sync.Mutex
	cfg    *config.Config
	loaded atomic.Bool
}

// New registers the metrics; probing starts with the first successful Reload.
func New(o Options) (*Exporter, error) {
	if o.Registry == nil {
		return nil, errors.New("exporter: nil registry")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := metrics.New(o.Registry)
	return &Exporter{opts: o, sched: scheduler.New(m, o.Clock, o.NewProber, o.Logger)}, nil
}

// Reload reads the configuration file and applies it; on any error the
// running configuration is left untouched.
func (e *Exporter) Reload(_ context.Context) error {
	cfg, err := config.Load(e.opts.ConfigFile)
	if err != nil {
		return err
	}
	return e.Apply(cfg)
}

// Apply switches to cfg.
func (e *Exporter) Apply(cfg *config.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.sched.Apply(cfg.Targets); err != nil {
		return err
	}
	e.cfg = cfg
	e.loaded.Store(true)
	e.opts.Logger.Info("Configuration applied", "file", e.opts.ConfigFile, "targets", len(cfg.Targets))
	return nil
}

// Config returns the running configuration (nil before the first load).
func (e *Exporter) Config() *config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Ready reports whether a configuration is loaded and probing.
func (e *Exporter) Ready() bool { return e.loaded.Load() }

// Run probes until ctx is done, then stops every probe loop.
func (e *Exporter) Run(ctx context.Context) error {
	<-ctx.Done()
	e.sched.Stop()
	return nil
}
