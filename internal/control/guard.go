package control

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Browser safety (docs/api.md, "Security"). serve listens on loopback, so
// any web page its user opens could otherwise drive it: a cross-site form
// or fetch can POST to http://127.0.0.1:8089 (a "simple" request needs no
// preflight), and a page on a name the attacker rebinds to 127.0.0.1 is
// even same-origin. Every request therefore passes, in order:
//
//  1. the Host check: Host must be a loopback name or address, the address
//     the connection came in on, or a name allowed with --allowed-host (DNS
//     rebinding: the browser sends the attacker's name);
//  2. the Origin check: a request with an Origin header must come from the
//     server's own origin or one allowed with --cors-origin (answered with
//     CORS headers, preflights included);
//  3. on mutating endpoints, the body type: JSON or YAML only (the types a
//     cross-site form can send, text/plain, urlencoded and multipart, are
//     refused even on bodyless requests);
//  4. the token, when one is set, on every endpoint but /api/health and
//     /metrics.

// Media types a request body may have. YAMLTypes[0] is the registered one
// (RFC 9512); the others are its common aliases.
const JSONType = "application/json"

var YAMLTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}

// acceptedTypes names the accepted body types in errors.
var acceptedTypes = JSONType + " or " + YAMLTypes[0] + " (also " + strings.Join(YAMLTypes[1:], ", ") + ")"

// CORS answers for origins allowed with --cors-origin.
const (
	corsMethods = "GET, POST, PATCH"
	corsHeaders = "Authorization, Content-Type"
	corsExpose  = "Location, WWW-Authenticate"
	corsMaxAge  = "600"
)

// parseOrigins parses --cors-origin values: "*" (any origin) or
// scheme://host[:port] with scheme http or https and no path.
func parseOrigins(origins []string) (set map[string]bool, anyOrigin bool, err error) {
	set = map[string]bool{}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			anyOrigin = true
			continue
		}
		n, ok := normOrigin(strings.TrimSuffix(o, "/"))
		if !ok {
			return nil, false, fmt.Errorf("cors-origin %q: want scheme://host[:port] with scheme http or https and no path, or *", o)
		}
		set[n] = true
	}
	return set, anyOrigin, nil
}

// normOrigin lowercases an origin and drops its scheme's default port, as
// browsers send it ("HTTP://Example.com:80" -> "http://example.com").
func normOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return u.Scheme + "://" + normHostPort(u.Scheme, u.Host), true
}

// normHostPort lowercases host[:port] and drops scheme's default port.
func normHostPort(scheme, hostport string) string {
	hostport = strings.ToLower(hostport)
	if h, p, err := net.SplitHostPort(hostport); err == nil &&
		((scheme == "http" && p == "80") || (scheme == "https" && p == "443")) {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return hostport
}

// hostOnly returns the host of a Host header value, without port or
// brackets, lowercased and without a trailing dot.
func hostOnly(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// checkHost refuses a Host that is not a loopback name or address, the
// connection's local address, or allowed with --allowed-host.
func (s *Server) checkHost(r *http.Request) error {
	if r.Host == "" {
		return nil // HTTP/1.0 without Host: not a browser, so not a rebinding
	}
	host := hostOnly(r.Host)
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.IsLoopback() {
			return nil
		}
		// The address the request came in on (covers --addr 0.0.0.0 and a
		// specific interface address): an IP literal cannot be rebound.
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if ap, err := netip.ParseAddrPort(la.String()); err == nil && ap.Addr().Unmap() == ip {
				return nil
			}
		}
	}
	if s.hosts != nil && s.hosts.allowed(host) {
		return nil
	}
	return errorf(EFORBIDDEN, "Host %q is not this server's address or a loopback name; refused as a DNS-rebinding defence (start serve with --allowed-host %s to allow it)",
		r.Host, host)
}

// checkOrigin refuses a request whose Origin is neither the server's own
// (scheme://Host, http or https) nor allowed with --cors-origin; cors is
// true when the Origin is allowed with --cors-origin (the answer then
// carries CORS headers).
func (s *Server) checkOrigin(r *http.Request) (cors bool, err error) {
	o := r.Header.Get("Origin")
	if o == "" {
		return false, nil // not a cross-origin browser request (curl, same-origin GET)
	}
	n, ok := normOrigin(o)
	if ok && (s.corsAny || s.cors[n]) {
		return true, nil
	}
	if ok && r.Host != "" {
		u, _ := url.Parse(n)
		if u.Host == normHostPort(u.Scheme, r.Host) {
			return false, nil // same origin
		}
	}
	return false, errorf(EFORBIDDEN, "cross-origin request from %q refused: browsers may call this API only from its own origin or from one allowed with --cors-origin",
		o)
}

// guard runs the Host and Origin checks, answers CORS preflights and adds
// CORS headers for allowed origins, then hands over to next.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.cors) > 0 || s.corsAny {
			w.Header().Add("Vary", "Origin")
		}
		if err := s.checkHost(r); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		cors, err := s.checkOrigin(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if cors {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			h.Set("Access-Control-Expose-Headers", corsExpose)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", corsMethods)
				h.Set("Access-Control-Allow-Headers", corsHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bodyType returns the media type of a mutating request's body, or "" for
// a bodyless request without Content-Type. A body needs JSON or YAML; a
// form or text/plain type is refused even without a body, since that is
// what a cross-site HTML form sends.
func bodyType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return "", nil
		}
		return "", errorf(EUNSUPPORTED, "a request body needs Content-Type %s", acceptedTypes)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", errorf(EUNSUPPORTED, "content type %q: %v; want %s", ct, err, acceptedTypes)
	}
	if mt != JSONType && !slices.Contains(YAMLTypes, mt) {
		return "", errorf(EUNSUPPORTED, "content type %q is not accepted: want %s", mt, acceptedTypes)
	}
	return mt, nil
}
