#!/usr/bin/env bash
# Decode speed of `tp4j generate` against its bandwidth bound, repeated: the 128-id prompt of
# docs/performance.md (1000, 1007, ..., 1889), 32 new tokens (--ignore-eos), --bandwidth, once per tp and
# run, the tp values interleaved so that a disturbance of the machine falls on all of them alike.
#
#   bench/generate-decode.sh [--runs 3] [--tp-list "1 2"] [--tp4j PATH/bin/tp4j] MODEL_DIR [OUT_DIR]
#
# Prints one line per run and the min and median per tp (of the mean step, and of each run's median step); OUT_DIR (default: a temporary one) keeps each
# run's --json as tpN-runK.json. --tp4j runs another checkout's command (e.g. an older commit, for a before/after).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tp4j="$root/bin/tp4j"
runs=3
tps="1 2"
model=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --tp-list) tps="$2"; shift 2 ;;
    --tp4j) tp4j="$2"; shift 2 ;;
    -*) echo "generate-decode.sh: unknown option $1" >&2; exit 2 ;;
    *) if [ -z "$model" ]; then model="$1"; else out="$1"; fi; shift ;;
  esac
done
if [ -z "$model" ]; then
  echo "generate-decode.sh: name the model directory, e.g. bench/generate-decode.sh /tmp/llama-1b" >&2
  exit 2
fi
out="${out:-$(mktemp -d)}"
mkdir -p "$out"
ids="$(seq -s, 1000 7 1889)"
for run in $(seq 1 "$runs"); do
  for tp in $tps; do
    json="$out/tp$tp-run$run.json"
    "$tp4j" launch --nproc-per-node "$tp" generate --model "$model" --prompt-ids "$ids" --max-new-tokens 32 \
        --ignore-eos --bandwidth --json "$json" > "$out/tp$tp-run$run.log" 2>&1 \
      || { echo "generate-decode.sh: tp $tp run $run failed, see $out/tp$tp-run$run.log" >&2; exit 1; }
    python3 - "$json" "$tp" "$run" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
gbps = " + ".join("%.1f" % k["memory_gigabytes_per_second"] for k in r["ranks"])
# Older reports (before decode_bytes_per_token) bounded the step by the weights held.
read = [k.get("decode_bytes_per_token", k["weight_bytes"]) for k in r["ranks"]]
# Older reports have no per-step spread.
median = r.get("decode_step_ms", {}).get("median", float("nan"))
print("tp %s run %s (load %s): prefill %.0f ms, decode %.2f ms/token (median step %.2f), bound %.2f ms "
      "(%.2f GB read per rank at %s GB/s): %.2fx (median step %.2fx)"
      % (sys.argv[2], sys.argv[3], sys.argv[4], r["prefill_ms"], r["decode_ms_per_token"], median,
         r["decode_bound_ms"], max(read) / 1e9, gbps, r["decode_ms_per_token"] / r["decode_bound_ms"],
         median / r["decode_bound_ms"]))
PY
  done
done
python3 - "$out" $tps <<'PY'
import glob, json, statistics, sys
for tp in sys.argv[2:]:
    rs = [json.load(open(f)) for f in sorted(glob.glob("%s/tp%s-run*.json" % (sys.argv[1], tp)))]
    d = [r["decode_ms_per_token"] for r in rs]
    x = [r["decode_ms_per_token"] / r["decode_bound_ms"] for r in rs]
    m = [r.get("decode_step_ms", {}).get("median", float("nan")) / r["decode_bound_ms"] for r in rs]
    print("tp %s, %d runs: decode min %.2f median %.2f ms/token; x bound min %.2f median %.2f; "
          "median step x bound, median of runs %.2f"
          % (tp, len(rs), min(d), statistics.median(d), min(x), statistics.median(x), statistics.median(m)))
PY
echo "generate-decode.sh: reports in $out"
