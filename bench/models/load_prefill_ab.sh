#!/usr/bin/env bash
# Session 16's (models-5) questions on the GPU machine, as the "cmd" step of scripts/gpu-check.sh (which exports
# JAVA, JVM_FLAGS_STR, CP_TESTS and STEP_DIR); about 60 s on an H100:
#   1. the full-size random Llama folder (make_fixtures.py --full --skip-tiny --llama-only: Llama-3.2-1B config,
#      bf16, and the HBM copy rate; torch runs and frees its memory just before the JVMs, as in gpu_check.sh);
#   2. one JVM, DecodeBreakdownBench firstload,fusionab: the first load leg by leg (the reservation's cuMemAlloc
#      and park, each load's host copies, DMA waits, pinning and the rest; a DMA alone into fresh device memory
#      and again), then with the product fusions on and off: the step's tasks, the whole step back to back,
#      generate tok/s, and the 32-token prefill captured / eager / captured (ms, operators compiled, submissions,
#      tasks each);
#   3. a fresh JVM, DecodeBreakdownBench alloc: raw cuMemAlloc of the weights' blocks twice and in one call before
#      GpuOS starts (freed between passes), then with the worker running;
#   4. with the time left (LPA_REST_S seconds, default 20; 0 skips), the per-part breakdown
#      (fixed,products,small,attention) in a third JVM.
# The lines that answer the questions are printed as they come ("ROW: ..."); full logs in STEP_DIR.
# LPA_SIM=1 tries the script here: the tiny bf16 fixture on the simulated device, no python (timings meaningless).
# shellcheck source=bench/models/common.sh
source "$(dirname "$0")/common.sh"
SIM=()
copy=2.9e12
if [[ ${LPA_SIM:-0} == 1 ]]; then
  LLAMA=gpuos-models/src/test/resources/hf/llama-tiny-untied-bf16
  SIM=(sim)
  CP=$CP_TESTS
else
  llama_folder 45 3
fi
KEY='first load:|load \[|alloc,|step summary|llama prefill|whole decode|generate \(|FAILED|Exception|Error|^rc='
bench() {   # LOG TIMEOUT PARTS
  echo "== DecodeBreakdownBench $3 (a fresh JVM)"
  { timeout "$2" "${JVM[@]}" -cp "$CP" dev.gpuos.model.DecodeBreakdownBench "$LLAMA" 160 "$copy" "$3" "${SIM[@]}" 2>&1; echo "rc=$?"; } \
    | tee "$OUT/$1.log" | awk '/^== decode breakdown/ { table = 1 } !table || /^rc=/ { print; fflush() }' \
    | grep --line-buffered -E "$KEY" | grep --line-buffered -vE '^\s+at ' | sed -u 's/^ */ROW: /'
}
bench firstload-fusionab 60 firstload,fusionab
bench alloc 20 alloc
if (( ${LPA_REST_S:-20} > 0 )) && [[ ${LPA_SIM:-0} != 1 ]]; then
  echo "== per-part breakdown (fixed,products,small,attention; at most ${LPA_REST_S:-20} s)"
  timeout "${LPA_REST_S:-20}" "${JVM[@]}" -cp "$CP" dev.gpuos.model.DecodeBreakdownBench "$LLAMA" 160 "$copy" \
    fixed,products,small,attention 2>&1 | tee "$OUT/parts.log" | grep -vE '^\s+at ' | sed -n '/^== decode breakdown/q;p'
fi
exit 0
