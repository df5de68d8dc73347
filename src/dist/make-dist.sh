#!/usr/bin/env bash
# Builds the self-contained distribution target/tp4j-dist/ (run by `./mvnw -Pdist package`, after the jar
# and target/lib/ exist):
#
#   runtime/   a jlink image holding only the JDK modules the jars use (found with jdeps)
#   lib/       tp4j.jar and its runtime jars
#   bin/tp4j   the same launcher script as the repository's; it finds ../runtime and ../lib itself
#
# Usage: make-dist.sh JAVA_HOME TARGET_DIR
set -euo pipefail

jdk="${1:?usage: make-dist.sh JAVA_HOME TARGET_DIR}"
target="${2:?usage: make-dist.sh JAVA_HOME TARGET_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dist="$target/tp4j-dist"

for tool in jdeps jlink; do
  if [ ! -x "$jdk/bin/$tool" ]; then
    echo "make-dist: $jdk/bin/$tool not found: the dist profile needs a full JDK (17 or later)" >&2
    exit 1
  fi
done
[ -f "$target/tp4j.jar" ] || { echo "make-dist: $target/tp4j.jar is missing (run the package phase)" >&2; exit 1; }
compgen -G "$target/lib/*.jar" > /dev/null || { echo "make-dist: $target/lib/ holds no jars" >&2; exit 1; }

rm -rf "$dist"
mkdir -p "$dist/bin" "$dist/lib"
# The runtime jars are the ones tp4j.jar's manifest names (Class-Path: lib/...): target/lib/ may also
# hold jars of an earlier build's dependencies, which copy-dependencies never removes.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && "$jdk/bin/jar" --extract --file "$target/tp4j.jar" META-INF/MANIFEST.MF)
classpath="$(tr -d '\r' < "$tmp/META-INF/MANIFEST.MF" | awk '
  /^Class-Path:/ { cp = substr($0, 13); on = 1; next }
  on && /^ / { cp = cp substr($0, 2); next }
  { on = 0 }
  END { print cp }')"
[ -n "$classpath" ] || { echo "make-dist: $target/tp4j.jar has no Class-Path in its manifest" >&2; exit 1; }
cp "$target/tp4j.jar" "$dist/lib/"
for entry in $classpath; do
  cp "$target/$entry" "$dist/lib/" || { echo "make-dist: $target/$entry (in tp4j.jar's Class-Path) is missing" >&2; exit 1; }
done
cp "$root/bin/tp4j" "$dist/bin/tp4j"
chmod 755 "$dist/bin/tp4j"

# JavaCPP's OpenBLAS platform jar holds the JNI libraries of all three bindings. tp4j loads only
# org.bytedeco.openblas.global.openblas_nolapack (CpuBackend's cblas_sgemm), so the LAPACK bindings' JNI
# libraries (openblas, openblas_full: 2 x 24 MB, 7 MB of the jar) and the C headers stay out. Should the
# sources start using those bindings, this stops the build instead of shipping a dist that cannot load them.
if grep -rEq 'org\.bytedeco\.openblas\.global\.openblas(_full)?([^_A-Za-z0-9]|$)' "$root/src/main/java"; then
  echo "make-dist: src/main/java uses the OpenBLAS LAPACK bindings: stop trimming libjniopenblas*.so in $0" >&2
  exit 1
fi
for j in "$dist"/lib/openblas-*-linux-*.jar; do
  "$jdk/bin/java" "$root/src/dist/TrimJar.java" "$j" \
    'org/bytedeco/openblas/*/libjniopenblas.so' 'org/bytedeco/openblas/*/libjniopenblas_full.so' \
    'org/bytedeco/openblas/*/include/**' 'org/bytedeco/openblas/*/lib/**'
done

# JavaCPP's CUDA platform jar holds the JNI libraries of every CUDA binding (NPP, cuFFT, cuSOLVER, cuDNN's
# kin, nvJPEG, ...): 33 MB, 5 MB of the jar. tp4j loads four: cudart (runtime and driver API), cublas
# (cuBLAS and cuBLASLt), nvrtc and nccl; the rest stay out. Should the sources start using another CUDA
# binding, this stops the build instead of shipping a dist that cannot load it.
cuda_used='cudart|cublas|nvrtc|nccl'
if grep -rhoE 'org\.bytedeco\.cuda\.(global\.)?[a-z_]+' "$root/src/main/java" \
    | sed -E 's/^org\.bytedeco\.cuda\.(global\.)?//' | grep -qvE "^($cuda_used)\$"; then
  echo "make-dist: src/main/java uses a CUDA binding other than $cuda_used: keep its libjni*.so in $0" >&2
  exit 1
fi
for j in "$dist"/lib/cuda-*-linux-*.jar; do
  drop=()
  while read -r entry; do
    case "$entry" in
      */libjnicudart.so | */libjnicublas.so | */libjninvrtc.so | */libjninccl.so) ;;
      */libjni*.so) drop+=("$entry") ;;
    esac
  done < <("$jdk/bin/jar" --list --file "$j")
  [ "${#drop[@]}" -eq 0 ] || "$jdk/bin/java" "$root/src/dist/TrimJar.java" "$j" "${drop[@]}"
done

# DJL's tokenizers jar holds Hugging Face tokenizers' native library for four platforms (19 MB); the
# distribution is for Linux x86-64 (as are its JavaCPP jars), so the others stay out.
for j in "$dist"/lib/tokenizers-*.jar; do
  "$jdk/bin/java" "$root/src/dist/TrimJar.java" "$j" 'native/lib/linux-aarch64/**' 'native/lib/osx-*/**' \
    'native/lib/win-*/**'
done

# The JDK modules the jars need: what tp4j's classes reach through the class path (jdeps follows the
# references; this also copes with modular jars, whose `requires` jdeps cannot resolve when they are
# analysed as inputs of their own), plus what each non-modular jar refers to as a whole (code that is
# reached by reflection). Today: java.desktop (the PNG of `bench --plot`), java.sql (Jackson),
# java.management, jdk.unsupported.
deps() {
  "$jdk/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 17 \
    --class-path "$dist/lib/*" "$1" 2> /dev/null | tail -1
}
modules="$(deps "$dist/lib/tp4j.jar")"
case "$modules" in
  java.base*) ;;
  *) echo "make-dist: jdeps printed no module list for tp4j.jar ('$modules')" >&2; exit 1 ;;
esac
for j in "$dist"/lib/*.jar; do
  m="$(deps "$j" || true)"
  case "$m" in java.* | jdk.*) modules="$modules,$m" ;; esac # a modular jar fails here; tp4j.jar covered it
done
modules="$(tr ',' '\n' <<< "$modules" | sort -u | paste -sd, -)"
echo "make-dist: jlink --add-modules $modules"
"$jdk/bin/jlink" --add-modules "$modules" \
  --strip-debug --no-header-files --no-man-pages --compress=2 \
  --output "$dist/runtime"

# Size: the native symbol tables go too (libjvm.so 24 -> 20 MB; a crash log then shows addresses, not
# names). No class-data-sharing archive: `java -Xshare:dump` would add 12 MB for ~0.1 s less start-up
# CPU per JVM (measured: tp4j demo, 4 workers, 3.9 s CPU with it, 4.2-4.6 s without).
if command -v strip > /dev/null; then
  find "$dist/runtime" -name '*.so' -exec strip --strip-unneeded {} +
fi

"$dist/runtime/bin/java" -version 2>&1 | head -1
du -sh "$dist" "$dist/runtime" "$dist/lib" | sed 's/^/make-dist: /'
