-- One row per segment of a distributed run (loadgen run --segment I/N --run-id RUN): which worker ran it, how it
-- ended and its measurements (encoded by internal/runner), merged into run_id's figures.
CREATE TABLE IF NOT EXISTS run_segments (
	run_id      TEXT    NOT NULL,
	idx         INTEGER NOT NULL,
	segments    INTEGER NOT NULL,
	worker_run  TEXT    NOT NULL DEFAULT '',
	owner       TEXT    NOT NULL DEFAULT '',
	status      TEXT    NOT NULL,
	error       TEXT    NULL,
	started_at  DATETIME NULL,
	ended_at    DATETIME NULL,
	results     BLOB    NULL,
	PRIMARY KEY (run_id, idx)
)
