"""Functional group-fairness metrics with fairlearn's names and semantics.

Each function takes ``y_true`` and hard predictions ``y_pred`` (0/1) as lists, NumPy arrays or
NDArrays on any context, and the sensitive feature(s) keyword-only: one column, several columns
(intersectional groups, the combinations that occur) or a DataFrame. The statistics are
accumulated with :class:`GroupStats` on the context of ``y_pred``; the definitions live in
:mod:`mxfair.metrics.report`.

Inputs are validated as fairlearn validates them: labels and predictions are binary, from
{0, 1} or {-1, 1} unless ``pos_label`` is given (then at most two values, one of them
``pos_label``); NaN is never a label; the gap functions need ``sensitive_features`` (None
raises, as in fairlearn, instead of a gap of 0 over one group); missing sensitive values raise
(see :class:`mxfair.GroupEncoder`); sample weights are finite and >= 0; empty input raises.

Differences from fairlearn 0.9.0, on purpose: a group with no positive labels has an undefined
TPR, which is NaN with a warning and left out of the gaps (fairlearn reports 0 silently);
``demographic_parity_*`` checks ``y_true`` too (fairlearn ignores it); and
``equal_opportunity_*`` and ``agg=`` exist here (they came in later fairlearn releases).
"""
from typing import Any, Optional

import numpy as np

from .._ops import as_ndarray, context_of, is_ndarray, to_numpy
from .._validation import (
    check_binary_labels,
    check_not_empty,
    check_same_length,
    check_sample_weight,
)
from ..groups import GroupEncoder
from .report import FairnessReport
from .stats import GroupStats

__all__ = [
    "group_report",
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
]

#: Appended to the message when ``y_pred`` is not binary.
HARD_PREDICTIONS = (
    "; these functions take hard predictions (threshold scores first, or use GroupStats with "
    "from_logits for a net's output)"
)
NEEDS_SENSITIVE_FEATURES = (
    "sensitive_features is required for {name} (a gap over one group would be 0); got None"
)
MIXED_LABELS = (
    "y_true and y_pred together hold values {values}: without pos_label they must all come "
    "from {{0, 1}} or all from {{-1, 1}}"
)


def _positives(y_true, y_pred, pos_label):
    """Host checks as fairlearn's: the positive indicator (bool (N,)) of labels and preds."""
    yt = check_binary_labels("y_true", y_true, pos_label)
    yp = check_binary_labels("y_pred", y_pred, pos_label, hint=HARD_PREDICTIONS)
    values = set(np.unique(to_numpy(y_true)).tolist()) | set(np.unique(to_numpy(y_pred)).tolist())
    if pos_label is None and not (values <= {0, 1} or values <= {-1, 1}):
        raise ValueError(MIXED_LABELS.format(values=sorted(values)))
    if pos_label is not None and len(values) > 2:
        raise ValueError(f"y_true and y_pred together hold {len(values)} distinct values "
                         f"{sorted(values, key=str)[:5]}; binary metrics need at most two")
    return yt, yp


def group_report(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = None,
) -> FairnessReport:
    """The :class:`FairnessReport` of hard binary predictions by sensitive group.

    Parameters
    ----------
    y_true, y_pred : array, shape (N,)
        Labels and hard predictions, from {0, 1} or {-1, 1} (1 is positive), or any two values
        with ``pos_label`` marking the positive one.
    sensitive_features : array (N,) or (N, S), DataFrame or dict of columns, optional
        All rows form one group when omitted. Missing values raise.
    sample_weight : array, shape (N,), optional
        Finite and >= 0.
    pos_label : optional
        The positive value; by default 1, with the values restricted as above (fairlearn's
        rule).

    Raises
    ------
    ValueError
        Labels or predictions that are not binary (or NaN), lengths that differ, no rows,
        negative or non-finite weights, missing sensitive values.

    Examples
    --------
    >>> rep = group_report([1, 0, 1, 1], [1, 0, 0, 1], sensitive_features=["a", "a", "b", "b"])
    >>> rep["true_positive_rate"]
    array([1. , 0.5])
    """
    n = check_same_length(y_true=y_true, y_pred=y_pred, sample_weight=sample_weight)
    check_not_empty("y_true", n)
    ctx = context_of(y_pred, y_true)
    yt, yp = _positives(y_true, y_pred, pos_label)
    weight = None if sample_weight is None else check_sample_weight("sample_weight",
                                                                     sample_weight)
    if sensitive_features is None:
        ids, names = np.zeros(n, dtype=np.int64), ["all"]
    else:
        encoder = GroupEncoder().fit(sensitive_features)
        ids, names = encoder.transform(sensitive_features), encoder.group_names_
        check_same_length(y_true=y_true, sensitive_features=ids)
    # Hard 0/1 predictions: from_logits=False says so whatever GroupStats' default is.
    stats = GroupStats(num_groups=len(names), group_names=names, ctx=ctx, from_logits=False)
    stats.update(as_ndarray(yt.astype(np.float32), ctx=ctx),
                 as_ndarray(yp.astype(np.float32), ctx=ctx), as_ndarray(ids, ctx=ctx),
                 None if weight is None else as_ndarray(weight, ctx=ctx))
    return stats.report()


def _gap_report(name: str, y_true, y_pred, sensitive_features, sample_weight) -> FairnessReport:
    if sensitive_features is None:
        raise ValueError(NEEDS_SENSITIVE_FEATURES.format(name=name))
    return group_report(y_true, y_pred, sensitive_features=sensitive_features,
                        sample_weight=sample_weight)


def _rate_function(metric: str, doc: str):
    def rate(y_true, y_pred, *, sensitive_features=None, sample_weight=None, pos_label=None):
        rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                           sample_weight=sample_weight, pos_label=pos_label)
        if sensitive_features is None:
            return rep.rate(metric, overall=True)
        values = rep[metric]
        return as_ndarray(values, ctx=context_of(y_pred)) if is_ndarray(y_pred) else values

    rate.__name__ = rate.__qualname__ = metric
    rate.__doc__ = f"""{doc}

    Parameters
    ----------
    y_true, y_pred : array, shape (N,)
    sensitive_features : array, optional
        When given, the value of each group (shape (G,), groups in sorted order, the kind of
        ``y_pred``) instead of one float.
    sample_weight : array, shape (N,), optional
    pos_label : optional
        The positive value (default 1, labels then from {{0, 1}} or {{-1, 1}}).

    Examples
    --------
    >>> {metric}([1, 0, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return rate


selection_rate = _rate_function(
    "selection_rate", "Fraction of predictions that are positive, (TP + FP) / n.")
true_positive_rate = _rate_function(
    "true_positive_rate", "Recall, TP / (TP + FN); NaN with a warning when there are no positives.")
false_positive_rate = _rate_function(
    "false_positive_rate", "FP / (FP + TN); NaN with a warning when there are no negatives.")
true_negative_rate = _rate_function(
    "true_negative_rate", "Specificity, TN / (FP + TN) = 1 - FPR.")
false_negative_rate = _rate_function(
    "false_negative_rate", "Miss rate, FN / (TP + FN) = 1 - TPR.")


def demographic_parity_difference(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, method: str = "between_groups",
    sample_weight: Optional[Any] = None,
) -> float:
    """Largest gap in selection rate between groups (fairlearn's definition).

    .. math:: \\max_g SR_g - \\min_g SR_g \\quad (\\text{to\\_overall: } \\max_g |SR_g - SR|)

    Examples
    --------
    >>> demographic_parity_difference([0, 0, 0, 0], [1, 1, 0, 1],
    ...                               sensitive_features=["a", "a", "b", "b"])
    0.5
    """
    rep = _gap_report("demographic_parity_difference", y_true, y_pred, sensitive_features,
                      sample_weight)
    return rep.difference("selection_rate", method)


def demographic_parity_ratio(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, method: str = "between_groups",
    sample_weight: Optional[Any] = None,
) -> float:
    """Smallest ratio of selection rates between groups, min / max (fairlearn's definition).

    Examples
    --------
    >>> demographic_parity_ratio([0, 0, 0, 0], [1, 1, 0, 1],
    ...                          sensitive_features=["a", "a", "b", "b"])
    0.5
    """
    rep = _gap_report("demographic_parity_ratio", y_true, y_pred, sensitive_features,
                      sample_weight)
    return rep.ratio("selection_rate", method)


def equalized_odds_difference(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, method: str = "between_groups",
    sample_weight: Optional[Any] = None, agg: str = "worst_case",
) -> float:
    """The larger (``agg="worst_case"``) or the mean of the TPR and FPR differences.

    Examples
    --------
    >>> equalized_odds_difference([1, 0, 1, 0], [1, 0, 0, 0],
    ...                           sensitive_features=["a", "a", "b", "b"])
    1.0
    """
    rep = _gap_report("equalized_odds_difference", y_true, y_pred, sensitive_features,
                      sample_weight)
    return rep.equalized_odds_difference(method, agg)


def equalized_odds_ratio(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, method: str = "between_groups",
    sample_weight: Optional[Any] = None, agg: str = "worst_case",
) -> float:
    """The smaller (``agg="worst_case"``) or the mean of the TPR and FPR ratios.

    Examples
    --------
    >>> equalized_odds_ratio([1, 0, 1, 0], [1, 1, 1, 0],
    ...                      sensitive_features=["a", "a", "b", "b"])
    0.0
    """
    rep = _gap_report("equalized_odds_ratio", y_true, y_pred, sensitive_features,
                      sample_weight)
    return rep.equalized_odds_ratio(method, agg)


def equal_opportunity_difference(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, method: str = "between_groups",
    sample_weight: Optional[Any] = None,
) -> float:
    """Largest gap in true positive rate between groups.

    Examples
    --------
    >>> equal_opportunity_difference([1, 1, 1, 1], [1, 1, 0, 1],
    ...                              sensitive_features=["a", "a", "b", "b"])
    0.5
    """
    rep = _gap_report("equal_opportunity_difference", y_true, y_pred, sensitive_features,
                      sample_weight)
    return rep.difference("true_positive_rate", method)


def equal_opportunity_ratio(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, method: str = "between_groups",
    sample_weight: Optional[Any] = None,
) -> float:
    """Smallest ratio of true positive rates between groups.

    Examples
    --------
    >>> equal_opportunity_ratio([1, 1, 1, 1], [1, 1, 0, 1],
    ...                         sensitive_features=["a", "a", "b", "b"])
    0.5
    """
    rep = _gap_report("equal_opportunity_ratio", y_true, y_pred, sensitive_features,
                      sample_weight)
    return rep.ratio("true_positive_rate", method)
