"""Tests of mxfair.data.samplers: target frequencies, seeds, lengths, FairBatch, sharding."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from scipy.stats import chisquare

from mxfair.data import (
    FairBatchSampler,
    GroupBalancedSampler,
    ReweighingSampler,
    cell_counts,
    reweighing_table,
    shard_range,
)
from mxfair.metrics import GroupStats


def _biased(n=3000, num_groups=2, seed=0):
    """Rows in random order whose positive rate depends on the group (0.15, 0.35, ...)."""
    rng = np.random.RandomState(seed)
    share = np.linspace(2, 1, num_groups)  # larger groups first
    g = rng.choice(num_groups, size=n, p=share / share.sum())
    y = (rng.rand(n) < 0.15 + 0.2 * g).astype(np.int64)
    return y, g


def _cell_freq(indices, y, g, num_groups, num_classes=2):
    idx = np.asarray(indices)
    return cell_counts(y[idx], g[idx], num_groups=num_groups, num_classes=num_classes)


def _epochs(sampler, k):
    return np.concatenate([np.asarray(list(sampler)) for _ in range(k)])


# ----------------------------------------------------------------------- ReweighingSampler
def test_reweighing_sampler_follows_the_reweighed_distribution():
    y, g = _biased()
    sampler = ReweighingSampler(y, g, seed=1)
    counts = cell_counts(y, g)
    p_g, p_y = counts.sum(1) / len(y), counts.sum(0) / len(y)
    target = np.outer(p_g, p_y)  # P(g) P(y)
    np.testing.assert_allclose(sampler.target_, target)
    drawn = _epochs(sampler, 10)
    assert len(drawn) == 10 * len(y)
    obs = _cell_freq(drawn, y, g, 2).ravel()
    assert chisquare(obs, target.ravel() * obs.sum()).pvalue > 0.01
    # the plain data distribution is rejected against the same target: the test has power
    plain = counts.ravel() * 10
    assert chisquare(plain, target.ravel() * plain.sum()).pvalue < 1e-6
    # rows within a cell are uniform
    row_hits = np.bincount(drawn, minlength=len(y))
    cell = g * 2 + y
    for c in range(4):
        hits = row_hits[cell == c]
        assert chisquare(hits).pvalue > 1e-3


def _assert_even_use(drawn, y, g, num_groups):
    """Rows of a cell are used evenly: use counts within a cell differ by at most one."""
    hits = np.bincount(drawn, minlength=len(y))
    cell = g * 2 + y
    for c in range(num_groups * 2):
        h = hits[cell == c]
        if h.sum():
            assert h.max() - h.min() <= 1, (c, h.min(), h.max())


def test_reweighing_sampler_without_replacement_is_exact_per_cell():
    y, g = _biased()
    sampler = ReweighingSampler(y, g, replacement=False, seed=0)
    first = np.asarray(list(sampler))
    under = (sampler.target_ * len(y) <= cell_counts(y, g) - 1).ravel()
    cell = g[first] * 2 + y[first]
    for c in np.flatnonzero(under):  # an under-sampled cell takes each row at most once
        rows = first[cell == c]
        assert len(np.unique(rows)) == len(rows)
    drawn = [first]
    for _ in range(4):
        drawn.append(np.asarray(list(sampler)))
        obs = _cell_freq(drawn[-1], y, g, 2)
        assert np.all(np.abs(obs - sampler.target_ * len(y)) < 1.0 + 1e-9)
    _assert_even_use(np.concatenate(drawn), y, g, 2)  # the cycle goes on across epochs


def test_seeds_reproduce_and_epochs_differ():
    y, g = _biased(500)
    a, b = ReweighingSampler(y, g, seed=7), ReweighingSampler(y, g, seed=7)
    ea = [list(a) for _ in range(3)]
    assert ea == [list(b) for _ in range(3)]
    assert ea[0] != ea[1] != ea[2]
    assert list(ReweighingSampler(y, g, seed=8)) != ea[0]
    assert all(isinstance(i, int) for i in ea[0])


@pytest.mark.parametrize("last_batch", ["keep", "discard", "rollover"])
@pytest.mark.parametrize("num_samples", [None, 250, 1003])
def test_len_through_batch_sampler_and_dataloader(last_batch, num_samples):
    y, g = _biased(500)
    sampler = ReweighingSampler(y, g, num_samples=num_samples, seed=0)
    n = num_samples or 500
    assert len(sampler) == n == len(list(sampler))
    bs = gluon.data.BatchSampler(sampler, 64, last_batch)
    for _ in range(3):  # rollover carries rows over: len is checked before each epoch
        expected = len(bs)
        batches = list(bs)
        assert len(batches) == expected
        assert all(len(b) == 64 for b in batches[:-1])
    dataset = gluon.data.ArrayDataset(np.arange(500, dtype=np.float32), y, g)
    loader = gluon.data.DataLoader(dataset, batch_size=64, sampler=sampler,
                                   last_batch=last_batch)
    for _ in range(2):
        expected = len(loader)
        seen = [x.shape[0] for x, _, _ in loader]
        assert len(seen) == expected
    if last_batch == "discard":
        assert len(loader) == n // 64


def test_ndarray_inputs(ctx):
    y, g = _biased(400)
    a = ReweighingSampler(mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx), seed=3)
    b = ReweighingSampler(y, g, seed=3)
    assert list(a) == list(b)
    f = FairBatchSampler(mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx), 32, seed=3)
    assert list(f) == list(FairBatchSampler(y, g, 32, seed=3))


def test_sampler_errors():
    y, g = _biased(100)
    with pytest.raises(ValueError, match="labels has 100 rows but groups has 99"):
        ReweighingSampler(y, g[:99])
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        ReweighingSampler(y, g + 1, num_groups=2)
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        ReweighingSampler(y, g, num_samples=0)
    with pytest.raises(ValueError, match=r"part_index must be in \[0, num_parts=2\)"):
        ReweighingSampler(y, g, num_parts=2, part_index=2)
    with pytest.raises(TypeError, match="replacement must be True or False"):
        ReweighingSampler(y, g, replacement="yes")
    y_empty = y.copy()
    y_empty[g == 1] = 1  # cell (group 1, label 0) empty
    with pytest.raises(ValueError, match=r"\(group=1, label=0\) cell has no rows"):
        ReweighingSampler(y_empty, g)
    with pytest.raises(ValueError, match="empty"):
        ReweighingSampler(np.array([], dtype=int), np.array([], dtype=int))


def test_single_label_data_is_uniform():
    g = np.repeat([0, 1, 2], [50, 30, 20])
    sampler = ReweighingSampler(np.zeros(100, dtype=int), g, seed=0)
    np.testing.assert_allclose(sampler.target_.ravel(), [0.5, 0.3, 0.2])
    np.testing.assert_allclose(sampler.cell_weights_, 1.0)


# --------------------------------------------------------------------- GroupBalancedSampler
def test_group_balanced_equal_and_given_proportions():
    y, g = _biased(2000, num_groups=3)
    eq = GroupBalancedSampler(y, g, seed=0)
    np.testing.assert_allclose(eq.target_, np.full((3, 2), 1 / 6))
    obs = _cell_freq(_epochs(eq, 5), y, g, 3).ravel()
    assert chisquare(obs).pvalue > 0.01
    props = np.array([[0, 1], [0, 2], [0, 1]])  # groups balanced 1:2:1 among positives only
    given = GroupBalancedSampler(y, g, proportions=props, num_samples=4000, seed=0)
    obs = _cell_freq(list(given), y, g, 3)
    assert obs[:, 0].sum() == 0
    assert chisquare(obs[:, 1], np.array([1, 2, 1]) / 4 * 4000).pvalue > 0.01


def test_group_balanced_errors():
    y, g = _biased(200)
    with pytest.raises(ValueError, match=r"non-negative \(2, 2\) table .* shape \(2,\)"):
        GroupBalancedSampler(y, g, proportions=[1, 1])
    with pytest.raises(ValueError, match="positive sum"):
        GroupBalancedSampler(y, g, proportions=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"cell \(group=2, label=1\) the share 0.2"):
        GroupBalancedSampler(y, g, proportions=np.ones((3, 2)) * [[1, 1], [1, 1], [0, 1]],
                             num_groups=3)


# ------------------------------------------------------------------------------- sharding
def test_shard_range_partitions():
    for n, parts in [(10, 3), (7, 7), (5, 2), (1000, 4)]:
        ranges = [shard_range(n, num_parts=parts, part_index=i) for i in range(parts)]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        sizes = [e - s for s, e in ranges]
        assert max(sizes) - min(sizes) <= 1


def test_shards_draw_their_rows_with_global_weights():
    y, g = _biased(4000)
    full = ReweighingSampler(y, g, seed=0)
    drawn = []
    for part in range(2):
        s = ReweighingSampler(y, g, seed=part, num_parts=2, part_index=part)
        start, end = s.shard
        assert len(s) == end - start == 2000
        np.testing.assert_allclose(s.cell_weights_, full.cell_weights_)
        idx = _epochs(s, 5)
        assert idx.min() >= start and idx.max() < end
        drawn.append(idx)
    # local rows with global counts give the same weights as the shard of the full arrays
    start, end = shard_range(4000, num_parts=2, part_index=1)
    local = ReweighingSampler(y[start:end], g[start:end], cell_counts=cell_counts(y, g))
    np.testing.assert_allclose(local.cell_weights_, reweighing_table(y, g))
    obs = _cell_freq(np.concatenate(drawn), y, g, 2).ravel()
    assert chisquare(obs, full.target_.ravel() * obs.sum()).pvalue > 0.01


# ------------------------------------------------------------------------------- FairBatch
def test_fairbatch_batches_are_exact_and_len_is_right():
    y, g = _biased(1000)
    for last_batch, expected in [("discard", 1000 // 64), ("keep", 1000 // 64 + 1)]:
        fb = FairBatchSampler(y, g, 64, last_batch=last_batch, seed=0)
        for _ in range(2):
            batches = list(fb)
            assert len(batches) == len(fb) == expected
            assert [len(b) for b in batches[:15]] == [64] * 15
            if last_batch == "keep":
                assert len(batches[-1]) == 1000 % 64
            for b in batches[:15]:  # per-batch composition within one row of the target
                comp = _cell_freq(b, y, g, 2)
                assert np.all(np.abs(comp - fb.target_ * 64) < 1.0 + 1e-9)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(np.arange(1000.0), y, g),
                                   batch_sampler=fb)
    assert len(loader) == len([b for b in loader])
    with pytest.raises(ValueError, match="last_batch must be one of"):
        FairBatchSampler(y, g, 64, last_batch="rollover")


def test_fairbatch_without_replacement_covers_each_cell_before_repeating():
    y, g = _biased(1000)
    fb = FairBatchSampler(y, g, 100, seed=0)
    rows = np.concatenate([np.concatenate(list(fb)) for _ in range(5)])
    assert len(rows) == 5000
    _assert_even_use(rows, y, g, 2)
    np.testing.assert_allclose(fb.target_, cell_counts(y, g) / 1000)  # starts at the data's own


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fairbatch_without_replacement_never_repeats_a_row_inside_a_batch(seed):
    # Small cells that run out inside a batch (every third batch or so); ratios moved away
    # from the data's own, as after a few updates.
    y, g = _biased(1000, seed=seed)
    fb = FairBatchSampler(y, g, 333, seed=seed, alpha=0.1)
    fb.update(np.array([[0.1, 0.9], [0.2, 0.1]]))
    batches = [b for _ in range(6) for b in fb]
    assert all(len(b) == 333 for b in batches)
    assert [len(b) - len(set(b)) for b in batches] == [0] * len(batches)
    # still every row of a cell once per pass, and the batch composition exact
    _assert_even_use(np.concatenate(batches), y, g, 2)
    for b in batches:
        assert np.all(np.abs(_cell_freq(b, y, g, 2) - fb.target_ * 333) < 1.0 + 1e-9)


def test_fairbatch_repeats_only_a_cell_smaller_than_its_share_of_a_batch():
    y = np.array([0] * 50 + [1] * 50 + [0] * 50 + [1] * 3)  # cell (group 1, label 1): 3 rows
    g = np.array([0] * 100 + [1] * 53)
    fb = FairBatchSampler(y, g, 100, constraint="eqopp", seed=0, alpha=0.3)
    fb.update(np.array([[0.1, 0.1], [0.1, 0.9]]))  # group 1's positives: 30% of y=1 rows
    for b in fb:
        b = np.asarray(b)
        small = b[(g[b] == 1) & (y[b] == 1)]
        assert len(small) > 3
        others = b[~((g[b] == 1) & (y[b] == 1))]
        assert len(set(others)) == len(others)
        assert np.bincount(small).max() - np.bincount(small)[np.bincount(small) > 0].min() <= 1


def _two_group_losses(l_pos, l_neg):
    """(G, K) losses: column 0 = label 0, column 1 = label 1; rows are groups 0, 1."""
    return np.array([[l_neg[0], l_pos[0]], [l_neg[1], l_pos[1]]])


def test_fairbatch_two_groups_is_the_papers_rule():
    y, g = _biased(2000)
    alpha = 0.05
    fb = FairBatchSampler(y, g, 100, constraint="eqopp", alpha=alpha, seed=0)
    lam0 = fb.lambdas_.copy()
    fb.update(_two_group_losses(l_pos=(0.3, 0.6), l_neg=(0.9, 0.1)))  # group 1 worse on y=1
    np.testing.assert_allclose(fb.lambdas_[1], lam0[1] + [-alpha, alpha])
    np.testing.assert_allclose(fb.lambdas_[0], lam0[0])  # eqopp leaves the negatives alone
    fb.update(np.array([0.6, 0.3]))  # per-group losses of the positives: group 0 worse
    np.testing.assert_allclose(fb.lambdas_[1], lam0[1])
    # eqodds: the label with the larger gap moves, toward its worse group
    fb = FairBatchSampler(y, g, 100, constraint="eqodds", alpha=alpha, seed=0)
    fb.update(_two_group_losses(l_pos=(0.3, 0.4), l_neg=(0.9, 0.1)))
    np.testing.assert_allclose(fb.lambdas_[0], lam0[0] + [alpha, -alpha])
    np.testing.assert_allclose(fb.lambdas_[1], lam0[1])
    # dp: group 1 least selected among positives -> more group-1 positives
    fb = FairBatchSampler(y, g, 100, constraint="dp", alpha=alpha, seed=0)
    fb.update(_two_group_losses(l_pos=(0.1, 0.5), l_neg=(0.3, 0.35)))
    np.testing.assert_allclose(fb.lambdas_[1], lam0[1] + [-alpha, alpha])
    # ...and on the negatives, fewer negatives of the group with the larger dp loss
    fb.update(_two_group_losses(l_pos=(0.3, 0.3), l_neg=(0.1, 0.6)))
    np.testing.assert_allclose(fb.lambdas_[0], lam0[0] + [alpha, -alpha])
    # clipping to [0, 1]
    fb = FairBatchSampler(y, g, 100, constraint="eqopp", alpha=1.0, seed=0)
    fb.update(np.array([0.1, 0.9]))
    np.testing.assert_allclose(fb.lambdas_[1], [0.0, 1.0])
    assert fb.target_[0, 1] == 0.0
    b = np.concatenate(list(fb))
    assert not np.any((g[b] == 0) & (y[b] == 1))
    # a tie moves nothing
    fb = FairBatchSampler(y, g, 100, constraint="eqopp", seed=0)
    fb.update(np.array([0.4, 0.4]))
    np.testing.assert_allclose(fb.lambdas_, lam0)
    # predictive equality: the eqopp rule on the negatives, whatever the positives' gap
    fb = FairBatchSampler(y, g, 100, constraint="predictive_equality", alpha=alpha, seed=0)
    fb.update(_two_group_losses(l_pos=(0.1, 0.9), l_neg=(0.2, 0.5)))  # group 1 worse on y=0
    np.testing.assert_allclose(fb.lambdas_[0], lam0[0] + [-alpha, alpha])
    np.testing.assert_allclose(fb.lambdas_[1], lam0[1])  # the positives are left alone
    fb.update(_two_group_losses(l_pos=(0.1, 0.9), l_neg=(0.6, 0.5)))  # now group 0 worse
    np.testing.assert_allclose(fb.lambdas_[0], lam0[0])


def test_fairbatch_predictive_equality_with_three_classes():
    rng = np.random.RandomState(1)
    y, g = rng.randint(0, 3, 600), rng.randint(0, 2, 600)
    fb = FairBatchSampler(y, g, 60, constraint="false_positive_rate_parity", pos_label=1,
                          alpha=0.05, seed=0)
    assert fb.constraint == "predictive_equality"
    lam0 = fb.lambdas_.copy()
    # gaps: label 0 -> 0.1, label 1 (positive, not a negative) -> 0.8, label 2 -> 0.4
    fb.update(np.array([[0.3, 0.1, 0.2], [0.4, 0.9, 0.6]]))
    np.testing.assert_allclose(fb.lambdas_[2], lam0[2] + [-0.05, 0.05])
    np.testing.assert_allclose(fb.lambdas_[[0, 1]], lam0[[0, 1]])


def test_fairbatch_more_than_two_groups_stays_on_the_simplex():
    y, g = _biased(3000, num_groups=3)
    alpha = 0.06
    fb = FairBatchSampler(y, g, 120, constraint="eqopp", alpha=alpha, seed=0)
    lam0 = fb.lambdas_[1].copy()
    fb.update(np.array([0.2, 0.7, 0.4]))  # group 1 worst
    np.testing.assert_allclose(fb.lambdas_[1], lam0 + [-alpha / 2, alpha, -alpha / 2])
    for _ in range(50):
        fb.update(np.array([0.2, 0.7, 0.4]))
        assert np.isclose(fb.lambdas_[1].sum(), 1.0) and np.all(fb.lambdas_[1] >= 0)
    np.testing.assert_allclose(fb.lambdas_[1], [0, 1, 0], atol=1e-12)
    # a group with an undefined loss is left out of the choice
    fb = FairBatchSampler(y, g, 120, constraint="eqopp", alpha=alpha, seed=0)
    fb.update(np.array([np.nan, 0.2, 0.4]))
    assert fb.lambdas_[1][2] > lam0[2] and fb.lambdas_[1][1] < lam0[1]


def test_fairbatch_moves_toward_the_disadvantaged_group_from_a_real_model(ctx):
    # group 1 positives sit closer to the boundary: a plain model misses them more often
    rng = np.random.RandomState(0)
    n = 2000
    g = rng.randint(2, size=n)
    y = (rng.rand(n) < 0.4).astype(np.int64)
    x = rng.randn(n, 2) + np.where(y == 1, 1.5 - 1.2 * g, -1.5)[:, None]
    x = np.hstack([x, g[:, None]]).astype(np.float32)
    fb = FairBatchSampler(y, g, 100, constraint="eqopp", alpha=0.02, seed=0)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Zero(), ctx=ctx)
    net.hybridize()
    loss_fn = gluon.loss.SigmoidBCELoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y, g), batch_sampler=fb)
    X = mx.nd.array(x, ctx=ctx)
    shares = [fb.lambdas_[1, 1]]
    tpr = []
    for _ in range(4):
        for xb, yb, _gb in loader:
            with mx.autograd.record():
                loss = loss_fn(net(xb.as_in_context(ctx)), yb.astype('float32').as_in_context(ctx))
            loss.backward()
            trainer.step(xb.shape[0])
        probs = net(X).sigmoid().reshape(-1)
        stats = GroupStats(num_groups=2, from_logits=False)  # probabilities
        stats.update(mx.nd.array(y, ctx=ctx), probs, mx.nd.array(g, ctx=ctx))
        rep = stats.report()
        tpr.append(rep["true_positive_rate"])
        cell = fb.cell_losses(probs=probs)
        assert cell[1, 1] > cell[0, 1]  # group 1 positives have the larger loss
        fb.update(probs=probs)
        shares.append(fb.lambdas_[1, 1])
        fb2 = FairBatchSampler(y, g, 100, constraint="eqopp", alpha=0.02, seed=0)
        fb2.lambdas_ = fb.history_[-2].copy()
        fb2.update(stats)  # the GroupStats route moves the same way
        np.testing.assert_allclose(fb2.lambdas_, fb.lambdas_)
    assert np.all(np.diff(shares) > 0)  # more group-1 positives at every epoch
    assert tpr[0][1] < tpr[0][0]
    assert tpr[-1][0] - tpr[-1][1] < tpr[0][0] - tpr[0][1]  # the TPR gap closes


def test_fairbatch_update_errors_and_sharding():
    y, g = _biased(1000)
    fb = FairBatchSampler(y, g, 50, constraint="eqodds", seed=0)
    with pytest.raises(ValueError, match="exactly one of"):
        fb.update()
    with pytest.raises(ValueError, match="exactly one of"):
        fb.update(np.zeros((2, 2)), probs=np.zeros(1000))
    with pytest.raises(ValueError, match="drive only constraint='equal_opportunity'"):
        fb.update(np.zeros(2))
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        fb.update(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"probs must have shape \(1000,\)"):
        fb.update(probs=np.zeros(10))
    with pytest.raises(ValueError, match="no data yet"):
        fb.update(GroupStats(num_groups=2))
    with pytest.raises(ValueError, match="constraint must be one of .* got 'parity'"):
        FairBatchSampler(y, g, 50, constraint="parity")
    # the spelling of earlier releases (fairness=) and a positional constraint fail loudly
    with pytest.raises(TypeError, match="fairness"):
        FairBatchSampler(y, g, 50, fairness="eqopp")
    with pytest.raises(TypeError, match="positional"):
        FairBatchSampler(y, g, 50, "eqopp")
    # the message names the expected type as well as the range (it read "alpha must be in")
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 1\], got 0.0"):
        FairBatchSampler(y, g, 50, alpha=0.0)
    for bad in (np.nan, np.inf, True, "0.01", 1.5):
        with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 1\], got"):
            FairBatchSampler(y, g, 50, alpha=bad)
    fb = FairBatchSampler(y, g, 50, alpha=np.float32(0.25))
    assert fb.alpha == 0.25 and fb.constraint == "equalized_odds"
    with pytest.raises(ValueError, match="smaller than batch_size"):
        FairBatchSampler(y, g, 2000)
    parts = [FairBatchSampler(y, g, 50, num_parts=2, part_index=i, seed=i) for i in range(2)]
    for i, p in enumerate(parts):
        start, end = shard_range(1000, num_parts=2, part_index=i)
        rows = np.concatenate(list(p))
        assert rows.min() >= start and rows.max() < end and len(p) == 500 // 50
        np.testing.assert_allclose(p.lambdas_, FairBatchSampler(y, g, 50).lambdas_)
    y_sorted = np.sort(y)
    with pytest.raises(ValueError, match=r"part 0 of 2 has no row in cell \(group=0, label=1\)"):
        FairBatchSampler(y_sorted, g, 50, num_parts=2, part_index=0)


def test_fairbatch_update_from_confusion_counts():
    from mxfair.metrics import FairnessReport

    y, g = _biased(1000)
    # [group, true, pred]: group 1 misses more positives (FNR 0.5 vs 0.2), FPR equal (0.1)
    counts = np.array([[[90, 10], [8, 32]], [[45, 5], [20, 20]]], dtype=float)
    for fairness, label, direction in [("eqopp", 1, +1), ("eqodds", 1, +1), ("dp", 1, +1)]:
        fb = FairBatchSampler(y, g, 50, constraint=fairness, alpha=0.01, seed=0)
        before = fb.lambdas_.copy()
        fb.update(FairnessReport(counts))
        np.testing.assert_allclose(fb.lambdas_[label] - before[label],
                                   [-0.01 * direction, 0.01 * direction])
    fb = FairBatchSampler(y, g, 50, constraint="dp", seed=0)
    fb.update(FairnessReport(counts))
    # dp loss: share of the group in the cell and not predicted positive
    np.testing.assert_allclose(fb.last_cell_losses_, [[90 / 140, 8 / 140], [45 / 90, 20 / 90]])
    fb = FairBatchSampler(y, g, 50, constraint="eqodds", seed=0)
    fb.update(FairnessReport(counts))
    np.testing.assert_allclose(fb.last_cell_losses_, [[0.1, 0.2], [0.1, 0.5]])
    # predictive equality: equal FPRs here, so nothing moves; a larger FPR of group 1 (0.3)
    # gives group 1 a larger share of the negatives
    fb = FairBatchSampler(y, g, 50, constraint="predictive_equality", alpha=0.01, seed=0)
    before = fb.lambdas_.copy()
    fb.update(FairnessReport(counts))
    np.testing.assert_allclose(fb.lambdas_, before)
    counts[1, 0] = [35, 15]
    fb.update(FairnessReport(counts))
    np.testing.assert_allclose(fb.lambdas_[0] - before[0], [-0.01, 0.01])
    np.testing.assert_allclose(fb.lambdas_[1], before[1])


def test_fairbatch_with_replacement_draws_per_batch_composition():
    y, g = _biased(1000)
    fb = FairBatchSampler(y, g, 64, replacement=True, seed=0)
    fb.update(np.array([[0.1, 0.2], [0.1, 0.6]]))
    for b in fb:
        assert len(b) == 64
        assert np.all(np.abs(_cell_freq(b, y, g, 2) - fb.target_ * 64) < 1.0 + 1e-9)


# ------------------------------------------------------------- ids, seeds, advice (issue 12)
@pytest.mark.parametrize("make", [
    lambda y, g: ReweighingSampler(y, g, seed=0),
    lambda y, g: GroupBalancedSampler(y, g, seed=0),
    lambda y, g: FairBatchSampler(y, g, batch_size=10, seed=0),
])
def test_string_or_nan_ids_are_refused_by_name(make):
    y, g = _biased(200)
    with pytest.raises(TypeError, match=r"groups must hold numeric ids.*mxfair.GroupEncoder"):
        make(y, np.where(g == 0, "f", "m"))  # main: a NumPy ufunc error
    with pytest.raises(ValueError, match=r"groups: group ids must be integers >= 0, got 1 NaN"):
        make(y, np.where(np.arange(200) == 5, np.nan, g))
    with pytest.raises(ValueError, match=r"labels must be integers >= 0, got non-integer"):
        make(np.where(np.arange(200) == 5, 0.5, y), g)


@pytest.mark.parametrize("seed", [np.int64(3), np.uint32(3), [3, 1], np.array([3, 1]), None])
def test_seeds_take_what_numpy_takes(seed):
    y, g = _biased(200)
    a, b = ReweighingSampler(y, g, seed=seed), ReweighingSampler(y, g, seed=seed)
    if seed is not None:
        assert list(a) == list(b)
        assert list(FairBatchSampler(y, g, batch_size=10, seed=seed)) == list(
            FairBatchSampler(y, g, batch_size=10, seed=seed))


@pytest.mark.parametrize("seed, error", [("3", TypeError), (1.5, TypeError), (-1, ValueError),
                                         (2**32, ValueError), (True, TypeError)])
def test_bad_seeds_name_the_argument(seed, error):
    y, g = _biased(200)
    with pytest.raises(error, match="seed must be None, an int in"):
        ReweighingSampler(y, g, seed=seed)


def test_empty_cell_advice_is_an_option_the_sampler_takes():
    y = np.array([1, 1, 0, 1, 1, 0, 0, 1])  # group 1 has no negative
    g = np.array([0, 0, 0, 1, 1, 0, 0, 1])
    with pytest.raises(ValueError, match="pass empty='zero'"):
        ReweighingSampler(y, g, seed=0)
    with pytest.warns(UserWarning, match="weight is set to 0"):
        sampler = ReweighingSampler(y, g, seed=0, empty="zero")  # main: unexpected keyword
    assert sampler.cell_weights_[1, 0] == 0 and len(list(sampler)) == 8
