package plan

import (
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/loadlab/loadlab/internal/httpclient"
	"github.com/loadlab/loadlab/internal/reqbody"
	"github.com/loadlab/loadlab/internal/tmpl"
)

// Defaults of defaults.http.
const (
	DefaultHTTPVersion     = "auto"
	DefaultRedirects       = 10
	DefaultConnectionReuse = "shared"
	// MaxBodyFileBytes bounds one file sent as a body (body_file, a
	// multipart file part) and MaxBodyFilesBytes all of a plan's together:
	// they are held in memory for the whole run.
	MaxBodyFileBytes  = reqbody.DefaultMaxFileBytes
	MaxBodyFilesBytes = 256 << 20
	// MaxMultipartParts bounds the fields plus files of one multipart body.
	MaxMultipartParts = 1000
)

// HTTP is defaults.http: how the client speaks to the target. See
// docs/plan.md and docs/http.md.
type HTTP struct {
	// Version is auto (default: HTTP/2 when an https target's ALPN agrees,
	// else HTTP/1.1), "1.1", "2" (https) or h2c (HTTP/2 without TLS).
	Version string `yaml:"version"`
	TLS     TLS    `yaml:"tls"`
	// Cookies keeps a cookie jar per virtual user (closed model) or per
	// iteration (open model); default true.
	Cookies *bool `yaml:"cookies"`
	// Compression is the codings sent in Accept-Encoding (gzip, br, zstd,
	// deflate); default none asked. Encoded bodies are decoded either way.
	Compression []string `yaml:"compression"`
	// Redirects is how many redirects a request follows (0: none); default
	// DefaultRedirects. A step may set its own (request.redirects).
	Redirects *int `yaml:"redirects"`
	// Proxy is an HTTP proxy URL; "" reads HTTP_PROXY, HTTPS_PROXY and
	// NO_PROXY; "direct" uses none.
	Proxy string `yaml:"proxy"`
	// ConnectionReuse is shared (default), per_vu or none.
	ConnectionReuse string `yaml:"connection_reuse"`
	// Hosts pins host names to addresses (no DNS).
	Hosts map[string]string `yaml:"hosts"`

	// tlsFiles are TLS's file paths resolved against the plan's
	// directory by Parse ("" when TLS names no file).
	tlsFiles TLS
}

// TLS is defaults.http.tls.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	MinVersion         string `yaml:"min_version"`
}

// Multipart is a step's multipart/form-data body.
type Multipart struct {
	// Fields are sent first, sorted by name; values may hold templates.
	Fields map[string]string `yaml:"fields"`
	// Files are sent after the fields, in order.
	Files []FilePart `yaml:"files"`
}

// FilePart is one file of a multipart body.
type FilePart struct {
	Field       string `yaml:"field"`        // the form field name
	File        string `yaml:"file"`         // path, relative to the plan's directory
	Filename    string `yaml:"filename"`     // default: the file's base name
	ContentType string `yaml:"content_type"` // default: from the extension

	content *reqbody.File // read by Parse
}

// ClientConfig returns the httpclient configuration of the plan's
// defaults.http (MaxConns and AllowHost are the caller's). The plan must
// have been validated.
func (p *Plan) ClientConfig() httpclient.Config {
	h := &p.Defaults.HTTP
	v, _ := httpclient.ParseVersion(h.Version)
	reuse, _ := httpclient.ParseConnReuse(h.ConnectionReuse)
	cfg := httpclient.Config{Version: v, ConnReuse: reuse, Compression: h.Compression, Proxy: h.Proxy, Hosts: h.Hosts,
		TLS: h.tlsOptions()}
	if h.Redirects != nil {
		cfg.Redirects = *h.Redirects
	}
	return cfg
}

// CookiesOn reports whether requests keep cookies (defaults.http.cookies).
func (p *Plan) CookiesOn() bool { return p.Defaults.HTTP.Cookies == nil || *p.Defaults.HTTP.Cookies }

func (h *HTTP) tlsOptions() httpclient.TLSOptions {
	f := h.tlsFiles
	if f.CAFile == "" && f.CertFile == "" && f.KeyFile == "" {
		f = h.TLS // built in Go, or no files
	}
	return httpclient.TLSOptions{CAFile: f.CAFile, InsecureSkipVerify: h.TLS.InsecureSkipVerify, CertFile: f.CertFile,
		KeyFile: f.KeyFile, ServerName: h.TLS.ServerName, MinVersion: h.TLS.MinVersion}
}

func defaultHTTP(p *Plan) {
	h := &p.Defaults.HTTP
	if h.Version == "" {
		h.Version = DefaultHTTPVersion
	}
	if h.ConnectionReuse == "" {
		h.ConnectionReuse = DefaultConnectionReuse
	}
	if h.Cookies == nil {
		t := true
		h.Cookies = &t
	}
	if h.Redirects == nil {
		n := DefaultRedirects
		h.Redirects = &n
	}
}

// http validates defaults.http.
func (v *validator) http() {
	h := &v.p.Defaults.HTTP
	const at = "defaults.http"
	ver, err := httpclient.ParseVersion(h.Version)
	if err != nil {
		v.add(at+".version", "%v", err)
	}
	if err == nil && v.p.Target != "" {
		https := strings.HasPrefix(strings.ToLower(v.p.Target), "https:")
		switch {
		case ver == httpclient.Version2 && !https:
			v.add(at+".version", `"2" is HTTP/2 over TLS and needs an https target (use h2c for HTTP/2 without TLS)`)
		case ver == httpclient.VersionH2C && https:
			v.add(at+".version", `h2c is HTTP/2 without TLS and needs an http target (use "2" over https)`)
		}
	}
	if _, err := httpclient.ParseConnReuse(h.ConnectionReuse); err != nil {
		v.add(at+".connection_reuse", "%v", err)
	}
	if err := httpclient.CheckEncodings(h.Compression); err != nil {
		v.add(at+".compression", "%v", err)
	}
	if h.Redirects != nil {
		v.redirects(at+".redirects", *h.Redirects)
	}
	if _, err := httpclient.ParseProxy(h.Proxy); err != nil {
		v.add(at+".proxy", "%v", err)
	}
	for _, k := range sortedKeys(h.Hosts) {
		if err := httpclient.CheckHosts(map[string]string{k: h.Hosts[k]}); err != nil {
			v.add(joinPath(at+".hosts", k), "%v", err)
		}
	}
	t := h.TLS
	if t.MinVersion != "" {
		if _, err := httpclient.TLSVersion(t.MinVersion); err != nil {
			v.add(at+".tls.min_version", "%v", err)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add(at+".tls", "give cert_file and key_file together (a client certificate and its key)")
	}
	if t.ServerName != "" && strings.ContainsAny(t.ServerName, " /:") {
		v.add(at+".tls.server_name", "%q is not a host name", t.ServerName)
	}
}

func (v *validator) redirects(path string, n int) {
	if n < 0 || n > httpclient.MaxRedirects {
		v.add(path, "must be between 0 and %d (got %d)", httpclient.MaxRedirects, n)
	}
}

// requestBody validates a step's body when it gives form, multipart or
// body_file, or more than one body, and compiles it into cr (Body,
// ContentType, the Content-Type header when the step sets none).
func (v *validator) requestBody(at string, r *Request, cr *CompiledRequest, ct bool,
	compile func(path, src string, esc tmpl.Escape) *tmpl.Template, fail func(path, format string, args ...any)) {
	var given []string
	if r.JSON != nil {
		given = append(given, "json")
	}
	if r.Body != "" {
		given = append(given, "body")
	}
	if r.Form != nil {
		given = append(given, "form")
	}
	if r.Multipart != nil {
		given = append(given, "multipart")
	}
	if r.BodyFile != "" {
		given = append(given, "body_file")
	}
	if len(given) > 1 {
		fail(at+"."+given[1], "give one body: %s are given", strings.Join(given, " and "))
		return
	}
	switch {
	case r.Form != nil:
		var parts []*tmpl.Template
		for i, k := range sortedKeys(r.Form) {
			pre := reqbody.AppendFormPair(nil, []byte(k), nil)
			if i > 0 {
				pre = append([]byte{'&'}, pre...)
			}
			parts = append(parts, tmpl.Literal(string(pre)), compile(joinPath(at+".form", k), escapeLiterals(r.Form[k]), tmpl.Query))
		}
		cr.Body = concat(parts)
		if !ct {
			cr.ContentType = reqbody.FormContentType
		}
	case r.Multipart != nil:
		m := r.Multipart
		if n := len(m.Fields) + len(m.Files); n == 0 {
			fail(at+".multipart", "needs fields or files")
			return
		} else if n > MaxMultipartParts {
			fail(at+".multipart", "must be <= %d parts (got %d)", MaxMultipartParts, n)
			return
		}
		if ct {
			fail(at+".headers", "multipart sets its own Content-Type (with the boundary); don't set one")
		}
		mb := reqbody.NewMultipart()
		var parts []*tmpl.Template
		for _, k := range sortedKeys(m.Fields) {
			head := mb.AppendField(nil, k, nil)
			parts = append(parts, tmpl.Literal(string(head[:len(head)-2])),
				compile(joinPath(at+".multipart.fields", k), m.Fields[k], tmpl.Plain), tmpl.Literal("\r\n"))
		}
		for i, f := range m.Files {
			fp := fmt.Sprintf("%s.multipart.files[%d]", at, i)
			if f.Field == "" {
				fail(fp+".field", "required")
			}
			if f.File == "" {
				fail(fp+".file", "required")
			}
			if f.content == nil {
				if f.File != "" {
					fail(fp+".file", notRead)
				}
				continue
			}
			name, ctype := f.Filename, f.ContentType
			if name == "" {
				name = f.content.Name
			}
			if ctype == "" {
				ctype = f.content.ContentType
			}
			parts = append(parts, tmpl.Literal(string(mb.AppendFile(nil, f.Field, name, ctype, f.content.Content))))
		}
		parts = append(parts, tmpl.Literal(string(mb.AppendEnd(nil))))
		cr.Body = concat(parts)
		cr.ContentType = mb.ContentType()
		cr.Headers = append(cr.Headers, HeaderTemplate{Name: "Content-Type", Value: tmpl.Literal(cr.ContentType)})
	case r.BodyFile != "":
		if r.bodyFile == nil {
			fail(at+".body_file", notRead)
			return
		}
		cr.Body = tmpl.Literal(string(r.bodyFile.Content))
		if !ct {
			cr.ContentType = r.bodyFile.ContentType
		}
	default:
		return
	}
	if !ct && r.Multipart == nil && cr.ContentType != "" {
		cr.Headers = append(cr.Headers, HeaderTemplate{Name: "Content-Type", Value: tmpl.Literal(cr.ContentType)})
	}
}

// notRead is the problem of a body file a plan built in Go names: files are
// read by Parse and LoadFile (when Parse could not read it, it says why).
const notRead = "file not read (load the plan with plan.Parse or plan.LoadFile)"

// escapeLiterals form-encodes the literal text of template source s (a
// template escapes only the values it inserts), keeping its ${...}
// references as they are.
func escapeLiterals(s string) string {
	var b strings.Builder
	lit := func(x string) { b.WriteString(url.QueryEscape(x)) }
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 { // unterminated: Compile reports it
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+end+1])
			i += end + 1
		default:
			j := i + 1
			for j < len(s) && s[j] != '$' {
				j++
			}
			lit(s[i:j])
			i = j
		}
	}
	return b.String()
}

func concat(parts []*tmpl.Template) *tmpl.Template {
	for _, p := range parts {
		if p == nil {
			return nil
		}
	}
	return tmpl.Concat(parts...)
}

// loadFiles reads the files a plan names besides its data: body_file and
// multipart files (from fsys, relative to base, as data files), and resolves
// the TLS files against dir (the plan's directory on disk; "" when the plan
// was not read from disk) and checks they can be used.
func loadFiles(p *Plan, fsys fs.FS, base, dir string) Errors {
	var errs Errors
	total := int64(0)
	read := func(at, file string) *reqbody.File {
		if fsys == nil {
			errs = append(errs, p.errAt(at, "files are not available here (plan not loaded from a file)"))
			return nil
		}
		name := ""
		if !filepath.IsAbs(file) {
			name = path.Clean(filepath.ToSlash(file))
			if base != "." {
				name = path.Join(base, filepath.ToSlash(file))
			}
		}
		var data []byte
		var err error
		if name == "" {
			data, err = readFileLimited(osFS{}, file, MaxBodyFileBytes)
		} else {
			data, err = readFileLimited(fsys, name, MaxBodyFileBytes)
		}
		if err != nil {
			errs = append(errs, p.errAt(at, fmt.Sprintf("cannot read %s: %v", file, unwrapPathError(err))))
			return nil
		}
		if total += int64(len(data)); total > MaxBodyFilesBytes {
			errs = append(errs, p.errAt(at, fmt.Sprintf("%s: the plan's body files add up to more than %d bytes (the limit)", file, MaxBodyFilesBytes)))
			return nil
		}
		f := &reqbody.File{Path: file, Name: filepath.Base(file), Content: data, ContentType: "application/octet-stream"}
		if ct := mimeType(file); ct != "" {
			f.ContentType = ct
		}
		return f
	}
	steps := func(at string, list []Step) {
		for j := range list {
			r := &list[j].Request
			sp := fmt.Sprintf("%s[%d].request", at, j)
			if r.BodyFile != "" {
				r.bodyFile = read(sp+".body_file", r.BodyFile)
			}
			if m := r.Multipart; m != nil {
				for k := range m.Files {
					if m.Files[k].File != "" {
						m.Files[k].content = read(fmt.Sprintf("%s.multipart.files[%d].file", sp, k), m.Files[k].File)
					}
				}
			}
		}
	}
	for i := range p.Scenarios {
		steps(scenarioPath(i)+".steps", p.Scenarios[i].Steps)
	}
	if p.Benchmark != nil {
		steps("benchmark.endpoints", p.Benchmark.Endpoints)
	}

	h := &p.Defaults.HTTP
	t := h.TLS
	if t.CAFile == "" && t.CertFile == "" && t.KeyFile == "" {
		return errs
	}
	const at = "defaults.http.tls"
	if dir == "" {
		errs = append(errs, p.errAt(at, "TLS files (ca_file, cert_file, key_file) are available only to a plan loaded from a file"))
		return errs
	}
	abs := func(f string) string {
		if f == "" || filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(dir, f)
	}
	h.tlsFiles = TLS{CAFile: abs(t.CAFile), CertFile: abs(t.CertFile), KeyFile: abs(t.KeyFile)}
	// The files are read here; the other options are Validate's.
	o := h.tlsOptions()
	o.MinVersion, o.ServerName = "", ""
	if (t.CertFile == "") != (t.KeyFile == "") {
		o.CertFile, o.KeyFile = "", ""
	}
	if _, err := o.Build(); err != nil {
		key := "ca_file"
		switch {
		case strings.HasPrefix(err.Error(), "tls.cert_file"):
			key = "cert_file"
		case strings.HasPrefix(err.Error(), "tls.key_file"):
			key = "key_file"
		}
		errs = append(errs, p.errAt(at+"."+key, err.Error()))
	}
	return errs
}
