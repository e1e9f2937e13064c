"""Functional metrics with fairlearn's names, against fairlearn 0.9.0."""

import fairlearn.metrics as flm
import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mxfair.metrics as mfm
from mxfair.metrics import UndefinedRateWarning


def data_with_both_labels(rs, n_per_group, values):
    """y, y_pred and a sensitive column where every group (value) has both labels."""
    sens = np.repeat(np.asarray(values), n_per_group)
    y = rs.randint(0, 2, sens.size)
    y[::n_per_group], y[1::n_per_group] = 0, 1
    yp = rs.randint(0, 2, sens.size)
    perm = rs.permutation(sens.size)
    return y[perm], yp[perm], sens[perm]


GAP_FUNCTIONS = [
    "demographic_parity_difference", "demographic_parity_ratio",
    "equalized_odds_difference", "equalized_odds_ratio",
]


def _predict(rs, y, kind):
    """Predictions: random, none positive, or positives only on negative labels."""
    yp = rs.randint(0, 2, y.size)
    if kind == "nothing_positive":
        yp[:] = 0
    elif kind == "no_true_positive":
        yp[y == 1] = 0
        yp[np.flatnonzero(y == 0)[0]] = 1  # at least one false positive
    return yp


@settings(max_examples=30, deadline=None)
@given(G=st.integers(2, 4), n_per_group=st.integers(3, 30), weighted=st.booleans(),
       method=st.sampled_from(["between_groups", "to_overall"]), seed=st.integers(0, 2**31 - 1),
       predictions=st.sampled_from(["random", "nothing_positive", "no_true_positive"]))
@example(G=2, n_per_group=3, weighted=False, method="between_groups", seed=0,
         predictions="no_true_positive")
@example(G=3, n_per_group=4, weighted=True, method="to_overall", seed=1,
         predictions="nothing_positive")
def test_gap_functions_match_fairlearn(G, n_per_group, weighted, method, seed, predictions):
    rs = np.random.RandomState(seed)
    y, _, sens = data_with_both_labels(rs, n_per_group, [f"g{i}" for i in range(G)])
    yp = _predict(rs, y, predictions)
    w = rs.rand(y.size) + 0.1 if weighted else None
    no_tp = not np.any((y == 1) & (yp == 1))
    no_fp = not np.any((y == 0) & (yp == 1))
    # Every group has both labels, so every per-group rate is defined (the group without
    # positives, where fairlearn says TPR = 0 and mxfair NaN, is tested apart below). What is
    # left: a ratio of a rate that is 0 in every group is 0/0, NaN in both libraries; and
    # equalized_odds_ratio without any true positive, where fairlearn's min() over (TPR ratio,
    # FPR ratio) keeps the leading NaN, while mxfair leaves the undefined TPR ratio out and
    # reports the FPR ratio (NaN too when there is no false positive either).
    fairlearn_nan = {"demographic_parity_ratio": no_tp and no_fp, "equalized_odds_ratio": no_tp}
    frame = {m: flm.MetricFrame(metrics=getattr(flm, m), y_true=y, y_pred=yp,
                                sensitive_features=sens,
                                sample_params=None if w is None else {"sample_weight": w})
             for m in ("true_positive_rate", "false_positive_rate")}
    for name in GAP_FUNCTIONS:
        expected = getattr(flm, name)(y, yp, sensitive_features=sens, method=method,
                                      sample_weight=w)
        got = getattr(mfm, name)(y, yp, sensitive_features=sens, method=method, sample_weight=w)
        assert isinstance(got, float)
        assert np.isnan(expected) == fairlearn_nan.get(name, False), (name, expected)
        if name == "equalized_odds_ratio" and no_tp:
            expected = frame["false_positive_rate"].ratio(method=method)
        assert got == pytest.approx(expected, abs=1e-9, nan_ok=True), name
    tpr = frame["true_positive_rate"]
    assert mfm.equal_opportunity_difference(
        y, yp, sensitive_features=sens, method=method, sample_weight=w
    ) == pytest.approx(tpr.difference(method=method), abs=1e-9)
    assert np.isnan(tpr.ratio(method=method)) == no_tp  # 0/0: no true positive anywhere
    assert mfm.equal_opportunity_ratio(
        y, yp, sensitive_features=sens, method=method, sample_weight=w
    ) == pytest.approx(tpr.ratio(method=method), abs=1e-9, nan_ok=True)


@pytest.mark.parametrize("name", ["selection_rate", "true_positive_rate", "false_positive_rate",
                                  "true_negative_rate", "false_negative_rate"])
def test_rate_functions_match_fairlearn(name):
    rs = np.random.RandomState(0)
    y, yp, sens = data_with_both_labels(rs, 40, ["a", "b", "c"])
    w = rs.rand(y.size)
    fl = getattr(flm, name)
    assert getattr(mfm, name)(y, yp, sample_weight=w) == pytest.approx(
        fl(y, yp, sample_weight=w), abs=1e-9)
    frame = flm.MetricFrame(metrics=fl, y_true=y, y_pred=yp, sensitive_features=sens,
                            sample_params={"sample_weight": w})
    np.testing.assert_allclose(getattr(mfm, name)(y, yp, sensitive_features=sens,
                                                  sample_weight=w),
                               frame.by_group.to_numpy(), atol=1e-9)


def test_intersectional_groups_are_the_combinations_that_occur():
    rs = np.random.RandomState(1)
    n = 400
    sex = rs.choice(["F", "M"], n)
    race = rs.choice(["a", "b", "c"], n)
    race[(sex == "F") & (race == "c")] = "b"  # (F, c) never occurs: 5 groups, not 6
    y = rs.randint(0, 2, n)
    yp = (rs.rand(n) < np.where(sex == "F", 0.3, 0.6)).astype(int)
    frame = pd.DataFrame({"sex": sex, "race": race})
    rep = mfm.group_report(y, yp, sensitive_features=frame)
    assert rep.group_names == ["sex=F&race=a", "sex=F&race=b", "sex=M&race=a", "sex=M&race=b",
                               "sex=M&race=c"]
    mf = flm.MetricFrame(metrics=flm.selection_rate, y_true=y, y_pred=yp,
                         sensitive_features=frame)
    # fairlearn lists every product of the values, NaN for the one that never occurs
    assert mf.by_group.isna().sum() == 1
    np.testing.assert_allclose(rep["selection_rate"], mf.by_group.dropna().to_numpy(), atol=1e-12)
    for name in GAP_FUNCTIONS:
        assert getattr(mfm, name)(y, yp, sensitive_features=frame) == pytest.approx(
            getattr(flm, name)(y, yp, sensitive_features=frame), abs=1e-9)
    # a 2-D array of the same columns gives the same groups
    assert mfm.demographic_parity_difference(
        y, yp, sensitive_features=np.stack([sex, race], axis=1)
    ) == pytest.approx(flm.demographic_parity_difference(y, yp, sensitive_features=frame))


def test_equalized_odds_mean_aggregate():
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    yp = np.array([1, 1, 0, 0, 1, 0, 1, 1])
    s = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # TPR 1 vs 0.5 (gap 0.5), FPR 0 vs 1 (gap 1)
    assert mfm.equalized_odds_difference(y, yp, sensitive_features=s) == 1.0
    assert mfm.equalized_odds_difference(y, yp, sensitive_features=s, agg="mean") == 0.75
    assert mfm.equalized_odds_ratio(y, yp, sensitive_features=s, agg="mean") == 0.25


def test_no_positives_differs_from_fairlearn_on_purpose():
    y = np.array([1, 0, 1, 0, 0, 0])
    yp = np.array([1, 0, 0, 1, 1, 0])
    s = np.array(["a", "a", "a", "b", "b", "b"])  # b has no positive label
    fl_tpr = flm.MetricFrame(metrics=flm.true_positive_rate, y_true=y, y_pred=yp,
                             sensitive_features=s)
    assert fl_tpr.difference() == 0.5  # TPR_a = 0.5, TPR_b := 0
    with pytest.warns(UndefinedRateWarning, match="leaves out group"):
        ours = mfm.equal_opportunity_difference(y, yp, sensitive_features=s)
    assert ours == 0.0  # one defined group: no gap
    # equalized odds: the FPR gap (a: 0/1, b: 2/3) is the larger one in both libraries here
    assert flm.equalized_odds_difference(y, yp, sensitive_features=s) == pytest.approx(2 / 3)
    with pytest.warns(UndefinedRateWarning):
        assert mfm.equalized_odds_difference(y, yp, sensitive_features=s) == pytest.approx(2 / 3)


def test_ndarray_in_ndarray_out_on_the_context(ctx):
    y = mx.nd.array([1, 0, 1, 0, 1, 1], ctx=ctx)
    yp = mx.nd.array([1, 1, 0, 0, 1, 0], ctx=ctx)
    s = mx.nd.array([0, 0, 0, 1, 1, 1], ctx=ctx)
    sel = mfm.selection_rate(y, yp, sensitive_features=s)
    assert isinstance(sel, mx.nd.NDArray) and sel.context == ctx
    np.testing.assert_allclose(sel.asnumpy(), [2 / 3, 1 / 3])
    tpr = mfm.true_positive_rate(y, yp, sensitive_features=s)
    assert tpr.context == ctx
    np.testing.assert_allclose(tpr.asnumpy(), [0.5, 0.5])
    # NumPy in, NumPy out; scalars are floats either way
    assert isinstance(mfm.selection_rate(y.asnumpy(), yp.asnumpy(), sensitive_features=s.asnumpy()),
                      np.ndarray)
    assert isinstance(mfm.demographic_parity_difference(y, yp, sensitive_features=s), float)
    assert mfm.demographic_parity_difference(y, yp, sensitive_features=s) == pytest.approx(1 / 3)


def test_pos_label_and_lists():
    y = ["yes", "no", "yes", "no"]
    yp = ["yes", "yes", "no", "no"]
    assert mfm.selection_rate(y, yp, pos_label="yes") == 0.5
    assert mfm.true_positive_rate(y, yp, pos_label="yes") == 0.5
    rep = mfm.group_report([1, 0, 1, 1], [1, 0, 0, 1], sensitive_features=["a", "a", "b", "b"])
    np.testing.assert_allclose(rep["true_positive_rate"], [1.0, 0.5])
    assert rep.group_names == ["a", "b"]


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"y_pred must hold binary labels .* got values "
                                         r"\[0.7, 1.0\]; these functions take hard predictions"):
        mfm.demographic_parity_difference([1, 0], [1, 0.7], sensitive_features=[0, 1])
    with pytest.raises(ValueError, match="y_true has 3 rows but y_pred has 2"):
        mfm.selection_rate([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="y_true has 2 rows but sensitive_features has 3"):
        mfm.equalized_odds_difference([1, 0], [1, 0], sensitive_features=[0, 1, 1])
    with pytest.raises(ValueError, match="method must be one of"):
        mfm.demographic_parity_ratio([1, 0], [1, 0], sensitive_features=[0, 1], method="max")
    with pytest.raises(ValueError, match="agg must be one of"):
        mfm.equalized_odds_difference([1, 0], [1, 0], sensitive_features=[0, 1], agg="worst")
    with pytest.warns(UndefinedRateWarning, match="true_positive_rate is undefined"):
        assert np.isnan(mfm.true_positive_rate([0, 0], [1, 0]))


def test_numeric_groups_in_numeric_order_like_fairlearn():
    # 2 before 10: the per-group values line up with fairlearn's by_group
    y, p, a = [1, 0, 1, 0], [1, 1, 0, 0], [2, 2, 10, 10]
    ours = mfm.selection_rate(y, p, sensitive_features=a)
    theirs = flm.MetricFrame(metrics=flm.selection_rate, y_true=y, y_pred=p,
                             sensitive_features=a).by_group
    np.testing.assert_array_equal(ours, theirs.to_numpy())


# ----------------------------------------------------------- validation as fairlearn's (issue 12)
Y4, P4, S4 = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 1]), np.array(["a", "a", "b", "b"])


@pytest.mark.parametrize("name", GAP_FUNCTIONS + ["equal_opportunity_difference",
                                                  "equal_opportunity_ratio"])
def test_gap_functions_refuse_sensitive_features_none(name):
    # main returned 0.0 (one group); fairlearn raises
    with pytest.raises(ValueError, match="sensitive_features is required"):
        getattr(mfm, name)(Y4, P4, sensitive_features=None)
    if hasattr(flm, name):  # equal_opportunity_* came after fairlearn 0.9.0
        with pytest.raises(ValueError):
            getattr(flm, name)(Y4, P4, sensitive_features=None)


@pytest.mark.parametrize("y_true", [[0, 2, 2, 0], [0, np.nan, 1, 0], [0, 1, 2, 0]])
def test_labels_that_are_not_binary_raise_like_fairlearn(y_true):
    # main read 2 and NaN as negatives
    y_true = np.asarray(y_true, dtype=float)
    with pytest.raises(ValueError, match="y_true must hold binary labels"):
        mfm.equalized_odds_difference(y_true, P4, sensitive_features=S4)
    with pytest.raises(ValueError):
        flm.equalized_odds_difference(y_true, P4, sensitive_features=S4)
    with pytest.raises(ValueError, match="y_true must hold binary labels"):
        mfm.true_positive_rate(y_true, P4)


def test_minus_one_one_labels_and_pos_label_like_fairlearn():
    y, p = np.array([-1, 1, 1, -1]), np.array([-1, 1, -1, 1])
    assert mfm.equalized_odds_difference(y, p, sensitive_features=S4) == pytest.approx(
        flm.equalized_odds_difference(y, p, sensitive_features=S4))
    assert mfm.true_positive_rate([0, 2, 2, 0], [0, 2, 0, 2], pos_label=2) == 0.5
    with pytest.raises(ValueError, match="pos_label=5 is not one of the values of y_true"):
        mfm.true_positive_rate([0, 2, 2, 0], [0, 2, 0, 2], pos_label=5)
    with pytest.raises(ValueError, match="y_true and y_pred together hold values"):
        mfm.selection_rate([0, 1, 1, 0], [-1, 1, 1, -1])


def test_nan_predictions_weights_missing_groups_and_empty_input_raise():
    with pytest.raises(ValueError, match="y_pred must hold binary labels, got 1 NaN"):
        mfm.demographic_parity_difference(Y4, [0, np.nan, 1, 0], sensitive_features=S4)
    with pytest.raises(ValueError, match="sample_weight must be finite and >= 0, got 1 negative"):
        mfm.demographic_parity_difference(Y4, P4, sensitive_features=S4,
                                          sample_weight=[-1.0, 1, 1, 1])
    with pytest.raises(ValueError, match="sample_weight must be finite and >= 0, got 1 NaN"):
        mfm.demographic_parity_ratio(Y4, P4, sensitive_features=S4,
                                     sample_weight=[np.nan, 1, 1, 1])
    with pytest.raises(ValueError, match="missing value"):
        mfm.demographic_parity_difference(Y4, P4, sensitive_features=[1.0, np.nan, 2.0, 2.0])
    with pytest.raises(ValueError, match="y_true is empty"):
        mfm.demographic_parity_difference([], [], sensitive_features=[])
