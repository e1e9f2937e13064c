"""IterateMixture (the randomized model over iterates as one block) and
BestIterate.mixture_net (the LP mixture of a run, deployed)."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from mxfair.metrics import GroupStats
from mxfair.training import BestIterate, IterateMixture, RateBound


def _constant(ctx, value, units=1, in_units=2):
    """A Dense block whose output is ``value * sum(x)`` per unit (bias 0)."""
    net = gluon.nn.Dense(units, in_units=in_units)
    net.initialize(mx.init.Constant(value), ctx=ctx)
    net.bias.set_data(mx.nd.zeros(units, ctx=ctx))
    return net


def _mlp(ctx):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(4, activation="relu"), gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


def test_each_row_gets_one_members_output_with_the_mixture_probabilities(ctx):
    p = np.array([0.2, 0.5, 0.3])
    mix = IterateMixture([_constant(ctx, v) for v in (1.0, 2.0, 3.0)], p)
    x = mx.nd.ones((30000, 2), ctx=ctx)  # member t outputs 2 * (t + 1) on every row
    mx.random.seed(3, ctx=ctx)
    out = mix(x)
    assert out.shape == (30000, 1) and out.context == ctx
    values = out.asnumpy().ravel()
    assert set(np.unique(values)) <= {2.0, 4.0, 6.0}
    shares = np.array([np.mean(values == v) for v in (2.0, 4.0, 6.0)])
    se = np.sqrt(p * (1 - p) / values.size)
    assert np.all(np.abs(shares - p) < 5 * se), shares


def test_the_noise_input_decides_the_member_at_the_cumulative_edges(ctx):
    mix = IterateMixture([_constant(ctx, v) for v in (1.0, -1.0)], [0.25, 0.75])
    noise = mx.nd.array([0.0, 0.2499, 0.25, 0.9999], ctx=ctx)
    out = mix(mx.nd.ones((4, 2), ctx=ctx), noise)
    np.testing.assert_array_equal(out.asnumpy().ravel(), [2.0, 2.0, -2.0, -2.0])
    again = mix(mx.nd.ones((4, 2), ctx=ctx), noise)  # the same draws: the same outputs
    np.testing.assert_array_equal(again.asnumpy(), out.asnumpy())


@pytest.mark.parametrize("units", [1, 3])
def test_output_shape_follows_the_members(ctx, units):
    members = [_constant(ctx, v, units=units) for v in (1.0, -1.0)]
    mix = IterateMixture(members, [0.5, 0.5])
    mix.hybridize()
    out = mix(mx.nd.ones((5, 2), ctx=ctx))
    assert out.shape == (5, units) and out.context == ctx
    # a whole row comes from one member: every column has the same sign
    signs = np.sign(out.asnumpy())
    assert np.all(signs == signs[:, :1])


def test_a_member_of_probability_zero_is_never_drawn(ctx):
    mix = IterateMixture([_constant(ctx, 1.0), _constant(ctx, -1.0)], [1.0, 0.0])
    out = mix(mx.nd.ones((2000, 2), ctx=ctx))
    assert np.all(out.asnumpy() == 2.0)


def test_exported_and_imported_it_draws_the_same(tmp_path, ctx):
    mix = IterateMixture([_constant(ctx, v) for v in (1.0, -1.0)], [0.4, 0.6])
    mix.hybridize()
    x = mx.nd.ones((6, 2), ctx=ctx)
    noise = mx.nd.array([0.1, 0.39, 0.4, 0.5, 0.7, 0.99], ctx=ctx)
    out = mix(x, noise)
    mix.export(str(tmp_path / "mix"))
    loaded = gluon.SymbolBlock.imports(str(tmp_path / "mix-symbol.json"), ["data0", "data1"],
                                       str(tmp_path / "mix-0000.params"), ctx=ctx)
    np.testing.assert_array_equal(loaded(x, noise).asnumpy(), out.asnumpy())
    np.testing.assert_array_equal(out.asnumpy().ravel(), [2, 2, -2, -2, -2, -2])


@pytest.mark.parametrize("members, probabilities, error, match", [
    ("two", [0.5, 0.5], TypeError, "members"),
    (7, [1.0], TypeError, "members must be a list"),
    ([], [], TypeError, "members"),
    (2, [0.3, 0.3, 0.4], ValueError, "probabilities has 3 entries for 2 members"),
    (2, [0.5, 0.4], ValueError, "sum to 1"),
    (2, [1.5, -0.5], ValueError, "non-negative"),
    (2, [float("nan"), 1.0], ValueError, "probabilities"),
    (2, ["a", "b"], TypeError, "probabilities"),
])
def test_refuses_bad_members_and_probabilities(ctx, members, probabilities, error, match):
    if members == 2:
        members = [_constant(ctx, 1.0), _constant(ctx, -1.0)]
    with pytest.raises(error, match=match):
        IterateMixture(members, probabilities)


def test_refuses_an_uninitialized_member_and_noise_of_the_wrong_length(ctx):
    with pytest.raises(ValueError, match="not initialized"):
        IterateMixture([gluon.nn.Dense(1, in_units=2)], [1.0])
    mix = IterateMixture([_constant(ctx, 1.0)], [1.0])
    with pytest.raises(ValueError, match="noise must have one draw per row"):
        mix(mx.nd.ones((4, 2), ctx=ctx), mx.nd.array([0.5, 0.5], ctx=ctx))


def _run(ctx, keep_all=True):
    """A few iterates of a net measured on fixed rows: their DP gap and accuracy differ."""
    rng = np.random.RandomState(0)
    x = rng.randn(400, 3).astype(np.float32)
    g = (rng.rand(400) < 0.5).astype(np.int64)
    x[:, 0] += g  # the first feature carries the group
    y = (x[:, 0] + 0.3 * rng.randn(400) > 0.5).astype(np.int64)
    net = _mlp(ctx)
    keeper = BestIterate(RateBound("demographic_parity", 2, bound=0.1), keep_all=keep_all)
    xs = mx.nd.array(x, ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    for step in range(12):
        with mx.autograd.record():
            loss = bce(net(xs), mx.nd.array(y, ctx=ctx))
        loss.backward()
        trainer.step(400)
        stats = GroupStats(2, from_logits=True, ctx=ctx)
        stats.update(y, net(xs), g)
        keeper.consider(net, stats, step=step)
    return keeper, net, xs


def test_mixture_net_deploys_the_lp_mixture_of_the_kept_iterates(ctx):
    keeper, net, xs = _run(ctx)
    p = keeper.mixture()
    support = np.flatnonzero(p > 1e-6)
    mix = keeper.mixture_net(lambda: _mlp(ctx))
    assert mix.num_members == support.size
    np.testing.assert_allclose(mix.probabilities, p[support] / p[support].sum())
    # Member k is iterate support[k]: with noise inside its share, the output is that
    # iterate's output (loaded into the trained net itself for the reference).
    upper = np.cumsum(mix.probabilities)
    lower = np.r_[0.0, upper[:-1]]
    for k, index in enumerate(support):
        keeper.load(net, int(index))
        noise = mx.nd.full((xs.shape[0],), (lower[k] + upper[k]) / 2, ctx=ctx)
        out = mix(xs, noise)
        assert out.context == ctx
        np.testing.assert_allclose(out.asnumpy(), net(xs).asnumpy(), rtol=1e-5, atol=1e-6)


def test_mixture_net_refusals(ctx):
    keeper, _, _ = _run(ctx, keep_all=False)
    with pytest.raises(ValueError, match="keep_all"):
        keeper.mixture_net(lambda: _mlp(ctx))
    keeper, _, _ = _run(ctx)
    with pytest.raises(TypeError, match="make_net must return a gluon HybridBlock"):
        keeper.mixture_net(lambda: "a net")
    with pytest.raises(ValueError, match="do not match the kept ones"):
        keeper.mixture_net(lambda: _constant(ctx, 1.0, in_units=3))


def test_members_on_two_contexts_draw_on_each(ctx):
    contexts = [mx.cpu(0), ctx]
    members = []
    for value in (1.0, -1.0):
        net = gluon.nn.Dense(1, in_units=2)
        net.initialize(mx.init.Constant(value), ctx=contexts)
        members.append(net)
    mix = IterateMixture(members, [0.5, 0.5])
    for c in contexts:  # one shard per device, as with split_and_load
        out = mix(mx.nd.ones((3, 2), ctx=c), mx.nd.array([0.1, 0.6, 0.2], ctx=c))
        assert out.context == c
        np.testing.assert_array_equal(out.asnumpy().ravel(), [2.0, -2.0, 2.0])
