import numpy as np
import pandas as pd
import pytest

from mxfair import GroupEncoder


def test_single_column_ids_and_names():
    enc = GroupEncoder().fit(np.array(["M", "F", "F", "M"]))
    assert enc.num_groups_ == 2
    assert enc.group_names_ == ["F", "M"]
    np.testing.assert_array_equal(enc.transform(["F", "M"]), [0, 1])


def test_intersectional_from_dataframe():
    df = pd.DataFrame({"sex": ["F", "M", "F", "M"], "race": ["Black", "White", "White", "White"]})
    enc = GroupEncoder().fit(df)
    assert enc.group_names_ == ["sex=F&race=Black", "sex=F&race=White", "sex=M&race=White"]
    np.testing.assert_array_equal(enc.transform(df), [0, 2, 1, 2])


def test_two_dim_array_with_names():
    arr = np.array([[0, 1], [1, 1], [0, 0]])
    enc = GroupEncoder(names=["a", "b"]).fit(arr)
    assert enc.group_names_ == ["a=0&b=0", "a=0&b=1", "a=1&b=1"]


def test_unseen_group_raises():
    enc = GroupEncoder().fit({"sex": ["F", "M"]})
    with pytest.raises(ValueError, match="unseen group X"):
        enc.transform({"sex": ["F", "X"]})


def test_not_fitted_and_wrong_columns():
    with pytest.raises(ValueError, match="not fitted"):
        GroupEncoder().transform([0, 1])
    enc = GroupEncoder().fit({"a": [0, 1], "b": [1, 0]})
    with pytest.raises(ValueError, match="expected 2 sensitive columns"):
        enc.transform({"a": [0, 1]})


@pytest.mark.parametrize("column", [
    ["F", None, "M", "F"],
    np.array([0.0, np.nan, 1.0, np.nan]),
    pd.Series(["F", pd.NA, "M", "F"], dtype="string"),
])
def test_missing_values_raise_by_default(column):
    with pytest.raises(ValueError, match=r"missing value\(s\) \(None/NaN\) at rows \[1"):
        GroupEncoder().fit(column)
    with pytest.raises(ValueError, match="missing value"):
        GroupEncoder().fit(["F", "M"]).transform(column)


def test_missing_value_unseen_at_fit_time():
    enc = GroupEncoder(names=["sex"], missing="group").fit(["F", "M"])
    with pytest.raises(ValueError, match="unseen group missing"):
        enc.transform(["F", None])


def test_missing_values_as_one_explicit_group():
    # None and NaN (and every NaN of a float column) are one group, named and sorted last
    enc = GroupEncoder(missing="group").fit(np.array(["F", None, "M", np.nan], dtype=object))
    assert enc.num_groups_ == 3 and enc.group_names_ == ["F", "M", "missing"]
    np.testing.assert_array_equal(enc.transform(["M", None, float("nan")]), [1, 2, 2])
    floats = GroupEncoder(missing="group").fit(np.array([0.0, np.nan, np.nan, 1.0]))
    assert floats.num_groups_ == 3
    np.testing.assert_array_equal(floats.transform(np.array([np.nan, 1.0])), [2, 1])
    df = pd.DataFrame({"sex": ["F", "M", None], "race": ["a", np.nan, "a"]})
    both = GroupEncoder(missing="group").fit(df)
    assert both.group_names_ == ["sex=F&race=a", "sex=M&race=missing", "sex=missing&race=a"]
    with pytest.raises(ValueError, match="missing must be one of"):
        GroupEncoder(missing="drop")
