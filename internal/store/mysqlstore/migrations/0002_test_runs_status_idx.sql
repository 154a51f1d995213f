CREATE INDEX test_runs_status_idx ON test_runs (status, created_at)
