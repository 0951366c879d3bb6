#!/usr/bin/env bash
# usage: scripts/gpu-check.sh JAVA_BIN OUT_DIR
#
# The whole GPU check, run on the GPU machine from a tree packed by scripts/device-pack.sh (jars in .dist/):
#   nvidia-smi   what GPU and driver the machine has
#   junit-gpu    the core tests tagged "gpu" except "gpu-fuzz" (JUnit console launcher over the test classes)
#   junit-gpu-fuzz  GpuFuzzTest (tag "gpu-fuzz"), not in the default list: the fuzz step runs the fuzzer longer
#   junit-rest   every other core test, as Surefire selects them
#   opcheck      ./gpuos opcheck --out opcheck/: every tensor op on seeded inputs, dumped; then
#                bench/pytorch/op_compare.py opcheck/ (row op-compare) when python3 with torch exists
#   bench        ./gpuos bench --out bench/                     (when the command line has a bench command)
#   pytorch      bench/pytorch/run.py --out bench/              (when present and python3 exists)
#   charts       bench/charts.py bench/: table.md (+ PNGs with matplotlib) from the bench and pytorch results
#   interp       ./gpuos bench --only interp --out interp/: the interpreter tier (issue 6), not in the default list
#   jmh          HostCostBenchmark (JMH): host cost per op on this machine's CPU, jmh/host-cost.json
#   fuzz         ./gpuos fuzz --backend gpu --minutes M --out fuzz/: differential fuzzing, GPU vs CPU backend
#                (GPUOS_FUZZ_S seconds, default 120; fewer if the budget is short)
# Each step runs under `timeout`, its exit status is recorded, and a table closes the run. Exits non-zero
# if any step failed or timed out.
#
# The device returns at most 8 files from OUT_DIR, so loose files live in a work folder under /tmp and OUT_DIR
# gets exactly: gpu-check.log (everything printed), summary.txt (the table), results.tgz (reports, logs,
# bench output). The log and summary grow as steps finish, so a run killed from outside still says how far
# it got.
#
# Environment:
#   GPUOS_CHECK_STEPS      steps to run, in order (default: "nvidia-smi junit-gpu junit-rest bench pytorch charts
#                          opcheck fuzz junit-gpu-fault"); a whole check may need two device calls, e.g.
#                          "nvidia-smi junit-gpu junit-rest bench pytorch charts" then "opcheck fuzz junit-gpu-fault"
#   GPUOS_CHECK_BUDGET_S   seconds for the whole check, bundling included (default 560: a device command
#                          is killed at 600 s); each step's timeout is cut to what is left
#   GPUOS_ALLOW_GPU_SKIPS  1: do not fail junit-gpu when gpu tests skip although nvidia-smi sees a GPU
#   GPUOS_CHECK_JVM_OPTS   extra JVM options for every Java step (space-separated)
#   GPUOS_CHECK_TESTS      only these test classes in the junit steps (simple names, space-separated), e.g.
#                          "GpuTemplateTest GpuReplayTest"
#   GPUOS_CHECK_CMD        the command of step "cmd" (bash -c, in the repo root; JAVA, JVM_FLAGS_STR, CP_BENCH,
#                          CP_TESTS and STEP_DIR, a folder that lands in results.tgz, are exported)
set -uo pipefail

if (( $# != 2 )); then
  echo "usage: $0 JAVA_BIN OUT_DIR" >&2
  exit 2
fi
JAVA=$1
OUT=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=$ROOT/.dist
STEPS=${GPUOS_CHECK_STEPS:-nvidia-smi junit-gpu junit-rest bench pytorch charts opcheck fuzz junit-gpu-fault}
BUDGET=${GPUOS_CHECK_BUDGET_S:-560}
RESERVE=20   # seconds kept back for the summary and the bundle
# AlwaysPreTouch: the heap's pages are touched once at start, as a long-running JVM's have been. Without it every
# fresh array lands on never-touched pages until the first GC; a 256 KiB float[] then costs ~150 us of page faults
# instead of ~16 us (measured on the development machine), which a latency figure would wrongly charge to GPUOS.
JVM_FLAGS=(--enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx16g -XX:+AlwaysPreTouch)
# Extra JVM options for every Java step, e.g. GPUOS_CHECK_JVM_OPTS=-Dgpuos.replay.recordsInDevice=false
read -r -a EXTRA_JVM_FLAGS <<< "${GPUOS_CHECK_JVM_OPTS:-}"
JVM_FLAGS+=("${EXTRA_JVM_FLAGS[@]}")
# Surefire's default selection (Test*, *Test, *Tests, *TestCase; no nested classes), so both runs agree.
JUNIT_CLASSES='^([^$]*\.)?(Test[^.$]*|[^.$]*(Test|Tests|TestCase))$'
if [[ -n ${GPUOS_CHECK_TESTS:-} ]]; then
  read -r -a only_tests <<< "$GPUOS_CHECK_TESTS"
  JUNIT_CLASSES="^([^\$]*\\.)?($(IFS='|'; echo "${only_tests[*]}"))\$"
fi

START=$SECONDS
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/gpu-check.log
SUMMARY=$OUT/summary.txt
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
: > "$LOG"
: > "$SUMMARY"
ROWS=$WORK/steps.tsv
: > "$ROWS"
GPU_SEEN=0

say() { printf '%s\n' "$*" | tee -a "$LOG"; }

# record NAME STATUS RC SECONDS NOTE: a table row; FAIL and TIMEOUT make the check fail.
record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"
  printf '%-11s %-8s %-4s %5ss  %s\n' "$@" >> "$SUMMARY"
  say "--- $1: $2 (rc $3, $4 s) $5"
}

HAVE_TIMEOUT=1
command -v timeout >/dev/null 2>&1 || HAVE_TIMEOUT=0

# run_step NAME LIMIT_S SIGNAL CMD...: runs CMD under the time left, output to the log and WORK/NAME.log.
# At the limit CMD gets SIGNAL, then SIGKILL 10 s later: QUIT makes a JVM print its thread dump first, which
# is what tells a hung kernel wait from a slow test.
# Sets STEP_RC and STEP_SECONDS; STEP_RC is 124 on timeout, -1 when no time was left to start.
run_step() {
  local name=$1 limit=$2 signal=$3
  shift 3
  local left=$(( BUDGET - (SECONDS - START) - RESERVE ))
  STEP_SECONDS=0
  if (( left < 5 )); then
    STEP_RC=-1
    return
  fi
  (( limit > left )) && limit=$left
  say ""
  say "=== $name (timeout ${limit}s) $(date -u +%H:%M:%S)"
  say "\$ $*"
  local t0=$SECONDS
  if (( HAVE_TIMEOUT )); then
    timeout --signal="$signal" --kill-after=10 "$limit" "$@" < /dev/null 2>&1 | tee -a "$LOG" > "$WORK/$name.log"
  else
    "$@" < /dev/null 2>&1 | tee -a "$LOG" > "$WORK/$name.log"
  fi
  STEP_RC=${PIPESTATUS[0]}
  # 124: timeout's own report; 131 (QUIT) and 137 (KILL): a JVM that died of the signals timeout sent.
  if (( HAVE_TIMEOUT )) && (( STEP_RC == 131 || STEP_RC == 137 )) && (( SECONDS - t0 >= limit )); then
    STEP_RC=124
  fi
  STEP_SECONDS=$(( SECONDS - t0 ))
}

# Turns STEP_RC into a table row; NOTE explains a success or a failure.
finish_step() {
  local name=$1 note=$2
  if (( STEP_RC == -1 )); then
    record "$name" TIMEOUT - 0 "not started: the ${BUDGET}s budget was spent"
  elif (( STEP_RC == 124 )); then
    record "$name" TIMEOUT 124 "$STEP_SECONDS" "killed by timeout; see $name.log. $note"
  elif (( STEP_RC == 0 )); then
    record "$name" ok 0 "$STEP_SECONDS" "$note"
  else
    record "$name" FAIL "$STEP_RC" "$STEP_SECONDS" "$note"
  fi
}

# The count JUnit's console launcher prints in its closing box, e.g. "[  12 tests successful  ]".
junit_count() {
  local n
  n=$(grep -Eo "\[ *[0-9]+ $2 " "$1" | tail -1 | grep -Eo '[0-9]+')
  printf '%s\n' "${n:-?}"
}

step_nvidia_smi() {
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    record nvidia-smi absent - 0 "nvidia-smi not found: no NVIDIA driver here, gpu tests will skip"
    return
  fi
  run_step nvidia-smi 30 TERM bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader && nvidia-smi'
  local gpu
  gpu=$(head -1 "$WORK/nvidia-smi.log" 2>/dev/null)
  (( STEP_RC == 0 )) && GPU_SEEN=1
  finish_step nvidia-smi "${gpu:-no output}"
}

# The unpacked test classes: gpuos-core's, and gpuos-models' when packed.
test_dirs() {
  local tests="$DIST/gpuos-core-tests"
  [[ -d $DIST/gpuos-testkit-tests ]] && tests="$tests:$DIST/gpuos-testkit-tests"
  [[ -d $DIST/gpuos-models-tests ]] && tests="$tests:$DIST/gpuos-models-tests"
  printf '%s\n' "$tests"
}
java_classpath_tests() {
  printf '%s\n' "$DIST/junit-platform-console-standalone.jar:$(test_dirs):$DIST/gpuos-core.jar:$DIST/test-lib/*:$DIST/lib/*"
}

step_junit() {   # NAME LIMIT TAG-OPTION...
  local name=$1 limit=$2
  shift 2
  local tag_options=("$@")
  run_step "$name" "$limit" QUIT "$JAVA" "${JVM_FLAGS[@]}" -cp "$(java_classpath_tests)" org.junit.platform.console.ConsoleLauncher execute \
    --disable-banner --disable-ansi-colors --details=testfeed \
    --scan-class-path="$(test_dirs)" --include-classname="$JUNIT_CLASSES" "${tag_options[@]}" \
    --reports-dir="$WORK/junit/$name"
  local log=$WORK/$name.log ok failed aborted skipped found broken
  found=$(junit_count "$log" "tests found")
  ok=$(junit_count "$log" "tests successful")
  failed=$(junit_count "$log" "tests failed")
  aborted=$(junit_count "$log" "tests aborted")
  skipped=$(junit_count "$log" "tests skipped")
  broken=$(junit_count "$log" "containers failed")
  local note="$found found, $ok ok, $failed failed, $aborted aborted (assumption), $skipped skipped"
  [[ $broken == 0 || $broken == '?' ]] || note="$note, $broken test classes failed to set up"
  if [[ $name == junit-gpu* && $STEP_RC == 0 && $GPU_SEEN == 1 && ${GPUOS_ALLOW_GPU_SKIPS:-0} != 1 ]] &&
     [[ $aborted != 0 || $skipped != 0 ]]; then
    # A gpu test that skips on a machine with a GPU has checked nothing: usually the driver failed to load.
    STEP_RC=3
    note="$note; gpu tests skipped although nvidia-smi sees a GPU (reasons in $name.log)"
  fi
  finish_step "$name" "$note"
}

java_classpath_bench() { printf '%s\n' "$DIST/gpuos-bench.jar:$DIST/gpuos-core.jar:$DIST/lib/*"; }

step_bench() {
  if ! "$JAVA" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main help 2>/dev/null | grep -Eq '^ +bench +'; then
    record bench absent - 0 "the command line has no 'bench' command yet"
    return
  fi
  mkdir -p "$WORK/bench"
  run_step bench 300 QUIT "$JAVA" "${JVM_FLAGS[@]}" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main bench --out "$WORK/bench"
  finish_step bench "output in bench/, log in bench.log"
}

# The op-by-op comparison with PyTorch (issue 3): the dump, then the comparison as a row of its own, so that a
# dump that failed and a result that differs read apart. Everything lands in opcheck/ in results.tgz.
step_opcheck() {
  if ! "$JAVA" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main help 2>/dev/null | grep -Eq '^ +opcheck +'; then
    record opcheck absent - 0 "the command line has no 'opcheck' command"
    return
  fi
  local dir=$WORK/opcheck script=$ROOT/bench/pytorch/op_compare.py
  mkdir -p "$dir"
  run_step opcheck 120 QUIT "$JAVA" "${JVM_FLAGS[@]}" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main opcheck --out "$dir"
  finish_step opcheck "$(grep -E '^opcheck: [0-9]+ cases' "$WORK/opcheck.log" | tail -1 | sed 's/; .*//')"
  # A dump stopped by its timeout still has a manifest of the chunks it finished: compare those.
  [[ -f $dir/manifest.json ]] || return
  if [[ ! -f $script ]] || ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import torch' >/dev/null 2>&1; then
    record op-compare absent - 0 "no bench/pytorch/op_compare.py, python3 or torch"
    return
  fi
  run_step op-compare 90 TERM env PYTHONUNBUFFERED=1 python3 "$script" "$dir"
  finish_step op-compare "$(grep -E '^op_compare: ' "$WORK/op-compare.log" | tail -1 | sed 's/; .*//'); table in opcheck/op_compare.md"
}

step_pytorch() {
  local script=$ROOT/bench/pytorch/run.py
  if [[ ! -f $script ]]; then
    record pytorch absent - 0 "no bench/pytorch/run.py"
    return
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    record pytorch absent - 0 "python3 not found"
    return
  fi
  mkdir -p "$WORK/bench"
  run_step pytorch 300 TERM env PYTHONUNBUFFERED=1 python3 "$script" --out "$WORK/bench"
  finish_step pytorch "output in bench/, log in pytorch.log"
}

step_charts() {
  local script=$ROOT/bench/charts.py
  if [[ ! -f $script ]] || ! command -v python3 >/dev/null 2>&1; then
    record charts absent - 0 "no bench/charts.py or no python3"
    return
  fi
  run_step charts 60 TERM python3 "$script" "$WORK/bench"
  finish_step charts "table.md and PNGs in bench/"
}

step_interp() {
  mkdir -p "$WORK/interp"
  run_step interp 180 QUIT "$JAVA" "${JVM_FLAGS[@]}" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main bench --only interp \
    --out "$WORK/interp"
  finish_step interp "$(grep -E '^interp: register -> first correct result' "$WORK/interp.log" | head -1 | cut -c9-170)"
}

# The JMH host-cost benchmark on this machine's CPU (issue 4 asks for it beside the GPU figures): one fork,
# the benchmark's own warm-up and measurement settings; the JSON lands in jmh/.
step_jmh() {
  if ! unzip -l "$DIST/gpuos-bench.jar" 2>/dev/null | grep -q META-INF/BenchmarkList &&
     ! "$JAVA" -cp "$(java_classpath_bench)" org.openjdk.jmh.Main -l 2>/dev/null | grep -q HostCostBenchmark; then
    record jmh absent - 0 "no JMH benchmark list in gpuos-bench.jar"
    return
  fi
  mkdir -p "$WORK/jmh"
  run_step jmh 150 TERM "$JAVA" "${JVM_FLAGS[@]}" -cp "$(java_classpath_bench)" org.openjdk.jmh.Main HostCostBenchmark \
    -rf json -rff "$WORK/jmh/host-cost.json"
  finish_step jmh "$(grep -E '^HostCostBenchmark\.' "$WORK/jmh.log" | awk '{printf "%s %s %s; ", $1, $4, $NF}')"
}

# Fuzzes for GPUOS_FUZZ_S seconds (--minutes stops it on time; the step's timeout adds room for the JVM, the
# worker's start and shrinking). Fails on any mismatch; reproducers and fuzz-summary.json are in fuzz/.
step_fuzz() {
  if ! "$JAVA" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main help 2>/dev/null | grep -Eq '^ +fuzz +'; then
    record fuzz absent - 0 "the command line has no 'fuzz' command"
    return
  fi
  local seconds=${GPUOS_FUZZ_S:-120} left=$(( BUDGET - (SECONDS - START) - RESERVE - 60 ))
  (( seconds > left )) && seconds=$left
  if (( seconds < 10 )); then
    record fuzz TIMEOUT - 0 "not started: the ${BUDGET}s budget was spent"
    return
  fi
  # Most of the time on the interpreter tier (no compiles: thousands of programs a minute), the rest on native
  # operators in rounds of 32 (each round's new structures compiled in one generation swap).
  local native_s=$(( seconds / 4 ))
  local interp_s=$(( seconds - native_s ))
  fuzz_pass fuzz interp "$interp_s" 1
  fuzz_pass fuzz-native native "$native_s" 1000000000
}

# fuzz_pass NAME TIER SECONDS FIRST_SEED: one `gpuos fuzz` run, its counts in the summary row NAME.
fuzz_pass() {
  local name=$1 tier=$2 seconds=$3 seed=$4
  if (( seconds < 10 )); then
    record "$name" TIMEOUT - 0 "not started: under 10 s left for the $tier pass"
    return
  fi
  mkdir -p "$WORK/$name"
  run_step "$name" $(( seconds + 60 )) QUIT "$JAVA" "${JVM_FLAGS[@]}" -cp "$(java_classpath_bench)" dev.gpuos.bench.Main fuzz \
    --backend gpu --tier "$tier" --seed "$seed" --programs 100000000 \
    --minutes "$(awk -v s="$seconds" 'BEGIN { printf "%.2f", s / 60 }')" --out "$WORK/$name"
  local done rate
  done=$(grep -Eo '[0-9,]+ programs \(seeds [0-9]+\.\.[0-9]+\), [0-9,]+ ops, [0-9]+ mismatches' "$WORK/$name.log" | tail -1)
  rate=$(grep -Eo '[0-9]+ programs/s, tier [a-z]+, rounds of [0-9]+, [0-9-]+ operators compiled' "$WORK/$name.log" | tail -1)
  finish_step "$name" "tier $tier: ${done:-no summary line}${rate:+ ($rate)}; reproducers in $name.log, $name/fuzz-summary.json"
}

# Any command (GPUOS_CHECK_CMD) as a step: a benchmark or a comparison script that has no step of its own.
step_cmd() {
  [[ -n ${GPUOS_CHECK_CMD:-} ]] || { record cmd FAIL - 0 "GPUOS_CHECK_CMD is empty"; return; }
  mkdir -p "$WORK/cmd"
  run_step cmd 500 QUIT env JAVA="$JAVA" JVM_FLAGS_STR="${JVM_FLAGS[*]}" CP_BENCH="$(java_classpath_bench)" STEP_DIR="$WORK/cmd" \
      CP_TESTS="$(java_classpath_tests)" PYTHONUNBUFFERED=1 bash -c "cd '$ROOT' && $GPUOS_CHECK_CMD"
  finish_step cmd "output in cmd/ and cmd.log"
}

say "gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), budget ${BUDGET}s, steps: $STEPS"
if [[ -f $DIST/BUILD.txt ]]; then
  sed 's/^/  /' "$DIST/BUILD.txt" | tee -a "$LOG"
  cp "$DIST/BUILD.txt" "$WORK/"
fi
(( HAVE_TIMEOUT )) || say "gpu-check: WARNING: no 'timeout' command; steps run without a time limit"
if [[ ! -d $DIST/gpuos-core-tests || ! -f $DIST/junit-platform-console-standalone.jar ]]; then
  say "gpu-check: $DIST is missing or incomplete: run scripts/device-pack.sh first and carry .dist"
  record setup FAIL - 0 "no .dist (run scripts/device-pack.sh)"
elif ! java_version=$("$JAVA" -version 2>&1); then
  say "gpu-check: $JAVA does not run: $java_version"
  record setup FAIL - 0 "java does not run: $JAVA"
else
  say "  java: $JAVA ($(head -1 <<< "$java_version"))"
  for step in $STEPS; do
    case $step in
      nvidia-smi) step_nvidia_smi ;;
      junit-gpu) step_junit junit-gpu 420 --include-tag=gpu --exclude-tag=gpu-fault --exclude-tag=gpu-fuzz ;;
      junit-gpu-fuzz) step_junit junit-gpu-fuzz 200 --include-tag=gpu-fuzz ;;
      # Faults that poison the CUDA context for the rest of the process get a JVM of their own, last.
      junit-gpu-fault) step_junit junit-gpu-fault 120 --include-tag=gpu-fault ;;
      junit-rest) step_junit junit-rest 180 --exclude-tag=gpu --exclude-tag=lincheck ;;
      opcheck) step_opcheck ;;
      bench) step_bench ;;
      pytorch) step_pytorch ;;
      charts) step_charts ;;
      fuzz) step_fuzz ;;
      jmh) step_jmh ;;
      interp) step_interp ;;
      cmd) step_cmd ;;
      *) record "$step" FAIL - 0 "unknown step (known: nvidia-smi junit-gpu junit-gpu-fuzz junit-gpu-fault junit-rest opcheck bench pytorch charts jmh interp fuzz cmd)" ;;
    esac
  done
fi

failed=$(awk -F'\t' '$2 == "FAIL" || $2 == "TIMEOUT"' "$ROWS" | wc -l)
{
  echo "gpu-check summary ($(( SECONDS - START )) s, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
  [[ -f $DIST/BUILD.txt ]] && sed 's/^/  /' "$DIST/BUILD.txt"
  printf '%-11s %-8s %-4s %6s  %s\n' step status rc time note
  while IFS=$'\t' read -r name status rc secs note; do
    printf '%-11s %-8s %-4s %5ss  %s\n' "$name" "$status" "$rc" "$secs" "$note"
  done < "$ROWS"
  if (( failed == 0 )); then echo "RESULT: PASS"; else echo "RESULT: FAIL ($failed step(s) failed or timed out)"; fi
} > "$SUMMARY"
say ""
tee -a "$LOG" < "$SUMMARY"

cp "$SUMMARY" "$WORK/summary.txt"
if tar -czf "$OUT/results.tgz" -C "$WORK" .; then
  rm -rf "$WORK"
else
  say "gpu-check: could not write $OUT/results.tgz; loose files stay in $WORK"
fi
(( failed == 0 ))
