CREATE INDEX IF NOT EXISTS test_runs_status_idx ON test_runs (status, created_at)
