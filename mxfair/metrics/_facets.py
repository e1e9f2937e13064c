"""The facet core of the Clarify and AIF360 metrics: one table of counts, and its closed forms.

A *facet* is a set of values of the sensitive column. Clarify compares the facet d (the
disadvantaged group) with the rest a; AIF360 compares the unprivileged group u with the
privileged group p. Both reduce to counts of one table, ``(strata, side, true, pred)``, built with
:class:`~mxfair.metrics.GroupStats` on the context of the inputs by :func:`facet_counts`; every
metric of :mod:`mxfair.metrics.data_bias`, :mod:`mxfair.metrics.clarify` and
:mod:`mxfair.metrics.aif360` is a closed form of that table. Clarify's division rule
(:func:`clarify_divide`) and the pre-training metrics of a table (:func:`pre_training`, which
:func:`~mxfair.metrics.pretraining_bias` and Clarify's ``bias_report`` both give) live here.
"""
import warnings
from typing import Any, Dict

import numpy as np

from .._ops import context_of, to_numpy
from .._validation import check_not_empty, check_same_length, check_sample_weight
from .report import UndefinedRateWarning
from .stats import GroupStats

__all__: list = []

FACET_NOT_FOUND = "{name} value(s) {values} not found in groups; groups hold {known}"
EMPTY_FACET = "the {side} facet is empty: no rows of weight > 0 (Clarify needs both facets)"
NO_COMMON_LABEL = (
    "no label value has non-zero probability in both facets; {name} is undefined "
    "(Clarify's rule: distances use the label values both facets have)"
)
NEEDS_BOTH_OUTCOMES = "conditional demographic disparity needs {what} in the data"
MISSING_IN = (
    "{name} has {count} missing value(s) (None/NaN) at rows {rows}; Clarify's facets, strata "
    "and labels must be known for every row: fill or drop them"
)
UNDEFINED_REPORTED_AS_NAN = "{name} is undefined: {why}; reported as NaN"


def _as_values(v: Any) -> list:
    if isinstance(v, (list, tuple, set, np.ndarray)):
        return list(v)
    return [v]


def _side_ids(groups: np.ndarray, facet: Any, reference: Any) -> np.ndarray:
    """0 for reference rows, 1 for facet rows, -1 for rows in neither (dropped)."""
    if facet is None and reference is None:
        raise ValueError("give facet (the compared group) or reference (the other), or both")
    known = np.unique(groups).tolist()
    masks = {}
    for name, values in (("facet", facet), ("reference", reference)):
        if values is None:
            continue
        values = _as_values(values)
        missing = [v for v in values if not np.isin(v, groups)]
        if missing:
            raise ValueError(FACET_NOT_FOUND.format(name=name, values=missing, known=known))
        masks[name] = np.isin(groups, values)
    in_facet = masks.get("facet", ~masks["reference"] if "reference" in masks else None)
    in_ref = masks.get("reference", ~in_facet)
    if np.any(in_facet & in_ref):
        raise ValueError("facet and reference share group values; they must be disjoint")
    return np.where(in_facet, 1, np.where(in_ref, 0, -1))


def _check_known(name: str, values: Any) -> np.ndarray:
    """``values`` as a flat NumPy array, or ValueError when one is None/NaN."""
    import pandas as pd

    arr = np.asarray(to_numpy(values)).reshape(-1)
    missing = np.asarray(pd.isna(arr), dtype=bool).reshape(-1) if arr.dtype.kind in "fOmM" \
        else np.zeros(arr.shape, dtype=bool)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(MISSING_IN.format(name=name, count=int(missing.sum()),
                                           rows=rows[:5].tolist()))
    return arr


def _label_indices(yt: np.ndarray, yp: np.ndarray, pos_label: Any):
    """Label and prediction indices with ``pos_label`` at index 1; the class values (K >= 2)."""
    values = list(dict.fromkeys(sorted(set(yt.tolist()) | set(yp.tolist()), key=str)))
    rest = [v for v in values if v != pos_label]
    classes = (rest[:1] or [None]) + [pos_label] + rest[1:]
    index = {c: i for i, c in enumerate(classes)}
    return (np.array([index[v] for v in yt.tolist()], dtype=np.int64),
            np.array([index[v] for v in yp.tolist()], dtype=np.int64), classes)


def binarize(counts: np.ndarray) -> np.ndarray:
    """Collapse (..., K, K) confusion counts to positive (index 1) versus the rest, (..., 2, 2).

    Examples
    --------
    >>> binarize(np.arange(9.0).reshape(3, 3)).tolist()  # classes [rest, pos, rest]
    [[16.0, 8.0], [8.0, 4.0]]
    """
    counts = np.asarray(counts)
    if counts.ndim < 2 or counts.shape[-1] != counts.shape[-2] or counts.shape[-1] < 2:
        raise ValueError(f"counts must have shape (..., K, K) with K >= 2, got {counts.shape}")
    K = counts.shape[-1]
    if K == 2:
        return counts
    rest = [0] + list(range(2, K))
    rows = np.stack([counts[..., rest, :].sum(-2), counts[..., 1, :]], axis=-2)
    return np.stack([rows[..., rest].sum(-1), rows[..., 1]], axis=-1)


def facet_counts(
    y_true: Any,
    y_pred: Any = None,
    *,
    groups: Any,
    facet: Any = None,
    reference: Any = None,
    strata: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> Dict[str, Any]:
    """Confusion counts of a facet and its reference group, per stratum.

    Parameters
    ----------
    y_true : array, shape (N,)
        Labels (any values; ``pos_label`` is the positive one).
    y_pred : array, shape (N,), optional
        Predicted labels (same values as ``y_true``); when omitted the labels stand in, so the
        counts are diagonal (pre-training metrics).
    groups : array, shape (N,)
        The sensitive column.
    facet, reference : value or list of values of ``groups``
        The compared group (Clarify's d, AIF360's unprivileged) and the group it is compared
        with (Clarify's a, AIF360's privileged). Either defaults to all other rows; rows in
        neither are left out of ``counts`` and counted in ``others``.
    strata : array, shape (N,), optional
        A group variable for the conditional metrics (CDDL, CDDPL).
    sample_weight : array, shape (N,), optional

    Returns
    -------
    dict
        ``counts``: ndarray (S, 2, K, K) float64, ``counts[s, side, t, p]`` with side 0 the
        reference and 1 the facet; ``others``: ndarray (K, K) float64, the confusion counts of
        the rows in neither (zeros unless both ``facet`` and ``reference`` are given; for
        metrics over all rows, such as Clarify's GE); ``classes``: the K label values,
        ``pos_label`` at index 1; ``strata``: the stratum values (S of them).

    Examples
    --------
    >>> out = facet_counts([1, 0, 1, 1], [1, 1, 0, 1], groups=["m", "f", "f", "m"], facet="f")
    >>> out["counts"][0, 1]  # the facet: one negative predicted 1, one positive predicted 0
    array([[0., 1.],
           [1., 0.]])
    """
    n = check_same_length(y_true=y_true, y_pred=y_pred, groups=groups, strata=strata,
                          sample_weight=sample_weight)
    check_not_empty("y_true", n)
    ctx = context_of(y_pred, y_true, groups)
    yt = _check_known("y_true", y_true)
    yp = yt if y_pred is None else _check_known("y_pred", y_pred)
    side = _side_ids(_check_known("groups", groups), facet, reference)
    if strata is None:
        stratum, strata_values = np.zeros(n, dtype=np.int64), np.array(["all"])
    else:
        strata_values, stratum = np.unique(_check_known("strata", strata), return_inverse=True)
    ti, pi, classes = _label_indices(yt, yp, pos_label)
    K = len(classes)
    weight = None
    if sample_weight is not None:
        weight = check_sample_weight("sample_weight", sample_weight)
    S = len(strata_values)
    # Group id: stratum * 2 + side, and 2S for the rows in neither facet (one pass for all).
    cell = np.where(side >= 0, stratum * 2 + side, 2 * S)
    # Hard labels as predictions: from_logits=False whatever GroupStats' default is.
    stats = GroupStats(num_groups=2 * S + 1, num_classes=K, ctx=ctx, from_logits=False)
    stats.update(ti.astype(np.float32), pi.astype(np.float32), cell.astype(np.float32), weight)
    every = stats.report().counts  # (2S + 1, K, K)
    return {"counts": every[:-1].reshape(S, 2, K, K), "others": every[-1],
            "classes": classes, "strata": strata_values}


def clarify_divide(num: Any, den: Any) -> np.ndarray:
    """Clarify's division: 0/0 = 0, x/0 = +inf or -inf by the sign of x.

    Examples
    --------
    >>> clarify_divide([0.0, 1.0, -2.0, 3.0], [0.0, 0.0, 0.0, 2.0])
    array([ 0. ,  inf, -inf,  1.5])
    """
    for name, value in (("num", num), ("den", den)):
        if np.asarray(value).dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {np.asarray(value).dtype}")
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.sign(num) * np.inf)
    return np.where((num == 0) & (den == 0), 0.0, out)


def clarify_difference(x: float, y: float) -> float:
    """x − y, but 0 where both are +inf (Clarify's convention for equal infinite rates)."""
    return 0.0 if x == y == np.inf else float(x - y)


def check_facets(counts: np.ndarray) -> np.ndarray:
    """Sizes (2,) of the reference and facet; raise when one is empty."""
    sizes = counts.sum(axis=(0, 2, 3))
    for side, name in ((0, "reference (a)"), (1, "facet (d)")):
        if sizes[side] <= 0:
            raise ValueError(EMPTY_FACET.format(side=name))
    return sizes


def label_distributions(counts: np.ndarray):
    """P_a, P_d over the label values both facets have (Clarify's aligned non-zero pdfs)."""
    labels = counts.sum(axis=(0, 3))  # (2, K)
    sizes = check_facets(counts)
    probs = labels / sizes[:, None]
    common = (probs > 0).all(axis=0)
    return probs[0, common], probs[1, common]


def cdd_or_nan(name: str, counts: np.ndarray, axis: int, undefined: str) -> float:
    """:func:`_cdd`, or (``undefined == "warn"``) NaN with an UndefinedRateWarning where it is
    undefined: Clarify reports each metric of a report on its own."""
    try:
        return cdd(counts, axis)
    except ValueError as err:
        if undefined == "raise":
            raise
        warnings.warn(UNDEFINED_REPORTED_AS_NAN.format(name=name, why=err),
                      UndefinedRateWarning, stacklevel=4)
        return float("nan")


def cdd(counts: np.ndarray, axis: int) -> float:
    """Conditional demographic disparity of the labels (axis=3: true) or predictions (axis=2)."""
    outcome = counts.sum(axis=axis)  # (S, 2, K): per stratum, side and outcome
    accepted = outcome[..., 1]  # (S, 2): the positive outcome
    if accepted.sum() <= 0:
        raise ValueError(NEEDS_BOTH_OUTCOMES.format(what="positive outcomes"))
    rejected = outcome.sum(axis=-1) - accepted
    if rejected.sum() <= 0:
        raise ValueError(NEEDS_BOTH_OUTCOMES.format(what="negative outcomes"))
    a_share = np.where(accepted.sum(1) > 0, accepted[:, 1] / np.maximum(accepted.sum(1), 1e-300),
                       0.0)
    r_share = np.where(rejected.sum(1) > 0, rejected[:, 1] / np.maximum(rejected.sum(1), 1e-300),
                       0.0)
    n_i = outcome.sum(axis=(1, 2))
    return float(clarify_divide((n_i * (r_share - a_share)).sum(), n_i.sum()))


def pre_training(counts: np.ndarray, strata_given: bool,
                  undefined: str = "warn") -> Dict[str, float]:
    """Every pre-training metric of the counts (S, 2, K, K); an undefined CDDL raises
    (``undefined="raise"``) or is NaN with a warning."""
    sizes = check_facets(counts)
    n_a, n_d = sizes
    labels = counts.sum(axis=(0, 3))  # (2, K)
    q = labels[:, 1] / sizes
    out = {"CI": float((n_a - n_d) / (n_a + n_d)), "DPL": float(q[0] - q[1])}
    p_a, p_d = label_distributions(counts)
    if p_a.size:
        m = 0.5 * (p_a + p_d)
        out.update(
            KL=float(np.sum(p_a * np.log(p_a / p_d))),
            JS=float(0.5 * (np.sum(p_a * np.log(p_a / m)) + np.sum(p_d * np.log(p_d / m)))),
            LP=float(np.linalg.norm(p_a - p_d, 2)),
            TVD=float(0.5 * np.linalg.norm(p_a - p_d, 1)),
            KS=float(np.linalg.norm(p_a - p_d, np.inf)),
        )
    if strata_given:
        out["CDDL"] = cdd_or_nan("CDDL", counts, 3, undefined)
    return out
