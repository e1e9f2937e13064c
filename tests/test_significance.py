"""Permutation tests of gaps from the counts: exactness, calibration under true nulls, power,
Holm's correction and the report's thin methods."""
import numpy as np
import pytest
from scipy.stats import hypergeom

from mxfair.metrics import FairnessReport, GroupStats
from mxfair.metrics import significance as sig

RATES = ("selection_rate", "true_positive_rate", "false_positive_rate", "true_negative_rate",
         "false_negative_rate", "positive_predictive_value", "negative_predictive_value",
         "false_discovery_rate", "false_omission_rate", "accuracy")


def counts_of(y, d, g, G, K=2):
    """Confusion counts (G, K, K) of labels y, decisions d, groups g."""
    c = np.zeros((G, K, K))
    np.add.at(c, (g, y, d), 1)
    return c


def hist_report(y, s, g, G, bins=50):
    """A report with score histograms, built by GroupStats (probabilities in [0, 1])."""
    stats = GroupStats(G, num_bins=bins, from_logits=False)
    stats.update(y.astype(np.float32), s.astype(np.float32), g.astype(np.float32))
    return stats.report()


def numpy_hist_report(y, s, g, G, bins):
    """The same report as :func:`hist_report`, binned with NumPy (cheaper in simulations)."""
    b = np.clip(np.floor(s * bins).astype(int), 0, bins - 1)
    hist, sums = np.zeros((G, 2, bins)), np.zeros((G, bins))
    np.add.at(hist, (g, y, b), 1)
    np.add.at(sums, (g, b), s)
    return FairnessReport(counts_of(y, (s >= 0.5).astype(int), g, G), hist=hist, score_sums=sums)


def rejection_rate(make, metric, sets, B=199, **kwargs):
    """Share of ``sets`` seeded data sets in which the test rejects at 0.05."""
    rs = np.random.RandomState(12345)
    p = np.array([sig.p_value(make(rs), metric, permutations=B, seed=i, **kwargs)
                  for i in range(sets)])
    assert np.all((p > 0) & (p <= 1))
    return float(np.mean(p <= 0.05))


# ---------------------------------------------------------------- the observed statistic
@pytest.mark.parametrize("K", [2, 3])
def test_observed_gap_is_the_reports(K):
    rs = np.random.RandomState(0)
    rep = FairnessReport(rs.randint(0, 30, (4, K, K)).astype(float))
    rates = RATES if K == 2 else sig._MULTICLASS
    for metric in rates:
        for method in sig.METHODS:
            t = sig.permutation_test(rep, metric, method=method, permutations=50)
            assert t.observed == pytest.approx(rep.difference(metric, method=method), abs=1e-12)
            t = sig.permutation_test(rep, metric, kind="ratio", method=method, permutations=50)
            assert t.observed == pytest.approx(rep.ratio(metric, method=method), abs=1e-12)
    if K == 2:
        for agg in sig.AGGREGATES:
            t = sig.permutation_test(rep, "equalized_odds", agg=agg, permutations=50)
            assert t.observed == pytest.approx(rep.equalized_odds_difference(agg=agg))
            t = sig.permutation_test(rep, "equalized_odds", kind="ratio", agg=agg,
                                     permutations=50)
            assert t.observed == pytest.approx(rep.equalized_odds_ratio(agg=agg))
        t = sig.permutation_test(rep, "balanced_accuracy", permutations=50)
        assert t.observed == pytest.approx(rep.difference("balanced_accuracy"))


def test_auc_and_mean_score_gaps_are_the_reports():
    rs = np.random.RandomState(1)
    g = rs.randint(0, 3, 600)
    y = rs.randint(0, 2, 600)
    s = np.clip(0.3 * y + 0.1 * g + 0.5 * rs.rand(600), 0, 1)
    rep = hist_report(y, s, g, 3)
    t = sig.permutation_test(rep, "auc_difference", permutations=20)
    assert t.observed == pytest.approx(rep.difference("auc"), abs=1e-12)
    np.testing.assert_allclose(numpy_hist_report(y, s, g, 3, 50).hist, rep.hist)
    means = [s[g == k].mean() for k in range(3)]
    t = sig.permutation_test(rep, "mean_score_difference", permutations=20)
    assert t.observed == pytest.approx(max(means) - min(means), abs=1e-6)


def test_undefined_groups_are_left_out_as_the_report_does():
    # group 2 has no positive label: its TPR is undefined in every permutation too
    counts = np.array([[[30, 10], [5, 25]], [[20, 20], [10, 10]], [[15, 5], [0, 0]]], float)
    rep = FairnessReport(counts)
    with pytest.warns(UserWarning):
        expected = rep.difference("true_positive_rate")
    t = sig.permutation_test(rep, "true_positive_rate", permutations=500)
    assert t.observed == pytest.approx(expected)
    assert np.all(np.isfinite(t.null_draws))


# ------------------------------------------------------------------ the drawn tables
def test_drawn_tables_keep_margins_and_follow_the_hypergeometric_law():
    table = np.array([[3, 0, 7], [10, 5, 0], [0, 0, 0], [2, 8, 4]])
    drawn = sig._draw_tables(table, 20000, np.random.default_rng(0))
    assert drawn.shape == (20000, 4, 3)
    np.testing.assert_array_equal(drawn.sum(axis=2), np.broadcast_to(table.sum(1), (20000, 4)))
    np.testing.assert_array_equal(drawn.sum(axis=1), np.broadcast_to(table.sum(0), (20000, 3)))
    # each cell's marginal law: hypergeometric(N, column total, row total)
    N = table.sum()
    for g, c in [(0, 0), (1, 1), (3, 2)]:
        law = hypergeom(N, table[:, c].sum(), table[g].sum())
        assert drawn[:, g, c].mean() == pytest.approx(law.mean(), abs=0.05)
        assert drawn[:, g, c].var() == pytest.approx(law.var(), rel=0.05)


def test_p_value_matches_the_exact_hypergeometric_tail():
    # two groups: the DP gap is |x/n0 - (m - x)/n1|, x ~ hypergeometric given the margins
    n0, n1, x0, x1 = 40, 90, 22, 30
    counts = np.array([[[n0 - x0, x0], [0, 0]], [[n1 - x1, x1], [0, 0]]], float)
    m = x0 + x1
    law = hypergeom(n0 + n1, m, n0)
    xs = np.arange(max(0, m - n1), min(m, n0) + 1)
    gaps = np.abs(xs / n0 - (m - xs) / n1)
    exact = law.pmf(xs)[gaps >= abs(x0 / n0 - x1 / n1) - 1e-12].sum()
    p = sig.p_value(counts, "selection_rate", permutations=40000, seed=3)
    assert p == pytest.approx(exact, abs=0.006)


def test_p_value_matches_a_row_permutation_loop():
    rs = np.random.RandomState(2)
    n = 300
    g, y = rs.randint(0, 3, n), rs.randint(0, 2, n)
    d = (rs.rand(n) < 0.3 + 0.2 * y + 0.1 * (g == 1)).astype(int)
    obs = FairnessReport(counts_of(y, d, g, 3)).difference("true_positive_rate")
    draws = []
    pos = np.flatnonzero(y == 1)
    for _ in range(4000):  # permute group ids within the positives
        gp = g.copy()
        gp[pos] = rs.permutation(g[pos])
        tpr = [d[(gp == k) & (y == 1)].mean() for k in range(3)]
        draws.append(max(tpr) - min(tpr))
    loop = (1 + np.sum(np.array(draws) >= obs - 1e-12)) / 4001
    p = sig.p_value(counts_of(y, d, g, 3), "equal_opportunity_difference", permutations=20000)
    assert p == pytest.approx(loop, abs=0.02)


# ------------------------------------------------------------ calibration under true nulls
def _dp_null(rs):  # decisions independent of the group; unequal sizes and base rates
    g = np.repeat([0, 1], [150, 850])
    y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
    return counts_of(y, (rs.rand(g.size) < 0.3).astype(int), g, 2)


def _tpr_null(rs):  # equal TPR, unequal base rates and FPR: DP and FPR differ
    g = np.repeat([0, 1], [300, 700])
    y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
    p = np.where(y == 1, 0.7, np.where(g == 0, 0.1, 0.3))
    return counts_of(y, (rs.rand(g.size) < p).astype(int), g, 2)


def _eo_null(rs):  # three groups, equal TPR and FPR, base rates 0.2, 0.4, 0.6
    g = np.repeat([0, 1, 2], [100, 300, 600])
    y = (rs.rand(g.size) < np.array([0.2, 0.4, 0.6])[g]).astype(int)
    return counts_of(y, (rs.rand(g.size) < np.where(y == 1, 0.7, 0.2)).astype(int), g, 3)


def _ba_null(rs):  # equal balanced accuracy (0.75) from different TPR and FPR
    g = np.repeat([0, 1], [300, 700])
    y = (rs.rand(g.size) < np.where(g == 0, 0.3, 0.5)).astype(int)
    p = np.where(y == 1, np.where(g == 0, 0.8, 0.6), np.where(g == 0, 0.3, 0.1))
    return counts_of(y, (rs.rand(g.size) < p).astype(int), g, 2)


@pytest.mark.parametrize("make, metric", [
    (_dp_null, "demographic_parity_difference"),
    (_dp_null, "demographic_parity_ratio"),
    (_tpr_null, "equal_opportunity_difference"),
    (_eo_null, "equalized_odds_difference"),
    (_eo_null, "false_positive_rate"),
    (_ba_null, "balanced_accuracy"),
])
def test_rejection_rate_under_a_true_null_is_nominal(make, metric):
    rate = rejection_rate(make, metric, sets=1000)
    assert 0.03 <= rate <= 0.07, rate


def _mean_null(rs):  # equal mean score; the small group is far more spread
    g = np.repeat([0, 1], [100, 900])
    y = rs.randint(0, 2, g.size)
    s = np.clip(0.5 + np.where(g == 0, 0.3, 0.05) * rs.randn(g.size), 0, 1)
    return numpy_hist_report(y, s, g, 2, bins=20)


def _auc_null(rs):  # equal AUC (Φ(1/√2)) from differently shaped scores and base rates
    g = np.repeat([0, 1], [300, 900])
    y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
    z = rs.randn(g.size)
    x = np.where(g == 0, z + y, np.where(y == 1, 3 * z + np.sqrt(5), z))
    return numpy_hist_report(y, 1 / (1 + np.exp(-(x - 0.5))), g, 2, bins=20)


def test_studentized_mean_score_is_calibrated_where_the_plain_test_is_not():
    assert 0.03 <= rejection_rate(_mean_null, "mean_score", sets=500) <= 0.07
    plain = rejection_rate(_mean_null, "mean_score", sets=200, studentized=False)
    assert plain > 0.25  # the plain permutation test mistakes the spread for a gap


def test_studentized_auc_is_calibrated_with_unequal_base_rates():
    assert 0.03 <= rejection_rate(_auc_null, "auc_difference", sets=500) <= 0.07


def test_power_against_planted_gaps():
    def dp_gap(rs):  # selection rates 0.30 and 0.40
        g = np.repeat([0, 1], [500, 500])
        d = (rs.rand(g.size) < np.where(g == 0, 0.3, 0.4)).astype(int)
        return counts_of(rs.randint(0, 2, g.size), d, g, 2)

    def tpr_gap(rs):  # TPR 0.6 and 0.75, base rates 0.2 and 0.5
        g = np.repeat([0, 1], [500, 500])
        y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
        p = np.where(y == 1, np.where(g == 0, 0.6, 0.75), 0.2)
        return counts_of(y, (rs.rand(g.size) < p).astype(int), g, 2)

    assert rejection_rate(dp_gap, "demographic_parity_difference", sets=200) > 0.9
    assert rejection_rate(tpr_gap, "equal_opportunity_difference", sets=200) > 0.5


# ---------------------------------------------------------------------------- contracts
def test_p_value_is_never_zero_and_reproducible():
    counts = np.array([[[500, 0], [0, 500]], [[0, 500], [500, 0]]], float)  # gap 1
    p = sig.p_value(counts, "accuracy", permutations=99, seed=4)
    assert p == pytest.approx(1 / 100)
    a = sig.permutation_test(_tpr_null(np.random.RandomState(0)), "true_positive_rate",
                             permutations=300, seed=7)
    b = sig.permutation_test(_tpr_null(np.random.RandomState(0)), "true_positive_rate",
                             permutations=300, seed=7)
    np.testing.assert_array_equal(a.null_draws, b.null_draws)
    assert a.p_value == b.p_value


def test_a_single_defined_group_gives_nan():
    counts = np.array([[[10, 5], [3, 7]], [[0, 0], [0, 0]]], float)
    assert np.isnan(sig.p_value(counts, "selection_rate", permutations=50))


def test_bad_inputs_are_refused_clearly():
    rs = np.random.RandomState(0)
    weighted = FairnessReport(rs.rand(2, 2, 2) * 10)
    with pytest.raises(ValueError, match="unweighted counts"):
        sig.p_value(weighted, "selection_rate")
    counts = rs.randint(1, 9, (2, 2, 2)).astype(float)
    with pytest.raises(ValueError, match="no permutation test for 'ece'"):
        sig.p_value(counts, "ece")
    with pytest.raises(ValueError, match="num_bins > 0"):
        sig.p_value(FairnessReport(counts), "auc")
    with pytest.raises(ValueError, match="binary reports only"):
        sig.p_value(rs.randint(1, 9, (2, 3, 3)).astype(float), "false_positive_rate")
    with pytest.raises(ValueError, match="permutations must be a positive integer"):
        sig.p_value(counts, "selection_rate", permutations=0)
    with pytest.raises(ValueError, match="is a difference"):
        sig.p_value(counts, "demographic_parity_difference", kind="ratio")
    with pytest.raises(ValueError, match="method must be one of"):
        sig.p_value(counts, "selection_rate", method="pairwise")


def test_holm_against_hand_computed_values():
    np.testing.assert_allclose(sig.holm([0.01, 0.04, 0.03, 0.005]),
                               [0.03, 0.06, 0.06, 0.02])
    out = sig.holm([0.2, np.nan, 0.01])
    np.testing.assert_allclose(out[[0, 2]], [0.2, 0.02])
    assert np.isnan(out[1])
    assert sig.holm([0.6, 0.9]).tolist() == [1.0, 1.0]


def test_gap_significance_table_and_the_reports_methods():
    rep = FairnessReport(_tpr_null(np.random.RandomState(3)))
    table = sig.gap_significance(rep, permutations=999)
    assert list(table["gap"]) == [g for g in sig.SUMMARY_GAPS if g != "auc_difference"]
    np.testing.assert_allclose(table["p_holm"], sig.holm(table["p_value"]))
    assert "Holm" in table.attrs["correction"]
    assert table.set_index("gap").loc["demographic_parity_difference", "p_value"] < 0.01
    assert rep.p_value("demographic_parity_difference", permutations=999) == pytest.approx(
        table.set_index("gap").loc["demographic_parity_difference", "p_value"])
    summary = rep.summary(p_values=True, permutations=999)
    for gap in table["gap"]:
        assert summary[f"{gap}_p"] == pytest.approx(table.set_index("gap").loc[gap, "p_value"])
        assert f"{gap}_p_holm" in summary
    frame = rep.to_pandas(p_values=True, permutations=999)
    assert {"selection_rate_p", "true_positive_rate_p"} <= set(frame.columns)
    assert np.isnan(frame.loc["overall", "selection_rate_p"])
    assert "selection_rate_p" not in rep.to_pandas().columns


def test_multiclass_table_keeps_the_gaps_it_can_test():
    rs = np.random.RandomState(6)
    rep = FairnessReport(rs.randint(5, 40, (3, 3, 3)).astype(float))
    table = sig.gap_significance(rep, permutations=199)
    assert list(table["gap"]) == ["demographic_parity_difference", "demographic_parity_ratio",
                                  "equal_opportunity_difference"]
    assert set(rep.summary(p_values=True, permutations=99)) >= {
        "demographic_parity_difference_p", "equal_opportunity_difference_p_holm"}


def test_group_p_values_flag_the_deviating_group():
    rs = np.random.RandomState(5)
    g = np.repeat([0, 1, 2], 400)
    d = (rs.rand(g.size) < np.array([0.3, 0.3, 0.5])[g]).astype(int)
    p = sig.group_p_values(counts_of(rs.randint(0, 2, g.size), d, g, 3),
                           metrics=["selection_rate"], permutations=2000)["selection_rate_p"]
    assert p[2] < 0.01 and p[2] < p[0] and p[2] < p[1]
