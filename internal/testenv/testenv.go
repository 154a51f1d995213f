// Package testenv holds what tests need to know about the machine they run on:
// whether the race detector is on, whether this is CI, and where the pinned
// tools live. In CI a missing dependency fails a test; elsewhere it skips loudly.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run under CI (CI=true), where a missing
// dependency (MySQL, promtool, Prometheus) is a failure rather than a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable reports a missing dependency: t.Fatalf in CI, a loud t.Skipf elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true and a test dependency is missing: "+format, args...)
	}
	t.Skipf("SKIPPED (dependency missing; this fails under CI=true): "+format, args...)
}

// SkipIfRace skips accuracy tests under the race detector, which distorts
// timing. `make test` runs them in a second pass without -race.
func SkipIfRace(t testing.TB) {
	t.Helper()
	if RaceEnabled {
		t.Skip("accuracy test: runs without -race (make test runs it in its own pass)")
	}
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Tool returns the path of a pinned tool built into bin/ by `make tools`
// (prometheus, promtool), or reports it unavailable.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Unavailable(t, "%s not found in bin/ (run `make tools`)", name)
	return ""
}

// Main runs a package's tests (call it from TestMain) with XDG_DATA_HOME set to a temporary directory, removed
// afterwards: loadgen's default store and spool live under it (store.DataDir), so no test writes into the user's
// real data directory. HOME is left alone: the go tool's caches live under it.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadlab-test-data-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
