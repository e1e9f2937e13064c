"""Significance of fairness gaps: permutation tests drawn from the counts, Holm's correction.

A gap between groups is a function of a few counts per group, so the permutation distribution
of a gap under "the groups do not differ" can be drawn from the counts alone: permuting the
group ids of the rows (within a stratum) keeps every margin, and the counts that each group
then receives follow a multivariate hypergeometric distribution. Ten thousand permutations
cost a few milliseconds and no pass over the data.

Which null each test is exact for
---------------------------------
Every binary rate of a report is the share of rows with an outcome ``A`` among the rows of a
stratum ``S``: selection rate = P(pred = 1), TPR = P(pred = 1 | y = 1), FPR = P(pred = 1 | y = 0),
PPV = P(y = 1 | pred = 1), NPV = P(y = 0 | pred = 0), accuracy = P(pred = y), and their
complements. For a binary ``A``, "equal rate in every group" is the same statement as "``A`` is
independent of the group within ``S``", and under it the group ids are exchangeable within
``S``; so the test that permutes group ids within ``S`` (the counts of ``A`` per group then
follow a multivariate hypergeometric law given the margins) is **exact** for that null, at any
sample size, with unequal group sizes and unequal base rates (TPR and FPR are taken within
the label strata, so a difference in base rates is never mistaken for a gap).

- ``demographic_parity``: pred ⟂ group (all rows).
- ``true_positive_rate``/``false_negative_rate`` (equal opportunity): pred ⟂ group | y = 1.
- ``false_positive_rate``/``true_negative_rate``: pred ⟂ group | y = 0.
- ``equalized_odds``: pred ⟂ group | y, both strata drawn independently; the statistic is the
  max (or mean) of the TPR and FPR gaps, as the reported figure.
- PPV/FDR within pred = 1, NPV/FOR within pred = 0, accuracy: correct ⟂ group.
- A difference and a ratio of the same rate test the same null with a different statistic
  (a ratio is extreme when small).

Where "equal metric" does not make the groups exchangeable -- balanced accuracy (the mean of
two rates from two strata), AUC and the mean score (two score distributions can have the same
AUC or mean and differ otherwise) -- the plain permutation test is not valid: it rejects
because the distributions differ, not because the metric does (DiCiccio, Vasudevan, Basu,
Kenthapadi and Agarwal, "Evaluating Fairness Using Permutation Tests", KDD 2020). There the
statistic is studentized, which makes it asymptotically pivotal under both the permutation
distribution and the sampling distribution: the heterogeneity (Wald) statistic
:math:`Q = \\sum_g (\\hat\\theta_g - \\bar\\theta)^2 / \\hat v_g` with the inverse-variance
weighted mean :math:`\\bar\\theta` (for two groups the square of the Welch-type
:math:`(\\hat\\theta_a - \\hat\\theta_b) / \\sqrt{\\hat v_a + \\hat v_b}`), variances in closed
form (binomial for the rates of balanced accuracy, DeLong's placement variance for AUC, the
sample variance for the mean score), permuted within the label strata (AUC, balanced
accuracy) or over all rows (mean score). These tests are asymptotically valid for the
"equal metric" null and exact for the stronger exchangeability null.

Counts must be unweighted (integral): a weighted count is not a number of exchangeable rows.
AUC and the mean score need ``GroupStats(num_bins > 0)`` and are read from the histograms
(rows in one bin are treated as tied, as the report's AUC does).

p-values are ``(1 + #{T_b >= T_obs}) / (B + 1)`` (never 0). :func:`holm` adjusts a family of
p-values for multiple testing (Holm's step-down method controls the family-wise error rate).
"""
import dataclasses
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._validation import check_choice, check_numeric, check_positive_int

__all__ = [
    "GapTest",
    "GAP_NAMES",
    "SUMMARY_GAPS",
    "permutation_test",
    "p_value",
    "holm",
    "gap_significance",
    "summary_p_values",
    "group_p_values",
]

#: Named gaps and the (rate, kind) they stand for.
GAP_NAMES = {
    "demographic_parity_difference": ("selection_rate", "difference"),
    "demographic_parity_ratio": ("selection_rate", "ratio"),
    "equal_opportunity_difference": ("true_positive_rate", "difference"),
    "equal_opportunity_ratio": ("true_positive_rate", "ratio"),
    "equalized_odds_difference": ("equalized_odds", "difference"),
    "equalized_odds_ratio": ("equalized_odds", "ratio"),
    "auc_difference": ("auc", "difference"),
    "mean_score_difference": ("mean_score", "difference"),
}
#: The gaps of ``FairnessReport.summary()`` that get a p-value with ``p_values=True``.
SUMMARY_GAPS = ("demographic_parity_difference", "demographic_parity_ratio",
                "equalized_odds_difference", "equal_opportunity_difference", "auc_difference")
KINDS = ("difference", "ratio")
METHODS = ("between_groups", "to_overall")
AGGREGATES = ("worst_case", "mean")

# Binary rates as (stratum, outcome): the share of rows with the outcome among the stratum.
# stratum "all" | ("true", v) | ("pred", v); outcome ("pred", v) | ("true", v) | "correct".
_BINARY_RATES = {
    "selection_rate": ("all", ("pred", 1)),
    "true_positive_rate": (("true", 1), ("pred", 1)),
    "false_negative_rate": (("true", 1), ("pred", 0)),
    "false_positive_rate": (("true", 0), ("pred", 1)),
    "true_negative_rate": (("true", 0), ("pred", 0)),
    "positive_predictive_value": (("pred", 1), ("true", 1)),
    "false_discovery_rate": (("pred", 1), ("true", 0)),
    "negative_predictive_value": (("pred", 0), ("true", 0)),
    "false_omission_rate": (("pred", 0), ("true", 1)),
    "accuracy": ("all", "correct"),
}
_STUDENTIZED = ("balanced_accuracy", "auc", "mean_score")
_MULTICLASS = ("selection_rate", "accuracy", "true_positive_rate", "false_negative_rate",
               "positive_predictive_value", "false_discovery_rate")
_CHUNK = 2000  # permutations per chunk for the histogram tests (bounded memory)

NOT_INTEGRAL = (
    "p-values need unweighted counts: the report holds non-integral counts (sample weights?); "
    "a permutation test draws whole rows. Build the GroupStats without sample_weight"
)
NEEDS_HISTOGRAMS = "the p-value of {metric} needs score histograms: use GroupStats(num_bins > 0)"
UNKNOWN_METRIC = (
    "metric: no permutation test for {metric!r}; expected a rate {rates}, 'equalized_odds', "
    "'balanced_accuracy', 'auc', 'mean_score' or a gap name {gaps}"
)
MULTICLASS_UNSUPPORTED = (
    "the p-value of {metric} is available for binary reports only; for K > 2 classes: {ok}"
)

_NULL_TEXT = {
    "all": "the {outcome} is independent of the group",
    "true": "the {outcome} is independent of the group among rows with label {v}",
    "pred": "the {outcome} is independent of the group among rows predicted {v}",
}


@dataclasses.dataclass(frozen=True, eq=False)
class GapTest:
    """The result of one permutation test of a gap.

    Attributes
    ----------
    metric : str
        The rate tested (``selection_rate``, ``equalized_odds``, ``auc`` ...).
    kind, method : str
        ``difference``/``ratio`` and ``between_groups``/``to_overall``.
    observed : float
        The gap as the report computes it.
    statistic : float
        The observed test statistic (the gap, its negative for a ratio, or the studentized Q).
    p_value : float
        ``(1 + #{T_b >= T_obs}) / (B + 1)``; NaN when fewer than two groups are defined.
    permutations : int
    test : str
        ``"exact"`` (conditional permutation, exact for the stated null) or ``"studentized"``
        (asymptotically valid for "equal metric", exact for exchangeability).
    null : str
        The null hypothesis, in words.
    null_draws : ndarray, shape (B,)
        The permutation distribution of the statistic (for plots).
    """

    metric: str
    kind: str
    method: str
    observed: float
    statistic: float
    p_value: float
    permutations: int
    test: str
    null: str
    null_draws: np.ndarray = dataclasses.field(repr=False)


# ------------------------------------------------------------------------------ drawing
def _as_counts(array: Any, what: str = "counts") -> np.ndarray:
    """Integral float64 counts as int64; refuse weighted (non-integral) counts."""
    a = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(np.abs(a - np.round(a)) > 1e-6):
        raise ValueError(NOT_INTEGRAL)
    return np.round(a).astype(np.int64)


def _draw_tables(table: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` random (G, C) tables with the row and column sums of ``table``.

    A uniformly random permutation of the group ids of the rows gives each group a
    multivariate hypergeometric share of each column; drawn group by group and column by
    column, vectorised over the permutations. Empty columns and rows are skipped.

    Returns
    -------
    ndarray, shape (size, G, C), int64
    """
    G, C = table.shape
    out = np.zeros((size, G, C), dtype=np.int64)
    cols = np.flatnonzero(table.sum(axis=0) > 0)
    rows = [g for g in range(G) if table[g].sum() > 0]
    if len(cols) == 0 or len(rows) == 0:
        return out
    if len(cols) == 1 or len(rows) == 1:  # a single column or row: nothing to permute
        out[:] = table
        return out
    remaining = np.tile(table[:, cols].sum(axis=0), (size, 1))  # (size, C') still to give
    for g in rows[:-1]:
        need = np.full(size, table[g].sum(), dtype=np.int64)
        left = remaining.sum(axis=1)
        for j, c in enumerate(cols[:-1]):
            left = left - remaining[:, j]
            x = rng.hypergeometric(remaining[:, j], left, need)
            out[:, g, c] = x
            need = need - x
        out[:, g, cols[-1]] = need
        remaining -= out[:, g, cols]
    out[:, rows[-1], cols] = remaining
    return out


# ------------------------------------------------------------------------ gap statistics
def _nan_quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        return fn(*args, **kwargs)


def _rates(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den is 0 (an undefined rate)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.broadcast_to(np.asarray(den, dtype=np.float64), num.shape)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _gap(rates: np.ndarray, overall: np.ndarray, kind: str, method: str,
         multi: bool = False) -> np.ndarray:
    """The report's gap of per-group rates (..., G), or (..., G, K) with ``multi`` (then the
    worst class, a group with an undefined class left out, as the report does).

    ``overall`` has shape (...) or (..., K). Undefined (NaN) groups are left out.
    """
    if multi:
        bad = np.isnan(rates).any(axis=-1, keepdims=True)
        rates = np.moveaxis(np.where(bad, np.nan, rates), -1, -2)  # (..., K, G)
    if kind == "difference":
        if method == "between_groups":
            gap = _nan_quiet(lambda r: np.nanmax(r, -1) - np.nanmin(r, -1), rates)
        else:
            gap = _nan_quiet(lambda r: np.nanmax(np.abs(r - overall[..., None]), -1), rates)
    elif method == "between_groups":
        gap = _nan_quiet(lambda r: np.nanmin(r, -1) / np.nanmax(r, -1), rates)
    else:
        r = _nan_quiet(lambda v: v / overall[..., None], rates)
        gap = _nan_quiet(lambda v: np.nanmin(np.where(v > 1, 1.0 / v, v), -1), r)
    if multi:
        gap = _nan_quiet(np.nanmax if kind == "difference" else np.nanmin, gap, axis=-1)
    return gap


def _defined_groups(rates: np.ndarray) -> int:
    """Groups whose rate (every class's, multi-class) is defined; rates (G,) or (G, K)."""
    bad = np.isnan(rates) if rates.ndim == 1 else np.isnan(rates).any(axis=-1)
    return int(np.count_nonzero(~bad))


class _RateTables:
    """A rate as shares of an outcome within strata: the tables to permute and the rate.

    ``tables`` is a list of (G, C) integer tables, each drawn independently; ``rates(drawn)``
    gives per-group rates (R, G) (binary) or (R, G, K) (multi-class one-vs-rest) from a list
    of drawn tables (R, G, C) in the same order, and ``overall(drawn)`` the overall rate.
    """

    def __init__(self, tables, rates, overall, null, multi=False):
        self.tables, self.rates, self.overall, self.null = tables, rates, overall, null
        self.multi = multi


def _cells(K: int, spec, v_class: int) -> np.ndarray:
    """Boolean (K, K) mask over (true, pred) cells of a stratum or outcome spec."""
    t, p = np.meshgrid(np.arange(K), np.arange(K), indexing="ij")
    if spec == "all":
        return np.ones((K, K), dtype=bool)
    if spec == "correct":
        return t == p
    axis, value = spec
    value = v_class if K > 2 else value
    return (t == value) if axis == "true" else (p == value)


def _binary_rate_tables(counts: np.ndarray, metric: str) -> _RateTables:
    """One (G, 2) table: [outcome, not outcome] within the stratum of a binary rate."""
    stratum, outcome = _BINARY_RATES[metric]
    s, o = _cells(2, stratum, 1), _cells(2, outcome, 1)
    x = (counts * (s & o)).sum(axis=(1, 2))
    n = (counts * s).sum(axis=(1, 2))
    table = np.stack([x, n - x], axis=1)

    def rates(drawn):
        d = drawn[0]
        return _rates(d[..., 0], d.sum(axis=-1))

    def overall(drawn):
        d = drawn[0].sum(axis=-2)  # (R, 2)
        return _rates(d[..., 0], d.sum(axis=-1))

    return _RateTables([table], rates, overall, _null_text(stratum, outcome))


def _null_text(stratum, outcome) -> str:
    what = ("correctness of the prediction" if outcome == "correct"
            else f"{'prediction' if outcome[0] == 'pred' else 'label'}")
    if stratum == "all":
        return _NULL_TEXT["all"].format(outcome=what)
    return _NULL_TEXT[stratum[0]].format(outcome=what, v=stratum[1])


def _multiclass_rate_tables(counts: np.ndarray, metric: str) -> _RateTables:
    """Multi-class one-vs-rest rates that one permutation scheme tests exactly."""
    G, K, _ = counts.shape
    if metric not in _MULTICLASS:
        raise ValueError(MULTICLASS_UNSUPPORTED.format(metric=metric, ok=list(_MULTICLASS)))
    if metric == "selection_rate":  # one (G, K) table of predicted classes: pred ⟂ group
        table = counts.sum(axis=1)

        def rates(drawn):
            d = drawn[0]
            return _rates(d, d.sum(axis=-1, keepdims=True))

        def overall(drawn):
            d = drawn[0].sum(axis=-2)
            return _rates(d, d.sum(axis=-1, keepdims=True))

        return _RateTables([table], rates, overall,
                           "the predicted class is independent of the group", multi=True)
    if metric == "accuracy":  # one rate per group: correct ⟂ group
        correct = np.trace(counts, axis1=1, axis2=2)
        table = np.stack([correct, counts.sum(axis=(1, 2)) - correct], axis=1)
        return _RateTables([table], lambda d: _rates(d[0][..., 0], d[0].sum(axis=-1)),
                           lambda d: _rates(d[0].sum(-2)[..., 0], d[0].sum(-2).sum(-1)),
                           _null_text("all", "correct"))
    # Recall (TPR/FNR) within each true class, precision (PPV/FDR) within each predicted class:
    # the strata of different classes are disjoint, so their tables are drawn independently.
    by_true = metric in ("true_positive_rate", "false_negative_rate")
    keep_hit = metric in ("true_positive_rate", "positive_predictive_value")
    tables = []
    for k in range(K):
        stratum = counts[:, k, :] if by_true else counts[:, :, k]  # (G, K)
        hit = stratum[:, k]
        tables.append(np.stack([hit, stratum.sum(axis=1) - hit], axis=1))

    def rates(drawn):
        col = 0 if keep_hit else 1
        return np.stack([_rates(d[..., col], d.sum(axis=-1)) for d in drawn], axis=-1)

    def overall(drawn):
        col = 0 if keep_hit else 1
        return np.stack([_rates(d.sum(-2)[..., col], d.sum(-2).sum(-1)) for d in drawn],
                        axis=-1)

    null = ("the prediction of class k is independent of the group among rows of true class k"
            if by_true else
            "the label k is independent of the group among rows predicted k")
    return _RateTables(tables, rates, overall, null + ", for every k", multi=True)


def _rate_tables(counts: np.ndarray, metric: str) -> _RateTables:
    if counts.shape[1] == 2:
        return _binary_rate_tables(counts, metric)
    return _multiclass_rate_tables(counts, metric)


def _draw_all(tables: Sequence[np.ndarray], size: int, rng) -> List[np.ndarray]:
    return [_draw_tables(t, size, rng) for t in tables]


def _observed(tables: Sequence[np.ndarray]) -> List[np.ndarray]:
    return [t[None] for t in tables]


# ----------------------------------------------------------------------------- exact tests
def _exact_rate_test(counts, metric, kind, method, B, rng) -> Tuple[float, np.ndarray, str]:
    spec = _rate_tables(counts, metric)

    def statistic(drawn):
        gap = _gap(spec.rates(drawn), spec.overall(drawn), kind, method, spec.multi)
        return gap if kind == "difference" else -gap

    observed = _observed(spec.tables)
    obs = float(statistic(observed)[0])
    if _defined_groups(spec.rates(observed)[0]) < 2:  # nothing to compare
        obs = float("nan")
    draws = statistic(_draw_all(spec.tables, B, rng))
    return obs, draws, spec.null


def _exact_eo_test(counts, kind, method, agg, B, rng) -> Tuple[float, np.ndarray, str]:
    if counts.shape[1] != 2:
        raise ValueError(MULTICLASS_UNSUPPORTED.format(metric="equalized_odds",
                                                       ok=list(_MULTICLASS)))
    tpr = _binary_rate_tables(counts, "true_positive_rate")
    fpr = _binary_rate_tables(counts, "false_positive_rate")

    def statistic(d_tpr, d_fpr):
        gaps = np.stack([_gap(s.rates(d), s.overall(d), kind, method)
                         for s, d in ((tpr, d_tpr), (fpr, d_fpr))])
        if agg == "mean":
            value = _nan_quiet(np.nanmean, gaps, axis=0)
        elif kind == "difference":
            value = _nan_quiet(np.nanmax, gaps, axis=0)
        else:
            value = _nan_quiet(np.nanmin, gaps, axis=0)
        return value if kind == "difference" else -value

    obs = float(statistic(_observed(tpr.tables), _observed(fpr.tables))[0])
    if max(_defined_groups(s.rates(_observed(s.tables))[0]) for s in (tpr, fpr)) < 2:
        obs = float("nan")
    draws = statistic(_draw_all(tpr.tables, B, rng), _draw_all(fpr.tables, B, rng))
    null = "the prediction is independent of the group within each label (TPR and FPR equal)"
    return obs, draws, null


# ----------------------------------------------------------------------- studentized tests
def _wald_q(theta: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Heterogeneity statistic Q = Σ_g (θ_g − θ̄)² / v_g over defined groups, shape (...).

    θ and v have shape (..., G); θ̄ is the inverse-variance weighted mean. NaN when fewer than
    two groups are defined.
    """
    ok = np.isfinite(theta) & np.isfinite(var)
    w = np.where(ok, 1.0 / np.where(ok, var, 1.0), 0.0)
    t = np.where(ok, theta, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * t).sum(axis=-1) / w.sum(axis=-1)
        q = (w * (t - mean[..., None]) ** 2).sum(axis=-1)
    return np.where(ok.sum(axis=-1) >= 2, q, np.nan)


def _binomial_var(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Variance of a rate x/n, with the rate shrunk to (x + 0.5)/(n + 1) so that it is never
    0 at rates of exactly 0 or 1; NaN where n = 0."""
    p = (x + 0.5) / (n + 1.0)
    return _rates(p * (1 - p), n)


def _balanced_accuracy_parts(d_pos: np.ndarray, d_neg: np.ndarray):
    """θ (BA) and its variance per group from drawn (…, G, 2) tables of y=1 [TP, FN] and
    y=0 [TN, FP]."""
    n1, n0 = d_pos.sum(-1), d_neg.sum(-1)
    tpr, tnr = _rates(d_pos[..., 0], n1), _rates(d_neg[..., 0], n0)
    var = (_binomial_var(d_pos[..., 0], n1) + _binomial_var(d_neg[..., 0], n0)) / 4.0
    return (tpr + tnr) / 2.0, var


def _delong(h0: np.ndarray, h1: np.ndarray):
    """AUC and DeLong's variance from per-bin counts of negatives h0 and positives h1 (…, B).

    Placements: a positive in bin b beats the negatives below it and ties half of those in
    b (V10); a negative in bin b is beaten by the positives above (V01). AUC = mean V10;
    var = S10/m + S01/n (sample variances of the placements), with a floor of 1/(4 m n)
    against a zero variance at perfect separation.
    """
    m, n = h1.sum(-1), h0.sum(-1)
    mm, nn = m[..., None], n[..., None]
    neg_below = np.cumsum(h0, axis=-1) - h0
    pos_above = m[..., None] - np.cumsum(h1, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v10 = (neg_below + 0.5 * h0) / nn
        v01 = (pos_above + 0.5 * h1) / mm
        auc = np.where(h1 > 0, h1 * v10, 0.0).sum(-1) / m
        s10 = np.where(h1 > 0, h1 * (v10 - auc[..., None]) ** 2, 0.0).sum(-1) / np.maximum(
            m - 1, 1)
        s01 = np.where(h0 > 0, h0 * (v01 - auc[..., None]) ** 2, 0.0).sum(-1) / np.maximum(
            n - 1, 1)
        var = np.maximum(s10 / m + s01 / n, 0.25 / (m * n))
    defined = (m > 0) & (n > 0)
    return np.where(defined, auc, np.nan), np.where(defined, var, np.nan)


def _mean_score_parts(d: np.ndarray, bin_mean: np.ndarray):
    """Mean score and its variance per group from drawn (…, G, B) bin counts; rows of a bin
    carry the bin's mean score."""
    n = d.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (d * bin_mean).sum(-1) / n
        ss = (d * (bin_mean - mean[..., None]) ** 2).sum(-1) / np.maximum(n - 1, 1)
        var = np.maximum(ss / n, 1e-12 / np.maximum(n, 1))
    return np.where(n > 0, mean, np.nan), np.where(n > 1, var, np.nan)


def _counts_of(report: Any) -> np.ndarray:
    """The (G, K, K) counts of a report, or the array itself."""
    counts = np.asarray(getattr(report, "counts", report))
    if counts.ndim != 3 or counts.shape[1] != counts.shape[2] or counts.shape[1] < 2:
        raise ValueError(f"counts must have shape (G, K, K), got {counts.shape}")
    return counts


def _histograms(report, metric: str):
    if getattr(report, "hist", None) is None:
        raise ValueError(NEEDS_HISTOGRAMS.format(metric=metric))
    return _as_counts(report.hist), np.asarray(report.score_sums, dtype=np.float64)


def _studentized_test(report, metric: str, kind: str, method: str, B: int, rng,
                      studentized: bool = True):
    """Observed statistic, B permuted statistics, the null and the observed gap (``kind``,
    ``method``) for BA, AUC or mean score.

    With ``studentized=False`` the statistic is the plain between-groups difference (kept
    for the benchmark that shows why it is not valid)."""
    counts = _as_counts(_counts_of(report))
    if metric == "balanced_accuracy":
        if counts.shape[1] != 2:
            raise ValueError(MULTICLASS_UNSUPPORTED.format(metric=metric, ok=list(_MULTICLASS)))
        tables = [counts[:, 1, ::-1], counts[:, 0, :]]  # y=1: [TP, FN]; y=0: [TN, FP]

        def parts(drawn):
            return _balanced_accuracy_parts(drawn[0], drawn[1])
        null = "balanced accuracy is equal in every group"
    elif metric == "auc":
        hist, _ = _histograms(report, metric)
        tables = [hist[:, 0, :], hist[:, 1, :]]  # within each label: (G, bins)

        def parts(drawn):
            return _delong(drawn[0], drawn[1])
        null = "AUC is equal in every group"
    else:  # mean_score
        hist, sums = _histograms(report, metric)
        pooled = hist.sum(axis=1)  # (G, bins): both labels
        total = pooled.sum(axis=0)
        bin_mean = _rates(sums.sum(axis=0), total)
        bin_mean = np.where(np.isnan(bin_mean), 0.0, bin_mean)
        tables = [pooled]

        def parts(drawn):
            return _mean_score_parts(drawn[0], bin_mean)
        null = ("the mean score is equal in every group (the statistic reads each bin's rows "
                "at the bin's mean score)")

    def statistic(drawn):
        theta, var = parts(drawn)
        if studentized:
            return _wald_q(theta, var)
        return _nan_quiet(lambda t: np.nanmax(t, -1) - np.nanmin(t, -1), theta)

    observed = _observed(tables)
    obs = float(statistic(observed)[0])
    theta = parts(observed)[0]
    overall = parts([t.sum(axis=1, keepdims=True) for t in observed])[0][..., 0]
    if metric == "mean_score":  # the reported gap from the exact sums, not the bin means
        n = pooled.sum(axis=1)
        theta, overall = _rates(sums.sum(axis=1), n)[None], _rates(sums.sum(), n.sum())[None]
    gap = float(_gap(theta, overall, kind, method)[0])
    draws = np.concatenate([
        statistic(_draw_all(tables, min(_CHUNK, B - start), rng))
        for start in range(0, B, _CHUNK)
    ])
    return obs, draws, null, gap


# ------------------------------------------------------------------------------- public API
def _resolve(metric: str, kind: Optional[str]) -> Tuple[str, str]:
    if metric in GAP_NAMES:
        rate, named_kind = GAP_NAMES[metric]
        if kind is not None and kind != named_kind:
            raise ValueError(f"{metric} is a {named_kind}; got kind={kind!r}")
        return rate, named_kind
    known = set(_BINARY_RATES) | set(_STUDENTIZED) | {"equalized_odds"}
    if metric not in known:
        raise ValueError(UNKNOWN_METRIC.format(metric=metric, rates=sorted(_BINARY_RATES),
                                               gaps=sorted(GAP_NAMES)))
    return metric, "difference" if kind is None else check_choice("kind", kind, KINDS)


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(seed)


def permutation_test(
    report: Any,
    metric: str,
    *,
    kind: Optional[str] = None,
    method: str = "between_groups",
    agg: str = "worst_case",
    permutations: int = 10000,
    seed: Any = 0,
    studentized: bool = True,
) -> GapTest:
    """Permutation test of "no difference between groups" for one gap of a report.

    Parameters
    ----------
    report : FairnessReport or ndarray of shape (G, K, K)
        Unweighted counts (and histograms for ``auc``/``mean_score``: a report of
        ``GroupStats(num_bins > 0)``).
    metric : str
        A rate (``selection_rate``, ``true_positive_rate``, ``false_positive_rate``,
        ``accuracy``, ``positive_predictive_value`` ...), ``equalized_odds``,
        ``balanced_accuracy``, ``auc``, ``mean_score``, or a gap name such as
        ``demographic_parity_difference`` (see :data:`GAP_NAMES`).
    kind : {"difference", "ratio"}, optional
        Default ``difference`` (or the kind in the gap name).
    method : {"between_groups", "to_overall"}, default "between_groups"
    agg : {"worst_case", "mean"}, default "worst_case"
        Equalized odds only: the max (ratio: min) or the mean of the TPR and FPR gaps.
    permutations : int, default 10000
        B, the number of permutations drawn.
    seed : int, optional
        Seed of the draws (``numpy.random.default_rng``); 0 by default, so a report's p-values
        are reproducible.
    studentized : bool, default True
        For ``balanced_accuracy``, ``auc`` and ``mean_score``: use the studentized statistic.
        ``False`` gives the plain permutation test of the difference, which is **not** valid
        for "equal metric" (kept to show it, see the module notes).

    Returns
    -------
    GapTest

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.metrics import FairnessReport
    >>> counts = np.array([[[40, 10], [10, 40]], [[45, 5], [30, 20]]])  # (G, true, pred)
    >>> test = permutation_test(FairnessReport(counts), "demographic_parity_difference",
    ...                         permutations=2000)
    >>> round(test.observed, 3), test.test, test.p_value < 0.01
    (0.25, 'exact', True)
    """
    rate, kind = _resolve(metric, kind)
    check_choice("method", method, METHODS)
    check_choice("agg", agg, AGGREGATES)
    B = check_positive_int("permutations", permutations)
    rng = _rng(seed)
    counts = _as_counts(_counts_of(report))
    if rate in _STUDENTIZED:
        obs_stat, draws, null, observed = _studentized_test(report, rate, kind, method, B, rng,
                                                            studentized)
        test = "studentized" if studentized else "plain (not valid for equal-metric nulls)"
    elif rate == "equalized_odds":
        obs_stat, draws, null = _exact_eo_test(counts, kind, method, agg, B, rng)
        observed = obs_stat if kind == "difference" else -obs_stat
        test = "exact"
    else:
        obs_stat, draws, null = _exact_rate_test(counts, rate, kind, method, B, rng)
        observed = obs_stat if kind == "difference" else -obs_stat
        test = "exact"
    return GapTest(rate, kind, method, float(observed), float(obs_stat),
                   _p(obs_stat, draws, B), B, test, null, draws)


def _p(observed: float, draws: np.ndarray, B: int) -> float:
    """(1 + #{T_b >= T_obs}) / (B + 1); NaN when the observed statistic is undefined. A
    permutation whose statistic is undefined counts as not extreme."""
    if not np.isfinite(observed):
        return float("nan")
    # A relative tolerance: statistics equal up to rounding count as ties (as extreme).
    tol = 1e-9 * max(1.0, abs(observed))
    extreme = np.count_nonzero(np.nan_to_num(draws, nan=-np.inf) >= observed - tol)
    return (1.0 + extreme) / (B + 1.0)


def p_value(report: Any, metric: str, **kwargs) -> float:
    """The p-value of :func:`permutation_test` (same arguments).

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.metrics import FairnessReport
    >>> counts = np.array([[[40, 10], [10, 40]], [[45, 5], [30, 20]]])
    >>> p = p_value(FairnessReport(counts), "true_positive_rate", permutations=999)
    >>> 0 < p < 0.01
    True
    """
    return permutation_test(report, metric, **kwargs).p_value


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries are left out).

    The i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    rejecting where the adjusted value is <= alpha controls the family-wise error rate at
    alpha under any dependence between the tests.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = check_numeric("p_values", p_values, ids=False, flat=False).astype(np.float64)
    if np.any(np.isfinite(p) & ((p < 0) | (p > 1))):
        raise ValueError(f"p_values must lie in [0, 1] (NaN: not tested), got values in "
                         f"[{np.nanmin(p):g}, {np.nanmax(p):g}]")
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def gap_significance(
    report: Any,
    *,
    metrics: Optional[Sequence[str]] = None,
    permutations: int = 10000,
    seed: Any = 0,
    alpha: float = 0.05,
):
    """Permutation tests of several gaps with Holm's correction across them.

    Parameters
    ----------
    report : FairnessReport
    metrics : sequence of str, optional
        Gap names or rates (see :func:`permutation_test`); by default the gaps of
        :meth:`FairnessReport.summary` (:data:`SUMMARY_GAPS`, AUC only with histograms; for
        a multi-class report those with an exact test: demographic parity, equal
        opportunity).
    permutations, seed
        As in :func:`permutation_test` (each test draws from its own stream of ``seed``).
    alpha : float, default 0.05
        Family-wise error rate of the ``reject`` column.

    Returns
    -------
    pandas.DataFrame
        One row per gap: ``gap``, ``observed``, ``p_value``, ``p_holm`` (Holm-adjusted within
        this family), ``reject`` (``p_holm <= alpha``), ``test`` and ``null``; the tests
        themselves in ``frame.attrs["tests"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.metrics import FairnessReport
    >>> counts = np.array([[[40, 10], [10, 40]], [[45, 5], [30, 20]]])
    >>> table = gap_significance(FairnessReport(counts), permutations=999)
    >>> table["gap"].tolist()
    ['demographic_parity_difference', 'demographic_parity_ratio', \
'equalized_odds_difference', 'equal_opportunity_difference']
    """
    import pandas as pd

    if metrics is None:
        metrics = [m for m in SUMMARY_GAPS
                   if m != "auc_difference" or getattr(report, "hist", None) is not None]
        if _counts_of(report).shape[1] != 2:  # the gaps with an exact multi-class test
            metrics = [m for m in metrics if GAP_NAMES[m][0] in _MULTICLASS]
    tests = [permutation_test(report, m, permutations=permutations, seed=seed)
             for m in metrics]
    p = np.array([t.p_value for t in tests])
    adjusted = holm(p)
    frame = pd.DataFrame({
        "gap": list(metrics),
        "observed": [t.observed for t in tests],
        "p_value": p,
        "p_holm": adjusted,
        "reject": adjusted <= alpha,
        "test": [t.test for t in tests],
        "null": [t.null for t in tests],
    })
    frame.attrs["tests"] = tests
    frame.attrs["correction"] = (
        f"Holm step-down over the {int(np.isfinite(p).sum())} gaps of this table "
        f"(family-wise error rate {alpha:g}); {permutations} permutations each"
    )
    return frame


def summary_p_values(report: Any, keys: Sequence[str], *, permutations: int = 10000,
                     seed: Any = 0) -> Dict[str, float]:
    """``<gap>_p`` and ``<gap>_p_holm`` for the gap names among ``keys`` (a summary's keys);
    Holm's family is those gaps. Used by ``FairnessReport.summary(p_values=True)``."""
    gaps = [k for k in keys if k in GAP_NAMES]
    if not gaps:
        raise ValueError(f"keys: none of {list(keys)[:8]} is a gap with a permutation test "
                         f"(gaps: {sorted(GAP_NAMES)})")
    if _counts_of(report).shape[1] != 2:
        gaps = [k for k in gaps if GAP_NAMES[k][0] in _MULTICLASS]
    p = np.array([p_value(report, k, permutations=permutations, seed=seed) for k in gaps])
    adjusted = holm(p)
    out = {}
    for k, raw, adj in zip(gaps, p, adjusted):
        out[f"{k}_p"], out[f"{k}_p_holm"] = float(raw), float(adj)
    return out


def group_p_values(report: Any, *,
                   metrics: Sequence[str] = ("selection_rate", "true_positive_rate",
                                             "false_positive_rate", "accuracy"),
                   permutations: int = 10000, seed: Any = 0) -> Dict[str, np.ndarray]:
    """Per-group p-values of "this group's rate equals the overall rate", Holm-adjusted across
    the groups of each rate (binary reports).

    The statistic of group g is ``|r_g - r_overall|`` under the same exact permutation scheme
    as the gap's test. A group's share of the outcome is then hypergeometric given its size
    and the stratum's total, so the test is exact for "group g against all others" when the
    others share one rate (always with two groups), and conditional on the global null
    otherwise.

    Returns
    -------
    dict of str to ndarray, shape (G,)
        ``<rate>_p`` per rate (NaN where the group's rate is undefined).
    """
    counts = _as_counts(_counts_of(report))
    if counts.shape[1] != 2:
        raise ValueError("per-group p-values need a binary report")
    rng = _rng(seed)
    B = check_positive_int("permutations", permutations)
    out = {}
    for metric in metrics:
        spec = _binary_rate_tables(counts, metric)
        obs = _observed(spec.tables)
        r_obs, o_obs = spec.rates(obs)[0], spec.overall(obs)[0]
        drawn = _draw_all(spec.tables, B, rng)
        dev = np.abs(spec.rates(drawn) - spec.overall(drawn)[:, None])  # (B, G)
        stat = np.abs(r_obs - o_obs)
        tol = 1e-9 * np.maximum(1.0, stat)
        extreme = (np.nan_to_num(dev, nan=-np.inf) >= (stat - tol)[None]).sum(axis=0)
        p = np.where(np.isfinite(stat), (1.0 + extreme) / (B + 1.0), np.nan)
        out[f"{metric}_p"] = holm(p)
    return out
