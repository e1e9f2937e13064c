"""FairnessReport: every per-group rate and every gap, derived from GroupStats counts.

This module is the one home of the metric definitions (``../shared/METRICS.md``): per-group rates
from confusion counts, AUC and calibration error from score histograms, and the fairlearn gap
conventions (``difference`` / ``ratio`` with ``method="between_groups" | "to_overall"``).

Undefined rates are explicit: a group with no rows, or no positives for TPR (no negatives for
FPR, ...), gets NaN, a :class:`UndefinedRateWarning` says so when the rate is read, and gaps
leave that group out with a warning. fairlearn silently reports 0 in those cases.
"""
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._ops import nan_divide
from .._validation import check_choice
from . import significance as _significance

__all__ = [
    "FairnessReport",
    "UndefinedRateWarning",
    "confusion_rates",
    "RATE_NAMES",
    "DIFFERENCE_METHODS",
]

DIFFERENCE_METHODS = ("between_groups", "to_overall")
AGGREGATES = ("worst_case", "mean")

#: Per-group quantities of a report, in display order.
RATE_NAMES = (
    "count", "n_pos", "n_neg", "selection_rate", "true_positive_rate", "false_positive_rate",
    "true_negative_rate", "false_negative_rate", "positive_predictive_value",
    "negative_predictive_value", "false_discovery_rate", "false_omission_rate", "accuracy",
    "balanced_accuracy",
)
HISTOGRAM_RATES = ("auc", "ece")
# What leaves a rate undefined, for the warning.
_UNDEFINED_WHEN = {
    "true_positive_rate": "no positive labels",
    "false_negative_rate": "no positive labels",
    "false_positive_rate": "no negative labels",
    "true_negative_rate": "no negative labels",
    "positive_predictive_value": "no positive predictions",
    "false_discovery_rate": "no positive predictions",
    "negative_predictive_value": "no negative predictions",
    "false_omission_rate": "no negative predictions",
    "balanced_accuracy": "no positive or no negative labels",
    "auc": "no positive or no negative labels",
}
LOWER_IS_BETTER = {
    "false_positive_rate", "false_negative_rate", "false_discovery_rate", "false_omission_rate",
    "ece",
}


class UndefinedRateWarning(UserWarning):
    """A rate is undefined (NaN) for some group: no rows, no positives, ..."""


def confusion_rates(counts: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-group rates from confusion counts.

    Parameters
    ----------
    counts : ndarray, shape (..., G, K, K)
        ``counts[..., g, t, p]``: rows of group g with label t predicted p.

    Returns
    -------
    dict of str to ndarray
        Binary (K = 2): each rate has shape (..., G) for positive label 1. Multi-class: the
        one-vs-rest rates have shape (..., G, K); ``count``, ``accuracy`` (trace / n) and
        ``balanced_accuracy`` (mean recall over classes) have shape (..., G).

    .. math::
        \\mathrm{TPR} = \\frac{TP}{TP + FN},\\quad \\mathrm{FPR} = \\frac{FP}{FP + TN},\\quad
        \\mathrm{selection\\ rate} = \\frac{TP + FP}{n}
    """
    counts = np.asarray(counts, dtype=np.float64)
    K = counts.shape[-1]
    n = counts.sum(axis=(-2, -1))
    if K == 2:
        tn, fp = counts[..., 0, 0], counts[..., 0, 1]
        fn, tp = counts[..., 1, 0], counts[..., 1, 1]
        n_k = n
    else:
        tp = np.diagonal(counts, axis1=-2, axis2=-1)
        fp = counts.sum(axis=-2) - tp
        fn = counts.sum(axis=-1) - tp
        n_k = n[..., None]
        tn = n_k - tp - fp - fn
    tpr, fpr = nan_divide(tp, tp + fn), nan_divide(fp, fp + tn)
    rates = {
        "count": n,
        "n_pos": tp + fn,
        "n_neg": fp + tn,
        "selection_rate": nan_divide(tp + fp, n_k),
        "true_positive_rate": tpr,
        "false_positive_rate": fpr,
        "true_negative_rate": nan_divide(tn, fp + tn),
        "false_negative_rate": nan_divide(fn, tp + fn),
        "positive_predictive_value": nan_divide(tp, tp + fp),
        "negative_predictive_value": nan_divide(tn, tn + fn),
        "false_discovery_rate": nan_divide(fp, tp + fp),
        "false_omission_rate": nan_divide(fn, tn + fn),
    }
    if K == 2:
        rates["accuracy"] = nan_divide(tp + tn, n)
        rates["balanced_accuracy"] = (tpr + (1.0 - fpr)) / 2.0
    else:
        rates["accuracy"] = nan_divide(tp.sum(axis=-1), n)
        # sklearn's multi-class balanced accuracy: mean recall over the classes present.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rates["balanced_accuracy"] = np.nanmean(tpr, axis=-1)
    return rates


def histogram_rates(hist: np.ndarray, score_sums: np.ndarray) -> Dict[str, np.ndarray]:
    """AUC and expected calibration error from score histograms.

    Parameters
    ----------
    hist : ndarray, shape (..., 2, B)
        Counts per label and score bin.
    score_sums : ndarray, shape (..., B)
        Sum of the scores in each bin.

    Returns
    -------
    dict with ``auc`` and ``ece``, each of shape (...).

    .. math::
        \\mathrm{AUC} = P(s^+ > s^-) + \\tfrac12 P(s^+, s^- \\text{ in the same bin}),\\quad
        \\mathrm{ECE} = \\sum_b \\frac{n_b}{n} \\left|\\bar y_b - \\bar s_b\\right|
    """
    h0, h1 = hist[..., 0, :], hist[..., 1, :]
    neg_below = np.cumsum(h0, axis=-1) - h0
    pairs = h1.sum(axis=-1) * h0.sum(axis=-1)
    auc = nan_divide((h1 * (neg_below + 0.5 * h0)).sum(axis=-1), pairs)
    n_b = h0 + h1
    gap = np.abs(h1 - score_sums)  # n_b * |mean label - mean score| per bin
    ece = nan_divide(np.where(n_b > 0, gap, 0.0).sum(axis=-1), n_b.sum(axis=-1))
    return {"auc": auc, "ece": ece}


def _gap(values: np.ndarray, overall: np.ndarray, method: str, kind: str,
         multi: bool = False) -> np.ndarray:
    """difference or ratio over groups, leaving out groups where ``values`` is NaN.

    Parameters
    ----------
    values : ndarray, shape (..., G) binary, or (..., G, K) one-vs-rest multi-class (``multi``)
    overall : ndarray, shape (...) or (..., K)
    method : {"between_groups", "to_overall"}
    kind : {"difference", "ratio"}
    multi : bool
        The last axis of ``values`` and ``overall`` is the class.

    Returns
    -------
    ndarray, shape (...): NaN where no group is defined. Multi-class: a group with any
    undefined class is left out, and the result is the max (difference) or min (ratio) over
    classes. Leading axes (bootstrap replicates) are kept.
    """
    values = np.asarray(values, dtype=np.float64)
    overall = np.asarray(overall, dtype=np.float64)
    if multi:
        bad = np.isnan(values).any(axis=-1, keepdims=True)
        values = np.moveaxis(np.where(bad, np.nan, values), -1, -2)  # (..., K, G)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        if kind == "difference":
            if method == "between_groups":
                gap = np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1)
            else:
                gap = np.nanmax(np.abs(values - overall[..., None]), axis=-1)
        elif method == "between_groups":
            gap = np.nanmin(values, axis=-1) / np.nanmax(values, axis=-1)
        else:
            r = values / overall[..., None]
            gap = np.nanmin(np.where(r > 1, 1.0 / r, r), axis=-1)
        if multi:
            gap = np.nanmax(gap, axis=-1) if kind == "difference" else np.nanmin(gap, axis=-1)
    return gap


def _headline_values(by_group: Dict[str, np.ndarray], overall: Dict[str, np.ndarray],
                     binary: bool) -> Dict[str, np.ndarray]:
    """The figures of :meth:`FairnessReport.summary`, vectorised over leading axes.

    ``by_group[name]`` has shape (..., G) (or (..., G, K)), ``overall[name]`` shape (...) (or
    (..., K)); every figure comes back with shape (...).
    """
    def gap(name, kind="difference"):
        return _gap(by_group[name], overall[name], "between_groups", kind, not binary)

    acc = overall["accuracy"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        worst = np.nanmin(by_group["accuracy"], axis=-1)
        tpr_gap, fpr_gap = gap("true_positive_rate"), gap("false_positive_rate")
        out = {
            "accuracy": acc,
            "balanced_accuracy": overall["balanced_accuracy"],
            "selection_rate": overall["selection_rate"] if binary else np.full_like(acc, np.nan),
            "demographic_parity_difference": gap("selection_rate"),
            "demographic_parity_ratio": gap("selection_rate", "ratio"),
            "equalized_odds_difference": np.fmax(tpr_gap, fpr_gap),
            "equal_opportunity_difference": tpr_gap,
            "worst_group_accuracy": worst,
        }
    if "auc" in by_group:
        out["auc"] = overall["auc"]
        out["auc_difference"] = gap("auc")
    return out


class FairnessReport:
    """Per-group rates, overall rates and gaps of one set of group statistics (host side).

    Built by :meth:`GroupStats.report`; all arrays are NumPy.

    Parameters
    ----------
    counts : ndarray, shape (G, K, K)
    hist : ndarray, shape (G, 2, B), optional
    score_sums : ndarray, shape (G, B), optional
    boot_counts : ndarray, shape (R, G, K, K), optional
    boot_hist : ndarray, shape (R, G, 2, B), optional
    boot_score_sums : ndarray, shape (R, G, B), optional
    group_names : list of str, optional

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.array([[[3, 1], [1, 3]], [[4, 0], [2, 2]]], dtype=float)  # (G, K, K)
    >>> rep = FairnessReport(counts, group_names=["a", "b"])
    >>> rep["selection_rate"]
    array([0.5 , 0.25])
    >>> rep.difference("selection_rate")
    0.25
    >>> rep.summary()["equalized_odds_difference"]
    0.25
    """

    def __init__(
        self,
        counts: np.ndarray,
        hist: Optional[np.ndarray] = None,
        score_sums: Optional[np.ndarray] = None,
        boot_counts: Optional[np.ndarray] = None,
        boot_hist: Optional[np.ndarray] = None,
        boot_score_sums: Optional[np.ndarray] = None,
        group_names: Optional[Sequence[str]] = None,
    ):
        self.counts = np.asarray(counts, dtype=np.float64)
        if self.counts.ndim != 3 or self.counts.shape[1] != self.counts.shape[2]:
            raise ValueError(f"counts must have shape (G, K, K), got {self.counts.shape}")
        self.num_groups, self.num_classes = self.counts.shape[0], self.counts.shape[1]
        self.hist, self.score_sums = hist, score_sums
        self.boot_counts, self.boot_hist = boot_counts, boot_hist
        self.boot_score_sums = boot_score_sums
        self.group_names: List[str] = (
            list(group_names) if group_names is not None
            else [str(g) for g in range(self.num_groups)]
        )
        self._by_group = confusion_rates(self.counts)
        self._overall = confusion_rates(self.counts.sum(axis=0, keepdims=True))
        if hist is not None:
            self._by_group.update(histogram_rates(hist, score_sums))
            self._overall.update(
                histogram_rates(hist.sum(axis=0, keepdims=True), score_sums.sum(axis=0))
            )
        self.overall: Dict[str, Union[float, np.ndarray]] = {
            k: (float(v[0]) if np.ndim(v[0]) == 0 else v[0]) for k, v in self._overall.items()
        }
        self._replicates: Optional[List["FairnessReport"]] = None

    # ------------------------------------------------------------- per group
    @property
    def metric_names(self) -> Tuple[str, ...]:
        """Names accepted by ``report[name]``."""
        return tuple(self._by_group)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    def __getitem__(self, metric: str) -> np.ndarray:
        """Per-group values of ``metric``: shape (G,), or (G, K) one-vs-rest for multi-class."""
        values = self._rate(metric)
        undefined = self._undefined_groups(values)
        if undefined and metric not in ("count", "n_pos", "n_neg"):
            warnings.warn(
                f"{metric} is undefined (NaN) for group(s) {undefined}: "
                f"{self._why_undefined(metric)}",
                UndefinedRateWarning,
                stacklevel=2,
            )
        return values

    def _rate(self, metric: str) -> np.ndarray:
        if metric not in self._by_group:
            hint = " (needs GroupStats(num_bins > 0))" if metric in HISTOGRAM_RATES else ""
            raise ValueError(
                f"unknown metric {metric!r}{hint}; expected one of {list(self._by_group)}"
            )
        return self._by_group[metric]

    def _undefined_groups(self, values: np.ndarray) -> List[str]:
        bad = np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1)
        return [self.group_names[g] for g in np.flatnonzero(bad)]

    def _why_undefined(self, metric: str) -> str:
        return "the group has no rows" if metric in ("selection_rate", "accuracy") else (
            _UNDEFINED_WHEN.get(metric, "no rows in the group") + " (or no rows)"
        )

    # ------------------------------------------------------------------ gaps
    def _defined(self, metric: str, what: str) -> np.ndarray:
        values = self._rate(metric)
        undefined = self._undefined_groups(values)
        if undefined:
            warnings.warn(
                f"the {what} of {metric} leaves out group(s) {undefined}, where it is undefined "
                f"({self._why_undefined(metric)})",
                UndefinedRateWarning,
                stacklevel=3,
            )
            keep = ~(np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1))
            values = values[keep]
        return values

    def difference(self, metric: str, method: str = "between_groups") -> float:
        """Largest gap of ``metric`` between groups (fairlearn's ``MetricFrame.difference``).

        ``between_groups``: max − min over groups; ``to_overall``: max |m_g − m_overall|.
        Multi-class: the maximum over classes of the one-vs-rest gaps. Groups where the metric
        is undefined are left out (with a warning); NaN when no group is defined.
        """
        check_choice("method", method, DIFFERENCE_METHODS)
        self._defined(metric, "difference")
        values = self._rate(metric)
        return float(_gap(values, self._overall[metric][0], method, "difference", values.ndim == 2))

    def ratio(self, metric: str, method: str = "between_groups") -> float:
        """Smallest ratio of ``metric`` between groups (fairlearn's ``MetricFrame.ratio``).

        ``between_groups``: min / max over groups; ``to_overall``: min of
        min(m_g / m_overall, m_overall / m_g). Multi-class: the minimum over classes.
        """
        check_choice("method", method, DIFFERENCE_METHODS)
        self._defined(metric, "ratio")
        values = self._rate(metric)
        return float(_gap(values, self._overall[metric][0], method, "ratio", values.ndim == 2))

    def equalized_odds_difference(self, method: str = "between_groups",
                                  agg: str = "worst_case") -> float:
        """max (``worst_case``) or mean of the TPR and FPR differences (an undefined one is
        left out)."""
        check_choice("agg", agg, AGGREGATES)
        gaps = [self.difference(m, method) for m in ("true_positive_rate", "false_positive_rate")]
        return _aggregate(gaps, np.nanmax if agg == "worst_case" else np.nanmean)

    def equalized_odds_ratio(self, method: str = "between_groups",
                             agg: str = "worst_case") -> float:
        """min (``worst_case``) or mean of the TPR and FPR ratios (an undefined one is left
        out)."""
        check_choice("agg", agg, AGGREGATES)
        gaps = [self.ratio(m, method) for m in ("true_positive_rate", "false_positive_rate")]
        return _aggregate(gaps, np.nanmin if agg == "worst_case" else np.nanmean)

    def worst_group(self, metric: str) -> Tuple[str, float]:
        """The group with the worst defined value of ``metric`` (lowest, or highest for error
        rates and calibration error) and that value. Binary reports only."""
        values = self._rate(metric)
        if values.ndim != 1:
            raise ValueError("worst_group needs a binary report (per-group values of shape (G,))")
        if np.all(np.isnan(values)):
            return "", float("nan")
        g = int(np.nanargmax(values) if metric in LOWER_IS_BETTER else np.nanargmin(values))
        return self.group_names[g], float(values[g])

    # --------------------------------------------------------------- summary
    def summary(self, p_values: bool = False, permutations: int = 10000,
                seed: Optional[int] = 0) -> Dict[str, float]:
        """Headline figures: overall accuracy, balanced accuracy, selection rate, the
        demographic-parity, equalized-odds and equal-opportunity gaps, the worst group's accuracy
        (and AUC when histograms were kept). With bootstrap replicates, ``<name>_lo`` and
        ``<name>_hi`` give 95 % percentile intervals of each figure. With ``p_values``,
        ``<gap>_p`` and ``<gap>_p_holm`` give each gap's permutation p-value and its Holm
        adjustment over the gaps of the summary (:meth:`p_value`)."""
        out = self._headline()
        if self.boot_counts is not None:
            reps = self._replicate_headline()
            for key in list(out):
                lo, hi = _percentiles(reps[key], 0.95)
                out[f"{key}_lo"], out[f"{key}_hi"] = float(lo), float(hi)
        if p_values:
            out.update(_significance.summary_p_values(self, list(out), permutations=permutations,
                                                      seed=seed))
        return out

    def p_value(self, metric: str, permutations: int = 10000, seed: Optional[int] = 0,
                **kwargs) -> float:
        """Permutation p-value of "no difference between groups" for a gap, from the counts.

        ``metric`` is a gap name (``demographic_parity_difference``, ``equalized_odds_difference``,
        ``auc_difference`` ...) or a rate (then ``kind="difference" | "ratio"`` and ``method``
        choose the gap). Exact conditional tests for the rates, studentized ones for balanced
        accuracy, AUC and the mean score: see :mod:`mxfair.metrics.significance`.

        Examples
        --------
        >>> counts = np.array([[[40, 10], [10, 40]], [[45, 5], [30, 20]]])
        >>> FairnessReport(counts).p_value("demographic_parity_difference") < 0.01
        True
        """
        return _significance.p_value(self, metric, permutations=permutations, seed=seed,
                                     **kwargs)

    def _headline(self) -> Dict[str, float]:
        for metric in ("selection_rate", "true_positive_rate", "false_positive_rate") + (
                ("auc",) if self.hist is not None else ()):
            self._defined(metric, "difference")  # the warnings, once per metric
        overall = {k: v[0] for k, v in self._overall.items()}
        values = _headline_values(self._by_group, overall, self.is_binary)
        return {k: float(v) for k, v in values.items()}

    # -------------------------------------------------------------- intervals
    def _replicate_rates(self) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
        """Per-group rates (R, G[, K]) and overall rates (R[, K]) of every replicate."""
        if self.boot_counts is None:
            raise ValueError("this report has no bootstrap replicates; use GroupStats(bootstrap=R)")
        by_group = confusion_rates(self.boot_counts)
        overall = {k: v[:, 0] for k, v in
                   confusion_rates(self.boot_counts.sum(axis=1, keepdims=True)).items()}
        if self.boot_hist is not None:
            by_group.update(histogram_rates(self.boot_hist, self.boot_score_sums))
            hist_all = histogram_rates(self.boot_hist.sum(axis=1), self.boot_score_sums.sum(axis=1))
            overall.update(hist_all)
        return by_group, overall

    def _replicate_headline(self) -> Dict[str, np.ndarray]:
        by_group, overall = self._replicate_rates()
        return _headline_values(by_group, overall, self.is_binary)

    @property
    def replicates(self) -> List["FairnessReport"]:
        """One report per bootstrap replicate (needs ``GroupStats(bootstrap=R)``)."""
        if self.boot_counts is None:
            raise ValueError("this report has no bootstrap replicates; use GroupStats(bootstrap=R)")
        if self._replicates is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedRateWarning)
                self._replicates = [
                    FairnessReport(
                        c,
                        None if self.boot_hist is None else self.boot_hist[r],
                        None if self.boot_hist is None else self.boot_score_sums[r],
                        group_names=self.group_names,
                    )
                    for r, c in enumerate(self.boot_counts)
                ]
        return self._replicates

    def interval(self, quantity: Union[str, Callable[["FairnessReport"], float]],
                 level: float = 0.95) -> np.ndarray:
        """Bootstrap percentile interval of a figure.

        Parameters
        ----------
        quantity : str or callable
            A per-group metric name (gives shape (G, 2), or (G, K, 2)), a key of
            :meth:`summary` (gives shape (2,)), or a function of a report returning a float or
            an array (evaluated on each replicate's report; names are vectorised and faster).
        level : float, default 0.95

        Returns
        -------
        ndarray, shape (..., 2): lower and upper bounds.

        Notes
        -----
        Percentile intervals of a gap (an absolute difference or a min/max ratio) are biased
        away from perfect parity: resampling noise can only widen a gap near 0, so such an
        interval can lie entirely above the point estimate.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        if callable(quantity):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedRateWarning)
                values = np.asarray([np.asarray(quantity(r), dtype=np.float64)
                                     for r in self.replicates])
        elif quantity in self._by_group:
            values = self._replicate_rates()[0][quantity]
        else:
            headline = self._replicate_headline()
            if quantity not in headline:
                raise ValueError(
                    f"unknown quantity {quantity!r}; expected a per-group metric "
                    f"{list(self._by_group)}, a summary key {list(headline)} or a callable"
                )
            values = headline[quantity]
        lo, hi = _percentiles(values, level)
        return np.stack([lo, hi], axis=-1)

    # ---------------------------------------------------------------- tables
    def to_pandas(self, p_values: bool = False, permutations: int = 10000,
                  seed: Optional[int] = 0):
        """A DataFrame: one row per group plus ``overall``, one column per rate (multi-class:
        ``rate[k]`` per class). With ``p_values`` (binary reports), ``<rate>_p`` columns give
        each group's Holm-adjusted p-value against the overall rate
        (:func:`~mxfair.metrics.significance.group_p_values`)."""
        import pandas as pd

        columns = {}
        for name in self._by_group:
            values = np.concatenate([self._by_group[name], self._overall[name]], axis=0)
            if values.ndim == 1:
                columns[name] = values
            else:
                for k in range(values.shape[1]):
                    columns[f"{name}[{k}]"] = values[:, k]
        if p_values:
            for name, p in _significance.group_p_values(self, permutations=permutations,
                                                        seed=seed).items():
                columns[name] = np.append(p, np.nan)
        return pd.DataFrame(columns, index=pd.Index(self.group_names + ["overall"], name="group"))

    def __repr__(self) -> str:
        return (
            f"FairnessReport(num_groups={self.num_groups}, num_classes={self.num_classes}, "
            f"rows={self.overall['count']:g})"
        )

    def __str__(self) -> str:
        cols = ["count", "selection_rate", "true_positive_rate", "false_positive_rate",
                "accuracy"]
        frame = self.to_pandas()
        shown = [c for c in frame.columns if c.split("[")[0] in cols]
        lines = [frame[shown].to_string(float_format=lambda v: f"{v:.4f}")]
        lines += [f"{k}: {v:.4f}" for k, v in self._headline().items()]
        return "\n".join(lines)


def _aggregate(values: Sequence[float], fn) -> float:
    """``fn`` (a NaN-ignoring reduction) of ``values``, NaN when all are NaN."""
    arr = np.asarray(values, dtype=np.float64)
    return float("nan") if np.all(np.isnan(arr)) else float(fn(arr))


def _percentiles(values: Sequence, level: float) -> Tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(values, dtype=np.float64)
    tail = 100.0 * (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN bounds
        lo, hi = np.nanpercentile(arr, [tail, 100.0 - tail], axis=0)
    return lo, hi
