CREATE INDEX IF NOT EXISTS test_runs_created_idx ON test_runs (created_at)
