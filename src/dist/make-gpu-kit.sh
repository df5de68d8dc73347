#!/usr/bin/env bash
# Builds target/gpu-kit/, the one-shot GPU validation kit (run by `./mvnw -Pdist,gpu-kit package`, i.e.
# bin/gpu-kit, after make-dist.sh has built target/tp4j-dist/):
#
#   run.sh             the checks: run.sh OUTDIR on a GPU machine, run.sh --dry-run OUTDIR anywhere
#   torch_compare.py   PyTorch's figures for the same shapes (where a torch is installed)
#   payload.tar.gz     dist/ (the jlink distribution of -Pdist, unchanged), junit/ (the JUnit console
#                      launcher), tests/ (target/test-classes: the GPU tests and the fixtures)
#
# The payload is compressed because the kit must fit in 60 MiB (what travels to a device machine) and the
# distribution alone is over that: its jars and jimage are compressed already, but libjvm.so is not.
#
# Usage: make-gpu-kit.sh JAVA_HOME TARGET_DIR
set -euo pipefail

jdk="${1:?usage: make-gpu-kit.sh JAVA_HOME TARGET_DIR}"
target="${2:?usage: make-gpu-kit.sh JAVA_HOME TARGET_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
kit="$target/gpu-kit"
limit_mib=60

[ -x "$target/tp4j-dist/bin/tp4j" ] || { echo "make-gpu-kit: $target/tp4j-dist is missing (the dist profile builds it)" >&2; exit 1; }
[ -d "$target/test-classes/dev" ] || { echo "make-gpu-kit: $target/test-classes is missing (do not skip test compilation)" >&2; exit 1; }
console="$(compgen -G "$target/gpu-kit-deps/junit-platform-console-standalone-*.jar" | head -1 || true)"
[ -n "$console" ] || { echo "make-gpu-kit: the JUnit console launcher is not in $target/gpu-kit-deps" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -a "$target/tp4j-dist" "$stage/dist"
mkdir -p "$stage/junit"
cp "$console" "$stage/junit/junit-platform-console-standalone.jar"
cp -a "$target/test-classes" "$stage/tests"

rm -rf "$kit"
mkdir -p "$kit"
tar -czf "$kit/payload.tar.gz" -C "$stage" --owner=0 --group=0 --numeric-owner dist junit tests
cp "$root/src/dist/gpu-kit/run.sh" "$root/src/dist/gpu-kit/torch_compare.py" "$kit/"
chmod 755 "$kit/run.sh" "$kit/torch_compare.py"

bytes="$(du -sb "$kit" | cut -f1)"
mib="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
if [ "$bytes" -gt $((limit_mib << 20)) ]; then
  echo "make-gpu-kit: $kit is $mib MiB, over the $limit_mib MiB a device machine takes" >&2
  exit 1
fi
echo "make-gpu-kit: $kit: $mib MiB (limit $limit_mib MiB); run it with $kit/run.sh OUTDIR (or --dry-run OUTDIR)"
