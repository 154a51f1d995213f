package mysqlstore_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/mysqlstore"
	"github.com/loadlab/loadlab/internal/store/storetest"
)

// proxy is a TCP proxy to MySQL that the test can cut (every connection is
// closed, new ones are closed at once) and restore.
type proxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	cut      bool
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.upstream, 3*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

func writerOpts(dir string) []store.WriterOption {
	return []store.WriterOption{store.WithSpoolDir(dir), store.WithBackoff(100*time.Millisecond, time.Second),
		store.WithOpTimeout(3 * time.Second), store.WithHeartbeat(500 * time.Millisecond)}
}

func snapAt(i int) store.Snapshot {
	return store.Snapshot{TS: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 100 * time.Millisecond),
		Phase: "steady", RPS: 200 + float64(i), P99Ms: float64(i) / 10, Requests: int64(20 * i), VUs: 10}
}

func verify(t *testing.T, st store.Store, runID string, n int, wantStatus store.Status) {
	t.Helper()
	ctx := context.Background()
	got, err := st.Snapshots(ctx, runID)
	if err != nil {
		t.Fatalf("Snapshots: %v", err)
	}
	if len(got) != n {
		t.Errorf("MySQL has %d snapshots of the run; want %d (none lost, none duplicated)", len(got), n)
	}
	for i := range min(len(got), n) {
		if got[i] != snapAt(i) {
			t.Errorf("snapshot %d = %+v; want %+v", i, got[i], snapAt(i))
			break
		}
	}
	r, err := st.GetRun(ctx, runID)
	if err != nil || r.Status != wantStatus || r.Totals.Requests != int64(20*n) {
		t.Errorf("run = %+v, %v; want %s with %d requests", r, err, wantStatus, 20*n)
	}
	steps, err := st.StepResults(ctx, runID)
	if err != nil || len(steps) != 1 {
		t.Errorf("steps = %+v, %v; want 1 step", steps, err)
	}
}

// TestOutageMidRun cuts the connection between the writer and MariaDB for
// several seconds while a run feeds a snapshot every 100 ms; afterwards every
// snapshot and the final result must be in MySQL exactly once.
func TestOutageMidRun(t *testing.T) {
	cfg := newDatabase(t)
	p := newProxy(t, cfg.Addr)
	via := cfg.Clone()
	via.Addr = p.addr()
	ctx := context.Background()
	st, err := mysqlstore.Open(ctx, via.FormatDSN())
	if err != nil {
		t.Fatalf("open via proxy: %v", err)
	}
	defer st.Close()
	w := store.NewWriter(st, writerOpts(filepath.Join(t.TempDir(), "spool"))...)
	run := &store.Run{Type: store.TypeLoad, Status: store.StatusRunning, Plan: "outage", StartedAt: time.Now()}
	if err := w.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	id := run.ID
	const n = 80 // 8 s of snapshots
	var sawDown bool
	for i := 0; i < n; i++ {
		switch i {
		case 20:
			p.setCut(true)
			t.Logf("proxy cut at snapshot %d", i)
		case 60:
			if s := w.Stats(); s.Down && s.Spooled > 0 {
				sawDown = true
			}
			p.setCut(false)
			t.Logf("proxy restored at snapshot %d: %+v", i, w.Stats())
		}
		w.AddSnapshots(ctx, id, []store.Snapshot{snapAt(i)})
		time.Sleep(100 * time.Millisecond)
	}
	step, _ := store.NewStepResult("journey", "login", n*20, 0, storetest.Histogram(3, 500, 2*time.Millisecond), 8*time.Second)
	w.AddStepResults(ctx, id, []store.StepResult{step})
	w.FinishRun(ctx, id, store.Finish{Status: store.StatusCompleted, Totals: store.Totals{Requests: n * 20}, SummaryText: "ok\n"})
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stats, err := w.Close(cctx)
	t.Logf("writer stats: %+v", stats)
	t.Logf("summary: %s", stats.Summary())
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !sawDown || stats.Outages < 1 || stats.Spooled == 0 || stats.Pending != 0 || stats.Replayed != stats.Spooled {
		t.Errorf("stats = %+v (down during cut: %v); want an outage, records spooled and all replayed", stats, sawDown)
	}
	direct, err := mysqlstore.Open(ctx, cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	verify(t, direct, id, n, store.StatusCompleted)
}

// TestStoreDownAtStart: MariaDB unreachable for the whole run; the records
// are spooled to a file and written at the next start.
func TestStoreDownAtStart(t *testing.T) {
	cfg := newDatabase(t)
	p := newProxy(t, cfg.Addr)
	p.setCut(true)
	via := cfg.Clone()
	via.Addr = p.addr()
	ctx := context.Background()
	if _, err := store.Open(ctx, "mysql://"+via.FormatDSN()); err == nil {
		t.Fatal("store.Open through a cut proxy succeeded")
	}
	spool := filepath.Join(t.TempDir(), "spool")
	lazy := store.OpenLazy("mysql://" + via.FormatDSN())
	defer lazy.Close()
	w := store.NewWriter(lazy, writerOpts(spool)...)
	run := &store.Run{Type: store.TypeLoad, Status: store.StatusRunning, StartedAt: time.Now()}
	if err := w.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	id := run.ID
	const n = 20
	for i := 0; i < n; i++ {
		w.AddSnapshots(ctx, id, []store.Snapshot{snapAt(i)})
		time.Sleep(20 * time.Millisecond)
	}
	step, _ := store.NewStepResult("journey", "login", n*20, 0, storetest.Histogram(4, 100, time.Millisecond), time.Second)
	w.AddStepResults(ctx, id, []store.StepResult{step})
	w.FinishRun(ctx, id, store.Finish{Status: store.StatusCompleted, Totals: store.Totals{Requests: n * 20}})
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	stats, err := w.Close(cctx)
	if err == nil || stats.Pending != n+3 || stats.Written != 0 {
		t.Fatalf("Close with MySQL down = %+v, %v; want %d records pending in the spool", stats, err, n+3)
	}
	t.Logf("summary: %s", stats.Summary())

	// Next start: MySQL is reachable; the spool is replayed.
	p.setCut(false)
	st, err := store.Open(ctx, "mysql://"+via.FormatDSN())
	if err != nil {
		t.Fatalf("open after restore: %v", err)
	}
	defer st.Close()
	res, err := store.ReplaySpool(ctx, st, spool)
	if err != nil || res.Records != n+3 || res.Files != 1 {
		t.Fatalf("ReplaySpool = %+v, %v; want %d records from 1 file", res, err, n+3)
	}
	verify(t, st, id, n, store.StatusCompleted)
}
