package runner

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/hist"
	"github.com/loadlab/loadlab/internal/plan"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// A distributed run is one load run carried out by N worker processes, each its share of the plan (a segment:
// executor.WithSegment). The workers share a run ID and a store: each records its own run (ID RUN-sIofN: snapshots,
// steps, summary, heartbeats, as any run) and a store.Segment row under RUN with its measurements; the first
// worker to reach the store creates RUN itself (running, its planned start) and the others read the start from
// it. When the last segment ends, the worker that ends it (or loadgen gather, which also waits for them and
// names the ones that never report) merges them: counts summed, histograms merged exactly (internal/hist), the
// thresholds judged on the merged figures, and RUN is finished with that summary and a per-worker breakdown.

// Segment makes a Run worker Index of Of of the distributed run RunID.
type Segment struct {
	RunID     string
	Index, Of int
	// StartAt is when every worker starts its share (zero: the first worker to reach the store fixes it
	// DefaultStartDelay ahead, and the others read it). Without a store it is only waited for.
	StartAt time.Time
}

// distributedOwner is the owner of a distributed run of n workers in the store: no single process ("host:pid"), so
// it is judged abandoned only when its heartbeats stop.
func distributedOwner(n int) string { return fmt.Sprintf("distributed run of %d workers", n) }

// DefaultStartDelay is how far ahead the first worker of a distributed run sets its start when no start is given,
// so that the other workers reach the store and start with it.
const DefaultStartDelay = 5 * time.Second

// segmentPoll is how often a worker reads its distributed run's segments (another worker aborted: this one stops
// too) and segmentHeartbeat how often it tells the store the run is alive (another host's store marks a run without
// heartbeats interrupted).
const (
	segmentPoll      = 2 * time.Second
	segmentHeartbeat = 20 * time.Second
)

// WorkerRunID is the ID of worker i's own run in the distributed run runID of n workers.
func WorkerRunID(runID string, i, n int) string { return fmt.Sprintf("%s-s%dof%d", runID, i, n) }

// segmentData is what a worker stores of its segment when it ends (store.Segment.Results, gob-encoded): all it
// measured, the plan's thresholds and its own verdict and health.
type segmentData struct {
	Plan       string
	Target     string
	Results    *executor.Results
	Thresholds []plan.Threshold
	Judged     []report.Threshold
	Health     report.Health
	// MergedAbort is 1 + the index of the threshold that failed on the merged window and ended this worker (0: none).
	MergedAbort int
}

// joinSegment prepares a worker's run: its ID, its share of the plan, and, with a store, the distributed run
// created or read, its segment recorded as running; then it waits for the run's start.
func (r *Run) joinSegment(ctx context.Context) error {
	sg := r.Segment
	switch {
	case r.Type != plan.TypeLoad:
		return fmt.Errorf("%w: --segment: plan %s is a %s plan; only load plans run as segments of a distributed run", ErrPlan, r.Plan.Name, r.Type)
	case sg.Of < 1 || sg.Index < 0 || sg.Index >= sg.Of:
		return fmt.Errorf("%w: segment %d/%d: want 0 <= I < N", ErrPlan, sg.Index, sg.Of)
	case sg.RunID == "" || len(WorkerRunID(sg.RunID, sg.Of-1, sg.Of)) > 64:
		return fmt.Errorf("%w: --run-id %q: want 1 to %d bytes", ErrPlan, sg.RunID, 64-len(WorkerRunID("", sg.Of-1, sg.Of)))
	}
	if err := segmentShare(r.Plan, sg.Index, sg.Of); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = WorkerRunID(sg.RunID, sg.Index, sg.Of)
	}
	r.ExecutorOptions = append(slices.Clip(r.ExecutorOptions), executor.WithSegment(sg.Index, sg.Of))
	start := sg.StartAt
	if r.Store != nil {
		if start.IsZero() {
			start = time.Now().Add(DefaultStartDelay)
		}
		// The run is every worker's, not this process's: an owner without a pid, so that MarkInterrupted judges it by
		// its heartbeats (every worker's watchSegment) and not by whether the worker that created it still runs.
		parent := &store.Run{ID: sg.RunID, Name: r.Plan.Name, Plan: r.Plan.Name, Type: store.TypeLoad, Status: store.StatusRunning,
			PlanYAML: r.Plan.StoredYAML(), Owner: distributedOwner(sg.Of), StartedAt: start, HeartbeatAt: time.Now()}
		err := r.Store.CreateRun(ctx, parent)
		if errors.Is(err, store.ErrExists) { // another worker was first: its start is the run's
			got, gerr := r.Store.GetRun(ctx, sg.RunID)
			if gerr != nil {
				return fmt.Errorf("distributed run %s: %w", sg.RunID, gerr)
			}
			if !sg.StartAt.IsZero() && !got.StartedAt.Equal(sg.StartAt.Truncate(time.Microsecond)) {
				r.Log.Warn("distributed run: another worker set a different start; using it", "run", sg.RunID,
					"start", got.StartedAt, "start_at", sg.StartAt)
			}
			start, err = got.StartedAt, nil
		}
		if err != nil {
			return fmt.Errorf("distributed run %s: %w", sg.RunID, err)
		}
		if err := r.Store.PutSegment(ctx, store.Segment{RunID: sg.RunID, Index: sg.Index, Of: sg.Of, WorkerRun: r.ID,
			Owner: store.Owner(), Status: store.StatusRunning}); err != nil {
			return fmt.Errorf("distributed run %s: %w", sg.RunID, err)
		}
	}
	if wait := time.Until(start); wait > 0 {
		r.Log.Info("distributed run: waiting for the start", "run", sg.RunID, "start", start)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			err := fmt.Errorf("distributed run %s: waiting for the start at %s: %w", sg.RunID, start.Format(time.RFC3339), ctx.Err())
			if r.Store != nil {
				r.leaveSegment(ctx, err)
			}
			return err
		case <-t.C:
		}
	}
	return nil
}

// segmentShare refuses segment i of n when it would have nothing to run: a closed plan whose peak VU count is at
// most i (VUs are split v/N, one more for the first v mod N workers), or an open one of at most i iterations in all
// (iteration k goes to worker k mod N). Such a worker would end "no request completed" and the run partial.
func segmentShare(p *plan.Plan, i, n int) error {
	sched, peakLevel, err := executor.Schedule(p)
	if err != nil {
		return nil // the executor says what is wrong
	}
	if p.Load.Model == plan.ModelClosed {
		peak := int(math.Round(peakLevel))
		if i >= peak {
			return fmt.Errorf("%w: --segment %d/%d: the plan's peak of %d VU%s gives segment %d nothing; use at most %d segments",
				ErrPlan, i, n, peak, plural(peak), i, max(peak, 1))
		}
		return nil
	}
	if _, _, ok := sched.At(uint64(i)); ok {
		return nil
	}
	total := 0
	for ; total < i; total++ { // the iterations there are, fewer than i+1 (At goes in order of due time)
		if _, _, ok := sched.At(uint64(total)); !ok {
			break
		}
	}
	its := fmt.Sprintf("%d iterations give", total)
	if total == 1 {
		its = "1 iteration gives"
	}
	return fmt.Errorf("%w: --segment %d/%d: the plan's %s segment %d nothing; use at most %d segments",
		ErrPlan, i, n, its, i, max(total, 1))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// leaveWrite bounds how long a worker stopped before its start tries to record its segment as failed.
const leaveWrite = 5 * time.Second

// leaveSegment records this worker's segment, already stored as running, as failed with err: a worker stopped
// before its run began leaves no run of its own, and its segment would stay running until gather's timeout.
func (r *Run) leaveSegment(ctx context.Context, err error) {
	sg := r.Segment
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveWrite)
	defer cancel()
	if perr := r.Store.PutSegment(ctx, store.Segment{RunID: sg.RunID, Index: sg.Index, Of: sg.Of, WorkerRun: r.ID,
		Owner: store.Owner(), Status: store.StatusFailed, Error: err.Error(), EndedAt: time.Now()}); perr != nil {
		r.Log.Warn("distributed run: record the segment as failed", "run", sg.RunID, "err", perr)
	}
}

// watchSegment runs while this worker runs its share: it keeps the distributed run alive in the store and stops
// this worker, aborted, within segmentPoll of another worker's segment ending aborted (its abort_on_fail threshold
// failed, or it was cancelled over the control API). It returns the function that stops it.
func (r *Run) watchSegment() (stop func()) {
	if r.Segment == nil || r.Store == nil {
		return func() {}
	}
	sg, done := r.Segment, make(chan struct{})
	r.goSafe("distributed run watch", func() {
		t := time.NewTicker(segmentPoll)
		defer t.Stop()
		beat := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), segmentPoll)
			if time.Since(beat) >= segmentHeartbeat {
				beat = time.Now()
				_ = r.Store.Heartbeat(ctx, sg.RunID, beat)
			}
			segs, err := r.Store.Segments(ctx, sg.RunID)
			cancel()
			if err != nil {
				continue // the store is away: the share goes on
			}
			for _, x := range segs {
				if x.Index != sg.Index && x.Status == store.StatusAborted {
					r.Log.Warn("distributed run: another worker aborted: stopping", "run", sg.RunID, "segment", x.Index)
					r.fail(fmt.Errorf("segment %d of the distributed run aborted (%s): %w", x.Index, x.Error, ErrAborted))
					return
				}
			}
			ctx, cancel = context.WithTimeout(context.Background(), segmentPoll)
			i, msg := mergedWindow(ctx, r.Store, sg.Of, segs, r.Plan.Thresholds)
			cancel()
			if i >= 0 {
				r.mergedAbort.Store(int32(i + 1))
				r.Log.Warn("distributed run: threshold failed on the merged window: aborting", "run", sg.RunID, "threshold", r.Plan.Thresholds[i].String())
				r.fail(fmt.Errorf("%s: %w", msg, ErrAborted))
				return
			}
		}
	})
	return func() { close(done) }
}

// mergedWindow judges the plan's run-wide rolling error_rate and rps thresholds with abort_on_fail on the merged
// window of the distributed run: from every worker's stored snapshots (cumulative requests and errors, one a
// second), the requests and errors of the last window summed over the workers, exactly. It returns the index of the
// first that fails, and why, or -1 while they hold or while not every segment runs; each is judged once a whole
// window of its own is stored for every worker. Latency thresholds are left to each worker's own window: a p99 over
// a window cannot be merged from the workers' p99s.
func mergedWindow(ctx context.Context, st store.Store, n int, segs []store.Segment, ths []plan.Threshold) (int, string) {
	if len(segs) < n {
		return -1, ""
	}
	for _, x := range segs {
		if x.Status != store.StatusRunning || x.WorkerRun == "" {
			return -1, ""
		}
	}
	type delta struct {
		req, errs int64
		span      time.Duration
	}
	// The snapshots are read once, for the longest window of them all: each threshold takes its own window's.
	var longest time.Duration
	for _, th := range ths {
		if th.AbortOnFail && mergedMetric(th) {
			longest = max(longest, th.Window.Duration)
		}
	}
	if longest == 0 {
		return -1, ""
	}
	snaps := make([][]store.Snapshot, len(segs))
	for k, x := range segs {
		var err error
		if snaps[k], err = st.SnapshotsSince(ctx, x.WorkerRun, time.Now().Add(-longest-10*time.Second)); err != nil {
			return -1, ""
		}
	}
thresholds:
	for i, th := range ths {
		w := th.Window.Duration
		if !th.AbortOnFail || !mergedMetric(th) {
			continue
		}
		var ds []delta
		for _, ss := range snaps {
			if len(ss) < 2 {
				continue thresholds
			}
			last := ss[len(ss)-1]
			first := -1
			for j, s := range ss {
				if !s.TS.After(last.TS.Add(-w)) {
					first = j
				}
			}
			if first < 0 {
				continue thresholds // not a whole window of this one yet: the others may have theirs
			}
			ds = append(ds, delta{last.Requests - ss[first].Requests, last.Errors - ss[first].Errors, last.TS.Sub(ss[first].TS)})
		}
		var v float64
		var req, errs int64
		for _, d := range ds {
			req, errs = req+d.req, errs+d.errs
			if d.span > 0 {
				v += float64(d.req) / d.span.Seconds() // rps: the workers' rates add up
			}
		}
		unit := "req/s"
		if th.Metric == plan.MetricErrorRate {
			if req == 0 {
				continue
			}
			v, unit = float64(errs)/float64(req), "ratio"
		}
		if !th.Holds(v) {
			return i, fmt.Sprintf("threshold %q failed on the merged window of the distributed run (%s over the last %s of %d workers' snapshots)",
				th.String(), report.FormatValue(v, unit), w, n)
		}
	}
	return -1, ""
}

// segmentWriteRetry bounds how long a worker tries to record its segment's end.
const segmentWriteRetry = 30 * time.Second

// endSegment records this worker's segment as it ended and, when it is the last of the run to end, merges the run.
func (r *Run) endSegment(ctx context.Context, rep Report) {
	sg := r.Segment
	if sg == nil || r.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), segmentWriteRetry)
	defer cancel()
	seg := store.Segment{RunID: sg.RunID, Index: sg.Index, Of: sg.Of, WorkerRun: r.ID, Owner: store.Owner(),
		Status: r.Status, Error: r.Error, StartedAt: r.StartedAt, EndedAt: r.EndedAt}
	if s, ok := rep.(*report.Summary); ok && r.results != nil {
		d := segmentData{Plan: r.Plan.Name, Target: r.Plan.Target, Results: r.results, Thresholds: r.Plan.Thresholds,
			Judged: s.Thresholds, Health: s.Health, MergedAbort: int(r.mergedAbort.Load())}
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(&d); err != nil {
			r.Log.Warn("distributed run: encode the segment", "err", err)
		}
		seg.Results = b.Bytes()
	}
	// The segment is the worker's whole contribution to the merged run: a store that is busy or away for a moment
	// is tried again, for up to 30 s.
	for try := 0; ; try++ {
		err := r.Store.PutSegment(ctx, seg)
		if err == nil {
			break
		}
		r.Log.Warn("distributed run: record the segment", "run", sg.RunID, "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	segs, err := r.Store.Segments(ctx, sg.RunID)
	if err != nil || len(segs) < sg.Of {
		return
	}
	for _, x := range segs {
		if !x.Status.Terminal() {
			return // another worker still runs: the last one (or gather) merges
		}
	}
	if _, err := finishDistributed(ctx, r.Store, sg.RunID, sg.Of, segs, r.StoreURL); err != nil {
		r.Log.Warn("distributed run: merge", "run", sg.RunID, "err", err)
	}
}

// GatherOptions configure Gather.
type GatherOptions struct {
	// Timeout bounds the wait for every segment to end (0: DefaultGatherTimeout); the segments that have not
	// ended by then make the run partial.
	Timeout time.Duration
	// Poll is how often the store is read (0: a second).
	Poll time.Duration
	// StoreURL names the store in the summary.
	StoreURL string
}

// DefaultGatherTimeout is how long Gather waits for the segments by default.
const DefaultGatherTimeout = time.Hour

// Gather waits until the n segments of the distributed run runID have ended (or died: a worker whose own run the
// store marks interrupted), or Timeout has passed, then merges them, finishes runID in the store with the merged
// summary and returns it. Its status is completed when every segment completed, aborted when one was aborted,
// partial when one never reported or did not end completed (named in its error and its workers). It fails only
// when nothing of the run is in the store.
func Gather(ctx context.Context, st store.Store, runID string, n int, o GatherOptions) (*report.Summary, error) {
	if n < 1 {
		return nil, fmt.Errorf("gather %s: --segments must be >= 1, got %d", runID, n)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultGatherTimeout
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	deadline := time.Now().Add(o.Timeout)
	var segs []store.Segment
	for {
		_, _ = st.MarkInterrupted(ctx) // a worker that died on this host, or went silent elsewhere
		var err error
		if segs, err = readSegments(ctx, st, runID); err != nil && !time.Now().Before(deadline) {
			return nil, err // the store did not answer until the end: nothing to merge
		}
		done := err == nil && len(segs) >= n
		for _, x := range segs {
			done = done && x.Status.Terminal()
		}
		if done || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gather %s: %w", runID, ctx.Err())
		case <-time.After(min(o.Poll, time.Until(deadline))):
		}
	}
	if _, err := st.GetRun(ctx, runID); err != nil {
		return nil, fmt.Errorf("gather %s: no worker reached the store within %s: %w", runID, o.Timeout, err)
	}
	return finishDistributed(ctx, st, runID, n, segs, o.StoreURL)
}

// readSegments returns the stored segments of runID, a segment still running taking the status of its worker's
// own run when that has ended (a worker killed before it could record its end), or interrupted when its worker has
// no run and was a process of this host that is gone (killed while it waited for the start).
func readSegments(ctx context.Context, st store.Store, runID string) ([]store.Segment, error) {
	segs, err := st.Segments(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("gather %s: %w", runID, err)
	}
	for i := range segs {
		x := &segs[i]
		if x.Status.Terminal() || x.WorkerRun == "" {
			continue
		}
		// A worker records its own run's end just before its segment's (and retries that for up to
		// segmentWriteRetry): its run ended otherwise than interrupted is a worker still about to write.
		w, err := st.GetRun(ctx, x.WorkerRun)
		if err == nil && w.Status.Terminal() &&
			(w.Status == store.StatusInterrupted || time.Since(w.EndedAt) > segmentWriteRetry+5*time.Second) {
			x.Status, x.Error = store.StatusInterrupted, "its worker stopped before recording its end"
			if w.Error != "" {
				x.Error += ": " + w.Error
			}
		}
		// A worker killed while it waited for the start has no run of its own: its segment's owner tells, when that
		// process was on this host and is gone (store.Abandoned; a fresh heartbeat leaves other hosts' alone).
		if errors.Is(err, store.ErrNotFound) && x.Owner != "" && store.Abandoned(store.Run{Status: store.StatusRunning,
			Owner: x.Owner, HeartbeatAt: time.Now()}, time.Now(), store.DefaultStaleAfter) {
			x.Status, x.Error = store.StatusInterrupted, "its worker ("+x.Owner+") stopped before its run began"
		}
	}
	return segs, nil
}

// finishDistributed merges segs into the summary of the distributed run runID of n segments and finishes runID
// with it (status, verdict, totals, summary, merged step results).
func finishDistributed(ctx context.Context, st store.Store, runID string, n int, segs []store.Segment, storeURL string) (*report.Summary, error) {
	s, steps, totals, err := Merge(runID, n, segs)
	if err != nil {
		return nil, err
	}
	if storeURL != "" {
		s.Store = &report.StoreInfo{URL: store.Redacted(storeURL)}
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		return nil, err
	}
	js, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode the summary of %s: %w", runID, err)
	}
	if err := st.AddStepResults(ctx, runID, steps); err != nil {
		return nil, fmt.Errorf("distributed run %s: %w", runID, err)
	}
	if err := st.FinishRun(ctx, runID, store.Finish{Status: s.Status, Error: s.Error, EndedAt: s.EndedAt, Totals: totals,
		SummaryJSON: js, SummaryText: text.String(), Verdict: VerdictOf(s)}); err != nil {
		return nil, fmt.Errorf("distributed run %s: %w", runID, err)
	}
	return s, nil
}

// Merge is the summary of the distributed run runID of n segments from its stored segments: the measurements of
// every segment that recorded them merged exactly (counts summed, histograms merged), the plan's thresholds
// judged on them, the generator's health the worst of the workers', and one Worker per segment. It returns the
// merged per-step results and totals as stored too.
func Merge(runID string, n int, segs []store.Segment) (*report.Summary, []store.StepResult, store.Totals, error) {
	workers := make([]report.Worker, n)
	for i := range workers {
		workers[i].Segment = i
	}
	var datas []*segmentData
	var missing []string
	var aborted *store.Segment
	var first time.Time
	for i := range segs {
		if x := segs[i]; x.Index < n && !x.StartedAt.IsZero() && (first.IsZero() || x.StartedAt.Before(first)) {
			first = x.StartedAt
		}
	}
	seen := make([]bool, n)
	for i := range segs {
		x := &segs[i]
		if x.Index >= n || x.Of != n {
			return nil, nil, store.Totals{}, fmt.Errorf("merge %s: segment %d/%d stored, but the run has %d segments", runID, x.Index, x.Of, n)
		}
		seen[x.Index] = true
		w := &workers[x.Index]
		w.RunID, w.Status, w.Error = x.WorkerRun, x.Status, x.Error
		if !x.StartedAt.IsZero() {
			w.StartSkewMS = store.Ms(x.StartedAt.Sub(first))
		}
		switch x.Status {
		case store.StatusCompleted:
		case store.StatusAborted:
			if aborted == nil {
				aborted = x
			}
		case store.StatusRunning, store.StatusQueued:
			missing = append(missing, fmt.Sprintf("%d (still running)", x.Index))
		default:
			missing = append(missing, fmt.Sprintf("%d (%s)", x.Index, x.Status))
		}
		if len(x.Results) == 0 {
			continue
		}
		d := new(segmentData)
		if err := gob.NewDecoder(bytes.NewReader(x.Results)).Decode(d); err != nil {
			return nil, nil, store.Totals{}, fmt.Errorf("merge %s: segment %d: %w", runID, x.Index, err)
		}
		datas = append(datas, d)
		if res := d.Results; res != nil && res.Total != nil {
			w.Requests, w.Errors = res.Total.Requests, res.Total.Errors
			if dur := res.Duration(); dur > 0 {
				w.RPS = float64(res.Total.Requests) / dur.Seconds()
			}
		}
		w.LagP99MS, w.CPUMaxPct, w.Reliable = d.Health.LagP99MS, d.Health.CPUMaxPct, d.Health.Reliable
	}
	for i, ok := range seen {
		if !ok {
			missing = append(missing, fmt.Sprintf("%d (never reported)", i))
		}
	}
	if len(datas) == 0 {
		s := &report.Summary{Header: report.Header{RunID: runID, Type: plan.TypeLoad, Status: store.StatusPartial,
			Error: "no segment recorded its results: segments " + strings.Join(missing, ", ")},
			ErrorsByReason: map[string]uint64{}, Steps: []report.Step{}, Phases: []report.Phase{}, Thresholds: []report.Threshold{},
			Workers: workers}
		return s, nil, store.Totals{}, nil
	}

	res := mergeResults(datas)
	s := report.FromResults(res)
	s.RunID, s.Plan, s.Target, s.Workers = runID, datas[0].Plan, datas[0].Target, workers
	s.Thresholds = mergeThresholds(datas, res)
	for _, d := range datas {
		s.Health.CPUMeasured = s.Health.CPUMeasured || d.Health.CPUMeasured
		s.Health.CPUMaxPct = max(s.Health.CPUMaxPct, d.Health.CPUMaxPct)
		s.Health.RSSMaxMB = max(s.Health.RSSMaxMB, d.Health.RSSMaxMB)
	}
	s.Health.JudgeHealth()
	for _, w := range workers {
		if w.Status != "" && !w.Reliable && len(w.RunID) > 0 {
			s.Health.Reliable = false
			s.Health.Reasons = append(s.Health.Reasons, fmt.Sprintf("segment %d's generator was unreliable (see run %s)", w.Segment, w.RunID))
		}
	}
	switch {
	case len(missing) > 0:
		s.Status = store.StatusPartial
		s.Error = fmt.Sprintf("segments %s of %d did not complete: partial results", strings.Join(missing, ", "), n)
	case aborted != nil:
		s.Status = store.StatusAborted
		s.Error = fmt.Sprintf("segment %d: %s", aborted.Index, aborted.Error)
	default:
		s.Status, s.Error = store.StatusCompleted, ""
	}

	totals := store.Totals{}
	if t := res.Total; t != nil {
		totals = store.TotalsOf(int64(t.Requests), int64(t.Errors), t.Latency, res.Duration())
	}
	steps := make([]store.StepResult, 0, len(res.Steps))
	for _, c := range res.Steps {
		sr, err := store.NewStepResult(c.Scenario, c.Step, int64(c.Requests), int64(c.Errors), c.Latency, res.Duration())
		if err != nil {
			return nil, nil, store.Totals{}, fmt.Errorf("merge %s: %w", runID, err)
		}
		steps = append(steps, sr)
	}
	return s, steps, totals, nil
}

// mergeThresholds judges the plan's thresholds on the merged figures: whole-run ones exactly; a rolling one over
// the whole merged run, failed and marked as having ended the run when it aborted a worker.
func mergeThresholds(datas []*segmentData, res *executor.Results) []report.Threshold {
	out := report.Evaluate(datas[0].Thresholds, res)
	for i, th := range datas[0].Thresholds {
		if th.Window.Duration <= 0 || i >= len(out) {
			continue
		}
		out[i].Window = th.Window.Duration.String()
		out[i].Note = "judged over the whole merged run"
		for _, d := range datas {
			if i < len(d.Judged) && d.Judged[i].Aborted {
				out[i].OK, out[i].Aborted, out[i].Note = false, true, "ended a worker's segment"
			}
			if d.MergedAbort == i+1 {
				out[i].OK, out[i].Aborted, out[i].Note = false, true, "failed on the merged window: ended the run"
			}
		}
	}
	return out
}

// mergeResults adds up the segments' measurements: cells merged, counts summed, the run from the first start to
// the last end.
func mergeResults(datas []*segmentData) *executor.Results {
	var m *executor.Results
	for _, d := range datas {
		r := d.Results
		if r == nil {
			continue
		}
		if m == nil {
			m = &executor.Results{Plan: r.Plan, Model: r.Model, Started: r.Started, Ended: r.Ended, Total: executor.NewCell("", "", ""),
				ScheduleLag: hist.New()}
			for _, c := range r.Steps {
				m.Steps = append(m.Steps, executor.NewCell(c.Scenario, c.Step, c.Method))
			}
			for _, p := range r.Phases {
				mp := &executor.PhaseResult{Name: p.Name, Index: p.Index, Planned: p.Planned, Rate: p.Rate, To: p.To, VUs: p.VUs,
					ToVUs: p.ToVUs, ScheduleLag: hist.New(), Cell: *executor.NewCell("", "", "")}
				m.Phases = append(m.Phases, mp)
			}
			for _, sc := range r.Scenarios {
				m.Scenarios = append(m.Scenarios, executor.ScenarioResult{Name: sc.Name, Weight: sc.Weight})
			}
		}
		if r.Started.Before(m.Started) {
			m.Started = r.Started
		}
		if r.Ended.After(m.Ended) {
			m.Ended = r.Ended
		}
		m.Canceled = m.Canceled || r.Canceled
		if r.Total != nil {
			m.Total.Merge(r.Total)
		}
		for i, c := range r.Steps {
			if i < len(m.Steps) {
				m.Steps[i].Merge(c)
			}
		}
		for i, p := range r.Phases {
			if i >= len(m.Phases) {
				continue
			}
			mp := m.Phases[i]
			if !p.Start.IsZero() && (mp.Start.IsZero() || p.Start.Before(mp.Start)) {
				mp.Start = p.Start
			}
			if p.End.After(mp.End) {
				mp.End = p.End
			}
			mp.Iterations += p.Iterations
			mp.Dropped += p.Dropped
			if p.ScheduleLag != nil {
				mp.ScheduleLag.Merge(p.ScheduleLag)
			}
			mp.Cell.Merge(&p.Cell)
		}
		for i, sc := range r.Scenarios {
			if i < len(m.Scenarios) {
				m.Scenarios[i].Iterations += sc.Iterations
				m.Scenarios[i].Failed += sc.Failed
			}
		}
		if r.ScheduleLag != nil {
			m.ScheduleLag.Merge(r.ScheduleLag)
		}
		m.Iterations += r.Iterations
		m.Dropped += r.Dropped
		m.MaxInFlight += r.MaxInFlight
		m.ErrorSamplesDropped += r.ErrorSamplesDropped
		for _, es := range r.ErrorSamples {
			if len(m.ErrorSamples) < executor.MaxErrorSamples {
				m.ErrorSamples = append(m.ErrorSamples, es)
			} else {
				m.ErrorSamplesDropped += es.Count
			}
		}
	}
	return m
}

// EnvSegmentIndex is the variable --segment auto/N reads the segment's index from: what a Kubernetes Indexed Job
// sets in each of its pods.
const EnvSegmentIndex = "JOB_COMPLETION_INDEX"

// ParseSegment parses "I/N" (0 <= I < N) or "auto/N", which takes I from EnvSegmentIndex in getenv.
func ParseSegment(v string, getenv func(string) string) (i, n int, err error) {
	is, ns, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, fmt.Errorf("--segment %q: want I/N or auto/N", v)
	}
	if _, err := fmt.Sscan(ns, &n); err != nil || n < 1 || n > MaxSegments {
		return 0, 0, fmt.Errorf("--segment %q: N must be a whole number from 1 to %d", v, MaxSegments)
	}
	if is == "auto" {
		is = getenv(EnvSegmentIndex)
		if is == "" {
			return 0, 0, fmt.Errorf("--segment %q: %s is not set (auto takes the index from a Kubernetes Indexed Job)", v, EnvSegmentIndex)
		}
	}
	if _, err := fmt.Sscan(is, &i); err != nil || i < 0 || i >= n || strings.TrimSpace(is) != is {
		return 0, 0, fmt.Errorf("--segment %q: index %q must be a whole number from 0 to %d", v, is, n-1)
	}
	return i, n, nil
}

// MaxSegments bounds the workers of a distributed run.
const MaxSegments = 1000
