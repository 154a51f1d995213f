-- A snapshot every 2 s of a run; (run_id, ts) identifies it, so retries never duplicate.
CREATE TABLE IF NOT EXISTS test_metrics (
	id         BIGINT       NOT NULL AUTO_INCREMENT,
	run_id     VARCHAR(64)  NOT NULL,
	ts         DATETIME(6)  NOT NULL,
	phase      VARCHAR(255) NOT NULL DEFAULT '',
	rps        DOUBLE       NOT NULL DEFAULT 0,
	target_rps DOUBLE       NOT NULL DEFAULT 0,
	error_rate DOUBLE       NOT NULL DEFAULT 0,
	p50_ms     DOUBLE       NOT NULL DEFAULT 0,
	p95_ms     DOUBLE       NOT NULL DEFAULT 0,
	p99_ms     DOUBLE       NOT NULL DEFAULT 0,
	in_flight  BIGINT       NOT NULL DEFAULT 0,
	vus        BIGINT       NOT NULL DEFAULT 0,
	requests   BIGINT       NOT NULL DEFAULT 0,
	errors     BIGINT       NOT NULL DEFAULT 0,
	cpu_pct    DOUBLE       NOT NULL DEFAULT 0,
	mem_bytes  BIGINT       NOT NULL DEFAULT 0,
	created_at DATETIME(6)  NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY test_metrics_run_ts (run_id, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
