package reqbody

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/httpclient"
)

func TestAppendFormPair(t *testing.T) {
	var b []byte
	b = AppendFormPair(b, []byte("q"), []byte("a b&c=d/é"))
	b = AppendFormPair(b, []byte("x y"), []byte(""))
	if got, want := string(b), "q="+url.QueryEscape("a b&c=d/é")+"&x+y="; got != want {
		t.Errorf("AppendFormPair = %q; want %q", got, want)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil || v.Get("q") != "a b&c=d/é" || !v.Has("x y") {
		t.Errorf("ParseQuery(%q) = %v, %v", b, v, err)
	}
	if n := testing.AllocsPerRun(100, func() { b = AppendFormPair(b[:0], []byte("key"), []byte("some value")) }); n != 0 {
		t.Errorf("AppendFormPair allocates %v times into a buffer with room; want 0", n)
	}
}

func TestMultipartParses(t *testing.T) {
	m := NewMultipart()
	var b []byte
	b = m.AppendField(b, "title", []byte("hello\r\nworld"))
	b = m.AppendField(b, `odd"name`, []byte("x"))
	b = m.AppendFile(b, "upload", "a.txt", "text/plain", []byte("file body"))
	b = m.AppendEnd(b)
	_, params, _ := strings.Cut(m.ContentType(), "boundary=")
	r := multipart.NewReader(bytes.NewReader(b), params)
	form, err := r.ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if form.Value["title"][0] != "hello\r\nworld" || form.Value["odd%22name"][0] != "x" {
		t.Errorf("fields %v", form.Value)
	}
	fh := form.File["upload"][0]
	if fh.Filename != "a.txt" || fh.Header.Get("Content-Type") != "text/plain" || fh.Size != 9 {
		t.Errorf("file part %+v", fh)
	}
	if n := testing.AllocsPerRun(100, func() {
		b = m.AppendEnd(m.AppendFile(m.AppendField(b[:0], "f", []byte("v")), "u", "n.bin", "", []byte("c")))
	}); n != 0 {
		t.Errorf("multipart building allocates %v times into a buffer with room; want 0", n)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data.json")
	os.WriteFile(p, []byte(`{"a":1}`), 0o600)
	f, err := ReadFile(p, 100)
	if err != nil || f.ContentType != "application/json" || f.Name != "data.json" || string(f.Content) != `{"a":1}` {
		t.Errorf("ReadFile = %+v, %v", f, err)
	}
	if _, err := ReadFile(p, 3); err == nil || !strings.Contains(err.Error(), "3-byte limit") {
		t.Errorf("ReadFile over the limit: %v; want an error naming the limit", err)
	}
	if _, err := ReadFile(dir, 0); err == nil {
		t.Error("ReadFile of a directory: no error")
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 0); err == nil {
		t.Error("ReadFile of a missing file: no error")
	}
}

// TestEchoed sends a form, a multipart body and a file through httpclient
// (HTTP/1.1 and h2c) to go-httpbin's /post, which echoes what it parsed.
func TestEchoed(t *testing.T) {
	srv := httptest.NewUnstartedServer(httpbin.New())
	srv.Config.Protocols = new(httpProtocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "photo.png")
	os.WriteFile(path, []byte("not really a PNG ☺"), 0o600)
	file, err := ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	// httpbin echoes a body of another type as a data URL, file parts as they are.
	dataURL := "data:image/png;base64," + base64.URLEncoding.EncodeToString(file.Content)
	for _, v := range []httpclient.Version{httpclient.Version1, httpclient.VersionH2C} {
		c := httpclient.New(httpclient.Config{Version: v})
		h, err := c.Host(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		post := func(ct string, body []byte) (echo struct {
			Form  map[string][]string
			Files map[string][]string
			Data  string
		}) {
			t.Helper()
			req, resp := &fasthttp.Request{}, &fasthttp.Response{}
			req.SetRequestURI(srv.URL + "/post")
			req.Header.SetMethod("POST")
			req.Header.SetContentType(ct)
			req.SetBodyRaw(body)
			var tm httpclient.Timing
			if err := h.Do(req, resp, 5*time.Second, 1<<20, &tm); err != nil || resp.StatusCode() != 200 {
				t.Fatalf("%v POST %s: %v, %d %s", v, ct, err, resp.StatusCode(), resp.Body())
			}
			if err := json.Unmarshal(resp.Body(), &echo); err != nil {
				t.Fatal(err)
			}
			return echo
		}
		form := AppendFormPair(AppendFormPair(nil, []byte("user"), []byte("ann lee")), []byte("tag"), []byte("a&b"))
		if e := post(FormContentType, form); e.Form["user"][0] != "ann lee" || e.Form["tag"][0] != "a&b" {
			t.Errorf("%v form: echoed %v", v, e.Form)
		}
		m := NewMultipart()
		mp := m.AppendEnd(m.AppendFile(m.AppendField(nil, "caption", []byte("at sea")), "photo", file.Name, file.ContentType, file.Content))
		if e := post(m.ContentType(), mp); e.Form["caption"][0] != "at sea" || len(e.Files["photo"]) != 1 || e.Files["photo"][0] != string(file.Content) {
			t.Errorf("%v multipart: echoed form %v, files %v", v, e.Form, e.Files)
		}
		if e := post(file.ContentType, file.Content); e.Data != dataURL {
			t.Errorf("%v body_file: echoed %q", v, e.Data)
		}
		c.CloseIdleConnections()
	}
}

type httpProtocols = http.Protocols
