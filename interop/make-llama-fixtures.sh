#!/usr/bin/env bash
# Regenerates the whole-model fixtures under src/test/resources/models/ (committed, so the tests need no
# Python): random Llama / Mistral / Qwen2 directories laid out as Hugging Face writes them, with the
# float64 reference's logits and greedy tokens (interop/torch_llama.py), and bad/ (broken directories for
# the exit-2 checks, interop/make_bad_llama.py). Needs a python3 with torch and Hugging Face's safetensors:
#   apt-get install python3-torch            # PyTorch from Debian
#   pip download safetensors --no-deps --only-binary=:all: -d /tmp/st && python3 -m zipfile -e /tmp/st/*.whl /tmp/stlib
#   PYTHON=/usr/bin/python3 PYTHONPATH=/tmp/stlib interop/make-llama-fixtures.sh
# Seeds are tried upwards from the one given until every greedy step's top-1 logit beats its top-2 by
# --min-gap, so the same versions give the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
out=src/test/resources/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() { local name=$1; shift; "$py" interop/torch_llama.py "$out/$name" "$@"; echo "$name: $*" >> "$out/README.txt"; }
rm -rf "$out"; mkdir -p "$out"
cat > "$out/README.txt" <<EOF
Made by interop/make-llama-fixtures.sh with PyTorch $("$py" -c 'import torch; print(torch.__version__)') and safetensors $("$py" -c 'import safetensors; print(safetensors.__version__)'),
float64 GEMMs through $("$py" -c 'import torch, os; print(" ".join(sorted({os.path.realpath(l.split()[-1]) for l in open("/proc/self/maps") if "blas" in l.lower() and ".so" in l and "lapack" not in l.lower()})))').
Another BLAS changes the float64 outputs in their last digits (about 1e-14); the model files stay bit for bit.
Each directory is a Hugging Face model directory (config.json, generation_config.json unless noted,
model.safetensors or model-0000i-of-0000n.safetensors + model.safetensors.index.json) plus the float64
reference of interop/torch_llama.py over the stored weights:
  expected.safetensors  F64 logits [prompt_len, vocab] (the prompt's forward, every position) and
                        F64 greedy_logits [new_tokens, vocab] (each greedy step's logits, recomputed
                        over the whole sequence, no cache)
  expected.json         prompt_ids, greedy_tokens (EOS ignored), eos_token_ids and
                        greedy_tokens_until_eos (where a run without --ignore-eos stops, EOS included),
                        min_top2_gap, supported_tp, sensitivity_max_abs_diff (how far the prompt's logits
                        move when one semantic is broken), seed and arguments.
Notes for tests:
  - Heads split by tp: q/k/v rows of head h are h*head_dim .. (h+1)*head_dim-1; query head h uses kv head
    h / (heads / kv_heads) (transformers' repeat_kv). supported_tp lists the tp values that fit.
  - llama: max_position_embeddings 32, so its 6-token prompt with --max-new-tokens 27 or more must exit 2.
  - mistral: sliding_window 64 > every sequence here; with --max-new-tokens 60 (5 + 60 > 64) it must exit 2.
    It has no generation_config.json: its EOS id comes from config.json.
  - qwen2: sliding_window 8 is shorter than its sequence, but use_sliding_window is false, so transformers
    ignores it (Qwen2Config sets sliding_window to None): it must run, not exit 2.
  - llama3 and mistral stop early without --ignore-eos (greedy_tokens_until_eos, EOS included, as
    transformers' generate returns it); llama and qwen2 never meet their EOS ids.
  - bf16/f16 fixtures: the float64 reference runs over the stored values upcast exactly.
  - A float32 tensor-parallel decode with a KV cache (bench/torch_llama_decode.py, checked by
    interop/check_llama_fixtures.py) reproduces every greedy token and the prompt's logits within 4e-6.
Arguments:
EOF
common="--layers 2 --min-gap 0.1 --min-distinct 4"
gen llama   --arch llama   $common --hidden 64 --intermediate 86  --heads 8  --kv-heads 2 --vocab 101 --dtype f32 \
            --max-pos 32 --prompt-len 6 --max-new-tokens 8 --seed 1
gen llama3  --arch llama   $common --hidden 64 --intermediate 80  --heads 12 --kv-heads 6 --head-dim 8 --vocab 131 \
            --dtype bf16 --tied --shards 3 --rope-theta 500000 --rope-scaling llama3 --rope-factor 8 \
            --low-freq-factor 1 --high-freq-factor 4 --original-max-pos 256 --max-pos 2048 \
            --eos-list --eos-hit-step 3 --prompt-len 7 --max-new-tokens 6 --seed 10
gen mistral --arch mistral $common --hidden 64 --intermediate 110 --heads 24 --kv-heads 12 --head-dim 8 --vocab 103 \
            --dtype f16 --shards 2 --sliding-window 64 --max-pos 128 --no-generation-config --eos-hit-step 4 \
            --prompt-len 5 --max-new-tokens 8 --seed 20
gen qwen2   --arch qwen2   $common --hidden 96 --intermediate 98  --heads 12 --kv-heads 1 --vocab 127 --dtype bf16 \
            --tied --rms-eps 1e-6 --rope-theta 1000000 --sliding-window 8 --max-pos 64 --eos-list \
            --prompt-len 6 --max-new-tokens 7 --seed 30

# The bad/ set: two tiny bases (single file, two shards), broken one way each.
"$py" interop/torch_llama.py "$tmp/single" --arch llama --layers 1 --hidden 8 --intermediate 12 --heads 2 \
  --kv-heads 1 --vocab 11 --dtype f32 --prompt-len 5 --max-new-tokens 2 --seed 40 > /dev/null
"$py" interop/torch_llama.py "$tmp/sharded" --arch llama --layers 1 --hidden 8 --intermediate 12 --heads 2 \
  --kv-heads 1 --vocab 11 --dtype f32 --shards 2 --prompt-len 5 --max-new-tokens 2 --seed 40 > /dev/null
"$py" interop/make_bad_llama.py "$tmp/single" "$tmp/sharded" "$out/bad"

"$py" - "$out" >> "$out/README.txt" <<'PY'
import json, os, sys
out = sys.argv[1]
print("\nSummary (supported_tp: tp divides the heads and divides, or is a multiple of, the kv heads):")
for name in sorted(os.listdir(out)):
    path = os.path.join(out, name, "expected.json")
    if not os.path.exists(path):
        continue
    e = json.load(open(path))
    print("%-8s %s %s hidden %d, inter %d, layers %d, heads %d/%d kv, head_dim %d, vocab %d, %s, %s, "
          "prompt %d + %d new, eos %s from %s, stops after %d, min gap %.3f, tp %s"
          % (name, e["architecture"], e["dtype"], e["hidden_size"], e["intermediate_size"], e["num_hidden_layers"],
             e["num_attention_heads"], e["num_key_value_heads"], e["head_dim"], e["vocab_size"],
             "tied" if e["tie_word_embeddings"] else "untied",
             ("%d shards" % len(e["files"])) if e["sharded"] else "single file", len(e["prompt_ids"]),
             len(e["greedy_tokens"]), e["eos_token_ids"], e["eos_from"], len(e["greedy_tokens_until_eos"]),
             e["min_top2_gap"], e["supported_tp"]))
print("bad/: see bad/README.txt")
PY
du -sh "$out"
