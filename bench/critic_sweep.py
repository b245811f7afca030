"""Benchmark: train_critics (K critics stacked in one model) against the usual plain PyTorch loop.

(a) plain: one nn.Sequential critic per MI level trained in turn (Adam, two forward passes: joint and shuffled pairs;
    nn.ELU, or nn.ReLU with --activation relu)
(b) minfo: train_critics over the same K MI levels at once (same maths: NWJ, shuffle negatives, Adam)
(c) one critic: the plain loop for one MI level against `estimate_mi` with one critic (the most common user call),
    and against the eager floor of that step (`profile_step.floor_setup`: the same maths in the fewest eager ops, no
    checks or bookkeeping), whose ratio bounds what any eager per-step trimming could reach on this machine
plus the fp32 matmul ceiling (best GFLOP/s of a 2048x2048 matmul) measured in the same process.
FLOPs per critic-step are counted as 3x the forward pass over the 2N joint+shuffled rows (the same count for both).

A minfo call is training steps plus a fixed cost the plain loop does not pay (the critics' set-up and evaluation draw,
the final held-out reading, the bootstrap), which a default 5,000-step call spreads 80 times thinner than a 60-step
bench call. So each round also times a call of `steps // 6` steps: the difference of the two calls is the per-step
cost (`ratio`, `single_ratio`: plain loop time per step over minfo's), the rest of the long call is the fixed cost,
printed in ms and as a share of a default 5,000-step call; `call_ratio`, `single_call_ratio` compare whole calls.

    .venv/bin/python bench/critic_sweep.py [--device cpu|cuda] [--steps 60] [--repeats 5] [--threads N] [--activation elu|relu]
                                           [--bf16] [--json PATH] [--kernels default,avx2] [--matmul auto,torch]
Every run prints the CPU kernel set torch dispatches to (`torch.backends.cpu.get_cpu_capability()`), the threads
and the load; `--kernels default,avx2 --activation elu,relu` runs the whole bench once per kernel set
(ATEN_CPU_CAPABILITY) and activation and tables the ratios side by side: a speed-up measured on one kernel set is not a
property of the library. Each ratio is the median over `--repeats` interleaved rounds (plain, then minfo): a noisy
neighbour slows one round of both, not one side of every round. `--matmul auto,torch` also runs each kernel set with
minfo's large products on oneDNN (`auto`, the default where it is available) and on torch's own `mm` (MINFO_CPU_MATMUL),
to show what that choice is worth here.
"""
import argparse
import json
import statistics
import os
import subprocess
import sys
import tempfile
import time

import torch

from minfo.critics import _ONEDNN
from minfo.estimate import train_critics
from minfo.gaussians import CorrelatedGaussians
from profile_step import floor_setup

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
    "(b) train_critics; critic-steps per second of the whole call"
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


def floor(hidden, N, steps, activation="elu"):
    "(c) the eager floor of one critic's step (CPU only), steps per second of the whole call"
    t0 = time.perf_counter()
    step = floor_setup(hidden, N, activation)
    for _ in range(steps): step()
    return steps / (time.perf_counter() - t0)


def per_step(rounds: list[tuple[float, float, float]], K: int, steps: int, short: int) -> dict:
    """Per-step ratio and fixed cost from rounds of (plain rate, minfo rate of a `steps` call, of a `short` call).

    minfo's call takes t(n) = fixed + n * step for n steps, so step = (t(steps) - t(short)) / (steps - short); the plain
    loop pays no fixed cost worth counting (building a critic). Each round gives a ratio; the median is robust to one
    noisy round. Fixed cost and step time are medians too."""
    if not steps > short >= 1: raise ValueError(f"need steps > short >= 1, got steps={steps}, short={short}")
    t_long = [K * steps / m for _, m, _ in rounds]
    t_short = [K * short / m for _, _, m in rounds]
    step = [(a - b) / (steps - short) for a, b in zip(t_long, t_short)]  # seconds per minfo step (all K critics)
    plain_step = [K / p for p, _, _ in rounds]
    fixed = statistics.median(a - steps * s for a, s in zip(t_long, step))
    step_m = statistics.median(step)
    ratios = [p / s if s > 0 else float("nan") for p, s in zip(plain_step, step)]
    return dict(ratio=statistics.median(ratios), ratio_lo=min(ratios), ratio_hi=max(ratios),
                call_ratio=statistics.median(m / p for p, m, _ in rounds), minfo_step_steps_s=K / step_m if step_m > 0 else float("nan"),
                fixed_ms=1e3 * fixed, fixed_frac_5000=fixed / (fixed + 5000 * step_m) if step_m > 0 else float("nan"))


def without(argv: list[str], *flags: str) -> list[str]:
    "`argv` less each of `flags` and its value (`--flag value` or `--flag=value`)."
    out, skip = [], False
    for a in argv:
        if skip: skip = False; continue
        if a in flags: skip = True; continue
        if not a.startswith(tuple(f + "=" for f in flags)): out.append(a)
    return out


def per_kernel_set(kernels: list[str], activations: list[str], matmuls: list[str | None], argv: list[str], out: str | None) -> None:
    ("Run this bench once per CPU kernel set (ATEN_CPU_CAPABILITY), activation and MINFO_CPU_MATMUL (None: the environment's), "
     "each in a fresh process; table the ratios.")
    rows = []
    for k in kernels:
        env = {key: v for key, v in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
        if k != "default": env["ATEN_CPU_CAPABILITY"] = k
        for mm in matmuls:
            if mm is not None: env["MINFO_CPU_MATMUL"] = mm
            for act in activations:
                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, "r.json")
                    subprocess.run([sys.executable, __file__, *argv, "--activation", act, "--json", path], env=env, check=True)
                    with open(path) as f: rows.append(dict(kernels=k, **json.load(f)))
    print("per-step ratios (plain loop time per step / minfo's), whole-call ratios in brackets; fixed cost of a call")
    print("with the range over rounds; the eager floor's ratio for one critic; fixed cost of a K-critic call")
    print("kernel set (capability)  matmul  act   plain steps/s  K critics: ratio [range] (call)  one critic: ratio [range] (call)  "
          "floor  fixed ms (of 5000 steps)  load")
    for r in rows:
        print(f"{r['kernels']:>8} ({r['cpu_capability']:>8})  {r.get('cpu_matmul', '?'):6}  {r['activation']:4}  "
              f"{r['plain_steps_s']:13.1f}  "
              f"{r['ratio']:10.2f} [{r['ratio_lo']:.2f}-{r['ratio_hi']:.2f}] ({r['call_ratio']:.2f})  "
              f"{r['single_ratio']:11.2f} [{r['single_ratio_lo']:.2f}-{r['single_ratio_hi']:.2f}] ({r['single_call_ratio']:.2f})  "
              f"{r.get('single_floor_ratio', float('nan')):5.2f}  {r['fixed_ms']:8.0f} ({r['fixed_frac_5000']:.2%})  {r['load_avg']:4.2f}")
    if out:
        with open(out, "w") as f: json.dump(rows, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5,
                    help="alternate (a) and (b) this many times; rates are the best round, ratios the median round")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--hidden", default="512,512")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--activation", default="elu", help="elu or relu; a comma-separated list (elu,relu) runs each in turn")
    ap.add_argument("--k", type=int, default=len(LEVELS),
                    help="critics in the sweep, cycling through the MI levels (28: the report's Fig. 1-2 grid)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--bf16", action="store_true", help="also measure (c): train_critics with bfloat16 matmuls")
    ap.add_argument("--kernels", default=None, help="comma-separated CPU kernel sets to run in turn, e.g. default,avx2")
    ap.add_argument("--matmul", default=None, help="comma-separated MINFO_CPU_MATMUL values to run in turn: auto,torch")
    args = ap.parse_args()
    acts = args.activation.split(",")
    if not set(acts) <= {"elu", "relu"}: ap.error(f"--activation takes elu, relu or both, got {args.activation}")
    matmuls = [None] if args.matmul is None else args.matmul.split(",")
    if not set(matmuls) <= {None, "auto", "torch"}: ap.error(f"--matmul takes auto, torch or both, got {args.matmul}")
    if args.kernels or len(acts) > 1 or args.matmul:
        return per_kernel_set((args.kernels or "default").split(","), acts, matmuls,
                              without(sys.argv[1:], "--kernels", "--json", "--activation", "--matmul"), args.json)
    os.environ.setdefault("MINFO_PROGRESS", "0")
    if args.threads: torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    d, N = 20, args.batch
    fwd = 2 * (2 * N) * (2 * d * hidden[0] + sum(a * b for a, b in zip(hidden, hidden[1:])) + hidden[-1])
    flops = 3 * fwd
    act = acts[0]
    levels = tuple(LEVELS[i % len(LEVELS)] for i in range(args.k))
    plain(levels, hidden, N, 3, 1e-4, dev, activation=act); stacked(levels, hidden, N, 3, 1e-4, dev, activation=act)  # warm-up
    short = max(1, args.steps // 6)
    if args.steps <= short: ap.error(f"--steps must be at least 2 (a long and a short call), got {args.steps}")
    rounds = []  # (plain, minfo, minfo short call) rates of each interleaved round: ratios are medians over rounds
    for _ in range(args.repeats):
        rounds.append((plain(levels, hidden, N, args.steps, 1e-4, dev, activation=act),
                       stacked(levels, hidden, N, args.steps, 1e-4, dev, activation=act),
                       stacked(levels, hidden, N, short, 1e-4, dev, activation=act)))
    single(hidden, N, 3, 1e-4, dev, activation=act); plain(LEVELS[3:4], hidden, N, 3, 1e-4, dev, activation=act)
    rounds1, floors = [], []  # floors: the eager floor's rate in each round, beside that round's plain loop
    with_floor = dev.type == "cpu"
    if with_floor: floor(hidden, N, 3, act)
    for _ in range(args.repeats):
        rounds1.append((plain(LEVELS[3:4], hidden, N, args.steps, 1e-4, dev, activation=act),
                        single(hidden, N, args.steps, 1e-4, dev, activation=act),
                        single(hidden, N, short, 1e-4, dev, activation=act)))
        if with_floor: floors.append(floor(hidden, N, args.steps, act))
    (a, b), (p1, s1) = (tuple(max(r[i] for r in rs) for i in (0, 1)) for rs in (rounds, rounds1))
    many, one = per_step(rounds, len(levels), args.steps, short), per_step(rounds1, 1, args.steps, short)
    ratio, single_ratio = many["ratio"], one["ratio"]
    c = 0.0
    if args.bf16:
        stacked(levels, hidden, N, 3, 1e-4, dev, "bf16", act)
        for _ in range(args.repeats): c = max(c, stacked(levels, hidden, N, args.steps, 1e-4, dev, "bf16", act))
    ceil = ceiling(dev)
    res = dict(device=str(dev), threads=torch.get_num_threads(), batch=N, hidden=list(hidden), activation=act, K=len(levels),
               steps=args.steps, short_steps=short, repeats=args.repeats, ceiling_gflops=ceil, **many, plain_steps_s=a,
               minfo_steps_s=b,
               plain_frac_ceiling=a * flops / 1e9 / ceil, minfo_frac_ceiling=b * flops / 1e9 / ceil,
               gflop_per_critic_step=flops / 1e9, load_avg=os.getloadavg()[0], torch=torch.__version__,
               cpu_capability=torch.backends.cpu.get_cpu_capability(), cpu_matmul="onednn" if _ONEDNN is not None else "torch")
    print(f"device {dev} ({res['threads']} threads, CPU kernels {res['cpu_capability']}, "
          f"large products on {res['cpu_matmul']}), batch {N}, "
          f"critic {'x'.join(map(str, hidden))} {act.upper()}, K={len(levels)}, {args.steps} steps each, load avg {res['load_avg']:.2f}")
    print(f"fp32 matmul ceiling (2048^2): {ceil:.1f} GFLOP/s; {flops / 1e9:.3f} GFLOP per critic-step (3x forward)")
    print(f"(a) plain loop:    {a:8.1f} critic-steps/s  {res['plain_frac_ceiling']:.0%} of ceiling")
    print(f"(b) train_critics: {b:8.1f} critic-steps/s  {res['minfo_frac_ceiling']:.0%} of ceiling (whole {args.steps}-step calls)")
    print(f"per-step ratio (b)/(a): {ratio:.2f}x (median over {args.repeats} interleaved rounds, range {many['ratio_lo']:.2f}-"
          f"{many['ratio_hi']:.2f}; {args.steps}- less {short}-step calls); whole calls {many['call_ratio']:.2f}x "
          f"(best against best {b / a:.2f}x)")
    print(f"    fixed cost of a call: {many['fixed_ms']:.0f} ms, {many['fixed_frac_5000']:.2%} of a 5000-step call")
    res.update(single_plain_steps_s=p1, single_minfo_steps_s=s1, single_ratio=single_ratio,
               **{f"single_{k}": v for k, v in one.items() if k != "ratio"})
    print(f"(c) one critic: plain loop {p1:.1f} steps/s, estimate_mi {s1:.1f} steps/s (best); per-step ratio "
          f"{single_ratio:.2f}x (median; rounds {one['ratio_lo']:.2f}-{one['ratio_hi']:.2f}), whole calls "
          f"{one['call_ratio']:.2f}x (best against best {s1 / p1:.2f}x)")
    if with_floor:
        res.update(single_floor_steps_s=max(floors), single_floor_ratio=statistics.median(f / r[0] for f, r in zip(floors, rounds1)))
        print(f"    eager floor of the step: {max(floors):.1f} steps/s (best), {res['single_floor_ratio']:.2f}x the plain loop "
              f"(median): the bound for an eager step of this maths (only fused kernels go past it)")
    print(f"    fixed cost of a call: {one['fixed_ms']:.0f} ms, {one['fixed_frac_5000']:.2%} of a 5000-step call")
    if args.bf16:
        res.update(minfo_bf16_steps_s=c, ratio_bf16=c / a)
        print(f"(c) train_critics, bf16 matmuls (not the default; estimates differ at bf16 precision): "
              f"{c:8.1f} critic-steps/s, {c / a:.2f}x (a)")
    if args.json:
        with open(args.json, "w") as f: json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
