# shellcheck shell=bash
# Finds a JDK 25 or newer. Sourced by ./gpuos and scripts/device-pack.sh so that every entry point picks
# the same JDK by the same rules; the machines we build on keep an older `java` (17) first on PATH.

# Prints the feature release of a java binary ("25" for 25.0.1, 25-ea, ...); fails if it cannot be read.
gpuos_java_major() {
  local line version
  line=$("$1" -version 2>&1 | grep -m1 -Eo 'version "[^"]+"') || return 1
  version=${line#version \"}
  version=${version%\"}
  case $version in 1.*) version=${version#1.} ;; esac   # 1.8.0_x style
  version=${version%%[.+_-]*}
  [[ $version =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$version"
}

gpuos_java_ok() {
  local major
  [[ -x $1 ]] || return 1
  major=$(gpuos_java_major "$1") || return 1
  (( major >= 25 ))
}

# Prints the path of a java binary >= 25: JAVA_HOME, then `java` on PATH, then the usual install folders.
gpuos_find_java() {
  local candidate
  local -a candidates=()
  [[ -n ${JAVA_HOME:-} ]] && candidates+=("$JAVA_HOME/bin/java")
  candidate=$(command -v java 2>/dev/null) && candidates+=("$candidate")
  shopt -s nullglob
  candidates+=(/usr/lib/jvm/*25*/bin/java /usr/lib/jvm/*/bin/java
               "$HOME"/.sdkman/candidates/java/*/bin/java
               /Library/Java/JavaVirtualMachines/*/Contents/Home/bin/java)
  shopt -u nullglob
  for candidate in "${candidates[@]}"; do
    if gpuos_java_ok "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  {
    echo "gpuos: no JDK 25 or newer found."
    echo "  looked at: \$JAVA_HOME (${JAVA_HOME:-unset}), \`java\` on PATH, /usr/lib/jvm/*, ~/.sdkman, /Library/Java."
    [[ -n ${JAVA_HOME:-} ]] && echo "  \$JAVA_HOME/bin/java reports: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
    echo "  Install a JDK 25 (e.g. Temurin 25) and set JAVA_HOME to it."
  } >&2
  return 1
}

# JAVA_HOME for a java binary found above (resolving a PATH symlink such as /usr/bin/java).
gpuos_java_home() {
  local bin
  bin=$(readlink -f "$1" 2>/dev/null || printf '%s' "$1")
  dirname "$(dirname "$bin")"
}
