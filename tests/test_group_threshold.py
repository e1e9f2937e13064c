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
    return ThresholdOptimizer(constraint="equalized_odds", grid_size=20, from_logits=False).fit(
        scores, labels, groups)


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
    fresh = GroupThreshold(fitted.num_groups_, num_bins=fitted.num_bins_, mode="probability",
                           from_logits=False)
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
    opt = ThresholdOptimizer(constraint="demographic_parity", grid_size=50, from_logits=False).fit(
        probs, labels, groups)
    # the scorer emits logits, the block takes probabilities: a sigmoid goes in between
    net = with_thresholds(scorer, opt.to_block(mode="deterministic", ctx=ctx), from_logits=True)
    assert isinstance(net, ThresholdedNet)
    if hybridize:
        net.hybridize()
    out = net(xs, gs)
    assert out.context == ctx
    expected = opt.positive_probability(probs, gs).asnumpy() >= 0.5
    np.testing.assert_array_equal(out.asnumpy(), expected)
    # A probability-output net: no sigmoid (the block's kind by default), the same decisions.
    prob_net = gluon.nn.HybridSequential()
    prob_net.add(scorer, gluon.nn.Activation("sigmoid"))
    net2 = ThresholdedNet(prob_net, opt.to_block(mode="deterministic", ctx=ctx))
    assert net2.from_logits is False
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
    block = GroupThreshold(2, mode="deterministic", from_logits=False)
    block.initialize(ctx=ctx)
    s = mx.nd.array([0.2, 0.5, 0.7, 0.49], ctx=ctx)
    g = mx.nd.array([0, 1, 0, 5], ctx=ctx)
    # a plain 0.5 cut; the id outside [0, G) gets NaN, never a decision (main: 0)
    np.testing.assert_array_equal(block(s, g).asnumpy(), [0, 1, 1, np.nan])
    block.set_rule([[0.1, 0.1], [0.6, 0.8]], [[0, 1, 1], [0, 0.5, 1]])
    prob = GroupThreshold(2, mode="probability", from_logits=False)
    prob.initialize(ctx=ctx)
    prob.set_rule([[0.1, 0.1], [0.6, 0.8]], [[0, 1, 1], [0, 0.5, 1]])
    np.testing.assert_allclose(prob(mx.nd.array([0.05, 0.2, 0.7, 0.9, 0.9], ctx=ctx),
                                    mx.nd.array([0, 0, 1, 1, 2], ctx=ctx)).asnumpy(),
                               [0, 1, 0.5, 1, np.nan])
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


# ------------------------------------------------------------ conventions (issue 12)
@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("mode", ["deterministic", "probability", "random"])
def test_invalid_rows_give_nan_never_a_decision(ctx, hybridize, mode):
    # main decided NaN scores (as negatives), probabilities outside [0, 1] and bad group ids
    probs = GroupThreshold(2, mode=mode, from_logits=False)
    logits = GroupThreshold(2, mode=mode)  # the default: logits
    s = mx.nd.array([0.7, np.nan, 1.5, -0.2, 0.7, 0.7, np.inf], ctx=ctx)
    g = mx.nd.array([0, 0, 1, 1, 0.5, 2, 0], ctx=ctx)
    for block, bad in ((probs, [1, 2, 3, 4, 5, 6]), (logits, [1, 4, 5, 6])):
        block.initialize(ctx=ctx)
        if hybridize:
            block.hybridize()
        out = block(s, g).asnumpy()
        assert np.all(np.isnan(out[bad]))
        assert not np.any(np.isnan(np.delete(out, bad)))
    # logits 1.5 and -0.2 are fine as logits: sigmoid 0.82 and 0.45 against the 0.5 cut
    if mode == "deterministic":
        np.testing.assert_array_equal(logits(s, g).asnumpy()[[0, 2, 3]], [1, 1, 0])


def test_default_reads_a_dense1_nets_logits(ctx):
    # main's with_thresholds(net, block) read the logits as probabilities (29 of 200 test
    # decisions changed in the run)
    rng = np.random.RandomState(7)
    x = rng.randn(600, 4).astype(np.float32)
    groups = rng.randint(0, 2, 600)
    labels = ((x[:, 0] + 0.5 * groups + 0.5 * rng.randn(600)) > 0.3).astype(np.int64)
    scorer = _Scorer()
    scorer.initialize(mx.init.Xavier(), ctx=ctx)
    xs, gs = mx.nd.array(x, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    logits = scorer(xs).reshape((-1,))
    opt = ThresholdOptimizer(constraint="demographic_parity", grid_size=50).fit(logits, labels,
                                                                                groups)
    net = with_thresholds(scorer, opt.to_block(mode="deterministic", ctx=ctx))
    expected = opt.positive_probability(logits, gs).asnumpy() >= 0.5
    np.testing.assert_array_equal(net(xs, gs).asnumpy(), expected)
    probs = mx.nd.sigmoid(logits)
    on_probs = ThresholdOptimizer(constraint="demographic_parity", grid_size=50,
                                  from_logits=False).fit(
        probs, labels, groups)
    np.testing.assert_array_equal(on_probs.thresholds_, opt.thresholds_)


def test_clear_errors_lengths_outputs_kinds_and_nan_rules(ctx):
    block = GroupThreshold(2, mode="deterministic")
    block.initialize(ctx=ctx)
    with pytest.raises(ValueError, match="scores has 3 rows but groups has 1"):
        block(mx.nd.zeros(3, ctx=ctx), mx.nd.zeros(1, ctx=ctx))  # main: broadcast silently
    with pytest.raises(ValueError, match="thresholds must be finite"):
        block.set_rule([[np.nan, 0.5], [0.5, 0.5]], [[0, 0, 1], [0, 0, 1]])

    class TwoOutputs(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.dense = gluon.nn.Dense(1, in_units=3)

        def hybrid_forward(self, F, x):
            return self.dense(x), x

    two = TwoOutputs()
    two.initialize(ctx=ctx)
    for hybridize in (False, True):
        net = with_thresholds(two, block)
        if hybridize:
            net.hybridize()
        with pytest.raises(ValueError, match="the net returned 2 outputs"):
            net(mx.nd.ones((4, 3), ctx=ctx), mx.nd.zeros(4, ctx=ctx))
    scorer = gluon.nn.Dense(1, in_units=3)
    scorer.initialize(ctx=ctx)
    with pytest.raises(ValueError, match="x has 4 rows but groups has 3"):
        with_thresholds(scorer, block)(mx.nd.ones((4, 3), ctx=ctx), mx.nd.zeros(3, ctx=ctx))
    with pytest.raises(ValueError, match=r"from_logits=False\) says the net outputs prob"):
        with_thresholds(scorer, block, from_logits=False)
