package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/state"
)

// Options are the parsed command line.
type Options struct {
	Command        string // "status", "drain add", "drain list", "drain remove", "events"
	ConfigFile     string
	URL            *url.URL
	Username       string
	PasswordFile   string
	HTTPConfigFile string
	Who            string
	Output         string // "simple" or "json"
	Timeout        time.Duration

	Route   string
	Nexthop string
	Reason  string
	Expires string // duration from Now, or RFC 3339
	Force   bool
	Since   uint64
	Limit   int

	Now func() time.Time
}

// Run runs one command against the actuator and prints its answer to w.
func Run(ctx context.Context, o Options, w io.Writer) error {
	hc, err := httpClient(o)
	if err != nil {
		return err
	}
	if o.URL.User != nil {
		return errors.New("put credentials in --basic-auth.password-file or --http.config.file, not in --actuator.url")
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c := &apiv1.Client{URL: o.URL, HTTP: hc, Who: o.Who}
	if o.Route != "" {
		p, err := parseRoute(o.Route)
		if err != nil {
			return err
		}
		o.Route = p.String()
	}
	switch o.Command {
	case "status":
		r, raw, err := c.Routes(ctx)
		if err != nil {
			return err
		}
		return printJSONOr(w, o, raw, func() error { return writeStatus(w, r, o.Route) })
	case "drain add":
		req, err := drainRequest(o)
		if err != nil {
			return err
		}
		d, raw, err := c.AddDrain(ctx, req)
		if err != nil {
			return err
		}
		return printJSONOr(w, o, raw, func() error { return writeDrains(w, apiv1.Drains{Drains: []state.Drain{d}}) })
	case "drain list":
		d, raw, err := c.Drains(ctx)
		if err != nil {
			return err
		}
		return printJSONOr(w, o, raw, func() error { return writeDrains(w, d) })
	case "drain remove":
		d, raw, err := c.RemoveDrain(ctx, o.Nexthop, o.Route)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(raw)) == 0 { // 204
			raw = []byte(`{"drains":[]}`)
		}
		return printJSONOr(w, o, raw, func() error {
			if len(d.Drains) == 0 {
				_, err := fmt.Fprintf(w, "Drain of %s ended.\n", o.Nexthop)
				return err
			}
			fmt.Fprintln(w, "Ended:")
			return writeDrains(w, d)
		})
	case "events":
		e, raw, err := c.Events(ctx, o.Since, o.Limit)
		if err != nil {
			return err
		}
		return printJSONOr(w, o, raw, func() error { return writeEvents(w, e) })
	}
	return fmt.Errorf("unknown command %q", o.Command)
}

// drainRequest checks the flags before anything is sent; Run has
// normalised o.Route.
func drainRequest(o Options) (apiv1.DrainRequest, error) {
	req := apiv1.DrainRequest{Nexthop: o.Nexthop, Reason: o.Reason, Route: o.Route, Force: o.Force}
	if _, err := netip.ParseAddr(o.Nexthop); err != nil {
		return req, fmt.Errorf("nexthop %q is not an IP address", o.Nexthop)
	}
	if o.Expires != "" {
		if d, err := time.ParseDuration(o.Expires); err == nil {
			if d <= 0 {
				return req, fmt.Errorf("--expires %s is not in the future", o.Expires)
			}
			req.Expires = o.Now().Add(d).UTC().Truncate(time.Second)
		} else if t, err := time.Parse(time.RFC3339, o.Expires); err == nil {
			req.Expires = t
		} else {
			return req, fmt.Errorf("--expires %q is neither a duration (2h) nor an RFC 3339 time (2026-12-05T06:00:00Z)", o.Expires)
		}
	}
	return req, nil
}

// parseRoute reads a route as the actuator's service label does: a prefix,
// or a bare address meaning its host prefix.
func parseRoute(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil && p.Masked() == p {
		return p, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("route %q is not a prefix (192.0.2.53/32) or an address", s)
}

// httpClient builds the HTTP client with prometheus/common/config: basic
// auth with a password file from the flags, or a whole http_config file.
func httpClient(o Options) (*http.Client, error) {
	cfg := promconfig.DefaultHTTPClientConfig
	switch {
	case o.HTTPConfigFile != "" && (o.Username != "" || o.PasswordFile != ""):
		return nil, errors.New("--http.config.file and --basic-auth.* exclude each other")
	case o.HTTPConfigFile != "":
		c, _, err := promconfig.LoadHTTPConfigFile(o.HTTPConfigFile)
		if err != nil {
			return nil, fmt.Errorf("loading --http.config.file: %w", err)
		}
		cfg = *c
	case o.Username != "" || o.PasswordFile != "":
		if o.Username == "" || o.PasswordFile == "" {
			return nil, errors.New("--basic-auth.username and --basic-auth.password-file go together")
		}
		cfg = promconfig.HTTPClientConfig{BasicAuth: &promconfig.BasicAuth{Username: o.Username, PasswordFile: o.PasswordFile}}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return promconfig.NewClientFromConfig(cfg, name)
}

// printJSONOr prints the actuator's JSON as it sent it (indented, so
// fields newer than this client are kept) with -o json, else the table.
func printJSONOr(w io.Writer, o Options, raw []byte, table func() error) error {
	if o.Output != "json" {
		return table()
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("actuator sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
