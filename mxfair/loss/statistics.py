r"""Soft per-group statistics for fairness-regularized training (the *what is compared* half).

A statistic is kept apart from the penalty that compares groups (as in fairret): n statistics and
m penalties need n + m pieces of code, not n * m. Every statistic here is a weighted mean of a
per-sample value, so it is described by two per-sample tensors of shape ``(N, C)``:

``values``
    the soft quantity averaged, e.g. the predicted probability of the positive class;
``weights``
    who is averaged over, e.g. the indicator ``y == 1`` (TPR); ``None`` means every row with
    weight 1 (positive rate), which saves work inside the graph. Weights broadcast against the
    values: shape ``(N, C)`` or ``(N, 1)``.

The rate of group ``g`` in column ``c`` is then

.. math::

    \gamma_{g,c} = \frac{\sum_i 1[a_i = g]\, w_{i,c}\, v_{i,c}}{\sum_i 1[a_i = g]\, w_{i,c}},

computed for all groups at once by one matrix product with the one-hot group matrix (``_ops``).
Binary tasks use one column per rate (``probs`` of shape ``(N, 1)``); multi-class tasks one
column per class (``probs`` of shape ``(N, K)``).

All functions take ``F`` (``mx.nd`` or ``mx.sym``) first and are graph-safe, so they run inside a
hybridized ``hybrid_forward``.
"""
from typing import Optional, Tuple, Union

from .._constraints import CONSTRAINTS, canonical_constraint, constraints_over
from .._ops import Tensor, group_sums

__all__ = [
    "Statistic",
    "PositiveRate",
    "TruePositiveRate",
    "FalsePositiveRate",
    "StackedStatistic",
    "RATE_STATISTICS",
    "get_statistic",
    "apply_sample_weight",
    "group_totals",
    "safe_denominator",
    "rate_gaps",
    "group_rates",
    "group_gaps",
    "hard_predictions",
]


class Statistic:
    """A soft rate given as per-sample ``(values, weights)``; subclasses define ``terms``.

    Attributes
    ----------
    name : str
        Short name used in messages.
    needs_label : bool
        Whether the statistic conditions on the true label (TPR, FPR do; positive rate does not).
    columns_per_class : int
        How many columns the statistic gives per probability column.
    """

    name = "statistic"
    needs_label = False
    columns_per_class = 1

    def terms(self, F, probs: Tensor, label_onehot: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Per-sample ``(values, weights)``.

        Parameters
        ----------
        F : module
            ``mx.nd`` or ``mx.sym``.
        probs : Tensor, shape (N, K')
            Predicted probabilities: ``K' = 1`` (the positive class) for a binary task, else the
            ``K`` class probabilities.
        label_onehot : Tensor, shape (N, K'), or None
            The true label as indicators of the same shape as ``probs`` (for a binary task the
            0/1 label itself); only read when ``needs_label``.

        Returns
        -------
        values : Tensor, shape (N, C)
        weights : Tensor, shape (N, C) or (N, 1), or None (every row has weight 1)
        """
        raise NotImplementedError

    def weight_columns(self, prob_columns: int) -> int:
        """Columns of the ``weights`` that ``terms`` returns (0 for None), for ``K'`` columns of
        ``probs``; known at construction time, so a hybridized graph can branch on it."""
        return prob_columns

    def __call__(self, F, probs, label_onehot=None):
        return self.terms(F, probs, label_onehot)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PositiveRate(Statistic):
    """Soft selection rate ``E[p | a = g]`` (demographic parity); per class when multi-class.

    Examples
    --------
    >>> import mxnet as mx
    >>> p = mx.nd.array([[0.9], [0.1], [0.6]])
    >>> values, weights = PositiveRate()(mx.nd, p, None)
    >>> weights is None   # every row counts once
    True
    """

    name = "positive_rate"

    def terms(self, F, probs, label_onehot=None):
        return probs, None

    def weight_columns(self, prob_columns):
        return 0


class TruePositiveRate(Statistic):
    """Soft TPR ``E[p | y = 1, a = g]`` (equal opportunity); per-class recall when multi-class.

    Examples
    --------
    >>> import mxnet as mx
    >>> p, y = mx.nd.array([[0.9], [0.1]]), mx.nd.array([[1.0], [0.0]])
    >>> values, weights = TruePositiveRate()(mx.nd, p, y)
    >>> weights.asnumpy().ravel().tolist()
    [1.0, 0.0]
    """

    name = "true_positive_rate"
    needs_label = True

    def terms(self, F, probs, label_onehot):
        return probs, label_onehot


class FalsePositiveRate(Statistic):
    """Soft FPR ``E[p | y = 0, a = g]`` (predictive equality); one-vs-rest when multi-class.

    Examples
    --------
    >>> import mxnet as mx
    >>> p, y = mx.nd.array([[0.9], [0.1]]), mx.nd.array([[1.0], [0.0]])
    >>> values, weights = FalsePositiveRate()(mx.nd, p, y)
    >>> weights.asnumpy().ravel().tolist()
    [0.0, 1.0]
    """

    name = "false_positive_rate"
    needs_label = True

    def terms(self, F, probs, label_onehot):
        return probs, 1.0 - label_onehot


class StackedStatistic(Statistic):
    """Several statistics side by side (columns concatenated), e.g. TPR and FPR for equalized odds.

    Parameters
    ----------
    *statistics : Statistic
        The statistics to stack; the result has the sum of their columns.

    Examples
    --------
    >>> import mxnet as mx
    >>> p, y = mx.nd.array([[0.9], [0.1]]), mx.nd.array([[1.0], [0.0]])
    >>> values, weights = StackedStatistic(TruePositiveRate(), FalsePositiveRate())(mx.nd, p, y)
    >>> values.shape
    (2, 2)
    """

    name = "stacked"

    def __init__(self, *statistics: Statistic):
        if not statistics or not all(isinstance(s, Statistic) for s in statistics):
            raise TypeError(
                f"StackedStatistic needs Statistic instances, got {statistics!r}"
            )
        self.statistics = statistics
        self.needs_label = any(s.needs_label for s in statistics)
        self.columns_per_class = sum(s.columns_per_class for s in statistics)
        self.name = "+".join(s.name for s in statistics)

    def terms(self, F, probs, label_onehot):
        parts = [s.terms(F, probs, label_onehot) for s in self.statistics]
        if all(w is None for _, w in parts):
            return F.concat(*[v for v, _ in parts], dim=1), None
        values = F.concat(*[v for v, _ in parts], dim=1)
        weights = F.concat(*[F.ones_like(v) if w is None else F.broadcast_like(w, v)
                             for v, w in parts], dim=1)
        return values, weights

    def weight_columns(self, prob_columns):
        cols = [s.weight_columns(prob_columns) for s in self.statistics]
        return 0 if not any(cols) else prob_columns * self.columns_per_class

    def __repr__(self) -> str:
        return f"StackedStatistic({', '.join(repr(s) for s in self.statistics)})"


#: Rate (a name of :data:`mxfair.CONSTRAINTS`' rates) -> the statistic, the soft version of
#: that rate, that the losses equalise for it.
RATE_STATISTICS = {
    "selection_rate": PositiveRate,
    "true_positive_rate": TruePositiveRate,
    "false_positive_rate": FalsePositiveRate,
}


def get_statistic(constraint: Union[str, Statistic]) -> Statistic:
    """The statistic for a constraint name, or ``constraint`` itself if it is a Statistic.

    The constraint's rates (:data:`mxfair.CONSTRAINTS`) each give their statistic
    (:data:`RATE_STATISTICS`); several rates are stacked side by side.

    Parameters
    ----------
    constraint : str or Statistic
        ``'demographic_parity'`` (positive rate), ``'equal_opportunity'`` (TPR),
        ``'predictive_equality'`` (FPR), ``'equalized_odds'`` (TPR and FPR), or an alias of
        one (``'dp'``, ``'eqopp'``, ``'true_positive_rate_parity'``, ...; see
        :data:`mxfair.CONSTRAINTS`), or a ``Statistic`` instance.

    Returns
    -------
    Statistic

    Examples
    --------
    >>> get_statistic("equalized_odds")
    StackedStatistic(TruePositiveRate(), FalsePositiveRate())
    >>> get_statistic("false_positive_rate_parity")
    FalsePositiveRate()
    """
    if isinstance(constraint, Statistic):
        return constraint
    canonical = canonical_constraint(constraint, allowed=constraints_over(RATE_STATISTICS))
    parts = [RATE_STATISTICS[rate]() for rate in CONSTRAINTS[canonical]]
    return parts[0] if len(parts) == 1 else StackedStatistic(*parts)


def apply_sample_weight(F, weights: Optional[Tensor], sample_weight: Optional[Tensor]
                        ) -> Optional[Tensor]:
    """Statistic weights times per-row sample weights (shape (N,) or (N, 1)); None stays None
    only when both are None."""
    if sample_weight is None:
        return weights
    sample_weight = F.reshape(sample_weight, shape=(-1, 1))  # (N, 1)
    return sample_weight if weights is None else F.broadcast_mul(weights, sample_weight)


def group_totals(F, values: Tensor, weights: Optional[Tensor], onehot: Tensor
                 ) -> Tuple[Tensor, Tensor]:
    """Per-group weighted sums of the values and of the weights.

    These are additive over batches, so a rate over an epoch is the ratio of the summed totals.

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    values : Tensor, shape (N, C)
    weights : Tensor, shape (N, C) or (N, 1), or None (weight 1 for every row)
    onehot : Tensor, shape (N, G)

    Returns
    -------
    num : Tensor, shape (G, C)
        ``sum_i 1[a_i = g] w_ic v_ic``.
    den : Tensor, shape (G, C), or (G, 1) when ``weights`` has one column or is None
        ``sum_i 1[a_i = g] w_ic``.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[1.0], [0.0], [1.0]])
    >>> num, den = group_totals(mx.nd, p, mx.nd.ones_like(p),
    ...                         group_onehot(mx.nd, mx.nd.array([0, 0, 1]), 2))
    >>> num.asnumpy().ravel().tolist(), den.asnumpy().ravel().tolist()
    ([1.0, 1.0], [2.0, 1.0])
    """
    if weights is None:
        counts = F.reshape(F.sum(onehot, axis=0), shape=(-1, 1))  # (G, 1)
        return group_sums(F, values, onehot), counts
    return (group_sums(F, F.broadcast_mul(values, weights), onehot),
            group_sums(F, weights, onehot))


def hard_predictions(F, probs: Tensor, *, num_classes: int = 2, threshold: float = 0.5) -> Tensor:
    """Hard decisions with the shape of ``probs``: ``p >= threshold`` for a binary task
    (shape (N, 1)), else the one-hot arg-max (shape (N, K)). A statistic of these gives the
    measured rate (what fairness metrics report) rather than the soft one.

    Examples
    --------
    >>> import mxnet as mx
    >>> hard_predictions(mx.nd, mx.nd.array([[0.7], [0.2]])).asnumpy().ravel().tolist()
    [1.0, 0.0]
    """
    if num_classes == 2:
        return probs >= threshold  # the rule of GroupStats, so the measured gap is the reported one
    return F.one_hot(F.argmax(probs, axis=1), depth=num_classes)


def safe_denominator(F, den: Tensor) -> Tensor:
    """``den`` with its zeros replaced by 1, so that ``num / safe_denominator(den)`` is ``num /
    den`` where ``den > 0`` and 0 where ``den == 0`` (weights are >= 0, so ``num`` is 0 there).

    No floor such as ``max(den, 1e-12)``: a floor changes the rate of a group whose weights are
    all small, so the statistics would depend on the scale of the sample weights. With this
    division they do not (up to float32 rounding, while the per-group sums stay in float32's
    normal range, about 1e-38 to 3e38). The gradient does not flow through the comparison.

    Examples
    --------
    >>> import mxnet as mx
    >>> safe_denominator(mx.nd, mx.nd.array([0.0, 1e-20, 3.0])).asnumpy().tolist()
    [1.0, 9.99999968...e-21, 3.0]
    """
    return den + (den == 0)


def rate_gaps(F, num: Tensor, den: Tensor) -> Tuple[Tensor, Tensor]:
    """Each group's rate minus the overall rate, from the per-group totals; 0 for absent groups.

    The totals are sums over rows, so the totals of several batches or devices add up to the
    totals of their union: this is where the penalty of a data-parallel step is computed from
    the sum of every device's totals.

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    num : Tensor, shape (G, C)
        ``sum_i 1[a_i = g] w_ic v_ic`` (``group_totals``).
    den : Tensor, shape (G, C) or (G, 1)
        ``sum_i 1[a_i = g] w_ic``, >= 0.

    Returns
    -------
    gaps : Tensor, shape (G, C)
        ``num / den - sum_g num / sum_g den`` for present groups (``den > 0``), else 0.
    present : Tensor, shape of ``den``
        1 where the group has weight, else 0.

    Examples
    --------
    >>> import mxnet as mx
    >>> gaps, present = rate_gaps(mx.nd, mx.nd.array([[1.0], [2.0], [0.0]]),
    ...                           mx.nd.array([[2.0], [2.0], [0.0]]))
    >>> (gaps.asnumpy().ravel() + 0.0).tolist(), present.asnumpy().ravel().tolist()  # +0: no -0.0
    ([-0.25, 0.25, 0.0], [1.0, 1.0, 0.0])
    """
    present = F.sign(den)  # den >= 0
    rates = F.broadcast_div(num, safe_denominator(F, den))  # (G, C)
    total = F.sum(den, axis=0, keepdims=True)  # (1, C) or (1, 1)
    overall = F.broadcast_div(F.sum(num, axis=0, keepdims=True),
                              safe_denominator(F, total))  # (1, C)
    return F.broadcast_mul(F.broadcast_sub(rates, overall), present), present


def group_rates(F, values: Tensor, weights: Optional[Tensor], onehot: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor]:
    """Per-group and overall weighted rates, and the per-group weight (0 = absent group).

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    values, weights : Tensor
        From a statistic's ``terms`` (see ``group_totals``).
    onehot : Tensor, shape (N, G)
        One-hot group matrix (``_ops.group_onehot``); a row of zeros (an id out of range) is left
        out of every group and of the overall rate.

    Returns
    -------
    rates : Tensor, shape (G, C)
        Rate per group; 0 where the group has no weight in this batch (mask it with ``den``).
    overall : Tensor, shape (1, C)
        Rate over all rows that belong to a group.
    den : Tensor, shape (G, C) or (G, 1)
        Total weight per group; a group with ``den == 0`` is absent and must be masked out.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[1.0], [0.0], [1.0], [1.0]])
    >>> onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 2)
    >>> rates, overall, den = group_rates(mx.nd, p, None, onehot)
    >>> rates.asnumpy().ravel().tolist(), overall.asnumpy().ravel().tolist()
    ([0.5, 1.0], [0.75])
    """
    num, den = group_totals(F, values, weights, onehot)  # (G, C), (G, C) or (G, 1)
    rates = F.broadcast_div(num, safe_denominator(F, den))  # (G, C)
    total = F.sum(den, axis=0, keepdims=True)
    overall = F.broadcast_div(F.sum(num, axis=0, keepdims=True),
                              safe_denominator(F, total))  # (1, C)
    return rates, overall, den


def group_gaps(F, values: Tensor, weights: Optional[Tensor], onehot: Tensor
               ) -> Tuple[Tensor, Tensor]:
    """Each group's rate minus the overall rate, 0 for absent groups, and the presence mask.

    ``rate_gaps`` of the ``group_totals``: one matrix product over the rows, then (G, C) work.

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    values, weights : Tensor
        From a statistic's ``terms`` (see ``group_totals``).
    onehot : Tensor, shape (N, G)

    Returns
    -------
    gaps : Tensor, shape (G, C)
    present : Tensor, shape (G, 1) or (G, C)
        1 where the group has weight in this batch, else 0.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[1.0], [0.0], [1.0], [1.0]])
    >>> onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 3)
    >>> gaps, present = group_gaps(mx.nd, p, None, onehot)
    >>> (gaps.asnumpy().ravel() + 0.0).tolist(), present.asnumpy().ravel().tolist()  # +0: no -0.0
    ([-0.25, 0.25, 0.0], [1.0, 1.0, 0.0])
    """
    return rate_gaps(F, *group_totals(F, values, weights, onehot))
