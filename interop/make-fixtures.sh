#!/usr/bin/env bash
# Regenerates the PyTorch-made fixtures under src/test/resources/interop/ (committed, so the tests need
# no Python). Needs a python3 with torch and Hugging Face's safetensors package:
#   apt-get install python3-torch            # PyTorch from Debian
#   pip download safetensors --no-deps --only-binary=:all: -d /tmp/st && python3 -m zipfile -e /tmp/st/*.whl /tmp/stlib
#   PYTHON=/usr/bin/python3 PYTHONPATH=/tmp/stlib interop/make-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
out=src/test/resources/interop
gen() { local name=$1; shift; "$py" interop/torch_mlp.py "$out/$name" "$@"; echo "$name: $*" >> "$out/README.txt"; }
rm -rf "$out"; mkdir -p "$out"
echo "Made by interop/make-fixtures.sh with PyTorch $("$py" -c 'import torch; print(torch.__version__)') and safetensors $("$py" -c 'import safetensors; print(safetensors.__version__)')" > "$out/README.txt"
gen llama_bf16_silu_gated --dtype bf16 --activation silu --gated --no-bias --hidden 64 --ffn 176 --tokens 5 --seed 1
gen gpt_f16_gelu_tanh     --dtype f16 --activation gelu_tanh --hidden 48 --ffn 190 --tokens 4 --seed 2
gen bert_f32_gelu         --dtype f32 --activation gelu --hidden 40 --ffn 130 --tokens 3 --seed 3
gen f32_relu_gated        --dtype f32 --activation relu --gated --hidden 33 --ffn 97 --tokens 6 --seed 4
