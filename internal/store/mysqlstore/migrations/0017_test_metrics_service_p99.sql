-- Service-time p99 (ms, from the actual send) over the live window, with each snapshot.
ALTER TABLE test_metrics ADD COLUMN service_p99_ms DOUBLE NOT NULL DEFAULT 0
