#!/usr/bin/env bash
# bench/h2.sh: the HTTP/2 path of internal/httpclient beside h2load (issue 12). A benchmark, never a test.
#
# Starts nginx (1 worker, pinned to core 1) with TLS and HTTP/2 on 127.0.0.1:<free port> (a self-signed
# certificate made here), and runs, pinned to core 0, alternately:
#   h2load -c CONNS -m STREAMS --rps RATE/CONNS -D DURATION  (nghttp2-client: C, one thread)
#   bench/cmd/h2pace -rate RATE -duration DURATION -version 2 (our client: a paced loop over Host.Do)
#   bin/loadgen run bench/plans/h2open.yaml                (the whole executor: open model at RATE, version "2")
# each measured by /usr/bin/time: CPU µs per request = (user+sys) / successful responses, and the rate achieved.
# Medians of RUNS interleaved runs. --tools picks among "h2load h2pace loadgen" (default: all three).
#
#   bash bench/h2.sh                     # rates 2000 and 5000, 3 runs of 10 s each
#   bash bench/h2.sh --rates "5000" --runs 5 --duration 10
#   H2_HOLD=/tmp/h2url bash bench/h2.sh   # only start nginx: its URL is written to /tmp/h2url, and it runs until
#                                         # that file is removed (to profile bench/cmd/h2pace -cpuprofile by hand)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=3
DURATION=10
RATES="2000 5000"
CONNS=1
STREAMS=100
TOOLS="h2load h2pace loadgen"
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) RUNS=$2; shift ;;
	--duration) DURATION=${2%s}; shift ;;
	--rates) RATES=$2; shift ;;
	--conns) CONNS=$2; shift ;;
	--tools) TOOLS=$2; shift ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "h2.sh: unknown flag $1" >&2; exit 2 ;;
	esac
	shift
done
log() { echo ">> $*" >&2; }
for c in nginx h2load openssl taskset; do
	command -v $c >/dev/null || [ -x /usr/sbin/$c ] || { log "apt-get install nginx-light nghttp2-client openssl util-linux"; apt-get install -y -qq nginx-light nghttp2-client openssl util-linux >&2; break; }
done
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
WORK=$(mktemp -d /tmp/loadlab-h2.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="https://127.0.0.1:$PORT/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat >"$WORK/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	server {
		listen 127.0.0.1:$PORT ssl http2;
		ssl_certificate $WORK/cert.pem;
		ssl_certificate_key $WORK/key.pem;
		location / { return 200 "ok\n"; }
	}
}
NGX
taskset -c 1 "$NGINX_BIN" -p "$WORK" -c "$WORK/nginx.conf" &
NGX_PID=$!
trap 'kill $NGX_PID 2>/dev/null; wait $NGX_PID 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.5; if [ -n "${H2_HOLD:-}" ]; then echo "$URL" >"$H2_HOLD"; while [ -e "$H2_HOLD" ]; do sleep 1; done; exit 0; fi
go build -ldflags '-X=runtime.godebugDefault=schedtrace=2147483647' -o "$WORK/h2pace" ./bench/cmd/h2pace
go build -ldflags '-X=runtime.godebugDefault=schedtrace=2147483647' -o "$WORK/loadgen" ./cmd/loadgen
log "nginx $URL (core 1); generators on core 0; $RUNS runs of ${DURATION}s per rate"
printf "rate\trun\ttool\tok\tcpu_s\tus_per_req\tachieved\n"
for rate in $RATES; do
	per=$((rate / CONNS))
	for run in $(seq 1 "$RUNS"); do
		for tool in $TOOLS; do
			if [ "$tool" = loadgen ]; then
				sed -e "s/duration: 10s, rate: 5000/duration: ${DURATION}s, rate: $rate/" bench/plans/h2open.yaml >"$WORK/plan.yaml"
				rm -f "$WORK/out.json" "$WORK/store.db"
				/usr/bin/time -f "%U %S" -o "$WORK/time" taskset -c 0 "$WORK/loadgen" run "$WORK/plan.yaml" --target "$URL" \
					--quiet --linger 0s --metrics-addr 127.0.0.1:0 --store "sqlite://$WORK/store.db" --out-json "$WORK/out.json" >"$WORK/out" 2>&1 || true
				ok=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"]-d["errors"])' "$WORK/out.json" 2>/dev/null || echo 0)
			elif [ "$tool" = h2load ]; then
				/usr/bin/time -f "%U %S" -o "$WORK/time" taskset -c 0 h2load -c "$CONNS" -m "$STREAMS" --rps "$per" -D "$DURATION" "$URL" >"$WORK/out" 2>&1 || true
				ok=$(awk '/^requests:/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /succeeded/) print $i}' "$WORK/out" | tr -d ,)
			else
				/usr/bin/time -f "%U %S" -o "$WORK/time" taskset -c 0 "$WORK/h2pace" -url "$URL" -rate "$rate" -duration "${DURATION}s" -version 2 -insecure >"$WORK/out" 2>&1 || true
				ok=$(sed -n 's/^RESULT ok=\([0-9]*\).*/\1/p' "$WORK/out")
			fi
			cpu=$(awk '{print $1 + $2}' "$WORK/time")
			ok=${ok:-0}
			awk -v r="$rate" -v run="$run" -v t="$tool" -v ok="$ok" -v cpu="$cpu" -v d="$DURATION" \
				'BEGIN { printf "%s\t%s\t%s\t%d\t%.2f\t%.2f\t%.1f\n", r, run, t, ok, cpu, (ok ? cpu*1e6/ok : 0), ok/d }'
		done
	done
done
