package httpclient

import (
	"bufio"
	"errors"
	"io"
	"strconv"

	"github.com/valyala/fasthttp"
)

// DefaultMaxHeaderBytes bounds a response's status line and headers (and a
// chunked body's trailer): fasthttp reads them into one buffer of this size
// per request in flight. A response whose headers do not fit fails with
// reason protocol.
const DefaultMaxHeaderBytes = 4096

// ProtocolError is a response that breaks HTTP/1.1: a bad status line, bad
// headers or Content-Length, headers over the limit, broken chunking, a
// status code outside 100-599. Classify maps it to ReasonProtocol; its text
// is the parser's message.
type ProtocolError struct {
	Msg string
	Err error // the parser's error, when there is one
}

func (e *ProtocolError) Error() string {
	if e.Err == nil {
		return "malformed response: " + e.Msg
	}
	if e.Msg == "" {
		return "malformed response: " + e.Err.Error()
	}
	return "malformed response: " + e.Msg + ": " + e.Err.Error()
}

func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(msg string) error { return &ProtocolError{Msg: msg} }

// headerErr turns an error of fasthttp's header parser into a ProtocolError,
// unless it is a transport failure (timeout, reset, closed) which keeps its
// own reason.
func headerErr(err error, limit int) error {
	var sb *fasthttp.ErrSmallBuffer
	if errors.As(err, &sb) {
		return &ProtocolError{Msg: "status line and headers over " + strconv.Itoa(limit) + " bytes (the response header limit)"}
	}
	if classifyTransport(err) != ReasonOther {
		return err
	}
	return &ProtocolError{Err: err}
}

// bodyReader reads one response body from the connection's buffered reader.
// It keeps the first keep bytes (growing its buffer as they arrive, never by
// the length the peer announces) and reads the rest and drops it, so memory
// per request is bounded whatever the body's size or framing. n counts the
// body bytes read (decoded: without chunk framing).
type bodyReader struct {
	br   *bufio.Reader
	keep int
	dst  []byte
	n    int64
}

// fixed reads a body of exactly size bytes (Content-Length).
func (b *bodyReader) fixed(size int64) error {
	k := int(min(size, int64(b.keep-len(b.dst))))
	if err := b.read(k, k); err != nil {
		return unexpectedEOF(err)
	}
	return unexpectedEOF(b.discard(size - int64(k)))
}

// untilClose reads a body delimited by the end of the connection.
func (b *bodyReader) untilClose() error {
	if err := b.read(b.keep-len(b.dst), b.keep-len(b.dst)); err != nil {
		if err == io.EOF {
			return nil
		}
		return err
	}
	for {
		m, err := b.br.Discard(b.br.Size())
		b.n += int64(m)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// maxChunkHexDigits bounds a chunk size line: 15 hex digits (just under
// 2^60 bytes); a longer one is a protocol error, so sizes never overflow.
const maxChunkHexDigits = 15

// chunked reads a chunked body and its trailer section (which is dropped).
func (b *bodyReader) chunked() error {
	for {
		size, err := b.chunkSize()
		if err != nil {
			return err
		}
		if size == 0 {
			break
		}
		k := int(min(size, int64(b.keep-len(b.dst))))
		if err := b.read(k, b.keep-len(b.dst)); err != nil {
			return unexpectedEOF(err)
		}
		if err := b.discard(size - int64(k)); err != nil {
			return unexpectedEOF(err)
		}
		if err := b.crlf("after chunk data"); err != nil {
			return err
		}
	}
	for { // trailer fields, up to an empty line
		line, err := b.line("trailer")
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// chunkSize reads a chunk-size line: hex digits, optional extensions, CRLF.
func (b *bodyReader) chunkSize() (int64, error) {
	line, err := b.line("chunk size")
	if err != nil {
		return 0, err
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if i == maxChunkHexDigits {
			return 0, protoErr("chunk size over " + strconv.Itoa(maxChunkHexDigits) + " hex digits")
		}
		size = size<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, protoErr("chunk size line " + strconv.Quote(clip(line)) + " does not start with a hex number")
	}
	for _, c := range line[i:] {
		if c == ';' {
			break // chunk extensions: ignored
		}
		if c != ' ' && c != '\t' {
			return 0, protoErr("invalid character " + strconv.QuoteRune(rune(c)) + " after chunk size")
		}
	}
	return size, nil
}

// line reads one CRLF-terminated line (without the CRLF). A line longer than
// the read buffer is a protocol error.
func (b *bodyReader) line(what string) ([]byte, error) {
	line, err := b.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, protoErr(what + " line over " + strconv.Itoa(b.br.Size()) + " bytes")
		}
		return nil, unexpectedEOF(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, protoErr(what + " line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

func (b *bodyReader) crlf(what string) error {
	c1, err := b.br.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	c2, err := b.br.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	if c1 != '\r' || c2 != '\n' {
		return protoErr("missing CRLF " + what)
	}
	return nil
}

// read appends the next k body bytes to dst, growing dst as they arrive
// (want >= k: how many more bytes dst may yet have to hold).
func (b *bodyReader) read(k, want int) error {
	for k > 0 {
		if len(b.dst) == cap(b.dst) {
			b.dst = growBody(b.dst, want)
		}
		m := min(k, cap(b.dst)-len(b.dst))
		got, err := b.br.Read(b.dst[len(b.dst) : len(b.dst)+m])
		b.dst = b.dst[:len(b.dst)+got]
		b.n += int64(got)
		k -= got
		want -= got
		if err != nil {
			return err
		}
	}
	return nil
}

// discard reads and drops the next k body bytes.
func (b *bodyReader) discard(k int64) error {
	for k > 0 {
		step := int(min(k, 1<<30))
		m, err := b.br.Discard(step)
		b.n += int64(m)
		k -= int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// growBody makes room in dst for more of a body of which want bytes are still
// expected: it grows fourfold (from 4 KiB; less garbage than doubling on the
// way to a 1 MiB limit) but never past want, so what is allocated follows
// what arrived and the keep limit, not what the peer announced.
func growBody(dst []byte, want int) []byte {
	c := min(max(4*cap(dst), 4096), len(dst)+want)
	nb := make([]byte, len(dst), c)
	copy(nb, dst)
	return nb
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
