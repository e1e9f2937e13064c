"""AIF360's signed group-fairness metrics and inequality indices.

AIF360 compares the unprivileged group u with the privileged group p, signed: differences are
``u − p`` and ratios ``u / p`` (so 0 and 1 are fair, and a negative difference disfavours u).
These functions carry AIF360's names and live in this namespace so that they do not clash with
fairlearn's unsigned ``equal_opportunity_difference``, ``equalized_odds_difference`` in
:mod:`mxfair.metrics`. Division follows IEEE (as AIF360's NumPy code): a rate over an empty set is
NaN, a ratio over a zero rate is ±inf. Unlike AIF360, a NaN figure (or one that leaves an
undefined rate out, as ``equalized_odds_difference``'s ``max`` does) comes with an
:class:`~mxfair.metrics.UndefinedRateWarning` that names the rate, the group and why.

The generalised entropy index follows its formula where AIF360 0.6.1's code differs: at α = 0
AIF360 divides the mean log deviation by μ (mxfair does not; the two agree when μ = 1); a cell of
the confusion matrix with no rows contributes nothing (AIF360's NumPy gives 0·∞ = NaN for α < 0
when there is no false negative); and when every row is a false negative (μ = 0, so every b/μ is
0/0) the index is NaN with a warning for every α (AIF360 gives ∞ at α = 0).

The counts come from :func:`mxfair.metrics.facet_counts` and the rates from
:func:`mxfair.metrics.confusion_rates`: one core.

Examples
--------
>>> from mxfair.metrics import aif360
>>> y, yp = [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 0, 0, 0]
>>> aif360.statistical_parity_difference(y, yp, groups=[0, 0, 0, 0, 1, 1, 1, 1], privileged=0)
-0.5
"""
import warnings
from typing import Any, Sequence

import numpy as np

from .._validation import check_number
from ._facets import binarize, facet_counts
from ._generated import Family
from .functional import group_report
from .report import UndefinedRateWarning, confusion_rates

__all__ = [
    "statistical_parity_difference",
    "disparate_impact",
    "equal_opportunity_difference",
    "average_odds_difference",
    "equalized_odds_difference",
    "generalized_entropy_index",
    "theil_index",
    "generalized_entropy_from_counts",
]


UNDEFINED_FIGURE = "{name} {outcome}: {rate} is undefined for the {sides} group ({why})"
UNDEFINED_GE = "the generalized entropy index is undefined (NaN): {why}"
# What leaves a rate of one group undefined (the group has no ...).
_NEEDS = {"selection_rate": "rows", "true_positive_rate": "positive labels",
          "false_positive_rate": "negative labels"}


def _rates(y_true, y_pred, groups, privileged, unprivileged, sample_weight, pos_label):
    """Binary rates of (privileged, unprivileged), each rate an array of shape (2,)."""
    fc = facet_counts(y_true, y_pred, groups=groups, facet=unprivileged, reference=privileged,
                      sample_weight=sample_weight, pos_label=pos_label)
    return confusion_rates(binarize(fc["counts"].sum(axis=0)))


def _checked(name: str, value: float, r: dict, used: Sequence[str]) -> float:
    """``value``, after an UndefinedRateWarning for each rate in ``used`` that is NaN for a
    group (the figure is then NaN, or for a max/min leaves that term out)."""
    value = float(value)
    for rate in used:
        bad = [side for side, v in zip(("privileged", "unprivileged"), r[rate]) if np.isnan(v)]
        if bad:
            outcome = "is NaN" if np.isnan(value) else "leaves this term out"
            why = f"no {_NEEDS[rate]}"
            warnings.warn(UNDEFINED_FIGURE.format(name=name, outcome=outcome, rate=rate,
                                                  sides=" and the ".join(bad), why=why),
                          UndefinedRateWarning, stacklevel=3)
    if np.isnan(value) and not any(np.isnan(r[rate]).any() for rate in used):
        warnings.warn(f"{name} is NaN: a ratio 0/0 ({used[0]} is 0 in both groups)",
                      UndefinedRateWarning, stacklevel=3)
    return value


def _ratio(num: float, den: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / np.float64(den))


def _template(y_true, y_pred, *, groups, privileged, unprivileged=None, sample_weight=None,
              pos_label=1):
    """The signature of a signed AIF360 metric."""


def _signed(name: str, spec: tuple, *, y_true, y_pred, groups, privileged, unprivileged,
            sample_weight, pos_label) -> float:
    """AIF360's figure ``name`` from the rates of (privileged, unprivileged): ``spec`` is the
    combination of their differences (or ratio) and the rates it reads."""
    combine, used = spec
    r = _rates(y_true, y_pred, groups, privileged, unprivileged, sample_weight, pos_label)
    delta = {rate: r[rate][1] - r[rate][0] for rate in used}  # u - p
    if combine == "ratio":
        value = _ratio(r[used[0]][1], r[used[0]][0])
    elif combine == "mean":
        value = 0.5 * sum(delta.values())
    elif combine == "max":  # AIF360's Python max: a NaN FPR gap gives NaN, a NaN TPR one is
        value = max(abs(delta[used[0]]), abs(delta[used[1]]))  # passed over (warned)
    else:
        value = delta[used[0]]
    return _checked(name, value, r, list(used))


SIGNED = Family(_template, _signed, parameters="""
y_true, y_pred : array, shape (N,)
    Labels and predicted labels; ``pos_label`` is the favourable outcome.
groups : array, shape (N,)
    The protected attribute.
privileged : value or list of values of ``groups``
    The privileged group p.
unprivileged : value or list of values of ``groups``, optional
    The unprivileged group u; all other rows by default.
sample_weight : array, shape (N,), optional
pos_label : default 1""", returns="float", module=__name__)
# The examples' data: labels, predictions and two groups of four rows (0 privileged).
_DATA = ">>> y, yp = [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 0, 0, 0]\n"
_CALL = "(y, yp, groups=[0, 0, 0, 0, 1, 1, 1, 1], privileged=0), 4)"
_SR, _TPR, _FPR = "selection_rate", "true_positive_rate", "false_positive_rate"

statistical_parity_difference = SIGNED.make(
    "statistical_parity_difference", ("difference", (_SR,)), """
    SR_u − SR_p, selection rate of u minus that of p.

    .. math:: P(\\hat y = 1 \\mid u) - P(\\hat y = 1 \\mid p)""",
    _DATA + f">>> round(statistical_parity_difference{_CALL}\n-0.5")
disparate_impact = SIGNED.make(
    "disparate_impact", ("ratio", (_SR,)),
    "SR_u / SR_p (inf when SR_p = 0 < SR_u, NaN when both are 0).",
    _DATA + f">>> round(disparate_impact{_CALL}\n0.3333")
equal_opportunity_difference = SIGNED.make(
    "equal_opportunity_difference", ("difference", (_TPR,)),
    "TPR_u − TPR_p (AIF360's signed version).",
    _DATA + f">>> round(equal_opportunity_difference{_CALL}\n-0.5")
average_odds_difference = SIGNED.make(
    "average_odds_difference", ("mean", (_FPR, _TPR)), "½[(FPR_u − FPR_p) + (TPR_u − TPR_p)].",
    _DATA + f">>> round(average_odds_difference{_CALL}\n-0.5")
equalized_odds_difference = SIGNED.make(
    "equalized_odds_difference", ("max", (_FPR, _TPR)), "max(|FPR_u − FPR_p|, |TPR_u − TPR_p|).",
    _DATA + f">>> round(equalized_odds_difference{_CALL}\n0.5")


def generalized_entropy_from_counts(counts: np.ndarray, *, alpha: float = 2.0) -> float:
    """Generalised entropy index of the benefits b = ŷ − y + 1, from binary confusion counts.

    b is 0 for a false negative, 1 for a correct prediction and 2 for a false positive, so the
    index is a closed form of (TN, FP, FN, TP); ``0 ln 0 = 0`` for α = 1, as AIF360. A benefit
    value with no rows contributes nothing (never 0·∞). When every row is a false negative,
    μ = 0 and every b/μ is 0/0: NaN with an ``UndefinedRateWarning``, for every α (also with
    no rows). At α = 0, a false negative gives log 0, so the index is +∞ (as AIF360); AIF360
    0.6.1's code also divides the α = 0 index by μ, which the formula does not.

    Parameters
    ----------
    counts : ndarray, shape (..., 2, 2)
        ``counts[..., t, p]`` summed over all groups.
    alpha : float
        α = 1 is the Theil index, α = 0 the mean log deviation.

    Returns
    -------
    float

    .. math::
        GE(\\alpha) = \\frac{1}{n\\,\\alpha(\\alpha-1)}
            \\sum_i \\left[(b_i/\\mu)^\\alpha - 1\\right]

    Examples
    --------
    >>> generalized_entropy_from_counts(np.array([[2.0, 1.0], [1.0, 2.0]]))  # b = 1,1,2,0,1,1
    0.16666666666666666
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim < 2 or counts.shape[-2:] != (2, 2):
        raise ValueError(f"counts must have shape (..., 2, 2) (binary confusion counts), got "
                         f"{counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("counts must be finite and >= 0")
    alpha = check_number("alpha", alpha)
    counts = counts.reshape(-1, 2, 2).sum(axis=0)
    n_fn, n_fp = counts[1, 0], counts[0, 1]
    n_ok = counts[0, 0] + counts[1, 1]
    n = counts.sum()
    b = np.array([0.0, 1.0, 2.0])
    w = np.array([n_fn, n_ok, n_fp])
    if n <= 0 or (w * b).sum() <= 0:
        why = ("there are no rows" if n <= 0 else
               "every row is a false negative, so the mean benefit is 0 and every b/mu is 0/0")
        warnings.warn(UNDEFINED_GE.format(why=why), UndefinedRateWarning, stacklevel=2)
        return float("nan")
    mu = (w * b).sum() / n
    # Only the benefit values that occur: an empty cell contributes 0, not 0 * inf.
    b, w = b[w > 0], w[w > 0]
    r = b / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        if alpha == 1:
            terms = np.where(b > 0, r * np.log(np.where(b > 0, r, 1.0)), 0.0)
            return float((w * terms).sum() / n)
        if alpha == 0:
            if np.any(b == 0):
                return float("inf")  # log(0) for a false negative, as AIF360
            return float(-(w * np.log(r)).sum() / n)
        return float((w * (r ** alpha - 1.0)).sum() / (n * alpha * (alpha - 1.0)))


def generalized_entropy_index(y_true: Any, y_pred: Any, *, alpha: float = 2.0,
                              sample_weight: Any = None, pos_label: Any = 1) -> float:
    """AIF360's generalised entropy index of b_i = ŷ_i − y_i + 1 over all rows.

    Parameters
    ----------
    y_true, y_pred : array, shape (N,)
    alpha : float, default 2
    sample_weight : array, shape (N,), optional
        Rows count with these weights (AIF360 has none; all ones reproduces it).
    pos_label : default 1

    Returns
    -------
    float

    Examples
    --------
    >>> round(generalized_entropy_index([1, 1, 0, 0], [1, 0, 1, 0]), 4)
    0.25
    """
    rep = group_report(y_true, y_pred, sample_weight=sample_weight, pos_label=pos_label)
    return generalized_entropy_from_counts(rep.counts, alpha=alpha)


def theil_index(y_true: Any, y_pred: Any, *, sample_weight: Any = None,
                pos_label: Any = 1) -> float:
    """AIF360's Theil index, the generalised entropy index with α = 1.

    .. math:: T = \\frac1n \\sum_i \\frac{b_i}{\\mu} \\ln \\frac{b_i}{\\mu}

    Examples
    --------
    >>> round(theil_index([1, 1, 0, 0], [1, 0, 1, 0]), 4)
    0.3466
    """
    return generalized_entropy_index(y_true, y_pred, alpha=1.0, sample_weight=sample_weight,
                                     pos_label=pos_label)
