#!/usr/bin/env bash
# matmul.cu's M_MMA_ASYNC and M_MMA_ROWS (-Dgpuos.matmul.tensorCores=true, off by default) on the GPU machine, as
# the "cmd" step of scripts/gpu-check.sh (which exports JAVA, JVM_FLAGS_STR, CP_TESTS and STEP_DIR), each part under its own timeout:
#   1. GpuTensorCoreMatmulTest (the paths against the CPU backend, BF16 and F16), first: correctness decides the switch;
#   2. BertTensorCoreBench: a MiniLM-shaped BERT, 32 x 128 tokens, bf16 products, in a JVM with the switch off, then
#      one with it on, then one with it on and 32 KB of shared memory a worker block (M_MMA_ASYNC: 4 stages instead
#      of 2; -Dgpuos.worker.smemBytes): ms, and the worst cosine against the first run's embeddings;
#   3. TensorCoreTiming: each BERT 32 x 128 and Llama 32-token prefill product on the scalar tiles, M_MMA and the
#      switch's path (M_MMA_ASYNC; M_MMA_ROWS for 32 rows) in one JVM (us/run, TFLOP/s, differences from M_MMA), and
#      the sums per forward.
# Ends with the rows that matter ("ROW: ..."), also printed as each part ends. About 70 s on an H100 (a guess).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${STEP_DIR:?}
# shellcheck disable=SC2206  # JVM_FLAGS_STR is a list of options
JVM=($JAVA $JVM_FLAGS_STR)
declare -a rows
row() { rows+=("$1"); echo "ROW: $1"; }

echo "== GpuTensorCoreMatmulTest"
timeout "${TC_TEST_S:-45}" "${JVM[@]}" -cp "$CP_TESTS" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --disable-ansi-colors --details=tree --select-class=dev.gpuos.tensor.gpu.GpuTensorCoreMatmulTest \
  --reports-dir="$OUT/junit-tensor-cores" > "$OUT/tc-test.log" 2>&1
echo "rc=$?" >> "$OUT/tc-test.log"
grep -vE '^\s+at ' "$OUT/tc-test.log" | tail -40
row "GpuTensorCoreMatmulTest: $(grep -Eo '[0-9]+ (tests|containers) (successful|failed|aborted)' "$OUT/tc-test.log" | tr '\n' ' ')$(tail -1 "$OUT/tc-test.log")"

echo "== BERT 32x128, bf16 products: switch off, on, on with 32 KB of shared memory a block (4 stages)"
for run in false true true-32k; do
  opt=--save
  [[ $run == true* ]] && opt=--compare
  smem=16384
  [[ $run == *-32k ]] && smem=32768
  timeout "${TC_BERT_S:-30}" "${JVM[@]}" -Dgpuos.matmul.tensorCores=${run%-32k} -Dgpuos.worker.smemBytes=$smem -cp "$CP_TESTS" \
    dev.gpuos.model.BertTensorCoreBench /tmp/gpuos-minilm-tensor-cores $opt "$OUT/bert-tensor-cores-off.bin" > "$OUT/bert-$run.log" 2>&1
  echo "rc=$?" >> "$OUT/bert-$run.log"
  grep -vE '^\s+at ' "$OUT/bert-$run.log" | tail -15
  row "$(grep -E '^ROW: ' "$OUT/bert-$run.log" | sed 's/^ROW: //' || true) $(tail -1 "$OUT/bert-$run.log")"
done

echo "== TensorCoreTiming (bf16)"
timeout "${TC_TIMING_S:-45}" "${JVM[@]}" -cp "$CP_TESTS" dev.gpuos.tensor.gpu.TensorCoreTiming bf16 > "$OUT/tc-timing.log" 2>&1
echo "rc=$?" >> "$OUT/tc-timing.log"
cat "$OUT/tc-timing.log"
while read -r line; do row "$line"; done < <(grep -E 'products per forward|M_MMA_(ASYNC|ROWS)|rc=' "$OUT/tc-timing.log" | grep -v '^==')

echo
echo "== tensor-core summary"
printf '  %s\n' "${rows[@]}"
