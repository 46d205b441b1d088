package probe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testPKI makes a CA (written to caFile) and a server certificate for
// 127.0.0.1 and dns.example.test signed by it.
func testPKI(t *testing.T) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "dns.example.test"},
		DNSNames: []string{"dns.example.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestDNSOverTLS(t *testing.T) {
	caFile, cert := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, &dns.Server{Listener: ln, Net: "tcp-tls", Handler: answer(dns.RcodeSuccess, qname+" 60 IN A 192.0.2.1")})
	addr := netip.MustParseAddrPort(ln.Addr().String())
	tests := []struct {
		name, serverName, ca string
		insecure             bool
		want                 Result
	}{
		{"verified by name", "dns.example.test", caFile, false, Success},
		{"verified by IP", "", caFile, false, Success},
		{"wrong name", "other.example.test", caFile, false, NetworkError},
		{"unknown CA", "dns.example.test", "", false, NetworkError},
		{"unverified", "other.example.test", "", true, Success},
	}
	for _, tc := range tests {
		tg := target(addr, "tcp-tls")
		// A handshake under -race on a loaded machine outlasted 300ms; every
		// case here ends long before a timeout, which is not what it tests.
		tg.Timeout = 5 * time.Second
		tg.TLSServerName, tg.TLSCAFile, tg.TLSInsecureSkipVerify = tc.serverName, tc.ca, tc.insecure
		p, err := New(tg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 { // the second probe may resume the TLS session
			if o := p.Probe(t.Context()); o.Result != tc.want {
				t.Errorf("%s, probe %d: result %s (err %v), want %s", tc.name, i, o.Result, o.Err, tc.want)
			}
		}
		p.Close()
	}
	// Silence after the TCP connect: the handshake is bounded by the timeout.
	silentLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silentLn.Close()
	tg := target(netip.MustParseAddrPort(silentLn.Addr().String()), "tcp-tls")
	tg.Timeout = 100 * time.Millisecond
	if o := probeOnce(t, tg); o.Result != Timeout {
		t.Errorf("silent TLS server: result %s (err %v), want timeout", o.Result, o.Err)
	}
}
