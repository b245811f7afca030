"""Estimators past log N (`minfo.estimators`): the permutation test's calibration and power, bad input, the factory,
the reference-benchmark adapter, and the methods inside `minfo.tasks.benchmark`. Small sizes, one thread; no timing."""
import math
import sys

import numpy as np
import pytest
import torch

from minfo.estimate import MIEstimate, MIEstimator, estimate_mi
from minfo.estimators import (CCA, KSG, METHODS, DoE, FlowMI, MIResult, Neural, as_bmi_estimator, estimate, estimator,
                              permutation_test, settings_of)
from minfo.gaussians import CorrelatedGaussians

torch.set_num_threads(1)


def draw(mi: float, n: int, dim: int = 2, seed: int = 0):
    return CorrelatedGaussians(dim=dim, mi=mi).sample(n, torch.Generator().manual_seed(seed))


def independent(n: int, dim: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g), torch.randn(n, dim, generator=g)


def ks_uniform(p: np.ndarray) -> float:
    "Kolmogorov–Smirnov distance of the p-values from the uniform distribution on [0, 1]"
    p = np.sort(p)
    i = np.arange(1, len(p) + 1)
    return float(max((i / len(p) - p).max(), (p - (i - 1) / len(p)).max()))


# --- calibration: on independent data the p-values are (discretely) uniform ------------------------------------------
# 100 data sets, K = 49 permutations (p on the grid 1/50, ..., 1). Tolerance: the KS distance below 0.16, about the 1 %
# critical value for 100 draws (0.163), plus nothing for the grid (it only makes the test conservative); and the share
# of p <= 0.1 within [0.02, 0.2] (its expectation is 0.1; 0.02 and 0.2 lie about 2.7 and 3.3 binomial s.d. away).
@pytest.mark.parametrize("method,settings,n", [("cca", {}, 100), ("doe", dict(hidden=(), val_fraction=0.3), 200)])
def test_p_values_are_uniform_under_independence(method, settings, n):
    p = np.array([permutation_test(*independent(n, 2, seed), method, permutations=49, seed=seed, **settings).p_value
                  for seed in range(100)])
    assert ((p >= 1 / 50) & (p <= 1)).all()
    assert ks_uniform(p) < 0.16, (ks_uniform(p), np.round(np.quantile(p, [0.1, 0.5, 0.9]), 2))
    assert 0.02 <= np.mean(p <= 0.1) <= 0.2, np.mean(p <= 0.1)


# --- power: a 0.1-nat dependence is found ----------------------------------------------------------------------------
def test_power_on_a_tenth_of_a_nat():
    "1-D pair at 0.1 nats (correlation 0.43), N = 1000 rows: CCA on all rows, Gaussian DoE on 300 held-out rows"
    x, y = draw(0.1, 1000, dim=1, seed=1)
    assert permutation_test(x, y, "cca", permutations=99).p_value == pytest.approx(0.01)
    res = permutation_test(x, y, "doe", permutations=99, hidden=(), val_fraction=0.3)
    assert res.p_value <= 0.02 and res.null.max() < res.value, res


def test_neural_permutation_test_reads_the_fixed_critic():
    "The critic is trained once; the null reads it on permuted held-out rows (not retrained), the observed value as trained"
    x, y = draw(1.0, 2000, seed=2)
    kw = dict(hidden=(32,), steps=200, batch_size=256, lr=1e-3, progress=False)
    dep = Neural(**kw).estimate(x, y, permutations=19)
    assert dep.p_value == pytest.approx(1 / 20) and len(dep.null) == 19
    assert dep.value == pytest.approx(estimate_mi(x, y, **kw).value)          # the same estimate as estimate_mi
    x0, y0 = independent(2000, 2, seed=3)
    ind = Neural(**kw).estimate(x0, y0, permutations=19)
    assert ind.p_value > 0.1, ind


def test_p_value_is_none_unless_asked():
    x, y = draw(0.5, 300)
    for m in ("cca", "ksg"):
        assert estimate(x, y, m).p_value is None and estimate(x, y, m).null is None


# --- the result surface ----------------------------------------------------------------------------------------------
def test_results_share_the_estimate_mi_surface():
    x, y = draw(3.0, 2000, dim=3, seed=4)
    for res in (estimate(x, y, "doe", hidden=()), estimate(x, y, "doe", hidden=(16,), epochs=2, progress=False),
                estimate(x, y, "flow", hidden=(16,), transforms=1, epochs=2, progress=False),
                estimate(x, y, "flow", fit="separate", hidden=(16,), transforms=1, epochs=2, progress=False),
                estimate(x, y, "cca"), estimate(x.numpy(), y.numpy(), "ksg")):
        assert isinstance(res, MIResult) and isinstance(res, MIEstimate)
        assert float(res) == res.value and abs(res.value - 3.0) < 0.5, res
        assert {"diverged", "near_log_n", "still_rising", "past_log_n"} <= set(res.flags) and not res.flags["near_log_n"]
        assert len(res.history) == len(res.eval_steps) >= 1 and res.config["method"] == res.method and res.seconds > 0
        assert res.read_on and res.bound.startswith(res.method)


def test_doe_and_flow_read_the_held_out_rows_of_estimate_mi():
    "Same seed, same val_fraction: the same held-out rows (log N of their count); 1-D inputs are one column"
    x, y = draw(1.0, 1000, dim=1, seed=5)
    r = estimate(x[:, 0], y[:, 0].numpy(), "doe", hidden=(), val_fraction=0.2, seed=3)
    assert r.log_n == pytest.approx(math.log(200)) and r.read_on == "held-out rows"
    assert r.pointwise(x[:4], y[:4]).shape == (4,)
    assert r.parts["h_y"] - r.parts["h_y_given_x"] == pytest.approx(r.value, abs=1e-6)


def test_doe_past_log_n():
    "20 dimensions, 30 nats, 400 held-out rows (log N = 6): the closed-form Gaussian DoE is within a nat"
    x, y = draw(30.0, 4000, dim=20, seed=6)
    res = estimate(x, y, "doe", hidden=())
    assert res.flags["past_log_n"] and abs(res.value - 30.0) < 1.0, res


# --- bad input -------------------------------------------------------------------------------------------------------
def test_bad_input_is_rejected_with_the_parameter_named():
    x, y = draw(1.0, 200)
    labels = np.arange(200) % 3
    cases = [
        (lambda: estimate(x, labels, "doe", hidden=()), ValueError, "y is a class label column"),
        (lambda: estimate(labels, y, "flow"), ValueError, "x is a class label column"),
        (lambda: estimate(CorrelatedGaussians(dim=2, mi=1.0), None, "doe"), TypeError, "takes arrays x and y"),
        (lambda: estimate(x, None, "cca"), TypeError, "y must be an array"),
        (lambda: estimate(x, y[:50], "doe", hidden=()), ValueError, "same number of rows"),
        (lambda: estimate(x * float("nan"), y, "doe", hidden=()), ValueError, "non-finite"),
        (lambda: estimate(x, y, "mine"), ValueError, "unknown method 'mine'"),
        (lambda: estimate(x, y, 3), TypeError, "method must be a name"),
        (lambda: estimate(x, y, "doe", epochs="10"), TypeError, "epochs must be an integer"),
        (lambda: estimate(x, y, "doe", val_fraction=1.0), ValueError, "val_fraction must lie in (0, 1)"),
        (lambda: estimate(x, y, "doe", model="vae"), ValueError, "unknown model 'vae'"),
        (lambda: estimate(x, y, "doe", covariance="tied"), ValueError, "unknown covariance 'tied'"),
        (lambda: estimate(x, y, "flow", fit="both"), ValueError, "unknown fit 'both'"),
        (lambda: estimate(x, y, "flow", lr=0), ValueError, "lr must lie in (0, inf]"),
        (lambda: estimate(x, y, "flow", device="tpu"), ValueError, "device"),
        (lambda: estimate(x, y, "flow", progress="yes"), TypeError, "progress must be True or False"),
        (lambda: estimate(x, y, "flow", val_fraction=0.01), ValueError, "raise val_fraction"),
        (lambda: estimate(x, y, "ksg", k=2.5), TypeError, "k must be an integer"),
        (lambda: estimate(x, y, "ksg", val_fraction=0.2), TypeError, "unknown setting 'val_fraction' for method 'ksg'"),
        (lambda: estimate(x, y, "cca", permutations=-1), ValueError, "permutations must be an integer >= 0"),
        (lambda: estimate(x, y, "cca", seed=-1), ValueError, "seed must be an integer >= 0"),
        (lambda: permutation_test(x, y, "cca", permutations=0), ValueError, "permutations must be an integer >= 1"),
        (lambda: estimate(x, y, CCA(), ridge=1.0), TypeError, "go with a method name"),
        (lambda: Neural().estimate(CorrelatedGaussians(dim=2, mi=1.0), permutations=3), ValueError, "need arrays"),
        (lambda: Neural(keep_critic=False).estimate(x, y, permutations=3), ValueError, "keep_critic must be True"),
        (lambda: estimator("neural", bound="nope"), ValueError, "nope"),
    ]
    for fn, err, msg in cases:
        with pytest.raises(err, match=None) as e:
            fn()
        assert msg in str(e.value), (msg, str(e.value))


def test_flows_without_zuko_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "zuko", None)          # `import zuko` now raises ImportError
    for make in (lambda: FlowMI(), lambda: DoE(model="flow"), lambda: estimator("flow")):
        with pytest.raises(ImportError, match=r"pip install 'minfo-lab\[flow\]'"):
            make()
    assert DoE(model="gaussian").config["model"] == "gaussian"   # the rest works without it


# --- the factory -----------------------------------------------------------------------------------------------------
def test_factory_by_name():
    assert set(METHODS) == {"neural", "doe", "flow", "ksg", "cca"}
    for name, cls in METHODS.items():
        est = estimator(name)
        assert type(est) is cls and est.method == name and est.config["method"] == name
    assert isinstance(estimator("neural", bound="smile"), MIEstimator)          # today's estimator underneath
    assert estimator("neural", steps=7).settings.steps == 7
    assert "bound" in settings_of("neural") and settings_of("ksg") == ("k",) and "fit" in settings_of("flow")
    assert repr(estimator("flow", flow="nsf")) == "FlowMI(flow='nsf')" and repr(KSG()) == "KSG()"


def test_estimate_mi_reaches_every_method_by_name():
    "estimate_mi(x, y, method=NAME, permutations=K) is the estimator of that name: the same numbers, the same p-value"
    x, y = draw(1.0, 600, seed=4)
    for name, kw in (("cca", {}), ("ksg", dict(k=3)), ("doe", dict(hidden=(), val_fraction=0.3))):
        a = estimate_mi(x, y, method=name, seed=1, permutations=9, **kw)
        b = estimator(name, **kw).estimate(x, y, seed=1, permutations=9)
        assert type(a) is MIResult and a.method == name and a.value == b.value and a.p_value == b.p_value, (name, a, b)
    kw = dict(hidden=(16,), steps=60, batch_size=128, lr=1e-3, n_bootstrap=0, progress=False)
    a, b = estimate_mi(x, y, seed=2, **kw), estimate_mi(x, y, seed=2, permutations=4, **kw)
    assert type(a) is MIEstimate and a.p_value is None                        # neural, not asked: the engine's result
    assert b.method == "neural" and b.value == a.value and len(b.null) == 4   # asked: the same critic, then read 4 times
    assert estimate_mi(x, y, method=CCA(), seed=0).value == CCA().estimate(x, y).value   # an estimator object
    with pytest.raises(ValueError, match="checkpoint is for method='neural'"):
        estimate_mi(x, y, method="cca", checkpoint=object())
    with pytest.raises(TypeError, match="unknown setting 'steps' for method 'ksg'"):
        estimate_mi(x, y, method="ksg", steps=10)


def test_methods_run_inside_the_benchmark():
    "minfo.tasks.benchmark takes the estimator objects (their config is part of the cache key)"
    from minfo.tasks import benchmark, get_task
    rows = benchmark({"doe": DoE(hidden=()), "cca": CCA(), "ksg": KSG(k=3)}, [get_task("multinormal-dense-2-2-0.5")],
                     seeds=(0,), n_samples=500, progress_bar=False)
    assert len(rows) == 3 and all(r["error"] is None and math.isfinite(r["estimate"]) for r in rows), rows
    assert next(r for r in rows if r["estimator"] == "cca")["stderr"] > 0


# --- the reference benchmark's interface -----------------------------------------------------------------------------
def test_adapter_interface():
    x, y = draw(1.0, 1000, seed=7)
    b = as_bmi_estimator("cca")
    v = b.estimate(x.numpy(), y.numpy())
    assert type(v) is float and v == pytest.approx(CCA().estimate(x, y).value)
    params = b.parameters()
    assert (params["method"] if isinstance(params, dict) else params.method) == "cca"
    assert as_bmi_estimator(DoE(hidden=()), seed=3).estimate_result(x.numpy(), y.numpy()).config["seed"] == 3


def test_adapter_in_the_reference_library():
    "Only where benchmark-mi (`bmi`, which pulls JAX) is installed: its task, our estimator through the adapter"
    bmi = pytest.importorskip("bmi")
    cov = np.array([[1.0, 0.0, 0.6, 0.0], [0.0, 1.0, 0.0, 0.6], [0.6, 0.0, 1.0, 0.0], [0.0, 0.6, 0.0, 1.0]])
    sampler = bmi.samplers.SplitMultinormal(dim_x=2, dim_y=2, covariance=cov)
    x, y = sampler.sample(2000, rng=0)
    truth = -math.log(1 - 0.6 ** 2)                    # two pairs of correlation 0.6
    assert sampler.mutual_information() == pytest.approx(truth, rel=1e-4)
    est = as_bmi_estimator("doe", hidden=())
    assert abs(est.estimate(x, y) - truth) < 0.15
