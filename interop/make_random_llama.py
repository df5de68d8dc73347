#!/usr/bin/env python3
"""Writes a random Llama-shaped Hugging Face model directory, for trying `tp4j generate` without a
download. Needs only Python 3 and numpy (no torch).

    make_random_llama.py OUT_DIR [--preset tiny|1b] [--dtype bf16|f16|f32] [--shards N] [--seed S]

OUT_DIR gets config.json (LlamaForCausalLM), generation_config.json, model.safetensors (or N shards
model-0000i-of-0000N.safetensors + model.safetensors.index.json), tokenizer.json (a byte-level BPE whose
vocabulary has exactly the model's vocab_size ids, readable by Hugging Face's tokenizers library) and
tokenizer_config.json.

  tiny  hidden 128, 4 layers, 8 heads / 2 kv heads, intermediate 344, vocab 2048: about 2 MB in BF16,
        made in a second
  1b    hidden 2048, 16 layers, 32 heads / 8 kv heads, intermediate 5632, vocab 32000, untied: 0.85 B
        parameters, about 1.7 GB in BF16. Tensors are generated and written one at a time (in row blocks),
        so memory stays at a few hundred MB.

The weights are random (normal; every Linear std 1/sqrt(in_features), the embedding std 1, an untied
lm_head std 2/sqrt(hidden), RMSNorm weights around 1), so the model produces well separated but
meaningless tokens: it is for running and timing, not for reading.
"""
import argparse
import json
import os
import sys

import numpy as np

PRESETS = {
    "tiny": dict(hidden=128, layers=4, heads=8, kv_heads=2, intermediate=344, vocab=2048, max_pos=2048,
                 rope_theta=10000.0, rms_eps=1e-5, tied=False),
    # A TinyLlama-like shape (Llama 2 style: rope_theta 10000, 2048 positions, untied head).
    "1b": dict(hidden=2048, layers=16, heads=32, kv_heads=8, intermediate=5632, vocab=32000, max_pos=2048,
               rope_theta=10000.0, rms_eps=1e-5, tied=False),
}
DTYPES = {"bf16": ("BF16", 2, "bfloat16"), "f16": ("F16", 2, "float16"), "f32": ("F32", 4, "float32")}
BLOCK = 1 << 22  # elements generated at a time


def tensors(p):
    """(name, shape, std, mean) in LlamaForCausalLM.state_dict() order."""
    H, I, V, hd = p["hidden"], p["intermediate"], p["vocab"], p["hidden"] // p["heads"]
    out = [("model.embed_tokens.weight", (V, H), 1.0, 0.0)]
    for i in range(p["layers"]):
        q = "model.layers.%d." % i
        out += [(q + "self_attn.q_proj.weight", (p["heads"] * hd, H), H ** -0.5, 0.0),
                (q + "self_attn.k_proj.weight", (p["kv_heads"] * hd, H), H ** -0.5, 0.0),
                (q + "self_attn.v_proj.weight", (p["kv_heads"] * hd, H), H ** -0.5, 0.0),
                (q + "self_attn.o_proj.weight", (H, p["heads"] * hd), (p["heads"] * hd) ** -0.5, 0.0),
                (q + "mlp.gate_proj.weight", (I, H), H ** -0.5, 0.0),
                (q + "mlp.up_proj.weight", (I, H), H ** -0.5, 0.0),
                (q + "mlp.down_proj.weight", (H, I), I ** -0.5, 0.0),
                (q + "input_layernorm.weight", (H,), 0.2, 1.0),
                (q + "post_attention_layernorm.weight", (H,), 0.2, 1.0)]
    out.append(("model.norm.weight", (H,), 0.2, 1.0))
    if not p["tied"]:
        out.append(("lm_head.weight", (V, H), 2.0 * H ** -0.5, 0.0))
    return out


def encode(x, dtype):
    """float32 array -> little-endian bytes of the on-disk dtype (BF16: round to nearest even)."""
    if dtype == "f32":
        return x.astype("<f4").tobytes()
    if dtype == "f16":
        return x.astype("<f2").tobytes()
    u = x.astype(np.float32).view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype("<u2").tobytes()


def write_safetensors(path, specs, dtype, rng):
    """Streams one safetensors file: the header from the shapes, then each tensor in row blocks."""
    st_dtype, esize, _ = DTYPES[dtype]
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _, _ in specs:
        n = int(np.prod(shape)) * esize
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as safetensors writes it
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for name, shape, std, mean in specs:
            total = int(np.prod(shape))
            done = 0
            while done < total:
                n = min(BLOCK, total - done)
                x = rng.standard_normal(n, dtype=np.float32) * np.float32(std) + np.float32(mean)
                f.write(encode(x, dtype))
                done += n
    os.replace(tmp, path)
    return offset


# ---------------------------------------------------------------------------------------------------
# tokenizer.json: byte-level BPE (GPT-2's byte-to-unicode alphabet), written by hand
# ---------------------------------------------------------------------------------------------------

CORPUS = """
Tensor parallelism splits every weight of a model across devices. Each device holds only its shard,
computes its part of every matrix product, and the devices exchange activations through collectives.
A column parallel layer splits the output features; a row parallel layer splits the input features and
sums the partial results with one all reduce. The attention heads are divided between the ranks, and
each rank keeps the keys and values of its own heads in a cache while the model generates one token
at a time. The quick brown fox jumps over the lazy dog. Hello world, this is a small random model:
it speaks no language, but it runs, and it runs the same way on one process or on many.
"""


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters (space -> 'Ġ', newline -> 'Ċ')."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def make_tokenizer(vocab_size):
    """A byte-level BPE with exactly vocab_size ids: 0 <unk>, 1 <s>, 2 </s>, then the 256 byte symbols,
    then merges learnt from a short text, then merges of printable symbols until the vocabulary is full
    (so every id the model can emit decodes to some text)."""
    specials = ["<unk>", "<s>", "</s>"]
    b2u = bytes_to_unicode()
    vocab = {t: i for i, t in enumerate(specials)}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    assert vocab_size >= len(vocab) + 1, "vocab_size too small for a byte-level tokenizer"
    merges = []

    def add(a, b):
        vocab[a + b] = len(vocab)
        merges.append(a + " " + b)

    # Pre-tokens as the ByteLevel pre-tokenizer makes them: a word keeps the space before it ('Ġ').
    words = {}
    for i, word in enumerate(CORPUS.split()):
        symbols = tuple(b2u[c] for c in ((" " if i else "") + word).encode("utf-8"))
        words[symbols] = words.get(symbols, 0) + 1
    while len(vocab) < vocab_size:
        pairs = {}
        for w, count in words.items():
            for pair in zip(w, w[1:]):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda k: pairs[k])
        if pairs[best] < 2:
            break
        add(*best)
        merged = {}
        for w, count in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = count
        words = merged
    # Fill: printable-ASCII tokens (in id order) extended by one printable symbol, breadth first, so
    # that random ids mostly decode to readable characters.
    printable = [b2u[b] for b in range(32, 127)]
    frontier = [t for t in list(vocab)[len(specials):] if all(c in printable for c in t)]
    k = 0
    while len(vocab) < vocab_size:
        base = frontier[k]
        k += 1
        for c in printable:
            if len(vocab) >= vocab_size:
                break
            if base + c not in vocab:
                add(base, c)
                frontier.append(base + c)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(specials)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {  # <s> before the text, as Llama's tokenizer adds it
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": merges},
    }


# ---------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--preset", choices=PRESETS, default="tiny")
    ap.add_argument("--dtype", choices=DTYPES, default="bf16")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    p = PRESETS[a.preset]
    if a.shards < 1:
        sys.exit("make_random_llama.py: --shards must be at least 1")
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    specs = tensors(p)
    _, esize, torch_dtype = DTYPES[a.dtype]

    if a.shards == 1:
        write_safetensors(os.path.join(a.out_dir, "model.safetensors"), specs, a.dtype, rng)
    else:
        sizes = [int(np.prod(s)) * esize for _, s, _, _ in specs]
        total, acc = sum(sizes), 0
        groups = [[] for _ in range(a.shards)]
        for spec, size in zip(specs, sizes):  # cut in state-dict order at about equal sizes
            groups[min(a.shards - 1, acc * a.shards // total)].append(spec)
            acc += size
        if not all(groups):
            sys.exit("make_random_llama.py: too many shards for %d tensors" % len(specs))
        weight_map = {}
        for k, group in enumerate(groups):
            fname = "model-%05d-of-%05d.safetensors" % (k + 1, a.shards)
            write_safetensors(os.path.join(a.out_dir, fname), group, a.dtype, rng)
            weight_map.update({name: fname for name, _, _, _ in group})
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(a.out_dir, "model.safetensors.index.json"), "w") as f:
            f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")

    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": p["hidden"], "intermediate_size": p["intermediate"],
        "num_hidden_layers": p["layers"], "num_attention_heads": p["heads"], "num_key_value_heads": p["kv_heads"],
        "hidden_act": "silu", "rms_norm_eps": p["rms_eps"], "rope_theta": p["rope_theta"], "rope_scaling": None,
        "max_position_embeddings": p["max_pos"], "vocab_size": p["vocab"], "tie_word_embeddings": p["tied"],
        "torch_dtype": torch_dtype, "attention_bias": False, "mlp_bias": False, "attention_dropout": 0.0,
        "initializer_range": 0.02, "pretraining_tp": 1, "use_cache": True, "bos_token_id": 1, "eos_token_id": 2,
    }
    with open(os.path.join(a.out_dir, "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
    with open(os.path.join(a.out_dir, "generation_config.json"), "w") as f:
        f.write(json.dumps({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2}, indent=2) + "\n")
    with open(os.path.join(a.out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(make_tokenizer(p["vocab"]), f, ensure_ascii=False)
    with open(os.path.join(a.out_dir, "tokenizer_config.json"), "w") as f:
        f.write(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                            "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
                            "model_max_length": p["max_pos"]}, indent=2) + "\n")
    params = sum(int(np.prod(s)) for _, s, _, _ in specs)
    print("%s: %s preset, %.3f B parameters, %s, %d file(s), seed %d" %
          (a.out_dir, a.preset, params / 1e9, torch_dtype, a.shards, a.seed))


if __name__ == "__main__":
    main()
