-- Latency p90 (ms, from intended start) over the live window, with each snapshot: the HTML report's p50/p90/p99 chart.
ALTER TABLE test_metrics ADD COLUMN p90_ms REAL NOT NULL DEFAULT 0
