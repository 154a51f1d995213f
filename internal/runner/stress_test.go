package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/stress"
	"github.com/loadlab/loadlab/internal/target"
	"github.com/loadlab/loadlab/internal/testenv"
)

const stressPlan = `
name: stress-accuracy
type: stress
defaults: {timeout: 2s}
scenarios:
  - name: read
    steps:
      - name: user
        request: {path: /api/users/1}
stress:
  start_rate: 50
  max_rate: 3200
  error_threshold: 5%
  probe_duration: 2s
  cooldown: 250ms
  resolution: 5%
  max_probes: 12
`

// TestAccuracyStress runs the search against the target's capacity model: 8 workers x 20 ms fixed service time =
// 400 req/s, a queue of 4. Above capacity the queue stays full and the excess gets 503 at once, so a probe at
// rate r > C fails (r-C)/r of its requests, and the error rate crosses the 5% threshold at R* = C/0.95 (421 req/s
// for C = 400). C is measured independently of the search's verdicts: the goodput r x (1 - error rate) of the
// most overloaded probe is the target's real capacity (slightly under 400 because each service time oversleeps
// by the timer's granularity). The answer must be within 5% of R*, found in at most 10 probes.
func TestAccuracyStress(t *testing.T) {
	testenv.SkipIfRace(t)
	_, url := startTarget(t, target.FixedServiceConfig(8, 4, 20*time.Millisecond))
	p := parsePlan(t, stressPlan, url)
	st, _ := openStore(t)
	out := &testenv.SyncBuffer{}
	start := time.Now()
	// The target runs in this process on the same (shared) cores, so its overload also delays the generator's
	// schedule: the test relaxes the schedule-lag part of the generator rule (tested in internal/stress) so
	// that the search is judged on the target's errors, as it would be with the target on its own host.
	relax := func(c *stress.Config) { c.MaxLag99 = 100 * time.Millisecond }
	rep, err := execute[*StressReport](timeCtx(t, 90*time.Second), &Run{Plan: p, Out: out, Store: st,
		Log: testLogger(t), StressConfig: relax})
	t.Logf("output (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("Stress: %v", err)
	}
	res := rep.Result
	if res.State != stress.Completed || res.LimitedBy == stress.LimitMaxRate {
		t.Fatalf("state %s limited by %q (%s); want COMPLETED with a breakdown", res.State, res.LimitedBy,
			res.Message)
	}
	// The capacity, measured: the goodput of the probe with the highest rate.
	var top stress.Probe
	for _, pr := range res.Probes {
		if pr.Rate > top.Rate {
			top = pr
		}
	}
	capacity := top.Rate * (1 - top.ErrorRate)
	crossing := capacity / (1 - 0.05)
	t.Logf("measured capacity %.1f req/s (probe at %.0f: %.1f%% errors): crossing %.1f req/s; found %.1f, "+
		"breakdown %.1f, %d probes", capacity, top.Rate, 100*top.ErrorRate, crossing, res.MaxSustainable,
		res.Breakdown, len(res.Probes))
	if math.Abs(capacity-400)/400 > 0.10 {
		t.Errorf("measured capacity %.1f req/s; want 400 ± 10%% (8 workers x 20 ms; a busy box oversleeps the service time)", capacity)
	}
	if rel := math.Abs(res.MaxSustainable-crossing) / crossing; rel > 0.05 {
		t.Errorf("max sustainable %.1f req/s is %.1f%% from the crossing %.1f; want within 5%%", res.MaxSustainable,
			100*rel, crossing)
	}
	if len(res.Probes) > 10 {
		t.Errorf("%d probes; want at most 10", len(res.Probes))
	}
	// Every probe under capacity passed, every probe well over the crossing failed on errors (the model holds).
	for _, pr := range res.Probes {
		switch {
		case pr.Rate <= 0.97*capacity && !pr.Pass:
			t.Errorf("probe at %.1f (under capacity %.1f) failed: %s", pr.Rate, capacity, pr.Reason)
		case pr.Rate >= 1.03*crossing && (pr.Pass || pr.ErrorRate <= 0.05):
			t.Errorf("probe at %.1f (over the crossing %.1f) pass=%v with %.1f%% errors; want a failure over 5%%",
				pr.Rate, crossing, pr.Pass, 100*pr.ErrorRate)
		}
	}
	if !strings.Contains(out.String(), "Max sustainable RPS = ") || !strings.Contains(out.String(), "Breakdown at ") {
		t.Errorf("output lacks the answer line:\n%s", out)
	}

	// Stored: the run (type stress, completed) and the search with every probe.
	ctx := context.Background()
	run, err := st.GetRun(ctx, rep.RunID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if run.Type != store.TypeStress || run.Status != store.StatusCompleted || !json.Valid(run.SummaryJSON) {
		t.Errorf("stored run type %s status %s; want stress completed with a JSON summary", run.Type, run.Status)
	}
	sr, err := st.StressResult(ctx, rep.RunID)
	if err != nil {
		t.Fatalf("StressResult: %v", err)
	}
	if sr.State != "COMPLETED" || sr.MaxSustainableRPS != res.MaxSustainable || len(sr.Probes) != len(res.Probes) {
		t.Errorf("stored %s max %.1f with %d probes; want COMPLETED %.1f with %d", sr.State, sr.MaxSustainableRPS,
			len(sr.Probes), res.MaxSustainable, len(res.Probes))
	}
}

// TestStressUnreachable: a target nobody listens on ends the search in ERROR, with a message, never a ceiling.
func TestStressUnreachable(t *testing.T) {
	p := parsePlan(t, strings.Replace(stressPlan, "probe_duration: 2s", "probe_duration: 300ms", 1), deadURL(t))
	st, _ := openStore(t)
	out := &testenv.SyncBuffer{}
	rep, err := execute[*StressReport](timeCtx(t, 30*time.Second), &Run{Plan: p, Out: out, Store: st, Log: testLogger(t)})
	t.Logf("output:\n%s", out)
	if err == nil {
		t.Fatal("Stress against a dead port: nil error; want ERROR")
	}
	if rep.Result.State != stress.Errored || rep.Result.MaxSustainable != 0 ||
		!strings.Contains(rep.Result.Message, "target unreachable") {
		t.Errorf("state %s max %.1f message %q; want ERROR, 0, target unreachable", rep.Result.State,
			rep.Result.MaxSustainable, rep.Result.Message)
	}
	if len(rep.Result.Probes) != 1 {
		t.Errorf("%d probes; want 1 (the search stops at the first unreachable probe)", len(rep.Result.Probes))
	}
	if !strings.Contains(out.String(), "ERROR: target unreachable") {
		t.Errorf("output lacks the ERROR line:\n%s", out)
	}
	run, err := st.GetRun(context.Background(), rep.RunID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if run.Status != store.StatusFailed || !strings.Contains(run.Error, "target unreachable") {
		t.Errorf("stored status %s error %q; want failed, target unreachable", run.Status, run.Error)
	}
}

// TestStressCanceled: a cancelled search is CANCELED; it is stored as aborted when the ctx's cause wraps
// ErrAborted (a cancel over the control API) and as interrupted otherwise (Ctrl-C, a server shutting down, a
// deadline).
func TestStressCanceled(t *testing.T) {
	_, url := startTarget(t, target.FixedServiceConfig(8, 4, time.Millisecond))
	shutdown := errors.New("server shutting down")
	for _, tc := range []struct {
		name       string
		cause      error // nil: the ctx's deadline passes
		wantStatus store.Status
		wantPrefix string
	}{
		{"deadline", nil, store.StatusInterrupted, "interrupted after"},
		{"shutdown", shutdown, store.StatusInterrupted, "interrupted after"},
		{"aborted", fmt.Errorf("cancelled over the test API: %w", ErrAborted), store.StatusAborted,
			"cancelled over the test API: run aborted after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parsePlan(t, stressPlan, url)
			ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
			defer cancel()
			if tc.cause != nil {
				cctx, ccancel := context.WithCancelCause(context.Background())
				defer ccancel(nil)
				time.AfterFunc(800*time.Millisecond, func() { ccancel(tc.cause) })
				ctx = cctx
			}
			st, _ := openStore(t)
			rep, err := execute[*StressReport](ctx, &Run{Plan: p, Store: st, Log: testLogger(t)})
			if err == nil || rep.Result.State != stress.Canceled {
				t.Fatalf("Stress with a cancelled ctx: state %s err %v; want CANCELED and an error", rep.Result.State, err)
			}
			if rep.Status != tc.wantStatus || !strings.HasPrefix(rep.Error, tc.wantPrefix) {
				t.Errorf("report status %s error %q; want %s, error starting %q", rep.Status, rep.Error, tc.wantStatus, tc.wantPrefix)
			}
			run, err := st.GetRun(context.Background(), rep.RunID)
			if err != nil {
				t.Fatalf("GetRun: %v", err)
			}
			if run.Status != tc.wantStatus || run.Error != rep.Error {
				t.Errorf("stored status %s error %q; want %s, %q", run.Status, run.Error, tc.wantStatus, rep.Error)
			}
		})
	}
}

// TestStressSinkAndOnEngine: the records go to Run.Sink (a store.Writer here) and not through Run.Store, and
// OnEngine sees one engine per probe before it runs.
func TestStressSinkAndOnEngine(t *testing.T) {
	_, url := startTarget(t, target.FixedServiceConfig(8, 4, time.Millisecond))
	p := parsePlan(t, stressPlan, url)
	p.Stress.ProbeDuration.Duration = 300 * time.Millisecond
	p.Stress.MaxRate, p.Stress.MaxProbes = 100, 3
	st, _ := openStore(t)
	w := store.NewWriter(st, store.WithSpoolDir(t.TempDir()))
	engines := 0
	rep, err := execute[*StressReport](timeCtx(t, 30*time.Second), &Run{Plan: p, Store: readOnly{st}, Sink: w, Log: testLogger(t),
		OnEngine: func(e *executor.Executor) {
			engines++
			if e.Snapshot().Running {
				t.Error("OnEngine saw a running engine; want it before Run")
			}
		}})
	if err != nil {
		t.Fatalf("Stress: %v", err)
	}
	if engines == 0 || engines < len(rep.Probes) {
		t.Errorf("OnEngine saw %d engines for %d probes; want one per probe (or more, for re-measured ones)", engines, len(rep.Probes))
	}
	stats, cerr := w.Close(context.Background())
	if cerr != nil {
		t.Fatalf("Writer.Close: %v (%+v)", cerr, stats)
	}
	run, err := st.GetRun(context.Background(), rep.RunID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if run.Status != rep.Status || run.Type != store.TypeStress {
		t.Errorf("stored run %s/%s; want %s/stress", run.Status, run.Type, rep.Status)
	}
	if sr, err := st.StressResult(context.Background(), rep.RunID); err != nil || len(sr.Probes) != len(rep.Probes) {
		t.Errorf("stored stress result: %v, err %v; want %d probes", sr, err, len(rep.Probes))
	}
}

// readOnly is a Store whose writes fail: the mode must write through its Sink.
type readOnly struct{ store.Store }

var errReadOnly = errors.New("read-only store: writes go through the sink")

func (readOnly) CreateRun(context.Context, *store.Run) error           { return errReadOnly }
func (readOnly) FinishRun(context.Context, string, store.Finish) error { return errReadOnly }
func (readOnly) Heartbeat(context.Context, string, time.Time) error    { return errReadOnly }
func (readOnly) AddStressResult(context.Context, string, store.StressResult) error {
	return errReadOnly
}

// TestStressJourneyUnits: a two-step journey's search runs in iterations/s, and the answer is given in requests/s
// with the iterations/s beside it, in the text, the JSON and the store (probes' rates included).
func TestStressJourneyUnits(t *testing.T) {
	_, url := startTarget(t, target.FixedServiceConfig(8, 4, time.Millisecond))
	p := parsePlan(t, strings.Replace(stressPlan, "        request: {path: /api/users/1}\n",
		"        request: {path: /api/users/1}\n      - name: teams\n        request: {path: /api/teams}\n", 1), url)
	p.Stress.ProbeDuration.Duration = 300 * time.Millisecond
	p.Stress.StartRate, p.Stress.MaxRate, p.Stress.MaxProbes = 20, 40, 3
	st, _ := openStore(t)
	w := store.NewWriter(st, store.WithSpoolDir(t.TempDir()))
	var out strings.Builder
	rep, err := execute[*StressReport](timeCtx(t, 30*time.Second), &Run{Plan: p, Sink: w, Log: testLogger(t), Out: &out})
	if err != nil {
		t.Fatalf("Stress: %v\n%s", err, out.String())
	}
	if _, err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := rep.Result
	if res.RequestsPerIteration != 2 || res.MaxSustainable == 0 || res.MaxSustainableRPS != 2*res.MaxSustainable {
		t.Fatalf("result %+v; want 2 requests per iteration and max_sustainable_rps twice max_sustainable", res)
	}
	var text strings.Builder
	rep.WriteText(&text)
	want := fmt.Sprintf("Max sustainable RPS = %.1f (%.1f iterations/s)", res.MaxSustainableRPS, res.MaxSustainable)
	if !strings.Contains(text.String(), want) || !strings.Contains(out.String(), "one iteration is 2 requests") || strings.Contains(out.String()+text.String(), " req/s") {
		t.Errorf("text lacks %q or the unit note:\n%s%s", want, out.String(), text.String())
	}
	b, _ := json.Marshal(rep)
	if !strings.Contains(string(b), fmt.Sprintf(`"max_sustainable_rps":%v`, res.MaxSustainableRPS)) {
		t.Errorf("JSON lacks max_sustainable_rps %v: %s", res.MaxSustainableRPS, b)
	}
	sr, err := st.StressResult(context.Background(), rep.RunID)
	if err != nil || sr.MaxSustainableRPS != res.MaxSustainableRPS || sr.RequestsPerIteration != 2 ||
		len(sr.Probes) == 0 || sr.Probes[0].TargetRPS != 2*res.Probes[0].Rate {
		t.Errorf("stored %+v (%v); want requests/s (max %v, first probe %v) and 2 requests per iteration", sr, err,
			res.MaxSustainableRPS, 2*res.Probes[0].Rate)
	}
}
