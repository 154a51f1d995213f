package httpclient

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadlab/loadlab/internal/testenv"
)

// cannedServer answers every HTTP/1.1 request on a connection with the same
// response, without allocating per request (so AllocsPerRun, which counts
// the whole process, sees the client's allocations only).
func cannedServer(t *testing.T, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			cn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer cn.Close()
				buf := make([]byte, 64<<10)
				resp := []byte(response)
				end := []byte("\r\n\r\n")
				n := 0
				for {
					m, err := cn.Read(buf[n:])
					if err != nil {
						return
					}
					n += m
					for {
						i := bytes.Index(buf[:n], end)
						if i < 0 {
							break
						}
						if _, err := cn.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[i+len(end):n])
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestHTTP1Allocs: the fasthttp path allocates nothing per request, with the
// body kept or not, through Host.Do and through a Session without a jar
// (what the executor's workers call).
func TestHTTP1Allocs(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	url := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world")
	c := New(Config{})
	defer c.CloseIdleConnections()
	h, err := c.Host(url)
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewSession()
	req, resp := &fasthttp.Request{}, &fasthttp.Response{KeepBodyBuffer: true}
	var tm Timing
	for _, keep := range []int{0, 1 << 20} {
		do := func() {
			req.Reset()
			req.SetRequestURI(url + "/x")
			if err := s.Do(h, req, resp, time.Second, keep, &tm); err != nil || string(resp.Body()) != "hello world"[:min(keep, 11)] {
				t.Fatalf("Do: %v, %q", err, resp.Body())
			}
		}
		do()
		if n := testing.AllocsPerRun(200, do); n != 0 {
			t.Errorf("keep %d: %v allocations per request; want 0", keep, n)
		}
	}
}
