#!/usr/bin/env bash
# Issue 13 on the GPU machine (step "cmd" of scripts/gpu-check.sh: JAVA, JVM_FLAGS_STR, CP_BENCH, CP_TESTS, STEP_DIR):
#   1. `gpuos bench --only runtime` under each worker hand-off (-Dgpuos.worker.handoff), then one table side by
#      side (bench/runtime_ab.py);
#   2. with GPUOS_AB_TESTS=1, the runtime GPU tests under two more variants (the junit-gpu step runs the default);
#   3. a short differential fuzz (GPU vs CPU backend) on the default hand-off.
set -u
out=${STEP_DIR:?run as gpu-check step cmd}
tests_dir=$(tr ':' '\n' <<< "$CP_TESTS" | grep 'gpuos-core-tests$' | head -1)
i=0
for h in ${GPUOS_AB_VARIANTS:-legacy spin spin-oneloop spin-relaxed}; do
  i=$((i + 1))
  d=$out/$i-$h
  # shellcheck disable=SC2086
  timeout 60 $JAVA $JVM_FLAGS_STR -Dgpuos.worker.handoff=$h -cp "$CP_BENCH" dev.gpuos.bench.Main bench --only runtime \
      --out "$d" > "$d.log" 2>&1
  echo "== bench $h: rc $?"
done
python3 bench/runtime_ab.py "$out"/[0-9]-*/
for h in $([[ ${GPUOS_AB_TESTS:-0} == 1 ]] && echo spin-oneloop spin-relaxed); do
  # shellcheck disable=SC2086
  timeout 70 $JAVA $JVM_FLAGS_STR -Dgpuos.worker.handoff=$h -cp "$CP_TESTS" org.junit.platform.console.ConsoleLauncher \
      execute --disable-banner --disable-ansi-colors --details=summary --scan-class-path="$tests_dir" \
      --include-classname='^([^$]*\.)?(GpuRuntimeTest|GpuTemplateTest|GpuLifecycleTest|GpuStressTest)$' \
      --include-tag=gpu --exclude-tag=gpu-fault --exclude-tag=gpu-fuzz --reports-dir="$out/junit-$h" > "$out/junit-$h.log" 2>&1
  echo "== junit $h: rc $?"
  grep -E "tests (found|successful|failed|aborted)|MethodSource|=>" "$out/junit-$h.log" | head -20
done
for tier in interp native; do
  [[ $tier == interp ]] && m=0.4 || m=0.3
  # shellcheck disable=SC2086
  timeout 60 $JAVA $JVM_FLAGS_STR -cp "$CP_BENCH" dev.gpuos.bench.Main fuzz --backend gpu --tier $tier --minutes $m \
      --out "$out/fuzz-$tier" > "$out/fuzz-$tier.log" 2>&1
  echo "== fuzz $tier: rc $?"
  tail -4 "$out/fuzz-$tier.log"
done
