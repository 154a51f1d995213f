-- Service-time p90 (ms, from the actual send) over the live window, with each snapshot.
ALTER TABLE test_metrics ADD COLUMN service_p90_ms REAL NOT NULL DEFAULT 0
