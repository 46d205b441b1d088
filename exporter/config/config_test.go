package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// One fixture per error, each with the exact message.
func TestInvalid(t *testing.T) {
	tests := []struct{ file, want string }{
		{"bad-address.yml", "testdata/bad-address.yml:5: target \"dns1\": address \"dns1.example.test\" is not IP or IP:port (IPv6 as [addr]:port)"},
		{"bad-bool.yml", "testdata/bad-bool.yml:3: cannot unmarshal !!str `maybe` into bool"},
		{"bad-expect-a.yml", "testdata/bad-expect-a.yml:6: target \"dns1\": expect_answers: \"2001:db8::1\" is not an IPv4 address (query_type A)"},
		{"bad-expect-aaaa.yml", "testdata/bad-expect-aaaa.yml:7: target \"dns1\": expect_answers: \"192.0.2.1\" is not an IPv6 address (query_type AAAA)"},
		{"bad-expect-mx.yml", "testdata/bad-expect-mx.yml:7: target \"dns1\": expect_answers: \"mail.example.test.\" is not valid MX data"},
		{"bad-interval.yml", "testdata/bad-interval.yml:6: target \"dns1\": interval \"1 second\" is not a positive duration (e.g. 1s, 500ms)"},
		{"bad-nexthop.yml", "testdata/bad-nexthop.yml:6: target \"dns1\": nexthop \"router1\" is not an IP address"},
		{"bad-protocol.yml", "testdata/bad-protocol.yml:3: defaults: protocol \"quic\" is not one of udp, tcp, tcp-tls"},
		{"bad-query-name.yml", "testdata/bad-query-name.yml:2: defaults: query_name \"health..example.test.\" is not a valid domain name"},
		{"bad-tls-server-name.yml", "testdata/bad-tls-server-name.yml:7: target \"dns1\": tls_server_name \"dns 1\" is not a valid host name"},
		{"tls-ca-file-missing.yml", "testdata/tls-ca-file-missing.yml:4: defaults: tls_ca_file: open testdata/no-such-ca.pem: no such file or directory"},
		{"tls-ca-file-not-pem.yml", "testdata/tls-ca-file-not-pem.yml:7: target \"dns1\": tls_ca_file: testdata/tls-ca-file-not-pem.yml holds no PEM certificate"},
		{"tls-key-without-tls.yml", "testdata/tls-key-without-tls.yml:6: target \"dns1\": tls_server_name needs protocol tcp-tls"},
		{"bad-query-type.yml", "testdata/bad-query-type.yml:6: target \"dns1\": unknown query_type \"AA\""},
		{"bad-rcode.yml", "testdata/bad-rcode.yml:6: target \"dns1\": unknown rcode \"NOTFOUND\" in valid_rcodes"},
		{"bad-service.yml", "testdata/bad-service.yml:6: target \"dns1\": service \"192.0.2.53/33\" is not an IP prefix (e.g. 192.0.2.53/32)"},
		{"bad-source-address.yml", "testdata/bad-source-address.yml:6: target \"dns1\": source_address \"eth0\" is not an IP address"},
		{"bad-timeout.yml", "testdata/bad-timeout.yml:3: defaults: timeout \"-5ms\" is not a positive duration (e.g. 1s, 500ms)"},
		{"defaults-timeout-not-less-than-interval.yml", "testdata/defaults-timeout-not-less-than-interval.yml:3: defaults: timeout 1s must be less than interval 1s"},
		{"duplicate-key.yml", "testdata/duplicate-key.yml:6: mapping key \"address\" already defined at line 5"},
		{"duplicate-name.yml", "testdata/duplicate-name.yml:6: target \"dns1\": duplicate name (first defined at line 4)"},
		{"empty-rcodes.yml", "testdata/empty-rcodes.yml:6: target \"dns1\": valid_rcodes must not be empty"},
		{"empty.yml", "testdata/empty.yml:1: empty configuration: at least one target is required"},
		{"interval-below-default-timeout.yml", "testdata/interval-below-default-timeout.yml:6: target \"dns1\": timeout 500ms must be less than interval 200ms"},
		{"ipv6-address-no-brackets.yml", "testdata/ipv6-address-no-brackets.yml:5: target \"dns1\": address \"2001:db8::1:5353:x\" is not IP or IP:port (IPv6 as [addr]:port)"},
		{"no-address.yml", "testdata/no-address.yml:4: target \"dns1\": address is required"},
		{"no-name.yml", "testdata/no-name.yml:4: target without a name"},
		{"no-query-name.yml", "testdata/no-query-name.yml:2: target \"dns1\": query_name is required (here or in defaults)"},
		{"no-targets.yml", "testdata/no-targets.yml:3: at least one target is required"},
		{"port-zero.yml", "testdata/port-zero.yml:5: target \"dns1\": address \"198.51.100.11:0\" has port 0"},
		{"service-host-bits.yml", "testdata/service-host-bits.yml:6: target \"dns1\": service \"192.0.2.53/24\" has host bits set (did you mean 192.0.2.0/24?)"},
		{"source-address-family.yml", "testdata/source-address-family.yml:6: target \"dns1\": source_address 2001:db8::1 and address 198.51.100.11 are of different IP families"},
		{"syntax.yml", "testdata/syntax.yml:3: did not find expected '-' indicator"},
		{"target-not-mapping.yml", "testdata/target-not-mapping.yml:4: cannot unmarshal !!str `dns1` into a target (a mapping)"},
		{"timeout-not-less-than-interval.yml", "testdata/timeout-not-less-than-interval.yml:7: target \"dns1\": timeout 600ms must be less than interval 500ms"},
		{"unknown-key-defaults.yml", "testdata/unknown-key-defaults.yml:3: unknown field \"frequency\" in defaults"},
		{"unknown-key-target.yml", "testdata/unknown-key-target.yml:6: unknown field \"next_hop\" in targets[]"},
		{"null.yml", "testdata/null.yml:1: empty configuration: at least one target is required"},
		{"name-control-character.yml", "testdata/name-control-character.yml:4: target name \"dns\\n1\" contains a control character"},
		{"nexthop-ipv4-mapped.yml", "testdata/nexthop-ipv4-mapped.yml:6: target \"dns1\": nexthop \"::ffff:198.51.100.11\" is IPv4-mapped IPv6: write 198.51.100.11"},
		{"nexthop-zone.yml", "testdata/nexthop-zone.yml:6: target \"dns1\": nexthop \"fe80::1%eth0\" has a zone: nexthops are global addresses"},
		{"service-ipv4-mapped.yml", "testdata/service-ipv4-mapped.yml:6: target \"dns1\": service \"::ffff:192.0.2.53\" is IPv4-mapped IPv6: write it as IPv4"},
		{"address-ipv4-mapped.yml", "testdata/address-ipv4-mapped.yml:5: target \"dns1\": nexthop (default: the address's IP) \"::ffff:198.51.100.11\" is IPv4-mapped IPv6: write 198.51.100.11"},
		{"unknown-key-top.yml", "testdata/unknown-key-top.yml:3: unknown field \"target\""},
	}
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d fixtures in testdata, %d cases: every fixture needs a case", len(files), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatalf("loaded %+v, want error %q", cfg, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.want)
			}
		})
	}
}

func TestMultipleErrorsAllReported(t *testing.T) {
	_, err := Parse("x.yml", []byte("defaults:\n  query_name: a.\ntargets:\n  - name: a\n    address: nope\n  - name: b\n    address: 192.0.2.1\n    protocol: sctp\n"))
	want := "x.yml:5: target \"a\": address \"nope\" is not IP or IP:port (IPv6 as [addr]:port)\n" +
		"x.yml:8: target \"b\": protocol \"sctp\" is not one of udp, tcp, tcp-tls"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	cfg, err := Parse("x.yml", []byte(`
defaults:
  interval: 2s
  timeout: 1s
  query_name: Health.Example.TEST
  query_type: txt
  valid_rcodes: [noerror, NXDOMAIN, NOERROR]
  recursion_desired: true
  expect_answers: [ok]
targets:
  - name: a
    address: 198.51.100.11
  - name: b
    address: "[2001:db8::53]:5353"
    nexthop: 2001:db8::1
    service: 2001:db8:53::1
    source_address: 2001:db8::2
    interval: 250ms
    timeout: 100ms
    query_name: other.example.test.
    query_type: AAAA
    protocol: tcp
    valid_rcodes: [SERVFAIL]
    recursion_desired: false
    expect_answers: ["2001:DB8::0:1"]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{{
		Name: "a", Address: netip.MustParseAddrPort("198.51.100.11:53"), Nexthop: netip.MustParseAddr("198.51.100.11"),
		Interval: 2 * time.Second, Timeout: time.Second, QueryName: "health.example.test.", QueryType: dns.TypeTXT,
		Protocol: "udp", ValidRcodes: []int{dns.RcodeSuccess, dns.RcodeNameError}, RecursionDesired: true,
		ExpectAnswers: []string{"ok"}, Line: 11,
	}, {
		Name: "b", Address: netip.MustParseAddrPort("[2001:db8::53]:5353"), Nexthop: netip.MustParseAddr("2001:db8::1"),
		Service: "2001:db8:53::1/128", SourceAddress: netip.MustParseAddr("2001:db8::2"),
		Interval: 250 * time.Millisecond, Timeout: 100 * time.Millisecond, QueryName: "other.example.test.", QueryType: dns.TypeAAAA,
		Protocol: "tcp", ValidRcodes: []int{dns.RcodeServerFailure}, ExpectAnswers: []string{"2001:db8::1"}, Line: 13,
	}}
	if !reflect.DeepEqual(cfg.Targets, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg.Targets, want)
	}
	if got := cfg.Targets[1].Labels(); !reflect.DeepEqual(got, []string{"b", "2001:db8::1", "2001:db8:53::1/128"}) {
		t.Errorf("labels %q", got)
	}
}

func TestBuiltinDefaults(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("targets:\n  - name: a\n    address: 192.0.2.1\n    query_name: h.example.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	tg := cfg.Targets[0]
	if tg.Interval != DefaultInterval || tg.Timeout != DefaultTimeout || tg.Protocol != "udp" || tg.QueryType != dns.TypeA ||
		!reflect.DeepEqual(tg.ValidRcodes, []int{dns.RcodeSuccess}) || tg.RecursionDesired || tg.Service != "" || tg.SourceAddress.IsValid() {
		t.Errorf("defaults not applied: %+v", tg)
	}
}

// Every example exporter configuration in deploy/ must load.
func TestDeployExamples(t *testing.T) {
	var files []string
	filepath.WalkDir("../../deploy", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "dns_sla_exporter") && strings.HasSuffix(d.Name(), ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no deploy/**/dns_sla_exporter*.yml found")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestCanonicalExpect(t *testing.T) {
	tests := []struct {
		qtype       uint16
		value, want string
		rr          string // an answer that must match
	}{
		{dns.TypeA, "192.0.2.1", "192.0.2.1", "x. 1 IN A 192.0.2.1"},
		{dns.TypeAAAA, "2001:DB8:0::1", "2001:db8::1", "x. 1 IN AAAA 2001:db8::1"},
		{dns.TypeTXT, "hello world", "hello world", "x. 1 IN TXT \"hello world\""},
		{dns.TypeCNAME, "Target.Example.TEST.", "target.example.test.", "x. 1 IN CNAME target.example.test."},
		{dns.TypeMX, "10 Mail.example.test.", "10 mail.example.test.", "x. 1 IN MX 10 mail.example.test."},
	}
	for _, tc := range tests {
		got, err := CanonicalExpect(tc.qtype, tc.value)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalExpect(%s, %q) = %q, %v; want %q", dns.TypeToString[tc.qtype], tc.value, got, err, tc.want)
		}
		rr, err := dns.NewRR(tc.rr)
		if err != nil {
			t.Fatal(err)
		}
		if c := CanonicalRdata(rr); c != tc.want {
			t.Errorf("CanonicalRdata(%s) = %q, want %q", tc.rr, c, tc.want)
		}
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1:53"},
		{"192.0.2.1:5353", "192.0.2.1:5353"},
		{"2001:db8::1", "[2001:db8::1]:53"},
		{"[2001:db8::1]:5353", "[2001:db8::1]:5353"},
		{"::1", "[::1]:53"},
	}
	for _, tc := range tests {
		got, err := ParseAddress(tc.in, DefaultPort)
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	file := filepath.Join(dir, "dns_sla_exporter.yml")
	cfg, err := Parse(file, []byte(`
defaults:
  query_name: h.example.test.
  tls_ca_file: ca.pem
  tls_server_name: dns.example.test
targets:
  - name: dot
    address: 192.0.2.1
    protocol: tcp-tls
  - name: dot-ip
    address: "[2001:db8::1]:8853"
    protocol: tcp-tls
    tls_server_name: 2001:db8::1
    tls_insecure_skip_verify: true
  - name: udp
    address: 192.0.2.2
`))
	if err != nil {
		t.Fatal(err)
	}
	dot, ip, udp := cfg.Targets[0], cfg.Targets[1], cfg.Targets[2]
	if dot.Address.Port() != DefaultTLSPort || dot.TLSCAFile != filepath.Join(dir, "ca.pem") || dot.TLSServerName != "dns.example.test" || dot.TLSInsecureSkipVerify {
		t.Errorf("dot: %+v", dot)
	}
	if ip.Address.Port() != 8853 || ip.TLSServerName != "2001:db8::1" || !ip.TLSInsecureSkipVerify {
		t.Errorf("dot-ip: %+v", ip)
	}
	// The defaults' TLS settings do not apply to other protocols.
	if udp.Address.Port() != DefaultPort || udp.TLSCAFile != "" || udp.TLSServerName != "" {
		t.Errorf("udp: %+v", udp)
	}
}
