"""Profile one training step of `train_critics` (K critics) against the plain PyTorch loop's step.

Times, per step and in the same process (interleaved, best of `--repeats`):
  plain     the usual nn.Sequential step (two forward passes, autograd, Adam)
  step      minfo's whole `_Run.step` (batch draw, standardization, critic, objective, guard, history, Adam)
  critic    `train_scores` alone on a fixed batch (the critic's forward and hand-written backward)
  batch     `Batcher.next` alone (draw, standardization, stacking, shuffles)
so `step - critic - batch` is the per-step Python and bookkeeping overhead the plain loop does not pay.
Then `torch.profiler` tables the top ops of one minfo step and one plain step (self CPU time).

    .venv/bin/python bench/profile_step.py [--k 1,7] [--steps 30] [--repeats 3] [--activation elu|relu] [--top 12]
    ATEN_CPU_CAPABILITY=avx2 .venv/bin/python bench/profile_step.py      # the other kernel set
"""
import argparse
import os
import time

import torch
from torch.profiler import ProfilerActivity, profile

from minfo.estimate import EstimatorSettings, _Run
from minfo.gaussians import CorrelatedGaussians

LEVELS = (2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)


def plain_setup(hidden, N, activation, seed=0, mi=10.0):
    "The usual critic, optimizer, generator and step closure"
    src = CorrelatedGaussians(mi=mi)
    torch.manual_seed(seed)
    layers, d = [], 2 * src.dim
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.ELU() if activation == "elu" else torch.nn.ReLU()]; d = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(d, 1))
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    g = torch.Generator().manual_seed(seed)

    def step():
        x, y = src.sample(N, generator=g)
        perm = torch.randperm(N, generator=g)
        tj = net(torch.cat([x, y], 1)).squeeze(1)
        tm = net(torch.cat([x, y[perm]], 1)).squeeze(1)
        loss = -(tj.mean() - torch.exp(tm - 1).mean())
        opt.zero_grad(); loss.backward(); opt.step()
    return step


def minfo_setup(K, hidden, N, activation):
    "minfo's whole step, the critic's `train_scores` on a fixed batch, and the batch draw, of K critics"
    s = EstimatorSettings(hidden=hidden, activation=activation, batch_size=N, steps=10**6, eval_every=10**6, progress=False)
    run = _Run(s, [CorrelatedGaussians(mi=LEVELS[i % len(LEVELS)]) for i in range(K)], (0,))
    it = iter(range(10**9))
    x, y, perm = run.batcher.next()

    def step(): run.step(next(it))
    def critic():
        run.critic.flat.grad.zero_()
        run.critic.train_scores(x, y, run.structure, perm, run.grad_fn, run.batcher.gens)
    def batch(): run.batcher.next()
    return step, critic, batch


def per_step(fn, steps):
    t = time.perf_counter()
    for _ in range(steps): fn()
    return (time.perf_counter() - t) / steps


def top_ops(fn, n, label):
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5): fn()
    print(f"\n--- {label}: top ops by self CPU time (5 steps) ---")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=n, max_name_column_width=40))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", default="1,7")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--hidden", default="512,512")
    ap.add_argument("--activation", default="elu", choices=("elu", "relu"))
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--no-profile", action="store_true", help="timings only")
    args = ap.parse_args()
    os.environ.setdefault("MINFO_PROGRESS", "0")
    hidden = tuple(int(h) for h in args.hidden.split(","))
    N, act = args.batch, args.activation
    print(f"CPU kernels {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"critic {'x'.join(map(str, hidden))} {act.upper()}, N={N}, load avg {os.getloadavg()[0]:.2f}")
    plain = plain_setup(hidden, N, act)
    for K in (int(k) for k in args.k.split(",")):
        step, critic, batch = minfo_setup(K, hidden, N, act)
        for f in (plain, step, critic, batch): f()
        best = dict(plain=1e9, step=1e9, critic=1e9, batch=1e9)
        for _ in range(args.repeats):
            for name, f in (("plain", plain), ("step", step), ("critic", critic), ("batch", batch)):
                best[name] = min(best[name], per_step(f, args.steps if name != "plain" else args.steps * K))
        over = best["step"] - best["critic"] - best["batch"]
        print(f"K={K}: per critic-step  plain {best['plain'] * 1e3:.2f} ms | minfo step {best['step'] / K * 1e3:.2f} ms "
              f"(critic {best['critic'] / K * 1e3:.2f}, batch {best['batch'] / K * 1e3:.3f}, rest {over / K * 1e3:.3f}) | "
              f"ratio plain/minfo {best['plain'] * K / best['step']:.2f}x | load {os.getloadavg()[0]:.2f}")
        if not args.no_profile:
            top_ops(step, args.top, f"minfo step, K={K}")
            if K == 1: top_ops(plain, args.top, "plain step")


if __name__ == "__main__":
    main()
