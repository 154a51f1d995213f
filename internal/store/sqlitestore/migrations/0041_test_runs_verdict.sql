-- The verdict of a finished run (passed, thresholds_failed, regressed; empty when it has none), listed and filtered beside its status.
ALTER TABLE test_runs ADD COLUMN verdict TEXT NOT NULL DEFAULT ''
