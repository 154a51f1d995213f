// Package httpclient is the HTTP client behind the executor. HTTP/1.1 goes
// through fasthttp: one fasthttp.HostClient connection pool per target (LIFO
// reuse, sized to the load's concurrency), the request written and the
// response read by this package, so a request allocates nothing. HTTP/2 (over
// TLS with ALPN h2, or h2c with prior knowledge) goes through net/http's
// HTTP/2 client connections, behind the same Host.Do. Both paths record the
// same Timing (dns, connect, tls, wait, receive, bytes), keep response bodies
// within a limit (memory per request is bounded whatever the target sends),
// decode gzip, br, zstd and deflate bodies, and map every failure to a
// closed set of reasons (Classify). Above them, a Session follows redirects
// (each hop timed), keeps cookies in a Jar and, under connection_reuse
// per_vu, its own connections.
//
// fasthttp is used for HTTP/1.1 because it costs about a third of net/http's
// CPU per request (notes in BENCHMARKS.md). The request/response objects are
// fasthttp's on both paths, reused by each worker.
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
	// MaxRedirects bounds Config.Redirects.
	MaxRedirects = 100
)

// Config tunes a Client. The zero value is usable: HTTP/1.1; the system's
// TLS roots; no compression asked for; redirects not followed; proxies from
// the environment; one shared pool per target.
type Config struct {
	// MaxConns caps the connections per target (default DefaultMaxConns).
	// Size it to the concurrency the load needs (max_in_flight, VUs): a
	// request that finds every connection busy waits for one, within its
	// timeout. On HTTP/2 a connection carries many requests at once, and a
	// new one is opened only when every open one is at the server's
	// concurrent stream limit.
	MaxConns int
	// DialTimeout bounds dns + connect (+ proxy CONNECT) + tls of a new
	// connection (default DefaultDialTimeout; the request's own timeout
	// applies too).
	DialTimeout time.Duration
	// TLSConfig is the base TLS configuration of https targets (nil: built
	// from TLS). When set, TLS is ignored.
	TLSConfig *tls.Config
	// TLS are the plan's TLS options (CA file, client certificate, server
	// name, minimum version, insecure).
	TLS TLSOptions
	// Version is the HTTP version: 1.1 (the zero value), auto (HTTP/2 when
	// an https target's ALPN agrees to h2, else HTTP/1.1), 2 (https only) or
	// h2c (http only).
	Version Version
	// Compression lists the codings asked for in Accept-Encoding (of
	// Encodings), on requests that set no Accept-Encoding themselves. Bodies
	// that come encoded in a known coding are decoded (when any of the body
	// is kept) whatever was asked.
	Compression []string
	// Redirects is how many redirects a request follows (0: none; the 3xx
	// is the response). A Location is followed for 301, 302, 303, 307 and
	// 308; one more redirect than this fails with a *RedirectError.
	Redirects int
	// AllowHost, if set, is asked before following a redirect to a host
	// (the name or IP of the Location, without port); an error stops the
	// request with a *RedirectError.
	AllowHost func(host string) error
	// Proxy is an HTTP proxy URL (http://[user:pass@]host:port): http
	// targets are sent through it as absolute-form requests, https and h2c
	// targets tunnelled with CONNECT. "" takes HTTP_PROXY, HTTPS_PROXY and
	// NO_PROXY from the environment; "direct" uses no proxy at all.
	Proxy string
	// ConnReuse is the connection policy: shared (default), per_vu or none.
	ConnReuse ConnReuse
	// Hosts overrides name resolution: "name" or "name:port" to an IP or
	// host name, optionally with a port. TLS still uses the original name
	// (SNI and verification).
	Hosts map[string]string
	// MaxIdleConnDuration closes connections idle longer than this.
	MaxIdleConnDuration time.Duration
	// MaxHeaderBytes bounds a response's status line and headers (default
	// DefaultMaxHeaderBytes); it is the size of the read buffer each request
	// in flight holds. On HTTP/2 the header list may be twice this (HPACK
	// counts 32 bytes per field).
	MaxHeaderBytes int
	// UserAgent is sent when a request has none (default DefaultUserAgent).
	UserAgent string
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver *net.Resolver
}

// Client holds one connection pool per target host. It is safe for
// concurrent use; Host is called once per target at start, Host.Do (or
// Session.Do) per request.
type Client struct {
	cfg     Config
	mu      sync.Mutex
	hosts   map[string]*Host
	conns   map[net.Conn]struct{}
	aborted atomic.Bool

	initOnce  sync.Once
	initErr   error
	baseTLS   *tls.Config
	proxy     *url.URL // Config.Proxy parsed (nil: environment or direct)
	direct    bool     // Config.Proxy is "direct"
	acceptEnc []byte   // Accept-Encoding value; nil when Compression is empty
}

// New returns a Client with cfg's defaults applied. Invalid options (a bad
// TLS file, proxy URL, ...) are reported by Host; Config.Check reports them
// before.
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
	return &Client{cfg: cfg, hosts: map[string]*Host{}, conns: map[net.Conn]struct{}{}}
}

// init checks the configuration and builds what every Host shares, once.
func (c *Client) init() error {
	c.initOnce.Do(func() {
		if err := c.cfg.Check(); err != nil {
			c.initErr = fmt.Errorf("http options: %w", err)
			return
		}
		switch {
		case c.cfg.TLSConfig != nil:
			c.baseTLS = c.cfg.TLSConfig.Clone()
		default:
			c.baseTLS, c.initErr = c.cfg.TLS.Build()
			if c.initErr != nil {
				c.initErr = fmt.Errorf("http options: %w", c.initErr)
				return
			}
		}
		c.proxy, _ = ParseProxy(c.cfg.Proxy)
		c.direct = c.cfg.Proxy == "direct"
		if len(c.cfg.Compression) > 0 {
			c.acceptEnc = []byte(strings.Join(c.cfg.Compression, ", "))
		}
	})
	return c.initErr
}

// ErrAborted is returned by requests cut short by Abort; Classify maps it to
// ReasonCanceled.
var ErrAborted = errors.New("httpclient: aborted")

// The protocol paths of a Host.
const (
	pathUndecided uint32 = iota // version auto over TLS, before the first handshake
	pathH1
	pathH2
)

// Host is the connection pool of one target (scheme + host:port).
type Host struct {
	c        *Client
	isTLS    bool
	scheme   string // "http" or "https"
	host     string // host[:port] as in the URL, for the Host header
	hostname string // host without port
	rt       route
	version  Version
	reuse    ConnReuse
	path     atomic.Uint32 // pathH1, pathH2, or pathUndecided until the first handshake decides
	decideMu sync.Mutex
	pending  atomic.Pointer[rawConn] // the deciding connection, for the path's next dial

	hc                     *fasthttp.HostClient // HTTP/1.1
	h2                     *h2host              // HTTP/2; nil when the target can't speak it
	tlsH1, tlsH2, tlsProbe *tls.Config

	dialTO  time.Duration
	maxHdr  int
	uaBytes []byte
}

// Host returns the pool for rawURL's scheme and host (creating it once). Call
// it when preparing a run, not per request. It fails on an invalid URL, an
// invalid Config (TLS files, proxy) or a version the scheme can't carry
// (2 needs https, h2c http).
func (c *Client) Host(rawURL string) (*Host, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
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
	h, err := c.newHost(u)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", rawURL, err)
	}
	c.hosts[key] = h
	return h, nil
}

func (c *Client) newHost(u *url.URL) (*Host, error) {
	isTLS := u.Scheme == "https"
	switch {
	case c.cfg.Version == Version2 && !isTLS:
		return nil, errors.New("http version 2 needs an https target (h2c is HTTP/2 without TLS)")
	case c.cfg.Version == VersionH2C && isTLS:
		return nil, errors.New("http version h2c is HTTP/2 without TLS: the target must be http (version 2 is HTTP/2 over TLS)")
	}
	h := &Host{c: c, isTLS: isTLS, scheme: u.Scheme, host: u.Host, hostname: u.Hostname(), version: c.cfg.Version,
		reuse: c.cfg.ConnReuse, dialTO: c.cfg.DialTimeout, maxHdr: c.cfg.MaxHeaderBytes, uaBytes: []byte(c.cfg.UserAgent)}
	h.rt.addr = u.Host
	if u.Port() == "" {
		if isTLS {
			h.rt.addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			h.rt.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	if err := c.route(&h.rt, u, c.cfg.Version == VersionH2C); err != nil {
		return nil, err
	}
	if isTLS {
		base := c.baseTLS.Clone()
		if base.ServerName == "" {
			base.ServerName = u.Hostname()
		}
		h.tlsH1, h.tlsH2, h.tlsProbe = base.Clone(), base.Clone(), base
		h.tlsH1.NextProtos = []string{"http/1.1"}
		h.tlsH2.NextProtos = []string{"h2"}
		h.tlsProbe.NextProtos = []string{"h2", "http/1.1"}
	}
	switch {
	case c.cfg.Version == Version1 || (c.cfg.Version == VersionAuto && !isTLS):
		h.path.Store(pathH1)
	case c.cfg.Version == Version2 || c.cfg.Version == VersionH2C:
		h.path.Store(pathH2)
	}
	if h.path.Load() != pathH2 {
		h.hc = &fasthttp.HostClient{
			Addr:                h.rt.addr,
			IsTLS:               isTLS,
			MaxConns:            c.cfg.MaxConns,
			MaxConnWaitTimeout:  time.Hour, // the request's timeout bounds the wait
			MaxIdleConnDuration: c.cfg.MaxIdleConnDuration,
			ReadBufferSize:      c.cfg.MaxHeaderBytes,
			ConnPoolStrategy:    fasthttp.LIFO,
			DialTimeout: func(_ string, timeout time.Duration) (net.Conn, error) {
				return h.dialH1(timeout)
			},
			MaxIdemponentCallAttempts: 1,
			NoDefaultUserAgentHeader:  true,
		}
	}
	if h.path.Load() != pathH1 {
		h.h2 = newH2Host(h)
	}
	return h, nil
}

// SetMaxConns changes the connection cap of every pool (for a load change).
func (c *Client) SetMaxConns(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.MaxConns = n
	for _, h := range c.hosts {
		if h.hc != nil {
			h.hc.SetMaxConns(n)
		}
		if h.h2 != nil {
			h.h2.pool.setMax(n)
		}
	}
}

// Abort cuts every request in flight short (they fail with ErrAborted, reason
// canceled) and makes later requests fail at once. It is how a cancelled run
// stops within moments instead of waiting for request timeouts.
func (c *Client) Abort() {
	c.aborted.Store(true)
	c.mu.Lock()
	past := time.Unix(1, 0)
	for cn := range c.conns {
		_ = cn.SetDeadline(past)
	}
	hosts := c.hostList()
	c.mu.Unlock()
	for _, h := range hosts {
		if h.h2 != nil {
			h.h2.pool.wake()
		}
	}
}

// hostList returns the hosts; c.mu is held.
func (c *Client) hostList() []*Host {
	hosts := make([]*Host, 0, len(c.hosts))
	for _, h := range c.hosts {
		hosts = append(hosts, h)
	}
	return hosts
}

// CloseIdleConnections closes every idle connection.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	hosts := c.hostList()
	c.mu.Unlock() // closing a conn takes c.mu
	for _, h := range hosts {
		if h.hc != nil {
			h.hc.CloseIdleConnections()
		}
		if h.h2 != nil {
			h.h2.pool.closeIdle()
		}
		if p := h.pending.Swap(nil); p != nil {
			p.Close()
		}
	}
}

// Conns returns the number of open connections.
func (c *Client) Conns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

func (c *Client) register(cn net.Conn) error {
	c.mu.Lock()
	c.conns[cn] = struct{}{}
	aborted := c.aborted.Load()
	c.mu.Unlock()
	if aborted {
		cn.Close()
		return &DialError{Reason: ReasonCanceled, Err: ErrAborted}
	}
	return nil
}

func (c *Client) unregister(cn net.Conn) {
	c.mu.Lock()
	delete(c.conns, cn)
	c.mu.Unlock()
}

// dialH1 opens an HTTP/1.1 connection for fasthttp (or hands it the one
// that decided the version).
func (h *Host) dialH1(timeout time.Duration) (net.Conn, error) {
	if p := h.pending.Swap(nil); p != nil {
		return h.wrapH1(p)
	}
	if timeout <= 0 || timeout > h.dialTO {
		timeout = h.dialTO
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var tlsCfg *tls.Config
	if h.isTLS {
		tlsCfg = h.tlsH1
	}
	raw, err := h.c.dial(ctx, &h.rt, tlsCfg)
	if err != nil {
		return nil, err
	}
	return h.wrapH1(raw)
}

func (h *Host) wrapH1(raw *rawConn) (net.Conn, error) {
	cn := &conn{Conn: raw.Conn, client: h.c, fresh: true, dns: raw.dns, connect: raw.connect, tls: raw.tls}
	if err := h.c.register(cn); err != nil {
		return nil, err
	}
	return cn, nil
}

// conn wraps an HTTP/1.1 connection to time the first response byte and
// count bytes. Only the goroutine holding it (between AcquireConn and
// release) touches the per-request fields.
type conn struct {
	net.Conn
	client            *Client
	dns, connect, tls time.Duration
	fresh             bool // dial timings not yet reported
	wroteAt           time.Time
	firstByte         time.Time
	awaiting          bool // request written, first byte not yet read
	in, out           int64
	rerr              error // the last read error (fasthttp may report a TLS alert as EOF)
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
	if err != nil {
		cn.rerr = err
	}
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
		cn.client.unregister(cn)
		err = cn.Conn.Close()
	})
	return err
}

// Timing is what one request measured. Do fills it in. With redirects
// followed, it describes the last response, except Start (the first hop's),
// BytesOut and BytesIn (every hop's); Hops has the hops before it.
type Timing struct {
	// Start is when Do began (the actual send, before waiting for a
	// connection); End when the last byte was read or the request failed.
	Start, End time.Time
	// NewConn is true when the request opened a connection; DNS, Connect
	// and TLS are then its dial phases (DNS is 0 for an IP target or a
	// hosts override to an IP; Connect includes a proxy's CONNECT).
	NewConn           bool
	DNS, Connect, TLS time.Duration
	// TTFB (wait) is from the request written to the first response byte
	// (0 when none came); Receive from the first response byte to the last.
	TTFB, Receive time.Duration
	// BytesOut and BytesIn count the bytes written and read (all of them,
	// including a body read past the keep limit and dropped; on HTTP/2, the
	// connection's bytes since the last request on it ended, so totals are
	// exact and a request's share is approximate when requests share it).
	BytesOut, BytesIn int64
	// BodyBytes counts the response body bytes received (without chunked
	// framing, before decoding).
	BodyBytes int64
	// Cut is true when the body (decoded, if it came encoded) went past the
	// keep limit of Do: resp.Body() holds only its first keep bytes.
	Cut bool
	// Proto is the HTTP major version the response came in (1 or 2; 0 when
	// none came).
	Proto uint8
	// Hops are the redirect responses followed before the last one, in
	// order (reused between calls).
	Hops []Hop

	first  time.Time // the first response byte
	reused bool      // the connection had carried a request before
}

// Hop is a redirect response that was followed.
type Hop struct {
	URL    string // the URL requested
	Status int    // 301, 302, 303, 307 or 308
	Timing Timing // its own timing (no Hops)
}

// Do sends req to h and reads the response into resp, waiting at most
// timeout (0 = none) in all (redirects included). It reads the whole body,
// but keeps only its first keep bytes in resp.Body() (0 keeps none; decoded
// when it came gzip, br, zstd or deflate encoded); the rest is read and
// dropped as it arrives, so the connection stays reusable and memory stays
// bounded whatever the target announces or sends. A response that breaks
// HTTP fails with a *ProtocolError. Do never retries a request the server
// may have seen, except once on a reused keep-alive HTTP/1.1 connection that
// the server had closed before any response byte (a stale connection; the
// request is idempotent). t receives the timings.
//
// Do has no Session: no cookies, and the shared pool under connection_reuse
// per_vu. Redirects are followed as configured.
//
// The clock is read at the start, when the request is written, at the first
// response byte and at the end: Timing.End is the time to take as "now"
// right after Do returns.
func (h *Host) Do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, keep int, t *Timing) error {
	return (*Session)(nil).Do(h, req, resp, timeout, keep, t)
}

// hop sends req once on h's protocol path; t.Start is set, hop sets the rest.
func (h *Host) hop(s *Session, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, keep int, t *Timing) error {
	var err error
	switch h.path.Load() {
	case pathH1:
		err = h.h1(s, req, resp, deadline, keep, t, t.Start, true)
	case pathH2:
		err = h.h2.do(s, req, resp, deadline, keep, t)
	default:
		err = h.decide(deadline)
		if err == nil {
			return h.hop(s, req, resp, deadline, keep, t)
		}
	}
	t.End = time.Now()
	if !t.first.IsZero() {
		t.Receive = t.End.Sub(t.first)
	}
	return err
}

// decide picks the protocol of a version auto TLS target: it opens a
// connection offering h2 and http/1.1 and takes what the server's ALPN
// chose. The connection is kept for that path's next dial (so the request
// that decided reports its dial phases). Requests arriving meanwhile wait for
// the decision; a failed handshake decides nothing and the next request tries
// again.
func (h *Host) decide(deadline time.Time) error {
	h.decideMu.Lock()
	defer h.decideMu.Unlock()
	if h.path.Load() != pathUndecided {
		return nil
	}
	ctx, cancel := dialContext(deadline, h.dialTO)
	defer cancel()
	raw, err := h.c.dial(ctx, &h.rt, h.tlsProbe)
	if err != nil {
		return err
	}
	if raw.alpn == "h2" {
		h.pending.Store(raw)
		h.path.Store(pathH2)
		return nil
	}
	h.pending.Store(raw)
	h.path.Store(pathH1)
	return nil
}

// dialContext bounds a dial by the request's deadline and the dial timeout.
func dialContext(deadline time.Time, dialTO time.Duration) (context.Context, context.CancelFunc) {
	d := time.Now().Add(dialTO)
	if !deadline.IsZero() && deadline.Before(d) {
		d = deadline
	}
	return context.WithDeadline(context.Background(), d)
}

// h1 sends req once over HTTP/1.1; now is the current time (t.Start on the
// first attempt).
func (h *Host) h1(s *Session, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, keep int, t *Timing, now time.Time, mayRetry bool) error {
	if h.c.aborted.Load() {
		return ErrAborted
	}
	wait := time.Duration(0)
	if !deadline.IsZero() {
		wait = deadline.Sub(now)
		if wait <= 0 {
			return fasthttp.ErrTimeout
		}
	}
	if len(req.Header.UserAgent()) == 0 {
		req.Header.SetUserAgentBytes(h.uaBytes)
	}
	var cn *conn
	var err error
	var keepAlive bool
	if s != nil && h.reuse == ReusePerVU {
		cn, err = s.h1conn(h, wait)
		if err != nil {
			return h.wrapErr(err)
		}
		keepAlive, err = h.exchange(cn, req, resp, deadline, keep, t)
		if err != nil || !keepAlive {
			s.dropH1(h)
		}
	} else {
		cc, aerr := h.hc.AcquireConn(wait, req.ConnectionClose())
		if aerr != nil {
			return h.wrapErr(aerr)
		}
		cn, _ = cc.Conn().(*conn)
		if cn == nil {
			h.hc.CloseConn(cc)
			return errors.New("httpclient: unexpected connection type")
		}
		keepAlive, err = h.exchange(cn, req, resp, deadline, keep, t)
		if err != nil || !keepAlive || h.reuse == ReuseNone {
			h.hc.CloseConn(cc)
		} else {
			h.hc.ReleaseConn(cc)
		}
	}
	if err != nil {
		if mayRetry && t.reused && cn.in == 0 && isIdempotent(req) && Classify(err) == ReasonReset && !h.c.aborted.Load() {
			return h.h1(s, req, resp, deadline, keep, t, time.Now(), false)
		}
		return h.wrapErr(err)
	}
	return nil
}

// exchange writes req on cn and reads the response; keepAlive tells whether
// cn may carry another request.
func (h *Host) exchange(cn *conn, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, keep int, t *Timing) (keepAlive bool, err error) {
	t.reused = !cn.fresh
	if cn.fresh {
		cn.fresh = false
		t.NewConn = true
		t.DNS, t.Connect, t.TLS = cn.dns, cn.connect, cn.tls
	}
	cn.in, cn.out, cn.awaiting, cn.rerr = 0, 0, false, nil
	cn.firstByte = time.Time{}
	// Set on every request: skipping it when the deadline barely moved
	// (tried: keep it within 1% slack) saved no measurable CPU per request
	// and cost a quarter of the closed-loop throughput, the generator
	// going idle between responses (BENCHMARKS.md, round 3).
	if err := cn.Conn.SetDeadline(deadline); err != nil {
		return false, err
	}
	if h.rt.forward {
		h.absoluteForm(req)
	}
	bw := h.hc.AcquireWriter(cn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	h.hc.ReleaseWriter(bw)
	if err != nil {
		t.BytesOut += cn.out
		return false, err
	}
	resp.Reset()
	resp.SkipBody = true // fasthttp reads the status line and headers (and 1xx interim responses); readBody the body
	br := h.hc.AcquireReader(cn)
	err = resp.ReadLimitBody(br, 0)
	if err != nil {
		err = headerErr(err, h.maxHdr)
	} else {
		t.Proto = 1
		err = readBody(br, req, resp, keep, t)
	}
	h.hc.ReleaseReader(br)
	t.BytesOut += cn.out
	t.BytesIn += cn.in
	if !cn.firstByte.IsZero() {
		t.TTFB = cn.firstByte.Sub(cn.wroteAt)
		t.first = cn.firstByte
	}
	if err != nil {
		if cn.rerr != nil && classifyTransport(cn.rerr) == ReasonTLS {
			err = cn.rerr // an alert after the handshake (TLS 1.3: a client certificate missing or refused)
		}
		return false, err
	}
	// 101: the connection left HTTP.
	return !req.ConnectionClose() && !resp.ConnectionClose() && resp.StatusCode() >= 200, nil
}

// absoluteForm makes req go to a forward proxy: the request line carries
// the full URL, and Proxy-Authorization the proxy's credentials.
func (h *Host) absoluteForm(req *fasthttp.Request) {
	uri := req.URI()
	req.Header.SetHostBytes(uri.Host())
	req.SetRequestURIBytes(uri.FullURI())
	if h.rt.proxyAuth != "" {
		req.Header.Set("Proxy-Authorization", h.rt.proxyAuth)
	}
}

// readBody reads the body of resp (whose headers were just read from br),
// keeping its first keep bytes in resp.Body(), decoded when it came encoded.
func readBody(br *bufio.Reader, req *fasthttp.Request, resp *fasthttp.Response, keep int, t *Timing) error {
	code := resp.StatusCode()
	if code < 100 || code > 599 {
		return protoErr("status code " + strconv.Itoa(code) + " outside 100-599")
	}
	// RFC 9112 6.3: no body after HEAD, and none in 1xx (101 here), 204 and 304.
	if req.Header.IsHead() || code < 200 || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified {
		return nil
	}
	cl := resp.Header.ContentLength()
	if keep > 0 {
		if cd := codingOf(resp.Header.ContentEncoding()); cd != codingNone {
			return readDecoded(br, resp, cd, cl, keep, t)
		}
	}
	b := bodyReader{br: br, keep: max(keep, 0)}
	if b.keep > 0 {
		b.dst = resp.SwapBody(nil)[:0]
	}
	var err error
	switch {
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
	t.Cut = b.n > int64(len(b.dst))
	return err
}

// readDecoded is readBody for a body in a known content coding: decoded as
// it is read, keep bytes of the decoded body kept.
func readDecoded(br *bufio.Reader, resp *fasthttp.Response, cd coding, cl, keep int, t *Timing) error {
	b := &bodyReader{br: br} // it only frames; the decoder keeps
	f := &framedReader{b: b, size: int64(cl)}
	dst, cut, err := decodeBody(resp.SwapBody(nil)[:0], f, cd, keep)
	resp.SwapBody(dst)
	t.BodyBytes, t.Cut = b.n, cut
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

// Proto reports the HTTP major version requests to h use: 1, 2, or 0 while a
// version auto target is undecided (before its first connection).
func (h *Host) Proto() int {
	switch h.path.Load() {
	case pathH1:
		return 1
	case pathH2:
		return 2
	}
	return 0
}

// String describes the pool.
func (h *Host) String() string {
	return h.scheme + "://" + strings.TrimSuffix(h.host, "/")
}
