"""AIF360's signed metrics and inequality indices against their closed forms."""
import math

import mxnet as mx
import numpy as np
import pytest
from _helpers import YP, G, Y

from mxfair.metrics import aif360


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
