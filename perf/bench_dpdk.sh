#!/usr/bin/env bash
# DPDK receive benchmark: privateer (flowtuple) against dpdk-testpmd in
# rxonly mode, both reading the same net_pcap virtual device that replays a
# generated telescope capture from memory (infinite_rx=1). testpmd gives the
# receive-only ceiling of the vdev; privateer's rate is reported as a
# fraction of it. See perf/README.md (bench_dpdk.sh) for what each number
# means.
#
# usage: perf/bench_dpdk.sh [PACKETS] [WORKERS...]
#   PACKETS   packets in the generated capture (default 2000000; k/M suffixes
#             accepted). Every rx queue holds its own copy of the whole file
#             in mbufs, and without hugepages each mbuf takes a 4 KiB page:
#             memory is about N x PACKETS x 4 KiB per run (N = workers).
#   WORKERS   worker counts N to run (N rx queues, N privateer threads, N
#             testpmd forwarding cores), separate arguments or one quoted
#             list (default "1 2")
# environment:
#   BUILD      meson build dir (default build; relative: from the current
#              directory if it exists there, else from the repository root).
#              Nothing is built by this script.
#   PRIVATEER  appliance binary (default $BUILD/control/privateer)
#   TESTPMD    dpdk-testpmd binary (default: dpdk-testpmd on PATH, else
#              /usr/bin/dpdk-testpmd)
#   WORKDIR    capture, configs, logs (default: mktemp -d, deleted at the end
#              unless KEEP=1); a capture of the same size and seed is reused
#   SEED       generator seed (default 1)
#   BURST      privateer dpdk.burst_size (default 32)
#   WARMUP     seconds between the start of receiving and the first sample
#              (default 2)
#   WINDOW     measurement window in seconds (default 10)
#   STARTUP_TIMEOUT  seconds allowed for EAL init + loading the capture into
#              the vdev's rings (default 600)
# exit status: 0 all runs ok; 1 bad usage, missing tool or not enough memory;
# 2 a testpmd or privateer run failed (the other figures are still printed).

set -euo pipefail
export LC_ALL=C

[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_dpdk: needs bash >= 5 (EPOCHREALTIME)" >&2; exit 1; }

die() { echo "bench_dpdk: ERROR: $*" >&2; exit 1; }
warn() { echo "bench_dpdk: WARNING: $*" >&2; }

PACKETS_ARG=${1:-2000000}
[ $# -gt 0 ] && shift
WORKERS=${*:-1 2}
SEED=${SEED:-1}
WARMUP=${WARMUP:-2}
WINDOW=${WINDOW:-10}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-600}

PACKETS=$(awk -v s="$PACKETS_ARG" 'BEGIN {
  m = 1; u = substr(s, length(s));
  if (u == "k" || u == "K") m = 1e3; else if (u == "m" || u == "M") m = 1e6;
  if (m != 1) s = substr(s, 1, length(s) - 1);
  if (s !~ /^[0-9]+(\.[0-9]+)?$/) exit 1;
  printf "%d", s * m + 0.5 }') || die "bad PACKETS '$PACKETS_ARG'"
[ "$PACKETS" -gt 0 ] || die "PACKETS must be > 0"
for n in $WORKERS; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "bad worker count '$n'"; done
for v in WARMUP WINDOW STARTUP_TIMEOUT; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "bad $v '${!v}'"; done
[ "$WINDOW" -gt 0 ] || die "WINDOW must be > 0"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
if [[ "$BUILD" != /* ]]; then
  if [ -d "$BUILD" ]; then BUILD=$(cd "$BUILD" && pwd); else BUILD="$ROOT/$BUILD"; fi
fi
GEN="$BUILD/perf/gen_telescope"
PRIVATEER=${PRIVATEER:-$BUILD/control/privateer}
TIME=/usr/bin/time

if [ -z "${TESTPMD:-}" ]; then
  TESTPMD=$(command -v dpdk-testpmd || true)
  [ -n "$TESTPMD" ] || TESTPMD=/usr/bin/dpdk-testpmd
fi
[ -x "$TESTPMD" ] || die "dpdk-testpmd not found (looked for '$TESTPMD'); it is in Debian's dpdk-dev package: apt-get install dpdk-dev (or set TESTPMD=/path/to/dpdk-testpmd)"
[ -x "$PRIVATEER" ] || die "privateer binary not found at $PRIVATEER; build it (ninja -C $BUILD control/privateer) or set PRIVATEER=..."
[ -x "$GEN" ] || die "$GEN not found; build it: ninja -C $BUILD perf/gen_telescope"
[ -x "$TIME" ] || die "$TIME (GNU time) is required for peak-RSS measurement (apt-get install time)"
command -v curl >/dev/null || die "curl is required to read privateer's Prometheus endpoint"
command -v stdbuf >/dev/null || die "stdbuf (coreutils) is required"

if [ -n "${WORKDIR:-}" ]; then
  mkdir -p "$WORKDIR"
  W=$(cd "$WORKDIR" && pwd)
else
  W=$(mktemp -d "${TMPDIR:-/tmp}/privateer-bench-dpdk.XXXXXX")
fi

# EAL runtime directories of our own runs (file prefix pvtbench-PID-...).
PREFIX="pvtbench-$$"
ACTIVE_PID=""   # the testpmd or privateer process of the run in progress
cleanup() {
  if [ -n "$ACTIVE_PID" ] && kill -0 "$ACTIVE_PID" 2>/dev/null; then
    kill -INT "$ACTIVE_PID" 2>/dev/null || true
    sleep 2
    kill -KILL "$ACTIVE_PID" 2>/dev/null || true
  fi
  rm -rf /var/run/dpdk/"$PREFIX"-* "${XDG_RUNTIME_DIR:-/nonexistent}"/dpdk/"$PREFIX"-* 2>/dev/null || true
  if [ -z "${WORKDIR:-}" ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
}
trap cleanup EXIT

f() { awk "BEGIN { printf \"%.6f\", $1 }"; }
fmt() { awk -v v="$1" -v p="${2:-0}" 'BEGIN { printf "%.*f", p, v }'; }

# ---------------------------------------------------------------- machine

CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$CPU" ] || CPU=$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')
CPU=${CPU:-unknown}
NPROC=$(nproc)
# CPUs this process may run on, expanded from Cpus_allowed_list ("0-1,4").
CPUS=()
for r in $(awk '/^Cpus_allowed_list/ { gsub(/,/, " ", $2); print $2 }' /proc/self/status); do
  if [[ "$r" == *-* ]]; then for ((c = ${r%-*}; c <= ${r#*-}; c++)); do CPUS+=("$c"); done; else CPUS+=("$r"); fi
done
[ "${#CPUS[@]}" -gt 0 ] || for ((c = 0; c < NPROC; c++)); do CPUS+=("$c"); done
NCPU=${#CPUS[@]}
MEMAVAIL_KB=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
echo "== machine"
echo "nproc=$NPROC cpu=\"$CPU\" cpus_allowed=$(IFS=,; echo "${CPUS[*]}") mem_available_mib=$((MEMAVAIL_KB / 1024)) kernel=$(uname -r) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "testpmd=$TESTPMD ($(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null || echo 'version unknown'))"
echo "privateer=$PRIVATEER workdir=$W"

# ---------------------------------------------------------------- memory

# Without hugepages the mempool places each mbuf (2176-byte data room +
# headers, ~2.3 KiB) on its own 4 KiB page, and net_pcap's infinite_rx copies
# the whole capture into mbufs of the application's pool, once per rx queue.
mbufs_for() { echo $(( $1 * PACKETS + $1 * 4096 + 16384 )); }
eal_mib_for() { echo $(( ($(mbufs_for "$1") * 4096 + 1048575) / 1048576 + 512 )); }
MAXN=0
for n in $WORKERS; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
NEED_MIB=$(eal_mib_for "$MAXN")
if [ $((NEED_MIB * 1024)) -gt $((MEMAVAIL_KB * 85 / 100)) ]; then
  die "N=$MAXN with PACKETS=$PACKETS needs about $NEED_MIB MiB (N x PACKETS mbufs at 4 KiB each, no hugepages) but only $((MEMAVAIL_KB / 1024)) MiB are available; give fewer PACKETS (e.g. $0 500000 \"$WORKERS\")"
fi
[ "$(mbufs_for "$MAXN")" -le $((1 << 26)) ] || die "N=$MAXN x PACKETS=$PACKETS exceeds privateer's mbuf_pool_size limit (67108864)"

# ---------------------------------------------------------------- capture

echo "== input"
F="$W/telescope-$PACKETS-seed$SEED.pcap"
if [ -s "$F" ]; then
  echo "reusing $F"
else
  "$GEN" -o "$F" -n "$PACKETS" --seed "$SEED" -q || die "gen_telescope failed"
fi
SIZE=$(stat -c %s "$F")
echo "file=$F packets=$PACKETS size_mib=$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1048576 }')"

# lcores_for N: EAL --lcores mapping for a main lcore + N polling lcores on
# the allowed CPUs; sets LCORES and OVERSUB (a description, or "no").
lcores_for() {
  local n=$1 i map
  if [ $((n + 1)) -le "$NCPU" ]; then
    map="0@${CPUS[0]}"
    for ((i = 1; i <= n; i++)); do map+=",$i@${CPUS[$i]}"; done
    OVERSUB=no
  else
    # Main lcore (mostly asleep in both programs) shares the first CPU with
    # polling lcore 1; pollers wrap around the CPUs if there are more of them.
    map="0@${CPUS[0]}"
    for ((i = 1; i <= n; i++)); do map+=",$i@${CPUS[$(((i - 1) % NCPU))]}"; done
    if [ "$n" -le "$NCPU" ]; then
      OVERSUB="main_lcore_shares_cpu_${CPUS[0]}_with_a_poller"
    else
      OVERSUB="${n}_pollers_on_${NCPU}_cpus"
    fi
  fi
  LCORES=$map
}

# vdev_for N: the net_pcap device with N rx queues, each replaying F.
vdev_for() {
  local n=$1 i v="net_pcap0"
  for ((i = 0; i < n; i++)); do v+=",rx_pcap=$F"; done
  echo "$v,infinite_rx=1"
}

# stop_child PID NAME: SIGINT, then wait up to 30 s for the exit; KILL after.
stop_child() {
  local pid=$1 name=$2 i
  kill -INT "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) still running 30 s after SIGINT: killed"
  kill -KILL "$pid" 2>/dev/null || true
  return 1
}

# child_of PID COMM: the child of PID (GNU time) whose command name is COMM
# (time's children also include the output-stamping loop of testpmd).
child_of() {
  local i c
  for ((i = 0; i < 100; i++)); do
    c=$(ps -o pid=,comm= --ppid "$1" 2>/dev/null | awk -v n="$2" '$2 == n { print $1; exit }')
    [ -n "$c" ] && { echo "$c"; return 0; }
    sleep 0.05
  done
  return 1
}

rss_kb() { awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------- testpmd

# run_testpmd N: sets TP_PPS, TP_DROPS, TP_RSS_KB (or TP_PPS=FAILED).
run_testpmd() {
  local n=$1 log="$W/testpmd-n$n.log" tpid pid start t0= c0= t1= c1= deadline rc
  local mbufs; mbufs=$(mbufs_for "$n")
  TP_PPS=FAILED TP_DROPS=n/a TP_RSS_KB=0
  rm -f "$log"
  # testpmd, non-interactive: starts forwarding by itself and prints port
  # statistics every second until SIGINT. Each output line is stamped with
  # the wall clock as it arrives (stdout line-buffered through stdbuf).
  "$TIME" -v -o "$W/testpmd-n$n.time" stdbuf -oL "$TESTPMD" \
    --no-huge --no-pci -m "$(eal_mib_for "$n")" --log-level lib.eal:error --file-prefix "$PREFIX-tp$n" \
    --lcores "$LCORES" --vdev "$(vdev_for "$n")" \
    -- --forward-mode=rxonly --rxq="$n" --txq="$n" --nb-cores="$n" --stats-period 1 \
    --total-num-mbufs="$mbufs" --no-mlockall --port-topology=loop \
    </dev/null > >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$log") 2>&1 &
  tpid=$!
  pid=$(child_of "$tpid" "$(basename "$TESTPMD" | cut -c1-15)") || { warn "testpmd did not start"; return 1; }
  ACTIVE_PID=$pid
  deadline=$(( ${EPOCHREALTIME%.*} + STARTUP_TIMEOUT ))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      warn "testpmd N=$n exited early; last lines of $log:"; tail -n 8 "$log" >&2; wait "$tpid" || true; return 1
    fi
    start=$(awk '/start packet forwarding/ { print $1; exit }' "$log")
    if [ -n "$start" ]; then
      read -r t0 c0 < <(awk -v s="$start" -v w="$WARMUP" \
        '$1 >= s + w && match($0, /RX-packets: *[0-9]+ +RX-missed/) { split(substr($0, RSTART, RLENGTH), a, /[: ]+/); print $1, a[2]; exit }' "$log") || true
      if [ -n "$t0" ]; then
        read -r t1 c1 < <(awk -v s="$t0" -v w="$WINDOW" \
          '$1 >= s + w && match($0, /RX-packets: *[0-9]+ +RX-missed/) { split(substr($0, RSTART, RLENGTH), a, /[: ]+/); print $1, a[2]; exit }' "$log") || true
        [ -n "$t1" ] && break
      fi
    elif [ "${EPOCHREALTIME%.*}" -gt "$deadline" ]; then
      warn "testpmd N=$n did not start forwarding within $STARTUP_TIMEOUT s"; stop_child "$pid" testpmd || true; wait "$tpid" || true; return 1
    fi
    sleep 0.2
  done
  stop_child "$pid" testpmd || true
  set +e; wait "$tpid"; rc=$?; set -e
  [ "$rc" -eq 0 ] || warn "testpmd N=$n exited with status $rc after SIGINT (figures were taken before)"
  TP_PPS=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
  # Drops in the window: RX-missed + RX-errors + RX-nombuf of the two samples.
  TP_DROPS=$(awk -v s="$t0" -v e="$t1" '
    function num(re,   x) { if (match($0, re)) { x = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", x); return x + 0 } return -1 }
    $1 >= s && $1 <= e {
      v = num("RX-missed: *[0-9]+"); if (v >= 0) { if (!m0s) { m0 = v; m0s = 1 } m1 = v }
      v = num("RX-errors: *[0-9]+"); if (v >= 0) { if (!e0s) { e0 = v; e0s = 1 } e1 = v }
      v = num("RX-nombuf: *[0-9]+"); if (v >= 0) { if (!n0s) { n0 = v; n0s = 1 } n1 = v }
    }
    END { printf "%d", (m1 - m0) + (e1 - e0) + (n1 - n0) }' "$log")
  TP_RSS_KB=$(rss_kb "$W/testpmd-n$n.time")
  TP_WINDOW=$(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", e - s }')
}

# ---------------------------------------------------------------- privateer

# scrape PORT: one line "TIME rx worker imissed no_mbuf rx_error busy idle".
scrape() {
  local a b body
  a=$EPOCHREALTIME
  body=$(curl -sf --max-time 5 "http://127.0.0.1:$1/metrics") || return 1
  b=$EPOCHREALTIME
  awk -v t="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.6f", (a + b) / 2 }')" '
    /^privateer_nic_rx_packets_total\{/             { rx += $NF }
    /^privateer_worker_packets_total\{/             { wk += $NF }
    /^privateer_rx_dropped_packets_total\{.*reason="imissed"/  { im += $NF }
    /^privateer_rx_dropped_packets_total\{.*reason="no_mbuf"/  { nm += $NF }
    /^privateer_rx_dropped_packets_total\{.*reason="rx_error"/ { re += $NF }
    /^privateer_worker_busy_polls_total\{/          { bu += $NF }
    /^privateer_worker_idle_polls_total\{/          { id += $NF }
    END { printf "%s %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", t, rx, wk, im, nm, re, bu, id }' <<<"$body"
}

# run_privateer N: sets PV_* (or PV_PPS=FAILED).
run_privateer() {
  local n=$1 cfg="$W/privateer-n$n.yaml" out="$W/out-n$n" tpid pid port= deadline s0 s1 rc
  PV_PPS=FAILED PV_DROPS=n/a PV_DROP_DETAIL="" PV_BUSY=n/a PV_RSS_KB=0 PV_PACKETS=0 PV_WPPS=n/a
  rm -rf "$out"; mkdir -p "$out"
  cat >"$cfg" <<EOF
# written by perf/bench_dpdk.sh
packetsource: dpdk
dpdk:
  eal: [--no-huge, --no-pci, -m, "$(eal_mib_for "$n")", --log-level, "lib.eal:error", --file-prefix, "$PREFIX-pv$n",
        --lcores, "$LCORES", --vdev, "$(vdev_for "$n")"]
  mbuf_pool_size: $(mbufs_for "$n")
  burst_size: ${BURST:-32}
  ports:
    - device: net_pcap0
      rx_queues: $n
threads: $n
interval: 60
rotatefreq: 0
outtemplate: "$out/%P-%s.avro"
prometheus: {enabled: yes, listen: "127.0.0.1:0"}
progress: no
output: {avro_codec: snappy}
plugins: [flowtuple]
EOF
  "$TIME" -v -o "$W/privateer-n$n.time" "$PRIVATEER" -c "$cfg" </dev/null >"$W/privateer-n$n.out" 2>"$W/privateer-n$n.err" &
  tpid=$!
  pid=$(child_of "$tpid" "$(basename "$PRIVATEER" | cut -c1-15)") || { warn "privateer did not start"; return 1; }
  ACTIVE_PID=$pid
  deadline=$(( ${EPOCHREALTIME%.*} + STARTUP_TIMEOUT ))
  # Up when the metrics endpoint answers and packets are being received.
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      warn "privateer N=$n exited early; config $cfg; last log lines:"; tail -n 8 "$W/privateer-n$n.err" >&2; wait "$tpid" || true; return 1
    fi
    [ -n "$port" ] || port=$(sed -n 's|.*metrics on http://[^ ]*:\([0-9]*\)/metrics.*|\1|p' "$W/privateer-n$n.err" "$W/privateer-n$n.out" | head -1)
    if [ -n "$port" ] && s0=$(scrape "$port") && [ "$(echo "$s0" | cut -d' ' -f2)" -gt 0 ]; then break; fi
    if [ "${EPOCHREALTIME%.*}" -gt "$deadline" ]; then
      warn "privateer N=$n not receiving within $STARTUP_TIMEOUT s"; stop_child "$pid" privateer || true; wait "$tpid" || true; return 1
    fi
    sleep 0.2
  done
  sleep "$WARMUP"
  s0=$(scrape "$port") || { warn "metrics scrape failed"; stop_child "$pid" privateer || true; wait "$tpid" || true; return 1; }
  sleep "$WINDOW"
  s1=$(scrape "$port") || { warn "metrics scrape failed"; stop_child "$pid" privateer || true; wait "$tpid" || true; return 1; }
  stop_child "$pid" privateer || true
  set +e; wait "$tpid"; rc=$?; set -e
  [ "$rc" -eq 0 ] || warn "privateer N=$n exited with status $rc after SIGINT; log $W/privateer-n$n.err"
  read -r PV_PPS PV_WPPS PV_DROPS PV_DROP_DETAIL PV_BUSY PV_WINDOW < <(awk -v a="$s0" -v b="$s1" 'BEGIN {
      split(a, x, " "); split(b, y, " "); dt = y[1] - x[1];
      im = y[4] - x[4]; nm = y[5] - x[5]; re = y[6] - x[6]; bu = y[7] - x[7]; id = y[8] - x[8];
      printf "%.0f %.0f %d imissed=%d,no_mbuf=%d,rx_error=%d %s %.2f\n", (y[2] - x[2]) / dt, (y[3] - x[3]) / dt,
             im + nm + re, im, nm, re, (bu + id > 0 ? sprintf("%.3f", bu / (bu + id)) : "n/a"), dt }')
  PV_RSS_KB=$(rss_kb "$W/privateer-n$n.time")
  # Packets processed over the whole run: privateer's own summary line, else
  # the last sample of the rx counter.
  PV_PACKETS=$(sed -n 's/^privateer: \([0-9]*\) packets.*/\1/p' "$W/privateer-n$n.out" | head -1)
  [ -n "$PV_PACKETS" ] || PV_PACKETS=$(echo "$s1" | cut -d' ' -f2)
  PV_RC=$rc
}

# ---------------------------------------------------------------- runs

STATUS=0
declare -A RESULT
echo "== runs (warm-up ${WARMUP} s, window ${WINDOW} s)"
for n in $WORKERS; do
  lcores_for "$n"
  echo "-- N=$n: --lcores $LCORES oversubscribed=$OVERSUB eal_mem_mib=$(eal_mib_for "$n") mbufs=$(mbufs_for "$n")"
  [ "$OVERSUB" = no ] || warn "N=$n needs $((n + 1)) lcores (main + $n pollers) on $NCPU CPUs: mapped with --lcores $LCORES ($OVERSUB)"
  if run_testpmd "$n"; then
    echo "testpmd N=$n rxonly_pps=$TP_PPS window_s=$TP_WINDOW drops=$TP_DROPS peak_rss_mib=$(fmt "$(f "${TP_RSS_KB:-0} / 1024")" 1)"
  else
    TP_PPS=FAILED; STATUS=2
  fi
  if run_privateer "$n"; then
    echo "privateer N=$n rx_pps=$PV_PPS worker_pps=$PV_WPPS window_s=$PV_WINDOW drops=$PV_DROPS ($PV_DROP_DETAIL) busy_ratio=$PV_BUSY packets_processed=$PV_PACKETS peak_rss_mib=$(fmt "$(f "${PV_RSS_KB:-0} / 1024")" 1) exit=$PV_RC"
    [ "$PV_RC" -eq 0 ] || STATUS=2
  else
    PV_PPS=FAILED; STATUS=2
  fi
  if [ "$TP_PPS" != FAILED ] && [ "$PV_PPS" != FAILED ]; then
    ratio=$(fmt "$(f "$PV_PPS / $TP_PPS")" 3)
  else
    ratio=n/a
  fi
  if [ "$PV_PPS" != FAILED ] && [ "${PV_PACKETS:-0}" -gt 0 ]; then
    bpp=$(fmt "$(f "$PV_RSS_KB * 1024 / $PV_PACKETS")" 2)
    rss=$(fmt "$(f "$PV_RSS_KB / 1024")" 1)
  else
    bpp=n/a rss=n/a
  fi
  RESULT[$n]="testpmd_rxonly_pps=$TP_PPS privateer_pps=$PV_PPS ratio=$ratio drops=${PV_DROPS:-n/a} busy_ratio=${PV_BUSY:-n/a} peak_rss_mib=$rss bytes_per_packet=$bpp replay_mib=$(( n * PACKETS * 4 / 1024 )) oversubscribed=$OVERSUB"
done

echo "== summary"
for n in $WORKERS; do
  echo "RESULT workers=$n packets=$PACKETS nproc=$NPROC cpu=\"$CPU\" ${RESULT[$n]}"
done
[ "${KEEP:-0}" = 1 ] && echo "kept $W"
exit "$STATUS"
