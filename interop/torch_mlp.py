#!/usr/bin/env python3
"""Writes a Llama/GPT-style MLP checkpoint the way PyTorch users do (nn.Linear modules, saved with
Hugging Face's safetensors.torch.save_file), an input, and PyTorch's own result of the forward, so
that tp4j's `mlp` task can be checked against PyTorch on files PyTorch made.

    torch_mlp.py OUT_DIR --hidden 64 --ffn 176 --tokens 5 --dtype bf16 --activation silu --gated [--no-bias]

OUT_DIR gets model.safetensors (names model.layers.0.mlp.{up,gate,down}_proj.{weight,bias}),
input.safetensors ("input", F32 [tokens, hidden]) and expected.safetensors ("output": PyTorch's
forward in float64 over the stored weights, F64).
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,                                   # exact erf form, PyTorch's default
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


class Mlp(nn.Module):
    def __init__(self, hidden, ffn, gated, bias):
        super().__init__()
        self.up_proj = nn.Linear(hidden, ffn, bias=bias)
        self.gate_proj = nn.Linear(hidden, ffn, bias=bias) if gated else None
        self.down_proj = nn.Linear(ffn, hidden, bias=bias)

    def forward(self, x, act):
        h = act(self.gate_proj(x)) * self.up_proj(x) if self.gate_proj is not None else act(self.up_proj(x))
        return self.down_proj(h)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out_dir")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--ffn", type=int, default=176)
    p.add_argument("--tokens", type=int, default=5)
    p.add_argument("--dtype", choices=DTYPES, default="f32")
    p.add_argument("--activation", choices=ACTIVATIONS, default="gelu")
    p.add_argument("--gated", action="store_true")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    model = Mlp(a.hidden, a.ffn, a.gated, not a.no_bias).to(DTYPES[a.dtype])
    state = {"model.layers.0.mlp." + k: v.contiguous() for k, v in model.state_dict().items()}
    state["model.embed_tokens.weight"] = torch.randn(32, a.hidden).to(DTYPES[a.dtype])  # not part of the MLP
    os.makedirs(a.out_dir, exist_ok=True)
    save_file(state, os.path.join(a.out_dir, "model.safetensors"), metadata={"format": "pt"})

    x = torch.randn(a.tokens, a.hidden)
    save_file({"input": x}, os.path.join(a.out_dir, "input.safetensors"))

    # PyTorch's forward in float64 over exactly the stored values: the reference tp4j must match.
    with torch.no_grad():
        y = model.double()(x.double(), ACTIVATIONS[a.activation])
    save_file({"output": y.contiguous()}, os.path.join(a.out_dir, "expected.safetensors"))


if __name__ == "__main__":
    main()
