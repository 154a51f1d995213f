// Package sqlstore is the database/sql implementation of store.Store shared
// by mysqlstore and sqlitestore. A Dialect supplies what differs between the
// two: the embedded migrations, upsert syntax and error classification.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/loadlab/loadlab/internal/store"
)

// Dialect is what a database brings to the shared implementation.
type Dialect struct {
	Name string
	// Migrations holds migrations/NNNN_name.sql, one statement each.
	Migrations MigrationFS
	// MigrationsTable is the DDL that creates schema_migrations.
	MigrationsTable string
	// Upsert returns the clause appended to an INSERT so that a row whose
	// key (conflict columns) exists gets update columns overwritten instead.
	// With no update columns the existing row is kept as is.
	Upsert func(conflict, update []string) string
	// IsDuplicate reports a primary/unique key violation.
	IsDuplicate func(error) bool
	// AlreadyApplied reports a migration error meaning its object already
	// exists (a crash between the DDL and its schema_migrations row).
	AlreadyApplied func(error) bool
	// Lock, if set, serialises migrations across processes.
	Lock func(ctx context.Context, c *sql.Conn) (unlock func(), err error)
}

// DB is a store.Store over a *sql.DB.
type DB struct {
	db         *sql.DB
	d          Dialect
	now        func() time.Time
	staleAfter time.Duration
}

var _ store.Store = (*DB)(nil)

// Option configures a DB.
type Option func(*DB)

// WithClock sets the clock used for defaults and MarkInterrupted.
func WithClock(now func() time.Time) Option { return func(db *DB) { db.now = now } }

// WithStaleAfter sets the heartbeat age past which a running run of another
// host counts as abandoned (store.DefaultStaleAfter by default).
func WithStaleAfter(d time.Duration) Option { return func(db *DB) { db.staleAfter = d } }

// New migrates db and marks abandoned runs interrupted. The DB owns db and
// closes it in Close.
func New(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*DB, error) {
	s := &DB{db: db, d: d, now: time.Now, staleAfter: store.DefaultStaleAfter}
	for _, o := range opts {
		o(s)
	}
	if err := Migrate(ctx, db, d); err != nil {
		return nil, err
	}
	if _, err := s.MarkInterrupted(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// SQL returns the underlying database (tests use it to inspect rows).
func (s *DB) SQL() *sql.DB { return s.db }

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Ping checks the connection.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// tm converts a time for storage: NULL when zero, else UTC truncated to the
// microsecond (MySQL DATETIME(6) precision) so both databases agree.
func tm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

func fromNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

const runCols = `id, name, plan_name, type, status, error, plan_yaml, owner, created_at, started_at, ended_at, heartbeat_at,
	requests, errors, error_rate, rps, p50_ms, p95_ms, p99_ms, max_ms, summary_json, summary_text`

// CreateRun implements store.Store.
func (s *DB) CreateRun(ctx context.Context, r *store.Run) error {
	if r.ID == "" {
		r.ID = store.NewID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now()
	}
	if r.Owner == "" {
		r.Owner = store.Owner()
	}
	if err := r.Validate(); err != nil {
		return err
	}
	t := r.Totals
	_, err := s.db.ExecContext(ctx, `INSERT INTO test_runs (`+runCols+`) VALUES (`+placeholders(22)+`)`,
		r.ID, r.Name, r.Plan, string(r.Type), string(r.Status), r.Error, r.PlanYAML, r.Owner,
		tm(r.CreatedAt), tm(r.StartedAt), tm(r.EndedAt), tm(r.HeartbeatAt),
		t.Requests, t.Errors, t.ErrorRate, t.RPS, t.P50Ms, t.P95Ms, t.P99Ms, t.MaxMs, nullJSON(r.SummaryJSON), r.SummaryText)
	if err != nil {
		if s.d.IsDuplicate(err) {
			return fmt.Errorf("create run %s: %w", r.ID, store.ErrExists)
		}
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	return nil
}

// UpdateRun implements store.Store.
func (s *DB) UpdateRun(ctx context.Context, r *store.Run) error {
	if err := r.Validate(); err != nil {
		return err
	}
	t := r.Totals
	res, err := s.db.ExecContext(ctx, `UPDATE test_runs SET name=?, plan_name=?, type=?, status=?, error=?, plan_yaml=?, owner=?,
		started_at=?, ended_at=?, heartbeat_at=?, requests=?, errors=?, error_rate=?, rps=?, p50_ms=?, p95_ms=?, p99_ms=?, max_ms=?,
		summary_json=?, summary_text=? WHERE id=?`,
		r.Name, r.Plan, string(r.Type), string(r.Status), r.Error, r.PlanYAML, r.Owner,
		tm(r.StartedAt), tm(r.EndedAt), tm(r.HeartbeatAt), t.Requests, t.Errors, t.ErrorRate, t.RPS, t.P50Ms, t.P95Ms, t.P99Ms, t.MaxMs,
		nullJSON(r.SummaryJSON), r.SummaryText, r.ID)
	return s.checkOne(res, err, "update run "+r.ID)
}

// FinishRun implements store.Store.
func (s *DB) FinishRun(ctx context.Context, id string, f store.Finish) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.EndedAt.IsZero() {
		f.EndedAt = s.now()
	}
	t := f.Totals
	res, err := s.db.ExecContext(ctx, `UPDATE test_runs SET status=?, error=?, ended_at=?, requests=?, errors=?, error_rate=?, rps=?,
		p50_ms=?, p95_ms=?, p99_ms=?, max_ms=?, summary_json=?, summary_text=?, verdict=? WHERE id=?`,
		string(f.Status), f.Error, tm(f.EndedAt), t.Requests, t.Errors, t.ErrorRate, t.RPS, t.P50Ms, t.P95Ms, t.P99Ms, t.MaxMs,
		nullJSON(f.SummaryJSON), f.SummaryText, string(f.Verdict), id)
	return s.checkOne(res, err, "finish run "+id)
}

// Heartbeat implements store.Store. A run that was marked interrupted while
// its process was merely cut off from the store is set running again.
func (s *DB) Heartbeat(ctx context.Context, id string, at time.Time) error {
	// error and ended_at are assigned before status: MySQL evaluates SET
	// left to right with updated values, SQLite with old ones.
	res, err := s.db.ExecContext(ctx, `UPDATE test_runs SET heartbeat_at=?,
		error = CASE WHEN status='interrupted' THEN '' ELSE error END,
		ended_at = CASE WHEN status='interrupted' THEN NULL ELSE ended_at END,
		status = CASE WHEN status='interrupted' THEN 'running' ELSE status END
		WHERE id=?`, tm(at), id)
	return s.checkOne(res, err, "heartbeat run "+id)
}

func (s *DB) checkOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanRun(sc scanner, full bool) (store.Run, error) {
	var (
		r                         store.Run
		typ, status, verdict      string
		created                   sql.NullTime
		started, ended, heartbeat sql.NullTime
		planYAML, summaryText     sql.NullString
		summaryJSON               sql.NullString
	)
	t := &r.Totals
	dest := []any{&r.ID, &r.Name, &r.Plan, &typ, &status, &r.Error, &r.Owner, &created, &started, &ended, &heartbeat,
		&t.Requests, &t.Errors, &t.ErrorRate, &t.RPS, &t.P50Ms, &t.P95Ms, &t.P99Ms, &t.MaxMs, &verdict}
	if full {
		dest = append(dest, &planYAML, &summaryJSON, &summaryText)
	}
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.Type, r.Status, r.Verdict = store.Type(typ), store.Status(status), store.Verdict(verdict)
	r.CreatedAt, r.StartedAt, r.EndedAt, r.HeartbeatAt = fromNull(created), fromNull(started), fromNull(ended), fromNull(heartbeat)
	r.PlanYAML, r.SummaryText = planYAML.String, summaryText.String
	if summaryJSON.Valid && summaryJSON.String != "" {
		r.SummaryJSON = json.RawMessage(summaryJSON.String)
	}
	return r, nil
}

const runListCols = `id, name, plan_name, type, status, error, owner, created_at, started_at, ended_at, heartbeat_at,
	requests, errors, error_rate, rps, p50_ms, p95_ms, p99_ms, max_ms, verdict`

// GetRun implements store.Store.
func (s *DB) GetRun(ctx context.Context, id string) (*store.Run, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+runListCols+`, plan_yaml, summary_json, summary_text FROM test_runs WHERE id=?`, id)
	r, err := scanRun(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return &r, nil
}

// ListRuns implements store.Store.
func (s *DB) ListRuns(ctx context.Context, f store.Filter) ([]store.Run, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status=?"), append(args, string(f.Status))
	}
	if f.Type != "" {
		where, args = append(where, "type=?"), append(args, string(f.Type))
	}
	if f.Verdict != "" {
		where, args = append(where, "verdict=?"), append(args, string(f.Verdict))
	}
	if f.Plan != "" {
		where, args = append(where, "plan_name=?"), append(args, f.Plan)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	q := `SELECT ` + runListCols + ` FROM test_runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	out := []store.Run{}
	for rows.Next() {
		r, err := scanRun(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// MarkInterrupted implements store.Store.
func (s *DB) MarkInterrupted(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runListCols+` FROM test_runs WHERE status=?`, string(store.StatusRunning))
	if err != nil {
		return nil, fmt.Errorf("mark interrupted: %w", err)
	}
	var dead []store.Run
	now := s.now()
	for rows.Next() {
		r, err := scanRun(rows, false)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("mark interrupted: %w", err)
		}
		if store.Abandoned(r, now, s.staleAfter) {
			dead = append(dead, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mark interrupted: %w", err)
	}
	ids := []string{}
	for _, r := range dead {
		// The run ended at its last sign of life: its last snapshot, else
		// its last heartbeat, else its start.
		var last sql.NullTime
		err := s.db.QueryRowContext(ctx, `SELECT ts FROM test_metrics WHERE run_id=? ORDER BY ts DESC LIMIT 1`, r.ID).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("mark interrupted %s: %w", r.ID, err)
		}
		end := fromNull(last)
		for _, t := range []time.Time{r.HeartbeatAt, r.StartedAt, r.CreatedAt} {
			if t.After(end) {
				end = t
			}
		}
		msg := fmt.Sprintf("interrupted: process %s stopped without finishing the run (found %s)",
			r.Owner, now.UTC().Format(time.RFC3339))
		res, err := s.db.ExecContext(ctx, `UPDATE test_runs SET status=?, error=?, ended_at=? WHERE id=? AND status=?`,
			string(store.StatusInterrupted), msg, tm(end), r.ID, string(store.StatusRunning))
		if err != nil {
			return nil, fmt.Errorf("mark interrupted %s: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

// AddSnapshots implements store.Store. A snapshot already stored for the
// same (run, ts) is kept, so retries never duplicate.
func (s *DB) AddSnapshots(ctx context.Context, runID string, snaps []store.Snapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	const cols = 22
	var b strings.Builder
	b.WriteString(`INSERT INTO test_metrics (run_id, ts, phase, rps, target_rps, error_rate, p50_ms, p95_ms, p99_ms,
		in_flight, vus, requests, errors, cpu_pct, mem_bytes, host_cpu_pct, host_mem_pct, p90_ms, service_p50_ms,
		service_p90_ms, service_p99_ms, created_at) VALUES `)
	args := make([]any, 0, cols*len(snaps))
	now := tm(s.now())
	for i, x := range snaps {
		if x.TS.IsZero() {
			return fmt.Errorf("%w: run %s snapshot %d has no timestamp", store.ErrInvalid, runID, i)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(" + placeholders(cols) + ")")
		args = append(args, runID, tm(x.TS), x.Phase, x.RPS, x.TargetRPS, x.ErrorRate, x.P50Ms, x.P95Ms, x.P99Ms,
			x.InFlight, x.VUs, x.Requests, x.Errors, x.CPUPct, x.MemBytes, x.HostCPUPct, x.HostMemPct, x.P90Ms,
			x.ServiceP50Ms, x.ServiceP90Ms, x.ServiceP99Ms, now)
	}
	b.WriteString(s.d.Upsert([]string{"run_id", "ts"}, nil))
	if _, err := s.db.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("add %d snapshots to run %s: %w", len(snaps), runID, err)
	}
	return nil
}

// Snapshots implements store.Store, oldest first.
func (s *DB) Snapshots(ctx context.Context, runID string) ([]store.Snapshot, error) {
	return s.snapshots(ctx, runID, time.Time{})
}

// SnapshotsSince implements store.Store.
func (s *DB) SnapshotsSince(ctx context.Context, runID string, since time.Time) ([]store.Snapshot, error) {
	return s.snapshots(ctx, runID, since)
}

func (s *DB) snapshots(ctx context.Context, runID string, since time.Time) ([]store.Snapshot, error) {
	q, args := ``, []any{runID}
	if !since.IsZero() {
		q, args = ` AND ts >= ?`, append(args, tm(since))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT ts, phase, rps, target_rps, error_rate, p50_ms, p95_ms, p99_ms,
		in_flight, vus, requests, errors, cpu_pct, mem_bytes, host_cpu_pct, host_mem_pct, p90_ms, service_p50_ms,
		service_p90_ms, service_p99_ms FROM test_metrics WHERE run_id=?`+q+` ORDER BY ts`, args...)
	if err != nil {
		return nil, fmt.Errorf("snapshots of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []store.Snapshot{}
	for rows.Next() {
		var x store.Snapshot
		var ts sql.NullTime
		if err := rows.Scan(&ts, &x.Phase, &x.RPS, &x.TargetRPS, &x.ErrorRate, &x.P50Ms, &x.P95Ms, &x.P99Ms,
			&x.InFlight, &x.VUs, &x.Requests, &x.Errors, &x.CPUPct, &x.MemBytes, &x.HostCPUPct, &x.HostMemPct, &x.P90Ms,
			&x.ServiceP50Ms, &x.ServiceP90Ms, &x.ServiceP99Ms); err != nil {
			return nil, fmt.Errorf("snapshots of run %s: %w", runID, err)
		}
		x.TS = fromNull(ts)
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("snapshots of run %s: %w", runID, err)
	}
	return out, nil
}

func latencyCols(prefix string) []string {
	return []string{prefix + "p50_ms", prefix + "p90_ms", prefix + "p95_ms", prefix + "p99_ms", prefix + "p999_ms", prefix + "max_ms", prefix + "mean_ms"}
}

func latencyArgs(l store.Latency) []any {
	return []any{l.P50Ms, l.P90Ms, l.P95Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.MeanMs}
}

func latencyDest(l *store.Latency) []any {
	return []any{&l.P50Ms, &l.P90Ms, &l.P95Ms, &l.P99Ms, &l.P999Ms, &l.MaxMs, &l.MeanMs}
}

// AddStepResults implements store.Store; a step stored again is overwritten.
func (s *DB) AddStepResults(ctx context.Context, runID string, steps []store.StepResult) error {
	if len(steps) == 0 {
		return nil
	}
	cols := append([]string{"run_id", "scenario", "step", "requests", "errors", "error_rate", "rps"}, latencyCols("")...)
	cols = append(cols, "hist", "timing")
	update := cols[3:]
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add steps to run %s: %w", runID, err)
	}
	defer tx.Rollback()
	q := `INSERT INTO step_results (` + strings.Join(cols, ", ") + `) VALUES (` + placeholders(len(cols)) + `)` +
		s.d.Upsert([]string{"run_id", "scenario", "step"}, update)
	for _, x := range steps {
		args := append([]any{runID, x.Scenario, x.Step, x.Requests, x.Errors, x.ErrorRate, x.RPS}, latencyArgs(x.Latency)...)
		var timing any // NULL when not recorded
		if x.Timing != nil {
			b, err := json.Marshal(x.Timing)
			if err != nil {
				return fmt.Errorf("add step %s/%s to run %s: timing: %w", x.Scenario, x.Step, runID, err)
			}
			timing = string(b)
		}
		args = append(args, x.Hist, timing)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("add step %s/%s to run %s: %w", x.Scenario, x.Step, runID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add steps to run %s: %w", runID, err)
	}
	return nil
}

// StepResults implements store.Store, ordered by scenario and step.
func (s *DB) StepResults(ctx context.Context, runID string) ([]store.StepResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scenario, step, requests, errors, error_rate, rps, `+
		strings.Join(latencyCols(""), ", ")+`, hist, timing FROM step_results WHERE run_id=? ORDER BY scenario, step`, runID)
	if err != nil {
		return nil, fmt.Errorf("steps of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []store.StepResult{}
	for rows.Next() {
		var x store.StepResult
		dest := append([]any{&x.Scenario, &x.Step, &x.Requests, &x.Errors, &x.ErrorRate, &x.RPS}, latencyDest(&x.Latency)...)
		var timing sql.NullString
		dest = append(dest, &x.Hist, &timing)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("steps of run %s: %w", runID, err)
		}
		if timing.Valid && timing.String != "" {
			x.Timing = &store.Timing{}
			if err := json.Unmarshal([]byte(timing.String), x.Timing); err != nil {
				return nil, fmt.Errorf("steps of run %s: step %s/%s timing: %w", runID, x.Scenario, x.Step, err)
			}
		}
		if len(x.Hist) == 0 {
			x.Hist = nil
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("steps of run %s: %w", runID, err)
	}
	return out, nil
}

var benchCols = append(append([]string{"run_id", "plan_name", "endpoint", "method", "concurrency", "duration_s",
	"requests", "errors", "error_rate", "rps"}, latencyCols("")...), "hist", "created_at")

// AddBenchmarkResults implements store.Store; an endpoint stored again for
// the same run is overwritten.
func (s *DB) AddBenchmarkResults(ctx context.Context, runID string, bs []store.BenchmarkResult) error {
	if len(bs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add benchmarks to run %s: %w", runID, err)
	}
	defer tx.Rollback()
	q := `INSERT INTO benchmark_results (` + strings.Join(benchCols, ", ") + `) VALUES (` + placeholders(len(benchCols)) + `)` +
		s.d.Upsert([]string{"run_id", "endpoint"}, benchCols[3:])
	for _, x := range bs {
		if x.Endpoint == "" {
			return fmt.Errorf("%w: run %s: benchmark result without endpoint", store.ErrInvalid, runID)
		}
		created := x.CreatedAt
		if created.IsZero() {
			created = s.now()
		}
		args := append([]any{runID, x.Plan, x.Endpoint, x.Method, x.Concurrency, x.DurationS, x.Requests, x.Errors, x.ErrorRate, x.RPS},
			latencyArgs(x.Latency)...)
		args = append(args, x.Hist, tm(created))
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("add benchmark %s to run %s: %w", x.Endpoint, runID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add benchmarks to run %s: %w", runID, err)
	}
	return nil
}

func (s *DB) queryBench(ctx context.Context, q string, args ...any) ([]store.BenchmarkResult, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.BenchmarkResult{}
	for rows.Next() {
		var x store.BenchmarkResult
		var created sql.NullTime
		dest := append([]any{&x.RunID, &x.Plan, &x.Endpoint, &x.Method, &x.Concurrency, &x.DurationS, &x.Requests, &x.Errors,
			&x.ErrorRate, &x.RPS}, latencyDest(&x.Latency)...)
		dest = append(dest, &x.Hist, &created)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if len(x.Hist) == 0 {
			x.Hist = nil
		}
		x.CreatedAt = fromNull(created)
		out = append(out, x)
	}
	return out, rows.Err()
}

func benchSelect(alias string) string {
	cols := make([]string, len(benchCols))
	for i, c := range benchCols {
		cols[i] = alias + c
	}
	return strings.Join(cols, ", ")
}

// BenchmarkResults implements store.Store, ordered by endpoint.
func (s *DB) BenchmarkResults(ctx context.Context, runID string) ([]store.BenchmarkResult, error) {
	out, err := s.queryBench(ctx, `SELECT `+benchSelect("")+` FROM benchmark_results WHERE run_id=? ORDER BY endpoint`, runID)
	if err != nil {
		return nil, fmt.Errorf("benchmarks of run %s: %w", runID, err)
	}
	return out, nil
}

// LatestBenchmark implements store.Store: the newest result for the plan and
// endpoint among completed runs.
func (s *DB) LatestBenchmark(ctx context.Context, plan, endpoint string) (*store.BenchmarkResult, error) {
	out, err := s.queryBench(ctx, `SELECT `+benchSelect("b.")+` FROM benchmark_results b JOIN test_runs r ON r.id = b.run_id
		WHERE b.plan_name=? AND b.endpoint=? AND r.status=? ORDER BY b.created_at DESC, b.id DESC LIMIT 1`,
		plan, endpoint, string(store.StatusCompleted))
	if err != nil {
		return nil, fmt.Errorf("latest benchmark %s %s: %w", plan, endpoint, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("latest benchmark %s %s: %w", plan, endpoint, store.ErrNotFound)
	}
	return &out[0], nil
}

// AddStressResult implements store.Store; stored again, it is overwritten.
func (s *DB) AddStressResult(ctx context.Context, runID string, x store.StressResult) error {
	if x.CreatedAt.IsZero() {
		x.CreatedAt = s.now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add stress result to run %s: %w", runID, err)
	}
	defer tx.Rollback()
	if x.RequestsPerIteration <= 0 {
		x.RequestsPerIteration = 1
	}
	cols := []string{"run_id", "state", "max_sustainable_rps", "breakdown_rps", "threshold", "slo_p99_ms", "probes", "error", "created_at",
		"requests_per_iteration"}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stress_results (`+strings.Join(cols, ", ")+`) VALUES (`+placeholders(len(cols))+`)`+
		s.d.Upsert([]string{"run_id"}, cols[1:]),
		runID, x.State, x.MaxSustainableRPS, x.BreakdownRPS, x.Threshold, x.SLOP99Ms, len(x.Probes), x.Error, tm(x.CreatedAt),
		x.RequestsPerIteration); err != nil {
		return fmt.Errorf("add stress result to run %s: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM stress_probes WHERE run_id=?`, runID); err != nil {
		return fmt.Errorf("add stress result to run %s: %w", runID, err)
	}
	for i, p := range x.Probes {
		seq := p.Seq
		if seq == 0 {
			seq = i + 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO stress_probes (run_id, seq, phase, target_rps, achieved_rps, requests, errors,
			error_rate, p50_ms, p95_ms, p99_ms, ok) VALUES (`+placeholders(12)+`)`,
			runID, seq, p.Phase, p.TargetRPS, p.AchievedRPS, p.Requests, p.Errors, p.ErrorRate, p.P50Ms, p.P95Ms, p.P99Ms, p.OK); err != nil {
			return fmt.Errorf("add stress probe %d to run %s: %w", seq, runID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add stress result to run %s: %w", runID, err)
	}
	return nil
}

// StressResult implements store.Store.
func (s *DB) StressResult(ctx context.Context, runID string) (*store.StressResult, error) {
	var x store.StressResult
	var created sql.NullTime
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT state, max_sustainable_rps, breakdown_rps, threshold, slo_p99_ms, probes, error, created_at,
		requests_per_iteration FROM stress_results WHERE run_id=?`, runID).Scan(&x.State, &x.MaxSustainableRPS, &x.BreakdownRPS,
		&x.Threshold, &x.SLOP99Ms, &n, &x.Error, &created, &x.RequestsPerIteration)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("stress result of run %s: %w", runID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("stress result of run %s: %w", runID, err)
	}
	x.CreatedAt = fromNull(created)
	rows, err := s.db.QueryContext(ctx, `SELECT seq, phase, target_rps, achieved_rps, requests, errors, error_rate, p50_ms, p95_ms,
		p99_ms, ok FROM stress_probes WHERE run_id=? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("stress probes of run %s: %w", runID, err)
	}
	defer rows.Close()
	x.Probes = []store.StressProbe{}
	for rows.Next() {
		var p store.StressProbe
		if err := rows.Scan(&p.Seq, &p.Phase, &p.TargetRPS, &p.AchievedRPS, &p.Requests, &p.Errors, &p.ErrorRate,
			&p.P50Ms, &p.P95Ms, &p.P99Ms, &p.OK); err != nil {
			return nil, fmt.Errorf("stress probes of run %s: %w", runID, err)
		}
		x.Probes = append(x.Probes, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stress probes of run %s: %w", runID, err)
	}
	return &x, nil
}

// AddKneeResult implements store.Store; stored again, it is overwritten.
func (s *DB) AddKneeResult(ctx context.Context, runID string, k store.KneeResult) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	points := k.Points
	if points == nil {
		points = []store.KneePoint{}
	}
	pj, err := json.Marshal(points)
	if err != nil {
		return fmt.Errorf("add knee result to run %s: %w", runID, err)
	}
	cols := []string{"run_id", "knee_rps", "knee_p99_ms", "max_throughput_rps", "points_json", "created_at"}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO knee_results (`+strings.Join(cols, ", ")+`) VALUES (`+placeholders(len(cols))+`)`+
		s.d.Upsert([]string{"run_id"}, cols[1:]),
		runID, k.KneeRPS, k.KneeP99Ms, k.MaxThroughputRPS, string(pj), tm(k.CreatedAt)); err != nil {
		return fmt.Errorf("add knee result to run %s: %w", runID, err)
	}
	return nil
}

// KneeResult implements store.Store.
func (s *DB) KneeResult(ctx context.Context, runID string) (*store.KneeResult, error) {
	var k store.KneeResult
	var created sql.NullTime
	var pj string
	err := s.db.QueryRowContext(ctx, `SELECT knee_rps, knee_p99_ms, max_throughput_rps, points_json, created_at
		FROM knee_results WHERE run_id=?`, runID).Scan(&k.KneeRPS, &k.KneeP99Ms, &k.MaxThroughputRPS, &pj, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("knee result of run %s: %w", runID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("knee result of run %s: %w", runID, err)
	}
	k.CreatedAt = fromNull(created)
	if err := json.Unmarshal([]byte(pj), &k.Points); err != nil {
		return nil, fmt.Errorf("knee result of run %s: points: %w", runID, err)
	}
	return &k, nil
}

var segmentCols = []string{"run_id", "idx", "segments", "worker_run", "owner", "status", "error", "started_at", "ended_at", "results"}

// PutSegment implements store.Store.
func (s *DB) PutSegment(ctx context.Context, x store.Segment) error {
	if err := x.Validate(); err != nil {
		return err
	}
	q := `INSERT INTO run_segments (` + strings.Join(segmentCols, ", ") + `) VALUES (` + placeholders(len(segmentCols)) + `)` +
		s.d.Upsert([]string{"run_id", "idx"}, segmentCols[2:])
	if _, err := s.db.ExecContext(ctx, q, x.RunID, x.Index, x.Of, x.WorkerRun, x.Owner, string(x.Status), x.Error,
		tm(x.StartedAt), tm(x.EndedAt), x.Results); err != nil {
		return fmt.Errorf("put segment %d/%d of run %s: %w", x.Index, x.Of, x.RunID, err)
	}
	return nil
}

// Segments implements store.Store.
func (s *DB) Segments(ctx context.Context, runID string) ([]store.Segment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+strings.Join(segmentCols, ", ")+` FROM run_segments WHERE run_id=? ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("segments of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []store.Segment{}
	for rows.Next() {
		var x store.Segment
		var status string
		var errText sql.NullString
		var started, ended sql.NullTime
		if err := rows.Scan(&x.RunID, &x.Index, &x.Of, &x.WorkerRun, &x.Owner, &status, &errText, &started, &ended, &x.Results); err != nil {
			return nil, fmt.Errorf("segments of run %s: %w", runID, err)
		}
		x.Status, x.Error, x.StartedAt, x.EndedAt = store.Status(status), errText.String, fromNull(started), fromNull(ended)
		if len(x.Results) == 0 {
			x.Results = nil
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segments of run %s: %w", runID, err)
	}
	return out, nil
}
