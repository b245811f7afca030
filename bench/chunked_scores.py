"""Benchmark: memory and time of one InfoNCE training step with a joint critic, all N^2 pairs, chunked or not.

InfoNCE with a joint critic scores every pair (x_i, y_j): N^2 critic rows. `JointCritic.train_scores` scores them in
row blocks of at most `chunk_rows` rows, keeps only the scores, takes the bound's gradient on the whole matrix and
scores each block again for its share of the backward pass. This bench runs each (N, chunk_rows) in a fresh
subprocess and reports the peak memory the step added (CPU: peak RSS growth; CUDA: torch.cuda.max_memory_allocated)
and the seconds per step, so "bounded memory" is a measured statement. Chunking costs one more forward pass.

    .venv/bin/python bench/chunked_scores.py [--device cpu|cuda] [--n 128,256,512] [--hidden 128,128] [--unchunked-max 256]
"""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
from minfo.critics import JointCritic
from minfo.bounds import infonce
n, hidden, chunk, dev, steps = int(sys.argv[1]), tuple(map(int, sys.argv[2].split(","))), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
d = 20
g = torch.Generator(device=dev).manual_seed(0)
x, y = torch.randn(n, d, device=dev, generator=g), torch.randn(n, d, device=dev, generator=g)
c = JointCritic(d, d, hidden, n_critics=1, chunk_rows=chunk).to(dev)
grad_fn = lambda s: torch.autograd.grad(-infonce(s.requires_grad_()[0]), s)[0]
sync = (lambda: torch.cuda.synchronize()) if dev.startswith("cuda") else (lambda: None)
c.flat.grad = torch.zeros_like(c.flat); sync()
cuda = dev.startswith("cuda")
if cuda: torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
else: base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # the process's peak so far: data, critic, torch
c.train_scores(x, y, "all", None, grad_fn); sync()   # the first step: its peak is what a step adds
peak = (torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) - base
t = time.perf_counter()
for _ in range(steps): c.flat.grad = None; c.train_scores(x, y, "all", None, grad_fn)
sync(); sec = (time.perf_counter() - t) / steps
print(json.dumps(dict(n=n, rows=n * n, chunk_rows=chunk, blocks=len(c._row_blocks(n)), seconds_per_step=sec,
                      peak_added_mib=max(peak, 0) / 2**20)))
"""


def run(n, hidden, chunk, dev, steps):
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), hidden, str(chunk), dev, str(steps)],
                         capture_output=True, text=True, env={**os.environ, "MINFO_PROGRESS": "0"})
    if out.returncode != 0: raise SystemExit(f"child failed for N={n}, chunk_rows={chunk}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", default="128,256,512", help="batch sizes N (N^2 critic rows each)")
    ap.add_argument("--hidden", default="128,128")
    ap.add_argument("--chunk-rows", type=int, default=2 ** 14, help="block size of the chunked runs")
    ap.add_argument("--unchunked-max", type=int, default=256, help="largest N also run unchunked (its memory grows as N^2)")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for n in (int(v) for v in args.n.split(",")):
        for chunk, label in ((args.chunk_rows, "chunked"), (n * n, "unchunked")):
            if label == "unchunked" and n > args.unchunked_max: continue
            r = run(n, args.hidden, chunk, args.device, args.steps); r["mode"] = label; rows.append(r)
            print(f"N={n:5d} ({r['rows']:>9,} pair rows) {label:9s} blocks {r['blocks']:4d}: "
                  f"{r['seconds_per_step']:8.3f} s/step, peak +{r['peak_added_mib']:8.1f} MiB", flush=True)
    ch = [r for r in rows if r["mode"] == "chunked"]
    if len(ch) >= 2:
        a, b = ch[0], ch[-1]
        print(f"chunked: N x{b['n'] / a['n']:.0f} (pair rows x{b['rows'] / a['rows']:.0f}) -> peak memory "
              f"x{b['peak_added_mib'] / max(a['peak_added_mib'], 1e-9):.2f}, time x{b['seconds_per_step'] / a['seconds_per_step']:.1f}")
    both = {r["n"]: r for r in rows if r["mode"] == "unchunked"}
    for r in ch:
        if r["n"] in both and r["blocks"] > 1:
            u = both[r["n"]]
            print(f"N={r['n']}: chunked/unchunked time {r['seconds_per_step'] / u['seconds_per_step']:.2f}x, "
                  f"memory {r['peak_added_mib'] / max(u['peak_added_mib'], 1e-9):.2f}x")
    if args.json:
        with open(args.json, "w") as f: json.dump(dict(device=args.device, hidden=args.hidden, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
