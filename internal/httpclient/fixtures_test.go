package httpclient

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mccutchen/go-httpbin/v2/httpbin"
	brotli "github.com/molecule-man/go-brrr"
	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/testenv/testpki"
)

// pki is a CA made for one test, with a server certificate for 127.0.0.1,
// localhost and api.test, and a client certificate; the PEM files are in a
// temporary directory.
type pki struct {
	caFile, clientCert, clientKey string
	x                             *testpki.PKI
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	x := testpki.New(t, "loadlab test CA")
	p := &pki{caFile: filepath.Join(dir, "ca.pem"), clientCert: filepath.Join(dir, "client.pem"),
		clientKey: filepath.Join(dir, "client.key"), x: x}
	for path, b := range map[string][]byte{p.caFile: x.CAPEM, p.clientCert: x.ClientCertPEM, p.clientKey: x.ClientKeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// bombMember is one gzip member of 1 MiB of zeros; bombs repeat it.
var bombMember = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	return b.Bytes()
})

// testHandler is go-httpbin plus what it lacks: /proto (the protocol the
// server saw), /brotli and /zstd, /bomb/N (N MiB of zeros as a gzip of
// about N KiB), /login and /private (a session cookie), /reset (the stream
// or connection cut), /bigheader.
func testHandler() http.Handler {
	bin := httpbin.New()
	mux := http.NewServeMux()
	mux.Handle("/", bin)
	mux.HandleFunc("/proto", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})
	encoded := func(name string, enc func(io.Writer) io.WriteCloser) {
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", name)
			w.Header().Set("Content-Type", "application/json")
			zw := enc(w)
			io.WriteString(zw, `{"encoding": "`+name+`", "accept": "`+r.Header.Get("Accept-Encoding")+`"}`)
			zw.Close()
		})
	}
	encoded("br", func(w io.Writer) io.WriteCloser { zw, _ := brotli.NewWriter(w, 5); return zw })
	encoded("zstd", func(w io.Writer) io.WriteCloser { zw, _ := zstd.NewWriter(w); return zw })
	mux.HandleFunc("/bomb/{mib}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("mib"))
		m := bombMember()
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(n*len(m)))
		for range n {
			w.Write(m)
		}
	})
	mux.HandleFunc("/corrupt-gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, "this is not gzip at all")
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-" + r.URL.Query().Get("user"), Path: "/", HttpOnly: true})
		io.WriteString(w, "welcome")
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "hello "+ck.Value)
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/bigheader", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", string(bytes.Repeat([]byte("x"), 64<<10)))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	return mux
}

// testServer is a loopback server of testHandler that counts the
// connections it accepted.
type testServer struct {
	*httptest.Server
	conns *atomic.Int64
}

// serverKind: "http" (HTTP/1.1), "h2c" (HTTP/1.1 and h2c), "https" (TLS,
// HTTP/1.1 only), "h2" (TLS, h2 and HTTP/1.1), "mtls" (h2 and a client
// certificate required).
func startServer(t *testing.T, kind string, p *pki) *testServer {
	t.Helper()
	ts, conns := p.x.Server(t, testHandler(), kind)
	return &testServer{Server: ts, conns: conns}
}

// send does one request through s (nil: h.Do) and returns the response
// (owned by the test) and timing.
func send(t *testing.T, c *Client, s *Session, method, url string, body []byte, hdr map[string]string, keep int) (*fasthttp.Response, *Timing, error) {
	t.Helper()
	h, err := c.Host(url)
	if err != nil {
		return nil, nil, err
	}
	req, resp := fasthttp.AcquireRequest(), &fasthttp.Response{}
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.SetBody(body)
	}
	tm := &Timing{}
	if s == nil {
		err = h.Do(req, resp, 5*time.Second, keep, tm)
	} else {
		err = s.Do(h, req, resp, 5*time.Second, keep, tm)
	}
	return resp, tm, err
}

func fetch(t *testing.T, c *Client, url string) (*fasthttp.Response, *Timing, error) {
	t.Helper()
	return send(t, c, nil, "GET", url, nil, nil, 1<<20)
}

type fasthttpResponse = fasthttp.Response

func newReq(url string) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.SetRequestURI(url)
	return req
}
