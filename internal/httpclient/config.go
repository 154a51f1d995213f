package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Version is the HTTP version a Client speaks (Config.Version).
type Version uint8

// The versions. Version1 is the zero value (what a Client built without a
// version speaks: the executor's until the plan's http.version is wired);
// a plan's default is VersionAuto (ParseVersion("")).
const (
	// Version1 is HTTP/1.1 (the fasthttp path).
	Version1 Version = iota
	// VersionAuto speaks HTTP/2 to an https target whose TLS handshake
	// (ALPN) agrees to h2 and HTTP/1.1 otherwise. The choice is made once
	// per target, on its first connection (see Host.decide).
	VersionAuto
	// Version2 is HTTP/2 over TLS (ALPN h2); an https target only.
	Version2
	// VersionH2C is HTTP/2 without TLS, with prior knowledge; an http target only.
	VersionH2C
)

var versionNames = [...]string{Version1: "1.1", VersionAuto: "auto", Version2: "2", VersionH2C: "h2c"}

func (v Version) String() string {
	if int(v) < len(versionNames) {
		return versionNames[v]
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// ParseVersion parses a plan's http.version: "auto" (or "", the plan's
// default), "1.1", "2" or "h2c".
func ParseVersion(s string) (Version, error) {
	switch s {
	case "", "auto":
		return VersionAuto, nil
	case "1.1", "1":
		return Version1, nil
	case "2", "2.0":
		return Version2, nil
	case "h2c":
		return VersionH2C, nil
	}
	return 0, fmt.Errorf("version %q: want auto, \"1.1\", \"2\" or h2c", s)
}

// ConnReuse is the connection policy (Config.ConnReuse).
type ConnReuse uint8

// The policies. ReuseShared is the zero value.
const (
	// ReuseShared keeps one pool of kept-alive connections per target,
	// used by every request (LIFO on HTTP/1.1; multiplexed on HTTP/2).
	ReuseShared ConnReuse = iota
	// ReusePerVU gives each Session (a virtual user, an open-model worker)
	// its own connection per target, kept alive between its requests.
	// Host.Do, which has no Session, uses the shared pool.
	ReusePerVU
	// ReuseNone opens a connection (and does the TLS handshake) for every
	// request and closes it after the response: every request measures
	// connect and tls.
	ReuseNone
)

var reuseNames = [...]string{ReuseShared: "shared", ReusePerVU: "per_vu", ReuseNone: "none"}

func (r ConnReuse) String() string {
	if int(r) < len(reuseNames) {
		return reuseNames[r]
	}
	return "ConnReuse(" + strconv.Itoa(int(r)) + ")"
}

// ParseConnReuse parses a plan's http.connection_reuse: shared (or ""), per_vu or none.
func ParseConnReuse(s string) (ConnReuse, error) {
	for i, n := range reuseNames {
		if s == n {
			return ConnReuse(i), nil
		}
	}
	if s == "" {
		return ReuseShared, nil
	}
	return 0, fmt.Errorf("connection_reuse %q: want shared, per_vu or none", s)
}

// Encodings are the content codings a Client can decode, in the order of
// the default Accept-Encoding: gzip, br (brotli), zstd, deflate.
var Encodings = []string{"gzip", "br", "zstd", "deflate"}

// CheckEncodings validates a compression list: each name one of Encodings,
// none twice.
func CheckEncodings(list []string) error {
	seen := map[string]bool{}
	for _, e := range list {
		if codingOf([]byte(e)) == codingNone {
			return fmt.Errorf("compression %q: want one of %s", e, strings.Join(Encodings, ", "))
		}
		if seen[e] {
			return fmt.Errorf("compression %q listed twice", e)
		}
		seen[e] = true
	}
	return nil
}

// TLSOptions are the TLS settings of a plan (http.tls). The zero value
// verifies the server against the system's roots, with the target's host
// name, TLS 1.2 at least.
type TLSOptions struct {
	// CAFile is a PEM file of CA certificates that replace the system roots.
	CAFile string
	// InsecureSkipVerify accepts any server certificate (no verification).
	InsecureSkipVerify bool
	// CertFile and KeyFile are the PEM client certificate and its key, for
	// servers that require one (both or neither).
	CertFile, KeyFile string
	// ServerName is sent as SNI and verified against the certificate
	// instead of the target's host name.
	ServerName string
	// MinVersion is the lowest TLS version accepted: "1.0", "1.1", "1.2"
	// (the default) or "1.3".
	MinVersion string
}

// IsZero reports whether o sets nothing.
func (o TLSOptions) IsZero() bool { return o == TLSOptions{} }

// TLSVersion parses "1.0", "1.1", "1.2" or "1.3".
func TLSVersion(s string) (uint16, error) {
	switch s {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tls.min_version %q: want \"1.0\", \"1.1\", \"1.2\" or \"1.3\"", s)
}

// maxPEMBytes bounds a CA, certificate or key file.
const maxPEMBytes = 4 << 20

// Build returns the tls.Config of o, reading its files. Errors name the
// option (tls.ca_file, tls.cert_file, ...) and the file.
func (o TLSOptions) Build() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify, ServerName: o.ServerName}
	if o.MinVersion != "" {
		v, err := TLSVersion(o.MinVersion)
		if err != nil {
			return nil, err
		}
		cfg.MinVersion = v
	}
	if o.CAFile != "" {
		pem, err := readLimited(o.CAFile, maxPEMBytes)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		cert, err := readLimited(o.CertFile, maxPEMBytes)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		key, err := readLimited(o.KeyFile, maxPEMBytes)
		if err != nil {
			return nil, fmt.Errorf("tls.key_file: %w", err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file %s and tls.key_file %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case o.CertFile != "":
		return nil, errors.New("tls.cert_file is set without tls.key_file")
	case o.KeyFile != "":
		return nil, errors.New("tls.key_file is set without tls.cert_file")
	}
	return cfg, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: over the %d-byte limit", path, limit)
	}
	return b, nil
}

// ParseProxy parses a proxy URL: http://[user:password@]host:port. "" means
// none; "direct" means none and no proxy from the environment either.
func ParseProxy(s string) (*url.URL, error) {
	if s == "" || s == "direct" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy %q: %w", s, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("proxy %q: scheme must be http (an HTTP proxy; CONNECT is used for https targets)", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy %q: no host", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("proxy %q: no path or query allowed", s)
	}
	return u, nil
}

// CheckHosts validates a DNS override map: each key a host name (with an
// optional :port), each value an IP address or a host name (with an
// optional :port).
func CheckHosts(hosts map[string]string) error {
	for name, addr := range hosts {
		if name == "" || strings.ContainsAny(name, "/ ") {
			return fmt.Errorf("hosts: %q is not a host name", name)
		}
		if _, _, err := splitOptPort(addr); err != nil || addr == "" {
			return fmt.Errorf("hosts[%s]: %q is not an address (want an IP or host name, optionally with :port)", name, addr)
		}
	}
	return nil
}

// splitOptPort splits "host" or "host:port" (IPv6 in brackets when with a
// port).
func splitOptPort(s string) (host, port string, err error) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return "", "", fmt.Errorf("bad port %q", p)
		}
		return h, p, nil
	}
	if strings.ContainsAny(s, "/ ") {
		return "", "", fmt.Errorf("bad host %q", s)
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "", nil
}

// Check validates cfg without opening anything but its TLS files: what the
// plan validation calls so that a bad option fails before the run.
func (cfg *Config) Check() error {
	if cfg.Version > VersionH2C {
		return fmt.Errorf("version %d unknown", cfg.Version)
	}
	if cfg.ConnReuse > ReuseNone {
		return fmt.Errorf("connection_reuse %d unknown", cfg.ConnReuse)
	}
	if err := CheckEncodings(cfg.Compression); err != nil {
		return err
	}
	if cfg.Redirects < 0 || cfg.Redirects > MaxRedirects {
		return fmt.Errorf("redirects %d: want 0 to %d", cfg.Redirects, MaxRedirects)
	}
	if _, err := ParseProxy(cfg.Proxy); err != nil {
		return err
	}
	if err := CheckHosts(cfg.Hosts); err != nil {
		return err
	}
	if !cfg.TLS.IsZero() {
		if _, err := cfg.TLS.Build(); err != nil {
			return err
		}
	}
	return nil
}
