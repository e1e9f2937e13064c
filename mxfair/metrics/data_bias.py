"""Facets and pre-training (label) bias metrics, with SageMaker Clarify's definitions.

A *facet* is a set of values of the sensitive column. Clarify compares the facet d (the
disadvantaged group) with the rest a; AIF360 compares the unprivileged group u with the
privileged group p. Both reduce to counts of one table, ``(strata, side, true, pred)``, built with
:class:`~mxfair.metrics.GroupStats` on the context of the inputs by :func:`facet_counts` (the
facet core: ``mxfair/metrics/_facets.py``); every metric of :mod:`mxfair.metrics.data_bias`,
:mod:`mxfair.metrics.clarify` and :mod:`mxfair.metrics.aif360` is a closed form of that table.

The pre-training metrics here read the observed labels only (Clarify's CI, DPL, KL, JS, LP, TVD,
KS, CDDL). Clarify's rules are kept: division 0/0 = 0 and x/0 = ±inf (:func:`clarify_divide`);
the distribution distances (KL, JS, LP, TVD, KS) are taken over the label values that have a
non-zero probability in *both* facets (Clarify's ``pdfs_aligned_nonzero``), and raise when there
is none; an empty facet raises.

Like Clarify's own metric functions (and unlike Clarify's ``bias_report``, which collapses a
label with more than two values to "positive versus the rest" before KL, JS, LP, TVD and KS),
the distances here use every label value. A CDDL that is undefined (no positive or no negative
outcome) raises in :func:`conditional_demographic_disparity_in_labels`; in
:func:`pretraining_bias` it is NaN with an :class:`~mxfair.metrics.UndefinedRateWarning` and the
other metrics are reported, as Clarify reports each metric on its own.

Input checks: missing values (None/NaN) in ``groups``, ``strata`` or ``y_true`` raise, as do
empty input and negative or non-finite sample weights.
"""
from typing import Any, Dict

from ._facets import NO_COMMON_LABEL, binarize, clarify_divide, facet_counts, pre_training
from ._generated import Family

__all__ = [
    "facet_counts",
    "binarize",
    "clarify_divide",
    "class_imbalance",
    "difference_in_proportions_of_labels",
    "kl_divergence",
    "jensen_shannon_divergence",
    "lp_norm",
    "total_variation_distance",
    "kolmogorov_smirnov",
    "conditional_demographic_disparity_in_labels",
    "pretraining_bias",
]


def pretraining_bias(
    y_true: Any, *, groups: Any, facet: Any = None, reference: Any = None, strata: Any = None,
    sample_weight: Any = None, pos_label: Any = 1,
) -> Dict[str, float]:
    """All of Clarify's pre-training label metrics from one pass over the data.

    Parameters
    ----------
    y_true : array, shape (N,)
    groups : array, shape (N,)
    facet : value or list of values of ``groups``
        The disadvantaged facet d; ``reference`` (the facet a) defaults to the other rows.
    strata : array, shape (N,), optional
        Group variable for CDDL (left out when not given).
    sample_weight : array, shape (N,), optional
    pos_label : default 1

    Returns
    -------
    dict
        ``CI``, ``DPL``, ``KL``, ``JS``, ``LP``, ``TVD``, ``KS`` (the distances are left out
        when no label value occurs in both facets) and ``CDDL`` (with ``strata``; NaN with an
        ``UndefinedRateWarning`` when there is no positive or no negative label).

    Examples
    --------
    >>> out = pretraining_bias([1, 0, 1, 1, 0, 0], groups=["a", "a", "a", "b", "b", "b"],
    ...                        facet="b")
    >>> round(out["DPL"], 4), round(out["TVD"], 4)
    (0.3333, 0.3333)
    """
    fc = facet_counts(y_true, groups=groups, facet=facet, reference=reference, strata=strata,
                      sample_weight=sample_weight, pos_label=pos_label)
    return pre_training(fc["counts"], strata is not None)


# --------------------------------------------------------------------- the generated functions
def _template(y_true, *, groups, facet=None, reference=None, sample_weight=None, pos_label=1):
    """The signature of a pre-training metric."""


def _strata_template(y_true, *, groups, strata=None, facet=None, reference=None,
                     sample_weight=None, pos_label=1):
    """The signature of a conditional pre-training metric."""


def _metric(name: str, key: str, *, y_true, groups, facet, reference, sample_weight,
            pos_label, strata=None):
    needs_strata = key == "CDDL"
    if needs_strata and strata is None:
        raise ValueError(f"{key} needs strata (the group variable to condition on)")
    fc = facet_counts(y_true, groups=groups, facet=facet, reference=reference, strata=strata,
                      sample_weight=sample_weight, pos_label=pos_label)
    out = pre_training(fc["counts"], needs_strata, undefined="raise")
    if key not in out:
        raise ValueError(NO_COMMON_LABEL.format(name=key))
    return out[key]


PRE_TRAINING = Family(_template, _metric, parameters="""
y_true : array, shape (N,)
groups : array, shape (N,)
    The sensitive column.
facet : value or list of values of ``groups``
    The disadvantaged facet d (``reference``, the facet a, defaults to the other rows).
sample_weight : array, shape (N,), optional
pos_label : default 1""", returns="float", module=__name__)
_STRATA = """strata : array, shape (N,)
    The group variable to condition on (required)."""
_Y, _G = "[1, 0, 0, 0, 1, 1, 1, 0]", "[0, 0, 0, 0, 1, 1, 1, 1]"

class_imbalance = PRE_TRAINING.make(
    "class_imbalance", "CI", "Class imbalance CI = (n_a − n_d) / (n_a + n_d), in [−1, 1].",
    """>>> class_imbalance([1, 0, 1], groups=["a", "a", "b"], facet="b")
    0.3333333333333333""")
difference_in_proportions_of_labels = PRE_TRAINING.make(
    "difference_in_proportions_of_labels", "DPL",
    "Difference in proportions of labels DPL = n_a^(1)/n_a − n_d^(1)/n_d.",
    """>>> difference_in_proportions_of_labels([1, 0, 0, 0], groups=[0, 0, 1, 1], facet=1)
    0.5""")
kl_divergence = PRE_TRAINING.make(
    "kl_divergence", "KL", """
    Kullback-Leibler divergence KL(P_a ‖ P_d) = Σ_y P_a(y) log(P_a(y) / P_d(y)).

    Over the label values present in both facets (Clarify's rule).""",
    f""">>> round(kl_divergence({_Y}, groups={_G}, facet=1), 4)  # 0.5 log 3
    0.5493""")
jensen_shannon_divergence = PRE_TRAINING.make(
    "jensen_shannon_divergence", "JS",
    "Jensen-Shannon divergence ½[KL(P_a ‖ P) + KL(P_d ‖ P)], P = ½(P_a + P_d).",
    f""">>> round(jensen_shannon_divergence({_Y}, groups={_G}, facet=1), 4)
    0.1308""")
lp_norm = PRE_TRAINING.make(
    "lp_norm", "LP", "L2 distance of the label distributions, ‖P_a − P_d‖₂.",
    f""">>> round(lp_norm({_Y}, groups={_G}, facet=1), 4)
    0.7071""")
total_variation_distance = PRE_TRAINING.make(
    "total_variation_distance", "TVD", "Total variation distance ½‖P_a − P_d‖₁.",
    f""">>> total_variation_distance({_Y}, groups={_G}, facet=1)
    0.5""")
kolmogorov_smirnov = PRE_TRAINING.make(
    "kolmogorov_smirnov", "KS",
    "Kolmogorov-Smirnov distance of the label distributions, max_y |P_a(y) − P_d(y)|.",
    f""">>> kolmogorov_smirnov({_Y}, groups={_G}, facet=1)
    0.5""")
conditional_demographic_disparity_in_labels = PRE_TRAINING.make(
    "conditional_demographic_disparity_in_labels", "CDDL", """
    Conditional demographic disparity in labels CDDL = Σ_i n_i DD_i / Σ_i n_i.

    DD_i = (d's share of the rejections in stratum i) − (d's share of the acceptances);
    a share with an empty denominator is 0.""",
    """>>> conditional_demographic_disparity_in_labels(
    ...     [1, 0, 1, 0], groups=["a", "d", "a", "d"], facet="d", strata=[0, 0, 1, 1])
    1.0""", template=_strata_template, parameters=_STRATA)
