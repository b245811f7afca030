"""minfo.estimate / critics / gaussians beyond the chapter's own checks: equivalence with a plain PyTorch loop,
stacked vs one-by-one training, checkpoint/resume (in-process and after SIGKILL), flags, bad input."""
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from minfo import bounds
from minfo.critics import JointCritic, SeparableCritic, BilinearCritic
from minfo.estimate import MIEstimate, estimate_mi, train_critics, epoch_length
from minfo.gaussians import CorrelatedGaussians, mi_from_rho, rho_from_mi
from minfo.utils import Checkpoint

torch.set_num_threads(1)


def _plain_loop(src, bound, hidden, N, steps, lr, seed, activation="elu"):
    "The usual code: nn.Sequential, Adam, two forward passes; same init, data, shuffles as train_critics"
    c = JointCritic(src.dim, src.dim, hidden, activation, n_critics=1, seeds=(seed,))
    p = {k: v[0].detach() for k, v in c.params().items()}
    layers, d = [], 2 * src.dim
    for l, h in enumerate(hidden):
        lin = torch.nn.Linear(d, h)
        with torch.no_grad(): lin.weight.copy_(p[f"W{l}"].T); lin.bias.copy_(p[f"b{l}"])
        layers += [lin, torch.nn.ELU() if activation == "elu" else torch.nn.ReLU()]
        d = h
    out = torch.nn.Linear(d, 1)
    with torch.no_grad(): out.weight.copy_(p["Wout"].T); out.bias.copy_(p["bout"])
    net = torch.nn.Sequential(*layers, out)
    opt = torch.optim.Adam(net.parameters(), lr)
    g = torch.Generator().manual_seed(seed + 2**32)
    hist, ema = [], None
    for _ in range(steps):
        x, y = src.sample(N, generator=g)
        perm = torch.randperm(N, generator=g)
        tj = net(torch.cat([x, y], 1)).squeeze(1)
        tm = net(torch.cat([x, y[perm]], 1)).squeeze(1)
        if bound == "mine":
            v, loss, ema = bounds.mine(tj, tm, ema, 0.01)
        elif bound == "js":
            loss, v = -bounds.js(tj, tm), bounds.nwj(tj + 1, tm + 1)
        else:
            v = bounds.nwj(tj, tm); loss = -v
        opt.zero_grad(); loss.backward(); opt.step()
        hist.append(float(v.detach()))
    return np.array(hist)


@pytest.mark.parametrize("bound", ["nwj", "mine", "js"])
def test_matches_plain_pytorch_loop(bound):
    "200 steps of the engine (hand-written backward, stacked params, fused Adam) = a plain nn.Sequential loop"
    src = CorrelatedGaussians(mi=5.0)
    ref = _plain_loop(src, bound, (64, 32), 64, 200, 1e-3, seed=7)
    r = estimate_mi(src, bound=bound, hidden=(64, 32), batch_size=64, steps=200, lr=1e-3, seed=7, eval_every=1,
                    device="cpu", standardize=False)
    assert np.abs(r.history - ref).max() < 1e-4


def test_stacked_equals_one_by_one():
    "Seven MI levels trained as one model give the numbers of seven separate runs (within float error)"
    levels = (2.5, 5, 7.5, 10, 15, 20, 30)
    kw = dict(bound="nwj", hidden=(32, 32), batch_size=64, steps=200, lr=5e-4, eval_every=10, device="cpu")
    many = train_critics([CorrelatedGaussians(mi=m) for m in levels], **kw)
    for m, r in zip(levels, many):
        one = estimate_mi(CorrelatedGaussians(mi=m), **kw)
        assert abs(one.true_mi - m) < 1e-9 and r.true_mi == one.true_mi
        assert np.abs(r.history - one.history).max() < 1e-4


@pytest.mark.parametrize("critic", ["separable", "bilinear"])
@pytest.mark.parametrize("negatives", ["shuffle", "derange", "all"])
def test_other_critics_train(critic, negatives):
    r = estimate_mi(CorrelatedGaussians(dim=4, mi=1.0), bound="nwj", critic=critic, hidden=(32,),
                    batch_size=32, steps=150, lr=3e-3, negatives=negatives, device="cpu")
    assert np.isfinite(r.value) and not r.flags["diverged"] and r.value > 0.1  # bilinear cannot fit the quadratic terms of the log ratio


def test_infonce_never_above_log_n():
    "InfoNCE <= log N at every training step (eq. 8), whatever the true MI"
    r = estimate_mi(CorrelatedGaussians(dim=4, mi=10.0), bound="infonce", hidden=(64,), batch_size=16, steps=300,
                    lr=3e-3, eval_every=1, device="cpu")
    assert np.nanmax(r.history) <= math.log(16) + 1e-5
    assert r.config["negatives"] == "shuffle"  # infonce scores all pairs whatever the scheme


def test_all_pairs_is_a_different_estimate():
    kw = dict(bound="nwj", hidden=(16,), batch_size=16, steps=50, lr=1e-3, eval_every=5, device="cpu")
    a = estimate_mi(CorrelatedGaussians(dim=3, mi=1.0), negatives="shuffle", **kw)
    b = estimate_mi(CorrelatedGaussians(dim=3, mi=1.0), negatives="all", **kw)
    assert not np.allclose(a.history, b.history)


def test_checkpoint_resume_in_process(tmp_path):
    "A run cut short and resumed from its checkpoint ends with the numbers of an uninterrupted run"
    kw = dict(bound="mine", hidden=(16,), batch_size=32, steps=120, lr=1e-3, eval_every=10, seeds=(0, 1),
              dropout=0.1, device="cpu")
    srcs = [CorrelatedGaussians(mi=2.0), CorrelatedGaussians(mi=8.0)]
    full = train_critics(srcs, **kw)
    ck = Checkpoint(tmp_path / "ck.pt", every=30)
    half = train_critics(srcs, **dict(kw, steps=60), checkpoint=ck)  # saved at step 60
    assert len(half[0].history) == 6
    resumed = train_critics(srcs, **kw, checkpoint=ck)
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(a.history, b.history)
        np.testing.assert_array_equal(a.eval_steps, b.eval_steps)


KILL_SCRIPT = textwrap.dedent('''
    import sys, pickle, torch
    torch.set_num_threads(1)
    from minfo.utils import Checkpoint
    from minfo.estimate import train_critics
    from minfo.gaussians import CorrelatedGaussians
    out, path = sys.argv[1], sys.argv[2]
    res = train_critics([CorrelatedGaussians(mi=m) for m in (2.0, 10.0)], bound="nwj", hidden=(32,), batch_size=64,
                        steps=3000, lr=1e-3, eval_every=50, device="cpu", checkpoint=Checkpoint(path, every=100))
    pickle.dump([r.history for r in res], open(out, "wb"))
''')


def test_resume_after_sigkill(tmp_path):
    import pickle
    import time
    script = tmp_path / "run.py"; script.write_text(KILL_SCRIPT)
    ck = tmp_path / "ck.pt"
    env = dict(os.environ, MINFO_PROGRESS="0")
    subprocess.run([sys.executable, str(script), str(tmp_path / "full.pkl"), str(tmp_path / "ref.pt")], check=True, env=env)
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "x.pkl"), str(ck)], env=env)
    t0 = time.time()
    while not ck.exists() and time.time() - t0 < 120: time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL); p.wait()
    assert ck.exists() and not (tmp_path / "x.pkl").exists()
    subprocess.run([sys.executable, str(script), str(tmp_path / "x.pkl"), str(ck)], check=True, env=env)
    full, resumed = (pickle.loads((tmp_path / name).read_bytes()) for name in ("full.pkl", "x.pkl"))
    for a, b in zip(full, resumed): np.testing.assert_array_equal(a, b)


def test_divergence_is_a_result():
    def huge(n, generator=None):
        x, y = CorrelatedGaussians(mi=1.0).sample(n, generator=generator)
        return x * 1e30, y * 1e30
    r = train_critics([huge, CorrelatedGaussians(mi=1.0)], hidden=(16,), batch_size=32, steps=40, device="cpu",
                      standardize=False)
    assert r[0].flags["diverged"] and math.isnan(r[0].value) and np.isnan(r[0].history).all()
    assert not r[1].flags["diverged"] and np.isfinite(r[1].history).all()


def test_arrays_with_labels_for_nmi():
    "The chapter-4 use: features + integer labels, JS critic, held-out plug-in estimate and its history"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 8, generator=g)
    y = (x[:, 0] > 0).long()
    r = estimate_mi(x.numpy(), y.numpy(), bound="js", critic="joint", hidden=(64, 64, 64), dropout=(0.5, 0.3, 0.2),
                    weight_decay=2.5e-5, batch_size=128, steps=300, lr=1e-3, device="cpu")
    assert isinstance(r, MIEstimate) and r.plugin is not None
    assert len(r.plugin_history) == len(r.history) == len(r.eval_steps) == 20
    assert 0.2 < np.nanmax(r.plugin_history) < math.log(2) + 0.3
    assert r.config["dropout"] == (0.5, 0.3, 0.2) and r.config["weight_decay"] == 2.5e-5


@pytest.mark.parametrize("call, msg", [
    (lambda: estimate_mi(np.zeros((10, 2)), np.zeros((9, 2))), "same number of rows"),
    (lambda: estimate_mi(np.zeros((10, 2, 2)), np.zeros(10)), "1-D or 2-D"),
    (lambda: estimate_mi(np.zeros((0, 2)), np.zeros((0, 2))), "empty"),
    (lambda: estimate_mi(np.full((10, 2), np.nan), np.zeros(10)), "non-finite"),
    (lambda: estimate_mi(np.random.randn(10, 2), np.array([0.0] * 9 + [np.inf])), "non-finite"),
    (lambda: estimate_mi(np.random.randn(100, 2), np.random.randn(100, 2), batch_size=200), "larger than the 90 training rows"),
    (lambda: estimate_mi(np.random.randn(100, 2), np.zeros(100)), "constant over all rows"),
    (lambda: estimate_mi(np.random.randn(100, 2), np.array(["a"] * 100)), "single class"),
    (lambda: estimate_mi(np.random.randn(100, 2), np.random.randn(100), val_fraction=1.5), "val_fraction must lie in"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), bound=None), "unknown bound None"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), bound="plugin"), "read-out, not a training objective"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), eval_every=0), "eval_every"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), dropout=1.0), "dropout must lie in"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), alpha=0.0), "alpha must lie in"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), tau=-1.0), "tau must lie in"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), n_bootstrap=-1), "n_bootstrap"),
    (lambda: train_critics([CorrelatedGaussians(mi=1)], seeds=()), "seeds is empty"),
    (lambda: train_critics([CorrelatedGaussians(mi=1), CorrelatedGaussians(dim=3, mi=1)]), "same x and y dimensions"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), bound="foo"), "unknown bound"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), critic="foo"), "unknown critic"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), negatives="foo"), "unknown negatives"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), activation="tanh"), "unknown activation"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), batch_size=0), "batch_size"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), steps=0), "steps"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), lr=-1.0), "lr"),
    (lambda: train_critics([]), "sources is empty"),
    (lambda: rho_from_mi(-1), "mi must be"),
    (lambda: CorrelatedGaussians(mi=1, rho=0.3), "exactly one"),
])
def test_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_gaussians_and_epochs():
    assert abs(mi_from_rho(rho_from_mi(30.0)) - 30.0) < 1e-9
    assert epoch_length(64) == 800 and epoch_length(1024) == 100
    c = JointCritic(3, 2, hidden=(4,), n_critics=2)
    assert c.flat.shape == (2, 3 * 0 + (5 * 4 + 4 + 4 + 1))
    assert SeparableCritic(3, 2, hidden=(4,), embed_dim=3).n_params > 0 and BilinearCritic(3, 2).n_params == 6


def test_bf16_matmuls_close_not_default():
    "bfloat16 matmuls are an opt-in speed option: same run, estimates close to fp32 but not identical"
    kw = dict(bound="nwj", hidden=(64, 64), batch_size=128, steps=200, lr=1e-3, eval_every=20, device="cpu")
    a = estimate_mi(CorrelatedGaussians(mi=5.0), **kw)
    b = estimate_mi(CorrelatedGaussians(mi=5.0), matmul_dtype="bf16", **kw)
    assert a.config["matmul_dtype"] == "fp32" and b.config["matmul_dtype"] == "bf16"
    assert np.abs(a.history - b.history).max() < 0.3 and not np.array_equal(a.history, b.history)
    with pytest.raises(ValueError, match="joint critic only"):
        estimate_mi(CorrelatedGaussians(mi=1.0), critic="bilinear", matmul_dtype="bf16")


@pytest.mark.parametrize("call, msg", [
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), lr="1e-3"), "lr must be a number, got '1e-3' (str)"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), hidden=16), "for one layer write (16,)"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), seed=None), "seed must be an integer, got None"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), steps=10.0), "steps must be an integer"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), standardize=1), "standardize must be True, False"),
    (lambda: estimate_mi(CorrelatedGaussians(mi=1), progress="no"), "progress must be True or False"),
    (lambda: estimate_mi(None, np.zeros(3)), "x is None"),
    (lambda: train_critics([CorrelatedGaussians(mi=1)], seeds=None), "seeds must be a sequence"),
])
def test_wrong_types_name_the_parameter(call, msg):
    with pytest.raises(TypeError, match=__import__("re").escape(msg)):
        call()


def test_unknown_setting_is_named():
    with pytest.raises(TypeError, match="lrate"):
        estimate_mi(CorrelatedGaussians(mi=1), lrate=1e-3)


def test_invariant_under_invertible_affine_maps():
    "The issue's case: 1000 + 300 x and 0.01 y - 50 give the estimate of (x, y), within float error"
    g = torch.Generator().manual_seed(0)
    x, y = CorrelatedGaussians(dim=5, mi=1.0).sample(4000, generator=g)
    kw = dict(hidden=(32, 32), batch_size=256, steps=300, lr=1e-3, device="cpu", n_bootstrap=50)
    a = estimate_mi(x.numpy(), y.numpy(), **kw)
    b = estimate_mi(1000 + 300 * x.numpy(), 0.01 * y.numpy() - 50, **kw)
    assert abs(a.value - b.value) < 0.02 and a.value > 0.5
    assert not b.flags["diverged"]
    raw = estimate_mi(1000 + 300 * x.numpy(), 0.01 * y.numpy() - 50, standardize=False, **kw)
    assert not np.isfinite(raw.value) or abs(raw.value - a.value) > 0.3  # what standardization protects against


def test_stacked_equals_alone_on_arrays_and_samplers():
    "Critic 1 trained beside critic 0 gives its numbers alone: arrays (held-out) and samplers with dropout"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4)); y = x[:, :2] + rng.normal(size=(2000, 2))
    kw = dict(hidden=(16,), batch_size=64, steps=100, lr=3e-3, eval_every=10, device="cpu", n_bootstrap=20)
    both, alone = train_critics([(x, y)], seeds=(0, 1), **kw), train_critics([(x, y)], seeds=(1,), **kw)
    np.testing.assert_allclose(both[1].history, alone[0].history, atol=1e-5)
    assert abs(both[1].stderr - alone[0].stderr) < 1e-6
    kw["dropout"] = 0.3
    srcs = [CorrelatedGaussians(dim=4, mi=m) for m in (1.0, 4.0)]
    both = train_critics(srcs, seeds=(0, 1), **kw)
    alone = train_critics(srcs[1:], seeds=(1,), **kw)
    np.testing.assert_allclose(both[3].history, alone[0].history, atol=1e-5)


def test_dropout_sampler_read_in_eval_mode():
    "With dropout, a sampler critic's history is its eval-mode reading, not the dropout-perturbed training mean"
    r = estimate_mi(CorrelatedGaussians(dim=4, mi=2.0), hidden=(32, 32), dropout=0.5, batch_size=128, steps=200,
                    lr=3e-3, eval_every=20, device="cpu", n_bootstrap=0)
    assert r.read_on == "fresh evaluation rows" and not np.allclose(r.history, r.train_history)
    again = r.critic.net.training
    assert again is False


def test_critic_and_pointwise_on_raw_inputs():
    g = torch.Generator().manual_seed(1)
    src = CorrelatedGaussians(dim=2, mi=1.5)
    x, y = src.sample(3000, generator=g)
    r = estimate_mi(10 * x + 3, y, bound="nwj", hidden=(64,), batch_size=256, steps=600, lr=3e-3, device="cpu")
    xt, yt = src.sample(1000, generator=g)
    pw = r.pointwise(10 * xt + 3, yt)
    assert pw.shape == (1000,) and np.corrcoef(pw.numpy(), src.log_ratio(xt, yt).numpy())[0, 1] > 0.85
    torch.testing.assert_close(r.critic(10 * xt + 3, yt) - 1.0, pw)
    with pytest.raises(ValueError, match="columns"):
        r.pointwise(xt[:, :1], yt)
    assert r.critic.offset_exact and not estimate_mi(x, y, bound="dv", hidden=(8,), batch_size=64, steps=5,
                                                     device="cpu", n_bootstrap=0).critic.offset_exact


def test_stderr_is_evaluation_uncertainty():
    "The bootstrap s.e. shrinks with more held-out rows and is close to the spread of held-out values over splits"
    rng = np.random.default_rng(2)
    def data(n):
        x = rng.normal(size=(n, 2)); return x, x + rng.normal(size=(n, 2))
    kw = dict(hidden=(32,), batch_size=128, steps=200, lr=3e-3, device="cpu")
    small, large = estimate_mi(*data(1000), **kw), estimate_mi(*data(8000), **kw)
    assert 0 < large.stderr < small.stderr


def test_requires_grad_inputs():
    x = torch.randn(500, 3, requires_grad=True) * 2
    y = (x[:, 0] > 0).long()
    r = estimate_mi(x, y, hidden=(16,), batch_size=64, steps=50, device="cpu", n_bootstrap=0)
    assert np.isfinite(r.value)


def test_smile_trains_and_reads_clipped_dv():
    kw = dict(hidden=(32,), batch_size=128, steps=300, lr=3e-3, device="cpu", n_bootstrap=0)
    r = estimate_mi(CorrelatedGaussians(dim=4, mi=2.0), bound="smile", **kw)
    assert 1.2 < r.value < 2.6 and r.config["tau"] == 5.0
    inf = estimate_mi(CorrelatedGaussians(dim=4, mi=2.0), bound="smile", tau=math.inf, **kw)
    assert np.isfinite(inf.value)


def test_estimator_object_is_reusable():
    from minfo.estimate import MIEstimator
    est = MIEstimator(bound="nwj", hidden=(16,), batch_size=64, steps=60, device="cpu", n_bootstrap=0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 2))
    a, b = est.estimate(x, x + rng.normal(size=(600, 2))), est.estimate(x, rng.normal(size=(600, 2)))
    assert float(a) == a.value and "nwj" in repr(est)
    assert np.isfinite(a.value) and np.isfinite(b.value)


def test_cpu_matmul_switch(monkeypatch):
    "MINFO_CPU_MATMUL=torch keeps every product on torch.mm, a wrong value is refused at import; both paths train alike"
    code = "import minfo.critics as c; print(c.CPU_MATMUL, c._ONEDNN is None)"
    env = dict(os.environ, MINFO_CPU_MATMUL="torch")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["torch", "True"]
    env["MINFO_CPU_MATMUL"] = "mkl"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "unknown MINFO_CPU_MATMUL 'mkl'; choose one of 'auto', 'torch'" in res.stderr
    from minfo import critics
    kw = dict(hidden=(256, 256), batch_size=256, steps=12, eval_every=4, lr=1e-4, device="cpu", n_bootstrap=0, progress=False)
    ref = estimate_mi(CorrelatedGaussians(mi=4.0), bound="nwj", seed=1, activation="relu", **kw)  # 2N x 256 x 256 = 2^25: oneDNN where on
    monkeypatch.setattr(critics, "_ONEDNN", None)
    alt = estimate_mi(CorrelatedGaussians(mi=4.0), bound="nwj", seed=1, activation="relu", **kw)
    np.testing.assert_allclose(np.asarray(ref.history, float), np.asarray(alt.history, float), rtol=0, atol=1e-4)
    assert critics._on_onednn(torch.empty(512, 256), torch.empty(256, 256)) is False
