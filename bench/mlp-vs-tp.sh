#!/usr/bin/env bash
# The MLP forward time against tp: runs `tp4j bench` once per tp (each run measures its own tp), keeps
# each run's --json beside the plot, and draws them together (the last run's --plot with --plot-with).
#
#   bench/mlp-vs-tp.sh [--tp-list "1 2 4"] [--quick] [bench options...] OUT.png
#
# OUT.png gets busbw against size for every tp and one MLP bar per tp; OUT-tpN.json the results of each run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tps="1 2"
args=()
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tp-list) tps="$2"; shift 2 ;;
    *.png) out="$1"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$out" ]; then
  echo "mlp-vs-tp.sh: name the plot, e.g. bench/mlp-vs-tp.sh --quick mlp.png" >&2
  exit 2
fi
stem="${out%.png}"
earlier=()
last=""
for tp in $tps; do last="$tp"; done
for tp in $tps; do
  json="$stem-tp$tp.json"
  if [ "$tp" = "$last" ]; then
    "$root/bin/tp4j" launch --nproc-per-node "$tp" bench "${args[@]}" --json "$json" --plot "$out" "${earlier[@]}"
  else
    "$root/bin/tp4j" launch --nproc-per-node "$tp" bench "${args[@]}" --json "$json"
    earlier+=(--plot-with "$json")
  fi
done
echo "mlp-vs-tp.sh: $out (from $(echo $tps | wc -w) runs: ${stem}-tp*.json)"
