// Command dns_sla_exporter probes DNS servers continuously, like Cisco IP SLA
// DNS operations, and exposes the results as Prometheus metrics.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slaroute/slaroute/cmd/internal/daemon"
	"github.com/slaroute/slaroute/exporter"
	"github.com/slaroute/slaroute/exporter/config"
)

const name = "dns_sla_exporter"

func newApp() (*kingpin.Application, *daemon.Flags) {
	app := kingpin.New(name, "Probes DNS servers every interval and exposes SLA metrics for Prometheus.")
	return app, daemon.AddFlags(app, name, name+".yml", ":9753", false)
}

func main() {
	app, f := newApp()
	os.Exit(daemon.Main(app, f, name, check, func(ctx context.Context, logger *slog.Logger) error {
		reg := prometheus.NewRegistry()
		daemon.RegisterStandard(reg, name)
		e, err := exporter.New(exporter.Options{ConfigFile: *f.ConfigFile, Registry: reg, Logger: logger})
		if err != nil {
			return err
		}
		reloader := daemon.NewReloader(reg, name, e.Reload)
		if err := reloader.Reload(ctx); err != nil {
			return err
		}
		go e.Run(ctx)
		return daemon.Serve(ctx, f, daemon.Program{
			Name:        name,
			Description: "Continuous DNS SLA probes",
			Logger:      logger,
			Registry:    reg,
			Ready:       e.Ready,
			// collect[]=verdict for the fast job, the rest at the usual pace.
			Telemetry: func(o promhttp.HandlerOpts) http.Handler { return e.MetricsHandler(reg, o) },
		}, reloader)
	}))
}

func check(file string) error {
	_, err := config.Load(file)
	return err
}
