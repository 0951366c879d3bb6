#!/usr/bin/env bash
# Builds GPUOS and assembles .dist/ for the GPU machine, which has no Java, no Maven and no network.
# A `run` on that machine carries .dist/ and .jre/ (the jlinked runtime, built here when missing) and executes
# scripts/device-run.sh.
#
# .dist/ holds only what the GPU check runs (a few MB; no Maven repository copies):
#   gpuos-core.jar gpuos-bench.jar                      our code
#   gpuos-core-tests/ gpuos-testkit-tests/ gpuos-models-tests/
#                                                       the core, testkit and models test classes and resources, unpacked: the
#                                                       carried jlinked runtime has no jdk.zipfs, and JUnit
#                                                       needs that "jar" file system to scan a jar
#   lib/                                                runtime dependencies of gpuos-bench (gpuos-models, gpuos-testkit, Gson, JMH, ...)
#   test-lib/                                           test dependencies of gpuos-core other than JUnit
#   junit-platform-console-standalone.jar               JUnit's console launcher (includes Jupiter)
#   BUILD.txt                                           the commit and versions this was built from
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=find-jdk.sh
source scripts/find-jdk.sh

java_bin=$(gpuos_find_java) || exit 1
JAVA_HOME=$(gpuos_java_home "$java_bin")
export JAVA_HOME
# Maven 3.8's bundled Guava calls sun.misc.Unsafe; JDK 24+ warns about it on every run.
export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow"
command -v mvn >/dev/null 2>&1 || { echo "device-pack: Maven (mvn) is not on PATH" >&2; exit 1; }

# The Java runtime the GPU machine runs (it has none): jlinked once from this JDK into .jre/jre.tgz, which a run
# carries; keep .jre/ out of git (.git/info/exclude). jdk.jfr lets a run record a flight recording.
JRE_MODULES=java.base,java.logging,java.xml,java.management,jdk.unsupported,jdk.management,jdk.jfr,jdk.management.jfr
if [[ ! -f .jre/jre.tgz ]]; then
  echo "device-pack: building .jre/jre.tgz (jlink $JRE_MODULES)" >&2
  jre_tmp=$(mktemp -d)
  "$JAVA_HOME/bin/jlink" --add-modules "$JRE_MODULES" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-9 --output "$jre_tmp/jre"
  mkdir -p .jre
  tar -czf .jre/jre.tgz -C "$jre_tmp" jre
  rm -rf "$jre_tmp"
fi

junit_version=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' pom.xml | head -1)
[[ -n $junit_version ]] || { echo "device-pack: no <junit.version> in pom.xml" >&2; exit 1; }

echo "device-pack: building (mvn -B -q -DskipTests package, JDK at $JAVA_HOME)"
mvn -B -q -DskipTests package

only_jar() {   # the one file matching a glob, or a clear error
  local -a found
  shopt -s nullglob
  # shellcheck disable=SC2206  # the pattern is meant to glob
  found=($1)
  shopt -u nullglob
  (( ${#found[@]} == 1 )) || { echo "device-pack: expected one file matching $1, found ${#found[@]}: ${found[*]:-}" >&2; exit 1; }
  printf '%s\n' "${found[0]}"
}

core_jar=$(only_jar "gpuos-core/target/gpuos-core-*[0-9T].jar")
bench_jar=$(only_jar "gpuos-bench/target/gpuos-bench-*[0-9T].jar")

rm -rf .dist
mkdir -p .dist/lib .dist/test-lib
cp "$core_jar" .dist/gpuos-core.jar
[[ -d gpuos-core/target/test-classes ]] || { echo "device-pack: gpuos-core/target/test-classes is missing" >&2; exit 1; }
cp -r gpuos-core/target/test-classes .dist/gpuos-core-tests
cp "$bench_jar" .dist/gpuos-bench.jar
# gpuos-models' jar and Gson arrive in lib/ as gpuos-bench dependencies; its tests (GPU fixture checks) travel
# unpacked like the core tests: .dist/gpuos-models-tests
[[ -d gpuos-models/target/test-classes ]] && cp -r gpuos-models/target/test-classes .dist/gpuos-models-tests
# gpuos-testkit's jar (the fuzzer, the node recorder) arrives in lib/ as a gpuos-bench dependency; its tests (the
# fuzzer's, GpuFuzzTest among them, and the planner's over recorded programs) travel unpacked: .dist/gpuos-testkit-tests
[[ -d gpuos-testkit/target/test-classes ]] && cp -r gpuos-testkit/target/test-classes .dist/gpuos-testkit-tests
for jar in gpuos-bench/target/lib/*.jar; do
  case ${jar##*/} in gpuos-core-*) ;; *) cp "$jar" .dist/lib/ ;; esac   # gpuos-core is .dist/gpuos-core.jar
done

echo "device-pack: fetching junit-platform-console-standalone $junit_version"
mvn -B -q dependency:copy \
  -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_version" \
  -DoutputDirectory="$ROOT/.dist" -Dmdep.stripVersion=true -N
[[ -f .dist/junit-platform-console-standalone.jar ]] ||
  { echo "device-pack: junit-platform-console-standalone $junit_version did not resolve" >&2; exit 1; }

# The console launcher brings JUnit itself; anything else the core tests use must travel too, except Lincheck
# and its dependencies: its test (tag lincheck) needs java.instrument, which the jlinked runtime lacks.
mvn -B -q dependency:copy-dependencies -pl gpuos-core -DincludeScope=test \
  -DexcludeGroupIds=org.junit,org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian,org.jspecify,org.jetbrains.lincheck,org.jetbrains.kotlin,org.jetbrains.kotlinx,org.jetbrains,net.bytebuddy,org.ow2.asm,org.java-websocket,org.slf4j \
  -DoutputDirectory="$ROOT/.dist/test-lib"
for jar in .dist/test-lib/*.jar; do
  [[ -e $jar && -e .dist/lib/${jar##*/} ]] && rm "$jar"   # already in lib/
done

{
  echo "commit:  $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "branch:  $(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)"
  echo "built:   $(date -u +%Y-%m-%dT%H:%M:%SZ) with $("$java_bin" -version 2>&1 | head -1)"
  echo "junit:   $junit_version"
} > .dist/BUILD.txt

echo "device-pack: .dist/ ($(du -sh .dist | cut -f1)):"
(cd .dist && find . -type f | sort | while read -r f; do printf '  %8s  %s\n' "$(du -k "$f" | cut -f1)K" "${f#./}"; done)
