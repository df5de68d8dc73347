#!/usr/bin/env bash
# The containers' entry point: one rank per visible GPU, or CPU ranks when there is none.
#
#   demo | verify | mlp | bench | generate [task options]
#       -> tp4j launch --nproc-per-node N [multi-node flags] TASK [task options]
#          N = the GPUs this container sees: CUDA_VISIBLE_DEVICES (a comma list), else
#          NVIDIA_VISIBLE_DEVICES (a comma list; "all" = the GPUs `nvidia-smi -L` lists, or the
#          /dev/nvidia<N> files; "none", "void" or empty = 0), else the /dev/nvidia<N> files.
#          With no GPU: CPU ranks, with a one-line notice on stderr. `demo` is then `tp4j demo` (4 CPU
#          ranks); verify and mlp run 4 CPU ranks, bench and generate 2 (ranks beyond the cores would measure
#          nothing; 2 divides the heads of nearly every model).
#   info [options]     -> tp4j info, once (not per rank)
#   anything else      -> exec'd as is (tp4j launch ..., bash, ...)
#
# Environment:
#   TP4J_NPROC         ranks to start, overriding the count above (GPU or CPU)
#   NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT (or torchrun's PET_ forms of them)
#                      multi-node (NNODES > 1): become --nnodes, --node-rank, --master-addr,
#                      --master-port (ignored on one node); TP4J_JOB_TOKEN (the same secret on every
#                      node) reaches the launcher and its workers as is
#   TP4J_ENTRYPOINT_DRY_RUN=1   print the command (one word per line) instead of running it; for tests
#   TP4J_HOME (/opt/tp4j), TP4J_BIN (its bin/tp4j), TP4J_DEV_DIR (/dev)   where things are; tests move them
#
# The command is exec'd, so the launcher's JVM becomes the container's main process: `docker stop`
# (SIGTERM) and Ctrl-C (SIGINT) reach it, and it stops its workers before exiting (143 / 130).
# `docker run --init` adds a minimal init in front of it that reaps strays; it is not needed for tp4j.
set -euo pipefail

tp4j="${TP4J_BIN:-${TP4J_HOME:-/opt/tp4j}/bin/tp4j}"
dev_dir="${TP4J_DEV_DIR:-/dev}" # tests point this at a fake /dev

# Entries of a CUDA_VISIBLE_DEVICES-style list, ending where the CUDA runtime ends it: at the first item
# that names no device ("", "-1", "NoDevFiles"). The same rule as dev.tp4j.launch.LocalDevices.
count_list() {
  local n=0 item
  local IFS=,
  # shellcheck disable=SC2086
  set -f; set -- $1; set +f
  for item in "$@"; do
    item="${item#"${item%%[![:space:]]*}"}"
    item="${item%"${item##*[![:space:]]}"}"
    case "$item" in
      "" | -* | [Nn][Oo][Dd][Ee][Vv][Ff][Ii][Ll][Ee][Ss]) break ;;
    esac
    n=$((n + 1))
  done
  echo "$n"
}

# /dev/nvidia0, /dev/nvidia1, ... (not nvidiactl, nvidia-uvm).
count_dev_files() {
  local n=0 f
  for f in "$dev_dir"/nvidia[0-9]*; do
    case "${f##*/}" in
      nvidia*[!0-9]*) ;;
      nvidia[0-9]*) [ -e "$f" ] && n=$((n + 1)) ;;
    esac
  done
  echo "$n"
}

visible_gpus() {
  if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
    count_list "$CUDA_VISIBLE_DEVICES"
  elif [ -n "${NVIDIA_VISIBLE_DEVICES+set}" ]; then
    case "${NVIDIA_VISIBLE_DEVICES,,}" in
      none | void | "") echo 0 ;;
      all)
        # The CUDA base images set NVIDIA_VISIBLE_DEVICES=all even when the container got no GPU; then
        # the toolkit injected neither nvidia-smi nor the device files, and this counts 0.
        if command -v nvidia-smi > /dev/null 2>&1; then
          nvidia-smi -L 2> /dev/null | grep -c '^GPU ' || true
        else
          count_dev_files
        fi
        ;;
      *) count_list "$NVIDIA_VISIBLE_DEVICES" ;;
    esac
  else
    count_dev_files
  fi
}

run() {
  if [ "${TP4J_ENTRYPOINT_DRY_RUN:-0}" = 1 ]; then
    printf '%s\n' "$@"
    exit 0
  fi
  exec "$@"
}

is_count() {
  case "$1" in '' | *[!0-9]*) return 1 ;; esac
  [ "$1" -ge 1 ]
}

if [ $# -eq 0 ]; then
  set -- demo
fi
task="$1"
case "$task" in
  demo | verify | mlp | bench | generate) shift ;;
  info) shift; run "$tp4j" info "$@" ;;
  *) run "$@" ;;
esac

gpus="$(visible_gpus)"
if [ -n "${TP4J_NPROC:-}" ]; then
  if ! is_count "$TP4J_NPROC"; then
    echo "entrypoint: TP4J_NPROC='$TP4J_NPROC' is not a number of ranks (1 or more)" >&2
    exit 2
  fi
  nproc="$TP4J_NPROC"
elif [ "$gpus" -ge 1 ]; then
  nproc="$gpus"
else
  nproc=""
fi

launch=(--nproc-per-node)
if [ "$gpus" -lt 1 ]; then
  case "$task" in bench | generate) cpu_default=2 ;; *) cpu_default=4 ;; esac
  nproc="${nproc:-$cpu_default}"
  echo "entrypoint: no GPU visible (CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES, /dev/nvidia*): $task on $nproc CPU ranks" >&2
  if [ "$task" = demo ] && [ "$nproc" = 4 ] && [ "${NNODES:-${PET_NNODES:-1}}" = 1 ]; then
    run "$tp4j" demo "$@"
  fi
  launch+=("$nproc" --backend cpu)
else
  launch+=("$nproc")
fi
[ "$task" = demo ] && task=verify

# Multi-node only: on one node the launcher's own rendezvous (127.0.0.1, a free port) is the right one,
# even where the platform sets MASTER_ADDR anyway (e.g. to a service address this container cannot bind).
nnodes="${NNODES:-${PET_NNODES:-1}}"
if [ "$nnodes" != 1 ]; then
  node_rank="${NODE_RANK:-${PET_NODE_RANK:-}}"
  master_addr="${MASTER_ADDR:-${PET_MASTER_ADDR:-}}"
  master_port="${MASTER_PORT:-${PET_MASTER_PORT:-}}"
  launch+=(--nnodes "$nnodes")
  [ -n "$node_rank" ] && launch+=(--node-rank "$node_rank")
  [ -n "$master_addr" ] && launch+=(--master-addr "$master_addr")
  [ -n "$master_port" ] && launch+=(--master-port "$master_port")
fi

run "$tp4j" launch "${launch[@]}" "$task" "$@"
