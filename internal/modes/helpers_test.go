package modes

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // registers sqlite://
	"github.com/loadlab/loadlab/internal/target"
)

// startTarget serves the demo target in-process on 127.0.0.1:0 and returns its base URL.
func startTarget(t *testing.T, cfg target.Config) (*target.Server, string) {
	t.Helper()
	cfg.Admin = true
	srv, err := target.New(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("target.New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// deadURL returns a URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func parsePlan(t *testing.T, yaml, url string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse("test.yaml", []byte(yaml), plan.WithTarget(url))
	if err != nil {
		t.Fatalf("plan.Parse: %v", err)
	}
	return p
}

// openStore opens a fresh SQLite store in a temp dir.
func openStore(t *testing.T) (store.Store, string) {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "loadgen.db")
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, url
}

// syncBuffer is a bytes.Buffer safe for the modes' output and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func timeCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
