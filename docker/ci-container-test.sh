#!/usr/bin/env bash
# A real container run for CI: builds the CPU image (docker/Dockerfile.cpu) against a locally made Debian
# base and runs it, checking exit status and output (then the GPU Dockerfile against a stand-in for
# NVIDIA's base; see the end):
#   demo (4 CPU ranks), info, verify writing --json to a mounted results directory, mlp on a checkpoint
#   mounted read-only (output checked against the host's run), the entry point's GPU
#   count and multi-node variables seen through `docker run -e`, and `docker stop` ending a running job
#   cleanly (SIGTERM reaches the launcher, which stops its workers: status 143, well before the timeout).
#
# Needs root and apt-get (it installs docker.io and debootstrap when missing); otherwise it says so and
# exits 0. Uses a Docker engine that already answers, else starts its own dockerd in the background
# (pidfile, data root under the cache) and stops it, by its pid, on exit. Cached between runs on the same
# machine: the engine's images (the base image is made once: debootstrap --variant=minbase bookworm +
# docker import) and the debootstrap tree.
#
#   TP4J_DOCKER_CACHE   cache directory (default /var/cache/tp4j-docker)
#   TP4J_DEBIAN_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   TP4J_DOCKERD_NO_BRIDGE=1  start dockerd with --iptables=false --bridge=none at once (the fallback
#                       when it does not start with its default network; builds and containers then
#                       run with --network none)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${TP4J_DOCKER_CACHE:-/var/cache/tp4j-docker}"
mirror="${TP4J_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base=tp4j-base:bookworm
image=tp4j:cpu-ci
run_dir=/run/tp4j-docker
say() { echo "ci-container-test: $*"; }
t0=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  say "SKIPPED: not root (installing and starting a Docker engine needs root)"
  exit 0
fi
if ! command -v apt-get > /dev/null; then
  say "SKIPPED: no apt-get (docker.io and debootstrap are installed from Debian's packages)"
  exit 0
fi

# One run at a time on this machine (several worktrees may run CI at once): they share the engine's data.
mkdir -p "$cache" "$run_dir"
exec 8> "$cache/.lock"
if ! flock -w 900 8; then
  say "FAILED: another run held $cache/.lock for 15 minutes"
  exit 1
fi

need=()
command -v dockerd > /dev/null || need+=(docker.io)
command -v debootstrap > /dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" > /dev/null
fi

# ---------------------------------------------------------------------------------------------- engine
started_pid=""
work=""
net=()
names=()
cleanup() {
  local rc=$?
  [ -z "$work" ] || rm -rf "$work"
  for n in "${names[@]}"; do docker rm -f "$n" > /dev/null 2>&1 || true; done
  if [ -n "$started_pid" ]; then
    kill -TERM "$started_pid" 2> /dev/null || true
    for _ in $(seq 100); do kill -0 "$started_pid" 2> /dev/null || break; sleep 0.2; done
    if kill -0 "$started_pid" 2> /dev/null; then
      say "dockerd $started_pid did not stop within 20 s; killing it"
      kill -KILL "$started_pid" 2> /dev/null || true
    fi
    say "stopped the dockerd it started (pid $started_pid)"
  fi
  say "$([ $rc -eq 0 ] && echo passed || echo "FAILED (status $rc)") in $((SECONDS - t0)) s"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

answers() { timeout 10 docker version --format '{{.Server.Version}}' > /dev/null 2>&1; }

# start_dockerd [extra dockerd options]: starts one, waits up to 30 s for it to answer.
start_dockerd() {
  local pidfile="$run_dir/dockerd.pid"
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2> /dev/null; then
    say "FAILED: $pidfile names a running dockerd ($(cat "$pidfile")) that does not answer on $DOCKER_HOST"
    exit 1
  fi
  dockerd --data-root "$cache/data" --exec-root "$run_dir/exec" --pidfile "$pidfile" \
    -H "$DOCKER_HOST" "$@" > "$cache/dockerd.log" 2>&1 &
  started_pid=$!
  for _ in $(seq 150); do
    answers && return 0
    kill -0 "$started_pid" 2> /dev/null || break
    sleep 0.2
  done
  say "dockerd $* did not answer within 30 s; its log ends with:"
  tail -15 "$cache/dockerd.log" | sed 's/^/    /'
  kill -TERM "$started_pid" 2> /dev/null || true
  wait "$started_pid" 2> /dev/null || true
  started_pid=""
  return 1
}

if [ -z "${DOCKER_HOST:-}" ] && answers; then
  say "using the Docker engine that answers at the default socket"
else
  [ -n "${DOCKER_HOST:-}" ] && answers && say "using the Docker engine at $DOCKER_HOST"
  if ! answers; then
    export DOCKER_HOST="unix://$run_dir/docker.sock"
    if answers; then
      say "using the Docker engine at $DOCKER_HOST"
    elif [ "${TP4J_DOCKERD_NO_BRIDGE:-0}" != 1 ] && start_dockerd; then
      say "started dockerd (pid $started_pid, data root $cache/data)"
    elif start_dockerd --iptables=false --bridge=none; then
      say "started dockerd without a bridge network (pid $started_pid); containers run with --network none"
      net=(--network none)
    else
      say "FAILED: cannot start a Docker engine here (see the log above)"
      exit 1
    fi
  fi
fi
say "engine $(docker version --format '{{.Server.Version}}'), storage driver $(docker info --format '{{.Driver}}')"

# ------------------------------------------------------------------------------------------ base image
if docker image inspect "$base" > /dev/null 2>&1; then
  say "base image $base: cached"
else
  rootfs="$cache/rootfs-bookworm"
  if [ ! -f "$rootfs/.complete" ]; then
    say "debootstrap --variant=minbase bookworm from $mirror (once per machine)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$cache/debootstrap.log" 2>&1 || {
      tail -15 "$cache/debootstrap.log"
      say "FAILED: debootstrap (log: $cache/debootstrap.log)"
      exit 1
    }
    touch "$rootfs/.complete"
  fi
  # Left out, as Debian's -slim images leave them out: package lists and caches, docs, man pages, locales.
  tar -C "$rootfs" --exclude=./.complete --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
    --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' \
    --exclude='./usr/share/locale/*' -c . | docker import - "$base" > /dev/null
  say "base image $base: imported ($(docker image inspect -f '{{.Size}}' "$base" | awk '{printf "%.0f MB", $1/1e6}'))"
fi

# ------------------------------------------------------------------------------------------------ image
if [ ! -x target/tp4j-dist/bin/tp4j ] || [ ! -f target/tp4j-dist/lib/tp4j.jar ]; then
  say "building target/tp4j-dist (./mvnw -B -q -Pdist -DskipTests package)"
  ./mvnw -B -q -Pdist -DskipTests package
fi
version="$(sed -n 's/^tp4j \(.*\)/\1/p' <(target/tp4j-dist/bin/tp4j --version 2> /dev/null) | head -1)"
say "docker build -f docker/Dockerfile.cpu --build-arg BASE=$base"
docker build -q "${net[@]}" -f docker/Dockerfile.cpu --build-arg BASE="$base" \
  --build-arg VERSION="${version:-unknown}" \
  --build-arg REVISION="$(git rev-parse HEAD 2> /dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$image" . > /dev/null 2> "$cache/build.err" || {
  cat "$cache/build.err"
  say "FAILED: docker build"
  exit 1
}
# Earlier builds' images, now untagged, would pile up in the cache.
docker image prune -f --filter label=org.opencontainers.image.title=tp4j > /dev/null
say "image $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'), user $(docker image inspect -f '{{.Config.User}}' "$image"), version label $(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")"

# ------------------------------------------------------------------------------------------------- runs
work="$(mktemp -d)"
names+=("tp4j-ci-stop-$$")

fail() {
  say "FAILED: $1; the output was:"
  sed 's/^/    /' "$2"
  exit 1
}
# check NAME OUTFILE EXPECTED_STATUS GREP_PATTERN... ; runs docker run --rm "${net[@]}" ARGS from $run_args
check() {
  local name="$1" out="$2" want="$3" rc
  shift 3
  set +e
  docker run --rm "${net[@]}" "${run_args[@]}" > "$out" 2>&1
  rc=$?
  set -e
  [ "$rc" -eq "$want" ] || fail "$name exited $rc, not $want" "$out"
  for p in "$@"; do
    grep -qE -- "$p" "$out" || fail "$name: no line matching '$p'" "$out"
  done
  say "ok: $name"
}

run_args=("$image")
check "demo (no arguments): 4 CPU ranks, the CPU notice" "$work/demo.out" 0 \
  '^entrypoint: no GPU visible .*demo on 4 CPU ranks' \
  'tp4j launch --nproc-per-node 4 --backend cpu verify' \
  '^\[0\] verify: all 4 checks passed on 4 ranks'

run_args=("$image" info)
check "info: the bundled runtime" "$work/info.out" 0 'java: .*\(/opt/tp4j/runtime\)' 'cpu backend: OpenBLAS'

mkdir -p "$work/results"
chown 10001:10001 "$work/results"
run_args=(-v "$work/results:/results" -e TP4J_NPROC=3 "$image" verify --hidden 256 --ffn 1001 --gated
  --activation silu --json /results/verify.json)
check "verify on 3 CPU ranks, --json to a mounted volume" "$work/verify.out" 0 \
  'verify on 3 CPU ranks' '^\[0\] verify: all 4 checks passed on 3 ranks'
[ -s "$work/results/verify.json" ] || fail "verify wrote no /results/verify.json" "$work/verify.out"
grep -q '"world_size" : 3' "$work/results/verify.json" && grep -q '^  "passed" : true' "$work/results/verify.json" ||
  fail "verify.json does not say passed on 3 ranks" "$work/results/verify.json"
say "ok: /results/verify.json written ($(wc -c < "$work/results/verify.json") bytes)"

run_args=(-e TP4J_ENTRYPOINT_DRY_RUN=1 -e CUDA_VISIBLE_DEVICES=0,1,2 -e NNODES=2 -e NODE_RANK=1
  -e MASTER_ADDR=10.1.2.3 -e MASTER_PORT=29501 "$image" mlp --checkpoint /checkpoint/model.safetensors)
check "GPU count and torchrun variables from docker run -e (dry run)" "$work/dry.out" 0 \
  '^/opt/tp4j/bin/tp4j$' '^--nproc-per-node$' '^3$' '^--nnodes$' '^--node-rank$' '^10\.1\.2\.3$' '^29501$' \
  '^/checkpoint/model\.safetensors$'

run_args=(--user 4321:4321 "$image" verify --hidden 64 --ffn 96)
check "an arbitrary uid (not in /etc/passwd)" "$work/uid.out" 0 '^\[0\] verify: all 4 checks passed on 4 ranks'

# mlp on a checkpoint mounted read-only (PyTorch-made: BERT-style, F32, exact GELU, with biases), the
# output written to the mounted results directory; rank 0 checks it against float64 (--verify).
fixture="$root/src/test/resources/interop/bert_f32_gelu"
# The host run below is compared byte for byte, so the container gets the host's OpenBLAS settings:
# OPENBLAS_CORETYPE set on the host (e.g. Haswell) and left to detection in the container (e.g.
# Cooperlake) pick different GEMM kernels, which round differently.
blas_env=()
for v in $(compgen -e | grep '^OPENBLAS_' || true); do blas_env+=(-e "$v"); done
run_args=("${blas_env[@]}" -v "$fixture:/checkpoint:ro" -v "$work/results:/results" "$image" mlp
  --checkpoint /checkpoint/model.safetensors --up model.layers.0.mlp.up_proj
  --down model.layers.0.mlp.down_proj --activation gelu --input /checkpoint/input.safetensors
  --output /results/out.safetensors --verify --json /results/mlp.json)
check "mlp: checkpoint mounted read-only, 4 CPU ranks, output to the results volume" "$work/mlp.out" 0 \
  'mlp on 4 CPU ranks' '^\[0\] tp4j mlp: 4 ranks, gelu'
[ -s "$work/results/out.safetensors" ] || fail "mlp wrote no /results/out.safetensors" "$work/mlp.out"
grep -q '^  "passed" : true' "$work/results/mlp.json" || fail "mlp.json does not say passed" "$work/results/mlp.json"
# The same run on the host's distribution gives the same bytes.
target/tp4j-dist/bin/tp4j launch --nproc-per-node 4 --backend cpu mlp \
  --checkpoint "$fixture/model.safetensors" --up model.layers.0.mlp.up_proj \
  --down model.layers.0.mlp.down_proj --activation gelu --input "$fixture/input.safetensors" \
  --output "$work/host-out.safetensors" > "$work/host-mlp.out" 2>&1 || fail "mlp on the host" "$work/host-mlp.out"
cmp -s "$work/results/out.safetensors" "$work/host-out.safetensors" ||
  fail "the container's mlp output differs from the host's" "$work/mlp.out"
say "ok: mlp output ($(wc -c < "$work/results/out.safetensors") bytes) passed --verify and equals the host's"

# docker stop sends SIGTERM to the container's main process: the launcher (exec'd by the entry point).
stop_name="tp4j-ci-stop-$$"
docker run -d --name "$stop_name" "${net[@]}" "$image" verify --repeat 1000000 > /dev/null
# Running means: the launcher and its 4 worker JVMs are up (rank 0 reports only at the end).
javas=0
for _ in $(seq 150); do
  javas="$(docker top "$stop_name" -o pid,args 2> /dev/null | grep -c 'dev.tp4j.cli.Main' || true)"
  [ "$javas" -ge 5 ] && break
  sleep 0.2
done
docker logs "$stop_name" > "$work/stop.out" 2>&1
[ "$javas" -ge 5 ] || fail "the long verify did not have its 5 JVMs (launcher + 4 workers) up within 30 s" "$work/stop.out"
sleep 1
s0=$SECONDS
docker stop -t 30 "$stop_name" > /dev/null
took=$((SECONDS - s0))
status="$(docker inspect -f '{{.State.ExitCode}}' "$stop_name")"
docker logs "$stop_name" > "$work/stop.out" 2>&1
[ "$status" = 143 ] || fail "docker stop: the container exited $status, not 143 (SIGTERM)" "$work/stop.out"
[ "$took" -lt 20 ] || fail "docker stop took $took s (the launcher did not act on SIGTERM)" "$work/stop.out"
grep -q 'interrupted; stopping 4 workers' "$work/stop.out" || fail "the launcher did not say it stopped its workers" "$work/stop.out"
say "ok: docker stop: SIGTERM reached the launcher, which stopped its 4 workers (status 143, ${took} s)"

# ------------------------------------------------------------------------------- the GPU Dockerfile
# NVIDIA's CUDA base cannot be had here. What can be checked: its base-library check refuses a base
# without CUDA, and with a stand-in base (the Debian one plus empty libraries carrying the sonames of
# cudart, cuBLAS, cuBLASLt, NVRTC and NCCL) the whole file builds and the image runs, on CPU ranks.
gpu_image=tp4j:cuda-ci
set +e
docker build -q --force-rm "${net[@]}" -f docker/Dockerfile --build-arg BASE="$base" -t "$gpu_image" . > "$work/gpu-neg.out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "docker/Dockerfile built on a base without CUDA libraries" "$work/gpu-neg.out"
grep -q "has no libcudart.so.13" "$work/gpu-neg.out" || fail "docker/Dockerfile on a non-CUDA base: no clear message" "$work/gpu-neg.out"
say "ok: docker/Dockerfile refuses a base without the CUDA libraries"

if ! command -v gcc > /dev/null; then
  say "SKIPPED: the GPU Dockerfile on a stand-in CUDA base (no gcc here to make the stub libraries)"
  exit 0
fi
stub_base=tp4j-base:cuda-stub
mkdir -p "$work/stub/lib"
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13 libnccl.so.2; do
  echo 'void tp4j_cuda_stub(void) {}' | gcc -shared -fPIC -x c - -Wl,-soname,"$lib" -o "$work/stub/lib/$lib"
done
printf '%s\n' "FROM $base" \
  'COPY lib /usr/local/cuda-stub/lib' \
  'RUN echo /usr/local/cuda-stub/lib > /etc/ld.so.conf.d/cuda-stub.conf && ldconfig' \
  'ENV NVIDIA_VISIBLE_DEVICES=all' > "$work/stub/Dockerfile"
docker build -q "${net[@]}" -t "$stub_base" "$work/stub" > "$work/stub.out" 2>&1 || fail "building the stand-in CUDA base" "$work/stub.out"
docker build -q "${net[@]}" -f docker/Dockerfile --build-arg BASE="$stub_base" -t "$gpu_image" . > "$work/gpu.out" 2>&1 ||
  fail "docker/Dockerfile on the stand-in CUDA base" "$work/gpu.out"
docker image prune -f --filter label=org.opencontainers.image.title=tp4j > /dev/null
say "ok: docker/Dockerfile builds on the stand-in CUDA base (label dev.tp4j.flavor=$(docker image inspect -f '{{index .Config.Labels "dev.tp4j.flavor"}}' "$gpu_image"))"
# NVIDIA_VISIBLE_DEVICES=all as in NVIDIA's images, but no GPU given: the entry point falls back to CPU.
run_args=("$gpu_image")
check "GPU image, no GPU given: demo on CPU ranks" "$work/gpu-demo.out" 0 \
  '^entrypoint: no GPU visible .*demo on 4 CPU ranks' '^\[0\] verify: all 4 checks passed on 4 ranks'
# The CUDA backend finds the base's libraries (through ld.so.conf, as in NVIDIA's images); only the
# driver's libcuda.so.1, which the NVIDIA Container Toolkit mounts at run time, is missing here.
run_args=("$gpu_image" info)
check "GPU image: info finds the base's CUDA libraries, misses only the driver" "$work/gpu-info.out" 0 \
  'found libcudart\.so\.13, libcublas\.so\.13, libcublasLt\.so\.13, libnvrtc\.so\.13, libnccl\.so\.2; missing libcuda\.so\.1'
