#!/usr/bin/env python3
"""Broken model directories for `tp4j generate`'s exit-2 checks, each a tiny valid Llama (made by
torch_llama.py) with exactly one thing wrong. Writes OUT_DIR/<case>/ and OUT_DIR/README.txt.

    make_bad_llama.py SINGLE_BASE SHARDED_BASE OUT_DIR

SINGLE_BASE is a tiny model with one model.safetensors, SHARDED_BASE the same shape in two shards with
an index. Every case must be refused with exit 2 and one line naming what the README says.
"""
import json
import os
import shutil
import sys

from safetensors.torch import load_file, save_file

CASES = []


def case(name, what, names):
    def register(fn):
        CASES.append((name, what, names, fn))
        return fn
    return register


def copy_model(src, dst):
    os.makedirs(dst)
    for f in sorted(os.listdir(src)):
        if f.startswith("expected."):
            continue  # the reference outputs are no part of a model directory
        shutil.copy(os.path.join(src, f), os.path.join(dst, f))


def edit_config(d, fn):
    path = os.path.join(d, "config.json")
    c = json.load(open(path))
    fn(c)
    with open(path, "w") as f:
        f.write(json.dumps(c, indent=2, sort_keys=True) + "\n")


def drop_tensor(d, fname, tensor):
    path = os.path.join(d, fname)
    t = load_file(path)
    assert tensor in t, (fname, tensor)
    del t[tensor]
    save_file(t, path, metadata={"format": "pt"})


@case("missing_shard_file", "the index names model-00002-of-00002.safetensors, which is not in the directory",
      "model-00002-of-00002.safetensors")
def missing_shard_file(single, sharded, d):
    copy_model(sharded, d)
    os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))


@case("missing_tensor", "model.layers.0.mlp.down_proj.weight is in no shard file (the index still maps it "
      "to the file that should hold it)", "model.layers.0.mlp.down_proj.weight")
def missing_tensor(single, sharded, d):
    copy_model(sharded, d)
    index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    tensor = "model.layers.0.mlp.down_proj.weight"
    drop_tensor(d, index["weight_map"][tensor], tensor)


@case("missing_tensor_single", "model.norm.weight is missing from model.safetensors", "model.norm.weight")
def missing_tensor_single(single, sharded, d):
    copy_model(single, d)
    drop_tensor(d, "model.safetensors", "model.norm.weight")


@case("unsupported_architecture", "architectures is [\"GPT2LMHeadModel\"] (model_type gpt2)", "GPT2LMHeadModel")
def unsupported_architecture(single, sharded, d):
    copy_model(single, d)
    def fn(c):
        c["architectures"] = ["GPT2LMHeadModel"]
        c["model_type"] = "gpt2"
    edit_config(d, fn)


@case("rope_yarn", "rope_scaling of type yarn (only llama3 is supported)", "yarn")
def rope_yarn(single, sharded, d):
    copy_model(single, d)
    edit_config(d, lambda c: c.update(rope_scaling={"rope_type": "yarn", "type": "yarn", "factor": 4.0,
                                                    "original_max_position_embeddings": 32}))


@case("missing_num_attention_heads", "config.json has no num_attention_heads", "num_attention_heads")
def missing_heads(single, sharded, d):
    copy_model(single, d)
    edit_config(d, lambda c: c.pop("num_attention_heads"))


@case("shape_mismatch", "config.json says intermediate_size 16; the checkpoint's MLP tensors have 12 "
      "(model.layers.0.mlp.gate_proj.weight is [12, 8])", "intermediate_size, model.layers.0.mlp.gate_proj.weight")
def shape_mismatch(single, sharded, d):
    copy_model(single, d)
    edit_config(d, lambda c: c.update(intermediate_size=16))


@case("sliding_window_short", "a MistralForCausalLM whose sliding_window is 4: any prompt of 5 tokens or more "
      "(prompt + new tokens > 4) reaches beyond the window, which is unsupported", "sliding_window")
def sliding_window_short(single, sharded, d):
    copy_model(single, d)
    def fn(c):
        c["architectures"] = ["MistralForCausalLM"]
        c["model_type"] = "mistral"
        for k in ("attention_bias", "mlp_bias", "pretraining_tp"):
            c.pop(k, None)
        c["sliding_window"] = 4
    edit_config(d, fn)


def main():
    single, sharded, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    lines = ["Broken model directories: each is a tiny valid Llama (hidden 8, 1 layer, 2 heads, 1 kv head,",
             "intermediate 12, vocab 11, F32; made by interop/make-llama-fixtures.sh) with exactly one thing",
             "wrong. `tp4j generate --model DIR --prompt-ids 1,2,3,4,5` must exit 2 with one line naming it.",
             ""]
    for name, what, names, fn in CASES:
        fn(single, sharded, os.path.join(out, name))
        lines.append("%s: %s. The line names: %s" % (name, what, names))
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
