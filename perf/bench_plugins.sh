#!/usr/bin/env bash
# Cost of corsarotrace's three science plugins together: privateer with
# flowtuple alone against flowtuple + dos + report (every metric class, exact
# unique counts), one worker, on the same generated capture, interleaved runs
# in this one script. Prints packets/s of both, their ratio (target >= 0.6)
# and peak RSS. See perf/README.md.
#
# usage: perf/bench_plugins.sh [PACKETS]
#   PACKETS   packets to generate (default 10000000; k/M/G suffixes accepted)
# environment:
#   BUILD      meson build dir with the binaries (default: build)
#   PRIVATEER  appliance binary (default: $BUILD/control/privateer)
#   WORKDIR    directory for capture, configs and logs (default: a fresh
#              mktemp -d, deleted at the end unless KEEP=1); a capture of the
#              same size and seed already there is reused
#   SEED       generator seed (default 1)
#   REPEAT     runs of each config, interleaved; medians and fastest kept (default 3)
# The plugins this build does not have (a `--check-config` refusal) are
# dropped and named in the output, so the script measures what is built.
# exit status: 0 ok; 1 bad usage or a missing tool; 2 a privateer run failed.

set -euo pipefail
export LC_ALL=C
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_plugins: needs bash >= 5" >&2; exit 1; }
die() { echo "bench_plugins: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"

PACKETS_ARG=${1:-10000000}
SEED=${SEED:-1}
PACKETS=$(count_arg "$PACKETS_ARG") || die "bad PACKETS '$PACKETS_ARG'"

find_binaries "$ROOT"

work_dir privateer-bench-plugins

echo "== machine"
machine_info
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) build=$BUILD workdir=$W"

echo "== input"
F="$W/telescope-$PACKETS-seed$SEED.pcap"
[ -s "$F" ] || "$GEN" -o "$F" -n "$PACKETS" --seed "$SEED" -q || die "gen_telescope failed"
echo "capture=$F packets=$PACKETS size_mib=$(mib "$(stat -c %s "$F")")"

# Each plugin's entry in the plugins list: corsaro3's options, all metrics.
plugin_yaml() {
  case $1 in
    flowtuple) printf '  - flowtuple\n' ;;
    dos) printf '  - dos: {min_attack_packets: 25, min_attack_duration: 60, min_attack_packet_rate: 30, rate_window_size: 60, rate_window_slide: 10}\n' ;;
    report) printf '  - report: {output_format: avro, output_row_label: bench}\n' ;;
  esac
}
cfg() {   # NAME PLUGIN...
  local name=$1 p; shift
  printf '# written by perf/bench_plugins.sh (%s)\npacketsource: "%s"\ninterval: 60\nthreads: 1\n' "$name" "$F"
  printf 'outtemplate: "%s/out-%s/privateer-%%P-%%s.avro"\nprometheus: {enabled: no}\nprogress: no\nplugins:\n' "$W" "$name"
  for p in "$@"; do plugin_yaml "$p"; done
}
check() { "$PRIVATEER" -c "$1" --check-config >"$W/check.out" 2>&1; }

cfg alone flowtuple >"$W/alone.yaml"
check "$W/alone.yaml" || die "flowtuple alone refused: $(tail -n 3 "$W/check.out")"
MEASURED=flowtuple DROPPED=""
for p in dos report; do
  # shellcheck disable=SC2086
  cfg try $MEASURED "$p" >"$W/try.yaml"
  if check "$W/try.yaml"; then MEASURED="$MEASURED $p"; else
    DROPPED="$DROPPED $p"
    echo "  not accepted by this build, dropped: $p ($(grep -m1 -o "config key.*" "$W/check.out" | cut -c1-160))"
  fi
done
# shellcheck disable=SC2086
cfg all $MEASURED >"$W/all.yaml"
echo "plugins measured: $MEASURED${DROPPED:+ (dropped:$DROPPED)}"

cat "$F" >/dev/null   # page cache

echo "== runs"
declare -A WALLS ANAS RSS_OF
for ((r = 1; r <= ${REPEAT:-3}; r++)); do
  for name in alone all; do
    rm -rf "$W/out-$name"; mkdir -p "$W/out-$name"
    measure "$name.r$r" "$PRIVATEER" -c "$W/$name.yaml"
    if [ "$RC" -ne 0 ]; then
      echo "bench_plugins: ERROR: $name run failed (rc=$RC):" >&2
      tail -n 15 "$W/$name.r$r.err" "$W/$name.r$r.out" >&2 || true
      exit 2
    fi
    AS=$(sed -n 's/.*analysis (read, decode, plugins) done after \([0-9.]*\) s.*/\1/p' "$W/$name.r$r.out")
    WALLS[$name]="${WALLS[$name]:-} $WALL_S"
    ANAS[$name]="${ANAS[$name]:-} ${AS:-0}"
    RSS_OF[$name]=$(( ${RSS_OF[$name]:-0} > RSS_KB ? ${RSS_OF[$name]:-0} : RSS_KB ))
  done
done
declare -A PPS_OF APPS_OF BEST
for name in alone all; do
  wall=$(printf '%s\n' ${WALLS[$name]} | median)
  ana=$(printf '%s\n' ${ANAS[$name]} | median)
  best=$(printf '%s\n' ${WALLS[$name]} | sort -n | head -n 1)
  PPS_OF[$name]=$(fmt "$(f "$PACKETS / $wall")" 0)
  APPS_OF[$name]=$(fmt "$(f "$PACKETS / ($ana > 0 ? $ana : 1e-9)")" 0)
  BEST[$name]=$(fmt "$(f "$PACKETS / $best")" 0)
  echo "privateer $name: wall s:${WALLS[$name]} (median $wall, fastest $best) pps=${PPS_OF[$name]} fastest_pps=${BEST[$name]}; analysis s:${ANAS[$name]} (median $ana) analysis_pps=${APPS_OF[$name]}; peak_rss_mib=$(fmt "$(f "${RSS_OF[$name]} / 1024")" 1) bytes_per_packet=$(fmt "$(f "${RSS_OF[$name]} * 1024 / $PACKETS")" 2)"
done

echo "== summary"
ratio=$(fmt "$(f "${PPS_OF[all]} / ${PPS_OF[alone]}")" 3)
bratio=$(fmt "$(f "${BEST[all]} / ${BEST[alone]}")" 3)
aratio=$(fmt "$(f "${APPS_OF[all]} / ${APPS_OF[alone]}")" 3)
echo "SUMMARY packets=$PACKETS threads=1 plugins=\"$MEASURED\" alone_pps=${PPS_OF[alone]} all_pps=${PPS_OF[all]} ratio=$ratio fastest_ratio=$bratio analysis_ratio=$aratio peak_rss_mib_all=$(fmt "$(f "${RSS_OF[all]} / 1024")" 1) target_ratio=0.6 $( [ "$MEASURED" = flowtuple ] && echo "target=n/a(no_other_plugin_built)" || awk -v r="$ratio" 'BEGIN { print (r >= 0.6 ? "target=met" : "target=MISSED") }')"
[ "${KEEP:-0}" = 1 ] && echo "kept $W"
exit 0
