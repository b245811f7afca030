"Properties of `minfo.info` that do not belong in the chapter: invalid tables, variable references, units, labels."
import itertools
import math

import numpy as np
import pytest

from minfo.info import (Dist, check_table, cond_mutual_info, entropy, gate_table, interaction_info, joint_entropy,
                        joint_table, mutual_info)


def rand_table(shape, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(int(np.prod(shape)))).reshape(shape)


# ---- invalid tables -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("table, msg", [
    ([0.5, 0.6], "sums to 1.1"),
    ([[0.2, 0.2], [0.2, 0.2]], "sums to 0.8"),
    ([1.2, -0.2], "negative"),
    ([np.nan, 1.0], "NaN/inf"),
    ([np.inf, 0.0], "NaN/inf"),
    (np.ones((2, 0)), "empty"),
    (1.0, r"shape \(\)"),
    (["a", "b"], "numeric"),
])
def test_invalid_tables_are_rejected(table, msg):
    with pytest.raises(ValueError, match=msg):
        check_table(table)
    with pytest.raises(ValueError, match=msg):
        entropy(table)
    with pytest.raises(ValueError, match=msg):
        Dist(table)


def test_tolerance_on_total_mass():
    check_table([0.5, 0.5 + 1e-9])
    with pytest.raises(ValueError, match="sums to"):
        check_table([0.5, 0.5 + 1e-3])
    check_table([0.5, 0.5 + 1e-3], atol=1e-2)


def test_bad_names_and_references():
    p = rand_table((2, 3, 4))
    with pytest.raises(ValueError, match="2 names"):
        Dist(p, ("a", "b"))
    with pytest.raises(ValueError, match="distinct"):
        Dist(p, ("a", "a", "b"))
    with pytest.raises(ValueError, match=r"unknown variable 'q'; variables are \('a', 'b', 'c'\)"):
        mutual_info(p, "a", "q", names=("a", "b", "c"))
    with pytest.raises(ValueError, match="unknown variable 'a'"):
        entropy(p, "a")  # names were not given
    with pytest.raises(ValueError, match="axis 3 out of range"):
        entropy(p, 3)
    with pytest.raises(ValueError, match="axis index, a name or a tuple"):
        entropy(p, 1.5)
    with pytest.raises(ValueError, match="axis index"):
        entropy(p, True)
    with pytest.raises(ValueError, match="names"):
        entropy(Dist(p, ("a", "b", "c")), "a", names=("x", "y", "z"))
    with pytest.raises(ValueError, match="base"):
        entropy(p, base=1)
    with pytest.raises(ValueError, match="at least 2"):
        interaction_info(np.array([0.5, 0.5]))


# ---- references and units -------------------------------------------------------------------------------------

def test_names_indices_negative_indices_and_groups_agree():
    p = rand_table((2, 3, 4), seed=1)
    d = Dist(p, ("a", "b", "c"))
    v = mutual_info(p, 0, (1, 2))
    assert mutual_info(d, "a", ("b", "c")) == pytest.approx(v)
    assert mutual_info(p, "a", ["b", "c"], names=("a", "b", "c")) == pytest.approx(v)
    assert mutual_info(p, -3, (-2, -1)) == pytest.approx(v)
    assert cond_mutual_info(d, "a", "b", "c") == pytest.approx(mutual_info(p, 0, 1, 2))
    assert entropy(d) == pytest.approx(joint_entropy(p)) == pytest.approx(entropy(p, 0, 1, 2))


@pytest.mark.parametrize("base", [2, 10, math.e])
def test_bits_vs_nats(base):
    p = rand_table((3, 3, 2), seed=2)
    for f in (lambda b: entropy(p, 0, base=b), lambda b: mutual_info(p, 0, 1, base=b),
              lambda b: cond_mutual_info(p, 0, 1, 2, base=b), lambda b: interaction_info(p, base=b)):
        assert f(base) == pytest.approx(f(None) / math.log(base))


# ---- identities -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_identities_on_random_tables(seed):
    p = rand_table((2, 3, 4), seed=seed)
    hx, hy, hxy = entropy(p, 0), entropy(p, 1), entropy(p, 0, 1)
    assert mutual_info(p, 0, 1) == pytest.approx(hx + hy - hxy)
    assert mutual_info(p, 0, 1) == pytest.approx(hx - entropy(p, 0, given=1))
    assert mutual_info(p, 0, 0) == pytest.approx(hx)
    assert 0 <= mutual_info(p, 0, 1) <= min(hx, hy) + 1e-12
    assert entropy(p, 0, given=1) <= hx + 1e-12                                 # conditioning reduces entropy
    assert mutual_info(p, 0, (1, 2)) == pytest.approx(mutual_info(p, 0, 2) + cond_mutual_info(p, 0, 1, 2))
    for x, y, z in itertools.permutations(range(3)):                           # eq. (3) in any order
        assert interaction_info(p) == pytest.approx(mutual_info(p, x, y) - cond_mutual_info(p, x, y, z))
    # the direct definition (eq. 1) as a KL divergence
    pxy = p.sum(2)
    q = pxy.sum(1, keepdims=True) * pxy.sum(0, keepdims=True)
    assert mutual_info(p, 0, 1) == pytest.approx(float((pxy * np.log(pxy / q)).sum()))


def test_data_processing_inequality():
    "I(X; f(Y)) ≤ I(X; Y) for a deterministic merge of Y's values (§2.1)."
    p = rand_table((3, 5), seed=3)
    merged = np.stack([p[:, :2].sum(1), p[:, 2:].sum(1)], 1)
    assert mutual_info(merged, 0, 1) <= mutual_info(p, 0, 1)


def test_zero_probabilities_are_fine():
    p = np.array([[0.5, 0.0], [0.0, 0.5]])
    assert mutual_info(p, 0, 1, base=2) == pytest.approx(1.0)
    assert entropy(np.array([1.0, 0.0, 0.0])) == 0.0


def test_four_variable_interaction_information():
    "Four bits with w = x ^ y ^ z: I(X;Y;Z;W) = +1 bit under McGill's sign, (-1)^n flips for even n only."
    p = np.zeros((2, 2, 2, 2))
    for x, y, z in itertools.product((0, 1), repeat=3):
        p[x, y, z, x ^ y ^ z] = 1 / 8
    assert interaction_info(p, base=2) == pytest.approx(1.0)
    assert interaction_info(p, 0, 1, 2, base=2) == pytest.approx(0.0)


def test_gates():
    with pytest.raises(ValueError, match="valid gates"):
        gate_table("nand")
    assert interaction_info(gate_table("xor"), base=2) == pytest.approx(-1.0)
    assert interaction_info(gate_table("or"), base=2) == pytest.approx(interaction_info(gate_table("and"), base=2))


# ---- empirical tables -------------------------------------------------------------------------------------------

def test_joint_table_counts():
    t = joint_table([0, 1, 1, 2], [1, 0, 0, 1])
    expected = np.array([[0, 0.25], [0.5, 0], [0, 0.25]])
    np.testing.assert_allclose(t, expected)
    assert joint_table([0, 0], sizes=[3]).shape == (3,)
    assert joint_table(np.array([1.0, 0.0])).shape == (2,)  # integer-valued floats are accepted


def test_joint_table_accepts_torch_labels():
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(joint_table(torch.tensor([0, 1, 1])), [1 / 3, 2 / 3])


@pytest.mark.parametrize("labels, kw, msg", [
    (([0, 1], [0]), {}, "different lengths"),
    (([],), {}, "empty"),
    (([0, -1],), {}, "non-negative"),
    (([0.5, 1.0],), {}, "non-integer"),
    (([[0, 1]],), {}, "1-D"),
    (([0, 3],), {"sizes": [3]}, "sizes"),
    (([0, 1],), {"sizes": [3, 3]}, "2 sizes for 1"),
    ((), {}, "at least one"),
])
def test_joint_table_rejects_bad_labels(labels, kw, msg):
    with pytest.raises(ValueError, match=msg):
        joint_table(*labels, **kw)


def test_random_labels_carry_no_information():
    "The check chapter 4 relies on: independent labels give I ≈ 0, a relabelling keeps all of H."
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 100_000)
    y_rand = rng.integers(0, 10, 100_000)
    assert mutual_info(joint_table(y, y_rand), 0, 1) < 2 * 81 / (2 * 100_000)
    perm = rng.permutation(10)
    assert mutual_info(joint_table(y, perm[y]), 0, 1) == pytest.approx(entropy(joint_table(y)))
