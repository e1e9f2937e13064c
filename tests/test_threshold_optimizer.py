"""ThresholdOptimizer: exact optima on hand-built scores, constraints, I/O kinds, fairlearn.

The exact optima are stated on probabilities (bin edges of [0, 1]), so most optimizers here are
built with ``from_logits=False`` (``_opt``); the default (logits) is tested at the end.
"""
import itertools
import json
import warnings

import mxnet as mx
import numpy as np
import pytest
from scipy.optimize import linprog

from mxfair import CONSTRAINTS, GroupEncoder
from mxfair._constraints import CONSTRAINT_ALIASES, FAIRLEARN_THRESHOLD_NAMES
from mxfair.metrics import GroupStats
from mxfair.postprocessing import ThresholdOptimizer, _rules

B = 10  # bins of the hand-built examples: scores sit at bin centres
def _opt(constraint="demographic_parity", objective="accuracy", **kw):
    """A ThresholdOptimizer for probabilities in [0, 1]."""
    return ThresholdOptimizer(constraint=constraint, objective=objective, from_logits=False, **kw)


def _small(seed, n=40, num_groups=2):
    rng = np.random.RandomState(seed)
    groups = np.repeat(np.arange(num_groups), n // num_groups)
    labels = np.tile([0, 1], n // 2)
    rng.shuffle(labels)
    # Informative but noisy scores at bin centres, shifted per group.
    bins = np.clip(3 * labels + groups + rng.randint(0, 6, n), 0, B - 1)
    return (bins + 0.5) / B, labels, groups


def _counts(scores, labels, groups, weight=None):
    """tp, fp (G, B+1) of the rule "score >= k / B", and pos, neg (G,)."""
    w = np.ones(len(scores)) if weight is None else weight
    G = int(groups.max()) + 1
    k = np.arange(B + 1)
    sel = scores[None, :] >= k[:, None] / B  # (B+1, N)
    tp = np.array([[np.sum(w * s * (labels == 1) * (groups == g)) for s in sel]
                    for g in range(G)])
    fp = np.array([[np.sum(w * s * (labels == 0) * (groups == g)) for s in sel]
                    for g in range(G)])
    pos = np.array([np.sum(w * (labels == 1) * (groups == g)) for g in range(G)])
    neg = np.array([np.sum(w * (labels == 0) * (groups == g)) for g in range(G)])
    return tp, fp, pos, neg


def _weights(objective, pos, neg):
    n = pos.sum() + neg.sum()
    if objective == "accuracy":
        return 1 / n, 1 / n, neg.sum() / n
    return 0.5 / pos.sum(), 0.5 / neg.sum(), 0.5


def _rates(tp, fp, pos, neg):
    return {"selection_rate": (tp + fp) / (pos + neg)[:, None],
            "true_positive_rate": tp / pos[:, None], "false_positive_rate": fp / neg[:, None]}


def _lp_optimum(scores, labels, groups, constraint, objective, tol):
    """Best objective over all randomised mixes of thresholds per group (a plain LP)."""
    tp, fp, pos, neg = _counts(scores, labels, groups)
    alpha, beta, const = _weights(objective, pos, neg)
    rates = _rates(tp, fp, pos, neg)
    G, K = tp.shape
    names = CONSTRAINTS[constraint]
    nv = G * K + len(names)
    cost = np.zeros(nv)
    cost[:G * K] = -(alpha * tp - beta * fp).ravel()
    a_eq = np.kron(np.eye(G), np.ones(K))
    a_eq = np.hstack([a_eq, np.zeros((G, len(names)))])
    rows, rhs = [], []
    for r, name in enumerate(names):
        for g in range(G):
            row = np.zeros(nv)
            row[g * K:(g + 1) * K] = rates[name][g]
            row[G * K + r] = -1
            rows += [row, -row]
            rhs += [tol, 0.0]
    res = linprog(cost, A_ub=np.array(rows), b_ub=rhs, A_eq=a_eq, b_eq=np.ones(G),
                  bounds=[(0, None)] * (G * K) + [(0, 1)] * len(names), method="highs")
    assert res.status == 0
    return const - res.fun


def _brute_force(scores, labels, groups, constraint, objective, tol):
    """Best objective and thresholds over deterministic per-group thresholds k / B."""
    tp, fp, pos, neg = _counts(scores, labels, groups)
    alpha, beta, const = _weights(objective, pos, neg)
    rates = _rates(tp, fp, pos, neg)
    G = tp.shape[0]
    best, arg = -np.inf, None
    for ks in itertools.product(range(B + 1), repeat=G):
        idx = (np.arange(G), np.array(ks))
        if all(np.ptp(rates[name][idx]) <= tol + 1e-12 for name in CONSTRAINTS[constraint]):
            value = const + alpha * tp[idx].sum() - beta * fp[idx].sum()
            if value > best + 1e-12:
                best, arg = value, ks
    return best, arg


def _expected(opt, scores, labels, groups):
    """Expected objective and constraint gap of the fitted rule, from positive_probability."""
    q = opt.positive_probability(scores, groups).astype(np.float64)
    pos, neg = labels == 1, labels == 0
    if opt.objective == "accuracy":
        value = np.mean(np.where(pos, q, 1 - q))
    else:
        value = 0.5 * (q[pos].mean() + (1 - q[neg]).mean())
    gs = np.unique(groups)
    rate = {"selection_rate": [q[groups == g].mean() for g in gs],
            "true_positive_rate": [q[(groups == g) & pos].mean() for g in gs],
            "false_positive_rate": [q[(groups == g) & neg].mean() for g in gs]}
    gap = max(np.ptp(rate[name]) for name in CONSTRAINTS[opt.constraint])
    return value, gap


@pytest.mark.parametrize("constraint", list(CONSTRAINTS))
@pytest.mark.parametrize("objective", ["accuracy", "balanced_accuracy"])
@pytest.mark.parametrize("tol", [0.0, 0.1])
@pytest.mark.parametrize("seed,num_groups", [(0, 2), (1, 2), (2, 3)])
def test_optimum_on_hand_built_scores(constraint, objective, tol, seed, num_groups):
    scores, labels, groups = _small(seed, n=12 * num_groups, num_groups=num_groups)
    opt = _opt(constraint, objective, tolerance=tol, grid_size=B)
    assert opt.fit(scores, labels, groups) is opt
    value, gap = _expected(opt, scores, labels, groups)
    # The constraint holds on the fitting data, within the tolerance.
    assert gap <= tol + 1e-6
    # The expected objective is the optimum over randomised threshold mixes ...
    assert value == pytest.approx(_lp_optimum(scores, labels, groups, constraint, objective,
                                              tol), abs=1e-6)
    # ... at least the best deterministic thresholds, and the fitted figures are right.
    assert value >= _brute_force(scores, labels, groups, constraint, objective, tol)[0] - 1e-6
    assert opt.objective_value_ == pytest.approx(value, abs=1e-6)
    assert opt.constraint_gap_ == pytest.approx(gap, abs=1e-6)


def test_deterministic_optimum_gives_the_brute_force_thresholds():
    # Group 0 is separable at 0.5; group 1 has one negative at 0.65 and one positive at 0.55:
    # equal selection rates of 0.5 at threshold 0.5 are the unique optimum (19/20 correct).
    scores = np.array([0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95] * 2)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1])
    groups = np.repeat([0, 1], 10)
    best, ks = _brute_force(scores, labels, groups, "demographic_parity", "accuracy", 0.0)
    assert ks == (5, 5) and best == pytest.approx(0.95)
    opt = _opt("demographic_parity", grid_size=B).fit(scores, labels, groups)
    np.testing.assert_allclose(opt.thresholds_, [[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(opt.positive_probs_[:, [0, 2]], [[0, 1], [0, 1]])
    np.testing.assert_array_equal(opt.predict(scores, groups, random_state=0), scores >= 0.5)


def _synthetic(n, seed=0, num_groups=2):
    rng = np.random.RandomState(seed)
    groups = rng.randint(0, num_groups, n)
    labels = (rng.rand(n) < 0.25 + 0.4 * groups / max(num_groups - 1, 1)).astype(np.int64)
    logit = 2.0 * (labels - 0.5) + 0.6 * groups + rng.randn(n)
    return (1 / (1 + np.exp(-logit))).astype(np.float32), labels, groups


@pytest.mark.parametrize("constraint", list(CONSTRAINTS))
def test_tolerance_trades_gap_for_accuracy(constraint):
    scores, labels, groups = _synthetic(4000)
    values = []
    for tol in (0.0, 0.02, 0.05, 0.2, 1.0):
        opt = _opt(constraint, tolerance=tol).fit(scores, labels, groups)
        value, gap = _expected(opt, scores, labels, groups)
        assert gap <= tol + 1e-5
        values.append(value)
    assert np.all(np.diff(values) >= -1e-9)
    # tolerance 1 is no constraint: the best per-group thresholds, here the plain optimum.
    free = _opt(constraint, tolerance=1.0).fit(scores, labels, groups)
    for g in range(2):
        s, y = scores[groups == g], labels[groups == g]
        edges = np.arange(1001) / 1000
        correct = [np.sum((s >= e) == y) for e in edges]
        assert free.rates_["selection_rate"][g] == pytest.approx(
            np.mean(s >= edges[int(np.argmax(correct))]), abs=2e-3)
    assert values[0] < values[-1]


def test_equalized_odds_sweep_matches_the_linear_program():
    scores, labels, groups = _synthetic(3000, seed=3, num_groups=3)
    sweep = _opt("equalized_odds").fit(scores, labels, groups)
    lp = _opt("equalized_odds", tolerance=1e-12).fit(scores, labels, groups)
    assert sweep.objective_value_ == pytest.approx(lp.objective_value_, abs=1e-7)
    assert sweep.constraint_gap_ < 1e-9


def test_fit_and_fit_stats_share_one_solver(ctx):
    scores, labels, groups = _synthetic(3000, seed=1)
    opt = _opt("equalized_odds", grid_size=200)
    opt.fit(mx.nd.array(scores, ctx=ctx), mx.nd.array(labels, ctx=ctx),
            mx.nd.array(groups, ctx=ctx))
    stats = GroupStats(2, num_bins=200, group_names=["a", "b"], from_logits=False)
    for part in np.array_split(np.arange(3000), 3):  # a validation epoch in batches
        stats.update(mx.nd.array(labels[part], ctx=ctx), mx.nd.array(scores[part], ctx=ctx),
                     mx.nd.array(groups[part], ctx=ctx))
    from_stats = _opt("equalized_odds", grid_size=200).fit_stats(stats)
    np.testing.assert_array_equal(opt.thresholds_, from_stats.thresholds_)
    np.testing.assert_allclose(opt.positive_probs_, from_stats.positive_probs_, atol=1e-12)
    assert from_stats.group_names_ == ["a", "b"]
    # And numpy input fits the same rule.
    np_fit = _opt("equalized_odds", grid_size=200).fit(scores, labels, groups)
    np.testing.assert_array_equal(np_fit.thresholds_, opt.thresholds_)


def test_input_kinds_contexts_and_predict(ctx):
    scores, labels, groups = _synthetic(2000, seed=2)
    # Coarse bins: many rows fall in a mixed step, so the draws matter.
    opt = _opt("true_positive_rate_parity", grid_size=10, random_state=7)
    opt.fit(scores, labels, groups)
    assert np.mean((opt.positive_probability(scores, groups) % 1) > 0) > 0.02
    q_np = opt.positive_probability(scores, groups)
    assert isinstance(q_np, np.ndarray) and q_np.shape == (2000,)
    s_nd, g_nd = mx.nd.array(scores, ctx=ctx), mx.nd.array(groups, ctx=ctx)
    q_nd = opt.positive_probability(s_nd, g_nd)
    assert isinstance(q_nd, mx.nd.NDArray) and q_nd.context == ctx
    np.testing.assert_array_equal(q_nd.asnumpy(), q_np)
    d_np = opt.predict(scores, groups, random_state=3)
    assert d_np.dtype == np.int64 and set(np.unique(d_np)) <= {0, 1}
    d_nd = opt.predict(s_nd, g_nd, random_state=3)
    assert d_nd.context == ctx
    np.testing.assert_array_equal(d_nd.asnumpy(), d_np)
    # Seeded: the same seed repeats, another differs; the constructor's seed is the default.
    np.testing.assert_array_equal(opt.predict(scores, groups, random_state=3), d_np)
    assert not np.array_equal(opt.predict(scores, groups, random_state=4), d_np)
    np.testing.assert_array_equal(opt.predict(scores, groups),
                                  opt.predict(scores, groups, random_state=7))
    # Randomised decisions average to the positive probability.
    mean = np.mean([opt.predict(scores, groups, random_state=s) for s in range(200)], axis=0)
    assert np.abs(mean - q_np).max() < 0.15
    assert abs(mean.mean() - q_np.mean()) < 0.005


def test_sample_weight_equals_repeated_rows():
    scores, labels, groups = _synthetic(1500, seed=4)
    w = np.random.RandomState(0).randint(1, 4, 1500)
    weighted = _opt("demographic_parity").fit(scores, labels, groups,
                                                             sample_weight=w.astype(float))
    rep = np.repeat(np.arange(1500), w)
    repeated = _opt("demographic_parity").fit(scores[rep], labels[rep],
                                                             groups[rep])
    np.testing.assert_array_equal(weighted.thresholds_, repeated.thresholds_)
    np.testing.assert_allclose(weighted.positive_probs_, repeated.positive_probs_, atol=1e-9)


def test_intersectional_groups_from_group_encoder():
    rng = np.random.RandomState(5)
    n = 4000
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    enc = GroupEncoder().fit({"sex": sex, "race": race})
    groups = enc.transform({"sex": sex, "race": race})
    assert enc.num_groups_ == 6
    labels = (rng.rand(n) < 0.2 + 0.1 * groups).astype(int)
    scores = np.clip(0.4 * labels + 0.05 * groups + 0.5 * rng.rand(n), 0, 1)
    for constraint in CONSTRAINTS:
        opt = _opt(constraint, tolerance=0.01).fit(scores, labels, groups)
        assert opt.num_groups_ == 6
        assert _expected(opt, scores, labels, groups)[1] <= 0.01 + 1e-6
    stats = GroupStats(6, num_bins=1000, group_names=enc.group_names_, from_logits=False)
    stats.update(labels, scores, groups)
    opt = _opt().fit_stats(stats)
    assert opt.group_names_ == enc.group_names_
    assert "sex=M&race=c" in opt.to_json()


def test_json_round_trip():
    scores, labels, groups = _synthetic(2000, seed=6)
    opt = _opt("equalized_odds", tolerance=0.01).fit(scores, labels, groups)
    back = ThresholdOptimizer.from_json(opt.to_json())
    assert (back.constraint, back.tolerance, back.num_bins_) == ("equalized_odds", 0.01, 1000)
    np.testing.assert_array_equal(back.thresholds_, opt.thresholds_)
    np.testing.assert_array_equal(back.positive_probability(scores, groups),
                                  opt.positive_probability(scores, groups))
    assert back.objective_value_ == opt.objective_value_
    with pytest.raises(ValueError, match="not a ThresholdOptimizer JSON"):
        ThresholdOptimizer.from_json('{"format": "other"}')
    with pytest.raises(ValueError, match="not a ThresholdOptimizer JSON"):
        ThresholdOptimizer.from_json("{oops")


def test_constraint_is_stored_canonical_and_old_json_loads():
    scores, labels, groups = _synthetic(1000, seed=8)
    for theirs, canonical in [("true_positive_rate_parity", "equal_opportunity"),
                              ("false_positive_rate_parity", "predictive_equality")]:
        assert CONSTRAINT_ALIASES[theirs] == canonical
        opt = _opt(theirs).fit(scores, labels, groups)
        assert opt.constraint == canonical and canonical in repr(opt)
        assert CONSTRAINTS[theirs] == CONSTRAINTS[canonical]  # old table lookups still work
        doc = json.loads(opt.to_json())
        assert doc["constraint"] == canonical
        # a document written before the canonical names (fairlearn's name) still loads
        doc["constraint"] = theirs
        old = ThresholdOptimizer.from_json(json.dumps(doc))
        assert old.constraint == canonical
        np.testing.assert_array_equal(old.thresholds_, opt.thresholds_)
        np.testing.assert_array_equal(old.positive_probability(scores, groups),
                                      opt.positive_probability(scores, groups))
        assert ThresholdOptimizer.from_json(old.to_json()).constraint == canonical
    doc["constraint"] = "tpr"
    with pytest.raises(ValueError, match="constraint must be one of .* got 'tpr'"):
        ThresholdOptimizer.from_json(json.dumps(doc))


def test_errors():
    scores, labels, groups = _synthetic(500)
    with pytest.raises(ValueError, match="constraint must be one of .* got 'equal_odds'"):
        _opt("equal_odds")
    with pytest.raises(ValueError, match="objective must be one of"):
        _opt(objective="f1")
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0, got -0.1"):
        _opt(tolerance=-0.1)
    for bad in (np.nan, np.inf, True, "0.1"):
        with pytest.raises(ValueError, match="tolerance must be a finite number >= 0, got"):
            _opt(tolerance=bad)
    assert _opt(tolerance=np.float32(0.5)).tolerance == 0.5
    with pytest.raises(ValueError, match="grid_size must be a positive integer"):
        _opt(grid_size=0)
    opt = _opt()
    with pytest.raises(ValueError, match="not fitted yet"):
        opt.predict(scores, groups)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        opt.fit(scores * 3 - 1, labels, groups)
    with pytest.raises(ValueError, match="labels must be 0 or 1, got values \\[2\\]"):
        opt.fit(scores, labels * 2, groups)
    with pytest.raises(ValueError, match="has 500 rows but labels has 499"):
        opt.fit(scores, labels[:-1], groups)
    with pytest.raises(ValueError, match="group 1 has no rows"):
        opt.fit(scores, labels, groups * 2)
    only_neg = labels * (groups == 0)
    with pytest.raises(ValueError, match="group 1 has no positive labels.*true_positive_rate"):
        _opt("true_positive_rate_parity").fit(scores, only_neg, groups)
    _opt("false_positive_rate_parity").fit(scores, only_neg, groups)
    with pytest.raises(ValueError, match="needs score histograms"):
        opt.fit_stats(GroupStats(2, from_logits=False))
    with pytest.raises(TypeError, match="expects a GroupStats"):
        opt.fit_stats(np.zeros((2, 2, 10)))
    opt.fit(scores, labels, groups)
    with pytest.raises(ValueError, match=r"group ids \[2\] were not seen at fit time"):
        opt.predict(scores, np.where(groups == 1, 2, 0))


def test_fairlearn_on_adult_subsample():
    """Same LogisticRegression scores: accuracy within 0.3 points and gap within 0.01."""
    from fairlearn.postprocessing import ThresholdOptimizer as FairlearnTO
    from sklearn.linear_model import LogisticRegression

    from mxfair.datasets import load_adult

    data = load_adult(subsample=6000, seed=0)
    scorer = LogisticRegression(max_iter=500).fit(data.train.X, data.train.y)
    val_scores = scorer.predict_proba(data.val.X)[:, 1]
    test_scores = scorer.predict_proba(data.test.X)[:, 1]
    y, g = data.test.y, data.test.groups

    def figures(q, constraint):
        acc = np.mean(np.where(y == 1, q, 1 - q))
        rate = {"selection_rate": [q[g == k].mean() for k in (0, 1)],
                "true_positive_rate": [q[(g == k) & (y == 1)].mean() for k in (0, 1)],
                "false_positive_rate": [q[(g == k) & (y == 0)].mean() for k in (0, 1)]}
        return acc, max(np.ptp(rate[name]) for name in CONSTRAINTS[constraint])

    for constraint in CONSTRAINTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = FairlearnTO(estimator=scorer,
                                 constraints=FAIRLEARN_THRESHOLD_NAMES[constraint],
                                 objective="accuracy_score", prefit=True,
                                 predict_method="predict_proba")
            theirs.fit(data.val.X, data.val.y, sensitive_features=data.val.groups)
            q_theirs = theirs._pmf_predict(data.test.X, sensitive_features=g)[:, 1]
        ours = _opt(constraint).fit(val_scores, data.val.y, data.val.groups)
        acc_ours, gap_ours = figures(ours.positive_probability(test_scores, g), constraint)
        acc_theirs, gap_theirs = figures(q_theirs, constraint)
        assert acc_ours >= acc_theirs - 0.003, constraint
        assert gap_ours <= gap_theirs + 0.01, constraint


def test_hull_helper_keeps_the_upper_boundary():
    x = np.array([0.0, 0.2, 0.2, 0.5, 0.7, 1.0])
    y = np.array([0.0, 0.1, 0.6, 0.5, 0.9, 1.0])
    idx = _rules.upper_hull(x, y)
    np.testing.assert_array_equal(idx, [0, 2, 4, 5])


@pytest.mark.parametrize("weight, match", [
    ([1.0, np.nan, 1.0, 1.0], "sample_weight must be finite and >= 0"),
    ([1.0, -50.0, 1.0, 1.0], "sample_weight must be finite and >= 0"),
])
def test_bad_sample_weight_is_refused(weight, match):
    with pytest.raises(ValueError, match=match):
        _opt().fit([0.2, 0.8, 0.3, 0.9], [0, 1, 0, 1], [0, 0, 1, 1],
                                 sample_weight=np.array(weight))


def test_nan_group_ids_are_refused_clearly():
    with pytest.raises(ValueError, match="group ids must be integers .* NaN or inf"):
        _opt().fit([0.2, 0.8, 0.3, 0.9], [0, 1, 0, 1], [0, 0, np.nan, 1])


def test_to_block_goes_where_the_scores_were(ctx):
    scores = mx.nd.array([0.2, 0.8, 0.3, 0.9, 0.6, 0.4], ctx=ctx)
    opt = _opt().fit(scores, mx.nd.array([0, 1, 0, 1, 1, 0], ctx=ctx),
                                   mx.nd.array([0, 0, 1, 1, 0, 1], ctx=ctx))
    block = opt.to_block(mode="deterministic")
    assert block(scores, mx.nd.array([0, 0, 1, 1, 0, 1], ctx=ctx)).context == ctx


# ----------------------------------------------------- one convention, one set of checks (issue 12)
def _logit_data(n=2000, seed=9):
    rng = np.random.RandomState(seed)
    groups = rng.randint(0, 2, n)
    labels = (rng.rand(n) < 0.3 + 0.3 * groups).astype(int)
    logits = 2.5 * (labels - 0.5) + 0.5 * groups + rng.randn(n)
    return logits, labels, groups


def test_default_takes_logits_and_equals_fitting_the_probabilities():
    logits, labels, groups = _logit_data()
    opt = ThresholdOptimizer(constraint="equalized_odds", random_state=0).fit(logits, labels,
                                                                              groups)
    probs = mx.nd.sigmoid(mx.nd.array(logits)).asnumpy()  # float32, as the optimizer does
    on_probs = _opt("equalized_odds", random_state=0).fit(probs, labels, groups)
    np.testing.assert_array_equal(opt.thresholds_, on_probs.thresholds_)
    np.testing.assert_allclose(opt.positive_probability(logits, groups),
                               on_probs.positive_probability(probs, groups), atol=1e-6)
    assert json.loads(opt.to_json())["from_logits"] is True
    assert ThresholdOptimizer.from_json(opt.to_json()).from_logits is True


@pytest.mark.parametrize("method", ["predict", "positive_probability"])
def test_predict_refuses_what_fit_refuses(method):
    # main: fit refused NaN and logits-for-probabilities, predict took them silently
    scores, labels, groups = _small(0)
    opt = _opt().fit(scores, labels, groups)
    with pytest.raises(ValueError, match=r"scores must be finite, got 1 NaN"):
        getattr(opt, method)(np.where(np.arange(40) == 3, np.nan, scores), groups)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\] with from_logits=False"):
        getattr(opt, method)(scores * 6 - 3, groups)
    with pytest.raises(ValueError, match=r"group ids \[nan\] were not seen at fit time"):
        getattr(opt, method)(scores, np.where(np.arange(40) == 3, np.nan, groups))
    logit_opt = ThresholdOptimizer().fit(scores * 6 - 3, labels, groups)
    with pytest.raises(ValueError, match=r"scores must be finite, got 1 infinite|NaN or inf"):
        getattr(logit_opt, method)(np.where(np.arange(40) == 3, np.inf, scores), groups)


def test_fit_refuses_strings_nan_and_reports_the_argument():
    scores, labels, groups = _small(1)
    with pytest.raises(TypeError, match="groups must hold numeric ids, got strings.*"
                                        "mxfair.GroupEncoder"):
        _opt().fit(scores, labels, np.where(groups == 0, "a", "b"))
    with pytest.raises(TypeError, match="labels must hold numeric ids"):
        _opt().fit(scores, np.where(labels == 0, "no", "yes"), groups)
    with pytest.raises(ValueError, match=r"labels must be 0 or 1, got values \[nan\]"):
        _opt().fit(scores, np.where(np.arange(40) == 0, np.nan, labels), groups)
    with pytest.raises(ValueError, match="groups: group ids must be integers >= 0, got "
                                         "non-integer values such as \\[0.5\\]"):
        _opt().fit(scores, labels, np.where(groups == 1, 0.5, 0))
    with pytest.raises(ValueError, match=r"scores must have shape \(N,\) or \(N, 1\)"):
        _opt().fit(np.stack([scores, scores], 1), labels, groups)
    with pytest.raises(TypeError, match="random_state must be None, an int"):
        ThresholdOptimizer(random_state="seed")
    with pytest.warns(UserWarning, match="look like probabilities, but from_logits=True"):
        ThresholdOptimizer().fit(scores, labels, groups)


def test_fit_stats_refuses_statistics_of_the_other_kind_of_score(ctx):
    logits, labels, groups = _logit_data(500)
    stats = GroupStats(2, num_bins=100, from_logits=False)
    stats.update(labels, 1 / (1 + np.exp(-logits)), groups)
    with pytest.raises(ValueError, match="GroupStats was built with from_logits=False but this "
                                         "ThresholdOptimizer has from_logits=True"):
        ThresholdOptimizer().fit_stats(stats)
    assert _opt().fit_stats(stats).num_groups_ == 2


@pytest.mark.parametrize("key", ["thresholds", "num_bins", "group_names", "constraint"])
def test_from_json_with_a_missing_key_names_it(key):
    doc = json.loads(_opt().fit(*_small(2)).to_json())
    del doc[key]
    with pytest.raises(ValueError, match=rf"missing key\(s\) \['{key}'\]"):  # main: KeyError
        ThresholdOptimizer.from_json(json.dumps(doc))


def test_json_without_from_logits_is_an_old_probability_document():
    scores, labels, groups = _small(3)
    doc = json.loads(_opt().fit(scores, labels, groups).to_json())
    del doc["from_logits"]
    old = ThresholdOptimizer.from_json(json.dumps(doc))
    assert old.from_logits is False
    doc["thresholds"][0][0] = None
    with pytest.raises(ValueError, match="thresholds must be finite"):
        ThresholdOptimizer.from_json(json.dumps(doc))
