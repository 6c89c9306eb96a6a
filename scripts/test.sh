#!/bin/bash
# Installs, builds and runs the whole test suite; ends with one summary line
# "tests: N passed, N failed, N skipped" counted from GoogleTest's reports and
# meson's test log (a binary that crashed or timed out counts as failed).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
bash scripts/build.sh || exit 1
# meson runs each GoogleTest binary with --gtest_output=xml:build/NAME.xml
rm -f build/*.xml
meson test -C build --print-errorlogs --num-processes 2
rc=$?
python3 tests/summarize.py build || rc=1
exit $rc
