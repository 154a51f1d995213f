-- The outcome of a stress search (one per run); its probes are in stress_probes.
CREATE TABLE IF NOT EXISTS stress_results (
	run_id              TEXT NOT NULL,
	state               TEXT NOT NULL DEFAULT '',
	max_sustainable_rps REAL      NOT NULL DEFAULT 0,
	breakdown_rps       REAL      NOT NULL DEFAULT 0,
	threshold           REAL      NOT NULL DEFAULT 0,
	slo_p99_ms          REAL      NOT NULL DEFAULT 0,
	probes              INTEGER         NOT NULL DEFAULT 0,
	error               TEXT        NULL,
	created_at          DATETIME NOT NULL,
	PRIMARY KEY (run_id)
)
