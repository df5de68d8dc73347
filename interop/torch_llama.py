#!/usr/bin/env python3
"""A float64 reference for Llama-family decoders (Llama, Mistral, Qwen2) and the fixture maker for
`tp4j generate`.

Writes a random model directory exactly as Hugging Face's `save_pretrained` lays one out (config.json,
generation_config.json, model.safetensors or model-0000i-of-0000n.safetensors + model.safetensors.index.json,
written with Hugging Face's own safetensors package), then runs this file's float64 forward over the
weights as stored (bf16/f16 values upcast exactly to float64) and writes what tp4j must reproduce:

    OUT_DIR/expected.safetensors   F64 "logits" [prompt_len, vocab]       the prompt's forward, every position
                                   F64 "greedy_logits" [new_tokens, vocab] the logits each greedy step chose from,
                                                                            each computed over the whole sequence
                                                                            so far (no cache)
    OUT_DIR/expected.json          prompt_ids, greedy_tokens (EOS ignored), min_top2_gap, eos ids, seed, args, ...

    torch_llama.py OUT_DIR --arch llama --hidden 64 --intermediate 86 --layers 2 --heads 8 --kv-heads 2 \\
        --vocab 101 --dtype f32 [--tied] [--shards 3] [--head-dim 8] [--rope-scaling llama3 ...] \\
        --prompt-len 6 --max-new-tokens 8 --seed 1 [--min-gap 0.01]

`transformers` is not needed (nor installable here): the forward is written from the semantics of its
modeling code (modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_rope_utils.py); each
step below names what it mirrors. Everything runs in float64: where transformers computes in fp32
(RMSNorm's variance, RoPE's inv_freq and cos/sin, the attention softmax) this is the exact value those
fp32 computations approximate.

Random weights use scales chosen so that a tiny model gives well separated logits (Hugging Face's
init, normal std 0.02, makes all logits of a tiny model nearly equal, so greedy tokens would hinge on
rounding): every Linear weight ~ N(0, 1/fan_in) (std 1/sqrt(in_features)), the embedding ~ N(0, 1)
untied or N(0, 0.2^2) tied (a tied head over a large embedding just predicts the token it was fed),
RMSNorm weights ~ N(1, 0.2^2) (not all ones, so a missing norm weight shows), Qwen2's q/k/v biases
~ N(0, 0.5^2), an untied lm_head ~ N(0, 4/hidden) (std 2/sqrt(hidden): logits of a few units). Seeds
are tried from --seed upwards until every greedy step's top-1 logit beats its top-2 by --min-gap (and
the greedy run has --min-distinct different tokens), so fp32 rounding in tp4j cannot flip a greedy
token; the seed used is recorded.
"""
import argparse
import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
DTYPE_NAMES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
ARCHS = {"llama": ("LlamaForCausalLM", "llama"),
         "mistral": ("MistralForCausalLM", "mistral"),
         "qwen2": ("Qwen2ForCausalLM", "qwen2")}


# ---------------------------------------------------------------------------------------------------
# The model directory (what save_pretrained writes)
# ---------------------------------------------------------------------------------------------------

def make_config(a):
    arch, model_type = ARCHS[a.arch]
    c = {
        "architectures": [arch],
        "model_type": model_type,
        "hidden_size": a.hidden,
        "intermediate_size": a.intermediate,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "hidden_act": "silu",
        "rms_norm_eps": a.rms_eps,
        "rope_theta": a.rope_theta,
        "max_position_embeddings": a.max_pos,
        "vocab_size": a.vocab,
        "tie_word_embeddings": a.tied,
        "torch_dtype": DTYPE_NAMES[a.dtype],
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "use_cache": True,
    }
    if a.head_dim is not None:
        c["head_dim"] = a.head_dim
    if a.arch == "llama":
        # LlamaConfig: attention_bias puts a bias on q, k, v AND o; mlp_bias on the MLP. Both false here.
        c["attention_bias"] = a.attention_bias
        c["mlp_bias"] = False
        c["pretraining_tp"] = 1
    if a.rope_scaling == "llama3":
        # Llama 3.1's key is "rope_type"; older configs spell it "type" (modeling_rope_utils reads either).
        c["rope_scaling"] = {"rope_type": "llama3", "type": "llama3", "factor": a.rope_factor,
                             "low_freq_factor": a.low_freq_factor, "high_freq_factor": a.high_freq_factor,
                             "original_max_position_embeddings": a.original_max_pos}
    else:
        c["rope_scaling"] = None
    if a.arch == "mistral":
        c["sliding_window"] = a.sliding_window          # MistralConfig: an int or null, no switch
    if a.arch == "qwen2":
        # Qwen2Config: the window only applies when use_sliding_window is true
        # (config: `self.sliding_window = sliding_window if use_sliding_window else None`).
        c["use_sliding_window"] = a.use_sliding_window
        c["sliding_window"] = a.sliding_window
        c["max_window_layers"] = a.layers
    return c


def supported_tp(heads, kv_heads, up_to=12):
    """tp values tp4j must accept: tp divides the query heads, and either divides the kv heads (they are
    split) or is a multiple of them (each kv head replicated on the ranks whose query heads use it)."""
    out = []
    for tp in range(1, up_to + 1):
        if heads % tp:
            continue
        if (tp <= kv_heads and kv_heads % tp == 0) or (tp > kv_heads and tp % kv_heads == 0):
            out.append(tp)
    return out


def random_weights(a, seed):
    """HF names, in the order LlamaForCausalLM.state_dict() lists them."""
    g = torch.Generator().manual_seed(seed)
    hd = head_dim_of(a)
    H, I, V = a.hidden, a.intermediate, a.vocab
    dt = DTYPES[a.dtype]

    def normal(shape, std, mean=0.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std + mean).to(dt).contiguous()

    def linear(out_f, in_f):
        return normal((out_f, in_f), 1.0 / math.sqrt(in_f))

    w = {"model.embed_tokens.weight": normal((V, H), a.embed_std)}
    qkv_bias = a.arch == "qwen2" or a.attention_bias
    for i in range(a.layers):
        p = "model.layers.%d." % i
        for proj, rows in (("q_proj", a.heads * hd), ("k_proj", a.kv_heads * hd), ("v_proj", a.kv_heads * hd)):
            w[p + "self_attn.%s.weight" % proj] = linear(rows, H)
            if qkv_bias:
                w[p + "self_attn.%s.bias" % proj] = normal((rows,), 0.5)
        w[p + "self_attn.o_proj.weight"] = linear(H, a.heads * hd)
        if a.attention_bias:  # Llama only: o_proj has a bias too (Qwen2's o_proj never does)
            w[p + "self_attn.o_proj.bias"] = normal((H,), 0.5)
        w[p + "mlp.gate_proj.weight"] = linear(I, H)
        w[p + "mlp.up_proj.weight"] = linear(I, H)
        w[p + "mlp.down_proj.weight"] = linear(H, I)
        w[p + "input_layernorm.weight"] = normal((H,), 0.2, 1.0)
        w[p + "post_attention_layernorm.weight"] = normal((H,), 0.2, 1.0)
    w["model.norm.weight"] = normal((H,), 0.2, 1.0)
    if not a.tied:
        w["lm_head.weight"] = normal((V, H), 2.0 / math.sqrt(H))
    return w


def save_weights(w, out_dir, shards):
    """model.safetensors, or shards cut in state-dict order at about equal byte counts, as
    save_pretrained's max_shard_size does (so a layer's tensors straddle a file boundary)."""
    if shards <= 1:
        save_file(w, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
        return {"model.safetensors": sorted(w)}
    names = list(w)
    sizes = [w[n].numel() * w[n].element_size() for n in names]
    total = sum(sizes)
    groups, acc = [[] for _ in range(shards)], 0
    for n, s in zip(names, sizes):
        k = min(shards - 1, int(acc * shards / total))
        groups[k].append(n)
        acc += s
    assert all(groups), "too few tensors for %d shards" % shards
    files, weight_map = {}, {}
    for k, group in enumerate(groups):
        fname = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        save_file({n: w[n] for n in group}, os.path.join(out_dir, fname), metadata={"format": "pt"})
        files[fname] = group
        for n in group:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return files


def load_weights(out_dir):
    """Every tensor of the directory, upcast exactly to float64 (through the index when sharded)."""
    index = os.path.join(out_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) \
        else ["model.safetensors"]
    w = {}
    for fname in files:
        for n, t in load_file(os.path.join(out_dir, fname)).items():
            w[n] = t.to(torch.float64)
    return w


# ---------------------------------------------------------------------------------------------------
# The float64 forward (transformers' semantics)
# ---------------------------------------------------------------------------------------------------

def head_dim_of(c):
    # LlamaConfig/MistralConfig: head_dim if given, else hidden_size // num_attention_heads.
    return c.head_dim if c.head_dim is not None else c.hidden // c.heads


def rope_inv_freq(c, mutations=()):
    """modeling_rope_utils._compute_default_rope_parameters:
         inv_freq = 1 / base ** (arange(0, dim, 2) / dim), dim = head_dim (no partial rotary here);
       then, for rope_scaling type "llama3", _compute_llama3_parameters (attention_factor stays 1.0)."""
    dim = head_dim_of(c)
    inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    if c.rope_scaling != "llama3" or "no_rope_scaling" in mutations:
        return inv_freq
    factor, low, high, old_len = c.rope_factor, c.low_freq_factor, c.high_freq_factor, c.original_max_pos
    low_freq_wavelen = old_len / low
    high_freq_wavelen = old_len / high
    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: unchanged; wavelen > low_freq_wavelen: divided by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between: interpolate with a smooth factor
    smooth_factor = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rotate_half(x):
    """modeling_llama.rotate_half: cat(-x2, x1) over the two halves of the head dimension."""
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def rotate_pairs(x):
    """NOT transformers: the interleaved (GPT-J / Meta checkpoint) rotation, only for the sensitivity check."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def rms_norm(x, weight, eps, mutations=()):
    """LlamaRMSNorm / MistralRMSNorm / Qwen2RMSNorm: variance = mean(x^2) over the hidden dim,
    x * rsqrt(variance + eps) (eps inside the square root), then weight * (that)."""
    var = x.pow(2).mean(-1, keepdim=True)
    if "eps_outside_sqrt" in mutations:
        y = x / (torch.sqrt(var) + eps)
    else:
        y = x * torch.rsqrt(var + eps)
    return y if "no_norm_weight" in mutations else weight * y


def forward(w, c, ids, mutations=()):
    """LlamaForCausalLM.forward for one sequence, all positions: logits [T, vocab] in float64.
    `mutations` deliberately breaks one semantic at a time (only for the sensitivity table)."""
    T = len(ids)
    hd = head_dim_of(c)
    nh, nkv = c.heads, c.kv_heads
    n_rep = nh // nkv
    ids_t = torch.tensor(ids, dtype=torch.long)
    # LlamaModel: inputs_embeds = embed_tokens(input_ids) (no scaling of the embedding)
    x = w["model.embed_tokens.weight"][ids_t]
    # LlamaRotaryEmbedding.forward: freqs = inv_freq x position_ids; emb = cat(freqs, freqs);
    # cos = emb.cos() * attention_scaling (1.0), sin likewise. Positions 0..T-1.
    inv_freq = rope_inv_freq(c, mutations)
    pos = torch.arange(T, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq)
    if "rope_interleaved" in mutations:
        emb = torch.repeat_interleave(freqs, 2, dim=-1)
        rot = rotate_pairs
    else:
        emb = torch.cat((freqs, freqs), dim=-1)
        rot = rotate_half
    cos, sin = emb.cos(), emb.sin()
    if "no_rope" in mutations:
        cos, sin = torch.ones_like(cos), torch.zeros_like(sin)
    # Causal mask, plus the sliding window where one is active (Mistral: sliding_window not null;
    # Qwen2: only with use_sliding_window): query i sees key j when j <= i and i - j < window.
    i_idx = torch.arange(T).unsqueeze(1)
    j_idx = torch.arange(T).unsqueeze(0)
    allowed = j_idx <= i_idx
    if "no_causal_mask" in mutations:
        allowed = torch.ones(T, T, dtype=torch.bool)
    window = effective_sliding_window(c)
    if window is not None:
        allowed = allowed & (i_idx - j_idx < window)
    scale = (c.hidden // nh if "scale_by_hidden_over_heads" in mutations else hd) ** -0.5
    qkv_bias = (c.arch == "qwen2" or c.attention_bias) and "no_qkv_bias" not in mutations

    for i in range(c.layers):
        p = "model.layers.%d." % i
        # LlamaDecoderLayer: residual; input_layernorm; self_attn; residual add
        residual = x
        h = rms_norm(x, w[p + "input_layernorm.weight"], c.rms_eps, mutations)
        # LlamaAttention: q/k/v projections (Qwen2Attention: bias=True on q, k, v; Llama: attention_bias)
        q = F.linear(h, w[p + "self_attn.q_proj.weight"], w[p + "self_attn.q_proj.bias"] if qkv_bias else None)
        k = F.linear(h, w[p + "self_attn.k_proj.weight"], w[p + "self_attn.k_proj.bias"] if qkv_bias else None)
        v = F.linear(h, w[p + "self_attn.v_proj.weight"], w[p + "self_attn.v_proj.bias"] if qkv_bias else None)
        # view(T, heads, head_dim).transpose(0, 1): head h is rows h*hd .. (h+1)*hd-1 of the projection
        q = q.view(T, nh, hd).transpose(0, 1)
        k = k.view(T, nkv, hd).transpose(0, 1)
        v = v.view(T, nkv, hd).transpose(0, 1)
        # apply_rotary_pos_emb: q*cos + rotate_half(q)*sin, same for k (after the bias)
        q = q * cos + rot(q) * sin
        k = k * cos + rot(k) * sin
        # repeat_kv: expand(nkv, n_rep, T, hd).reshape(nh, T, hd): query head h uses kv head h // n_rep
        if "kv_heads_tiled" in mutations:
            k, v = k.repeat(n_rep, 1, 1), v.repeat(n_rep, 1, 1)      # wrong: head h would use h % nkv
        else:
            k, v = k.repeat_interleave(n_rep, dim=0), v.repeat_interleave(n_rep, dim=0)
        # eager_attention_forward: softmax(q k^T * head_dim^-0.5 + mask) (softmax in fp32 there) @ v
        scores = torch.matmul(q, k.transpose(1, 2)) * scale
        scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        o = torch.matmul(probs, v).transpose(0, 1).reshape(T, nh * hd)
        o = F.linear(o, w[p + "self_attn.o_proj.weight"],
                     w.get(p + "self_attn.o_proj.bias") if c.attention_bias else None)
        x = residual + o
        # post_attention_layernorm; LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)), act silu
        residual = x
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], c.rms_eps, mutations)
        gate = F.linear(h, w[p + "mlp.gate_proj.weight"])
        up = F.linear(h, w[p + "mlp.up_proj.weight"])
        x = residual + F.linear(F.silu(gate) * up, w[p + "mlp.down_proj.weight"])
    # LlamaModel: final norm; LlamaForCausalLM: lm_head (tied: the embedding matrix itself)
    x = rms_norm(x, w["model.norm.weight"], c.rms_eps, mutations)
    head = w["model.embed_tokens.weight"] if c.tied else w["lm_head.weight"]
    return F.linear(x, head)


def effective_sliding_window(c):
    if c.arch == "mistral":
        return c.sliding_window
    if c.arch == "qwen2" and c.use_sliding_window:
        return c.sliding_window
    return None


def greedy(w, c, prompt, new_tokens):
    """Greedy decoding, each step recomputing the whole sequence (no cache): the tokens, the logits each
    step chose from, and the smallest top-1 minus top-2 gap."""
    seq = list(prompt)
    tokens, step_logits, gap = [], [], float("inf")
    for _ in range(new_tokens):
        logits = forward(w, c, seq)[-1]
        top2 = torch.topk(logits, 2).values
        gap = min(gap, float(top2[0] - top2[1]))
        nxt = int(torch.argmax(logits))
        tokens.append(nxt)
        step_logits.append(logits)
        seq.append(nxt)
    return tokens, torch.stack(step_logits), gap


SENSITIVITY = ["no_rope", "no_norm_weight", "eps_outside_sqrt", "rope_interleaved", "no_rope_scaling", "kv_heads_tiled",
               "no_qkv_bias", "scale_by_hidden_over_heads", "no_causal_mask"]


def sensitivity(w, c, prompt, logits):
    """Max |logit difference| on the prompt when one semantic is broken: shows what these fixtures catch."""
    out = {}
    for m in SENSITIVITY:
        if m == "no_rope_scaling" and c.rope_scaling != "llama3":
            continue
        if m == "kv_heads_tiled" and (c.kv_heads == 1 or c.kv_heads == c.heads):
            continue
        if m == "no_qkv_bias" and not (c.arch == "qwen2" or c.attention_bias):
            continue
        if m == "scale_by_hidden_over_heads" and c.head_dim in (None, c.hidden // c.heads):
            continue
        out[m] = round(float((forward(w, c, prompt, (m,)) - logits).abs().max()), 6)
    return out


def compact_json(obj):
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s*([-0-9.e, \n]+?)\s*\]", lambda m: "[" + re.sub(r"\s*,\s*", ", ", m.group(1).strip()) + "]", text)


# ---------------------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--arch", choices=ARCHS, default="llama")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--intermediate", type=int, default=86)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=None, help="explicit head_dim in config.json")
    p.add_argument("--vocab", type=int, default=101)
    p.add_argument("--dtype", choices=DTYPES, default="f32")
    p.add_argument("--tied", action="store_true", help="tie_word_embeddings: no lm_head.weight")
    p.add_argument("--attention-bias", action="store_true", help="Llama's attention_bias (q, k, v and o)")
    p.add_argument("--embed-std", type=float, default=None,
                   help="std of the embedding (default 1, or 0.2 when tied: with a tied head a large embedding "
                        "makes every step predict the token it was fed)")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--rms-eps", type=float, default=1e-5)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--rope-scaling", choices=["none", "llama3"], default="none")
    p.add_argument("--rope-factor", type=float, default=8.0)
    p.add_argument("--low-freq-factor", type=float, default=1.0)
    p.add_argument("--high-freq-factor", type=float, default=4.0)
    p.add_argument("--original-max-pos", type=int, default=32)
    p.add_argument("--max-pos", type=int, default=64, help="max_position_embeddings")
    p.add_argument("--sliding-window", type=int, default=None, help="Mistral/Qwen2 sliding_window")
    p.add_argument("--use-sliding-window", action="store_true", help="Qwen2's use_sliding_window")
    p.add_argument("--bos", type=int, default=1)
    p.add_argument("--eos-list", action="store_true",
                   help="generation_config.json's eos_token_id is a list of two ids")
    p.add_argument("--eos-hit-step", type=int, default=None,
                   help="make one EOS id the greedy token first produced at step >= K (0-based), so a run "
                        "without --ignore-eos stops there")
    p.add_argument("--no-generation-config", action="store_true",
                   help="write no generation_config.json (EOS ids come from config.json)")
    p.add_argument("--prompt-len", type=int, default=6)
    p.add_argument("--max-new-tokens", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-gap", type=float, default=0.01, help="smallest top-1 minus top-2 logit gap allowed")
    p.add_argument("--min-distinct", type=int, default=1, help="fewest distinct greedy tokens accepted")
    p.add_argument("--max-tries", type=int, default=200)
    a = p.parse_args()
    if a.embed_std is None:
        a.embed_std = 0.2 if a.tied else 1.0
    hd = head_dim_of(a)
    assert a.heads % a.kv_heads == 0, "num_attention_heads must be a multiple of num_key_value_heads"
    assert hd % 2 == 0, "head_dim must be even for rotate-half RoPE"
    assert a.prompt_len + a.max_new_tokens <= a.max_pos, "prompt + new tokens beyond max_position_embeddings"
    assert a.arch == "llama" or not a.attention_bias, "--attention-bias is Llama's"

    for seed in range(a.seed, a.seed + a.max_tries):
        w64 = {n: t.to(torch.float64) for n, t in random_weights(a, seed).items()}
        g = torch.Generator().manual_seed(seed + 7919)
        prompt = [a.bos] + torch.randint(0, a.vocab, (a.prompt_len - 1,), generator=g).tolist()
        tokens, step_logits, gap = greedy(w64, a, prompt, a.max_new_tokens)
        if gap < a.min_gap or len(set(tokens)) < a.min_distinct:
            continue
        hit = None
        if a.eos_hit_step is not None:
            hit = next((i for i in range(a.eos_hit_step, len(tokens)) if tokens[i] not in tokens[:i] and tokens[i] != a.bos), None)
            if hit is None:
                continue
        break
    else:
        sys.exit("torch_llama.py: no seed in %d tries gives a top-2 gap >= %g" % (a.max_tries, a.min_gap))

    # EOS ids: e0 (and e1) are ids the greedy run never produces; `hit` is one it does (first at step hit).
    unused = [t for t in range(2, a.vocab) if t not in tokens and t != a.bos]
    e0, e1 = unused[0], unused[1]
    if a.no_generation_config:
        config_eos = tokens[hit] if hit is not None else e0
        gen_eos = None
    else:
        config_eos = e0
        second = tokens[hit] if hit is not None else e1
        gen_eos = [e0, second] if a.eos_list else (second if hit is not None else e0)
    effective = gen_eos if gen_eos is not None else config_eos
    effective = effective if isinstance(effective, list) else [effective]
    stop = next((i for i, t in enumerate(tokens) if t in effective), None)
    until_eos = tokens if stop is None else tokens[:stop + 1]

    os.makedirs(a.out_dir, exist_ok=True)
    config = make_config(a)
    config["bos_token_id"] = a.bos
    config["eos_token_id"] = config_eos
    with open(os.path.join(a.out_dir, "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")   # as PretrainedConfig.to_json_string
    if gen_eos is not None:
        with open(os.path.join(a.out_dir, "generation_config.json"), "w") as f:
            gen = {"_from_model_config": True, "bos_token_id": a.bos, "eos_token_id": gen_eos}
            f.write(json.dumps(gen, indent=2, sort_keys=True) + "\n")
    files = save_weights(random_weights(a, seed), a.out_dir, a.shards)

    # The reference runs over what is on disk, read back through safetensors: exactly the stored values.
    w = load_weights(a.out_dir)
    logits = forward(w, a, prompt)
    tokens2, step_logits2, gap2 = greedy(w, a, prompt, a.max_new_tokens)
    assert tokens2 == tokens and torch.equal(step_logits2, step_logits), "weights changed on the way to disk"
    save_file({"logits": logits.contiguous(), "greedy_logits": step_logits2.contiguous()},
              os.path.join(a.out_dir, "expected.safetensors"))

    params = sum(t.numel() for t in w.values())
    expected = {
        "architecture": config["architectures"][0],
        "dtype": config["torch_dtype"],
        "tie_word_embeddings": a.tied,
        "sharded": a.shards > 1,
        "files": {k: v for k, v in sorted(files.items())},
        "hidden_size": a.hidden, "intermediate_size": a.intermediate, "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "head_dim": hd,
        "vocab_size": a.vocab, "parameters": params,
        "supported_tp": supported_tp(a.heads, a.kv_heads),
        "prompt_ids": prompt,
        "max_new_tokens": a.max_new_tokens,
        "greedy_tokens": tokens,
        "eos_token_ids": effective,
        "eos_from": "config.json" if gen_eos is None else "generation_config.json",
        "greedy_tokens_until_eos": until_eos,
        "min_top2_gap": gap2,
        "max_abs_logit": float(max(logits.abs().max(), step_logits2.abs().max())),
        "sensitivity_max_abs_diff": sensitivity(w, a, prompt, logits),
        "seed": seed,
        "seed_requested": a.seed,
        "args": {k: v for k, v in vars(a).items() if k != "out_dir"},
        "torch_version": torch.__version__,
    }
    with open(os.path.join(a.out_dir, "expected.json"), "w") as f:
        f.write(compact_json(expected) + "\n")
    print("%s: seed %d, prompt %s, greedy %s, min top-2 gap %.4f, tp %s" %
          (a.out_dir, seed, prompt, tokens, gap2, expected["supported_tp"]))


if __name__ == "__main__":
    main()
