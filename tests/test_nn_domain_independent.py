"""The domain-independent head, its loss and the domain-free inference (Wang et al., 2020)."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

from mxfair.nn import (
    CombineDomains,
    DomainIndependentHead,
    DomainIndependentLoss,
    domain_class_log_prior,
    domain_independent_nets,
)


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_loss(z, y, d):
    """Reference: the reference code's criterion, log-softmax of each half, NLL at y + K d."""
    n, D, K = z.shape
    flat = np.concatenate([_log_softmax(z[:, j]) for j in range(D)], axis=1)  # (N, D*K)
    return -flat[np.arange(n), y.astype(int) + K * d.astype(int)]


def np_binary_loss(z, y, d):
    own = z[np.arange(len(y)), d.astype(int), 0]
    return np.maximum(own, 0) - own * y + np.log1p(np.exp(-np.abs(own)))


def _data(n=8, D=2, K=3, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(0, 2, size=(n, D, 1 if K == 2 else K)).astype(np.float32)
    return z, rng.randint(0, K, n).astype(np.float32), rng.randint(0, D, n).astype(np.float32)


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("K", [2, 4])
def test_loss_matches_reference_criterion(K, hybridize, ctx):
    z, y, d = _data(K=K)
    loss = DomainIndependentLoss(K, 2)
    if hybridize:
        loss.hybridize()
    out = loss(*(mx.nd.array(a, ctx=ctx) for a in (z, y, d)))
    ref = np_binary_loss(z, y, d) if K == 2 else np_loss(z, y, d)
    assert out.context == ctx
    assert_almost_equal(out.asnumpy(), ref, rtol=1e-5, atol=1e-6)
    w = np.linspace(0, 2, len(y)).astype(np.float32)
    out_w = loss(*(mx.nd.array(a, ctx=ctx) for a in (z, y, d, w)))
    assert_almost_equal(out_w.asnumpy(), ref * w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("K", [2, 3])
def test_gradient_matches_finite_differences(K, ctx):
    z, y, d = _data(n=5, K=K, seed=1)
    x = mx.nd.array(z, ctx=ctx)
    x.attach_grad()
    with autograd.record():
        out = DomainIndependentLoss(K, 2)(x, mx.nd.array(y, ctx=ctx), mx.nd.array(d, ctx=ctx))
    out.backward()
    ref = np_binary_loss if K == 2 else np_loss
    zz = z.astype(np.float64)
    fd = np.zeros_like(zz)
    eps = 1e-6
    for i in np.ndindex(*zz.shape):
        p, m = zz.copy(), zz.copy()
        p[i] += eps
        m[i] -= eps
        fd[i] = (ref(p, y, d).sum() - ref(m, y, d).sum()) / (2 * eps)
    assert_almost_equal(x.grad.asnumpy(), fd, rtol=1e-3, atol=1e-5)
    # the other domain's head gets no gradient from a row
    other = 1 - d.astype(int)
    assert np.all(x.grad.asnumpy()[np.arange(5), other] == 0)


@pytest.mark.parametrize("hybridize", [False, True])
def test_combine_rules(hybridize, ctx):
    z, _, _ = _data(K=3)
    probs = np.exp(_log_softmax(z))
    for rule, ref in (("sum", z.sum(axis=1)), ("sum_probs", np.log(probs.mean(axis=1)))):
        block = CombineDomains(3, combine=rule)
        if hybridize:
            block.hybridize()
        out = block(mx.nd.array(z, ctx=ctx))
        assert out.context == ctx and out.shape == (8, 3)
        assert_almost_equal(out.asnumpy(), ref, rtol=1e-5, atol=1e-5)
    zb, _, _ = _data(K=2)
    mean = (1 / (1 + np.exp(-zb))).mean(axis=1)
    out = CombineDomains(2, combine="sum_probs")(mx.nd.array(zb, ctx=ctx))
    assert_almost_equal(out.asnumpy(), np.log(mean / (1 - mean)), rtol=1e-4, atol=1e-5)
    assert_almost_equal(CombineDomains(2)(mx.nd.array(zb, ctx=ctx)).asnumpy(), zb.sum(axis=1))


@pytest.mark.parametrize("hybridize", [False, True])
def test_log_prior_is_removed_and_kept_as_state(hybridize, ctx, tmp_path):
    y = np.array([0, 0, 0, 1, 1, 2, 0, 1, 2, 2])
    d = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    prior = domain_class_log_prior(y, d, 2, 3)  # Laplace-smoothed
    assert_almost_equal(np.exp(prior), np.array([[4, 3, 2], [2, 2, 3]]) / np.array([[9], [7]]))
    z, _, _ = _data(K=3)
    block = CombineDomains(3, combine="sum", log_prior=prior, num_domains=2)
    if hybridize:
        block.hybridize()
    out = block(mx.nd.array(z, ctx=ctx))
    assert_almost_equal(out.asnumpy(), (z - prior[None]).sum(axis=1), rtol=1e-5, atol=1e-5)
    path = str(tmp_path / "combine.params")
    block.save_parameters(path)
    fresh = CombineDomains(3, combine="sum", log_prior=np.zeros((2, 3)))
    fresh.load_parameters(path, ctx=ctx)
    assert_almost_equal(fresh(mx.nd.array(z, ctx=ctx)).asnumpy(), out.asnumpy())
    # binary: the prior's log-odds per head
    binary = CombineDomains(2, log_prior=np.log([[0.9, 0.1], [0.2, 0.8]]))
    zb = np.zeros((1, 2, 1), np.float32)
    expected = -(np.log(0.1 / 0.9) + np.log(0.8 / 0.2))
    assert binary(mx.nd.array(zb, ctx=ctx)).asscalar() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("K", [2, 5])
def test_nets_share_parameters_train_with_domain_and_export_without(K, ctx, tmp_path):
    mx.random.seed(0)
    body = gluon.nn.HybridSequential()
    body.add(gluon.nn.Dense(16, activation="relu"))
    train_net, predict_net = domain_independent_nets(body, K, 2)
    predict_net.initialize(ctx=ctx)
    train_net.hybridize()
    predict_net.hybridize()
    rng = np.random.RandomState(0)
    x = mx.nd.array(rng.normal(size=(32, 6)), ctx=ctx)
    y = mx.nd.array(rng.randint(0, K, 32), ctx=ctx)
    d = mx.nd.array(rng.randint(0, 2, 32), ctx=ctx)
    loss_fn = DomainIndependentLoss(K, 2)
    trainer = gluon.Trainer(train_net.collect_params(), "adam", {"learning_rate": 0.01})
    before = predict_net(x).asnumpy()
    for _ in range(3):
        with autograd.record():
            loss = loss_fn(train_net(x), y, d)
        loss.backward()
        trainer.step(32)
    after = predict_net(x)
    assert after.context == ctx and after.shape == (32, 1 if K == 2 else K)
    assert not np.allclose(before, after.asnumpy())  # trained through the shared parameters
    assert_almost_equal(after.asnumpy(), train_net(x).asnumpy().sum(axis=1), rtol=1e-5,
                        atol=1e-5)
    # save / load between the two nets, and export of the domain-free net
    path = str(tmp_path / "di.params")
    predict_net.save_parameters(path)
    body2 = gluon.nn.HybridSequential()
    body2.add(gluon.nn.Dense(16, activation="relu"))
    _, other = domain_independent_nets(body2, K, 2)
    other.load_parameters(path, ctx=ctx)
    assert_almost_equal(other(x).asnumpy(), after.asnumpy(), rtol=1e-6, atol=1e-6)
    predict_net.export(str(tmp_path / "di"))
    served = gluon.SymbolBlock.imports(str(tmp_path / "di-symbol.json"), ["data"],
                                       str(tmp_path / "di-0000.params"), ctx=ctx)
    assert_almost_equal(served(x).asnumpy(), after.asnumpy(), rtol=1e-5, atol=1e-6)


def test_hybridized_head_equals_imperative(ctx):
    head = DomainIndependentHead(4, 3, in_units=5)
    head.initialize(ctx=ctx)
    x = mx.nd.random.normal(shape=(6, 5), ctx=ctx)
    eager = head(x).asnumpy()
    head.hybridize()
    assert_almost_equal(head(x).asnumpy(), eager)
    assert eager.shape == (6, 3, 4)
    w = head.dense.weight.data(ctx).asnumpy()
    assert_almost_equal(eager[:, 1], x.asnumpy() @ w[4:8].T + head.dense.bias.data(ctx)
                        .asnumpy()[4:8], rtol=1e-5, atol=1e-5)


def test_bad_ids_give_nan_without_gradient(ctx):
    z, y, d = _data(K=3)
    d[0], y[1] = 2.0, 7.0
    x = mx.nd.array(z, ctx=ctx)
    x.attach_grad()
    loss = DomainIndependentLoss(3, 2)
    with pytest.raises(ValueError, match=r"domain: domain ids must be integers in \[0, 2\)"):
        loss(x, mx.nd.array(y, ctx=ctx), mx.nd.array(d, ctx=ctx))  # the first of its shape
    loss(x, mx.nd.zeros_like(x[:, 0, 0]), mx.nd.zeros_like(x[:, 0, 0]))  # a valid one
    with autograd.record():
        out = loss(x, mx.nd.array(y, ctx=ctx), mx.nd.array(d, ctx=ctx))  # a later bad one
    out.backward()
    assert np.isnan(out.asnumpy()[:2]).all() and np.isfinite(out.asnumpy()[2:]).all()
    assert np.isfinite(x.grad.asnumpy()).all() and not x.grad.asnumpy()[:2].any()
    with pytest.raises(ValueError,
                       match=r"domain: domain ids must be integers in \[0, 2\), got values"):
        loss.check_inputs(x, mx.nd.array(y, ctx=ctx), mx.nd.array(d, ctx=ctx))


def test_bad_input_is_refused_clearly(ctx):
    loss = DomainIndependentLoss(3, 2)
    z = mx.nd.zeros((4, 2, 3), ctx=ctx)
    y = mx.nd.array([0, 1, 2, 0], ctx=ctx)
    d = mx.nd.array([0, 1, 0, 1], ctx=ctx)
    with pytest.raises(ValueError, match=r"pred must have shape \(N, 2, 3\), got shape \(4, 3\)"):
        loss(mx.nd.zeros((4, 3), ctx=ctx), y, d)
    with pytest.raises(TypeError, match="GroupEncoder"):
        loss(z, y, np.array(["a", "b", "a", "b"]))
    with pytest.raises(TypeError, match="pred must be an MXNet NDArray"):
        loss(np.zeros((4, 2, 3)), y, d)
    with pytest.raises(ValueError, match="label and domain are required"):
        loss(z, y)
    with pytest.raises(ValueError, match=r"domain must have shape \(4,\)"):
        loss(z, y, mx.nd.array([0, 1], ctx=ctx))
    with pytest.raises(ValueError, match="combine must be one of"):
        CombineDomains(3, combine="max")
    with pytest.raises(ValueError, match="log_prior must be a finite"):
        CombineDomains(3, log_prior=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        DomainIndependentHead(1, 2)
    with pytest.raises(ValueError, match="num_domains must be a positive integer"):
        DomainIndependentHead(3, 0)
    with pytest.raises(TypeError, match="body must be a gluon HybridBlock"):
        domain_independent_nets(lambda x: x, 3, 2)
    with pytest.raises(TypeError, match="GroupEncoder"):
        domain_class_log_prior(["a"], [0], 1, 2)
    with pytest.raises(ValueError, match="use smoothing > 0"):
        domain_class_log_prior([0, 0], [0, 0], 1, 2, smoothing=0)
