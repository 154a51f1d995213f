package httpclient

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

func chunk(b []byte, size int) string {
	var sb strings.Builder
	for len(b) > 0 {
		n := min(size, len(b))
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", n, b[:n])
		b = b[n:]
	}
	return sb.String() + "0\r\n\r\n"
}

// TestDecodeFramed decodes HTTP/1.1 bodies of each framing and tells bad
// encoded data (protocol) from a body cut short (reset), leaving the reader
// at the end of the body.
func TestDecodeFramed(t *testing.T) {
	text := strings.Repeat("hello, decoded world. ", 200)
	gz := gzipped(text)
	var zl, raw bytes.Buffer
	zw := zlib.NewWriter(&zl)
	io.WriteString(zw, text)
	zw.Close()
	fw, _ := flate.NewWriter(&raw, 5)
	io.WriteString(fw, text)
	fw.Close()
	const after = "NEXT"
	for _, tc := range []struct {
		name string
		cd   coding
		size int64 // as Content-Length: -1 chunked, -2 until close
		in   string
		keep int
		want string // decoded body kept, or a reason
		cut  bool
	}{
		{"gzip, length", codingGzip, int64(len(gz)), string(gz) + after, 1 << 20, text, false},
		{"gzip, chunked", codingGzip, -1, chunk(gz, 100) + after, 1 << 20, text, false},
		{"gzip, until close", codingGzip, -2, string(gz), 1 << 20, text, false},
		{"gzip, cut at keep", codingGzip, int64(len(gz)), string(gz) + after, 10, text[:10], true},
		{"gzip, keep exactly the body", codingGzip, -1, chunk(gz, 7) + after, len(text), text, false},
		{"zlib deflate", codingDeflate, int64(zl.Len()), zl.String() + after, 1 << 20, text, false},
		{"raw deflate", codingDeflate, int64(raw.Len()), raw.String() + after, 1 << 20, text, false},
		{"empty deflate body", codingDeflate, 0, after, 1 << 20, "", false},
		{"corrupt gzip", codingGzip, 20, "this is not gzip!!!!" + after, 1 << 20, "protocol", false},
		{"gzip stream cut inside a complete body", codingGzip, int64(len(gz) / 2), string(gz[:len(gz)/2]) + after, 1 << 20, "protocol", false},
		{"body cut short by the connection", codingGzip, int64(len(gz)), string(gz[:len(gz)/2]), 1 << 20, "reset", false},
		{"broken chunking", codingGzip, -1, "zz\r\n", 1 << 20, "protocol", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 4096)
			b := &bodyReader{br: br}
			f := &framedReader{b: b, size: tc.size}
			got, cut, err := decodeBody(nil, f, tc.cd, tc.keep)
			if r := Classify(err); r != ReasonNone {
				if r.String() != tc.want {
					t.Fatalf("decodeBody: %v (reason %v); want %s", err, r, tc.want)
				}
				return
			}
			if string(got) != tc.want || cut != tc.cut {
				t.Errorf("decodeBody = %d bytes, cut %v; want %d, %v", len(got), cut, len(tc.want), tc.cut)
			}
			if tc.size != -2 {
				rest, _ := io.ReadAll(br)
				if string(rest) != after {
					t.Errorf("left %q in the reader; want %q (the body read to its end)", rest, after)
				}
			}
			if tc.size >= 0 && b.n != tc.size || tc.size == -2 && b.n != int64(len(tc.in)) {
				t.Errorf("counted %d body bytes; want the encoded size", b.n)
			}
		})
	}
	for _, cd := range []coding{codingGzip, codingBrotli, codingZstd, codingDeflate} {
		got, cut, err := decodeBody(nil, &framedReader{b: &bodyReader{br: bufio.NewReader(strings.NewReader(""))}, size: 0}, cd, 10)
		if err != nil || len(got) != 0 || cut {
			t.Errorf("an empty %s body: %q, %v, %v; want empty, no error", codingNames[cd], got, cut, err)
		}
	}
}

func TestCodingOf(t *testing.T) {
	for in, want := range map[string]coding{"gzip": codingGzip, "X-GZIP": codingGzip, " br ": codingBrotli, "zstd": codingZstd,
		"deflate": codingDeflate, "identity": codingNone, "": codingNone, "gzip, br": codingNone, "compress": codingNone} {
		if got := codingOf([]byte(in)); got != want {
			t.Errorf("codingOf(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" valid
	}{
		{Config{}, ""},
		{Config{Compression: []string{"gzip", "br", "zstd", "deflate"}, Redirects: 10, Proxy: "http://u:p@proxy:3128", Hosts: map[string]string{"a.test": "10.0.0.1", "b.test:443": "[::1]:8443"}}, ""},
		{Config{Compression: []string{"lzma"}}, `compression "lzma"`},
		{Config{Compression: []string{"gzip", "gzip"}}, "listed twice"},
		{Config{Redirects: MaxRedirects + 1}, "redirects 101"},
		{Config{Proxy: "socks5://proxy:1080"}, "scheme must be http"},
		{Config{Proxy: "http://"}, "no host"},
		{Config{Hosts: map[string]string{"a.test": "10.0.0.1:99999"}}, "hosts[a.test]"},
		{Config{Hosts: map[string]string{"a b": "10.0.0.1"}}, "not a host name"},
		{Config{TLS: TLSOptions{MinVersion: "1.4"}}, "tls.min_version"},
	} {
		err := tc.cfg.Check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Check(%+v) = %v; want %q", tc.cfg, err, tc.want)
		}
	}
	for s, want := range map[string]Version{"": VersionAuto, "auto": VersionAuto, "1.1": Version1, "2": Version2, "h2c": VersionH2C} {
		if v, err := ParseVersion(s); err != nil || v != want || (s != "" && v.String() != s) {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", s, v, err, want)
		}
	}
	if _, err := ParseVersion("3"); err == nil {
		t.Error(`ParseVersion("3"): no error`)
	}
	for s, want := range map[string]ConnReuse{"": ReuseShared, "shared": ReuseShared, "per_vu": ReusePerVU, "none": ReuseNone} {
		if r, err := ParseConnReuse(s); err != nil || r != want {
			t.Errorf("ParseConnReuse(%q) = %v, %v; want %v", s, r, err, want)
		}
	}
	if _, err := ParseConnReuse("pooled"); err == nil {
		t.Error(`ParseConnReuse("pooled"): no error`)
	}
}
