// Package config loads route_actuator.yml: strict YAML, defaults, and
// validation errors that name the file and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/ios"
	"github.com/slaroute/slaroute/actuator/netlink"
)

// Config is the whole route_actuator.yml.
type Config struct {
	Backend        Backend        `yaml:"backend"`
	Routes         []Route        `yaml:"routes"`
	Alerts         Alerts         `yaml:"alerts"`
	Alertmanager   Alertmanager   `yaml:"alertmanager"`
	ResyncInterval model.Duration `yaml:"resync_interval"`
}

// Backend selects and configures the device driver.
type Backend struct {
	Type    string          `yaml:"type"`
	Netlink *netlink.Config `yaml:"netlink,omitempty"`
	IOS     *ios.Config     `yaml:"ios,omitempty"`
	BGP     *bgp.Config     `yaml:"bgp,omitempty"`
}

// backendTypes are the values of backend.type, each also its section's key.
var backendTypes = []string{"netlink", "ios", "bgp"}

// Route is one service prefix and the nexthops that may carry it.
type Route struct {
	Prefix      netip.Prefix
	Nexthops    []netip.Addr // sorted, unique
	MinNexthops int
}

// Alerts says which alerts move routes and which labels name the nexthop and route.
type Alerts struct {
	Withdraw         []string       `yaml:"withdraw"`
	Freeze           []string       `yaml:"freeze"`
	NexthopLabel     string         `yaml:"nexthop_label"`
	ServiceLabel     string         `yaml:"service_label"`
	Heartbeat        string         `yaml:"heartbeat"`
	HeartbeatTimeout model.Duration `yaml:"heartbeat_timeout"`
	// HeartbeatMaxAge is the oldest the heartbeat's updatedAt in the
	// Alertmanager API may be for the pipeline to count as alive there. It
	// must exceed Prometheus' resend delay plus the rule interval (how often
	// Prometheus re-sends the heartbeat) and stay below 4 x resend delay
	// (when Alertmanager resolves the alerts of a dead Prometheus).
	HeartbeatMaxAge model.Duration `yaml:"heartbeat_max_age"`
	// RestoreDelay is how long a restore waits, without alertmanager.url,
	// for the heartbeat to prove it is still firing.
	RestoreDelay model.Duration `yaml:"restore_delay"`
}

// Alertmanager is the optional API used as the source of truth.
type Alertmanager struct {
	URL     string         `yaml:"url"`
	Timeout model.Duration `yaml:"timeout"`
}

// Defaults applied before decoding.
var (
	DefaultAlerts = Alerts{
		Withdraw:         []string{"DNSServerDown"},
		Freeze:           []string{"DNSSLAProbesMissing"},
		NexthopLabel:     "nexthop",
		ServiceLabel:     "service",
		HeartbeatTimeout: model.Duration(90 * time.Second),
		HeartbeatMaxAge:  model.Duration(3 * time.Second),
		RestoreDelay:     model.Duration(5 * time.Second),
	}
	DefaultAlertmanager   = Alertmanager{Timeout: model.Duration(2 * time.Second)}
	DefaultResyncInterval = model.Duration(10 * time.Second)
)

// Load reads and validates a configuration file.
func Load(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(file, b)
}

// Parse decodes b strictly; file prefixes every error as file:line: reason.
func Parse(file string, b []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty configuration", file)
		}
		return nil, withFile(file, err)
	}
	return &c, nil
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// withFile rewrites "line N: reason" from yaml and our own validation into "file:N: reason".
func withFile(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = fixLine(file, m)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(fixLine(file, err.Error()))
}

func fixLine(file, msg string) string {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		return file + ":" + m[1] + ": " + msg[len(m[0]):]
	}
	return file + ": " + msg
}

// lineErr is a validation error at a YAML line; Parse rewrites it to file:line.
func lineErr(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}

// valueLine returns the line of key's value in a mapping node, or the node's own line.
func valueLine(n *yaml.Node, key string) int {
	if v := keyNode(n, key); v != nil {
		return v.Line
	}
	return n.Line
}

// UnmarshalYAML applies defaults and checks what spans sections.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	*c = Config{Alerts: DefaultAlerts, Alertmanager: DefaultAlertmanager, ResyncInterval: DefaultResyncInterval}
	c.Alerts.Withdraw = slices.Clone(DefaultAlerts.Withdraw)
	c.Alerts.Freeze = slices.Clone(DefaultAlerts.Freeze)
	type plain Config
	if err := knownFields(n, "", plain{}); err != nil {
		return err
	}
	if err := checkDurations(n, "resync_interval"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	if !hasKey(n, "backend") {
		return lineErr(n.Line, "backend section must be set")
	}
	if len(c.Routes) == 0 {
		return lineErr(valueLine(n, "routes"), "at least one route must be configured")
	}
	seen := map[netip.Prefix]bool{}
	routes := keyNode(n, "routes")
	for i, r := range c.Routes {
		if seen[r.Prefix] {
			return lineErr(routes.Content[i].Line, "duplicate route prefix %s", r.Prefix)
		}
		seen[r.Prefix] = true
	}
	if c.ResyncInterval <= 0 {
		return lineErr(valueLine(n, "resync_interval"), "resync_interval must be positive")
	}
	return nil
}

// knownFields rejects keys of mapping n that no yaml tag of struct v names:
// custom unmarshalers decode with yaml.Node.Decode, which ignores KnownFields.
func knownFields(n *yaml.Node, section string, v any) error {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	t := reflect.TypeOf(v)
	known := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		known[name] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			if section == "" {
				return lineErr(k.Line, "unknown field %q", k.Value)
			}
			return lineErr(k.Line, "unknown field %q in %s", k.Value, section)
		}
	}
	return nil
}

// checkDurations parses duration keys first: model.Duration's own error has no line.
func checkDurations(n *yaml.Node, keys ...string) error {
	for _, k := range keys {
		v := keyNode(n, k)
		if v == nil || v.Kind != yaml.ScalarNode {
			continue
		}
		if _, err := model.ParseDuration(v.Value); err != nil {
			return lineErr(v.Line, "%s: %q is not a duration (e.g. 500ms, 10s, 1m)", k, v.Value)
		}
	}
	return nil
}

func hasKey(n *yaml.Node, key string) bool { return keyNode(n, key) != nil }

func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// UnmarshalYAML checks that exactly the selected backend section is present.
func (b *Backend) UnmarshalYAML(n *yaml.Node) error {
	type plain Backend
	if err := knownFields(n, "backend", plain{}); err != nil {
		return err
	}
	// The backend packages decode their own sections without the strict
	// decoder (yaml.Node.Decode is never strict), so check their keys here.
	if err := knownFields(keyNode(n, "netlink"), "backend.netlink", netlink.Config{}); err != nil {
		return err
	}
	if err := knownFields(keyNode(n, "ios"), "backend.ios", ios.Config{}); err != nil {
		return err
	}
	if err := checkDurations(keyNode(n, "netlink"), "idle_timer"); err != nil {
		return err
	}
	if err := checkDurations(keyNode(n, "ios"), "timeout"); err != nil {
		return err
	}
	if typ := keyNode(n, "type"); typ != nil && slices.Contains(backendTypes, typ.Value) {
		for _, other := range backendTypes {
			if other != typ.Value && hasKey(n, other) {
				return lineErr(valueLine(n, other), "backend %s section given but backend type is %s", other, typ.Value)
			}
		}
	}
	if err := n.Decode((*plain)(b)); err != nil {
		return err
	}
	line := valueLine(n, "type")
	switch b.Type {
	case "netlink":
		if b.Netlink == nil { // every key has a default
			cfg := netlink.DefaultConfig
			b.Netlink = &cfg
		}
	case "ios":
		if b.IOS == nil {
			return lineErr(line, "backend type ios needs a backend.ios section")
		}
	case "bgp":
		if b.BGP == nil {
			return lineErr(line, "backend type bgp needs a backend.bgp section")
		}
	case "":
		return lineErr(line, "backend type must be set (one of %s)", strings.Join(backendTypes, ", "))
	default:
		return lineErr(line, "backend type %q is not one of %s", b.Type, strings.Join(backendTypes, ", "))
	}
	return nil
}

// UnmarshalYAML parses addresses itself so that errors carry their line.
func (r *Route) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Prefix      string   `yaml:"prefix"`
		Nexthops    []string `yaml:"nexthops"`
		MinNexthops *int     `yaml:"min_nexthops"`
	}
	if err := knownFields(n, "routes[]", raw); err != nil {
		return err
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	if raw.Prefix == "" {
		return lineErr(n.Line, "route prefix must be set")
	}
	pl := valueLine(n, "prefix")
	p, err := netip.ParsePrefix(raw.Prefix)
	if err != nil {
		a, aerr := netip.ParseAddr(raw.Prefix)
		if aerr != nil {
			return lineErr(pl, "route prefix %q is not an IP prefix", raw.Prefix)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Masked() != p {
		return lineErr(pl, "route prefix %s has host bits set (did you mean %s?)", raw.Prefix, p.Masked())
	}
	if len(raw.Nexthops) == 0 {
		return lineErr(valueLine(n, "nexthops"), "route %s needs at least one nexthop", p)
	}
	nhs := keyNode(n, "nexthops")
	var addrs []netip.Addr
	for i, s := range raw.Nexthops {
		line := nhs.Content[i].Line
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return lineErr(line, "route %s nexthop %q is not an IP address", p, s)
		}
		if a.Is4() != p.Addr().Is4() {
			return lineErr(line, "route %s nexthop %s is not of the prefix's address family", p, a)
		}
		if slices.Contains(addrs, a) {
			return lineErr(line, "route %s lists nexthop %s twice", p, a)
		}
		addrs = append(addrs, a)
	}
	min := 1
	if raw.MinNexthops != nil {
		min = *raw.MinNexthops
	}
	if min < 1 || min > len(addrs) {
		return lineErr(valueLine(n, "min_nexthops"), "route %s min_nexthops %d out of range 1..%d", p, min, len(addrs))
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	*r = Route{Prefix: p, Nexthops: addrs, MinNexthops: min}
	return nil
}

// UnmarshalYAML validates alert names and labels.
func (a *Alerts) UnmarshalYAML(n *yaml.Node) error {
	*a = DefaultAlerts
	type plain Alerts
	if err := knownFields(n, "alerts", plain{}); err != nil {
		return err
	}
	if err := checkDurations(n, "heartbeat_timeout", "heartbeat_max_age", "restore_delay"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(a)); err != nil {
		return err
	}
	roles := map[string]string{}
	check := func(key, name string) error {
		line := valueLine(n, key)
		if !model.LabelValue(name).IsValid() || name == "" {
			return lineErr(line, "alerts.%s has an empty or invalid alertname %q", key, name)
		}
		if prev, ok := roles[name]; ok {
			return lineErr(line, "alertname %s is in both alerts.%s and alerts.%s", name, prev, key)
		}
		roles[name] = key
		return nil
	}
	if len(a.Withdraw) == 0 {
		return lineErr(valueLine(n, "withdraw"), "alerts.withdraw must name at least one alert")
	}
	for _, name := range a.Withdraw {
		if err := check("withdraw", name); err != nil {
			return err
		}
	}
	for _, name := range a.Freeze {
		if err := check("freeze", name); err != nil {
			return err
		}
	}
	if a.Heartbeat != "" {
		if err := check("heartbeat", a.Heartbeat); err != nil {
			return err
		}
	}
	for key, l := range map[string]string{"nexthop_label": a.NexthopLabel, "service_label": a.ServiceLabel} {
		if !model.LegacyValidation.IsValidLabelName(l) {
			return lineErr(valueLine(n, key), "alerts.%s %q is not a valid label name", key, l)
		}
	}
	if a.NexthopLabel == a.ServiceLabel {
		return lineErr(valueLine(n, "service_label"), "alerts.nexthop_label and alerts.service_label must differ")
	}
	if a.HeartbeatTimeout <= 0 {
		return lineErr(valueLine(n, "heartbeat_timeout"), "alerts.heartbeat_timeout must be positive")
	}
	if !hasKey(n, "heartbeat_max_age") {
		// The default never exceeds a short heartbeat_timeout: smaller is the safe side.
		a.HeartbeatMaxAge = min(a.HeartbeatMaxAge, a.HeartbeatTimeout)
	}
	switch {
	case a.HeartbeatMaxAge <= 0:
		return lineErr(valueLine(n, "heartbeat_max_age"), "alerts.heartbeat_max_age must be positive")
	case a.HeartbeatMaxAge > a.HeartbeatTimeout:
		return lineErr(valueLine(n, "heartbeat_max_age"), "alerts.heartbeat_max_age %s exceeds alerts.heartbeat_timeout %s", a.HeartbeatMaxAge, a.HeartbeatTimeout)
	}
	if a.RestoreDelay < 0 {
		return lineErr(valueLine(n, "restore_delay"), "alerts.restore_delay must not be negative")
	}
	return nil
}

// UnmarshalYAML validates the URL.
func (a *Alertmanager) UnmarshalYAML(n *yaml.Node) error {
	*a = DefaultAlertmanager
	type plain Alertmanager
	if err := knownFields(n, "alertmanager", plain{}); err != nil {
		return err
	}
	if err := checkDurations(n, "timeout"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(a)); err != nil {
		return err
	}
	if a.URL != "" {
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return lineErr(valueLine(n, "url"), "alertmanager.url %q is not an http(s) URL", a.URL)
		}
	}
	if a.Timeout <= 0 {
		return lineErr(valueLine(n, "timeout"), "alertmanager.timeout must be positive")
	}
	return nil
}

// Prefixes returns the configured route prefixes in configuration order.
func (c *Config) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, len(c.Routes))
	for i, r := range c.Routes {
		out[i] = r.Prefix
	}
	return out
}
