-- Per-step results of a run, with the step's serialized latency histogram (internal/hist).
CREATE TABLE IF NOT EXISTS step_results (
	run_id     VARCHAR(64)  NOT NULL,
	scenario   VARCHAR(191) NOT NULL,
	step       VARCHAR(191) NOT NULL,
	requests   BIGINT       NOT NULL DEFAULT 0,
	errors     BIGINT       NOT NULL DEFAULT 0,
	error_rate DOUBLE       NOT NULL DEFAULT 0,
	rps        DOUBLE       NOT NULL DEFAULT 0,
	p50_ms     DOUBLE       NOT NULL DEFAULT 0,
	p90_ms     DOUBLE       NOT NULL DEFAULT 0,
	p95_ms     DOUBLE       NOT NULL DEFAULT 0,
	p99_ms     DOUBLE       NOT NULL DEFAULT 0,
	p999_ms    DOUBLE       NOT NULL DEFAULT 0,
	max_ms     DOUBLE       NOT NULL DEFAULT 0,
	mean_ms    DOUBLE       NOT NULL DEFAULT 0,
	hist       MEDIUMBLOB   NULL,
	PRIMARY KEY (run_id, scenario, step)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
