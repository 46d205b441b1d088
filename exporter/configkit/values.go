package configkit

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The service/nexthop contract: the exporter writes these values into its
// service and nexthop labels, the actuator lists them in its routes and reads
// them back from alert labels. One parser, so that a value is either the same
// address everywhere or refused everywhere, with the reason. Refused: zones
// (not global addresses), IPv4-mapped IPv6 (the same router nexthop under two
// spellings), host bits in a prefix (a typo for another prefix).

// ParseNexthop reads a nexthop address. Errors read `"value" reason`.
func ParseNexthop(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has a zone: nexthops are global addresses", s)
	case a.Is4In6():
		return netip.Addr{}, fmt.Errorf("%q is IPv4-mapped IPv6: write %s", s, a.Unmap())
	}
	return a, nil
}

// ParseService reads a service: a prefix, or an address meaning its host
// prefix. Errors read `"value" reason`.
func ParseService(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		switch {
		case aerr != nil:
			return netip.Prefix{}, fmt.Errorf("%q is not an IP prefix (e.g. 192.0.2.53/32)", s)
		case a.Zone() != "":
			return netip.Prefix{}, fmt.Errorf("%q has a zone: services are global addresses", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	switch {
	case p.Addr().Is4In6():
		return netip.Prefix{}, fmt.Errorf("%q is IPv4-mapped IPv6: write it as IPv4", s)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

// CheckName refuses a name that would corrupt a label, a log line or the
// text exposition: invalid UTF-8 or a control character (newline, tab, ...).
func CheckName(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("%q contains a control character", s)
	}
	return nil
}

// WarnOpenSecret warns, as ssh does for private keys, when the secret file
// that field names is readable by group or others. A file that cannot be
// read is for its loader to refuse.
func (d *Decoder) WarnOpenSecret(field *string, key string) {
	if fi, err := os.Stat(*field); err == nil && fi.Mode().Perm()&0o077 != 0 {
		d.Warnf(field, "%s %s is readable by group or others (mode %04o): chmod 600 it", key, *field, fi.Mode().Perm())
	}
}
