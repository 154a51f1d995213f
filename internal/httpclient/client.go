// Package httpclient is the HTTP/1.1 client behind the executor: one
// fasthttp.HostClient connection pool per target (LIFO reuse, sized to the
// load's concurrency), per-request timeouts, no silent retries, bodies always
// read to their end but kept only up to a limit (memory per request is
// bounded whatever the target sends), a timing breakdown per request (dns,
// connect, tls, time to first byte, bytes in and out) and a closed set of
// failure reasons (Classify).
//
// fasthttp is used because it costs about a third of net/http's CPU per
// request (notes/generator-design.md). The request/response objects are
// fasthttp's, reused by each worker, so a request allocates nothing.
package httpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults of Config.
const (
	DefaultMaxConns            = 512
	DefaultDialTimeout         = 5 * time.Second
	DefaultMaxIdleConnDuration = 30 * time.Second
	DefaultUserAgent           = "loadlab"
)

// Config tunes a Client. The zero value is usable.
type Config struct {
	// MaxConns caps the connections per target (default DefaultMaxConns).
	// Size it to the concurrency the load needs (max_in_flight, VUs): a
	// request that finds every connection busy waits for one, within its
	// timeout.
	MaxConns int
	// DialTimeout bounds dns + connect + tls of a new connection (default
	// DefaultDialTimeout; the request's own timeout applies too).
	DialTimeout time.Duration
	// TLSConfig for https targets (nil: system roots, server name from the URL).
	TLSConfig *tls.Config
	// MaxIdleConnDuration closes connections idle longer than this.
	MaxIdleConnDuration time.Duration
	// MaxHeaderBytes bounds a response's status line and headers (default
	// DefaultMaxHeaderBytes); it is the size of the read buffer each request
	// in flight holds.
	MaxHeaderBytes int
	// UserAgent is sent when a request has none (default DefaultUserAgent).
	UserAgent string
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver *net.Resolver
}

// Client holds one connection pool per target host. It is safe for
// concurrent use; Host is called once per target at start, Host.Do per request.
type Client struct {
	cfg     Config
	mu      sync.Mutex
	hosts   map[string]*Host
	conns   map[*conn]struct{}
	aborted atomic.Bool
}

// New returns a Client with cfg's defaults applied.
func New(cfg Config) *Client {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxIdleConnDuration <= 0 {
		cfg.MaxIdleConnDuration = DefaultMaxIdleConnDuration
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return &Client{cfg: cfg, hosts: map[string]*Host{}, conns: map[*conn]struct{}{}}
}

// ErrAborted is returned by requests cut short by Abort; Classify maps it to
// ReasonCanceled.
var ErrAborted = errors.New("httpclient: aborted")

// Host is the connection pool of one target (scheme + host:port).
type Host struct {
	c       *Client
	hc      *fasthttp.HostClient
	isTLS   bool
	host    string // host[:port] as in the URL, for the Host header
	dialTO  time.Duration
	maxHdr  int
	uaBytes []byte
}

// Host returns the pool for rawURL's scheme and host (creating it once). Call
// it when preparing a run, not per request.
func (c *Client) Host(rawURL string) (*Host, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target %q: scheme must be http or https", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("target %q: no host", rawURL)
	}
	key := u.Scheme + "://" + u.Host
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.hosts[key]; h != nil {
		return h, nil
	}
	isTLS := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		if isTLS {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	tlsCfg := c.cfg.TLSConfig
	if isTLS {
		if tlsCfg == nil {
			tlsCfg = &tls.Config{}
		} else {
			tlsCfg = tlsCfg.Clone()
		}
		if tlsCfg.ServerName == "" {
			tlsCfg.ServerName = u.Hostname()
		}
	}
	h := &Host{c: c, isTLS: isTLS, host: u.Host, dialTO: c.cfg.DialTimeout, maxHdr: c.cfg.MaxHeaderBytes, uaBytes: []byte(c.cfg.UserAgent)}
	h.hc = &fasthttp.HostClient{
		Addr:                addr,
		IsTLS:               isTLS,
		MaxConns:            c.cfg.MaxConns,
		MaxConnWaitTimeout:  time.Hour, // the request's timeout bounds the wait
		MaxIdleConnDuration: c.cfg.MaxIdleConnDuration,
		ReadBufferSize:      c.cfg.MaxHeaderBytes,
		ConnPoolStrategy:    fasthttp.LIFO,
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			return c.dial(addr, timeout, isTLS, tlsCfg)
		},
		MaxIdemponentCallAttempts: 1,
		NoDefaultUserAgentHeader:  true,
	}
	c.hosts[key] = h
	return h, nil
}

// SetMaxConns changes the connection cap of every pool (for a load change).
func (c *Client) SetMaxConns(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.MaxConns = n
	for _, h := range c.hosts {
		h.hc.SetMaxConns(n)
	}
}

// Abort cuts every request in flight short (they fail with ErrAborted, reason
// canceled) and makes later requests fail at once. It is how a cancelled run
// stops within moments instead of waiting for request timeouts.
func (c *Client) Abort() {
	c.aborted.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	past := time.Unix(1, 0)
	for cn := range c.conns {
		_ = cn.Conn.SetDeadline(past)
	}
}

// CloseIdleConnections closes every idle connection.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	hosts := make([]*Host, 0, len(c.hosts))
	for _, h := range c.hosts {
		hosts = append(hosts, h)
	}
	c.mu.Unlock() // closing a conn takes c.mu
	for _, h := range hosts {
		h.hc.CloseIdleConnections()
	}
}

// Conns returns the number of open connections.
func (c *Client) Conns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// DialError is a failure to open a connection, with the phase that failed.
type DialError struct {
	Reason Reason // ReasonDNS, ReasonConnect, ReasonTLS or ReasonCanceled
	Err    error
}

func (e *DialError) Error() string { return e.Reason.String() + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

func (c *Client) dial(addr string, timeout time.Duration, isTLS bool, tlsCfg *tls.Config) (net.Conn, error) {
	if c.aborted.Load() {
		return nil, &DialError{Reason: ReasonCanceled, Err: ErrAborted}
	}
	if timeout <= 0 || timeout > c.cfg.DialTimeout {
		timeout = c.cfg.DialTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &DialError{Reason: ReasonConnect, Err: err}
	}
	cn := &conn{client: c, fresh: true}
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
		cn.dns = time.Since(t0)
	}
	t1 := time.Now()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
	if err != nil {
		return nil, &DialError{Reason: ReasonConnect, Err: err}
	}
	cn.connect = time.Since(t1)
	cn.Conn = raw
	if isTLS {
		t2 := time.Now()
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &DialError{Reason: ReasonTLS, Err: err}
		}
		cn.tls = time.Since(t2)
		cn.Conn = tc
	}
	c.mu.Lock()
	c.conns[cn] = struct{}{}
	aborted := c.aborted.Load()
	c.mu.Unlock()
	if aborted {
		cn.Close()
		return nil, &DialError{Reason: ReasonCanceled, Err: ErrAborted}
	}
	return cn, nil
}

// conn wraps a connection to time the first response byte and count bytes.
// Only the goroutine holding it (between AcquireConn and release) touches
// the per-request fields.
type conn struct {
	net.Conn
	client            *Client
	dns, connect, tls time.Duration
	fresh             bool // dial timings not yet reported
	wroteAt           time.Time
	firstByte         time.Time
	awaiting          bool // request written, first byte not yet read
	in, out           int64
	closeOnce         sync.Once
}

// Handshake tells fasthttp the connection is already TLS (or needs none).
func (cn *conn) Handshake() error { return nil }

func (cn *conn) Write(b []byte) (int, error) {
	n, err := cn.Conn.Write(b)
	cn.out += int64(n)
	cn.wroteAt = time.Now()
	cn.awaiting = true
	return n, err
}

func (cn *conn) Read(b []byte) (int, error) {
	n, err := cn.Conn.Read(b)
	if n > 0 {
		if cn.awaiting {
			cn.firstByte = time.Now()
			cn.awaiting = false
		}
		cn.in += int64(n)
	}
	return n, err
}

func (cn *conn) Close() error {
	var err error
	cn.closeOnce.Do(func() {
		cn.client.mu.Lock()
		delete(cn.client.conns, cn)
		cn.client.mu.Unlock()
		err = cn.Conn.Close()
	})
	return err
}

// Timing is what one request measured. Do fills it in.
type Timing struct {
	// Start is when Do began (the actual send, before waiting for a
	// connection); End when the last byte was read or the request failed.
	Start, End time.Time
	// NewConn is true when the request opened a connection; DNS, Connect
	// and TLS are then its dial phases (DNS is 0 for an IP target).
	NewConn           bool
	DNS, Connect, TLS time.Duration
	// TTFB is from the request written to the first response byte (0 when
	// none came).
	TTFB time.Duration
	// BytesOut and BytesIn count the bytes written and read (all of them,
	// including a body read past the keep limit and dropped).
	BytesOut, BytesIn int64
	// BodyBytes counts the response body bytes read (without chunked
	// framing). When it is more than len(resp.Body()), the body went past
	// the keep limit of Do and the rest was read and dropped.
	BodyBytes int64
}

// Do sends req on a pooled connection and reads the response into resp,
// waiting at most timeout (0 = none). It reads the whole body, but keeps
// only its first keep bytes in resp.Body() (0 keeps none); the rest is read
// and dropped as it arrives, so the connection stays reusable and memory
// stays bounded whatever the target announces or sends. t.BodyBytes tells
// how much body came. A response that breaks HTTP/1.1 fails with a
// *ProtocolError. Do never retries a request the server may have seen,
// except once on a reused keep-alive connection that the server had closed
// before any response byte (a stale connection; the request is idempotent).
// t receives the timings.
//
// The clock is read at the start, when the request is written, at the first
// response byte and at the end: Timing.End is the time to take as "now"
// right after Do returns.
func (h *Host) Do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, keep int, t *Timing) error {
	*t = Timing{Start: time.Now()}
	err := h.do(req, resp, timeout, keep, t, t.Start, true)
	t.End = time.Now()
	return err
}

// do sends req once; now is the current time (t.Start on the first attempt).
func (h *Host) do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, keep int, t *Timing, now time.Time, mayRetry bool) error {
	if h.c.aborted.Load() {
		return ErrAborted
	}
	var deadline time.Time
	wait := timeout
	if timeout > 0 {
		deadline = t.Start.Add(timeout)
		wait = deadline.Sub(now)
		if wait <= 0 {
			return fasthttp.ErrTimeout
		}
	}
	if len(req.Header.UserAgent()) == 0 {
		req.Header.SetUserAgentBytes(h.uaBytes)
	}
	cc, err := h.hc.AcquireConn(wait, req.ConnectionClose())
	if err != nil {
		return h.wrapErr(err)
	}
	cn, _ := cc.Conn().(*conn)
	if cn == nil {
		h.hc.CloseConn(cc)
		return errors.New("httpclient: unexpected connection type")
	}
	reused := !cn.fresh
	if cn.fresh {
		cn.fresh = false
		t.NewConn = true
		t.DNS, t.Connect, t.TLS = cn.dns, cn.connect, cn.tls
	}
	cn.in, cn.out, cn.awaiting = 0, 0, false
	cn.firstByte = time.Time{}
	// Set on every request: skipping it when the deadline barely moved
	// (tried: keep it within 1% slack) saved no measurable CPU per request
	// and cost a quarter of the closed-loop throughput, the generator
	// going idle between responses (BENCHMARKS.md, round 3).
	if err := cn.Conn.SetDeadline(deadline); err != nil {
		h.hc.CloseConn(cc)
		return h.wrapErr(err)
	}
	bw := h.hc.AcquireWriter(cn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	h.hc.ReleaseWriter(bw)
	if err != nil {
		t.BytesOut += cn.out
		h.hc.CloseConn(cc)
		return h.wrapErr(err)
	}
	resp.Reset()
	resp.SkipBody = true // fasthttp reads the status line and headers (and 1xx interim responses); readBody the body
	br := h.hc.AcquireReader(cn)
	err = resp.ReadLimitBody(br, 0)
	if err != nil {
		err = headerErr(err, h.maxHdr)
	} else {
		err = readBody(br, req, resp, keep, t)
	}
	h.hc.ReleaseReader(br)
	t.BytesOut += cn.out
	t.BytesIn += cn.in
	if !cn.firstByte.IsZero() {
		t.TTFB = cn.firstByte.Sub(cn.wroteAt)
	}
	if err != nil {
		gotBytes := cn.in > 0
		h.hc.CloseConn(cc)
		if mayRetry && reused && !gotBytes && isIdempotent(req) && Classify(err) == ReasonReset && !h.c.aborted.Load() {
			return h.do(req, resp, timeout, keep, t, time.Now(), false)
		}
		return h.wrapErr(err)
	}
	if req.ConnectionClose() || resp.ConnectionClose() || resp.StatusCode() < 200 { // 101: the connection left HTTP
		h.hc.CloseConn(cc)
	} else {
		h.hc.ReleaseConn(cc)
	}
	return nil
}

// readBody reads the body of resp (whose headers were just read from br),
// keeping its first keep bytes in resp.Body().
func readBody(br *bufio.Reader, req *fasthttp.Request, resp *fasthttp.Response, keep int, t *Timing) error {
	code := resp.StatusCode()
	if code < 100 || code > 599 {
		return protoErr("status code " + strconv.Itoa(code) + " outside 100-599")
	}
	// RFC 9112 6.3: no body after HEAD, and none in 1xx (101 here), 204 and 304.
	if req.Header.IsHead() || code < 200 || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified {
		return nil
	}
	b := bodyReader{br: br, keep: max(keep, 0)}
	if b.keep > 0 {
		b.dst = resp.SwapBody(nil)[:0]
	}
	var err error
	switch cl := resp.Header.ContentLength(); {
	case cl >= 0:
		err = b.fixed(int64(cl))
	case cl == -1:
		err = b.chunked()
	default: // -2: no length, no chunking: the body ends when the connection does (fasthttp marks it close)
		err = b.untilClose()
	}
	if b.keep > 0 {
		resp.SwapBody(b.dst)
	}
	t.BodyBytes = b.n
	return err
}

func (h *Host) wrapErr(err error) error {
	if h.c.aborted.Load() {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return err
}

func isIdempotent(req *fasthttp.Request) bool {
	switch string(req.Header.Method()) {
	case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// HostHeader returns the host[:port] of the target, as in its URL.
func (h *Host) HostHeader() string { return h.host }

// IsTLS reports whether the target is https.
func (h *Host) IsTLS() bool { return h.isTLS }

// String describes the pool.
func (h *Host) String() string {
	s := "http://"
	if h.isTLS {
		s = "https://"
	}
	return s + strings.TrimSuffix(h.host, "/")
}
