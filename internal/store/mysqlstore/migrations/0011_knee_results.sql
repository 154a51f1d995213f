-- The throughput knee of a knee run; points_json holds the measured load levels.
CREATE TABLE IF NOT EXISTS knee_results (
	run_id             VARCHAR(64) NOT NULL,
	knee_rps           DOUBLE      NOT NULL DEFAULT 0,
	knee_p99_ms        DOUBLE      NOT NULL DEFAULT 0,
	max_throughput_rps DOUBLE      NOT NULL DEFAULT 0,
	points_json        LONGTEXT    NULL,
	created_at         DATETIME(6) NOT NULL,
	PRIMARY KEY (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
