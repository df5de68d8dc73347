#!/usr/bin/env bash
# check-kernels.sh - compiles every CUDA C kernel file to PTX with clang, no CUDA toolkit and no GPU needed,
# so that a syntax or type error in native/kernels fails CI here instead of NVRTC at a GPU rank's start.
#
#   native/check-kernels.sh [KERNEL_DIR]     (default: native/kernels next to this script)
#
# Each file is compiled alone, then all of them concatenated as one program (as CudaKernels hands them to
# NVRTC: a helper defined in two files clashes only there), for sm_80, against clang-nvrtc-builtins.h (what
# NVRTC declares without includes). Every `extern "C" __global__` kernel must come out as a PTX entry.
# Device functions stay unresolved (__nv_* of libdevice, not linked): this checks the source, not the code.
#
# clang 14 or newer is used where installed (clang-14 ... clang-19, or clang); when none is and this runs as
# root with apt-get, clang-14 is installed (Debian bookworm has it). Otherwise it prints why it skipped and
# exits 0. Exit 1 when a file does not compile, 2 on bad usage.
set -euo pipefail
here="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-$here/kernels}"
[ $# -le 1 ] && [ -d "$dir" ] || { echo "usage: check-kernels.sh [KERNEL_DIR]" >&2; exit 2; }
shim="$here/clang-nvrtc-builtins.h"

find_clang() {
  local c v
  for c in clang-19 clang-18 clang-17 clang-16 clang-15 clang-14 clang; do
    command -v "$c" > /dev/null 2>&1 || continue
    v="$("$c" -dumpversion 2> /dev/null | cut -d. -f1)"
    if [ -n "$v" ] && [ "$v" -ge 14 ] 2> /dev/null; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

clang="$(find_clang || true)"
if [ -z "$clang" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null 2>&1; then
    echo "check-kernels: no clang >= 14 found, installing clang-14 with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 > /dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 > /dev/null 2>&1 || true
    fi
    clang="$(find_clang || true)"
  fi
fi
if [ -z "$clang" ]; then
  echo "check-kernels: skipped: no clang >= 14 (and it could not be installed: not root, no apt-get, or no package);" \
    "the kernels compile only on a GPU machine, by NVRTC"
  exit 0
fi

shopt -s nullglob
files=("$dir"/*.cu)
[ ${#files[@]} -gt 0 ] || { echo "check-kernels: no .cu files in $dir" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

compile() { # SOURCE PTX
  "$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_80 -nocudainc -nocudalib -std=c++17 \
    -Wno-unknown-cuda-version -include "$shim" -S -o "$2" "$1"
}

failed=0
for f in "${files[@]}"; do
  ptx="$work/$(basename "$f" .cu).ptx"
  if ! compile "$f" "$ptx"; then
    echo "check-kernels: $f does not compile" >&2
    failed=1
    continue
  fi
  for k in $(grep -oE 'extern[[:space:]]+"C"[[:space:]]+__global__[[:space:]]+void[[:space:]]+[A-Za-z_][A-Za-z0-9_]*' "$f" \
    | awk '{print $NF}'); do
    if ! grep -q "\.entry $k(" "$ptx"; then
      echo "check-kernels: $f: kernel $k is not in its PTX" >&2
      failed=1
    fi
  done
done
if [ $failed -eq 0 ]; then
  cat "${files[@]}" > "$work/all.cu"
  if ! compile "$work/all.cu" "$work/all.ptx"; then
    echo "check-kernels: the files compile alone but not together (as NVRTC gets them): a name defined twice?" >&2
    failed=1
  fi
fi
if [ $failed -ne 0 ]; then
  exit 1
fi
echo "check-kernels: ${#files[@]} kernel files compiled to PTX (sm_80) by $("$clang" --version | head -1)"
