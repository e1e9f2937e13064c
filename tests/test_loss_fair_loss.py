"""FairnessRegularizedLoss and fairness_penalty: values, gradients, hybridize, bad input."""
import doctest

import mxnet as mx
import numpy as np
import pytest
from _helpers import leaky_data
from hypothesis import given, settings
from hypothesis import strategies as st
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal
from test_loss_penalties import np_penalty, np_terms

import mxfair.loss
from mxfair.loss import FairnessRegularizedLoss, fairness_penalty

PENALTY_NAMES = ["squared", "absolute", "max", "mmd"]


# ---------------------------------------------------------------- NumPy reference (float64)
def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_loss(logits, y, g, num_groups, constraint, penalty, lam, sample_weight=None,
            num_classes=2):
    """Reference per-sample loss: base cross-entropy + lam * penalty (float64)."""
    logits = np.asarray(logits, np.float64)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if num_classes == 2:
        x = logits.reshape(-1)
        base = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        probs, ymat = np_sigmoid(x)[:, None], y.reshape(-1, 1).astype(np.float64)
    else:
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        base = -logp[np.arange(len(y)), y.astype(int)]
        probs, ymat = np.exp(logp), np.eye(num_classes)[y.astype(int)]
    v, w = np_terms(constraint, probs, ymat)
    pen = np_penalty(penalty, v, w * sw[:, None], g, num_groups)
    return base * sw + lam * pen


def _data(n, num_groups=2, num_classes=2, seed=0, scale=2.0):
    rng = np.random.RandomState(seed)
    shape = (n,) if num_classes == 2 else (n, num_classes)
    logits = (scale * rng.randn(*shape)).astype(np.float32)
    y = rng.randint(0, num_classes, n)
    g = rng.randint(0, num_groups, n)
    return logits, y, g


def _run(loss_fn, logits, y, g, ctx, sample_weight=None):
    """Loss value and gradient w.r.t. the logits (NumPy)."""
    pred = mx.nd.array(logits, ctx=ctx)
    pred.attach_grad()
    args = [pred, mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)]
    if sample_weight is not None:
        args.append(mx.nd.array(sample_weight, ctx=ctx))
    with autograd.record():
        out = loss_fn(*args)
    out.backward()
    assert out.context == ctx
    return out.asnumpy(), pred.grad.asnumpy()


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("penalty", PENALTY_NAMES)
@pytest.mark.parametrize("constraint", ["demographic_parity", "equal_opportunity",
                                        "equalized_odds"])
def test_value_matches_numpy_reference(constraint, penalty, hybridize, ctx):
    logits, y, g = _data(24, num_groups=3)
    loss_fn = FairnessRegularizedLoss(3, constraint=constraint, penalty=penalty, lam=1.5)
    if hybridize:
        loss_fn.hybridize()
    out, _ = _run(loss_fn, logits, y, g, ctx)
    assert out.shape == (24,)
    assert_almost_equal(out, np_loss(logits, y, g, 3, constraint, penalty, 1.5),
                        rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("penalty", PENALTY_NAMES)
@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_gradient_matches_finite_differences(constraint, penalty, ctx):
    logits, y, g = _data(12, num_groups=2, scale=1.0, seed=4)
    loss_fn = FairnessRegularizedLoss(2, constraint=constraint, penalty=penalty, lam=3.0)
    _, grad = _run(loss_fn, logits, y, g, ctx)
    # central differences of the float64 reference of sum(loss)
    x = logits.astype(np.float64)
    eps = 1e-6
    fd = np.zeros_like(x)
    for i in range(len(x)):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        fd[i] = (np_loss(xp, y, g, 2, constraint, penalty, 3.0).sum()
                 - np_loss(xm, y, g, 2, constraint, penalty, 3.0).sum()) / (2 * eps)
    assert_almost_equal(grad, fd, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("penalty", PENALTY_NAMES)
@pytest.mark.parametrize("num_classes", [2, 4])
def test_hybridized_equals_imperative(num_classes, penalty, ctx):
    logits, y, g = _data(20, num_groups=3, num_classes=num_classes, seed=5)
    sw = np.random.RandomState(6).rand(20)
    outs = []
    for hybridize in (False, True):
        loss_fn = FairnessRegularizedLoss(3, constraint="equalized_odds", penalty=penalty, lam=0.7,
                                          num_classes=num_classes)
        if hybridize:
            loss_fn.hybridize()
        for _ in range(2):  # the second call runs the cached graph
            outs.append(_run(loss_fn, logits, y, g, ctx, sample_weight=sw))
    for value, grad in outs[1:]:
        assert_almost_equal(value, outs[0][0], rtol=1e-5, atol=1e-6)
        assert_almost_equal(grad, outs[0][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("penalty", PENALTY_NAMES)
def test_multiclass_matches_reference(penalty, ctx):
    logits, y, g = _data(30, num_groups=2, num_classes=3, seed=7)
    loss_fn = FairnessRegularizedLoss(2, constraint="equalized_odds", penalty=penalty, lam=2.0,
                                      num_classes=3)
    loss_fn.hybridize()
    out, _ = _run(loss_fn, logits, y, g, ctx)
    assert_almost_equal(out, np_loss(logits, y, g, 2, "equalized_odds", penalty, 2.0,
                                     num_classes=3), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("hybridize", [False, True])
def test_sample_weight_weights_base_and_statistics(hybridize, ctx):
    logits, y, g = _data(16, seed=8)
    sw = np.random.RandomState(9).rand(16) * 2
    loss_fn = FairnessRegularizedLoss(2, constraint="demographic_parity", penalty="squared",
                                      lam=4.0)
    if hybridize:
        loss_fn.hybridize()
    for shape in ((16,), (16, 1)):
        out, _ = _run(loss_fn, logits, y, g, ctx, sample_weight=sw.reshape(shape))
        assert out.shape == (16,)
        assert_almost_equal(out, np_loss(logits, y, g, 2, "demographic_parity", "squared", 4.0,
                                         sample_weight=sw), rtol=1e-4, atol=1e-5)


def test_probabilities_input_and_custom_base_loss(ctx):
    logits, y, g = _data(10, seed=10)
    probs = np_sigmoid(logits.astype(np.float64)).astype(np.float32)
    fair = FairnessRegularizedLoss(2, lam=1.0, from_logits=False)
    out, _ = _run(fair, probs, y, g, ctx)
    ref = np_loss(logits, y, g, 2, "demographic_parity", "squared", 1.0)
    assert_almost_equal(out, ref, rtol=1e-3, atol=1e-4)
    # a custom base loss is called as base_loss(pred, label, sample_weight)
    custom = FairnessRegularizedLoss(2, lam=1.0, from_logits=False, base_loss=gluon.loss.L2Loss())
    out, _ = _run(custom, probs, y, g, ctx)
    pen = np_penalty("squared", probs[:, None], np.ones((10, 1)), g, 2)
    assert_almost_equal(out, 0.5 * (probs - y) ** 2 + pen, rtol=1e-4, atol=1e-5)
    # multi-class with probabilities
    logits3, y3, g3 = _data(10, num_classes=3, seed=11)
    e = np.exp(logits3 - logits3.max(1, keepdims=True))
    p3 = (e / e.sum(1, keepdims=True)).astype(np.float32)
    fair3 = FairnessRegularizedLoss(2, lam=1.0, from_logits=False, num_classes=3)
    out, _ = _run(fair3, p3, y3, g3, ctx)
    assert_almost_equal(out, np_loss(logits3, y3, g3, 2, "demographic_parity", "squared", 1.0,
                                     num_classes=3), rtol=1e-3, atol=1e-4)


def test_lam_is_a_parameter_after_hybridize_and_saved(ctx, tmp_path):
    logits, y, g = _data(16, seed=12)
    loss_fn = FairnessRegularizedLoss(2, lam=0.0)
    loss_fn.hybridize()
    base, _ = _run(loss_fn, logits, y, g, ctx)
    loss_fn.lam = 5.0  # must reach the cached graph
    assert loss_fn.lam == 5.0
    out, _ = _run(loss_fn, logits, y, g, ctx)
    pen = np_loss(logits, y, g, 2, "demographic_parity", "squared", 1.0) - base
    assert_almost_equal(out - base, 5.0 * pen, rtol=1e-3, atol=1e-5)
    path = str(tmp_path / "fair.params")
    loss_fn.save_parameters(path)
    other = FairnessRegularizedLoss(2, lam=0.0)
    other.load_parameters(path, ctx=ctx)
    assert other.lam == 5.0
    out2, _ = _run(other, logits, y, g, ctx)
    assert_almost_equal(out2, out, rtol=1e-6, atol=1e-6)


def test_lam_follows_each_context():
    logits, y, g = _data(8, seed=13)
    loss_fn = FairnessRegularizedLoss(2, lam=2.0)
    a, _ = _run(loss_fn, logits, y, g, mx.cpu(0))
    b, _ = _run(loss_fn, logits, y, g, mx.cpu(1))
    assert_almost_equal(a, b)
    loss_fn.lam = 3.0
    assert {float(loss_fn.lam_value.data(c).asscalar()) for c in (mx.cpu(0), mx.cpu(1))} == {3.0}


@settings(max_examples=25, deadline=None)
@given(
    n=st.sampled_from([3, 64]),
    penalty=st.sampled_from(PENALTY_NAMES),
    constraint=st.sampled_from(["demographic_parity", "equalized_odds", "equal_opportunity"]),
    seed=st.integers(0, 2 ** 16),
    hybridize=st.booleans(),
)
def test_property_extreme_logits_missing_groups_two_batch_sizes(n, penalty, constraint, seed,
                                                                hybridize):
    ctx = mx.cpu(1)
    rng = np.random.RandomState(seed)
    logits = rng.choice([-50.0, 50.0, 0.0, 3.0], size=n).astype(np.float32)
    y = rng.randint(0, 2, n)
    g = rng.choice([0, 2], size=n)  # group 1 of 3 is never present
    loss_fn = FairnessRegularizedLoss(3, constraint=constraint, penalty=penalty, lam=1.0)
    if hybridize:
        loss_fn.hybridize()
    copies = [a.copy() for a in (logits, y, g)]
    nd_in = [mx.nd.array(a, ctx=ctx) for a in (logits, y, g)]
    nd_copies = [a.copy() for a in nd_in]
    nd_in[0].attach_grad()
    with autograd.record():
        out = loss_fn(*nd_in)
    out.backward()
    value, grad = out.asnumpy(), nd_in[0].grad.asnumpy()
    assert value.shape == (n,)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    pen = value - np_loss(logits, y, g, 3, constraint, penalty, 0.0)
    assert np.all(pen >= -1e-4)
    assert_almost_equal(value, np_loss(logits, y, g, 3, constraint, penalty, 1.0),
                        rtol=1e-4, atol=1e-4)
    for a, b in zip((logits, y, g), copies):  # inputs not mutated
        np.testing.assert_array_equal(a, b)
    for a, b in zip(nd_in, nd_copies):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_training_reduces_the_gap(ctx):
    # a feature that leaks the group: the fair loss should close the selection-rate gap
    x, y, g = leaky_data()
    n = len(y)

    def gap_after(lam):
        mx.random.seed(0)
        net = gluon.nn.Dense(1)
        net.initialize(mx.init.Xavier(), ctx=ctx)
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
        loss_fn = FairnessRegularizedLoss(2, constraint="demographic_parity", penalty="absolute",
                                          lam=lam)
        xs, ys, gs = (mx.nd.array(a, ctx=ctx) for a in (x, y, g))
        for _ in range(60):
            with autograd.record():
                loss = loss_fn(net(xs), ys, gs)
            loss.backward()
            trainer.step(n)
        pred = (net(xs).asnumpy().ravel() > 0).astype(float)
        return abs(pred[g == 0].mean() - pred[g == 1].mean())

    plain, fair = gap_after(0.0), gap_after(5.0)
    assert plain > 0.3
    assert fair < plain / 3


def test_fairness_penalty_function_kinds(ctx):
    p = np.array([0.9, 0.2, 0.6, 0.4])
    g = np.array([0, 0, 1, 1])
    got = fairness_penalty(p, group=g, num_groups=2, penalty="absolute", from_logits=False)
    assert isinstance(got, float)
    assert got == pytest.approx(abs(0.55 - 0.5))
    # the default reads logits, as FairnessRegularizedLoss does (one convention)
    logits = np.log(p / (1 - p))
    assert fairness_penalty(logits, group=g, num_groups=2, penalty="absolute") == pytest.approx(
        0.05, abs=1e-6)
    nd = fairness_penalty(mx.nd.array(p, ctx=ctx), group=mx.nd.array(g, ctx=ctx), num_groups=2)
    assert isinstance(nd, mx.nd.NDArray) and nd.context == ctx and nd.shape == (1,)
    with pytest.raises(ValueError, match="constraint 'equalized_odds'.*pass label"):
        fairness_penalty(p, group=g, num_groups=2, constraint="equalized_odds")
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\), got .*\[0, 3\]"):
        fairness_penalty(p, group=np.array([0, 3, 1, 1]), num_groups=2)


def test_bad_input_errors(ctx):
    with pytest.raises(ValueError, match="lam must be a finite number >= 0, got -1"):
        FairnessRegularizedLoss(2, lam=-1)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0, got nan"):
        FairnessRegularizedLoss(2, lam=float("nan"))
    loss_fn = FairnessRegularizedLoss(2)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0, got -0.5"):
        loss_fn.lam = -0.5
    for bad in (np.inf, np.float32("nan"), True, "0.5", None):
        with pytest.raises(ValueError, match="lam must be a finite number >= 0, got"):
            loss_fn.lam = bad
    loss_fn.lam = np.float32(0.5)  # NumPy scalars are numbers
    assert loss_fn.lam == 0.5
    assert FairnessRegularizedLoss(2, lam=np.float64(2.0)).lam == 2.0
    with pytest.raises(ValueError, match="num_groups must be a positive integer, got 0"):
        FairnessRegularizedLoss(0)
    with pytest.raises(ValueError, match="constraint must be one of .* got 'parity'"):
        FairnessRegularizedLoss(2, constraint="parity")
    with pytest.raises(ValueError, match="penalty must be one of"):
        FairnessRegularizedLoss(2, penalty="l3")
    with pytest.raises(TypeError, match="base_loss must be a gluon Block"):
        FairnessRegularizedLoss(2, base_loss="bce")
    p, y = mx.nd.zeros((4,), ctx=ctx), mx.nd.array([0, 1, 0, 1], ctx=ctx)
    with pytest.raises(ValueError, match="group ids are required"):
        loss_fn(p, y)
    with pytest.raises(ValueError, match=r"group must have shape \(4,\) or \(4, 1\).*\(4, 2\)"):
        loss_fn(p, y, mx.nd.zeros((4, 2), ctx=ctx))
    with pytest.raises(ValueError, match=r"group must have shape .*got \(3,\)"):
        loss_fn(p, y, mx.nd.zeros((3,), ctx=ctx))
    with pytest.raises(ValueError, match=r"pred has 3 columns but num_classes=2: pass "
                                         r"num_classes=3"):
        loss_fn(mx.nd.zeros((4, 3), ctx=ctx), y, mx.nd.zeros((4,), ctx=ctx))
    with pytest.raises(ValueError, match=r"sample_weight must have shape"):
        loss_fn(p, y, mx.nd.zeros((4,), ctx=ctx), mx.nd.ones((2,), ctx=ctx))
    # value checks: on the host, in check_inputs or with check_groups=True
    bad_g = mx.nd.array([0, 1, 2, 1], ctx=ctx)
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        loss_fn(p, y, bad_g)  # the first batch of a shape is checked on the host
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        loss_fn.check_inputs(p, y, bad_g)
    checked = FairnessRegularizedLoss(2, check_groups=True)
    checked.hybridize()
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        checked(p, y, bad_g)
    with pytest.raises(ValueError, match=r"label: labels must be integers in \[0, 2\)"):
        checked(p, mx.nd.array([0, 1, 2, 1], ctx=ctx), mx.nd.zeros((4,), ctx=ctx))
    eo = FairnessRegularizedLoss(2, constraint="equalized_odds")
    with pytest.raises(ValueError, match="'equalized_odds' conditions on the true label"):
        eo.check_inputs(p, None, mx.nd.zeros((4,), ctx=ctx))


def test_docstring_examples():
    for module in (mxfair.loss.statistics, mxfair.loss.penalties, mxfair.loss.fair_loss):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


@pytest.mark.parametrize("hybridize", [False, True])
def test_int64_labels_from_a_loader_are_cast_to_the_pred_dtype(hybridize, ctx):
    # TabularData.to_gluon yields int64 labels; the loss must accept them as they come.
    pred = mx.nd.array([[0.3], [-1.2], [2.0], [0.1]], ctx=ctx)
    label = mx.nd.array([1, 0, 1, 0], ctx=ctx, dtype="int64")
    group = mx.nd.array([0, 0, 1, 1], ctx=ctx, dtype="int64")
    loss = FairnessRegularizedLoss(num_groups=2, lam=1.0)
    loss.initialize(ctx=ctx)
    if hybridize:
        loss.hybridize()
    got = loss(pred, label, group)
    want = loss(pred, label.astype("float32"), group)
    assert got.context == ctx
    np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-6)


# ----------------------------------------------------------- scale of the weights (issue 17)
class _ZeroBase(gluon.loss.Loss):
    def __init__(self, **kwargs):
        super().__init__(None, 0, **kwargs)

    def hybrid_forward(self, F, pred, label, sample_weight=None):
        return F.zeros_like(F.reshape(pred, shape=(-1,)))


@pytest.mark.parametrize("penalty", PENALTY_NAMES)
@pytest.mark.parametrize("constraint", ["demographic_parity", "equal_opportunity",
                                        "equalized_odds"])
def test_penalty_does_not_change_with_a_common_scale_of_the_weights(constraint, penalty, ctx):
    rng = np.random.RandomState(21)
    n = 45
    logits = rng.randn(n).astype(np.float32)
    y = rng.randint(0, 2, n)
    g = np.r_[np.zeros(40), np.ones(5)]  # a 5-row group
    y[40:] = [1, 0, 1, 1, 0]
    w = (0.5 + rng.rand(n)).astype(np.float32)
    loss_fn = FairnessRegularizedLoss(2, constraint=constraint, penalty=penalty, lam=1.0,
                                      base_loss=_ZeroBase())
    ref = fairness_penalty(logits, group=g, label=y, num_groups=2, constraint=constraint,
                           penalty=penalty,
                           sample_weight=w)
    assert ref > 1e-3
    for scale in (1e-18, 1e-14, 1e6):
        got = fairness_penalty(logits, group=g, label=y, num_groups=2, constraint=constraint,
                               penalty=penalty, sample_weight=w * np.float32(scale))
        assert got == pytest.approx(ref, rel=2e-5), scale
        out, grad = _run(loss_fn, logits, y, g, ctx, sample_weight=w * np.float32(scale))
        assert_almost_equal(out, np.full(n, ref), rtol=2e-5, atol=0)
        _, ref_grad = _run(loss_fn, logits, y, g, ctx, sample_weight=w)
        assert_almost_equal(grad, ref_grad, rtol=1e-4, atol=1e-4 * np.abs(ref_grad).max())


# ------------------------------------------------------------- invalid rows and bad input
def test_groups_coded_from_one_are_refused_on_the_first_batch(ctx):
    loss_fn = FairnessRegularizedLoss(num_groups=2)
    loss_fn.hybridize()
    pred = mx.nd.array([0.3, -0.2, 1.0, 0.5], ctx=ctx)
    y = mx.nd.array([1, 0, 1, 0], ctx=ctx)
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\).*\[1, 2\]"):
        loss_fn(pred, y, mx.nd.array([1, 2, 1, 2], ctx=ctx))


def _masked_reference(logits, y, g, w, valid, constraint, penalty, lam):
    """NumPy reference with invalid rows left out of the penalty and weighted 0 in the base."""
    ref = np_loss(logits[valid], y[valid], g[valid].astype(int), 2, constraint, penalty, lam,
                  sample_weight=None if w is None else w[valid])
    pen = ref[0] - np_loss(logits[valid][:1], y[valid][:1], g[valid][:1].astype(int), 2,
                           constraint, penalty, 0.0,
                           sample_weight=None if w is None else w[valid][:1])[0]
    out = np.full(len(y), pen)
    out[valid] = ref
    return out


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("penalty", PENALTY_NAMES)
def test_invalid_rows_of_later_batches_are_left_out_counted_and_warned(penalty, hybridize, ctx):
    logits, y, g = _data(16, seed=30)
    y, g = y.astype(np.float64), g.astype(np.float64)
    w = np.random.RandomState(31).rand(16) + 0.5
    loss_fn = FairnessRegularizedLoss(2, constraint="equalized_odds", penalty=penalty, lam=2.0)
    if hybridize:
        loss_fn.hybridize()
    _run(loss_fn, logits, y, g, ctx, sample_weight=w)  # the first batch: clean (checked)
    bad_g, bad_y, bad_w = g.copy(), y.copy(), w.copy()
    bad_g[[0, 1, 2, 3]] = [2, np.nan, 0.5, -1]
    bad_y[4] = 2
    bad_w[[5, 6]] = [np.nan, -1.0]
    out, grad = _run(loss_fn, logits, bad_y, bad_g, ctx, sample_weight=bad_w)
    valid = np.ones(16, bool)
    valid[:7] = False
    want = _masked_reference(logits, y, g, w, valid, "equalized_odds", penalty, 2.0)
    assert_almost_equal(out, want, rtol=1e-4, atol=1e-5)
    assert np.all(np.isfinite(grad)) and np.all(grad[~valid] == 0)
    assert loss_fn.num_invalid == {"rows": 7.0, "group": 4.0, "label": 1.0,
                                   "sample_weight": 2.0}
    # The count is read with a lag, never stalling a step: at call 4 the total of call 2.
    with pytest.warns(UserWarning, match=r"FairnessRegularizedLoss left 7 invalid row\(s\) out"
                                         r".*group id not an integer in \[0, 2\): 4; label "
                                         r"not a class id in \[0, 2\): 1; sample_weight "
                                         r"negative, NaN or infinite: 2"):
        for _ in range(2):
            _run(loss_fn, logits, bad_y, bad_g, ctx, sample_weight=bad_w)
    loss_fn.reset_invalid()
    assert loss_fn.num_invalid["rows"] == 0


@pytest.mark.parametrize("make", [
    lambda: FairnessRegularizedLoss(2),
    lambda: mxfair.loss.ConstrainedFairLoss(2, bound=0.1),
    lambda: mxfair.loss.AdversarialDebiasing(2, constraint="equalized_odds"),
])
def test_bad_input_gets_errors_naming_the_argument(make, ctx):
    block = make()
    if isinstance(block, mxfair.loss.AdversarialDebiasing):
        block.initialize(ctx=ctx)
    p = mx.nd.array([0.3, -0.2, 1.0, 0.5], ctx=ctx)
    y = mx.nd.array([1, 0, 1, 0], ctx=ctx)
    g = mx.nd.array([0, 0, 1, 1], ctx=ctx)
    with pytest.raises(TypeError, match=r"pred must be an MXNet NDArray .*got ndarray; pass "
                                        r"mx.nd.array\(pred\)"):
        block(p.asnumpy(), y, g)
    with pytest.raises(TypeError, match="label must be an MXNet NDArray"):
        block(p, y.asnumpy(), g)
    with pytest.raises(TypeError, match=r"group must hold numeric ids, got strings/objects "
                                        r"\(dtype <U1\); encode them with mxfair.GroupEncoder"):
        block(p, y, np.array(["a", "a", "b", "b"]))
    with pytest.raises(TypeError, match=r"pred has dtype float64; .* computes in float32: "
                                        r"pass pred.astype\('float32'\)"):
        block(p.astype("float64"), y, g)
    with pytest.raises(ValueError, match="pred has 0 rows: .* needs a non-empty batch"):
        empty = mx.nd.array(np.zeros(0), ctx=ctx)  # what p[2:2] gives
        block(empty, empty, empty)
    with pytest.raises(ValueError, match="pred has 10 columns but num_classes=2: pass "
                                         "num_classes=10"):
        block(mx.nd.zeros((4, 10), ctx=ctx), y, g)
    with pytest.raises(ValueError, match=r"pred has 2 columns.*pred\[:, 1\] - pred\[:, 0\]"):
        block(mx.nd.zeros((4, 2), ctx=ctx), y, g)
    with pytest.raises(ValueError, match=r"sample_weight must be finite and >= 0"):
        block(p, y, g, mx.nd.array([1, -1, 1, 1], ctx=ctx))


def test_fairness_penalty_refuses_bad_input():
    p, g = np.array([0.3, -0.2, 1.0]), np.array([0, 0, 1])
    with pytest.raises(TypeError, match="group must hold numeric ids, got strings/objects"):
        fairness_penalty(p, group=np.array(["x", "x", "y"], dtype=object), num_groups=2)
    with pytest.raises(ValueError, match="pred has 0 rows"):
        fairness_penalty(np.zeros(0), group=np.zeros(0), num_groups=2)
    with pytest.raises(ValueError, match="pass num_classes=5"):
        fairness_penalty(np.zeros((3, 5)), group=g, num_groups=2)
    with pytest.raises(ValueError, match=r"sample_weight must be finite and >= 0"):
        fairness_penalty(p, group=g, num_groups=2, sample_weight=[1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"group ids must be integers"):
        fairness_penalty(p, group=np.array([0, 0.5, 1]), num_groups=2)
    # float64 NDArrays are cast inside autograd (a host function: it computes in float32)
    pred = mx.nd.array(p, dtype="float64")
    pred.attach_grad()
    with autograd.record():
        out = fairness_penalty(pred, group=mx.nd.array(g), num_groups=2)
    out.backward()
    assert out.dtype == np.float32 and np.all(np.isfinite(pred.grad.asnumpy()))
