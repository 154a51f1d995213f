-- The outcome of a stress search (one per run); its probes are in stress_probes.
CREATE TABLE IF NOT EXISTS stress_results (
	run_id              VARCHAR(64) NOT NULL,
	state               VARCHAR(32) NOT NULL DEFAULT '',
	max_sustainable_rps DOUBLE      NOT NULL DEFAULT 0,
	breakdown_rps       DOUBLE      NOT NULL DEFAULT 0,
	threshold           DOUBLE      NOT NULL DEFAULT 0,
	slo_p99_ms          DOUBLE      NOT NULL DEFAULT 0,
	probes              INT         NOT NULL DEFAULT 0,
	error               TEXT        NULL,
	created_at          DATETIME(6) NOT NULL,
	PRIMARY KEY (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
