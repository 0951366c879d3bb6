#!/usr/bin/env bash
# BERT's product epilogues on the GPU machine, as the "cmd" step of scripts/gpu-check.sh (which exports JAVA,
# JVM_FLAGS_STR, CP_BENCH, CP_TESTS and STEP_DIR): the MiniLM-shape random folder with HF eager timings and HF's
# embeddings in this call (make_fixtures.py --full --skip-tiny --bert-only, no Llama), then ModelsBench's BERT rows
# alone (-Dgpuos.bench.bertOnly=true): 1 x 16 and 32 x 128, f32 and bf16 products, each captured (product epilogues
# on, the default), captured with -Dgpuos.fusion.productEpilogues=false (the separate tasks), recorded, captured
# again, in one JVM: median ms, tasks a batch, cosine vs HF. About 40 s on an H100.
# shellcheck source=bench/models/common.sh
source "$(dirname "$0")/common.sh"
echo "== full-size random BERT folder, HF eager timings and embeddings"
timeout 60 python3 bench/models/make_fixtures.py --out "$OUT/hf" --full "$FULL" --skip-tiny --bert-only 2>&1 | tail -5
if [[ -f $OUT/hf/hf_timing.json ]]; then
  echo "ROW: HF: $(python3 -c "import json;t=json.load(open('$OUT/hf/hf_timing.json'));print(f\"{t['device']}: BERT eager 1x16 {t['bert_eager_1x16_ms']:.3f} ms, 32x128 {t['bert_eager_32x128_ms']:.3f} ms\")")"
  echo "== ModelsBench, BERT rows (epilogues on / off / recorded / on)"
  timeout 90 "${JVM[@]}" -Dgpuos.bench.bertOnly=true -cp "$CP" dev.gpuos.model.ModelsBench \
    "$FULL/no-llama" "$MINILM" "$OUT/hf/hf_timing.json" 2>&1 | tee "$OUT/bert-epilogues.log" | grep -E '^  bert|rc=|Exception'
  echo "rc=${PIPESTATUS[0]}"
else
  echo "ROW: make_fixtures.py --full --bert-only wrote no hf_timing.json"
fi
