#!/usr/bin/env bash
# Issue 13 on the GPU machine (step "cmd" of scripts/gpu-check.sh: JAVA, JVM_FLAGS_STR, CP_BENCH, CP_TESTS, STEP_DIR):
#   1. `gpuos bench --only runtime` under each variant, then one table side by side (bench/runtime_ab.py);
#   2. the runtime GPU tests under this build;
#   3. a short differential fuzz (GPU vs CPU backend) under it (GPUOS_AB_FUZZ=0: none).
# A variant is NAME (this build) or NAME@DIR: another build's jars (DIR holds gpuos-core.jar, gpuos-bench.jar and
# lib/, as .dist/ does: e.g. main's, to compare before and after in one run). (The worker's hand-off variants,
# -Dgpuos.worker.handoff=legacy|spin and -Dgpuos.worker.ab, are gone: spin won every row and is the only protocol.)
# A variant NAME:OPT[,OPT...] runs this build with those JVM options (a switch's before and after in one run, e.g.
# "chunk1:-Dgpuos.fusion.rowChunk=1 chunked").
# Environment: GPUOS_AB_VARIANTS (default "spin": the whole runtime bench of this build; set but empty: none), GPUOS_AB_QUICK (default
# none: template replays only), GPUOS_AB_CHAINS (default none: the dependent chains' legs only), GPUOS_AB_TESTED
# (default "spin", a label; none: no tests), GPUOS_AB_FUZZ (0: no fuzz), GPUOS_AB_FUZZ_TIERS (default
# "interp native").
set -u
out=${STEP_DIR:?run as gpu-check step cmd}
tests_dir=$(tr ':' '\n' <<< "$CP_TESTS" | grep 'gpuos-core-tests$' | head -1)
tested=${GPUOS_AB_TESTED:-spin}
# the class path of a variant
cp_of() {
  if [[ $1 == *@* ]]; then
    local dir=${1#*@}
    echo "$dir/gpuos-bench.jar:$dir/gpuos-core.jar:$dir/lib/*"
  else
    echo "$CP_BENCH"
  fi
}
i=0
run_bench() {  # VARIANT PARTS TIMEOUT
  i=$((i + 1))
  local name=${1%%@*} opts=()
  if [[ $name == *:* ]]; then IFS=, read -r -a opts <<< "${name#*:}"; name=${name%%:*}; fi
  local d=$out/$(printf %02d $i)-$name
  local t0=$SECONDS
  # shellcheck disable=SC2046,SC2086
  timeout "$3" $JAVA $JVM_FLAGS_STR "${opts[@]}" -Dgpuos.bench.runtime.parts="$2" -cp "$(cp_of "$1")" dev.gpuos.bench.Main \
      bench --only runtime --out "$d" > "$d.log" 2>&1
  echo "== bench $1 ($2): rc $? in $((SECONDS - t0)) s"
}
for v in ${GPUOS_AB_VARIANTS-spin}; do run_bench "$v" all 60; done
for v in ${GPUOS_AB_QUICK:-}; do run_bench "$v" templates 30; done
for v in ${GPUOS_AB_CHAINS:-}; do run_bench "$v" chains 30; done
python3 bench/runtime_ab.py "$out"/[0-9][0-9]-*/
rc=0
if [[ $tested != none ]]; then
  t0=$SECONDS
  # shellcheck disable=SC2046,SC2086
  timeout 150 $JAVA $JVM_FLAGS_STR -cp "$CP_TESTS" org.junit.platform.console.ConsoleLauncher \
      execute --disable-banner --disable-ansi-colors --details=testfeed --scan-class-path="$tests_dir" \
      --include-classname='^([^$]*\.)?(GpuRuntimeTest|GpuTemplateTest|GpuLifecycleTest|GpuStressTest|GpuReplayTest)$' \
      --include-tag=gpu --exclude-tag=gpu-fault --exclude-tag=gpu-fuzz --reports-dir="$out/junit-$tested" \
      > "$out/junit-$tested.log" 2>&1
  rc=$?
  echo "== GPU tests under: rc $rc in $((SECONDS - t0)) s"
  grep -E ":: FAILED|tests (found|successful|failed|aborted)" "$out/junit-$tested.log" | head -30
fi
fuzzed=${tested/none/spin}
if [[ ${GPUOS_AB_FUZZ:-1} != 0 ]]; then
  for tier in ${GPUOS_AB_FUZZ_TIERS:-interp native}; do
    [[ $tier == interp ]] && m=0.4 || m=0.3
    # shellcheck disable=SC2046,SC2086
    timeout 60 $JAVA $JVM_FLAGS_STR -cp "$CP_BENCH" dev.gpuos.bench.Main fuzz --backend gpu \
        --tier $tier --minutes $m --out "$out/fuzz-$tier" > "$out/fuzz-$tier.log" 2>&1
    echo "== fuzz $tier under $fuzzed: rc $?"
    tail -3 "$out/fuzz-$tier.log"
  done
fi
exit $rc
