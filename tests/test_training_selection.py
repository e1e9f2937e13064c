"""BestIterate (the kept model) and best_mixture (the randomized alternative)."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from mxfair.metrics import GroupStats
from mxfair.training import (
    BestIterate,
    BoundedFairLoss,
    NoFeasibleIterateWarning,
    RateBound,
    best_mixture,
)

Y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
G = np.array([0, 0, 0, 0, 1, 1, 1, 1])


def _stats(decisions, ctx=None) -> GroupStats:
    stats = GroupStats(2, from_logits=False, ctx=ctx)
    stats.update(Y, np.asarray(decisions, dtype=np.float32), G)
    return stats


# (decisions, DP gap, accuracy) of a few iterates, counted by hand.
FAIR_LOW = [0, 0, 0, 1, 0, 0, 0, 1]    # rates 1/4, 1/4: gap 0, accuracy 6/8
FAIR_HIGH = [0, 1, 0, 1, 0, 1, 0, 1]   # gap 0, accuracy 1
UNFAIR = [1, 1, 1, 1, 0, 0, 0, 1]      # rates 1, 1/4: gap 0.75, accuracy 5/8
CLOSE = [0, 1, 1, 1, 0, 1, 0, 1]       # rates 3/4, 1/2: gap 0.25, accuracy 7/8


def _net(ctx, value):
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(mx.init.Constant(value), ctx=ctx)
    return net


def test_keeps_the_most_accurate_iterate_within_the_bound(ctx):
    keeper = BestIterate(RateBound("demographic_parity", 2, bound=0.1))
    net = _net(ctx, 0.0)
    order = [(UNFAIR, 1.0), (FAIR_LOW, 2.0), (CLOSE, 3.0), (FAIR_HIGH, 4.0), (FAIR_LOW, 5.0)]
    kept = []
    for decisions, value in order:
        net.weight.set_data(mx.nd.full((1, 2), value, ctx=ctx))
        kept.append(keeper.consider(net, _stats(decisions, ctx)))
    # UNFAIR first (nothing else yet), then the first fair one, then the more accurate fair
    # one; CLOSE is more accurate than FAIR_LOW but outside the bound.
    assert kept == [True, True, False, True, False]
    assert keeper.best == {"step": 3, "gap": 0.0, "max_violation": -0.1, "score": 1.0,
                           "degenerate": False, "met": True}
    assert [r["met"] for r in keeper.history] == [False, True, False, True, True]
    record = keeper.restore(net)  # the kept parameters, though the net moved on
    assert record["step"] == 3
    np.testing.assert_array_equal(net.weight.data(ctx).asnumpy(), np.full((1, 2), 4.0))
    assert net.weight.data(ctx).context == ctx


def test_without_a_feasible_iterate_the_least_violating_one_is_kept_with_a_warning(ctx):
    keeper = BestIterate(BoundedFairLoss(2, bound=0.1))  # a loss carries its RateBound
    net = _net(ctx, 0.0)
    for decisions, value in [(UNFAIR, 1.0), (CLOSE, 2.0), (UNFAIR, 3.0)]:
        net.weight.set_data(mx.nd.full((1, 2), value, ctx=ctx))
        keeper.consider(net, _stats(decisions, ctx))
    assert not keeper.met and keeper.best["gap"] == 0.25
    with pytest.warns(NoFeasibleIterateWarning, match="no iterate met the bound 0.1"):
        keeper.restore(net)
    np.testing.assert_array_equal(net.weight.data(ctx).asnumpy(), np.full((1, 2), 2.0))


def test_a_model_no_better_than_the_majority_class_never_meets_the_bound(ctx):
    y = np.array([0, 0, 0, 1, 0, 0, 0, 1])  # majority class 0: 6 of 8
    keeper = BestIterate(RateBound("demographic_parity", 2, bound=0.1))
    net = _net(ctx, 0.0)
    trivial = GroupStats(2, from_logits=False, ctx=ctx)
    trivial.update(y, np.zeros(8, dtype=np.float32), G)  # all negative: gap 0, accuracy 6/8
    useful = GroupStats(2, from_logits=False, ctx=ctx)
    useful.update(y, np.array([0, 0, 1, 1, 0, 0, 0, 1], dtype=np.float32), G)  # gap 0.25, 7/8
    keeper.consider(net, trivial)
    assert keeper.history[0]["degenerate"] and not keeper.history[0]["met"]
    assert keeper.history[0]["gap"] == 0.0
    net.weight.set_data(mx.nd.full((1, 2), 2.0, ctx=ctx))
    assert keeper.consider(net, useful)  # violating but useful beats degenerate
    with pytest.warns(NoFeasibleIterateWarning):
        keeper.restore(net)
    np.testing.assert_array_equal(net.weight.data(ctx).asnumpy(), np.full((1, 2), 2.0))


def test_balanced_accuracy_score_and_keep_all(ctx):
    keeper = BestIterate(RateBound("demographic_parity", 2, 0.3), score="balanced_accuracy",
                         keep_all=True)
    net = _net(ctx, 0.0)
    for value, decisions in enumerate([FAIR_LOW, CLOSE, FAIR_HIGH]):
        net.weight.set_data(mx.nd.full((1, 2), float(value), ctx=ctx))
        keeper.consider(net, _stats(decisions, ctx))
    assert keeper.best["step"] == 2
    keeper.load(net, 1)
    np.testing.assert_array_equal(net.weight.data(ctx).asnumpy(), np.full((1, 2), 1.0))
    p = keeper.mixture()
    assert p.shape == (3,) and p.sum() == pytest.approx(1.0)
    assert p[2] == pytest.approx(1.0)  # a deterministic winner is also the best mixture


def test_refusals(ctx):
    keeper = BestIterate(RateBound("demographic_parity", 2, 0.1))
    with pytest.raises(ValueError, match="no iterate was considered yet"):
        keeper.restore(_net(ctx, 0.0))
    with pytest.raises(ValueError, match="needs BestIterate\\(keep_all=True\\)"):
        keeper.mixture()
    with pytest.raises(TypeError, match="bound must be a RateBound"):
        BestIterate(0.1)
    with pytest.raises(ValueError, match="score must be one of"):
        BestIterate(RateBound("demographic_parity", 2, 0.1), score="auc")
    keeper.consider(_net(ctx, 0.0), _stats(FAIR_LOW, ctx))
    other = gluon.nn.Dense(2, in_units=2)
    other.initialize(ctx=ctx)
    with pytest.raises(ValueError, match="do not match the kept ones"):
        keeper.restore(other)


def test_best_mixture_linear_program():
    rb = RateBound("demographic_parity", 2, bound=0.1)
    rates = np.array([[[0.5], [0.1]], [[0.3], [0.3]], [[0.2], [0.4]]])  # signed gaps .4, 0, -.2
    # Alone: iterate 0 is best but infeasible. Mixing 0 and 2 cancels the signed gaps:
    # p0 * 0.4 - p2 * 0.2 in [-0.1, 0.1] with the objective -(0.9 p0 + 0.7 p1 + 0.8 p2).
    p = best_mixture(np.array([-0.9, -0.7, -0.8]), rates, rb)
    assert p.sum() == pytest.approx(1.0) and np.all(p >= 0)
    gap = abs(p @ (rates[:, 0, 0] - rates[:, 1, 0]))
    assert gap <= 0.1 + 1e-9
    assert p @ np.array([0.9, 0.7, 0.8]) == pytest.approx(0.9 * 0.5 + 0.8 * 0.5)  # p0=p2=1/2
    # No mixture meets 0.1 when every iterate has the same sign: the least violation wins.
    p = best_mixture(np.array([-0.9, -0.7]), rates[:2] + np.array([[[0.0], [0.0]],
                                                                   [[0.2], [0.0]]]), rb)
    assert p[1] == pytest.approx(1.0)
