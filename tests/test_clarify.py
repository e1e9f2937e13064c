"""SageMaker Clarify's post-training metrics against Clarify's row-wise definitions."""
import math
import warnings

import mxnet as mx
import numpy as np
import pytest
from _helpers import YP, G, Y

from mxfair.metrics import UndefinedRateWarning, aif360, clarify, data_bias


def cdiv(a, b):
    """Clarify's divide, written as in its source."""
    if b == 0 and a == 0:
        return 0.0
    if b == 0:
        return -math.inf if a < 0 else math.inf
    return a / b


def test_empty_facet_raises():
    with pytest.raises(ValueError, match=r"the facet \(d\) facet is empty"):
        clarify.disparate_impact([1, 0, 1], [1, 0, 1], groups=[0, 0, 1], facet=1,
                                 sample_weight=[1.0, 1.0, 0.0])


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


def test_generalized_entropy_is_aif360s_index_with_alpha_2():
    assert clarify.generalized_entropy(Y, YP, groups=G, facet="d") == \
        aif360.generalized_entropy_index(Y, YP, alpha=2)


def ge_rows(y, yp, weight=None):
    """GE (alpha = 2) of b = yp - y + 1 over the given rows, as Clarify's source computes it."""
    b = np.repeat(yp - y + 1, 1 if weight is None else weight).astype(float)
    return float(np.sum((b / b.mean()) ** 2 - 1) / (len(b) * 2))


def test_generalized_entropy_is_taken_over_all_rows():
    # facet x against reference y: the z rows are in neither, but GE is over every row
    y = np.array([1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    yp = np.array([1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1])
    g = np.array(["x", "x", "x", "x", "y", "y", "y", "y", "z", "z", "z", "z"])
    expected = ge_rows(y, yp)
    assert expected != pytest.approx(ge_rows(y[g != "z"], yp[g != "z"]))  # z rows matter
    kw = {"groups": g, "facet": "x", "reference": "y"}
    assert clarify.generalized_entropy(y, yp, **kw) == pytest.approx(expected, abs=1e-12)
    assert clarify.post_training_bias(y, yp, **kw)["GE"] == pytest.approx(expected, abs=1e-12)
    assert clarify.bias_report(y, yp, **kw)["GE"] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(aif360.generalized_entropy_index(y, yp), abs=1e-12)
    # the facet metrics still use the facets only
    assert clarify.post_training_bias(y, yp, **kw)["DPPL"] == pytest.approx(1.0 - 0.25)
    w = np.array([1, 2, 1, 3, 1, 1, 2, 1, 1, 3, 1, 2])  # weights = row multiplicities
    assert clarify.generalized_entropy(y, yp, sample_weight=w.astype(float), **kw) == \
        pytest.approx(ge_rows(y, yp, w), abs=1e-12)


def test_generalized_entropy_where_clarify_refuses():
    # every prediction a false negative: mean benefit 0, Clarify raises
    y, yp, g = [1, 1, 1], [0, 0, 0], ["a", "d", "z"]
    with pytest.raises(ValueError, match="every prediction is a false negative"):
        clarify.generalized_entropy(y, yp, groups=g, facet="d")
    with pytest.warns(UndefinedRateWarning, match="every prediction is a false negative"):
        out = clarify.post_training_bias(y, yp, groups=g, facet="d", reference="a")
    assert np.isnan(out["GE"]) and out["RD"] == 0.0  # the other metrics stay
    with pytest.warns(UndefinedRateWarning, match="reported as NaN"):
        assert np.isnan(clarify.bias_report(y, yp, groups=g, facet="d")["GE"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedRateWarning)  # only GE is undefined here
        assert clarify.recall_difference(y, yp, groups=g, facet="d") == 0.0
        # only the facets missed everything: the z row (a true positive) makes GE defined
        out = clarify.post_training_bias([1, 1, 1], [0, 0, 1], groups=g, facet="d",
                                         reference="a")
    assert out["GE"] == pytest.approx(ge_rows(np.array([1, 1, 1]), np.array([0, 0, 1])))


# ------------------------------------------------- each metric on its own (issue 12)
def test_undefined_cddpl_and_cddl_leave_the_other_metrics():
    # no positive prediction: CDDPL undefined (main: post_training_bias and bias_report raised)
    y, yp = np.array([1, 0, 1, 0]), np.zeros(4, dtype=int)
    g, s = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    with pytest.warns(UndefinedRateWarning, match="CDDPL is undefined: .*positive outcomes"):
        out = clarify.post_training_bias(y, yp, groups=g, facet=1, strata=s)
    assert math.isnan(out["CDDPL"]) and out["DPPL"] == 0.0 and out["DI"] == 0.0
    with pytest.warns(UndefinedRateWarning, match="CDDPL is undefined"):
        report = clarify.bias_report(y, yp, groups=g, facet=1, strata=s)
    assert math.isnan(report["CDDPL"]) and report["CDDL"] == pytest.approx(0.0)
    # no positive label: CDDL undefined, the other label metrics stay
    with pytest.warns(UndefinedRateWarning, match="CDDL is undefined: .*positive outcomes"):
        report = clarify.bias_report(np.zeros(4, dtype=int), groups=g, facet=1, strata=s)
    assert math.isnan(report["CDDL"]) and report["CI"] == 0.0 and report["DPL"] == 0.0
    with pytest.warns(UndefinedRateWarning, match="CDDL is undefined"):
        pre = data_bias.pretraining_bias(np.ones(4, dtype=int), groups=g, facet=1, strata=s)
    assert math.isnan(pre["CDDL"]) and pre["TVD"] == 0.0
    # the single functions still raise, as Clarify's do
    with pytest.raises(ValueError, match="needs negative outcomes"):
        data_bias.conditional_demographic_disparity_in_labels(np.ones(4), groups=g, facet=1,
                                                              strata=s)


@pytest.mark.parametrize("where", ["groups", "strata", "y_true"])
def test_nan_in_facets_strata_or_labels_raises(where):
    args = {"y_true": np.array([1.0, 0, 1, 0]), "y_pred": np.array([1, 1, 0, 0]),
            "groups": np.array([0.0, 0, 1, 1]), "strata": np.array([0.0, 1, 0, 1])}
    args[where] = args[where].astype(float)
    args[where][1] = np.nan
    y_true, y_pred = args.pop("y_true"), args.pop("y_pred")
    with pytest.raises(ValueError, match=rf"{where} has 1 missing value\(s\) \(None/NaN\)"):
        clarify.post_training_bias(y_true, y_pred, facet=1, **args)
    with pytest.raises(ValueError, match=rf"{where} has 1 missing value"):
        data_bias.pretraining_bias(y_true, facet=1, **args)


def test_bad_weights_and_empty_input_raise():
    with pytest.raises(ValueError, match="sample_weight must be finite and >= 0"):
        clarify.post_training_bias(Y, YP, groups=G, facet="d", sample_weight=-np.ones(8))
    with pytest.raises(ValueError, match="y_true is empty"):
        data_bias.class_imbalance([], groups=[], facet=1)
