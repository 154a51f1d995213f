package httpclient

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/publicsuffix"
)

// Jar is a cookie jar with RFC 6265 semantics (net/http/cookiejar with the
// public suffix list: a site can't set a cookie for a whole public suffix
// such as co.uk): every Set-Cookie of every response a Session receives,
// redirect hops included, is stored, and the cookies that match a request's
// URL (domain, path, secure, expiry) are sent with it. A Jar belongs to one
// Session at a time (one goroutine); the caller decides its lifetime (a
// virtual user's, or one iteration's).
type Jar struct {
	j     *cookiejar.Jar
	used  bool // a cookie was ever stored (until then, requests skip the lookup)
	u     url.URL
	added []string // the names addTo put on the current request
}

// NewJar returns an empty jar.
func NewJar() *Jar {
	j, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List}) // never fails
	return &Jar{j: j}
}

// Reset empties the jar (the open model's next iteration). A jar that never
// received a cookie is reset without allocating.
func (j *Jar) Reset() {
	if j.used {
		j.j, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
		j.used = false
	}
	j.added = j.added[:0]
}

// Cookies returns the cookies the jar would send to rawURL.
func (j *Jar) Cookies(rawURL string) []*http.Cookie {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	return j.j.Cookies(u)
}

// SetCookies stores cookies as if rawURL had set them.
func (j *Jar) SetCookies(rawURL string, cookies []*http.Cookie) {
	u, err := url.Parse(rawURL)
	if err != nil || len(cookies) == 0 {
		return
	}
	j.j.SetCookies(u, cookies)
	j.used = true
}

// urlOf fills j.u from uri (scheme, host, path: what cookie matching uses).
func (j *Jar) urlOf(uri *fasthttp.URI) *url.URL {
	j.u = url.URL{Scheme: string(uri.Scheme()), Host: string(uri.Host()), Path: string(uri.Path())}
	return &j.u
}

// addTo adds the jar's cookies for req's URL to req (beside any the request
// sets itself; the jar's win on a name clash). again is true for a redirect
// hop of the same request: the cookies added for the previous hop are taken
// off first (the response may have deleted them, the host may differ).
func (j *Jar) addTo(req *fasthttp.Request, again bool) {
	if again {
		for _, name := range j.added {
			req.Header.DelCookie(name)
		}
	}
	j.added = j.added[:0]
	if !j.used {
		return
	}
	for _, ck := range j.j.Cookies(j.urlOf(req.URI())) {
		req.Header.SetCookie(ck.Name, ck.Value)
		j.added = append(j.added, ck.Name)
	}
}

// storeFrom stores the Set-Cookie headers of resp, received from uri.
func (j *Jar) storeFrom(uri *fasthttp.URI, resp *fasthttp.Response) {
	var cookies []*http.Cookie
	for _, v := range resp.Header.Cookies() {
		if ck, err := http.ParseSetCookie(string(v)); err == nil {
			cookies = append(cookies, ck)
		}
	}
	if len(cookies) == 0 {
		return
	}
	j.j.SetCookies(j.urlOf(uri), cookies)
	j.used = true
}
