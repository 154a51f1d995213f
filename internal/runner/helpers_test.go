package runner

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/sqlitestore" // registers sqlite://
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
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
	return "http://" + testenv.FreeAddr(t)
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

// execute executes r and returns its report as a T (nil when it has none, or another kind).
func execute[T Report](ctx context.Context, r *Run) (T, error) {
	rep, err := Execute(ctx, r)
	t, _ := rep.(T)
	return t, err
}
