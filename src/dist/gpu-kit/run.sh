#!/usr/bin/env bash
# tp4j GPU validation kit (built by bin/gpu-kit; see docs/gpu-validation.md).
#
#   run.sh OUTDIR            on an x86-64 Linux machine with an NVIDIA driver: every check, < 8 minutes
#   run.sh --dry-run OUTDIR  on any x86-64 Linux machine: every step that needs no GPU (CPU ranks stand in
#                            for GPU ranks, tiny shapes, GPU tests skip saying why); what CI runs
#
# Needs only bash, coreutils (timeout, date, du), tar and gzip: the kit carries its own Java runtime.
# Writes OUTDIR/kit.log (every command and its output), OUTDIR/junit/ (the GPU tests' XML reports) and seven
# JSON files: kit.json (machine, libraries, every step's status and time), verify.json, mlp.json,
# generate.json, bench-gemm.json, bench-mlp.json, torch.json. Exit status: 0 when every step passed or was
# skipped for a stated reason, 1 otherwise.
#
#   TP4J_KIT_BUDGET   seconds for the whole run (default 480: a device machine gives a task 15 minutes in all,
#                     its start included)
set -uo pipefail

usage() {
  echo "usage: run.sh [--dry-run] OUTDIR" >&2
  exit 2
}
dry=0
if [ "${1:-}" = "--dry-run" ]; then
  dry=1
  shift
fi
[ $# -eq 1 ] || usage
mkdir -p "$1" || { echo "run.sh: cannot create $1" >&2; exit 2; }
out="$(cd "$1" && pwd)"
kit="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log="$out/kit.log"
: > "$log"
start=$(date +%s)
budget="${TP4J_KIT_BUDGET:-480}"
deadline=$((start + budget))

say() { echo "$*" | tee -a "$log"; }

# JSON string literal of $1 (quotes, backslashes and control characters escaped).
json_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/ }"
  s="${s//$'\r'/}"
  printf '"%s"' "$s"
}

# The kit's payload: the jlink distribution, the JUnit console launcher and the test classes, unpacked
# into a scratch directory (the kit itself may sit on a read-only or shared file system).
work="$(mktemp -d "${TMPDIR:-/tmp}/tp4j-gpu-kit.XXXXXX")" || exit 1
trap 'rm -rf "$work"' EXIT
if ! tar -xzf "$kit/payload.tar.gz" -C "$work"; then
  say "run.sh: cannot unpack $kit/payload.tar.gz"
  exit 1
fi
tp4j="$work/dist/bin/tp4j"
java="$work/dist/runtime/bin/java"
parts="$work/parts"
mkdir -p "$parts"
# A fresh kernel cache: NVRTC compiles once per run (a stale cache would hide a compile error), and
# nothing is written to the machine's home directory.
export XDG_CACHE_HOME="$work/cache"
# JavaCPP unpacks its JNI libraries there too, not under a home directory that may be read-only; the
# launcher passes these JVM options on to its workers.
java_opts=(-XX:+UseSerialGC "-Dorg.bytedeco.javacpp.cachedir=$work/javacpp")
export TP4J_JAVA_OPTS="${java_opts[*]}"
unset TP4J_JOB_TOKEN

# ---------------------------------------------------------------------------------------------- steps
steps_json=()
failures=0

# step NAME LIMIT_S COMMAND...: runs COMMAND under its own timeout (cut to what is left of the budget),
# output to the log, one status line to stdout.
step() {
  local name="$1" limit="$2"
  shift 2
  local left=$((deadline - $(date +%s)))
  if [ "$left" -lt 10 ]; then
    # Not run is not passed: an incomplete validation fails the run.
    failures=$((failures + 1))
    echo "=== $name: not run (no time left of the ${budget} s budget)" >> "$log"
    printf '[%-7s] %-22s %s\n' "not run" "$name" "no time left of the ${budget} s budget"
    steps_json+=("{\"name\": $(json_str "$name"), \"status\": \"not run\", \"reason\": \"budget\"}")
    return 1
  fi
  [ "$limit" -le "$left" ] || limit=$left
  {
    echo
    echo "=== $name (limit ${limit} s, $(date -u +%H:%M:%S) UTC)"
    echo "\$ $*"
  } >> "$log"
  local t0 t1 rc status
  t0=$(date +%s%N)
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  rc=$?
  t1=$(date +%s%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  case $rc in
    0) status=pass ;;
    124 | 137) status=timeout ;;
    *) status=fail ;;
  esac
  [ "$status" = pass ] || failures=$((failures + 1))
  echo "=== $name: $status (exit $rc, $secs s)" >> "$log"
  printf '[%-7s] %-22s %6s s%s\n' "$status" "$name" "$secs" "$([ $rc -eq 0 ] || echo "  (exit $rc, see kit.log)")"
  steps_json+=("{\"name\": $(json_str "$name"), \"status\": \"$status\", \"exit\": $rc, \"seconds\": $secs}")
  return $rc
}

skip() {
  echo "=== $1: skipped ($2)" >> "$log"
  printf '[%-7s] %-22s %s\n' skipped "$1" "$2"
  steps_json+=("{\"name\": $(json_str "$1"), \"status\": \"skipped\", \"reason\": $(json_str "$2")}")
}

# merge FILE KEY=PART...: one JSON object of the parts' contents (null where a step wrote nothing).
merge() {
  local file="$1" sep=""
  shift
  {
    printf '{'
    for kv in "$@"; do
      local key="${kv%%=*}" part="$parts/${kv#*=}"
      printf '%s\n  "%s": ' "$sep" "$key"
      if [ -s "$part" ]; then cat "$part"; else printf 'null'; fi
      sep=","
    done
    printf '\n}\n'
  } > "$out/$file"
}

# ------------------------------------------------------------------------------- the CUDA 13 libraries
# The CUDA bindings load libcudart/libcublas/libcublasLt/libnvrtc .so.13 and libnccl.so.2 by soname;
# libcuda.so.1 comes with the driver. Each is taken from the system's loader cache when it is there,
# otherwise from the first place below that has it: CUDA_HOME, /usr/local/cuda*, then Python's nvidia-*
# wheels (nvidia/*/lib, nvidia/cu13/lib) in any site-packages, conda. Found directories go first on
# LD_LIBRARY_PATH.
declare -A found=()
sonames=(libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13 libnccl.so.2)
candidate_dirs() {
  local d
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-13*; do
    [ -n "$d" ] || continue
    echo "$d/lib64"
    echo "$d/lib"
    echo "$d/targets/x86_64-linux/lib"
  done
  local sites=()
  if command -v python3 > /dev/null; then
    mapfile -t sites < <(python3 -c 'import site, sys
print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2> /dev/null)
  fi
  sites+=(/usr/local/lib/python3*/dist-packages /usr/local/lib/python3*/site-packages
    /usr/lib/python3/dist-packages "$HOME"/.local/lib/python3*/site-packages
    "${CONDA_PREFIX:-/nonexistent}"/lib/python3*/site-packages /opt/conda/lib/python3*/site-packages)
  for d in "${sites[@]}"; do
    [ -d "$d/nvidia" ] || continue
    find "$d/nvidia" -maxdepth 3 -type d -name lib 2> /dev/null
  done
  for d in "${CONDA_PREFIX:-}" /opt/conda; do
    [ -n "$d" ] && echo "$d/lib"
  done
}
find_libraries() {
  local cache dirs=() extra="" so d
  cache="$( (ldconfig -p || /sbin/ldconfig -p) 2> /dev/null)"
  mapfile -t dirs < <(candidate_dirs)
  for so in "${sonames[@]}"; do
    if grep -q "$so " <<< "$cache"; then
      found[$so]="$(grep -m1 "$so " <<< "$cache" | sed 's/.*=> //')"
      continue
    fi
    for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }} "${dirs[@]}"; do
      if [ -e "$d/$so" ]; then
        found[$so]="$d/$so"
        case ":$extra:" in *":$d:"*) ;; *) extra="${extra:+$extra:}$d" ;; esac
        break
      fi
    done
  done
  if [ -n "$extra" ]; then
    export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
}
find_libraries
missing=()
for so in "${sonames[@]}"; do
  if [ -n "${found[$so]:-}" ]; then
    echo "library $so: ${found[$so]}" >> "$log"
  else
    echo "library $so: not found" >> "$log"
    missing+=("$so")
  fi
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >> "$log"

mode=$([ $dry -eq 1 ] && echo "dry run (CPU ranks stand in for GPU ranks)" || echo "GPU run")
say "tp4j GPU validation kit: $mode, output in $out"
if [ ${#missing[@]} -gt 0 ]; then
  say "CUDA libraries not found: ${missing[*]}"
fi

# ------------------------------------------------------------------------------------------- the run
if [ $dry -eq 1 ]; then
  backend=(--backend cpu)
  skip nvidia-smi "dry run"
else
  backend=(--backend cuda)
  if command -v nvidia-smi > /dev/null; then
    step nvidia-smi 20 nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv
  else
    skip nvidia-smi "nvidia-smi not on PATH"
  fi
fi
gpu="$(nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader 2> /dev/null | head -1)"

# The flag naming the collectives' transport.
transport=--transport

step info 60 "$tp4j" info
sed -n '/^=== info (/,/^=== info:/p' "$log" | sed '1,2d;$d'

# The @Tag("gpu") tests (CudaBackendGpuTest, NcclCommunicatorContractTest, the decoder kernels' contract
# CudaDecoderOpsGpuTest, whole models at tp 1 and 2 in GpuGenerateTest), each CUDA call waited for so that a
# fault is reported by the call that made it. GpuVerifyIT is left out: the verify and mlp steps below run the
# same commands and keep their figures. On a CPU machine they skip, saying why.
classpath="$work/tests:$(printf '%s:' "$work"/dist/lib/*.jar)"
step gpu-tests 240 env CUDA_LAUNCH_BLOCKING=1 "$java" "${java_opts[@]}" -jar "$work/junit/junit-platform-console-standalone.jar" execute \
  --disable-banner --disable-ansi-colors --details=tree --reports-dir="$out/junit" --class-path="$classpath" \
  --include-engine=junit-jupiter --include-tag=gpu \
  --select-class=dev.tp4j.backend.cuda.CudaBackendGpuTest --select-class=dev.tp4j.comm.nccl.NcclCommunicatorContractTest \
  --select-class=dev.tp4j.backend.cuda.CudaDecoderOpsGpuTest --select-class=dev.tp4j.model.GpuGenerateTest
# On a GPU every one of them must run: a test that skipped (an assumption failed) is a failure here.
if [ $dry -eq 0 ]; then
  aborted="$(sed -n '/^=== gpu-tests (/,/^=== gpu-tests:/p' "$log" | grep -oE '[0-9]+ tests aborted' | grep -oE '^[0-9]+')"
  if [ "${aborted:-0}" -gt 0 ]; then
    failures=$((failures + 1))
    echo "=== gpu-tests-none-skipped: fail ($aborted GPU tests skipped on a GPU run)" >> "$log"
    printf '[%-7s] %-22s %s\n' fail gpu-tests-none-skipped "$aborted GPU tests skipped (see kit.log)"
    steps_json+=("{\"name\": \"gpu-tests-none-skipped\", \"status\": \"fail\", \"skipped_tests\": $aborted}")
  fi
fi

if [ $dry -eq 1 ]; then
  nccl=()
  tcp=()
else
  nccl=("$transport" nccl)
  tcp=("$transport" tcp)
fi
# `timeout` runs programs, not shell functions: every step spells its command out.
launch=("$tp4j" launch "${backend[@]}" --nproc-per-node)

# verify against float64: tp 1 over NCCL (F32, and BF16 weights within BF16's bounds); tp 2 (uneven
# shards) and 4 sharing the one GPU over TCP.
step verify-tp1 60 "${launch[@]}" 1 "${nccl[@]}" verify --json "$parts/verify-tp1.json"
step verify-tp1-gated 60 "${launch[@]}" 1 "${nccl[@]}" verify --activation silu --gated --json "$parts/verify-tp1-gated.json"
if [ $dry -eq 1 ]; then
  skip verify-tp1-bf16 "bf16 needs the CUDA backend"
else
  step verify-tp1-bf16 60 "${launch[@]}" 1 "${nccl[@]}" verify --dtype bf16 --json "$parts/verify-tp1-bf16.json"
fi
step verify-tp2 90 "${launch[@]}" 2 "${tcp[@]}" verify --hidden 1000 --ffn 3001 --json "$parts/verify-tp2.json"
step verify-tp4 90 "${launch[@]}" 4 "${tcp[@]}" verify --json "$parts/verify-tp4.json"
merge verify.json tp1_nccl=verify-tp1.json tp1_nccl_gated_silu=verify-tp1-gated.json \
  tp1_nccl_bf16=verify-tp1-bf16.json tp2_tcp=verify-tp2.json tp4_tcp=verify-tp4.json

# mlp on the PyTorch-made Llama-style BF16 checkpoint, checked against float64 (--dtype auto: the weights
# stay BF16 on GPU ranks).
fixture="$work/tests/interop/llama_bf16_silu_gated"
p=model.layers.0.mlp.
mlp=(mlp --checkpoint "$fixture/model.safetensors" --up ${p}up_proj --gate ${p}gate_proj --down ${p}down_proj
  --activation silu --input "$fixture/input.safetensors" --verify)
step mlp-bf16-tp1 60 "${launch[@]}" 1 "${mlp[@]}" --output "$work/mlp-1.safetensors" --json "$parts/mlp-tp1.json"
step mlp-bf16-tp2 60 "${launch[@]}" 2 "${tcp[@]}" "${mlp[@]}" --output "$work/mlp-2.safetensors" \
  --json "$parts/mlp-tp2.json"
merge mlp.json tp1=mlp-tp1.json tp2_tcp=mlp-tp2.json

# generate --verify on the PyTorch-made F32 Llama (GQA, untied) at tp 1 (with --profile: the per-op time
# of the GPU path, each call synchronized) and 2 (TCP, sharing the GPU): the
# prompt's logits against float64, and the greedy tokens must be PyTorch's float64 ones (ExpectedTokens
# reads both JSON files). Then the BF16 Qwen2 (q/k/v biases, tied, one kv head replicated) at tp 2, its
# weights BF16 on GPU ranks (--dtype auto; F32 on the CPU ranks of a dry run), checked against float64.
models="$work/tests/models"
fixture_ids() { tr -d ' \n' < "$models/$1/expected.json" | grep -o '"prompt_ids":\[[0-9,]*\]' | sed 's/.*\[//; s/\]//'; }
fixture_new() { tr -d ' \n' < "$models/$1/expected.json" | grep -o '"max_new_tokens":[0-9]*' | head -1 | cut -d: -f2; }
generate_llama=(generate --model "$models/llama" --prompt-ids "$(fixture_ids llama)" --max-new-tokens "$(fixture_new llama)"
  --ignore-eos --verify)
check_tokens=("$java" "${java_opts[@]}" -cp "$classpath" dev.tp4j.testing.ExpectedTokens "$models/llama/expected.json")
step generate-tp1 90 "${launch[@]}" 1 "${nccl[@]}" "${generate_llama[@]}" --profile --json "$parts/generate-tp1.json"
step generate-tp1-tokens 30 "${check_tokens[@]}" "$parts/generate-tp1.json"
step generate-tp2 90 "${launch[@]}" 2 "${tcp[@]}" "${generate_llama[@]}" --json "$parts/generate-tp2.json"
step generate-tp2-tokens 30 "${check_tokens[@]}" "$parts/generate-tp2.json"
step generate-bf16-tp2 90 "${launch[@]}" 2 "${tcp[@]}" generate --model "$models/qwen2" \
  --prompt-ids "$(fixture_ids qwen2)" --max-new-tokens 4 --ignore-eos --verify --json "$parts/generate-bf16-tp2.json"
merge generate.json tp1=generate-tp1.json tp2_tcp=generate-tp2.json bf16_tp2_tcp=generate-bf16-tp2.json

# Speed at tp 1: the GEMM 8192^3 (bench's up-projection at tokens = hidden = ffn = 8192) in fp32, TF32,
# bf16; the MLP forward at tokens 128, hidden 8192, ffn 28672. The dry run uses tiny shapes.
if [ $dry -eq 1 ]; then
  gemm=(--tokens 16 --hidden 64 --ffn 64)
  mlpshape=(--tokens 8 --hidden 64 --ffn 224)
else
  gemm=(--tokens 8192 --hidden 8192 --ffn 8192)
  mlpshape=(--tokens 128 --hidden 8192 --ffn 28672)
fi
step bench-gemm-fp32 90 "${launch[@]}" 1 bench --quick "${gemm[@]}" --json "$parts/gemm-fp32.json"
if [ $dry -eq 1 ]; then
  skip bench-gemm-tf32 "TF32 needs the CUDA backend"
  skip bench-gemm-bf16 "bf16 needs the CUDA backend"
  skip bench-mlp-bf16 "bf16 needs the CUDA backend"
else
  step bench-gemm-tf32 90 "${launch[@]}" 1 --tf32 bench --quick "${gemm[@]}" --json "$parts/gemm-tf32.json"
  step bench-gemm-bf16 90 "${launch[@]}" 1 bench --quick --dtype bf16 "${gemm[@]}" --json "$parts/gemm-bf16.json"
fi
step bench-mlp-f32 90 "${launch[@]}" 1 bench --quick "${mlpshape[@]}" --json "$parts/mlp-f32.json"
if [ $dry -eq 0 ]; then
  step bench-mlp-bf16 90 "${launch[@]}" 1 bench --quick --dtype bf16 "${mlpshape[@]}" --json "$parts/mlp-bf16.json"
fi
merge bench-gemm.json fp32=gemm-fp32.json tf32=gemm-tf32.json bf16=gemm-bf16.json
merge bench-mlp.json f32=mlp-f32.json bf16=mlp-bf16.json

# PyTorch's figures for the same shapes, where a torch is installed (on the CPU in the dry run).
if command -v python3 > /dev/null && python3 -c 'import torch' > /dev/null 2>&1; then
  if [ $dry -eq 1 ]; then
    step torch 120 python3 "$kit/torch_compare.py" --device cpu --small --json "$out/torch.json"
  else
    step torch 150 python3 "$kit/torch_compare.py" --device cuda --json "$out/torch.json"
  fi
elif command -v python3 > /dev/null; then
  step torch-script-compiles 20 python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" "$kit/torch_compare.py"
  skip torch "no torch in python3"
else
  skip torch "no python3"
fi
[ -s "$out/torch.json" ] || echo '{"torch": null}' > "$out/torch.json"

# ------------------------------------------------------------------------------------------- record
libs=""
for so in "${sonames[@]}"; do
  libs+="${libs:+, }$(json_str "$so"): $([ -n "${found[$so]:-}" ] && json_str "${found[$so]}" || echo null)"
done
elapsed=$(($(date +%s) - start))
{
  echo "{"
  echo "  \"kit\": \"tp4j GPU validation kit\","
  echo "  \"dry_run\": $([ $dry -eq 1 ] && echo true || echo false),"
  echo "  \"date\": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
  echo "  \"host\": $(json_str "$(uname -srm)"),"
  echo "  \"gpu\": $([ -n "$gpu" ] && json_str "$gpu" || echo null),"
  echo "  \"libraries\": {$libs},"
  echo "  \"seconds\": $elapsed,"
  echo "  \"failed_steps\": $failures,"
  echo "  \"steps\": ["
  sep=""
  for s in "${steps_json[@]}"; do
    printf '%s    %s' "$sep" "$s"
    sep=$',\n'
  done
  printf '\n  ]\n}\n'
} > "$out/kit.json"

say "done in $elapsed s: $failures step(s) failed; log $log, results in $out/*.json"
[ "$failures" -eq 0 ]
