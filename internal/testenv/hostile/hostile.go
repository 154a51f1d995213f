// Package hostile is an HTTP/1.1 server that misbehaves on purpose, for
// tests and measurements of how loadgen copes with a target that sends
// absurd lengths, endless bodies, oversized or trickled headers, garbage, or
// nothing at all. It works on raw TCP (no net/http), so it can break every
// rule. The request path picks the behaviour (see Paths); well-formed
// responses keep the connection alive.
//
// It listens on loopback only. It is not part of the product: tests and
// bench/cmd/hostile use it.
package hostile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths lists the behaviours, by request path. N is a number in the path.
var Paths = []struct{ Path, Does string }{
	{"/ok", "200, Content-Length 2, keep-alive"},
	{"/status/N", "status N (any three digits) with a 2-byte body (none for 1xx, 204, 304); after 101 it closes, after another 1xx it falls silent"},
	{"/interim/N", "interim response N (1xx), then 200 with a 2-byte body"},
	{"/lone/N", "interim response N (1xx), then closes"},
	{"/big/N", "200 with an N-byte body, Content-Length framing, keep-alive"},
	{"/big-chunked/N", "200 with an N-byte body in 16 KiB chunks, keep-alive"},
	{"/until-close/N", "200 with an N-byte body and no framing, ended by closing"},
	{"/cl-absurd", "Content-Length: 999999999999999999, 16 bytes of body, then closes"},
	{"/cl-absurd-trickle", "Content-Length: 999999999999999999, then 1 KiB every 10 ms, forever"},
	{"/cl-overflow", "Content-Length: 99999999999999999999999 (over int64)"},
	{"/cl-negative", "Content-Length: -1"},
	{"/chunked-endless", "chunked body of 32 KiB chunks, as fast as it goes, forever"},
	{"/chunked-huge-size", "one chunk announcing fffffffffffffff bytes (about 2^60), 16 bytes of it, then closes"},
	{"/chunked-bad", "a chunk size line that is not hex"},
	{"/chunked-no-crlf", "a chunk whose data is not followed by CRLF"},
	{"/header-huge", "a 64 KiB header, then 200 headers' end and a body"},
	{"/header-trickle", "a valid 200 response, its headers sent one byte every 2 ms"},
	{"/header-trickle-endless", "header lines one byte every 2 ms, never ending"},
	{"/header-endless", "header lines as fast as it goes, never ending"},
	{"/garbage", "a garbage status line"},
	{"/close", "closes without a response"},
	{"/silent", "reads the request and never answers"},
}

// Server is a running hostile server. Close stops it.
type Server struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed chan struct{}
	once   sync.Once
}

// Start listens on addr (a loopback address such as 127.0.0.1:0) and serves
// until Close.
func Start(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("hostile: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("hostile: address %q: loopback IP addresses only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hostile: %w", err)
	}
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// URL is the server's base URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.closed:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(c)
		}()
	}
}

var errDone = errors.New("connection done")

// serve answers requests on c until a behaviour ends the connection.
func (s *Server) serve(c net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	for {
		path, err := readRequest(br)
		if err != nil {
			return
		}
		if err := s.respond(c, bw, path); err != nil {
			return
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

// readRequest reads one request's head (and drops its body) and returns its path.
func readRequest(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", errors.New("bad request line")
	}
	clen := 0
	for n := 0; ; n++ {
		h, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if h == "\r\n" || h == "\n" {
			break
		}
		if n > 200 {
			return "", errors.New("too many request headers")
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			clen, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if clen > 0 {
		if _, err := br.Discard(clen); err != nil {
			return "", err
		}
	}
	path, _, _ := strings.Cut(f[1], "?")
	return path, nil
}

func (s *Server) done() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// respond writes the behaviour of path. errDone (or a write error) ends the
// connection.
func (s *Server) respond(c net.Conn, bw *bufio.Writer, path string) error {
	name, arg, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	n, _ := strconv.Atoi(arg)
	switch name {
	case "ok":
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	case "status":
		if len(arg) != 3 {
			return errDone
		}
		fmt.Fprintf(bw, "HTTP/1.1 %s Status\r\n", arg)
		if n < 200 || n == 204 || n == 304 {
			bw.WriteString("\r\n")
		} else {
			bw.WriteString("Content-Length: 2\r\n\r\nok")
		}
		if n == 101 {
			bw.Flush()
			return errDone
		}
	case "interim":
		fmt.Fprintf(bw, "HTTP/1.1 %d Interim\r\n\r\n", n)
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	case "lone":
		fmt.Fprintf(bw, "HTTP/1.1 %d Interim\r\n\r\n", n)
		bw.Flush()
		return errDone
	case "big":
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n)
		return writeFill(bw, int64(n))
	case "big-chunked":
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		for left := n; left > 0; {
			k := min(left, 16<<10)
			fmt.Fprintf(bw, "%x\r\n", k)
			if err := writeFill(bw, int64(k)); err != nil {
				return err
			}
			bw.WriteString("\r\n")
			left -= k
		}
		bw.WriteString("0\r\nX-Trailer: t\r\n\r\n")
	case "until-close":
		bw.WriteString("HTTP/1.1 200 OK\r\n\r\n")
		writeFill(bw, int64(n))
		bw.Flush()
		return errDone
	case "cl-absurd":
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n0123456789abcdef")
		bw.Flush()
		return errDone
	case "cl-absurd-trickle":
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n")
		for !s.done() {
			if err := writeFill(bw, 1024); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
		return errDone
	case "cl-overflow":
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok")
		bw.Flush()
		return errDone
	case "cl-negative":
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok")
		bw.Flush()
		return errDone
	case "chunked-endless":
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		for !s.done() {
			bw.WriteString("8000\r\n") // 32 KiB
			if err := writeFill(bw, 32<<10); err != nil {
				return err
			}
			bw.WriteString("\r\n")
		}
		return errDone
	case "chunked-huge-size":
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n0123456789abcdef")
		bw.Flush()
		return errDone
	case "chunked-bad":
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n")
		bw.Flush()
		return errDone
	case "chunked-no-crlf":
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n")
		bw.Flush()
		return errDone
	case "header-huge":
		bw.WriteString("HTTP/1.1 200 OK\r\nX-Huge: ")
		writeFill(bw, 64<<10)
		bw.WriteString("\r\nContent-Length: 2\r\n\r\nok")
		bw.Flush()
		return errDone
	case "header-trickle":
		resp := "HTTP/1.1 200 OK\r\nX-Slow: " + strings.Repeat("s", 100) + "\r\nContent-Length: 2\r\n\r\n"
		for i := 0; i < len(resp); i++ {
			if s.done() {
				return errDone
			}
			if _, err := c.Write([]byte{resp[i]}); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
		}
		bw.WriteString("ok")
	case "header-trickle-endless":
		head := []byte("HTTP/1.1 200 OK\r\n")
		if _, err := c.Write(head); err != nil {
			return err
		}
		for !s.done() {
			for _, b := range []byte("X-Slow: s\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return err
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		return errDone
	case "header-endless":
		bw.WriteString("HTTP/1.1 200 OK\r\n")
		line := []byte("X-More: " + strings.Repeat("m", 100) + "\r\n")
		for !s.done() {
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
		return errDone
	case "garbage":
		bw.WriteString("SPLAT \x00\x01 what\r\n\r\n")
		bw.Flush()
		return errDone
	case "close":
		return errDone
	case "silent":
		<-s.closed
		return errDone
	default:
		bw.WriteString("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	}
	return nil
}

var fill = bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB

// writeFill writes n bytes of filler.
func writeFill(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(fill)))
		if _, err := w.Write(fill[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
