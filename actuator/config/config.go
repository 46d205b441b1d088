// Package config loads route_actuator.yml: strict YAML, defaults, and
// validation errors that name the file and line.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/bgp"
	"github.com/slaroute/slaroute/actuator/dampening"
	"github.com/slaroute/slaroute/actuator/ios"
	"github.com/slaroute/slaroute/actuator/netlink"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// Config is the whole route_actuator.yml.
type Config struct {
	Backend        Backend        `yaml:"backend"`
	Routes         []Route        // the routes section, validated
	Alerts         Alerts         `yaml:"alerts"`
	Alertmanager   Alertmanager   `yaml:"alertmanager"`
	ResyncInterval model.Duration `yaml:"resync_interval"`
	// Dampening damps flapping nexthops; nil (no section) is off.
	Dampening *dampening.Config `yaml:"dampening"`
	// Warnings are what works but should be fixed, each "file:line: text".
	Warnings []string
}

// Backend selects the device driver: Type names one of the sections that
// follow, each a backend package's own configuration. Adding a backend is
// adding its section here, of a type that implements Section.
type Backend struct {
	Type    string          `yaml:"type"`
	Netlink *netlink.Config `yaml:"netlink"`
	IOS     *ios.Config     `yaml:"ios"`
	BGP     *bgp.Config     `yaml:"bgp"`
}

// Section is a backend's section: it sets its defaults and checks its own
// keys and durations. A section that validates with defaults alone may be
// left out of the file.
type Section interface {
	configkit.Defaulter
	configkit.Validator
}

// PlacementChecker is a Section whose device cannot place a route in every
// VRF or table: it refuses, so that --config.check accepts exactly what the
// backend can apply. A section without it accepts only the default table.
type PlacementChecker interface {
	CheckPlacement(route.Placement) error
}

// Route is one service prefix and the nexthops that may carry it.
type Route struct {
	Prefix      netip.Prefix
	Nexthops    []netip.Addr // sorted, unique
	MinNexthops int
	Placement   route.Placement // VRF or table; zero: the backend's default table
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

// Defaults applied before decoding (SetDefaults).
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

// document is the file: Config with the routes as written.
type document struct {
	Config `yaml:",inline"`
	Routes []rawRoute `yaml:"routes"`
}

type rawRoute struct {
	Prefix      string   `yaml:"prefix"`
	Nexthops    []string `yaml:"nexthops"`
	MinNexthops int      `yaml:"min_nexthops"`
	VRF         string   `yaml:"vrf"`
	Table       uint32   `yaml:"table"`
}

// RouteKeys are the keys of one entry of the routes section.
func RouteKeys() []string {
	var out []string
	rt := reflect.TypeOf(rawRoute{})
	for i := range rt.NumField() {
		key, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
		out = append(out, key)
	}
	return out
}

// vrfName is what a VRF name may hold: it is rendered into device
// configuration lines, so nothing that could split or extend one.
var vrfName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$`)

// Parse decodes b strictly and validates it; every error reads file:line: reason.
func Parse(file string, b []byte) (*Config, error) {
	var doc document
	d, err := configkit.Decode(file, b, &doc)
	if err != nil {
		return nil, err
	}
	c := &doc.Config
	var section Section
	if !d.Set(&c.Backend) {
		d.Errorf(&c.Backend, "backend section must be set")
	} else {
		section = c.Backend.validate(d)
	}
	if len(doc.Routes) == 0 {
		d.Errorf(&doc.Routes, "at least one route must be configured")
	}
	for i := range doc.Routes {
		r, ok := doc.Routes[i].route(d, section, c.Backend.Type)
		if ok && slices.ContainsFunc(c.Routes, func(o Route) bool { return o.Prefix == r.Prefix }) {
			d.Errorf(&doc.Routes[i], "duplicate route prefix %s", r.Prefix)
		}
		c.Routes = append(c.Routes, r)
	}
	c.Alerts.validate(d)
	c.Alertmanager.validate(d)
	if c.ResyncInterval <= 0 {
		d.Errorf(&c.ResyncInterval, "resync_interval must be positive")
	}
	if c.Dampening != nil {
		validateDampening(d, c.Dampening)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	c.Warnings = d.Warnings()
	return c, nil
}

// SetDefaults implements configkit.Defaulter.
func (c *Config) SetDefaults() { *c = Config{ResyncInterval: DefaultResyncInterval} }

// SetDefaults implements configkit.Defaulter.
func (a *Alerts) SetDefaults() {
	*a = DefaultAlerts
	a.Withdraw = slices.Clone(DefaultAlerts.Withdraw)
	a.Freeze = slices.Clone(DefaultAlerts.Freeze)
}

// SetDefaults implements configkit.Defaulter.
func (a *Alertmanager) SetDefaults() { *a = DefaultAlertmanager }

func (r *rawRoute) SetDefaults() { r.MinNexthops = 1 }

// validate checks that Type names a section and no other section is given,
// fills in an absent section that needs no keys, and validates the section.
// It returns the section of Type, or nil.
func (b *Backend) validate(d *configkit.Decoder) Section {
	v := reflect.ValueOf(b).Elem()
	var types []string
	var chosen reflect.Value
	for i := 1; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		types = append(types, name)
		switch f := v.Field(i); {
		case name == b.Type:
			chosen = f
		case !f.IsNil():
			d.Errorf(f.Addr().Interface(), "backend %s section given but backend type is %s", name, b.Type)
			return nil
		}
	}
	switch {
	case b.Type == "":
		d.Errorf(&b.Type, "backend type must be set (%s)", strings.Join(types, " or "))
	case !chosen.IsValid():
		d.Errorf(&b.Type, "backend type %q is not one of %s", b.Type, strings.Join(types, ", "))
	case chosen.IsNil():
		s := reflect.New(chosen.Type().Elem()).Interface().(Section)
		s.SetDefaults()
		if configkit.Validate(s) != nil {
			d.Errorf(&b.Type, "backend type %s needs a backend.%s section", b.Type, b.Type)
			return nil
		}
		chosen.Set(reflect.ValueOf(s))
		return s
	default:
		s := chosen.Interface().(Section)
		s.Validate(d)
		return s
	}
	return nil
}

// route validates a route as written; the section of the backend refuses
// what its device cannot carry.
func (r *rawRoute) route(d *configkit.Decoder, section Section, backend string) (Route, bool) {
	n := d.NumErrors()
	if r.Prefix == "" {
		d.Errorf(r, "route prefix must be set")
		return Route{}, false
	}
	p, err := configkit.ParseService(r.Prefix)
	if err != nil {
		d.Errorf(&r.Prefix, "route prefix %v", err)
		return Route{}, false
	}
	place, ok := r.placement(d, p)
	if ok && !place.IsZero() && section != nil {
		err := fmt.Errorf("backend %s cannot place routes in a vrf or table", backend)
		if pc, isPC := section.(PlacementChecker); isPC {
			err = pc.CheckPlacement(place)
		}
		if err != nil {
			at := any(&r.VRF)
			if place.Table != 0 {
				at = &r.Table
			}
			d.Errorf(at, "route %s %s: %v", p, place, err)
		}
	}
	if len(r.Nexthops) == 0 {
		d.Errorf(&r.Nexthops, "route %s needs at least one nexthop", p)
	}
	out := Route{Prefix: p, MinNexthops: r.MinNexthops, Placement: place}
	for i, s := range r.Nexthops {
		a, err := configkit.ParseNexthop(s)
		switch {
		case err != nil:
			d.Errorf(&r.Nexthops[i], "route %s nexthop %v", p, err)
		case a.Is4() != p.Addr().Is4():
			d.Errorf(&r.Nexthops[i], "route %s nexthop %s is not of the prefix's address family", p, a)
		case slices.Contains(out.Nexthops, a):
			d.Errorf(&r.Nexthops[i], "route %s lists nexthop %s twice", p, a)
		default:
			out.Nexthops = append(out.Nexthops, a)
		}
	}
	if len(r.Nexthops) > 0 && (r.MinNexthops < 1 || r.MinNexthops > len(r.Nexthops)) {
		d.Errorf(&r.MinNexthops, "route %s min_nexthops %d out of range 1..%d", p, r.MinNexthops, len(r.Nexthops))
	}
	slices.SortFunc(out.Nexthops, netip.Addr.Compare)
	return out, d.NumErrors() == n
}

// placement checks the vrf and table keys of route p.
func (r *rawRoute) placement(d *configkit.Decoder, p netip.Prefix) (route.Placement, bool) {
	vrf, table := d.Set(&r.VRF), d.Set(&r.Table)
	switch {
	case vrf && table:
		d.Errorf(&r.Table, "route %s has both vrf and table: give one", p)
	case vrf && !vrfName.MatchString(r.VRF):
		d.Errorf(&r.VRF, "route %s vrf %q is not a VRF name (1-32 of A-Z a-z 0-9 _ . : -, starting with a letter or digit)", p, r.VRF)
	case table && (r.Table == 0 || r.Table == 255):
		d.Errorf(&r.Table, "route %s table %d out of range 1..4294967295 (not 255, local)", p, r.Table)
	default:
		return route.Placement{VRF: r.VRF, Table: r.Table}, true
	}
	return route.Placement{}, false
}

func (a *Alerts) validate(d *configkit.Decoder) {
	roles := map[string]string{}
	check := func(key string, names []string, at func(i int) any) {
		for i, name := range names {
			if name == "" || configkit.CheckName(name) != nil {
				d.Errorf(at(i), "alerts.%s has an empty or invalid alertname %q", key, name)
			} else if prev, ok := roles[name]; ok {
				d.Errorf(at(i), "alertname %s is in both alerts.%s and alerts.%s", name, prev, key)
			}
			roles[name] = key
		}
	}
	if len(a.Withdraw) == 0 {
		d.Errorf(&a.Withdraw, "alerts.withdraw must name at least one alert")
	}
	check("withdraw", a.Withdraw, func(i int) any { return &a.Withdraw[i] })
	check("freeze", a.Freeze, func(i int) any { return &a.Freeze[i] })
	if a.Heartbeat != "" {
		check("heartbeat", []string{a.Heartbeat}, func(int) any { return &a.Heartbeat })
	}
	for _, l := range []struct {
		key   string
		label *string
	}{{"nexthop_label", &a.NexthopLabel}, {"service_label", &a.ServiceLabel}} {
		if !model.LegacyValidation.IsValidLabelName(*l.label) {
			d.Errorf(l.label, "alerts.%s %q is not a valid label name", l.key, *l.label)
		}
	}
	if a.NexthopLabel == a.ServiceLabel {
		d.Errorf(&a.ServiceLabel, "alerts.nexthop_label and alerts.service_label must differ")
	}
	if !d.Set(&a.HeartbeatMaxAge) {
		// The default never exceeds a short heartbeat_timeout: smaller is the safe side.
		a.HeartbeatMaxAge = min(a.HeartbeatMaxAge, a.HeartbeatTimeout)
	}
	switch {
	case a.HeartbeatTimeout <= 0:
		d.Errorf(&a.HeartbeatTimeout, "alerts.heartbeat_timeout must be positive")
	case a.HeartbeatMaxAge <= 0:
		d.Errorf(&a.HeartbeatMaxAge, "alerts.heartbeat_max_age must be positive")
	case a.HeartbeatMaxAge > a.HeartbeatTimeout:
		d.Errorf(&a.HeartbeatMaxAge, "alerts.heartbeat_max_age %s exceeds alerts.heartbeat_timeout %s", a.HeartbeatMaxAge, a.HeartbeatTimeout)
	}
	if a.RestoreDelay < 0 {
		d.Errorf(&a.RestoreDelay, "alerts.restore_delay must not be negative")
	}
}

// validateDampening reports the section's first problem at its key's line
// (the section's when the key is left out).
func validateDampening(d *configkit.Decoder, c *dampening.Config) {
	if fe, ok := errors.AsType[*dampening.FieldError](c.Validate()); ok {
		at := any(c)
		v := reflect.ValueOf(c).Elem()
		for i := range v.NumField() {
			if key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); key == fe.Field {
				at = v.Field(i).Addr().Interface()
			}
		}
		d.Errorf(at, "%s", fe)
	}
}

func (a *Alertmanager) validate(d *configkit.Decoder) {
	if a.URL != "" {
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.Errorf(&a.URL, "alertmanager.url %q is not an http(s) URL", a.URL)
		}
	}
	if a.Timeout <= 0 {
		d.Errorf(&a.Timeout, "alertmanager.timeout must be positive")
	}
}

// Placements returns where each configured prefix lives (zero: the
// backend's default table).
func (c *Config) Placements() map[netip.Prefix]route.Placement {
	out := make(map[netip.Prefix]route.Placement, len(c.Routes))
	for _, r := range c.Routes {
		out[r.Prefix] = r.Placement
	}
	return out
}
