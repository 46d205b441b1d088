// Package config loads and validates the dns_sla_exporter YAML file.
// Decoding is strict (unknown keys are errors) and every error names the
// file and line it comes from, so --config.check and reloads say exactly
// what to fix.
package config

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
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

// field remembers where a value was written so that errors can name the line.
type field[T any] struct {
	V    T
	Line int
	Set  bool
}

func (f *field[T]) UnmarshalYAML(n *yaml.Node) error {
	f.Line, f.Set = n.Line, true
	return n.Decode(&f.V)
}

// settings are the keys allowed both in defaults and in a target.
type settings struct {
	Interval         field[string]   `yaml:"interval"`
	Timeout          field[string]   `yaml:"timeout"`
	QueryName        field[string]   `yaml:"query_name"`
	QueryType        field[string]   `yaml:"query_type"`
	Protocol         field[string]   `yaml:"protocol"`
	ValidRcodes      field[[]string] `yaml:"valid_rcodes"`
	RecursionDesired field[bool]     `yaml:"recursion_desired"`
	ExpectAnswers    field[[]string] `yaml:"expect_answers"`

	TLSServerName         field[string] `yaml:"tls_server_name"`
	TLSCAFile             field[string] `yaml:"tls_ca_file"`
	TLSInsecureSkipVerify field[bool]   `yaml:"tls_insecure_skip_verify"`
}

type rawTarget struct {
	Name          field[string] `yaml:"name"`
	Address       field[string] `yaml:"address"`
	Nexthop       field[string] `yaml:"nexthop"`
	Service       field[string] `yaml:"service"`
	SourceAddress field[string] `yaml:"source_address"`
	settings      `yaml:",inline"`
	line          int
}

// rawConfig holds no custom unmarshalers above the leaves: Node.Decode,
// which they would call, does not enforce KnownFields.
type rawConfig struct {
	Defaults    settings    `yaml:"defaults"`
	Targets     []rawTarget `yaml:"targets"`
	targetsLine int
}

// setLines records where each target starts, from a second, untyped parse.
func (raw *rawConfig) setLines(b []byte) {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "targets" {
			continue
		}
		raw.targetsLine = m.Content[i].Line
		for j, item := range m.Content[i+1].Content {
			if j < len(raw.Targets) {
				raw.Targets[j].line = item.Line
			}
		}
	}
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

// Load reads and validates file; errors are "file:line: reason", one per line.
func Load(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(file, b)
}

// typeNames turns Go type names in decoder errors into what the user wrote.
var typeNames = strings.NewReplacer(
	"[]config.rawTarget", "a list of targets",
	"config.rawTarget", "a target (a mapping)",
	"config.settings", "a mapping",
	"config.rawConfig", "a mapping",
	"[]string", "a list of strings",
)

var unknownRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// Parse validates the YAML document b; file only prefixes the errors.
func Parse(file string, b []byte) (*Config, error) {
	var raw rawConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:1: empty configuration: at least one target is required", file)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, 0, len(te.Errors))
			for _, e := range te.Errors {
				if m := unknownRE.FindStringSubmatch(e); m != nil {
					errs = append(errs, fmt.Errorf("%s:%s: unknown key %q", file, m[1], m[2]))
					continue
				}
				if m := lineRE.FindStringSubmatch(e); m != nil {
					errs = append(errs, fmt.Errorf("%s:%s: %s", file, m[1], typeNames.Replace(e[len(m[0]):])))
					continue
				}
				errs = append(errs, fmt.Errorf("%s: %s", file, e))
			}
			return nil, errors.Join(errs...)
		}
		// Syntax errors read "yaml: line N: reason".
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", file, m[1], msg[len(m[0]):])
		}
		return nil, fmt.Errorf("%s: %s", file, msg)
	}
	raw.setLines(b)
	v := validator{file: file}
	cfg := v.config(&raw)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return cfg, nil
}

type validator struct {
	file string
	errs []error
	seen map[string]bool
}

func (v *validator) errorf(line int, format string, args ...any) {
	err := fmt.Errorf("%s:%d: %s", v.file, line, fmt.Sprintf(format, args...))
	if v.seen == nil {
		v.seen = map[string]bool{}
	}
	// A bad default would otherwise be reported once per target.
	if !v.seen[err.Error()] {
		v.seen[err.Error()] = true
		v.errs = append(v.errs, err)
	}
}

func (v *validator) config(raw *rawConfig) *Config {
	if len(raw.Targets) == 0 {
		line := max(raw.targetsLine, 1)
		v.errorf(line, "at least one target is required")
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
			v.errorf(rt.Name.Line, "target %q: duplicate name (first defined at line %d)", t.Name, first)
			continue
		}
		names[t.Name] = rt.Name.Line
		cfg.Targets = append(cfg.Targets, t)
	}
	return cfg
}

// pick resolves a setting: the target's own value, else the defaults
// section's, else the built-in default. who names the source in errors.
func pick[T any](own, def field[T], builtin T, targetLine int, name string) (T, int, string) {
	if own.Set {
		return own.V, own.Line, fmt.Sprintf("target %q", name)
	}
	if def.Set {
		return def.V, def.Line, "defaults"
	}
	return builtin, targetLine, fmt.Sprintf("target %q", name)
}

func (v *validator) target(rt *rawTarget, d *settings) (Target, bool) {
	n := len(v.errs)
	t := Target{Name: rt.Name.V, Line: rt.line}
	if !rt.Name.Set || t.Name == "" {
		v.errorf(rt.line, "target without a name")
		return t, false
	}
	who := fmt.Sprintf("target %q", t.Name)

	proto, pLine, pWho := pick(rt.Protocol, d.Protocol, DefaultProtocol, rt.line, t.Name)
	port := uint16(DefaultPort)
	switch proto {
	case "udp", "tcp":
		t.Protocol = proto
	case "tcp-tls":
		t.Protocol, port = proto, DefaultTLSPort
	default:
		v.errorf(pLine, "%s: protocol %q is not one of udp, tcp, tcp-tls", pWho, proto)
	}
	if !rt.Address.Set || rt.Address.V == "" {
		v.errorf(rt.line, "%s: address is required", who)
	} else if ap, err := ParseAddress(rt.Address.V, port); err != nil {
		v.errorf(rt.Address.Line, "%s: %v", who, err)
	} else {
		t.Address = ap
	}
	t.Nexthop = t.Address.Addr()
	if rt.Nexthop.Set {
		a, err := netip.ParseAddr(rt.Nexthop.V)
		if err != nil {
			v.errorf(rt.Nexthop.Line, "%s: nexthop %q is not an IP address", who, rt.Nexthop.V)
		} else {
			t.Nexthop = a
		}
	}
	if rt.Service.Set {
		s, err := parseService(rt.Service.V)
		if err != nil {
			v.errorf(rt.Service.Line, "%s: %v", who, err)
		}
		t.Service = s
	}
	if rt.SourceAddress.Set {
		a, err := netip.ParseAddr(rt.SourceAddress.V)
		switch {
		case err != nil:
			v.errorf(rt.SourceAddress.Line, "%s: source_address %q is not an IP address", who, rt.SourceAddress.V)
		case t.Address.IsValid() && a.Is4() != t.Address.Addr().Unmap().Is4():
			v.errorf(rt.SourceAddress.Line, "%s: source_address %s and address %s are of different IP families", who, a, t.Address.Addr())
		default:
			t.SourceAddress = a
		}
	}

	iv, ivLine, ivWho := pick(rt.Interval, d.Interval, DefaultInterval.String(), rt.line, t.Name)
	to, toLine, toWho := pick(rt.Timeout, d.Timeout, DefaultTimeout.String(), rt.line, t.Name)
	var err error
	if t.Interval, err = time.ParseDuration(iv); err != nil || t.Interval <= 0 {
		v.errorf(ivLine, "%s: interval %q is not a positive duration (e.g. 1s, 500ms)", ivWho, iv)
	}
	if t.Timeout, err = time.ParseDuration(to); err != nil || t.Timeout <= 0 {
		v.errorf(toLine, "%s: timeout %q is not a positive duration (e.g. 1s, 500ms)", toWho, to)
	}
	if t.Interval > 0 && t.Timeout > 0 && t.Timeout >= t.Interval {
		line, w := toLine, toWho
		if rt.Interval.Set && !rt.Timeout.Set {
			line, w = ivLine, ivWho
		}
		v.errorf(line, "%s: timeout %s must be less than interval %s", w, t.Timeout, t.Interval)
	}

	qn, qnLine, qnWho := pick(rt.QueryName, d.QueryName, "", rt.line, t.Name)
	switch {
	case qn == "":
		v.errorf(qnLine, "%s: query_name is required (here or in defaults)", qnWho)
	case !validName(qn):
		v.errorf(qnLine, "%s: query_name %q is not a valid domain name", qnWho, qn)
	default:
		t.QueryName = strings.ToLower(dns.Fqdn(qn))
	}

	qt, qtLine, qtWho := pick(rt.QueryType, d.QueryType, "A", rt.line, t.Name)
	if typ, ok := dns.StringToType[strings.ToUpper(qt)]; !ok || typ == dns.TypeNone {
		v.errorf(qtLine, "%s: unknown query_type %q", qtWho, qt)
	} else {
		t.QueryType = typ
	}

	rcodes, rLine, rWho := pick(rt.ValidRcodes, d.ValidRcodes, []string{"NOERROR"}, rt.line, t.Name)
	if len(rcodes) == 0 {
		v.errorf(rLine, "%s: valid_rcodes must not be empty", rWho)
	}
	for _, rc := range rcodes {
		code, ok := dns.StringToRcode[strings.ToUpper(rc)]
		if !ok {
			v.errorf(rLine, "%s: unknown rcode %q in valid_rcodes", rWho, rc)
			continue
		}
		if !slices.Contains(t.ValidRcodes, code) {
			t.ValidRcodes = append(t.ValidRcodes, code)
		}
	}

	t.RecursionDesired, _, _ = pick(rt.RecursionDesired, d.RecursionDesired, false, rt.line, t.Name)

	exp, eLine, eWho := pick(rt.ExpectAnswers, d.ExpectAnswers, nil, rt.line, t.Name)
	if t.QueryType != 0 {
		for _, e := range exp {
			c, err := CanonicalExpect(t.QueryType, e)
			if err != nil {
				v.errorf(eLine, "%s: expect_answers: %v", eWho, err)
				continue
			}
			t.ExpectAnswers = append(t.ExpectAnswers, c)
		}
	}
	v.tls(&t, rt, d)
	return t, len(v.errs) == n
}

// tls resolves the TLS settings. The defaults' apply to tcp-tls targets
// only; set on a target of another protocol they are an error.
func (v *validator) tls(t *Target, rt *rawTarget, d *settings) {
	if t.Protocol != "tcp-tls" {
		for _, f := range []struct {
			key  string
			set  bool
			line int
		}{
			{"tls_server_name", rt.TLSServerName.Set, rt.TLSServerName.Line},
			{"tls_ca_file", rt.TLSCAFile.Set, rt.TLSCAFile.Line},
			{"tls_insecure_skip_verify", rt.TLSInsecureSkipVerify.Set, rt.TLSInsecureSkipVerify.Line},
		} {
			if f.set {
				v.errorf(f.line, "target %q: %s needs protocol tcp-tls", t.Name, f.key)
			}
		}
		return
	}
	name, nLine, nWho := pick(rt.TLSServerName, d.TLSServerName, "", rt.line, t.Name)
	if _, err := netip.ParseAddr(name); name != "" && err != nil && !hostRE.MatchString(name) {
		v.errorf(nLine, "%s: tls_server_name %q is not a valid host name", nWho, name)
	}
	t.TLSServerName = name
	t.TLSInsecureSkipVerify, _, _ = pick(rt.TLSInsecureSkipVerify, d.TLSInsecureSkipVerify, false, rt.line, t.Name)
	ca, cLine, cWho := pick(rt.TLSCAFile, d.TLSCAFile, "", rt.line, t.Name)
	if ca == "" {
		return
	}
	if !filepath.IsAbs(ca) {
		ca = filepath.Join(filepath.Dir(v.file), ca)
	}
	if _, err := LoadCA(ca); err != nil {
		v.errorf(cLine, "%s: tls_ca_file: %v", cWho, err)
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

// parseService accepts a prefix or a bare address (taken as a host prefix)
// and returns its canonical text, the form the actuator's routes use.
func parseService(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", fmt.Errorf("service %q is not an IP prefix (e.g. 192.0.2.53/32)", s)
	}
	if p.Masked() != p {
		return "", fmt.Errorf("service %q has host bits set (did you mean %s?)", s, p.Masked())
	}
	return p.String(), nil
}

// CanonicalExpect checks that value is valid RDATA for qtype and returns the
// text CanonicalRdata produces for a matching answer. TXT values are the
// concatenated strings, written without quotes.
func CanonicalExpect(qtype uint16, value string) (string, error) {
	tname := dns.TypeToString[qtype]
	switch qtype {
	case dns.TypeTXT:
		return value, nil
	case dns.TypeA:
		a, err := netip.ParseAddr(value)
		if err != nil || !a.Is4() {
			return "", fmt.Errorf("%q is not an IPv4 address (query_type A)", value)
		}
		return a.String(), nil
	case dns.TypeAAAA:
		a, err := netip.ParseAddr(value)
		if err != nil || !a.Is6() || a.Is4In6() {
			return "", fmt.Errorf("%q is not an IPv6 address (query_type AAAA)", value)
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
		rt := reflect.TypeOf(section)
		for i := range rt.NumField() {
			if key, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ","); key != "" && key != "-" {
				keys = append(keys, key)
			}
		}
	}
	return keys
}
