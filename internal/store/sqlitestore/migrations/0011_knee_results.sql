-- The throughput knee of a knee run; points_json holds the measured load levels.
CREATE TABLE IF NOT EXISTS knee_results (
	run_id             TEXT NOT NULL,
	knee_rps           REAL      NOT NULL DEFAULT 0,
	knee_p99_ms        REAL      NOT NULL DEFAULT 0,
	max_throughput_rps REAL      NOT NULL DEFAULT 0,
	points_json        TEXT    NULL,
	created_at         DATETIME NOT NULL,
	PRIMARY KEY (run_id)
)
