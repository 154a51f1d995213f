// Package testpki makes a throw-away certificate authority for tests: a CA,
// a server certificate for localhost, api.test and 127.0.0.1, and a client
// certificate, all ECDSA P-256 and valid for a day, and loopback test
// servers that use them.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// PKI is a test CA and the certificates it issued, PEM-encoded.
type PKI struct {
	CAPEM         []byte
	ClientCertPEM []byte
	ClientKeyPEM  []byte
	ServerCert    tls.Certificate // for localhost, api.test and 127.0.0.1
	Pool          *x509.CertPool  // holds the CA
}

// New makes a CA named name and issues the server and client certificates.
func New(t testing.TB, name string) *PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string, serial int64, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &PKI{CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)
	sc, sk := issue("server", 2, x509.ExtKeyUsageServerAuth, []string{"localhost", "api.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if p.ServerCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	p.ClientCertPEM, p.ClientKeyPEM = issue("client", 3, x509.ExtKeyUsageClientAuth, nil, nil)
	return p
}

// Server starts an httptest server of kind serving h, closed at the end of the test, and counts the connections
// it accepts: "http" (HTTP/1.1), "h2c" (HTTP/1.1 and h2c), "https" (TLS, HTTP/1.1 only), "h2" (TLS with h2 and
// HTTP/1.1), "mtls" (as h2, a client certificate of this CA required).
func (p *PKI) Server(t testing.TB, h http.Handler, kind string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	conns := new(atomic.Int64)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	switch kind {
	case "http":
		ts.Start()
	case "h2c":
		ts.Config.Protocols = new(http.Protocols)
		ts.Config.Protocols.SetHTTP1(true)
		ts.Config.Protocols.SetUnencryptedHTTP2(true)
		ts.Start()
	case "https", "h2", "mtls":
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{p.ServerCert}}
		if kind == "https" {
			ts.TLS.NextProtos = []string{"http/1.1"}
		} else {
			ts.EnableHTTP2 = true
		}
		if kind == "mtls" {
			ts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
			ts.TLS.ClientCAs = p.Pool
		}
		ts.StartTLS()
	default:
		t.Fatalf("testpki: server kind %q", kind)
	}
	t.Cleanup(ts.Close)
	return ts, conns
}
