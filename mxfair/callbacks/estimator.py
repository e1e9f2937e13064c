"""Group fairness in ``mxnet.gluon.contrib.estimator.Estimator``: a batch processor and handlers.

- :class:`GroupBatchProcessor` lets ``Estimator.fit`` train on ``(x, y, group)`` batches with a
  loss that takes the groups, ``loss(pred, label, group[, sample_weight])`` (for example
  :class:`mxfair.loss.FairnessRegularizedLoss`), or with a plain two-argument Gluon loss.
- :class:`FairnessValidationHandler` runs a :class:`FairnessMonitor` at the end of each
  validation epoch (priority -999: just after the Estimator's ``ValidationHandler`` at -1000).
- :class:`FairCheckpointHandler` keeps the parameters of the most accurate epoch among those
  whose fairness gap is within a bound and restores them when training ends (priority -900).
- :class:`FairnessEarlyStoppingHandler` stops training once the gap bound is met and accuracy has
  stopped improving, or when the gap has grown for ``patience`` evaluations (priority -800).

The handlers after the validation handler read the monitor's latest history record, so they act
only on epochs that were validated. None of them keeps an attribute whose name contains
``metric``: the Estimator requires such attributes to hold one of its own ``EvalMetric`` objects.
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

from .._validation import check_positive_int
from .monitor import FairnessMonitor

__all__ = [
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
BAD_BOUND = "max_gap must be a finite number >= 0, got {value!r}"


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

    ``fit_batch`` and ``evaluate_batch`` return ``data, label, pred, loss``, one entry per
    device. ``label`` is ``y`` only (shape (N,)) by default, so the built-in ``mx.metric``
    classes (``Accuracy``, ``F1``, ``Loss``...) work unchanged in ``train_metrics`` and
    ``val_metrics``. With ``label_with_group=True``, each device's label is the pair
    ``[y, group]`` instead, for group-aware ``EvalMetric`` classes whose ``update(labels, preds)``
    reads labels as ``(y, group)`` pairs (built-in metrics do not understand that form).

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
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> x = mx.nd.random.normal(shape=(32, 4))
    >>> y, g = (x[:, 0] > 0), (x[:, 1] > 0)
    >>> train = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y, g), batch_size=8)
    >>> net = gluon.nn.Dense(2)
    >>> net.initialize()
    >>> est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(),
    ...                 train_metrics=mx.metric.Accuracy(),
    ...                 trainer=gluon.Trainer(net.collect_params(), "sgd"),
    ...                 batch_processor=GroupBatchProcessor())
    >>> est.logger.disabled = True
    >>> est.fit(train, epochs=1)
    """

    def __init__(self, group_aware: Optional[bool] = None,
                 label_dtype: Optional[str] = "pred", label_with_group: bool = False):
        super().__init__()
        if group_aware is not None and not isinstance(group_aware, bool):
            raise TypeError(f"group_aware must be True, False or None, got {group_aware!r}")
        self.group_aware = group_aware
        self.label_dtype = label_dtype
        self.label_with_group = bool(label_with_group)
        self._detected: Dict[int, bool] = {}

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

    def __init__(self, fairness: FairnessMonitor, epoch_period: int = 1,
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
            self.fairness.evaluate(estimator.val_net, epoch=epoch)
        return False


def _history_of(fairness) -> List[Dict[str, float]]:
    history = getattr(fairness, "history", None)
    if not isinstance(history, list):
        raise TypeError(NO_HISTORY_SOURCE.format(value=fairness))
    return history


def _check_bound(value) -> float:
    try:
        bound = float(value)
    except (TypeError, ValueError):
        raise ValueError(BAD_BOUND.format(value=value)) from None
    if isinstance(value, bool) or not math.isfinite(bound) or bound < 0:
        raise ValueError(BAD_BOUND.format(value=value))
    return bound


def _lookup(record: Dict[str, float], key: str) -> float:
    if key not in record:
        raise ValueError(UNKNOWN_KEY.format(key=key, keys=sorted(record)))
    return float(record[key])


class _HistoryReader:
    """Shared by the handlers that act on the newest record of a fairness history."""

    def _init_reader(self, fairness, gap: str, score: str, max_gap) -> None:
        _history_of(fairness)
        self.fairness = fairness
        self.gap = gap
        self.score = score
        self.max_gap = None if max_gap is None else _check_bound(max_gap)
        self._seen = 0

    def _new_record(self) -> Optional[Dict[str, float]]:
        """The newest record if it appeared since the last call, else None."""
        history = _history_of(self.fairness)
        if len(history) <= self._seen:
            return None
        self._seen = len(history)
        return history[-1]

    def _within_bound(self, gap_value: float) -> bool:
        return self.max_gap is None or (not math.isnan(gap_value) and gap_value <= self.max_gap)


class FairCheckpointHandler(_HistoryReader, TrainBegin, EpochEnd, TrainEnd):
    """Keep the parameters of the best fair epoch; restore them when training ends.

    Among the validated epochs whose ``gap`` is at most ``max_gap``, the one with the highest
    ``score`` wins (the first one on ties). Its parameters are copied in memory (and written to
    ``path`` when given) as soon as it is seen; at train end they are loaded back into the net.
    If no epoch met the bound, the net keeps its last parameters and a warning says so.

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
    """

    def __init__(self, fairness, max_gap: Optional[float] = None,
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
        self._seen = len(_history_of(self.fairness))

    def train_begin(self, estimator, *args, **kwargs):
        self._reset()

    def epoch_end(self, estimator, *args, **kwargs):
        record = self._new_record()
        if record is None:
            return False
        gap_value, value = _lookup(record, self.gap), _lookup(record, self.score)
        if not self._within_bound(gap_value) or math.isnan(value):
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
            warnings.warn(
                f"FairCheckpointHandler: no validated epoch had {self.gap} <= {self.max_gap}; "
                "the net keeps its last parameters",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        if not self.restore:
            return
        params = estimator.net.collect_params()
        for name, copies in self.best_params.items():
            for target, saved in zip(params[name].list_data(), copies):
                saved.copyto(target)
        logger.info("restored the parameters of epoch %d (%s %.4f, %s %.4f)", self.best_epoch,
                    self.score, self.best_record[self.score], self.gap,
                    self.best_record[self.gap])


class FairnessEarlyStoppingHandler(_HistoryReader, TrainBegin, EpochEnd, TrainEnd):
    """Stop training on a fairness criterion.

    After each validated epoch, training stops when either

    - the gap is within ``max_gap`` and ``score`` has not improved by more than ``min_delta``
      over its best value for ``patience`` validated epochs (fair enough, no longer
      improving), or
    - the gap has grown (by more than ``min_delta``) in each of the last ``gap_patience``
      validated epochs (training is making the model less fair).

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
    """

    def __init__(self, fairness, max_gap: Optional[float] = None,
                 gap: str = "equalized_odds_difference", score: str = "accuracy",
                 patience: int = 3, gap_patience: Optional[int] = None,
                 min_delta: float = 0.0, priority: float = -800):
        self._init_reader(fairness, gap, score, max_gap)
        self.patience = check_positive_int("patience", patience)
        self.gap_patience = (self.patience if gap_patience is None
                             else check_positive_int("gap_patience", gap_patience))
        if not math.isfinite(float(min_delta)) or float(min_delta) < 0:
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.priority = priority
        self._reset()

    def _reset(self) -> None:
        self.best_score = -math.inf
        self.wait = 0
        self.growth = 0
        self.previous_gap: Optional[float] = None
        self.stopped_epoch: Optional[int] = None
        self.stop_reason: Optional[str] = None
        self._seen = len(_history_of(self.fairness))

    def train_begin(self, estimator, *args, **kwargs):
        self._reset()

    def epoch_end(self, estimator, *args, **kwargs):
        record = self._new_record()
        if record is None:
            return False
        gap_value, value = _lookup(record, self.gap), _lookup(record, self.score)
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
            logger.info("early stopping after epoch %d: %s", self.stopped_epoch,
                        self.stop_reason)
