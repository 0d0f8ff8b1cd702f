#!/usr/bin/env python3
"""Merges the parts of bench/gpu.sh into one table (stdout, Markdown) and one JSON file.

usage: gpu_report.py OUT.json CARD.txt SELFTEST.json TORCH.json [PART.json ...]
PART files are the outputs of `sigmix bench attention --json`, one per sequence length: CUDA ones
(an object with "cuda") and WGSL ones (a list of devices). Any part may be missing or empty (its
step failed or timed out); its columns then read "-" and the JSON says which parts are absent.
"""

import datetime
import json
import math
import re
import sys


def load(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def main():
    out, card_path, selftest_path, torch_path = sys.argv[1:5]
    try:
        card = open(card_path).read().strip()
    except OSError:
        card = "unknown card"
    selftest, torch_ = load(selftest_path), load(torch_path)
    cuda, wgpu, cuda_rows, wgpu_rows, wgpu_dev = [], [], [], [], None
    for part in (load(p) for p in sys.argv[5:]):
        if isinstance(part, dict) and isinstance(part.get("cuda"), dict):
            cuda.append(part["cuda"])
            cuda_rows += part["cuda"].get("rows", [])
        elif isinstance(part, list) and part:
            wgpu.append(part)
            wgpu_dev = part[-1]
            wgpu_rows += wgpu_dev.get("attention", [])
    cuda, wgpu = cuda or None, wgpu or None
    peak = None
    if wgpu_dev and wgpu_dev.get("peak"):
        m = re.search(r"peak (?:estimated )?([0-9.]+) GFLOP/s", wgpu_dev["peak"])
        peak = float(m.group(1)) / 1e3 if m else None
    torch_rows = (torch_ or {}).get("rows", [])

    def key(r):
        return (r["n"], r["d"], bool(r["causal"]))

    keys = sorted({key(r) for r in cuda_rows + wgpu_rows + torch_rows}, key=lambda k: (k[1], k[2], k[0]))
    cu = {key(r): r for r in cuda_rows if r.get("precision") == "bf16"}
    wg = {key(r): r for r in wgpu_rows}
    th = {key(r): r for r in torch_rows}

    def f(v, fmt="{:.1f}"):
        return "-" if v is None else fmt.format(v)

    table = []
    ratios_fwd, ratios_bwd = [], []
    for k in keys:
        c, w, t = cu.get(k), wg.get(k), th.get(k)
        fa_f = t["flash_softmax_tflops"][0] if t else None
        fa_b = t["flash_softmax_tflops"][1] if t else None
        cs_f = c["sigmoid_tflops"][0] if c else None
        cs_b = c["sigmoid_tflops"][1] if c else None
        cm_f = c["softmax_tflops"][0] if c else None
        pl_f = t["plain_sigmoid_tflops"][0] if t and "plain_sigmoid_tflops" in t else None
        ws_f = w["sigmoid_gflops"][0] / 1e3 if w else None
        r_f = cs_f / fa_f if cs_f and fa_f else None
        r_b = cs_b / fa_b if cs_b and fa_b else None
        if r_f:
            ratios_fwd.append(r_f)
        if r_b:
            ratios_bwd.append(r_b)
        peak_pct = f"{100 * ws_f / peak:.1f}%" if ws_f and peak else "-"
        table.append({
            "n": k[0], "d": k[1], "causal": k[2],
            "flash_softmax_fwd": fa_f, "cuda_sigmoid_fwd": cs_f, "cuda_softmax_fwd": cm_f,
            "sigmoid_over_flash_fwd": r_f, "plain_sigmoid_fwd": pl_f, "wgsl_sigmoid_fwd": ws_f,
            "wgsl_sigmoid_fwd_of_fp32_peak": ws_f / peak if ws_f and peak else None,
            "flash_softmax_bwd": fa_b, "cuda_sigmoid_bwd": cs_b, "sigmoid_over_flash_bwd": r_b,
        })
        print_row = (k[0], k[1], "causal" if k[2] else "full", f(fa_f), f(cs_f), f(cm_f), f(r_f, "{:.2f}×"),
                     f(pl_f), f"{f(ws_f, '{:.2f}')} ({peak_pct})", f(fa_b), f(cs_b), f(r_b, "{:.2f}×"))
        table[-1]["_print"] = print_row

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n## {card} — {now}\n")
    if isinstance(selftest, list):
        def err(c):  # serde writes an infinite error (unwritten or non-finite output) as null
            return math.inf if c["rel_err"] is None else c["rel_err"]

        bad = [c for c in selftest if not err(c) < c["tolerance"]]
        worst = {}
        for c in selftest:
            p = c["kernel"].split()[1]
            worst[p] = max(worst.get(p, 0.0), err(c))
        print(f"selftest --cuda: {len(selftest) - len(bad)}/{len(selftest)} passed; worst relative error "
              + ", ".join(f"{p} {e:.1e}" for p, e in worst.items()) + "\n")
    else:
        print("selftest --cuda: no result\n")
    print("TFLOP/s (bf16 for CUDA and PyTorch, f32 for WGSL through Vulkan); B·n = tokens, heads = hidden / d.\n")
    print("| n | d | mask | FA2 softmax fwd | CUDA sigmoid fwd | CUDA softmax fwd | sigmoid / FA2 fwd "
          "| PyTorch plain sigmoid fwd | WGSL sigmoid fwd (of f32 peak) | FA2 softmax bwd | CUDA sigmoid bwd "
          "| sigmoid / FA2 bwd |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print("| " + " | ".join(str(x) for x in r.pop("_print")) + " |")

    def gmean(v):
        return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None

    gf, gb = gmean(ratios_fwd), gmean(ratios_bwd)
    met = sum(1 for r in ratios_fwd if r >= 1.17)
    print(f"\nCUDA sigmoid forward over FA2 softmax forward: geometric mean {f(gf, '{:.2f}×')}; "
          f"target ≥ 1.17× met on {met} of {len(ratios_fwd)} shapes. Backward: {f(gb, '{:.2f}×')}.")
    missing = [name for name, part in
               (("selftest", selftest), ("cuda", cuda), ("wgpu", wgpu), ("torch", torch_)) if part is None]
    if missing:
        print(f"\nmissing parts: {', '.join(missing)} (see the log above)")
    result = {"card": card, "date": now, "selftest": selftest, "table": table,
              "geomean_sigmoid_over_flash": {"forward": gf, "backward": gb},
              "missing": missing, "cuda": cuda, "wgpu": wgpu, "torch": torch_}
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
