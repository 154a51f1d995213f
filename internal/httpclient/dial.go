package httpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// DialError is a failure to open a connection, with the phase that failed.
type DialError struct {
	Reason Reason // ReasonDNS, ReasonConnect, ReasonTLS or ReasonCanceled
	Err    error
}

func (e *DialError) Error() string { return e.Reason.String() + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// route is how a Host reaches its target.
type route struct {
	addr      string // host:port of the target
	proxy     string // host:port of the proxy ("" direct)
	forward   bool   // requests go to the proxy in absolute form (http target, HTTP/1.1)
	tunnel    bool   // a CONNECT tunnel through the proxy (https or h2c target)
	proxyAuth string // Proxy-Authorization value ("" none)
}

// route decides whether u goes through a proxy: Config.Proxy when set, else
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY from the environment (never for a
// loopback or localhost target, as net/http does), unless Config.Proxy is
// "direct".
func (c *Client) route(r *route, u *url.URL, h2c bool) error {
	pu := c.proxy
	if pu == nil && !c.direct {
		var err error
		pu, err = httpproxy.FromEnvironment().ProxyFunc()(u)
		if err != nil {
			return fmt.Errorf("proxy from the environment: %w", err)
		}
		if pu != nil {
			if _, err := ParseProxy(pu.String()); err != nil {
				return fmt.Errorf("proxy from the environment: %w", err)
			}
		}
	}
	if pu == nil {
		return nil
	}
	r.proxy = pu.Host
	if pu.Port() == "" {
		r.proxy = net.JoinHostPort(pu.Hostname(), "80")
	}
	if pu.User != nil {
		pw, _ := pu.User.Password()
		r.proxyAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pw))
	}
	r.tunnel = u.Scheme == "https" || h2c
	r.forward = !r.tunnel
	return nil
}

// rawConn is a new connection (TLS done, if any) and its dial phases.
type rawConn struct {
	net.Conn
	dns, connect, tls time.Duration
	alpn              string // the protocol TLS negotiated ("" none)
}

// dial opens a connection along r: the hosts override, name resolution, TCP
// connect (to the proxy when there is one, then CONNECT through it), and the
// TLS handshake when tlsCfg is not nil. Failures are *DialError with the
// phase that failed.
func (c *Client) dial(ctx context.Context, r *route, tlsCfg *tls.Config) (*rawConn, error) {
	if c.aborted.Load() {
		return nil, &DialError{Reason: ReasonCanceled, Err: ErrAborted}
	}
	addr := r.addr
	if r.proxy != "" {
		addr = r.proxy
	}
	host, port, err := net.SplitHostPort(c.override(addr))
	if err != nil {
		return nil, &DialError{Reason: ReasonConnect, Err: err}
	}
	rc := &rawConn{}
	t0 := time.Now()
	ip := host
	if net.ParseIP(host) == nil {
		ips, err := c.cfg.Resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, &DialError{Reason: ReasonDNS, Err: err}
		}
		if len(ips) == 0 {
			return nil, &DialError{Reason: ReasonDNS, Err: fmt.Errorf("no addresses for %s", host)}
		}
		ip = ips[0].IP.String()
		for _, a := range ips { // prefer IPv4, like most load tools
			if a.IP.To4() != nil {
				ip = a.IP.String()
				break
			}
		}
		rc.dns = time.Since(t0)
	}
	t1 := time.Now()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
	if err != nil {
		return nil, &DialError{Reason: ReasonConnect, Err: err}
	}
	if r.tunnel {
		if err := connectTunnel(ctx, raw, c.override(r.addr), r.proxyAuth); err != nil {
			raw.Close()
			return nil, &DialError{Reason: ReasonConnect, Err: err}
		}
	}
	rc.connect = time.Since(t1)
	rc.Conn = raw
	if tlsCfg != nil {
		t2 := time.Now()
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &DialError{Reason: ReasonTLS, Err: err}
		}
		rc.tls = time.Since(t2)
		rc.Conn = tc
		rc.alpn = tc.ConnectionState().NegotiatedProtocol
	}
	return rc, nil
}

// override applies Config.Hosts to host:port: "name:port" first, then
// "name"; a replacement without a port keeps the original one.
func (c *Client) override(addr string) string {
	if len(c.cfg.Hosts) == 0 {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	to, ok := c.cfg.Hosts[addr]
	if !ok {
		if to, ok = c.cfg.Hosts[host]; !ok {
			to, ok = c.cfg.Hosts[strings.ToLower(host)]
		}
	}
	if !ok {
		return addr
	}
	h, p, err := splitOptPort(to)
	if err != nil {
		return addr
	}
	if p == "" {
		p = port
	}
	return net.JoinHostPort(h, p)
}

// connectTunnel asks the proxy on raw for a tunnel to addr (CONNECT) and
// reads its answer; anything but 2xx is an error naming the status.
func connectTunnel(ctx context.Context, raw net.Conn, addr, auth string) error {
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
		defer raw.SetDeadline(time.Time{})
	}
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if auth != "" {
		req += "Proxy-Authorization: " + auth + "\r\n"
	}
	if _, err := raw.Write([]byte(req + "\r\n")); err != nil {
		return fmt.Errorf("proxy CONNECT %s: %w", addr, err)
	}
	// The TLS server does not speak before the client: nothing past the
	// response can be buffered and lost. Read byte by byte anyway to be sure.
	br := bufio.NewReaderSize(oneByteReader{raw}, 16)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		return fmt.Errorf("proxy CONNECT %s: %w", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("proxy CONNECT %s: %s", addr, resp.Status)
	}
	return nil
}

// oneByteReader reads at most one byte at a time, so a bufio.Reader on it
// never reads past what it is asked for.
type oneByteReader struct{ r net.Conn }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
