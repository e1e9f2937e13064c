"""GroupStats: device-side counts against a NumPy reference, contexts, merging, bootstrap,
invalid input counted by reason, and exact ids in large id spaces."""
import subprocess
import sys
import warnings

import mxnet as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxfair.metrics import (
    MAX_CELLS,
    GroupStats,
    InvalidRowsWarning,
    ScoreScaleWarning,
)
from mxfair.metrics.stats import _STATE


def reference_counts(y, decided, g, G, K, w=None):
    """(G, K, K) confusion counts with np.add.at: the plain definition."""
    out = np.zeros((G, K, K))
    np.add.at(out, (np.asarray(g, int), np.asarray(y, int), np.asarray(decided, int)),
              1.0 if w is None else w)
    return out


def reference_hist(y, score, g, G, B, w=None):
    """(G, 2, B) score histograms and (G, B) score sums."""
    bins = np.clip(np.floor(np.asarray(score, np.float32) * B), 0, B - 1).astype(int)
    w = np.ones(len(y)) if w is None else w
    hist, sums = np.zeros((G, 2, B)), np.zeros((G, B))
    np.add.at(hist, (g, y, bins), w)
    np.add.at(sums, (g, bins), w * np.asarray(score, np.float32))
    return hist, sums


def random_binary(rs, n, G):
    return rs.randint(0, 2, n), rs.rand(n).astype(np.float32), rs.randint(0, G, n)


# ----------------------------------------------------------------------------------- counts
def test_hand_built_counts():
    stats = GroupStats(num_groups=2, from_logits=False)
    stats.update([1, 0, 1, 0, 1], [0.9, 0.2, 0.4, 0.7, 0.5], [0, 0, 1, 1, 1])
    # group 1: (t=1, p=0), (t=0, p=1), (t=1, p=1: score == threshold counts as positive)
    expected = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 1]]], dtype=float)
    np.testing.assert_array_equal(stats.counts.asnumpy(), expected)
    assert stats.counts.dtype == np.float64
    assert stats.num_rows == 5.0


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), G=st.integers(1, 6), weighted=st.booleans(),
       threshold=st.floats(0.05, 0.95), seed=st.integers(0, 2**31 - 1))
def test_counts_match_numpy(n, G, weighted, threshold, seed):
    rs = np.random.RandomState(seed)
    y, score, g = random_binary(rs, n, G)
    w = rs.rand(n) * 3 if weighted else None
    stats = GroupStats(G, threshold=threshold, num_bins=7, from_logits=False)
    stats.update(mx.nd.array(y), mx.nd.array(score), mx.nd.array(g),
                 None if w is None else mx.nd.array(w, dtype="float64"))
    expected = reference_counts(y, score >= np.float32(threshold), g, G, 2, w)
    np.testing.assert_allclose(stats.counts.asnumpy(), expected, rtol=1e-12, atol=1e-12)
    hist, sums = reference_hist(y, score, g, G, 7, w)
    np.testing.assert_allclose(stats.hist.asnumpy(), hist, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.score_sums.asnumpy(), sums, rtol=1e-6, atol=1e-6)


def test_many_cells_are_exact():
    # 500 groups x 2 x 2 = 2,000 cells and 10^5 rows: the float cell ids must stay exact.
    rs = np.random.RandomState(0)
    y, score, g = random_binary(rs, 100_000, 500)
    stats = GroupStats(500, from_logits=False)
    stats.update(y, score, g)
    np.testing.assert_array_equal(stats.counts.asnumpy(),
                                  reference_counts(y, score >= 0.5, g, 500, 2))


@pytest.mark.parametrize("kind", ["probs", "hard", "two_column", "logits", "two_col_logits"])
def test_binary_prediction_forms(kind):
    rs = np.random.RandomState(1)
    y, score, g = random_binary(rs, 200, 3)
    decided = score >= 0.5
    if kind == "probs":
        preds, from_logits = score, False
    elif kind == "hard":
        preds, from_logits = decided.astype(np.int64), False
    elif kind == "two_column":
        preds, from_logits = np.stack([1 - score, score], axis=1), False
    elif kind == "logits":
        preds, from_logits = np.log(score / (1 - score)), True
    else:  # softmax of (0, logit) is the sigmoid of the logit
        logit = np.log(score / (1 - score))
        preds, from_logits = np.stack([np.zeros_like(logit), logit], axis=1), True
    # keep away from the threshold, where float32 logit round trips may flip a decision
    keep = np.abs(score - 0.5) > 1e-3
    stats = GroupStats(3, from_logits=from_logits)
    stats.update(y[keep], preds[keep], g[keep])
    np.testing.assert_array_equal(stats.counts.asnumpy(),
                                  reference_counts(y[keep], decided[keep], g[keep], 3, 2))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_input_dtypes(dtype):
    y = np.array([1, 0, 1, 1, 0])
    g = np.array([0, 1, 1, 0, 1])
    hard = np.array([1, 1, 0, 1, 0])
    stats = GroupStats(2, from_logits=False)
    stats.update(mx.nd.array(y, dtype=dtype), mx.nd.array(hard, dtype=dtype),
                 mx.nd.array(g, dtype=dtype), mx.nd.ones(5, dtype=dtype))
    np.testing.assert_array_equal(stats.counts.asnumpy(), reference_counts(y, hard, g, 2, 2))


def test_multiclass_counts_scores_and_hard_labels():
    rs = np.random.RandomState(2)
    n, G, K = 300, 3, 4
    y, g = rs.randint(0, K, n), rs.randint(0, G, n)
    scores = rs.rand(n, K)
    expected = reference_counts(y, scores.argmax(axis=1), g, G, K)
    by_scores = GroupStats(G, num_classes=K, from_logits=False)
    by_scores.update(y, mx.nd.array(scores, dtype="float64"), g)
    by_labels = GroupStats(G, num_classes=K, from_logits=False)
    by_labels.update(mx.nd.array(y), mx.nd.array(scores.argmax(axis=1)), mx.nd.array(g))
    np.testing.assert_array_equal(by_scores.counts.asnumpy(), expected)
    np.testing.assert_array_equal(by_labels.counts.asnumpy(), expected)


def test_histogram_edges():
    stats = GroupStats(1, num_bins=4, from_logits=False)
    stats.update([1, 1, 0, 0], [0.0, 1.0, 0.25, 0.999], [0, 0, 0, 0])
    np.testing.assert_array_equal(stats.hist.asnumpy()[0], [[0, 1, 0, 1], [1, 0, 0, 1]])


def test_empty_batch_is_a_no_op():
    stats = GroupStats(2, from_logits=False)
    stats.update(np.zeros(0), np.zeros(0), np.zeros(0))
    stats.update([1], [0.8], [1])
    stats.update(np.zeros(0), np.zeros(0), np.zeros(0))
    assert stats.num_rows == 1.0


# ---------------------------------------------------------------------------------- context
def test_statistics_live_on_the_context_of_the_data(ctx):
    stats = GroupStats(2, num_bins=5, bootstrap=3, seed=0, from_logits=False)
    stats.update(mx.nd.array([1, 0, 1], ctx=ctx), mx.nd.array([0.3, 0.6, 0.9], ctx=ctx),
                 mx.nd.array([0, 1, 1], ctx=ctx))
    assert stats.ctx == ctx
    for name, arr in stats.arrays().items():
        assert arr.context == ctx, name


def test_explicit_ctx_wins_over_host_data(ctx):
    stats = GroupStats(2, ctx=ctx, from_logits=False)
    assert stats.counts.context == ctx  # allocated at construction
    stats.update(np.array([1, 0]), np.array([0.9, 0.1]), np.array([0, 1]))
    assert stats.counts.context == ctx
    stats.reset()
    assert stats.counts.context == ctx and stats.num_rows == 0.0


# ------------------------------------------------------------------------------------ merge
def test_merge_of_two_halves_equals_the_whole(ctx):
    rs = np.random.RandomState(3)
    y, score, g = random_binary(rs, 1000, 4)
    w = rs.rand(1000)
    whole = GroupStats(4, num_bins=10, ctx=ctx, from_logits=False)
    whole.update(y, score, g, w)
    a = GroupStats(4, num_bins=10, ctx=ctx, from_logits=False)
    b = GroupStats(4, num_bins=10, ctx=ctx, from_logits=False)
    a.update(y[:400], score[:400], g[:400], w[:400])
    b.update(y[400:], score[400:], g[400:], w[400:])
    total = a + b
    # counts and histograms are sums of the same float64 terms: exact up to summation order
    for name in ("counts", "hist", "score_sums"):
        np.testing.assert_allclose(getattr(total, name).asnumpy(),
                                   getattr(whole, name).asnumpy(), rtol=1e-12, atol=1e-9)
    assert total.counts.context == ctx
    # + leaves its operands alone; merge works in place and returns self
    np.testing.assert_allclose(a.num_rows, w[:400].sum(), rtol=1e-12)
    assert a.merge(b) is a
    np.testing.assert_allclose(a.counts.asnumpy(), whole.counts.asnumpy(), rtol=1e-12)


def test_merge_adds_bootstrap_replicates_and_handles_empty_sides():
    rs = np.random.RandomState(4)
    y, score, g = random_binary(rs, 100, 2)
    a = GroupStats(2, bootstrap=4, seed=1, from_logits=False)
    b = GroupStats(2, bootstrap=4, seed=2, from_logits=False)
    a.update(y[:50], score[:50], g[:50])
    b.update(y[50:], score[50:], g[50:])
    total = a + b
    np.testing.assert_array_equal(total.boot_counts.asnumpy(),
                                  a.boot_counts.asnumpy() + b.boot_counts.asnumpy())
    empty = GroupStats(2, bootstrap=4, from_logits=False)
    np.testing.assert_array_equal((empty + a).counts.asnumpy(), a.counts.asnumpy())
    np.testing.assert_array_equal((a + empty).counts.asnumpy(), a.counts.asnumpy())


def test_arrays_follow_state_order_and_copy_is_independent():
    stats = GroupStats(2, num_bins=3, bootstrap=2, seed=0, from_logits=False)
    stats.update([1, 0], [0.2, 0.8], [0, 1])
    assert list(stats.arrays()) == list(_STATE)
    assert list(GroupStats(2, from_logits=False).arrays()) == []
    clone = stats.copy()
    clone.update([1], [0.9], [0])
    assert stats.num_rows == 2.0 and clone.num_rows == 3.0


# -------------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_reproducible_with_a_seed():
    rs = np.random.RandomState(5)
    y, score, g = random_binary(rs, 500, 3)

    def run(seed):
        stats = GroupStats(3, num_bins=5, bootstrap=20, seed=seed, from_logits=False)
        stats.update(y[:200], score[:200], g[:200])
        stats.update(y[200:], score[200:], g[200:])
        return stats

    a, b, c = run(7), run(7), run(8)
    for name in ("boot_counts", "boot_hist", "boot_score_sums"):
        np.testing.assert_array_equal(getattr(a, name).asnumpy(), getattr(b, name).asnumpy())
    assert not np.array_equal(a.boot_counts.asnumpy(), c.boot_counts.asnumpy())
    # reset restarts the stream: the same data give the same replicates again
    a.reset()
    a.update(y[:200], score[:200], g[:200])
    a.update(y[200:], score[200:], g[200:])
    np.testing.assert_array_equal(a.boot_counts.asnumpy(), b.boot_counts.asnumpy())


def test_bootstrap_replicates_are_poisson_reweightings():
    rs = np.random.RandomState(6)
    y, score, g = random_binary(rs, 2000, 2)
    stats = GroupStats(2, bootstrap=50, seed=0, from_logits=False)
    stats.update(y, score, g)
    boot = stats.boot_counts.asnumpy()
    assert boot.shape == (50, 2, 2, 2)
    assert np.all(boot == np.round(boot))  # integer Poisson weights
    sizes = boot.sum(axis=(1, 2, 3))
    # each replicate's size is Poisson(n): mean n, sd sqrt(n) ~ 45
    assert abs(sizes.mean() - 2000) < 4 * 45 / np.sqrt(50)
    assert 20 < sizes.std() < 80
    # every replicate keeps the structure: no row moves to another cell
    assert np.all((boot > 0) <= (stats.counts.asnumpy() > 0)[None])


def test_weighted_bootstrap_scales_the_poisson_weights():
    stats = GroupStats(1, bootstrap=5, seed=3, from_logits=False)
    stats.update([1, 1], [0.9, 0.9], [0, 0], sample_weight=[2.0, 2.0])
    draws = np.random.RandomState(3).poisson(1.0, size=(5, 2))
    np.testing.assert_array_equal(stats.boot_counts.asnumpy()[:, 0, 1, 1], 2.0 * draws.sum(1))


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    ({"num_groups": 0}, "num_groups must be a positive integer"),
    ({"num_groups": 2.5}, "num_groups must be a positive integer"),
    ({"num_groups": 2, "num_classes": 1}, "num_classes must be an integer >= 2"),
    ({"num_groups": 2, "threshold": 1.5}, "threshold must be a number in"),
    ({"num_groups": 2, "num_bins": -1}, "num_bins must be a non-negative integer"),
    ({"num_groups": 2, "bootstrap": 1.5}, "bootstrap must be a non-negative integer"),
    ({"num_groups": 2, "num_classes": 3, "num_bins": 5}, "need num_classes=2"),
    ({"num_groups": 2, "group_names": ["a"]}, "got 1 group_names for num_groups=2"),
])
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupStats(**kwargs)


def test_bad_update_and_merge():
    stats = GroupStats(2, from_logits=False)
    with pytest.raises(ValueError, match="labels has 3 rows but preds has 2"):
        stats.update([1, 0, 1], [0.5, 0.5], [0, 1, 1])
    with pytest.raises(ValueError, match=r"preds must have shape \(N,\) or \(N, 2\)"):
        stats.update([1, 0], np.ones((2, 3)), [0, 1])
    with pytest.raises(TypeError, match="can only merge GroupStats, got dict"):
        stats.merge({})
    with pytest.raises(ValueError, match="cannot merge GroupStats"):
        stats.merge(GroupStats(3, from_logits=False))


@pytest.mark.parametrize("weighted", [False, True])
def test_rows_with_ids_out_of_range_are_left_out_and_counted(weighted, ctx):
    # labels 2 and -1, groups -1 and 3 (G = 3): before, the weighted path wrote out of bounds
    # and a label of 2 was counted in the next group's cells
    y = np.array([1, 0, 2, 1, -1, 0, 1])
    s = np.array([0.9, 0.2, 0.8, 0.7, 0.1, 0.6, 0.3], dtype=np.float32)
    g = np.array([0, 1, 0, -1, 2, 3, 2])
    w = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 0.5]) if weighted else None
    stats = GroupStats(3, num_bins=4, bootstrap=3, seed=0, from_logits=False)
    stats.update(*(mx.nd.array(a, ctx=ctx) for a in (y, s, g)),
                 None if w is None else mx.nd.array(w, ctx=ctx, dtype="float64"))
    valid = np.array([0, 1, 6])
    expected = reference_counts(y[valid], s[valid] >= 0.5, g[valid], 3, 2,
                                None if w is None else w[valid])
    np.testing.assert_array_equal(stats.counts.asnumpy(), expected)
    hist, _ = reference_hist(y[valid], s[valid], g[valid], 3, 4, None if w is None else w[valid])
    np.testing.assert_allclose(stats.hist.asnumpy(), hist)
    assert stats.num_invalid == 4  # rows, whatever their weights
    assert stats.invalid_counts == {"label": 2, "group": 2, "prediction": 0, "score": 0,
                                    "probability": 0, "weight": 0}
    with pytest.warns(InvalidRowsWarning, match=r"4 row\(s\) were left out of every statistic: "
                      r"a label that is not an integer in \[0, 2\): 2; a group id that is not "
                      r"an integer in \[0, 3\): 2"):
        rep = stats.report()
    np.testing.assert_array_equal(rep.counts, expected)
    assert rep.num_invalid == 4 and rep.invalid_counts["group"] == 2


def test_multiclass_hard_predictions_out_of_range_are_left_out(ctx):
    stats = GroupStats(2, num_classes=3, from_logits=False)
    stats.update(mx.nd.array([0, 1, 2, 2], ctx=ctx), mx.nd.array([0, 5, 2, -1], ctx=ctx),
                 mx.nd.array([0, 1, 1, 0], ctx=ctx))
    np.testing.assert_array_equal(stats.counts.asnumpy(),
                                  reference_counts([0, 2], [0, 2], [0, 1], 2, 3))
    assert stats.num_invalid == 2


def test_threshold_is_a_probability_also_for_logits():
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]"):
        GroupStats(2, threshold=3.0, from_logits=True)


def test_reset_returns_to_the_given_context(ctx):
    stats = GroupStats(2, from_logits=False)
    stats.update(mx.nd.array([1, 0], ctx=ctx), mx.nd.array([0.9, 0.1], ctx=ctx),
                 mx.nd.array([0, 1], ctx=ctx))
    assert stats.ctx == ctx
    stats.reset()
    stats.update(mx.nd.array([1, 0]), mx.nd.array([0.9, 0.1]), mx.nd.array([0, 1]))
    assert stats.ctx == mx.current_context() and stats.counts.context == mx.current_context()


def test_like_is_empty_with_the_same_settings(ctx):
    settings = dict(num_groups=2, num_classes=2, threshold=0.3, num_bins=4, bootstrap=3,
                    seed=5, from_logits=True, group_names=["x", "y"], bin_scale="logit",
                    exact_auc=True, min_count=7)
    stats = GroupStats(ctx=ctx, **settings)
    stats.update(mx.nd.array([1, 0, 1], ctx=ctx), mx.nd.array([0.2, -1.0, 3.0], ctx=ctx),
                 mx.nd.array([0, 1, 1], ctx=ctx))
    empty = stats.like()
    assert {k: getattr(empty, k) for k in settings} == settings
    assert empty.num_rows == 0.0 and empty.counts.context == ctx
    other = stats.like(ctx=mx.cpu(2), seed=None)
    assert other.ctx == mx.cpu(2) and other.seed is None and other.threshold == 0.3
    twin = stats.copy()
    np.testing.assert_array_equal(twin.boot_counts.asnumpy(), stats.boot_counts.asnumpy())
    assert twin._rng.randint(1 << 30) == stats._rng.randint(1 << 30)


@pytest.mark.parametrize("setting", [{"threshold": 0.6}, {"from_logits": False},
                                     {"bin_scale": "logit"}, {"exact_auc": True}])
def test_merge_refuses_statistics_decided_another_way(setting):
    with pytest.raises(ValueError, match="cannot merge GroupStats"):
        GroupStats(2).merge(GroupStats(2, **setting))


# ------------------------------------------------- invalid input: a NumPy reference (issue 12)
def _bad_id(v, high):
    """True where v is not an integer in [0, high] (NaN and inf included)."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(v) & (v == np.floor(v)) & (v >= 0) & (v <= high))


def _logit(t):
    return -np.inf if t <= 0 else np.inf if t >= 1 else np.log(t) - np.log1p(-t)


def reference_stats(y, x, g, G, *, w=None, threshold=0.5, from_logits=True, B=0,
                    draws=None):
    """What GroupStats must hold for binary scores x (N,): the documented rules, in NumPy.

    A row is valid when its label is an integer in [0, 2), its group id an integer in [0, G),
    its score finite (and in [0, 1] with from_logits=False) and its weight finite and >= 0.
    The decision is taken in the precision of x; bins in float64.
    """
    y, g = np.asarray(y, np.float64), np.asarray(g, np.float64)
    x = np.asarray(x)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x)
        reasons = {
            "label": _bad_id(y, 1), "group": _bad_id(g, G - 1),
            "prediction": np.zeros(len(y), bool), "score": ~finite,
            "probability": (finite & ((x < 0) | (x > 1))) if not from_logits
            else np.zeros(len(y), bool),
            "weight": np.zeros(len(y), bool) if w is None
            else ~(np.isfinite(w) & (np.asarray(w) >= 0)),
        }
        valid = ~np.any(list(reasons.values()), axis=0)
        cut = x.dtype.type(_logit(threshold) if from_logits else threshold)
        decided = (x >= cut).astype(int)
    ww = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    yi, gi = y[valid].astype(int), g[valid].astype(int)
    out = {"counts": reference_counts(yi, decided[valid], gi, G, 2, ww[valid]),
           "invalid": {k: float(v.sum()) for k, v in reasons.items()},
           "num_invalid": float((~valid).sum())}
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        prob = 1.0 / (1.0 + np.exp(-x64)) if from_logits else x64
    if B:
        bins = np.minimum(np.floor(prob[valid] * B), B - 1).astype(int)
        hist, sums = np.zeros((G, 2, B)), np.zeros((G, B))
        np.add.at(hist, (gi, yi, bins), ww[valid])
        np.add.at(sums, (gi, bins), ww[valid] * prob[valid])
        out["hist"], out["score_sums"] = hist, sums
    if draws is not None:  # (R, N) Poisson weights of the bootstrap
        R = draws.shape[0]
        boot = np.zeros((R, G, 2, 2))
        rep = np.repeat(np.arange(R), valid.sum())
        np.add.at(boot, (rep, np.tile(gi, R), np.tile(yi, R), np.tile(decided[valid], R)),
                  (draws[:, valid] * ww[valid]).ravel())
        out["boot_counts"] = boot
    return out


_SPECIAL = [np.nan, np.inf, -np.inf, 0.5, -1.0, 1.5, 2.0]


@st.composite
def messy_batches(draw):
    """Rows with every kind of bad value mixed into valid ones, and the settings."""
    n = draw(st.integers(1, 60))
    G = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rs = np.random.RandomState(seed)
    y = rs.randint(0, 2, n).astype(np.float64)
    g = rs.randint(0, G, n).astype(np.float64)
    from_logits = draw(st.booleans())
    x = (rs.randn(n) * 3 if from_logits else rs.rand(n)).astype(
        draw(st.sampled_from([np.float32, np.float64])))
    w = rs.rand(n) * 2 if draw(st.booleans()) else None
    for arr in (y, g, x) + ((w,) if w is not None else ()):
        spoil = rs.rand(n) < draw(st.sampled_from([0.0, 0.1, 0.5]))
        arr[spoil] = rs.choice(_SPECIAL + [G, -0.0, 1e-300], spoil.sum())
    return dict(y=y, g=g, x=x, w=w, G=G, from_logits=from_logits, seed=seed,
                threshold=draw(st.sampled_from([0.5, 0.3, 0.0, 1.0, 0.7])),
                B=draw(st.sampled_from([0, 1, 7])), R=draw(st.sampled_from([0, 3])))


@settings(max_examples=60, deadline=None)
@given(case=messy_batches(), batches=st.integers(1, 3))
def test_invalid_rows_are_counted_by_reason_and_never_counted_as_data(case, batches):
    y, g, x, w, G = case["y"], case["g"], case["x"], case["w"], case["G"]
    stats = GroupStats(G, threshold=case["threshold"], num_bins=case["B"], bootstrap=case["R"],
                       seed=case["seed"], from_logits=case["from_logits"])
    draws, rng = [], np.random.RandomState(case["seed"])
    for part in np.array_split(np.arange(len(y)), batches):
        stats.update(mx.nd.array(y[part], dtype="float64"), mx.nd.array(x[part], dtype=x.dtype),
                     mx.nd.array(g[part], dtype="float64"),
                     None if w is None else mx.nd.array(w[part], dtype="float64"))
        if case["R"] and len(part):
            draws.append(rng.poisson(1.0, size=(case["R"], len(part))))
    ref = reference_stats(y, x, g, G, w=w, threshold=case["threshold"],
                          from_logits=case["from_logits"], B=case["B"],
                          draws=np.concatenate(draws, axis=1) if draws else None)
    np.testing.assert_allclose(stats.counts.asnumpy(), ref["counts"], rtol=1e-12, atol=1e-12)
    assert stats.invalid_counts == ref["invalid"]
    assert stats.num_invalid == ref["num_invalid"]
    if case["B"]:
        np.testing.assert_allclose(stats.hist.asnumpy(), ref["hist"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(stats.score_sums.asnumpy(), ref["score_sums"], rtol=1e-9,
                                   atol=1e-12)
        assert np.all(np.isfinite(stats.score_sums.asnumpy()))
    if case["R"]:
        np.testing.assert_allclose(stats.boot_counts.asnumpy(), ref["boot_counts"],
                                   rtol=1e-12, atol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = stats.report()
    said = [str(c.message) for c in caught if issubclass(c.category, InvalidRowsWarning)]
    assert bool(said) == (ref["num_invalid"] > 0)
    if said:
        assert said[0].startswith(f"{ref['num_invalid']:g} row(s) were left out")
    assert rep.num_invalid == ref["num_invalid"]


def test_nan_ids_with_weights_bins_or_bootstrap_no_longer_crash(tmp_path):
    # Each of these killed the process before (NaN cast to an int index inside MXNet's
    # scatter/histogram kernels): run them in a child process so a crash fails this test only.
    code = """
import numpy as np
from mxfair.metrics import GroupStats
nan = float("nan")
y, s, g = np.array([1, 0, 1, 0.]), np.array([0.9, 0.2, 0.4, 0.7]), np.array([0, 0, 1, 1.])
cases = [
    ("group", dict(), dict(groups=[0, nan, 1, 1], sample_weight=np.ones(4))),
    ("group", dict(num_bins=10), dict(groups=[0, nan, 1, 1])),
    ("group", dict(bootstrap=3, seed=0), dict(groups=[0, nan, 1, 1])),
    ("label", dict(), dict(labels=[1, nan, 1, 0], sample_weight=np.ones(4))),
    ("label", dict(num_bins=10, bootstrap=2), dict(labels=[1, nan, 1, 0])),
    ("score", dict(num_bins=10), dict(preds=[0.9, nan, 0.4, 0.7])),
    ("score", dict(num_bins=10, bootstrap=2, seed=1),
     dict(preds=[0.9, np.inf, 0.4, 0.7], sample_weight=np.ones(4))),
]
for reason, settings, batch in cases:
    stats = GroupStats(2, from_logits=False, **settings)
    args = dict(labels=y, preds=s, groups=g, sample_weight=None)
    args.update(batch)
    stats.update(**args)
    assert stats.num_invalid == 1 and stats.invalid_counts[reason] == 1, (reason, settings)
    assert stats.num_rows == 3.0
print("ok")
"""
    script = tmp_path / "probe.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("bad", ["group", "label"])
def test_half_ids_are_left_out_not_moved_to_another_cell(bad, ctx):
    # before, a group id of 0.5 or a label of 0.5 landed in another valid cell
    y, s, g = [1, 0, 1, 0], [0.9, 0.2, 0.4, 0.7], [0, 0, 1, 1]
    (y if bad == "label" else g)[1] = 0.5
    stats = GroupStats(2, num_bins=4, from_logits=False, ctx=ctx)
    stats.update(np.array(y, float), np.array(s), np.array(g, float))
    keep = [0, 2, 3]
    expected = reference_counts(np.array(y)[keep], np.array(s)[keep] >= 0.5,
                                np.array(g)[keep], 2, 2)
    np.testing.assert_array_equal(stats.counts.asnumpy(), expected)
    assert stats.invalid_counts[bad] == 1 and stats.num_invalid == 1
    assert stats.hist.asnumpy().sum() == 3


def test_a_diverged_net_gets_nan_figures_and_a_warning_not_a_gap_of_zero(ctx):
    # before: accuracy 0.42 with DP and EO gaps of exactly 0 ("perfectly fair")
    rs = np.random.RandomState(0)
    y, g = rs.randint(0, 2, 200), rs.randint(0, 2, 200)
    stats = GroupStats(2, num_bins=10, ctx=ctx)
    stats.update(y, mx.nd.full((200,), np.nan, ctx=ctx), g)
    with pytest.warns(InvalidRowsWarning, match=r"200 row\(s\) were left out.*a NaN or "
                      r"infinite score: 200"):
        rep = stats.report()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = rep.summary()
    for key in ("accuracy", "demographic_parity_difference", "equalized_odds_difference",
                "auc"):
        assert np.isnan(summary[key]), key


def test_probabilities_outside_unit_are_left_out_and_the_warning_names_from_logits(ctx):
    stats = GroupStats(2, from_logits=False, ctx=ctx)
    stats.update([1, 0, 1, 0], mx.nd.array([2.3, -0.4, 0.9, 0.1], ctx=ctx), [0, 0, 1, 1])
    assert stats.invalid_counts["probability"] == 2 and stats.num_rows == 2
    with pytest.warns(InvalidRowsWarning, match=r"a score outside \[0, 1\] with "
                      r"from_logits=False \(logits\? pass from_logits=True\): 2"):
        stats.report()
    # the same scores as logits are all valid
    logits = GroupStats(2, ctx=ctx)
    logits.update([1, 0, 1, 0], mx.nd.array([2.3, -0.4, 0.9, 0.1], ctx=ctx), [0, 0, 1, 1])
    assert logits.num_invalid == 0 and logits.num_rows == 4


@pytest.mark.parametrize("preds", [[0.9, 0.2, 0.6, 0.4], [1, 0, 1, 1],
                                   [[0.1, 0.9], [0.8, 0.2], [0.4, 0.6], [0.5, 0.5]]])
def test_logits_that_all_look_like_probabilities_are_warned(preds):
    stats = GroupStats(2)  # from_logits=True is the default: a Dense(1) net's logits
    assert stats.from_logits
    stats.update([1, 0, 1, 0], np.array(preds, np.float32), [0, 0, 1, 1])
    with pytest.warns(ScoreScaleWarning, match="pass from_logits=False if these are "
                      "probabilities or hard 0/1 predictions"):
        stats.report()
    real = GroupStats(2)
    real.update([1, 0, 1, 0], np.array([2.2, -1.3, 0.4, -0.2], np.float32), [0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScoreScaleWarning)
        real.report()  # one logit outside [0, 1] is enough


def test_logits_decide_with_the_sigmoid_threshold_and_no_saturation():
    # sigmoid(z) >= t  <=>  z >= logit(t): compared on the logit, a float32 sigmoid that rounds
    # 17.0 and 16.0 to 1.0 cannot merge the two
    t = 1.0 / (1.0 + np.exp(-16.5))
    stats = GroupStats(1, threshold=t)
    stats.update([1, 1, 0, 0], np.array([17.0, 16.0, 0.0, -3.0], np.float32), [0, 0, 0, 0])
    np.testing.assert_array_equal(stats.counts.asnumpy()[0], [[2, 0], [1, 1]])
    half = GroupStats(1)
    half.update([1, 0], np.array([0.0, -1e-30]), [0, 0])  # sigmoid(0) = 0.5 >= 0.5
    np.testing.assert_array_equal(half.counts.asnumpy()[0], [[1, 0], [0, 1]])


@pytest.mark.parametrize("kind", ["numpy", "ndarray"])
def test_float64_scores_are_compared_in_float64(kind):
    # before: both were rounded to float32 (0.5) and counted as positive at 0.5
    scores = np.array([0.49999997, 0.499999999, 0.5])
    preds = scores if kind == "numpy" else mx.nd.array(scores, dtype="float64")
    stats = GroupStats(1, from_logits=False)
    stats.update([1, 1, 1], preds, [0, 0, 0])
    np.testing.assert_array_equal(stats.counts.asnumpy()[0, 1], [2, 1])
    # float32 scores are compared as NumPy compares them: with the threshold in float32
    f32 = np.array([0.7, 0.69999993], np.float32)
    stats32 = GroupStats(1, threshold=0.7, from_logits=False)
    stats32.update([1, 1], f32, [0, 0])
    assert stats32.counts.asnumpy()[0, 1, 1] == (f32 >= 0.7).sum() == 1


def test_negative_nan_and_infinite_weights_are_left_out():
    # before: a weight of -1 was accepted (a selection rate of 1.5 was possible)
    stats = GroupStats(1, from_logits=False)
    stats.update([1, 1, 1, 1, 0], [0.9, 0.9, 0.1, 0.9, 0.2], [0, 0, 0, 0, 0],
                 sample_weight=[2.0, -1.0, np.nan, np.inf, 0.5])
    np.testing.assert_array_equal(stats.counts.asnumpy()[0], [[0.5, 0], [0, 2.0]])
    assert stats.invalid_counts["weight"] == 3 and stats.num_invalid == 3
    rep = pytest.warns(InvalidRowsWarning, stats.report)
    assert rep["selection_rate"][0] == pytest.approx(2.0 / 2.5)


def test_multiclass_scores_with_nan_are_left_out(ctx):
    scores = np.array([[0.1, 0.8, 0.1], [np.nan, 0.2, 0.3], [0.3, 0.3, 0.4], [np.inf, 0, 0]])
    stats = GroupStats(1, num_classes=3, ctx=ctx)
    stats.update([1, 1, 2, 0], mx.nd.array(scores, ctx=ctx), [0, 0, 0, 0])
    np.testing.assert_array_equal(stats.counts.asnumpy()[0],
                                  reference_counts([1, 2], [1, 2], [0, 0], 1, 3)[0])
    assert stats.invalid_counts["score"] == 2


def test_a_float64_id_next_to_an_integer_is_not_rounded_into_it():
    stats = GroupStats(2, from_logits=False)
    stats.update(np.array([1.0, 1.0]), [0.9, 0.9], np.array([1.0, 1.0 + 1e-12]))
    assert stats.invalid_counts["group"] == 1 and stats.num_rows == 1


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float64", "uint8"])
def test_ids_of_any_numeric_dtype_give_the_same_counts(dtype, ctx):
    y, g = np.array([1, 0, 1, 1, 0]), np.array([0, 1, 1, 0, 2])
    stats = GroupStats(3, from_logits=False, ctx=ctx)
    stats.update(mx.nd.array(y, dtype=dtype, ctx=ctx), mx.nd.array([0.9, 0.2, 0.3, 0.8, 0.6],
                 ctx=ctx), mx.nd.array(g, dtype=dtype, ctx=ctx))
    np.testing.assert_array_equal(
        stats.counts.asnumpy(), reference_counts(y, [1, 0, 0, 1, 1], g, 3, 2))


@pytest.mark.parametrize("bad, name", [
    (dict(groups=np.array(["a", "b", "a"])), "groups"),
    (dict(groups=["a", "b", "a"]), "groups"),
    (dict(labels=np.array(["yes", "no", "yes"], dtype=object)), "labels"),
])
def test_string_ids_raise_a_type_error_that_points_to_the_group_encoder(bad, name):
    # before: KeyError: <class 'numpy.str_'>
    args = dict(labels=[1, 0, 1], preds=[0.9, 0.1, 0.8], groups=[0, 1, 0])
    args.update(bad)
    with pytest.raises(TypeError, match=rf"{name} must hold numeric ids, got strings/objects "
                       r"\(dtype .*\); encode them with mxfair.GroupEncoder"):
        GroupStats(2, from_logits=False).update(**args)
    from mxfair._validation import IDS_NOT_NUMERIC
    assert "GroupEncoder" in IDS_NOT_NUMERIC


def test_object_ids_holding_numbers_and_none_are_numbers():
    stats = GroupStats(2, from_logits=False)
    stats.update(np.array([1, 0, None], dtype=object), [0.9, 0.1, 0.8],
                 np.array([0, 1, 1], dtype=object))
    assert stats.num_rows == 2 and stats.invalid_counts["label"] == 1


# ---------------------------------------------------------- exact cell ids (issue 17)
def test_cell_ids_past_2_to_the_24_are_exact():
    # GroupStats(12000, num_bins=1000): 24 M histogram cells. Before, ids were float32 and
    # 60,414 cells differed from np.add.at on the data.
    G, B = 12_000, 1000
    rs = np.random.RandomState(0)
    n = 3000
    g = np.concatenate([rs.randint(G - 300, G, n // 2), rs.randint(0, G, n - n // 2)])
    y = rs.randint(0, 2, n)
    score = rs.rand(n)
    stats = GroupStats(G, num_bins=B, from_logits=False)
    stats.update(y, score, g)
    assert stats._dtype == "float64"  # every id of this configuration needs float64
    hist = np.zeros((G, 2, B))
    np.add.at(hist, (g, y, np.minimum(np.floor(score * B), B - 1).astype(int)), 1.0)
    got = stats.hist.asnumpy()
    assert np.count_nonzero(got != hist) == 0
    np.testing.assert_array_equal(stats.counts.asnumpy(), reference_counts(y, score >= 0.5, g,
                                                                           G, 2))


def test_bootstrap_ids_past_2_to_the_24_are_exact():
    # The case: 300 replicates x 64 groups x 2 x 1000 bins = 38.4 M cells, every score
    # in bin 5. Before, 4.7 M of 6.0 M units of replicate mass landed in bins 4 and 8.
    G, B, R, n = 64, 1000, 300, 200
    rs = np.random.RandomState(1)
    y, g = rs.randint(0, 2, n), rs.randint(0, G, n)
    stats = GroupStats(G, num_bins=B, bootstrap=R, seed=3, from_logits=False)
    stats.update(y, np.full(n, 0.0055), g)
    boot = stats.boot_hist.asnumpy()  # (R, G, 2, B)
    draws = np.random.RandomState(3).poisson(1.0, size=(R, n))
    expected = np.zeros((R, G, 2))
    np.add.at(expected, (np.repeat(np.arange(R), n), np.tile(g, R), np.tile(y, R)),
              draws.ravel())
    np.testing.assert_array_equal(boot[..., 5], expected)
    assert boot.sum() == boot[..., 5].sum() == draws.sum()


@settings(max_examples=4, deadline=None)
@given(G=st.integers(2 ** 21 + 1, 2 ** 21 + 5000), seed=st.integers(0, 2 ** 31 - 1),
       weighted=st.booleans())
def test_counts_in_large_id_spaces_match_numpy(G, seed, weighted):
    # 2 * G * 4 > 2**24 cells: few rows, ids near the top of the range, float64 ids
    rs = np.random.RandomState(seed)
    n = 50
    g = np.concatenate([G - 1 - rs.randint(0, 40, n - 10), rs.randint(0, G, 10)])
    y, score = rs.randint(0, 2, n), rs.rand(n)
    w = rs.rand(n) if weighted else None
    stats = GroupStats(G, from_logits=False)
    stats.update(y, score, g, w)
    got = stats.counts.asnumpy()
    expected = reference_counts(y, score >= 0.5, g, G, 2, w)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert stats.num_invalid == 0


def test_sizes_that_cannot_be_held_are_refused_with_the_limit():
    with pytest.raises(ValueError, match=r"needs boot_hist of 4,096,000,000 cells; at most "
                       r"2,147,483,646 cells \(2\*\*31 - 2"):
        GroupStats(2048, num_bins=1000, bootstrap=1000)
    with pytest.raises(ValueError, match="needs counts of"):
        GroupStats(2 ** 28)
    assert MAX_CELLS == 2 ** 31 - 2
    GroupStats(2 ** 10, num_bins=1000, bootstrap=1000, ctx=None)  # 2.05e9 cells: allowed


def test_bootstrap_of_one_replicate_is_refused():
    with pytest.raises(ValueError, match="bootstrap must be 0 .* or at least 2 replicates"):
        GroupStats(2, bootstrap=1)


# ----------------------------------------------------------- new state: merge, copy, like
def test_merge_copy_and_add_carry_invalid_counts_and_kept_rows(ctx):
    a = GroupStats(2, num_bins=4, exact_auc=True, from_logits=False, ctx=ctx)
    b = a.like()
    a.update([1, 0, 1], [0.9, np.nan, 0.3], [0, 1, 1])
    b.update([0, 1, 0.5], [0.2, 1.7, 0.4], [0, 1, 1])
    total = a + b
    assert total.invalid_counts == {"label": 1, "group": 0, "prediction": 0, "score": 1,
                                    "probability": 1, "weight": 0}
    assert total.num_invalid == 3 and a.num_invalid == 1
    np.testing.assert_array_equal(total.exact_rows(),
                                  np.concatenate([a.exact_rows(), b.exact_rows()], axis=1))
    twin = total.copy()
    twin.update([1], [0.5], [7])
    assert twin.num_invalid == 4 and total.num_invalid == 3
    assert twin.exact_rows().shape == total.exact_rows().shape == (3, 3)


def test_report_passes_min_count_and_exact_rows_on():
    stats = GroupStats(2, exact_auc=True, min_count=3, from_logits=False)
    stats.update([1, 0, 1, 0, 1], [0.9, 0.2, 0.7, 0.6, 0.1], [0, 0, 0, 0, 1])
    rep = stats.report()
    assert rep.min_count == 3 and rep.exact_auc
    assert stats.report(min_count=0).min_count == 0
    with pytest.raises(ValueError, match="min_count must be a finite number >= 0"):
        GroupStats(2, min_count=-1)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 80), G=st.integers(1, 4), K=st.integers(3, 5), as_scores=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
def test_multiclass_invalid_rows_match_numpy(n, G, K, as_scores, seed):
    rs = np.random.RandomState(seed)
    y = rs.randint(0, K, n).astype(np.float64)
    g = rs.randint(0, G, n).astype(np.float64)
    y[rs.rand(n) < 0.1] = rs.choice([np.nan, 0.5, K, -1.0])
    g[rs.rand(n) < 0.1] = rs.choice([np.nan, 1.5, G, np.inf])
    if as_scores:
        preds = rs.randn(n, K).astype(np.float32)
        preds[rs.rand(n) < 0.1, rs.randint(0, K)] = rs.choice([np.nan, np.inf, -np.inf])
        with np.errstate(invalid="ignore"):
            bad_pred = ~np.isfinite(preds).all(axis=1)
        decided = np.argmax(np.nan_to_num(preds), axis=1)
    else:
        preds = rs.randint(0, K, n).astype(np.float32)
        preds[rs.rand(n) < 0.1] = rs.choice([np.nan, 0.5, K, -1.0])
        bad_pred = _bad_id(preds, K - 1)
        decided = np.where(bad_pred, 0, preds).astype(int)
    bad_y, bad_g = _bad_id(y, K - 1), _bad_id(g, G - 1)
    valid = ~(bad_y | bad_g | bad_pred)
    stats = GroupStats(G, num_classes=K)
    stats.update(mx.nd.array(y, dtype="float64"), mx.nd.array(preds),
                 mx.nd.array(g, dtype="float64"))
    expected = reference_counts(y[valid], decided[valid], g[valid], G, K)
    np.testing.assert_array_equal(stats.counts.asnumpy(), expected)
    reason = "score" if as_scores else "prediction"
    assert stats.invalid_counts["label"] == bad_y.sum()
    assert stats.invalid_counts["group"] == bad_g.sum()
    assert stats.invalid_counts[reason] == bad_pred.sum()
    assert stats.num_invalid == (~valid).sum()


@pytest.mark.parametrize("scale", ["probability", "logit"])
def test_bin_edges_say_which_bin_a_score_falls_in(scale):
    rs = np.random.RandomState(7)
    z = np.concatenate([rs.randn(300) * 12, [-50.0, 50.0, 0.0]])
    stats = GroupStats(1, num_bins=16, bin_scale=scale)
    stats.update(np.ones(z.size), z, np.zeros(z.size))
    edges = stats.bin_edges
    assert edges.shape == (17,) and edges[0] == 0 and edges[-1] == 1
    p = 1 / (1 + np.exp(-z))
    expected = np.bincount(np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 15),
                           minlength=16)
    np.testing.assert_array_equal(stats.hist.asnumpy()[0, 1], expected)
    if scale == "logit":
        from mxfair.postprocessing import ThresholdOptimizer

        with pytest.raises(ValueError, match="fit_stats needs GroupStats\\(bin_scale="
                           "'probability'\\) histograms"):
            ThresholdOptimizer().fit_stats(stats)


def test_a_batch_larger_than_the_float32_limit_is_split_without_changing_anything(monkeypatch):
    # unweighted counts of one call are summed in float32: a call is at most 2**23 rows; here
    # the limit is lowered to 7 rows so that the split is exercised on a small batch
    rs = np.random.RandomState(3)
    n = 50
    y, g = rs.randint(0, 2, n), rs.randint(0, 3, n)
    s = rs.randn(n)
    s[[4, 20]] = np.nan
    settings = dict(num_bins=5, bootstrap=3, seed=1, exact_auc=True)
    whole = GroupStats(3, **settings)
    whole.update(y, s, g)
    import mxfair.metrics.stats as stats_module

    monkeypatch.setattr(stats_module, "_MAX_BATCH", 7)
    split = GroupStats(3, **settings)
    split.update(y, s, g)
    for name in ("counts", "hist", "score_sums"):
        np.testing.assert_allclose(getattr(split, name).asnumpy(), getattr(whole, name).asnumpy())
    np.testing.assert_array_equal(split.exact_rows(), whole.exact_rows())
    assert split.invalid_counts == whole.invalid_counts
    assert split.boot_counts.asnumpy().sum() > 0  # replicates drawn per piece: other draws
