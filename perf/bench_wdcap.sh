#!/usr/bin/env bash
# wdcap to a local file against dd writing the same bytes in this one script:
# privateer (read, decode, dispatch, the wdcap plugin, merge, write, fsync)
# on a generated capture, writing pcap to WORKDIR; then dd copying the
# capture (as many bytes as privateer wrote, from the page cache) into the
# same directory with conv=fsync. Then gzip and zstd output (compressed on
# the stream's file thread) against `gzip -1 -c` / `zstd -1 -c` of the same
# bytes. The same for plain pcap on a second capture of 1400-byte UDP
# packets (LARGE of them, many flows): per byte, the telescope's 40-60-byte
# packets are the worst case. And privateer with the null plugin (the same read, decode and
# dispatch, nothing written): what the writing itself costs. Interleaved
# runs, medians kept. Prints packets/s, Gbit/s written,
# bytes per packet (peak RSS / packets) and each ratio (target: plain
# pcap >= 0.8 of dd). See perf/README.md.
#
# usage: perf/bench_wdcap.sh [PACKETS]
#   PACKETS   packets to generate (default 3000000; k/M/G suffixes accepted)
#   LARGE     1400-byte packets of the second capture (default 200000)
# environment:
#   BUILD      meson build dir with the binaries (default: build)
#   PRIVATEER  appliance binary (default: $BUILD/control/privateer)
#   WORKDIR    directory for capture, configs, outputs (default: a fresh
#              mktemp -d, deleted at the end unless KEEP=1)
#   THREADS    privateer worker threads (default 2)
#   SEED       generator seed (default 1)
#   REPEAT     runs of each, interleaved; medians kept (default 3)
# exit status: 0 ok; 1 bad usage or a missing tool; 2 a run failed.

set -euo pipefail
export LC_ALL=C
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench_wdcap: needs bash >= 5" >&2; exit 1; }
die() { echo "bench_wdcap: ERROR: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/bench_lib.sh
. "$ROOT/perf/bench_lib.sh"

PACKETS_ARG=${1:-3000000}
SEED=${SEED:-1}
THREADS=${THREADS:-2}
PACKETS=$(count_arg "$PACKETS_ARG") || die "bad PACKETS '$PACKETS_ARG'"
find_binaries "$ROOT"
for t in dd gzip zstd; do command -v $t >/dev/null || die "$t is required"; done

work_dir privateer-bench-wdcap
echo "== machine"
machine_info
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) build=$BUILD workdir=$W threads=$THREADS"

echo "== input"
F="$W/telescope-$PACKETS-seed$SEED.pcap"
[ -s "$F" ] || "$GEN" -o "$F" -n "$PACKETS" --seed "$SEED" -q || die "gen_telescope failed"
echo "capture=$F packets=$PACKETS size_mib=$(mib "$(stat -c %s "$F")")"
cat "$F" >/dev/null   # page cache

LARGE=${LARGE:-200000}
FL="$W/large-$LARGE.pcap"
[ -s "$FL" ] || /usr/bin/python3 - "$FL" "$LARGE" <<'PY' || die "writing the large capture failed"
import random, struct, sys
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
body = bytes(1400 - 42)
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1386, i & 0xffff, 0, 64, 17, 0,
                         rnd.getrandbits(32).to_bytes(4, "big"), bytes([44, 1, 2, 3]))
        fr = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + struct.pack("!HHHH", rnd.getrandbits(16), 53, 1366, 0) + body
        t = 1700000000000000 + i * 10
        f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)) + fr)
PY
echo "large capture=$FL packets=$LARGE size_mib=$(mib "$(stat -c %s "$FL")")"
cat "$FL" >/dev/null

cfg() {   # NAME COMPRESSMETHOD
  printf '# written by perf/bench_wdcap.sh (%s)\npacketsource: "%s"\ninterval: 60\nrotatefreq: 0\nthreads: %s\n' "$1" "$F" "$THREADS"
  printf 'outtemplate: "%s/out-%s/%%P-%%s"\nprometheus: {enabled: no}\nprogress: no\n' "$W" "$1"
  printf 'plugins:\n  - wdcap: {compressmethod: %s, compresslevel: 1}\n' "$2"
}
cfg pcap none | sed '/compresslevel/s/, compresslevel: 1//' >"$W/pcap.yaml"
cfg null none | sed 's/  - wdcap: .*/  - null/' >"$W/null.yaml"
cfg gzip gzip >"$W/gzip.yaml"
cfg zstd zstd >"$W/zstd.yaml"
cfg large none | sed '/compresslevel/s/, compresslevel: 1//' | sed "s|^packetsource: .*|packetsource: \"$FL\"|" >"$W/large.yaml"

run_privateer() {   # NAME RUN
  rm -rf "$W/out-$1"; mkdir -p "$W/out-$1"
  measure "$1.r$2" "$PRIVATEER" -c "$W/$1.yaml"
  if [ "$RC" -ne 0 ]; then
    echo "bench_wdcap: ERROR: privateer $1 failed (rc=$RC):" >&2
    tail -n 15 "$W/$1.r$2.err" "$W/$1.r$2.out" >&2 || true
    exit 2
  fi
  [ "$1" = null ] && return
  local want=$PACKETS
  [ "$1" = large ] && want=$LARGE
  grep -q "wdcap: $want packets in 1 file(s)$" "$W/$1.r$2.out" ||
    { echo "bench_wdcap: ERROR: $1: not every packet written:" >&2; grep "wdcap:" "$W/$1.r$2.out" >&2; exit 2; }
  OUTBYTES=$(stat -c %s "$W"/out-"$1"/wdcap-*[0-9].pcap* | head -n 1)
}

declare -A WALLS RSS_OF BYTES_OF
add() { WALLS[$1]="${WALLS[$1]:-} $WALL_S"; RSS_OF[$1]=$(( ${RSS_OF[$1]:-0} > RSS_KB ? ${RSS_OF[$1]:-0} : RSS_KB )); }
echo "== runs"
for ((r = 1; r <= ${REPEAT:-3}; r++)); do
  run_privateer null "$r"; add null
  for c in pcap gzip zstd; do
    run_privateer "$c" "$r"; add "$c"; BYTES_OF[$c]=$OUTBYTES
  done
  n=${BYTES_OF[pcap]}
  rm -f "$W/dd.out"
  measure "dd.r$r" dd if="$F" of="$W/dd.out" bs=1M count="$n" iflag=count_bytes conv=fsync
  [ "$RC" -eq 0 ] || die "dd failed: $(cat "$W/dd.r$r.err")"
  add dd
  measure "gzipc.r$r" sh -c "head -c $n '$F' | gzip -1 -c > '$W/gzip.out' && sync '$W/gzip.out'"
  add gzipc
  measure "zstdc.r$r" sh -c "head -c $n '$F' | zstd -q -1 -c > '$W/zstd.out' && sync '$W/zstd.out'"
  add zstdc
  run_privateer large "$r"; add large; BYTES_OF[large]=$OUTBYTES
  rm -f "$W/dd.out"
  measure "ddl.r$r" dd if="$FL" of="$W/dd.out" bs=1M count="${BYTES_OF[large]}" iflag=count_bytes conv=fsync
  [ "$RC" -eq 0 ] || die "dd failed: $(cat "$W/ddl.r$r.err")"
  add ddl
done

echo "== results"
declare -A MED
for c in null pcap gzip zstd dd gzipc zstdc large ddl; do MED[$c]=$(printf '%s\n' ${WALLS[$c]} | median); done
line() {   # NAME LABEL [PACKETS BYTES]
  local c=$1 np=${3:-$PACKETS} nb=${4:-${BYTES_OF[pcap]}}
  printf '%-26s wall_s:%s (median %s) pps=%s in_gbit_s=%s' "$2" "${WALLS[$c]}" "$(fmt "${MED[$c]}" 3)" \
    "$(fmt "$(f "$np / ${MED[$c]}")" 0)" "$(fmt "$(f "$nb * 8 / ${MED[$c]} / 1e9")" 3)"
  if [ -n "${RSS_OF[$c]:-}" ] && [ "${RSS_OF[$c]}" -gt 0 ]; then
    printf ' peak_rss_mib=%s bytes_per_packet=%s' "$(fmt "$(f "${RSS_OF[$c]} / 1024")" 1)" "$(fmt "$(f "${RSS_OF[$c]} * 1024 / $np")" 2)"
  fi
  echo
}
line null "privateer null (no output)"
line pcap "privateer wdcap pcap"
line dd "dd conv=fsync (same bytes)"
line gzip "privateer wdcap gzip -1"
line gzipc "gzip -1 -c (same bytes)"
line zstd "privateer wdcap zstd -1"
line zstdc "zstd -1 -c (same bytes)"
line large "privateer wdcap pcap 1400B" "$LARGE" "${BYTES_OF[large]}"
line ddl "dd conv=fsync (same bytes)" "$LARGE" "${BYTES_OF[large]}"
echo "output bytes: pcap=${BYTES_OF[pcap]} gzip=${BYTES_OF[gzip]} zstd=${BYTES_OF[zstd]}"

echo "== summary"
r_dd=$(fmt "$(f "${MED[dd]} / ${MED[pcap]}")" 3)
r_large=$(fmt "$(f "${MED[ddl]} / ${MED[large]}")" 3)
r_null=$(fmt "$(f "${MED[null]} / ${MED[pcap]}")" 3)
r_gz=$(fmt "$(f "${MED[gzipc]} / ${MED[gzip]}")" 3)
r_zs=$(fmt "$(f "${MED[zstdc]} / ${MED[zstd]}")" 3)
echo "SUMMARY packets=$PACKETS threads=$THREADS pcap_pps=$(fmt "$(f "$PACKETS / ${MED[pcap]}")" 0) ratio_vs_dd=$r_dd ratio_vs_dd_1400B=$r_large ratio_vs_null=$r_null gzip_ratio_vs_gzip=$r_gz zstd_ratio_vs_zstd=$r_zs target_ratio_vs_dd=0.8 $(awk -v r="$r_dd" -v l="$r_large" 'BEGIN { print "target_small=" (r >= 0.8 ? "met" : "MISSED") " target_1400B=" (l >= 0.8 ? "met" : "MISSED") }')"
[ "${KEEP:-0}" = 1 ] && echo "kept $W"
exit 0
