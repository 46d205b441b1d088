// Package daemon is the plumbing both binaries share: Prometheus-style flags,
// logging, the exporter-toolkit web server (TLS, basic auth, landing page),
// health and readiness endpoints, and configuration reloads on SIGHUP and
// POST /-/reload with the usual *_config_last_reload_* metrics.
// It keeps the mains thin: flags -> options -> Run(ctx).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"
	"go.yaml.in/yaml/v3"
)

// Flags are the command-line flags common to both binaries.
type Flags struct {
	ConfigFile      *string
	ConfigCheck     *bool
	TelemetryPath   *string
	Unauthenticated *bool // nil unless the binary guards non-loopback listeners
	Web             *web.FlagConfig
	Log             *promslog.Config
	// Timeouts bound every connection; AddFlags sets DefaultTimeouts.
	Timeouts Timeouts
}

// Timeouts of the HTTP server. Without them a client that sends a body one
// byte at a time, or opens keep-alive connections and goes quiet, holds a
// goroutine, a file descriptor and its buffers forever.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included. A 4 MiB webhook
	// takes milliseconds even over a slow link.
	Read time.Duration
	// Write bounds the time from the end of the request headers to the end of
	// the response: a /metrics of 5,000 targets (~160,000 series) is written in
	// well under a second, and a webhook answers after its reconcile (IOS:
	// a few seconds at worst).
	Write time.Duration
	// Idle closes a keep-alive connection with no request for this long. It is
	// above Prometheus' scrape intervals (up to 2m in practice) and
	// Alertmanager's client idle timeout (90s), and as long as Prometheus'
	// (5m), so a scraper's connection is reused rather than torn down.
	Idle time.Duration
}

// DefaultTimeouts need no tuning: each is far above what a legitimate client
// needs and still bounds what a hostile one can hold.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: time.Minute, Write: 2 * time.Minute, Idle: 5 * time.Minute}

// NewServer returns the http.Server both daemons run (via exporter-toolkit's
// web.ListenAndServe), with its timeouts set.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// AddFlags registers the common flags on app. With guardExposure, the binary
// refuses a non-loopback listener without authentication unless
// --web.unauthenticated is given (see CheckExposure).
func AddFlags(app *kingpin.Application, name, defaultConfig, defaultListen string, guardExposure bool) *Flags {
	f := &Flags{
		ConfigFile:    app.Flag("config.file", name+" configuration file.").Default(defaultConfig).String(),
		ConfigCheck:   app.Flag("config.check", "Validate the configuration file, print the result and exit (0 valid, 1 invalid).").Bool(),
		TelemetryPath: app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String(),
		Log:           &promslog.Config{},
		Timeouts:      DefaultTimeouts,
	}
	if guardExposure {
		f.Unauthenticated = app.Flag("web.unauthenticated", "Allow listening on a non-loopback address without authentication in --web.config.file.").Bool()
	}
	f.Web = webflag.AddFlags(app, defaultListen)
	promslogflag.AddFlags(app, f.Log)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	// --help and --version answer a question, as blackbox_exporter's do:
	// stdout, so `| less` and `| grep` work. Usage after an error stays on stderr.
	app.UsageWriter(os.Stdout)
	return f
}

// Program is what one binary serves.
type Program struct {
	Name        string // e.g. dns_sla_exporter; prefixes the self metrics
	Description string
	Logger      *slog.Logger
	// Registry receives build info, reload and Go/process metrics, and is served on the telemetry path.
	Registry *prometheus.Registry
	// Ready reports whether the program can do its work (GET /-/ready).
	Ready func() bool
	// Telemetry, when set, builds the telemetry path's handler from the
	// options the default one uses (e.g. to serve subsets of Registry).
	Telemetry func(promhttp.HandlerOpts) http.Handler
	// Handlers are extra endpoints by pattern, e.g. "POST /webhook".
	Handlers map[string]http.Handler
	// Landing replaces the default landing page when set.
	Landing http.Handler
	Links   []web.LandingLinks
}

// Reloader wraps a reload function with the <name>_config_last_reload_* metrics.
type Reloader struct {
	mu      sync.Mutex
	fn      func(ctx context.Context) error
	success prometheus.Gauge
	stamp   prometheus.Gauge
}

// NewReloader registers the reload metrics for name on reg.
func NewReloader(reg prometheus.Registerer, name string, fn func(ctx context.Context) error) *Reloader {
	r := &Reloader{
		fn: fn,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: name + "_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		stamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: name + "_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(r.success, r.stamp)
	return r
}

// Loaded records a load that already happened outside the reloader (the
// program loaded its configuration while being built), so the first real
// reload is the first SIGHUP or POST /-/reload.
func (r *Reloader) Loaded() {
	r.success.Set(1)
	r.stamp.SetToCurrentTime()
}

// Reload runs the reload function once at a time and records its outcome.
// The function re-reads the configuration file and swaps it in; on error the
// old configuration must keep running. Serve calls it on SIGHUP and POST /-/reload.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fn(ctx); err != nil {
		r.success.Set(0)
		return err
	}
	r.Loaded()
	return nil
}

// RegisterStandard adds build info and the Go and process collectors to reg.
func RegisterStandard(reg prometheus.Registerer, name string) {
	reg.MustRegister(
		versioncollector.NewCollector(name),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// Mux builds the HTTP handler of a program: telemetry, health, readiness,
// reload, the program's own endpoints and the landing page.
func Mux(f *Flags, p Program, reload func(context.Context) error) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	opts := promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(p.Logger.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          p.Registry,
		EnableOpenMetrics: true,
	}
	telemetry := promhttp.HandlerFor(p.Registry, opts)
	if p.Telemetry != nil {
		telemetry = p.Telemetry(opts)
	}
	mux.Handle(*f.TelemetryPath, telemetry)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if p.Ready != nil && !p.Ready() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		if err := reload(r.Context()); err != nil {
			p.Logger.Error("Reload failed", "err", err)
			http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	for pattern, h := range p.Handlers {
		mux.Handle(pattern, h)
	}
	landing := p.Landing
	if landing == nil {
		links := append([]web.LandingLinks{{Address: *f.TelemetryPath, Text: "Metrics"}}, p.Links...)
		lp, err := web.NewLandingPage(web.LandingConfig{
			Name:        p.Name,
			Description: p.Description,
			Version:     version.Info(),
			Links:       links,
		})
		if err != nil {
			return nil, fmt.Errorf("building landing page: %w", err)
		}
		landing = lp
	}
	mux.Handle("/", landing)
	return mux, nil
}

// Serve runs the web server until ctx is done, reloading on SIGHUP.
// The caller has already loaded the configuration once.
func Serve(ctx context.Context, f *Flags, p Program, reloader *Reloader) error {
	mux, err := Mux(f, p, reloader.Reload)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := reloader.Reload(ctx); err != nil {
					p.Logger.Error("Reload on SIGHUP failed; keeping the previous configuration", "err", err)
				} else {
					p.Logger.Info("Reloaded configuration on SIGHUP")
				}
			}
		}
	}()

	srv := NewServer(mux, f.Timeouts)
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, f.Web, p.Logger) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		<-errc
		return nil
	}
}

// CheckExposure refuses, for binaries that guard exposure, a listen address
// that is not loopback when the web config requires neither basic auth nor
// client certificates, unless --web.unauthenticated is set: an endpoint that
// moves routes must not be open to the network by accident.
func CheckExposure(f *Flags) error {
	if f.Unauthenticated == nil || *f.Unauthenticated {
		return nil
	}
	var exposed []string
	if f.Web.WebSystemdSocket != nil && *f.Web.WebSystemdSocket {
		exposed = append(exposed, "systemd socket")
	}
	for _, addr := range *f.Web.WebListenAddresses {
		if !isLoopback(addr) {
			exposed = append(exposed, addr)
		}
	}
	if len(exposed) == 0 {
		return nil
	}
	authed, err := webConfigAuthenticates(*f.Web.WebConfigFile)
	if err != nil {
		return err
	}
	if !authed {
		return fmt.Errorf("refusing to listen on %v without authentication: set basic_auth_users or client_auth_type: RequireAndVerifyClientCert in --web.config.file, listen on a loopback address, or pass --web.unauthenticated", exposed)
	}
	return nil
}

func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func webConfigAuthenticates(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	if err := web.Validate(path); err != nil {
		return false, fmt.Errorf("invalid --web.config.file %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c struct {
		TLS struct {
			ClientAuth string `yaml:"client_auth_type"`
		} `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, fmt.Errorf("invalid --web.config.file %s: %w", path, err)
	}
	return len(c.Users) > 0 || c.TLS.ClientAuth == "RequireAndVerifyClientCert", nil
}

// Main runs a program's standard life cycle for its thin main: parse flags,
// handle --config.check, refuse an exposed listener (CheckExposure) before
// run touches anything, build the logger, run until SIGINT/SIGTERM.
// check validates the configuration file; run does the work until ctx is done.
func Main(app *kingpin.Application, f *Flags, name string, check func(file string) error, run func(ctx context.Context, logger *slog.Logger) error) int {
	kingpin.MustParse(app.Parse(os.Args[1:]))
	if *f.ConfigCheck {
		if err := check(*f.ConfigFile); err != nil {
			fmt.Fprintf(os.Stderr, "%s: configuration invalid: %v\n", name, err)
			return 1
		}
		fmt.Printf("%s: configuration %s is valid\n", name, *f.ConfigFile)
		return 0
	}
	logger := promslog.New(f.Log)
	logger.Info("Starting "+name, "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())
	if err := CheckExposure(f); err != nil {
		logger.Error("Exiting", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("Exiting", "err", err)
		return 1
	}
	logger.Info("Stopped")
	return 0
}
