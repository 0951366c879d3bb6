#!/usr/bin/env bash
# Issue 13 on the GPU machine (step "cmd" of scripts/gpu-check.sh: JAVA, JVM_FLAGS_STR, CP_BENCH, CP_TESTS, STEP_DIR):
#   1. `gpuos bench --only runtime` under each worker hand-off (-Dgpuos.worker.handoff), then one table side by
#      side (bench/runtime_ab.py);
#   2. the runtime GPU tests under the new hand-off (spin; the junit-gpu step runs the default, legacy);
#   3. a short differential fuzz (GPU vs CPU backend) under spin.
# Environment: GPUOS_AB_VARIANTS (default "legacy spin"), GPUOS_AB_TESTED (default "spin").
set -u
out=${STEP_DIR:?run as gpu-check step cmd}
tests_dir=$(tr ':' '\n' <<< "$CP_TESTS" | grep 'gpuos-core-tests$' | head -1)
tested=${GPUOS_AB_TESTED:-spin}
i=0
for h in ${GPUOS_AB_VARIANTS:-legacy spin}; do
  i=$((i + 1))
  d=$out/$i-$h
  # shellcheck disable=SC2086
  timeout 60 $JAVA $JVM_FLAGS_STR -Dgpuos.worker.handoff=$h -cp "$CP_BENCH" dev.gpuos.bench.Main bench --only runtime \
      --out "$d" > "$d.log" 2>&1
  echo "== bench $h: rc $?"
done
python3 bench/runtime_ab.py "$out"/[0-9]-*/
# shellcheck disable=SC2086
timeout 120 $JAVA $JVM_FLAGS_STR -Dgpuos.worker.handoff=$tested -cp "$CP_TESTS" org.junit.platform.console.ConsoleLauncher \
    execute --disable-banner --disable-ansi-colors --details=testfeed --scan-class-path="$tests_dir" \
    --include-classname='^([^$]*\.)?(GpuRuntimeTest|GpuTemplateTest|GpuLifecycleTest|GpuStressTest|GpuReplayTest)$' \
    --include-tag=gpu --exclude-tag=gpu-fault --exclude-tag=gpu-fuzz --reports-dir="$out/junit-$tested" \
    > "$out/junit-$tested.log" 2>&1
rc=$?
echo "== GPU tests under -Dgpuos.worker.handoff=$tested: rc $rc"
grep -E ":: FAILED|tests (found|successful|failed|aborted)" "$out/junit-$tested.log" | head -30
for tier in interp native; do
  [[ $tier == interp ]] && m=0.4 || m=0.3
  # shellcheck disable=SC2086
  timeout 60 $JAVA $JVM_FLAGS_STR -Dgpuos.worker.handoff=$tested -cp "$CP_BENCH" dev.gpuos.bench.Main fuzz --backend gpu \
      --tier $tier --minutes $m --out "$out/fuzz-$tier" > "$out/fuzz-$tier.log" 2>&1
  echo "== fuzz $tier under $tested: rc $?"
  tail -3 "$out/fuzz-$tier.log"
done
exit $rc
