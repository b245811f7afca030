"""Benchmark: train_critics (K critics stacked in one model) against the usual plain PyTorch loop.

(a) plain: one nn.Sequential critic per MI level trained in turn (Adam, two forward passes: joint and shuffled pairs;
    nn.ELU, or nn.ReLU with --activation relu)
(b) minfo: train_critics over the same K MI levels at once (same maths: NWJ, shuffle negatives, Adam)
(c) one critic: the plain loop for one MI level against `estimate_mi` with one critic (the most common user call)
plus the fp32 matmul ceiling (best GFLOP/s of a 2048x2048 matmul) measured in the same process.
FLOPs per critic-step are counted as 3x the forward pass over the 2N joint+shuffled rows (the same count for both).

    .venv/bin/python bench/critic_sweep.py [--device cpu|cuda] [--steps 60] [--repeats 2] [--threads N] [--activation elu|relu]
                                           [--bf16] [--json PATH] [--kernels default,avx2]
Every run prints the CPU kernel set torch dispatches to (`torch.backends.cpu.get_cpu_capability()`), the threads
and the load; `--kernels default,avx2` runs the whole bench once per kernel set (ATEN_CPU_CAPABILITY) and tables the
ratios side by side: a speed-up measured on one kernel set is not a property of the library.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

from minfo.estimate import train_critics
from minfo.gaussians import CorrelatedGaussians

LEVELS = (2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()


def ceiling(dev, n=2048, reps=10):
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    best = 0.0
    for _ in range(reps + 2):
        sync(dev); t = time.perf_counter(); a @ b; sync(dev)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def plain(levels, hidden, N, steps, lr, dev, seed=0, activation="elu"):
    "The usual code, one critic per configuration in turn"
    t0 = time.perf_counter()
    for i, m in enumerate(levels):
        src = CorrelatedGaussians(mi=m)
        torch.manual_seed(seed + i)
        layers, d = [], 2 * src.dim
        for h in hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.ELU() if activation == "elu" else torch.nn.ReLU()]; d = h
        net = torch.nn.Sequential(*layers, torch.nn.Linear(d, 1)).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr)
        g = torch.Generator(device=dev).manual_seed(seed + i)
        for _ in range(steps):
            x, y = src.sample(N, generator=g)
            perm = torch.randperm(N, generator=g, device=dev)
            tj = net(torch.cat([x, y], 1)).squeeze(1)
            tm = net(torch.cat([x, y[perm]], 1)).squeeze(1)
            loss = -(tj.mean() - torch.exp(tm - 1).mean())
            opt.zero_grad(); loss.backward(); opt.step()
    sync(dev)
    return len(levels) * steps / (time.perf_counter() - t0)


def stacked(levels, hidden, N, steps, lr, dev, matmul_dtype=None, activation="elu"):
    t0 = time.perf_counter()
    train_critics([CorrelatedGaussians(mi=m) for m in levels], bound="nwj", hidden=hidden, batch_size=N, steps=steps,
                  lr=lr, device=str(dev), eval_every=steps, matmul_dtype=matmul_dtype, activation=activation)
    sync(dev)
    return len(levels) * steps / (time.perf_counter() - t0)


def single(hidden, N, steps, lr, dev, activation="elu"):
    "(c) one critic, one data set: estimate_mi (no bootstrap, one evaluation) vs the plain loop of the same maths"
    from minfo.estimate import estimate_mi
    t0 = time.perf_counter()
    estimate_mi(CorrelatedGaussians(mi=10.0), bound="nwj", hidden=hidden, batch_size=N, steps=steps, lr=lr,
                device=str(dev), eval_every=steps, n_bootstrap=0, keep_critic=False, activation=activation)
    sync(dev)
    return steps / (time.perf_counter() - t0)


def without(argv: list[str], *flags: str) -> list[str]:
    "`argv` less each of `flags` and its value (`--flag value` or `--flag=value`)."
    out, skip = [], False
    for a in argv:
        if skip: skip = False; continue
        if a in flags: skip = True; continue
        if not a.startswith(tuple(f + "=" for f in flags)): out.append(a)
    return out


def per_kernel_set(kernels: list[str], argv: list[str], out: str | None) -> None:
    "Run this bench once per CPU kernel set in a fresh process (ATEN_CPU_CAPABILITY), then table the ratios."
    rows = []
    for k in kernels:
        env = {key: v for key, v in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
        if k != "default": env["ATEN_CPU_CAPABILITY"] = k
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.json")
            subprocess.run([sys.executable, __file__, *argv, "--json", path], env=env, check=True)
            with open(path) as f: rows.append(dict(kernels=k, **json.load(f)))
    print("kernel set (capability)   plain steps/s  minfo steps/s  ratio  one-critic ratio  load")
    for r in rows:
        print(f"{r['kernels']:>8} ({r['cpu_capability']:>8})  {r['plain_steps_s']:13.1f}  {r['minfo_steps_s']:13.1f}  "
              f"{r['ratio']:5.2f}  {r['single_ratio']:16.2f}  {r['load_avg']:4.2f}")
    if out:
        with open(out, "w") as f: json.dump(rows, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2, help="alternate (a) and (b) this many times; best of each")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--hidden", default="512,512")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--activation", default="elu", choices=("elu", "relu"))
    ap.add_argument("--k", type=int, default=len(LEVELS),
                    help="critics in the sweep, cycling through the MI levels (28: the report's Fig. 1-2 grid)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--bf16", action="store_true", help="also measure (c): train_critics with bfloat16 matmuls")
    ap.add_argument("--kernels", default=None, help="comma-separated CPU kernel sets to run in turn, e.g. default,avx2")
    args = ap.parse_args()
    if args.kernels:
        return per_kernel_set(args.kernels.split(","), without(sys.argv[1:], "--kernels", "--json"), args.json)
    os.environ.setdefault("MINFO_PROGRESS", "0")
    if args.threads: torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    d, N = 20, args.batch
    fwd = 2 * (2 * N) * (2 * d * hidden[0] + sum(a * b for a, b in zip(hidden, hidden[1:])) + hidden[-1])
    flops = 3 * fwd
    act = args.activation
    levels = tuple(LEVELS[i % len(LEVELS)] for i in range(args.k))
    plain(levels, hidden, N, 3, 1e-4, dev, activation=act); stacked(levels, hidden, N, 3, 1e-4, dev, activation=act)  # warm-up
    a = b = 0.0
    for _ in range(args.repeats):
        a = max(a, plain(levels, hidden, N, args.steps, 1e-4, dev, activation=act))
        b = max(b, stacked(levels, hidden, N, args.steps, 1e-4, dev, activation=act))
    s1 = p1 = 0.0
    single(hidden, N, 3, 1e-4, dev, activation=act); plain(LEVELS[3:4], hidden, N, 3, 1e-4, dev, activation=act)
    for _ in range(args.repeats):
        p1 = max(p1, plain(LEVELS[3:4], hidden, N, args.steps, 1e-4, dev, activation=act))
        s1 = max(s1, single(hidden, N, args.steps, 1e-4, dev, activation=act))
    c = 0.0
    if args.bf16:
        stacked(levels, hidden, N, 3, 1e-4, dev, "bf16", act)
        for _ in range(args.repeats): c = max(c, stacked(levels, hidden, N, args.steps, 1e-4, dev, "bf16", act))
    ceil = ceiling(dev)
    res = dict(device=str(dev), threads=torch.get_num_threads(), batch=N, hidden=list(hidden), activation=act, K=len(levels),
               steps=args.steps, ceiling_gflops=ceil, plain_steps_s=a, minfo_steps_s=b, ratio=b / a,
               plain_frac_ceiling=a * flops / 1e9 / ceil, minfo_frac_ceiling=b * flops / 1e9 / ceil,
               gflop_per_critic_step=flops / 1e9, load_avg=os.getloadavg()[0], torch=torch.__version__,
               cpu_capability=torch.backends.cpu.get_cpu_capability())
    print(f"device {dev} ({res['threads']} threads, CPU kernels {res['cpu_capability']}), batch {N}, "
          f"critic {'x'.join(map(str, hidden))} {act.upper()}, K={len(levels)}, {args.steps} steps each, load avg {res['load_avg']:.2f}")
    print(f"fp32 matmul ceiling (2048^2): {ceil:.1f} GFLOP/s; {flops / 1e9:.3f} GFLOP per critic-step (3x forward)")
    print(f"(a) plain loop:    {a:8.1f} critic-steps/s  {res['plain_frac_ceiling']:.0%} of ceiling")
    print(f"(b) train_critics: {b:8.1f} critic-steps/s  {res['minfo_frac_ceiling']:.0%} of ceiling")
    print(f"ratio (b)/(a): {b / a:.2f}x")
    res.update(single_plain_steps_s=p1, single_minfo_steps_s=s1, single_ratio=s1 / p1)
    print(f"(c) one critic: plain loop {p1:.1f} steps/s, estimate_mi {s1:.1f} steps/s, ratio {s1 / p1:.2f}x")
    if args.bf16:
        res.update(minfo_bf16_steps_s=c, ratio_bf16=c / a)
        print(f"(c) train_critics, bf16 matmuls (not the default; estimates differ at bf16 precision): "
              f"{c:8.1f} critic-steps/s, {c / a:.2f}x (a)")
    if args.json:
        with open(args.json, "w") as f: json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
