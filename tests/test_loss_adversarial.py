"""GradientReversal and AdversarialDebiasing: values, reversed gradients, hybridize, training."""
import doctest

import mxnet as mx
import numpy as np
import pytest
from _helpers import leaky_data
from fairlearn.metrics import demographic_parity_difference
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

import mxfair.loss
from mxfair.loss import AdversarialDebiasing, GradientReversal


@pytest.mark.parametrize("hybridize", [False, True])
def test_gradient_reversal_value_and_gradient(hybridize, ctx):
    grl = GradientReversal(scale=0.5)
    if hybridize:
        grl.hybridize()
    x_np = np.random.RandomState(0).randn(4, 3).astype(np.float32) * 100
    head = np.random.RandomState(1).randn(4, 3).astype(np.float32)
    for scale in (0.5, 3.0):  # the scale reaches the cached graph
        grl.scale = scale
        x = mx.nd.array(x_np, ctx=ctx)
        x.attach_grad()
        with autograd.record():
            y = grl(x)
        y.backward(mx.nd.array(head, ctx=ctx))
        assert y.context == ctx
        np.testing.assert_array_equal(y.asnumpy(), x_np)  # exactly the identity
        assert_almost_equal(x.grad.asnumpy(), -scale * head, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0, got -1"):
        grl.scale = -1
    for bad in (np.nan, np.inf, True, "1"):
        with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
            GradientReversal(scale=bad)
    grl.scale = np.float32(0.25)  # NumPy scalars are numbers too
    assert grl.scale == 0.25


def _adversary_reference(adv, pred, y, g, ctx, constraint):
    """The adversary's loss built by hand from its parameters, without gradient reversal."""
    params = {name.split("_", 1)[1] if "_" in name else name: p
              for name, p in adv.collect_params().items()}
    c = params["c"].data(ctx)
    w = [p.data(ctx) for k, p in params.items() if k.endswith("weight")]
    b = [p.data(ctx) for k, p in params.items() if k.endswith("bias")]
    s = mx.nd.sigmoid(pred.reshape((-1, 1)) * (1 + mx.nd.abs(c)))
    if constraint == "demographic_parity":
        feats = s
    else:
        yy = y.reshape((-1, 1))
        feats = mx.nd.concat(s, s * yy, s * (1 - yy), yy, dim=1)
    logits = mx.nd.FullyConnected(feats, w[0], b[0], num_hidden=w[0].shape[0])
    ce = -mx.nd.pick(mx.nd.log_softmax(logits), g)
    if constraint == "equal_opportunity":
        ce = ce * y
    if constraint == "predictive_equality":
        ce = ce * (1 - y)
    return ce


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("constraint", ["demographic_parity", "equal_opportunity",
                                        "predictive_equality", "equalized_odds"])
def test_adversary_loss_and_reversed_gradients(constraint, hybridize, ctx):
    rng = np.random.RandomState(2)
    n = 32
    pred_np = rng.randn(n).astype(np.float32)
    y = mx.nd.array(rng.randint(0, 2, n), ctx=ctx)
    g = mx.nd.array(rng.randint(0, 3, n), ctx=ctx)
    adv = AdversarialDebiasing(3, constraint=constraint, alpha=0.7)
    adv.initialize(mx.init.Normal(0.5), ctx=ctx)
    if hybridize:
        adv.hybridize()
    for _ in range(2):  # the second call runs the cached graph
        pred = mx.nd.array(pred_np, ctx=ctx)
        pred.attach_grad()
        with autograd.record():
            loss = adv(pred, y, g)
        loss.backward()
    assert loss.shape == (n,) and loss.context == ctx
    adv_grads = {k: p.grad(ctx).asnumpy().copy() for k, p in adv.collect_params().items()
                 if p.grad_req != "null"}
    # reference without reversal: the same value, the same adversary gradients, and the
    # opposite (times alpha) gradient for the model's output
    ref_pred = mx.nd.array(pred_np, ctx=ctx)
    ref_pred.attach_grad()
    with autograd.record():
        ref = _adversary_reference(adv, ref_pred, y, g, ctx, constraint)
    ref.backward()
    assert_almost_equal(loss.asnumpy(), ref.asnumpy(), rtol=1e-5, atol=1e-6)
    assert_almost_equal(pred.grad.asnumpy(), -0.7 * ref_pred.grad.asnumpy(),
                        rtol=1e-4, atol=1e-6)
    for k, p in adv.collect_params().items():
        if p.grad_req != "null":
            assert_almost_equal(adv_grads[k], p.grad(ctx).asnumpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(adv_grads[[k for k in adv_grads if k.endswith("_c")][0]]).sum() > 0


def test_hidden_layer_multiclass_and_weights_hybrid_equal_imperative(ctx):
    rng = np.random.RandomState(3)
    pred_np = rng.randn(20, 4).astype(np.float32)
    y = mx.nd.array(rng.randint(0, 4, 20), ctx=ctx)
    g = mx.nd.array(rng.randint(0, 2, 20), ctx=ctx)
    sw = mx.nd.array(rng.rand(20), ctx=ctx)
    outs = []
    for hybridize in (False, True):
        mx.random.seed(0)
        adv = AdversarialDebiasing(2, constraint="equalized_odds", hidden_units=8, num_classes=4)
        adv.initialize(mx.init.Xavier(), ctx=ctx)
        if hybridize:
            adv.hybridize()
        pred = mx.nd.array(pred_np, ctx=ctx)
        pred.attach_grad()
        with autograd.record():
            loss = adv(pred, y, g, sw)
        loss.backward()
        outs.append((loss.asnumpy(), pred.grad.asnumpy()))
    assert outs[0][0].shape == (20,)
    assert_almost_equal(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    assert_almost_equal(outs[0][1], outs[1][1], rtol=1e-5, atol=1e-6)


def test_adversary_save_load_keeps_alpha(ctx, tmp_path):
    adv = AdversarialDebiasing(2, alpha=0.3, hidden_units=4)
    adv.initialize(ctx=ctx)
    adv(mx.nd.zeros((3,), ctx=ctx), None, mx.nd.array([0, 1, 0], ctx=ctx))
    adv.alpha = 2.5
    path = str(tmp_path / "adv.params")
    adv.save_parameters(path)
    other = AdversarialDebiasing(2, alpha=0.3, hidden_units=4)
    other.load_parameters(path, ctx=ctx)
    assert other.alpha == 2.5


def test_adversary_errors(ctx):
    with pytest.raises(ValueError, match="constraint must be one of"):
        AdversarialDebiasing(2, constraint="predictive_parity")
    with pytest.raises(ValueError, match="'equal_opportunity' is defined for binary tasks"):
        AdversarialDebiasing(2, constraint="equal_opportunity", num_classes=3)
    with pytest.raises(ValueError, match="'predictive_equality' is defined for binary tasks"):
        AdversarialDebiasing(2, constraint="false_positive_rate_parity", num_classes=3)
    with pytest.raises(ValueError, match="hidden_units must be a non-negative integer, got -3"):
        AdversarialDebiasing(2, hidden_units=-3)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0, got -0.5"):
        AdversarialDebiasing(2, alpha=-0.5)
    for bad in (np.nan, np.inf, False):
        with pytest.raises(ValueError, match="alpha must be a finite number >= 0, got"):
            AdversarialDebiasing(2, alpha=bad)
    adv = AdversarialDebiasing(2, alpha=np.float32(0.5))
    assert adv.alpha == 0.5
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0, got nan"):
        adv.alpha = np.float64("nan")
    with pytest.raises(ValueError, match="num_groups must be a positive integer"):
        AdversarialDebiasing(0)
    adv = AdversarialDebiasing(2, constraint="equalized_odds")
    adv.initialize(ctx=ctx)
    p, g = mx.nd.zeros((4,), ctx=ctx), mx.nd.array([0, 1, 0, 1], ctx=ctx)
    with pytest.raises(ValueError, match="'equalized_odds' conditions on the true label"):
        adv(p, None, g)
    with pytest.raises(ValueError, match=r"group must have shape \(4,\) or \(4, 1\)"):
        adv(p, g, mx.nd.zeros((5,), ctx=ctx))
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        adv.check_inputs(p, g, mx.nd.array([0, 1, 2, 1], ctx=ctx))


def test_adversarial_training_reduces_the_gap(ctx):
    x, y, g = leaky_data()
    n = len(y)
    xs, ys, gs = (mx.nd.array(a, ctx=ctx) for a in (x, y, g))

    def gap_after(alpha):
        mx.random.seed(0)
        net = gluon.nn.Dense(1)
        net.initialize(mx.init.Xavier(), ctx=ctx)
        adv = AdversarialDebiasing(2, alpha=alpha)
        adv.initialize(mx.init.Xavier(), ctx=ctx)
        net.hybridize()
        adv.hybridize()
        bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.02})
        adv_trainer = gluon.Trainer(adv.collect_params(), "adam", {"learning_rate": 0.05})
        for _ in range(150):
            with autograd.record():
                out = net(xs)
                loss = bce(out, ys) + adv(out, ys, gs)
            loss.backward()
            trainer.step(n)
            adv_trainer.step(n)
        pred = net(xs).asnumpy().ravel() > 0
        return demographic_parity_difference(y, pred, sensitive_features=g)

    plain, fair = gap_after(0.0), gap_after(3.0)
    assert plain > 0.3
    assert fair < 0.5 * plain


def test_docstring_examples():
    for module in (mxfair.loss.adversarial, mxfair.loss.constrained):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_loader_dtypes_are_accepted(ctx):
    # int64 labels (to_gluon) and float64 weights (reweighing_weights on NumPy) as a loader gives
    adv = AdversarialDebiasing(num_groups=2, constraint="equalized_odds")
    adv.initialize(ctx=ctx)
    pred = mx.nd.array([[0.5], [-1.0], [2.0], [0.1]], ctx=ctx)
    label = mx.nd.array([1, 0, 1, 0], ctx=ctx, dtype="int64")
    group = mx.nd.array([0, 0, 1, 1], ctx=ctx, dtype="int64")
    weight = mx.nd.array([1.0, 2.0, 1.0, 0.5], ctx=ctx, dtype="float64")
    got = adv(pred, label, group, weight)
    want = adv(pred, label.astype("float32"), group, weight.astype("float32"))
    assert got.context == ctx
    assert_almost_equal(got.asnumpy(), want.asnumpy())


def test_check_inputs_takes_lists_like_the_fair_loss():
    adv = AdversarialDebiasing(num_groups=2)
    adv.check_inputs([0.1, 0.2], [1, 0], [0, 1])  # fine
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        adv.check_inputs([0.1, 0.2], [1, 0], [0, 2])


def _adv_step(adv, pred_np, y, g, ctx):
    pred = mx.nd.array(pred_np, ctx=ctx)
    pred.attach_grad()
    with autograd.record():
        out = adv(pred, mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx))
    out.backward()
    grads = [p.grad(ctx).asnumpy().copy() for p in adv.collect_params().values()
             if p.grad_req != "null"]
    return out.asnumpy(), pred.grad.asnumpy(), grads


@pytest.mark.parametrize("hybridize", [False, True])
def test_out_of_range_group_ids_are_never_trained_as_the_last_group(hybridize, ctx):
    adv = AdversarialDebiasing(2, constraint="equalized_odds", hidden_units=3)
    adv.initialize(mx.init.Xavier(), ctx=ctx)
    if hybridize:
        adv.hybridize()
    pred = np.array([0.5, -1.0, 2.0, 0.1], dtype=np.float32)
    y = np.array([1, 0, 1, 0])
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        adv(mx.nd.array(pred, ctx=ctx), mx.nd.array(y, ctx=ctx),
            mx.nd.array([0, 1, 2, 1], ctx=ctx))  # the first batch is checked on the host
    clean = _adv_step(adv, pred, y, np.array([0, 1, 0, 1]), ctx)
    # a later batch with a bad id in row 2: that row adds nothing, it is not group 1
    out, pred_grad, grads = _adv_step(adv, pred, y, np.array([0, 1, 2, 1]), ctx)
    assert out[2] == 0 and pred_grad[2] == 0
    np.testing.assert_array_equal(out[[0, 1, 3]], clean[0][[0, 1, 3]])
    as_last = _adv_step(adv, pred, y, np.array([0, 1, 1, 1]), ctx)
    assert not np.allclose(grads[-1], as_last[2][-1])  # before: trained as group 1
    with pytest.warns(UserWarning, match=r"AdversarialDebiasing left 1 invalid row\(s\) out.*"
                                         r"group id not an integer in \[0, 2\): 1"):
        # the 4th call reads the count as it stood at the 2nd: the bad batch's one row
        reference = _adv_step(adv, pred[[0, 1, 3]], y[[0, 1, 3]], np.array([0, 1, 1]), ctx)
    for got, want in zip(grads, reference[2]):
        assert_almost_equal(got, want, rtol=1e-5, atol=1e-7)
    assert adv.num_invalid["group"] == 1


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_infinite_logits_give_finite_gradients(constraint, hybridize, ctx):
    adv = AdversarialDebiasing(2, constraint=constraint, alpha=1.0)
    adv.initialize(mx.init.Xavier(), ctx=ctx)
    if hybridize:
        adv.hybridize()
    pred = np.array([np.inf, -np.inf, 3.0, -2.0], dtype=np.float32)
    y, g = np.array([1, 0, 0, 1]), np.array([0, 1, 0, 1])
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    x = mx.nd.array(pred, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        task = bce(x, mx.nd.array(y, ctx=ctx))
    task.backward()
    assert np.all(np.isfinite(x.grad.asnumpy()))  # Gluon's own BCE: finite gradients at +-inf
    out, pred_grad, grads = _adv_step(adv, pred, y, g, ctx)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(pred_grad))
    assert all(np.all(np.isfinite(gr)) for gr in grads)
    # a saturated logit is what a large finite one is
    big = _adv_step(adv, np.array([1e5, -1e5, 3.0, -2.0], dtype=np.float32), y, g, ctx)
    assert_almost_equal(out, big[0], rtol=1e-6, atol=1e-7)


def test_numpy_and_list_inputs(ctx):
    adv = AdversarialDebiasing(2)
    adv.initialize(ctx=ctx)
    with pytest.raises(TypeError, match=r"pred must be an MXNet NDArray.*mx.nd.array\(pred\)"):
        adv(np.zeros(4, np.float32), None, mx.nd.zeros(4, ctx=ctx))
    with pytest.raises(TypeError, match="group must hold numeric ids, got strings"):
        adv(mx.nd.zeros(4, ctx=ctx), None, np.array(["a", "b", "a", "b"]))
