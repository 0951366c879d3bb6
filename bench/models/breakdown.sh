#!/usr/bin/env bash
# Issue 14's decode breakdown on the GPU machine, as the "cmd" step of scripts/gpu-check.sh (which exports JAVA,
# JVM_FLAGS_STR, CP_TESTS and STEP_DIR): builds only the full-size random Llama folder (make_fixtures.py --full
# --llama-only: the Llama-3.2-1B config in bf16, and the HBM copy rate), then DecodeBreakdownBench: each part of
# the replayed decode step in isolation, the load's legs (serial and pipelined copies), the whole step; then
# GpuHfFixtureTest (BREAKDOWN_HF=0 skips it). About 2 minutes on an H100.
# shellcheck source=bench/models/common.sh
source "$(dirname "$0")/common.sh"
llama_folder 60 4
echo "== DecodeBreakdownBench (HBM copy $copy B/s)"
timeout 90 "${JVM[@]}" -cp "$CP" dev.gpuos.model.DecodeBreakdownBench "$LLAMA" 160 "$copy" 2>&1 | tee "$OUT/breakdown.log" | grep -v '^\s*at '
echo "rc=${PIPESTATUS[0]}"
if [[ ${BREAKDOWN_HF:-1} == 1 ]]; then
  # the loader's host-side stacking and widening and the lazily zeroed caches, against HF's tiny fixtures on the GPU
  echo "== GpuHfFixtureTest"
  timeout 40 "${JVM[@]}" -cp "$CP" org.junit.platform.console.ConsoleLauncher execute --disable-banner \
    --disable-ansi-colors --details=summary --select-class=dev.gpuos.model.GpuHfFixtureTest \
    --reports-dir="$OUT/junit-hf" > "$OUT/hf-fixture.log" 2>&1
  echo "rc=$?"
  grep -E "tests (successful|failed|aborted)|=>|llama .* on|bert " "$OUT/hf-fixture.log" | head -12
fi
