#!/usr/bin/env python3
"""Cross-checks the committed generate fixtures (src/test/resources/models/) against a second, independent
implementation: bench/torch_llama_decode.py (float32, tensor-parallel over gloo, greedy with a KV cache,
its own safetensors reader) must give each fixture's greedy tokens and the prompt's logits within fp32
rounding of the float64 reference, at every supported tp up to --max-tp. Needs torch and numpy only.

    interop/check_llama_fixtures.py [--max-tp 4] [--tolerance 1e-4] [MODEL ...]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "src", "test", "resources", "models")


def read_f64(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        info = header[name]
        assert info["dtype"] == "F64", info
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)
        return np.frombuffer(f.read(end - begin), dtype="<f8").reshape(info["shape"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*")
    p.add_argument("--max-tp", type=int, default=4)
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |logit difference| allowed")
    a = p.parse_args()
    names = a.models or sorted(d for d in os.listdir(MODELS) if os.path.exists(os.path.join(MODELS, d, "expected.json")))
    failures = checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            d = os.path.join(MODELS, name)
            e = json.load(open(os.path.join(d, "expected.json")))
            ref = read_f64(os.path.join(d, "expected.safetensors"), "logits")
            for tp in [t for t in e["supported_tp"] if t <= a.max_tp]:
                out = os.path.join(tmp, "logits.npy")
                r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "torch_llama_decode.py"), d,
                                    "--tp", str(tp), "--prompt-ids", ",".join(map(str, e["prompt_ids"])),
                                    "--new-tokens", str(len(e["greedy_tokens"])), "--warmup", "0", "--threads", "1",
                                    "--logits", out], capture_output=True, text=True)
                checks += 1
                if r.returncode:
                    failures += 1
                    print("%-8s tp %d: FAILED to run\n%s" % (name, tp, r.stderr[-1500:]))
                    continue
                got = json.loads(r.stdout.strip().splitlines()[-1])
                diff = float(np.abs(np.load(out) - ref).max())
                ok = got["tokens"] == e["greedy_tokens"] and diff <= a.tolerance
                failures += not ok
                print("%-8s tp %d: tokens %s, max |logits - float64| %.2e%s" % (
                    name, tp, "match" if got["tokens"] == e["greedy_tokens"] else
                    "DIFFER %s vs %s" % (got["tokens"], e["greedy_tokens"]), diff,
                    "" if diff <= a.tolerance else " (over %g)" % a.tolerance))
    print("%d passed, %d failed" % (checks - failures, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
