-- The step's HTTP timing breakdown (dns, connect, tls, wait, receive: count, p50 and p99 in ms) as JSON (store.Timing).
ALTER TABLE step_results ADD COLUMN timing TEXT NULL
