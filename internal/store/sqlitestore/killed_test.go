package sqlitestore_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
)

const helperEnv = "LOADGEN_STORE_KILL_HELPER_DB"

// TestHelperKilledRun is not a test: TestKilledRunMarkedInterrupted runs the
// test binary with it as a child loadgen that gets SIGKILLed mid-run.
func TestHelperKilledRun(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // only runs as the child of TestKilledRunMarkedInterrupted
	}
	st, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	w := store.NewWriter(st, store.WithSpoolDir(filepath.Join(filepath.Dir(path), "spool")))
	run := &store.Run{Type: store.TypeLoad, Status: store.StatusRunning, Plan: "killed", StartedAt: time.Now()}
	if err := w.CreateRun(context.Background(), run); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	id := run.ID
	for i := 0; i < 5; i++ {
		w.AddSnapshots(context.Background(), id, []store.Snapshot{store.Snapshot{TS: time.Date(2026, 1, 1, 0, 0, 2*i, 0, time.UTC), RPS: 10}})
	}
	for deadline := time.Now().Add(20 * time.Second); w.Stats().Written < 6 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("READY", id)
	time.Sleep(30 * time.Second) // the parent kills us long before
	os.Exit(0)
}

func TestKilledRunMarkedInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loadgen.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperKilledRun$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var id string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "READY" {
			id = f[1]
			break
		}
		t.Logf("helper: %s", sc.Text())
	}
	if id == "" {
		t.Fatal("helper process never became ready")
	}
	if err := cmd.Process.Signal(os.Kill); err != nil { // SIGKILL: no chance to finish the run
		t.Fatal(err)
	}
	cmd.Wait()

	// Until the next start, the run is still "running".
	raw, err := sql.Open("sqlite", sqlitestore.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	var status string
	if err := raw.QueryRow(`SELECT status FROM test_runs WHERE id=?`, id).Scan(&status); err != nil || status != "running" {
		t.Fatalf("status before the next start = %q, %v; want running", status, err)
	}
	raw.Close()

	st, err := sqlitestore.Open(ctx, path) // the next start
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantOwner := fmt.Sprintf(":%d", cmd.Process.Pid)
	if r.Status != store.StatusInterrupted || !strings.Contains(r.Error, wantOwner) || r.EndedAt.IsZero() {
		t.Errorf("after the next start run = %+v; want interrupted, error naming pid %d, an end time", r, cmd.Process.Pid)
	}
	if snaps, _ := st.Snapshots(ctx, id); len(snaps) != 5 {
		t.Errorf("snapshots of the killed run = %d; want the 5 it wrote", len(snaps))
	}
}
