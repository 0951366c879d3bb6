# Sourced by the gpuos-models scripts that run as the "cmd" step of scripts/gpu-check.sh (which exports JAVA,
# JVM_FLAGS_STR, CP_TESTS and STEP_DIR): the shared set-up, and the full-size random Llama folder.
set -uo pipefail
export PYTHONUNBUFFERED=1
DIST=$(dirname "${CP_TESTS%%:*}")
OUT=${STEP_DIR:?}
# shellcheck disable=SC2206  # JVM_FLAGS_STR is a list of options
JVM=($JAVA $JVM_FLAGS_STR)
FULL=/tmp/gpuos-full
LLAMA=$FULL/llama-3.2-1b-random
MINILM=$FULL/minilm-l6-random
CP="$CP_TESTS:$DIST/gpuos-models-tests"

# llama_folder SECONDS LINES: builds only the full-size random Llama folder (make_fixtures.py --full --skip-tiny
# --llama-only: the Llama-3.2-1B config in bf16, and the HBM copy rate; torch frees its memory before the JVMs
# run), prints the last LINES lines of its log and sets copy to the measured copy rate in bytes/s (2.9e12 if none).
llama_folder() {
  echo "== full-size random Llama folder"
  timeout "$1" python3 bench/models/make_fixtures.py --out "$OUT/hf" --full "$FULL" --skip-tiny --llama-only 2>&1 | tail -"$2"
  copy=$(python3 -c "import json;print(json.load(open('$OUT/hf/hf_timing.json')).get('hbm_copy_bytes_per_s', 2.9e12))" 2>/dev/null || echo 2.9e12)
}
