"""Benchmark: minfo.encoders.train_encoder against the usual plain PyTorch loop of the same model and maths.

(a) plain: DataLoader over a TensorDataset (shuffle=True), `.to(device)` per batch, per-step `loss.item()` and hits `.item()`
(b) minfo: train_encoder (data on the device once, batches drawn there by indexing, sums read once per epoch),
    with full_train_acc=False so that both do the same work: SGD (momentum 0.9), cross-entropy, the same schedule
(c) optional speed settings of train_encoder: channels_last, bf16 autocast, torch.compile (default on CUDA: the first two)
Rounds are interleaved in one process, each from the same initial weights; the best of `--repeats` is kept.
FLOPs per image are minfo.encoders.train_flops_per_image (one training step, forward + backward, counted on the meta device);
on CUDA the achieved rate is given as a fraction of the dense bf16 peak (`--peak-tflops`, H200: 989).

    .venv/bin/python bench/encoder_train.py [--device cpu|cuda] [--repeats 2] [--models resnet18,lenet5] [--images 2048]
        [--epochs 1] [--batch 128] [--width 16] [--shape 1,28,28] [--threads N] [--compile] [--json PATH]
"""
import argparse
import copy
import json
import os
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from minfo.encoders import LeNet5, resnet18, train_encoder, train_flops_per_image

H200_BF16_DENSE_TFLOPS = 989.0


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()


def make(name, width, channels):
    return resnet18(in_channels=channels, num_classes=10, width=width) if name == "resnet18" else LeNet5(channels)


def plain(net, x, y, epochs, batch, lr, dev, seed=0):
    "The usual code: DataLoader with shuffle, per-batch host-to-device copies, per-step .item()"
    net = net.to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[max(1, epochs // 2)], gamma=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(seed))
    sync(dev); t0 = time.perf_counter()
    for _ in range(epochs):
        net.train(); tot = hits = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(dev), yb.to(dev)
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            tot += loss.item() * len(xb); hits += (out.argmax(1) == yb).sum().item()
        sched.step()
    sync(dev)
    return epochs * len(x) / (time.perf_counter() - t0)


def minfo(net, x, y, epochs, batch, lr, dev, **speed):
    sync(dev); t0 = time.perf_counter()
    train_encoder(net, x, y, epochs=epochs, batch_size=batch, lr=lr, device=str(dev), eval_every=epochs,
                  full_train_acc=False, milestones=(0.5,), **speed)
    sync(dev)
    return epochs * len(x) / (time.perf_counter() - t0)


def pipeline(x, y, batch, dev, reps=5):
    "Seconds per epoch of batches alone (no model): DataLoader + .to(device), and minfo's indexing on the placed data"
    from minfo.encoders import place_data
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
    a = b = float("inf")
    gen = torch.Generator().manual_seed(0)
    for _ in range(reps):
        sync(dev); t0 = time.perf_counter()
        for xb, yb in loader: xb, yb = xb.to(dev), yb.to(dev)
        sync(dev); a = min(a, time.perf_counter() - t0)
        sync(dev); t0 = time.perf_counter()
        xd, yd = place_data((x, y), dev)            # once per training; counted here every time
        perm = torch.randperm(len(x), generator=gen).to(xd.device)
        for i in range(0, len(x), batch): xb, yb = xd[perm[i:i + batch]], yd[perm[i:i + batch]]
        sync(dev); b = min(b, time.perf_counter() - t0)
    return a, b


def bench_model(name, args, dev):
    g = torch.Generator().manual_seed(0)
    shape = tuple(int(s) for s in args.shape.split(","))
    if name == "lenet5": shape = (shape[0], 28, 28)   # LeNet-5's taps are sized for 28x28
    x = torch.randn(args.images, *shape, generator=g)
    y = torch.randint(10, (args.images,), generator=g)
    torch.manual_seed(0); init = make(name, args.width, shape[0])
    fpi = train_flops_per_image(init, shape)
    variants = {"minfo": {}}
    if args.fast or dev.type == "cuda":
        variants["minfo+channels_last"] = dict(channels_last=True)
        variants["minfo+bf16"] = dict(autocast_dtype=torch.bfloat16)
        variants["minfo+bf16+channels_last"] = dict(autocast_dtype=torch.bfloat16, channels_last=True)
    if args.compile: variants["minfo+compile"] = dict(compile=True)
    warm = slice(0, 4 * args.batch)
    plain(copy.deepcopy(init), x[warm], y[warm], 1, args.batch, 0.05, dev)
    for v in variants.values(): minfo(copy.deepcopy(init), x[warm], y[warm], 1, args.batch, 0.05, dev, **v)
    best = {"plain": 0.0} | {k: 0.0 for k in variants}
    for _ in range(args.repeats):   # interleaved rounds: the same load for each
        best["plain"] = max(best["plain"], plain(copy.deepcopy(init), x, y, args.epochs, args.batch, 0.05, dev))
        for k, v in variants.items():
            best[k] = max(best[k], minfo(copy.deepcopy(init), x, y, args.epochs, args.batch, 0.05, dev, **v))
    label = f"ResNet18 width {args.width}" if name == "resnet18" else "LeNet-5"
    print(f"\n{label}: {sum(p.numel() for p in init.parameters()) / 1e6:.2f} M parameters, {fpi / 1e6:.1f} MFLOP per "
          f"training image (forward + backward), {args.images} images {'x'.join(map(str, shape))}, batch {args.batch}, "
          f"{args.epochs} epoch(s)")
    dl, ix = pipeline(x, y, args.batch, dev)
    nb = -(-args.images // args.batch)
    print(f"  batches alone, one epoch: DataLoader + .to(device) {dl * 1e3:.1f} ms ({dl / nb * 1e6:.0f} µs/batch), "
          f"minfo indexing {ix * 1e3:.1f} ms ({ix / nb * 1e6:.0f} µs/batch), {dl / ix:.1f}x less")
    rows = {"pipeline": dict(dataloader_s=dl, indexing_s=ix)}
    for k, ips in best.items():
        tflops = ips * fpi / 1e12
        rows[k] = dict(images_s=ips, ratio=ips / best["plain"], tflops=tflops)
        extra = f"  {tflops / args.peak_tflops:.2%} of bf16 peak" if dev.type == "cuda" else f"  {tflops * 1e3:.1f} GFLOP/s"
        print(f"  {k:26s} {ips:10.1f} images/s  {ips / best['plain']:5.2f}x plain{extra}")
    return dict(model=label, flops_per_image=fpi, **{f"{k}": v for k, v in rows.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds; best of each")
    ap.add_argument("--models", default="resnet18,lenet5")
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--shape", default="1,28,28", help="image shape C,H,W (CIFAR-10: 3,32,32)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fast", action="store_true", help="also channels_last and bf16 autocast (default on CUDA)")
    ap.add_argument("--compile", action="store_true", help="also torch.compile")
    ap.add_argument("--peak-tflops", type=float, default=H200_BF16_DENSE_TFLOPS, help="dense bf16 peak of the device")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    os.environ.setdefault("MINFO_PROGRESS", "0")
    if args.threads: torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"device {dev} ({name}), {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"load avg {os.getloadavg()[0]:.2f}" + (f", bf16 peak {args.peak_tflops:.0f} TFLOP/s" if dev.type == "cuda" else ""))
    res = dict(device=str(dev), device_name=name, threads=torch.get_num_threads(), load_avg_start=os.getloadavg()[0],
               torch=torch.__version__, args=vars(args),
               models=[bench_model(m, args, dev) for m in args.models.split(",")])
    res["load_avg_end"] = os.getloadavg()[0]
    print(f"\nload avg at the end {res['load_avg_end']:.2f}")
    if args.json:
        with open(args.json, "w") as f: json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
