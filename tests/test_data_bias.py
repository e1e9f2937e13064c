"""Facets and Clarify's pre-training (label) metrics against their closed forms."""
import math

import mxnet as mx
import numpy as np
import pytest

from mxfair.metrics import data_bias
from mxfair.metrics.data_bias import clarify_divide, facet_counts


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
    both = facet_counts(y, groups=groups, facet="x", reference=["y"])
    assert both["counts"].sum() == 4  # the z rows are in neither side ...
    np.testing.assert_array_equal(both["others"], [[1, 0], [0, 1]])  # ... but counted apart
    rest = facet_counts(y, groups=groups, reference="z")
    assert rest["counts"][0, 1].sum() == 4 and rest["counts"][0, 0].sum() == 2
    assert rest["others"].sum() == 0  # one side given: every row is on a side
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


def test_helpers_refuse_bad_tables_by_name():
    with pytest.raises(ValueError, match=r"counts must have shape \(..., K, K\)"):
        data_bias.binarize(np.zeros(3))  # main: IndexError
    with pytest.raises(TypeError, match="num must be numeric"):
        clarify_divide(["a"], [1.0])  # main: NumPy's "could not convert string to float"
