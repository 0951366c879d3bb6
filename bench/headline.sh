#!/usr/bin/env bash
# The open issues' headline measurements in one GPU-check step (run as step "cmd" of scripts/gpu-check.sh, which
# exports JAVA, JVM_FLAGS_STR, CP_BENCH, CP_TESTS and STEP_DIR):
#   1. `gpuos bench --only runtime` (issue 13) and the runtime GPU tests;
#   2. the dependent norm chain (issue 12: residual add -> rms_norm -> affine, 64 steps) with row fusion
#      (HEADLINE_ROWS="true false" adds the unfused planning), and PyTorch eager / CUDA graph on the same chain;
#   3. x[1,k] @ W^T as a replayed capture, tiled vs skinny matmul (issue 14's decode product), GB/s;
#   w78. issue 12's W7 (1,000-step norm chain) and W8 (500-step LSTM cell loop) beside PyTorch (not in the default);
#   4. gpuos-models on the GPU: the HF fixture checks, then generate/embed on full-size random models with HF
#      eager timings (bench/models/gpu_check.sh).
# Every part runs under its own timeout and prints its table; a part that fails does not stop the others.
# HEADLINE_PARTS picks the parts and their order (default "runtime norm matvec models").
set -u
out=${STEP_DIR:?run as gpu-check step cmd}
parts=${HEADLINE_PARTS:-runtime norm matvec models}
# shellcheck disable=SC2206  # JVM_FLAGS_STR is a list of options
J=($JAVA $JVM_FLAGS_STR)

part_runtime() {
  timeout 60 "${J[@]}" -cp "$CP_BENCH" dev.gpuos.bench.Main bench --only runtime --out "$out/runtime" > "$out/runtime.log" 2>&1
  echo "== runtime bench: rc $?"
  python3 bench/runtime_ab.py "$out/runtime"
  tests_dir=$(tr ':' '\n' <<< "$CP_TESTS" | grep 'gpuos-core-tests$' | head -1)
  timeout 120 "${J[@]}" -cp "$CP_TESTS" org.junit.platform.console.ConsoleLauncher \
    execute --disable-banner --disable-ansi-colors --details=summary --scan-class-path="$tests_dir" \
    --include-classname='^([^$]*\.)?(GpuRuntimeTest|GpuTemplateTest|GpuLifecycleTest|GpuStressTest|GpuDecodeShapedTemplateTest)$' \
    --include-tag=gpu --exclude-tag=gpu-fault --exclude-tag=gpu-fuzz --reports-dir="$out/junit-runtime" \
    > "$out/junit-runtime.log" 2>&1
  echo "== runtime GPU tests: rc $?"
  grep -E "tests (successful|failed)|MethodSource|=>" "$out/junit-runtime.log" | head -12
}

part_norm() {
  for rows in ${HEADLINE_ROWS:-true}; do
    echo "== norm chain, row fusion $rows"
    timeout 45 "${J[@]}" -Dgpuos.fusion.rows=$rows -cp "$CP_BENCH" dev.gpuos.bench.fusion.NormChainBench 64 2048 200 2>&1 |
      tee "$out/normchain-rows-$rows.md"
  done
  echo "== norm chain, PyTorch"
  timeout 45 python3 bench/pytorch/norm_chain.py 64 2048 200 2>&1 | tee "$out/normchain-torch.md"
}

part_matvec() {
  echo "== x[1,k] @ W^T, tiled vs skinny"
  timeout 90 "${J[@]}" -cp "$CP_TESTS" dev.gpuos.tensor.gpu.MatvecTiming 2>&1 | tee "$out/matvec.txt"
}

# Issue 12's two held-out workloads at full size, each beside PyTorch eager and CUDA graph: W7, 1,000 dependent
# residual + rms_norm + affine steps on (1, 2048); W8, a 500-step LSTM cell loop on 1024 (8 tensors read a step).
part_w78() {
  echo "== W7 norm chain (1000 steps)"
  timeout 120 "${J[@]}" -cp "$CP_BENCH" dev.gpuos.bench.fusion.NormChainBench 1000 2048 50 2>&1 | tee "$out/w7.md"
  timeout 90 python3 bench/pytorch/norm_chain.py 1000 2048 50 2>&1 | tee "$out/w7-torch.md"
  echo "== W8 lstm cell loop (500 steps)"
  timeout 120 "${J[@]}" -cp "$CP_BENCH" dev.gpuos.bench.fusion.LstmCellBench 500 1024 50 2>&1 | tee "$out/w8.md"
  timeout 90 python3 bench/pytorch/lstm_cell.py 500 1024 50 2>&1 | tee "$out/w8-torch.md"
}

part_models() {
  echo "== gpuos-models"
  mkdir -p "$out/models"
  STEP_DIR=$out/models timeout 240 bash bench/models/gpu_check.sh > "$out/models.log" 2>&1
  echo "rc $?"
  sed -n '/== gpuos-models summary/,$p' "$out/models.log"
}

for p in $parts; do
  declare -F "part_$p" > /dev/null || { echo "headline: unknown part $p"; continue; }
  "part_$p"
done
