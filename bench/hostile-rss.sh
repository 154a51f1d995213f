#!/usr/bin/env bash
# bench/hostile-rss.sh: peak RSS of `loadgen run` with 50 requests in flight against each misbehaviour of
# bench/cmd/hostile (internal/testenv/hostile). A measurement, never a test.
#
# For each behaviour: a closed-model plan of 50 VUs without think time for DURATION seconds, request timeout 2 s,
# run under /usr/bin/time; peak RSS is its %M. Steps that receive a body check `body_contains: "zzz"` (never found),
# so loadgen keeps max_body (default 1 MiB) of every body: the worst case for memory.
#
#   bash bench/hostile-rss.sh                    # build bin/loadgen and bin/hostile, 5 s per behaviour
#   bash bench/hostile-rss.sh --loadgen BIN      # measure another loadgen binary (e.g. an older build)
#   bash bench/hostile-rss.sh --duration 3 --only chunked-endless,big
#
# Prints a table: behaviour, path, peak RSS (MB), requests, errors by reason. Traffic stays on 127.0.0.1.
# Only processes this script started are stopped, by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=5
LOADGEN=""
ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DURATION=${2%s}; shift ;;
	--loadgen) LOADGEN=$2; shift ;;
	--only) ONLY=$2; shift ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "unknown flag $1" >&2; exit 2 ;;
	esac
	shift
done

WORK=$(mktemp -d)
HPID=""
cleanup() {
	if [ -n "$HPID" ]; then kill "$HPID" 2>/dev/null || true; wait "$HPID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "$LOADGEN" ]; then
	go build -ldflags '-X=runtime.godebugDefault=schedtrace=2147483647' -o bin/loadgen ./cmd/loadgen
	LOADGEN=bin/loadgen
fi
go build -o "$WORK/hostile" ./bench/cmd/hostile
"$WORK/hostile" -addr 127.0.0.1:0 >"$WORK/url" 2>/dev/null &
HPID=$!
for _ in $(seq 50); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -1 "$WORK/url")
[ -n "$URL" ] || { echo "hostile server did not start" >&2; exit 1; }

# name | path | keep the body (1) or not (0)
CASES="
ok|/ok|0
cl-absurd|/cl-absurd|0
cl-absurd-trickle|/cl-absurd-trickle|1
cl-negative|/cl-negative|0
cl-overflow|/cl-overflow|0
chunked-endless|/chunked-endless|1
chunked-huge-size|/chunked-huge-size|1
chunked-bad|/chunked-bad|0
big|/big/33554432|1
big-chunked|/big-chunked/33554432|1
big-dropped|/big/33554432|0
header-huge|/header-huge|0
header-endless|/header-endless|0
header-trickle|/header-trickle|0
header-trickle-endless|/header-trickle-endless|0
garbage|/garbage|0
close|/close|0
silent|/silent|0
lone-1xx|/lone/100|0
every-status|*|0
"

printf '%-24s %-24s %10s %9s  %s\n' behaviour path "peak RSS" requests "errors by reason"
echo "$CASES" | while IFS='|' read -r name path keep; do
	[ -n "$name" ] || continue
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
	plan="$WORK/$name.yaml"
	check=""
	[ "$keep" = 1 ] && check='
        check: {body_contains: "zzz"}'
	data=""
	reqpath="$path"
	if [ "$path" = "*" ]; then # every status code 100-599: 1xx (but 101) as an interim response before a 200
		rows=$(for c in $(seq 100 599); do if [ "$c" -lt 200 ] && [ "$c" != 101 ]; then echo -n "[interim/$c],"; else echo -n "[status/$c],"; fi; done)
		data="data: {codes: {columns: [p], rows: [${rows%,}]}}"
		reqpath='/${codes.p}'
	fi
	cat >"$plan" <<EOF
name: hostile-$name
target: $URL
defaults: {timeout: 2s}
$data
scenarios:
  - name: s
    steps:
      - name: hit
        request: {path: "$reqpath"}$check
load:
  model: closed
  phases: [{name: a, duration: ${DURATION}s, vus: 50}]
EOF
	set +e
	/usr/bin/time -f "%M" -o "$WORK/$name.time" "$LOADGEN" run --store off --metrics-addr off --quiet \
		--out-json "$WORK/$name.json" "$plan" >"$WORK/$name.out" 2>&1
	rc=$?
	set -e
	rss=$(tail -1 "$WORK/$name.time")
	if [ -s "$WORK/$name.json" ]; then
		reqs=$(jq -r '.requests' "$WORK/$name.json")
		reasons=$(jq -r '.errors_by_reason | to_entries | map("\(.key) \(.value)") | join(", ")' "$WORK/$name.json")
	else
		reqs="-"
		reasons="exit $rc: $(grep -m1 -E 'panic|error|fatal' "$WORK/$name.out" | cut -c1-80)"
	fi
	[ -n "$reasons" ] || reasons="none"
	printf '%-24s %-24s %7.1f MB %9s  %s\n' "$name" "$path" "$(echo "$rss" | awk '{print $1/1024}')" "$reqs" "$reasons"
done
