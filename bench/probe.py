"""Linear-probe benchmark: App. C.2's Adam probe (500 epochs, lr 5e-4, batch 512) against the full-batch L-BFGS
probe on the same features, in one run. Prints the time ratio and the accuracy difference per tap.

    MINFO_DATA=/work/shared/data .venv/bin/python bench/probe.py [--n-per-class 250] [--epochs 500] [--threads 1]

Features: the six taps of a randomly initialized ResNet18 (width 16) on rotation-enlarged MNIST (n_per_class base
images per class, 4 rotations each) for training and 100 base images per class of the validation split; without the
MNIST files it falls back to generated MNIST-format data. Target: L-BFGS >= 10x faster, accuracy within 0.5 points.
"""
import argparse
import json
import tempfile
import time

import torch

from minfo.data import data_root, make_fake_mnist, prepare, rotation_enlarged
from minfo.encoders import resnet18
from minfo.evaluate import extract_features, linear_probe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-per-class", type=int, default=250)
    ap.add_argument("--val-per-class", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--taps", default="B2,B4,prelogits")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    root = data_root()
    if not (root / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        root = tempfile.mkdtemp(); make_fake_mnist(root, n_train=12_000, n_test=10)
        print(f"MNIST not found: using generated MNIST-format data in {root}")
    d = prepare("mnist", root, n_val=5000 if a.val_per_class * 10 < 5000 else a.val_per_class * 10 + 1,
                n_per_class=a.n_per_class, val_per_class=a.val_per_class, seed=0)
    x_tr, _, y_tr = rotation_enlarged(d["x_train"], d["y_train"])
    x_va, _, y_va = rotation_enlarged(d["x_val"], d["y_val"])
    torch.manual_seed(0)
    net = resnet18(in_channels=1, width=a.width)
    t = time.perf_counter()
    f_tr, f_va = extract_features(net, x_tr, device=a.device), extract_features(net, x_va, device=a.device)
    print(f"features: {len(x_tr)} train / {len(x_va)} val rows x {f_tr['B0'].shape[1]} dims, "
          f"extracted in {time.perf_counter() - t:.1f} s ({a.threads} thread(s), device {a.device})")
    rows = []
    for tap in a.taps.split(","):
        t0 = time.perf_counter()
        acc_adam = linear_probe(f_tr[tap], y_tr, f_va[tap], y_va, method="adam", epochs=a.epochs, device=a.device)
        t1 = time.perf_counter()
        acc_lbfgs = linear_probe(f_tr[tap], y_tr, f_va[tap], y_va, method="lbfgs", device=a.device)
        t2 = time.perf_counter()
        r = dict(tap=tap, adam_acc=100 * acc_adam, lbfgs_acc=100 * acc_lbfgs, diff_points=100 * (acc_lbfgs - acc_adam),
                 adam_s=t1 - t0, lbfgs_s=t2 - t1, ratio=(t1 - t0) / (t2 - t1))
        rows.append(r)
        print(f"{tap:>9}: adam {r['adam_acc']:.2f}% in {r['adam_s']:.1f} s | lbfgs {r['lbfgs_acc']:.2f}% in "
              f"{r['lbfgs_s']:.2f} s | diff {r['diff_points']:+.2f} points | {r['ratio']:.0f}x faster", flush=True)
    ok = all(abs(r["diff_points"]) <= 0.5 for r in rows) and min(r["ratio"] for r in rows) >= 10
    print(f"target (>= 10x faster, |diff| <= 0.5 points on every tap): {'met' if ok else 'NOT met'}")
    if a.json:
        with open(a.json, "w") as f: f.write(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
