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
