"""BoundedTrainingHandler in Estimator.fit: updates from the held-out slice, the best iterate
restored at the end, and the settings it refuses."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from mxnet.gluon.contrib.estimator import Estimator

from mxfair.callbacks import GroupBatchProcessor
from mxfair.loss import FairnessRegularizedLoss
from mxfair.training import (
    BoundedFairLoss,
    BoundedTrainingHandler,
    BoundSchedule,
    NoFeasibleIterateWarning,
    update_interval,
)


def _data(n, seed):
    rng = np.random.RandomState(seed)
    g = (rng.rand(n) < 0.4).astype(np.float32)
    x = rng.randn(n, 4).astype(np.float32)
    x[:, 2] = g + 0.3 * rng.randn(n)
    y = (x[:, 0] + g + 0.3 * rng.randn(n) > 0.6).astype(np.float32)
    return gluon.data.ArrayDataset(x, y, g)


def _fit(loss_fn, handler, ctx, epochs=3):
    mx.random.seed(0)
    net = gluon.nn.Dense(1, in_units=4)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    est = Estimator(net, loss_fn, trainer=gluon.Trainer(net.collect_params(), "adam",
                                                        {"learning_rate": 0.05}),
                    context=ctx, batch_processor=GroupBatchProcessor())
    est.logger.disabled = True
    train = gluon.data.DataLoader(_data(400, 0), batch_size=50, shuffle=True)
    est.fit(train, epochs=epochs, event_handlers=[handler])
    return net


def test_handler_updates_and_restores_the_best_iterate(ctx):
    loss_fn = BoundedFairLoss(2, bound=0.1)
    held = gluon.data.DataLoader(_data(200, 1), batch_size=100)
    handler = BoundedTrainingHandler(loss_fn, held, batches_per_epoch=8, keep_all=True)
    assert handler.update_every == update_interval(8) == 1
    net = _fit(loss_fn, handler, ctx)
    assert loss_fn.game.num_updates == 24 == len(handler.best.history)
    assert [r["step"] for r in handler.best.history] == list(range(1, 25))
    kept = handler.best.best
    assert kept["met"]
    # The net holds the kept iterate: measure it on the slice again.
    stats = handler.monitor.collect(net)
    assert loss_fn.rate_bound.gap(stats) == pytest.approx(kept["gap"])
    assert stats.report().overall["accuracy"] == pytest.approx(kept["score"])
    assert stats.ctx == ctx


def test_handler_drives_a_schedule_and_needs_from_logits(ctx):
    loss_fn = FairnessRegularizedLoss(2, from_logits=True)
    schedule = BoundSchedule(loss_fn, 0.1, "demographic_parity", 2)
    held = gluon.data.DataLoader(_data(200, 1), batch_size=100)
    with pytest.raises(ValueError, match="from_logits is required with a BoundSchedule"):
        BoundedTrainingHandler(schedule, held)
    handler = BoundedTrainingHandler(schedule, held, update_every=4, from_logits=True)
    with pytest.warns(NoFeasibleIterateWarning):  # four updates are too few to reach 0.1
        _fit(loss_fn, handler, ctx, epochs=2)
    assert schedule.game.num_updates == 4
    assert loss_fn.lam == pytest.approx(schedule.value)


def test_handler_refusals():
    held = [(mx.nd.zeros((2, 4)), mx.nd.zeros(2), mx.nd.zeros(2))]
    with pytest.raises(TypeError, match="player must be a BoundedFairLoss or a BoundSchedule"):
        BoundedTrainingHandler(FairnessRegularizedLoss(2), held)
    with pytest.raises(ValueError, match="update_every must be a positive integer"):
        BoundedTrainingHandler(BoundedFairLoss(2, 0.1), held, update_every=0)
    with pytest.raises(ValueError, match="batches_per_epoch must be a positive integer"):
        update_interval(0)
