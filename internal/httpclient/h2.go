package httpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// h2host is the HTTP/2 path of a Host: net/http's HTTP/2 client connections
// (http.Transport.NewClientConn), on connections this package dials, so that
// hosts overrides, proxies, TLS options and the dial timing are the same as
// on the HTTP/1.1 path. The Transport is told the connection is unencrypted
// HTTP/2 with prior knowledge: for an https target, TLS (with ALPN h2) is
// already done under it, and the requests still carry :scheme https.
type h2host struct {
	h    *Host
	tr   *http.Transport
	pool h2pool
}

func newH2Host(h *Host) *h2host {
	x := &h2host{h: h}
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	x.tr = &http.Transport{
		Protocols:              protos,
		DialContext:            x.dialContext,
		DisableCompression:     true, // bodies are decoded here, after counting their bytes
		MaxResponseHeaderBytes: int64(2 * h.maxHdr),
		IdleConnTimeout:        h.c.cfg.MaxIdleConnDuration,
	}
	x.pool.max = h.c.cfg.MaxConns
	x.pool.wakeCh = make(chan struct{})
	return x
}

type dialSlotKey struct{}

// dialSlot carries the connection dialContext opened back to newConn.
type dialSlot struct{ cn *h2conn }

func (x *h2host) dialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	h := x.h
	raw := h.pending.Swap(nil)
	if raw == nil {
		var tlsCfg = h.tlsH2
		if !h.isTLS {
			tlsCfg = nil
		}
		var err error
		if raw, err = h.c.dial(ctx, &h.rt, tlsCfg); err != nil {
			return nil, err
		}
	}
	if h.isTLS && raw.alpn != "h2" {
		raw.Close()
		return nil, &DialError{Reason: ReasonTLS, Err: fmt.Errorf("%s did not agree to HTTP/2 in the TLS handshake (ALPN %q): version 2 needs h2", h.host, raw.alpn)}
	}
	cn := newH2Conn(raw, h.c)
	if err := h.c.register(cn); err != nil {
		return nil, err
	}
	if slot, _ := ctx.Value(dialSlotKey{}).(*dialSlot); slot != nil {
		slot.cn = cn
	}
	return cn, nil
}

// newConn opens an HTTP/2 connection (not in the pool).
func (x *h2host) newConn(ctx context.Context) (*h2conn, error) {
	slot := &dialSlot{}
	dctx, cancel := context.WithTimeout(context.WithValue(ctx, dialSlotKey{}, slot), x.h.dialTO)
	defer cancel()
	cc, err := x.tr.NewClientConn(dctx, "http", x.h.rt.addr)
	if err != nil {
		if slot.cn != nil {
			slot.cn.Close()
		}
		return nil, err
	}
	if slot.cn == nil {
		cc.Close()
		return nil, errors.New("httpclient: HTTP/2 connection without a dial")
	}
	slot.cn.cc = cc
	return slot.cn, nil
}

// h2conn is an HTTP/2 connection: it counts bytes (atomically: many
// requests share it) and keeps its dial phases for the request that opened
// it. Its writes are coalesced: net/http's HTTP/2 client flushes every
// request's frames on their own (one TLS record and one write system call
// each), so Write appends to a buffer and a writer goroutine sends what has
// accumulated while it was busy, in one write. Requests released together
// by the pacer then share a system call; a lone request waits for no timer.
type h2conn struct {
	net.Conn
	client            *Client
	cc                *http.ClientConn
	dns, connect, tls time.Duration
	fresh             atomic.Bool
	in, out           atomic.Int64
	rerr              atomic.Pointer[error] // the first read error
	readAny, http1    atomic.Bool           // something was read; the first read began as an HTTP/1.x response
	closeOnce         sync.Once

	wmu    sync.Mutex
	wcond  sync.Cond // signalled when buf drains (Write waits when it is full)
	buf    []byte    // written, not yet sent
	werr   error     // the first write error: every later Write returns it
	wake   chan struct{}
	closed chan struct{}
}

// maxPendingWrite bounds the bytes a connection buffers before Write waits
// for them to be sent (request bodies are flow-controlled by HTTP/2 anyway).
const maxPendingWrite = 256 << 10

// writeFailGrace is how long the reader of a connection whose write failed
// may still read (what the server sent before it went) before it fails.
const writeFailGrace = 100 * time.Millisecond

func newH2Conn(raw *rawConn, c *Client) *h2conn {
	cn := &h2conn{Conn: raw.Conn, client: c, dns: raw.dns, connect: raw.connect, tls: raw.tls,
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	cn.wcond.L = &cn.wmu
	cn.fresh.Store(true)
	go cn.writer()
	return cn
}

func (cn *h2conn) Read(b []byte) (int, error) {
	n, err := cn.Conn.Read(b)
	cn.in.Add(int64(n))
	if n > 0 && !cn.readAny.Load() {
		cn.readAny.Store(true)
		cn.http1.Store(bytes.HasPrefix(b[:n], []byte("HTTP/1.")))
	}
	if err != nil {
		cn.rerr.CompareAndSwap(nil, &err)
	}
	return n, err
}

// tlsAlert returns the TLS alert that ended the connection's reads, if that
// is what did (net/http reports a connection that failed before the
// server's settings without its cause).
func (cn *h2conn) tlsAlert() error {
	if p := cn.rerr.Load(); p != nil && classifyTransport(*p) == ReasonTLS {
		return *p
	}
	return nil
}

func (cn *h2conn) Write(b []byte) (int, error) {
	cn.wmu.Lock()
	for cn.werr == nil && len(cn.buf) >= maxPendingWrite {
		cn.wcond.Wait()
	}
	if err := cn.werr; err != nil {
		cn.wmu.Unlock()
		return 0, err
	}
	cn.buf = append(cn.buf, b...)
	cn.wmu.Unlock()
	cn.out.Add(int64(len(b))) // counted when accepted: the request that wrote them may end before they are sent
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	return len(b), nil
}

// writer sends what Write buffered, until the connection closes.
func (cn *h2conn) writer() {
	var out []byte
	for {
		select {
		case <-cn.wake:
		case <-cn.closed:
			return
		}
		// Let the goroutines that are ready to run (other requests released
		// at the same time) write first, so that they share this write.
		runtime.Gosched()
		cn.wmu.Lock()
		out, cn.buf = cn.buf, out[:0]
		cn.wcond.Broadcast()
		cn.wmu.Unlock()
		if len(out) == 0 {
			continue
		}
		_, err := cn.Conn.Write(out)
		if err != nil {
			cn.wmu.Lock()
			if cn.werr == nil {
				cn.werr = err
			}
			cn.wcond.Broadcast()
			cn.wmu.Unlock()
			// The reader fails too, and with it every stream, once it has
			// read what had arrived: a server that refused the handshake
			// (TLS 1.3: a client certificate missing) sent its alert, then
			// closed, and closing here at once would lose the alert.
			cn.Conn.SetReadDeadline(time.Now().Add(writeFailGrace))
			return
		}
	}
}

func (cn *h2conn) Close() error {
	var err error
	cn.closeOnce.Do(func() {
		cn.client.unregister(cn)
		close(cn.closed)
		cn.wmu.Lock()
		if cn.werr == nil {
			cn.werr = net.ErrClosed
		}
		cn.wcond.Broadcast()
		cn.wmu.Unlock()
		err = cn.Conn.Close()
	})
	return err
}

// h2call is what the trace of one request records, from the connection's
// goroutines: when the request was written and when the response began.
type h2call struct {
	wrote, first atomic.Int64 // nanoseconds since clockBase; 0 not yet
	trace        httptrace.ClientTrace
}

var clockBase = time.Now()

func (c *h2call) wroteRequest(httptrace.WroteRequestInfo) {
	c.wrote.Store(int64(time.Since(clockBase)))
}
func (c *h2call) gotFirstByte() { c.first.Store(int64(time.Since(clockBase))) }

// do sends req once over HTTP/2.
func (x *h2host) do(s *Session, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, keep int, t *Timing) error {
	h := x.h
	if h.c.aborted.Load() {
		return ErrAborted
	}
	if len(req.Header.UserAgent()) == 0 {
		req.Header.SetUserAgentBytes(h.uaBytes)
	}
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	call := &h2call{}
	call.trace.WroteRequest = call.wroteRequest
	call.trace.GotFirstResponseByte = call.gotFirstByte
	ctx = httptrace.WithClientTrace(ctx, &call.trace)
	hr, err := x.request(ctx, req)
	if err != nil {
		return err
	}
	var cn *h2conn
	switch {
	case s != nil && h.reuse == ReusePerVU:
		cn, err = s.h2conn(ctx, x)
	case h.reuse == ReuseNone:
		if cn, err = x.newConn(ctx); err == nil {
			err = cn.cc.Reserve()
		}
	default:
		cn, err = x.pool.get(ctx, x)
	}
	if err != nil {
		if cn != nil {
			cn.cc.Close()
		}
		return h.wrapErr(h2Err(err))
	}
	if cn.fresh.CompareAndSwap(true, false) {
		t.NewConn = true
		t.DNS, t.Connect, t.TLS = cn.dns, cn.connect, cn.tls
	}
	sent := time.Since(clockBase)
	res, err := cn.cc.RoundTrip(hr)
	if err == nil {
		t.Proto = 2
		err = x.response(res, req, resp, keep, t)
	}
	if w, f := call.wrote.Load(), call.first.Load(); f != 0 {
		if w == 0 || w > f {
			w = int64(sent)
		}
		t.TTFB = time.Duration(f - w)
		t.first = clockBase.Add(time.Duration(f))
	}
	t.BytesIn += cn.in.Swap(0)
	t.BytesOut += cn.out.Swap(0)
	if h.reuse == ReuseNone {
		cn.cc.Close()
	}
	if err != nil {
		if alert := cn.tlsAlert(); alert != nil {
			err = alert // TLS 1.3: a client certificate missing or refused shows on the first read
		} else if cn.http1.Load() {
			// net/http reports a connection its read loop gave up on before the first request only as "could not
			// be established": the server's first bytes say why.
			err = &ProtocolError{Msg: http1Answer, Err: err}
		}
		return h.wrapErr(h2Err(err))
	}
	return nil
}

// request converts req to a net/http request (hop-by-hop headers dropped:
// HTTP/2 has none). Common methods, header names and the target's host are
// interned, so a request allocates the net/http objects and its values only.
func (x *h2host) request(ctx context.Context, req *fasthttp.Request) (*http.Request, error) {
	uri := req.URI()
	hr, err := http.NewRequestWithContext(ctx, methodString(req.Header.Method()), "", nil)
	if err != nil {
		return nil, err
	}
	host := x.h.host
	if hb := uri.Host(); string(hb) != host {
		host = string(hb)
	}
	hr.URL.Scheme, hr.URL.Host, hr.URL.Opaque = x.h.scheme, host, string(uri.RequestURI())
	hr.Host = host
	hr.Proto, hr.ProtoMajor, hr.ProtoMinor = "HTTP/2.0", 2, 0
	for k, v := range req.Header.All() {
		key := headerName(k)
		if key == "" {
			continue
		}
		hr.Header[key] = append(hr.Header[key], string(v))
	}
	if body := req.Body(); len(body) > 0 {
		hr.Body = io.NopCloser(bytes.NewReader(body))
		hr.ContentLength = int64(len(body))
	}
	return hr, nil
}

// methodString returns m as a string, without allocating for the common ones.
func methodString(m []byte) string {
	for _, s := range [...]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} {
		if string(m) == s {
			return s
		}
	}
	return string(m)
}

// commonHeaders are interned header names (fasthttp gives them in this
// canonical form).
var commonHeaders = [...]string{"User-Agent", "Accept", "Accept-Encoding", "Content-Type", "Authorization", "Cookie",
	"Accept-Language", "Cache-Control", "Origin", "Referer", "X-Request-Id", "If-None-Match", "If-Modified-Since"}

// headerName returns k as a header name for net/http, "" for a header
// HTTP/2 must not carry.
func headerName(k []byte) string {
	for _, s := range commonHeaders {
		if string(k) == s {
			return s
		}
	}
	switch {
	case equalFold(k, "Host"), equalFold(k, "Connection"), equalFold(k, "Content-Length"),
		equalFold(k, "Transfer-Encoding"), equalFold(k, "Keep-Alive"), equalFold(k, "Proxy-Connection"),
		equalFold(k, "Upgrade"):
		return ""
	}
	return string(k)
}

func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && strings.EqualFold(string(b), s)
}

var http2Proto = []byte("HTTP/2.0")

// response converts res into resp, reading its body (kept up to keep bytes,
// decoded when encoded) and closing it.
func (x *h2host) response(res *http.Response, req *fasthttp.Request, resp *fasthttp.Response, keep int, t *Timing) error {
	defer res.Body.Close()
	resp.Reset()
	resp.Header.SetProtocol(http2Proto)
	resp.SetStatusCode(res.StatusCode)
	for k, vs := range res.Header {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	src := h2body{r: res.Body}
	dst := resp.SwapBody(nil)[:0]
	var cut bool
	var err error
	switch {
	case keep <= 0:
		err = src.drain()
		cut = src.n > 0
	case codingOf(resp.Header.ContentEncoding()) != codingNone:
		dst, cut, err = decodeBody(dst, &src, codingOf(resp.Header.ContentEncoding()), keep)
	default:
		dst, cut, err = readKeep(dst, &src, keep)
		if err == nil {
			err = src.drain()
		} else if ferr := src.failed(); ferr != nil {
			err = ferr
		}
	}
	resp.SwapBody(dst)
	t.BodyBytes, t.Cut = src.n, cut
	return err
}

// h2body counts an HTTP/2 response body and remembers its read error.
type h2body struct {
	r   io.Reader
	n   int64
	err error
}

func (b *h2body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *h2body) failed() error { return b.err }

func (b *h2body) drain() error {
	_, err := io.Copy(io.Discard, b)
	return err
}

// h2Error is an HTTP/2 failure net/http reports only in text, with the
// reason it maps to.
type h2Error struct {
	reason Reason
	err    error
}

func (e *h2Error) Error() string { return e.err.Error() }
func (e *h2Error) Unwrap() error { return e.err }

// http1Answer says what a connection meant for HTTP/2 got back instead.
const http1Answer = `HTTP/2: the server answered in HTTP/1.1 (use version auto or "1.1")`

// h2Err classifies what net/http's HTTP/2 client returns: its error types
// are unexported, so the text is matched here, once, at the boundary.
func h2Err(err error) error {
	if err == nil || classifyTransport(err) != ReasonOther {
		return err
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "looked like an HTTP/1.1 header"): // h2c or "2" against an HTTP/1.1-only server
		return &ProtocolError{Msg: http1Answer, Err: err}
	case strings.Contains(msg, "received from peer"), // RST_STREAM from the server
		strings.Contains(msg, "GOAWAY"),
		strings.Contains(msg, "connection lost"),
		strings.Contains(msg, "client connection force closed"),
		strings.Contains(msg, "client conn is closed"),
		strings.Contains(msg, "client conn not usable"),
		strings.Contains(msg, "http: ClientConn is closed"):
		return &h2Error{reason: ReasonReset, err: err}
	case strings.Contains(msg, "connection error"),
		strings.Contains(msg, "stream error"),
		strings.Contains(msg, "header list larger"),
		strings.Contains(msg, "frame too large"),
		strings.Contains(msg, "failed reading the frame"),
		strings.Contains(msg, "malformed"),
		strings.Contains(msg, "invalid"),
		strings.Contains(msg, "unexpected"):
		return &ProtocolError{Msg: "HTTP/2", Err: err}
	}
	return err
}

// h2pool is the shared pool of a target's HTTP/2 connections: a request
// takes a stream on the first connection with one free, and a connection is
// opened (one at a time) only when none has, up to max.
type h2pool struct {
	mu      sync.Mutex
	conns   []*h2conn
	dialing bool
	max     int
	wakeCh  chan struct{} // closed (and replaced) to wake the waiters
	waiters atomic.Int32
}

// get returns a connection with a stream reserved for the caller.
func (p *h2pool) get(ctx context.Context, x *h2host) (*h2conn, error) {
	for {
		if x.h.c.aborted.Load() {
			return nil, ErrAborted
		}
		p.mu.Lock()
		ch := p.wakeCh
		var got *h2conn
		live := p.conns[:0]
		for _, c := range p.conns {
			if c.cc.Err() != nil {
				continue
			}
			live = append(live, c)
			if got == nil && c.cc.Reserve() == nil {
				got = c
			}
		}
		clear(p.conns[len(live):])
		p.conns = live
		if got != nil {
			p.mu.Unlock()
			return got, nil
		}
		if !p.dialing && len(p.conns) < p.max {
			p.dialing = true
			p.mu.Unlock()
			c, err := x.newConn(ctx)
			p.mu.Lock()
			p.dialing = false
			reserved := false
			if err == nil {
				c.cc.SetStateHook(p.hook)
				p.conns = append(p.conns, c)
				reserved = c.cc.Reserve() == nil
			}
			p.wakeLocked()
			p.mu.Unlock()
			if err != nil {
				return nil, err
			}
			if reserved {
				return c, nil
			}
			continue
		}
		p.waiters.Add(1)
		p.mu.Unlock()
		select {
		case <-ch:
			p.waiters.Add(-1)
		case <-ctx.Done():
			p.waiters.Add(-1)
			return nil, ctx.Err()
		}
	}
}

// hook runs when a connection's state changes (a request ended, it closed).
func (p *h2pool) hook(*http.ClientConn) {
	if p.waiters.Load() > 0 {
		p.wake()
	}
}

func (p *h2pool) wake() {
	p.mu.Lock()
	p.wakeLocked()
	p.mu.Unlock()
}

func (p *h2pool) wakeLocked() {
	close(p.wakeCh)
	p.wakeCh = make(chan struct{})
}

func (p *h2pool) setMax(n int) {
	p.mu.Lock()
	p.max = n
	p.mu.Unlock()
}

// closeIdle closes the connections that carry no request.
func (p *h2pool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.conns[:0]
	for _, c := range p.conns {
		if c.cc.InFlight() == 0 {
			c.cc.Close()
			continue
		}
		live = append(live, c)
	}
	clear(p.conns[len(live):])
	p.conns = live
}
