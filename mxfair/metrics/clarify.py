"""SageMaker Clarify's post-training bias metrics (DPPL, DI, DCAcc, DCR, DAR, DRR, RD, SD, AD,
TE, CDDPL, GE), with Clarify's own rules.

Clarify compares the facet d (disadvantaged) with the rest a. Division follows Clarify:
0/0 = 0 and x/0 = +inf (:func:`~mxfair.metrics.clarify_divide`); a difference of two
infinite rates is 0; an empty facet raises. The metrics are closed forms of the facet confusion
counts of :func:`~mxfair.metrics.facet_counts` (binary: ``pos_label`` against the rest);
the pre-training (label) metrics are in :mod:`mxfair.metrics.data_bias`, and
:func:`bias_report` gives both sets at once under Clarify's abbreviations.

GE is not a comparison of facets: as in Clarify, it is taken over *all* rows, including those
in neither facet when both ``facet`` and ``reference`` are given. Clarify refuses GE when every
prediction is a false negative (the mean benefit is 0): :func:`generalized_entropy` raises
``ValueError`` there, and :func:`post_training_bias` / :func:`bias_report` report it as NaN
with an :class:`~mxfair.metrics.UndefinedRateWarning` (the other metrics stay). CDDL and CDDPL
are treated the same way where they are undefined (no positive or no negative outcome): the
single functions raise, as Clarify's do, and the dictionaries report NaN with a warning and
every other metric, as Clarify's report gives each metric on its own.

Labels with more than two values: Clarify's ``bias_report`` collapses them to "positive versus
the rest" before KL, JS, LP, TVD and KS; mxfair, like Clarify's metric functions, uses every
label value, so on such labels those five distances differ from Clarify's report (they agree on
binary labels). The post-training metrics are binary in both (``pos_label`` against the rest).

Examples
--------
>>> from mxfair.metrics import clarify
>>> y, yp = [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 0, 0, 0]
>>> clarify.difference_in_positive_proportions(y, yp, groups=[0, 0, 0, 0, 1, 1, 1, 1], facet=1)
0.5
"""
import warnings
from typing import Any, Dict

import numpy as np

from ._facets import (
    binarize,
    cdd_or_nan,
    check_facets,
    clarify_difference,
    clarify_divide,
    facet_counts,
    pre_training,
)
from ._generated import Family
from .aif360 import generalized_entropy_from_counts
from .report import UndefinedRateWarning

__all__ = [
    "post_training_bias",
    "bias_report",
    "difference_in_positive_proportions",
    "disparate_impact",
    "difference_in_conditional_acceptance",
    "difference_in_conditional_rejection",
    "difference_in_acceptance_rates",
    "difference_in_rejection_rates",
    "recall_difference",
    "specificity_difference",
    "accuracy_difference",
    "treatment_equality",
    "conditional_demographic_disparity_in_predicted_labels",
    "generalized_entropy",
    "CLARIFY_NAMES",
]

#: Clarify's abbreviation of each post-training function here.
CLARIFY_NAMES = {
    "DPPL": "difference_in_positive_proportions",
    "DI": "disparate_impact",
    "DCAcc": "difference_in_conditional_acceptance",
    "DCR": "difference_in_conditional_rejection",
    "DAR": "difference_in_acceptance_rates",
    "DRR": "difference_in_rejection_rates",
    "RD": "recall_difference",
    "SD": "specificity_difference",
    "AD": "accuracy_difference",
    "TE": "treatment_equality",
    "CDDPL": "conditional_demographic_disparity_in_predicted_labels",
    "GE": "generalized_entropy",
}

ALL_FALSE_NEGATIVES = (
    "GE is undefined: every prediction is a false negative (mean benefit 0); Clarify requires "
    "at least one prediction that is not a false negative"
)


def _generalized_entropy(counts: np.ndarray, others: np.ndarray, undefined: str) -> float:
    """Clarify's GE (α = 2) over all rows: the facets' counts (S, 2, K, K) and the counts
    (K, K) of the rows in neither. Where Clarify refuses (mean benefit 0): ValueError when
    ``undefined == "raise"``, else NaN with a warning."""
    every = binarize(counts).sum(axis=(0, 1)) + binarize(others)  # (2, 2): true, pred
    if every[1, 0] == every.sum():  # b = 0 on every row (the facets are not empty)
        if undefined == "raise":
            raise ValueError(ALL_FALSE_NEGATIVES)
        warnings.warn(ALL_FALSE_NEGATIVES + "; reported as NaN", UndefinedRateWarning,
                      stacklevel=4)  # the caller of post_training_bias or bias_report
        return float("nan")
    return generalized_entropy_from_counts(every, alpha=2.0)


def _post_training(fc: Dict[str, Any], strata_given: bool, ge: str = "warn",
                   cdd: str = "warn") -> Dict[str, float]:
    """Every post-training metric from :func:`facet_counts`' output: ``counts`` (S, 2, K, K)
    (side 0 = a, 1 = d) and, for GE, ``others`` (K, K). ``ge``: where GE is undefined,
    ``"warn"`` (NaN with a warning) or ``"raise"``; ``"skip"`` leaves GE out. ``cdd``: the
    same for an undefined CDDPL (``"warn"`` or ``"raise"``)."""
    counts = fc["counts"]
    check_facets(counts)
    binary = binarize(counts)  # (S, 2, 2, 2)
    c = binary.sum(axis=0)  # (2, 2, 2): side, true, pred
    tn, fp, fn, tp = c[:, 0, 0], c[:, 0, 1], c[:, 1, 0], c[:, 1, 1]  # each (2,): a, d
    n = c.sum(axis=(1, 2))
    q_hat = (tp + fp) / n
    rate = lambda num, den: clarify_divide(num, den)  # noqa: E731
    acc_c = rate(tp + fn, tp + fp)  # observed / predicted acceptances
    rej_c = rate(tn + fp, tn + fn)  # observed / predicted rejections
    acc_r, rej_r = rate(tp, tp + fp), rate(tn, tn + fn)  # precision, negative predictive value
    rec, spec, acc = rate(tp, tp + fn), rate(tn, tn + fp), rate(tp + tn, n)
    tau = rate(fn, fp)
    diff = clarify_difference
    out = {
        "DPPL": float(q_hat[0] - q_hat[1]),
        "DI": float(clarify_divide(q_hat[1], q_hat[0])),
        "DCAcc": diff(acc_c[0], acc_c[1]),
        "DCR": diff(rej_c[1], rej_c[0]),
        "DAR": diff(acc_r[0], acc_r[1]),
        "DRR": diff(rej_r[1], rej_r[0]),
        "RD": diff(rec[0], rec[1]),
        "SD": diff(spec[1], spec[0]),
        "AD": diff(acc[0], acc[1]),
        "TE": diff(tau[1], tau[0]),
    }
    if strata_given:
        out["CDDPL"] = cdd_or_nan("CDDPL", counts, 2, cdd)
    if ge != "skip":
        out["GE"] = _generalized_entropy(counts, fc["others"], ge)
    return out


def post_training_bias(
    y_true: Any, y_pred: Any, *, groups: Any, facet: Any = None, reference: Any = None,
    strata: Any = None, sample_weight: Any = None, pos_label: Any = 1,
) -> Dict[str, float]:
    """All of Clarify's post-training metrics from one pass over the data.

    Parameters
    ----------
    y_true, y_pred : array, shape (N,)
        Labels and predicted labels; ``pos_label`` is the accepted outcome, all other values
        are rejections.
    groups : array, shape (N,)
        The sensitive column.
    facet : value or list of values of ``groups``
        The disadvantaged facet d; ``reference`` (the facet a) defaults to the other rows.
        Rows in neither facet count only for GE, which is taken over all rows.
    strata : array, shape (N,), optional
        Group variable for CDDPL (left out when not given).
    sample_weight : array, shape (N,), optional
    pos_label : default 1

    Returns
    -------
    dict
        Keys are Clarify's abbreviations (:data:`CLARIFY_NAMES`). GE is NaN, with an
        ``UndefinedRateWarning``, when every prediction is a false negative; CDDPL is NaN,
        with a warning, when no prediction is positive or none is negative.

    Examples
    --------
    >>> out = post_training_bias([1, 0, 1, 0], [1, 1, 0, 0], groups=["a", "a", "d", "d"],
    ...                          facet="d")
    >>> out["DPPL"], out["RD"], out["TE"]
    (1.0, 1.0, inf)
    """
    fc = facet_counts(y_true, y_pred, groups=groups, facet=facet, reference=reference,
                      strata=strata, sample_weight=sample_weight, pos_label=pos_label)
    return _post_training(fc, strata is not None)


def bias_report(
    y_true: Any, y_pred: Any = None, *, groups: Any, facet: Any = None, reference: Any = None,
    strata: Any = None, sample_weight: Any = None, pos_label: Any = 1,
) -> Dict[str, float]:
    """Clarify's pre-training metrics and (with ``y_pred``) post-training metrics together.

    Parameters are those of :func:`post_training_bias`; ``y_pred`` is optional.

    Returns
    -------
    dict of abbreviation to float: CI, DPL, KL, JS, LP, TVD, KS, CDDL and DPPL … GE. An
    undefined CDDL, CDDPL or GE is NaN with an ``UndefinedRateWarning``; the others stay.

    Notes
    -----
    With labels of more than two values, KL, JS, LP, TVD and KS here use every label value
    (as Clarify's metric functions do); Clarify's own ``bias_report`` first collapses the
    labels to ``pos_label`` versus the rest, so it reports other values for those five.

    Examples
    --------
    >>> sorted(bias_report([1, 0, 1, 0], groups=[0, 0, 1, 1], facet=1))
    ['CI', 'DPL', 'JS', 'KL', 'KS', 'LP', 'TVD']
    """
    fc = facet_counts(y_true, y_pred, groups=groups, facet=facet, reference=reference,
                      strata=strata, sample_weight=sample_weight, pos_label=pos_label)
    labels_only = fc["counts"].sum(axis=-1)  # (S, 2, K): the observed labels
    diagonal = labels_only[..., None] * np.eye(labels_only.shape[-1])
    out = pre_training(diagonal, strata is not None)
    if y_pred is not None:
        out.update(_post_training(fc, strata is not None))
    return out


# --------------------------------------------------------------------- the generated functions
def _template(y_true, y_pred, *, groups, facet=None, reference=None, sample_weight=None,
              pos_label=1):
    """The signature of a post-training metric."""


def _strata_template(y_true, y_pred, *, groups, strata=None, facet=None, reference=None,
                     sample_weight=None, pos_label=1):
    """The signature of a conditional post-training metric."""


def _metric(name: str, abbr: str, *, y_true, y_pred, groups, facet, reference, sample_weight,
            pos_label, strata=None):
    if abbr == "CDDPL" and strata is None:
        raise ValueError("CDDPL needs strata (the group variable to condition on)")
    fc = facet_counts(y_true, y_pred, groups=groups, facet=facet, reference=reference,
                      strata=strata, sample_weight=sample_weight, pos_label=pos_label)
    return _post_training(fc, strata is not None, ge="raise" if abbr == "GE" else "skip",
                          cdd="raise")[abbr]


POST_TRAINING = Family(_template, _metric, parameters="""
y_true, y_pred : array, shape (N,)
groups : array, shape (N,)
facet : value or list of values of ``groups``
    The disadvantaged facet d (``reference``, the facet a, defaults to the other rows).
sample_weight : array, shape (N,), optional
pos_label : default 1""", returns="float", module=__name__)
_STRATA = """strata : array, shape (N,)
    The group variable to condition on (required)."""
# The examples' data: y, yp and the groups g of two facets of four rows.
_DATA = """>>> y, yp = [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 0, 0, 0]
>>> g = [0, 0, 0, 0, 1, 1, 1, 1]
"""

difference_in_positive_proportions = POST_TRAINING.make(
    "difference_in_positive_proportions", "DPPL",
    "Clarify's DPPL: q̂_a − q̂_d, predicted positive proportions.",
    _DATA + ">>> difference_in_positive_proportions(y, yp, groups=g, facet=1)\n0.5")
disparate_impact = POST_TRAINING.make(
    "disparate_impact", "DI", "Clarify's DI: q̂_d / q̂_a (0/0 = 0, x/0 = inf).",
    _DATA + ">>> round(disparate_impact(y, yp, groups=g, facet=1), 4)\n0.3333")
difference_in_conditional_acceptance = POST_TRAINING.make(
    "difference_in_conditional_acceptance", "DCAcc",
    "Clarify's DCAcc: c_a − c_d, c = n^(1) / n̂^(1) (observed over predicted acceptances).",
    _DATA + ">>> round(difference_in_conditional_acceptance(y, yp, groups=g, facet=1), 4)\n"
    "-1.3333")
difference_in_conditional_rejection = POST_TRAINING.make(
    "difference_in_conditional_rejection", "DCR",
    "Clarify's DCR: r_d − r_a, r = n^(0) / n̂^(0) (observed over predicted rejections).",
    _DATA + ">>> round(difference_in_conditional_rejection(y, yp, groups=g, facet=1), 4)\n"
    "-1.3333")
difference_in_acceptance_rates = POST_TRAINING.make(
    "difference_in_acceptance_rates", "DAR",
    "Clarify's DAR: TP_a / n̂_a^(1) − TP_d / n̂_d^(1) (precision gap).",
    _DATA + ">>> round(difference_in_acceptance_rates(y, yp, groups=g, facet=1), 4)\n-0.3333")
difference_in_rejection_rates = POST_TRAINING.make(
    "difference_in_rejection_rates", "DRR", "Clarify's DRR: TN_d / n̂_d^(0) − TN_a / n̂_a^(0).",
    _DATA + ">>> round(difference_in_rejection_rates(y, yp, groups=g, facet=1), 4)\n-0.3333")
recall_difference = POST_TRAINING.make(
    "recall_difference", "RD", "Clarify's RD: TPR_a − TPR_d (0/0 = 0).",
    _DATA + ">>> recall_difference(y, yp, groups=g, facet=1)\n0.5")
specificity_difference = POST_TRAINING.make(
    "specificity_difference", "SD", "Clarify's SD: TNR_d − TNR_a.",
    _DATA + ">>> specificity_difference(y, yp, groups=g, facet=1)\n0.5")
accuracy_difference = POST_TRAINING.make(
    "accuracy_difference", "AD", "Clarify's AD: acc_a − acc_d.",
    _DATA + ">>> accuracy_difference(y, yp, groups=g, facet=1)\n0.0")
treatment_equality = POST_TRAINING.make(
    "treatment_equality", "TE", "Clarify's TE: FN_d / FP_d − FN_a / FP_a.",
    _DATA + ">>> treatment_equality(y, yp, groups=g, facet=1)\ninf")
conditional_demographic_disparity_in_predicted_labels = POST_TRAINING.make(
    "conditional_demographic_disparity_in_predicted_labels", "CDDPL",
    "Clarify's CDDPL: CDD of the predicted labels, Σ_i n_i DD_i / Σ_i n_i.",
    _DATA + """>>> round(conditional_demographic_disparity_in_predicted_labels(
...     y, yp, groups=g, facet=1, strata=[0, 1] * 4), 4)
0.6667""", template=_strata_template, parameters=_STRATA)
generalized_entropy = POST_TRAINING.make(
    "generalized_entropy", "GE",
    "Clarify's GE: generalised entropy index (α = 2) of b = ŷ − y + 1 over all rows, also "
    "those in neither facet (raises ValueError when every prediction is a false negative, as "
    "Clarify).", _DATA + ">>> generalized_entropy(y, yp, groups=g, facet=1)  "
    "# b = 1,2,1,1,1,1,0,1\n0.125")
