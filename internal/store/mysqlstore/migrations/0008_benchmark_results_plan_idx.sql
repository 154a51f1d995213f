CREATE INDEX benchmark_results_plan_idx ON benchmark_results (plan_name, endpoint, created_at)
