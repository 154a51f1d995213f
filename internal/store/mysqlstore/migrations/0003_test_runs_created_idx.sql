CREATE INDEX test_runs_created_idx ON test_runs (created_at)
