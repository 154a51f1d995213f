package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
)

// TestReplaySkipsCorruptLines: a garbage line in the middle of a spool file
// and a torn last line are skipped, counted and located; every good record
// around them is written.
func TestReplaySkipsCorruptLines(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	st.down.Store(true)
	w := store.NewWriter(st, append(fastOpts(spool), store.WithReplayOnStart(false))...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	for i := range 4 {
		w.AddSnapshots(ctx0, id, []store.Snapshot{snap(i)})
	}
	stats, _ := closeWriter(t, w, 200*time.Millisecond)
	b, err := os.ReadFile(stats.SpoolFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("spool has %d lines; want 5", len(lines))
	}
	// line 3 becomes garbage; a torn record follows the last line
	corrupt := strings.Join(lines[:2], "") + "\x00\x01garbage{\"op\n" + strings.Join(lines[2:], "") + "\n" +
		`{"op":"snapshots","run_id":"` + id + `","snapsh`
	if err := os.WriteFile(stats.SpoolFile, []byte(corrupt), 0o600); err != nil {
		t.Fatal(err)
	}
	st.down.Store(false)
	res, err := store.ReplaySpool(context.Background(), st, spool)
	if err != nil || res.Records != 5 || res.Files != 1 || res.Corrupt != 2 {
		t.Fatalf("ReplaySpool = %+v, %v; want 5 records written, 2 lines skipped", res, err)
	}
	if len(res.CorruptAt) != 2 || !strings.HasPrefix(res.CorruptAt[0], stats.SpoolFile+":3: corrupt line") ||
		!strings.HasPrefix(res.CorruptAt[1], stats.SpoolFile+":7: torn line") {
		t.Errorf("CorruptAt = %q; want file:3 (corrupt) and file:7 (torn)", res.CorruptAt)
	}
	checkSnapshots(t, st, id, 4)
	if _, err := os.Stat(stats.SpoolFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replayed spool file still there: %v", err)
	}
}

// TestWriterRecoverSkipsCorruptLines: the same inside a live writer, whose
// own spool is written back when the store returns.
func TestWriterRecoverSkipsCorruptLines(t *testing.T) {
	dir := t.TempDir()
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	st.down.Store(true)
	w := store.NewWriter(st, append(fastOpts(filepath.Join(dir, "spool")), store.WithReplayOnStart(false))...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	w.AddSnapshots(ctx0, id, []store.Snapshot{snap(0)})
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Pending < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f, err := os.OpenFile(w.Stats().SpoolFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not a record\n")
	f.Close()
	w.AddSnapshots(ctx0, id, []store.Snapshot{snap(1)})
	for w.Stats().Pending < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st.down.Store(false)
	stats, err := closeWriter(t, w, 10*time.Second)
	if err != nil || stats.Corrupt != 1 || stats.Pending != 0 || !strings.Contains(stats.Summary(), "1 torn or corrupt spool line(s) skipped") {
		t.Fatalf("Close = %+v, %v; want everything written, 1 corrupt line counted", stats, err)
	}
	checkSnapshots(t, st, id, 2)
}

// TestParkedRecordsRetried: a record the store refused is offered again at
// each start: it is written once the store takes it, and after
// MaxParkedAttempts refusals it stays parked, no longer retried.
func TestParkedRecordsRetried(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	ctx := context.Background()
	end := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	// The finish of a run the store does not know (its creation went astray): refused, parked.
	w := store.NewWriter(st, append(fastOpts(spool), store.WithReplayOnStart(false))...)
	w.FinishRun(ctx0, "late", store.Finish{Status: store.StatusCompleted, EndedAt: end})
	w.FinishRun(ctx0, "never", store.Finish{Status: store.StatusCompleted, EndedAt: end})
	// While the writer lives, its parked file is its own.
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Rejected < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if res, err := store.ReplaySpool(ctx, st, spool); err != nil || res.Skipped != 1 || res.Unparked != 0 {
		t.Errorf("ReplaySpool while the writer lives = %+v, %v; want its parked file skipped", res, err)
	}
	stats, err := closeWriter(t, w, 5*time.Second)
	if stats.Rejected != 2 || err == nil || !strings.Contains(stats.Summary(), "retried at the next start") {
		t.Fatalf("Close = %+v, %v; want 2 records parked, said so", stats, err)
	}
	p, err := store.ParkedRecords(spool)
	if err != nil || p.Records != 2 || p.GaveUp != 0 || len(p.Files) != 1 || p.Files[0] != stats.RejectFile {
		t.Fatalf("ParkedRecords = %+v, %v; want 2 in %s", p, err, stats.RejectFile)
	}

	// Next start: still refused (attempt 2).
	res, err := store.ReplaySpool(ctx, st, spool)
	if err != nil || res.Unparked != 0 || res.Parked != 2 || res.GaveUp != 0 {
		t.Fatalf("ReplaySpool = %+v, %v; want 2 still parked", res, err)
	}
	// The run appears; the next start writes its finish.
	if err := st.CreateRun(ctx, &store.Run{ID: "late", Type: store.TypeLoad, Status: store.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	res, err = store.ReplaySpool(ctx, st, spool)
	if err != nil || res.Unparked != 1 || res.Records != 1 || res.Parked != 1 {
		t.Fatalf("ReplaySpool = %+v, %v; want the late finish written, 1 still parked", res, err)
	}
	if r, err := st.GetRun(ctx, "late"); err != nil || r.Status != store.StatusCompleted {
		t.Errorf("run late = %+v, %v; want completed", r, err)
	}
	// "never" was refused at attempts 1-3; two more starts use up its attempts.
	for range store.MaxParkedAttempts - 3 {
		res, err = store.ReplaySpool(ctx, st, spool)
	}
	if err != nil || res.Parked != 1 || res.GaveUp != 1 {
		t.Fatalf("after %d attempts ReplaySpool = %+v, %v; want it parked for good", store.MaxParkedAttempts, res, err)
	}
	calls := st.calls.Load()
	res, err = store.ReplaySpool(ctx, st, spool)
	if err != nil || st.calls.Load() != calls || res.GaveUp != 1 {
		t.Errorf("a record past MaxParkedAttempts was offered again (%d store calls), %+v, %v", st.calls.Load()-calls, res, err)
	}
	b, _ := os.ReadFile(stats.RejectFile)
	if !strings.Contains(string(b), `"run_id":"never"`) || !strings.Contains(string(b), `"attempts":5`) ||
		!strings.Contains(string(b), "not found") || strings.Contains(string(b), `"run_id":"late"`) {
		t.Errorf("parked file = %s; want only never, with 5 attempts and the reason", b)
	}
	if p, _ := store.ParkedRecords(spool); p.Records != 1 || p.GaveUp != 1 {
		t.Errorf("ParkedRecords = %+v; want 1, given up", p)
	}
	if fi, err := os.Stat(stats.RejectFile); err != nil || fi.Mode().Perm() != store.FileMode {
		t.Errorf("rewritten parked file: %v, %v; want mode %v", fi.Mode(), err, store.FileMode)
	}
}

// TestParkedRecordsStoreDown: a retry that finds the store gone keeps every
// parked record as it was.
func TestParkedRecordsStoreDown(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	w := store.NewWriter(st, append(fastOpts(spool), store.WithReplayOnStart(false))...)
	w.FinishRun(ctx0, "x", store.Finish{Status: store.StatusCompleted, EndedAt: time.Now()})
	stats, _ := closeWriter(t, w, 5*time.Second)
	before, _ := os.ReadFile(stats.RejectFile)
	st.down.Store(true)
	if _, err := store.ReplaySpool(context.Background(), st, spool); err == nil {
		t.Error("ReplaySpool with the store down = nil error")
	}
	after, _ := os.ReadFile(stats.RejectFile)
	if string(before) != string(after) || len(after) == 0 {
		t.Errorf("parked file changed while the store was down:\n%s\n->\n%s", before, after)
	}
}
