#!/usr/bin/env python3
"""PyTorch eager, tensor-parallel, on the same Hugging Face Llama-family directory `tp4j generate` runs:
the peer for the closing note's decode numbers.

    torch_llama_decode.py MODEL_DIR --tp 1|2|... [--prompt-len 128 | --prompt-ids 1,2,3] [--new-tokens 32]
                          [--threads N] [--warmup 1] [--logits FILE.npy]

Spawns --tp processes joined by torch.distributed over gloo (CPU). Each loads only its shard, as Megatron
splits the model: q/k/v column-parallel by heads (kv heads split when tp divides them, replicated on the
ranks whose query heads use them when tp is a multiple of them), o_proj row-parallel (one all_reduce),
gate/up column-parallel and down row-parallel (one all_reduce; the first intermediate % tp ranks take one
more row), a vocab-parallel embedding (ids outside a rank's block masked, one all_reduce) and a
vocab-parallel lm_head (each rank's argmax, then an all_gather of the winners). Computes in float32
whatever the dtype on disk (as tp4j's CPU ranks do); RMSNorm, RoPE (rotate-half, llama3 rope_scaling),
grouped-query causal attention and the SwiGLU MLP follow the transformers modeling code, as
interop/torch_llama.py does in float64. Greedy decoding with a preallocated KV cache per rank (its kv
heads only).

Prints one JSON line on rank 0: load_s (open to weights ready, slowest rank), prefill_ms (the prompt's
forward and its first token), decode_ms_per_token (median over the following steps; the mean beside it),
tokens_per_second, the bytes of weights each rank holds, the BLAS in use, and the tokens; all timings
follow --warmup untimed runs of the same prompt. Needs only torch (and numpy for --logits): safetensors
files are read here through mmap.

Debian's python3-torch sends its GEMMs to whatever libblas.so.3 is installed, which is the slow
reference BLAS unless OpenBLAS is: `apt-get install libopenblas0-pthread` before comparing with tp4j
(the script warns when it finds the reference BLAS, and reports the library in "blas").
"""
import argparse
import ctypes
import json
import math
import mmap
import os
import socket
import statistics
import struct
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}
SUPPORTED = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")


class Checkpoint:
    """The tensors of a model directory (single file or index + shards), as mmap'd torch views."""

    def __init__(self, model_dir):
        index = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(index):
            weight_map = json.load(open(index))["weight_map"]
        else:
            weight_map = None
        self.entries = {}
        self.maps = {}
        for fname in sorted(set(weight_map.values())) if weight_map else ["model.safetensors"]:
            path = os.path.join(model_dir, fname)
            with open(path, "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            self.maps[fname] = mm
            for name, info in header.items():
                if name != "__metadata__":
                    self.entries[name] = (fname, 8 + n, info)

    def has(self, name):
        return name in self.entries

    def rows(self, name, r0=None, r1=None):
        """Rows [r0, r1) of a tensor (all of it by default): reads only those bytes."""
        fname, base, info = self.entries[name]
        dt = ST_DTYPES[info["dtype"]]
        shape = info["shape"]
        row = math.prod(shape[1:]) if len(shape) > 1 else 1
        r0 = 0 if r0 is None else r0
        r1 = shape[0] if r1 is None else r1
        esize = torch.tensor([], dtype=dt).element_size()
        begin = base + info["data_offsets"][0] + r0 * row * esize
        t = torch.frombuffer(self.maps[fname], dtype=dt, count=(r1 - r0) * row, offset=begin)
        return t.view(r1 - r0, *shape[1:]).to(torch.float32).contiguous()

    def cols(self, name, c0, c1):
        """Columns [c0, c1) of a 2-D tensor."""
        fname, base, info = self.entries[name]
        dt = ST_DTYPES[info["dtype"]]
        rows, ncols = info["shape"]
        t = torch.frombuffer(self.maps[fname], dtype=dt, count=rows * ncols, offset=base + info["data_offsets"][0])
        return t.view(rows, ncols)[:, c0:c1].to(torch.float32).contiguous()


def block(size, tp, rank):
    """tp4j's uneven split: the first size % tp ranks take one more."""
    base, extra = divmod(size, tp)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def inv_freq(cfg, head_dim):
    """transformers' _compute_default_rope_parameters (fp32, as there) and _compute_llama3_parameters."""
    base = float(cfg.get("rope_theta", 10000.0))
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind in (None, "default"):
        return inv
    if kind != "llama3":
        raise SystemExit("torch_llama_decode.py: rope_scaling type %r is not supported" % kind)
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    llama = torch.where(wavelen > old / low, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * llama / factor + smooth * llama
    medium = ~(wavelen < old / high) * ~(wavelen > old / low)
    return torch.where(medium, smoothed, llama)


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


class Shard:
    """One rank's part of the model, its KV cache and its forward."""

    def __init__(self, model_dir, cfg, rank, tp, max_len):
        self.rank, self.tp = rank, tp
        arch = cfg["architectures"][0]
        H = cfg["hidden_size"]
        nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
        hd = cfg.get("head_dim") or H // nh
        if nh % tp or not ((tp <= nkv and nkv % tp == 0) or (tp > nkv and tp % nkv == 0)):
            raise SystemExit("torch_llama_decode.py: tp %d does not fit %d heads / %d kv heads" % (tp, nh, nkv))
        self.eps = cfg["rms_norm_eps"]
        self.hd = hd
        group = nh // nkv
        q0, q1 = rank * nh // tp, (rank + 1) * nh // tp
        k0, k1 = q0 // group, (q1 - 1) // group + 1
        self.nq, self.nkv = q1 - q0, k1 - k0
        ck = Checkpoint(model_dir)
        qkv_bias = arch == "Qwen2ForCausalLM" or cfg.get("attention_bias", False)
        self.o_bias = arch == "LlamaForCausalLM" and cfg.get("attention_bias", False)
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            p = "model.layers.%d." % i
            L = {"in_norm": ck.rows(p + "input_layernorm.weight"),
                 "post_norm": ck.rows(p + "post_attention_layernorm.weight")}
            # q, k, v fused into one column-parallel GEMM: this rank's query heads, then its kv heads.
            parts = [ck.rows(p + "self_attn.q_proj.weight", q0 * hd, q1 * hd),
                     ck.rows(p + "self_attn.k_proj.weight", k0 * hd, k1 * hd),
                     ck.rows(p + "self_attn.v_proj.weight", k0 * hd, k1 * hd)]
            L["qkv"] = torch.cat(parts)
            L["qkv_b"] = torch.cat([ck.rows(p + "self_attn.q_proj.bias", q0 * hd, q1 * hd).flatten(),
                                    ck.rows(p + "self_attn.k_proj.bias", k0 * hd, k1 * hd).flatten(),
                                    ck.rows(p + "self_attn.v_proj.bias", k0 * hd, k1 * hd).flatten()]) \
                if qkv_bias else None
            L["o"] = ck.cols(p + "self_attn.o_proj.weight", q0 * hd, q1 * hd)
            L["o_b"] = ck.rows(p + "self_attn.o_proj.bias").flatten() if self.o_bias else None
            i0, i1 = block(cfg["intermediate_size"], tp, rank)
            L["gate_up"] = torch.cat([ck.rows(p + "mlp.gate_proj.weight", i0, i1),
                                      ck.rows(p + "mlp.up_proj.weight", i0, i1)])
            L["inter"] = i1 - i0
            L["down"] = ck.cols(p + "mlp.down_proj.weight", i0, i1)
            L["k_cache"] = torch.zeros(self.nkv, max_len, hd)
            L["v_cache"] = torch.zeros(self.nkv, max_len, hd)
            self.layers.append(L)
        self.norm = ck.rows("model.norm.weight")
        V = self.vocab = cfg["vocab_size"]
        self.v0, self.v1 = block(V, tp, rank)
        self.embed = ck.rows("model.embed_tokens.weight", self.v0, self.v1)
        tied = cfg.get("tie_word_embeddings", False) or not ck.has("lm_head.weight")
        self.head = self.embed if tied else ck.rows("lm_head.weight", self.v0, self.v1)
        freqs = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq(cfg, hd))
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        tensors = [self.norm, self.embed] + ([] if self.head is self.embed else [self.head])
        for L in self.layers:
            tensors += [v for k, v in L.items() if isinstance(v, torch.Tensor) and not k.endswith("cache")]
        self.weight_bytes = sum(t.numel() * t.element_size() for t in tensors)
        self.collectives = 0

    def all_reduce(self, x):
        if self.tp > 1:
            dist.all_reduce(x)
            self.collectives += 1
        return x

    def forward(self, ids, start):
        """Positions start .. start+T-1 of one sequence: fills the cache, returns the final-norm hidden
        states [T, hidden] (replicated on every rank)."""
        T = len(ids)
        ids_t = torch.tensor(ids)
        inside = (ids_t >= self.v0) & (ids_t < self.v1)
        x = self.embed[(ids_t - self.v0).clamp(0, self.v1 - self.v0 - 1)] * inside.unsqueeze(1)
        x = self.all_reduce(x)
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]
        S = start + T
        mask = None
        if T > 1:
            mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=start).logical_not()
        nq, nkv, hd = self.nq, self.nkv, self.hd
        rep = nq // nkv
        for L in self.layers:
            h = rms_norm(x, L["in_norm"], self.eps)
            qkv = F.linear(h, L["qkv"], L["qkv_b"])
            q = qkv[:, :nq * hd].view(T, nq, hd).transpose(0, 1)
            k = qkv[:, nq * hd:(nq + nkv) * hd].view(T, nkv, hd).transpose(0, 1)
            v = qkv[:, (nq + nkv) * hd:].view(T, nkv, hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            L["k_cache"][:, start:S] = k
            L["v_cache"][:, start:S] = v
            keys, values = L["k_cache"][:, :S], L["v_cache"][:, :S]
            # local query heads grouped by the local kv head they use: [nkv, rep * T, hd]
            qg = q.reshape(nkv, rep * T, hd)
            scores = torch.matmul(qg, keys.transpose(1, 2)) * (hd ** -0.5)
            if mask is not None:
                scores = scores.view(nkv, rep, T, S).masked_fill(mask, float("-inf")).view(nkv, rep * T, S)
            o = torch.matmul(torch.softmax(scores, dim=-1), values)
            o = o.view(nq, T, hd).transpose(0, 1).reshape(T, nq * hd)
            attn = self.all_reduce(F.linear(o, L["o"]))
            x = x + (attn + L["o_b"] if L["o_b"] is not None else attn)
            h = rms_norm(x, L["post_norm"], self.eps)
            gu = F.linear(h, L["gate_up"])
            x = x + self.all_reduce(F.linear(F.silu(gu[:, :L["inter"]]) * gu[:, L["inter"]:], L["down"]))
        return rms_norm(x, self.norm, self.eps)

    def logits(self, x):
        return F.linear(x, self.head)

    def argmax(self, local_logits):
        """The greedy token over all ranks' vocab blocks: each rank's winner, all_gathered (ties: lowest id)."""
        val, idx = torch.max(local_logits, dim=-1)
        if self.tp == 1:
            return int(idx)
        mine = torch.tensor([float(val), float(idx + self.v0)], dtype=torch.float64)
        winners = [torch.zeros(2, dtype=torch.float64) for _ in range(self.tp)]
        dist.all_gather(winners, mine)
        self.collectives += 1
        best = max(winners, key=lambda w: (w[0].item(), -w[1].item()))
        return int(best[1])

    def gather_logits(self, local):
        """[T, V] on every rank (only for --logits): blocks padded to the largest, all_gathered."""
        if self.tp == 1:
            return local
        width = -(-self.vocab // self.tp)
        padded = torch.zeros(local.shape[0], width)
        padded[:, :local.shape[1]] = local
        parts = [torch.zeros_like(padded) for _ in range(self.tp)]
        dist.all_gather(parts, padded)
        widths = [block(self.vocab, self.tp, r)[1] - block(self.vocab, self.tp, r)[0] for r in range(self.tp)]
        return torch.cat([parts[r][:, :widths[r]] for r in range(self.tp)], dim=1)

    def reset(self):
        for L in self.layers:
            L["k_cache"].zero_()
            L["v_cache"].zero_()


def blas(threads):
    """The BLAS library torch's GEMMs go to (Debian's torch is built with BLAS_INFO=generic: whatever
    libblas.so.3 the alternatives point to), with OpenBLAS held to `threads` threads: torch.set_num_threads
    does not reach it, and tp ranks each running all cores' worth of BLAS threads would oversubscribe."""
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps")
                   if "blas" in line.lower() and ".so" in line and "lapack" not in line.lower()})
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads(threads)
    name = " ".join(os.path.basename(os.path.realpath(p)) for p in libs) or "none found"
    if libs and all("openblas" not in p and "mkl" not in p and "blis" not in p for p in libs):
        print("torch_llama_decode.py: torch's BLAS is %s, the reference BLAS: GEMMs will be far slower than "
              "tp4j's OpenBLAS; for a fair comparison: apt-get install libopenblas0-pthread" % name,
              file=sys.stderr)
    return ", ".join(sorted({os.path.realpath(p) for p in libs})) or "none found"


def barrier(tp):
    if tp > 1:
        dist.barrier()


def generate(shard, prompt, new_tokens, tp, want_logits=False):
    barrier(tp)
    t0 = time.perf_counter()
    x = shard.forward(prompt, 0)
    local = shard.logits(x) if want_logits else shard.logits(x[-1:])
    tok = shard.argmax(local[-1])
    prefill = time.perf_counter() - t0
    full = shard.gather_logits(local) if want_logits else None
    tokens, steps = [tok], []
    pos = len(prompt)
    for _ in range(new_tokens - 1):
        t0 = time.perf_counter()
        x = shard.forward([tok], pos)
        tok = shard.argmax(shard.logits(x[-1]))
        steps.append(time.perf_counter() - t0)
        tokens.append(tok)
        pos += 1
    return tokens, prefill, steps, full


def worker(rank, a, cfg, prompt, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    threads = a.threads or max(1, (os.cpu_count() or 1) // a.tp)
    torch.set_num_threads(threads)
    blas_name = blas(threads)
    if a.tp > 1:
        dist.init_process_group("gloo", rank=rank, world_size=a.tp)
    with torch.no_grad():  # not inference_mode: gloo's all_gather writes its outputs outside it
        t0 = time.perf_counter()
        shard = Shard(a.model_dir, cfg, rank, a.tp, len(prompt) + a.new_tokens)
        load = time.perf_counter() - t0
        barrier(a.tp)
        if a.tp > 1:
            t = torch.tensor([load])
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            load = float(t)
            sizes = [torch.zeros(1, dtype=torch.float64) for _ in range(a.tp)]
            dist.all_gather(sizes, torch.tensor([float(shard.weight_bytes)], dtype=torch.float64))
            bytes_per_rank = [int(s) for s in sizes]
        else:
            bytes_per_rank = [shard.weight_bytes]
        for _ in range(a.warmup):  # the same prompt and two decode steps, so no timed call is a first one
            generate(shard, prompt, 3, a.tp)
            shard.reset()
        shard.collectives = 0
        tokens, prefill, steps, full = generate(shard, prompt, a.new_tokens, a.tp, want_logits=bool(a.logits))
        per_step = shard.collectives / max(1, len(tokens))
    if rank == 0:
        if a.logits:
            import numpy
            numpy.save(a.logits, full.numpy())
        decode = statistics.median(steps) if steps else float("nan")
        print(json.dumps({
            "runtime": "pytorch %s eager, float32, gloo" % torch.__version__,
            "model": os.path.abspath(a.model_dir), "architecture": cfg["architectures"][0],
            "tp": a.tp, "threads_per_rank": torch.get_num_threads(), "blas": blas_name,
            "prompt_len": len(prompt), "new_tokens": a.new_tokens, "warmup_runs": a.warmup,
            "load_s": round(load, 4), "prefill_ms": round(prefill * 1e3, 3),
            "decode_ms_per_token": round(decode * 1e3, 3),
            "decode_ms_per_token_mean": round(statistics.mean(steps) * 1e3, 3) if steps else None,
            "tokens_per_second": round(1.0 / decode, 3) if steps else None,
            "weight_bytes_per_rank": bytes_per_rank,
            "collectives_per_token": round(per_step, 3),
            "tokens": tokens,
        }), flush=True)
    if a.tp > 1:
        dist.barrier()
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir")
    p.add_argument("--tp", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--prompt-ids", default=None, help="comma-separated ids (instead of a random prompt)")
    p.add_argument("--prompt-seed", type=int, default=0)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="threads per rank (default: cores / tp)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed runs (the prompt's prefill and two decode steps) before the timed one")
    p.add_argument("--logits", default=None, help="write the prompt's logits [prompt_len, vocab] (.npy, F32)")
    a = p.parse_args()
    cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
    if cfg.get("architectures", [None])[0] not in SUPPORTED:
        sys.exit("torch_llama_decode.py: architecture %s is not supported" % cfg.get("architectures"))
    if a.prompt_ids:
        prompt = [int(t) for t in a.prompt_ids.split(",")]
    else:
        g = torch.Generator().manual_seed(a.prompt_seed)
        prompt = torch.randint(0, cfg["vocab_size"], (a.prompt_len,), generator=g).tolist()
    window = cfg.get("sliding_window")
    if cfg["architectures"][0] == "Qwen2ForCausalLM" and not cfg.get("use_sliding_window", False):
        window = None
    if window is not None and len(prompt) + a.new_tokens > window:
        sys.exit("torch_llama_decode.py: prompt + new tokens exceed sliding_window %d" % window)
    port = free_port()
    if a.tp == 1:
        worker(0, a, cfg, prompt, port)
    else:
        mp.spawn(worker, args=(a, cfg, prompt, port), nprocs=a.tp, join=True)


if __name__ == "__main__":
    main()
