#!/usr/bin/env bash
# Throughput / memory benchmark of the flowtuple pipeline against the
# libpcap-alone and tcpdump baselines, all measured in this one script on the
# same capture file. See perf/README.md for what each number means.
#
# usage: perf/bench_flowtuple.sh [PACKETS] [THREADS...]
#   PACKETS   packets to generate (default 10000000; k/M/G suffixes accepted)
#   THREADS   thread counts for privateer, as separate arguments or one quoted
#             list (default "1 2")
# environment:
#   BUILD      meson build dir holding the binaries (default: build; a relative
#              path is taken from the current directory if it exists there,
#              else from the repository root). Nothing is built by this script.
#   PRIVATEER  appliance binary (default: $BUILD/control/privateer)
#   PCAP       use this existing capture instead of generating one
#   WORKDIR    directory for the capture, configs, outputs and logs (default:
#              a fresh mktemp -d, deleted at the end unless KEEP=1). A capture
#              already generated there with the same PACKETS and SEED is reused.
#   SEED       generator seed (default 1)
#   KEEP=1     keep the temporary WORKDIR
#   REPEAT     runs of each measurement; the median wall time is kept (default 3)
#   CODEC      Avro codec for the appliance runs: deflate (default), snappy, null
# exit status: 0 all runs ok; 1 a baseline failed or bad usage; 2 privateer
# missing or a privateer run failed (baseline figures are still printed).

set -euo pipefail
export LC_ALL=C

[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_flowtuple: needs bash >= 5 (EPOCHREALTIME)" >&2; exit 1; }

die() { echo "bench_flowtuple: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"   # helpers: f, fmt, mib, measure, measure_median, report; TIME

PACKETS_ARG=${1:-10000000}
[ $# -gt 0 ] && shift
THREADS=${*:-1 2}
SEED=${SEED:-1}

PACKETS=$(count_arg "$PACKETS_ARG") || die "bad PACKETS '$PACKETS_ARG'"
[ "$PACKETS" -gt 0 ] || die "PACKETS must be > 0"
for t in $THREADS; do [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "bad thread count '$t'"; done

BUILD=$(abs_build "$ROOT")
GEN="$BUILD/perf/gen_telescope"
BASELINE="$BUILD/perf/pcap_baseline"
PRIVATEER=${PRIVATEER:-$BUILD/control/privateer}

[ -x "$TIME" ] || die "$TIME (GNU time) is required for peak-RSS measurement (apt-get install time)"
[ -x "$BASELINE" ] || die "$BASELINE not found; build it: ninja -C $BUILD perf/pcap_baseline"

work_dir privateer-bench

# ---------------------------------------------------------------- machine

echo "== machine"
machine_info
echo "libpcap: $(tcpdump --version 2>/dev/null | grep -i libpcap | head -1 || echo unknown)"
echo "build=$BUILD workdir=$W"

# ---------------------------------------------------------------- capture

echo "== input"
if [ -n "${PCAP:-}" ]; then
  [ -r "$PCAP" ] || die "PCAP=$PCAP is not readable"
  F=$(realpath "$PCAP")
  echo "using existing capture $F (PACKETS argument ignored; count taken from the file)"
else
  F="$W/telescope-$PACKETS-seed$SEED.pcap"
  if [ -s "$F" ]; then
    echo "reusing $F"
  else
    [ -x "$GEN" ] || die "$GEN not found; build it: ninja -C $BUILD perf/gen_telescope"
    t0=$EPOCHREALTIME
    "$GEN" -o "$F" -n "$PACKETS" --seed "$SEED" -q || die "gen_telescope failed"
    t1=$EPOCHREALTIME
    gs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    echo "generated $PACKETS packets in ${gs} s: $(awk -v n="$PACKETS" -v s="$gs" 'BEGIN { printf "%.0f", n / s }') pps (gen_telescope -n $PACKETS --seed $SEED)"
  fi
fi
SIZE=$(stat -c %s "$F")
echo "file=$F size_bytes=$SIZE size_mib=$(mib "$SIZE")"
# Warm the page cache (and the dynamic loader's files) so that every run below
# reads the same cached data: one untimed pass of the baseline.
cat "$F" >/dev/null
"$BASELINE" "$F" >/dev/null || die "pcap_baseline cannot read $F"

# ---------------------------------------------------------------- baselines

echo "== runs"
measure_median pcap_baseline "$BASELINE" "$F"
[ "$RC" -eq 0 ] || { cat "$W/pcap_baseline.err" >&2; die "pcap_baseline failed (rc=$RC)"; }
N=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$W/pcap_baseline.out")
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "pcap_baseline printed no packet count: $(cat "$W/pcap_baseline.out")"
if [ -z "${PCAP:-}" ] && [ "$N" != "$PACKETS" ]; then
  echo "bench_flowtuple: WARNING: file holds $N packets, expected $PACKETS" >&2
fi
INNER_PPS=$(sed -n 's/.*pps=\([0-9.]*\).*/\1/p' "$W/pcap_baseline.out")
report "libpcap(pcap_baseline)" "$N"
BASE_PPS=$PPS
echo " loop_pps=$INNER_PPS"

TCPDUMP_PPS=n/a
if command -v tcpdump >/dev/null; then
  measure_median tcpdump tcpdump -r "$F" -w /dev/null
  if [ "$RC" -eq 0 ]; then
    report "tcpdump -r -w /dev/null" "$N"
    TCPDUMP_PPS=$PPS
    echo " ratio_vs_libpcap=$(fmt "$(f "$PPS / $BASE_PPS")" 3)"
  else
    echo "tcpdump failed (rc=$RC): $(tail -n 3 "$W/tcpdump.err")" >&2
  fi
else
  echo "tcpdump not installed: skipped" >&2
fi

# ---------------------------------------------------------------- privateer

STATUS=0
declare -A SUMMARY
if [ ! -x "$PRIVATEER" ]; then
  echo "bench_flowtuple: ERROR: privateer binary not found at $PRIVATEER" >&2
  echo "bench_flowtuple:        build it first (ninja -C $BUILD control/privateer) or set PRIVATEER=...;" >&2
  echo "bench_flowtuple:        the appliance runs are skipped, only the baselines above are valid." >&2
  for t in $THREADS; do SUMMARY[$t]="status=FAILED reason=privateer_missing"; done
  STATUS=2
else
  for t in $THREADS; do
    out="$W/out-t$t"
    rm -rf "$out"
    mkdir -p "$out"
    cfg="$W/privateer-t$t.yaml"
    cat >"$cfg" <<EOF
# written by perf/bench_flowtuple.sh
packetsource: "$F"
interval: 60
threads: $t
outtemplate: "$out/privateer-%P-%s.avro"
plugins: [flowtuple]
prometheus: {enabled: no}
progress: no
output: {avro_codec: ${CODEC:-deflate}}
EOF
    measure_median "privateer-t$t" "$PRIVATEER" -c "$cfg"
    if [ "$RC" -ne 0 ]; then
      echo "bench_flowtuple: ERROR: privateer with threads=$t failed (rc=$RC); config $cfg; last log lines:" >&2
      tail -n 15 "$W/privateer-t$t.err" "$W/privateer-t$t.out" >&2 || true
      SUMMARY[$t]="status=FAILED reason=exit_$RC"
      STATUS=2
      continue
    fi
    nfiles=$(find "$out" -type f | wc -l)
    obytes=$(find "$out" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    report "privateer threads=$t" "$N"
    ratio=$(fmt "$(f "$PPS / $BASE_PPS")" 3)
    echo " ratio_vs_libpcap=$ratio output_files=$nfiles output_bytes=$obytes"
    # privateer's summary also says when the workers had analysed the last
    # packet, before the last interval was merged and written.
    AS=$(sed -n 's/.*analysis (read, decode, plugins) done after \([0-9.]*\) s.*/\1/p' "$W/privateer-t$t.out")
    if [ -n "$AS" ]; then
      APPS=$(fmt "$(f "$N / $AS")" 0)
      aratio=$(fmt "$(f "$APPS / $BASE_PPS")" 3)
      echo " analysis_s=$AS analysis_pps=$APPS analysis_ratio_vs_libpcap=$aratio (without the final merge and write)"
    else
      APPS=n/a aratio=n/a
    fi
    if [ "$nfiles" -eq 0 ]; then
      echo "bench_flowtuple: WARNING: privateer threads=$t wrote no output files under $out" >&2
    fi
    SUMMARY[$t]="privateer_pps=$PPS ratio_vs_libpcap=$ratio analysis_pps=$APPS analysis_ratio=$aratio codec=${CODEC:-deflate} peak_rss_mib=$(fmt "$(f "$RSS_KB / 1024")" 1) bytes_per_packet=$(fmt "$(f "$RSS_KB * 1024 / $N")" 2) wall_s=$(fmt "$WALL_S" 3)"
  done
fi

# ---------------------------------------------------------------- summary

echo "== summary"
for t in $THREADS; do
  echo "SUMMARY threads=$t packets=$N file_mib=$(mib "$SIZE") libpcap_pps=$BASE_PPS tcpdump_pps=$TCPDUMP_PPS ${SUMMARY[$t]}"
done
[ "${KEEP:-0}" = 1 ] && echo "kept $W"
exit "$STATUS"
