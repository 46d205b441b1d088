package ios

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/scrapli/scrapligo/driver/network"
	"github.com/scrapli/scrapligo/driver/options"
	"github.com/scrapli/scrapligo/transport"
	"github.com/scrapli/scrapligo/util"
	"golang.org/x/crypto/ssh"

	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// Metrics are the IOS backend's metrics, registered once per process so that
// a reload can replace the backend without re-registering them.
type Metrics struct {
	SessionUp       prometheus.Gauge
	Reconnects      prometheus.Counter
	CommandDuration prometheus.Histogram
	CLIErrors       prometheus.Counter
}

// NewMetrics creates the IOS backend metrics and registers them on reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		SessionUp: f.NewGauge(prometheus.GaugeOpts{
			Name: "route_actuator_ios_session_up",
			Help: "Whether the SSH CLI session to the router is open (1) or not (0).",
		}),
		Reconnects: f.NewCounter(prometheus.CounterOpts{
			Name: "route_actuator_ios_reconnects_total",
			Help: "SSH CLI sessions opened again after a previous session was lost.",
		}),
		CommandDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "route_actuator_ios_command_duration_seconds",
			Help:    "Time from sending a CLI command (or a batch of configuration lines) to its prompt.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		CLIErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "route_actuator_ios_cli_errors_total",
			Help: "Commands the router rejected with a CLI error message.",
		}),
	}
}

// Backend drives one IOS router over one long-lived SSH CLI session, opened
// lazily and reopened after any error. Calls are serialized.
type Backend struct {
	cfg     Config
	m       *Metrics
	logger  *slog.Logger
	host    string
	timeout time.Duration
	opts    []util.Option // hold the secrets; never logged
	owner   owner

	mu     sync.Mutex
	sess   *network.Driver // the open session, nil if none
	opened bool            // a session was opened before: the next open is a reconnect
	closed bool
}

var _ route.Backend = (*Backend)(nil)

// New reads the secret files and the known_hosts file and prepares the
// session options; it does not connect. Call it again on reload to pick up
// changed files. managed maps each configured prefix to its VRF ("" the
// global table): routes are installed there, and without route_tag those
// are the lines that are ours.
func New(cfg Config, managed map[netip.Prefix]string, m *Metrics, logger *slog.Logger) (*Backend, error) {
	if err := configkit.Validate(&cfg); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Validate checked the address and the platform; it read the files too,
	// but they may have changed since.
	host, port, _ := splitAddress(cfg.Address)
	plat, _ := loadPlatform(cfg.Platform)
	masked := make(map[netip.Prefix]string, len(managed))
	for p, vrf := range managed {
		if vrf != "" && !validVRF(vrf) {
			return nil, fmt.Errorf("route %s: vrf %q is not a VRF name", p, vrf)
		}
		masked[p.Masked()] = vrf
	}
	hostport := net.JoinHostPort(host, strconv.Itoa(port))
	// scrapligo dials fmt.Sprintf("%s:%d"): bracket IPv6 literals.
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	algs, err := hostKeyAlgorithms(cfg.KnownHostsFile, hostport)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cfg.Timeout)
	opts := append(plat.AsOptions(),
		options.WithTransportType(transport.StandardTransport),
		options.WithPort(port),
		options.WithAuthUsername(cfg.Username),
		options.WithSSHKnownHostsFile(cfg.KnownHostsFile),
		options.WithStandardTransportHostKeyAlgorithms(algs),
		options.WithTimeoutSocket(timeout),
		options.WithTimeoutOps(timeout),
	)
	if cfg.PasswordFile != "" {
		pw, err := readSecret(cfg.PasswordFile, "password_file")
		if err != nil {
			return nil, err
		}
		opts = append(opts, options.WithAuthPassword(pw))
	}
	if cfg.PrivateKeyFile != "" {
		key, err := readKey(cfg.PrivateKeyFile, cfg.PassphraseFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, options.WithStandardTransportPrivateKeyBytes(key, ""))
	}
	if cfg.EnableSecretFile != "" {
		secret, err := readSecret(cfg.EnableSecretFile, "enable_secret_file")
		if err != nil {
			return nil, err
		}
		opts = append(opts, options.WithAuthSecondary(secret))
	}
	// Fail now on options scrapligo refuses, not at the first change.
	if _, err := network.NewDriver(host, opts...); err != nil {
		return nil, fmt.Errorf("ios session options: %w", err)
	}
	return &Backend{
		cfg: cfg, m: m, logger: logger.With("router", hostport),
		host: host, timeout: timeout, opts: opts, owner: owner{tag: cfg.RouteTag, managed: masked},
	}, nil
}

// List returns our routes: with route_tag, every route carrying it; without,
// the routes for the managed prefixes.
func (b *Backend) List(ctx context.Context) ([]route.Route, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	es, err := b.read(ctx)
	if err != nil {
		return nil, err
	}
	return b.owner.routes(es), nil
}

// Set reads the running config once, sends only the lines that differ from
// want (per route adds before removes) in one configuration batch,
// optionally saves, and reads the routes back. IOS edits one nexthop per
// line, so the lines come from that one read.
func (b *Backend) Set(ctx context.Context, want ...route.Route) ([]route.Route, error) {
	norm := make([]route.Route, len(want))
	for i, w := range want {
		norm[i] = route.New(w.Prefix, w.Nexthops...)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	es, err := b.read(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	failed := map[netip.Prefix]bool{} // not sent: the read back does not wait for them
	var lines []string
	n := 0 // routes that change
	for _, w := range norm {
		l, err := b.lines(es, w)
		if err != nil {
			errs = append(errs, err)
			failed[w.Prefix] = true
		} else if len(l) > 0 {
			lines = append(lines, l...)
			n++
		}
	}
	if len(lines) == 0 { // nothing to send: already as wanted
		return b.installed(es, norm), errors.Join(errs...)
	}
	err = b.send(ctx, lines)
	if errors.Is(err, errCLI) && n > 1 {
		// A rejected line ends the batch, so the routes after it were not
		// sent: send route by route, so that the rejected one fails alone.
		b.logger.Warn("IOS rejected a line of the batch; sending route by route", "err", err)
		if es, err = b.read(ctx); err == nil {
			for _, w := range norm {
				l, _ := b.lines(es, w)
				if len(l) == 0 {
					continue
				}
				if err = b.send(ctx, l); errors.Is(err, errCLI) {
					errs = append(errs, fmt.Errorf("route %s: %w", w.Prefix, err))
					failed[w.Prefix], err = true, nil
				} else if err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	if b.cfg.SaveConfig {
		if _, err := b.command(ctx, "write memory"); err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
	}
	got, err := b.readBack(ctx, norm, failed)
	return got, errors.Join(append(errs, err)...)
}

// lines returns the configuration lines that turn es into w.
func (b *Backend) lines(es []entry, w route.Route) ([]string, error) {
	have := b.owner.lines(es, w.Prefix)
	l, err := renderLines(b.owner.managed[w.Prefix], w.Prefix, have, w.Nexthops, b.cfg.RouteTag)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", w.Prefix, err)
	}
	return l, nil
}

// installed returns the routes for want's prefixes as es holds them.
func (b *Backend) installed(es []entry, want []route.Route) []route.Route {
	out := make([]route.Route, len(want))
	for i, w := range want {
		out[i] = b.owner.installed(b.owner.lines(es, w.Prefix), w.Prefix)
	}
	return out
}

// readBack reads the routes after a change. A device may apply
// configuration asynchronously (FRR's vtysh hands it to staticd): until it
// shows want (but for the failed prefixes, never sent), it reads again for
// up to the timeout, then returns what it last read.
func (b *Backend) readBack(parent context.Context, want []route.Route, failed map[netip.Prefix]bool) ([]route.Route, error) {
	ctx, cancel := context.WithTimeout(parent, b.timeout)
	defer cancel()
	wait := 2 * time.Millisecond
	var have []route.Route
	for polled := false; ; polled = true {
		es, err := b.read(ctx)
		if err != nil {
			// The poll's own deadline cut a read short (a slow device): the
			// previous read back stands, as when the deadline ends a wait.
			if polled && ctx.Err() != nil && parent.Err() == nil {
				return have, nil
			}
			return nil, fmt.Errorf("read back: %w", err)
		}
		have = b.installed(es, want)
		if slices.EqualFunc(have, want, func(h, w route.Route) bool { return failed[w.Prefix] || h.Equal(w) }) {
			return have, nil
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return nil, fmt.Errorf("read back: %w", err)
			}
			return have, nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Close ends the session. The backend is unusable afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.drop(false)
}

// read returns the device's static routes. A reused session may have died
// while idle (IOS closes idle vty lines after exec-timeout): then it reads
// once more on a fresh session, which is safe because reading changes nothing.
func (b *Backend) read(ctx context.Context) ([]entry, error) {
	reused := b.sess != nil
	out, err := b.command(ctx, showRoutes)
	if err != nil && reused && errors.Is(err, route.ErrUnavailable) && ctx.Err() == nil {
		b.logger.Info("IOS session lost, reopening", "err", err)
		out, err = b.command(ctx, showRoutes)
	}
	if err != nil {
		return nil, err
	}
	return parseRoutes(out), nil
}

// session returns the open session, opening one if needed.
func (b *Backend) session(ctx context.Context) (*network.Driver, error) {
	if b.closed {
		return nil, errors.New("ios backend closed")
	}
	if b.sess != nil && b.sess.Transport.IsAlive() {
		return b.sess, nil
	}
	_ = b.drop(false)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open session: %w: %w", route.ErrUnavailable, err)
	}
	d, err := network.NewDriver(b.host, b.opts...)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- d.Open() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// scrapligo cannot cancel an open; close it once it returns.
		go func() {
			if <-done == nil {
				_ = d.Driver.Close()
			}
		}()
		err = ctx.Err()
	}
	if err != nil {
		err = b.loginError(err)
		b.logger.Warn("Cannot open IOS session", "err", err)
		return nil, fmt.Errorf("open session: %w: %w", route.ErrUnavailable, err)
	}
	if b.opened {
		b.m.Reconnects.Inc()
	}
	b.opened = true
	b.sess = d
	b.m.SessionUp.Set(1)
	b.logger.Info("Opened IOS session", "duration", time.Since(start))
	return d, nil
}

// loginError names the user, router and methods of a refused login, which
// x/crypto/ssh may report as "unexpected message type 51 (expected 60)".
func (b *Backend) loginError(err error) error {
	if msg := err.Error(); !strings.Contains(msg, "unable to authenticate") && !strings.Contains(msg, "unexpected message type 51") {
		return err
	}
	var methods []string
	if b.cfg.PasswordFile != "" {
		methods = append(methods, "password ("+b.cfg.PasswordFile+")")
	}
	if b.cfg.PrivateKeyFile != "" {
		methods = append(methods, "publickey ("+b.cfg.PrivateKeyFile+")")
	}
	return fmt.Errorf("router %s refused login as user %q with %s: check username and credentials: %w",
		b.cfg.Address, b.cfg.Username, strings.Join(methods, ", "), err)
}

// drop ends the session: a healthy one is left with `exit` as the platform
// says, a failed one (hard) is just torn down.
func (b *Backend) drop(hard bool) error {
	b.m.SessionUp.Set(0)
	if b.sess == nil {
		return nil
	}
	var err error
	if hard {
		err = b.sess.Driver.Close()
	} else {
		err = b.sess.Close()
	}
	b.sess = nil
	if errors.Is(err, util.ErrConnectionError) {
		return nil
	}
	return err
}

// splitAddress accepts host or host:port (port 22 by default).
func splitAddress(a string) (string, int, error) {
	host, ps, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(a, "[]"), 22, nil
		}
		return "", 0, fmt.Errorf("ios address %q: %w", a, err)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("ios address %q: invalid port", a)
	}
	return host, int(port), nil
}

// readSecret returns the file's content without its trailing newline.
func readSecret(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ios %s: %w", key, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("ios %s %s is empty", key, path)
	}
	return s, nil
}

// readKey returns the private key as unencrypted PEM for scrapligo, which
// cannot decrypt keys itself; the decrypted key stays in memory only.
func readKey(path, passphraseFile string) ([]byte, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ios private_key_file: %w", err)
	}
	if passphraseFile == "" {
		if _, err := ssh.ParsePrivateKey(pemBytes); err != nil {
			if errors.As(err, new(*ssh.PassphraseMissingError)) {
				return nil, fmt.Errorf("ios private_key_file %s is encrypted: set passphrase_file", path)
			}
			return nil, fmt.Errorf("ios private_key_file %s: %w", path, err)
		}
		return pemBytes, nil
	}
	pass, err := readSecret(passphraseFile, "passphrase_file")
	if err != nil {
		return nil, err
	}
	key, err := ssh.ParseRawPrivateKeyWithPassphrase(pemBytes, []byte(pass))
	if err != nil {
		return nil, fmt.Errorf("ios private_key_file %s: %w", path, err)
	}
	blk, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, fmt.Errorf("ios private_key_file %s: %w", path, err)
	}
	return pem.EncodeToMemory(blk), nil
}
