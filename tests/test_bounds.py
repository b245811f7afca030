"Properties of `minfo.bounds` that do not belong in the chapter: bad input, batching, dtypes, MINE's gradient."
import math

import pytest
import torch

from minfo.bounds import BOUNDS, BoundSpec, MineOut, Scores, dv, get_bound, infonce, js, mine, mine_log, nwj, plugin

torch.set_num_threads(1)
PAIR = [dv, nwj, js]


def scores(*shape, seed=0, scale=1.0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale


# ---- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", PAIR + [lambda a, b: mine(a, b).value])
def test_leading_dims_must_match_and_error_names_shapes(fn):
    with pytest.raises(ValueError, match=r"t_joint has shape \(3,\) but t_marg has shape \(4, 5\): leading dims must match"):
        fn(torch.zeros(3), torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)"):
        fn(torch.zeros(2, 3), torch.zeros(3, 3))


@pytest.mark.parametrize("fn", PAIR)
def test_empty_and_scalar_scores_rejected(fn):
    with pytest.raises(ValueError, match=r"t_marg has shape \(2, 0\).*empty"):
        fn(torch.zeros(2, 3), torch.zeros(2, 0))
    with pytest.raises(ValueError, match=r"t_joint has shape \(\)"):
        fn(torch.tensor(1.0), torch.zeros(3))
    with pytest.raises(ValueError, match="torch.Tensor"):
        fn([1.0, 2.0], torch.zeros(2))


def test_infonce_needs_a_square_matrix():
    with pytest.raises(ValueError, match=r"scores has shape \(4, 5\)"):
        infonce(torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"scores has shape \(5,\)"):
        infonce(torch.zeros(5))
    with pytest.raises(ValueError, match="empty"):
        infonce(torch.zeros(0, 0))


def test_plugin_rejects_scalars_and_empty():
    with pytest.raises(ValueError, match=r"shape \(\)"):
        plugin(torch.tensor(0.0))
    with pytest.raises(ValueError, match="empty"):
        plugin(torch.zeros(3, 0))


def test_unknown_bound_lists_valid_names():
    with pytest.raises(ValueError, match="unknown bound 'mien'; valid names: dv, mine, nwj, js, smile, infonce, plugin"):
        get_bound("mien")
    with pytest.raises(ValueError, match="valid names"):
        get_bound(None)


def test_registry_is_complete_and_self_describing():
    assert set(BOUNDS) == {"dv", "mine", "nwj", "js", "smile", "infonce", "plugin"}
    for name, spec in BOUNDS.items():
        assert isinstance(spec, BoundSpec) and spec.name == name and get_bound(name) is spec
        assert spec.kind in {"lower bound", "objective", "estimate", "plug-in estimate"}
        assert spec.scores in {"pair", "matrix"} and spec.trainable == (name != "plugin")
        if spec.trainable:  # every step runs on shuffled-pair and all-pair scores of the shape the loop gives it
            S = torch.randn(2, 6, 6)
            off = ~torch.eye(6, dtype=torch.bool)
            sc = Scores(S.diagonal(dim1=1, dim2=2), S[:, off].view(2, 30), S)
            out = spec.step(sc)
            assert out.value.shape == out.loss.shape == (2,)
    assert get_bound("js").kind == "objective" and get_bound("plugin").kind == "plug-in estimate"
    assert get_bound("infonce").capped_at_log_n and not get_bound("nwj").capped_at_log_n
    assert get_bound("nwj").critic_offset == 1.0 and get_bound("dv").critic_offset == 0.0


def test_mine_rejects_bad_state():
    tj, tm = scores(3), scores(4, seed=1)
    with pytest.raises(ValueError, match=r"ema has shape \(2,\) but the scores' leading dims are \(\)"):
        mine(tj, tm, torch.ones(2))
    with pytest.raises(ValueError, match="alpha"):
        mine(tj, tm, alpha=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        mine(tj, tm, torch.tensor(-1.0))


def test_nonfinite_scores_do_not_raise():
    "A NaN is a divergence signal for the training loop, not an input error."
    t = torch.tensor([0.0, float("nan")])
    for fn in PAIR:
        assert torch.isnan(fn(t, t))
    assert torch.isnan(infonce(torch.full((3, 3), float("nan"))))


# ---- values and batching ---------------------------------------------------------------------------------------

def test_reference_values():
    tj, tm = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0])
    assert dv(tj, tm).item() == pytest.approx(2.0 - math.log((1 + math.e) / 2))
    assert nwj(tj, tm).item() == pytest.approx(2.0 - (math.exp(-1) + 1) / 2)
    sp = lambda v: math.log1p(math.exp(v))
    assert js(tj, tm).item() == pytest.approx(-(sp(-1) + sp(-2) + sp(-3)) / 3 - (sp(0) + sp(1)) / 2)
    s = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    ref = ((2 - math.log(math.exp(2) + 1)) + (1 - math.log(2 * math.e))) / 2 + math.log(2)
    assert infonce(s).item() == pytest.approx(ref)


@pytest.mark.parametrize("fn", PAIR)
def test_batched_leading_dims_equal_per_row(fn):
    tj, tm = scores(2, 3, 7, seed=1), scores(2, 3, 11, seed=2)
    out = fn(tj, tm)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j].item() == pytest.approx(fn(tj[i, j], tm[i, j]).item(), rel=1e-12)


def test_batched_infonce_and_plugin_equal_per_row():
    s = scores(4, 6, 6, seed=3, scale=3)
    out = infonce(s)
    assert out.shape == (4,)
    assert torch.allclose(out, torch.stack([infonce(r) for r in s]))
    t = scores(5, 9, seed=4)
    assert torch.allclose(plugin(t), torch.stack([plugin(r) for r in t]))


def test_batched_mine_equals_per_row_including_state():
    tj, tm = scores(3, 8, seed=5), scores(3, 10, seed=6)
    out = mine(tj, tm)
    out2 = mine(tj + 1, tm + 0.5, out.ema, alpha=0.3)
    for k in range(3):
        o = mine(tj[k], tm[k])
        o2 = mine(tj[k] + 1, tm[k] + 0.5, o.ema, alpha=0.3)
        for a, b in ((out, o), (out2, o2)):
            assert torch.allclose(a.value[k], b.value) and torch.allclose(a.loss[k], b.loss)
            assert torch.allclose(a.ema[k], b.ema)


def test_integer_scores_are_accepted_as_floats():
    assert dv(torch.tensor([1, 2]), torch.tensor([0, 0])).item() == pytest.approx(1.5)
    assert infonce(torch.eye(3, dtype=torch.long)).dtype.is_floating_point


def test_large_scores_are_stable():
    big = torch.full((4,), 500.0, dtype=torch.float32)
    assert torch.isfinite(dv(big, big)) and dv(big, big).item() == pytest.approx(0.0, abs=1e-4)
    o = mine(big, big)
    assert torch.isfinite(o.loss) and torch.isfinite(o.value)
    assert torch.isfinite(mine(big, big, torch.tensor(1.0), alpha=0.5).loss)


def test_infonce_cap_holds_for_extreme_critics():
    for seed in range(20):
        for n in (1, 2, 7, 64):
            s = scores(n, n, seed=seed, scale=10.0 ** (seed % 7), dtype=torch.float32)
            s = s + torch.eye(n) * 1e6 * (seed % 2)
            assert infonce(s).item() <= torch.tensor(math.log(n)).item()


def test_dv_and_nwj_are_invariant_to_marginal_sample_order_and_count():
    tj, tm = scores(5, seed=7), scores(6, seed=8)
    assert dv(tj, tm).item() == pytest.approx(dv(tj.flip(0), torch.cat([tm, tm])).item())
    assert nwj(tj, tm).item() == pytest.approx(nwj(tj, torch.cat([tm, tm.flip(0)])).item())


def test_dv_dominates_nwj_for_same_critic():
    "For any critic, DV(T) ≥ NWJ(T) (log z ≤ z/e) — the ordering §2.3 quotes from Belghazi et al."
    for seed in range(20):
        tj, tm = scores(16, seed=seed, scale=2), scores(16, seed=100 + seed, scale=2)
        assert dv(tj, tm).item() >= nwj(tj, tm).item() - 1e-12


# ---- MINE's gradient -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0])
def test_mine_surrogate_gradient_matches_the_formula(alpha):
    "∇loss = −(∇ mean t_joint − ∇ mean e^{t_marg} / ema), with ema the updated moving average."
    w = torch.randn(3, dtype=torch.float64, generator=torch.Generator().manual_seed(9), requires_grad=True)
    xj, xm = scores(12, 3, seed=10), scores(15, 3, seed=11)
    prev = torch.tensor(0.7, dtype=torch.float64)
    out = mine(xj @ w, xm @ w, prev, alpha=alpha)
    (g,) = torch.autograd.grad(out.loss, w)
    # the formula, written out by hand
    with torch.no_grad():
        m = torch.exp(xm @ w).mean()
        ema = (1 - alpha) * prev + alpha * m
        expected = -(xj.mean(0) - (torch.exp(xm @ w)[:, None] * xm).mean(0) / ema)
    assert torch.allclose(out.ema, ema)
    assert torch.allclose(g, expected)
    # and it differs from the plain DV gradient unless the average equals the batch mean
    (g_dv,) = torch.autograd.grad(-dv(xj @ w, xm @ w), w)
    assert torch.allclose(g, g_dv) == (alpha == 1.0)


def test_mine_first_step_gradient_equals_dv_gradient():
    w = torch.randn(2, dtype=torch.float64, generator=torch.Generator().manual_seed(12), requires_grad=True)
    xj, xm = scores(9, 2, seed=13), scores(9, 2, seed=14)
    (g,) = torch.autograd.grad(mine(xj @ w, xm @ w).loss, w)
    (g_dv,) = torch.autograd.grad(-dv(xj @ w, xm @ w), w)
    assert torch.allclose(g, g_dv)


def test_mine_state_is_detached_and_value_matches_dv():
    w = torch.ones(2, requires_grad=True)
    xj, xm = scores(5, 2, dtype=torch.float32), scores(6, 2, seed=1, dtype=torch.float32)
    out = mine(xj @ w, xm @ w)
    assert isinstance(out, MineOut) and not out.ema.requires_grad and not out.value.requires_grad
    assert out.loss.requires_grad
    assert torch.allclose(out.value, dv(xj @ w, xm @ w).detach())


def test_mine_ema_converges_to_the_mean():
    "With a fixed batch the moving average approaches that batch's mean of e^t geometrically."
    tj, tm = scores(4), scores(50, seed=2)
    target = torch.exp(tm).mean()
    ema = None
    for _ in range(500):
        ema = mine(tj, tm, ema, alpha=0.05).ema
    assert ema.item() == pytest.approx(target.item(), rel=1e-9)
    ema = mine(tj, tm, torch.tensor(100.0), alpha=0.05).ema
    assert ema.item() == pytest.approx(0.95 * 100 + 0.05 * target.item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mine_state_keeps_the_scores_dtype(dtype):
    tj, tm = scores(2, 4, dtype=dtype), scores(2, 5, seed=1, dtype=dtype)
    out = mine(tj, tm)
    assert out.value.dtype == out.loss.dtype == dtype
    assert out.ema.dtype == torch.float64  # the state is float64 whatever the scores: no overflow at scores of ~88
    assert mine(tj, tm, out.ema.float()).ema.dtype == torch.float64  # any float state is accepted


def test_mine_log_state_never_overflows():
    big = torch.full((3,), 1000.0)
    st = None
    for _ in range(10):
        out = mine_log(big, big, st, alpha=0.1); st = out.log_ema
    assert torch.isfinite(st).all() and torch.isfinite(out.loss).all() and abs(st.item() - 1000.0) < 1e-6


def test_smile_is_dv_at_infinite_tau_and_bounded_variance():
    import math
    from minfo.bounds import smile, dv
    g = torch.Generator().manual_seed(0)
    tj, tm = torch.randn(100, 64, generator=g), 4 * torch.randn(100, 64, generator=g)
    assert torch.equal(smile(tj, tm, math.inf), dv(tj, tm))
    assert smile(tj, tm, 1.0).var() < dv(tj, tm).var()
