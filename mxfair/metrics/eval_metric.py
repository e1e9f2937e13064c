"""``mx.metric.EvalMetric`` classes for group fairness: drop them into ``CompositeEvalMetric``,
``Module.fit`` or the Gluon Estimator.

Each metric wraps a :class:`~mxfair.metrics.GroupStats` (the counts stay on the device while
batches stream in) and reads a figure of :meth:`FairnessReport.summary` in :meth:`get`. The group
of each row comes with the labels, ``update([label, group], preds)`` (optionally
``[label, group, sample_weight]``), or as a third argument, ``update(labels, preds, groups)``.
The Gluon Estimator with ``GroupBatchProcessor(label_with_group=True)`` passes one
``[label, group]`` list per device and one prediction per device; that form is accepted too.
Each ``get()`` synchronises with the device once (it builds a report).

Scores follow the package convention: ``from_logits=True`` by default, because a Gluon binary
net ends in ``Dense(1)`` trained with ``SigmoidBinaryCrossEntropyLoss`` and emits logits (a
multi-class net emits unnormalised ``(N, K)`` scores). Pass ``from_logits=False`` for
probabilities in [0, 1] or hard 0/1 predictions; this applies to ``mx.metric.create(name, ...)``
as well.

Registered names (``mx.metric.create(name, num_groups=G)``): the lower-cased class names and the
fairlearn-style aliases ``demographic_parity_difference``, ``demographic_parity_ratio``,
``equalized_odds_difference``, ``equal_opportunity_difference``, ``worst_group_accuracy``,
``group_fairness``.
"""
from typing import Any, Optional, Sequence

import mxnet as mx

from .._validation import check_pred_columns
from .report import BINARY_SUMMARY_KEYS, SUMMARY_KEYS
from .stats import GroupStats

__all__ = [
    "FairnessMetric",
    "DemographicParityDifference",
    "DemographicParityRatio",
    "EqualizedOddsDifference",
    "EqualOpportunityDifference",
    "WorstGroupAccuracy",
    "GroupFairnessMetric",
]

DEFAULT_QUANTITIES = (
    "accuracy", "demographic_parity_difference", "equalized_odds_difference",
    "equal_opportunity_difference", "worst_group_accuracy",
)
BAD_LABELS = (
    "labels must be [label, group] or [label, group, sample_weight] when groups is not given, "
    "got {got}"
)
PER_DEVICE_MISMATCH = (
    "per-device labels need one prediction per device: got {labels} label list(s) and "
    "{preds} prediction(s)"
)


def _check_quantity(quantity: str, num_bins: int, num_classes: int) -> str:
    if quantity not in SUMMARY_KEYS:
        raise ValueError(f"quantity must be one of {list(SUMMARY_KEYS)}, got {quantity!r}")
    if quantity in BINARY_SUMMARY_KEYS and num_classes != 2:
        raise ValueError(
            f"quantity {quantity!r} is defined for binary tasks only (num_classes=2): it would "
            f"be NaN for every batch with num_classes={num_classes!r}"
        )
    if quantity.startswith("auc") and not num_bins:
        raise ValueError(f"quantity {quantity!r} needs num_bins > 0 (score histograms)")
    return quantity


def _per_device(labels: Any) -> bool:
    """True for ``[[label, group(, weight)], ...]``: one label list per device."""
    return (isinstance(labels, (list, tuple)) and len(labels) > 0
            and all(isinstance(item, (list, tuple)) for item in labels))


def _first(x: Any) -> Any:
    """The array of a one-element list (how Module and the Estimator pass outputs)."""
    if isinstance(x, (list, tuple)):
        if len(x) != 1:
            raise ValueError(f"expected one array, got a list of {len(x)}")
        return x[0]
    return x


class _StatsMetric(mx.metric.EvalMetric):
    """The shared part: a GroupStats, the update conventions, reset and the report.

    Local and global statistics, as ``EvalMetric`` defines them: :meth:`get` covers the
    batches since the last :meth:`reset_local` (or :meth:`reset`), :meth:`get_global` every
    batch since the last :meth:`reset`. ``reset_local`` adds the local statistics to the
    global ones (one in-place sum on the device) and starts the local ones over, so
    ``mx.callback.Speedometer(auto_reset=True)`` logs figures per interval while the epoch's
    figure (``get_global_name_value``, as ``Module.fit`` logs it) covers the whole epoch.
    """

    def __init__(self, name: str, num_groups: int, num_classes: int, threshold: float,
                 from_logits: bool, num_bins: int, output_names, label_names, **config):
        # The state exists before EvalMetric.__init__, which calls reset().
        self._stats = GroupStats(num_groups, num_classes=num_classes, threshold=threshold,
                                 num_bins=num_bins, from_logits=from_logits)
        # The batches before the last reset_local (the global figure adds the local ones).
        self._past_stats = GroupStats(num_groups, num_classes=num_classes, threshold=threshold,
                                      num_bins=num_bins, from_logits=from_logits)
        super().__init__(name, output_names=output_names, label_names=label_names,
                         num_groups=num_groups, num_classes=num_classes, threshold=threshold,
                         from_logits=from_logits, num_bins=num_bins, has_global_stats=True,
                         **config)

    @property
    def stats(self) -> GroupStats:
        """The local :class:`GroupStats`: the batches since the last ``reset_local``."""
        return self._stats

    @property
    def global_stats(self) -> GroupStats:
        """The global :class:`GroupStats`: every batch since the last ``reset`` (a new object
        when ``reset_local`` was called since; e.g. for a full report or an allreduce)."""
        if self._past_stats.counts is None:
            return self._stats
        return self._past_stats + self._stats

    def update(self, labels: Any, preds: Any, groups: Any = None) -> None:
        """Add one batch.

        Parameters
        ----------
        labels : NDArray (N,) or list
            ``[label, group]`` or ``[label, group, sample_weight]`` when ``groups`` is None;
            otherwise the label (or a one-element list). The Gluon Estimator with
            ``GroupBatchProcessor(label_with_group=True)`` passes one such list per device,
            ``[[label_0, group_0], [label_1, group_1], ...]``, with ``preds`` a list of one
            prediction per device in the same order.
        preds : NDArray or list of NDArray
            Logits (N,) or (N, 1) (probabilities or hard 0/1 predictions with
            ``from_logits=False``), or class scores (N, K): one array (or a one-element list),
            or one per device with per-device labels.
        groups : NDArray (N,), optional
        """
        if groups is None and _per_device(labels):
            preds = list(preds) if isinstance(preds, (list, tuple)) else [preds]
            if len(preds) != len(labels):
                raise ValueError(PER_DEVICE_MISMATCH.format(labels=len(labels),
                                                            preds=len(preds)))
            for device_labels, pred in zip(labels, preds):
                self._update_one(device_labels, pred, None)
            return
        self._update_one(labels, preds, groups)

    def _update_one(self, labels: Any, preds: Any, groups: Any) -> None:
        """One device's batch: the conventions of :meth:`update` without the per-device form."""
        weight = None
        if groups is None:
            if not isinstance(labels, (list, tuple)) or len(labels) not in (2, 3):
                got = f"a list of {len(labels)}" if isinstance(labels, (list, tuple)) \
                    else type(labels).__name__
                raise ValueError(BAD_LABELS.format(got=got))
            label, groups = labels[0], labels[1]
            weight = labels[2] if len(labels) == 3 else None
        else:
            label = _first(labels)
        pred = _first(preds)
        if hasattr(pred, "shape"):  # shape only: no data read, no synchronisation
            check_pred_columns("preds", pred.shape, self._stats.num_classes)
        self._stats.update(label, pred, groups, weight)
        rows = int(label.shape[0]) if hasattr(label, "shape") else len(label)
        self.num_inst += rows
        self.global_num_inst += rows

    def reset(self) -> None:
        """Forget every batch (local and global statistics)."""
        self._stats.reset()
        self._past_stats.reset()
        super().reset()

    def reset_local(self) -> None:
        """Start the local statistics over; the global ones keep every batch since reset."""
        if self.num_inst:
            self._past_stats.merge(self._stats)
        self._stats.reset()
        super().reset_local()

    def _summary(self, global_: bool = False) -> dict:
        stats = self.global_stats if global_ else self._stats
        return stats.report().summary()


@mx.metric.register
@mx.metric.alias("group_fairness_figure")
class FairnessMetric(_StatsMetric):
    """One group-fairness figure as an ``EvalMetric``.

    Parameters
    ----------
    num_groups : int
        Number of groups G (group ids in ``[0, G)``).
    quantity : str, default "demographic_parity_difference"
        A key of :meth:`FairnessReport.summary` (:data:`~mxfair.metrics.SUMMARY_KEYS`); those of
        :data:`~mxfair.metrics.BINARY_SUMMARY_KEYS` need ``num_classes=2``.
    num_classes : int, default 2
    threshold : float, default 0.5
        Decision threshold on the positive-class probability.
    from_logits : bool, default True
        ``preds`` are a net's raw output (logits, or unnormalised (N, K) scores): a sigmoid
        (softmax) is applied. False: probabilities in [0, 1] or hard 0/1 predictions.
    num_bins : int, default 0
        Score histogram bins (needed for ``auc`` and ``auc_difference``).
    name : str, optional
        Display name; the quantity by default.
    output_names, label_names : list of str, optional
        As for every ``EvalMetric``.

    Examples
    --------
    >>> import mxnet as mx
    >>> metric = FairnessMetric(num_groups=2, quantity="equal_opportunity_difference")
    >>> metric.update([mx.nd.array([1, 1, 1, 1]), mx.nd.array([0, 0, 1, 1])],
    ...               [mx.nd.array([2.2, 1.4, 0.8, -1.4])])  # logits, as Dense(1) gives
    >>> metric.get()
    ('equal_opportunity_difference', 0.5)
    """

    _QUANTITY: Optional[str] = None  # fixed by the named subclasses

    def __init__(self, num_groups: int, *, quantity: str = "demographic_parity_difference",
                 num_classes: int = 2, threshold: float = 0.5, from_logits: bool = True,
                 num_bins: int = 0, name: Optional[str] = None,
                 output_names: Optional[Sequence[str]] = None,
                 label_names: Optional[Sequence[str]] = None):
        quantity = _check_quantity(self._QUANTITY or quantity, num_bins, num_classes)
        self.quantity = quantity
        config = {} if self._QUANTITY else {"quantity": quantity}
        super().__init__(name or quantity, num_groups, num_classes, threshold, from_logits,
                         num_bins, output_names, label_names, **config)

    def get(self):
        """``(name, value)`` since the last ``reset_local``; NaN before any data."""
        if self.num_inst == 0:
            return self.name, float("nan")
        return self.name, float(self._summary()[self.quantity])

    def get_global(self):
        """``(name, value)`` since the last ``reset``; NaN before any data."""
        if self.global_num_inst == 0:
            return self.name, float("nan")
        return self.name, float(self._summary(global_=True)[self.quantity])


class _NamedFairnessMetric(FairnessMetric):
    """A :class:`FairnessMetric` whose quantity is its class's ``_QUANTITY`` (no ``quantity``
    argument, so ``get_config()`` round-trips through ``mx.metric.create``)."""

    def __init__(self, num_groups: int, *, num_classes: int = 2, threshold: float = 0.5,
                 from_logits: bool = True, num_bins: int = 0, name: Optional[str] = None,
                 output_names: Optional[Sequence[str]] = None,
                 label_names: Optional[Sequence[str]] = None):
        super().__init__(num_groups, quantity=self._QUANTITY, num_classes=num_classes,
                         threshold=threshold, from_logits=from_logits, num_bins=num_bins,
                         name=name, output_names=output_names, label_names=label_names)


@mx.metric.register
@mx.metric.alias("demographic_parity_difference")
class DemographicParityDifference(_NamedFairnessMetric):
    """Largest gap in selection rate between groups (``mx.metric.create`` name
    ``"demographic_parity_difference"``); the parameters of :class:`FairnessMetric` but
    ``quantity``.

    Examples
    --------
    >>> type(mx.metric.create("demographic_parity_difference", num_groups=2)).__name__
    'DemographicParityDifference'
    """

    _QUANTITY = "demographic_parity_difference"


@mx.metric.register
@mx.metric.alias("demographic_parity_ratio")
class DemographicParityRatio(_NamedFairnessMetric):
    """Smallest ratio of selection rates between groups (``"demographic_parity_ratio"``).

    Examples
    --------
    >>> DemographicParityRatio(num_groups=2).get()
    ('demographic_parity_ratio', nan)
    """

    _QUANTITY = "demographic_parity_ratio"


@mx.metric.register
@mx.metric.alias("equalized_odds_difference")
class EqualizedOddsDifference(_NamedFairnessMetric):
    """The larger of the TPR and FPR gaps between groups (``"equalized_odds_difference"``).

    Examples
    --------
    >>> metric = EqualizedOddsDifference(num_groups=2)
    >>> metric.update([mx.nd.array([1, 0, 1, 0]), mx.nd.array([0, 0, 1, 1])],
    ...               [mx.nd.array([2.0, -1.0, -1.0, 1.0])])  # logits
    >>> metric.get()
    ('equalized_odds_difference', 1.0)
    """

    _QUANTITY = "equalized_odds_difference"


@mx.metric.register
@mx.metric.alias("equal_opportunity_difference")
class EqualOpportunityDifference(_NamedFairnessMetric):
    """Largest gap in true positive rate between groups (``"equal_opportunity_difference"``).

    Examples
    --------
    >>> mx.metric.create("equal_opportunity_difference", num_groups=3).get_config()["num_groups"]
    3
    """

    _QUANTITY = "equal_opportunity_difference"


@mx.metric.register
@mx.metric.alias("worst_group_accuracy")
class WorstGroupAccuracy(_NamedFairnessMetric):
    """Accuracy of the group where it is lowest (``"worst_group_accuracy"``).

    Examples
    --------
    >>> metric = WorstGroupAccuracy(num_groups=2, from_logits=False)
    >>> metric.update([mx.nd.array([1, 1, 0, 0]), mx.nd.array([0, 0, 1, 1])],
    ...               [mx.nd.array([0.9, 0.8, 0.7, 0.2])])  # probabilities
    >>> metric.get()
    ('worst_group_accuracy', 0.5)
    """

    _QUANTITY = "worst_group_accuracy"


@mx.metric.register
@mx.metric.alias("group_fairness")
class GroupFairnessMetric(_StatsMetric):
    """Several figures at once (accuracy and gaps) from one set of group statistics.

    For plain loops, ``Module.fit`` and ``CompositeEvalMetric``. Not for the Estimator's
    metrics: MXNet 1.9.1's ``LoggingHandler`` formats every metric value as one float, so give
    the Estimator one :class:`FairnessMetric` per figure (or use ``FairnessValidationHandler``).

    Parameters
    ----------
    num_groups : int
    quantities : sequence of str, optional
        Keys of :meth:`FairnessReport.summary`; by default accuracy, the demographic-parity,
        equalized-odds and equal-opportunity differences and the worst group's accuracy.
        Those of :data:`~mxfair.metrics.BINARY_SUMMARY_KEYS` need ``num_classes=2``.
    num_classes, threshold, from_logits, num_bins, output_names, label_names
        As for :class:`FairnessMetric`.
    name : str, default "group_fairness"

    Examples
    --------
    >>> import mxnet as mx
    >>> metric = GroupFairnessMetric(2, quantities=["accuracy", "demographic_parity_difference"],
    ...                              from_logits=False)
    >>> metric.update([mx.nd.array([1, 0, 1, 0]), mx.nd.array([0, 0, 1, 1])],
    ...               [mx.nd.array([0.9, 0.2, 0.4, 0.1])])  # probabilities
    >>> metric.get()
    (['accuracy', 'demographic_parity_difference'], [0.75, 0.5])
    """

    def __init__(self, num_groups: int, *, quantities: Optional[Sequence[str]] = None,
                 num_classes: int = 2, threshold: float = 0.5, from_logits: bool = True,
                 num_bins: int = 0, name: str = "group_fairness",
                 output_names: Optional[Sequence[str]] = None,
                 label_names: Optional[Sequence[str]] = None):
        quantities = list(DEFAULT_QUANTITIES if quantities is None else quantities)
        if not quantities:
            raise ValueError("quantities must name at least one figure")
        self.quantities = [_check_quantity(q, num_bins, num_classes) for q in quantities]
        super().__init__(name, num_groups, num_classes, threshold, from_logits, num_bins,
                         output_names, label_names, quantities=self.quantities)

    def get(self):
        """``(names, values)`` since the last ``reset_local``; NaN values before any data."""
        return self._values(self.num_inst, global_=False)

    def get_global(self):
        """``(names, values)`` since the last ``reset``; NaN values before any data."""
        return self._values(self.global_num_inst, global_=True)

    def _values(self, num_inst: int, global_: bool):
        if num_inst == 0:
            return list(self.quantities), [float("nan")] * len(self.quantities)
        summary = self._summary(global_)
        return list(self.quantities), [float(summary[q]) for q in self.quantities]
