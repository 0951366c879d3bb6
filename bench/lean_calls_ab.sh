#!/usr/bin/env bash
# -Dgpuos.jit.leanCalls (issue 13: operators called under a lean ABI) off and on in ONE call on the GPU machine, as
# step "cmd" of scripts/gpu-check.sh (JAVA, JVM_FLAGS_STR, CP_BENCH, CP_TESTS, STEP_DIR), each pair off then on,
# most telling first (a budget cut loses the last):
#   1. RowChainLegs 2048 20: W7's link, the row operator start to barrier, hand-off, device time per dependent task;
#   2. the runtime bench's dependent chains (bench/runtime_ab.sh, variants table:/lean:), one table side by side
#      (chain*_leg_operator_us is where a lean call shows);
#   3. NormChainBench 1000 2048 10: W7 replayed and streamed, checked against the CPU backend.
# A later -D wins over the same one in JVM_FLAGS_STR, so each run's switch is the one named here.
set -u
out=${STEP_DIR:?run as gpu-check step cmd}
off=-Dgpuos.jit.leanCalls=false
on=-Dgpuos.jit.leanCalls=true
pair() {  # CLASS ARGS...
  local sw name
  for sw in "$off" "$on"; do
    name=${1##*.}-${sw##*=}
    echo "== $* with $sw"
    # shellcheck disable=SC2086
    timeout 40 $JAVA $JVM_FLAGS_STR "$sw" -cp "$CP_BENCH" "$@" > "$out/$name.log" 2>&1
    echo "   rc $?"
    grep -E '^\||rror|Exception' "$out/$name.log" | head -24
  done
}
pair dev.gpuos.bench.RowChainLegs 2048 20
GPUOS_AB_VARIANTS='' GPUOS_AB_CHAINS="table:$off lean:$on" GPUOS_AB_TESTED=none GPUOS_AB_FUZZ=0 bash bench/runtime_ab.sh
pair dev.gpuos.bench.fusion.NormChainBench 1000 2048 10
