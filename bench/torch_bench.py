#!/usr/bin/env python3
"""The same work as `tp4j bench`, through PyTorch + torch.distributed (gloo on CPU, nccl on GPU).

Megatron's MLP split by hand (column-parallel up-projection, activation, row-parallel down-projection,
one all_reduce), and all_reduce over a size sweep; timings are medians of runs that each start after a
barrier, as tp4j bench measures them. Prints one JSON object with the results on rank 0.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F


def quantiles(samples):
    s = sorted(samples)
    def q(p):
        pos = p * (len(s) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (pos - lo) * (s[hi] - s[lo])
    return {"median_ms": q(0.5) * 1e3, "p10_ms": q(0.1) * 1e3, "p90_ms": q(0.9) * 1e3}


def timed(fn, warmup, iterations, device):
    for _ in range(warmup):
        dist.barrier()
        fn()
    samples = []
    for _ in range(iterations):
        dist.barrier()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        samples.append(time.perf_counter() - t0)
    return quantiles(samples)


def worker(rank, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(args.port)
    backend = "nccl" if args.device == "cuda" else "gloo"
    dist.init_process_group(backend, rank=rank, world_size=args.tp)
    device = torch.device("cuda", rank) if args.device == "cuda" else torch.device("cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.tp))
    torch.manual_seed(1234 + rank)
    # Uneven shards as tp4j splits them: the first ffn % tp ranks take one more row.
    local = args.ffn // args.tp + (1 if rank < args.ffn % args.tp else 0)
    up_w = torch.randn(local, args.hidden, device=device) / args.hidden ** 0.5
    up_b = torch.randn(local, device=device) / args.hidden ** 0.5
    down_w = torch.randn(args.hidden, local, device=device) / args.ffn ** 0.5
    down_b = torch.randn(args.hidden, device=device) / args.ffn ** 0.5
    x = torch.randn(args.tokens, args.hidden, device=device)
    act = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu,
           "gelu_tanh": lambda t: F.gelu(t, approximate="tanh")}[args.activation]

    results = []
    with torch.inference_mode():
        def mlp():
            h = act(F.linear(x, up_w, up_b))
            y = F.linear(h, down_w)
            dist.all_reduce(y)
            return y + down_b
        stats = timed(mlp, args.warmup, args.iterations, device)
        flops = 4.0 * args.tokens * args.hidden * args.ffn
        results.append(dict(kind="mlp", op="forward (%s)" % args.activation, tp=args.tp, dtype="f32",
                            shape="tokens %d, hidden %d, ffn %d" % (args.tokens, args.hidden, args.ffn),
                            gflops=flops / (stats["median_ms"] * 1e6), **stats))
        size = args.min_bytes
        while size <= args.max_bytes:
            buf = torch.ones(size // 4, device=device)
            stats = timed(lambda: dist.all_reduce(buf), args.warmup, args.iterations, device)
            algbw = size / (stats["median_ms"] * 1e-3) / 1e9
            results.append(dict(kind="collective", op="all_reduce", tp=args.tp, dtype="f32", bytes=size,
                                algbw_gbps=algbw, busbw_gbps=algbw * 2 * (args.tp - 1) / args.tp, **stats))
            size *= 4
    if rank == 0:
        print(json.dumps({"peer": "pytorch %s + %s" % (torch.__version__, backend),
                          "threads_per_rank": torch.get_num_threads(), "results": results}))
        sys.stdout.flush()
    dist.barrier()
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tp", type=int, default=2)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--ffn", type=int, default=8192)
    p.add_argument("--activation", default="gelu", choices=["relu", "gelu", "gelu_tanh", "silu"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--min-bytes", type=int, default=4 << 10)
    p.add_argument("--max-bytes", type=int, default=64 << 20)
    p.add_argument("--port", type=int, default=29511)
    args = p.parse_args()
    mp.spawn(worker, args=(args,), nprocs=args.tp, join=True)


if __name__ == "__main__":
    main()
