"""Functional group-fairness metrics with fairlearn's names and semantics.

Each function takes ``y_true`` and hard predictions ``y_pred`` (0/1) as lists, NumPy arrays or
NDArrays on any context, and the sensitive feature(s) keyword-only: one column, several columns
(intersectional groups, the combinations that occur) or a DataFrame. The statistics are
accumulated with :class:`GroupStats` on the context of ``y_pred``; the definitions live in
:mod:`mxfair.metrics.report`.

Differences from fairlearn 0.9.0, on purpose: a group with no positive labels has an undefined
TPR, which is NaN with a warning and left out of the gaps (fairlearn reports 0 silently); and
``equal_opportunity_*`` and ``agg=`` exist here (they came in later fairlearn releases).
"""
import warnings
from typing import Any, Optional

import numpy as np

from .._ops import as_ndarray, context_of, is_ndarray, to_numpy
from .._validation import check_same_length
from ..groups import GroupEncoder
from .report import FairnessReport, UndefinedRateWarning
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

NOT_BINARY = "{name} must hold 0/1 values for a binary metric, got values {values}"


def _check_binary(name: str, values: np.ndarray) -> None:
    bad = np.setdiff1d(np.unique(values), [0, 1])
    if bad.size:
        raise ValueError(NOT_BINARY.format(name=name, values=bad[:5].tolist()))


def group_report(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> FairnessReport:
    """The :class:`FairnessReport` of hard binary predictions by sensitive group.

    Parameters
    ----------
    y_true, y_pred : array, shape (N,)
        Labels and predictions; ``pos_label`` marks the positive class.
    sensitive_features : array (N,) or (N, S), DataFrame or dict of columns, optional
        All rows form one group when omitted.
    sample_weight : array, shape (N,), optional

    Examples
    --------
    >>> rep = group_report([1, 0, 1, 1], [1, 0, 0, 1], sensitive_features=["a", "a", "b", "b"])
    >>> rep["true_positive_rate"]
    array([1. , 0.5])
    """
    n = check_same_length(y_true=y_true, y_pred=y_pred, sample_weight=sample_weight)
    ctx = context_of(y_pred, y_true)
    yt = (to_numpy(y_true).reshape(-1) == pos_label).astype(np.float32)
    yp_host = to_numpy(y_pred).reshape(-1)
    if pos_label != 1:
        yp_host = yp_host == pos_label
    _check_binary("y_pred", yp_host.astype(np.float64))
    if sensitive_features is None:
        ids, names = np.zeros(n, dtype=np.int64), ["all"]
    else:
        encoder = GroupEncoder().fit(sensitive_features)
        ids, names = encoder.transform(sensitive_features), encoder.group_names_
        check_same_length(y_true=y_true, sensitive_features=ids)
    stats = GroupStats(num_groups=len(names), group_names=names, ctx=ctx, from_logits=False)
    y_pred_nd = as_ndarray(y_pred, ctx=ctx) if pos_label == 1 else as_ndarray(yp_host, ctx=ctx)
    stats.update(yt, y_pred_nd.astype("float32"), ids, sample_weight)
    return stats.report()


def _rate_function(metric: str, doc: str):
    def rate(y_true, y_pred, *, sensitive_features=None, sample_weight=None, pos_label=1):
        rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                           sample_weight=sample_weight, pos_label=pos_label)
        if sensitive_features is None:
            value = rep.overall[metric]
            if np.isnan(value):
                warnings.warn(f"{metric} is undefined (NaN): {rep._why_undefined(metric)}",
                              UndefinedRateWarning, stacklevel=2)
            return value
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
    pos_label : default 1

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
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
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
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
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
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
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
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
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
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
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
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
    return rep.ratio("true_positive_rate", method)
