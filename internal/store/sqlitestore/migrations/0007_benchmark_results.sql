-- One row per endpoint of a benchmark run.
CREATE TABLE IF NOT EXISTS benchmark_results (
	id         INTEGER PRIMARY KEY,
	run_id      TEXT  NOT NULL,
	plan_name   TEXT NOT NULL DEFAULT '',
	endpoint    TEXT NOT NULL,
	method      TEXT  NOT NULL DEFAULT '',
	concurrency INTEGER          NOT NULL DEFAULT 0,
	duration_s  REAL       NOT NULL DEFAULT 0,
	requests    INTEGER       NOT NULL DEFAULT 0,
	errors      INTEGER       NOT NULL DEFAULT 0,
	error_rate  REAL       NOT NULL DEFAULT 0,
	rps         REAL       NOT NULL DEFAULT 0,
	p50_ms      REAL       NOT NULL DEFAULT 0,
	p90_ms      REAL       NOT NULL DEFAULT 0,
	p95_ms      REAL       NOT NULL DEFAULT 0,
	p99_ms      REAL       NOT NULL DEFAULT 0,
	p999_ms     REAL       NOT NULL DEFAULT 0,
	max_ms      REAL       NOT NULL DEFAULT 0,
	mean_ms     REAL       NOT NULL DEFAULT 0,
	hist        BLOB   NULL,
	created_at  DATETIME  NOT NULL,
	UNIQUE (run_id, endpoint)
)
