# Helpers shared by the perf/ benchmarks (sourced, not run). The caller sets
# W (work directory, e.g. with work_dir) and may set REPEAT (runs per
# measurement, default 3).

# f EXPR: evaluate a floating-point awk expression.
f() { awk "BEGIN { printf \"%.6f\", $1 }"; }
fmt() { awk -v v="$1" -v p="${2:-0}" 'BEGIN { printf "%.*f", p, v }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

TIME=/usr/bin/time

# count_arg S: the count S names, k/M/G suffixes accepted ("10M", "2.5k");
# fails on anything else.
count_arg() {
  awk -v s="$1" 'BEGIN {
    m = 1; u = substr(s, length(s));
    if (u == "k" || u == "K") m = 1e3; else if (u == "m" || u == "M") m = 1e6; else if (u == "g" || u == "G") m = 1e9;
    if (m != 1) s = substr(s, 1, length(s) - 1);
    if (s !~ /^[0-9]+(\.[0-9]+)?$/) exit 1;
    printf "%d", s * m + 0.5 }'
}

# abs_build ROOT: $BUILD (default build), relative to the current directory
# when it exists there, else to ROOT, as an absolute path.
abs_build() {
  local b=${BUILD:-build}
  if [[ "$b" != /* ]]; then
    if [ -d "$b" ]; then b=$(cd "$b" && pwd); else b="$1/$b"; fi
  fi
  printf '%s' "$b"
}

# find_binaries ROOT: sets BUILD (abs_build), GEN (gen_telescope) and
# PRIVATEER (default: the build's), and dies (the caller's die) naming what
# to build when one of them, or GNU time, is missing.
find_binaries() {
  BUILD=$(abs_build "$1")
  GEN="$BUILD/perf/gen_telescope"
  PRIVATEER=${PRIVATEER:-$BUILD/control/privateer}
  [ -x "$TIME" ] || die "$TIME (GNU time) is required"
  [ -x "$GEN" ] || die "$GEN not found; build it: ninja -C $BUILD perf/gen_telescope"
  [ -x "$PRIVATEER" ] || die "$PRIVATEER not found; build it: ninja -C $BUILD control/privateer"
}

# work_dir NAME: sets W to $WORKDIR (made if needed) or to a fresh
# ${TMPDIR:-/tmp}/NAME.XXXXXX removed at exit unless KEEP=1.
work_dir() {
  if [ -n "${WORKDIR:-}" ]; then
    mkdir -p "$WORKDIR"; W=$(cd "$WORKDIR" && pwd)
  else
    W=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$W"' EXIT; fi
  fi
}

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# measure NAME CMD...: runs CMD under GNU time; sets RC, WALL_S, RSS_KB.
# stdout/stderr/time report land in $W/NAME.{out,err,time}.
measure() {
  local name=$1; shift
  local t0 t1
  t0=$EPOCHREALTIME
  set +e
  "$TIME" -v -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err"
  RC=$?
  set -e
  t1=$EPOCHREALTIME
  WALL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
  RSS_KB=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$W/$name.time" 2>/dev/null)
  RSS_KB=${RSS_KB:-0}
}

# measure_median NAME CMD...: runs CMD $REPEAT times (default 3) and keeps
# the run with the median wall time (these machines are noisy); its files
# become $W/NAME.{out,err,time} and it sets WALL_S, RSS_KB, RC.
measure_median() {
  local name=$1; shift
  local r walls=() pick
  for ((r = 1; r <= ${REPEAT:-3}; r++)); do
    measure "$name.r$r" "$@"
    [ "$RC" -eq 0 ] || { cp "$W/$name.r$r.out" "$W/$name.out"; cp "$W/$name.r$r.err" "$W/$name.err"; return; }
    walls+=("$WALL_S $r")
  done
  pick=$(printf '%s\n' "${walls[@]}" | sort -n | awk -v m=$(( (${REPEAT:-3} + 1) / 2 )) 'NR == m { print $2 }')
  for ext in out err time; do cp "$W/$name.r$pick.$ext" "$W/$name.$ext"; done
  WALL_S=$(printf '%s\n' "${walls[@]}" | awk -v p="$pick" '$2 == p { print $1 }')
  RSS_KB=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$W/$name.time")
  echo "  ($name: ${REPEAT:-3} runs, wall s: $(printf '%s\n' "${walls[@]}" | sort -n | awk '{ printf "%s%.3f", (NR > 1 ? " " : ""), $1 }'); median kept)"
}

# report LABEL PACKETS: one line for the run just measured; sets PPS.
report() {
  local label=$1 n=$2
  PPS=$(awk -v n="$n" -v s="$WALL_S" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  printf '%-22s packets=%s wall_s=%s pps=%s peak_rss_mib=%s bytes_per_packet=%s' \
    "$label" "$n" "$(fmt "$WALL_S" 3)" "$PPS" "$(fmt "$(f "$RSS_KB / 1024")" 1)" \
    "$(fmt "$(f "$RSS_KB * 1024 / $n")" 2)"
}

# machine_info: one line about this machine.
machine_info() {
  local cpu mem
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  [ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
  echo "nproc=$(nproc) cpu=\"${cpu:-unknown}\" mem=\"${mem:-unknown}\" kernel=$(uname -r)"
}
