#!/usr/bin/env bash
# Tests of docker/entrypoint.sh's decisions, without Docker and without Java: the GPU count from each
# variable, the CPU fallback and its notice, argument pass-through, multi-node variables, and that a
# signal sent to the entry point's pid reaches the command it started (exec, no shell in between).
# Run by EntrypointScriptTest (./mvnw verify) and usable alone: bash docker/test-entrypoint.sh
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
entry="$here/entrypoint.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
checks=0

mkdir -p "$tmp/bin" "$tmp/dev-none" "$tmp/dev-two" "$tmp/dev-four" "$tmp/smi"
touch "$tmp/dev-two/nvidia0" "$tmp/dev-two/nvidia1" "$tmp/dev-two/nvidiactl" "$tmp/dev-two/nvidia-uvm"
touch "$tmp/dev-four/nvidia0" "$tmp/dev-four/nvidia1" "$tmp/dev-four/nvidia2" "$tmp/dev-four/nvidia3"
cat > "$tmp/smi/nvidia-smi" << 'EOF'
#!/bin/sh
echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)"
echo "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)"
echo "  MIG 1g.10gb     Device  0: (UUID: MIG-cccc)"
echo "GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-dddd)"
EOF
chmod +x "$tmp/smi/nvidia-smi"
T=/opt/tp4j/bin/tp4j

# run_dry "ENV=.. ENV=.." ARGS... : the command the entry point would exec (words joined by '|'), and
# its stderr in $tmp/err.
run_dry() {
  local envs="$1"
  shift
  # shellcheck disable=SC2086
  env -i PATH="/usr/bin:/bin" TP4J_DEV_DIR="$tmp/dev-none" TP4J_ENTRYPOINT_DRY_RUN=1 $envs \
    bash "$entry" "$@" 2> "$tmp/err" | paste -sd'|' -
}

expect() { # expect NAME EXPECTED ACTUAL
  checks=$((checks + 1))
  if [ "$2" == "$3" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1"
    echo "       expected: $2"
    echo "       actual:   $3"
    fails=$((fails + 1))
  fi
}

expect_notice() { # expect_notice NAME (the last run printed the CPU fallback notice) / absent
  local got=absent
  grep -q '^entrypoint: no GPU visible' "$tmp/err" && got=present
  expect "$1" "$2" "$got"
}

# --- the GPU count from each variable
expect "CUDA_VISIBLE_DEVICES=0,1,2" "$T|launch|--nproc-per-node|3|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=0,1,2" verify)"
expect_notice "  no notice with GPUs" absent
expect "CUDA_VISIBLE_DEVICES=GPU-uuid (one)" "$T|launch|--nproc-per-node|1|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=GPU-8a4f0c2e-1111" verify)"
expect "CUDA_VISIBLE_DEVICES=1,-1,2 ends at -1" "$T|launch|--nproc-per-node|1|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=1,-1,2" verify)"
expect "CUDA_VISIBLE_DEVICES wins over NVIDIA_VISIBLE_DEVICES" "$T|launch|--nproc-per-node|2|mlp" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=2,3 NVIDIA_VISIBLE_DEVICES=0,1,2,3" mlp)"
expect "CUDA_VISIBLE_DEVICES= (empty) hides all" "$T|launch|--nproc-per-node|4|--backend|cpu|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES= TP4J_DEV_DIR=$tmp/dev-four" verify)"
expect "NVIDIA_VISIBLE_DEVICES=0,1" "$T|launch|--nproc-per-node|2|verify" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=0,1" verify)"
expect "NVIDIA_VISIBLE_DEVICES=all, nvidia-smi -L (3 GPUs, 1 MIG line)" "$T|launch|--nproc-per-node|3|verify" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=all PATH=$tmp/smi:/usr/bin:/bin" verify)"
expect "NVIDIA_VISIBLE_DEVICES=all, no nvidia-smi: /dev/nvidia<N>" "$T|launch|--nproc-per-node|2|bench" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=all TP4J_DEV_DIR=$tmp/dev-two" bench)"
expect "NVIDIA_VISIBLE_DEVICES=all, no GPU given to the container" "$T|demo" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=all" demo)"
expect_notice "  notice" present
expect "NVIDIA_VISIBLE_DEVICES=none" "$T|launch|--nproc-per-node|4|--backend|cpu|verify" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=none TP4J_DEV_DIR=$tmp/dev-two" verify)"
expect "NVIDIA_VISIBLE_DEVICES=void" "$T|launch|--nproc-per-node|4|--backend|cpu|verify" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=void PATH=$tmp/smi:/usr/bin:/bin" verify)"
expect "no variable: /dev/nvidia0..3" "$T|launch|--nproc-per-node|4|verify" \
  "$(run_dry "TP4J_DEV_DIR=$tmp/dev-four" verify)"
expect "demo with GPUs: one rank per GPU" "$T|launch|--nproc-per-node|2|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=0,1" demo)"

# --- CPU fallback
expect "no GPU: demo = tp4j demo" "$T|demo" "$(run_dry "" demo)"
expect_notice "  notice" present
expect "  notice text" "entrypoint: no GPU visible (CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES, /dev/nvidia*): demo on 4 CPU ranks" \
  "$(cat "$tmp/err")"
expect "no arguments = demo" "$T|demo" "$(run_dry "")"
expect "no GPU: verify on 4 CPU ranks" "$T|launch|--nproc-per-node|4|--backend|cpu|verify|--hidden|64" \
  "$(run_dry "" verify --hidden 64)"
expect "no GPU: bench on 2 CPU ranks" "$T|launch|--nproc-per-node|2|--backend|cpu|bench|--quick" \
  "$(run_dry "" bench --quick)"
expect "no GPU: generate on 2 CPU ranks" "$T|launch|--nproc-per-node|2|--backend|cpu|generate|--model|/m|--prompt-ids|1" \
  "$(run_dry "" generate --model /m --prompt-ids 1)"
expect "no GPU, TP4J_NPROC=3: demo" "$T|launch|--nproc-per-node|3|--backend|cpu|verify" \
  "$(run_dry "TP4J_NPROC=3" demo)"
expect "GPUs, TP4J_NPROC=1" "$T|launch|--nproc-per-node|1|verify" \
  "$(run_dry "TP4J_NPROC=1 CUDA_VISIBLE_DEVICES=0,1" verify)"
expect "TP4J_NPROC=x is refused (exit 2)" "2" \
  "$(run_dry "TP4J_NPROC=x" verify > /dev/null; env -i PATH=/usr/bin:/bin TP4J_NPROC=x TP4J_ENTRYPOINT_DRY_RUN=1 bash "$entry" verify 2> /dev/null; echo $?)"

# --- pass-through
expect "info runs once" "$T|info|--json|x.json" "$(run_dry "CUDA_VISIBLE_DEVICES=0,1" info --json x.json)"
expect "arguments with spaces and globs stay whole" \
  "$T|launch|--nproc-per-node|2|mlp|--checkpoint|/ckpt/my model.safetensors|--up|*.up_proj" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=0,1" mlp --checkpoint "/ckpt/my model.safetensors" --up "*.up_proj")"
expect "other commands are exec'd as is (dry run)" "tp4j|launch|--nproc-per-node|auto|verify" \
  "$(run_dry "" tp4j launch --nproc-per-node auto verify)"
expect "other commands are exec'd as is (real)" "hello world|rc=3" \
  "$({ env -i PATH=/usr/bin:/bin bash "$entry" bash -c 'echo "$1"; exit 3' _ "hello world"; echo "rc=$?"; } | paste -sd'|' -)"

# --- multi-node: torchrun's variables, passed with docker run -e
expect "NNODES NODE_RANK MASTER_ADDR MASTER_PORT" \
  "$T|launch|--nproc-per-node|2|--nnodes|2|--node-rank|1|--master-addr|10.0.0.1|--master-port|29501|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=0,1 NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 MASTER_PORT=29501" verify)"
expect "torchrun's PET_ forms" \
  "$T|launch|--nproc-per-node|8|--nnodes|4|--node-rank|0|--master-addr|head|--master-port|29500|bench" \
  "$(run_dry "NVIDIA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 PET_NNODES=4 PET_NODE_RANK=0 PET_MASTER_ADDR=head PET_MASTER_PORT=29500" bench)"
expect "one node: MASTER_ADDR/PORT set by the platform are left to the launcher" \
  "$T|launch|--nproc-per-node|2|verify" \
  "$(run_dry "CUDA_VISIBLE_DEVICES=0,1 MASTER_ADDR=svc.example MASTER_PORT=23456" verify)"
expect "NNODES=1 is one node" "$T|demo" "$(run_dry "NNODES=1 NODE_RANK=0 MASTER_ADDR=n0" demo)"
expect "multi-node demo on CPU ranks launches (not tp4j demo)" \
  "$T|launch|--nproc-per-node|4|--backend|cpu|--nnodes|2|--node-rank|0|--master-addr|n0|verify" \
  "$(run_dry "NNODES=2 NODE_RANK=0 MASTER_ADDR=n0" demo)"

# --- signals: the pid that `docker stop` signals is the command's own (exec), so SIGTERM reaches it.
cat > "$tmp/bin/tp4j" << 'EOF'
#!/usr/bin/env bash
trap 'echo "TERM $*" > "$MARK.term"; exit 143' TERM
echo $$ > "$MARK.ready"
while :; do sleep 0.1; done
EOF
chmod +x "$tmp/bin/tp4j"
env -i PATH=/usr/bin:/bin TP4J_BIN="$tmp/bin/tp4j" MARK="$tmp/mark" CUDA_VISIBLE_DEVICES=0,1 \
  bash "$entry" verify --repeat 100 &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/mark.ready" ] && break; sleep 0.05; done
expect "signal: the entry point's pid is the launcher's (exec)" "$pid" "$(cat "$tmp/mark.ready" 2> /dev/null)"
kill -TERM "$pid"
wait "$pid"
rc=$?
expect "signal: SIGTERM reached the launcher, status 143" "TERM launch --nproc-per-node 2 verify --repeat 100|143" \
  "$(cat "$tmp/mark.term" 2> /dev/null)|$rc"

echo "$((checks - fails)) of $checks checks passed"
[ "$fails" -eq 0 ]
