"""GroupThreshold / ThresholdedNet: graph decisions equal the optimizer's, and survive export."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from mxfair.postprocessing import (
    GroupThreshold,
    ThresholdedNet,
    ThresholdOptimizer,
    with_thresholds,
)

# SymbolBlock.imports cannot infer the dtype of the group-id input; float32 is right.
pytestmark = pytest.mark.filterwarnings("ignore:Cannot decide type")


def _data(n=3000, seed=0, num_groups=3):
    rng = np.random.RandomState(seed)
    groups = rng.randint(0, num_groups, n)
    labels = (rng.rand(n) < 0.3 + 0.15 * groups).astype(np.int64)
    logit = 2.0 * (labels - 0.5) + 0.5 * groups + rng.randn(n)
    return (1 / (1 + np.exp(-logit))).astype(np.float32), labels, groups


@pytest.fixture(scope="module")
def fitted():
    scores, labels, groups = _data()
    # Coarse bins so that many rows sit in a randomised step.
    return ThresholdOptimizer("equalized_odds", grid_size=20).fit(scores, labels, groups)


@pytest.mark.parametrize("hybridize", [False, True])
def test_block_matches_the_optimizer(fitted, ctx, hybridize):
    scores, _, groups = _data(1000, seed=1)
    s, g = mx.nd.array(scores, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    q = fitted.positive_probability(scores, groups)
    assert 0.02 < np.mean((q > 0) & (q < 1))  # some rows are randomised
    for mode, expected in (("probability", q), ("deterministic", q >= 0.5)):
        block = fitted.to_block(mode=mode, ctx=ctx)
        assert block.thresholds.data(ctx).context == ctx
        if hybridize:
            block.hybridize()
        out = block(s, g)
        assert out.context == ctx and out.shape == (1000,)
        np.testing.assert_allclose(out.asnumpy(), expected, atol=1e-7)
    # Random mode with a noise input is the optimizer's predict with the same draws.
    block = fitted.to_block(mode="random", ctx=ctx)
    if hybridize:
        block.hybridize()
    noise = np.random.RandomState(3).random_sample(1000)
    out = block(s, g, mx.nd.array(noise, ctx=ctx))
    np.testing.assert_array_equal(out.asnumpy(), fitted.predict(scores, groups, random_state=3))


def test_hybridize_off_and_on_agree_and_random_mode_is_seeded(fitted, ctx):
    scores, _, groups = _data(2000, seed=2)
    s, g = mx.nd.array(scores, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    outs = {}
    for hybridize in (False, True):
        block = fitted.to_block(mode="random", ctx=ctx)
        if hybridize:
            block.hybridize()
        runs = []
        for seed in (11, 11, 12):
            mx.random.seed(seed, ctx=ctx)
            runs.append(block(s, g).asnumpy())
        np.testing.assert_array_equal(runs[0], runs[1])  # same seed, same decisions
        assert not np.array_equal(runs[0], runs[2])
        outs[hybridize] = runs[0]
    np.testing.assert_array_equal(outs[False], outs[True])
    q = fitted.positive_probability(scores, groups)
    # The in-graph draws are uniform: decisions follow the probabilities.
    mixed = (q > 0) & (q < 1)
    assert abs(outs[True][mixed].mean() - q[mixed].mean()) < 0.1
    np.testing.assert_array_equal(outs[True][q == 0], 0)
    np.testing.assert_array_equal(outs[True][q == 1], 1)


def test_save_and_load_parameters(fitted, ctx, tmp_path):
    scores, _, groups = _data(500, seed=3)
    s, g = mx.nd.array(scores, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    block = fitted.to_block(mode="probability", ctx=ctx)
    path = str(tmp_path / "thr.params")
    block.save_parameters(path)
    fresh = GroupThreshold(fitted.num_groups_, num_bins=fitted.num_bins_, mode="probability")
    fresh.load_parameters(path, ctx=ctx)
    np.testing.assert_array_equal(fresh(s, g).asnumpy(), block(s, g).asnumpy())
    np.testing.assert_allclose(fresh.thresholds.data(ctx).asnumpy(), fitted.thresholds_)


@pytest.mark.parametrize("mode", ["deterministic", "probability", "random"])
def test_export_and_symbolblock_imports(fitted, ctx, tmp_path, mode):
    scores, _, groups = _data(800, seed=4)
    s, g = mx.nd.array(scores, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    block = fitted.to_block(mode=mode, ctx=ctx)
    block.hybridize()
    mx.random.seed(5, ctx=ctx)
    expected = block(s, g).asnumpy()
    prefix = str(tmp_path / "thr")
    block.export(prefix)
    imported = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data0", "data1"],
                                         prefix + "-0000.params", ctx=ctx)
    mx.random.seed(5, ctx=ctx)
    out = imported(s, g)
    assert out.context == ctx
    np.testing.assert_array_equal(out.asnumpy(), expected)


class _Scorer(gluon.nn.HybridSequential):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.add(gluon.nn.Dense(8, activation="relu", in_units=4), gluon.nn.Dense(1))


@pytest.mark.parametrize("hybridize", [False, True])
def test_thresholded_net_end_to_end(ctx, tmp_path, hybridize):
    rng = np.random.RandomState(6)
    x = rng.randn(1200, 4).astype(np.float32)
    groups = rng.randint(0, 2, 1200)
    labels = ((x[:, 0] + 0.5 * groups + 0.5 * rng.randn(1200)) > 0.3).astype(np.int64)
    scorer = _Scorer()
    scorer.initialize(mx.init.Xavier(), ctx=ctx)
    xs, gs = mx.nd.array(x, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    probs = mx.nd.sigmoid(scorer(xs)).reshape((-1,))
    opt = ThresholdOptimizer("demographic_parity", grid_size=50).fit(probs, labels, groups)
    net = with_thresholds(scorer, opt.to_block("deterministic", ctx=ctx), from_logits=True)
    assert isinstance(net, ThresholdedNet)
    if hybridize:
        net.hybridize()
    out = net(xs, gs)
    assert out.context == ctx
    expected = opt.positive_probability(probs, gs).asnumpy() >= 0.5
    np.testing.assert_array_equal(out.asnumpy(), expected)
    # A probability-output net: no sigmoid, the same decisions.
    prob_net = gluon.nn.HybridSequential()
    prob_net.add(scorer, gluon.nn.Activation("sigmoid"))
    net2 = ThresholdedNet(prob_net, opt.to_block("deterministic", ctx=ctx))
    if hybridize:
        net2.hybridize()
    np.testing.assert_array_equal(net2(xs, gs).asnumpy(), expected)
    # save/load of the whole net, then export -> imports with inputs (x, groups).
    path = str(tmp_path / "net.params")
    net.save_parameters(path)
    fresh_scorer = _Scorer()
    fresh = ThresholdedNet(fresh_scorer, GroupThreshold(2, num_bins=50, mode="deterministic"),
                           from_logits=True)
    fresh.load_parameters(path, ctx=ctx)
    np.testing.assert_array_equal(fresh(xs, gs).asnumpy(), expected)
    if hybridize:
        prefix = str(tmp_path / "served")
        net.export(prefix)
        served = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data0", "data1"],
                                           prefix + "-0000.params", ctx=ctx)
        np.testing.assert_array_equal(served(xs, gs).asnumpy(), expected)


def test_default_rule_set_rule_and_errors(ctx):
    block = GroupThreshold(2, mode="deterministic")
    block.initialize(ctx=ctx)
    s = mx.nd.array([0.2, 0.5, 0.7, 0.49], ctx=ctx)
    g = mx.nd.array([0, 1, 0, 5], ctx=ctx)
    np.testing.assert_array_equal(block(s, g).asnumpy(), [0, 1, 1, 0])  # a plain 0.5 cut
    block.set_rule([[0.1, 0.1], [0.6, 0.8]], [[0, 1, 1], [0, 0.5, 1]])
    prob = GroupThreshold(2, mode="probability")
    prob.initialize(ctx=ctx)
    prob.set_rule([[0.1, 0.1], [0.6, 0.8]], [[0, 1, 1], [0, 0.5, 1]])
    # An id outside [0, G) gets probability 0 (the graph cannot raise).
    np.testing.assert_allclose(prob(mx.nd.array([0.05, 0.2, 0.7, 0.9, 0.9], ctx=ctx),
                                    mx.nd.array([0, 0, 1, 1, 2], ctx=ctx)).asnumpy(),
                               [0, 1, 0.5, 1, 0])
    with pytest.raises(ValueError, match=r"expected thresholds of shape \(2, 2\)"):
        block.set_rule([[0.5, 0.5]], [[0, 0, 1]])
    with pytest.raises(ValueError, match="lo <= hi"):
        block.set_rule([[0.6, 0.5], [0.5, 0.5]], [[0, 0, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"probs must be in \[0, 1\]"):
        block.set_rule([[0.5, 0.5], [0.5, 0.5]], [[0, 0, 2], [0, 0, 1]])
    with pytest.raises(ValueError, match="mode must be one of"):
        GroupThreshold(2, mode="soft")
    with pytest.raises(ValueError, match="num_groups must be a positive integer"):
        GroupThreshold(0)
    with pytest.raises(TypeError, match="threshold must be a GroupThreshold"):
        ThresholdedNet(gluon.nn.Dense(1), gluon.nn.Dense(1))
