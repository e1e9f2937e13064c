"""RateBound (pair constraints measured from statistics) and constraint_slice."""
import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from mxfair.callbacks import FairnessMonitor
from mxfair.loss import PositiveRate
from mxfair.metrics import FairnessReport, GroupStats, UndefinedRateWarning
from mxfair.training import RateBound, constraint_slice


def _stats(y, p, g, num_groups, num_classes=2, ctx=None):
    stats = GroupStats(num_groups, num_classes=num_classes, from_logits=False, ctx=ctx)
    stats.update(np.asarray(y), np.asarray(p, dtype=np.float32), np.asarray(g))
    return stats


def _reference_rates(y, d, g, G):
    """Selection rate, TPR, FPR per group from hard decisions (NumPy)."""
    sr = np.array([d[g == k].mean() for k in range(G)])
    tpr = np.array([d[(g == k) & (y == 1)].mean() for k in range(G)])
    fpr = np.array([d[(g == k) & (y == 0)].mean() for k in range(G)])
    return sr, tpr, fpr


@pytest.fixture
def three_groups():
    rng = np.random.RandomState(0)
    n = 600
    g = rng.randint(0, 3, n)
    y = (rng.rand(n) < 0.3 + 0.15 * g).astype(np.int64)
    p = np.clip(0.2 + 0.5 * y + 0.1 * g + 0.2 * rng.randn(n), 0, 1)
    return y, p, g


@pytest.mark.parametrize("constraint, columns", [
    ("demographic_parity", 1), ("equal_opportunity", 1), ("predictive_equality", 1),
    ("equalized_odds", 2), ("eqodds", 2), ("dp", 1)])
def test_pairs_cover_every_pair_once(constraint, columns):
    rb = RateBound(constraint, num_groups=4, bound=0.1)
    assert rb.num_columns == columns
    assert rb.num_constraints == columns * 4 * 3 // 2
    assert all(a < b for _, a, b in rb.pairs)
    assert len({tuple(p) for p in rb.pairs}) == rb.num_constraints


def test_violations_and_gap_match_numpy_and_the_report(three_groups):
    y, p, g = three_groups
    d = (p >= 0.5).astype(float)
    sr, tpr, fpr = _reference_rates(y, d, g, 3)
    stats = _stats(y, p, g, 3)
    report = stats.report()
    rb = RateBound("equalized_odds", num_groups=3, bound=0.04)
    rates = np.stack([tpr, fpr], axis=1)  # the statistic's column order: TPR, FPR
    np.testing.assert_allclose(rb.group_rates(stats), rates, rtol=1e-12)
    want = [abs(rates[a, c] - rates[b, c]) - 0.04 for c, a, b in rb.pairs]
    np.testing.assert_allclose(rb.violations(stats), want, rtol=1e-12)
    assert rb.gap(report) == pytest.approx(report.equalized_odds_difference(), abs=1e-12)
    dp = RateBound("demographic_parity", num_groups=3, bound=0.04)
    assert dp.gap(stats) == pytest.approx(np.ptp(sr), abs=1e-12)
    assert dp.gap(stats) == pytest.approx(report.difference("selection_rate"), abs=1e-12)
    assert dp.is_met(stats) == (np.ptp(sr) <= 0.04)


def test_multiclass_columns_are_one_vs_rest_per_class():
    rng = np.random.RandomState(1)
    n, K = 300, 3
    g, y = rng.randint(0, 2, n), rng.randint(0, K, n)
    scores = rng.rand(n, K).astype(np.float32)
    stats = GroupStats(2, num_classes=K, from_logits=False)
    stats.update(y, scores, g)
    rb = RateBound("demographic_parity", num_groups=2, bound=0.0, num_classes=K)
    assert rb.num_columns == K and rb.num_constraints == K
    pred = scores.argmax(axis=1)
    ref = np.array([[np.mean(pred[g == k] == c) for c in range(K)] for k in range(2)])
    np.testing.assert_allclose(rb.group_rates(stats), ref, rtol=1e-12)
    np.testing.assert_allclose(rb.violations(stats), np.abs(ref[0] - ref[1]), rtol=1e-12)


def test_sources_report_monitor_and_refusals(three_groups, ctx):
    y, p, g = three_groups
    stats = _stats(y, p, g, 3, ctx=ctx)
    rb = RateBound("demographic_parity", num_groups=3, bound=0.1)
    expected = rb.gap(stats)
    assert rb.gap(stats.report()) == expected
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(
        mx.nd.array(p.reshape(-1, 1)), mx.nd.array(y), mx.nd.array(g)), batch_size=128)
    monitor = FairnessMonitor(loader, 3, from_logits=False, progress=False, ctx=ctx)
    with pytest.raises(TypeError, match="FairnessMonitor that has evaluated"):
        rb.gap(monitor)  # nothing evaluated yet
    monitor.evaluate(lambda x: x)
    assert rb.gap(monitor) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(TypeError, match="source must be a GroupStats, a FairnessReport"):
        rb.violations(np.zeros(3))
    with pytest.raises(ValueError, match="num_groups=2 and num_classes=2"):
        RateBound("demographic_parity", 2, 0.1).gap(stats)


def test_unmeasurable_group_is_nan_and_warned_once():
    y = np.array([0, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.1, 0.7, 0.6, 0.2])
    g = np.array([0, 0, 1, 1, 2, 2])  # group 1 has no positives: TPR undefined
    stats = _stats(y, p, g, 3)
    rb = RateBound("equal_opportunity", num_groups=3, bound=0.1)
    with pytest.warns(UndefinedRateWarning, match=r"true_positive_rate is undefined for group"):
        v = rb.violations(stats)
    assert np.isnan(v[[0, 2]]).all() and np.isfinite(v[1])  # pairs (0,1), (1,2) unmeasured
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rb.violations(stats)  # the same groups again: no second warning
    assert rb.gap(stats) == pytest.approx(0.0)  # groups 0 and 2 both have TPR 1


@pytest.mark.parametrize("kwargs, error, match", [
    ({"bound": 1.0}, ValueError, r"bound must be a number in \[0, 1\), got 1.0"),
    ({"bound": np.nan}, ValueError, "bound must be a number"),
    ({"bound": "0.1"}, ValueError, "bound must be a number"),
    ({"num_groups": 1}, ValueError, "num_groups must be at least 2"),
    ({"num_groups": 2.5}, ValueError, "num_groups must be a positive integer"),
    ({"num_classes": 1}, ValueError, "num_classes must be >= 2"),
    ({"constraint": "parity"}, ValueError, "constraint must be one of"),
])
def test_rate_bound_refuses_bad_settings(kwargs, error, match):
    settings = {"constraint": "demographic_parity", "num_groups": 2, "bound": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        RateBound(**settings)


def test_custom_statistic_must_be_measurable():
    assert RateBound(PositiveRate(), 2, 0.1).rates == ("selection_rate",)

    class Odd(PositiveRate):
        name = "calibration"

    with pytest.raises(ValueError, match="does not measure"):
        RateBound(Odd(), 2, 0.1)


def test_constraint_slice_partitions_stratified_and_seeded():
    rng = np.random.RandomState(3)
    g = rng.randint(0, 3, 1000)
    y = (rng.rand(1000) < 0.2 + 0.2 * g).astype(np.int64)
    train, held = constraint_slice(y, g, fraction=0.25, seed=7)
    assert np.array_equal(np.sort(np.concatenate([train, held])), np.arange(1000))
    assert train.dtype == np.int64 and held.dtype == np.int64
    for k in range(3):
        for label in (0, 1):
            cell = np.flatnonzero((g == k) & (y == label))
            in_held = np.isin(cell, held).sum()
            assert in_held == int(np.floor(0.25 * cell.size + 0.5))
    again = constraint_slice(y, g, fraction=0.25, seed=7)
    assert np.array_equal(again[1], held)
    assert not np.array_equal(constraint_slice(y, g, fraction=0.25, seed=8)[1], held)
    nd = constraint_slice(mx.nd.array(y), mx.nd.array(g), fraction=0.25, seed=7)
    assert np.array_equal(nd[1], held)


@pytest.mark.parametrize("args, kwargs, error, match", [
    (([0, 1], [0, 1]), {"fraction": 0.0}, ValueError, r"fraction must be a number in \(0, 1\)"),
    (([0, 1], [0, 1]), {"fraction": True}, ValueError, "fraction must be a number"),
    (([0, 1], [0, 1, 1]), {}, ValueError, "labels has 2 rows but groups has 3"),
    ((["a", "b"], [0, 1]), {}, TypeError, "labels must hold numeric ids"),
    (([0, 1], ["a", "b"]), {}, TypeError, "groups must hold numeric ids.*GroupEncoder"),
    (([0.5, 1], [0, 1]), {}, ValueError, "labels must be integers >= 0, got non-integer"),
    (([np.nan, 1], [0, 1]), {}, ValueError, "labels must be integers >= 0, got 1 NaN"),
    (([], []), {}, ValueError, "labels is empty"),
    (([0, 1], [0, 5]), {"num_groups": 2}, ValueError, r"group ids must be integers in \[0, 2\)"),
])
def test_constraint_slice_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        constraint_slice(*args, **kwargs)


def test_report_built_by_hand_is_accepted():
    counts = np.array([[[3, 1], [1, 3]], [[4, 0], [2, 2]]], dtype=float)
    rb = RateBound("demographic_parity", 2, 0.2)
    assert rb.gap(FairnessReport(counts)) == pytest.approx(0.25)
    assert not rb.is_met(FairnessReport(counts))
