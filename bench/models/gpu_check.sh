#!/usr/bin/env bash
# gpuos-models on the GPU machine, as the "cmd" step of scripts/gpu-check.sh (which exports JAVA, JVM_FLAGS_STR,
# CP_BENCH, CP_TESTS and STEP_DIR):
#   1. every gpuos-models test (HF fixture checks on the CPU and, tagged gpu, on the GPU backend); skip with
#      MODELS_TESTS=0 (when the junit-gpu step runs GpuHfFixtureTest already);
#   2. full-size random models (Llama-3.2-1B config, bf16; all-MiniLM-L6-v2 config, f32), HF eager timings and HF's
#      outputs on the timed inputs, by bench/models/make_fixtures.py --full;
#   3. ModelsBench, one JVM: Llama load, decode tok/s and greedy tokens vs HF's; BERT 1x16 and 32x128 in f32 and
#      bf16 products, ms and cosines vs HF's embeddings;
#   4. with MODELS_CLI=1, ./gpuos generate and embed on those folders too (a JVM each).
# Ends with a short table; each row is also printed ("ROW: ...") as soon as it is known, so a run cut short by the
# step's time limit keeps what it had. Parts 2 and 3 take about a minute on an H100 (each under its own timeout,
# 80 + 90 s at most). Skip parts 2-4 with MODELS_FULL=0.
# shellcheck source=bench/models/common.sh
source "$(dirname "$0")/common.sh"
declare -a rows
row() { rows+=("$1"); echo "ROW: $1"; }

if [[ ${MODELS_TESTS:-1} == 1 ]]; then
  echo "== gpuos-models tests (CPU and GPU backends)"
  timeout 120 "${JVM[@]}" -cp "$CP" org.junit.platform.console.ConsoleLauncher execute \
    --disable-banner --disable-ansi-colors --details=tree --scan-class-path="$DIST/gpuos-models-tests" \
    --reports-dir="$OUT/junit-models" 2>&1 | tee "$OUT/models-tests.log"
  row "tests: $(grep -Eo '[0-9]+ tests successful' "$OUT/models-tests.log" | tail -1), $(grep -Eo "[0-9]+ containers aborted" "$OUT/models-tests.log" | tail -1), $(grep -Eo '[0-9]+ tests failed' "$OUT/models-tests.log" | tail -1), $(grep -Eo '[0-9]+ tests aborted' "$OUT/models-tests.log" | tail -1)"
  while read -r line; do row "$line"; done < <(grep -E '^(tokenizers:|bert |llama .* on)' "$OUT/models-tests.log")
fi

if [[ ${MODELS_FULL:-1} == 1 ]]; then
  echo "== full-size random models, HF eager timings and outputs"
  timeout 80 python3 bench/models/make_fixtures.py --out "$OUT/hf" --full "$FULL" --skip-tiny 2>&1 | tee "$OUT/hf-full.log"
  if [[ -f $OUT/hf/hf_timing.json ]]; then
    row "HF: $(python3 -c "import json;t=json.load(open('$OUT/hf/hf_timing.json'));print(f\"{t['device']}: eager generate {t['llama_eager_generate']['tokens_per_s']:.1f} tok/s ({t['llama_eager_generate']['ms_per_token']:.2f} ms/token); BERT 1x16 {t['bert_eager_1x16_ms']:.3f} ms, 32x128 {t['bert_eager_32x128_ms']:.3f} ms; decode floor {t.get('llama_floor_ms_per_token', float('nan')):.3f} ms/token ({t['llama_weight_bytes']/1e9:.3f} GB at {t.get('hbm_copy_bytes_per_s', 0)/1e12:.2f} TB/s)\")")"
    echo "== ModelsBench (GPUOS on the same folders and inputs)"
    timeout 90 "${JVM[@]}" -cp "$CP" dev.gpuos.model.ModelsBench \
      "$LLAMA" "$MINILM" "$OUT/hf/hf_timing.json" 2>&1 | tee "$OUT/models-bench.log"
    echo "rc=${PIPESTATUS[0]}" >> "$OUT/models-bench.log"
    # the bench prints each row as it goes ("  ..."), then all of them again after "== models bench"
    if grep -q '^== models bench' "$OUT/models-bench.log"; then
      while read -r line; do row "$line"; done < <(sed -n '/^== models bench/,$p' "$OUT/models-bench.log" | tail -n +2)
    else
      while read -r line; do row "$line"; done < <(grep -E '^  (llama|bert) ' "$OUT/models-bench.log"; tail -1 "$OUT/models-bench.log")
    fi
  else
    row "HF: make_fixtures.py --full wrote no hf_timing.json (see hf-full.log)"
  fi
  if [[ ${MODELS_CLI:-0} == 1 ]]; then
    prompt="The quick brown fox jumps over the lazy dog 12"
    echo "== ./gpuos generate 128 tokens (Llama-3.2-1B shape)"
    timeout 120 "${JVM[@]}" -cp "$CP_BENCH" dev.gpuos.bench.Main generate --model "$LLAMA" \
      --prompt "$prompt" --max-tokens 128 --ignore-eos --warmup > "$OUT/generate.txt" 2> "$OUT/generate.log"
    echo "rc=$?" >> "$OUT/generate.log"
    cat "$OUT/generate.log"
    row "generate 128: $(grep -E 'tokens: prefill|rc=' "$OUT/generate.log" | tr '\n' ' ')"
    words="the quick brown fox jumps over lazy dog model token tensor runtime"
    echo "== ./gpuos embed (MiniLM shape)"
    timeout 60 "${JVM[@]}" -cp "$CP_BENCH" dev.gpuos.bench.Main embed --model "$MINILM" \
      --json "$OUT/embed.json" --repeat 30 "$words" 2> "$OUT/embed.log"
    echo "rc=$?" >> "$OUT/embed.log"
    cat "$OUT/embed.log"
    row "embed: $(grep -E 'text\(s\) of|rc=' "$OUT/embed.log" | tr '\n' ' ')"
  fi
fi

echo
echo "== gpuos-models summary"
printf '  %s\n' "${rows[@]}"
