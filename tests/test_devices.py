"""Every array mxfair creates lands on the context of its inputs.

Each test runs on ``mx.cpu(1)`` (not the default context, so code that silently uses
``mx.current_context()`` fails here) and on ``mx.gpu(0)``, marked ``gpu``, which runs wherever
``mx.context.num_gpus() > 0`` (conftest.py skips it elsewhere).
"""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from mxfair.callbacks import FairnessMonitor
from mxfair.data import reweighing_weights
from mxfair.loss import AdversarialDebiasing, FairnessRegularizedLoss
from mxfair.metrics import GroupStats, demographic_parity_difference
from mxfair.postprocessing import ThresholdOptimizer

DEVICES = [
    pytest.param(mx.cpu(1), id="cpu1"),
    pytest.param(mx.gpu(0), id="gpu0", marks=pytest.mark.gpu),
]


@pytest.fixture
def batch():
    rs = np.random.RandomState(0)
    n = 256
    groups = rs.randint(0, 3, n)
    labels = (rs.rand(n) < 0.3 + 0.2 * groups).astype(np.float32)
    scores = np.clip(0.5 * labels + 0.5 * rs.rand(n), 0, 1).astype(np.float32)
    x = rs.normal(size=(n, 5)).astype(np.float32)
    return x, labels, scores, groups.astype(np.float32)


def on(device, *arrays):
    return [mx.nd.array(a, ctx=device) for a in arrays]


@pytest.mark.parametrize("device", DEVICES)
def test_group_stats_live_and_report_where_the_data_is(device, batch):
    _, labels, scores, groups = batch
    y, s, g = on(device, labels, scores, groups)
    stats = GroupStats(3, num_bins=10, bootstrap=5, seed=0, from_logits=False)
    stats.update(y, s, g)
    for name, array in stats.arrays().items():
        assert array.context == device, name
    host = GroupStats(3, from_logits=False)
    host.update(labels, scores, groups)
    np.testing.assert_array_equal(stats.report().counts, host.report().counts)
    assert demographic_parity_difference(y, s >= 0.5, sensitive_features=groups) == (
        pytest.approx(stats.report().difference("selection_rate"))
    )


@pytest.mark.parametrize("device", DEVICES)
def test_fair_loss_and_adversary_train_on_the_device(device, batch):
    x, labels, _, groups = batch
    xd, y, g = on(device, x, labels, groups)
    net = gluon.nn.Dense(1)
    net.initialize(ctx=device)
    loss_fn = FairnessRegularizedLoss(num_groups=3, constraint="equalized_odds", lam=2.0)
    adversary = AdversarialDebiasing(num_groups=3, constraint="equalized_odds")
    adversary.initialize(ctx=device)
    for block in (net, loss_fn, adversary):
        block.hybridize()
    with autograd.record():
        pred = net(xd)
        loss = loss_fn(pred, y, g) + adversary(pred, y, g)
    loss.backward()
    assert loss.context == device and loss.shape == (x.shape[0],)
    assert np.isfinite(net.weight.grad(device).asnumpy()).all()


@pytest.mark.parametrize("device", DEVICES)
def test_weights_thresholds_and_monitor_follow_the_device(device, batch):
    x, labels, scores, groups = batch
    y, s, g = on(device, labels, scores, groups)
    weights = reweighing_weights(y, g)
    assert weights.context == device

    optimizer = ThresholdOptimizer(constraint="demographic_parity").fit(s, y, g)
    decisions = optimizer.predict(s, g, random_state=0)
    assert decisions.context == device
    block = optimizer.to_block(mode="deterministic", ctx=device)
    assert block(s, g).context == device

    net = gluon.nn.Dense(1)
    net.initialize(ctx=device)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(x, labels, groups), batch_size=64)
    monitor = FairnessMonitor(loader, num_groups=3, ctx=device, from_logits=True,
                              progress=False)
    stats = monitor.collect(net)
    assert stats.counts.context == device
    assert monitor.evaluate(net, epoch=0).counts.sum() == x.shape[0]
