"""One constraint vocabulary (mxfair._constraints), used by every component that takes a
constraint name, and the shared number check (_validation.check_number)."""
import doctest
import typing

import mxnet as mx
import numpy as np
import pytest

from mxfair import _constraints, _validation
from mxfair._constraints import (
    CONSTRAINT_ALIASES,
    CONSTRAINT_NAMES,
    FAIRLEARN_THRESHOLD_NAMES,
    ConstraintName,
    ConstraintTable,
    canonical_constraint,
)
from mxfair._validation import check_number
from mxfair.data import FairBatchSampler
from mxfair.loss import (
    AdversarialDebiasing,
    ConstrainedFairLoss,
    FairnessRegularizedLoss,
    fairness_penalty,
)
from mxfair.postprocessing import ThresholdOptimizer

ALL_SPELLINGS = list(CONSTRAINT_NAMES) + list(CONSTRAINT_ALIASES)


# ----------------------------------------------------------------------- the vocabulary
@pytest.mark.parametrize("name", ALL_SPELLINGS)
def test_every_spelling_maps_to_its_canonical_name(name):
    expected = name if name in CONSTRAINT_NAMES else CONSTRAINT_ALIASES[name]
    assert canonical_constraint(name) == expected
    assert canonical_constraint(name.upper().replace("_", "-")) == expected
    assert canonical_constraint(f" {name.replace('_', ' ').title()} ") == expected


def test_the_table_of_aliases():
    assert CONSTRAINT_NAMES == ("demographic_parity", "equal_opportunity",
                                "predictive_equality", "equalized_odds")
    assert set(CONSTRAINT_ALIASES.values()) <= set(CONSTRAINT_NAMES)
    assert not set(CONSTRAINT_ALIASES) & set(CONSTRAINT_NAMES)
    # the names of the three vocabularies that existed before
    for name, canonical in [("true_positive_rate_parity", "equal_opportunity"),
                            ("false_positive_rate_parity", "predictive_equality"),
                            ("eqopp", "equal_opportunity"), ("eqodds", "equalized_odds"),
                            ("dp", "demographic_parity")]:
        assert CONSTRAINT_ALIASES[name] == canonical
    # the type hint lists exactly the accepted spellings
    assert set(typing.get_args(ConstraintName)) == set(ALL_SPELLINGS)
    # the names fairlearn's ThresholdOptimizer takes are aliases of the same constraints
    for canonical, theirs in FAIRLEARN_THRESHOLD_NAMES.items():
        assert canonical_constraint(theirs) == canonical


@pytest.mark.parametrize("bad", ["parity", "equal_odds", "", None, 3, ["dp"]])
def test_unknown_names_are_refused_naming_the_value_and_the_choices(bad):
    with pytest.raises(ValueError, match="constraint must be one of") as err:
        canonical_constraint(bad)
    text = str(err.value)
    assert f"got {bad!r}" in text
    for name in ALL_SPELLINGS:
        assert name in text


def test_allowed_restricts_and_names_the_argument():
    allowed = ("demographic_parity", "equalized_odds")
    assert canonical_constraint("eqodds", allowed=allowed, argument="fairness") == \
        "equalized_odds"
    with pytest.raises(ValueError, match=r"fairness must be one of \['demographic_parity', "
                                         r"'equalized_odds'\] .* got 'eqopp': "
                                         r"'equal_opportunity' is not supported here"):
        canonical_constraint("eqopp", allowed=allowed, argument="fairness")
    with pytest.raises(ValueError, match="fairness must be one of .* got 'eqop'$"):
        canonical_constraint("eqop", allowed=allowed, argument="fairness")


def test_constraint_table_resolves_aliases_and_iterates_canonical_names():
    table = ConstraintTable({"equal_opportunity": 1, "equalized_odds": 2})
    assert list(table) == ["equal_opportunity", "equalized_odds"] and len(table) == 2
    assert table["true_positive_rate_parity"] == table["eqopp"] == 1
    assert "eqodds" in table and "dp" not in table and 5 not in table
    assert table.get("dp") is None
    with pytest.raises(KeyError):
        table["predictive_equality"]
    with pytest.raises(ValueError, match="keys must be canonical names"):
        ConstraintTable({"eqopp": 1})


def test_docstring_examples():
    for module in (_constraints, _validation):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# ----------------------------------------------------------------------- check_number
@pytest.mark.parametrize("value", [1, 0.5, np.float32(0.5), np.float64(0.5), np.int64(1),
                                   np.int32(0), np.float16(0.25)])
def test_check_number_takes_python_and_numpy_numbers(value):
    got = check_number("x", value, low=0)
    assert type(got) is float and got == float(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.nan, np.float32("nan"),
                                   np.inf, -np.inf, "0.5", None, np.array([0.5]), [0.5]])
def test_check_number_refuses_non_numbers_nan_and_inf(value):
    with pytest.raises(ValueError, match="x must be a finite number >= 0, got"):
        check_number("x", value, low=0)


@pytest.mark.parametrize("kwargs, ok, bad, text", [
    ({"low": 0}, [0, 1e9], [-1e-9], "a finite number >= 0"),
    ({"low": 0, "low_inclusive": False}, [1e-9], [0, -1], "a finite number > 0"),
    ({"high": 1}, [1, -5], [1.5], "a finite number <= 1"),
    ({"high": 1, "high_inclusive": False}, [0.99], [1], "a finite number < 1"),
    ({"low": 0, "high": 1, "high_inclusive": False}, [0, 0.5], [1, -0.1], r"a number in \[0, 1\)"),
    ({"low": 0, "high": 0.5}, [0, 0.5], [0.51], r"a number in \[0, 0.5\]"),
    ({"low": 0, "high": 1, "low_inclusive": False, "high_inclusive": False}, [0.5], [0, 1],
     r"a number in \(0, 1\)"),
    ({}, [-1e30, 0], [np.inf], "a finite number"),
])
def test_check_number_ranges_and_their_message(kwargs, ok, bad, text):
    for value in ok:
        assert check_number("x", value, **kwargs) == value
    for value in bad:
        with pytest.raises(ValueError, match=f"^x must be {text}, got {value!r}$"):
            check_number("x", value, **kwargs)


# ------------------------------------------- every component speaks the same vocabulary
def _spellings(canonical):
    return [canonical] + [a for a, c in CONSTRAINT_ALIASES.items() if c == canonical]


def _batch(ctx, n=24, seed=0):
    rng = np.random.RandomState(seed)
    pred = mx.nd.array(rng.randn(n), ctx=ctx)
    label = mx.nd.array(rng.randint(0, 2, n), ctx=ctx)
    group = mx.nd.array(rng.randint(0, 3, n), ctx=ctx)
    return pred, label, group


def _measured_gap(constraint, pred, label, group):
    loss_fn = ConstrainedFairLoss(3, bound=np.float32(0.1), constraint=constraint)
    loss_fn.accumulate(pred, label, group)  # a call outside autograd.record() adds nothing
    assert loss_fn.constraint == canonical_constraint(constraint)
    return loss_fn.measured_gap()


@pytest.mark.parametrize("canonical", CONSTRAINT_NAMES)
def test_losses_take_every_alias(canonical, ctx):
    pred, label, group = _batch(ctx)
    expected = None
    for name in _spellings(canonical):
        for hybridize in (False, True):
            loss_fn = FairnessRegularizedLoss(3, constraint=name, lam=np.float32(2.0))
            if hybridize:
                loss_fn.hybridize()
            out = loss_fn(pred, label, group)
            assert out.context == ctx and loss_fn.constraint == canonical
            expected = out.asnumpy() if expected is None else expected
            np.testing.assert_array_equal(out.asnumpy(), expected)
        pen = fairness_penalty(pred, group=group, label=label, num_groups=3, constraint=name)
        assert pen.context == ctx
        np.testing.assert_array_equal(
            pen.asnumpy(), fairness_penalty(pred, group=group, label=label, num_groups=3,
                                            constraint=canonical).asnumpy())
        assert _measured_gap(name, pred, label, group) == \
            _measured_gap(canonical, pred, label, group)


@pytest.mark.parametrize("canonical", CONSTRAINT_NAMES)
def test_adversary_takes_every_alias(canonical, ctx):
    pred, label, group = _batch(ctx)
    outs = []
    for name in _spellings(canonical):
        adv = AdversarialDebiasing(3, constraint=name, alpha=np.float32(0.5))
        mx.random.seed(1)
        adv.initialize(mx.init.Normal(0.5), ctx=ctx)
        out = adv(pred, label, group)
        assert out.context == ctx and adv.constraint == canonical
        outs.append(out.asnumpy())
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])


@pytest.mark.parametrize("canonical", CONSTRAINT_NAMES)
def test_threshold_optimizer_takes_every_alias(canonical):
    rng = np.random.RandomState(0)
    groups = rng.randint(0, 2, 600)
    labels = (rng.rand(600) < 0.3 + 0.3 * groups).astype(int)
    scores = np.clip(0.35 * labels + 0.15 * groups + 0.5 * rng.rand(600), 0, 1)
    ref = ThresholdOptimizer(constraint=canonical, grid_size=50).fit(scores, labels, groups)
    assert ref.constraint == canonical
    for name in _spellings(canonical)[1:]:
        opt = ThresholdOptimizer(constraint=name, grid_size=50).fit(scores, labels, groups)
        assert opt.constraint == canonical
        np.testing.assert_array_equal(opt.thresholds_, ref.thresholds_)
        np.testing.assert_array_equal(opt.positive_probs_, ref.positive_probs_)
        assert ThresholdOptimizer.from_json(opt.to_json()).constraint == canonical


@pytest.mark.parametrize("canonical", CONSTRAINT_NAMES)
def test_fairbatch_takes_every_alias(canonical):
    rng = np.random.RandomState(0)
    y, g = rng.randint(0, 2, 400), rng.randint(0, 2, 400)
    probs = rng.rand(400)
    runs = []
    for name in _spellings(canonical):
        fb = FairBatchSampler(y, g, 40, constraint=name, alpha=np.float32(0.05), seed=0)
        assert fb.constraint == canonical
        fb.update(probs=probs)
        runs.append((fb.lambdas_.copy(), [list(b) for b in fb]))
    assert not np.array_equal(runs[0][0], fb.initial_lambdas_)  # the update moved the ratios
    for lambdas, batches in runs[1:]:
        np.testing.assert_array_equal(lambdas, runs[0][0])
        assert batches == runs[0][1]


def test_every_component_refuses_an_unknown_name_the_same_way():
    y, g = np.array([0, 1, 0, 1] * 10), np.array([0, 0, 1, 1] * 10)
    calls = [
        ("constraint", lambda: FairnessRegularizedLoss(2, constraint="eq_odds")),
        ("constraint", lambda: ConstrainedFairLoss(2, bound=0.1, constraint="eq_odds")),
        ("constraint", lambda: AdversarialDebiasing(2, constraint="eq_odds")),
        ("constraint", lambda: fairness_penalty(np.zeros(4), group=np.zeros(4), num_groups=2,
                                                constraint="eq_odds")),
        ("constraint", lambda: ThresholdOptimizer(constraint="eq_odds")),
        ("constraint", lambda: FairBatchSampler(y, g, 8, constraint="eq_odds")),
    ]
    for argument, call in calls:
        with pytest.raises(ValueError, match=f"^{argument} must be one of .*"
                                             "eqodds -> equalized_odds.* got 'eq_odds'$"):
            call()
