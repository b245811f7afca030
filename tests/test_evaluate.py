"minfo.evaluate: bad input, probes on known problems, NMI through chapter 3's estimator."
import math

import numpy as np
import pytest
import torch

from minfo.encoders import resnet18
from minfo.evaluate import extract_features, label_entropy, linear_probe, mlp_probe, nmi

torch.set_num_threads(1)


def blobs(n, d=6, k=3, sep=3.0, seed=0):
    centers = torch.randn(k, d, generator=torch.Generator().manual_seed(123)) * sep   # shared by every split
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    return centers[y] + torch.randn(n, d, generator=g), y


@pytest.mark.parametrize("bad, msg", [
    (lambda f, y: (f[:5], y), "5 rows"),
    (lambda f, y: (f, y.float()), "labels holds float values"),
    (lambda f, y: (f.long(), y), "floating point"),
    (lambda f, y: (f, torch.zeros_like(y)), "single class"),
    (lambda f, y: (f[:, :, None], y), "2-D"),
    (lambda f, y: (torch.where(f > 2, float("inf"), f), y), "non-finite"),
])
def test_bad_input(bad, msg):
    f, y = blobs(60)
    fv, yv = blobs(30, seed=1)
    fb, yb = bad(f, y)
    with pytest.raises(ValueError, match=msg):
        linear_probe(fb, yb, fv, yv)
    with pytest.raises(ValueError, match=msg):
        mlp_probe(fb, yb, fv, yv, epochs=1)
    with pytest.raises(ValueError, match=msg):
        nmi(fb, yb, steps=1)


def test_labels_as_users_have_them():
    "bool, negative and string labels are class labels, encoded over training and validation labels together"
    f, y = blobs(300, k=2); fv, yv = blobs(150, k=2, seed=1)
    ref = linear_probe(f, y, fv, yv)
    names = np.array(["ant", "bee"])
    assert linear_probe(f, y.bool(), fv, yv.bool()) == ref
    assert linear_probe(f, y - 7, fv, yv - 7) == ref
    assert linear_probe(f, names[y], fv, names[yv]) == ref
    d = mlp_probe(f, names[y], fv, names[yv], hidden=(16,), dropout=(0.0,), epochs=5, return_details=True)
    assert set(d) == {"accuracy", "cross_entropy", "model"} and d["cross_entropy"] > 0
    # one coding over both splits, also when the validation labels hold one class only
    one = yv == 1
    ref1 = linear_probe(f, y, fv[one], yv[one])
    assert ref1 > 0.9
    assert linear_probe(f, y.bool(), fv[one], yv[one].bool()) == ref1
    assert linear_probe(f, names[y], fv[one], names[yv[one]]) == ref1
    assert linear_probe(f, y - 7, fv[one], yv[one] - 7) == ref1


def test_label_codes_are_kept_and_shared():
    "non-negative integer labels are their own codes (a class absent from training is an output of its own)"
    f, y = blobs(300, k=2); fv, yv = blobs(150, k=2, seed=1)
    d = linear_probe(f, y * 2, fv, yv * 2, return_details=True)
    assert d["model"].out_features == 3 and d["accuracy"] == linear_probe(f, y, fv, yv)
    assert label_entropy(np.array([5, 5, 9, 9])) == pytest.approx(math.log(2))
    assert label_entropy(["a", "b", "b", "b"]) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    with pytest.raises(ValueError, match="validation labels: class labels must be one column"):
        linear_probe(f, y, fv, np.zeros((150, 2), dtype=int))
    with pytest.raises(ValueError, match="training features is empty"):
        linear_probe(f[:0], y[:0], fv, yv)


@pytest.mark.parametrize("kw, err, msg", [
    (dict(epochs=0, method="adam"), ValueError, "epochs must be an integer >= 1"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay must lie in"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    (dict(lr="1e-3"), TypeError, "lr must be a number"),
    (dict(max_iter=1.5), TypeError, "max_iter must be an integer"),
    (dict(tol=0.0), ValueError, "tol must lie in"),
    (dict(seed=None), TypeError, "seed must be an integer"),
    (dict(standardize="no"), TypeError, "standardize must be True or False"),
])
def test_probe_settings_are_checked(kw, err, msg):
    f, y = blobs(60); fv, yv = blobs(30, seed=1)
    with pytest.raises(err, match=msg):
        linear_probe(f, y, fv, yv, **kw)


@pytest.mark.parametrize("kw, err, msg", [
    (dict(epochs=0), ValueError, "epochs"), (dict(hidden=16), TypeError, "hidden"),
    (dict(dropout=0.5), TypeError, "dropout"), (dict(weight_decay=-1), ValueError, "weight_decay"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_mlp_probe_and_nmi_settings_are_checked(kw, err, msg):
    f, y = blobs(60); fv, yv = blobs(30, seed=1)
    with pytest.raises(err, match=msg):
        mlp_probe(f, y, fv, yv, **kw)
    nkw = {("steps" if k == "epochs" else k): v for k, v in kw.items()}
    with pytest.raises(err, match="steps" if "epochs" in kw else msg):
        nmi(f, y, **nkw)


def test_validation_split_errors():
    f, y = blobs(60)
    with pytest.raises(ValueError, match="validation"):
        linear_probe(f, y, f[:10], y[:9])
    with pytest.raises(ValueError, match="columns"):
        linear_probe(f, y, f[:, :2], y)
    with pytest.raises(ValueError, match="unknown method"):
        linear_probe(f, y, f, y, method="newton")


def test_linear_probe_numpy_and_torch_agree():
    f, y = blobs(300); fv, yv = blobs(150, seed=1)
    a = linear_probe(f, y, fv, yv)
    b = linear_probe(f.numpy().astype(np.float64), y.numpy(), fv.numpy(), yv.numpy())
    assert a == b and a > 0.95


def test_lbfgs_and_adam_solve_the_same_problem():
    "Both minimize CE + λ/2‖W‖²; on an easy problem with enough Adam steps they reach the same accuracy"
    f, y = blobs(1000, d=20, k=5, sep=0.6); fv, yv = blobs(1000, d=20, k=5, sep=0.6, seed=1)
    a, ma = linear_probe(f, y, fv, yv, method="lbfgs", tol=1e-9, weight_decay=1e-4, return_model=True)
    b, mb = linear_probe(f, y, fv, yv, method="adam", epochs=300, lr=5e-3, weight_decay=1e-4, return_model=True)
    assert abs(a - b) <= 0.01
    z = (f - f.mean(0)) / f.std(0)                      # the probes see standardized features

    def objective(m):
        with torch.no_grad():
            return (torch.nn.functional.cross_entropy(m(z), y) + 0.5 * 1e-4 * m.weight.pow(2).sum()).item()
    assert objective(ma) <= objective(mb) + 1e-4        # L-BFGS reaches (at least) Adam's optimum


def test_default_tolerance_matches_tight_tolerance():
    f, y = blobs(2000, d=30, k=10, sep=0.4); fv, yv = blobs(1000, d=30, k=10, sep=0.4, seed=1)
    assert abs(linear_probe(f, y, fv, yv) - linear_probe(f, y, fv, yv, tol=1e-9)) <= 0.005


def test_mlp_probe_beats_linear_on_xor():
    g = torch.Generator().manual_seed(0)
    f = torch.rand(800, 2, generator=g) * 2 - 1; y = ((f[:, 0] > 0) ^ (f[:, 1] > 0)).long()
    fv = torch.rand(400, 2, generator=g) * 2 - 1; yv = ((fv[:, 0] > 0) ^ (fv[:, 1] > 0)).long()
    assert linear_probe(f, y, fv, yv) < 0.7
    assert mlp_probe(f, y, fv, yv, hidden=(32, 32, 32), dropout=(0.1, 0.1, 0.1), epochs=40, lr=1e-2,
                     batch_size=64) > 0.9


def test_extract_features_eval_mode_and_batches():
    net = resnet18(in_channels=1, width=2)
    net.train()
    x = torch.randn(7, 1, 28, 28)
    a = extract_features(net, x, batch_size=2)
    b = extract_features(net, x, batch_size=7)
    assert net.training
    for k in a: np.testing.assert_allclose(a[k], b[k], atol=1e-5)
    assert set(extract_features(net, x, taps=["B4"])) == {"B4"}


def test_label_entropy():
    assert label_entropy(np.arange(100) % 4) == pytest.approx(math.log(4))
    assert label_entropy(torch.tensor([1, 1, 2, 2, 2, 2])) == pytest.approx(-(1 / 3) * math.log(1 / 3) - (2 / 3) * math.log(2 / 3))


def test_nmi_orders_informative_and_noise_features():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(1000) % 10
    info = torch.nn.functional.one_hot(y, 12).float() * 3 + torch.randn(1000, 12, generator=g)
    noise = torch.randn(1000, 12, generator=g)
    kw = dict(hidden=(32, 32), dropout=(0.0, 0.0), batch_size=128, lr=3e-3, steps=200, device="cpu")
    d = nmi(info, y, return_details=True, **kw)
    assert d["entropy"] == pytest.approx(math.log(10)) and d["nmi"] == pytest.approx(d["mi"] / d["entropy"])
    assert d["nmi"] > 0.5 and len(d["history"]) > 5
    assert nmi(noise, y, **kw) < 0.1


def test_saga_agrees_with_lbfgs_and_keeps_the_return_shape():
    "scikit-learn's SAGA (App. C.3) and L-BFGS minimize the same objective: same accuracy and held-out nats"
    pytest.importorskip("sklearn")
    f, y = blobs(600, k=3, sep=1.0); fv, yv = blobs(300, k=3, sep=1.0, seed=1)
    a = linear_probe(f, y, fv, yv, method="lbfgs", tol=1e-9, return_details=True)
    b = linear_probe(f, y, fv, yv, method="saga", tol=1e-7, return_details=True)
    assert set(b) == {"accuracy", "cross_entropy", "model"} and b["model"].out_features == 3
    assert abs(a["accuracy"] - b["accuracy"]) <= 0.01
    assert abs(a["cross_entropy"] - b["cross_entropy"]) < 5e-3
    acc, model = linear_probe(f, y, fv, yv, method="saga", return_model=True)
    assert 0 <= acc <= 1 and isinstance(model, torch.nn.Linear)
    # two classes: scikit-learn's single weight vector becomes the two-row softmax with the same penalty
    f2, y2 = blobs(400, k=2, sep=0.7); fv2, yv2 = blobs(200, k=2, sep=0.7, seed=1)
    a2 = linear_probe(f2, y2, fv2, yv2, weight_decay=1e-1, tol=1e-9, return_details=True)
    b2 = linear_probe(f2, y2, fv2, yv2, method="saga", weight_decay=1e-1, tol=1e-8, return_details=True)
    assert abs(a2["cross_entropy"] - b2["cross_entropy"]) < 2e-3
    # no penalty and a class that only the validation labels have
    b3 = linear_probe(f, y % 2, fv, yv, method="saga", weight_decay=0.0, max_iter=20, return_details=True)
    assert b3["model"].out_features == 3 and math.isfinite(b3["cross_entropy"])   # class 2: bias -30


def test_saga_without_sklearn_names_the_extra(monkeypatch):
    "importing minfo.evaluate imports no scikit-learn; asking for SAGA without it is an ImportError naming the extra"
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import sys, minfo.evaluate; print('sklearn' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    f, y = blobs(60); fv, yv = blobs(30, seed=1)
    with pytest.raises(ImportError, match=r"minfo-lab\[eval\]"):
        linear_probe(f, y, fv, yv, method="saga")
    with pytest.raises(ValueError, match="unknown method"):
        linear_probe(f, y, fv, yv, method="sag")
