-- A snapshot every 2 s of a run; (run_id, ts) identifies it, so retries never duplicate.
CREATE TABLE IF NOT EXISTS test_metrics (
	id         INTEGER PRIMARY KEY,
	run_id     TEXT  NOT NULL,
	ts         DATETIME  NOT NULL,
	phase      TEXT NOT NULL DEFAULT '',
	rps        REAL       NOT NULL DEFAULT 0,
	target_rps REAL       NOT NULL DEFAULT 0,
	error_rate REAL       NOT NULL DEFAULT 0,
	p50_ms     REAL       NOT NULL DEFAULT 0,
	p95_ms     REAL       NOT NULL DEFAULT 0,
	p99_ms     REAL       NOT NULL DEFAULT 0,
	in_flight  INTEGER       NOT NULL DEFAULT 0,
	vus        INTEGER       NOT NULL DEFAULT 0,
	requests   INTEGER       NOT NULL DEFAULT 0,
	errors     INTEGER       NOT NULL DEFAULT 0,
	cpu_pct    REAL       NOT NULL DEFAULT 0,
	mem_bytes  INTEGER       NOT NULL DEFAULT 0,
	created_at DATETIME  NOT NULL,
	UNIQUE (run_id, ts)
)
