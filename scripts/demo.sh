#!/usr/bin/env bash
# make demo: start our own target on a free loopback port, run
# testplans/quickstart.yaml against it with bin/loadgen (which prints the
# summary), stop the target, and exit with loadgen's exit code
# (0 passed, 1 run failed, 2 bad plan, 3 thresholds failed).
#
# Env: PLAN (default testplans/quickstart.yaml), TARGET_ADDR (default
# 127.0.0.1:0, a free port), LOADGEN_ARGS (extra flags for loadgen run).
set -euo pipefail

cd "$(dirname "$0")/.."
PLAN=${PLAN:-testplans/quickstart.yaml}
ADDR=${TARGET_ADDR:-127.0.0.1:0}

for bin in bin/target bin/loadgen; do
	if [[ ! -x $bin ]]; then
		echo "demo: $bin is missing: run 'make build' first" >&2
		exit 1
	fi
done
if [[ ! -f $PLAN ]]; then
	echo "demo: plan $PLAN not found" >&2
	exit 2
fi

tmp=$(mktemp -d)
target_pid=""
cleanup() {
	if [[ -n $target_pid ]] && kill -0 "$target_pid" 2>/dev/null; then
		kill "$target_pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$target_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$target_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo ">> starting bin/target on $ADDR"
bin/target --addr "$ADDR" --log.level warn >"$tmp/target.out" 2>"$tmp/target.err" &
target_pid=$!

# The target prints "target listening on HOST:PORT" once it listens.
addr=""
for _ in $(seq 1 100); do
	if ! kill -0 "$target_pid" 2>/dev/null; then
		echo "demo: bin/target exited before listening:" >&2
		cat "$tmp/target.err" >&2
		exit 1
	fi
	addr=$(sed -n 's/^target listening on //p' "$tmp/target.out" | head -n1)
	[[ -n $addr ]] && break
	sleep 0.1
done
if [[ -z $addr ]]; then
	echo "demo: bin/target did not report its address within 10 s" >&2
	exit 1
fi
url="http://$addr"

# Wait for /api/health (bash's /dev/tcp: no curl needed).
host=${addr%:*}
port=${addr##*:}
healthy=""
for _ in $(seq 1 100); do
	# A subshell, so that exec's redirections (fd 3, stderr) stay in it.
	status=$( (exec 3<>"/dev/tcp/$host/$port" &&
		printf 'GET /api/health HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3 &&
		head -n1 <&3) 2>/dev/null || true)
	if [[ $status == *" 200"* ]]; then
		healthy=1
		break
	fi
	sleep 0.1
done
if [[ -z $healthy ]]; then
	echo "demo: $url/api/health did not answer 200 within 10 s" >&2
	exit 1
fi
echo ">> target up at $url (pid $target_pid)"

# Serve loadgen's /metrics on the default port when it is free, else on any.
metrics_addr=127.0.0.1:9646
if (exec 3<>/dev/tcp/127.0.0.1/9646) 2>/dev/null; then
	echo ">> 127.0.0.1:9646 is taken: loadgen serves /metrics on a free port"
	metrics_addr=127.0.0.1:0
fi

echo ">> bin/loadgen run $PLAN --target $url --watch-pid $target_pid"
set +e
# shellcheck disable=SC2086
bin/loadgen run --target "$url" --watch-pid "$target_pid" --metrics-addr "$metrics_addr" ${LOADGEN_ARGS:-} "$PLAN"
code=$?
set -e
case $code in
0) echo ">> demo: passed (exit 0)" ;;
1) echo ">> demo: the run failed (exit 1)" ;;
2) echo ">> demo: bad plan or flags (exit 2)" ;;
3) echo ">> demo: thresholds failed (exit 3)" ;;
*) echo ">> demo: loadgen exited with $code" ;;
esac
exit "$code"
