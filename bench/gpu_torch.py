#!/usr/bin/env python3
"""PyTorch's side of bench/gpu.sh: FlashAttention-2 softmax (SDPA restricted to the flash backend)
and a plain PyTorch sigmoid attention, sigma(QK^T/sqrt(d) - ln n) V with the causal mask, on the
shapes of `sigmix bench attention --tokens T --hidden H`: B = T/n sequences, H/d heads, bf16.

Writes one JSON object to --out (again after every row, so a timeout keeps what was measured):
the card, the versions and a row per (n, d, mask) with forward, backward and forward+backward
milliseconds and TFLOP/s (FLOPs: 4*B*H*n^2*d forward, 2.5x backward, halved when causal, as
sigmix counts). Changes no GPU setting.
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F


def flops(b, h, n, d, causal):
    fwd = 4.0 * b * h * n * n * d * (0.5 if causal else 1.0)
    return [fwd, 2.5 * fwd, 3.5 * fwd]


def cuda_time(fn, budget=0.25):
    """Milliseconds per call: one warm-up, then enough calls for about `budget` seconds."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    first = start.elapsed_time(end) / 1e3
    reps = int(min(200, max(3, budget / max(first, 1e-5))))
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def flash_softmax(q, k, v, causal):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def plain_sigmoid(q, k, v, causal):
    n, d = q.shape[-2], q.shape[-1]
    s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(d)) - math.log(n)
    if causal:
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        s = s.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.sigmoid(s), v)


def measure(attn, q, k, v, dout, causal):
    def fwd():
        with torch.no_grad():
            attn(q, k, v, causal)

    out = attn(q, k, v, causal)

    def bwd():
        out.backward(dout, retain_graph=True)

    def both():
        attn(q, k, v, causal).backward(dout)

    ms = [cuda_time(fwd), cuda_time(bwd), cuda_time(both)]
    del out
    q.grad = k.grad = v.grad = None
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="512,2048,8192")
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--out", required=True, help="JSON file, rewritten after every row")
    ap.add_argument("--skip-plain-above", type=int, default=1 << 33,
                    help="skip the plain sigmoid when B*H*n*n exceeds this (its n x n memory)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_torch.py: PyTorch sees no CUDA device")
    torch.manual_seed(0)
    dev = torch.device("cuda")
    rows = []
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
              "rows": rows}

    def save():
        with open(args.out + ".tmp", "w") as f:
            json.dump(result, f, indent=1)
        os.replace(args.out + ".tmp", args.out)

    for n in [int(x) for x in args.n.split(",")]:
        for d in (64, 128):
            b, h = max(args.tokens // n, 1), max(args.hidden // d, 1)
            shape = (b, h, n, d)
            q, k, v = (torch.empty(shape, device=dev, dtype=torch.bfloat16).uniform_(-1, 1).requires_grad_()
                       for _ in range(3))
            dout = torch.empty(shape, device=dev, dtype=torch.bfloat16).uniform_(-1, 1)
            for causal in (False, True):
                fl = flops(b, h, n, d, causal)
                row = {"n": n, "d": d, "batch": b, "heads": h, "causal": causal}
                ms = measure(flash_softmax, q, k, v, dout, causal)
                row["flash_softmax_ms"] = ms
                row["flash_softmax_tflops"] = [f / (t / 1e3) / 1e12 for f, t in zip(fl, ms)]
                if b * h * n * n <= args.skip_plain_above:
                    try:
                        ms = measure(plain_sigmoid, q, k, v, dout, causal)
                        row["plain_sigmoid_ms"] = ms
                        row["plain_sigmoid_tflops"] = [f / (t / 1e3) / 1e12 for f, t in zip(fl, ms)]
                    except torch.cuda.OutOfMemoryError:  # its n x n intermediates, not the flash kernels
                        row["plain_sigmoid_error"] = "out of memory"
                        q.grad = k.grad = v.grad = None
                        torch.cuda.empty_cache()
                rows.append(row)
                save()
                print(f"torch n={n} d={d} {'causal' if causal else 'full'}: flash fwd "
                      f"{row['flash_softmax_tflops'][0]:.0f} TFLOP/s", file=sys.stderr)
            del q, k, v, dout
            torch.cuda.empty_cache()
    save()


if __name__ == "__main__":
    main()
