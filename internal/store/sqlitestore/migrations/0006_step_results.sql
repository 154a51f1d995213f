-- Per-step results of a run, with the step's serialized latency histogram (internal/hist).
CREATE TABLE IF NOT EXISTS step_results (
	run_id     TEXT  NOT NULL,
	scenario   TEXT NOT NULL,
	step       TEXT NOT NULL,
	requests   INTEGER       NOT NULL DEFAULT 0,
	errors     INTEGER       NOT NULL DEFAULT 0,
	error_rate REAL       NOT NULL DEFAULT 0,
	rps        REAL       NOT NULL DEFAULT 0,
	p50_ms     REAL       NOT NULL DEFAULT 0,
	p90_ms     REAL       NOT NULL DEFAULT 0,
	p95_ms     REAL       NOT NULL DEFAULT 0,
	p99_ms     REAL       NOT NULL DEFAULT 0,
	p999_ms    REAL       NOT NULL DEFAULT 0,
	max_ms     REAL       NOT NULL DEFAULT 0,
	mean_ms    REAL       NOT NULL DEFAULT 0,
	hist       BLOB   NULL,
	PRIMARY KEY (run_id, scenario, step)
)
