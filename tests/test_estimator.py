"""Estimator integration: GroupBatchProcessor, fairness validation, checkpoint, early stopping."""
import logging
import re

import fairlearn.metrics as flm
import mxnet as mx
import numpy as np
import pytest
from _helpers import tiny_mlp
from mxnet import gluon
from mxnet.gluon.contrib.estimator import Estimator
from mxnet.gluon.contrib.estimator.event_handler import EpochBegin, EpochEnd, ValidationHandler
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from mxfair.callbacks import (
    BinaryAccuracy,
    FairCheckpointHandler,
    FairnessEarlyStoppingHandler,
    FairnessMonitor,
    FairnessValidationHandler,
    GroupBatchProcessor,
)
from mxfair.callbacks.estimator import BAD_TRAIN_BATCH, _loss_takes_group
from mxfair.loss import FairnessRegularizedLoss


def _mlp(ctx, outputs, hybridize):
    return tiny_mlp(ctx, outputs=outputs, hybridize=hybridize)


def _estimator(net, loss, ctx, lr=0.02, **kwargs):
    est = Estimator(net, loss, trainer=gluon.Trainer(net.collect_params(), "adam",
                                                     {"learning_rate": lr}),
                    context=ctx, batch_processor=GroupBatchProcessor(), **kwargs)
    est.logger.disabled = True  # the Estimator's own stdout logger; ours is "mxfair"
    return est


class _PredictionSnapshot(EpochEnd):
    """After the fairness handler: the net's validation scores, computed here in one pass."""

    def __init__(self, X, ctx):
        self.X, self.ctx, self.scores, self.params = X, ctx, [], []
        self.priority = -950

    def epoch_end(self, estimator, *args, **kwargs):
        out = estimator.net(mx.nd.array(self.X, ctx=self.ctx)).asnumpy().astype(np.float64)
        if out.ndim == 2 and out.shape[1] == 2:  # softmax, positive-class probability
            e = np.exp(out - out.max(axis=1, keepdims=True))
            self.scores.append(e[:, 1] / e.sum(axis=1))
        else:
            self.scores.append(1.0 / (1.0 + np.exp(-out.reshape(-1))))
        self.params.append({k: p.data().copy() for k, p in
                            estimator.net.collect_params().items()})
        return False


def _check_against_fairlearn(record, y, y_pred, groups, names):
    sens = np.asarray(names)[groups]
    expected = {
        "accuracy": accuracy_score(y, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y, y_pred),
        "demographic_parity_difference": flm.demographic_parity_difference(
            y, y_pred, sensitive_features=sens),
        "equalized_odds_difference": flm.equalized_odds_difference(
            y, y_pred, sensitive_features=sens),
        "equal_opportunity_difference": flm.true_positive_rate_difference(
            y, y_pred, sensitive_features=sens),
    }
    frame = flm.MetricFrame(metrics=flm.selection_rate, y_true=y, y_pred=y_pred,
                            sensitive_features=sens)
    for name in names:
        expected[f"selection_rate[{name}]"] = frame.by_group[name]
    for key, value in expected.items():
        np.testing.assert_allclose(record[key], value, rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("hybridize", [False, True])
def test_fit_two_epochs_plain_loss_history_equals_fairlearn(adult, ctx, hybridize):
    train = gluon.data.DataLoader(adult.to_gluon(split="train"), batch_size=128, shuffle=True)
    val = gluon.data.DataLoader(adult.to_gluon(split="val"), batch_size=500)
    net = _mlp(ctx, 2, hybridize)
    est = _estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), ctx,
                     train_metrics=mx.metric.Accuracy())
    monitor = FairnessMonitor(val, adult.num_groups, from_logits=True,
                              group_names=adult.group_names, progress=False)
    fair = FairnessValidationHandler(monitor)
    snap = _PredictionSnapshot(adult.val.X, ctx)
    est.fit(train, val_data=val, epochs=2, event_handlers=[fair, snap])

    assert [r["epoch"] for r in fair.history] == [0, 1]
    for record, scores in zip(fair.history, snap.scores):
        _check_against_fairlearn(record, adult.val.y, (scores >= 0.5).astype(int),
                                 adult.val.groups, adult.group_names)
    # The built-in metrics saw y (not [y, group]): validation Accuracy agrees with the monitor.
    name, val_acc = est.val_metrics[0].get()
    assert name == "validation accuracy"
    np.testing.assert_allclose(val_acc, fair.history[-1]["accuracy"], rtol=1e-6)
    assert 0.5 < est.train_metrics[0].get()[1] <= 1.0
    assert fair.last_report is monitor.last_report
    assert monitor.last_stats.counts.context == ctx


@pytest.mark.parametrize("hybridize", [False, True])
def test_fit_with_fairness_regularized_loss(adult, ctx, hybridize):
    train = gluon.data.DataLoader(adult.to_gluon(split="train"), batch_size=128, shuffle=True)
    val = gluon.data.DataLoader(adult.to_gluon(split="val"), batch_size=500)
    net = _mlp(ctx, 1, hybridize)
    loss = FairnessRegularizedLoss(adult.num_groups, constraint="equalized_odds", lam=0.5)
    if hybridize:
        loss.hybridize()
    est = _estimator(net, loss, ctx, lr=0.05, train_metrics=mx.metric.Loss("fair_loss"))
    fair = FairnessValidationHandler(FairnessMonitor(
        val, adult.num_groups, from_logits=True, group_names=adult.group_names,
        progress=False))
    snap = _PredictionSnapshot(adult.val.X, ctx)
    est.fit(train, val_data=val, epochs=2, event_handlers=[fair, snap])
    assert len(fair.history) == 2
    for record, scores in zip(fair.history, snap.scores):
        _check_against_fairlearn(record, adult.val.y, (scores >= 0.5).astype(int),
                                 adult.val.groups, adult.group_names)
    assert np.isfinite(est.val_metrics[0].get()[1])

    # The processor really hands the groups to the loss: its loss equals a direct call.
    x, y, g = next(iter(val))
    _, label, pred, losses = est.batch_processor.evaluate_batch(est, (x, y, g))
    direct = loss(net(x.as_in_context(ctx)), y.as_in_context(ctx).astype("float32"),
                  g.as_in_context(ctx))
    np.testing.assert_allclose(losses[0].asnumpy(), direct.asnumpy(), rtol=1e-5, atol=1e-6)
    assert label[0].dtype == np.float32 and losses[0].context == ctx


class _GroupIdLoss(gluon.loss.Loss):
    """A group-aware loss whose value per row is the row's group id (plus 0 * pred)."""

    def __init__(self, **kwargs):
        super().__init__(None, 0, **kwargs)

    def hybrid_forward(self, F, pred, label, group, sample_weight=None):
        value = F.cast(group, "float32") + 0 * F.sum(pred, axis=1) + 0 * label
        return value if sample_weight is None else value * sample_weight


def test_batch_processor_loss_forms(ctx):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 3)).astype("float32")
    y = rng.randint(0, 2, size=12)
    g = rng.randint(0, 3, size=12)
    w = rng.uniform(0.5, 2, size=12).astype("float32")
    net = gluon.nn.Dense(2)
    net.initialize(ctx=ctx)
    batch = tuple(mx.nd.array(a, dtype=a.dtype) for a in (X, y, g))
    weighted = batch + (mx.nd.array(w),)

    est = _estimator(net, _GroupIdLoss(), ctx)
    data, label, pred, loss = est.batch_processor.fit_batch(est, batch)
    np.testing.assert_array_equal(loss[0].asnumpy(), g)
    _, _, _, loss = est.batch_processor.fit_batch(est, weighted)
    np.testing.assert_allclose(loss[0].asnumpy(), g * w, rtol=1e-6)
    np.testing.assert_array_equal(label[0].asnumpy(), y)
    assert data[0].context == ctx and pred[0].shape == (12, 2)

    plain = gluon.loss.SoftmaxCrossEntropyLoss()
    est = _estimator(net, plain, ctx)
    _, _, pred, loss = est.batch_processor.evaluate_batch(est, weighted)
    unweighted = plain(pred[0], mx.nd.array(y, ctx=ctx)).asnumpy()
    np.testing.assert_allclose(loss[0].asnumpy(), unweighted * w, rtol=1e-5)

    est.batch_processor = GroupBatchProcessor(label_with_group=True, label_dtype=None)
    _, label, _, _ = est.batch_processor.evaluate_batch(est, batch)
    y_out, g_out = label[0]
    assert y_out.dtype == np.int64
    np.testing.assert_array_equal(g_out.asnumpy(), g)

    with pytest.raises(ValueError, match=re.escape(BAD_TRAIN_BATCH.format(n=2))):
        est.batch_processor.fit_batch(est, batch[:2])
    with pytest.raises(TypeError, match="group_aware must be True, False or None"):
        GroupBatchProcessor(group_aware="yes")


def test_loss_signature_detection():
    assert not _loss_takes_group(gluon.loss.SoftmaxCrossEntropyLoss())
    assert not _loss_takes_group(gluon.loss.SigmoidBCELoss())
    assert not _loss_takes_group(gluon.loss.L2Loss())
    assert _loss_takes_group(_GroupIdLoss())
    assert _loss_takes_group(FairnessRegularizedLoss(2))


def test_handlers_priorities_and_metric_reference_check(ctx):
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(
        np.zeros((4, 2), "float32"), np.zeros(4), np.zeros(4)), batch_size=2)
    fair = FairnessValidationHandler(FairnessMonitor(loader, 2, progress=False))
    handlers = [FairnessEarlyStoppingHandler(fair), FairCheckpointHandler(fair), fair,
                ValidationHandler(loader, eval_fn=None)]
    handlers.sort(key=lambda h: h.priority)
    assert [type(h).__name__ for h in handlers] == [
        "ValidationHandler", "FairnessValidationHandler", "FairCheckpointHandler",
        "FairnessEarlyStoppingHandler"]
    for handler in handlers[1:]:
        # The Estimator requires attributes named *metric* to hold its own metrics.
        assert not [a for a in dir(handler) if "metric" in a]


# ------------------------------------------------------------------ constructed cases
# Two groups on the same grid of z; y = [z + a > 0]. A Dense(1) net with weights (alpha, beta)
# on (a, z) and bias b: alpha = 0 is exactly fair in selection rate, alpha > 0 favours group 1.
_Z = np.tile(np.linspace(-2.5, 2.5, 200), 2)
_A = np.repeat([0, 1], 200)
_X = np.stack([_A, _Z], axis=1).astype("float32")
_Y = (_Z + _A > 0).astype(np.int64)


class _ParamSchedule(EpochBegin):
    """Sets (alpha, beta, bias) at each epoch's start; the trainer's learning rate is 0."""

    def __init__(self, schedule):
        self.schedule, self.epoch = schedule, 0

    def epoch_begin(self, estimator, *args, **kwargs):
        alpha, beta, bias = self.schedule[min(self.epoch, len(self.schedule) - 1)]
        self.epoch += 1
        estimator.net.weight.set_data(mx.nd.array([[alpha, beta]]))
        estimator.net.bias.set_data(mx.nd.array([bias]))


def _constructed_fit(ctx, schedule, epochs, make_handlers, lines=None):
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(_X, _Y, _A), batch_size=100)
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=ctx)
    est = _estimator(net, gluon.loss.SigmoidBCELoss(), ctx, lr=0.0,
                     train_metrics=mx.metric.Loss("bce"))
    if lines is not None:  # what est.fit prints, collected
        est.logger.disabled = False
        est.logger.handlers = [lines]
    fair = FairnessValidationHandler(FairnessMonitor(loader, 2, from_logits=True,
                                                     progress=False))
    extra = make_handlers(fair)
    est.fit(loader, epochs=epochs, event_handlers=[_ParamSchedule(schedule), fair, *extra])
    return net, fair, extra


class _Lines(logging.Handler):
    """Collects the messages of the Estimator's logger (what est.fit prints)."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_early_stopping_when_gap_keeps_growing(ctx):
    schedule = [(0.5 * k, 1.0, 0.0) for k in range(8)]
    lines = _Lines()
    _, fair, (stop,) = _constructed_fit(ctx, schedule, 8, lambda f: [
        FairnessEarlyStoppingHandler(f, max_gap=0.05, gap="demographic_parity_difference",
                                     patience=3, gap_patience=2)], lines)
    gaps = [r["demographic_parity_difference"] for r in fair.history]
    assert gaps[0] == 0.0 and gaps[0] < gaps[1] < gaps[2]
    assert len(fair.history) == 3 and stop.stopped_epoch == 2
    assert "grew in each of the last 2" in stop.stop_reason
    assert any("stopped after epoch 2" in line for line in lines.lines)


def test_early_stopping_when_fair_and_accuracy_plateaus(ctx):
    _, fair, (stop,) = _constructed_fit(ctx, [(0.0, 1.0, 0.0)], 6, lambda f: [
        FairnessEarlyStoppingHandler(f, max_gap=0.05, gap="demographic_parity_difference",
                                     patience=2)])
    assert len(fair.history) == 3 and stop.stopped_epoch == 2
    assert "not improved for 2" in stop.stop_reason


def test_no_early_stop_while_gap_above_bound(ctx):
    _, fair, (stop,) = _constructed_fit(ctx, [(1.0, 1.0, 0.0)], 4, lambda f: [
        FairnessEarlyStoppingHandler(f, max_gap=0.05, gap="demographic_parity_difference",
                                     patience=1)])
    assert fair.history[0]["demographic_parity_difference"] > 0.05
    assert len(fair.history) == 4 and stop.stopped_epoch is None and stop.stop_reason is None


def test_checkpoint_restores_best_fair_epoch(ctx, tmp_path):
    schedule = [(0.0, 1.0, 0.0), (1.0, 1.0, 0.0), (0.0, 1.0, -0.5), (2.0, 1.0, 0.0)]
    path = tmp_path / "best.params"
    net, fair, (ckpt,) = _constructed_fit(ctx, schedule, 4, lambda f: [
        FairCheckpointHandler(f, max_gap=0.15, gap="demographic_parity_difference",
                              path=path)])
    acc = np.array([r["accuracy"] for r in fair.history])
    gap = np.array([r["demographic_parity_difference"] for r in fair.history])
    fair_epochs = np.flatnonzero(gap <= 0.15)
    expected = int(fair_epochs[np.argmax(acc[fair_epochs])])
    # The case is built so that the choice is neither the most accurate nor the last epoch.
    assert expected == 0 and np.argmax(acc) == 1 and len(acc) == 4
    assert ckpt.best_epoch == expected and ckpt.best_record == fair.history[0]
    np.testing.assert_array_equal(net.weight.data().asnumpy(), [[0.0, 1.0]])
    np.testing.assert_array_equal(net.bias.data().asnumpy(), [0.0])
    assert net.weight.data().context == ctx
    saved = gluon.nn.Dense(1, in_units=2)
    saved.load_parameters(str(path), ctx=ctx)
    np.testing.assert_array_equal(saved.weight.data().asnumpy(), [[0.0, 1.0]])


def test_checkpoint_selects_on_worst_group_accuracy(ctx):
    """Group DRO / JTT protocol: keep the epoch with the best worst-group validation accuracy."""
    schedule = [(0.2, 1.0, 0.0), (0.0, 1.0, 0.5), (0.0, 1.0, -1.0)]
    net, fair, (ckpt,) = _constructed_fit(ctx, schedule, 3, lambda f: [
        FairCheckpointHandler(f, score="worst_group_accuracy")])
    acc = [r["accuracy"] for r in fair.history]
    worst = [r["worst_group_accuracy"] for r in fair.history]
    assert worst == [min(r["accuracy[0]"], r["accuracy[1]"]) for r in fair.history]
    assert int(np.argmax(acc)) == 0 and int(np.argmax(worst)) == 1  # the two rules differ
    assert ckpt.best_epoch == 1
    np.testing.assert_allclose(net.bias.data().asnumpy(), [0.5])


def test_checkpoint_without_fair_epoch_warns_and_keeps_last(ctx):
    with pytest.warns(RuntimeWarning, match="no validated epoch had"):
        net, _, (ckpt,) = _constructed_fit(ctx, [(1.0, 1.0, 0.0), (2.0, 1.0, 0.0)], 2,
                                           lambda f: [FairCheckpointHandler(
                                               f, max_gap=0.01,
                                               gap="demographic_parity_difference")])
    assert ckpt.best_epoch is None
    np.testing.assert_array_equal(net.weight.data().asnumpy(), [[2.0, 1.0]])


def test_checkpoint_restores_trained_parameters(adult, ctx):
    train = gluon.data.DataLoader(adult.to_gluon(split="train"), batch_size=100, shuffle=True)
    val = gluon.data.DataLoader(adult.to_gluon(split="val"), batch_size=500)
    net = _mlp(ctx, 1, hybridize=True)
    est = _estimator(net, gluon.loss.SigmoidBCELoss(), ctx, lr=0.05,
                     train_metrics=mx.metric.Loss("bce"))
    fair = FairnessValidationHandler(FairnessMonitor(val, 2, from_logits=True,
                                                     progress=False))
    snap = _PredictionSnapshot(adult.val.X, ctx)
    ckpt = FairCheckpointHandler(fair, max_gap=1.0, score="balanced_accuracy")
    est.fit(train, epochs=3, event_handlers=[fair, ckpt, snap])
    scores = [r["balanced_accuracy"] for r in fair.history]
    assert ckpt.best_epoch == int(np.argmax(scores))
    for name, p in net.collect_params().items():
        np.testing.assert_array_equal(p.data().asnumpy(),
                                      snap.params[ckpt.best_epoch][name].asnumpy())


def test_handler_argument_errors(ctx):
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(
        np.zeros((4, 2), "float32"), np.zeros(4), np.zeros(4)), batch_size=2)
    fair = FairnessValidationHandler(FairnessMonitor(loader, 2, progress=False))
    with pytest.raises(TypeError, match="fairness must be a FairnessMonitor"):
        FairnessValidationHandler(loader)
    with pytest.raises(TypeError, match="fairness must be a FairnessValidationHandler"):
        FairCheckpointHandler(object())
    with pytest.raises(ValueError, match=r"max_gap must be a finite number >= 0, got -0.1"):
        FairnessEarlyStoppingHandler(fair, max_gap=-0.1)
    with pytest.raises(ValueError, match="patience must be a positive integer, got 0"):
        FairnessEarlyStoppingHandler(fair, patience=0)
    with pytest.raises(ValueError, match="'nope' is not in the fairness history records"):
        _constructed_fit(ctx, [(0.0, 1.0, 0.0)], 1,
                         lambda f: [FairCheckpointHandler(f, gap="nope")])


class _RecordingAccuracy(mx.metric.Accuracy):
    """Validation accuracy that notes in ``log`` when the Estimator's ValidationHandler runs
    (it is the only caller of the validation metrics' update)."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def update(self, labels, preds):
        if not self.log or self.log[-1] != "ValidationHandler":
            self.log.append("ValidationHandler")
        super().update(labels, preds)


class _LogCapture(logging.Handler):
    """Notes in ``log`` when the Estimator's default LoggingHandler ends a training epoch."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("[Epoch") and "Finished" in message and "training" in message:
            self.log.append("LoggingHandler")


def _recording(cls, log):
    """A subclass of a fairness handler class that notes each epoch_end call in ``log``."""

    class Recording(cls):
        def epoch_end(self, estimator, *args, **kwargs):
            log.append(cls.__name__)
            stop = super().epoch_end(estimator, *args, **kwargs)
            if isinstance(self, FairnessValidationHandler):
                # What the fairness handler saw: the Estimator's validation accuracy of this
                # epoch (already updated if ValidationHandler ran first) and its own.
                self.seen.append((estimator.val_metrics[0].get()[1],
                                  self.history[-1]["accuracy"]))
            return stop

    return Recording


def test_fit_runs_fairness_handlers_between_default_validation_and_logging(ctx):
    # A real fit with val_data: the Estimator adds its own ValidationHandler (-1000),
    # LoggingHandler (+inf), MetricHandler, GradientUpdateHandler and StoppingHandler to ours,
    # checks their metric references and sorts them. Record the order they actually ran in.
    rng = np.random.RandomState(5)
    X = rng.normal(size=(96, 4)).astype("float32")
    y = (X[:, 0] + 0.3 * X[:, 2] > 0).astype("int64")
    g = (X[:, 1] > 0).astype("int64")
    train = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=32)
    val = gluon.data.DataLoader(gluon.data.ArrayDataset(X[:48], y[:48], g[:48]), batch_size=16)
    log = []
    net = _mlp(ctx, 2, hybridize=False)
    est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(),
                    train_metrics=mx.metric.Accuracy(), val_metrics=_RecordingAccuracy(log),
                    trainer=gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05}),
                    context=ctx, batch_processor=GroupBatchProcessor())
    est.logger.handlers = [_LogCapture(log)]
    fair = _recording(FairnessValidationHandler, log)(
        FairnessMonitor(val, 2, from_logits=True, progress=False))
    fair.seen = []
    ckpt = _recording(FairCheckpointHandler, log)(fair, restore=False)
    stop = _recording(FairnessEarlyStoppingHandler, log)(fair, patience=5)
    est.fit(train, val_data=val, epochs=2, event_handlers=[stop, ckpt, fair])

    one_epoch = ["ValidationHandler", "FairnessValidationHandler", "FairCheckpointHandler",
                 "FairnessEarlyStoppingHandler", "LoggingHandler"]
    assert log == one_epoch * 2
    # The validation metrics were this epoch's when the fairness handler ran: the same
    # accuracy as the monitor's pass over the same data with the same parameters.
    assert len(fair.seen) == 2
    for estimator_acc, monitor_acc in fair.seen:
        assert estimator_acc == pytest.approx(monitor_acc, abs=1e-12)
    assert [r["epoch"] for r in fair.history] == [0, 1] and stop.stopped_epoch is None


# ------------------------------------------------- trivial models are not fair (issue 12)
# (0, 0, -5): every row predicted negative, accuracy 0.4 (the majority rate is 0.6), every gap
# 0; (0, -1, 0): both classes predicted, accuracy 0.1, DP gap 0; (1, 1, 0): useful, unfair.
_ONE_CLASS, _BELOW_MAJORITY, _UNFAIR = (0.0, 0.0, -5.0), (0.0, -1.0, 0.0), (1.0, 1.0, 0.0)


def test_checkpoint_never_restores_a_trivial_model(ctx):
    # main restored the one-class epoch 0 (gap 0.0) as the best fair model, silently
    lines = _Lines()
    with pytest.warns(RuntimeWarning, match=r"2 epoch\(s\) within it were skipped"):
        net, fair, (ckpt,) = _constructed_fit(
            ctx, [_ONE_CLASS, _BELOW_MAJORITY, _UNFAIR], 3, lambda f: [FairCheckpointHandler(
                f, max_gap=0.05, gap="demographic_parity_difference")], lines)
    records = fair.history
    assert records[0]["predicted_classes"] == 1 and records[0]["majority_rate"] == 0.6
    assert records[0]["demographic_parity_difference"] == 0.0
    assert records[1]["accuracy"] < records[1]["majority_rate"]
    assert ckpt.best_epoch is None and [e for e, _ in ckpt.skipped_] == [0, 1]
    np.testing.assert_array_equal(net.weight.data().asnumpy(), [[1.0, 1.0]])  # the last
    said = "\n".join(lines.lines)
    assert "[Epoch 0] FairCheckpointHandler: epoch skipped" in said
    assert "predicts one class for every row" in said
    assert "[Epoch 1] FairCheckpointHandler: epoch skipped" in said
    assert "below the majority-class rate" in said


def test_early_stopping_never_stops_on_a_trivial_model(ctx):
    # main stopped after epoch 1: "gap within the bound, accuracy not improved"
    _, fair, (stop,) = _constructed_fit(ctx, [_ONE_CLASS], 4, lambda f: [
        FairnessEarlyStoppingHandler(f, max_gap=0.05, gap="demographic_parity_difference",
                                     patience=1)])
    assert len(fair.history) == 4 and stop.stopped_epoch is None
    assert [e for e, _ in stop.skipped_] == [0, 1, 2, 3]


def test_fit_output_shows_the_fairness_line_of_each_epoch(ctx, capsys):
    # main logged the line to the "mxfair" logger, which nobody configured: nothing showed
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(_X, _Y, _A), batch_size=100)
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=ctx)
    est = Estimator(net, gluon.loss.SigmoidBCELoss(), train_metrics=mx.metric.Loss("bce"),
                    trainer=gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}),
                    context=ctx, batch_processor=GroupBatchProcessor())
    fair = FairnessValidationHandler(FairnessMonitor(loader, 2, progress=False))
    est.fit(loader, epochs=2, event_handlers=[fair])
    out = capsys.readouterr().out
    for epoch in (0, 1):
        assert re.search(rf"^epoch {epoch} \| n=400 \| acc \d\.\d{{4}} .*dp_diff", out, re.M)
    assert "[Epoch 1] Finished in" in out  # next to the Estimator's own lines


# ------------------------------------------------------------------ binary nets and devices
def test_binary_accuracy_reads_logits_and_probabilities(ctx):
    rng = np.random.RandomState(3)
    y = rng.randint(0, 2, 200)
    logits = (1.5 * (2 * y - 1) + 1.2 * rng.randn(200)).astype(np.float32)
    truth = float(((logits >= 0) == y).mean())
    assert 0.75 < truth < 0.95 and abs(truth - (y == 0).mean()) > 0.2
    # MXNet's Accuracy on (N, 1) logits: the arg-max of one column, i.e. the share of label 0
    wrong = mx.metric.Accuracy()
    wrong.update([mx.nd.array(y, ctx=ctx)], [mx.nd.array(logits[:, None], ctx=ctx)])
    assert wrong.get()[1] == pytest.approx((y == 0).mean())
    acc = BinaryAccuracy()
    assert np.isnan(acc.get()[1])
    half = 100
    for sl in (slice(0, half), slice(half, None)):  # two devices' worth, one update each
        acc.update([mx.nd.array(y[sl], ctx=ctx)], [mx.nd.array(logits[sl, None], ctx=ctx)])
    assert acc.get() == ("binary_accuracy", pytest.approx(truth))
    for shape in ((-1,), (-1, 1)):
        probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
        other = mx.metric.create("binary_accuracy", from_logits=False, threshold=0.5)
        other.update([mx.nd.array(y)], [mx.nd.array(probs.reshape(shape))])
        assert other.get()[1] == pytest.approx(truth)
    two = BinaryAccuracy()  # (N, 2) scores: softmax, probability of class 1
    two.update([mx.nd.array(y)], [mx.nd.array(np.c_[np.zeros(200), logits])])
    assert two.get()[1] == pytest.approx(truth)
    config = acc.get_config()
    assert mx.metric.create(config.pop("metric"), **config).get_config() == acc.get_config()
    acc.reset_local()
    assert np.isnan(acc.get()[1]) and acc.get_global()[1] == pytest.approx(truth)
    with pytest.raises(ValueError, match=r"\(N,\), \(N, 1\) or \(N, 2\), got \(200, 3\); "
                                         "for 3 classes use mx.metric.Accuracy"):
        acc.update([mx.nd.array(y)], [mx.nd.zeros((200, 3))])
    with pytest.raises(ValueError, match="threshold must be a number in \\(0, 1\\)"):
        BinaryAccuracy(threshold=1.5)


def test_binary_accuracy_of_a_diverged_net_is_nan_with_a_warning():
    acc = BinaryAccuracy()
    acc.update([mx.nd.array([1, 0, 1])], [mx.nd.array([np.nan, np.nan, np.inf])])
    with pytest.warns(UserWarning, match="BinaryAccuracy left out 3 row"):
        assert np.isnan(acc.get()[1])
    acc = BinaryAccuracy()
    acc.update([mx.nd.array([1, 0, 2, 1])], [mx.nd.array([1.0, -1.0, 1.0, np.nan])])
    with pytest.warns(UserWarning, match="left out 2 row"):
        assert acc.get()[1] == 1.0


def test_processor_warns_when_accuracy_meets_one_logit_per_row(ctx):
    x = mx.nd.random.normal(shape=(16, 3))
    batch = (x, (x[:, 0] > 0), (x[:, 1] > 0))
    net = gluon.nn.Dense(1)
    net.initialize(ctx=ctx)
    est = _estimator(net, FairnessRegularizedLoss(2), ctx,
                     train_metrics=[mx.metric.Loss(), mx.metric.Accuracy()])
    with pytest.warns(UserWarning, match="Accuracy reads an arg-max over the columns.*"
                                         "Use mxfair.callbacks.BinaryAccuracy"):
        est.batch_processor.fit_batch(est, batch)
    est = _estimator(net, FairnessRegularizedLoss(2), ctx, train_metrics=BinaryAccuracy())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est.batch_processor.fit_batch(est, batch)


def test_processor_gives_a_fair_loss_the_whole_step_on_two_devices():
    rng = np.random.RandomState(4)
    x = rng.randn(40, 3).astype(np.float32)
    g = np.sort(rng.randint(0, 2, 40))  # ordered by group: each device sees one group
    y = (x[:, 0] + g > 0.5).astype(np.float32)
    w = rng.uniform(0.5, 2, 40).astype(np.float32)
    grads = []
    for ctx in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        mx.random.seed(0)
        net = gluon.nn.Dense(1)
        net.initialize(mx.init.Xavier(), ctx=ctx)
        loss = FairnessRegularizedLoss(2, constraint="demographic_parity", penalty="squared",
                                       lam=5.0)
        est = _estimator(net, loss, ctx, train_metrics=BinaryAccuracy())
        _, _, _, losses = est.batch_processor.fit_batch(
            est, tuple(mx.nd.array(a) for a in (x, y, g, w)))
        assert [out.context for out in losses] == ctx
        grads.append([sum(gr.asnumpy() for gr in p.list_grad())
                      for p in net.collect_params().values()])
    for one, two in zip(*grads):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
