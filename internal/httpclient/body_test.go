package httpclient

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestBodyReaderChunked feeds chunked bodies to the reader directly: what it
// keeps, what it counts, and which framing errors are protocol errors.
func TestBodyReaderChunked(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		keep     int
		kept     string
		n        int64
		err      string // "" ok, "protocol", "eof"
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", 100, "hello", 5, ""},
		{"two chunks, cut", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 7, "hello w", 11, ""},
		{"keep zero", "5\r\nhello\r\n0\r\n\r\n", 0, "", 5, ""},
		{"upper hex and extension", "A;name=value\r\n0123456789\r\n0;last\r\n\r\n", 100, "0123456789", 10, ""},
		{"space before extension", "5 ;x\r\nhello\r\n0\r\n\r\n", 100, "hello", 5, ""},
		{"trailers", "2\r\nok\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n", 100, "ok", 2, ""},
		{"not hex", "zz\r\nok\r\n0\r\n\r\n", 100, "", 0, "protocol"},
		{"16 hex digits", "1000000000000000\r\n", 100, "", 0, "protocol"},
		{"bare LF", "2\nok\r\n0\r\n\r\n", 100, "", 0, "protocol"},
		{"garbage after size", "2x\r\nok\r\n0\r\n\r\n", 100, "", 0, "protocol"},
		{"no CRLF after data", "2\r\nokXX0\r\n\r\n", 100, "ok", 2, "protocol"},
		{"trailer line too long", "0\r\nX: " + strings.Repeat("t", 200) + "\r\n\r\n", 100, "", 0, "protocol"},
		{"ends in data", "5\r\nhel", 100, "hel", 3, "eof"},
		{"ends before last chunk", "5\r\nhello\r\n", 100, "hello", 5, "eof"},
		{"ends in trailers", "0\r\nX-A: 1\r\n", 100, "", 0, "eof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bodyReader{br: bufio.NewReaderSize(strings.NewReader(tc.in), 64), keep: tc.keep}
			err := b.chunked()
			var pe *ProtocolError
			switch {
			case tc.err == "" && err != nil, tc.err == "protocol" && !errors.As(err, &pe), tc.err == "eof" && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Fatalf("chunked(%q) = %v; want %s", tc.in, err, map[string]string{"": "nil", "protocol": "a ProtocolError", "eof": "io.ErrUnexpectedEOF"}[tc.err])
			}
			if string(b.dst) != tc.kept || b.n != tc.n {
				t.Errorf("chunked(%q): kept %q, counted %d; want %q, %d", tc.in, b.dst, b.n, tc.kept, tc.n)
			}
		})
	}
}

// TestBodyReaderFixedGrowth: a fixed-length body is kept in a buffer that
// grows with the bytes that arrive, never to the announced length.
func TestBodyReaderFixedGrowth(t *testing.T) {
	b := bodyReader{br: bufio.NewReader(strings.NewReader("only 20 bytes here..")), keep: 1 << 20}
	err := b.fixed(1 << 40) // announced: 1 TiB
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("fixed(1 TiB) on 20 bytes = %v; want io.ErrUnexpectedEOF", err)
	}
	if string(b.dst) != "only 20 bytes here.." || cap(b.dst) > 4096 {
		t.Errorf("kept %q in a buffer of capacity %d; want the 20 bytes in at most 4096", b.dst, cap(b.dst))
	}
}
