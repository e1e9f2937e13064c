"""FairnessReport: every per-group rate and every gap, derived from GroupStats counts.

This module is the one home of the metric definitions (docs/api.md lists them): per-group rates
from confusion counts, AUC and calibration error from score histograms, and the fairlearn gap
conventions (``difference`` / ``ratio`` with ``method="between_groups" | "to_overall"``).

Undefined rates are explicit: a group with no rows, or no positives for TPR (no negatives for
FPR, ...), gets NaN, a :class:`UndefinedRateWarning` says so when the rate is read, and gaps
leave that group out with a warning. fairlearn silently reports 0 in those cases. The same rule
holds inside bootstrap replicates: a replicate in which a gap is undefined (a group that the data
define drew no rows, or no positives, in it) is left out of the interval and counted, never
scored 0. Groups smaller than ``min_count`` can be left out of gaps (with a warning).

AUC from score histograms counts a positive and a negative in the same bin as half a correctly
ordered pair: exact when scores are tied within bins, otherwise off by at most half the share of
positive-negative pairs that share a bin (:meth:`FairnessReport.auc_error_bound`); a
:class:`AUCResolutionWarning` says when one bin holds so many pairs that the ranking is not
resolved. ``GroupStats(exact_auc=True)`` gives the exact AUC.
"""
import math
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._ops import nan_divide
from .._validation import check_choice, check_number, check_numeric

__all__ = [
    "FairnessReport",
    "UndefinedRateWarning",
    "SmallGroupWarning",
    "AUCResolutionWarning",
    "IntervalWarning",
    "confusion_rates",
    "group_gap",
    "RATE_NAMES",
    "SUMMARY_KEYS",
    "BINARY_SUMMARY_KEYS",
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
_ODDS_RATES = ("true_positive_rate", "false_positive_rate")  # what equalized odds compares
#: The figures of :meth:`FairnessReport.summary`, in order (the two AUC figures need score
#: histograms or exact rows; with bootstrap replicates each also has ``_lo``/``_hi``).
SUMMARY_KEYS = (
    "accuracy", "balanced_accuracy", "selection_rate", "demographic_parity_difference",
    "demographic_parity_ratio", "equalized_odds_difference", "equal_opportunity_difference",
    "worst_group_accuracy", "auc", "auc_difference",
)
#: Summary figures defined for binary tasks only (NaN, or absent, with more classes).
BINARY_SUMMARY_KEYS = ("selection_rate", "auc", "auc_difference")
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


#: A histogram AUC is flagged when one bin could move it by more than this (the tolerance the
#: package's AUC tests hold it to against scikit-learn).
AUC_TOLERANCE = 0.005

SMALL_GROUPS = (
    "the {what} of {metric} leaves out group(s) {groups} with a count below min_count="
    "{min_count:g} (counts {counts})"
)
AUC_UNRESOLVED = (
    "the score histograms cannot resolve the AUC ranking of {where}: up to {share:.1%} of "
    "positive-negative pairs share one bin, so the AUC can be off by up to {bound:.3f}; use "
    "GroupStats(exact_auc=True), bin_scale='logit' for a confident model, or more bins"
)
REPLICATES_LEFT_OUT = (
    "bootstrap replicates left out of the interval, of {total} ({details}): the figure is "
    "undefined in them (a group that the data define drew no rows, or no positives or "
    "negatives, in the replicate); they are not scored 0"
)
TOO_FEW_REPLICATES = (
    "the {level:.0%} interval of {name} rests on {used} bootstrap replicate(s); its tails need "
    "at least {needed} (each tail then holds one replicate): use GroupStats(bootstrap={needed}) "
    "or more"
)


class UndefinedRateWarning(UserWarning):
    """A rate is undefined (NaN) for some group: no rows, no positives, ..."""


class SmallGroupWarning(UserWarning):
    """Groups below ``min_count`` were left out of a gap, summary or worst group."""


class AUCResolutionWarning(UserWarning):
    """The score histograms cannot resolve the ranking the AUC needs."""


class IntervalWarning(UserWarning):
    """A bootstrap interval left replicates out, or rests on too few replicates."""


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
    if counts.ndim < 3 or counts.shape[-1] != counts.shape[-2] or counts.shape[-1] < 2:
        raise ValueError(f"counts must have shape (..., G, K, K) with K >= 2, got {counts.shape}")
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


def auc_tie_shares(hist: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Share of positive-negative pairs in the same bin: in total and in the fullest bin.

    Parameters
    ----------
    hist : ndarray, shape (..., 2, B)

    Returns
    -------
    (total, largest), each of shape (...): NaN without positives or negatives. Half the total
    bounds the error of the histogram AUC (a tied pair counts 1/2 where it is 0 or 1).
    """
    h0, h1 = hist[..., 0, :], hist[..., 1, :]
    pairs = h1.sum(axis=-1) * h0.sum(axis=-1)
    tied = h0 * h1
    return nan_divide(tied.sum(axis=-1), pairs), nan_divide(tied.max(axis=-1), pairs)


def exact_auc(rows: np.ndarray, num_groups: int) -> Tuple[np.ndarray, float]:
    """Exact per-group and overall AUC from kept rows (ties count 1/2).

    Parameters
    ----------
    rows : ndarray, shape (3, M)
        Ranking score, ``group * 2 + label`` and weight of every row (``GroupStats``'s
        ``exact_rows()``).
    num_groups : int

    Returns
    -------
    (ndarray of shape (G,), float): NaN where a group has no positive or no negative weight.
    Equal to ``sklearn.metrics.roc_auc_score(y, score, sample_weight=w)`` on each group.

    Examples
    --------
    >>> rows = np.array([[0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], [1, 1, 1, 1]], dtype=float)
    >>> auc, overall = exact_auc(rows, 1)
    >>> float(auc[0]), overall
    (0.75, 0.75)
    """
    score, key, weight = rows
    key = key.astype(np.int64)
    group, label = key // 2, (key % 2).astype(np.float64)
    order = np.argsort(score)  # one sort of the scores serves the groups and the overall AUC
    overall = _sorted_auc(score[order], label[order], weight[order],
                          np.zeros(order.size, dtype=np.int64), 1)[0]
    # Rows of each group together, in score order: a stable sort of the (small integer) groups.
    small = np.uint16 if num_groups <= 2 ** 16 else np.int64
    by_group = order[np.argsort(group[order].astype(small), kind="stable")]
    auc = _sorted_auc(score[by_group], label[by_group], weight[by_group], group[by_group],
                      num_groups)
    return auc, float(overall)


def _sorted_auc(s, y, w, seg, num_segments: int) -> np.ndarray:
    """Mann-Whitney AUC per segment of rows sorted by (segment, score): the sum over runs of
    equal scores of pos * (negatives below + negatives in the run / 2)."""
    new = np.ones(s.size, dtype=bool)
    new[1:] = (s[1:] != s[:-1]) | (seg[1:] != seg[:-1])
    tie = np.cumsum(new) - 1  # id of each (segment, score) run
    pos = np.bincount(tie, weights=w * y)
    neg = np.bincount(tie, weights=w * (1.0 - y))
    run_seg = seg[new]
    neg_cum = np.cumsum(neg) - neg  # negatives in earlier runs, across segments
    seg_neg = np.bincount(run_seg, weights=neg, minlength=num_segments)
    before = np.concatenate([[0.0], np.cumsum(seg_neg)[:-1]])  # negatives of earlier segments
    below = neg_cum - before[run_seg]
    num = np.bincount(run_seg, weights=pos * (below + 0.5 * neg), minlength=num_segments)
    n_pos = np.bincount(run_seg, weights=pos, minlength=num_segments)
    return nan_divide(num, n_pos * seg_neg)


def group_gap(values: np.ndarray, *, overall: Optional[np.ndarray] = None,
              kind: str = "difference", method: str = "between_groups", multi: bool = False,
              required: Optional[np.ndarray] = None) -> np.ndarray:
    """The gap over groups of per-group values: the one definition of a difference or a ratio.

    Groups where ``values`` is NaN (undefined) are left out; NaN where no group is left.
    :meth:`FairnessReport.difference` and :meth:`~FairnessReport.ratio` (and so every
    fairlearn-named function), the bootstrap replicates and the losses' measured gap
    (``ConstrainedFairLoss``) all read their gaps from here.

    Parameters
    ----------
    values : ndarray, shape (..., G) binary, or (..., G, K) one-vs-rest multi-class (``multi``)
    overall : ndarray, shape (...) or (..., K), optional
        The overall value; needed by ``method="to_overall"``.
    kind : {"difference", "ratio"}
    method : {"between_groups", "to_overall"}
        ``between_groups``: max − min (difference) or min / max (ratio); ``to_overall``:
        max |v_g − v| (difference) or min over groups of min(v_g / v, v / v_g) (ratio).
    multi : bool
        The last axis of ``values`` and ``overall`` is the class: a group with any undefined
        class is left out, and the result is the max (difference) or min (ratio) over classes.
    required : ndarray of bool, shape (G,), optional
        Groups that must be defined: where one of them is undefined (a bootstrap replicate in
        which it drew no rows), the gap is NaN instead of a gap over the others.

    Returns
    -------
    ndarray, shape (...): leading axes (bootstrap replicates) are kept.

    Examples
    --------
    >>> float(group_gap(np.array([0.5, 0.25, np.nan])))  # the undefined group is left out
    0.25
    >>> float(group_gap(np.array([0.5, 0.25]), kind="ratio"))
    0.5
    """
    check_choice("kind", kind, ("difference", "ratio"))
    check_choice("method", method, DIFFERENCE_METHODS)
    if method == "to_overall" and overall is None:
        raise ValueError("method='to_overall' needs the overall value")
    values = check_numeric("values", values, ids=False, flat=False).astype(np.float64)
    overall = np.asarray(np.nan if overall is None else overall, dtype=np.float64)
    broken = None
    if required is not None:
        undefined = np.isnan(values).any(axis=-1) if multi else np.isnan(values)  # (..., G)
        broken = (undefined & required).any(axis=-1)
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
    if broken is not None:
        gap = np.where(broken, np.nan, gap)
    return gap


def _keep_groups(values: np.ndarray, keep: Optional[np.ndarray], multi: bool) -> np.ndarray:
    """``values`` (..., G), or (..., G, K) when ``multi``, with the groups not in ``keep`` (G,)
    set to NaN."""
    if keep is None or keep.all():
        return values
    return np.where(keep[:, None] if multi else keep, values, np.nan)


_HEADLINE_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy",
                   "auc")


def _headline_values(by_group: Dict[str, np.ndarray], overall: Dict[str, np.ndarray],
                     binary: bool, keep: Optional[np.ndarray] = None,
                     required: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
    """The figures of :meth:`FairnessReport.summary`, vectorised over leading axes.

    ``by_group[name]`` has shape (..., G) (or (..., G, K)), ``overall[name]`` shape (...) (or
    (..., K)); every figure comes back with shape (...). ``keep`` (G,): the groups compared
    (``min_count``). ``required``: per rate, the groups (G,) that must be defined for a gap to
    be defined (bootstrap replicates: those defined in the data), else a gap is NaN.
    """
    req = required or {}

    def rate(name):
        return _keep_groups(by_group[name], keep, not binary)

    def gap(name, kind="difference"):
        return group_gap(rate(name), overall=overall[name], kind=kind, multi=not binary,
                         required=req.get(name))

    acc = overall["accuracy"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        worst = np.nanmin(rate("accuracy"), axis=-1)
        if "accuracy" in req:
            missing = np.isnan(by_group["accuracy"]) & req["accuracy"]
            worst = np.where(missing.any(axis=-1), np.nan, worst)
        tpr_gap, fpr_gap = gap("true_positive_rate"), gap("false_positive_rate")
        odds = np.fmax(tpr_gap, fpr_gap)
        for name, part in (("true_positive_rate", tpr_gap), ("false_positive_rate", fpr_gap)):
            if name in req and req[name].any():  # a part defined in the data is missing
                odds = np.where(np.isnan(part), np.nan, odds)
        out = {
            "accuracy": acc,
            "balanced_accuracy": overall["balanced_accuracy"],
            "selection_rate": overall["selection_rate"] if binary else np.full_like(acc, np.nan),
            "demographic_parity_difference": gap("selection_rate"),
            "demographic_parity_ratio": gap("selection_rate", "ratio"),
            "equalized_odds_difference": odds,
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
    min_count : float, default 0
        Groups whose ``count`` (sum of weights; rows when unweighted) is below ``min_count``
        are left out of gaps, :meth:`summary` and :meth:`worst_group`, with a
        :class:`SmallGroupWarning`; their own rates stay in the report. 0 compares every group,
        as fairlearn does (and as earlier releases did): a gap then never changes meaning
        silently, and the warning names what a threshold leaves out when one is set.
    exact_rows : ndarray, shape (3, M), optional
        Ranking score, ``group * 2 + label`` and weight of every row
        (``GroupStats(exact_auc=True)``): the AUC is then exact.
    invalid_counts : dict of str to float, optional
        Rows the statistics left out, by reason (kept for reference: ``num_invalid`` is the
        number of rows).
    num_invalid : float, default 0
    bin_edges : ndarray, shape (B + 1,), optional
        The histograms' bin edges as probabilities.

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
        *,
        hist: Optional[np.ndarray] = None,
        score_sums: Optional[np.ndarray] = None,
        boot_counts: Optional[np.ndarray] = None,
        boot_hist: Optional[np.ndarray] = None,
        boot_score_sums: Optional[np.ndarray] = None,
        group_names: Optional[Sequence[str]] = None,
        min_count: float = 0,
        exact_rows: Optional[np.ndarray] = None,
        invalid_counts: Optional[Dict[str, float]] = None,
        num_invalid: float = 0.0,
        bin_edges: Optional[np.ndarray] = None,
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
        self.min_count = check_number("min_count", min_count, low=0)
        self.invalid_counts = dict(invalid_counts or {})
        self.num_invalid = float(num_invalid)
        self.bin_edges = bin_edges
        self.exact_auc = exact_rows is not None
        self._by_group = confusion_rates(self.counts)
        self._overall = confusion_rates(self.counts.sum(axis=0, keepdims=True))
        self._auc_shares = None  # (total, largest) per group and overall: histogram AUC only
        if hist is not None:
            self._by_group.update(histogram_rates(hist, score_sums))
            self._overall.update(
                histogram_rates(hist.sum(axis=0, keepdims=True), score_sums.sum(axis=0))
            )
            if exact_rows is None:
                self._auc_shares = (auc_tie_shares(hist),
                                    auc_tie_shares(hist.sum(axis=0, keepdims=True)))
        if exact_rows is not None:
            auc, overall_auc = exact_auc(np.asarray(exact_rows, dtype=np.float64),
                                         self.num_groups)
            self._by_group["auc"] = auc
            self._overall["auc"] = np.array([overall_auc])
        self.overall: Dict[str, Union[float, np.ndarray]] = {
            k: (float(v[0]) if np.ndim(v[0]) == 0 else v[0]) for k, v in self._overall.items()
        }
        self._replicates: Optional[List["FairnessReport"]] = None
        # Set on the reports of bootstrap replicates: the groups compared and the groups that
        # must be defined, both decided by the data (see _required).
        self._fixed_keep: Optional[np.ndarray] = None
        self._fixed_required: Optional[Dict[str, np.ndarray]] = None

    # ------------------------------------------------------------- per group
    @property
    def metric_names(self) -> Tuple[str, ...]:
        """Names accepted by ``report[name]``."""
        return tuple(self._by_group)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    def rate(self, metric: str, *, overall: bool = False, warn: bool = True
             ) -> Union[np.ndarray, float]:
        """Per-group values of a rate, or its overall value: the report's one accessor.

        ``report[metric]`` is ``report.rate(metric)``.

        Parameters
        ----------
        metric : str
            One of :attr:`metric_names`.
        overall : bool, default False
            The value over all groups (a float, or (K,) one-vs-rest for multi-class) instead
            of the per-group values.
        warn : bool, default True
            Give an :class:`UndefinedRateWarning` naming the groups (and why) where the rate is
            undefined (NaN), and an :class:`AUCResolutionWarning` where the histograms cannot
            resolve an AUC. False reads the values silently (tables and plots that show NaN as
            such).

        Returns
        -------
        ndarray, shape (G,) or (G, K) one-vs-rest for multi-class; or the overall value

        Examples
        --------
        >>> rep = FairnessReport(np.array([[[3, 1], [1, 3]], [[4, 0], [0, 0]]], dtype=float))
        >>> rep.rate("selection_rate").tolist(), rep.rate("count", overall=True)
        ([0.5, 0.0], 12.0)
        """
        return self._read(metric, overall, warn, stacklevel=3)

    def __getitem__(self, metric: str) -> np.ndarray:
        """Per-group values of ``metric``: ``report.rate(metric)``."""
        return self._read(metric, False, True, stacklevel=3)

    def _read(self, metric: str, overall: bool, warn: bool, stacklevel: int):
        values = self._rate(metric)
        if overall:
            values = self.overall[metric]
            if warn and np.any(np.isnan(values)):
                warnings.warn(f"{metric} is undefined (NaN): {self._why_undefined(metric)}",
                              UndefinedRateWarning, stacklevel=stacklevel)
            return values
        undefined = self._undefined_groups(values)
        if warn and undefined and metric not in ("count", "n_pos", "n_neg"):
            warnings.warn(
                f"{metric} is undefined (NaN) for group(s) {undefined}: "
                f"{self._why_undefined(metric)}",
                UndefinedRateWarning,
                stacklevel=stacklevel,
            )
        if warn:
            self._check_resolution(metric, stacklevel=stacklevel + 1)
        return values

    def _rate(self, metric: str) -> np.ndarray:
        if metric not in self._by_group:
            hint = (" (needs GroupStats(num_bins > 0) or exact_auc=True)"
                    if metric in HISTOGRAM_RATES else "")
            raise ValueError(
                f"unknown metric {metric!r}{hint}; expected one of {list(self._by_group)}"
            )
        return self._by_group[metric]

    def _undefined_groups(self, values: np.ndarray, among=None) -> List[str]:
        bad = np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1)
        if among is not None:
            bad = bad & among
        return [self.group_names[g] for g in np.flatnonzero(bad)]

    def _why_undefined(self, metric: str) -> str:
        return "the group has no rows" if metric in ("selection_rate", "accuracy") else (
            _UNDEFINED_WHEN.get(metric, "no rows in the group") + " (or no rows)"
        )

    # -------------------------------------------------------- approximations
    def auc_error_bound(self) -> Tuple[np.ndarray, float]:
        """How far the histogram AUC can be from the exact AUC: per group (G,) and overall.

        Half the share of positive-negative pairs that fall in the same bin (a tied pair counts
        1/2 where the exact AUC counts 0 or 1). 0 with ``exact_auc``; NaN where the AUC is
        undefined. For smooth score distributions the actual error is far smaller (see
        ``docs/histograms.md``); a bound near its maximum 0.5 means the bins cannot rank.
        """
        if "auc" not in self._by_group:
            raise ValueError("this report has no AUC; use GroupStats(num_bins > 0) or "
                             "exact_auc=True")
        if self._auc_shares is None:  # exact
            return np.zeros(self.num_groups), 0.0
        (total, _), (overall, _) = self._auc_shares
        return 0.5 * total, float(0.5 * overall[0])

    def _check_resolution(self, metric: str, stacklevel: int) -> None:
        """Warn when one histogram bin holds enough positive-negative pairs to move an AUC by
        more than ``AUC_TOLERANCE``."""
        if metric != "auc" or self._auc_shares is None:
            return
        (_, largest), (_, overall_largest) = self._auc_shares
        with np.errstate(invalid="ignore"):
            flagged = [self.group_names[g] for g in np.flatnonzero(0.5 * largest > AUC_TOLERANCE)]
            overall_flag = bool(0.5 * overall_largest[0] > AUC_TOLERANCE)
        if not flagged and not overall_flag:
            return
        where = f"group(s) {flagged}" if flagged else ""
        if overall_flag:
            where += (" and " if where else "") + "the overall AUC"
        share = float(np.nanmax(np.concatenate([largest, overall_largest])))
        bound = float(np.nanmax(self.auc_error_bound()[0].tolist()
                                + [self.auc_error_bound()[1]]))
        warnings.warn(AUC_UNRESOLVED.format(where=where, share=share, bound=bound),
                      AUCResolutionWarning, stacklevel=stacklevel)

    # ------------------------------------------------------------------ gaps
    def _keep(self) -> Optional[np.ndarray]:
        """The groups compared in gaps (G,) bool, or None for all."""
        if self._fixed_keep is not None:
            return self._fixed_keep
        if self.min_count <= 0:
            return None
        return ~(self._by_group["count"] < self.min_count)

    def _required(self) -> Dict[str, np.ndarray]:
        """Per headline rate, the compared groups where the data define it: a bootstrap
        replicate in which one of them is undefined has an undefined gap."""
        keep = self._keep()
        out = {}
        for name in _HEADLINE_RATES:
            if name in self._by_group:
                values = self._by_group[name]
                defined = ~(np.isnan(values) if values.ndim == 1 else np.isnan(values).any(1))
                out[name] = defined if keep is None else defined & keep
        return out

    def _defined(self, metric: str, what: str) -> np.ndarray:
        """Warn about the groups a gap of ``metric`` leaves out; the compared values."""
        values = self._rate(metric)
        keep = self._keep()
        undefined = self._undefined_groups(values, among=keep)
        if undefined:
            warnings.warn(
                f"the {what} of {metric} leaves out group(s) {undefined}, where it is undefined "
                f"({self._why_undefined(metric)})",
                UndefinedRateWarning,
                stacklevel=3,
            )
        if keep is not None and not keep.all() and self._fixed_keep is None:
            counts = self._by_group["count"][~keep]
            warnings.warn(SMALL_GROUPS.format(
                what=what, metric=metric, min_count=self.min_count,
                groups=[self.group_names[g] for g in np.flatnonzero(~keep)],
                counts=[float(c) for c in counts]), SmallGroupWarning, stacklevel=3)
        self._check_resolution(metric, stacklevel=4)
        return _keep_groups(values, keep, values.ndim == 2)

    def _fixed_gap(self, metric: str, gap: float) -> float:
        """A replicate's gap: NaN when a group the data define is undefined in it."""
        if self._fixed_required is None or metric not in self._fixed_required:
            return gap
        values = self._by_group[metric]
        undefined = np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1)
        return float("nan") if (undefined & self._fixed_required[metric]).any() else gap

    def difference(self, metric: str, *, method: str = "between_groups") -> float:
        """Largest gap of ``metric`` between groups (fairlearn's ``MetricFrame.difference``).

        ``between_groups``: max − min over groups; ``to_overall``: max |m_g − m_overall|.
        Multi-class: the maximum over classes of the one-vs-rest gaps. Groups where the metric
        is undefined, or with a count below ``min_count``, are left out (with a warning); NaN
        when no group is left.
        """
        check_choice("method", method, DIFFERENCE_METHODS)
        values = self._defined(metric, "difference")
        gap = float(group_gap(values, overall=self._overall[metric][0], kind="difference",
                              method=method, multi=values.ndim == 2))
        return self._fixed_gap(metric, gap)

    def ratio(self, metric: str, *, method: str = "between_groups") -> float:
        """Smallest ratio of ``metric`` between groups (fairlearn's ``MetricFrame.ratio``).

        ``between_groups``: min / max over groups; ``to_overall``: min of
        min(m_g / m_overall, m_overall / m_g). Multi-class: the minimum over classes. Groups
        are left out as in :meth:`difference`.
        """
        check_choice("method", method, DIFFERENCE_METHODS)
        values = self._defined(metric, "ratio")
        gap = float(group_gap(values, overall=self._overall[metric][0], kind="ratio",
                              method=method,
                              multi=values.ndim == 2))
        return self._fixed_gap(metric, gap)

    def equalized_odds_difference(self, *, method: str = "between_groups",
                                  agg: str = "worst_case") -> float:
        """max (``worst_case``) or mean of the TPR and FPR differences (an undefined one is
        left out)."""
        check_choice("agg", agg, AGGREGATES)
        gaps = [self.difference(m, method=method) for m in _ODDS_RATES]
        return _aggregate(gaps, np.nanmax if agg == "worst_case" else np.nanmean)

    def equalized_odds_ratio(self, *, method: str = "between_groups",
                             agg: str = "worst_case") -> float:
        """min (``worst_case``) or mean of the TPR and FPR ratios (an undefined one is left
        out)."""
        check_choice("agg", agg, AGGREGATES)
        gaps = [self.ratio(m, method=method) for m in _ODDS_RATES]
        return _aggregate(gaps, np.nanmin if agg == "worst_case" else np.nanmean)

    def worst_group(self, metric: str) -> Tuple[str, float]:
        """The group with the worst defined value of ``metric`` (lowest, or highest for error
        rates and calibration error) and that value, among the groups with a count of at
        least ``min_count``. Binary reports only."""
        values = self._rate(metric)
        if values.ndim != 1:
            raise ValueError("worst_group needs a binary report (per-group values of shape (G,))")
        values = self._defined(metric, "worst group")
        if np.all(np.isnan(values)) or np.isnan(self._fixed_gap(metric, 0.0)):
            return "", float("nan")
        g = int(np.nanargmax(values) if metric in LOWER_IS_BETTER else np.nanargmin(values))
        return self.group_names[g], float(values[g])

    # --------------------------------------------------------------- summary
    def summary(self) -> Dict[str, float]:
        """Headline figures: overall accuracy, balanced accuracy, selection rate, the
        demographic-parity, equalized-odds and equal-opportunity gaps, the worst group's accuracy
        (and AUC when histograms or exact rows were kept). With bootstrap replicates,
        ``<name>_lo`` and ``<name>_hi`` give 95 % percentile intervals of each figure; a
        replicate in which a figure is undefined is left out of its interval (an
        :class:`IntervalWarning` gives the counts, :meth:`undefined_replicates` too)."""
        out = self._headline()
        if self.boot_counts is not None:
            reps = self._replicate_headline()
            keys = [k for k in out if k in reps]
            values = {k: reps[k] for k in keys}
            bounds = self._bounds(values, {k: np.asarray(out[k]) for k in keys}, 0.95)
            for key in keys:
                lo, hi = bounds[key]
                out[f"{key}_lo"], out[f"{key}_hi"] = float(lo), float(hi)
        return out

    def _headline(self) -> Dict[str, float]:
        for metric in ("selection_rate", "true_positive_rate", "false_positive_rate") + (
                ("auc",) if "auc" in self._by_group else ()):
            self._defined(metric, "difference")  # the warnings, once per metric
        return {k: float(v) for k, v in self._headline_silent().items()}

    def _headline_silent(self) -> Dict[str, np.ndarray]:
        overall = {k: v[0] for k, v in self._overall.items()}
        return _headline_values(self._by_group, overall, self.is_binary, self._keep(),
                                self._fixed_required)

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
        return _headline_values(by_group, overall, self.is_binary, self._keep(),
                                self._required())

    @property
    def replicates(self) -> List["FairnessReport"]:
        """One report per bootstrap replicate (needs ``GroupStats(bootstrap=R)``). Their gaps
        compare the groups this report compares, and are NaN where one of them is undefined
        in the replicate."""
        if self.boot_counts is None:
            raise ValueError("this report has no bootstrap replicates; use GroupStats(bootstrap=R)")
        if self._replicates is None:
            keep, required = self._keep(), self._required()
            reports = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedRateWarning)
                for r, c in enumerate(self.boot_counts):
                    rep = FairnessReport(
                        c,
                        hist=None if self.boot_hist is None else self.boot_hist[r],
                        score_sums=None if self.boot_hist is None else self.boot_score_sums[r],
                        group_names=self.group_names,
                    )
                    rep._fixed_keep = np.ones(self.num_groups, bool) if keep is None else keep
                    rep._fixed_required = required
                    rep._auc_shares = None  # the point report warns about resolution
                    reports.append(rep)
            self._replicates = reports
        return self._replicates

    def _replicate_values(self, quantity) -> Tuple[np.ndarray, np.ndarray, str]:
        """(values of every replicate (R, ...), the point value (...), a name)."""
        if self.boot_counts is None:
            raise ValueError("this report has no bootstrap replicates; use GroupStats(bootstrap=R)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if callable(quantity):
                values = np.asarray([np.asarray(quantity(r), dtype=np.float64)
                                     for r in self.replicates])
                point = np.asarray(quantity(self), dtype=np.float64)
                return values, point, getattr(quantity, "__name__", "the quantity")
            if quantity in self._by_group:
                values = self._replicate_rates()[0].get(quantity)
                if values is None:
                    raise ValueError(f"the bootstrap replicates have no {quantity!r} "
                                     f"(they need GroupStats(num_bins > 0))")
                return values, self._by_group[quantity], quantity
            headline = self._replicate_headline()
            if quantity not in headline:
                raise ValueError(
                    f"unknown quantity {quantity!r}; expected a per-group metric "
                    f"{list(self._by_group)}, a summary key {list(headline)} or a callable"
                )
            return headline[quantity], self._headline_silent()[quantity], quantity

    def undefined_replicates(self, quantity: Union[str, Callable[["FairnessReport"], float]]
                             ) -> Union[int, np.ndarray]:
        """How many bootstrap replicates an interval of ``quantity`` leaves out: those in
        which it is undefined while the data define it (an int, or per group for a per-group
        metric)."""
        values, point, _ = self._replicate_values(quantity)
        left = (np.isnan(values) & ~np.isnan(point)).sum(axis=0)
        return int(left) if np.ndim(left) == 0 else left

    def _bounds(self, values: Dict[str, np.ndarray], points: Dict[str, np.ndarray],
                level: float) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """Percentile bounds of each named figure, leaving out (and counting) the replicates
        where it is undefined; warns about left-out replicates and too few replicates."""
        total = int(self.boot_counts.shape[0])
        if total < 2:
            raise ValueError(f"an interval needs at least 2 bootstrap replicates, got {total}")
        needed = math.ceil(2.0 / (1.0 - level) - 1e-9)
        left_out, too_few, out = [], [], {}
        for name, vals in values.items():
            vals = np.asarray(vals, dtype=np.float64)
            defined = ~np.isnan(np.asarray(points[name], dtype=np.float64))
            used = (~np.isnan(vals)).sum(axis=0)
            left = int(np.max(np.where(defined, total - used, 0), initial=0))
            if left:
                left_out.append(f"{name}: {left}")
            lo, hi = _percentiles(vals, level)
            scarce = defined & (used < 2)
            lo, hi = np.where(scarce, np.nan, lo), np.where(scarce, np.nan, hi)
            fewest = int(np.min(np.where(defined, used, total), initial=total))
            if np.any(defined) and fewest < needed:
                too_few.append((fewest, name))
            out[name] = (lo, hi)
        if left_out:
            warnings.warn(REPLICATES_LEFT_OUT.format(total=total, details="; ".join(left_out)),
                          IntervalWarning, stacklevel=3)
        if too_few:
            used, name = min(too_few)
            warnings.warn(TOO_FEW_REPLICATES.format(level=level, name=name, used=used,
                                                    needed=needed),
                          IntervalWarning, stacklevel=3)
        return out

    def interval(self, quantity: Union[str, Callable[["FairnessReport"], float]],
                 *,
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
        ndarray, shape (..., 2): lower and upper bounds. NaN where the data leave the figure
        undefined, or fewer than 2 replicates define it.

        Warns
        -----
        IntervalWarning
            Replicates in which the figure is undefined (a group that the data define drew no
            rows in them) are left out, never scored 0: the warning gives their number
            (:meth:`undefined_replicates` too). Also when the replicates left are too few for
            the level's tails (fewer than ``2 / (1 - level)``, 40 at 95 %).

        Notes
        -----
        Percentile intervals of a gap (an absolute difference or a min/max ratio) are biased
        away from perfect parity: resampling noise can only widen a gap near 0, so such an
        interval can lie entirely above the point estimate.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        values, point, name = self._replicate_values(quantity)
        lo, hi = self._bounds({name: values}, {name: point}, level)[name]
        return np.stack([lo, hi], axis=-1)

    # ---------------------------------------------------------------- tables
    def to_pandas(self):
        """A DataFrame: one row per group plus ``overall``, one column per rate (multi-class:
        ``rate[k]`` per class)."""
        import pandas as pd

        columns = {}
        for name in self._by_group:
            values = np.concatenate([self._by_group[name], self._overall[name]], axis=0)
            if values.ndim == 1:
                columns[name] = values
            else:
                for k in range(values.shape[1]):
                    columns[f"{name}[{k}]"] = values[:, k]
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
        if self.num_invalid:
            lines.append(f"rows left out: {self.num_invalid:g}")
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
