"""GroupStats: device-side counts against a NumPy reference, contexts, merging, bootstrap."""
import mxnet as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxfair.metrics import GroupStats
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
    stats = GroupStats(num_groups=2)
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
    stats = GroupStats(G, threshold=threshold, num_bins=7)
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
    stats = GroupStats(500)
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
    stats = GroupStats(2)
    stats.update(mx.nd.array(y, dtype=dtype), mx.nd.array(hard, dtype=dtype),
                 mx.nd.array(g, dtype=dtype), mx.nd.ones(5, dtype=dtype))
    np.testing.assert_array_equal(stats.counts.asnumpy(), reference_counts(y, hard, g, 2, 2))


def test_multiclass_counts_scores_and_hard_labels():
    rs = np.random.RandomState(2)
    n, G, K = 300, 3, 4
    y, g = rs.randint(0, K, n), rs.randint(0, G, n)
    scores = rs.rand(n, K)
    expected = reference_counts(y, scores.argmax(axis=1), g, G, K)
    by_scores = GroupStats(G, num_classes=K)
    by_scores.update(y, mx.nd.array(scores, dtype="float64"), g)
    by_labels = GroupStats(G, num_classes=K)
    by_labels.update(mx.nd.array(y), mx.nd.array(scores.argmax(axis=1)), mx.nd.array(g))
    np.testing.assert_array_equal(by_scores.counts.asnumpy(), expected)
    np.testing.assert_array_equal(by_labels.counts.asnumpy(), expected)


def test_histogram_edges():
    stats = GroupStats(1, num_bins=4)
    stats.update([1, 1, 0, 0], [0.0, 1.0, 0.25, 0.999], [0, 0, 0, 0])
    np.testing.assert_array_equal(stats.hist.asnumpy()[0], [[0, 1, 0, 1], [1, 0, 0, 1]])


def test_empty_batch_is_a_no_op():
    stats = GroupStats(2)
    stats.update(np.zeros(0), np.zeros(0), np.zeros(0))
    stats.update([1], [0.8], [1])
    stats.update(np.zeros(0), np.zeros(0), np.zeros(0))
    assert stats.num_rows == 1.0


# ---------------------------------------------------------------------------------- context
def test_statistics_live_on_the_context_of_the_data(ctx):
    stats = GroupStats(2, num_bins=5, bootstrap=3, seed=0)
    stats.update(mx.nd.array([1, 0, 1], ctx=ctx), mx.nd.array([0.3, 0.6, 0.9], ctx=ctx),
                 mx.nd.array([0, 1, 1], ctx=ctx))
    assert stats.ctx == ctx
    for name, arr in stats.arrays().items():
        assert arr.context == ctx, name


def test_explicit_ctx_wins_over_host_data(ctx):
    stats = GroupStats(2, ctx=ctx)
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
    whole = GroupStats(4, num_bins=10, ctx=ctx)
    whole.update(y, score, g, w)
    a, b = GroupStats(4, num_bins=10, ctx=ctx), GroupStats(4, num_bins=10, ctx=ctx)
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
    a, b = GroupStats(2, bootstrap=4, seed=1), GroupStats(2, bootstrap=4, seed=2)
    a.update(y[:50], score[:50], g[:50])
    b.update(y[50:], score[50:], g[50:])
    total = a + b
    np.testing.assert_array_equal(total.boot_counts.asnumpy(),
                                  a.boot_counts.asnumpy() + b.boot_counts.asnumpy())
    empty = GroupStats(2, bootstrap=4)
    np.testing.assert_array_equal((empty + a).counts.asnumpy(), a.counts.asnumpy())
    np.testing.assert_array_equal((a + empty).counts.asnumpy(), a.counts.asnumpy())


def test_arrays_follow_state_order_and_copy_is_independent():
    stats = GroupStats(2, num_bins=3, bootstrap=2, seed=0)
    stats.update([1, 0], [0.2, 0.8], [0, 1])
    assert list(stats.arrays()) == list(_STATE)
    assert list(GroupStats(2).arrays()) == []
    clone = stats.copy()
    clone.update([1], [0.9], [0])
    assert stats.num_rows == 2.0 and clone.num_rows == 3.0


# -------------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_reproducible_with_a_seed():
    rs = np.random.RandomState(5)
    y, score, g = random_binary(rs, 500, 3)

    def run(seed):
        stats = GroupStats(3, num_bins=5, bootstrap=20, seed=seed)
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
    stats = GroupStats(2, bootstrap=50, seed=0)
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
    stats = GroupStats(1, bootstrap=5, seed=3)
    stats.update([1, 1], [0.9, 0.9], [0, 0], sample_weight=[2.0, 2.0])
    draws = np.random.RandomState(3).poisson(1.0, size=(5, 2))
    np.testing.assert_array_equal(stats.boot_counts.asnumpy()[:, 0, 1, 1], 2.0 * draws.sum(1))


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    ({"num_groups": 0}, "num_groups must be a positive integer"),
    ({"num_groups": 2.5}, "num_groups must be a positive integer"),
    ({"num_groups": 2, "num_classes": 1}, "num_classes must be at least 2"),
    ({"num_groups": 2, "threshold": 1.5}, "threshold must be in"),
    ({"num_groups": 2, "num_bins": -1}, "num_bins must be a non-negative integer"),
    ({"num_groups": 2, "bootstrap": 1.5}, "bootstrap must be a non-negative integer"),
    ({"num_groups": 2, "num_classes": 3, "num_bins": 5}, "need num_classes=2"),
    ({"num_groups": 2, "group_names": ["a"]}, "got 1 group_names for num_groups=2"),
])
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupStats(**kwargs)


def test_bad_update_and_merge():
    stats = GroupStats(2)
    with pytest.raises(ValueError, match="labels has 3 rows but preds has 2"):
        stats.update([1, 0, 1], [0.5, 0.5], [0, 1, 1])
    with pytest.raises(ValueError, match=r"preds must have shape \(N,\) or \(N, 2\)"):
        stats.update([1, 0], np.ones((2, 3)), [0, 1])
    with pytest.raises(TypeError, match="can only merge GroupStats, got dict"):
        stats.merge({})
    with pytest.raises(ValueError, match="cannot merge GroupStats"):
        stats.merge(GroupStats(3))


@pytest.mark.parametrize("weighted", [False, True])
def test_rows_with_ids_out_of_range_are_left_out_and_counted(weighted, ctx):
    # labels 2 and -1, groups -1 and 3 (G = 3): before, the weighted path wrote out of bounds
    # and a label of 2 was counted in the next group's cells
    y = np.array([1, 0, 2, 1, -1, 0, 1])
    s = np.array([0.9, 0.2, 0.8, 0.7, 0.1, 0.6, 0.3], dtype=np.float32)
    g = np.array([0, 1, 0, -1, 2, 3, 2])
    w = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 0.5]) if weighted else None
    stats = GroupStats(3, num_bins=4, bootstrap=3, seed=0)
    stats.update(*(mx.nd.array(a, ctx=ctx) for a in (y, s, g)),
                 None if w is None else mx.nd.array(w, ctx=ctx, dtype="float64"))
    valid = np.array([0, 1, 6])
    expected = reference_counts(y[valid], s[valid] >= 0.5, g[valid], 3, 2,
                                None if w is None else w[valid])
    np.testing.assert_array_equal(stats.counts.asnumpy(), expected)
    hist, _ = reference_hist(y[valid], s[valid], g[valid], 3, 4, None if w is None else w[valid])
    np.testing.assert_allclose(stats.hist.asnumpy(), hist)
    assert stats.num_invalid == (4 if w is None else w[[2, 3, 4, 5]].sum())
    with pytest.warns(UserWarning, match=r"label outside \[0, 2\) or a group id outside \[0, 3\)"):
        rep = stats.report()
    np.testing.assert_array_equal(rep.counts, expected)


def test_multiclass_hard_predictions_out_of_range_are_left_out(ctx):
    stats = GroupStats(2, num_classes=3)
    stats.update(mx.nd.array([0, 1, 2, 2], ctx=ctx), mx.nd.array([0, 5, 2, -1], ctx=ctx),
                 mx.nd.array([0, 1, 1, 0], ctx=ctx))
    np.testing.assert_array_equal(stats.counts.asnumpy(),
                                  reference_counts([0, 2], [0, 2], [0, 1], 2, 3))
    assert stats.num_invalid == 2


def test_threshold_is_a_probability_also_for_logits():
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        GroupStats(2, threshold=3.0, from_logits=True)


def test_reset_returns_to_the_given_context(ctx):
    stats = GroupStats(2)
    stats.update(mx.nd.array([1, 0], ctx=ctx), mx.nd.array([0.9, 0.1], ctx=ctx),
                 mx.nd.array([0, 1], ctx=ctx))
    assert stats.ctx == ctx
    stats.reset()
    stats.update(mx.nd.array([1, 0]), mx.nd.array([0.9, 0.1]), mx.nd.array([0, 1]))
    assert stats.ctx == mx.current_context() and stats.counts.context == mx.current_context()


def test_like_is_empty_with_the_same_settings(ctx):
    settings = dict(num_groups=2, num_classes=2, threshold=0.3, num_bins=4, bootstrap=3,
                    seed=5, from_logits=True, group_names=["x", "y"])
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


@pytest.mark.parametrize("setting", [{"threshold": 0.6}, {"from_logits": True}])
def test_merge_refuses_statistics_decided_another_way(setting):
    with pytest.raises(ValueError, match="cannot merge GroupStats"):
        GroupStats(2).merge(GroupStats(2, **setting))
