#!/usr/bin/env bash
# bench/run.sh: loadlab's performance harness (issue 3). A benchmark, never a test.
#
# Starts nginx (1 worker, pinned to core 1) on 127.0.0.1:<free port>, pins every generator to core 0,
# and measures each generator with /usr/bin/time: CPU µs per response = (user+sys) / responses, peak RSS.
# Every cell is the median of N interleaved runs. See BENCHMARKS.md for the method and the figures.
#
#   bash bench/run.sh                 # closed + fixed + memory, 3 interleaved runs of 10 s (about 10 minutes)
#   bash bench/run.sh --quick         # 1 run of 3 s each, memory runs of 12 s (about 2 minutes)
#   bash bench/run.sh --soak          # also the 10-minute open-model RSS soak at 2000 req/s
#   bash bench/run.sh --only soak     # only the soak
#   bash bench/run.sh --only profile  # CPU profiles of loadgen (closed 50 VUs, open 5000 req/s) via bench/cmd/lgprof
#   bash bench/run.sh --only closed,fixed --tools loadgen --baseline /tmp/loadgen-old --runs 5
#                                     # interleaved A/B: every loadgen run is paired with one of BIN (rows
#                                     # "loadgen-base"), alternating which goes first
#
# Flags: --runs N, --duration SECONDS, --only closed,fixed,memory,soak,profile, --soak, --tools "wrk hey vegeta loadgen",
#        --rate R (fixed-rate section, default 5000), --vus N (memory section, default 10000),
#        --no-install (fail instead of installing), --no-build (use bin/loadgen as it is), --out DIR,
#        --idle-wait SECONDS (before each run, wait up to this long for the shared box to go quiet; default 120),
#        --baseline BIN (another loadgen binary, measured beside bin/loadgen in the loadgen sections).
# Traffic goes only to 127.0.0.1. Only processes this script started are stopped, by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RUNS=3
DURATION=10
SECTIONS="closed,fixed,memory"
TOOLS="wrk hey vegeta loadgen"
RATE=5000
CONNS=50
MEM_VUS=10000
MEM_BASE_VUS=10
MEM_RAMP=10
MEM_HOLD=20
SOAK_RATE=2000
SOAK_SECONDS=600
SOAK_SAMPLE=10
INSTALL=1
BUILD=1
IDLE_WAIT=120 # seconds to wait for a quiet box before each run (--idle-wait 0 to skip)
IDLE_PCT=15   # "quiet" = the whole box under this much CPU (percent of one core) over one second
OUT=""
BASELINE=""
VEGETA_VERSION=v12.13.0

die() { echo "bench: $*" >&2; exit 1; }
log() { echo ">> $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) RUNS=1; DURATION=3; MEM_RAMP=4; MEM_HOLD=8; SOAK_SECONDS=120 ;;
	--runs) RUNS=$2; shift ;;
	--duration) DURATION=${2%s}; shift ;;
	--only) SECTIONS=$2; shift ;;
	--soak) SECTIONS="$SECTIONS,soak" ;;
	--soak-seconds) SOAK_SECONDS=${2%s}; shift ;;
	--tools) TOOLS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--vus) MEM_VUS=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--no-build) BUILD=0 ;;
	--idle-wait) IDLE_WAIT=${2%s}; shift ;;
	--out) OUT=$2; shift ;;
	--baseline) BASELINE=$2; shift ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) die "unknown flag $1 (see --help)" ;;
	esac
	shift
done
has_section() { case ",$SECTIONS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

[ "$(nproc)" -ge 2 ] || die "needs at least 2 cores (generator on core 0, target on core 1)"

# ---------------------------------------------------------------- install (idempotent)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
install_tools() {
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v hey >/dev/null || missing+=(hey)
	command -v jq >/dev/null || missing+=(jq)
	command -v gawk >/dev/null || missing+=(gawk)
	[ -x /usr/bin/time ] || missing+=(time)
	command -v taskset >/dev/null || missing+=(util-linux)
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$INSTALL" = 1 ] || die "missing ${missing[*]} (run without --no-install)"
		log "apt-get install ${missing[*]}"
		$SUDO apt-get update -qq
		if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; then
			# nginx-light is a transitional package on some releases; fall back to nginx.
			$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]/nginx-light/nginx}"
		fi
	fi
	if ! [ -x bin/vegeta ] || ! go version -m bin/vegeta 2>/dev/null | grep -q "mod.*tsenart/vegeta/v12.*$VEGETA_VERSION"; then
		[ "$INSTALL" = 1 ] || die "bin/vegeta missing (run without --no-install)"
		log "go install github.com/tsenart/vegeta/v12@$VEGETA_VERSION into bin/"
		GOBIN="$ROOT/bin" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
	fi
}
install_tools
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)

# loadgen is measured as `bin/loadgen run` (built by make build, with the product's ldflags). Until that command
# exists, the harness falls back to bench/cmd/lgprof, which runs the same library path (plan.LoadFile + runner.Execute,
# no /metrics server, no store); its rows are labelled "loadgen-lib". lgprof is also the profiler (--profile).
LOADGEN_LDFLAGS='-X=runtime.godebugDefault=schedtrace=2147483647'
LOADGEN_OK=0
LG=()
LG_TOOL=loadgen
LOADGEN_FLAGS=()
LGPROF_OK=0
if has_tool loadgen; then
	if [ "$BUILD" = 1 ]; then
		log "make build"
		make build >&2 || log "make build failed"
		log "go build bench/cmd/lgprof"
		go build -ldflags "$LOADGEN_LDFLAGS" -o bin/lgprof ./bench/cmd/lgprof >&2 || log "lgprof does not build"
	fi
	[ -x bin/lgprof ] && LGPROF_OK=1
	if [ -x bin/loadgen ] && bin/loadgen run -h 2>&1 | grep -q -- '-out-json'; then
		LOADGEN_OK=1
		LG=(bin/loadgen run)
		help=$(bin/loadgen run -h 2>&1 || true)
		grep -q -- '-metrics-addr' <<<"$help" && LOADGEN_FLAGS+=(--metrics-addr 127.0.0.1:0)
		grep -q -- '-linger' <<<"$help" && LOADGEN_FLAGS+=(--linger 0s)
		grep -q -- '-quiet' <<<"$help" && LOADGEN_FLAGS+=(--quiet)
		STORE_FLAG=$(grep -q -- '-store' <<<"$help" && echo yes || true)
	elif [ "$LGPROF_OK" = 1 ]; then
		log "bin/loadgen run is not usable yet: measuring the library path with bin/lgprof (rows 'loadgen-lib')"
		LOADGEN_OK=1
		LG=(bin/lgprof)
		LG_TOOL=loadgen-lib
	else
		log "neither bin/loadgen run nor bin/lgprof is usable: loadgen columns will be empty"
	fi
fi

# ---------------------------------------------------------------- work dir, target
WORK=$(mktemp -d /tmp/loadlab-bench.XXXXXX)
[ -n "$OUT" ] || OUT="$WORK"
mkdir -p "$OUT"
[ -n "${STORE_FLAG:-}" ] && LOADGEN_FLAGS+=(--store "sqlite://$WORK/store.db")
NGINX_PID=""
cleanup() {
	if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
		kill "$NGINX_PID" 2>/dev/null || true
		wait "$NGINX_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	die "no free port found"
}
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
NGX="$WORK/nginx"
mkdir -p "$NGX/tmp"
cat >"$NGX/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 19000;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
daemon off;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / { default_type text/plain; return 200 "ok\n"; }
    }
}
EOF
log "nginx on $URL (core 1), work dir $WORK"
taskset -c 1 "$NGINX_BIN" -e "$NGX/error.log" -p "$NGX" -c "$NGX/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 1 50); do
	curl -fsS -o /dev/null "$URL/" 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null "$URL/" || die "nginx did not come up (see $NGX/error.log)"
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
echo "GET $URL/" >"$WORK/targets.txt"

# ---------------------------------------------------------------- plans
# bench/plans/*.yaml are valid plans with the default figures; the harness rewrites duration, rate and vus per run.
plan() { # plan NAME DURATION [key=value...]  -> path of the rewritten plan (key: N replaced by key: value)
	local name=$1 out="$WORK/$1.$2.yaml" sedargs=(-e "s/^\( *- {name: [a-z]*, \)duration: 10s/\1duration: ${2}s/")
	shift 2
	for kv in "$@"; do sedargs+=(-e "s/\b${kv%%=*}: [0-9]*/${kv%%=*}: ${kv#*=}/g"); done
	sed "${sedargs[@]}" "bench/plans/$name.yaml" >"$out"
	echo "$out"
}

# ---------------------------------------------------------------- measuring
RUNS_TSV="$OUT/runs.tsv"
[ -s "$RUNS_TSV" ] || printf 'section\trep\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kb\tresponses\terrors\trate\tp99_ms\tcpu_us_per_req\ttarget_cpu_pct\tother_cpu_pct\tnote\n' >"$RUNS_TSV"

worker_ticks() { awk '{print $14+$15}' "/proc/$NGINX_WORKER/stat"; }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# to_ms VALUE-WITH-UNIT (wrk/hey style: 1.23ms, 450.00us, 1.2s) -> milliseconds
to_ms() { awk -v v="$1" 'BEGIN{ n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /m$/) n*=60000; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'; }

# wait_idle: other helpers/builds share this box. Before each run wait (up to IDLE_WAIT s) until the whole box used
# under IDLE_PCT % CPU over one second, so runs are less contaminated; the other_cpu_pct column shows what remained.
wait_idle() {
	local waited=0 a b
	while [ "$waited" -lt "$IDLE_WAIT" ]; do
		a=$(busy_ticks); sleep 1; b=$(busy_ticks)
		[ $((b - a)) -le "$IDLE_PCT" ] && return 0
		waited=$((waited + 1))
	done
	log "box still busy after ${IDLE_WAIT}s ($((b - a))% CPU): measuring anyway"
}

# run_one SECTION REP TOOL DURATION -- command...
# Runs the command on core 0 under /usr/bin/time, parses the tool's output, appends one row to runs.tsv.
run_one() {
	local section=$1 rep=$2 tool=$3 dur=$4
	shift 5
	local base="$WORK/$section.$tool.$rep"
	local t0 t1 b0 b1 rc=0
	wait_idle
	t0=$(worker_ticks); b0=$(busy_ticks)
	/usr/bin/time -f "%e %U %S %M" -o "$base.time" taskset -c 0 "$@" >"$base.out" 2>"$base.err" || rc=$?
	t1=$(worker_ticks); b1=$(busy_ticks)
	local wall user sys rss
	read -r wall user sys rss <"$base.time" 2>/dev/null || true
	wall=${wall:-0}; user=${user:-0}; sys=${sys:-0}; rss=${rss:-0}
	# /usr/bin/time writes "Command exited with non-zero status N" first when rc != 0.
	if [ "$rc" != 0 ]; then read -r wall user sys rss < <(tail -1 "$base.time"); fi
	local responses=0 errors=0 rate=0 p99=NA note=""
	case "$tool" in
	wrk)
		responses=$(awk '/requests in/{print $1}' "$base.out")
		errors=$(awk '/Non-2xx/{print $NF}' "$base.out"); errors=${errors:-0}
		local sock; sock=$(grep 'Socket errors' "$base.out" || true)
		[ -n "$sock" ] && note="$sock"
		responses=$((responses - errors))
		rate=$(awk '/Requests\/sec/{print $2}' "$base.out")
		p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$base.out")")
		;;
	hey)
		responses=$(awk '/\[200\]/{print $2}' "$base.out"); responses=${responses:-0}
		errors=$(awk '/Error distribution/{f=1;next} f&&/\[[0-9]+\]/{s+=substr($1,2)+0} END{print s+0}' "$base.out")
		rate=$(awk '/Requests\/sec/{print $2}' "$base.out")
		p99=$(awk '/99% in/{printf "%.3f", $3*1000}' "$base.out")
		;;
	vegeta*)
		bin/vegeta report -type=json "$base.bin" >"$base.json" 2>>"$base.err" || true
		responses=$(jq -r '.status_codes["200"] // 0' "$base.json")
		errors=$(jq -r '.requests - (.status_codes["200"] // 0)' "$base.json")
		rate=$(jq -r '.rate' "$base.json")
		p99=$(jq -r '.latencies["99th"] / 1e6' "$base.json")
		rm -f "$base.bin"
		;;
	loadgen*)
		if [ -s "$base.json" ]; then
			responses=$(jq -r '.requests - .errors' "$base.json")
			errors=$(jq -r '.errors' "$base.json")
			rate=$(jq -r '.rps' "$base.json")
			p99=$(jq -r '.latency_ms.p99' "$base.json")
			note=$(jq -r '"status=\(.status) lag_p99_ms=\(.health.lag_p99_ms) reliable=\(.health.reliable)" + (if (.health.reasons // []) == [] then "" else " (" + (.health.reasons | join("; ")) + ")" end)' "$base.json")
		else
			note="no --out-json (rc=$rc): $(tail -1 "$base.err")"
		fi
		;;
	esac
	[ "$rc" = 0 ] || [ "${tool#loadgen}" != "$tool" ] || note="rc=$rc $note"
	local cpu_us="NA"
	[ "${responses:-0}" -gt 0 ] 2>/dev/null && cpu_us=$(awk -v u="$user" -v s="$sys" -v n="$responses" 'BEGIN{printf "%.2f", (u+s)*1e6/n}')
	local tgt other
	tgt=$(awk -v a="$t0" -v b="$t1" -v w="$wall" 'BEGIN{ if (w>0) printf "%.0f", (b-a)/w; else print "NA" }')
	# CPU used on the box by anything but this generator and nginx (other helpers, builds): a contamination check.
	other=$(awk -v a="$b0" -v b="$b1" -v n0="$t0" -v n1="$t1" -v u="$user" -v s="$sys" -v w="$wall" \
		'BEGIN{ if (w>0) { o=((b-a)-(n1-n0))/w-(u+s)*100/w; if (o<0) o=0; printf "%.0f", o } else print "NA" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$rep" "$tool" "$wall" "$user" "$sys" "$rss" \
		"$responses" "$errors" "$rate" "$p99" "$cpu_us" "$tgt" "$other" "$note" >>"$RUNS_TSV"
	log "$section rep $rep $tool: ${responses} responses, ${rate} req/s, ${cpu_us} µs/req, p99 ${p99} ms, RSS ${rss} KB, nginx ${tgt}%, other ${other}% ${note}"
	sleep 1
}

lg_run() { # lg_run SECTION REP PLANFILE [run flags] -> measured loadgen run (and the baseline's, interleaved)
	local section=$1 rep=$2 planfile=$3 dur=$4
	shift 4
	if [ -n "$BASELINE" ] && [ $((rep % 2)) = 0 ]; then lg_base_run "$section" "$rep" "$planfile" "$dur" "$@"; fi
	run_one "$section" "$rep" "$LG_TOOL" "$dur" -- "${LG[@]}" --target "$URL" --out-json "$WORK/$section.$LG_TOOL.$rep.json" \
		"${LOADGEN_FLAGS[@]}" "$@" "$planfile"
	if [ -n "$BASELINE" ] && [ $((rep % 2)) = 1 ]; then lg_base_run "$section" "$rep" "$planfile" "$dur" "$@"; fi
}
lg_base_run() {
	local section=$1 rep=$2 planfile=$3 dur=$4
	shift 4
	run_one "$section" "$rep" loadgen-base "$dur" -- "$BASELINE" run --target "$URL" --out-json "$WORK/$section.loadgen-base.$rep.json" \
		"${LOADGEN_FLAGS[@]}" "$@" "$planfile"
}

# warm nginx up (not measured)
taskset -c 0 wrk -t1 -c"$CONNS" -d1s "$URL/" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- closed loop, 50 connections
if has_section closed; then
	log "closed loop: $CONNS connections, ${DURATION}s, $RUNS interleaved runs"
	[ "$LOADGEN_OK" = 1 ] && closed_plan=$(plan closed50 "$DURATION")
	for rep in $(seq 1 "$RUNS"); do
		has_tool wrk && run_one closed "$rep" wrk "$DURATION" -- wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$URL/"
		has_tool hey && run_one closed "$rep" hey "$DURATION" -- hey -c "$CONNS" -z "${DURATION}s" "$URL/"
		has_tool vegeta && run_one closed "$rep" vegeta "$DURATION" -- bin/vegeta attack -targets="$WORK/targets.txt" -rate=0 \
			-max-workers="$CONNS" -workers="$CONNS" -duration="${DURATION}s" -output="$WORK/closed.vegeta.$rep.bin"
		[ "$LOADGEN_OK" = 1 ] && lg_run closed "$rep" "$closed_plan" "$DURATION"
	done
fi

# ---------------------------------------------------------------- fixed rate
if has_section fixed; then
	log "fixed rate: $RATE req/s, ${DURATION}s, $RUNS interleaved runs (wrk and hey cannot hold a fixed rate; wrk2 is not in Debian)"
	[ "$LOADGEN_OK" = 1 ] && open_plan=$(plan open5000 "$DURATION" "rate=$RATE")
	for rep in $(seq 1 "$RUNS"); do
		if has_tool vegeta; then
			run_one fixed "$rep" vegeta "$DURATION" -- bin/vegeta attack -targets="$WORK/targets.txt" -rate="$RATE" \
				-workers="$CONNS" -max-workers="$CONNS" -duration="${DURATION}s" -output="$WORK/fixed.vegeta.$rep.bin"
			# vegeta with the same sysmon fix loadgen is built with, for an apples-to-apples ratio.
			run_one fixed "$rep" vegeta+st "$DURATION" -- env GODEBUG=schedtrace=2147483647 bin/vegeta attack \
				-targets="$WORK/targets.txt" -rate="$RATE" -workers="$CONNS" -max-workers="$CONNS" -duration="${DURATION}s" \
				-output="$WORK/fixed.vegeta+st.$rep.bin"
		fi
		[ "$LOADGEN_OK" = 1 ] && lg_run fixed "$rep" "$open_plan" "$DURATION"
	done
fi

# ---------------------------------------------------------------- memory: closed model, many VUs with think time
if has_section memory && [ "$LOADGEN_OK" = 1 ]; then
	log "memory: closed model, $MEM_BASE_VUS and $MEM_VUS VUs, think 1s, ramp ${MEM_RAMP}s + hold ${MEM_HOLD}s"
	for vus in "$MEM_BASE_VUS" "$MEM_VUS"; do
		p="$WORK/mem.$vus.yaml"
		sed -e "s/\b\(vus\|to\): 10000/\1: $vus/g" -e "s/duration: 10s/duration: ${MEM_RAMP}s/" \
			-e "s/duration: 20s/duration: ${MEM_HOLD}s/" bench/plans/memory-closed.yaml >"$p"
		lg_run "memory-$vus" 1 "$p" "$((MEM_RAMP + MEM_HOLD))"
	done
fi

# ---------------------------------------------------------------- soak: open model, RSS sampled every 10 s
if has_section soak && [ "$LOADGEN_OK" = 1 ]; then
	log "soak: open model $SOAK_RATE req/s for ${SOAK_SECONDS}s, VmRSS every ${SOAK_SAMPLE}s"
	p=$(plan open5000 "$SOAK_SECONDS" "rate=$SOAK_RATE")
	SOAK_TSV="$OUT/soak.tsv"
	printf 't_s\tvmrss_kb\n' >"$SOAK_TSV"
	taskset -c 0 "${LG[@]}" --target "$URL" --out-json "$WORK/soak.json" "${LOADGEN_FLAGS[@]}" "$p" \
		>"$WORK/soak.out" 2>"$WORK/soak.err" &
	SOAK_PID=$!
	start=$(date +%s)
	while kill -0 "$SOAK_PID" 2>/dev/null; do
		rss=$(awk '/^VmRSS:/{print $2}' "/proc/$SOAK_PID/status" 2>/dev/null || true)
		[ -n "$rss" ] && printf '%s\t%s\n' "$(($(date +%s) - start))" "$rss" >>"$SOAK_TSV"
		sleep "$SOAK_SAMPLE"
	done
	wait "$SOAK_PID" || log "soak loadgen exited with $?"
fi

# ---------------------------------------------------------------- profile: where loadgen's CPU goes (bin/lgprof, 100 Hz)
if has_section profile && [ "$LGPROF_OK" = 1 ]; then
	for prof in closed50 open5000; do
		p=$(plan "$prof" "$DURATION" "rate=$RATE")
		wait_idle
		log "profile: $prof, ${DURATION}s"
		/usr/bin/time -f "%e %U %S %M" -o "$OUT/profile-$prof.time" taskset -c 0 bin/lgprof -target "$URL" \
			-cpuprofile "$OUT/profile-$prof.pprof" -out-json "$OUT/profile-$prof.json" "$p" >/dev/null 2>"$OUT/profile-$prof.err" || true
		go tool pprof -top -cum -nodecount=45 bin/lgprof "$OUT/profile-$prof.pprof" >"$OUT/profile-$prof.cum.txt" 2>/dev/null || true
		go tool pprof -top -nodecount=25 bin/lgprof "$OUT/profile-$prof.pprof" >"$OUT/profile-$prof.flat.txt" 2>/dev/null || true
	done
fi

# ---------------------------------------------------------------- report
SUMMARY="$OUT/summary.md"
{
	echo "# loadlab bench $(date -u +%Y-%m-%dT%H:%MZ): $RUNS interleaved run(s) of ${DURATION}s, generator on core 0, nginx on core 1"
	echo
	echo "Host: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(go version | cut -d' ' -f3),"
	echo "nginx $("$NGINX_BIN" -v 2>&1 | cut -d/ -f2), wrk $(wrk --version 2>&1 | head -1 | cut -d' ' -f2), hey $(dpkg-query -W -f='${Version}' hey 2>/dev/null), vegeta $VEGETA_VERSION,"
	echo "loadgen $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- internal cmd 2>/dev/null || echo '+dirty')"
	echo
	gawk -F'\t' -v rate="$RATE" -f bench/report.awk "$RUNS_TSV"
	if [ -n "${SOAK_TSV:-}" ] && [ -s "$SOAK_TSV" ]; then
		echo
		echo "## Soak: open model $SOAK_RATE req/s for ${SOAK_SECONDS}s, VmRSS every ${SOAK_SAMPLE}s"
		echo
		awk -F'\t' 'NR>1{printf "%s s: %.1f MB\n", $1, $2/1024}' "$SOAK_TSV" | paste -sd';' | sed 's/;/; /g'
		awk -F'\t' 'NR>1 && $1>=60 { if (min==""||$2<min) min=$2; if ($2>max) max=$2; n++ }
			END { if (n==0) { print "\nno samples after 60 s"; exit }
			      d=(max-min)/min*100; printf "\nafter the first minute (%d samples): min %.1f MB, max %.1f MB, spread %.1f%% -> %s (goal: flat within 10%%)\n", n, min/1024, max/1024, d, (d<=10?"MET":"MISSED") }' "$SOAK_TSV"
		awk -F'\t' 'NR>1 && $1>=180 { if (min==""||$2<min) min=$2; if ($2>max) max=$2; n++ }
			END { if (n>0) printf "from 3 minutes on (%d samples): min %.1f MB, max %.1f MB, spread %.1f%%\n", n, min/1024, max/1024, (max-min)/min*100 }' "$SOAK_TSV"
		[ -s "$WORK/soak.json" ] && jq -r '"soak run: status \(.status), \(.requests) requests, \(.errors) errors, \(.rps) req/s, p99 \(.latency_ms.p99) ms"' "$WORK/soak.json"
	fi
	for prof in closed50 open5000; do
		[ -s "$OUT/profile-$prof.cum.txt" ] || continue
		echo
		echo "## Profile: $prof (bin/lgprof, $(cat "$OUT/profile-$prof.time" | awk '{printf "%s s wall, %.2f s CPU", $1, $2+$3}'); $(jq -r '"\(.requests) requests, \(.rps|floor) req/s"' "$OUT/profile-$prof.json" 2>/dev/null))"
		echo
		echo '```'
		sed -n '1,40p' "$OUT/profile-$prof.cum.txt"
		echo '```'
	done
} >"$SUMMARY"
cat "$SUMMARY"
log "raw runs: $RUNS_TSV; summary: $SUMMARY; outputs: $WORK"
