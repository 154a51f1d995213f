package testenv

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for a writer goroutine (a child process,
// a command's output) and the test reading it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreeAddr returns a 127.0.0.1 address that was free a moment ago: for a child
// process to listen on, or (as nothing listens there) to provoke a refused
// connection.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// GoTool returns the go command of the toolchain running the tests
// (GOROOT/bin/go), or "go" from PATH.
func GoTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// BuildBinary compiles the main package pkg (relative to the repository root,
// e.g. "./cmd/loadgen") into dir and returns the binary's path
// (dir/<last element of pkg>). The build stops when ctx is done.
func BuildBinary(ctx context.Context, t testing.TB, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, path.Base(strings.TrimSuffix(pkg, "/")))
	cmd := exec.CommandContext(ctx, GoTool(), "build", "-o", out, pkg)
	cmd.Dir = RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Golden compares got with the golden file at path; with update (each
// package's -update flag) it first rewrites the file, creating its directory.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
