-- Host memory in use (percent of total) from the resource monitor, sampled with each snapshot.
ALTER TABLE test_metrics ADD COLUMN host_mem_pct REAL NOT NULL DEFAULT 0
