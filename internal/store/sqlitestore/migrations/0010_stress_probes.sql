-- Each trial of a stress search, in order.
CREATE TABLE IF NOT EXISTS stress_probes (
	run_id       TEXT NOT NULL,
	seq          INTEGER         NOT NULL,
	phase        TEXT NOT NULL DEFAULT '',
	target_rps   REAL      NOT NULL DEFAULT 0,
	achieved_rps REAL      NOT NULL DEFAULT 0,
	requests     INTEGER      NOT NULL DEFAULT 0,
	errors       INTEGER      NOT NULL DEFAULT 0,
	error_rate   REAL      NOT NULL DEFAULT 0,
	p50_ms       REAL      NOT NULL DEFAULT 0,
	p95_ms       REAL      NOT NULL DEFAULT 0,
	p99_ms       REAL      NOT NULL DEFAULT 0,
	ok           INTEGER     NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, seq)
)
