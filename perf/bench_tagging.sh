#!/usr/bin/env bash
# Cost of tagging: privateer with flowtuple alone against flowtuple with the
# tagging of a production telescope (corsaro3's built-in filters, pfx2as of
# ~512k prefixes, a GeoLite2-City-sized MaxMind database), one worker, on the
# same capture, in this one script. Prints packets/s of both, their ratio
# (target >= 0.8) and the tagging's cost per packet in ns. See perf/README.md.
#
# usage: perf/bench_tagging.sh [PACKETS]
#   PACKETS   packets to generate (default 5000000; k/M/G suffixes accepted)
# environment:
#   BUILD      meson build dir with the binaries (default: build)
#   PRIVATEER  appliance binary (default: $BUILD/control/privateer)
#   WORKDIR    directory for capture, tables, configs and logs (default: a
#              fresh mktemp -d, deleted at the end unless KEEP=1); captures and
#              tables already made there are reused
#   SEED       generator seed (default 1)
#   REPEAT     runs of each measurement; the median wall time is kept (default 3)
#   PFX2AS     pfx2as file to use (default: python3-pyasn's ipasn_20140513 table,
#              512k prefixes, converted to CAIDA's format)
#   MMDB       MaxMind database to use (default: perf/gen_mmdb.py --networks
#              $MMDB_NETWORKS, default 1000000: ~3.2M nodes, ~24 MiB)
#   TAG_YAML   the tagging part of the config, replacing the default one below
# The parts of the default tagging config this build does not accept yet (a
# `--check-config` refusal) are dropped and named in the output, so that the
# script measures whatever tagging is built (all of it: ratio ~1 when none).
# exit status: 0 ok; 1 bad usage or a missing tool; 2 a privateer run failed.

set -euo pipefail
export LC_ALL=C
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_tagging: needs bash >= 5" >&2; exit 1; }
die() { echo "bench_tagging: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"

PACKETS_ARG=${1:-5000000}
SEED=${SEED:-1}
PACKETS=$(count_arg "$PACKETS_ARG") || die "bad PACKETS '$PACKETS_ARG'"

find_binaries "$ROOT"

work_dir privateer-bench-tag

echo "== machine"
machine_info
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) build=$BUILD workdir=$W"

echo "== input"
F="$W/telescope-$PACKETS-seed$SEED.pcap"
[ -s "$F" ] || "$GEN" -o "$F" -n "$PACKETS" --seed "$SEED" -q || die "gen_telescope failed"
echo "capture=$F packets=$PACKETS size_mib=$(mib "$(stat -c %s "$F")")"

if [ -z "${PFX2AS:-}" ]; then
  PFX2AS="$W/pfx2as-ipasn_20140513.txt"
  if [ ! -s "$PFX2AS" ]; then
    src=/usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz
    [ -r "$src" ] || die "$src missing (apt-get install python3-pyasn) and no PFX2AS given"
    zcat "$src" | awk -F'[/\t]' '!/^;/ && NF >= 3 { print $1 "\t" $2 "\t" $3 }' >"$PFX2AS"
  fi
fi
echo "pfx2as=$PFX2AS prefixes=$(wc -l <"$PFX2AS")"
if [ -z "${MMDB:-}" ]; then
  MMDB="$W/synthetic-city-${MMDB_NETWORKS:-1000000}.mmdb"
  [ -s "$MMDB" ] || /usr/bin/python3 "$ROOT/perf/gen_mmdb.py" "$MMDB" --networks "${MMDB_NETWORKS:-1000000}" \
    || die "gen_mmdb.py failed"
fi
echo "mmdb=$MMDB size_mib=$(mib "$(stat -c %s "$MMDB")")"

# The tagging config: each part on its own so that the ones this build
# refuses can be dropped (keys as corsarotrace's; maxmind's directory may
# also name the .mmdb file itself).
PARTS=(filters pfx2as maxmind)
tag_yaml() {   # PART...: the tagging config of these parts
  local p providers=0
  for p in "$@"; do if [ "$p" = filters ]; then printf 'tagging: yes\n'; fi; done
  for p in "$@"; do
    case $p in
      pfx2as|maxmind) [ $providers = 1 ] || printf 'tagproviders:\n'; providers=1 ;;
    esac
    case $p in
      pfx2as) printf '  - pfx2as:\n      prefixfile: %s\n' "$PFX2AS" ;;
      maxmind) printf '  - maxmind:\n      directory: %s\n' "$MMDB" ;;
    esac
  done
}
base_cfg() {   # NAME OUTDIR (plain: no tagging at all; the built-in filters are on by default)
  [ "$1" = plain ] && printf 'tagging: no\n'
  cat <<EOC
# written by perf/bench_tagging.sh ($1)
packetsource: "$F"
interval: 60
threads: 1
outtemplate: "$2/privateer-%P-%s.avro"
plugins: [flowtuple]
prometheus: {enabled: no}
progress: no
output: {avro_codec: deflate}
EOC
}
check() { "$PRIVATEER" -c "$1" --check-config >"$W/check.out" 2>&1; }

mkdir -p "$W/out-plain" "$W/out-tagged"
base_cfg plain "$W/out-plain" >"$W/plain.yaml"
if [ -n "${TAG_YAML:-}" ]; then
  { base_cfg tagged "$W/out-tagged"; printf '%s\n' "$TAG_YAML"; } >"$W/tagged.yaml"
  check "$W/tagged.yaml" || die "TAG_YAML refused: $(tail -n 3 "$W/check.out")"
  MEASURED="TAG_YAML"
else
  MEASURED="" DROPPED=""
  for p in "${PARTS[@]}"; do
    # shellcheck disable=SC2086
    { base_cfg tagged "$W/out-tagged"; tag_yaml $MEASURED "$p"; } >"$W/try.yaml"
    if check "$W/try.yaml"; then
      MEASURED="$MEASURED $p"
    else
      DROPPED="$DROPPED $p"
      echo "  not accepted by this build, dropped: $p ($(grep -m1 -o "config key.*" "$W/check.out" | cut -c1-160))"
    fi
  done
  # shellcheck disable=SC2086
  { base_cfg tagged "$W/out-tagged"; tag_yaml $MEASURED; } >"$W/tagged.yaml"
  MEASURED=${MEASURED# }
  echo "tagging measured: ${MEASURED:-none}${DROPPED:+ (dropped:$DROPPED)}"
fi

cat "$F" >/dev/null   # page cache

echo "== runs"
# Interleaved (plain, tagged, plain, ...) so that the machine's noise hits
# both alike; the median of each is kept.
declare -A WALLS ANAS RSS_OF
for ((r = 1; r <= ${REPEAT:-3}; r++)); do
  for name in plain tagged; do
    rm -rf "$W/out-$name"; mkdir -p "$W/out-$name"
    measure "$name.r$r" "$PRIVATEER" -c "$W/$name.yaml"
    if [ "$RC" -ne 0 ]; then
      echo "bench_tagging: ERROR: $name run failed (rc=$RC):" >&2
      tail -n 15 "$W/$name.r$r.err" "$W/$name.r$r.out" >&2 || true
      exit 2
    fi
    AS=$(sed -n 's/.*analysis (read, decode, plugins) done after \([0-9.]*\) s.*/\1/p' "$W/$name.r$r.out")
    WALLS[$name]="${WALLS[$name]:-} $WALL_S"
    ANAS[$name]="${ANAS[$name]:-} ${AS:-0}"
    RSS_OF[$name]=$RSS_KB
  done
done
declare -A PPS_OF APPS_OF BEST_OF
for name in plain tagged; do
  wall=$(printf '%s\n' ${WALLS[$name]} | median)
  ana=$(printf '%s\n' ${ANAS[$name]} | median)
  best=$(printf '%s\n' ${ANAS[$name]} | sort -n | head -n 1)
  PPS_OF[$name]=$(fmt "$(f "$PACKETS / $wall")" 0)
  APPS_OF[$name]=$(fmt "$(f "$PACKETS / ($ana > 0 ? $ana : 1e-9)")" 0)
  BEST_OF[$name]=$(fmt "$(f "$PACKETS / ($best > 0 ? $best : 1e-9)")" 0)
  echo "privateer $name: wall s:${WALLS[$name]} (median $wall) pps=${PPS_OF[$name]}; analysis s:${ANAS[$name]} (median $ana, fastest $best) analysis_pps=${APPS_OF[$name]} fastest_analysis_pps=${BEST_OF[$name]}; peak_rss_mib=$(fmt "$(f "${RSS_OF[$name]} / 1024")" 1) bytes_per_packet=$(fmt "$(f "${RSS_OF[$name]} * 1024 / $PACKETS")" 2)"
done
echo " (analysis: read, decode, tag and flowtuple, without the last merge and write; the fastest run is the"
echo "  one least disturbed by this machine's other load and by first-touch page zeroing)"

echo "== summary"
ratio=$(fmt "$(f "${PPS_OF[tagged]} / ${PPS_OF[plain]}")" 3)
aratio=$(fmt "$(f "${APPS_OF[tagged]} / ${APPS_OF[plain]}")" 3)
bratio=$(fmt "$(f "${BEST_OF[tagged]} / ${BEST_OF[plain]}")" 3)
bns=$(fmt "$(f "1e9 / ${BEST_OF[tagged]} - 1e9 / ${BEST_OF[plain]}")" 1)
ns=$(fmt "$(f "1e9 / ${APPS_OF[tagged]} - 1e9 / ${APPS_OF[plain]}")" 1)
echo "SUMMARY packets=$PACKETS threads=1 tagging=\"${MEASURED:-none}\" plain_pps=${PPS_OF[plain]} tagged_pps=${PPS_OF[tagged]} ratio=$ratio analysis_ratio=$aratio fastest_analysis_ratio=$bratio tagging_ns_per_packet=$ns fastest_tagging_ns_per_packet=$bns target_ratio=0.8 $( [ -z "${MEASURED:-}" ] && echo "target=n/a(no_tagging_built)" || awk -v r="$ratio" 'BEGIN { print (r >= 0.8 ? "target=met" : "target=MISSED") }')"
[ "${KEEP:-0}" = 1 ] && echo "kept $W"
exit 0
