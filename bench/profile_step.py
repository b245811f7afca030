"""Profile one training step of `train_critics` (K critics) against the plain PyTorch loop's step.

Times, per step and in the same process (interleaved, best of `--repeats`):
  plain     the usual nn.Sequential step (two forward passes, autograd, Adam)
  step      minfo's whole `_Run.step` (batch draw, standardization, critic, objective, guard, history, Adam)
  critic    `train_scores` alone on a fixed batch (the critic's forward and hand-written backward)
  batch     `Batcher.next` alone (draw, standardization, stacking, shuffles)
  floor     the eager floor of one critic's step: the plain loop's maths in the fewest ops eager PyTorch allows (one
            first-layer GEMM, each product on the library minfo picks for it, the objective's gradient by hand, reused
            buffers, fused Adam, no checks): what no amount of trimming minfo's per-step bookkeeping could beat, so
            `plain / floor` bounds the ratio an eager step can reach
so `step - critic - batch` is the per-step Python and bookkeeping overhead the plain loop does not pay.
Then `torch.profiler` tables the top ops of one minfo step and one plain step (self CPU time).

    .venv/bin/python bench/profile_step.py [--k 1,7] [--steps 30] [--repeats 3] [--activation elu|relu] [--top 12]
    ATEN_CPU_CAPABILITY=avx2 .venv/bin/python bench/profile_step.py      # the other kernel set
"""
import argparse
import os
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

from minfo.critics import _ONEDNN, _act_backward_, _linear_act_, _matmul_t
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


def floor_setup(hidden, N, activation, seed=0, mi=10.0):
    "The eager floor's step closure (a timing reference, not a trainer: no standardization, checks or history)"
    src = CorrelatedGaussians(mi=mi)
    d, torch_gen = src.dim, torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sizes = [2 * d, *hidden]
    layers = [torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])] + [torch.nn.Linear(sizes[-1], 1)]
    p = torch.nn.Parameter(torch.cat([t.detach().reshape(-1) for l in layers for t in (l.weight.t(), l.bias)]))
    p.grad = torch.zeros_like(p)
    W, b, gW, gb, o = [], [], [], [], 0
    for l in layers:  # views into the one flat buffer and its gradient, as minfo keeps them
        i, j = l.in_features, l.out_features
        W.append(p.detach()[o:o + i * j].view(i, j)); gW.append(p.grad[o:o + i * j].view(i, j)); o += i * j
        b.append(p.detach()[o:o + j]); gb.append(p.grad[o:o + j]); o += j
    opt = torch.optim.Adam([p], 1e-4, fused=True)
    inp, dT = torch.empty(2 * N, 2 * d), torch.empty(2 * N)
    hs, ds = [torch.empty(2 * N, h) for h in hidden], [torch.empty(2 * N, h) for h in hidden]

    def grad():  # d loss / d parameters into p.grad (the batch drawn from torch_gen)
        x, y = src.sample(N, generator=torch_gen)
        perm = torch.randperm(N, generator=torch_gen)
        inp[:N, :d] = x; inp[N:, :d] = x; inp[:N, d:] = y; torch.index_select(y, 0, perm, out=inp[N:, d:])
        a, acts = inp, []
        for l, h in enumerate(hs):  # each product where minfo runs it (oneDNN for the large ones, into a fresh tensor)
            a = _linear_act_(a, W[l], b[l], activation, lambda *_, h=h: h); acts.append(a)
        T = torch.addmv(b[-1], a, W[-1].view(-1))
        dT[:N] = -1.0 / N; torch.exp(T[N:] - 1, out=dT[N:]).mul_(1.0 / N)  # d/dT of -(mean T_joint - mean e^(T_shuffled - 1))
        torch.mv(a.t(), dT, out=gW[-1].view(-1)); gb[-1].copy_(dT.sum())
        dh = torch.outer(dT, W[-1].view(-1), out=ds[-1])
        for l in reversed(range(len(hs))):
            _act_backward_(dh, acts[l], activation)
            torch.mm((acts[l - 1] if l else inp).t(), dh, out=gW[l]); torch.sum(dh, 0, out=gb[l])
            if l: dh = _matmul_t(dh, W[l], lambda *_, o=ds[l - 1]: o)

    def step(): grad(); opt.step()
    step.grad, step.flat, step.layers, step.generator, step.source = grad, p, (W, b), torch_gen, src  # for its test
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
          f"large products on {'oneDNN' if _ONEDNN is not None else 'torch.mm'}, critic {'x'.join(map(str, hidden))} {act.upper()}, "
          f"N={N}, load avg {os.getloadavg()[0]:.2f}")
    plain, floor = plain_setup(hidden, N, act), floor_setup(hidden, N, act)
    for K in (int(k) for k in args.k.split(",")):
        step, critic, batch = minfo_setup(K, hidden, N, act)
        fns = (("plain", plain, K), ("step", step, 1), ("critic", critic, 1), ("batch", batch, 1), ("floor", floor, K))
        for _, f, _ in fns: f()
        best, rounds = {name: 1e9 for name, _, _ in fns}, []
        for _ in range(args.repeats):
            now = {name: per_step(f, args.steps * reps) * reps for name, f, reps in fns}  # plain, floor: K steps per minfo step
            best = {name: min(best[name], t) for name, t in now.items()}
            rounds.append((now["plain"] / now["step"], now["plain"] / now["floor"]))
        over = best["step"] - best["critic"] - best["batch"]
        print(f"K={K}: per critic-step  plain {best['plain'] / K * 1e3:.2f} ms | minfo step {best['step'] / K * 1e3:.2f} ms "
              f"(critic {best['critic'] / K * 1e3:.2f}, batch {best['batch'] / K * 1e3:.3f}, rest {over / K * 1e3:.3f}) | "
              f"eager floor {best['floor'] / K * 1e3:.2f} ms | load {os.getloadavg()[0]:.2f}")
        print(f"      median over {args.repeats} interleaved rounds: plain/minfo {statistics.median(r for r, _ in rounds):.3f}x, "
              f"plain/floor {statistics.median(f for _, f in rounds):.3f}x")
        if not args.no_profile:
            top_ops(step, args.top, f"minfo step, K={K}")
            if K == 1: top_ops(plain, args.top, "plain step")


if __name__ == "__main__":
    main()
