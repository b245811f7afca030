"""Equivalence study: critics trained with bfloat16 matmuls (fp32 master weights, fp32 read-out) against fp32 training.

For each MI level (below and above log N) and each seed, one NWJ critic is trained in fp32 and one with
`matmul_dtype="bf16"`, from the same initialization and the same batches; both are read in fp32 by the engine's
final held-out reading (`MIEstimate.heldout_value`: a fixed fresh evaluation draw, eval mode, fp32). The pairs
share everything but the precision, so the test is on the paired differences d_i = bf16_i - fp32_i. Stated
before running:

  bf16 is equivalent at a level when |mean(d)| + 2 sd(d) / sqrt(n) <= 0.5 sd_fp32
  (with ~95 % confidence, bf16 moves the estimate by less than half the seed-to-seed spread of fp32 training).

The same test is applied to a control where the claim is false by construction (fp32 critics trained with a
3x larger learning rate, paired with fp32 by seed): it must reject there, or the test is too weak to mean anything.
(A first version of this study compared unpaired means with a two-sigma band; it failed to reject the control
at all four levels, so it had no power, and was replaced by this paired test.)

    .venv/bin/python bench/bf16_study.py [--seeds 5] [--steps 1500] [--batch 256] [--hidden 256,256] [--device cpu|cuda] [--json PATH]
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

from minfo.estimate import train_critics
from minfo.gaussians import CorrelatedGaussians


def run(levels, seeds, steps, batch, hidden, lr, matmul_dtype=None, device="cpu"):
    t = time.perf_counter()
    res = train_critics([CorrelatedGaussians(mi=m) for m in levels], bound="nwj", hidden=hidden, batch_size=batch,
                        steps=steps, lr=lr, seeds=seeds, device=device, matmul_dtype=matmul_dtype, n_bootstrap=0,
                        keep_critic=False, eval_rows=8 * batch)
    vals = np.array([r.heldout_value for r in res]).reshape(len(levels), len(seeds))
    return vals, time.perf_counter() - t


def equivalent(a: np.ndarray, b: np.ndarray) -> tuple[bool, dict]:
    "The stated paired test on seeds a (reference) and b (candidate, same seeds) at one level"
    d, n = b - a, len(a)
    diff, half = float(d.mean()), 2 * float(d.std(ddof=1)) / math.sqrt(n)
    band = 0.5 * float(a.std(ddof=1))
    ok = np.isfinite(d).all() and abs(diff) + half <= band
    return bool(ok), dict(mean_ref=float(a.mean()), mean_cand=float(b.mean()), diff=diff, ci_half=half, band=band,
                          sd_ref=float(a.std(ddof=1)), sd_cand=float(b.std(ddof=1)), ref=a.tolist(), cand=b.tolist())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--hidden", default="256,256")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--levels", default="2,5,10,20")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    os.environ.setdefault("MINFO_PROGRESS", "0")
    if args.threads: torch.set_num_threads(args.threads)
    levels = [float(v) for v in args.levels.split(",")]
    seeds, hidden = tuple(range(args.seeds)), tuple(int(h) for h in args.hidden.split(","))
    kw = dict(levels=levels, seeds=seeds, steps=args.steps, batch=args.batch, hidden=hidden, device=args.device)
    fp32, t32 = run(**kw, lr=args.lr)
    print("fp32 per seed:", np.round(fp32, 3).tolist(), flush=True)
    bf16, t16 = run(**kw, lr=args.lr, matmul_dtype="bf16")
    ctrl, _ = run(**kw, lr=3 * args.lr)
    rows = []
    print(f"NWJ, N = {args.batch} (log N = {math.log(args.batch):.2f}), critic {args.hidden}, {args.steps} steps, "
          f"lr {args.lr}, {args.seeds} seeds; fp32 {t32:.0f} s, bf16 {t16:.0f} s ({t32 / t16:.2f}x)")
    print("level | fp32 mean ± sd | bf16 mean ± sd | paired diff ± 2 s.e. | band (0.5 sd fp32) | bf16 equivalent | "
          "control (3x lr) rejected")
    for i, m in enumerate(levels):
        ok, d = equivalent(fp32[i], bf16[i])
        cok, cd = equivalent(fp32[i], ctrl[i])
        rows.append(dict(level=m, **d, equivalent=ok, control=cd, control_rejected=not cok))
        print(f"{m:5g} | {d['mean_ref']:.3f} ± {d['sd_ref']:.3f} | {d['mean_cand']:.3f} ± {d['sd_cand']:.3f} | "
              f"{d['diff']:+.3f} ± {d['ci_half']:.3f} | {d['band']:.3f} | {ok} | {not cok} "
              f"(diff {cd['diff']:+.3f} ± {cd['ci_half']:.3f})")
    verdict = all(r["equivalent"] for r in rows)
    print(f"bf16 within the seed-to-seed spread at every level: {verdict}; "
          f"the control was rejected at {sum(r['control_rejected'] for r in rows)} of {len(rows)} levels")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, verdict=verdict, fp32_s=t32, bf16_s=t16, settings=vars(args)), f, indent=1)


if __name__ == "__main__":
    main()
