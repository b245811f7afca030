"""minfo.vinfo on user data (numpy, torch, lists, string and bool labels, explicit held-out rows) and bad input:
every error names the parameter and what was expected; the trainers of minfo.vinfomax, also by their old path."""
import math

import numpy as np
import pytest
import torch

from minfo.vinfo import VSettings, v_entropy, v_information


def _data(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return x, y


def test_numpy_torch_and_lists_give_the_same_value():
    x, y = _data()
    a = v_information(x, y)
    b = v_information(torch.from_numpy(x), torch.from_numpy(y))
    c = v_information(x.tolist(), y.tolist())
    assert a.value == pytest.approx(b.value, abs=1e-6) == pytest.approx(c.value, abs=1e-6)
    assert a.family.target == "categorical" and 0.3 < a.value < math.log(2)
    assert a.normalized == pytest.approx(a.value / a.h_marginal)


def test_string_and_bool_labels_are_classes():
    x, y = _data()
    names = np.array(["cat", "dog"])[y]
    s = v_information(x, names)
    assert list(s.classes) == ["cat", "dog"]
    assert s.value == pytest.approx(v_information(x, y).value, abs=1e-6)
    assert v_information(x, y.astype(bool)).value == pytest.approx(s.value, abs=1e-6)
    assert v_information(x, names[:, None]).value == pytest.approx(s.value, abs=1e-6)   # [n, 1] column


def test_held_out_rows_are_where_values_are_measured():
    x, y = _data(1500)
    vi = v_information(x[:1000], y[:1000], held_out=(x[1000:], y[1000:]))
    assert vi.n_held == 500 and vi.n_fit + vi.n_stop == 1000 and len(vi.pointwise) == 500
    assert vi.pointwise.mean() == pytest.approx(vi.value, abs=1e-6)
    labels = np.array(["a", "b", "c"])[np.r_[y[:1000], np.full(500, 2)]]   # class "c" only in the held-out rows
    vi = v_information(x[:1000], labels[:1000], held_out=(x[1000:], labels[1000:]))
    assert list(vi.classes) == ["a", "b", "c"] and np.isfinite(vi.value)


def test_gaussian_target_and_custom_head():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 2))
    y = x @ np.array([[1.0], [-0.5]])
    vi = v_information(x, y, "linear")              # float target: Gaussian
    assert vi.family.target == "gaussian" and vi.normalized is None
    assert vi.value == pytest.approx(1.25, rel=0.15)  # tr(AAᵀ) = 1 + 0.25
    f = v_information(x, y, lambda i, o: torch.nn.Linear(i, o), epochs=100, lr=1e-2, patience=5)
    assert f.value == pytest.approx(vi.value, rel=0.1)
    assert v_entropy(None, y, target="gaussian") == pytest.approx(vi.h_marginal, abs=1e-9)


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(family="svm"), ValueError, "unknown family"),
    (dict(target="poisson"), ValueError, "unknown target"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs must be an int"),
    (dict(val_fraction=0), ValueError, "val_fraction"),
    (dict(standardize="yes"), TypeError, "standardize"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(activation="gelu", family="mlp"), ValueError, "unknown activation"),
    (dict(held_out=([1, 2],)), TypeError, "held_out must be a pair"),
    (dict(settings=VSettings(), seed=1), ValueError, "either settings"),
    (dict(settings={"seed": 1}), TypeError, "settings must be a VSettings"),
])
def test_bad_settings(kwargs, exc, text):
    x, y = _data(200)
    with pytest.raises(exc, match=text):
        v_information(x, y, **kwargs)


def test_bad_data():
    x, y = _data(200)
    with pytest.raises(ValueError, match="x has 150 rows but y has 200"): v_information(x[:150], y)
    with pytest.raises(ValueError, match="float values"): v_information(x, y.astype(float), target="categorical")
    bad = x.copy(); bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x has non-finite"): v_information(bad, y)
    with pytest.raises(ValueError, match="y has non-finite"): v_information(x, np.r_[np.inf, np.ones(199)])
    with pytest.raises(ValueError, match="single class"): v_information(x, np.zeros(200, int))
    with pytest.raises(ValueError, match="x must be numeric"): v_information(np.array(["a"] * 200), y)
    with pytest.raises(ValueError, match="1-D or 2-D"): v_information(x[:, :, None, None], y)
    with pytest.raises(ValueError, match="strings"): v_information(x, np.array(["a", "b"] * 100), target="gaussian")
    with pytest.raises(ValueError, match="empty"): v_information(np.zeros((0, 2)), np.zeros(0, int))
    with pytest.raises(ValueError, match="too few"): v_information(x[:3], y[:3])


@pytest.mark.parametrize("family, target", [("linear", "categorical"), ("linear", "gaussian"), ("mlp", "categorical")])
def test_head_is_returned_usable_on_new_rows_and_reproduces_the_held_out_entropy(family, target):
    "`.head` takes raw rows (the training standardization is its first layer) and gives back H_V(Y|X) on held-out rows"
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(2500, 3)) * 50 + 7).astype(np.float32)     # far from standardized: the head must z-score
    y = (x[:, 0] - 7 + 20 * rng.normal(size=2500) > 0).astype(int) if target == "categorical" else \
        ((x[:, :1] - 7) / 50 + 0.5 * rng.normal(size=(2500, 1))).astype(np.float32)
    kw = dict(hidden=(16,), epochs=30) if family == "mlp" else {}
    vi = v_information(x[:1500], y[:1500], family, target, held_out=(x[1500:2000], y[1500:2000]), **kw)
    head = vi.head
    assert isinstance(head, torch.nn.Module) and not head.training
    yh = torch.as_tensor(y[1500:2000])
    with torch.no_grad():
        nll = vi.family.nll(head(torch.as_tensor(x[1500:2000])), yh)
        new = head(torch.as_tensor(x[2000:]))                      # rows it never saw
    assert float(nll.mean()) == pytest.approx(vi.h_conditional, abs=1e-5)
    assert float((torch.as_tensor(vi.pointwise) + nll.double()).mean()) == pytest.approx(vi.h_marginal, abs=1e-5)
    assert new.shape == (500, 2 if target == "categorical" else 1) and torch.isfinite(new).all()
    if target == "categorical":
        assert (new.argmax(1).numpy() == y[2000:]).mean() > 0.8
    else:   # the fitted mean beats the constant on new rows
        assert ((new.numpy() - y[2000:]) ** 2).mean() < ((y[2000:] - y[:1500].mean()) ** 2).mean()


def test_probe_evaluator_linear_method():
    "the per-epoch linear probe can be App. C.3's SAGA; an unknown method fails when the evaluator is made"
    from minfo.vinfomax import probe_evaluator
    x, y = _data(600)
    xt = torch.as_tensor(x)
    with pytest.raises(ValueError, match="linear_method"):
        probe_evaluator(xt[:400], y[:400], xt[400:], y[400:], linear_method="sgd")
    pytest.importorskip("sklearn")
    kw = dict(mlp=False, device="cpu")
    a = probe_evaluator(xt[:400], y[:400], xt[400:], y[400:], linear_method="saga", linear_tol=1e-6, **kw)(torch.nn.Identity())
    b = probe_evaluator(xt[:400], y[:400], xt[400:], y[400:], linear_method="lbfgs", linear_tol=1e-9, **kw)(torch.nn.Identity())
    assert abs(a["linear_acc"] - b["linear_acc"]) <= 0.01 and a["linear_acc"] > 0.8


def test_vinfomax_schedule_is_the_trainers_and_checks_its_settings():
    "the public schedule counts what train_vinfomax reports; bad settings name the parameter"
    from minfo.vinfo import train_vinfomax, vinfomax_schedule
    s = vinfomax_schedule(1000, "alternating", epochs=4, warmup_epochs=2, c1=10, c2=1, batch_size=128)   # 8 steps an epoch
    assert s.phases == ("warmup",) * 2 + ("alternating",) * 4
    assert s.steps == 48 and s.encoder_steps == 2 and s.images == 6000 and s.decoder_only_images == s.images - s.encoder_images
    j = vinfomax_schedule(1000, "joint", epochs=4, warmup_epochs=2, batch_size=128)   # joint: the warm-up is not run
    assert j.steps == j.encoder_steps == j.decoder_steps == 32 and j.encoder_images == 4000
    torch.manual_seed(0)
    x = torch.rand(40, 1, 4, 4)
    h = train_vinfomax(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), torch.nn.Linear(3, 16), x, x[:8],
                       "alternating", epochs=2, warmup_epochs=1, c1=2, c2=1, batch_size=16, device="cpu")
    assert h["work"] == vinfomax_schedule(40, "alternating", 2, 1, 2, 1, 16).work()
    for kw, msg in ((dict(n=0), "n must be"), (dict(n=10, schedule="greedy"), "unknown schedule"),
                    (dict(n=10, batch_size=1.5), "batch_size must be an integer"), (dict(n=10, epochs=0), "epochs must be")):
        with pytest.raises((ValueError, TypeError), match=msg):
            vinfomax_schedule(**kw)


def test_trainers_keep_their_old_import_path():
    "minfo.vinfo imports minfo.vinfomax only when a moved name is asked for; the names are the same objects"
    import subprocess
    import sys
    code = ("import sys, minfo.vinfo; assert 'minfo.vinfomax' not in sys.modules; "
            "from minfo.vinfo import train_vinfomax, train_infomax, probe_evaluator, VInfoMaxSchedule; "
            "import minfo.vinfomax as m; assert train_infomax is m.train_infomax and VInfoMaxSchedule is m.VInfoMaxSchedule")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import minfo.vinfo
    with pytest.raises(AttributeError, match="no attribute 'train_nothing'"):
        _ = minfo.vinfo.train_nothing


def test_infomax_takes_an_mibound_and_refuses_other_critics():
    "train_infomax runs InfoNCE through MIBound: given one (here a separable critic), the bound rises; a plain module is refused"
    from minfo.estimate import MIBound
    from minfo.vinfomax import train_infomax
    g = torch.Generator().manual_seed(0)
    x, xv = torch.rand(128, 16, generator=g), torch.rand(32, 16, generator=g)
    torch.manual_seed(0)
    enc = torch.nn.Linear(16, 4)
    bound = MIBound(16, 4, "infonce", "separable", hidden=(16,), embed_dim=4, seed=1)
    h = train_infomax(enc, bound, x, xv, epochs=6, lr=1e-2, batch_size=32, device="cpu")
    assert h["val_loss"][-1] > h["val_loss"][0] and max(h["val_loss"]) <= math.log(32) + 1e-6, h["val_loss"]
    with pytest.raises(TypeError, match="MIBound or one minfo.critics critic"):
        train_infomax(enc, torch.nn.Linear(20, 1), x, xv, epochs=1, batch_size=32, device="cpu")


def test_held_out_labels_are_coded_with_the_training_labels():
    "a class seen only in the held-out rows gets its own code; float held-out labels are refused by name"
    x, y = _data(600)
    yh = y[400:].copy(); yh[:5] = 2          # class 2: held out only
    vi = v_information(x[:400], y[:400], "linear", "categorical", held_out=(x[400:], yh))
    assert list(vi.classes) == [0, 1, 2] and np.isfinite(vi.value)
    with pytest.raises(ValueError, match="held-out y holds float"):
        v_information(x[:400], y[:400], "linear", "categorical", held_out=(x[400:], y[400:].astype(float)))
