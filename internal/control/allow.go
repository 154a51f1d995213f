package control

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// allowList matches target hosts against --allow-target patterns. Hosts are
// matched as written in the plan's target URL, never resolved: an IP pattern
// or CIDR matches IP literals, a name pattern matches names (so
// "localhost" must be allowed by name).
type allowList struct {
	patterns []string
	any      bool
	prefixes []netip.Prefix
	names    map[string]bool
	suffixes []string // "*.example.com" -> ".example.com"
}

func parseAllowList(patterns []string) (*allowList, error) {
	return parseHostPatterns("allow-target", patterns)
}

// parseHostPatterns parses host patterns given with flag (named in errors):
// CIDRs, IPs, host names, *.domain and "*".
func parseHostPatterns(flag string, patterns []string) (*allowList, error) {
	a := &allowList{patterns: patterns, names: map[string]bool{}}
	for _, p := range patterns {
		p = strings.TrimSpace(strings.ToLower(p))
		switch {
		case p == "":
			return nil, fmt.Errorf("%s: empty pattern", flag)
		case p == "*":
			a.any = true
		case strings.Contains(p, "/"):
			pf, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", flag, p, err)
			}
			a.prefixes = append(a.prefixes, pf.Masked())
		case strings.HasPrefix(p, "*."):
			a.suffixes = append(a.suffixes, p[1:])
		default:
			if ip, err := netip.ParseAddr(strings.Trim(p, "[]")); err == nil {
				a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			if strings.ContainsAny(p, "*:") {
				return nil, fmt.Errorf("%s %q: want a CIDR, an IP, a host name or *.domain (without a port)", flag, p)
			}
			a.names[strings.TrimSuffix(p, ".")] = true
		}
	}
	return a, nil
}

// allowed reports whether host (from a URL, without port) is allowed.
func (a *allowList) allowed(host string) bool {
	if a.any {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		for _, p := range a.prefixes {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	if a.names[host] {
		return true
	}
	for _, s := range a.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// check returns a 403 *Error naming the target and the allow-list when
// target's host is not allowed.
func (a *allowList) check(target string) error { return a.checkURL("target", target) }

// checkURL is check for any URL serve fetches on a plan's behalf; what
// names it in the error ("target", "knee.metrics_url").
func (a *allowList) checkURL(what, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return errorf(EINVALID, "%s %q: not a URL", what, rawURL)
	}
	if a.allowed(u.Hostname()) {
		return nil
	}
	return errorf(EFORBIDDEN, "%s host %q is not in the allow-list [%s] (start serve with --allow-target)",
		what, u.Hostname(), strings.Join(a.patterns, ", "))
}

// checkHost is the allow-list check of a redirect's host (a name or IP,
// without port): the executor asks it before following the redirect.
func (a *allowList) checkHost(host string) error {
	if a.allowed(host) {
		return nil
	}
	return fmt.Errorf("host %q is not in serve's target allow-list [%s]", host, strings.Join(a.patterns, ", "))
}

// IsLoopbackAddr reports whether a listen address binds to loopback only
// ("127.0.0.1:8089", "[::1]:8089", "localhost:8089"). An empty host or
// 0.0.0.0 binds every interface.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
