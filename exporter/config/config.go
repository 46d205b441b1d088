// Package config loads and validates the dns_sla_exporter YAML file.
// Decoding is strict (unknown keys are errors) and every error names the
// file and line it comes from, so --config.check and reloads say exactly
// what to fix.
package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/slaroute/slaroute/exporter/configkit"
)

// Built-in defaults, overridden by the defaults section and then per target.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 500 * time.Millisecond
	DefaultProtocol = "udp"
	DefaultPort     = 53
	DefaultTLSPort  = 853 // DNS over TLS
)

// Config is a validated configuration.
type Config struct {
	Targets []Target
}

// Target is one DNS server to probe, with every default resolved.
type Target struct {
	Name             string
	Address          netip.AddrPort // server address and port
	Nexthop          netip.Addr     // label nexthop; the address IP unless set
	Service          string         // label service: canonical prefix text or ""
	SourceAddress    netip.Addr     // invalid (zero) when unset
	Interval         time.Duration
	Timeout          time.Duration
	QueryName        string // fully qualified, lower case
	QueryType        uint16
	Protocol         string // udp, tcp or tcp-tls
	ValidRcodes      []int
	RecursionDesired bool
	// ExpectAnswers holds the canonical RDATA text of acceptable answers
	// (see CanonicalRdata); empty means any RR of QueryType suffices.
	ExpectAnswers []string
	// TLS settings, only with protocol tcp-tls. TLSCAFile is resolved
	// against the configuration file's directory; "" means system roots.
	TLSServerName         string // "" means the address IP
	TLSCAFile             string
	TLSInsecureSkipVerify bool
	Line                  int // where the target is defined
}

// Labels returns the per-target label values: target, nexthop, service.
func (t Target) Labels() []string {
	return []string{t.Name, t.Nexthop.String(), t.Service}
}

// settings are the keys allowed both in defaults and in a target.
type settings struct {
	Interval         string   `yaml:"interval"`
	Timeout          string   `yaml:"timeout"`
	QueryName        string   `yaml:"query_name"`
	QueryType        string   `yaml:"query_type"`
	Protocol         string   `yaml:"protocol"`
	ValidRcodes      []string `yaml:"valid_rcodes"`
	RecursionDesired bool     `yaml:"recursion_desired"`
	ExpectAnswers    []string `yaml:"expect_answers"`

	TLSServerName         string `yaml:"tls_server_name"`
	TLSCAFile             string `yaml:"tls_ca_file"`
	TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify"`
}

type rawTarget struct {
	Name          string   `yaml:"name"`
	Address       string   `yaml:"address"`
	Nexthop       string   `yaml:"nexthop"`
	Service       string   `yaml:"service"`
	SourceAddress string   `yaml:"source_address"`
	Settings      settings `yaml:",inline"`
}

type rawConfig struct {
	Defaults settings    `yaml:"defaults"`
	Targets  []rawTarget `yaml:"targets"`
}

// Load reads and validates file; errors are "file:line: reason", one per line.
func Load(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(file, b)
}

// Parse validates the YAML document b; file only prefixes the errors.
func Parse(file string, b []byte) (*Config, error) {
	var raw rawConfig
	d, err := configkit.Decode(file, b, &raw)
	if errors.Is(err, configkit.ErrEmpty) {
		return nil, fmt.Errorf("%w: at least one target is required", err)
	}
	if err != nil {
		return nil, err
	}
	cfg := validator{d, file}.config(&raw)
	if err := d.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

type validator struct {
	d    *configkit.Decoder
	file string
}

func (v validator) config(raw *rawConfig) *Config {
	if len(raw.Targets) == 0 {
		v.d.Errorf(&raw.Targets, "at least one target is required")
		return nil
	}
	cfg := &Config{}
	names := map[string]int{}
	for i := range raw.Targets {
		rt := &raw.Targets[i]
		t, ok := v.target(rt, &raw.Defaults)
		if !ok {
			continue
		}
		if first, dup := names[t.Name]; dup {
			v.d.Errorf(&rt.Name, "target %q: duplicate name (first defined at line %d)", t.Name, first)
			continue
		}
		names[t.Name] = v.d.Line(&rt.Name)
		cfg.Targets = append(cfg.Targets, t)
	}
	return cfg
}

// pick resolves a setting: the target's own value, else the defaults
// section's, else the built-in default. It returns where errors about the
// value point and whom they name.
func pick[T any](d *configkit.Decoder, own, def *T, builtin T, name string) (T, any, string) {
	switch {
	case d.Set(own):
		return *own, own, fmt.Sprintf("target %q", name)
	case d.Set(def):
		return *def, def, "defaults"
	}
	return builtin, own, fmt.Sprintf("target %q", name)
}

func (v validator) target(rt *rawTarget, ds *settings) (Target, bool) {
	d, s := v.d, &rt.Settings
	n := d.NumErrors()
	t := Target{Name: rt.Name, Line: d.Line(rt)}
	if t.Name == "" {
		d.Errorf(rt, "target without a name")
		return t, false
	}
	who := fmt.Sprintf("target %q", t.Name)
	if err := configkit.CheckName(t.Name); err != nil {
		d.Errorf(&rt.Name, "target name %v", err)
	}

	proto, pAt, pWho := pick(d, &s.Protocol, &ds.Protocol, DefaultProtocol, t.Name)
	port := uint16(DefaultPort)
	switch proto {
	case "udp", "tcp":
		t.Protocol = proto
	case "tcp-tls":
		t.Protocol, port = proto, DefaultTLSPort
	default:
		d.Errorf(pAt, "%s: protocol %q is not one of udp, tcp, tcp-tls", pWho, proto)
	}
	if rt.Address == "" {
		d.Errorf(rt, "%s: address is required", who)
	} else if ap, err := ParseAddress(rt.Address, port); err != nil {
		d.Errorf(&rt.Address, "%s: %v", who, err)
	} else {
		t.Address = ap
	}
	// The nexthop label is the actuator's nexthop: the same contract.
	switch nh, err := configkit.ParseNexthop(rt.Nexthop); {
	case d.Set(&rt.Nexthop) && err != nil:
		d.Errorf(&rt.Nexthop, "%s: nexthop %v", who, err)
	case d.Set(&rt.Nexthop):
		t.Nexthop = nh
	case t.Address.IsValid():
		t.Nexthop = t.Address.Addr()
		if _, err := configkit.ParseNexthop(t.Nexthop.String()); err != nil {
			d.Errorf(&rt.Address, "%s: nexthop (default: the address's IP) %v", who, err)
		}
	}
	if d.Set(&rt.Service) {
		p, err := configkit.ParseService(rt.Service)
		if err != nil {
			d.Errorf(&rt.Service, "%s: service %v", who, err)
		}
		t.Service = p.String()
	}
	if d.Set(&rt.SourceAddress) {
		a, err := netip.ParseAddr(rt.SourceAddress)
		switch {
		case err != nil:
			d.Errorf(&rt.SourceAddress, "%s: source_address %q is not an IP address", who, rt.SourceAddress)
		case t.Address.IsValid() && a.Is4() != t.Address.Addr().Unmap().Is4():
			d.Errorf(&rt.SourceAddress, "%s: source_address %s and address %s are of different IP families", who, a, t.Address.Addr())
		default:
			t.SourceAddress = a
		}
	}

	iv, ivAt, ivWho := pick(d, &s.Interval, &ds.Interval, DefaultInterval.String(), t.Name)
	to, toAt, toWho := pick(d, &s.Timeout, &ds.Timeout, DefaultTimeout.String(), t.Name)
	var err error
	if t.Interval, err = time.ParseDuration(iv); err != nil || t.Interval <= 0 {
		d.Errorf(ivAt, "%s: interval %q is not a positive duration (e.g. 1s, 500ms)", ivWho, iv)
	}
	if t.Timeout, err = time.ParseDuration(to); err != nil || t.Timeout <= 0 {
		d.Errorf(toAt, "%s: timeout %q is not a positive duration (e.g. 1s, 500ms)", toWho, to)
	}
	if t.Interval > 0 && t.Timeout > 0 && t.Timeout >= t.Interval {
		at, w := toAt, toWho
		if d.Set(&s.Interval) && !d.Set(&s.Timeout) {
			at, w = ivAt, ivWho
		}
		d.Errorf(at, "%s: timeout %s must be less than interval %s", w, t.Timeout, t.Interval)
	}

	qn, qnAt, qnWho := pick(d, &s.QueryName, &ds.QueryName, "", t.Name)
	switch {
	case qn == "":
		d.Errorf(qnAt, "%s: query_name is required (here or in defaults)", qnWho)
	case !validName(qn):
		d.Errorf(qnAt, "%s: query_name %q is not a valid domain name", qnWho, qn)
	default:
		t.QueryName = strings.ToLower(dns.Fqdn(qn))
	}

	qt, qtAt, qtWho := pick(d, &s.QueryType, &ds.QueryType, "A", t.Name)
	if typ, ok := dns.StringToType[strings.ToUpper(qt)]; !ok || typ == dns.TypeNone {
		d.Errorf(qtAt, "%s: unknown query_type %q", qtWho, qt)
	} else {
		t.QueryType = typ
	}

	rcodes, rAt, rWho := pick(d, &s.ValidRcodes, &ds.ValidRcodes, []string{"NOERROR"}, t.Name)
	if len(rcodes) == 0 {
		d.Errorf(rAt, "%s: valid_rcodes must not be empty", rWho)
	}
	for _, rc := range rcodes {
		code, ok := dns.StringToRcode[strings.ToUpper(rc)]
		if !ok {
			d.Errorf(rAt, "%s: unknown rcode %q in valid_rcodes", rWho, rc)
			continue
		}
		if !slices.Contains(t.ValidRcodes, code) {
			t.ValidRcodes = append(t.ValidRcodes, code)
		}
	}

	t.RecursionDesired, _, _ = pick(d, &s.RecursionDesired, &ds.RecursionDesired, false, t.Name)

	exp, eAt, eWho := pick(d, &s.ExpectAnswers, &ds.ExpectAnswers, nil, t.Name)
	if t.QueryType != 0 {
		for _, e := range exp {
			c, err := CanonicalExpect(t.QueryType, e)
			if err != nil {
				d.Errorf(eAt, "%s: expect_answers: %v", eWho, err)
				continue
			}
			t.ExpectAnswers = append(t.ExpectAnswers, c)
		}
	}
	v.tls(&t, s, ds)
	return t, d.NumErrors() == n
}

// tls resolves the TLS settings. The defaults' apply to tcp-tls targets
// only; set on a target of another protocol they are an error.
func (v validator) tls(t *Target, s, ds *settings) {
	d := v.d
	if t.Protocol != "tcp-tls" {
		for _, f := range []struct {
			key string
			at  any
		}{{"tls_server_name", &s.TLSServerName}, {"tls_ca_file", &s.TLSCAFile}, {"tls_insecure_skip_verify", &s.TLSInsecureSkipVerify}} {
			if d.Set(f.at) {
				d.Errorf(f.at, "target %q: %s needs protocol tcp-tls", t.Name, f.key)
			}
		}
		return
	}
	name, nAt, nWho := pick(d, &s.TLSServerName, &ds.TLSServerName, "", t.Name)
	if _, err := netip.ParseAddr(name); name != "" && err != nil && !hostRE.MatchString(name) {
		d.Errorf(nAt, "%s: tls_server_name %q is not a valid host name", nWho, name)
	}
	t.TLSServerName = name
	t.TLSInsecureSkipVerify, _, _ = pick(d, &s.TLSInsecureSkipVerify, &ds.TLSInsecureSkipVerify, false, t.Name)
	ca, cAt, cWho := pick(d, &s.TLSCAFile, &ds.TLSCAFile, "", t.Name)
	if ca == "" {
		return
	}
	if !filepath.IsAbs(ca) {
		ca = filepath.Join(filepath.Dir(v.file), ca)
	}
	if _, err := LoadCA(ca); err != nil {
		d.Errorf(cAt, "%s: tls_ca_file: %v", cWho, err)
	}
	t.TLSCAFile = ca
}

var hostRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$`)

// LoadCA reads a PEM file of CA certificates.
func LoadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

func validName(s string) bool {
	_, ok := dns.IsDomainName(s)
	return ok && len(dns.Fqdn(s)) <= 255
}

// ParseAddress accepts IP or IP:port (IPv6 as [addr]:port); the port
// defaults to defaultPort.
func ParseAddress(s string, defaultPort uint16) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, defaultPort), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q is not IP or IP:port (IPv6 as [addr]:port)", s)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("address %q has port 0", s)
	}
	return ap, nil
}

// CanonicalExpect checks that value is valid RDATA for qtype and returns the
// text CanonicalRdata produces for a matching answer. TXT values are the
// concatenated strings, written without quotes.
func CanonicalExpect(qtype uint16, value string) (string, error) {
	tname := dns.TypeToString[qtype]
	switch qtype {
	case dns.TypeTXT:
		return value, nil
	case dns.TypeA, dns.TypeAAAA:
		v4, family := qtype == dns.TypeA, "IPv6"
		if v4 {
			family = "IPv4"
		}
		a, err := netip.ParseAddr(value)
		if err != nil || a.Is4() != v4 || a.Is4In6() {
			return "", fmt.Errorf("%q is not an %s address (query_type %s)", value, family, tname)
		}
		return a.String(), nil
	}
	rr, err := dns.NewRR(". 0 IN " + tname + " " + value)
	if err != nil || rr == nil {
		return "", fmt.Errorf("%q is not valid %s data", value, tname)
	}
	return CanonicalRdata(rr), nil
}

// CanonicalRdata is the comparable text of an answer's RDATA.
func CanonicalRdata(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		if a, ok := netip.AddrFromSlice(r.A.To4()); ok {
			return a.String()
		}
	case *dns.AAAA:
		if a, ok := netip.AddrFromSlice(r.AAAA); ok {
			return a.String()
		}
	case *dns.TXT:
		return strings.Join(r.Txt, "")
	}
	s := strings.TrimPrefix(rr.String(), rr.Header().String())
	return strings.ToLower(s)
}

// Keys lists every configuration key (top level, defaults, target), for
// documentation checks.
func Keys() []string {
	var keys []string
	for _, section := range []any{rawConfig{}, settings{}, rawTarget{}} {
		t := reflect.TypeOf(section)
		for i := range t.NumField() {
			if key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); key != "" {
				keys = append(keys, key)
			}
		}
	}
	return keys
}
