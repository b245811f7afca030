"minfo.data on generated files in the real on-disk formats (no mirror, no internet needed)."
import hashlib
import json

import numpy as np
import pytest
import torch
import torchvision

from minfo.data import (data_root, load_dataset, make_fake_cifar10, make_fake_mnist, prepare, random_labels,
                        rotation_enlarged, salt_and_pepper, subset_per_class, train_val_split)
from minfo.info import joint_table, mutual_info


@pytest.fixture
def cifar(tmp_path):
    sums = make_fake_cifar10(tmp_path, n_train=60, n_test=20, seed=1)
    return tmp_path, sums


def test_fake_cifar_md5s_are_the_files_own(cifar):
    root, sums = cifar
    for name, md5 in sums.items():
        assert hashlib.md5((root / "cifar-10-batches-py" / name).read_bytes()).hexdigest() == md5
    man = json.loads((root / "cifar-10-batches-py" / "minfo_checksums.json").read_text())
    assert man == sums


def test_real_torchvision_loader_with_own_checksums(cifar):
    "The real CIFAR10 class, with its md5 tables set to the generated files' own md5s, loads the files"
    root, sums = cifar
    C = torchvision.datasets.CIFAR10

    class Own(C):
        train_list = [[f, sums[f]] for f, _ in C.train_list]
        test_list = [[f, sums[f]] for f, _ in C.test_list]
        meta = {**C.meta, "md5": sums["batches.meta"]}
    ds = Own(root=root, train=True, download=False)
    assert ds.data.shape == (60, 32, 32, 3) and len(ds.targets) == 60 and ds.classes[0] == "airplane"
    img, label = ds[0]
    assert img.size == (32, 32) and 0 <= label < 10
    with pytest.raises(RuntimeError, match="corrupted"):   # the unmodified class rejects them (md5 mismatch)
        C(root=root, train=True, download=False)


def test_load_dataset_cifar(cifar):
    root, _ = cifar
    x, y = load_dataset("cifar10", root, train=True, download=False)
    assert x.shape == (60, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    xt, yt = load_dataset("CIFAR-10", root, train=False, download=False)
    assert xt.shape == (20, 3, 32, 32)
    import pickle
    with open(root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    first = torch.as_tensor(entry["data"][0]).view(3, 32, 32)   # CIFAR rows are R plane, G plane, B plane
    assert torch.equal(x[0], first) and y[0].item() == entry["labels"][0]


def test_corruption_detected(cifar):
    root, _ = cifar
    with open(root / "cifar-10-batches-py" / "test_batch", "ab") as f: f.write(b"\0")
    with pytest.raises(RuntimeError, match="corrupted"):
        load_dataset("cifar10", root, download=False)


def test_mnist_idx(tmp_path):
    make_fake_mnist(tmp_path, n_train=50, n_test=7, seed=2)
    x, y = load_dataset("mnist", tmp_path)
    assert x.shape == (50, 1, 28, 28) and y.shape == (50,) and x.dtype == torch.uint8
    xt, yt = load_dataset("mnist", tmp_path, train=False)
    assert xt.shape == (7, 1, 28, 28)
    ds = torchvision.datasets.MNIST(tmp_path, train=True)   # the plain torchvision loader reads the same files
    assert torch.equal(ds.data.unsqueeze(1), x)


def test_missing_files_message(tmp_path, monkeypatch):
    monkeypatch.delenv("MINFO_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("cifar10", tmp_path, download=False)
    msg = str(e.value)
    assert "cifar-10-batches-py" in msg and "data_batch_1" in msg and "MINFO_DATA" in msg
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", tmp_path, download=False)


def test_download_failure_is_explained(tmp_path, monkeypatch):
    "No internet: the download attempt fails, and the error still says where to put the files"
    def boom(*a, **k): raise OSError("network unreachable")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", boom)
    with pytest.raises(FileNotFoundError, match="network unreachable"):
        load_dataset("cifar10", tmp_path, download=True)


def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("MINFO_DATA", str(tmp_path))
    assert data_root() == tmp_path and data_root("/a") == data_root("/a")
    monkeypatch.delenv("MINFO_DATA")
    assert data_root().name == "data"
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet", tmp_path)


def test_split_and_subset():
    tr, va = train_val_split(50_000, 5000, seed=3)
    assert len(tr) == 45_000 and len(va) == 5000 and len(set(tr) | set(va)) == 50_000
    y = np.random.default_rng(0).integers(0, 10, 1000)
    idx = subset_per_class(y, 20, seed=1)
    assert np.all(np.bincount(y[idx]) == 20) and np.array_equal(idx, subset_per_class(y, 20, seed=1))


def test_prepare_normalizes_with_training_stats(tmp_path):
    make_fake_mnist(tmp_path, n_train=400, n_test=5)
    d = prepare("mnist", tmp_path, n_val=100, seed=0)
    assert d["x_train"].shape[0] == 300 and d["x_val"].shape[0] == 100
    assert abs(d["x_train"].mean().item()) < 1e-4 and abs(d["x_train"].std().item() - 1) < 1e-3
    assert abs(d["x_val"].mean().item()) > 1e-4          # the validation set is not re-normalized on its own
    d2 = prepare("mnist", tmp_path, n_val=100, n_per_class=10, val_per_class=3, seed=0)
    assert np.all(np.bincount(d2["y_train"].numpy()) == 10) and len(d2["y_val"]) == 30


def test_rotation_and_random_labels_have_zero_mi_with_class():
    y = torch.as_tensor(np.random.default_rng(0).integers(0, 10, 3000))
    x = torch.rand(3000, 1, 4, 4)
    xs, rot, ys = rotation_enlarged(x, y)
    assert torch.equal(xs[3000 * 2 + 5], torch.rot90(x[5], 2, dims=(1, 2)))
    assert mutual_info(joint_table(ys, rot), 0, 1) < 1e-12
    rl = random_labels(len(ys), seed=0)
    assert set(rl.unique().tolist()) == set(range(10))
    assert mutual_info(joint_table(ys, rl), 0, 1) < 0.01
    assert torch.equal(rl, random_labels(len(ys), seed=0)) and not torch.equal(rl, random_labels(len(ys), seed=1))
    with pytest.raises(ValueError, match="labels"):
        rotation_enlarged(x, y[:10])


def test_salt_and_pepper():
    x = torch.full((10, 3, 8, 8), 128, dtype=torch.uint8)
    n = salt_and_pepper(x, 0.5, seed=0)
    changed = (n != 128 / 255)
    assert torch.equal(changed[:, 0], changed[:, 1])   # a chosen pixel is changed in every channel
    assert 0.4 < changed.float().mean() < 0.6
    assert torch.equal(salt_and_pepper(x, 0.0), x.float() / 255)
    assert set(salt_and_pepper(x, 1.0).unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="p must"):
        salt_and_pepper(x, -0.1)
