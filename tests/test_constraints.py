"""One constraint vocabulary (mxfair._constraints) and the shared number check (_validation)."""
import doctest
import typing

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
