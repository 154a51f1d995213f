package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

func TestParseSegment(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		in, env string
		i, n    int
		err     string
	}{
		{"0/3", "", 0, 3, ""},
		{"2/3", "", 2, 3, ""},
		{"auto/4", "3", 3, 4, ""},
		{"0/1", "", 0, 1, ""},
		{"3/3", "", 0, 0, `index "3" must be a whole number from 0 to 2`},
		{"-1/3", "", 0, 0, "must be a whole number from 0 to 2"},
		{"auto/3", "", 0, 0, "JOB_COMPLETION_INDEX is not set"},
		{"auto/3", "7", 0, 0, `index "7"`},
		{"1/0", "", 0, 0, "N must be a whole number from 1 to 1000"},
		{"1", "", 0, 0, "want I/N or auto/N"},
		{"x/2", "", 0, 0, `index "x"`},
	} {
		i, n, err := ParseSegment(tc.in, env(tc.env))
		switch {
		case tc.err == "" && (err != nil || i != tc.i || n != tc.n):
			t.Errorf("ParseSegment(%q) = %d, %d, %v; want %d, %d", tc.in, i, n, err, tc.i, tc.n)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSegment(%q) error %v; want %q", tc.in, err, tc.err)
		}
	}
}

// runSegments runs p as the n workers of the distributed run id, in-process, sharing st, starting together shortly,
// and returns the workers' summaries and the merged run as stored.
func runSegments(t *testing.T, p *plan.Plan, st store.Store, id string, n int, limit time.Duration) ([]*report.Summary, *store.Run) {
	t.Helper()
	ctx := timeCtx(t, limit)
	start := time.Now().Add(300 * time.Millisecond)
	out := make([]*report.Summary, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &Run{Plan: p, Store: st, Log: testLogger(t), Segment: &Segment{RunID: id, Index: i, Of: n, StartAt: start}}
			rep, err := Execute(ctx, r)
			s, ok := rep.(*report.Summary)
			if !ok {
				t.Errorf("segment %d: Execute = %v, %v; want a load summary", i, rep, err)
			}
			out[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	run, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", id, err)
	}
	return out, run
}

// TestSegmentRunWideRPSThreshold: a run-wide rolling rps threshold with abort_on_fail is the whole run's, not each
// worker's: 100 it/s over 2 workers holds "rps > 70" (each worker's share is 50 it/s, which must not abort it), and
// the merged run judges it on the merged figures.
func TestSegmentRunWideRPSThreshold(t *testing.T) {
	p := openPlan(t, okServer(t).URL, 100, 3*time.Second, 100)
	th, err := plan.ParseThreshold("rps > 70")
	if err != nil {
		t.Fatal(err)
	}
	th.Window, th.AbortOnFail = plan.D(2*time.Second), true
	p.Thresholds = []plan.Threshold{th}
	st, _ := openStore(t)
	ws, merged := runSegments(t, p, st, "rpsdist", 2, 30*time.Second)
	for i, s := range ws {
		if s.Status != store.StatusCompleted {
			t.Errorf("worker %d: status %q (%s); want completed", i, s.Status, s.Error)
		}
	}
	if merged.Status != store.StatusCompleted {
		t.Fatalf("merged run: status %q (%s); want completed", merged.Status, merged.Error)
	}
	if merged.Verdict != store.VerdictPassed { // runs list --verdict passed lists it
		t.Errorf("merged run: verdict %q; want %q", merged.Verdict, store.VerdictPassed)
	}
	var s report.Summary
	if err := json.Unmarshal(merged.SummaryJSON, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Thresholds) != 1 || !s.Thresholds[0].OK || s.Thresholds[0].Value < 70 {
		t.Errorf("merged thresholds %+v; want rps > 70 held on the merged figures", s.Thresholds)
	}
}

// TestMergedWindow: every run-wide abort_on_fail rps/error_rate threshold is judged on its own window of the
// workers' stored snapshots, whatever the other thresholds' windows: a longer window than an earlier threshold's is
// judged on a whole window of its own, and one without a whole window yet leaves the others judged.
func TestMergedWindow(t *testing.T) {
	ctx := timeCtx(t, 10*time.Second)
	st, _ := openStore(t)
	now := time.Now()
	var segs []store.Segment
	for i := range 2 { // 2 workers at 30 req/s for the last 20 s, 1 error a second each: 60 req/s, 1/30 errors merged
		id := WorkerRunID("mw", i, 2)
		if err := st.CreateRun(ctx, &store.Run{ID: id, Name: "mw", Plan: "mw", Type: store.TypeLoad, Status: store.StatusRunning,
			StartedAt: now.Add(-21 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		var ss []store.Snapshot
		for k := range 21 {
			ss = append(ss, store.Snapshot{TS: now.Add(time.Duration(k-20) * time.Second), Requests: int64(30 * k), Errors: int64(k)})
		}
		if err := st.AddSnapshots(ctx, id, ss); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, store.Segment{RunID: "mw", Index: i, Of: 2, WorkerRun: id, Status: store.StatusRunning})
	}
	th := func(expr string, w time.Duration) plan.Threshold {
		x, err := plan.ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		x.Window, x.AbortOnFail = plan.D(w), true
		return x
	}
	for _, tc := range []struct {
		name string
		ths  []plan.Threshold
		want int
		msg  string
	}{
		{"all hold", []plan.Threshold{th("rps > 50", 2*time.Second), th("error_rate < 0.05", 15*time.Second)}, -1, ""},
		{"first fails", []plan.Threshold{th("rps < 50", 2*time.Second)}, 0, "60.0 req/s over the last 2s"},
		{"longer window after a shorter one", []plan.Threshold{th("rps > 50", 2*time.Second), th("rps < 50", 15*time.Second)}, 1, "over the last 15s"},
		{"no whole window yet, then one that fails", []plan.Threshold{th("rps > 50", time.Minute), th("error_rate < 0.01", 3*time.Second)}, 1, "error_rate < 0.01"},
		{"latency and per-step ones left alone", []plan.Threshold{th("p99 < 1ms", 2*time.Second)}, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, msg := mergedWindow(ctx, st, 2, segs, tc.ths)
			if i != tc.want || !strings.Contains(msg, tc.msg) {
				t.Errorf("mergedWindow = %d, %q; want %d, containing %q", i, msg, tc.want, tc.msg)
			}
		})
	}
}

// TestSegmentStoppedBeforeStart: a worker stopped while it waits for the distributed run's start records its
// segment as failed, with why, so that gather does not wait for it until its timeout.
func TestSegmentStoppedBeforeStart(t *testing.T) {
	st, _ := openStore(t)
	p := openPlan(t, okServer(t).URL, 10, time.Second, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r := &Run{Plan: p, Store: st, Log: testLogger(t), Segment: &Segment{RunID: "early", Index: 1, Of: 2, StartAt: time.Now().Add(time.Minute)}}
	if _, err := Execute(ctx, r); err == nil {
		t.Fatal("Execute: no error; want the wait for the start cancelled")
	}
	segs, err := st.Segments(timeCtx(t, 5*time.Second), "early")
	if err != nil || len(segs) != 1 {
		t.Fatalf("Segments = %v, %v; want the one", segs, err)
	}
	if x := segs[0]; x.Status != store.StatusFailed || !strings.Contains(x.Error, "waiting for the start") {
		t.Errorf("segment: status %q error %q; want failed, waiting for the start", x.Status, x.Error)
	}
}

// TestReadSegmentsDeadOwner: a running segment whose worker has no run of its own is interrupted when its owner
// was a process of this host that is gone, and left running when that process lives or is on another host.
func TestReadSegmentsDeadOwner(t *testing.T) {
	ctx := timeCtx(t, 10*time.Second)
	st, _ := openStore(t)
	if err := st.CreateRun(ctx, &store.Run{ID: "dead", Name: "d", Plan: "d", Type: store.TypeLoad, Status: store.StatusRunning,
		StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no process to outlive: %v", err)
	}
	host, _ := os.Hostname()
	owners := []string{fmt.Sprintf("%s:%d", host, cmd.Process.Pid), store.Owner(), "elsewhere.invalid:1"}
	for i, o := range owners {
		if err := st.PutSegment(ctx, store.Segment{RunID: "dead", Index: i, Of: 3, WorkerRun: WorkerRunID("dead", i, 3),
			Owner: o, Status: store.StatusRunning}); err != nil {
			t.Fatal(err)
		}
	}
	segs, err := readSegments(ctx, st, "dead")
	if err != nil || len(segs) != 3 {
		t.Fatalf("readSegments = %v, %v", segs, err)
	}
	for i, want := range []store.Status{store.StatusInterrupted, store.StatusRunning, store.StatusRunning} {
		if segs[i].Status != want {
			t.Errorf("segment %d (owner %s): status %q (%s); want %q", i, owners[i], segs[i].Status, segs[i].Error, want)
		}
	}
}

// TestSegmentShare: a segment that would have nothing to run is refused before the run (ErrPlan: exit 2), naming
// the plan's peak VUs or iterations and the most segments it can have; every other share runs.
func TestSegmentShare(t *testing.T) {
	for _, tc := range []struct {
		name, load string
		i, n       int
		err        string
	}{
		{"closed, peak 1 of 2", "  model: closed\n  phases:\n    - {name: a, duration: 1s, vus: 1}\n", 1, 2,
			"--segment 1/2: the plan's peak of 1 VU gives segment 1 nothing; use at most 1 segments"},
		{"closed, peak 1, segment 0", "  model: closed\n  phases:\n    - {name: a, duration: 1s, vus: 1}\n", 0, 2, ""},
		{"closed, ramp to 3", "  model: closed\n  phases:\n    - {name: a, duration: 1s, vus: 1, to: 3}\n", 2, 3, ""},
		{"closed, ramp to 3 of 4", "  model: closed\n  phases:\n    - {name: a, duration: 1s, vus: 1, to: 3}\n", 3, 4,
			"peak of 3 VUs gives segment 3 nothing; use at most 3 segments"},
		{"open, 3 iterations of 4", "  model: open\n  phases:\n    - {name: a, duration: 1s, rate: 3}\n", 3, 4,
			"--segment 3/4: the plan's 3 iterations give segment 3 nothing; use at most 3 segments"},
		{"open, 3 iterations, last share", "  model: open\n  phases:\n    - {name: a, duration: 1s, rate: 3}\n", 2, 4, ""},
		{"open, 1 iteration", "  model: open\n  phases:\n    - {name: a, duration: 1s, rate: 1}\n", 1, 2,
			"the plan's 1 iteration gives segment 1 nothing; use at most 1 segments"},
		{"open, plenty", "  model: open\n  phases:\n    - {name: a, duration: 2s, rate: 100}\n", 7, 8, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := oneStepPlan(t, "share", "http://127.0.0.1:1", tc.load)
			err := segmentShare(p, tc.i, tc.n)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("segmentShare(%d/%d) = %v; want nil", tc.i, tc.n, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrPlan)):
				t.Errorf("segmentShare(%d/%d) = %v; want ErrPlan with %q", tc.i, tc.n, err, tc.err)
			}
		})
	}
}

// TestSegmentEmptyShareRefused: Execute refuses the worker with nothing to run before it starts (it ended "no
// request completed", making the run partial).
func TestSegmentEmptyShareRefused(t *testing.T) {
	p := closedPlan(t, okServer(t).URL, 1, time.Second)
	_, err := Execute(timeCtx(t, 10*time.Second), &Run{Plan: p, Log: testLogger(t), Segment: &Segment{RunID: "empty", Index: 1, Of: 2}})
	if !errors.Is(err, ErrPlan) || !strings.Contains(err.Error(), "peak of 1 VU gives segment 1 nothing") {
		t.Errorf("Execute = %v; want ErrPlan naming the peak of 1 VU", err)
	}
}

// TestDistributedRunOwner: the distributed run is stored with an owner of no process, so that once the worker that
// created it exits (its pid dead), MarkInterrupted does not take it as abandoned while heartbeats are fresh.
func TestDistributedRunOwner(t *testing.T) {
	ctx := timeCtx(t, 10*time.Second)
	st, _ := openStore(t)
	p := closedPlan(t, okServer(t).URL, 2, time.Second)
	r := &Run{Plan: p, Store: st, Log: testLogger(t), Type: plan.TypeLoad, Segment: &Segment{RunID: "own", Index: 0, Of: 2, StartAt: time.Now()}}
	if err := r.joinSegment(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := st.GetRun(ctx, "own")
	if err != nil {
		t.Fatal(err)
	}
	if run.Owner == store.Owner() || run.Owner == "" {
		t.Errorf("distributed run owner %q; want one of no process", run.Owner)
	}
	host, _ := os.Hostname()
	dead := *run
	dead.Owner = strings.ReplaceAll(run.Owner, store.Owner(), host+":999999999") // the creator gone, if it owned it
	if store.Abandoned(dead, time.Now(), store.DefaultStaleAfter) {
		t.Errorf("distributed run (owner %q) abandoned with a fresh heartbeat", dead.Owner)
	}
	dead.HeartbeatAt, dead.StartedAt, dead.CreatedAt = time.Now().Add(-time.Hour), time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)
	if !store.Abandoned(dead, time.Now(), store.DefaultStaleAfter) {
		t.Errorf("distributed run (owner %q) not abandoned after an hour without heartbeats", dead.Owner)
	}
}
