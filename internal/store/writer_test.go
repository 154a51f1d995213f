package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
)

var errDown = errors.New("connection refused (test outage)")

// flaky wraps a Store; while down every call fails like an unreachable
// database, and while blocked every call waits for its ctx.
type flaky struct {
	store.Store
	down    atomic.Bool
	blocked atomic.Bool
	calls   atomic.Int64
}

func (f *flaky) check(ctx context.Context) error {
	f.calls.Add(1)
	if f.blocked.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *flaky) Ping(ctx context.Context) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}
func (f *flaky) CreateRun(ctx context.Context, r *store.Run) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.CreateRun(ctx, r)
}
func (f *flaky) FinishRun(ctx context.Context, id string, x store.Finish) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.FinishRun(ctx, id, x)
}
func (f *flaky) Heartbeat(ctx context.Context, id string, at time.Time) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Heartbeat(ctx, id, at)
}
func (f *flaky) AddSnapshots(ctx context.Context, id string, s []store.Snapshot) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.AddSnapshots(ctx, id, s)
}
func (f *flaky) AddStepResults(ctx context.Context, id string, s []store.StepResult) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.AddStepResults(ctx, id, s)
}

var ctx0 = context.Background()

func createRun(w *store.Writer, r store.Run) string {
	if err := w.CreateRun(ctx0, &r); err != nil {
		panic(err)
	}
	return r.ID
}

func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func snap(i int) store.Snapshot {
	return store.Snapshot{TS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 100 * time.Millisecond),
		Phase: "steady", RPS: float64(i), Requests: int64(i * 10)}
}

func fastOpts(dir string) []store.WriterOption {
	return []store.WriterOption{store.WithSpoolDir(dir), store.WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		store.WithOpTimeout(2 * time.Second), store.WithHeartbeat(50 * time.Millisecond)}
}

func closeWriter(t *testing.T, w *store.Writer, d time.Duration) (store.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return w.Close(ctx)
}

func checkSnapshots(t *testing.T, st store.Store, runID string, n int) {
	t.Helper()
	got, err := st.Snapshots(context.Background(), runID)
	if err != nil {
		t.Fatalf("Snapshots: %v", err)
	}
	if len(got) != n {
		t.Fatalf("stored %d snapshots; want %d", len(got), n)
	}
	for i, s := range got {
		if s != snap(i) {
			t.Fatalf("snapshot %d = %+v; want %+v", i, s, snap(i))
		}
	}
}

func TestWriterWritesEverything(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "db.sqlite"))
	w := store.NewWriter(st, fastOpts(filepath.Join(dir, "spool"))...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning, Plan: "p"})
	for i := 0; i < 20; i++ {
		w.AddSnapshots(ctx0, id, []store.Snapshot{snap(i)})
	}
	w.FinishRun(ctx0, id, store.Finish{Status: store.StatusCompleted, SummaryText: "done\n"})
	stats, err := closeWriter(t, w, 10*time.Second)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if stats.Written != 22 || stats.Spooled != 0 || stats.HadToSpool() || stats.Summary() != "" {
		t.Errorf("stats = %+v (summary %q); want 22 written, nothing spooled, empty summary", stats, stats.Summary())
	}
	checkSnapshots(t, st, id, 20)
	if _, ok := w.Flush(ctx0); !ok {
		t.Error("Flush after Close = not flushed; want true")
	}
	r, err := st.GetRun(context.Background(), id)
	if err != nil || r.Status != store.StatusCompleted || r.SummaryText != "done\n" {
		t.Errorf("run = %+v, %v; want completed with summary", r, err)
	}
	if _, err := os.Stat(stats.SpoolFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spool file %s exists after a clean run (%v)", stats.SpoolFile, err)
	}
}

func TestWriterOutageMidRun(t *testing.T) {
	dir := t.TempDir()
	base := openSQLite(t, filepath.Join(dir, "db.sqlite"))
	st := &flaky{Store: base}
	w := store.NewWriter(st, fastOpts(filepath.Join(dir, "spool"))...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	const n = 60
	for i := 0; i < n; i++ {
		switch i {
		case 15:
			st.down.Store(true)
		case 40:
			// While down, records must be in the spool file, not lost.
			if s := w.Stats(); s.Spooled == 0 || !s.Down {
				t.Errorf("during outage stats = %+v; want spooled > 0 and down", s)
			}
			b, err := os.ReadFile(w.Stats().SpoolFile)
			if err != nil || !strings.Contains(string(b), `"op":"snapshots"`) {
				t.Errorf("spool file during outage: %v, %q", err, b)
			}
			st.down.Store(false)
		}
		w.AddSnapshots(ctx0, id, []store.Snapshot{snap(i)})
		time.Sleep(5 * time.Millisecond)
	}
	fctx, cancel := context.WithTimeout(ctx0, 10*time.Second)
	defer cancel()
	if fs, ok := w.Flush(fctx); !ok || fs.Pending != 0 || fs.Written != n+1 || !fs.HadToSpool() {
		t.Errorf("Flush after the outage = %+v, %v; want everything written, spooling reported", fs, ok)
	}
	w.FinishRun(ctx0, id, store.Finish{Status: store.StatusCompleted})
	stats, err := closeWriter(t, w, 10*time.Second)
	if err != nil {
		t.Fatalf("Close: %v (stats %+v)", err, stats)
	}
	if stats.Outages < 1 || stats.Spooled == 0 || stats.Replayed != stats.Spooled || stats.Pending != 0 || stats.Written != n+2 {
		t.Errorf("stats = %+v; want >=1 outage, spooled = replayed, nothing pending, %d written", stats, n+2)
	}
	if !strings.Contains(stats.Summary(), "all written once it came back") {
		t.Errorf("Summary() = %q; want it to say the spool was written", stats.Summary())
	}
	checkSnapshots(t, base, id, n)
	if r, _ := base.GetRun(context.Background(), id); r == nil || r.Status != store.StatusCompleted {
		t.Errorf("run = %+v; want completed", r)
	}
}

func TestWriterDownAtStartReplayedAtNextStart(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	dbPath := filepath.Join(dir, "db.sqlite")
	base := openSQLite(t, dbPath)
	st := &flaky{Store: base}
	st.down.Store(true)
	w := store.NewWriter(st, fastOpts(spool)...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	for i := 0; i < 30; i++ {
		w.AddSnapshots(ctx0, id, []store.Snapshot{snap(i)})
	}
	step, _ := store.NewStepResult("s", "login", 30, 1, nil, time.Second)
	w.AddStepResults(ctx0, id, []store.StepResult{step})
	w.FinishRun(ctx0, id, store.Finish{Status: store.StatusCompleted})
	stats, err := closeWriter(t, w, 300*time.Millisecond)
	if err == nil || stats.Pending != 33 || stats.Written != 0 {
		t.Fatalf("Close with store down = %+v, %v; want an error and 33 records pending", stats, err)
	}
	if !strings.Contains(stats.Summary(), "written at the next start") {
		t.Errorf("Summary() = %q; want it to say the records wait for the next start", stats.Summary())
	}
	if _, err := base.GetRun(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("run stored while the store was down? %v", err)
	}

	// Next start: the store is back; a new writer replays the old spool.
	st.down.Store(false)
	w2 := store.NewWriter(st, fastOpts(spool)...)
	stats2, err := closeWriter(t, w2, 10*time.Second)
	if err != nil || stats2.OldSpool != 33 {
		t.Fatalf("next writer = %+v, %v; want 33 old records written", stats2, err)
	}
	checkSnapshots(t, base, id, 30)
	r, err := base.GetRun(context.Background(), id)
	if err != nil || r.Status != store.StatusCompleted {
		t.Errorf("run after replay = %+v, %v; want completed", r, err)
	}
	if steps, _ := base.StepResults(context.Background(), id); len(steps) != 1 {
		t.Errorf("steps after replay = %+v; want 1", steps)
	}
	if left, _ := filepath.Glob(filepath.Join(spool, "*.jsonl")); len(left) != 0 {
		t.Errorf("spool files left after replay: %v", left)
	}
}

func TestReplaySpool(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	st.down.Store(true)
	w := store.NewWriter(st, append(fastOpts(spool), store.WithReplayOnStart(false))...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	for i := 0; i < 5; i++ {
		w.AddSnapshots(ctx0, id, []store.Snapshot{snap(i)})
	}
	stats, _ := closeWriter(t, w, 200*time.Millisecond)
	// A crash mid-append leaves a torn last line: it must be ignored.
	f, err := os.OpenFile(stats.SpoolFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"op":"snapshots","run_id":"` + id + `","snapsh`)
	f.Close()

	ctx := context.Background()
	res, err := store.ReplaySpool(ctx, st, spool)
	if err == nil || res.Records != 0 {
		t.Fatalf("ReplaySpool with store down = %+v, %v; want an error, nothing written", res, err)
	}
	st.down.Store(false)
	// A file locked by a live writer is left alone.
	w2 := store.NewWriter(st, append(fastOpts(spool), store.WithReplayOnStart(false))...)
	st.down.Store(true)
	w2.AddSnapshots(ctx0, "other", []store.Snapshot{snap(0)})
	time.Sleep(100 * time.Millisecond) // w2 goes down and opens (locks) its spool file
	st.down.Store(false)
	res, err = store.ReplaySpool(ctx, st, spool)
	if err != nil || res.Records != 6 || res.Files != 1 || res.Skipped != 1 {
		t.Errorf("ReplaySpool = %+v, %v; want 6 records from 1 file, 1 locked file skipped", res, err)
	}
	checkSnapshots(t, st, id, 5)
	if _, err := os.Stat(stats.SpoolFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replayed spool file still there: %v", err)
	}
	closeWriter(t, w2, 5*time.Second)
	if res, err := store.ReplaySpool(ctx, st, filepath.Join(dir, "missing")); err != nil || !reflect.DeepEqual(res, store.ReplayResult{}) {
		t.Errorf("ReplaySpool(missing dir) = %+v, %v; want nothing, no error", res, err)
	}
}

func TestWriterNeverBlocksOnStore(t *testing.T) {
	dir := t.TempDir()
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	st.blocked.Store(true) // every store call hangs until its timeout
	w := store.NewWriter(st, append(fastOpts(filepath.Join(dir, "spool")), store.WithOpTimeout(time.Hour))...)
	returned := make(chan string)
	go func() {
		id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
		for i := 0; i < 2000; i++ {
			w.AddSnapshots(ctx0, id, []store.Snapshot{snap(i)})
		}
		returned <- id
	}()
	select {
	case <-returned: // every call came back although each store call hangs for an hour
	case <-time.After(30 * time.Second):
		t.Fatal("writer calls blocked on a hung store")
	}
	fctx, cancel := context.WithTimeout(ctx0, 100*time.Millisecond)
	defer cancel()
	if _, ok := w.Flush(fctx); ok {
		t.Error("Flush reported everything written with a hung store")
	}
	stats, err := closeWriter(t, w, 200*time.Millisecond)
	if err == nil || stats.Pending != 2001 || stats.Dropped != 0 {
		t.Errorf("Close on a hung store = %+v, %v; want all 2001 records in the spool, none dropped", stats, err)
	}
}

func TestWriterRejectsInvalidRecords(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "db.sqlite"))
	w := store.NewWriter(st, fastOpts(filepath.Join(dir, "spool"))...)
	if err := w.CreateRun(ctx0, &store.Run{ID: "bad", Type: "soak", Status: store.StatusRunning}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateRun(type soak) = %v; want ErrInvalid at once", err)
	}
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	w.AddSnapshots(ctx0, "bad", []store.Snapshot{{RPS: 1}}) // no timestamp: the store refuses it
	w.AddSnapshots(ctx0, id, []store.Snapshot{snap(1)})
	stats, err := closeWriter(t, w, 10*time.Second)
	if err == nil || stats.Rejected != 1 || stats.Written != 2 {
		t.Fatalf("stats = %+v, %v; want 1 rejected, 2 written and an error", stats, err)
	}
	b, rerr := os.ReadFile(stats.RejectFile)
	if rerr != nil || !strings.Contains(string(b), `"run_id":"bad"`) || !strings.Contains(string(b), "invalid record") {
		t.Errorf("reject file = %q, %v; want the refused record with its error", b, rerr)
	}
}

func TestWriterBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	st := &flaky{Store: openSQLite(t, filepath.Join(dir, "db.sqlite"))}
	st.blocked.Store(true)
	w := store.NewWriter(st, append(fastOpts(filepath.Join(dir, "spool")), store.WithMaxBuffered(5), store.WithOpTimeout(time.Hour),
		store.WithReplayOnStart(false))...)
	createRun(w, store.Run{ID: "r", Type: store.TypeLoad, Status: store.StatusRunning})
	deadline := time.Now().Add(5 * time.Second)
	for st.calls.Load() == 0 && time.Now().Before(deadline) { // the loop holds CreateRun, blocked in the store
		time.Sleep(time.Millisecond)
	}
	w.AddSnapshots(ctx0, "r", []store.Snapshot{snap(0), snap(1), snap(2)}) // 3 rows
	for i := 3; i < 7; i++ {
		err := w.AddSnapshots(ctx0, "r", []store.Snapshot{snap(i)}) // 2 fit, 2 are dropped
		if dropped := i >= 5; dropped != errors.Is(err, store.ErrDropped) {
			t.Errorf("AddSnapshots #%d = %v; want dropped=%v", i, err, dropped)
		}
	}
	if s := w.Stats(); s.Buffered != 5 || s.Dropped != 2 {
		t.Errorf("stats = %+v; want 5 rows buffered, 2 records dropped", s)
	}
	stats, err := closeWriter(t, w, 200*time.Millisecond)
	if err == nil || !strings.Contains(stats.Summary(), "LOST") || stats.Pending != 4 {
		t.Errorf("Close = %+v (%q), %v; want the loss reported and 4 records spooled", stats, stats.Summary(), err)
	}
}

// Two writers for two runs on one database at once.
func TestWritersConcurrent(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "db.sqlite"))
	var wg sync.WaitGroup
	ids := make([]string, 2)
	for k := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := store.NewWriter(st, fastOpts(filepath.Join(dir, "spool"))...)
			ids[k] = createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning, Name: fmt.Sprint(k)})
			for i := 0; i < 50; i++ {
				w.AddSnapshots(ctx0, ids[k], []store.Snapshot{snap(i)})
			}
			w.FinishRun(ctx0, ids[k], store.Finish{Status: store.StatusCompleted})
			if _, err := closeWriter(t, w, 10*time.Second); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		checkSnapshots(t, st, id, 50)
	}
}

// slowCreate delays CreateRun, like a database at the far end of a slow link.
type slowCreate struct {
	store.Store
	delay time.Duration
}

func (s slowCreate) CreateRun(ctx context.Context, r *store.Run) error {
	time.Sleep(s.delay)
	return s.Store.CreateRun(ctx, r)
}

// TestSettleStart: after CreateRun through a Writer, SettleStart returns once the run is in the store, so a process
// killed right after a run starts still leaves the run for the next start to mark interrupted.
func TestSettleStart(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "runs.db"))
	w := store.NewWriter(slowCreate{st, 300 * time.Millisecond}, fastOpts(filepath.Join(dir, "spool"))...)
	defer closeWriter(t, w, 5*time.Second)
	id := createRun(w, store.Run{ID: "settle", Name: "n", Plan: "p", Type: store.TypeLoad, Status: store.StatusRunning,
		CreatedAt: time.Now(), StartedAt: time.Now()})
	if _, err := st.GetRun(context.Background(), id); err == nil {
		t.Fatalf("run %s in the store before SettleStart: the slow store should still be writing", id)
	}
	store.SettleStart(context.Background(), w)
	if _, err := st.GetRun(context.Background(), id); err != nil {
		t.Errorf("GetRun after SettleStart = %v; want the run stored", err)
	}
	store.SettleStart(context.Background(), st) // a synchronous store: nothing to wait for, returns at once
}

// panicky panics on the snapshots of one run, as a buggy driver might.
type panicky struct{ store.Store }

func (p panicky) AddSnapshots(ctx context.Context, id string, s []store.Snapshot) error {
	if id == "boom" {
		panic("driver exploded")
	}
	return p.Store.AddSnapshots(ctx, id, s)
}

// TestWriterSurvivesStorePanic: a store call that panics refuses that record
// (kept with the panic's message) instead of killing the writer's goroutine,
// and with it the process; the records after it are written.
func TestWriterSurvivesStorePanic(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "db.sqlite"))
	w := store.NewWriter(panicky{st}, fastOpts(filepath.Join(dir, "spool"))...)
	id := createRun(w, store.Run{Type: store.TypeLoad, Status: store.StatusRunning})
	w.AddSnapshots(ctx0, "boom", []store.Snapshot{snap(0)})
	w.AddSnapshots(ctx0, id, []store.Snapshot{snap(0)})
	stats, err := closeWriter(t, w, 10*time.Second)
	if err == nil || stats.Rejected != 1 || stats.Written != 2 || !strings.Contains(stats.LastError, "panic in store snapshots: driver exploded") {
		t.Fatalf("stats = %+v, %v; want the panicking record refused, the others written", stats, err)
	}
	checkSnapshots(t, st, id, 1)
	if b, _ := os.ReadFile(stats.RejectFile); !strings.Contains(string(b), "driver exploded") {
		t.Errorf("reject file = %q; want the record with the panic's message", b)
	}
}
