// Command route_actuator keeps ECMP routes to DNS service addresses installed
// via exactly the healthy servers, driven by Alertmanager webhooks.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/slaroute/slaroute/actuator"
	"github.com/slaroute/slaroute/cmd/internal/daemon"
)

const name = "route_actuator"

func newApp() (*kingpin.Application, *daemon.Flags, *bool) {
	app := kingpin.New(name, "Withdraws and restores ECMP nexthops of DNS service routes from Alertmanager webhooks.")
	flags := daemon.AddFlags(app, name, "route_actuator.yml", "127.0.0.1:9754", true)
	dryRun := app.Flag("dry-run", "Compute, log and expose the plan (/api/v1/routes, route_actuator_changes_total{result=\"dry_run\"}) but never change the device.").Bool()
	return app, flags, dryRun
}

func main() {
	app, flags, dryRun := newApp()
	os.Exit(daemon.Main(app, flags, name, actuator.CheckConfig, func(ctx context.Context, logger *slog.Logger) error {
		reg := prometheus.NewRegistry()
		a, err := actuator.New(actuator.Options{ConfigFile: *flags.ConfigFile, DryRun: *dryRun, Registry: reg, Logger: logger})
		if err != nil {
			return err
		}
		return serve(ctx, flags, a, reg, logger)
	}))
}

// serve runs the actuator and its web server until ctx is done.
func serve(ctx context.Context, flags *daemon.Flags, a *actuator.Actuator, reg *prometheus.Registry, logger *slog.Logger) error {
	daemon.RegisterStandard(reg, name)
	// New has just loaded the configuration and built the backend.
	reloader := daemon.NewReloader(reg, name, a.Reload)
	reloader.Loaded()
	// The reconciler (and its backend) stops only after the server has
	// finished its requests, so no webhook applies to a closed backend.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	err := daemon.Serve(ctx, flags, daemon.Program{
		Name:        name,
		Description: "DNS load balancing by ECMP routing: Alertmanager webhooks withdraw and restore nexthops.",
		Logger:      logger,
		Registry:    reg,
		Ready:       a.Ready,
		Handlers:    a.Handlers(),
		Landing:     a.Landing(),
		Links:       []web.LandingLinks{{Address: "/api/v1/routes", Text: "Routes (JSON)"}},
	}, reloader)
	cancel()
	<-done
	return err
}
