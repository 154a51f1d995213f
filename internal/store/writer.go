package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/loadlab/loadlab/internal/panics"
)

// Writer defaults.
const (
	DefaultMaxBuffered  = 100_000                // rows (snapshots, steps, ...) held in memory before a record is dropped
	DefaultMinBackoff   = 250 * time.Millisecond // first retry after the store goes away
	DefaultMaxBackoff   = 5 * time.Second
	DefaultOpTimeout    = 10 * time.Second // one store call
	DefaultHeartbeat    = 10 * time.Second
	DefaultFlushTimeout = 15 * time.Second // Close without a ctx deadline
	maxAttempts         = 3                // for an error while the store answers pings
)

// WriterOption configures a Writer.
type WriterOption func(*Writer)

// WithSpoolDir sets where records go while the store is unreachable
// (DefaultSpoolDir by default).
func WithSpoolDir(dir string) WriterOption { return func(w *Writer) { w.dir = dir } }

// WithMaxBuffered bounds the rows held in memory (DefaultMaxBuffered); a
// record that does not fit is dropped and counted in Stats.Dropped.
func WithMaxBuffered(n int) WriterOption { return func(w *Writer) { w.maxBuffered = n } }

// WithBackoff sets the first and the longest wait between reconnect attempts.
func WithBackoff(min, max time.Duration) WriterOption {
	return func(w *Writer) { w.minBackoff, w.maxBackoff = min, max }
}

// WithOpTimeout bounds each store call (DefaultOpTimeout).
func WithOpTimeout(d time.Duration) WriterOption { return func(w *Writer) { w.opTimeout = d } }

// WithHeartbeat sets how often live runs get a heartbeat (0 disables).
func WithHeartbeat(d time.Duration) WriterOption { return func(w *Writer) { w.heartbeat = d } }

// WithLogger logs outages and recoveries.
func WithLogger(l *slog.Logger) WriterOption { return func(w *Writer) { w.log = l } }

// WithReplayOnStart also replays spool files left by earlier processes in
// the spool directory once the store answers (on by default).
func WithReplayOnStart(on bool) WriterOption { return func(w *Writer) { w.replayOld = on } }

// Stats tells what a Writer did; Summary turns it into a sentence.
type Stats struct {
	Written    int64  `json:"written"`     // records written to the store (including replayed ones)
	Spooled    int64  `json:"spooled"`     // records that had to go to the spool file
	Replayed   int64  `json:"replayed"`    // spooled records written to the store later by this writer
	Pending    int64  `json:"pending"`     // records in the spool file not yet written
	Buffered   int    `json:"buffered"`    // rows in memory
	Dropped    int64  `json:"dropped"`     // records lost because memory was full and the spool failed
	Rejected   int64  `json:"rejected"`    // records the store refused (parked in RejectFile, retried at the next start)
	Corrupt    int64  `json:"corrupt"`     // torn or corrupt spool lines skipped (logged with file:line)
	Unparked   int64  `json:"unparked"`    // records parked by earlier processes that the store took on retry
	Outages    int    `json:"outages"`     // times the store became unreachable
	Down       bool   `json:"down"`        // unreachable right now
	OldSpool   int    `json:"old_spool"`   // records from earlier processes' spool files written at start
	SpoolFile  string `json:"spool_file"`  // this writer's spool file
	RejectFile string `json:"reject_file"` // where refused records are parked
	LastError  string `json:"last_error,omitempty"`
}

// HadToSpool reports whether the store was unreachable at some point so that
// records went through the spool file.
func (s Stats) HadToSpool() bool { return s.Spooled > 0 }

// Summary is one line for the end-of-run summary; empty when the store
// took every record as it came.
func (s Stats) Summary() string {
	var out string
	switch {
	case s.Spooled > 0 && s.Pending == 0:
		out = fmt.Sprintf("store: unreachable %d time(s) during the run; %d record(s) were spooled to %s and all written once it came back",
			s.Outages, s.Spooled, s.SpoolFile)
	case s.Pending > 0:
		out = fmt.Sprintf("store: unreachable at the end of the run (%s); %d record(s) kept in %s are written at the next start",
			s.LastError, s.Pending, s.SpoolFile)
	}
	if s.Rejected > 0 {
		out = join(out, fmt.Sprintf("store: %d record(s) refused (%s), parked in %s and retried at the next start (at most %d times in all)",
			s.Rejected, s.LastError, s.RejectFile, MaxParkedAttempts))
	}
	if s.Corrupt > 0 {
		out = join(out, fmt.Sprintf("store: %d torn or corrupt spool line(s) skipped (the log says where)", s.Corrupt))
	}
	if s.Unparked > 0 {
		out = join(out, fmt.Sprintf("store: %d record(s) parked by an earlier run were written on retry", s.Unparked))
	}
	if s.Dropped > 0 {
		out = join(out, fmt.Sprintf("store: %d record(s) LOST: the memory buffer was full or the spool file could not be written", s.Dropped))
	}
	if s.OldSpool > 0 {
		out = join(out, fmt.Sprintf("store: %d record(s) spooled by an earlier run were written", s.OldSpool))
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}

// Writer feeds a Store asynchronously. Its methods never block on the store:
// they queue the record and return. A goroutine writes the queue in order;
// when the store is unreachable (at start or mid-run) it appends records to a
// spool file, retries with backoff, and writes the spool back when the store
// answers. Records left in the spool at Close are written by the next
// ReplaySpool (or the next Writer) on that spool directory.
type Writer struct {
	st          Store
	dir         string
	name        string
	maxBuffered int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	opTimeout   time.Duration
	heartbeat   time.Duration
	replayOld   bool
	log         *slog.Logger

	mu       sync.Mutex
	queue    []*record
	buffered int // sum of record sizes in queue
	stats    Stats
	closed   bool
	inflight bool // a popped record is being written

	wake    chan struct{}
	closing chan struct{}
	done    chan struct{}
	base    context.Context // canceled when Close's ctx ends
	cancel  context.CancelFunc

	// owned by the loop goroutine
	down   bool
	spool  *spoolFile
	parked *os.File // RejectFile, locked while this writer lives (ReplaySpool elsewhere leaves it alone)
	live   map[string]bool
}

// NewWriter starts a Writer on st. Call Close to flush and stop it.
func NewWriter(st Store, opts ...WriterOption) *Writer {
	w := &Writer{st: st, dir: DefaultSpoolDir(), name: NewID(), maxBuffered: DefaultMaxBuffered,
		minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff, opTimeout: DefaultOpTimeout,
		heartbeat: DefaultHeartbeat, replayOld: true,
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}), live: map[string]bool{}}
	for _, o := range opts {
		o(w)
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.stats.SpoolFile = filepath.Join(w.dir, w.name+".jsonl")
	w.stats.RejectFile = filepath.Join(w.dir, rejectedPrefix+w.name+".jsonl")
	w.base, w.cancel = context.WithCancel(context.Background())
	go w.loop()
	return w
}

// ErrDropped reports a record the Writer could not keep: its memory buffer
// was full, or it was already closed.
var ErrDropped = errors.New("store writer: record dropped")

func (w *Writer) enqueue(r *record) error {
	w.mu.Lock()
	if w.closed {
		w.stats.Dropped++
		w.stats.LastError = "record sent after Close"
		w.mu.Unlock()
		return fmt.Errorf("%w: %s after Close", ErrDropped, r.Op)
	}
	if w.buffered+r.size() > w.maxBuffered {
		w.stats.Dropped++
		w.stats.LastError = "memory buffer full"
		w.mu.Unlock()
		return fmt.Errorf("%w: %s: memory buffer full (%d rows)", ErrDropped, r.Op, w.maxBuffered)
	}
	w.queue = append(w.queue, r)
	w.buffered += r.size()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// The write methods below have the signatures of Store's, so a *Writer can
// stand wherever a Sink is wanted. None of them waits on the store: each
// queues a copy of its record and returns at once. ctx is not used. The
// error is non-nil only when the record was dropped (ErrDropped) or is
// invalid (ErrInvalid); store errors surface in Stats and at Close.

// CreateRun queues a new run, filling r.ID (NewID), r.CreatedAt and r.Owner
// when empty so that a replay stores the same values.
func (w *Writer) CreateRun(_ context.Context, r *Run) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	if r.Owner == "" {
		r.Owner = Owner()
	}
	if err := r.Validate(); err != nil {
		return err
	}
	c := *r
	return w.enqueue(&record{Op: opCreateRun, RunID: c.ID, Run: &c})
}

// UpdateRun queues an overwrite of the run's mutable fields.
func (w *Writer) UpdateRun(_ context.Context, r *Run) error {
	if err := r.Validate(); err != nil {
		return err
	}
	c := *r
	return w.enqueue(&record{Op: opUpdateRun, RunID: c.ID, Run: &c})
}

// FinishRun queues the run's end. EndedAt is set now when zero.
func (w *Writer) FinishRun(_ context.Context, id string, f Finish) error {
	if f.EndedAt.IsZero() {
		f.EndedAt = time.Now()
	}
	if err := f.Validate(); err != nil {
		return err
	}
	return w.enqueue(&record{Op: opFinishRun, RunID: id, Finish: &f})
}

// AddSnapshots queues metric snapshots.
func (w *Writer) AddSnapshots(_ context.Context, runID string, s []Snapshot) error {
	return w.enqueue(&record{Op: opSnapshots, RunID: runID, Snapshots: append([]Snapshot(nil), s...)})
}

// AddStepResults queues per-step results.
func (w *Writer) AddStepResults(_ context.Context, runID string, s []StepResult) error {
	return w.enqueue(&record{Op: opSteps, RunID: runID, Steps: append([]StepResult(nil), s...)})
}

// AddBenchmarkResults queues benchmark results.
func (w *Writer) AddBenchmarkResults(_ context.Context, runID string, b []BenchmarkResult) error {
	return w.enqueue(&record{Op: opBenchmarks, RunID: runID, Benchmarks: append([]BenchmarkResult(nil), b...)})
}

// AddStressResult queues a stress result.
func (w *Writer) AddStressResult(_ context.Context, runID string, s StressResult) error {
	return w.enqueue(&record{Op: opStress, RunID: runID, Stress: &s})
}

// AddKneeResult queues a knee result.
func (w *Writer) AddKneeResult(_ context.Context, runID string, k KneeResult) error {
	return w.enqueue(&record{Op: opKnee, RunID: runID, Knee: &k})
}

// Stats returns the current figures.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Buffered = w.buffered
	return s
}

// Close writes everything queued, waiting at most until ctx is done
// (DefaultFlushTimeout when ctx has no deadline). What the store cannot take
// by then stays in the spool file for the next start. The returned error is
// non-nil when records are left in the spool, were refused or were lost.
func (w *Writer) Close(ctx context.Context) (Stats, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFlushTimeout)
		defer cancel()
	}
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if !already {
		close(w.closing)
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel() // store calls fail at once; the loop spools the rest and ends
		<-w.done
	}
	w.cancel()
	s := w.Stats()
	var err error
	switch {
	case s.Dropped > 0:
		err = fmt.Errorf("store writer: %d records lost: %s", s.Dropped, s.LastError)
	case s.Pending > 0:
		err = fmt.Errorf("store writer: %d records left in %s (store unreachable: %s)", s.Pending, s.SpoolFile, s.LastError)
	case s.Rejected > 0:
		err = fmt.Errorf("store writer: %d records refused, parked in %s (retried at the next start): %s", s.Rejected, s.RejectFile, s.LastError)
	}
	return s, err
}

func (w *Writer) isClosing() bool {
	select {
	case <-w.closing:
		return true
	default:
		return false
	}
}

func (w *Writer) pop() *record {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil
	}
	r := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	w.buffered -= r.size()
	w.inflight = true
	return r
}

// Flush waits until everything queued so far is in the store (true), or
// until ctx is done (false: the rest is queued or spooled and will still
// be written). The Writer stays open. Call it before rendering a summary so
// that Stats tells whether the store took every record.
// Without a ctx deadline it waits at most DefaultFlushTimeout.
func (w *Writer) Flush(ctx context.Context) (Stats, bool) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFlushTimeout)
		defer cancel()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		w.mu.Lock()
		idle := len(w.queue) == 0 && !w.inflight && !w.stats.Down && w.stats.Pending == 0
		w.mu.Unlock()
		if idle {
			return w.Stats(), true
		}
		select {
		case <-ctx.Done():
			return w.Stats(), false
		case <-w.done:
			s := w.Stats()
			return s, s.Pending == 0 && s.Buffered == 0
		case <-t.C:
		}
	}
}

func (w *Writer) update(f func(s *Stats)) {
	w.mu.Lock()
	f(&w.stats)
	w.mu.Unlock()
}

func (w *Writer) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.base, w.opTimeout)
}

// panicPause is how long the writer's loop waits before it starts again after
// a panic of its own code (store calls cannot panic it: see record.apply).
const panicPause = time.Second

// loop runs the writer until it is closed. A panic in it is logged and the
// loop starts again (after panicPause, with what is queued and spooled kept),
// so that a bug here never takes down the process that holds the runs; once
// Close has given up waiting (base cancelled), it stops.
func (w *Writer) loop() {
	defer close(w.done)
	for {
		err := panics.Catch("store writer", func() error { w.run(); return nil })
		pe := panics.As(err)
		if pe == nil {
			return
		}
		w.log.Error("store writer: panic; starting again", "err", pe.Error(), "stack", string(pe.Stack))
		w.mu.Lock()
		w.inflight = false
		w.stats.LastError = pe.Error()
		w.mu.Unlock()
		select {
		case <-w.base.Done():
			_ = panics.Catch("store writer", func() error { w.finish(); return nil })
			return
		case <-time.After(panicPause):
		}
	}
}

func (w *Writer) run() {
	backoff := w.minBackoff
	var retryAt time.Time
	var nextBeat time.Time
	if w.heartbeat > 0 {
		nextBeat = time.Now().Add(w.heartbeat)
	}
	// Spool files of earlier processes are replayed once the store answers:
	// at start, and again after a recovery if that first attempt failed.
	oldPending, oldFailed := w.replayOld, false
	for {
		closing := w.isClosing()
		if !w.down && oldPending {
			oldPending = false
			oldFailed = !w.replayOldSpools()
		}
		if w.down {
			w.spoolQueue()
			if !time.Now().Before(retryAt) {
				if w.recover() {
					w.down, backoff, retryAt = false, w.minBackoff, time.Time{}
					oldPending, oldFailed = oldFailed, false
					w.log.Info("store reachable again; spooled records written", "spool", w.stats.SpoolFile)
					continue
				}
				retryAt = time.Now().Add(backoff)
				backoff = min(2*backoff, w.maxBackoff)
			}
			if closing && w.base.Err() != nil {
				w.finish()
				return
			}
		} else if r := w.pop(); r != nil {
			w.write(r)
			w.mu.Lock()
			w.inflight = false
			w.mu.Unlock()
			continue
		} else if closing {
			w.finish()
			return
		}
		if !w.down && !nextBeat.IsZero() && !time.Now().Before(nextBeat) {
			w.beat()
			nextBeat = time.Now().Add(w.heartbeat)
		}
		wait := time.Hour
		if w.down {
			wait = time.Until(retryAt)
		}
		if !nextBeat.IsZero() && !w.down {
			wait = min(wait, time.Until(nextBeat))
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-w.wake:
		case <-t.C:
		case <-w.closing:
			if closing { // already closing: wait for retry time or cancellation
				select {
				case <-w.wake:
				case <-t.C:
				case <-w.base.Done():
				}
			}
		}
		t.Stop()
	}
}

// write applies one record while the store is up.
func (w *Writer) write(r *record) {
	for attempt := 1; ; attempt++ {
		ctx, cancel := w.opCtx()
		err := r.apply(ctx, w.st)
		cancel()
		if err == nil {
			w.track(r)
			w.update(func(s *Stats) { s.Written++ })
			return
		}
		if permanent(err) {
			w.reject(r, err)
			return
		}
		if !w.reachable() {
			w.goDown(err)
			w.toSpool(r)
			return
		}
		if attempt >= maxAttempts {
			w.reject(r, err)
			return
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

// track keeps the set of running runs that get heartbeats.
func (w *Writer) track(r *record) {
	switch r.Op {
	case opCreateRun, opUpdateRun:
		if r.Run.Status == StatusRunning {
			w.live[r.RunID] = true
		} else {
			delete(w.live, r.RunID)
		}
	case opFinishRun:
		delete(w.live, r.RunID)
	}
}

func (w *Writer) beat() {
	for id := range w.live {
		ctx, cancel := w.opCtx()
		err := w.st.Heartbeat(ctx, id, time.Now())
		cancel()
		if err != nil && !errors.Is(err, ErrNotFound) && !w.reachable() {
			w.goDown(err)
			return
		}
	}
}

func (w *Writer) reachable() bool {
	if w.base.Err() != nil {
		return false
	}
	ctx, cancel := w.opCtx()
	defer cancel()
	return w.st.Ping(ctx) == nil
}

func (w *Writer) goDown(err error) {
	w.down = true
	w.log.Warn("store unreachable; spooling records", "err", err, "spool", w.stats.SpoolFile)
	w.update(func(s *Stats) { s.Outages++; s.Down = true; s.LastError = err.Error() })
}

// reject parks a record the store refused in RejectFile, where the next
// start offers it to the store again.
func (w *Writer) reject(r *record, err error) {
	w.log.Error("store refused a record; parked for a retry at the next start", "op", r.Op, "run_id", r.RunID, "err", err,
		"parked", w.stats.RejectFile)
	ferr := error(nil)
	if w.parked == nil {
		w.parked, ferr = lockPath(w.stats.RejectFile)
	}
	if ferr == nil {
		ferr = appendParked(w.parked, err, r)
	}
	if ferr != nil {
		w.update(func(s *Stats) { s.Dropped++; s.LastError = ferr.Error() })
		return
	}
	w.update(func(s *Stats) { s.Rejected++; s.LastError = err.Error() })
}

// skipLine counts and logs a torn or corrupt spool line.
func (w *Writer) skipLine(at string) {
	w.log.Warn("spool: skipped a torn or corrupt line", "at", at)
	w.update(func(s *Stats) { s.Corrupt++ })
}

// toSpool appends records to this writer's spool file.
func (w *Writer) toSpool(recs ...*record) {
	if len(recs) == 0 {
		return
	}
	var err error
	if w.spool == nil {
		w.spool, err = openSpool(w.stats.SpoolFile)
	}
	if err == nil {
		err = w.spool.append(recs...)
	}
	n := int64(len(recs))
	if err != nil {
		w.log.Error("spool write failed; records lost", "err", err, "records", n)
		w.update(func(s *Stats) { s.Dropped += n; s.LastError = err.Error() })
		return
	}
	w.update(func(s *Stats) { s.Spooled += n; s.Pending += n })
}

func (w *Writer) spoolQueue() {
	w.mu.Lock()
	q := w.queue
	w.queue, w.buffered = nil, 0
	w.mu.Unlock()
	for _, r := range q {
		if r.Op == opCreateRun || r.Op == opUpdateRun || r.Op == opFinishRun {
			w.track(r)
		}
	}
	w.toSpool(q...)
}

// recover pings the store and writes the spool file back, in order. It
// reports whether the spool is empty and the store up.
func (w *Writer) recover() bool {
	if !w.reachable() {
		return false
	}
	if w.spool == nil {
		w.update(func(s *Stats) { s.Down = false })
		return true
	}
	lines, err := w.spool.pending()
	if err != nil {
		w.update(func(s *Stats) { s.LastError = "read spool: " + err.Error() })
		return false
	}
	for _, l := range lines {
		if l.rec == nil {
			if l.bad != "" {
				w.skipLine(fmt.Sprintf("%s:%d: %s", w.spool.path, l.line, l.bad))
			}
			w.spool.done(l)
			continue
		}
		ctx, cancel := w.opCtx()
		err := l.rec.apply(ctx, w.st)
		cancel()
		if err != nil && !permanent(err) {
			w.update(func(s *Stats) { s.LastError = err.Error() })
			return false
		}
		if err != nil {
			w.reject(l.rec, err)
		} else {
			w.update(func(s *Stats) { s.Written++; s.Replayed++ })
		}
		w.spool.done(l)
		w.update(func(s *Stats) { s.Pending-- })
	}
	if err := w.spool.reset(); err != nil {
		w.update(func(s *Stats) { s.LastError = "reset spool: " + err.Error() })
	}
	w.update(func(s *Stats) { s.Down = false; s.Pending = 0 })
	return true
}

func (w *Writer) replayOldSpools() bool {
	ctx, cancel := context.WithTimeout(w.base, 4*w.opTimeout)
	defer cancel()
	res, err := ReplaySpool(ctx, w.st, w.dir)
	if res.Records > 0 {
		w.update(func(s *Stats) { s.OldSpool += res.Records - res.Unparked; s.Unparked += int64(res.Unparked) })
		w.log.Info("wrote records spooled or parked by an earlier process", "records", res.Records, "unparked", res.Unparked, "dir", w.dir)
	}
	for _, at := range res.CorruptAt {
		w.log.Warn("spool: skipped a torn or corrupt line", "at", at)
	}
	if res.Corrupt > 0 {
		w.update(func(s *Stats) { s.Corrupt += int64(res.Corrupt) })
	}
	if res.Parked > 0 {
		w.log.Warn("records the store refused are still parked", "records", res.Parked, "given_up", res.GaveUp, "dir", w.dir)
	}
	return err == nil
}

// finish closes the spool file, keeping what is not yet written, and
// releases the parked-records file.
func (w *Writer) finish() {
	if w.down {
		w.spoolQueue()
	}
	if w.parked != nil {
		w.parked.Close()
		w.parked = nil
	}
	if w.spool == nil {
		return
	}
	kept, err := w.spool.close()
	if err != nil {
		w.update(func(s *Stats) { s.LastError = "close spool: " + err.Error() })
	}
	if !kept {
		w.update(func(s *Stats) { s.Pending = 0 })
	}
	w.spool = nil
}

var (
	_ Sink = (*Writer)(nil)
	_ Sink = Store(nil)
)

// DefaultSettleTimeout bounds how long SettleStart may hold up a run's start while the store is slow or down.
const DefaultSettleTimeout = 2 * time.Second

// SettleStart waits, at most DefaultSettleTimeout, until an asynchronous Writer has handed everything queued so far
// to the store (or spooled it); any other Sink writes synchronously and needs no wait. Runs call it right after
// CreateRun, before the load begins, so that the run's record survives a SIGKILL of the process: the next start then
// finds it `running` and marks it `interrupted`, instead of the run vanishing from history.
func SettleStart(ctx context.Context, sink Sink) {
	w, ok := sink.(*Writer)
	if !ok {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, DefaultSettleTimeout)
	defer cancel()
	w.Flush(fctx)
}
