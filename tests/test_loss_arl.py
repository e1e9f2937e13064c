"""ARL: the adversary's example weights and gradients, the learner's weighted loss."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

from mxfair.loss import ARLAdversary, ARLLoss


def _adversary(ctx, num_classes=3, hidden=4, **kw):
    mx.random.seed(1)
    adv = ARLAdversary(num_classes=num_classes, hidden_units=hidden, **kw)
    adv.initialize(mx.init.Normal(0.5), ctx=ctx)
    return adv


def np_weights(adv, x, y, num_classes, ctx):
    """1 + a / mean(a), a = sigmoid(adversary(x, onehot(y))) with the adversary's parameters."""
    feats = x.reshape(len(x), -1)
    if num_classes == 2:
        feats = np.concatenate([feats, y.reshape(-1, 1)], axis=1)
    else:
        feats = np.concatenate([feats, np.eye(num_classes)[y.astype(int)]], axis=1)
    h = feats
    if adv.hidden is not None:
        h = h @ adv.hidden.weight.data(ctx).asnumpy().T + adv.hidden.bias.data(ctx).asnumpy()
    logit = (h @ adv.output.weight.data(ctx).asnumpy().T).reshape(-1) \
        + adv.output.bias.data(ctx).asnumpy()
    a = 1 / (1 + np.exp(-logit))
    return 1 + a / max(a.mean(), 1e-4)


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("num_classes", [2, 3])
def test_weights_match_reference(num_classes, hybridize, ctx):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(10, 2, 3)).astype(np.float32)
    y = rng.randint(0, num_classes, 10).astype(np.float32)
    adv = _adversary(ctx, num_classes)
    if hybridize:
        adv.hybridize()
    w = adv(mx.nd.array(x, ctx=ctx), mx.nd.array(y, ctx=ctx))
    assert w.context == ctx and w.shape == (10,)
    assert_almost_equal(w.asnumpy(), np_weights(adv, x, y, num_classes, ctx), rtol=1e-5,
                        atol=1e-6)
    assert w.mean().asscalar() == pytest.approx(2.0, rel=1e-6)
    assert w.min().asscalar() >= 1.0


def test_one_backward_descends_for_the_learner_and_ascends_for_the_adversary(ctx):
    rng = np.random.RandomState(2)
    x = rng.normal(size=(12, 5)).astype(np.float32)
    y = rng.randint(0, 3, 12).astype(np.float32)
    adv = _adversary(ctx, 3, hidden=0)
    net = gluon.nn.Dense(3, in_units=5)
    net.initialize(mx.init.Normal(0.5), ctx=ctx)
    loss_fn = ARLLoss(num_classes=3)
    X, Y = mx.nd.array(x, ctx=ctx), mx.nd.array(y, ctx=ctx)
    seen = X.copy()  # what the adversary reads, apart from the learner's input
    seen.attach_grad()
    with autograd.record():
        loss = loss_fn(net(X), Y, adv(seen, Y))
    loss.backward()
    # reference objective J = sum_i w_i(phi) l_i(theta); central differences in float64
    W = adv.output.weight.data(ctx).asnumpy().astype(np.float64)
    b = adv.output.bias.data(ctx).asnumpy().astype(np.float64)
    V = net.weight.data(ctx).asnumpy().astype(np.float64)
    c = net.bias.data(ctx).asnumpy().astype(np.float64)
    feats = np.concatenate([x, np.eye(3)[y.astype(int)]], axis=1).astype(np.float64)

    def objective(W, V):
        a = 1 / (1 + np.exp(-(feats @ W.T).reshape(-1) - b))
        w = 1 + a / a.mean()
        z = x @ V.T + c
        z = z - z.max(axis=1, keepdims=True)
        ell = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(12), y.astype(int)]
        return (w * ell).sum()

    def fd(arr, f):
        out = np.zeros_like(arr)
        for i in np.ndindex(*arr.shape):
            p, m = arr.copy(), arr.copy()
            p[i] += 1e-6
            m[i] -= 1e-6
            out[i] = (f(p) - f(m)) / 2e-6
        return out

    grad_v = fd(V, lambda v: objective(W, v))
    grad_w = fd(W, lambda w: objective(w, V))
    assert_almost_equal(net.weight.grad(ctx).asnumpy(), grad_v, rtol=1e-3, atol=1e-4)
    assert_almost_equal(adv.output.weight.grad(ctx).asnumpy(), -grad_w, rtol=1e-3, atol=1e-4)
    assert not seen.grad.asnumpy().any()  # the adversary never trains what it reads


def test_scale_and_hybridized_gradients(ctx):
    rng = np.random.RandomState(3)
    x = mx.nd.array(rng.normal(size=(8, 4)), ctx=ctx)
    y = mx.nd.array(rng.randint(0, 2, 8), ctx=ctx)
    ell = mx.nd.array(rng.uniform(0.1, 2, 8), ctx=ctx)
    grads = []
    for hybridize, scale in ((False, 1.0), (True, 1.0), (True, 0.5)):
        adv = _adversary(ctx, 2, scale=scale)
        if hybridize:
            adv.hybridize()
        with autograd.record():
            (adv(x, y) * ell).sum().backward()
        grads.append(adv.output.weight.grad(ctx).asnumpy())
    assert_almost_equal(grads[0], grads[1], rtol=1e-5, atol=1e-7)
    assert_almost_equal(grads[2], 0.5 * grads[1], rtol=1e-5, atol=1e-7)


def test_state_survives_save_load(ctx, tmp_path):
    adv = _adversary(ctx, 3, scale=0.25)
    x = mx.nd.random.normal(shape=(6, 4), ctx=ctx)
    y = mx.nd.array([0, 1, 2, 0, 1, 2], ctx=ctx)
    w = adv(x, y).asnumpy()
    adv.save_parameters(str(tmp_path / "adv.params"))
    fresh = ARLAdversary(num_classes=3, hidden_units=4)
    fresh.load_parameters(str(tmp_path / "adv.params"), ctx=ctx)
    assert fresh.scale == 0.25
    assert_almost_equal(fresh(x, y).asnumpy(), w)


@pytest.mark.parametrize("hybridize", [False, True])
def test_loss_is_weighted_base_loss(hybridize, ctx):
    loss = ARLLoss(num_classes=4)
    if hybridize:
        loss.hybridize()
    pred = mx.nd.random.normal(shape=(5, 4), ctx=ctx)
    y = mx.nd.array([0, 1, 2, 3, 0], ctx=ctx)
    w = mx.nd.array([1, 2, 3, 1, 1], ctx=ctx)
    plain = gluon.loss.SoftmaxCrossEntropyLoss()(pred, y).asnumpy()
    assert_almost_equal(loss(pred, y).asnumpy(), plain, rtol=1e-6)  # pre-training: no weights
    out = loss(pred, y, w)
    assert out.context == ctx
    assert_almost_equal(out.asnumpy(), plain * w.asnumpy(), rtol=1e-6)
    binary = ARLLoss()
    z = mx.nd.array([0.0, 2.0, -1.0], ctx=ctx)
    yb = mx.nd.array([1, 0, 0], ctx=ctx)
    ref = gluon.loss.SigmoidBinaryCrossEntropyLoss()(z, yb).asnumpy()
    assert_almost_equal(binary(z, yb, mx.nd.array([2, 1, 1], ctx=ctx)).asnumpy(),
                        ref * [2, 1, 1], rtol=1e-6)


def test_adversary_upweights_the_rows_the_learner_gets_wrong(ctx):
    """A toy: a group the linear learner cannot fit; the adversary, which sees (x, y), finds it."""
    rng = np.random.RandomState(0)
    n = 300
    hard = rng.uniform(size=n) < 0.15
    x = rng.normal(size=(n, 2)).astype(np.float32)
    x[:, 1] = hard  # the adversary can see the group through a feature
    y = np.where(hard, x[:, 0] < 0, x[:, 0] > 0).astype(np.float32)  # flipped rule on hard
    X, Y = mx.nd.array(x, ctx=ctx), mx.nd.array(y, ctx=ctx)
    net = gluon.nn.Dense(1)
    net.initialize(ctx=ctx)
    adv = ARLAdversary(hidden_units=0)
    adv.initialize(ctx=ctx)
    loss_fn = ARLLoss()
    t_net = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
    t_adv = gluon.Trainer(adv.collect_params(), "adam", {"learning_rate": 0.05})
    for _ in range(100):
        with autograd.record():
            loss = loss_fn(net(X), Y, adv(X, Y))
        loss.backward()
        t_net.step(n)
        t_adv.step(n)
    w = adv(X, Y).asnumpy()
    assert w[hard].mean() > 1.5 * w[~hard].mean()


def test_bad_input_is_refused_clearly(ctx):
    adv = ARLAdversary(num_classes=3)
    with pytest.raises(ValueError, match="label is required"):
        adv(mx.nd.zeros((2, 3), ctx=ctx))
    with pytest.raises(TypeError, match="features must be an MXNet NDArray"):
        adv(np.zeros((2, 3)), mx.nd.zeros((2,), ctx=ctx))
    with pytest.raises(TypeError, match="GroupEncoder"):
        adv(mx.nd.zeros((2, 3), ctx=ctx), np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"label must have shape \(2,\)"):
        adv(mx.nd.zeros((2, 3), ctx=ctx), mx.nd.zeros((3,), ctx=ctx))
    with pytest.raises(ValueError, match="hidden_units must be an integer >= 0"):
        ARLAdversary(hidden_units=-1)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        ARLAdversary(scale=float("nan"))
    loss = ARLLoss(num_classes=3)
    with pytest.raises(ValueError, match="pred has 5 columns but num_classes=3: pass "):
        loss(mx.nd.zeros((2, 5), ctx=ctx), mx.nd.zeros((2,), ctx=ctx))
    with pytest.raises(ValueError, match=r"label: labels must be integers in \[0, 3\)"):
        loss(mx.nd.zeros((2, 3), ctx=ctx), mx.nd.array([0, 3], ctx=ctx))  # first of its shape
    with pytest.raises(ValueError, match=r"label: labels must be integers in \[0, 3\)"):
        adv(mx.nd.zeros((2, 3), ctx=ctx), mx.nd.array([0.5, 1], ctx=ctx))
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        loss(mx.nd.zeros((2, 3), ctx=ctx), mx.nd.zeros((2,), ctx=ctx),
             mx.nd.ones((4,), ctx=ctx))
    with pytest.raises(TypeError, match="base_loss must be a gluon Block"):
        ARLLoss(base_loss="ce")
