-- Requests per iteration of a stress search: its rates are stored in requests/s; divided by this, iterations/s.
ALTER TABLE stress_results ADD COLUMN requests_per_iteration DOUBLE NOT NULL DEFAULT 1
