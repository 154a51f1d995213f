//go:build unix

package store_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
)

// TestStoreFilesArePrivate: with a permissive umask, the SQLite database and
// its -wal and -shm files, spool files and parked records are created 0600
// in 0700 directories, and the default data and spool directories left
// world-readable by an older version are tightened.
func TestStoreFilesArePrivate(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_DATA_HOME", filepath.Join(t.TempDir(), "xdg")) // the default directories: xdg/loadlab, xdg/loadlab/spool
	data := store.DataDir()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, d := range []string{filepath.Dir(data), data, store.DefaultSpoolDir()} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// the database, in the default directory and in a new nested one
	db := openSQLite(t, filepath.Join(data, "loadgen.db"))
	if err := db.CreateRun(ctx0, &store.Run{ID: "r1", Type: store.TypeLoad, Status: store.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	nested := openSQLite(t, "elsewhere/deep/runs.db")
	if err := nested.CreateRun(ctx0, &store.Run{ID: "r1", Type: store.TypeLoad, Status: store.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	// a spool file (store down) and a parked record (store refuses it)
	st := &flaky{Store: db}
	st.down.Store(true)
	w := store.NewWriter(st, store.WithBackoff(10*time.Millisecond, 50*time.Millisecond), store.WithHeartbeat(0))
	w.AddSnapshots(ctx0, "r1", []store.Snapshot{snap(1)})
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Pending == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st.down.Store(false)
	w.AddSnapshots(ctx0, "r1", []store.Snapshot{{RPS: 1}}) // no timestamp: refused, parked
	stats, _ := closeWriter(t, w, 10*time.Second)
	if stats.Spooled == 0 || stats.Rejected != 1 {
		t.Fatalf("stats = %+v; want a spooled and a parked record", stats)
	}
	// the spool file was written back and removed: make one that stays
	w2 := store.NewWriter(st, store.WithHeartbeat(0), store.WithReplayOnStart(false))
	st.down.Store(true)
	w2.AddSnapshots(ctx0, "r1", []store.Snapshot{snap(2)})
	stats2, _ := closeWriter(t, w2, 200*time.Millisecond)
	if stats2.Pending != 1 {
		t.Fatalf("stats = %+v; want 1 record left in the spool", stats2)
	}

	want := map[string]fs.FileMode{
		data:                     0o700,
		store.DefaultSpoolDir():  0o700,
		"elsewhere":              0o700,
		"elsewhere/deep":         0o700,
		data + "/loadgen.db":     0o600,
		data + "/loadgen.db-wal": 0o600,
		data + "/loadgen.db-shm": 0o600,
		"elsewhere/deep/runs.db": 0o600,
		stats.RejectFile:         0o600,
		stats2.SpoolFile:         0o600,
		filepath.Join("elsewhere/deep", "runs.db-wal"): 0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("stat %s: %v", path, err)
			continue
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s has mode %v; want %v", path, got, mode)
		}
	}
}
