#!/bin/bash
# Installs, builds and runs the whole test suite; ends with one summary line
# "tests: N passed, N failed, N skipped" counted from GoogleTest's reports and
# meson's test log (a binary that crashed or timed out counts as failed).
#   bash scripts/test.sh          the release build in build/
#   bash scripts/test.sh --asan   the same suite built with AddressSanitizer and
#                                 UndefinedBehaviorSanitizer (gcc) in build-asan/:
#                                 a sanitizer report (a leak included, but for
#                                 tests/lsan.supp's) aborts the
#                                 process that made it, so its test fails
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") B=build ;;
  --asan) B=build-asan ;;
  *) echo "usage: scripts/test.sh [--asan]" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh || exit 1
multiplier=1
if [ "$B" = build ]; then
  bash scripts/build.sh || exit 1
else
  if [ ! -f "$B/build.ninja" ]; then
    meson setup "$B" --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
      -Dcpp_args=-fno-sanitize-recover=undefined || exit 1
  fi
  ninja -C "$B" || exit 1
  # Inherited by every privateer the tests start.
  export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
  multiplier=3
fi
# meson runs each GoogleTest binary with --gtest_output=xml:$B/NAME.xml
rm -f "$B"/*.xml
meson test -C "$B" --print-errorlogs --num-processes 2 --timeout-multiplier "$multiplier"
rc=$?
python3 tests/summarize.py "$B" || rc=1
exit $rc
