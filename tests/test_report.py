"""FairnessReport: rates and gaps against fairlearn 0.9.0, sklearn and NumPy references."""
import warnings

import fairlearn.metrics as flm
import mxnet as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, multilabel_confusion_matrix, roc_auc_score

from mxfair.metrics import (
    SUMMARY_KEYS,
    AUCResolutionWarning,
    FairnessReport,
    GroupStats,
    IntervalWarning,
    ScoreScaleWarning,
    SmallGroupWarning,
    UndefinedRateWarning,
    confusion_rates,
)
from mxfair.metrics.report import histogram_rates

FAIRLEARN_METRICS = {
    "selection_rate": flm.selection_rate,
    "true_positive_rate": flm.true_positive_rate,
    "false_positive_rate": flm.false_positive_rate,
    "true_negative_rate": flm.true_negative_rate,
    "false_negative_rate": flm.false_negative_rate,
    "accuracy": accuracy_score,
}


def both_labels_data(rs, G, n_per_group):
    """Labels, hard predictions and groups where every group has both labels."""
    g = np.repeat(np.arange(G), n_per_group)
    y = rs.randint(0, 2, g.size)
    y[::n_per_group], y[1::n_per_group] = 0, 1  # the first two rows of each group
    yp = rs.randint(0, 2, g.size)
    perm = rs.permutation(g.size)
    return y[perm], yp[perm], g[perm]


def report_of(y, yp, g, G, w=None, **kwargs):
    kwargs.setdefault("from_logits", False)  # hard predictions or probabilities
    stats = GroupStats(G, **kwargs)
    stats.update(y, yp, g, w)
    return stats.report()


def metric_frame(y, yp, g, w=None):
    params = None if w is None else {k: {"sample_weight": w} for k in FAIRLEARN_METRICS}
    return flm.MetricFrame(metrics=FAIRLEARN_METRICS, y_true=y, y_pred=yp,
                           sensitive_features=g, sample_params=params)


# ------------------------------------------------------------------------ against fairlearn
@settings(max_examples=30, deadline=None)
@given(G=st.integers(2, 5), n_per_group=st.integers(3, 40), weighted=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_rates_and_gaps_match_fairlearn(G, n_per_group, weighted, seed):
    rs = np.random.RandomState(seed)
    y, yp, g = both_labels_data(rs, G, n_per_group)
    w = rs.rand(y.size) + 0.1 if weighted else None
    rep = report_of(y, yp, g, G, w)
    mf = metric_frame(y, yp, g, w)
    for name in FAIRLEARN_METRICS:
        np.testing.assert_allclose(rep[name], mf.by_group[name].to_numpy(), atol=1e-9)
        np.testing.assert_allclose(rep.overall[name], mf.overall[name], atol=1e-9)
        for method in ("between_groups", "to_overall"):
            assert rep.difference(name, method=method) == pytest.approx(
                mf.difference(method=method)[name], abs=1e-9)
            expected_ratio = mf.ratio(method=method)[name]
            if np.isfinite(expected_ratio):
                assert rep.ratio(name, method=method) == pytest.approx(expected_ratio, abs=1e-9)
    summary = rep.summary()
    assert summary["demographic_parity_difference"] == pytest.approx(
        flm.demographic_parity_difference(y, yp, sensitive_features=g, sample_weight=w),
        abs=1e-9)
    assert summary["equalized_odds_difference"] == pytest.approx(
        flm.equalized_odds_difference(y, yp, sensitive_features=g, sample_weight=w), abs=1e-9)
    assert summary["equal_opportunity_difference"] == pytest.approx(
        mf.difference()["true_positive_rate"], abs=1e-9)


def test_one_group_has_no_gap():
    rs = np.random.RandomState(0)
    y, yp, g = both_labels_data(rs, 1, 50)
    rep = report_of(y, yp, g, 1)
    mf = metric_frame(y, yp, g)
    assert rep.difference("selection_rate") == 0.0 == mf.difference()["selection_rate"]
    assert rep.ratio("true_positive_rate") == 1.0 == mf.ratio()["true_positive_rate"]
    assert rep.difference("true_positive_rate", method="to_overall") == 0.0


def test_group_without_positives_is_nan_with_a_warning_where_fairlearn_says_zero():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 1, 0])
    yp = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0])
    g = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])  # group 1 has no positive label
    rep = report_of(y, yp, g, 3)
    with pytest.warns(UndefinedRateWarning, match=r"true_positive_rate is undefined .*\['1'\]"):
        tpr = rep["true_positive_rate"]
    np.testing.assert_allclose(tpr, [0.5, np.nan, 0.5])
    # fairlearn 0.9.0 reports TPR = 0 for that group, silently, and so a gap of 0.5
    fl_tpr = flm.MetricFrame(metrics=flm.true_positive_rate, y_true=y, y_pred=yp,
                             sensitive_features=g)
    assert fl_tpr.by_group.to_numpy().tolist() == [0.5, 0.0, 0.5]
    assert fl_tpr.difference() == 0.5
    # mxfair leaves the group out of the gap and says so
    with pytest.warns(UndefinedRateWarning, match=r"difference of true_positive_rate leaves out"):
        assert rep.difference("true_positive_rate") == 0.0
    # the other rates of that group stay defined, and agree with fairlearn
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedRateWarning)
        assert rep["false_positive_rate"][1] == pytest.approx(2 / 3)
        assert rep.difference("selection_rate") == pytest.approx(
            flm.demographic_parity_difference(y, yp, sensitive_features=g))


def test_all_groups_undefined_gives_nan_and_eo_uses_the_defined_part():
    rep = report_of(np.zeros(4), np.array([1, 0, 1, 1]), np.array([0, 0, 1, 1]), 2)
    with pytest.warns(UndefinedRateWarning):
        assert np.isnan(rep.difference("true_positive_rate"))
        assert rep.equalized_odds_difference() == pytest.approx(0.5)  # FPR 0.5 vs 1.0
        assert rep.equalized_odds_difference(agg="mean") == pytest.approx(0.5)


def test_empty_group_is_nan_and_left_out():
    rep = report_of([1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 2, 2], 3)
    with pytest.warns(UndefinedRateWarning, match="the group has no rows"):
        assert np.isnan(rep["selection_rate"][1])
    with pytest.warns(UndefinedRateWarning):
        assert rep.difference("selection_rate") == pytest.approx(0.5)


# --------------------------------------------------------------------------- hand-built
def test_confusion_rates_closed_forms():
    # group 0: TN=3, FP=1, FN=2, TP=4
    rates = confusion_rates(np.array([[[3.0, 1.0], [2.0, 4.0]]]))
    expected = {
        "count": 10, "n_pos": 6, "n_neg": 4, "selection_rate": 0.5,
        "true_positive_rate": 4 / 6, "false_positive_rate": 1 / 4, "true_negative_rate": 3 / 4,
        "false_negative_rate": 2 / 6, "positive_predictive_value": 4 / 5,
        "negative_predictive_value": 3 / 5, "false_discovery_rate": 1 / 5,
        "false_omission_rate": 2 / 5, "accuracy": 7 / 10,
        "balanced_accuracy": (4 / 6 + 3 / 4) / 2,
    }
    for name, value in expected.items():
        assert rates[name][0] == pytest.approx(value, abs=1e-12), name


def test_equalized_odds_and_ratios_three_groups_hand_built():
    # TPR by group: 1/2, 1, 0; FPR: 0, 1/2, 1/2
    counts = np.array([
        [[2, 0], [1, 1]],
        [[1, 1], [0, 2]],
        [[1, 1], [2, 0]],
    ], dtype=float)
    rep = FairnessReport(counts, group_names=["a", "b", "c"])
    assert rep.equalized_odds_difference() == 1.0
    assert rep.equalized_odds_difference(agg="mean") == pytest.approx(0.75)
    assert rep.equalized_odds_ratio() == 0.0
    assert rep.worst_group("accuracy") == ("c", 0.25)
    assert rep.worst_group("false_positive_rate")[0] == "b"
    frame = rep.to_pandas()
    assert list(frame.index) == ["a", "b", "c", "overall"]
    assert frame.loc["overall", "count"] == 12


# ------------------------------------------------------------------------------ multi-class
def test_multiclass_one_vs_rest_against_sklearn():
    rs = np.random.RandomState(1)
    n, G, K = 600, 3, 4
    y, yp, g = rs.randint(0, K, n), rs.randint(0, K, n), rs.randint(0, G, n)
    rep = report_of(y, yp, g, G, num_classes=K)
    sel, tpr, fpr = (np.zeros((G, K)) for _ in range(3))
    for grp in range(G):
        mask = g == grp
        mcm = multilabel_confusion_matrix(y[mask], yp[mask], labels=range(K))  # (K, 2, 2)
        tn, fp, fn, tp = (mcm[:, i, j] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
        sel[grp], tpr[grp], fpr[grp] = (tp + fp) / mask.sum(), tp / (tp + fn), fp / (fp + tn)
        assert rep["accuracy"][grp] == pytest.approx(accuracy_score(y[mask], yp[mask]))
    np.testing.assert_allclose(rep["selection_rate"], sel, atol=1e-12)
    np.testing.assert_allclose(rep["true_positive_rate"], tpr, atol=1e-12)
    np.testing.assert_allclose(rep["false_positive_rate"], fpr, atol=1e-12)
    assert rep.difference("selection_rate") == pytest.approx((sel.max(0) - sel.min(0)).max())
    assert rep.ratio("selection_rate") == pytest.approx((sel.min(0) / sel.max(0)).min())
    overall_sel = np.bincount(yp, minlength=K) / n
    assert rep.difference("selection_rate", method="to_overall") == pytest.approx(
        np.abs(sel - overall_sel).max())
    summary = rep.summary()
    assert summary["equalized_odds_difference"] == pytest.approx(max(
        (tpr.max(0) - tpr.min(0)).max(), (fpr.max(0) - fpr.min(0)).max()))
    assert np.isnan(summary["selection_rate"])  # no single selection rate for K > 2


def test_multiclass_group_missing_a_class_is_left_out():
    y = np.array([0, 1, 2, 0, 1, 0, 1, 2])
    yp = np.array([0, 1, 1, 0, 0, 2, 1, 2])
    g = np.array([0, 0, 0, 1, 1, 2, 2, 2])  # group 1 has no label 2
    rep = report_of(y, yp, g, 3, num_classes=3)
    with pytest.warns(UndefinedRateWarning, match=r"\['1'\]"):
        tpr = rep["true_positive_rate"]
        gap = rep.difference("true_positive_rate")
    kept = tpr[[0, 2]]
    assert gap == pytest.approx((kept.max(0) - kept.min(0)).max())


# --------------------------------------------------------------------- histograms: AUC, ECE
def test_auc_exact_when_scores_sit_on_bin_centres():
    rs = np.random.RandomState(2)
    B, n = 20, 2000
    y, g = rs.randint(0, 2, n), rs.randint(0, 2, n)
    score = ((rs.randint(0, B, n) + 0.5 + 3 * y) / (B + 3)).clip(0, 1)
    score = (np.floor(score * B) + 0.5) / B  # ties within a bin are true ties
    rep = report_of(y, score, g, 2, num_bins=B)
    for grp in range(2):
        assert rep["auc"][grp] == pytest.approx(
            roc_auc_score(y[g == grp], score[g == grp]), abs=1e-9)
    assert rep.overall["auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-9)


@pytest.mark.parametrize("B", [10, 100, 1000])
def test_auc_with_continuous_scores_is_within_the_tie_bound(B):
    rs = np.random.RandomState(3)
    n = 3000
    y, g = rs.randint(0, 2, n), rs.randint(0, 2, n)
    score = 1 / (1 + np.exp(-(rs.randn(n) + y)))
    rep = report_of(y, score.astype(np.float32), g, 2, num_bins=B)
    h = rep.hist.sum(axis=0)
    # only positive-negative pairs in the same bin are scored 1/2 instead of 0 or 1
    bound = 0.5 * (h[0] * h[1]).sum() / (h[0].sum() * h[1].sum())
    assert abs(rep.overall["auc"] - roc_auc_score(y, score)) <= bound + 1e-12
    if B == 1000:
        assert bound < 2e-3


def test_ece_matches_a_numpy_reference():
    rs = np.random.RandomState(4)
    n, B = 5000, 15
    score = rs.rand(n).astype(np.float32)
    y = (rs.rand(n) < score ** 2).astype(int)  # miscalibrated on purpose
    g = rs.randint(0, 3, n)
    rep = report_of(y, score, g, 3, num_bins=B)

    def ece(y, s):
        bins = np.clip(np.floor(s * B), 0, B - 1).astype(int)
        total = 0.0
        for b in range(B):
            m = bins == b
            if m.any():
                total += m.sum() / len(y) * abs(y[m].mean() - s[m].astype(np.float64).mean())
        return total

    for grp in range(3):
        m = g == grp
        assert rep["ece"][grp] == pytest.approx(ece(y[m], score[m]), abs=1e-6)
    assert rep.overall["ece"] == pytest.approx(ece(y, score), abs=1e-6)
    assert rep.summary()["auc"] == rep.overall["auc"]
    assert tuple(rep.summary()) == SUMMARY_KEYS  # the one list of the summary's figures


def test_histogram_rates_hand_built():
    hist = np.array([[2.0, 0.0], [1.0, 1.0]])  # negatives in bin 0; positives in bins 0 and 1
    out = histogram_rates(hist, np.array([0.5, 0.9]))
    assert out["auc"] == pytest.approx((1 * 0.5 * 2 + 1 * 2) / 4)
    assert out["ece"] == pytest.approx((abs(1 - 0.5) + abs(1 - 0.9)) / 4)


# ------------------------------------------------------------------------------- intervals
def test_bootstrap_interval_covers_the_true_gap_at_about_the_nominal_rate():
    rs = np.random.RandomState(5)
    true_rates = np.array([0.3, 0.5])
    n, R, sims = 500, 200, 200
    covered = 0
    for sim in range(sims):
        g = rs.randint(0, 2, n)
        yp = (rs.rand(n) < true_rates[g]).astype(np.float32)
        stats = GroupStats(2, bootstrap=R, seed=sim, from_logits=False)
        stats.update(np.zeros(n), yp, g)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedRateWarning)  # no positive labels
            lo, hi = stats.report().interval("demographic_parity_difference", level=0.95)
        covered += lo <= 0.2 <= hi
    assert 0.88 <= covered / sims <= 0.99


def test_interval_shapes_names_and_callables():
    rs = np.random.RandomState(6)
    y, yp, g = both_labels_data(rs, 3, 60)
    stats = GroupStats(3, num_bins=10, bootstrap=30, seed=0, from_logits=False)
    stats.update(y, yp.astype(np.float32), g)
    rep = stats.report()
    assert rep.interval("selection_rate").shape == (3, 2)
    lo, hi = rep.interval("equalized_odds_difference", level=0.9)
    assert 0.0 <= lo <= hi <= 1.0
    # the vectorised path gives what the per-replicate reports give
    for key in ("demographic_parity_difference", "equalized_odds_difference",
                "worst_group_accuracy", "auc_difference"):
        per_report = rep.interval(lambda r, key=key: r.summary()[key])
        np.testing.assert_allclose(rep.interval(key), per_report)
    np.testing.assert_allclose(rep.interval("true_positive_rate"),
                               rep.interval(lambda r: r["true_positive_rate"]))
    summary = rep.summary()
    assert summary["accuracy_lo"] <= summary["accuracy"] <= summary["accuracy_hi"]
    assert len(rep.replicates) == 30


def test_report_errors():
    rep = report_of([1, 0], [1, 0], [0, 1], 2)
    with pytest.raises(ValueError, match="unknown metric 'auc'.*num_bins > 0"):
        rep["auc"]
    with pytest.raises(ValueError, match="method must be one of"):
        rep.difference("selection_rate", method="worst")
    with pytest.raises(ValueError, match="agg must be one of"):
        rep.equalized_odds_difference(agg="max")
    with pytest.raises(ValueError, match="no bootstrap replicates"):
        rep.interval("selection_rate")
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        rep.interval("selection_rate", level=95)
    with pytest.raises(ValueError, match=r"counts must have shape \(G, K, K\)"):
        FairnessReport(np.zeros((2, 2)))
    boot = GroupStats(2, bootstrap=2, seed=0, from_logits=False)
    boot.update([1, 0], [1, 0], [0, 1])
    with pytest.raises(ValueError, match="unknown quantity 'nope'"):
        boot.report().interval("nope")


def test_report_from_a_context(ctx):
    stats = GroupStats(2, ctx=ctx, from_logits=False)
    stats.update(mx.nd.array([1, 0, 1], ctx=ctx), mx.nd.array([1, 1, 0], ctx=ctx),
                 mx.nd.array([0, 1, 1], ctx=ctx))
    assert stats.counts.context == ctx
    rep = stats.report()
    assert isinstance(rep["selection_rate"], np.ndarray)
    np.testing.assert_allclose(rep["selection_rate"], [1.0, 0.5])


# --------------------------------------------- AUC of confident models and squeezed scores
def _auc_case(name, n=100_000, seed=0):
    """The issue's cases: labels, groups, scores and from_logits; the AUC within each group
    is about 0.80 (logits scale * N(1.2 y - 0.3 g, 1))."""
    rs = np.random.RandomState(seed)
    y, g = rs.randint(0, 2, n), rs.randint(0, 2, n)
    z = rs.randn(n) + 1.2 * y - 0.3 * g
    if name == "squeezed":
        return y, g, (0.499 + 0.002 / (1 + np.exp(-z))).astype(np.float32), False
    scores = {"ordinary": z, "scale 8": 8 * z, "scale 16": 16 * z, "20 + 5z": 20 + 5 * z}[name]
    return y, g, scores.astype(np.float32), True


def _auc_report(name, **settings):
    y, g, scores, from_logits = _auc_case(name)
    stats = GroupStats(2, from_logits=from_logits, **settings)
    stats.update(y, scores, g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScoreScaleWarning)
        return stats.report(), (y, g, scores)


@pytest.mark.parametrize("name", ["ordinary", "scale 8", "scale 16", "20 + 5z", "squeezed"])
@pytest.mark.parametrize("settings", [dict(num_bins=1000), dict(num_bins=100),
                                      dict(num_bins=1000, bin_scale="logit"),
                                      dict(num_bins=100, bin_scale="logit")])
def test_histogram_auc_is_within_0_005_of_sklearn_or_warned(name, settings):
    # before: 0.023 off at scale 8, 0.056 at scale 16, 0.50 for 0.80 at 20 + 5z, 0.70 for 0.80
    # squeezed, all without a warning
    rep, (y, g, scores) = _auc_report(name, **settings)
    truth = np.array([roc_auc_score(y[g == k], scores[g == k]) for k in (0, 1)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auc = rep["auc"]
    warned = any(issubclass(c.category, AUCResolutionWarning) for c in caught)
    error = np.abs(auc - truth).max()
    assert warned or error <= 0.005, (error, settings)
    bound, _ = rep.auc_error_bound()
    assert np.all(np.abs(auc - truth) <= bound + 1e-12)  # the bound holds


@pytest.mark.parametrize("name", ["scale 8", "scale 16", "20 + 5z"])
def test_logit_bins_resolve_a_confident_model_and_probability_bins_warn(name):
    logit, (y, g, scores) = _auc_report(name, num_bins=1000, bin_scale="logit")
    truth = np.array([roc_auc_score(y[g == k], scores[g == k]) for k in (0, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", AUCResolutionWarning)
        np.testing.assert_allclose(logit["auc"], truth, atol=0.005)
    prob, _ = _auc_report(name, num_bins=1000)
    with pytest.warns(AUCResolutionWarning, match=r"use GroupStats\(exact_auc=True\), "
                      r"bin_scale='logit'"):
        prob.difference("auc")


@pytest.mark.parametrize("name", ["ordinary", "scale 16", "20 + 5z", "squeezed"])
def test_exact_auc_equals_sklearn(name):
    rep, (y, g, scores) = _auc_report(name, exact_auc=True)
    truth = np.array([roc_auc_score(y[g == k], scores[g == k]) for k in (0, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(rep["auc"], truth, rtol=0, atol=1e-12)
        assert rep.overall["auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        assert rep.difference("auc") == pytest.approx(abs(truth[0] - truth[1]), abs=1e-12)
    assert rep.auc_error_bound()[0].tolist() == [0.0, 0.0]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 200), G=st.integers(1, 4), ties=st.booleans(), weighted=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
def test_exact_auc_matches_sklearn_with_ties_and_weights(n, G, ties, weighted, seed):
    rs = np.random.RandomState(seed)
    y, g = rs.randint(0, 2, n), rs.randint(0, G, n)
    scores = rs.randint(0, 5, n).astype(np.float64) if ties else rs.randn(n)
    w = rs.rand(n) + 0.01 if weighted else None
    stats = GroupStats(G, exact_auc=True)
    half = n // 2
    stats.update(y[:half], scores[:half], g[:half], None if w is None else w[:half])
    stats.update(y[half:], scores[half:], g[half:], None if w is None else w[half:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = stats.report()
        auc = rep["auc"]
    for k in range(G):
        m = g == k
        if len(set(y[m])) < 2:
            assert np.isnan(auc[k])
            continue
        expected = roc_auc_score(y[m], scores[m], sample_weight=None if w is None else w[m])
        assert auc[k] == pytest.approx(expected, abs=1e-12)


def test_histogram_auc_error_table_of_the_docs_holds_for_ordinary_scores():
    # docs/histograms.md: probability bins, ordinary scores: 5e-3 at 10 bins, below 1e-4 at 100
    rep10, (y, g, scores) = _auc_report("ordinary", num_bins=10)
    rep100, _ = _auc_report("ordinary", num_bins=100)
    truth = np.array([roc_auc_score(y[g == k], scores[g == k]) for k in (0, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AUCResolutionWarning)
        assert np.abs(rep10["auc"] - truth).max() < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", AUCResolutionWarning)  # 100 bins resolve it: no warning
        assert np.abs(rep100["auc"] - truth).max() < 1e-4


# ---------------------------------------------------- bootstrap: undefined is not zero
def _tiny_group_stats(R=400, seed=0):
    """5,000 rows of group 0 at score 0.2, 2 rows of group 1 at 0.9: a DP gap of exactly 1."""
    g = np.r_[np.zeros(5000), np.ones(2)]
    s = np.r_[np.full(5000, 0.2), np.full(2, 0.9)]
    stats = GroupStats(2, bootstrap=R, seed=seed, from_logits=False)
    stats.update(np.zeros(5002), s, g)
    return stats


def test_replicates_where_a_group_drew_no_rows_are_left_out_not_scored_zero():
    # before: the 95 % interval was [0.000, 1.000]: the ~13 % of replicates in which group 1
    # drew no row scored the gap as 0
    rep = _tiny_group_stats().report()
    assert rep.difference("selection_rate") == 1.0
    with pytest.warns(IntervalWarning, match=r"left out of the interval, of 400 "
                      r"\(demographic_parity_difference: \d+\).*not scored 0"):
        lo, hi = rep.interval("demographic_parity_difference")
    assert (lo, hi) == (1.0, 1.0)
    left = rep.undefined_replicates("demographic_parity_difference")
    assert 0.08 * 400 < left < 0.2 * 400  # P(no row of 2 drawn) = exp(-2) = 13.5 %
    per_group = rep.undefined_replicates("selection_rate")
    assert per_group[0] == 0 and per_group[1] == left
    with pytest.warns(IntervalWarning):
        summary = rep.summary()
    assert summary["demographic_parity_difference_lo"] == 1.0
    assert summary["worst_group_accuracy_lo"] <= summary["worst_group_accuracy_hi"]
    # the per-replicate reports (callables) follow the same rule
    with pytest.warns(IntervalWarning):
        np.testing.assert_array_equal(
            rep.interval(lambda r: r.difference("selection_rate")), [1.0, 1.0])


def test_a_gap_defined_by_one_group_in_the_data_stays_defined_in_replicates():
    # only group 0 has positives: the TPR gap is over one group (0) in the data and in every
    # replicate where group 0 has positives; group 1 lacking positives leaves nothing out
    y = np.r_[np.ones(50), np.zeros(50), np.zeros(30)]
    g = np.r_[np.zeros(100), np.ones(30)]
    s = np.r_[np.full(50, 0.9), np.full(80, 0.1)]
    stats = GroupStats(2, bootstrap=50, seed=1, from_logits=False)
    stats.update(y, s, g)
    rep = stats.report()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedRateWarning)
        assert rep.undefined_replicates("equal_opportunity_difference") == 0


def test_too_few_replicates_for_an_interval_are_warned_and_one_is_refused():
    stats = _tiny_group_stats(R=10)
    with pytest.warns(IntervalWarning, match=r"95% interval of selection_rate rests on \d+ "
                      r"bootstrap replicate\(s\); its tails need at least 40"):
        stats.report().interval("selection_rate")
    counts = np.array([[[3.0, 1.0], [1.0, 3.0]]])
    rep = FairnessReport(counts, boot_counts=counts[None])
    with pytest.raises(ValueError, match="an interval needs at least 2 bootstrap replicates"):
        rep.interval("selection_rate")


# ------------------------------------------------------------------------ min_count
def test_min_count_leaves_small_groups_out_of_gaps_summary_and_worst_group():
    # an 18-row group with an extreme rate: before there was no way to keep it out of the gap
    y = np.r_[np.tile([0, 1], 100), np.tile([0, 1], 9)]
    yp = np.r_[np.tile([0, 1], 50), np.tile([1, 0], 50), np.tile([1, 0], 9)]
    g = np.r_[np.zeros(100), np.ones(100), np.full(18, 2)]
    full = report_of(y, yp, g, 3)
    assert full.equalized_odds_difference() == 1.0  # group 2 gets everything wrong
    rep = report_of(y, yp, g, 3, min_count=30)
    with pytest.warns(SmallGroupWarning, match=r"leaves out group\(s\) \['2'\] with a count "
                      r"below min_count=30 \(counts \[18.0\]\)"):
        eo = rep.equalized_odds_difference()
    tpr = rep["true_positive_rate"][:2]  # groups 0 and 1 only
    fpr = rep["false_positive_rate"][:2]
    assert eo == pytest.approx(max(np.ptp(tpr), np.ptp(fpr)))
    with pytest.warns(SmallGroupWarning):
        assert rep.worst_group("accuracy")[0] in ("0", "1")
        summary = rep.summary()
    assert summary["worst_group_accuracy"] == 0.0 == full.summary()["worst_group_accuracy"]
    np.testing.assert_array_equal(rep["count"], [100, 100, 18])  # the rates stay reported
    assert rep.min_count == 30 and full.min_count == 0
    # the default (0) compares every group, as fairlearn does
    mf = metric_frame(y, yp, g)
    assert full.difference("accuracy") == pytest.approx(mf.difference()["accuracy"])


def test_min_count_is_checked():
    with pytest.raises(ValueError, match="min_count must be a finite number >= 0"):
        FairnessReport(np.ones((2, 2, 2)), min_count=np.nan)
