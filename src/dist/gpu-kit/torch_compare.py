#!/usr/bin/env python3
"""PyTorch's figures for the shapes tp4j's GPU kit benches (run.sh calls it when a torch is installed).

GEMM x @ w.T at 8192^3 (tp4j's linear, nn.Linear layout) in fp32, TF32 and bf16, as TFLOP/s; the MLP
forward down(gelu(up(x))) with biases (tp4j bench's Megatron MLP at tp 1) at tokens 128, hidden 8192,
ffn 28672 in fp32 and bf16, as ms. Median of timed runs after warm-up, the device synchronised around
each run, as tp4j bench times its own. --small uses tiny shapes (the kit's dry run on a CPU).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, device, warmup, runs):
    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--small", action="store_true", help="tiny shapes (CPU dry run)")
    ap.add_argument("--json", required=True, help="output file")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_compare.py: torch %s sees no CUDA device" % torch.__version__)
    n = 256 if a.small else 8192
    tokens, hidden, ffn = (8, 64, 224) if a.small else (128, 8192, 28672)
    warmup, runs = (1, 3) if a.small else (3, 20)
    out = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": a.device,
           "device_name": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu", "gemm": [], "mlp": []}
    torch.manual_seed(0)
    for name, dtype, tf32 in [("fp32", torch.float32, False), ("tf32", torch.float32, True),
                              ("bf16", torch.bfloat16, False)]:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        x = torch.randn(n, n, device=a.device, dtype=dtype)
        w = torch.randn(n, n, device=a.device, dtype=dtype)
        ms = timed(lambda: x @ w.T, a.device, warmup, runs)
        out["gemm"].append({"dtype": name, "shape": "%dx%dx%d" % (n, n, n), "median_ms": ms,
                            "tflops": 2 * n ** 3 / (ms * 1e-3) / 1e12})
        del x, w
    torch.backends.cuda.matmul.allow_tf32 = False
    for name, dtype in [("f32", torch.float32), ("bf16", torch.bfloat16)]:
        x = torch.randn(tokens, hidden, device=a.device, dtype=dtype)
        up_w = torch.randn(ffn, hidden, device=a.device, dtype=dtype) / hidden ** 0.5
        up_b = torch.randn(ffn, device=a.device, dtype=dtype)
        down_w = torch.randn(hidden, ffn, device=a.device, dtype=dtype) / ffn ** 0.5
        down_b = torch.randn(hidden, device=a.device, dtype=dtype)
        with torch.no_grad():
            ms = timed(lambda: F.linear(F.gelu(F.linear(x, up_w, up_b)), down_w, down_b), a.device, warmup, runs)
        out["mlp"].append({"dtype": name, "shape": "tokens %d, hidden %d, ffn %d" % (tokens, hidden, ffn),
                           "median_ms": ms, "gflops": 4 * tokens * hidden * ffn / (ms * 1e-3) / 1e9})
        del x, up_w, up_b, down_w, down_b
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)
    for g in out["gemm"]:
        print("torch GEMM %s %s: %.1f TFLOP/s" % (g["shape"], g["dtype"], g["tflops"]))
    for m in out["mlp"]:
        print("torch MLP forward %s %s: %.3f ms" % (m["shape"], m["dtype"], m["median_ms"]))


if __name__ == "__main__":
    main()
