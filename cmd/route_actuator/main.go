// Command route_actuator keeps ECMP routes to DNS service addresses installed
// via exactly the healthy servers, driven by Alertmanager webhooks.
package main

import (
	"context"
	"log/slog"
	"os"
	"strconv"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/slaroute/slaroute/actuator"
	"github.com/slaroute/slaroute/actuator/webhook"
	"github.com/slaroute/slaroute/cmd/internal/daemon"
)

const name = "route_actuator"

// newApp registers the flags; options turns them into actuator.Options once parsed.
func newApp() (app *kingpin.Application, flags *daemon.Flags, options func() actuator.Options) {
	app = kingpin.New(name, "Withdraws and restores ECMP nexthops of DNS service routes from Alertmanager webhooks.")
	flags = daemon.AddFlags(app, name, "route_actuator.yml", "127.0.0.1:9754", true)
	dryRun := app.Flag("dry-run", "Compute, log and expose the plan (/api/v1/routes, route_actuator_changes_total{result=\"dry_run\"}) but never change the device.").Bool()
	maxBody := app.Flag("webhook.max-body-size", "Largest webhook body accepted; larger ones get 413. Raise it only for groups of thousands of alerts (or set max_alerts in Alertmanager's webhook_config).").
		Default(strconv.Itoa(webhook.DefaultMaxBodyBytes>>20) + "MiB").Bytes()
	maxRequests := app.Flag("webhook.max-requests", "Most webhook requests handled at once; more get 503, which Alertmanager retries.").
		Default(strconv.Itoa(webhook.DefaultMaxRequests)).Int()
	storage := app.Flag("storage.path", "Directory of the state file (operators' drains, dampening penalties), written atomically on every change.").
		Default("data/").String()
	return app, flags, func() actuator.Options {
		return actuator.Options{ConfigFile: *flags.ConfigFile, DryRun: *dryRun, WebhookMaxBodyBytes: int64(*maxBody), WebhookMaxRequests: *maxRequests,
			StoragePath: *storage}
	}
}

func main() {
	app, flags, options := newApp()
	os.Exit(daemon.Main(app, flags, name, actuator.CheckConfig, func(ctx context.Context, logger *slog.Logger) error {
		reg := prometheus.NewRegistry()
		o := options()
		o.Registry, o.Logger = reg, logger
		a, err := actuator.New(o)
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
		Links: []web.LandingLinks{{Address: "/api/v1/routes", Text: "Routes (JSON)"}, {Address: "/api/v1/drains", Text: "Drains (JSON)"},
			{Address: "/api/v1/events", Text: "Route changes and their causes (JSON)"}},
	}, reloader)
	cancel()
	<-done
	return err
}
