#!/usr/bin/env bash
# What a `run` on the GPU machine executes (it sets $OUT; carry .jre and .dist, see scripts/device-pack.sh):
#   bash scripts/device-run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tar -xzf .jre/jre.tgz -C /tmp && bash scripts/gpu-check.sh /tmp/jre/bin/java "${OUT:?OUT must name the folder whose files come back}"
