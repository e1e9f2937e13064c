"""Clarify pre-/post-training metrics and AIF360 metrics against their closed forms."""
import math

import mxnet as mx
import numpy as np
import pytest

from mxfair.metrics import aif360, clarify, data_bias
from mxfair.metrics.data_bias import clarify_divide, facet_counts

# Two facets, hand-counted: a = group "a" (TP=2, FP=1, FN=0, TN=1), d = group "d"
# (TP=1, FP=0, FN=1, TN=2).
Y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
YP = np.array([1, 1, 1, 0, 1, 0, 0, 0])
G = np.array(["a", "a", "a", "a", "d", "d", "d", "d"])


def cdiv(a, b):
    """Clarify's divide, written as in its source."""
    if b == 0 and a == 0:
        return 0.0
    if b == 0:
        return -math.inf if a < 0 else math.inf
    return a / b


# ------------------------------------------------------------------------------ the core
def test_facet_counts_layout_and_context(ctx):
    out = facet_counts(mx.nd.array([1, 0, 1, 1], ctx=ctx), mx.nd.array([1, 1, 0, 1], ctx=ctx),
                       groups=np.array([0, 1, 1, 0]), facet=1)
    counts = out["counts"]
    assert counts.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(counts[0, 0], [[0, 0], [0, 2]])  # reference: two TP
    np.testing.assert_array_equal(counts[0, 1], [[0, 1], [1, 0]])  # facet: one FP, one FN
    assert out["classes"][1] == 1


def test_facet_and_reference_selection():
    groups = np.array(["x", "y", "z", "x", "y", "z"])
    y = np.array([1, 0, 1, 1, 0, 0])
    both = facet_counts(y, groups=groups, facet="x", reference=["y"])["counts"]
    assert both.sum() == 4  # the z rows are in neither side
    rest = facet_counts(y, groups=groups, reference="z")["counts"]
    assert rest[0, 1].sum() == 4 and rest[0, 0].sum() == 2
    with pytest.raises(ValueError, match=r"facet value\(s\) \['w'\] not found in groups"):
        facet_counts(y, groups=groups, facet="w")
    with pytest.raises(ValueError, match="must be disjoint"):
        facet_counts(y, groups=groups, facet="x", reference=["x", "y"])
    with pytest.raises(ValueError, match="give facet"):
        facet_counts(y, groups=groups)
    with pytest.raises(ValueError, match="y_true has 6 rows but groups has 2"):
        facet_counts(y, groups=groups[:2], facet="x")


def test_clarify_division_rule():
    np.testing.assert_array_equal(clarify_divide([0, 3, -3, 3], [0, 0, 0, 4]),
                                  [0.0, np.inf, -np.inf, 0.75])


# ------------------------------------------------------------------------- pre-training
def test_pretraining_hand_built():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # a = group 0: P_a = (0.75, 0.25); d = group 1: P_d = (0.25, 0.75)
    out = data_bias.pretraining_bias(y, groups=g, facet=1)
    assert out["CI"] == 0.0
    assert out["DPL"] == pytest.approx(0.25 - 0.75)
    assert out["KL"] == pytest.approx(0.75 * math.log(3) + 0.25 * math.log(1 / 3))
    js = 0.5 * (2 * (0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)))
    assert out["JS"] == pytest.approx(js)
    assert out["LP"] == pytest.approx(math.sqrt(0.5 ** 2 + 0.5 ** 2))
    assert out["TVD"] == pytest.approx(0.5)
    assert out["KS"] == pytest.approx(0.5)
    assert data_bias.class_imbalance(y, groups=g, facet=[1]) == out["CI"]
    assert data_bias.kl_divergence(y, groups=g, facet=1) == out["KL"]
    assert data_bias.jensen_shannon_divergence(y, groups=g, facet=1) == out["JS"]
    assert data_bias.lp_norm(y, groups=g, facet=1) == out["LP"]
    assert data_bias.total_variation_distance(y, groups=g, facet=1) == out["TVD"]
    assert data_bias.kolmogorov_smirnov(y, groups=g, facet=1) == out["KS"]
    assert data_bias.difference_in_proportions_of_labels(y, groups=g, facet=1) == out["DPL"]


def test_class_imbalance_and_weights():
    g = np.array([0, 0, 0, 1])
    y = np.array([1, 0, 1, 1])
    assert data_bias.class_imbalance(y, groups=g, facet=1) == pytest.approx((3 - 1) / 4)
    # weights are row multiplicities: weight 3 on the facet row balances the classes
    w = np.array([1.0, 1.0, 1.0, 3.0])
    assert data_bias.class_imbalance(y, groups=g, facet=1, sample_weight=w) == 0.0
    repeated = data_bias.pretraining_bias(np.r_[y, 1, 1], groups=np.r_[g, 1, 1], facet=1)
    weighted = data_bias.pretraining_bias(y, groups=g, facet=1, sample_weight=w)
    for key in repeated:
        assert weighted[key] == pytest.approx(repeated[key]), key


def test_distances_use_label_values_both_facets_have():
    # three label values; value 2 never occurs in the facet: Clarify drops it (no inf)
    y = np.array([0, 1, 2, 2, 0, 1, 1, 1])
    g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p_a, p_d = np.array([0.25, 0.25]), np.array([0.25, 0.75])  # values 0 and 1 only
    out = data_bias.pretraining_bias(y, groups=g, facet=1)
    assert out["KL"] == pytest.approx(np.sum(p_a * np.log(p_a / p_d)))
    assert out["LP"] == pytest.approx(np.linalg.norm(p_a - p_d))
    assert out["KS"] == pytest.approx(0.5)
    assert out["DPL"] == pytest.approx(0.25 - 0.75)  # label 1 is the positive one
    with pytest.raises(ValueError, match="no label value has non-zero probability in both"):
        data_bias.kl_divergence([1, 1, 0, 0], groups=[0, 0, 1, 1], facet=1)


def test_cddl_hand_built_and_rules():
    # stratum 0: accepted a, a, d; rejected d    -> DD = 1 - 1/3
    # stratum 1: accepted a; rejected a, d, d    -> DD = 2/3 - 0
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    g = np.array(["a", "a", "d", "d", "a", "a", "d", "d"])
    s = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    expected = (4 * (1 - 1 / 3) + 4 * (2 / 3)) / 8
    assert data_bias.conditional_demographic_disparity_in_labels(
        y, groups=g, facet="d", strata=s) == pytest.approx(expected)
    # a stratum without acceptances contributes d's share of the rejections (0/0 = 0)
    s2 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    y2 = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    assert data_bias.conditional_demographic_disparity_in_labels(
        y2, groups=g, facet="d", strata=s2) == pytest.approx((4 * (1 - 1 / 3) + 4 * 0.5) / 8)
    with pytest.raises(ValueError, match="needs strata"):
        data_bias.conditional_demographic_disparity_in_labels(y, groups=g, facet="d")
    with pytest.raises(ValueError, match="needs positive outcomes"):
        data_bias.conditional_demographic_disparity_in_labels(
            np.zeros(8), groups=g, facet="d", strata=s)


def test_empty_facet_raises():
    with pytest.raises(ValueError, match=r"the reference \(a\) facet is empty"):
        data_bias.class_imbalance([1, 0], groups=[1, 1], facet=1)
    with pytest.raises(ValueError, match=r"the facet \(d\) facet is empty"):
        clarify.disparate_impact([1, 0, 1], [1, 0, 1], groups=[0, 0, 1], facet=1,
                                 sample_weight=[1.0, 1.0, 0.0])


# ------------------------------------------------------------------------ post-training
def reference_post_training(y, yp, facet_mask):
    """Clarify's post-training metrics, row by row, as its source computes them."""
    def counts(m):
        return (int(np.sum(m & (y == 1) & (yp == 1))), int(np.sum(m & (y == 0) & (yp == 1))),
                int(np.sum(m & (y == 1) & (yp == 0))), int(np.sum(m & (y == 0) & (yp == 0))))

    def dif(x, z):
        return 0.0 if x == z == math.inf else x - z

    tp_a, fp_a, fn_a, tn_a = counts(~facet_mask)
    tp_d, fp_d, fn_d, tn_d = counts(facet_mask)
    n_a, n_d = (~facet_mask).sum(), facet_mask.sum()
    qa, qd = (tp_a + fp_a) / n_a, (tp_d + fp_d) / n_d
    b = yp - y + 1
    mu = b.mean()
    return {
        "DPPL": qa - qd,
        "DI": cdiv(qd, qa),
        "DCAcc": dif(cdiv(tp_a + fn_a, tp_a + fp_a), cdiv(tp_d + fn_d, tp_d + fp_d)),
        "DCR": dif(cdiv(tn_d + fp_d, tn_d + fn_d), cdiv(tn_a + fp_a, tn_a + fn_a)),
        "DAR": dif(cdiv(tp_a, tp_a + fp_a), cdiv(tp_d, tp_d + fp_d)),
        "DRR": dif(cdiv(tn_d, tn_d + fn_d), cdiv(tn_a, tn_a + fn_a)),
        "RD": dif(cdiv(tp_a, tp_a + fn_a), cdiv(tp_d, tp_d + fn_d)),
        "SD": dif(cdiv(tn_d, tn_d + fp_d), cdiv(tn_a, tn_a + fp_a)),
        "AD": dif(cdiv(tp_a + tn_a, n_a), cdiv(tp_d + tn_d, n_d)),
        "TE": dif(cdiv(fn_d, fp_d), cdiv(fn_a, fp_a)),
        "GE": float(np.sum((b / mu) ** 2 - 1) / (len(b) * 2)),
    }


def test_post_training_hand_built():
    out = clarify.post_training_bias(Y, YP, groups=G, facet="d")
    expected = {
        "DPPL": 0.75 - 0.25, "DI": 0.25 / 0.75, "DCAcc": 2 / 3 - 2, "DCR": 2 / 3 - 2,
        "DAR": 2 / 3 - 1, "DRR": 2 / 3 - 1, "RD": 1 - 0.5, "SD": 1 - 0.5, "AD": 0.0,
        "TE": math.inf, "GE": 0.125,
    }
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), key
    for abbr, name in clarify.CLARIFY_NAMES.items():
        if abbr != "CDDPL":
            assert getattr(clarify, name)(Y, YP, groups=G, facet="d") == out[abbr], abbr


@pytest.mark.parametrize("seed", range(6))
def test_post_training_matches_the_row_wise_reference(seed):
    rs = np.random.RandomState(seed)
    n = rs.randint(6, 40)
    y, yp = rs.randint(0, 2, n), rs.randint(0, 2, n)
    g = rs.randint(0, 3, n)
    g[:2] = [0, 2]  # both facets present
    if seed % 2:  # sparse cases exercise the 0/0 and x/0 rules
        yp[g == 2] = 0
    out = clarify.post_training_bias(y, yp, groups=g, facet=2)
    for key, value in reference_post_training(y, yp, g == 2).items():
        assert out[key] == pytest.approx(value, abs=1e-12), key


def test_infinite_rates_cancel_and_cddpl():
    # no predicted positives in either facet: c_a = c_d = inf, Clarify reports DCAcc = 0
    y, yp = np.array([1, 0, 1, 0]), np.zeros(4, dtype=int)
    g = np.array([0, 0, 1, 1])
    out = clarify.post_training_bias(y, yp + 0, groups=g, facet=1)
    assert out["DCAcc"] == 0.0 and out["DI"] == 0.0
    assert out["GE"] == pytest.approx(0.5)  # b = 0, 1, 0, 1: mean((2b)^2 - 1) / 2
    all_missed = clarify.post_training_bias([1, 1], [0, 0], groups=[0, 1], facet=1)
    assert np.isnan(all_missed["GE"])  # every prediction a false negative: mean benefit 0
    s = np.array([0, 1, 0, 1])
    assert clarify.conditional_demographic_disparity_in_predicted_labels(
        Y, YP, groups=G, facet="d", strata=[0, 1] * 4) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="needs positive outcomes"):
        clarify.conditional_demographic_disparity_in_predicted_labels(
            y, yp, groups=g, facet=1, strata=s)


def test_bias_report_has_both_sets():
    out = clarify.bias_report(Y, YP, groups=G, facet="d", strata=[0, 1] * 4)
    assert set(out) == {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL"} | set(
        clarify.CLARIFY_NAMES)
    assert out["DPL"] == data_bias.difference_in_proportions_of_labels(Y, groups=G, facet="d")


def test_ndarray_inputs_on_a_context(ctx):
    y, yp = mx.nd.array(Y, ctx=ctx), mx.nd.array(YP, ctx=ctx)
    g = mx.nd.array((G == "d").astype(np.float32), ctx=ctx)
    assert clarify.recall_difference(y, yp, groups=g, facet=1) == 0.5
    assert aif360.statistical_parity_difference(y, yp, groups=g, privileged=0) == -0.5


# ---------------------------------------------------------------------------------- AIF360
def test_aif360_signed_metrics_hand_built():
    kw = {"groups": G, "privileged": "a"}
    # p = a: SR 3/4, TPR 1, FPR 1/2; u = d: SR 1/4, TPR 1/2, FPR 0
    assert aif360.statistical_parity_difference(Y, YP, **kw) == pytest.approx(-0.5)
    assert aif360.disparate_impact(Y, YP, **kw) == pytest.approx(1 / 3)
    assert aif360.equal_opportunity_difference(Y, YP, **kw) == pytest.approx(-0.5)
    assert aif360.average_odds_difference(Y, YP, **kw) == pytest.approx(0.5 * (-0.5 - 0.5))
    assert aif360.equalized_odds_difference(Y, YP, **kw) == pytest.approx(0.5)
    # swapping the roles flips the signs and inverts the ratio
    assert aif360.statistical_parity_difference(Y, YP, groups=G, privileged="d") == 0.5
    assert aif360.disparate_impact(Y, YP, groups=G, privileged="d") == pytest.approx(3.0)


def test_aif360_ieee_division_and_explicit_unprivileged():
    g = np.array([0, 0, 1, 1, 2, 2])
    y = np.array([1, 0, 1, 0, 0, 0])
    yp = np.array([0, 0, 1, 1, 1, 0])
    # privileged 0 selects nobody: SR_u / 0 = inf
    assert aif360.disparate_impact(y, yp, groups=g, privileged=0) == math.inf
    # group 2 has no positive label: its TPR is NaN, so is the difference
    assert math.isnan(aif360.equal_opportunity_difference(y, yp, groups=g, privileged=1,
                                                          unprivileged=2))
    assert aif360.statistical_parity_difference(y, yp, groups=g, privileged=1,
                                                unprivileged=2) == pytest.approx(0.5 - 1.0)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_generalized_entropy_against_the_row_formula(alpha):
    rs = np.random.RandomState(int(alpha * 10))
    y, yp = rs.randint(0, 2, 50), rs.randint(0, 2, 50)
    b = (yp - y + 1).astype(float)
    mu = b.mean()
    if alpha == 1.0:
        expected = np.mean(np.where(b > 0, b / mu * np.log(np.where(b > 0, b, 1) / mu), 0.0))
        assert aif360.theil_index(y, yp) == pytest.approx(expected)
    else:
        expected = np.mean((b / mu) ** alpha - 1) / (alpha * (alpha - 1))
    assert aif360.generalized_entropy_index(y, yp, alpha=alpha) == pytest.approx(expected)
    w = rs.randint(1, 4, 50).astype(float)  # weights = row multiplicities
    assert aif360.generalized_entropy_index(y, yp, alpha=alpha, sample_weight=w) == \
        pytest.approx(aif360.generalized_entropy_index(np.repeat(y, w.astype(int)),
                                                       np.repeat(yp, w.astype(int)), alpha=alpha))


def test_generalized_entropy_alpha_zero_and_clarify_ge():
    assert aif360.generalized_entropy_index([1, 0], [0, 0], alpha=0) == math.inf  # b = 0 exists
    b = np.array([1.0, 2.0, 1.0, 1.0])
    assert aif360.generalized_entropy_index([1, 0, 0, 1], [1, 1, 0, 1], alpha=0) == \
        pytest.approx(-np.mean(np.log(b / b.mean())))
    assert clarify.generalized_entropy(Y, YP, groups=G, facet="d") == \
        aif360.generalized_entropy_index(Y, YP, alpha=2)
