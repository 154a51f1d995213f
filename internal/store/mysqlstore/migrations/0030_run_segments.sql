-- One row per segment of a distributed run (loadgen run --segment I/N --run-id RUN): which worker ran it, how it
-- ended and its measurements (encoded by internal/runner), merged into run_id's figures.
CREATE TABLE IF NOT EXISTS run_segments (
	run_id      VARCHAR(64)  NOT NULL,
	idx         INT          NOT NULL,
	segments    INT          NOT NULL,
	worker_run  VARCHAR(64)  NOT NULL DEFAULT '',
	owner       VARCHAR(255) NOT NULL DEFAULT '',
	status      VARCHAR(16)  NOT NULL,
	error       TEXT         NULL,
	started_at  DATETIME(6)  NULL,
	ended_at    DATETIME(6)  NULL,
	results     LONGBLOB     NULL,
	PRIMARY KEY (run_id, idx)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
