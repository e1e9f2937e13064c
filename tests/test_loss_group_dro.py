"""GroupDROLoss against a NumPy transcription of Sagawa et al.'s update; state, contexts, errors."""
import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

from mxfair._validation import IDS_NOT_NUMERIC
from mxfair.loss import GroupDROLoss, cross_groups, group_counts


# ------------------------------------------------------------------------ NumPy reference
def _softmax_ce(z, y):
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y.astype(int)]


def _sigmoid_ce(z, y):
    z = z.reshape(-1)
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def np_step(pred, y, g, q, num_groups, eta, adj=None, w=None):
    """One training step of the reference ``LossComputer.compute_robust_loss`` (float64).

    Returns the per-row output (N,), the new q (G,) and the group losses (G,).
    """
    ell = _softmax_ce(pred, y) if pred.ndim == 2 and pred.shape[1] > 1 else _sigmoid_ce(pred, y)
    w = np.ones(len(y)) if w is None else w
    adj = np.zeros(num_groups) if adj is None else adj
    mass = np.array([w[g == k].sum() for k in range(num_groups)])
    group_loss = np.array([(w[g == k] * ell[g == k]).sum() / mass[k] if mass[k] > 0 else 0.0
                           for k in range(num_groups)])
    present = mass > 0
    q_new = q * np.exp(eta * (group_loss + adj) * present)
    q_new = q_new / q_new.sum()
    n = len(y)
    coef = np.where(present, q_new / np.where(present, mass, 1.0), 0.0)
    return n * coef[g] * w * ell, q_new, group_loss


def _data(n=12, k=3, num_groups=3, seed=0):
    rng = np.random.RandomState(seed)
    pred = rng.normal(0, 1.5, size=(n, k)).astype(np.float32)
    y = rng.randint(0, k, size=n).astype(np.float32)
    g = np.arange(n) % num_groups
    return pred, y, g.astype(np.float32)


def _prime(loss_fn, pred, ctx, w=None):
    """A valid validation batch of the same shapes: the host checks the first batch of each
    shape (values included); later bad rows are the graph's to count."""
    n, k = pred.shape[0], pred.shape[1] if pred.ndim == 2 else 2
    args = [mx.nd.array(a, ctx=ctx) for a in (pred, np.arange(n) % k, np.arange(n) % 2)]
    if w is not None:
        args.append(mx.nd.ones((n,), ctx=ctx))
    with autograd.predict_mode():
        loss_fn(*args)


def _call(loss_fn, pred, y, g, ctx, w=None, train=True):
    args = [mx.nd.array(a, ctx=ctx) for a in (pred, y, g)]
    if w is not None:
        args.append(mx.nd.array(w, ctx=ctx))
    args[0].attach_grad()
    with autograd.record(train_mode=train):
        out = loss_fn(*args)
    out.backward()
    return out, args[0].grad


# ------------------------------------------------------------------------------ values
@pytest.mark.parametrize("hybridize", [False, True])
def test_one_step_matches_reference(hybridize, ctx):
    pred, y, g = _data()
    loss_fn = GroupDROLoss(3, num_classes=3, step_size=0.5)
    if hybridize:
        loss_fn.hybridize()
    out, _ = _call(loss_fn, pred, y, g, ctx)
    ref, q_new, group_loss = np_step(pred.astype(np.float64), y, g.astype(int),
                                     np.full(3, 1 / 3), 3, 0.5)
    assert out.context == ctx
    assert_almost_equal(out.asnumpy(), ref, rtol=1e-4, atol=1e-5)
    assert_almost_equal(loss_fn.group_weights, q_new, rtol=1e-5, atol=1e-6)
    # loss.mean() is the robust loss sum_g q_g l_g, with the updated q (reference code)
    assert out.mean().asscalar() == pytest.approx(float(q_new @ group_loss), rel=1e-5)
    assert loss_fn.q.list_ctx() == [ctx]


@pytest.mark.parametrize("hybridize", [False, True])
def test_several_steps_weights_adjustment_and_an_absent_group(hybridize, ctx):
    counts = np.array([50, 5, 20, 9])
    loss_fn = GroupDROLoss(4, num_classes=3, step_size=0.3, adjustment=[1.0, 2.0, 0.0, 1.0],
                           group_counts=counts)
    if hybridize:
        loss_fn.hybridize()
    adj = np.array([1.0, 2.0, 0.0, 1.0]) / np.sqrt(counts)
    assert_almost_equal(loss_fn.adjustment_terms, adj, rtol=1e-6)
    q = np.full(4, 0.25)
    for step in range(3):
        pred, y, g = _data(10, seed=step)
        g = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], np.float32)  # group 3 never in a batch
        w = np.random.RandomState(step).uniform(0, 2, size=10)
        out, _ = _call(loss_fn, pred, y, g, ctx, w=w)
        ref, q, _ = np_step(pred.astype(np.float64), y, g.astype(int), q, 4, 0.3, adj, w)
        assert_almost_equal(out.asnumpy(), ref, rtol=1e-4, atol=1e-5)
        assert_almost_equal(loss_fn.group_weights, q, rtol=1e-5, atol=1e-7)
    # the absent group's exponent stays 0: its weight only shrinks by normalisation
    assert loss_fn.group_weights[3] < 0.25


@pytest.mark.parametrize("hybridize", [False, True])
def test_binary_logits_and_probabilities(hybridize, ctx):
    rng = np.random.RandomState(3)
    logits = rng.normal(size=(9, 1)).astype(np.float32)
    y = rng.randint(0, 2, size=9).astype(np.float32)
    g = (np.arange(9) % 2).astype(np.float32)
    a = GroupDROLoss(2, step_size=0.2)
    b = GroupDROLoss(2, step_size=0.2, from_logits=False)
    if hybridize:
        a.hybridize()
        b.hybridize()
    out_a, _ = _call(a, logits, y, g, ctx)
    probs = 1 / (1 + np.exp(-logits))
    out_b, _ = _call(b, probs.reshape(-1), y, g, ctx)
    ref, q, _ = np_step(logits.astype(np.float64), y, g.astype(int), np.full(2, 0.5), 2, 0.2)
    assert_almost_equal(out_a.asnumpy(), ref, rtol=1e-4, atol=1e-5)
    assert_almost_equal(out_b.asnumpy(), ref, rtol=1e-3, atol=1e-4)
    assert_almost_equal(a.group_weights, q, rtol=1e-5)


def test_multiclass_probabilities_and_custom_base_loss(ctx):
    pred, y, g = _data(8, k=4, num_groups=2)
    probs = np.exp(pred) / np.exp(pred).sum(axis=1, keepdims=True)
    a = GroupDROLoss(2, num_classes=4, from_logits=False)
    b = GroupDROLoss(2, num_classes=4, base_loss=gluon.loss.SoftmaxCrossEntropyLoss())
    out_a, _ = _call(a, probs, y, g, ctx)
    out_b, _ = _call(b, pred, y, g, ctx)
    assert_almost_equal(out_a.asnumpy(), out_b.asnumpy(), rtol=1e-3, atol=1e-4)
    # a custom base loss lets a binary task use two softmax scores per row
    c = GroupDROLoss(2, base_loss=gluon.loss.SoftmaxCrossEntropyLoss())
    out_c, _ = _call(c, pred[:, :2], (y > 1).astype(np.float32), g, ctx)
    assert out_c.shape == (8,) and np.all(np.isfinite(out_c.asnumpy()))


def test_gradient_matches_finite_differences(ctx):
    pred, y, g = _data(9, k=3, num_groups=3, seed=5)
    loss_fn = GroupDROLoss(3, num_classes=3, step_size=1.0)
    loss_fn.group_weights = [0.2, 0.5, 0.3]
    # predict mode: q stays fixed, so the loss is a plain function of pred
    _, grad = _call(loss_fn, pred, y, g, ctx, train=False)
    assert_almost_equal(loss_fn.group_weights, np.array([0.2, 0.5, 0.3]), rtol=1e-6)
    q = np.array([0.2, 0.5, 0.3])
    x = pred.astype(np.float64)
    eps = 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        # a training step from q0 with eta -> 0 keeps q; the value is sum_i of the output
        f = [np_step(v, y, g.astype(int), q, 3, 1e-12)[0].sum() for v in (xp, xm)]
        fd[i] = (f[0] - f[1]) / (2 * eps)
    assert_almost_equal(grad.asnumpy(), fd, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("hybridize", [False, True])
def test_training_gradient_treats_q_as_a_constant(hybridize, ctx):
    """As the reference (``adv_probs`` from ``.data``): d loss / d pred at the new q."""
    pred, y, g = _data(9, seed=2)
    loss_fn = GroupDROLoss(3, num_classes=3, step_size=2.0)
    if hybridize:
        loss_fn.hybridize()
    _, grad = _call(loss_fn, pred, y, g, ctx)
    fixed = GroupDROLoss(3, num_classes=3)
    fixed.group_weights = loss_fn.group_weights
    _, grad_fixed = _call(fixed, pred, y, g, ctx, train=False)
    assert_almost_equal(grad.asnumpy(), grad_fixed.asnumpy(), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------ state
@pytest.mark.parametrize("hybridize", [False, True])
def test_validation_calls_never_move_q(hybridize, ctx):
    pred, y, g = _data()
    loss_fn = GroupDROLoss(3, num_classes=3, step_size=1.0)
    if hybridize:
        loss_fn.hybridize()
    args = [mx.nd.array(a, ctx=ctx) for a in (pred, y, g)]
    first = loss_fn(*args)  # no autograd: a validation call
    with autograd.predict_mode():
        loss_fn(*args)
    with autograd.record(train_mode=False):
        loss_fn(*args)
    assert_almost_equal(loss_fn.group_weights, np.full(3, 1 / 3), rtol=1e-7)
    # the validation value is the loss at the current q
    ref, _, _ = np_step(pred.astype(np.float64), y, g.astype(int), np.full(3, 1 / 3), 3, 0.0)
    assert_almost_equal(first.asnumpy(), ref, rtol=1e-4, atol=1e-5)
    with autograd.record():
        loss_fn(*args)
    assert not np.allclose(loss_fn.group_weights, 1 / 3)


def test_q_survives_save_load_and_export(ctx, tmp_path):
    pred, y, g = _data()
    loss_fn = GroupDROLoss(3, num_classes=3, step_size=1.0, adjustment=1.0,
                           group_counts=[10, 20, 40])
    loss_fn.hybridize()
    for _ in range(3):
        _call(loss_fn, pred, y, g, ctx)
    q = loss_fn.group_weights
    path = str(tmp_path / "dro.params")
    loss_fn.save_parameters(path)
    fresh = GroupDROLoss(3, num_classes=3, step_size=1.0)
    fresh.load_parameters(path, ctx=ctx)
    assert_almost_equal(fresh.group_weights, q, rtol=1e-7)
    assert_almost_equal(fresh.adjustment_terms, 1 / np.sqrt([10, 20, 40]), rtol=1e-6)
    # export: the graph's second output is the loss at the stored q (no update)
    args = [mx.nd.array(a, ctx=ctx) for a in (pred, y, g)]
    expected = loss_fn(*args).asnumpy()
    loss_fn.export(str(tmp_path / "dro"))
    sym = gluon.SymbolBlock.imports(str(tmp_path / "dro-symbol.json"),
                                    ["data0", "data1", "data2", "data3"],
                                    str(tmp_path / "dro-0000.params"), ctx=ctx)
    ones = mx.nd.ones((len(y),), ctx=ctx)
    assert_almost_equal(sym(*args, ones)[1].asnumpy(), expected, rtol=1e-5, atol=1e-6)
    # a loss never called can be saved too (its state initialised on the CPU)
    GroupDROLoss(2).save_parameters(str(tmp_path / "new.params"))


def test_reset_and_setting_weights(ctx):
    loss_fn = GroupDROLoss(2)
    loss_fn.group_weights = [1.0, 3.0]
    assert_almost_equal(loss_fn.group_weights, np.array([0.25, 0.75]))
    _call(loss_fn, np.zeros(4, np.float32), np.array([0, 1, 0, 1.0]), np.array([0, 0, 1, 1.0]),
          ctx)
    loss_fn.reset()
    assert_almost_equal(loss_fn.group_weights, np.array([0.5, 0.5]))
    for bad in ([1.0], [np.nan, 1.0], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(ValueError, match="group_weights must be 2 finite values >= 0"):
            loss_fn.group_weights = bad


def test_q_moves_to_the_worst_group_in_training(ctx):
    """A toy shift: group 1's rows are harder; q gives it most weight and its loss falls."""
    rng = np.random.RandomState(0)
    n = 400
    g = (rng.uniform(size=n) < 0.1).astype(np.float32)  # group 1: 10 %
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = np.where(g == 1, x[:, 1] > 0, x[:, 0] > 0).astype(np.float32)
    net = gluon.nn.Dense(1)
    net.initialize(ctx=ctx)
    loss_fn = GroupDROLoss(2, step_size=0.05)
    loss_fn.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
    X, Y, G = (mx.nd.array(a, ctx=ctx) for a in (x, y, g))
    for _ in range(150):
        with autograd.record():
            loss = loss_fn(net(X), Y, G)
        loss.backward()
        trainer.step(n)
    q = loss_fn.group_weights
    assert q[1] > 0.3  # the minority group (10 % of the rows) gets far more than its share
    pred = (net(X).asnumpy().reshape(-1) > 0)
    acc = [np.mean(pred[g == k] == y[g == k]) for k in (0, 1)]
    assert min(acc) > 0.6


# ------------------------------------------------------------------------ invalid rows
@pytest.mark.parametrize("hybridize", [False, True])
def test_invalid_rows_are_left_out_counted_and_warned(hybridize, ctx):
    pred, y, g = _data(8, k=3, num_groups=2)
    g = np.array([0, 1, 0, 1, 5, np.nan, 0.5, 1], np.float32)  # 3 bad ids
    w = np.array([1, 1, 1, -1, 1, 1, 1, 1], np.float32)  # a negative weight
    loss_fn = GroupDROLoss(2, num_classes=3, step_size=0.5)
    if hybridize:
        loss_fn.hybridize()
    with pytest.raises(ValueError, match=r"group: group ids must be integers in \[0, 2\)"):
        _call(loss_fn, pred, y, g, ctx, w=w)  # the first batch of a shape: refused
    _prime(loss_fn, pred, ctx, w=w)
    out, grad = _call(loss_fn, pred, y, g, ctx, w=w)  # a later one: counted and left out
    keep = np.array([1, 1, 1, 0, 0, 0, 0, 1], bool)
    ref, q, _ = np_step(pred[keep].astype(np.float64), y[keep], g[keep].astype(int),
                        np.full(2, 0.5), 2, 0.5)
    assert np.all(out.asnumpy()[~keep] == 0) and np.all(grad.asnumpy()[~keep] == 0)
    assert_almost_equal(out.asnumpy()[keep], ref * 8 / 4, rtol=1e-4)  # mean over all 8 rows
    assert loss_fn.num_invalid == 4
    with pytest.warns(RuntimeWarning, match="left 4 training row"):
        assert_almost_equal(loss_fn.group_weights, q, rtol=1e-5)
    # validation calls count nothing (with or without weights, hybridized or not)
    _prime(loss_fn, pred, ctx)
    with autograd.predict_mode():
        loss_fn(*(mx.nd.array(a, ctx=ctx) for a in (pred, y, g)))
        loss_fn(*(mx.nd.array(a, ctx=ctx) for a in (pred, y, g, w)))
    assert loss_fn.num_invalid == 4


def test_a_nan_score_shows_in_the_loss_but_never_reaches_q(ctx):
    pred, y, g = _data(6, k=3, num_groups=2)
    pred[2, 1] = np.nan
    loss_fn = GroupDROLoss(2, num_classes=3, step_size=0.5)
    out, _ = _call(loss_fn, pred, y, g, ctx)
    assert np.isnan(out.asnumpy()[2]) and np.all(np.isfinite(out.asnumpy()[[0, 1, 3, 4, 5]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.all(np.isfinite(loss_fn.group_weights))
    assert loss_fn.num_invalid == 1


def test_labels_out_of_range_are_invalid(ctx):
    pred, y, g = _data(6, k=3, num_groups=2)
    y[0] = 3.0
    loss_fn = GroupDROLoss(2, num_classes=3)
    with pytest.raises(ValueError, match=r"label: labels must be integers in \[0, 3\)"):
        _call(loss_fn, pred, y, g, ctx)
    _prime(loss_fn, pred, ctx)
    out, _ = _call(loss_fn, pred, y, g, ctx)
    assert out.asnumpy()[0] == 0 and loss_fn.num_invalid == 1


# ------------------------------------------------------------------------ errors
def test_bad_input_is_refused_clearly(ctx):
    loss_fn = GroupDROLoss(2, num_classes=3)
    pred = mx.nd.zeros((4, 3), ctx=ctx)
    y = mx.nd.array([0, 1, 2, 0], ctx=ctx)
    g = mx.nd.array([0, 1, 0, 1], ctx=ctx)
    with pytest.raises(TypeError, match="pred must be an MXNet NDArray .*got ndarray"):
        loss_fn(np.zeros((4, 3)), y, g)
    with pytest.raises(TypeError, match=IDS_NOT_NUMERIC.format(name="group", dtype="<U1")
                       .replace("(", r"\(").replace(")", r"\)")[:40]):
        loss_fn(pred, y, np.array(["a", "b", "a", "b"]))
    with pytest.raises(TypeError, match="GroupEncoder"):
        loss_fn(pred, y, np.array(["a", "b", "a", "b"], dtype=object))
    with pytest.raises(ValueError, match=r"group must have shape \(4,\) or \(4, 1\)"):
        loss_fn(pred, y, mx.nd.array([0, 1], ctx=ctx))
    with pytest.raises(ValueError, match="pred has 10 columns but num_classes=3: pass num_"):
        loss_fn(mx.nd.zeros((4, 10), ctx=ctx), y, g)
    with pytest.raises(ValueError, match=r"with num_classes=2 it takes one logit per row"):
        GroupDROLoss(2)(mx.nd.zeros((4, 2), ctx=ctx), y, g)
    with pytest.raises(ValueError, match="label is on cpu"):
        loss_fn(pred, mx.nd.array([0, 1, 2, 0], ctx=mx.cpu(2)), g)
    with pytest.raises(ValueError, match="label and group are required"):
        loss_fn(pred, y)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_groups": 0}, "num_groups must be a positive integer"),
    ({"num_groups": 2, "num_classes": 1}, "num_classes must be >= 2"),
    ({"num_groups": 2, "step_size": 0}, "step_size must be a finite number > 0"),
    ({"num_groups": 2, "step_size": "0.1"}, "step_size must be a finite number > 0"),
    ({"num_groups": 2, "adjustment": 1.0}, "adjustment > 0 needs group_counts"),
    ({"num_groups": 2, "adjustment": -1.0}, "adjustment must be a finite number >= 0"),
    ({"num_groups": 2, "adjustment": [1.0, 2.0, 3.0]}, "adjustment must be a finite number"),
    ({"num_groups": 2, "adjustment": 1.0, "group_counts": [1, 2, 3]},
     "group_counts must be 2 finite counts"),
    ({"num_groups": 2, "adjustment": 1.0, "group_counts": ["a", "b"]}, "GroupEncoder"),
    ({"num_groups": 2, "batch_axis": 1}, "batch_axis must be 0"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        GroupDROLoss(**kwargs)


def test_group_counts_and_cross_groups():
    assert group_counts(np.array([0, 2, 2, 1, 2.0]), 4).tolist() == [1, 1, 3, 0]
    assert group_counts(mx.nd.array([1, 1]), 2).tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        group_counts([0, 2], 2)
    with pytest.raises(TypeError, match="GroupEncoder"):
        group_counts(["a", "b"], 2)
    ids = cross_groups([0, 1, 1, 2], [1, 0, 1, 0], num_attributes=2)
    assert ids.tolist() == [1, 2, 3, 4]
    with pytest.raises(TypeError, match="GroupEncoder"):
        cross_groups(["x", "y"], [0, 1], 2)
    with pytest.raises(ValueError, match="same length"):
        cross_groups([0, 1, 1], [0, 1], 2)
    with pytest.raises(ValueError, match=r"labels must be integers >= 0, got non-integer values"):
        cross_groups([0.5, 1], [0, 1], 2)
