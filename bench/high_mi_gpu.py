"""The high-MI chapter's headline at the report's own scale, sized for one call on one GPU.

Fig. 1a (MINE, N = 1024) and Fig. 2a-b (NWJ, N = 512; N from 64 up at 30 nats) with the report's 2x512 ELU critic,
lr 1e-4, shuffled negatives and 100,000 steps (App. C.1: 1000 epochs of 100 batches for N >= 512), each panel's MI
levels batched into one model (`train_critics`). It writes every critic's curve (MINE: the median of each block of
per-step batch estimates, as the chapter reads it; NWJ: the App. C.1 per-epoch means) and a summary per critic, so a
later session can judge them by the chapter's rules (`nbs/02_high_mi.ipynb`).

    python bench/high_mi_gpu.py --device cuda --json OUT/high_mi.json --npz OUT/high_mi_curves.npz
    python bench/high_mi_gpu.py --dry-run          # the work and FLOPs of the run, nothing trained
"""
import argparse
import math
import time

import numpy as np
import torch

from minfo.estimate import critic_step_flops, smooth, train_critics
from minfo.gaussians import CorrelatedGaussians
from minfo.utils import atomic_write_json

LEVELS = [2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0]   # the report's MI levels (nats)
DIM = 20                                          # the report's 20-D Gaussians


def panels(a) -> list[dict]:
    "The sweeps of the run: one batched model each (Fig. 2b: one per N)."
    out = [dict(name="fig1a", bound="mine", N=a.n_mine, levels=a.levels, per_step=True),
           dict(name="fig2a", bound="nwj", N=a.n_nwj, levels=a.levels, per_step=False)]
    out += [dict(name=f"fig2b_N{n}", bound="nwj", N=n, levels=[30.0], per_step=False) for n in a.fig2b_n]
    return [p for p in out if p["name"].split("_")[0] in a.panels]


def step_flops(p: dict, a) -> float:
    "FLOPs of one training step of one critic of panel `p` (counted on the meta device)."
    return critic_step_flops(DIM, DIM, bound=p["bound"], batch_size=p["N"], hidden=a.hidden, negatives="shuffle",
                             activation="elu")


def block_medians(h: np.ndarray, blk: int) -> np.ndarray:
    "Median of each run of `blk` per-step estimates (nan where none is finite)."
    n = len(h) // blk
    b = h[:n * blk].reshape(n, blk)
    return np.array([np.median(r[np.isfinite(r)]) if np.isfinite(r).any() else np.nan for r in b])


def summary(curve: np.ndarray, truth: float, log_n: float) -> dict:
    "What the chapter's rules read: final smoothed value, last-fifth median, the last half's slope per 1000 points."
    fin = np.isfinite(curve)
    tail = curve[int(0.8 * len(curve)):]
    half = curve[len(curve) // 2:]
    x = np.arange(len(half))[np.isfinite(half)]
    slope = float(np.polyfit(x, half[np.isfinite(half)], 1)[0] * 1000) if len(x) > 2 else float("nan")
    s = smooth(curve)
    return dict(truth=truth, log_n=log_n, final_smoothed=float(s[np.isfinite(s)][-1]) if fin.any() else float("nan"),
                tail_median=float(np.nanmedian(tail)) if np.isfinite(tail).any() else float("nan"),
                max=float(np.nanmax(curve)) if fin.any() else float("nan"), last_half_slope_per_1000=slope,
                finite=bool(fin.all()))


def run_panel(p: dict, a) -> tuple[list[dict], dict]:
    "Train one panel's critics as one model; (rows, curves)."
    blk = 100 if a.steps >= 1000 else max(1, a.steps // 10)      # a curve point: one epoch of 100 batches
    t0 = time.perf_counter()
    res = train_critics([CorrelatedGaussians(mi=m, dim=DIM) for m in p["levels"]], bound=p["bound"], hidden=a.hidden,
                        batch_size=p["N"], steps=a.steps, lr=a.lr, negatives="shuffle", activation="elu", seeds=(0,),
                        eval_every=1 if p["per_step"] else blk, device=a.device, progress=False)
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    rows, curves = [], {}
    for m, r in zip(p["levels"], res):
        h = np.asarray(r.history, dtype=float)
        curve = block_medians(h, blk) if p["per_step"] else h
        curves[f"{p['name']}_{m:g}"] = curve
        rows.append(dict(panel=p["name"], bound=p["bound"], N=p["N"], steps=a.steps, block=blk,
                         diverged=bool(r.flags.get("diverged")), **summary(curve, m, math.log(p["N"]))))
    for row in rows:
        row["panel_seconds"] = seconds
    return rows, curves


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--panels", default="fig1a,fig2a,fig2b", help="comma-separated: fig1a, fig2a, fig2b")
    ap.add_argument("--levels", default=",".join(f"{m:g}" for m in LEVELS))
    ap.add_argument("--n-mine", type=int, default=1024)
    ap.add_argument("--n-nwj", type=int, default=512)
    ap.add_argument("--fig2b-n", default="64,128,256,512,1024,2048,4096",
                    help="batch sizes at 30 nats (the report goes on to 32768: 2.6x the FLOPs of this whole default run)")
    ap.add_argument("--hidden", default="512,512")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--dry-run", action="store_true", help="print the run's work and FLOPs, train nothing")
    ap.add_argument("--json", default=None)
    ap.add_argument("--npz", default=None)
    a = ap.parse_args(argv)
    a.panels = set(a.panels.split(","))
    a.levels = [float(v) for v in a.levels.split(",")]
    a.fig2b_n = [int(v) for v in a.fig2b_n.split(",")]
    a.hidden = tuple(int(v) for v in a.hidden.split(","))
    ps = panels(a)
    work = [dict(panel=p["name"], critics=len(p["levels"]), N=p["N"], steps=a.steps,
                 gflop=len(p["levels"]) * a.steps * step_flops(p, a) / 1e9) for p in ps]
    total = sum(w["gflop"] for w in work)
    for w in work:
        print(f"{w['panel']:>12}: {w['critics']} critic(s), N = {w['N']}, {w['steps']:,} steps, {w['gflop']:,.0f} GFLOP")
    print(f"total {total:,.0f} GFLOP (critic matmuls, forward and backward)")
    if a.dry_run:
        return
    rows, curves, t0 = [], {}, time.perf_counter()
    for p in ps:
        r, c = run_panel(p, a)
        rows += r
        curves |= c
        print(f"{p['name']}: {r[0]['panel_seconds']:.1f} s; " + "; ".join(
            f"{x['truth']:g} nats -> tail median {x['tail_median']:.2f}, slope {x['last_half_slope_per_1000']:.3g}/1000"
            for x in r))
    seconds = time.perf_counter() - t0
    out = dict(device=a.device, torch=torch.__version__, steps=a.steps, seconds=seconds, gflop=total,
               gflops_per_s=total / seconds if seconds > 0 else None, work=work, rows=rows)
    print(f"{seconds:.1f} s, {total / seconds:,.0f} GFLOP/s")
    if a.json:
        atomic_write_json(a.json, out)
    if a.npz:
        np.savez_compressed(a.npz, **curves)


if __name__ == "__main__":
    main()
