// Package reqbody builds request bodies: application/x-www-form-urlencoded
// forms, multipart/form-data (fields and file parts) and files sent as they
// are. The builders append to a caller's buffer, so a worker that reuses its
// buffer builds a body per request without allocating; files are read once,
// when a plan is prepared, within a size limit.
package reqbody

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
)

// FormContentType is the Content-Type of AppendFormPair's bodies.
const FormContentType = "application/x-www-form-urlencoded"

// DefaultMaxFileBytes bounds a file read by ReadFile when the caller gives no
// limit: a request body is held in memory (once per plan, shared by every
// request), so it has to fit.
const DefaultMaxFileBytes = 64 << 20

// AppendFormPair appends key=value, URL-encoded as HTML forms are (space as
// "+"), preceded by "&" unless dst is empty.
func AppendFormPair(dst []byte, key, value []byte) []byte {
	if len(dst) > 0 {
		dst = append(dst, '&')
	}
	dst = AppendQueryEscape(dst, key)
	dst = append(dst, '=')
	return AppendQueryEscape(dst, value)
}

const hexUpper = "0123456789ABCDEF"

// AppendQueryEscape appends s escaped as url.QueryEscape does (space as "+"), without allocating: form bodies here,
// and template values rendered into a query (internal/tmpl).
func AppendQueryEscape[S ~string | ~[]byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}

// Multipart builds multipart/form-data bodies with one boundary (random,
// made once: 32 hex digits, which no part is expected to contain).
type Multipart struct {
	boundary string
}

// NewMultipart returns a builder with a fresh random boundary.
func NewMultipart() *Multipart {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return &Multipart{boundary: "loadlab-" + hex.EncodeToString(b[:])}
}

// Boundary returns the boundary.
func (m *Multipart) Boundary() string { return m.boundary }

// ContentType returns the Content-Type of m's bodies.
func (m *Multipart) ContentType() string { return "multipart/form-data; boundary=" + m.boundary }

// AppendField appends a form field part.
func (m *Multipart) AppendField(dst []byte, name string, value []byte) []byte {
	dst = m.partStart(dst)
	dst = append(dst, `Content-Disposition: form-data; name="`...)
	dst = appendQuoted(dst, name)
	dst = append(dst, "\"\r\n\r\n"...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendFile appends a file part: field name, file name, its Content-Type
// ("" application/octet-stream) and content.
func (m *Multipart) AppendFile(dst []byte, field, filename, contentType string, content []byte) []byte {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	dst = m.partStart(dst)
	dst = append(dst, `Content-Disposition: form-data; name="`...)
	dst = appendQuoted(dst, field)
	dst = append(dst, `"; filename="`...)
	dst = appendQuoted(dst, filename)
	dst = append(dst, "\"\r\nContent-Type: "...)
	dst = append(dst, contentType...)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, content...)
	return append(dst, "\r\n"...)
}

// AppendEnd appends the closing boundary (after the last part).
func (m *Multipart) AppendEnd(dst []byte) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, m.boundary...)
	return append(dst, "--\r\n"...)
}

func (m *Multipart) partStart(dst []byte) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, m.boundary...)
	return append(dst, "\r\n"...)
}

// appendQuoted escapes a name for a quoted header parameter as browsers do
// (HTML's multipart/form-data encoding): '"' as %22, CR as %0D, LF as %0A.
func appendQuoted(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			dst = append(dst, "%22"...)
		case '\r':
			dst = append(dst, "%0D"...)
		case '\n':
			dst = append(dst, "%0A"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// File is a file read for a request body.
type File struct {
	Path        string
	Name        string // the base name, for a multipart part's filename
	ContentType string // from the extension; application/octet-stream if unknown
	Content     []byte
}

// ReadFile reads path for a body (body_file, a multipart file part), at most
// limit bytes (0: DefaultMaxFileBytes). The error names the file and the limit.
func ReadFile(path string, limit int64) (*File, error) {
	if limit <= 0 {
		limit = DefaultMaxFileBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit for a body file", path, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: grew over the %d-byte limit for a body file while read", path, limit)
	}
	ct := mime.TypeByExtension(filepath.Ext(path))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &File{Path: path, Name: filepath.Base(path), ContentType: ct, Content: b}, nil
}
