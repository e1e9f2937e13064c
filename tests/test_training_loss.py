"""BoundedFairLoss: values against NumPy, gradients, where arrays land, the weights' lifecycle,
bad input, and one small training run to a bound on held-out rows."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

from mxfair.metrics import GroupStats
from mxfair.training import BestIterate, BoundedFairLoss, constraint_slice


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reference(loss_fn, z, y, g, w=None):
    """w_0 * BCE + sum_{c, a<b} w[c,a,b] |soft rate_a - soft rate_b| (NumPy)."""
    p = _sigmoid(z)
    w = np.ones_like(z) if w is None else w
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * w
    stat = loss_fn.rate_bound.rates
    masks = {"selection_rate": np.ones_like(y), "true_positive_rate": y,
             "false_positive_rate": 1 - y}
    rates = np.zeros((loss_fn.num_groups, len(stat)))
    present = np.zeros_like(rates)
    for c, name in enumerate(stat):
        for k in range(loss_fn.num_groups):
            rows = (g == k) * masks[name] * w
            if rows.sum() > 0:
                rates[k, c] = (p * rows).sum() / rows.sum()
                present[k, c] = 1
    pw = loss_fn.pair_weight_matrix()
    signs = loss_fn.pair_signs

    def proxy(j, d):  # the measured side times the difference, or its absolute value
        return signs[j] * d if loss_fn.proxy == "signed" else abs(d)

    fair = sum(pw[c, a, b] * present[a, c] * present[b, c] * proxy(j, rates[a, c] - rates[b, c])
               for j, (c, a, b) in enumerate(loss_fn.rate_bound.pairs))
    return loss_fn.weights[0] * bce + fair


def _batch(n=40, seed=0, groups=3):
    rng = np.random.RandomState(seed)
    z = rng.randn(n).astype(np.float32)
    y = (rng.rand(n) < 0.5).astype(np.float32)
    g = rng.randint(0, groups, n).astype(np.float32)
    return z, y, g


def _pushed(loss_fn, violations, times=5):
    for _ in range(times):  # the game's own step: the loss writes the new weights on its next call
        loss_fn.game.update(violations)
    return loss_fn


@pytest.mark.parametrize("proxy", ["signed", "absolute"])
@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_value_matches_numpy_on_the_inputs_context(constraint, hybridize, proxy, ctx):
    loss_fn = BoundedFairLoss(3, 0.05, constraint=constraint, proxy=proxy)
    m = loss_fn.rate_bound.num_constraints
    _pushed(loss_fn, np.linspace(0.05, -0.05, m))
    weighted = _pushed(BoundedFairLoss(3, 0.05, constraint=constraint, proxy=proxy),
                       np.linspace(0.05, -0.05, m))
    if hybridize:  # a hybridized block keeps which arguments are None: one loss for each form
        loss_fn.hybridize()
        weighted.hybridize()
    z, y, g = _batch()
    out = loss_fn(mx.nd.array(z, ctx=ctx), mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx))
    assert out.shape == (40,) and out.context == ctx
    assert_almost_equal(out.asnumpy(), _reference(loss_fn, z, y, g), rtol=1e-4, atol=1e-5)
    w = np.random.RandomState(1).rand(40).astype(np.float32)
    out = weighted(mx.nd.array(z, ctx=ctx), mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx),
                   mx.nd.array(w, ctx=ctx))
    assert out.context == ctx
    assert_almost_equal(out.asnumpy(), _reference(weighted, z, y, g, w), rtol=1e-4, atol=1e-5)


def test_gradient_matches_finite_differences(ctx):
    loss_fn = _pushed(BoundedFairLoss(2, 0.02, constraint="equal_opportunity"), [0.05], times=8)
    z, y, g = _batch(30, seed=2, groups=2)
    zz = mx.nd.array(z, ctx=ctx)
    zz.attach_grad()
    with autograd.record():
        total = loss_fn(zz, mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)).sum()
    total.backward()
    grad = zz.grad.asnumpy()
    assert zz.grad.context == ctx
    h = 1e-3
    for i in (0, 7, 19):
        up, down = z.astype(np.float64).copy(), z.astype(np.float64).copy()
        up[i] += h
        down[i] -= h
        fd = (_reference(loss_fn, up, y, g).sum() - _reference(loss_fn, down, y, g).sum()) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=2e-3, abs=2e-4)


def test_absent_group_adds_nothing_and_nothing_is_nan(ctx):
    loss_fn = _pushed(BoundedFairLoss(3, 0.05), [0.05, 0.05, 0.05])
    z, y, _ = _batch(12)
    g = np.array([0] * 6 + [1] * 6, dtype=np.float32)  # group 2 absent
    out = loss_fn(mx.nd.array(z, ctx=ctx), mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx))
    assert np.isfinite(out.asnumpy()).all()
    assert_almost_equal(out.asnumpy(), _reference(loss_fn, z, y, g), rtol=1e-4, atol=1e-5)


def test_a_forward_call_never_moves_the_weights(ctx):
    loss_fn = _pushed(BoundedFairLoss(2, 0.05), [0.05])
    before = loss_fn.weights
    z, y, g = _batch(16, groups=2)
    args = [mx.nd.array(a, ctx=ctx) for a in (z, y, g)]
    with autograd.record(train_mode=True):
        loss_fn(*args)
    with autograd.predict_mode():
        loss_fn(*args)
    loss_fn(*args)
    np.testing.assert_array_equal(loss_fn.weights, before)
    assert loss_fn.game.num_updates == 5


@pytest.mark.parametrize("hybridize", [False, True])
def test_bad_rows_after_the_first_batch_are_left_out_counted_and_warned(hybridize, ctx):
    # The first batch of a shape is checked on the host; later batches are not synchronised:
    # a bad group id, label or weight there must leave its row out of the loss, the rates and
    # the gradient, be counted by reason and be warned about (never silently dropped).
    loss_fn = _pushed(BoundedFairLoss(3, 0.05, constraint="equalized_odds"), [0.05] * 6)
    if hybridize:
        loss_fn.hybridize()
    z, y, g = _batch()
    w = np.random.RandomState(2).rand(40).astype(np.float32)
    nd = lambda a: mx.nd.array(a, ctx=ctx)  # noqa: E731
    loss_fn(nd(z), nd(y), nd(g), nd(w))  # the checked first batch
    bad_g, bad_y, bad_w = g.copy(), y.copy(), w.copy()
    bad_g[[0, 1]] = [np.nan, 3]  # NaN and out-of-range group ids
    bad_y[2] = 0.5  # not a class id
    bad_w[3] = -1.0  # a negative weight
    keep = np.ones(40, bool)
    keep[:4] = False
    pred = nd(z)
    pred.attach_grad()
    with pytest.warns(UserWarning, match="left 4 invalid row"):
        with autograd.record():
            out = loss_fn(pred, nd(bad_y), nd(bad_g), nd(bad_w))
        out.backward()
        for _ in range(2):  # counts are read (and warned about) at calls 2, 4, 8, ...: no stall
            loss_fn(nd(z), nd(bad_y), nd(bad_g), nd(bad_w))
    assert out.context == ctx and pred.grad.context == ctx
    assert np.all(pred.grad.asnumpy()[:4] == 0)
    expected = _reference(loss_fn, z[keep], y[keep], g[keep], w[keep])
    assert_almost_equal(out.asnumpy()[keep], expected, rtol=1e-4, atol=1e-5)
    # Every row carries the batch's fairness term; an invalid row carries nothing else (rates
    # do not change when every weight is scaled, so weights ~0 leave the fairness term alone).
    fair = _reference(loss_fn, z[keep], y[keep], g[keep], w[keep] * 1e-30)[0]
    assert fair > 1e-3
    assert_almost_equal(out.asnumpy()[:4], np.full(4, fair), rtol=1e-4, atol=1e-6)
    totals = loss_fn.num_invalid
    assert totals == {"rows": 12.0, "group": 6.0, "label": 3.0, "sample_weight": 3.0}
    loss_fn.reset_invalid()
    assert loss_fn.num_invalid["rows"] == 0


def test_update_from_held_out_stats_writes_the_parameters(ctx):
    loss_fn = BoundedFairLoss(2, 0.05)
    assert loss_fn.weights[1] < 1e-3
    y = np.array([0, 1] * 20)
    g = np.repeat([0, 1], 20)
    p = np.where(g == 0, 0.9, 0.1).astype(np.float32)  # selection rates 1 and 0: far off
    stats = GroupStats(2, from_logits=False, ctx=ctx)
    stats.update(y, p, g)
    for _ in range(5):
        weights = loss_fn.update(stats)
    assert weights[1] > 0.1 and weights.sum() == pytest.approx(1.0)
    z = mx.nd.array(np.zeros(4), ctx=ctx)
    loss_fn(z, mx.nd.array([0, 1, 0, 1], ctx=ctx), mx.nd.array([0, 0, 1, 1], ctx=ctx))
    assert loss_fn.pair_weights.data(ctx).context == ctx
    assert loss_fn.pair_weights.data(ctx).asnumpy()[0, 0, 1] == pytest.approx(weights[1])
    assert loss_fn.objective_weight.data(ctx).asscalar() == pytest.approx(weights[0])
    loss_fn.reset()
    assert loss_fn.weights[1] < 1e-3


def test_multiclass_softmax_scores(ctx):
    loss_fn = BoundedFairLoss(2, 0.05, constraint="demographic_parity", num_classes=3)
    assert loss_fn.rate_bound.num_constraints == 3
    rng = np.random.RandomState(0)
    pred = mx.nd.array(rng.randn(10, 3), ctx=ctx)
    out = loss_fn(pred, mx.nd.array(rng.randint(0, 3, 10), ctx=ctx),
                  mx.nd.array(rng.randint(0, 2, 10), ctx=ctx))
    assert out.shape == (10,) and out.context == ctx and np.isfinite(out.asnumpy()).all()


@pytest.mark.parametrize("call, error, match", [
    (lambda f: f(np.zeros(4), mx.nd.zeros(4), mx.nd.zeros(4)), TypeError,
     "pred must be an NDArray"),
    (lambda f: f(mx.nd.zeros(4), [0, 1, 0, 1], mx.nd.zeros(4)), TypeError,
     "label must be an NDArray"),
    (lambda f: f(mx.nd.zeros(4), mx.nd.zeros(4)), ValueError, "group is required"),
    (lambda f: f(mx.nd.zeros((4, 2)), mx.nd.zeros(4), mx.nd.zeros(4)), ValueError,
     r"pred must have shape \(N,\) or \(N, 1\)"),
    (lambda f: f(mx.nd.zeros(4), mx.nd.zeros(3), mx.nd.zeros(4)), ValueError,
     r"label must have shape \(4,\) or \(4, 1\) to match pred, got \(3,\)"),
    (lambda f: f(mx.nd.zeros(4), mx.nd.zeros(4), mx.nd.zeros(4), mx.nd.zeros(5)), ValueError,
     r"sample_weight must have shape \(4,\)"),
    (lambda f: f.check_inputs(mx.nd.zeros(3), mx.nd.array([0, 1, 1]), mx.nd.array([0, 1, 2])),
     ValueError, r"group ids must be integers in \[0, 2\), got values in \[0, 2\]"),
    (lambda f: f.check_inputs(mx.nd.zeros(2), mx.nd.array([0, 2]), mx.nd.array([0, 1])),
     ValueError, r"label: labels must be integers in \[0, 2\), got values in \[0, 2\]"),
    (lambda f: f.update(np.zeros(3)), TypeError, "source must be a GroupStats"),
])
def test_bad_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call(BoundedFairLoss(2, 0.05))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="bound must be a number"):
        BoundedFairLoss(2, -0.1)
    with pytest.raises(TypeError, match="base_loss must be a gluon Block"):
        BoundedFairLoss(2, 0.1, base_loss=lambda *a: a)
    with pytest.raises(ValueError, match="regret must be one of"):
        BoundedFairLoss(2, 0.1, regret="none")


def _leaky(n, seed):
    """Two groups; the label depends on the group, and feature 2 carries the group: an
    unconstrained model uses it (a DP gap), a constrained one can drop it."""
    rng = np.random.RandomState(seed)
    g = (rng.rand(n) < 0.4).astype(np.int64)
    x = rng.randn(n, 4).astype(np.float32)
    x[:, 2] = g + 0.3 * rng.randn(n)
    y = (x[:, 0] + 0.5 * x[:, 1] + 1.0 * g + 0.3 * rng.randn(n) > 0.6).astype(np.int64)
    return x, y, g


def test_training_meets_the_bound_on_held_out_rows(ctx):
    x, y, g = _leaky(1600, 0)
    train, held = constraint_slice(y, g, fraction=0.25, seed=0)
    mx.random.seed(0)
    net = gluon.nn.Dense(1, in_units=4)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    loss_fn = BoundedFairLoss(2, bound=0.05, constraint="demographic_parity")
    loss_fn.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
    best = BestIterate(loss_fn)
    xs = mx.nd.array(x[held], ctx=ctx)
    ys, gs = mx.nd.array(y[held], ctx=ctx), mx.nd.array(g[held], ctx=ctx)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(x[train], y[train].astype(
        np.float32), g[train].astype(np.float32)), batch_size=100, shuffle=True)
    gaps = []
    step = 0
    for _ in range(10):
        for xb, yb, gb in loader:
            xb, yb, gb = xb.as_in_context(ctx), yb.as_in_context(ctx), gb.as_in_context(ctx)
            with autograd.record():
                loss = loss_fn(net(xb), yb, gb)
            loss.backward()
            trainer.step(xb.shape[0])
            step += 1
            if step % 3 == 0:  # the multiplier player's turn, on the held-out rows
                stats = GroupStats(2, from_logits=True, ctx=ctx)
                stats.update(ys, net(xs), gs)
                gaps.append(loss_fn.rate_bound.gap(stats))
                loss_fn.update(stats)
                best.consider(net, stats)
    assert max(gaps[:5]) > 0.15  # the unconstrained start is far from the bound
    assert loss_fn.game.multipliers.max() > 0.3  # the multiplier rose to meet it
    assert best.met and best.best["gap"] <= 0.05
    best.restore(net)
    stats = GroupStats(2, from_logits=True, ctx=ctx)
    stats.update(ys, net(xs), gs)
    assert loss_fn.rate_bound.gap(stats) == pytest.approx(best.best["gap"])
    assert stats.report().overall["accuracy"] > 0.6


def test_the_signed_proxy_takes_each_pairs_side_from_the_held_out_rows(ctx):
    assert BoundedFairLoss(3, 0.05).proxy == "absolute"  # the default
    loss_fn = BoundedFairLoss(3, 0.05, constraint="demographic_parity", proxy="signed")
    assert loss_fn.pair_signs.tolist() == [1.0, 1.0, 1.0]
    held = GroupStats(3, from_logits=False, ctx=ctx)  # selection rates 0.25, 0.75, 0.5
    held.update(np.zeros(12), np.array([1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0], dtype=np.float32),
                np.repeat([0, 1, 2], 4))
    loss_fn.update(held)  # pairs (0, 1), (0, 2), (1, 2): r_0 < r_1, r_0 < r_2, r_1 > r_2
    assert loss_fn.pair_signs.tolist() == [-1.0, -1.0, 1.0]
    z, y, g = _batch()
    out = loss_fn(mx.nd.array(z, ctx=ctx), mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx))
    assert_almost_equal(out.asnumpy(), _reference(loss_fn, z, y, g), rtol=1e-4, atol=1e-5)
    # The term pulls the measured-high group down even on a batch where it is the lowest:
    # against the absolute proxy with the same weights (same base-loss part), the gradient on
    # group 1's logits is larger (descent lowers them more).
    absolute = BoundedFairLoss(3, 0.05, constraint="demographic_parity", proxy="absolute")
    absolute.update(held)
    np.testing.assert_array_equal(absolute.weights, loss_fn.weights)
    grads = []
    for fn in (loss_fn, absolute):
        zz = mx.nd.array(np.where(g == 1, -2.0, 2.0).astype(np.float32), ctx=ctx)  # r_1 lowest
        zz.attach_grad()
        with autograd.record():
            total = fn(zz, mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)).sum()
        total.backward()
        grads.append(zz.grad.asnumpy())
    assert np.all(grads[0][g == 1] > grads[1][g == 1] + 1e-4)
    loss_fn.reset()
    assert loss_fn.pair_signs.tolist() == [1.0, 1.0, 1.0]
