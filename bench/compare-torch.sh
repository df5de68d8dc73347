#!/usr/bin/env bash
# Runs the same MLP shape and all_reduce sizes through PyTorch (gloo on CPU ranks, nccl on GPUs) and
# through `tp4j bench`, one after the other on this machine, and prints tp4j's time over PyTorch's.
#
#   bench/compare-torch.sh [--tp N] [--tokens T --hidden H --ffn F] [--activation gelu] [--device cpu|cuda] [--quick]
#
# Needs a python3 with torch (Debian: apt-get install python3-torch; set PYTHON to choose the interpreter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tp=2 tokens=128 hidden=2048 ffn=8192 activation=gelu device=cpu quick=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tp) tp="$2"; shift 2 ;;
    --tokens) tokens="$2"; shift 2 ;;
    --hidden) hidden="$2"; shift 2 ;;
    --ffn) ffn="$2"; shift 2 ;;
    --activation) activation="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "compare-torch.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c "import torch" 2>/dev/null; then python="$candidate"; break; fi
  done
fi
if [ -z "$python" ]; then
  echo "compare-torch.sh: no python3 with torch found (apt-get install python3-torch, or set PYTHON)" >&2
  exit 2
fi
max_bytes=$((64 << 20)) iterations=20
if [ -n "$quick" ]; then max_bytes=$((4 << 20)) iterations=7; fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== PyTorch: tp $tp, tokens $tokens, hidden $hidden, ffn $ffn, $activation, $device" >&2
"$python" "$root/bench/torch_bench.py" --tp "$tp" --tokens "$tokens" --hidden "$hidden" --ffn "$ffn" \
  --activation "$activation" --device "$device" --iterations "$iterations" --max-bytes "$max_bytes" > "$out/torch.json"

echo "== tp4j: the same" >&2
backend=cpu; [ "$device" = cuda ] && backend=cuda
"$root/bin/tp4j" launch --nproc-per-node "$tp" --backend "$backend" bench --tokens "$tokens" --hidden "$hidden" \
  --ffn "$ffn" --activation "$activation" ${quick:+--quick} --json "$out/tp4j.json" > "$out/tp4j.txt"

"$python" - "$out/torch.json" "$out/tp4j.json" <<'PY'
import json, sys
torch = json.load(open(sys.argv[1]))
tp4j = json.load(open(sys.argv[2]))
print("peer: %s (%d threads per rank); tp4j: %s" % (torch["peer"], torch["threads_per_rank"], tp4j["header"]))
def pick(results, kind, key=None):
    return {key(r) if key else r["kind"]: r for r in results if r["kind"] == kind}
tm = [r for r in torch["results"] if r["kind"] == "mlp"][0]
jm = [r for r in tp4j["results"] if r["kind"] == "mlp"][0]
print("%-28s %12s %12s %8s" % ("", "pytorch ms", "tp4j ms", "tp4j/pt"))
print("%-28s %12.3f %12.3f %8.2f" % ("mlp " + tm["shape"][:20], tm["median_ms"], jm["median_ms"],
                                     jm["median_ms"] / tm["median_ms"]))
ta = {r["bytes"]: r for r in torch["results"] if r["kind"] == "collective"}
ja = {r["bytes"]: r for r in tp4j["results"] if r["kind"] == "collective" and r["op"] == "all_reduce"}
for size in sorted(ta):
    if size in ja:
        label = "all_reduce %d KiB" % (size >> 10) if size < (1 << 20) else "all_reduce %d MiB" % (size >> 20)
        print("%-28s %12.3f %12.3f %8.2f" % (label, ta[size]["median_ms"], ja[size]["median_ms"],
                                             ja[size]["median_ms"] / ta[size]["median_ms"]))
PY
