"""The fair losses on several devices: the whole step's penalty from per-device lists.

Two (or three) CPU contexts stand in for GPUs. The reference is the same step on one context with
the whole batch: summed over the devices, the gradients must equal it to float32 precision.
"""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

from mxfair.loss import (
    AdversarialDebiasing,
    ConstrainedFairLoss,
    FairnessRegularizedLoss,
    MMDPenalty,
    SmoothMaxGap,
)

CONSTRAINTS = ["demographic_parity", "equal_opportunity", "predictive_equality",
               "equalized_odds"]
PENALTIES = ["squared", "absolute", "max", "mmd"]
TWO = [mx.cpu(0), mx.cpu(1)]
THREE = [mx.cpu(0), mx.cpu(1), mx.cpu(2)]


def _batch(n=48, num_groups=2, num_classes=2, seed=0, order="random"):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 5).astype(np.float32)
    g = rng.randint(0, num_groups, n)
    y = rng.randint(0, num_classes, n)
    w = rng.rand(n).astype(np.float32) * 2
    if order == "by_group":  # each device sees (about) one group
        idx = np.argsort(g, kind="stable")
        x, g, y, w = x[idx], g[idx], y[idx], w[idx]
    return x, y.astype(np.float32), g.astype(np.float32), w


def _net(ctx, outputs=1, seed=1):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(8, activation="tanh"), gluon.nn.Dense(outputs))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


def _grads(net):
    """Parameter gradients summed over the contexts (what trainer.step sums), in order."""
    return [sum(g.asnumpy() for g in p.list_grad()) for p in net.collect_params().values()
            if p.grad_req != "null"]


def _step(loss_fn, net, ctx, x, y, g, w=None, lists=True, backward="each"):
    """One recorded step; returns (per-row losses in batch order, summed parameter grads)."""
    arrays = [x, y, g] + ([] if w is None else [w])
    parts = [gluon.utils.split_and_load(mx.nd.array(a), ctx, even_split=False)
             for a in arrays]
    with autograd.record():
        preds = [net(xi) for xi in parts[0]]
        if lists:
            losses = loss_fn(preds, *parts[1:])
        else:
            losses = [loss_fn(p, *rest) for p, *rest in zip(preds, *parts[1:])]
    assert [loss.context for loss in losses] == list(ctx)
    if backward == "each":
        for loss in losses:
            loss.backward()
    else:
        autograd.backward(losses)
    return np.concatenate([loss.asnumpy() for loss in losses]), _grads(net)


def _reference(loss_fn, x, y, g, w=None, outputs=1):
    net = _net([mx.cpu(0)], outputs)
    return _step(loss_fn, net, [mx.cpu(0)], x, y, g, w, lists=False)


def _assert_same(got, want):
    values, grads = got
    ref_values, ref_grads = want
    assert_almost_equal(values, ref_values, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(ref_grads)
    for got_grad, ref in zip(grads, ref_grads):
        scale = max(np.abs(ref).max(), 1e-3)
        assert_almost_equal(got_grad / scale, ref / scale, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("order", ["random", "by_group"])
@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_summed_gradients_equal_the_single_device_step(constraint, penalty, order, hybridize):
    x, y, g, _ = _batch(order=order, seed=CONSTRAINTS.index(constraint))
    loss_fn = FairnessRegularizedLoss(2, constraint=constraint, penalty=penalty, lam=3.0)
    if hybridize:
        loss_fn.hybridize()
    want = _reference(loss_fn, x, y, g)
    got = _step(loss_fn, _net(TWO), TWO, x, y, g)
    _assert_same(got, want)
    # the per-device calls of before: a different penalty (0 when a device holds one group)
    per_device = _step(loss_fn, _net(TWO), TWO, x, y, g, lists=False)
    assert not np.allclose(per_device[0], want[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("penalty", ["squared", SmoothMaxGap(temperature=0.05),
                                     MMDPenalty(bandwidth=0.5)])
def test_three_uneven_devices_three_groups_and_sample_weights(penalty):
    # 50 rows on 3 devices: 16, 16, 18 rows; the scale N / n_d differs per device
    x, y, g, w = _batch(n=50, num_groups=3, seed=3)
    for weights in (None, w):
        loss_fn = FairnessRegularizedLoss(3, constraint="equalized_odds", penalty=penalty, lam=2.0)
        want = _reference(loss_fn, x, y, g, weights)
        got = _step(loss_fn, _net(THREE), THREE, x, y, g, weights)
        _assert_same(got, want)


def test_multiclass_and_one_backward_for_all_devices():
    x, y, g, _ = _batch(n=40, num_classes=3, seed=4)
    loss_fn = FairnessRegularizedLoss(2, constraint="equal_opportunity", penalty="absolute",
                                      lam=1.5,
                                      num_classes=3)
    want = _reference(loss_fn, x, y, g, outputs=3)
    for backward in ("each", "joint"):
        got = _step(loss_fn, _net(TWO, outputs=3), TWO, x, y, g, backward=backward)
        _assert_same(got, want)


def test_without_autograd_the_values_are_the_whole_batch_values():
    x, y, g, _ = _batch(seed=5, order="by_group")
    loss_fn = FairnessRegularizedLoss(2, constraint="demographic_parity", penalty="squared",
                                      lam=4.0)
    net = _net(TWO)
    parts = [gluon.utils.split_and_load(mx.nd.array(a), TWO) for a in (x, y, g)]
    losses = loss_fn([net(xi) for xi in parts[0]], parts[1], parts[2])  # validation: no record
    single = loss_fn(net(mx.nd.array(x).as_in_context(mx.cpu(1))).as_in_context(mx.cpu(0)),
                     mx.nd.array(y), mx.nd.array(g))
    assert_almost_equal(np.concatenate([loss.asnumpy() for loss in losses]), single.asnumpy(),
                        rtol=1e-5, atol=1e-6)


def test_list_arguments_are_checked():
    loss_fn = FairnessRegularizedLoss(2)
    p = [mx.nd.zeros((2, 1), ctx=c) for c in TWO]
    y = [mx.nd.array([0, 1], ctx=c) for c in TWO]
    with pytest.raises(TypeError, match="one list per argument.*2 preds but 1 group arrays"):
        loss_fn(p, y, y[:1])
    with pytest.raises(TypeError, match="one NDArray as pred but a list as group"):
        loss_fn(p[0], y[0], y)
    with pytest.raises(ValueError, match="an empty list as pred"):
        loss_fn([], [], [])
    with pytest.raises(TypeError, match=r"pred\[1\] must be an MXNet NDArray"):
        loss_fn([p[0], np.zeros((2, 1))], y, y)
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        loss_fn(p, y, [mx.nd.array([0, 1], ctx=TWO[0]), mx.nd.array([1, 2], ctx=TWO[1])])


def test_constrained_loss_on_devices_measures_the_whole_batch():
    x, y, g, _ = _batch(seed=6)
    loss_fn = ConstrainedFairLoss(2, bound=0.05, lam_init=1.0)
    want = _reference(loss_fn, x, y, g)
    whole_gap = loss_fn.measured_gap()
    loss_fn.reset_totals()
    got = _step(loss_fn, _net(TWO), TWO, x, y, g)
    _assert_same(got, want)
    assert loss_fn.measured_gap() == pytest.approx(whole_gap, abs=1e-7)
    num, den = loss_fn.measured_totals
    assert num.context == TWO[0] and float(den.sum().asscalar()) == len(y)


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_adversary_on_devices_gives_the_single_device_gradients(constraint):
    x, y, g, w = _batch(seed=7, order="by_group")

    def run(ctx):
        net = _net(ctx)
        mx.random.seed(2)
        adv = AdversarialDebiasing(2, constraint=constraint, alpha=1.5, hidden_units=4)
        adv.initialize(mx.init.Xavier(), ctx=ctx)
        adv.hybridize()
        parts = [gluon.utils.split_and_load(mx.nd.array(a), ctx) for a in (x, y, g, w)]
        with autograd.record():
            preds = [net(xi) for xi in parts[0]]
            losses = adv(preds, *parts[1:]) if len(ctx) > 1 else \
                [adv(preds[0], *[p[0] for p in parts[1:]])]
        for loss in losses:
            loss.backward()
        assert [loss.context for loss in losses] == list(ctx)
        return np.concatenate([loss.asnumpy() for loss in losses]), _grads(net) + _grads(adv)

    _assert_same(run(TWO), run([mx.cpu(0)]))


def test_static_alloc_and_multiplier_updates_between_steps():
    # MXNet 1.9.1's static_alloc once made the per-device tail read lam from before the update.
    rng = np.random.RandomState(8)
    batches = [(rng.randn(32, 5).astype(np.float32), rng.randint(0, 2, 32).astype(np.float32),
                rng.randint(0, 2, 32).astype(np.float32)) for _ in range(4)]

    def run(ctx, flags):
        net = _net(ctx)
        loss_fn = ConstrainedFairLoss(2, bound=0.0, lr=5.0, lam_init=1.0,
                                      constraint="equalized_odds")
        net.hybridize(**flags)
        loss_fn.hybridize(**flags)
        grads = []
        for step, (x, y, g) in enumerate(batches):
            grads.append(_step(loss_fn, net, ctx, x, y, g, lists=len(ctx) > 1))
            if step % 2 == 0:
                assert loss_fn.update_multiplier() != 1.0
        return grads

    want = run([mx.cpu(0)], {})
    for flags in ({}, {"static_alloc": True, "static_shape": True}):
        for got, ref in zip(run(TWO, flags), want):
            _assert_same(got, ref)
