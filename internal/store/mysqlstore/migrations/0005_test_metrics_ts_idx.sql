CREATE INDEX test_metrics_ts_idx ON test_metrics (ts)
