package httpclient

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Session is what one virtual user (or open-model worker) carries from one
// request to the next: its cookie Jar and, under connection_reuse per_vu,
// its own connections. One goroutine owns it; the Client and its pools are
// shared. Create one per VU with Client.NewSession, give it a Jar (per VU in
// the closed model, per iteration in the open one) and Close it when the VU
// ends.
type Session struct {
	c         *Client
	jar       *Jar
	redirects int                 // -1: the Client's
	h1        map[*Host]*conn     // per_vu HTTP/1.1 connections
	h2        map[*h2host]*h2conn // per_vu HTTP/2 connections
}

// NewSession returns a Session without a Jar.
func (c *Client) NewSession() *Session { return &Session{c: c, redirects: -1} }

// SetRedirects sets how many redirects the session's next requests follow
// (a step's own redirects); -1 goes back to Config.Redirects.
func (s *Session) SetRedirects(n int) { s.redirects = min(max(n, -1), MaxRedirects) }

// SetJar sets the cookie jar used from the next request on (nil: no cookies).
func (s *Session) SetJar(j *Jar) { s.jar = j }

// Jar returns the session's jar (nil if none).
func (s *Session) Jar() *Jar { return s.jar }

// Close closes the session's own connections (per_vu).
func (s *Session) Close() {
	for h, cn := range s.h1 {
		cn.Close()
		delete(s.h1, h)
	}
	for x, cn := range s.h2 {
		cn.cc.Close()
		delete(s.h2, x)
	}
}

// h1conn returns the session's HTTP/1.1 connection to h, dialing one if
// there is none.
func (s *Session) h1conn(h *Host, wait time.Duration) (*conn, error) {
	if cn := s.h1[h]; cn != nil {
		return cn, nil
	}
	nc, err := h.dialH1(wait)
	if err != nil {
		return nil, err
	}
	if s.h1 == nil {
		s.h1 = map[*Host]*conn{}
	}
	cn := nc.(*conn)
	s.h1[h] = cn
	return cn, nil
}

// dropH1 closes the session's HTTP/1.1 connection to h.
func (s *Session) dropH1(h *Host) {
	if cn := s.h1[h]; cn != nil {
		cn.Close()
		delete(s.h1, h)
	}
}

// h2conn returns the session's HTTP/2 connection to x with a stream
// reserved, opening a new one when there is none or it can't take more.
func (s *Session) h2conn(ctx context.Context, x *h2host) (*h2conn, error) {
	if cn := s.h2[x]; cn != nil {
		if cn.cc.Reserve() == nil {
			return cn, nil
		}
		cn.cc.Close()
		delete(s.h2, x)
	}
	cn, err := x.newConn(ctx)
	if err != nil {
		return nil, err
	}
	if err := cn.cc.Reserve(); err != nil {
		cn.cc.Close()
		return nil, err
	}
	if s.h2 == nil {
		s.h2 = map[*h2host]*h2conn{}
	}
	s.h2[x] = cn
	return cn, nil
}

// RedirectError is a redirect that was not followed: one more than
// Config.Redirects (Reason status: the response is the last 3xx, in resp), a
// Location that isn't a URL, or a host AllowHost refused (Reason other).
type RedirectError struct {
	Reason Reason
	Msg    string
}

func (e *RedirectError) Error() string { return e.Msg }

// Do sends req to h as Host.Do does, with the session's cookies (the Jar's
// cookies for the URL added to the request, every Set-Cookie of every
// response stored) and, under connection_reuse per_vu, the session's
// connections. A nil Session is Host.Do.
func (s *Session) Do(h *Host, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, keep int, t *Timing) error {
	hops := t.Hops[:0]
	*t = Timing{Start: time.Now(), Hops: hops}
	var deadline time.Time
	if timeout > 0 {
		deadline = t.Start.Add(timeout)
	}
	c := h.c
	var jar *Jar
	limit := c.cfg.Redirects
	if s != nil {
		jar = s.jar
		if s.redirects >= 0 {
			limit = s.redirects
		}
	}
	if jar == nil && limit == 0 && c.acceptEnc == nil {
		return h.hop(s, req, resp, deadline, keep, t)
	}
	if c.acceptEnc != nil && len(req.Header.Peek(fasthttp.HeaderAcceptEncoding)) == 0 {
		req.Header.SetBytesV(fasthttp.HeaderAcceptEncoding, c.acceptEnc)
	}
	var origHost []byte
	var in, out int64
	chainStart := t.Start
	cur := t // the first hop is timed in t, the later ones in next
	var next Timing
	for n := 0; ; n++ {
		if jar != nil {
			jar.addTo(req, n > 0)
		}
		err := h.hop(s, req, resp, deadline, keep, cur)
		if jar != nil && err == nil {
			jar.storeFrom(req.URI(), resp)
		}
		loc := redirectTo(resp, err, limit)
		done := func(err error) error {
			if cur != t {
				*t = *cur
				t.Start = chainStart
				t.BytesIn += in
				t.BytesOut += out
			}
			t.Hops = hops
			return err
		}
		if loc == nil {
			return done(err)
		}
		uri := req.URI()
		if n == 0 {
			origHost = append(origHost, uri.Host()...)
		}
		from := string(uri.FullURI())
		status := resp.StatusCode()
		if n == limit {
			return done(&RedirectError{Reason: ReasonStatus,
				Msg: fmt.Sprintf("stopped after %d redirects (the limit; a loop?): %d from %s to %s", n, status, from, clipS(loc))})
		}
		nh, ferr := s.follow(h, req, status, loc, origHost)
		if ferr != nil {
			return done(ferr)
		}
		hops = append(hops, Hop{URL: from, Status: status, Timing: *cur})
		hops[len(hops)-1].Timing.Hops = nil
		in += cur.BytesIn
		out += cur.BytesOut
		h = nh
		next = Timing{Start: cur.End}
		cur = &next
	}
}

// redirectTo returns the Location to follow, or nil when resp is final.
func redirectTo(resp *fasthttp.Response, err error, limit int) []byte {
	if err != nil || limit == 0 {
		return nil
	}
	switch resp.StatusCode() {
	case 301, 302, 303, 307, 308:
		if loc := resp.Header.Peek(fasthttp.HeaderLocation); len(loc) > 0 {
			return loc
		}
	}
	return nil
}

// follow rewrites req for the redirect to loc and returns the Host to send
// it to. As browsers do (Fetch): 301 and 302 turn a POST into a GET, 303
// turns anything but GET and HEAD into a GET, both without the body and its
// headers; 307 and 308 keep the method and body. Authorization, Cookie and
// their kin are dropped when the new host is neither the first one nor a
// subdomain of it (net/http's rule); the Jar adds the cookies that belong.
func (s *Session) follow(h *Host, req *fasthttp.Request, status int, loc []byte, origHost []byte) (*Host, error) {
	uri := req.URI()
	if err := uri.UpdateBytesErr(loc); err != nil {
		return nil, &RedirectError{Reason: ReasonOther, Msg: fmt.Sprintf("redirect %d: Location %q: %v", status, clipS(loc), err)}
	}
	scheme := string(uri.Scheme())
	if scheme != "http" && scheme != "https" {
		return nil, &RedirectError{Reason: ReasonOther, Msg: fmt.Sprintf("redirect %d to %q: scheme %q is not http or https", status, clipS(loc), scheme)}
	}
	host := string(uri.Host())
	hostname := host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		hostname = hn
	}
	if f := h.c.cfg.AllowHost; f != nil {
		if err := f(hostname); err != nil {
			return nil, &RedirectError{Reason: ReasonOther, Msg: fmt.Sprintf("redirect %d to %s refused: %v", status, clipS(loc), err)}
		}
	}
	next := h
	if scheme != h.scheme || host != h.host {
		var err error
		if next, err = h.c.Host(scheme + "://" + host); err != nil {
			return nil, &RedirectError{Reason: ReasonOther, Msg: fmt.Sprintf("redirect %d: %v", status, err)}
		}
	}
	m := req.Header.Method()
	toGet := (status == 301 || status == 302) && string(m) == "POST" ||
		status == 303 && string(m) != "GET" && string(m) != "HEAD"
	if toGet {
		req.Header.SetMethod(fasthttp.MethodGet)
		req.ResetBody()
		for _, k := range []string{fasthttp.HeaderContentType, fasthttp.HeaderContentEncoding, fasthttp.HeaderContentLanguage, fasthttp.HeaderContentLocation} {
			req.Header.Del(k)
		}
		req.Header.SetContentLength(0)
	}
	if !next.rt.forward && h.rt.forward {
		req.Header.Del(fasthttp.HeaderProxyAuthorization) // the forward proxy's credentials stay with it
	}
	if !sameOrSubdomain(hostOnly(uri.Host()), hostOnly(origHost)) {
		for _, k := range []string{fasthttp.HeaderAuthorization, fasthttp.HeaderWWWAuthenticate, "Cookie2"} {
			req.Header.Del(k)
		}
		req.Header.DelAllCookies()
	}
	return next, nil
}

func hostOnly(hostport []byte) string {
	s := string(hostport)
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}

// sameOrSubdomain reports whether dst is src or a subdomain of it.
func sameOrSubdomain(dst, src string) bool {
	if len(dst) == len(src) {
		return bytes.EqualFold([]byte(dst), []byte(src))
	}
	return len(dst) > len(src) && dst[len(dst)-len(src)-1] == '.' && bytes.EqualFold([]byte(dst[len(dst)-len(src):]), []byte(src))
}

func clipS(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
