-- Each trial of a stress search, in order.
CREATE TABLE IF NOT EXISTS stress_probes (
	run_id       VARCHAR(64) NOT NULL,
	seq          INT         NOT NULL,
	phase        VARCHAR(32) NOT NULL DEFAULT '',
	target_rps   DOUBLE      NOT NULL DEFAULT 0,
	achieved_rps DOUBLE      NOT NULL DEFAULT 0,
	requests     BIGINT      NOT NULL DEFAULT 0,
	errors       BIGINT      NOT NULL DEFAULT 0,
	error_rate   DOUBLE      NOT NULL DEFAULT 0,
	p50_ms       DOUBLE      NOT NULL DEFAULT 0,
	p95_ms       DOUBLE      NOT NULL DEFAULT 0,
	p99_ms       DOUBLE      NOT NULL DEFAULT 0,
	ok           BOOLEAN     NOT NULL DEFAULT FALSE,
	PRIMARY KEY (run_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
