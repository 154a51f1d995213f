-- Host CPU busy share (percent of all CPUs) from the resource monitor, sampled with each snapshot.
ALTER TABLE test_metrics ADD COLUMN host_cpu_pct DOUBLE NOT NULL DEFAULT 0
