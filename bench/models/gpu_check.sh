#!/usr/bin/env bash
# gpuos-models on the GPU machine, as the "cmd" step of scripts/gpu-check.sh (which exports JAVA, JVM_FLAGS_STR,
# CP_BENCH, CP_TESTS and STEP_DIR):
#   1. every gpuos-models test (HF fixture checks on the CPU and, tagged gpu, on the GPU backend);
#   2. full-size random models (Llama-3.2-1B config, bf16; all-MiniLM-L6-v2 config, f32) and HF eager timings,
#      by bench/models/make_fixtures.py --full;
#   3. ./gpuos generate and embed on those models (GPU backend), with their timings.
# Ends with a short table. Skip part 2/3 with MODELS_FULL=0.
set -uo pipefail
export PYTHONUNBUFFERED=1
DIST=$(dirname "${CP_TESTS%%:*}")
OUT=${STEP_DIR:?}
# shellcheck disable=SC2206  # JVM_FLAGS_STR is a list of options
JVM=($JAVA $JVM_FLAGS_STR)
declare -a rows

echo "== gpuos-models tests (CPU and GPU backends)"
timeout 120 "${JVM[@]}" -cp "$CP_TESTS:$DIST/gpuos-models-tests" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --disable-ansi-colors --details=tree --scan-class-path="$DIST/gpuos-models-tests" \
  --reports-dir="$OUT/junit-models" 2>&1 | tee "$OUT/models-tests.log"
rows+=("tests: $(grep -Eo '[0-9]+ tests successful' "$OUT/models-tests.log" | tail -1), $(grep -Eo "[0-9]+ containers aborted" "$OUT/models-tests.log" | tail -1), $(grep -Eo '[0-9]+ tests failed' "$OUT/models-tests.log" | tail -1), $(grep -Eo '[0-9]+ tests aborted' "$OUT/models-tests.log" | tail -1)")
while read -r line; do rows+=("$line"); done < <(grep -E '^(tokenizers:|bert on|llama .* on)' "$OUT/models-tests.log")

if [[ ${MODELS_FULL:-1} == 1 ]]; then
  echo "== full-size random models and HF eager timing"
  timeout 120 python3 bench/models/make_fixtures.py --out "$OUT/hf" --full /tmp/gpuos-full --skip-tiny
  [[ -f $OUT/hf/hf_timing.json ]] && rows+=("HF: $(python3 -c "import json;t=json.load(open('$OUT/hf/hf_timing.json'));print(f\"{t['device']}: eager generate {t['llama_eager_generate']['tokens_per_s']:.1f} tok/s; BERT 1x16 {t['bert_eager_1x16_ms']:.2f} ms, 32x128 {t['bert_eager_32x128_ms']:.2f} ms; decode floor {t.get('llama_floor_ms_per_token', float('nan')):.2f} ms/token\")")")
  echo "== full-size greedy tokens vs HF's (from HF's prompt ids)"
  timeout 90 "${JVM[@]}" -cp "$CP_TESTS:$DIST/gpuos-models-tests" dev.gpuos.model.FullSizeGreedy \
    /tmp/gpuos-full/llama-3.2-1b-random "$OUT/hf/hf_timing.json" 2>&1 | tee "$OUT/full-greedy.log" | tail -5
  while read -r line; do rows+=("$line"); done < <(grep -E '^full-size greedy' "$OUT/full-greedy.log")
  prompt="The quick brown fox jumps over the lazy dog 12"   # about 32 tokens with the small fixture BPE
  for n in 128; do
    echo "== generate $n tokens (Llama-3.2-1B shape, random bf16 weights)"
    timeout 120 "${JVM[@]}" -cp "$CP_BENCH" dev.gpuos.bench.Main generate --model /tmp/gpuos-full/llama-3.2-1b-random \
      --prompt "$prompt" --max-tokens $n --ignore-eos --warmup > "$OUT/generate-$n.txt" 2> "$OUT/generate-$n.log"
    echo "rc=$?" >> "$OUT/generate-$n.log"
    cat "$OUT/generate-$n.log"
    rows+=("generate $n: $(grep -E 'tokens: prefill|rc=' "$OUT/generate-$n.log" | tr '\n' ' ')")
  done
  words="the quick brown fox jumps over lazy dog model token tensor runtime"
  text16=$words
  text128=$(for _ in $(seq 7); do printf '%s ' "$words"; done)   # about 128 tokens
  texts32=()
  for _ in $(seq 32); do texts32+=("$text128"); done
  for spec in "1x16" "32x128" "32x128-bf16"; do
    echo "== embed $spec (MiniLM shape, random f32 weights)"
    if [[ $spec == 1x16 ]]; then args=("$text16"); else args=("${texts32[@]}"); fi
    [[ $spec == *bf16 ]] && args=(--bf16 "${args[@]}")
    timeout 60 "${JVM[@]}" -cp "$CP_BENCH" dev.gpuos.bench.Main embed --model /tmp/gpuos-full/minilm-l6-random \
      --json "$OUT/embed-$spec.json" --repeat 30 "${args[@]}" 2> "$OUT/embed-$spec.log"
    echo "rc=$?" >> "$OUT/embed-$spec.log"
    cat "$OUT/embed-$spec.log"
    rows+=("embed $spec: $(grep -E 'text\(s\) of|rc=' "$OUT/embed-$spec.log" | tr '\n' ' ')")
  done
  echo "== embeddings vs HF (f32) on the same folder"
  timeout 60 python3 bench/models/embed_check.py /tmp/gpuos-full/minilm-l6-random "$OUT"/embed-*.json 2>&1 | tee "$OUT/embed-check.log"
  while read -r line; do rows+=("$line"); done < <(grep -E 'cosine vs HF' "$OUT/embed-check.log")
fi

echo
echo "== gpuos-models summary"
printf '  %s\n' "${rows[@]}"
