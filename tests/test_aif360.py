"""AIF360's signed metrics and inequality indices against their closed forms."""
import math
import warnings

import mxnet as mx
import numpy as np
import pytest
from _helpers import YP, G, Y

from mxfair.metrics import UndefinedRateWarning, aif360


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


def test_ndarray_inputs_on_a_context(ctx):
    y, yp = mx.nd.array(Y, ctx=ctx), mx.nd.array(YP, ctx=ctx)
    g = mx.nd.array((G == "d").astype(np.float32), ctx=ctx)
    assert aif360.statistical_parity_difference(y, yp, groups=g, privileged=0) == -0.5


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


def test_generalized_entropy_alpha_zero():
    assert aif360.generalized_entropy_index([1, 0], [0, 0], alpha=0) == math.inf  # b = 0 exists
    b = np.array([1.0, 2.0, 1.0, 1.0])
    assert aif360.generalized_entropy_index([1, 0, 0, 1], [1, 1, 0, 1], alpha=0) == \
        pytest.approx(-np.mean(np.log(b / b.mean())))


# ------------------------------------------------------------------ edge cases (issue 12)
def _ge_formula(b, alpha):
    """GE from its formula over the rows, with 0 * (anything) = 0 for absent values and NaN
    when mu = 0 (every b / mu is 0/0)."""
    b = np.asarray(b, dtype=float)
    mu = b.mean()
    if mu == 0:
        return math.nan
    r = b / mu
    if alpha == 1:
        return float(np.mean(np.where(b > 0, r * np.log(np.where(b > 0, r, 1.0)), 0.0)))
    if alpha == 0:
        return float(-np.mean(np.log(r)))
    return float(np.mean(r ** alpha - 1) / (alpha * (alpha - 1)))


@pytest.mark.parametrize("alpha", [-2.0, -0.5])
def test_generalized_entropy_negative_alpha_without_false_negatives(alpha):
    # no false negative: the b = 0 cell is empty and contributes nothing (main: 0 * inf = NaN)
    y, yp = np.array([1, 0, 0, 1, 0]), np.array([1, 1, 0, 1, 0])  # b = 1, 2, 1, 1, 1
    expected = _ge_formula(yp - y + 1, alpha)
    assert math.isfinite(expected)
    assert aif360.generalized_entropy_index(y, yp, alpha=alpha) == pytest.approx(expected)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0, -1.0])
def test_generalized_entropy_every_row_a_false_negative_is_nan(alpha):
    # b = 0 everywhere: mu = 0, every b / mu is 0/0 (main: inf at alpha = 0, no warning)
    with pytest.warns(UndefinedRateWarning, match="every row is a false negative"):
        value = aif360.generalized_entropy_index([1, 1, 1], [0, 0, 0], alpha=alpha)
    assert math.isnan(value) and math.isnan(_ge_formula([0, 0, 0], alpha))


def test_nan_figures_come_with_a_warning():
    g = np.array([0, 0, 1, 1, 2, 2])
    y = np.array([1, 0, 1, 0, 0, 0])
    yp = np.array([0, 0, 1, 1, 1, 0])
    kw = {"groups": g, "privileged": 1, "unprivileged": 2}
    with pytest.warns(UndefinedRateWarning, match="true_positive_rate is undefined for the "
                                                  "unprivileged group"):
        assert math.isnan(aif360.equal_opportunity_difference(y, yp, **kw))
    with pytest.warns(UndefinedRateWarning, match="average_odds_difference is NaN"):
        assert math.isnan(aif360.average_odds_difference(y, yp, **kw))
    with pytest.warns(UndefinedRateWarning, match="equalized_odds_difference leaves this term"):
        assert aif360.equalized_odds_difference(y, yp, **kw) == 0.5  # AIF360's max(...)
    with pytest.warns(UndefinedRateWarning, match=r"disparate_impact is NaN: a ratio 0/0"):
        assert math.isnan(aif360.disparate_impact([1, 0, 1, 0], [0, 0, 0, 0],
                                                  groups=[0, 0, 1, 1], privileged=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedRateWarning)  # defined figures stay quiet
        assert aif360.statistical_parity_difference(Y, YP, groups=G, privileged="a") == -0.5


def test_generalized_entropy_from_counts_checks_its_table():
    with pytest.raises(ValueError, match=r"counts must have shape \(..., 2, 2\)"):
        aif360.generalized_entropy_from_counts(np.ones((3, 3)))  # main: a reshape error
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        aif360.generalized_entropy_from_counts(np.ones((2, 2)), alpha=float("nan"))
