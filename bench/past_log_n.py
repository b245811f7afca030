"""Past log N: estimators that are not capped at log N against the truth on 20-D correlated Gaussians (the report's
§3 distribution) at 10, 20 and 30 nats, beside a neural lower bound (NWJ through `estimate_mi`, a short run) that
saturates near log N. Measured, not asserted: prints a table, and writes the rows with --json.

    .venv/bin/python bench/past_log_n.py [--n 5000] [--levels 10,20,30] [--epochs 30] [--steps 3000] [--json out.json]

Methods (--methods, comma-separated): flow (FlowMI, MAF, joint fit), flow-nsf, doe-gaussian (MLP mean, full
covariance), doe-linear (closed form), doe-flow (conditional MAF in front of the linear-Gaussian fit), doe-flow-nsf,
cca, ksg, nwj.
Each density method reads its value on the held-out rows (val_fraction of --n); their `log N` is the log of those rows,
the neural bound's the log of its batch size. Every method sees the same data per level (one seed).
--transform cube (or halfcube) maps each coordinate of y through t³ (t·|t|^½): the MI is unchanged, the marginals are
no longer Gaussian, which is where the Gaussian models are wrong and the flows have work to do.
"""
import argparse
import json
import math
import time

import torch

from minfo.estimate import estimate_mi
from minfo.estimators import estimate
from minfo.gaussians import CorrelatedGaussians
from minfo.tasks import half_cube

TRANSFORMS = {"none": lambda t: t, "cube": lambda t: t ** 3, "halfcube": half_cube}

DENSITY = {
    "flow": lambda a: dict(method="flow", flow="maf", transforms=a.transforms, hidden=a.hidden, epochs=a.epochs, lr=a.lr),
    "flow-nsf": lambda a: dict(method="flow", flow="nsf", transforms=a.transforms, hidden=a.hidden, epochs=a.epochs, lr=a.lr),
    "doe-gaussian": lambda a: dict(method="doe", model="gaussian", hidden=a.hidden, epochs=a.epochs, lr=a.lr),
    "doe-linear": lambda a: dict(method="doe", model="gaussian", hidden=()),
    "doe-flow": lambda a: dict(method="doe", model="flow", transforms=a.transforms, hidden=a.hidden, epochs=a.epochs, lr=a.lr),
    "doe-flow-nsf": lambda a: dict(method="doe", model="flow", flow="nsf", transforms=a.transforms, hidden=a.hidden, epochs=a.epochs,
                                   lr=a.lr),
    "cca": lambda a: dict(method="cca"),
    "ksg": lambda a: dict(method="ksg", k=5),
}


def widths(s: str) -> tuple:
    return tuple(int(w) for w in s.split(",") if w)


def run_method(name, x, y, a) -> dict:
    t0 = time.perf_counter()
    if name == "nwj":
        res = estimate_mi(x, y, bound="nwj", hidden=widths(a.critic_hidden), batch_size=a.batch, steps=a.steps, lr=a.critic_lr,
                          val_fraction=a.val_fraction, seed=a.seed, device=a.device, n_bootstrap=0, keep_critic=False,
                          progress=False)
        extra = dict(log_n=res.log_n, flags=[k for k in ("near_log_n", "still_rising", "diverged") if res.flags.get(k)])
    else:
        kw = DENSITY[name](a)
        if kw["method"] in ("flow", "doe"): kw.update(val_fraction=a.val_fraction, device=a.device, progress=False)
        res = estimate(x, y, seed=a.seed, **kw)
        extra = dict(log_n=res.log_n, flags=[k for k in ("past_log_n", "still_rising", "diverged") if res.flags.get(k)],
                     parts={k: round(v, 4) for k, v in res.parts.items()})
    return dict(method=name, estimate=float(res.value), stderr=float(res.stderr), seconds=time.perf_counter() - t0, **extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="rows drawn per level (training rows: 1 - val_fraction of them)")
    ap.add_argument("--dim", type=int, default=20)
    ap.add_argument("--levels", default="10,20,30", help="true MI, nats")
    ap.add_argument("--methods", default="flow,doe-gaussian,doe-flow,doe-linear,cca,nwj")
    ap.add_argument("--epochs", type=int, default=30, help="density models' epochs")
    ap.add_argument("--hidden", default="64,64", help="MLP / hyper-network widths of the density models")
    ap.add_argument("--transforms", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=3000, help="neural critic's steps")
    ap.add_argument("--batch", type=int, default=512, help="neural critic's batch size N")
    ap.add_argument("--critic-hidden", default="256,256")
    ap.add_argument("--critic-lr", type=float, default=1e-3)
    ap.add_argument("--transform", default="none", choices=sorted(TRANSFORMS), help="applied to each coordinate of y")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    a = ap.parse_args()
    a.hidden = widths(a.hidden)
    torch.set_num_threads(a.threads)
    methods = [m for m in a.methods.split(",") if m]
    unknown = [m for m in methods if m != "nwj" and m not in DENSITY]
    if unknown: ap.error(f"unknown methods {unknown}; choose from {', '.join([*DENSITY, 'nwj'])}")
    t_all, rows = time.perf_counter(), []
    print(f"{a.dim}-D correlated Gaussians, {a.n} rows ({round(a.n * (1 - a.val_fraction))} training), seed {a.seed}, "
          f"y transform {a.transform}, density models {a.epochs} epochs, critic {a.steps} steps at N = {a.batch}; "
          f"{a.threads} thread(s), {a.device}")
    print(f"{'true':>5} {'method':>13} {'estimate':>9} {'± s.e.':>7} {'err':>7} {'log N':>6} {'s':>6}  flags")
    for level in (float(v) for v in a.levels.split(",")):
        task = CorrelatedGaussians(dim=a.dim, mi=level)
        x, y = task.sample(a.n, torch.Generator().manual_seed(a.seed + int(level * 1000)))
        y = TRANSFORMS[a.transform](y)
        for m in methods:
            r = dict(true_mi=task.mi, **run_method(m, x, y, a))
            r["error"] = r["estimate"] - task.mi
            rows.append(r)
            se = f"{r['stderr']:.2f}" if math.isfinite(r["stderr"]) else "-"
            print(f"{task.mi:5.1f} {m:>13} {r['estimate']:9.3f} {se:>7} {r['error']:+7.2f} {r['log_n']:6.2f} {r['seconds']:6.1f}  "
                  f"{' '.join(r['flags'])}", flush=True)
    total = time.perf_counter() - t_all
    print(f"total {total:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(rows=rows, seconds=total, settings={k: v for k, v in vars(a).items() if k != "json"}), f, indent=1)


if __name__ == "__main__":
    main()
