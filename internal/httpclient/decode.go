package httpclient

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	brotli "github.com/molecule-man/go-brrr"
)

// coding is a content coding the client decodes.
type coding uint8

const (
	codingNone coding = iota // identity, or one we don't know (kept as it came)
	codingGzip
	codingBrotli
	codingZstd
	codingDeflate
)

var codingNames = [...]string{codingGzip: "gzip", codingBrotli: "br", codingZstd: "zstd", codingDeflate: "deflate"}

// codingOf parses a Content-Encoding value. Only a single known coding is
// decoded; a list ("gzip, br") or an unknown one is left as it came.
func codingOf(ce []byte) coding {
	ce = bytes.TrimSpace(ce)
	switch {
	case len(ce) == 0:
		return codingNone
	case bytes.EqualFold(ce, []byte("gzip")), bytes.EqualFold(ce, []byte("x-gzip")):
		return codingGzip
	case bytes.EqualFold(ce, []byte("br")):
		return codingBrotli
	case bytes.EqualFold(ce, []byte("zstd")):
		return codingZstd
	case bytes.EqualFold(ce, []byte("deflate")):
		return codingDeflate
	}
	return codingNone
}

// bodySource is an encoded body being read: failed tells whether reading
// it failed (a transport or framing error, as opposed to bad encoded data).
type bodySource interface {
	io.Reader
	failed() error
	drain() error
}

// maxZstdWindow bounds the memory a zstd stream can make the decoder
// allocate (the format allows windows up to 3.75 TB; browsers take 8 MiB).
const maxZstdWindow = 8 << 20

var (
	gzipPool   sync.Pool
	zlibPool   sync.Pool
	flatePool  sync.Pool
	brotliPool sync.Pool
	zstdPool   sync.Pool
)

// decodeBody decodes src into dst (appending), keeping at most keep decoded
// bytes: decoding stops as soon as more than keep bytes come out (cut is
// then true), so a small body that inflates to gigabytes costs no more than
// keep bytes of memory and the CPU to decode them. What is left of src is
// then read and dropped, so the connection stays reusable. Bad encoded data
// is a *ProtocolError; a transport failure keeps its own error.
func decodeBody(dst []byte, src bodySource, cd coding, keep int) (out []byte, cut bool, err error) {
	dst, cut, err = decodeInto(dst, src, cd, keep)
	if ferr := src.failed(); ferr != nil {
		return dst, cut, ferr
	}
	if err != nil {
		// Not wrapped: a truncated stream inside a complete body is bad data
		// (protocol), not a connection cut short (reset).
		return dst, cut, &ProtocolError{Msg: codingNames[cd] + " body: " + err.Error()}
	}
	return dst, cut, src.drain()
}

func decodeInto(dst []byte, src io.Reader, cd coding, keep int) ([]byte, bool, error) {
	// An empty body is empty whatever its coding says (servers send
	// Content-Encoding on empty responses); the first two bytes also tell
	// zlib from raw DEFLATE.
	var hdr [2]byte
	n, err := io.ReadFull(src, hdr[:])
	switch {
	case n == 0 && err == io.EOF:
		return dst, false, nil
	case err != nil && err != io.ErrUnexpectedEOF:
		return dst, false, err
	}
	src = io.MultiReader(bytes.NewReader(hdr[:n]), src)
	var r io.Reader
	switch cd {
	case codingGzip:
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(src)
		} else {
			err = zr.Reset(src)
		}
		if err != nil {
			return dst, false, err
		}
		defer gzipPool.Put(zr)
		zr.Multistream(true)
		r = zr
	case codingDeflate:
		// "deflate" is zlib (RFC 9110 8.4.1.2), but some servers send raw
		// DEFLATE: tell them apart by the zlib header.
		pre := src
		var err error
		if n == 2 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 && hdr[0]&0x0f == 8 {
			zr, _ := zlibPool.Get().(io.ReadCloser)
			if zr == nil {
				zr, err = zlib.NewReader(pre)
			} else {
				err = zr.(zlib.Resetter).Reset(pre, nil)
			}
			if err != nil {
				return dst, false, err
			}
			defer zlibPool.Put(zr)
			r = zr
		} else {
			fr, _ := flatePool.Get().(io.ReadCloser)
			if fr == nil {
				fr = flate.NewReader(pre)
			} else {
				fr.(flate.Resetter).Reset(pre, nil)
			}
			defer flatePool.Put(fr)
			r = fr
		}
	case codingBrotli:
		br, _ := brotliPool.Get().(*brotli.Reader)
		if br == nil {
			br = brotli.NewReader(src)
		} else {
			br.Reset(src)
		}
		defer func() { br.Reset(nil); brotliPool.Put(br) }()
		r = br
	case codingZstd:
		zd, _ := zstdPool.Get().(*zstd.Decoder)
		var err error
		if zd == nil {
			zd, err = zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(1<<30))
		} else {
			err = zd.Reset(src)
		}
		if err != nil {
			return dst, false, err
		}
		defer func() { zd.Reset(nil); zstdPool.Put(zd) }()
		r = zd
	default:
		return dst, false, errors.New("unknown coding")
	}
	return readKeep(dst, r, keep)
}

// readKeep appends to dst what r yields, up to keep bytes; cut is true when
// r had more (one byte more is read to know).
func readKeep(dst []byte, r io.Reader, keep int) ([]byte, bool, error) {
	limit := len(dst) + keep
	for {
		if len(dst) == limit {
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			if n > 0 {
				return dst, true, nil
			}
			if err == io.EOF {
				return dst, false, nil
			}
			return dst, false, err
		}
		if len(dst) == cap(dst) {
			dst = growBody(dst, limit-len(dst))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, false, nil
		}
		if err != nil {
			return dst, false, err
		}
	}
}

// framedReader is an HTTP/1.1 response body as an io.Reader (for a decoder):
// a Content-Length body (size >= 0), a chunked one (size -1) or one that
// ends with the connection (size -2), read from b's buffered reader and
// counted in b.n.
type framedReader struct {
	b       *bodyReader
	size    int64 // as Content-Length: >= 0 fixed, -1 chunked, -2 until close
	left    int64 // bytes left in the body (fixed) or the current chunk
	started bool  // fixed: left set; chunked: a chunk was read
	done    bool
	err     error
}

func (f *framedReader) failed() error { return f.err }

// next makes f.left the size of what can be read now; io.EOF at the end.
func (f *framedReader) next() error {
	if f.err != nil {
		return f.err
	}
	if f.done {
		return io.EOF
	}
	switch {
	case f.size >= 0:
		if !f.started {
			f.left, f.started = f.size, true
		}
		if f.left == 0 {
			f.done = true
			return io.EOF
		}
	case f.size == -1:
		if f.left > 0 {
			return nil
		}
		if f.started {
			if err := f.b.crlf("after chunk data"); err != nil {
				f.err = err
				return err
			}
		}
		size, err := f.b.chunkSize()
		if err != nil {
			f.err = err
			return err
		}
		f.started = true
		if size == 0 {
			for { // trailer fields, up to an empty line
				line, err := f.b.line("trailer")
				if err != nil {
					f.err = err
					return err
				}
				if len(line) == 0 {
					break
				}
			}
			f.done = true
			return io.EOF
		}
		f.left = size
	default:
		f.left = 1 << 62
	}
	return nil
}

func (f *framedReader) Read(p []byte) (int, error) {
	if err := f.next(); err != nil {
		return 0, err
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.b.br.Read(p)
	f.left -= int64(n)
	f.b.n += int64(n)
	if err != nil {
		if err == io.EOF && f.size == -2 {
			f.done = true
			return n, io.EOF
		}
		f.err = unexpectedEOF(err)
		if n > 0 {
			return n, nil
		}
		return 0, f.err
	}
	return n, nil
}

// drain reads the rest of the body and drops it.
func (f *framedReader) drain() error {
	for {
		if err := f.next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if f.size == -2 {
			if err := f.b.untilClose(); err != nil {
				f.err = err
				return err
			}
			f.done = true
			return nil
		}
		if err := f.b.discard(f.left); err != nil {
			f.err = unexpectedEOF(err)
			return f.err
		}
		f.left = 0
	}
}
