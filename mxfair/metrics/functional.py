"""Functional group-fairness metrics with fairlearn's names and semantics, and
:func:`group_report`, the report of a test set (hard predictions or a net's scores).

Each fairlearn-named function takes ``y_true`` and hard predictions ``y_pred`` (0/1) as lists,
NumPy arrays or NDArrays on any context, and the sensitive feature(s) keyword-only: one column,
several columns (intersectional groups, the combinations that occur) or a DataFrame. The
statistics are accumulated with :class:`GroupStats` on the context of ``y_pred``; the
definitions live in :mod:`mxfair.metrics.report`. The functions are generated from the spec
table at the end of this module (one line each).

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
from typing import Any

import numpy as np

from .._ops import as_ndarray, context_of, is_ndarray, to_numpy
from .._validation import (
    check_binary_labels,
    check_ids,
    check_not_empty,
    check_number,
    check_numeric,
    check_same_length,
    check_sample_weight,
    check_scores,
)
from ..groups import GroupEncoder
from ._generated import Family
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
PRED_OR_SCORE = "give y_pred (hard predictions) or y_score (a net's scores), not {what}"
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
    y_pred: Any = None,
    *,
    y_score: Any = None,
    from_logits: bool = True,
    threshold: float = 0.5,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = None,
    bootstrap: int = 0,
    seed: Any = None,
    num_bins: int = 0,
) -> FairnessReport:
    """The :class:`FairnessReport` of a set of predictions by sensitive group, with bootstrap
    intervals when asked for.

    Parameters
    ----------
    y_true : array, shape (N,)
        Labels: from {0, 1} or {-1, 1} (1 is positive), or any two values with ``pos_label``
        marking the positive one; with ``(N, K)`` scores, class ids in ``[0, K)``.
    y_pred : array, shape (N,), optional
        Hard predictions, binary as ``y_true`` (fairlearn's rule).
    y_score : array, shape (N,), (N, 1) or (N, K), optional
        A net's output instead of ``y_pred``: logits (``from_logits=True``, the package's
        convention) or probabilities in [0, 1]; ``(N, K)`` class scores for K classes. Finite.
    from_logits : bool, default True
        With ``y_score``: logits (a sigmoid, or a softmax for (N, K), is applied) or
        probabilities.
    threshold : float, default 0.5
        With binary ``y_score``: a row is predicted positive when its probability is
        ``>= threshold``.
    sensitive_features : array (N,) or (N, S), DataFrame or dict of columns, optional
        All rows form one group when omitted. Missing values raise.
    sample_weight : array, shape (N,), optional
        Finite and >= 0.
    pos_label : optional
        The positive value; by default 1, with the values restricted as above.
    bootstrap : int, default 0
        Bootstrap replicates accumulated in the same pass (Poisson weights per row): the
        report's :meth:`~FairnessReport.summary` then has ``<name>_lo``/``<name>_hi`` 95 %
        intervals, and :meth:`~FairnessReport.interval` gives any other.
    seed : int, sequence of int or None, optional
        Seed of the bootstrap weights (the same seed for every model compared makes the
        intervals comparable).
    num_bins : int, default 0
        Score histogram bins (binary ``y_score``), for the per-group AUC.

    Returns
    -------
    FairnessReport

    Raises
    ------
    ValueError
        Both or neither of ``y_pred`` and ``y_score``; labels or predictions that are not
        binary (or NaN); NaN or infinite scores (or, with ``from_logits=False``, outside
        [0, 1]); lengths that differ; no rows; negative or non-finite weights; missing
        sensitive values.

    Examples
    --------
    >>> rep = group_report([1, 0, 1, 1], [1, 0, 0, 1], sensitive_features=["a", "a", "b", "b"])
    >>> rep["true_positive_rate"]
    array([1. , 0.5])
    >>> logits = [2.1, -0.3, -1.2, 0.8, 1.5, -2.0, 0.2, -0.1]
    >>> rep = group_report([1, 0, 1, 1, 1, 0, 0, 0], y_score=logits, bootstrap=50, seed=0,
    ...                    sensitive_features=["a", "a", "a", "a", "b", "b", "b", "b"])
    >>> sorted(k for k in rep.summary() if k.startswith("accuracy"))
    ['accuracy', 'accuracy_hi', 'accuracy_lo']
    """
    given = [name for name, v in (("y_pred", y_pred), ("y_score", y_score)) if v is not None]
    if len(given) != 1:
        raise ValueError(PRED_OR_SCORE.format(what="both" if given else "neither"))
    preds = y_pred if y_score is None else y_score
    n = check_same_length(y_true=y_true, **{given[0]: preds}, sample_weight=sample_weight)
    check_not_empty("y_true", n)
    ctx = context_of(preds, y_true)
    num_classes = 2
    if y_score is None:
        labels, preds = (a.astype(np.float32) for a in _positives(y_true, y_pred, pos_label))
        from_logits, threshold = False, 0.5  # hard 0/1 predictions
    else:
        shape = tuple(np.shape(to_numpy(y_score)))
        if len(shape) == 2 and shape[1] > 2:
            num_classes = shape[1]
            labels = check_ids("y_true", y_true, num_classes, what="class ids")
            preds = check_numeric("y_score", y_score, ids=False, flat=False)
            if not np.all(np.isfinite(preds)):
                raise ValueError("y_score must be finite, got NaN or infinite values")
        else:
            labels = check_binary_labels("y_true", y_true, pos_label).astype(np.float32)
            preds = check_scores("y_score", y_score, bool(from_logits))
        threshold = check_number("threshold", threshold, low=0, high=1)
    weight = None if sample_weight is None else check_sample_weight("sample_weight",
                                                                     sample_weight)
    if sensitive_features is None:
        ids, names = np.zeros(n, dtype=np.int64), ["all"]
    else:
        encoder = GroupEncoder().fit(sensitive_features)
        ids, names = encoder.transform(sensitive_features), encoder.group_names_
        check_same_length(y_true=y_true, sensitive_features=ids)
    stats = GroupStats(len(names), num_classes=num_classes, threshold=threshold,
                       num_bins=num_bins, bootstrap=bootstrap, seed=seed, group_names=names,
                       ctx=ctx, from_logits=bool(from_logits))
    stats.update(as_ndarray(labels, ctx=ctx), as_ndarray(preds, ctx=ctx), as_ndarray(ids, ctx=ctx),
                 None if weight is None else as_ndarray(weight, ctx=ctx))
    return stats.report()


# --------------------------------------------------------------------- the generated functions
def _rate_template(y_true, y_pred, *, sensitive_features=None, sample_weight=None,
                   pos_label=None):
    """The signature of a rate."""


def _rate(name: str, spec: None, *, y_true, y_pred, sensitive_features, sample_weight,
          pos_label):
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight, pos_label=pos_label)
    if sensitive_features is None:
        return rep.rate(name, overall=True)
    values = rep.rate(name)
    return as_ndarray(values, ctx=context_of(y_pred)) if is_ndarray(y_pred) else values


RATES = Family(_rate_template, _rate, parameters="""
y_true, y_pred : array, shape (N,)
    Labels and hard predictions, from {0, 1} or {-1, 1} (or two values with ``pos_label``).
sensitive_features : array, optional
    When given, the value of each group (shape (G,), groups in sorted order, the kind of
    ``y_pred``) instead of one float.
sample_weight : array, shape (N,), optional
pos_label : optional
    The positive value (default 1, labels then from {0, 1} or {-1, 1}).""",
    returns="float, or an array (G,) with ``sensitive_features``", module=__name__)


def _gap_template(y_true, y_pred, *, sensitive_features, method="between_groups",
                  sample_weight=None):
    """The signature of a gap of one rate."""


def _odds_template(y_true, y_pred, *, sensitive_features, method="between_groups",
                   sample_weight=None, agg="worst_case"):
    """The signature of a gap of the TPR and the FPR together."""


def _gap(name: str, spec: tuple, *, y_true, y_pred, sensitive_features, method, sample_weight,
         agg="worst_case"):
    kind, rates = spec
    if sensitive_features is None:
        raise ValueError(NEEDS_SENSITIVE_FEATURES.format(name=name))
    rep = group_report(y_true, y_pred, sensitive_features=sensitive_features,
                       sample_weight=sample_weight)
    if len(rates) == 1:
        return getattr(rep, kind)(rates[0], method=method)
    return getattr(rep, f"equalized_odds_{kind}")(method=method, agg=agg)


GAPS = Family(_gap_template, _gap, parameters="""
y_true, y_pred : array, shape (N,)
    Labels and hard predictions, from {0, 1} or {-1, 1}.
sensitive_features : array (N,) or (N, S), DataFrame or dict of columns
    Required (a gap over one group would be 0).
method : {"between_groups", "to_overall"}, default "between_groups"
    ``between_groups``: max − min (difference) or min / max (ratio) over groups;
    ``to_overall``: against the overall value.
sample_weight : array, shape (N,), optional""", returns="float", module=__name__)
_AGG = """agg : {"worst_case", "mean"}, default "worst_case"
    The larger (smaller, for a ratio) of the TPR and FPR figures, or their mean."""
_SR, _TPR, _FPR = ("selection_rate",), ("true_positive_rate",), ("false_positive_rate",)

selection_rate = RATES.make(
    "selection_rate", None, "Fraction of predictions that are positive, (TP + FP) / n.",
    ">>> selection_rate([1, 0, 1, 0], [1, 1, 0, 0])\n0.5")
true_positive_rate = RATES.make(
    "true_positive_rate", None,
    "Recall, TP / (TP + FN); NaN with a warning when there are no positives.",
    ">>> true_positive_rate([1, 0, 1, 0], [1, 1, 0, 0])\n0.5")
false_positive_rate = RATES.make(
    "false_positive_rate", None, "FP / (FP + TN); NaN with a warning when there are no negatives.",
    ">>> false_positive_rate([1, 0, 1, 0], [1, 1, 0, 0])\n0.5")
true_negative_rate = RATES.make(
    "true_negative_rate", None, "Specificity, TN / (FP + TN) = 1 - FPR.",
    ">>> true_negative_rate([1, 0, 1, 0], [1, 1, 0, 0])\n0.5")
false_negative_rate = RATES.make(
    "false_negative_rate", None, "Miss rate, FN / (TP + FN) = 1 - TPR.",
    ">>> false_negative_rate([1, 0, 1, 0], [1, 1, 0, 0])\n0.5")
demographic_parity_difference = GAPS.make(
    "demographic_parity_difference", ("difference", _SR), """
    Largest gap in selection rate between groups (fairlearn's definition).

    .. math:: \\max_g SR_g - \\min_g SR_g \\quad (\\text{to\\_overall: } \\max_g |SR_g - SR|)""",
    """>>> demographic_parity_difference([0, 0, 0, 0], [1, 1, 0, 1],
    ...                               sensitive_features=["a", "a", "b", "b"])
    0.5""")
demographic_parity_ratio = GAPS.make(
    "demographic_parity_ratio", ("ratio", _SR),
    "Smallest ratio of selection rates between groups, min / max (fairlearn's definition).",
    """>>> demographic_parity_ratio([0, 0, 0, 0], [1, 1, 0, 1],
    ...                          sensitive_features=["a", "a", "b", "b"])
    0.5""")
equalized_odds_difference = GAPS.make(
    "equalized_odds_difference", ("difference", _TPR + _FPR),
    "The larger (``agg=\"worst_case\"``) or the mean of the TPR and FPR differences.",
    """>>> equalized_odds_difference([1, 0, 1, 0], [1, 0, 0, 0],
    ...                           sensitive_features=["a", "a", "b", "b"])
    1.0""", template=_odds_template, parameters=_AGG)
equalized_odds_ratio = GAPS.make(
    "equalized_odds_ratio", ("ratio", _TPR + _FPR),
    "The smaller (``agg=\"worst_case\"``) or the mean of the TPR and FPR ratios.",
    """>>> equalized_odds_ratio([1, 0, 1, 0], [1, 1, 1, 0],
    ...                      sensitive_features=["a", "a", "b", "b"])
    0.0""", template=_odds_template, parameters=_AGG)
equal_opportunity_difference = GAPS.make(
    "equal_opportunity_difference", ("difference", _TPR),
    "Largest gap in true positive rate between groups.",
    """>>> equal_opportunity_difference([1, 1, 1, 1], [1, 1, 0, 1],
    ...                              sensitive_features=["a", "a", "b", "b"])
    0.5""")
equal_opportunity_ratio = GAPS.make(
    "equal_opportunity_ratio", ("ratio", _TPR),
    "Smallest ratio of true positive rates between groups.",
    """>>> equal_opportunity_ratio([1, 1, 1, 1], [1, 1, 0, 1],
    ...                         sensitive_features=["a", "a", "b", "b"])
    0.5""")
