#!/usr/bin/env bash
# Runs the curl walkthroughs of README.md and docs/api.md exactly as written
# there: starts bin/target and bin/loadgen serve with a fresh SQLite store,
# extracts the ```sh blocks between <!-- walkthrough:start --> and
# <!-- walkthrough:end --> of each (README.md's first) and runs them with
# bash -e (any failing command fails the script).
#
#   docs/api-walkthrough.sh                  # ports 8117 (target) and 8089 (serve)
#   TARGET_ADDR=127.0.0.1:18117 API_ADDR=127.0.0.1:18089 BIN=/tmp/bin docs/api-walkthrough.sh
#
# Needs curl and jq. Output: the walkthrough's own output; logs stay in $WORK.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$root/bin}
TARGET_ADDR=${TARGET_ADDR:-127.0.0.1:8117}
API_ADDR=${API_ADDR:-127.0.0.1:8089}
WORK=${WORK:-$(mktemp -d)}

for tool in curl jq; do
  command -v $tool >/dev/null || { echo "api-walkthrough: $tool is required" >&2; exit 2; }
done
for b in target loadgen; do
  [ -x "$BIN/$b" ] || { echo "api-walkthrough: $BIN/$b missing (run make build)" >&2; exit 2; }
done

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$BIN/target" --addr "$TARGET_ADDR" >"$WORK/target.log" 2>&1 &
pids+=($!)
"$BIN/loadgen" serve --addr "$API_ADDR" --store "sqlite://$WORK/runs.db" >"$WORK/serve.log" 2>&1 &
pids+=($!)

ready() {
  for _ in $(seq 1 100); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.1
  done
  echo "api-walkthrough: $1 did not answer in 10s; logs in $WORK" >&2
  cat "$WORK"/*.log >&2
  exit 1
}
ready "http://$TARGET_ADDR/api/health"
ready "http://$API_ADDR/api/health"

for doc in README.md docs/api.md; do
  script="$WORK/walkthrough-$(basename "$doc" .md).sh"
  awk '/<!-- walkthrough:start -->/ {on=1; next}
       /<!-- walkthrough:end -->/   {on=0}
       on && /^```sh$/ {code=1; next}
       on && /^```$/   {code=0; next}
       on && code' "$root/$doc" >"$script"
  [ -s "$script" ] || { echo "api-walkthrough: no walkthrough found in $doc" >&2; exit 1; }
  echo "api-walkthrough: $doc"
  API="http://$API_ADDR" TARGET="http://$TARGET_ADDR" bash -euo pipefail "$script"
done
echo "api-walkthrough: OK (logs in $WORK)"
