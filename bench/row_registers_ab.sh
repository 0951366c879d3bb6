#!/usr/bin/env bash
# -Dgpuos.fusion.rowRegisters (issue 13: row tasks whose row a warp or block holds in registers) off and on in ONE
# call on the GPU machine, as step "cmd" of scripts/gpu-check.sh (JAVA, JVM_FLAGS_STR, CP_BENCH, CP_TESTS,
# STEP_DIR), each pair off then on, most telling first (a budget cut loses the last):
#   1. RowChainLegs 64 20: a dependent chain of (1, 64) rms_norm steps, a WARP's row: chunked (2 round trips a
#      row) against warp-resident (1 round trip, no barrier); the operator leg and device time per dependent task;
#   2. RowChainLegs 2048 20: W7's link (block-resident either way; on: the reduction's shared reads in flight);
#   3. NormChainBench 1000 64 10 and 1000 2048 10: replayed and streamed, checked against the CPU backend;
#   4. the Llama-3.2-1B decode step's residual + rms_norm links (DecodeBreakdownBench fixed,small on the full-size
#      random folder: "16 x (residual + rms_norm), dependent", per-link cost), off then on.
# A later -D wins over the same one in JVM_FLAGS_STR, so each run's switch is the one named here.
set -u
out=${STEP_DIR:?run as gpu-check step cmd}
off=-Dgpuos.fusion.rowRegisters=false
on=-Dgpuos.fusion.rowRegisters=true
runs=0
pair() {  # SECONDS CLASSPATH CLASS ARGS...
  local sw name seconds=$1 cp=$2
  shift 2
  for sw in "$off" "$on"; do
    runs=$((runs + 1))
    name=$runs-${1##*.}-${sw##*=}
    echo "== $* with $sw"
    # shellcheck disable=SC2086
    timeout "$seconds" $JAVA $JVM_FLAGS_STR "$sw" -cp "$cp" "$@" > "$out/$name.log" 2>&1
    echo "   rc $?"
    grep -E '^\||rror|Exception|max rel|residual|dependent|per-link|fixed' "$out/$name.log" | head -24
  done
}
pair 30 "$CP_BENCH" dev.gpuos.bench.RowChainLegs 64 20
pair 30 "$CP_BENCH" dev.gpuos.bench.RowChainLegs 2048 20
pair 30 "$CP_BENCH" dev.gpuos.bench.fusion.NormChainBench 1000 64 10
pair 30 "$CP_BENCH" dev.gpuos.bench.fusion.NormChainBench 1000 2048 10
# shellcheck source=bench/models/common.sh
source "$(dirname "$0")/models/common.sh"
llama_folder 45 3
pair 40 "$CP" dev.gpuos.model.DecodeBreakdownBench "$LLAMA" 160 "$copy" fixed,small
