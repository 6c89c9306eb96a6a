#!/bin/bash
# Installs, builds and runs Privateer on the bundled capture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
rm -rf out/quickstart
build/control/privateer -c configs/quickstart.yaml
