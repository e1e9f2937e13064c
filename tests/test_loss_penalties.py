"""Penalties (and the statistics they read) against an independent float64 NumPy reference."""
import mxnet as mx
import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference
from hypothesis import given, settings
from hypothesis import strategies as st
from mxnet.test_utils import assert_almost_equal

from mxfair._ops import group_onehot
from mxfair.loss import (
    PENALTIES,
    AbsoluteGap,
    MMDPenalty,
    SmoothMaxGap,
    SquaredGap,
    get_penalty,
    get_statistic,
)

CONSTRAINTS = ["demographic_parity", "equal_opportunity", "predictive_equality",
               "equalized_odds"]


# ---------------------------------------------------------------- NumPy reference (float64)
def np_terms(constraint, probs, y):
    """Per-sample (values, weights), shape (N, C), for probs (N, K') and indicators y (N, K')."""
    ones = np.ones_like(probs)
    y = np.zeros_like(probs) if y is None else y
    parts = {
        "demographic_parity": [(probs, ones)],
        "equal_opportunity": [(probs, y)],
        "predictive_equality": [(probs, 1 - y)],
        "equalized_odds": [(probs, y), (probs, 1 - y)],
    }[constraint]
    return (np.concatenate([v for v, _ in parts], axis=1),
            np.concatenate([w for _, w in parts], axis=1))


def np_penalty(name, values, weights, groups, num_groups, tau=0.02, bandwidth=0.1):
    """Loop-based reference of every penalty; absent groups are skipped."""
    values = np.asarray(values, np.float64)
    weights = np.asarray(weights, np.float64)
    valid = (groups >= 0) & (groups < num_groups)
    total = 0.0
    gaps = []
    for c in range(values.shape[1]):
        v, w = values[:, c], weights[:, c]
        den_all = w[valid].sum()
        if den_all <= 0:
            continue
        overall = (w * v)[valid].sum() / den_all
        for g in range(num_groups):
            m = groups == g
            den = w[m].sum()
            if den <= 0:
                continue
            if name == "mmd":
                k = np.exp(-((v[:, None] - v[None, :]) ** 2) / bandwidth ** 2)
                a = np.where(m, w, 0.0) / den
                u = np.where(valid, w, 0.0) / den_all
                total += max(a @ k @ a + u @ k @ u - 2 * a @ k @ u, 0.0)
            else:
                gaps.append((w * v)[m].sum() / den - overall)
    gaps = np.asarray(gaps)
    if name == "squared":
        return float(np.sum(gaps ** 2))
    if name == "absolute":
        return float(np.sum(np.abs(gaps)))
    if name == "max":
        return float(tau * np.log(np.mean(np.exp(np.abs(gaps) / tau)))) if gaps.size else 0.0
    return float(total)


def mx_penalty(name, values, weights, groups, num_groups, ctx):
    pen = get_penalty(name)
    onehot = group_onehot(mx.nd, mx.nd.array(groups, ctx=ctx), num_groups)
    out = pen(mx.nd, mx.nd.array(values, ctx=ctx), mx.nd.array(weights, ctx=ctx), onehot)
    assert out.shape == (1,)
    assert out.context == ctx
    return float(out.asscalar())


def _batch(rng, n, num_groups, scale=3.0):
    probs = 1 / (1 + np.exp(-scale * rng.randn(n, 1)))
    y = rng.randint(0, 2, size=(n, 1)).astype(np.float64)
    groups = rng.randint(0, num_groups, size=n)
    return probs, y, groups


# ---------------------------------------------------------------- hand-built batches
def test_hand_built_demographic_parity(ctx):
    # group 0 rate 0.5, group 1 rate 1.0, overall 0.75 -> gaps -0.25, +0.25
    p = np.array([[1.0], [0.0], [1.0], [1.0]])
    g = np.array([0, 0, 1, 1])
    v, w = np_terms("demographic_parity", p, None)
    assert mx_penalty("squared", v, w, g, 2, ctx) == pytest.approx(0.125)
    assert mx_penalty("absolute", v, w, g, 2, ctx) == pytest.approx(0.5)
    assert mx_penalty("max", v, w, g, 2, ctx) == pytest.approx(0.25, rel=1e-5)
    # the absolute penalty with two groups is the between-groups gap, as fairlearn measures it
    dpd = demographic_parity_difference(np.zeros(4), p.ravel(), sensitive_features=g)
    assert mx_penalty("absolute", v, w, g, 2, ctx) == pytest.approx(dpd)


def test_hand_built_equalized_odds(ctx):
    p = np.array([[0.9], [0.2], [0.6], [0.4], [0.8], [0.1]])
    y = np.array([[1], [0], [1], [0], [1], [0]], dtype=float)
    g = np.array([0, 0, 0, 1, 1, 1])
    # TPR: g0 = 0.75, g1 = 0.8, overall (0.9+0.6+0.8)/3; FPR: g0 = 0.2, g1 = 0.25, overall 0.7/3
    tpr_all, fpr_all = 2.3 / 3, 0.7 / 3
    expected = ((0.75 - tpr_all) ** 2 + (0.8 - tpr_all) ** 2
                + (0.2 - fpr_all) ** 2 + (0.25 - fpr_all) ** 2)
    v, w = np_terms("equalized_odds", p, y)
    assert mx_penalty("squared", v, w, g, 2, ctx) == pytest.approx(expected, rel=1e-5)
    assert np_penalty("squared", v, w, g, 2) == pytest.approx(expected)


def test_mmd_matches_mindiff_pairwise_formula(ctx):
    # MinDiff: MMD^2(A, B) = E k(a, a') + E k(b, b') - 2 E k(a, b), k = exp(-(x-x')^2 / l^2).
    rng = np.random.RandomState(1)
    a, b = rng.rand(5), rng.rand(7)

    def k(x, z):
        return np.exp(-((x[:, None] - z[None, :]) ** 2) / 0.1 ** 2)

    mindiff = k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()
    v = np.concatenate([a, b])[:, None]
    g = np.array([0] * 5 + [1] * 7)
    pa, pb = 5 / 12, 7 / 12
    got = mx_penalty("mmd", v, np.ones_like(v), g, 2, ctx)
    assert got == pytest.approx((pa ** 2 + pb ** 2) * mindiff, rel=1e-4)


def test_mmd_bandwidth_and_identical_groups(ctx):
    v = np.array([[0.3], [0.7], [0.3], [0.7]])
    g = np.array([0, 0, 1, 1])
    # the same distribution in both groups: MMD is 0
    assert mx_penalty("mmd", v, np.ones_like(v), g, 2, ctx) == pytest.approx(0.0, abs=1e-6)
    onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 2)
    x = mx.nd.array([[0.0], [0.1], [0.9], [1.0]])
    wide = MMDPenalty(bandwidth=10.0)(mx.nd, x, mx.nd.ones_like(x), onehot).asscalar()
    narrow = MMDPenalty(bandwidth=0.1)(mx.nd, x, mx.nd.ones_like(x), onehot).asscalar()
    assert 0 <= wide < narrow


def test_smooth_max_lies_between_mean_and_max(ctx):
    rng = np.random.RandomState(2)
    p, _, g = _batch(rng, 60, 4)
    v, w = np_terms("demographic_parity", p, None)
    rates = np.array([v[g == k].mean() for k in range(4)])
    gaps = np.abs(rates - v.mean())
    for tau in (0.005, 0.05, 0.5):
        onehot = group_onehot(mx.nd, mx.nd.array(g, ctx=ctx), 4)
        penalty = SmoothMaxGap(temperature=tau)
        got = penalty(mx.nd, mx.nd.array(v, ctx=ctx), mx.nd.array(w, ctx=ctx), onehot)
        got = float(got.asscalar())
        assert gaps.mean() - 1e-6 <= got <= gaps.max() + 1e-6
        assert got == pytest.approx(np_penalty("max", v, w, g, 4, tau=tau), rel=1e-4, abs=1e-6)
    # small temperature: close to the hard maximum
    onehot = group_onehot(mx.nd, mx.nd.array(g, ctx=ctx), 4)
    penalty = SmoothMaxGap(temperature=0.001)
    sharp = penalty(mx.nd, mx.nd.array(v, ctx=ctx), mx.nd.array(w, ctx=ctx), onehot)
    assert float(sharp.asscalar()) == pytest.approx(gaps.max(), abs=0.005)


@pytest.mark.parametrize("name", sorted(PENALTIES))
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_random_batches_match_reference(name, constraint, ctx):
    rng = np.random.RandomState(3)
    for n, num_groups in ((16, 2), (37, 3)):
        p, y, g = _batch(rng, n, num_groups)
        v, w = np_terms(constraint, p, y)
        got = mx_penalty(name, v, w, g, num_groups, ctx)
        assert got == pytest.approx(np_penalty(name, v, w, g, num_groups), rel=2e-4, abs=1e-6)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_missing_group_is_masked(name, ctx):
    # group 2 of 4 is absent and group 3 has no negatives: no NaN, same as without them
    p = np.array([[0.9], [0.3], [0.6], [0.2], [0.8], [0.7]])
    y = np.array([[1], [0], [1], [0], [1], [1]], dtype=float)
    g = np.array([0, 0, 1, 1, 3, 3])
    v, w = np_terms("equalized_odds", p, y)
    got = mx_penalty(name, v, w, g, 4, ctx)
    assert np.isfinite(got) and got >= 0
    assert got == pytest.approx(np_penalty(name, v, w, g, 4), rel=2e-4, abs=1e-6)
    # a batch with one group only: nothing to compare, penalty 0
    one = mx_penalty(name, v, w, np.zeros(6, dtype=int), 4, ctx)
    assert one == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_no_positive_rows_at_all(name, ctx):
    # equal opportunity on a batch without positives: every group is absent -> 0, finite grads
    v = mx.nd.array([[0.2], [0.7], [0.4]], ctx=ctx)
    v.attach_grad()
    w = mx.nd.zeros((3, 1), ctx=ctx)
    onehot = group_onehot(mx.nd, mx.nd.array([0, 1, 1], ctx=ctx), 2)
    with mx.autograd.record():
        out = get_penalty(name)(mx.nd, v, w, onehot)
    out.backward()
    assert float(out.asscalar()) == 0.0
    assert np.all(np.isfinite(v.grad.asnumpy()))


def test_out_of_range_ids_are_left_out(ctx):
    # an id outside [0, G) gives a zero one-hot row: the row is in no group and not in the overall
    # (the stray row is a positive prediction, so counting it would move the overall rate)
    p = np.array([[1.0], [0.0], [1.0], [1.0], [1.0]])
    for constraint in ("demographic_parity", "equalized_odds"):
        y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]])
        v, w = np_terms(constraint, p, y)
        for name in ("squared", "absolute", "max"):
            with_bad = mx_penalty(name, v, w, np.array([0, 0, 1, 1, 5]), 2, ctx)
            without = mx_penalty(name, v[:4], w[:4], np.array([0, 0, 1, 1]), 2, ctx)
            assert with_bad == pytest.approx(without), (constraint, name)


def test_get_penalty_and_statistic_errors():
    with pytest.raises(ValueError, match="penalty must be one of"):
        get_penalty("l2")
    with pytest.raises(ValueError, match="constraint must be one of"):
        get_statistic("parity")
    with pytest.raises(ValueError, match="constraint must be one of .* got 'parity'"):
        get_statistic("parity")
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got 0"):
        SmoothMaxGap(temperature=0)
    with pytest.raises(ValueError, match="bandwidth must be a finite number > 0, got -1"):
        MMDPenalty(bandwidth=-1)
    for bad in (np.nan, np.inf, True, "0.5"):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            SmoothMaxGap(temperature=bad)
        with pytest.raises(ValueError, match="bandwidth must be a finite number > 0"):
            MMDPenalty(bandwidth=bad)
    # NumPy scalars are numbers: the same penalty as the Python float
    assert SmoothMaxGap(temperature=np.float32(0.5)).temperature == 0.5
    assert MMDPenalty(bandwidth=np.float64(2.0)).bandwidth == 2.0
    assert isinstance(get_penalty(SquaredGap()), SquaredGap)
    assert isinstance(get_penalty("absolute"), AbsoluteGap)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=24),
    num_groups=st.integers(min_value=1, max_value=4),
    name=st.sampled_from(sorted(PENALTIES)),
    constraint=st.sampled_from(CONSTRAINTS),
    seed=st.integers(min_value=0, max_value=2 ** 16),
    scale=st.sampled_from([0.1, 3.0, 50.0]),
)
def test_property_nonnegative_finite_and_matches_reference(n, num_groups, name, constraint,
                                                          seed, scale):
    ctx = mx.cpu(1)
    rng = np.random.RandomState(seed)
    p, y, g = _batch(rng, n, num_groups, scale=scale)
    v, w = np_terms(constraint, p, y)
    values = mx.nd.array(v, ctx=ctx)
    values.attach_grad()
    onehot = group_onehot(mx.nd, mx.nd.array(g, ctx=ctx), num_groups)
    with mx.autograd.record():
        out = get_penalty(name)(mx.nd, values, mx.nd.array(w, ctx=ctx), onehot)
    out.backward()
    got = float(out.asscalar())
    assert np.isfinite(got) and got >= 0
    assert np.all(np.isfinite(values.grad.asnumpy()))
    assert_almost_equal(np.array([got]), np.array([np_penalty(name, v, w, g, num_groups)]),
                        rtol=1e-3, atol=1e-5)
