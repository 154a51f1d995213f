-- Service-time p50 (ms, from the actual send) over the live window, with each snapshot.
ALTER TABLE test_metrics ADD COLUMN service_p50_ms REAL NOT NULL DEFAULT 0
