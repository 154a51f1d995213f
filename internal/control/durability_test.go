package control

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	_ "github.com/loadlab/loadlab/internal/store/mysqlstore" // mysql:// for the unreachable store
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/testenv"
)

// stressPlanYAML is a short stress search: probes of 300 ms from 20/s, capped at maxRate (the in-process
// target takes far more, so the search completes at the cap) or at maxProbes.
func stressPlanYAML(targetURL string, maxRate float64, maxProbes int, probe time.Duration) string {
	return fmt.Sprintf(`name: e2e-stress
type: stress
target: %s
scenarios:
  - name: api
    steps:
      - name: health
        request: {path: /api/health}
stress:
  start_rate: 20
  max_rate: %g
  error_threshold: 5%%
  probe_duration: %s
  cooldown: 50ms
  max_probes: %d
`, targetURL, maxRate, probe, maxProbes)
}

// servedWithWriter is a control server wired as serve wires it: the engines write through a store.Writer over
// st (spooling to a temp dir), reads go to st.
type servedWithWriter struct {
	*harness
	w     *store.Writer
	spool string
}

func newServedWithWriter(t *testing.T, st store.Store) *servedWithWriter {
	t.Helper()
	spool := t.TempDir()
	w := store.NewWriter(st, store.WithSpoolDir(spool), store.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
		store.WithReplayOnStart(false))
	er := &EngineRunner{Store: st, Sink: w, StoreURL: "test-store"}
	srv, err := New(Config{}, er, st)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, srv, 10*time.Second, func(ctx context.Context) {
		_, _ = w.Close(ctx) // no-op when the test closed it
	})
	return &servedWithWriter{harness: &harness{t: t, srv: srv, url: url}, w: w, spool: spool}
}

func (s *servedWithWriter) start(body string) string {
	s.t.Helper()
	a := s.do("POST", "/api/tests/start", body, "Content-Type", "application/yaml")
	s.want(a, http.StatusAccepted, "")
	return a.body["run_id"].(string)
}

// waitStatus waits up to d for run id to reach a terminal status and returns its view.
func (s *servedWithWriter) waitTerminal(id string, d time.Duration) answer {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		a := s.do("GET", "/api/tests/runs/"+id, "")
		if st := store.Status(fmt.Sprint(a.body["status"])); st.Terminal() {
			return a
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %s not ended within %s: %s", id, d, a.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeStoreUnreachableSpools: the store's database is unreachable for the whole life of the server (MySQL
// on a closed port, opened lazily as serve does when the database is down at start). A load run and a stress
// run started over the API still run to completion on time, the load summary says the records were spooled, and
// nothing is lost: replaying the spool into a real store gives both runs with their results.
func TestServeStoreUnreachableSpools(t *testing.T) {
	tgt := startTarget(t)
	closed := testenv.FreeAddr(t)
	st := store.OpenLazy("mysql://root@tcp(" + closed + ")/test")
	defer st.Close()
	s := newServedWithWriter(t, st)

	const runFor = 3 * time.Second // long enough for a snapshot (every 2 s)
	t0 := time.Now()
	loadID := s.start(openPlan(tgt.URL, 40, runFor))
	a := s.waitTerminal(loadID, 20*time.Second)
	took := time.Since(t0)
	if a.body["status"] != "completed" {
		t.Fatalf("load run with the store down: %s; want completed", a.raw)
	}
	// The run is never held up by the store: only the bounded flush before the summary waits on it.
	if limit := runFor + SpoolFlushTimeout + 3*time.Second; took > limit {
		t.Errorf("load run took %v with the store down; want at most %v", took, limit)
	}
	sum, _ := a.body["summary"].(map[string]any)
	si, _ := sum["store"].(map[string]any)
	msg, _ := si["message"].(string)
	if si["spooled"] != true || !strings.Contains(msg, s.w.Stats().SpoolFile) {
		t.Errorf("summary store = %v; want spooled, the message naming the spool file %s", si, s.w.Stats().SpoolFile)
	}
	loadRequests, _ := sum["requests"].(float64)

	stressID := s.start(stressPlanYAML(tgt.URL, 40, 3, 300*time.Millisecond))
	b := s.waitTerminal(stressID, 20*time.Second)
	if b.body["status"] != "completed" {
		t.Fatalf("stress run with the store down: %s; want completed", b.raw)
	}

	cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
	defer ccancel()
	stats, err := s.w.Close(cctx) // the store stays down: Close gives up at the deadline, the spool keeps the rest
	if err == nil || stats.Pending == 0 || stats.Dropped != 0 {
		t.Fatalf("Writer.Close with the store down: %+v, err %v; want records pending in the spool, none dropped", stats, err)
	}
	if fi, err := os.Stat(stats.SpoolFile); err != nil || fi.Size() == 0 {
		t.Fatalf("spool file %s: %v; want it kept with the records", stats.SpoolFile, err)
	}

	// The database "comes back": replay the spool into a real store.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	real, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	res, err := store.ReplaySpool(ctx, real, s.spool)
	if err != nil || res.Records != int(stats.Pending) || res.Rejected != 0 {
		t.Fatalf("ReplaySpool = %+v, %v; want all %d records written, none rejected", res, err, stats.Pending)
	}
	lr, err := real.GetRun(ctx, loadID)
	if err != nil || lr.Status != store.StatusCompleted || float64(lr.Totals.Requests) != loadRequests || loadRequests == 0 {
		t.Fatalf("replayed load run = %+v, %v; want completed with %v requests", lr, err, loadRequests)
	}
	if steps, err := real.StepResults(ctx, loadID); err != nil || len(steps) != 1 {
		t.Errorf("replayed step results: %d, %v; want 1", len(steps), err)
	}
	if snaps, err := real.Snapshots(ctx, loadID); err != nil || len(snaps) == 0 {
		t.Errorf("replayed snapshots: %d, %v; want some", len(snaps), err)
	}
	sr, err := real.GetRun(ctx, stressID)
	if err != nil || sr.Status != store.StatusCompleted || sr.Type != store.TypeStress {
		t.Fatalf("replayed stress run = %+v, %v; want a completed stress run", sr, err)
	}
	if res, err := real.StressResult(ctx, stressID); err != nil || len(res.Probes) == 0 {
		t.Errorf("replayed stress result: %+v, %v; want its probes", res, err)
	}
}

// TestModeRunCancelStatuses: a mode run (stress) cancelled over the API is recorded as aborted; one stopped by
// the server shutting down is recorded as interrupted.
func TestModeRunCancelStatuses(t *testing.T) {
	tgt := startTarget(t)
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	long := stressPlanYAML(tgt.URL, 1e6, 50, time.Second) // far longer than the test

	waitRunning := func(s *servedWithWriter, id string) {
		t.Helper()
		waitFor(t, func() bool {
			a := s.do("GET", "/api/tests/runs/"+id, "")
			return a.body["status"] == "running" && liveRequests(a) > 0
		})
	}

	// cancelled over the API
	s := newServedWithWriter(t, st)
	id := s.start(long)
	waitRunning(s, id)
	s.want(s.do("POST", "/api/tests/runs/"+id+"/cancel", ""), http.StatusOK, "")
	a := s.waitTerminal(id, 10*time.Second)
	if a.body["status"] != "aborted" || !strings.Contains(fmt.Sprint(a.body["error"]), "cancelled over the control API") {
		t.Errorf("stress run cancelled over the API: status %v error %v; want aborted, naming the API", a.body["status"], a.body["error"])
	}

	// stopped by a shutdown
	s2 := newServedWithWriter(t, st)
	id2 := s2.start(long)
	waitRunning(s2, id2)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s2.srv.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	b := s2.do("GET", "/api/tests/runs/"+id2, "")
	if b.body["status"] != "interrupted" || !strings.HasPrefix(fmt.Sprint(b.body["error"]), "interrupted") {
		t.Errorf("stress run stopped by a shutdown: status %v error %v; want interrupted", b.body["status"], b.body["error"])
	}

	for _, x := range []*servedWithWriter{s, s2} {
		if stats, err := x.w.Close(sctx); err != nil {
			t.Fatalf("Writer.Close: %v (%+v)", err, stats)
		}
	}
	for _, tc := range []struct {
		id   string
		want store.Status
	}{{id, store.StatusAborted}, {id2, store.StatusInterrupted}} {
		r, err := st.GetRun(ctx, tc.id)
		if err != nil || r.Status != tc.want {
			t.Errorf("stored run %s: %+v, %v; want status %s", tc.id, r, err, tc.want)
		}
		if sr, err := st.StressResult(ctx, tc.id); err != nil || sr.State != "CANCELED" {
			t.Errorf("stored stress result of %s: %+v, %v; want state CANCELED", tc.id, sr, err)
		}
	}
}
