"""Group fairness in ``mxnet.gluon.contrib.estimator.Estimator``: a batch processor and handlers.

- :class:`GroupBatchProcessor` lets ``Estimator.fit`` train on ``(x, y, group)`` batches with a
  loss that takes the groups, ``loss(pred, label, group[, sample_weight])`` (for example
  :class:`mxfair.loss.FairnessRegularizedLoss`), or with a plain two-argument Gluon loss. On
  several devices it gives a fair loss the whole step (one call with the per-device lists).
- :class:`BinaryAccuracy` is the accuracy of a binary net's ``(N,)`` / ``(N, 1)`` logits, for
  ``train_metrics`` / ``val_metrics`` (``mx.metric.Accuracy`` takes an arg-max over the single
  column and so reports the share of label 0).
- :class:`FairnessValidationHandler` runs a :class:`FairnessMonitor` at the end of each
  validation epoch (priority -999: just after the Estimator's ``ValidationHandler`` at -1000).
- :class:`FairCheckpointHandler` keeps the parameters of the most accurate epoch among those
  whose fairness gap is within a bound and restores them when training ends (priority -900).
- :class:`FairnessEarlyStoppingHandler` stops training once the gap bound is met and accuracy has
  stopped improving, or when the gap has grown for ``patience`` evaluations (priority -800).

The handlers after the validation handler read the monitor's latest history record, so they act
only on epochs that were validated. None of them keeps an attribute whose name contains
``metric``: the Estimator requires such attributes to hold one of its own ``EvalMetric`` objects.

The fairness line of each validated epoch, and what the handlers decide, go to the Estimator's
own logger (``estimator.logger``, as MXNet's ``LoggingHandler`` does), so they show in
``est.fit``'s output. A model that predicts one class for every row, or whose accuracy is below
the majority-class rate, is never taken as "fair" by the checkpoint or early-stopping handler,
whatever its gap (a constant predictor has every gap 0): such epochs are skipped, and the log says
so.
"""
import inspect
import logging
import math
import os
import warnings
from typing import Dict, List, Optional, Union

import mxnet as mx
from mxnet import autograd
from mxnet.gluon.contrib.estimator import BatchProcessor
from mxnet.gluon.contrib.estimator.event_handler import (
    EpochEnd,
    TrainBegin,
    TrainEnd,
)
from mxnet.gluon.utils import split_and_load

from .._ops import invalid_ids, nonfinite, outside_unit
from .._validation import check_number, check_positive_int
from .monitor import FairnessMonitor

__all__ = [
    "BinaryAccuracy",
    "GroupBatchProcessor",
    "FairnessValidationHandler",
    "FairCheckpointHandler",
    "FairnessEarlyStoppingHandler",
]

logger = logging.getLogger("mxfair")

BAD_TRAIN_BATCH = (
    "GroupBatchProcessor needs batches (x, y, group) or (x, y, group, sample_weight), got a batch "
    "of {n} element(s)"
)
NO_HISTORY_SOURCE = (
    "fairness must be a FairnessValidationHandler or a FairnessMonitor (anything with a "
    "'history' list of records), got {value!r}"
)
UNKNOWN_KEY = "{key!r} is not in the fairness history records; available: {keys}"
SKIPPED_EPOCH = (
    "[Epoch {epoch}] {handler}: epoch skipped, not a candidate fair model: {why} ({gap} {value}; "
    "a trivial model has small gaps)"
)
ARGMAX_ON_ONE_COLUMN = (
    "{metric} reads an arg-max over the columns of pred, but the net emits one score per row "
    "(shape {shape}): it counts every prediction as class 0 (Accuracy then reports the share of "
    "label 0). Use mxfair.callbacks.BinaryAccuracy() for a binary net's logits"
)
BINARY_SCORES = (
    "BinaryAccuracy reads binary scores of shape (N,), (N, 1) or (N, 2), got {shape}; for "
    "{k} classes use mx.metric.Accuracy"
)
BINARY_INVALID = (
    "BinaryAccuracy left out {count:g} row(s): a NaN or infinite score{prob}, or a label other "
    "than 0 or 1"
)


@mx.metric.register
@mx.metric.alias("binary_accuracy")
class BinaryAccuracy(mx.metric.EvalMetric):
    """Accuracy of binary decisions from a net's scores: ``sigmoid(logit) >= threshold``.

    The metric for a binary Gluon net (``Dense(1)`` trained with
    ``SigmoidBinaryCrossEntropyLoss``): MXNet's ``Accuracy`` takes the arg-max over the columns
    of ``pred``, which for one column is always class 0. The decision rule is that of
    :class:`mxfair.metrics.GroupStats`, so the accuracy matches the fairness reports. Counts are
    kept on the device of each batch (no host copy per batch) and read by ``get``.

    Rows with a non-finite score (or, with ``from_logits=False``, a score outside [0, 1]) or a
    label other than 0 / 1 are left out, and ``get`` warns with their number; with no valid
    row the accuracy is NaN (a diverged net is never reported as accurate).

    Parameters
    ----------
    threshold : float, default 0.5
        On the probability, in (0, 1).
    from_logits : bool, default True
        Scores are logits (sigmoid applied; softmax for (N, 2) scores); False: probabilities.
    name : str, default "binary_accuracy"
    output_names, label_names : list of str, optional
        As for every ``mx.metric.EvalMetric``.

    Inputs of ``update(labels, preds)``: lists (one entry per device) of labels, shape (N,) or
    (N, 1), and scores, shape (N,), (N, 1) or (N, 2).

    Examples
    --------
    >>> import mxnet as mx
    >>> acc = mx.metric.create("binary_accuracy")
    >>> acc.update([mx.nd.array([1, 0, 1, 0])], [mx.nd.array([[2.0], [-1.0], [-0.5], [-3.0]])])
    >>> acc.get()
    ('binary_accuracy', 0.75)
    >>> wrong = mx.metric.Accuracy()  # the arg-max of one column: the share of label 0
    >>> wrong.update([mx.nd.array([1, 0, 1, 0])], [mx.nd.array([[2.0], [-1.0], [-0.5], [-3.0]])])
    >>> wrong.get()
    ('accuracy', 0.5)
    """

    def __init__(self, *, threshold: float = 0.5, from_logits: bool = True,
                 name: str = "binary_accuracy", output_names=None, label_names=None):
        self.threshold = check_number("threshold", threshold, low=0, high=1,
                                      low_inclusive=False, high_inclusive=False)
        self.from_logits = bool(from_logits)
        self._local: Dict[mx.Context, mx.nd.NDArray] = {}
        self._global: Dict[mx.Context, mx.nd.NDArray] = {}
        self._warned = 0.0
        super().__init__(name, threshold=self.threshold, from_logits=self.from_logits,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def reset(self):
        super().reset()
        self._local, self._global = {}, {}

    def reset_local(self):
        super().reset_local()
        self._local = {}

    def update(self, labels, preds):
        """Add a batch (lists with one entry per device); no synchronisation."""
        labels, preds = mx.metric.check_label_shapes(labels, preds, wrap=True)
        for label, pred in zip(labels, preds):
            shape = tuple(pred.shape)
            if len(shape) == 2 and shape[1] == 2:
                probs = mx.nd.softmax(pred, axis=1) if self.from_logits else pred
                score = probs[:, 1]
                prob = score
            elif len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
                score = pred.reshape((-1,))
                prob = mx.nd.sigmoid(score) if self.from_logits else score
            else:
                raise ValueError(BINARY_SCORES.format(
                    shape=shape, k=shape[1] if len(shape) == 2 else "several"))
            y = label.as_in_context(pred.context).reshape((-1,)).astype("float32")
            if y.shape[0] != score.shape[0]:
                raise ValueError(f"labels have {y.shape[0]} rows but preds have "
                                 f"{score.shape[0]}; they must have the same length")
            score = score.astype("float32")
            bad = mx.nd.maximum(nonfinite(score), invalid_ids(mx.nd, y, 2))
            if not self.from_logits:
                bad = mx.nd.maximum(bad, outside_unit(mx.nd, prob))
            ok = 1 - bad
            decision = prob.astype("float32") >= self.threshold
            correct = mx.nd.sum((decision == y) * ok)
            valid = mx.nd.sum(ok)
            sums = mx.nd.concat(correct, valid, score.shape[0] - valid, dim=0)  # (3,)
            for store in (self._local, self._global):
                ctx = pred.context
                store[ctx] = sums.copy() if ctx not in store else store[ctx] + sums

    def _read(self, store) -> float:
        if not store:
            return float("nan")
        total = sum(s.asnumpy().astype("float64") for s in store.values())
        correct, valid, invalid = (float(v) for v in total)
        if invalid > self._warned:
            self._warned = invalid
            warnings.warn(BINARY_INVALID.format(
                count=invalid, prob="" if self.from_logits else " or one outside [0, 1]"),
                UserWarning, stacklevel=3)
        return correct / valid if valid else float("nan")

    def get(self):
        """``(name, accuracy)`` of the batches since the last ``reset_local`` (synchronises)."""
        value = self._read(self._local)
        if self._local:
            self.sum_metric, self.num_inst = value, 1
        return self.name, value

    def get_global(self):
        """``(name, accuracy)`` since the last ``reset`` (synchronises)."""
        value = self._read(self._global)
        if self._global:
            self.global_sum_metric, self.global_num_inst = value, 1
        return self.name, value



def _loss_takes_group(loss: mx.gluon.Block) -> bool:
    """True when ``loss``'s forward has a third required tensor argument (the groups)."""
    if (isinstance(loss, mx.gluon.HybridBlock)
            and type(loss).hybrid_forward is not mx.gluon.HybridBlock.hybrid_forward):
        fn, skip = loss.hybrid_forward, 1  # skip F
    else:
        fn, skip = loss.forward, 0
    try:
        params = list(inspect.signature(fn).parameters.values())[skip:]
    except (TypeError, ValueError):  # a builtin or C function: assume the Gluon 2-argument form
        return False
    required = [p for p in params if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) >= 3


class GroupBatchProcessor(BatchProcessor):
    """An Estimator ``BatchProcessor`` for ``(x, y, group[, sample_weight])`` batches.

    Training calls ``loss(pred, y, group[, sample_weight])`` when the loss takes the groups
    (its forward has three required tensor arguments, like
    :class:`mxfair.loss.FairnessRegularizedLoss`), else ``loss(pred, y[, sample_weight])``
    with the weights reshaped to pred's rank ((N, 1) for pred (N, K)), as Gluon losses need.
    Validation does the same with ``estimator.val_loss``.

    **Several devices** (``Estimator(..., context=[gpu(0), gpu(1)])``): the batch is split
    with ``split_and_load``. A loss that takes per-device lists (``takes_device_lists``:
    ``FairnessRegularizedLoss``, ``ConstrainedFairLoss``, ``AdversarialDebiasing``) is called
    once with the lists, so its penalty is that of the whole batch and the summed gradients
    are those of the whole batch on one device; any other loss is called once per device.

    ``fit_batch`` and ``evaluate_batch`` return ``data, label, pred, loss``, one entry per
    device. ``label`` is ``y`` only (shape (N,)) by default, for ``mx.metric`` classes in
    ``train_metrics`` and ``val_metrics``. Which metric reads the net's output right: for a
    binary net with one logit per row (``Dense(1)``), :class:`BinaryAccuracy`;
    ``mx.metric.Accuracy``, ``F1`` and ``MCC`` take an arg-max over the columns and are for
    ``(N, K)`` scores only (on one column they count every prediction as class 0; the
    processor warns once when it sees that pairing). ``mx.metric.Loss`` works for both. With
    ``label_with_group=True``, each device's label is the pair ``[y, group]`` instead, for
    group-aware ``EvalMetric`` classes whose ``update(labels, preds)`` reads labels as
    ``(y, group)`` pairs (built-in metrics do not understand that form).

    Parameters
    ----------
    group_aware : bool, optional
        Force the loss call: True ``loss(pred, y, group, ...)``, False ``loss(pred, y, ...)``.
        Default: detected from the loss's signature.
    label_dtype : str or None, default "pred"
        The dtype ``y`` is cast to before the loss and the metrics: ``"pred"`` (the dtype of
        the net's output, so that int64 labels from a ``DataLoader`` meet float32 scores in
        ``SigmoidBinaryCrossEntropyLoss``, which cannot mix them; ``SoftmaxCrossEntropyLoss``
        and ``mx.metric`` accept float labels), a dtype name, or None (leave ``y`` as loaded).
    label_with_group : bool, default False
        Return ``[y, group]`` per device as the label (see above).

    Examples
    --------
    A binary net (one logit per row) with a fair loss, on two devices (CPU contexts here):

    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> from mxfair.loss import FairnessRegularizedLoss
    >>> x = mx.nd.random.normal(shape=(32, 4))
    >>> y, g = (x[:, 0] > 0), (x[:, 1] > 0)
    >>> train = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y, g), batch_size=8)
    >>> ctx = [mx.cpu(0), mx.cpu(1)]
    >>> net = gluon.nn.Dense(1)
    >>> net.initialize(ctx=ctx)
    >>> est = Estimator(net, FairnessRegularizedLoss(num_groups=2, lam=1.0),
    ...                 train_metrics=BinaryAccuracy(), context=ctx,
    ...                 trainer=gluon.Trainer(net.collect_params(), "sgd"),
    ...                 batch_processor=GroupBatchProcessor())
    >>> est.logger.disabled = True
    >>> est.fit(train, epochs=1)
    >>> est.train_metrics[0].name
    'training binary_accuracy'
    """

    def __init__(self, *, group_aware: Optional[bool] = None,
                 label_dtype: Optional[str] = "pred", label_with_group: bool = False):
        super().__init__()
        if group_aware is not None and not isinstance(group_aware, bool):
            raise TypeError(f"group_aware must be True, False or None, got {group_aware!r}")
        self.group_aware = group_aware
        self.label_dtype = label_dtype
        self.label_with_group = bool(label_with_group)
        self._detected: Dict[int, bool] = {}
        self._metrics_checked = False

    def _takes_group(self, loss: mx.gluon.Block) -> bool:
        if self.group_aware is not None:
            return self.group_aware
        key = id(loss)
        if key not in self._detected:
            self._detected[key] = _loss_takes_group(loss)
        return self._detected[key]

    def _split_batch(self, batch, ctx, batch_axis: int = 0):
        """Shard each part of the batch over the devices: lists x, y, group, weight (or None)."""
        if not isinstance(batch, (list, tuple)) or len(batch) not in (3, 4):
            n = len(batch) if isinstance(batch, (list, tuple)) else 1
            raise ValueError(BAD_TRAIN_BATCH.format(n=n))
        parts = [split_and_load(p, ctx_list=ctx, batch_axis=batch_axis) for p in batch]
        weights = parts[3] if len(parts) == 4 else [None] * len(parts[0])
        return parts[0], parts[1], parts[2], weights

    def _cast_labels(self, labels, preds) -> List[mx.nd.NDArray]:
        if self.label_dtype is None:
            return labels
        return [y.astype(p.dtype if self.label_dtype == "pred" else self.label_dtype,
                         copy=False) for y, p in zip(labels, preds)]

    def _losses(self, loss_fn, preds, labels, groups, weights) -> List[mx.nd.NDArray]:
        group_aware = self._takes_group(loss_fn)
        if group_aware and len(preds) > 1 and getattr(loss_fn, "takes_device_lists", False):
            # One call for the whole step: the penalty of the whole batch (see the class doc).
            if weights[0] is None:
                return list(loss_fn(preds, labels, groups))
            return list(loss_fn(preds, labels, groups, weights))
        out = []
        for pred, y, g, w in zip(preds, labels, groups, weights):
            args = (pred, y, g) if group_aware else (pred, y)
            if w is not None and not group_aware:
                # Gluon losses multiply the per-element loss, of pred's rank, by the weight:
                # (N,) against (N, 1) would broadcast to (N, N). Give it pred's rank.
                w = w.reshape((-1,) + (1,) * (pred.ndim - 1))
            out.append(loss_fn(*args) if w is None else loss_fn(*args, w))
        return out

    def _label(self, labels, groups, weights):
        """What the metrics see: ``y``, or ``[y, group(, weight)]`` per device."""
        if self.label_with_group:
            return [[y, g] if w is None else [y, g, w]
                    for y, g, w in zip(labels, groups, weights)]
        return labels

    def _check_metrics(self, estimator, preds) -> None:
        """Warn once when an arg-max metric meets one score per row."""
        if self._metrics_checked:
            return
        self._metrics_checked = True
        shape = tuple(preds[0].shape)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            return
        stack = list(getattr(estimator, "train_metrics", []) or []) + \
            list(getattr(estimator, "val_metrics", []) or [])
        while stack:
            metric = stack.pop()
            stack.extend(getattr(metric, "metrics", []) or [])  # CompositeEvalMetric
            if isinstance(metric, (mx.metric.Accuracy, mx.metric.F1, mx.metric.MCC,
                                   mx.metric.TopKAccuracy)):
                warnings.warn(ARGMAX_ON_ONE_COLUMN.format(metric=type(metric).__name__,
                                                          shape=shape),
                              UserWarning, stacklevel=3)
                return

    def fit_batch(self, estimator, train_batch, batch_axis: int = 0):
        """Forward, loss and backward on one training batch.

        Returns
        -------
        data, label, pred, loss : lists with one entry per device
        """
        data, labels, groups, weights = self._split_batch(train_batch, estimator.context,
                                                          batch_axis)
        with autograd.record():
            preds = [estimator.net(x) for x in data]
            labels = self._cast_labels(labels, preds)
            losses = self._losses(estimator.loss, preds, labels, groups, weights)
        for loss in losses:
            loss.backward()
        self._check_metrics(estimator, preds)
        return data, self._label(labels, groups, weights), preds, losses

    def evaluate_batch(self, estimator, val_batch, batch_axis: int = 0):
        """Forward and loss on one validation batch (``estimator.val_net``, ``val_loss``).

        Returns
        -------
        data, label, pred, loss : lists with one entry per device
        """
        data, labels, groups, weights = self._split_batch(val_batch, estimator.context,
                                                          batch_axis)
        preds = [estimator.val_net(x) for x in data]
        labels = self._cast_labels(labels, preds)
        losses = self._losses(estimator.val_loss, preds, labels, groups, weights)
        self._check_metrics(estimator, preds)
        return data, self._label(labels, groups, weights), preds, losses


class FairnessValidationHandler(TrainBegin, EpochEnd):
    """Estimator handler: the :class:`FairnessMonitor`'s validation at the end of epochs.

    Parameters
    ----------
    fairness : FairnessMonitor
        Holds the validation data and options; its ``history`` grows by one record per
        validated epoch (epochs counted from 0, as the Estimator's log does).
    epoch_period : int, default 1
        Validate every ``epoch_period`` epochs.
    priority : float, default -999
        Just after the Estimator's ``ValidationHandler`` (-1000), before the fairness
        checkpoint (-900) and early-stopping (-800) handlers and the built-in
        ``CheckpointHandler``/``EarlyStoppingHandler`` (0).

    Attributes
    ----------
    history : list of dict
        The monitor's history.
    last_report : FairnessReport or None

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> x = mx.nd.random.normal(shape=(32, 4))
    >>> y, g = (x[:, 0] > 0), (x[:, 1] > 0)
    >>> loader = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y, g), batch_size=8)
    >>> net = gluon.nn.Dense(2)
    >>> net.initialize()
    >>> fair = FairnessValidationHandler(
    ...     FairnessMonitor(loader, num_groups=2, from_logits=True, progress=False))
    >>> est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(),
    ...                 trainer=gluon.Trainer(net.collect_params(), "sgd"),
    ...                 batch_processor=GroupBatchProcessor())
    >>> est.logger.disabled = True
    >>> est.fit(loader, epochs=2, event_handlers=[fair])
    >>> [r["epoch"] for r in fair.history]
    [0, 1]
    """

    def __init__(self, fairness: FairnessMonitor, *, epoch_period: int = 1,
                 priority: float = -999):
        if not isinstance(fairness, FairnessMonitor):
            raise TypeError(f"fairness must be a FairnessMonitor, got {fairness!r}")
        self.fairness = fairness
        self.epoch_period = check_positive_int("epoch_period", epoch_period)
        self.priority = priority
        self.current_epoch = 0

    @property
    def history(self) -> List[Dict[str, float]]:
        return self.fairness.history

    @property
    def last_report(self):
        return self.fairness.last_report

    def train_begin(self, estimator, *args, **kwargs):
        self.current_epoch = 0
        if self.fairness.epochs is None and getattr(estimator, "max_epoch", None):
            self.fairness.epochs = -(-estimator.max_epoch // self.epoch_period)

    def epoch_end(self, estimator, *args, **kwargs):
        epoch = self.current_epoch
        self.current_epoch += 1
        if self.current_epoch % self.epoch_period == 0:
            if self.fairness.ctx is None:
                self.fairness.ctx = list(estimator.context)
            # The line goes to the Estimator's logger, as LoggingHandler's lines do.
            self.fairness.evaluate(estimator.val_net, epoch=epoch,
                                   log=getattr(estimator, "logger", None))
        return False


def _history_of(fairness) -> List[Dict[str, float]]:
    history = getattr(fairness, "history", None)
    if not isinstance(history, list):
        raise TypeError(NO_HISTORY_SOURCE.format(value=fairness))
    return history


def _lookup(record: Dict[str, float], key: str) -> float:
    if key not in record:
        raise ValueError(UNKNOWN_KEY.format(key=key, keys=sorted(record)))
    return float(record[key])


def _trivial(record: Dict[str, float]) -> Optional[str]:
    """Why the record's model is no candidate (one class, or below the majority-class
    rate), or None. Records without these keys (another history source) are judged on what
    they hold: a binary selection rate of 0 or 1 is one class."""
    classes = record.get("predicted_classes")
    if classes is None and "selection_rate" in record:
        rate = float(record["selection_rate"])
        classes = 1.0 if rate in (0.0, 1.0) else 2.0
    accuracy = float(record.get("accuracy", float("nan")))
    majority = float(record.get("majority_rate", float("nan")))
    if classes is not None and float(classes) <= 1:
        return (f"the model predicts one class for every row (accuracy {accuracy:.4f}, "
                f"majority-class rate {majority:.4f})")
    if math.isnan(accuracy):
        return "its accuracy is undefined (NaN): no valid validation rows"
    if not math.isnan(majority) and accuracy < majority:
        return (f"its accuracy {accuracy:.4f} is below the majority-class rate "
                f"{majority:.4f}")
    return None


def _log(estimator, level: int, message: str) -> None:
    """Through the Estimator's logger (shown in est.fit's output), else the mxfair one."""
    (getattr(estimator, "logger", None) or logger).log(level, message)


class _HistoryReader:
    """Shared by the handlers that act on the newest record of a fairness history."""

    def _init_reader(self, fairness, gap: str, score: str, max_gap) -> None:
        _history_of(fairness)
        self.fairness = fairness
        self.gap = gap
        self.score = score
        self.max_gap = None if max_gap is None else check_number("max_gap", max_gap, low=0)
        self._seen = 0

    def _reset_reader(self) -> None:
        """Forget the skipped epochs; read only records that appear from now on."""
        self.skipped_: List[tuple] = []
        self._seen = len(_history_of(self.fairness))

    def train_begin(self, estimator, *args, **kwargs):
        self._reset()

    def _new_record(self) -> Optional[Dict[str, float]]:
        """The newest record if it appeared since the last call, else None."""
        history = _history_of(self.fairness)
        if len(history) <= self._seen:
            return None
        self._seen = len(history)
        return history[-1]

    def _within_bound(self, gap_value: float) -> bool:
        return self.max_gap is None or (not math.isnan(gap_value) and gap_value <= self.max_gap)

    def _skip_trivial(self, estimator, record: Dict[str, float]) -> bool:
        """True (and a log line, and an entry in ``skipped_``) when the record's model is
        trivial: one class, or accuracy below the majority-class rate."""
        why = _trivial(record)
        if why is None:
            return False
        epoch = int(record.get("epoch", len(_history_of(self.fairness)) - 1))
        self.skipped_.append((epoch, why))
        _log(estimator, logging.WARNING, SKIPPED_EPOCH.format(
            epoch=epoch, handler=type(self).__name__, why=why, gap=self.gap,
            value=f"{float(record.get(self.gap, float('nan'))):.4f}"))
        return True


class FairCheckpointHandler(_HistoryReader, TrainBegin, EpochEnd, TrainEnd):
    """Keep the parameters of the best fair epoch; restore them when training ends.

    Among the validated epochs whose ``gap`` is at most ``max_gap``, the one with the highest
    ``score`` wins (the first one on ties). Its parameters are copied in memory (and written to
    ``path`` when given) as soon as it is seen; at train end they are loaded back into the net.
    If no epoch met the bound, the net keeps its last parameters and a warning says so.

    An epoch whose model predicts one class for every row, or whose accuracy is below the
    majority-class rate (the record's ``predicted_classes`` and ``majority_rate``), is never
    chosen, whatever its gap: it is skipped with a line on the Estimator's logger and listed in
    ``skipped_``.

    Parameters
    ----------
    fairness : FairnessValidationHandler or FairnessMonitor
        Whose ``history`` is read (place this handler after the validation handler).
    max_gap : float, optional
        Bound on the gap; None: every epoch qualifies (best by score alone).
    gap : str, default "equalized_odds_difference"
        A key of the history records (``demographic_parity_difference``, ...).
    score : str, default "accuracy"
        A key of the history records, higher is better (``balanced_accuracy``, ...).
        ``"worst_group_accuracy"`` (with ``max_gap=None``) is the model selection of group
        DRO and JTT: the epoch whose worst group does best on validation.
    path : str, optional
        File for the chosen parameters (``net.save_parameters`` format), rewritten at each new
        best epoch.
    restore : bool, default True
        Load the chosen parameters into the net at train end.
    priority : float, default -900

    Attributes
    ----------
    best_epoch : int or None
    best_record : dict or None
    best_params : dict of str to NDArray or None
        Copies of the chosen epoch's parameters, by parameter name.
    skipped_ : list of (int, str)
        Epochs left out as trivial models, and why.
    """

    def __init__(self, fairness, *, max_gap: Optional[float] = None,
                 gap: str = "equalized_odds_difference", score: str = "accuracy",
                 path: Optional[Union[str, os.PathLike]] = None, restore: bool = True,
                 priority: float = -900):
        self._init_reader(fairness, gap, score, max_gap)
        self.path = None if path is None else os.fspath(path)
        self.restore = bool(restore)
        self.priority = priority
        self._reset()

    def _reset(self) -> None:
        self.best_epoch: Optional[int] = None
        self.best_record: Optional[Dict[str, float]] = None
        self.best_params: Optional[Dict[str, List[mx.nd.NDArray]]] = None
        self._reset_reader()

    def epoch_end(self, estimator, *args, **kwargs):
        record = self._new_record()
        if record is None:
            return False
        gap_value, value = _lookup(record, self.gap), _lookup(record, self.score)
        if not self._within_bound(gap_value) or math.isnan(value):
            return False
        if self._skip_trivial(estimator, record):
            return False
        if self.best_record is None or value > _lookup(self.best_record, self.score):
            self.best_epoch = int(record.get("epoch", len(_history_of(self.fairness)) - 1))
            self.best_record = dict(record)
            params = estimator.net.collect_params()
            self.best_params = {name: [d.copy() for d in p.list_data()]
                                for name, p in params.items()}
            if self.path is not None:
                estimator.net.save_parameters(self.path)
        return False

    def train_end(self, estimator, *args, **kwargs):
        if self.best_params is None:
            skipped = (f" ({len(self.skipped_)} epoch(s) within it were skipped as trivial "
                       "models)") if self.skipped_ else ""
            message = (f"FairCheckpointHandler: no validated epoch had {self.gap} <= "
                       f"{self.max_gap}{skipped}; the net keeps its last parameters")
            _log(estimator, logging.WARNING, message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            return
        if not self.restore:
            return
        params = estimator.net.collect_params()
        for name, copies in self.best_params.items():
            for target, saved in zip(params[name].list_data(), copies):
                saved.copyto(target)
        _log(estimator, logging.INFO,
             f"FairCheckpointHandler: restored the parameters of epoch {self.best_epoch} "
             f"({self.score} {self.best_record[self.score]:.4f}, {self.gap} "
             f"{self.best_record[self.gap]:.4f})")


class FairnessEarlyStoppingHandler(_HistoryReader, TrainBegin, EpochEnd, TrainEnd):
    """Stop training on a fairness criterion.

    After each validated epoch, training stops when either

    - the gap is within ``max_gap`` and ``score`` has not improved by more than ``min_delta``
      over its best value for ``patience`` validated epochs (fair enough, no longer
      improving), or
    - the gap has grown (by more than ``min_delta``) in each of the last ``gap_patience``
      validated epochs (training is making the model less fair).

    An epoch whose model predicts one class for every row, or whose accuracy is below the
    majority-class rate, takes no part in either rule (its gaps say nothing about fairness): it
    is skipped with a line on the Estimator's logger and listed in ``skipped_``.

    Parameters
    ----------
    fairness : FairnessValidationHandler or FairnessMonitor
        Whose ``history`` is read (place this handler after the validation handler).
    max_gap : float, optional
        Bound on the gap for the first rule; None: the first rule is plain early stopping on
        ``score``.
    gap : str, default "equalized_odds_difference"
    score : str, default "accuracy"
        Higher is better.
    patience : int, default 3
    gap_patience : int, optional
        Consecutive gap increases that stop training; default ``patience``.
    min_delta : float, default 0.0
    priority : float, default -800

    Attributes
    ----------
    stopped_epoch : int or None
        The epoch after which training stopped.
    stop_reason : str or None
    skipped_ : list of (int, str)
        Epochs left out as trivial models, and why.
    """

    def __init__(self, fairness, *, max_gap: Optional[float] = None,
                 gap: str = "equalized_odds_difference", score: str = "accuracy",
                 patience: int = 3, gap_patience: Optional[int] = None,
                 min_delta: float = 0.0, priority: float = -800):
        self._init_reader(fairness, gap, score, max_gap)
        self.patience = check_positive_int("patience", patience)
        self.gap_patience = (self.patience if gap_patience is None
                             else check_positive_int("gap_patience", gap_patience))
        self.min_delta = check_number("min_delta", min_delta, low=0)
        self.priority = priority
        self._reset()

    def _reset(self) -> None:
        self.best_score = -math.inf
        self.wait = 0
        self.growth = 0
        self.previous_gap: Optional[float] = None
        self.stopped_epoch: Optional[int] = None
        self.stop_reason: Optional[str] = None
        self._reset_reader()

    def epoch_end(self, estimator, *args, **kwargs):
        record = self._new_record()
        if record is None:
            return False
        gap_value, value = _lookup(record, self.gap), _lookup(record, self.score)
        if self._skip_trivial(estimator, record):
            return False
        if value > self.best_score + self.min_delta:
            self.best_score, self.wait = value, 0
        else:
            self.wait += 1
        if self.previous_gap is not None and gap_value > self.previous_gap + self.min_delta:
            self.growth += 1
        else:
            self.growth = 0
        self.previous_gap = gap_value
        epoch = int(record.get("epoch", self._seen - 1))
        if self._within_bound(gap_value) and self.wait >= self.patience:
            self.stop_reason = (
                f"{self.gap} {gap_value:.4f} within {self.max_gap} and {self.score} not "
                f"improved for {self.wait} validated epoch(s) (best {self.best_score:.4f})"
            )
        elif self.growth >= self.gap_patience:
            self.stop_reason = (
                f"{self.gap} grew in each of the last {self.growth} validated epoch(s), to "
                f"{gap_value:.4f}"
            )
        else:
            return False
        self.stopped_epoch = epoch
        return True

    def train_end(self, estimator, *args, **kwargs):
        if self.stopped_epoch is not None:
            _log(estimator, logging.INFO, f"FairnessEarlyStoppingHandler: stopped after epoch "
                                          f"{self.stopped_epoch}: {self.stop_reason}")
