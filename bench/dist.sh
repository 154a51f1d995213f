#!/usr/bin/env bash
# bench/dist.sh: one plan at one total rate run by 1, 2 and 3 worker processes (loadgen run --segment I/N) on this
# box, gathered; prints per worker count: CPU per request (user+sys of every worker / requests), achieved rate,
# merged p99 and the workers' start skew. Rounds are interleaved (1, 2, 3, 1, 2, 3, ...) so a busy box weighs on
# every count alike. Usage: bench/dist.sh [RATE] [SECONDS] [ROUNDS]   (needs bin/loadgen and bin/target: make build)
set -euo pipefail
rate=${1:-1500} secs=${2:-10} rounds=${3:-2}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
bin/target --addr 127.0.0.1:0 --latency 'GET /api/teams=5ms' >"$dir/target.log" 2>&1 &
tpid=$!
trap 'kill $tpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do addr=$(grep -o '127.0.0.1:[0-9]*' "$dir/target.log" | head -1) && [ -n "$addr" ] && break; sleep 0.1; done
cat >"$dir/plan.yaml" <<PLAN
name: dist-bench
target: http://$addr
scenarios: [{name: s, steps: [{name: teams, request: {path: /api/teams}, check: {status: [200]}}]}]
load: {model: open, max_in_flight: 1000, phases: [{name: steady, duration: ${secs}s, rate: $rate}]}
PLAN
printf '%-7s %-5s %12s %10s %9s %14s\n' workers round cpu_us/req req/s p99_ms start_skew_ms
for r in $(seq "$rounds"); do
  for n in 1 2 3; do
    id="b$r-$n-$RANDOM"
    pids=()
    for i in $(seq 0 $((n - 1))); do
      /usr/bin/time -f '%U %S' -o "$dir/cpu-$id-$i" bin/loadgen run "$dir/plan.yaml" --segment "$i/$n" --run-id "$id" \
        --store "sqlite://$dir/s.db" --metrics-addr off --quiet >/dev/null 2>"$dir/err-$id-$i" &
      pids+=($!)
    done
    bin/loadgen gather "$id" --segments "$n" --timeout 120s --store "sqlite://$dir/s.db" --out-json "$dir/$id.json" >/dev/null || true
    wait "${pids[@]}" || true
    cpu=$(cat "$dir"/cpu-"$id"-* | awk '{s += $1 + $2} END {print s}')
    python3 - "$dir/$id.json" "$cpu" "$n" "$r" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); cpu = float(sys.argv[2])
skew = max(w["start_skew_ms"] for w in s["workers"])
print(f'{sys.argv[3]:<7} {sys.argv[4]:<5} {cpu / s["requests"] * 1e6:12.1f} {s["rps"]:10.1f} {s["latency_ms"]["p99"]:9.2f} {skew:14.1f}   ({s["requests"]} requests, {s["status"]})')
PY
    grep -q '"status": "completed"' "$dir/$id.json" || tail -n 5 "$dir"/err-"$id"-* >&2
  done
done
