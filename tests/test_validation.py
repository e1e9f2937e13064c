"""The host checks every component shares (mxfair/_validation.py) and their messages."""
import warnings

import mxnet as mx
import numpy as np
import pandas as pd
import pytest

from mxfair._validation import (
    IDS_NOT_NUMERIC,
    LOOKS_LIKE_MIN_ROWS,
    check_binary_labels,
    check_flag,
    check_ids,
    check_int,
    check_numeric,
    check_pred_columns,
    check_sample_weight,
    check_scores,
    check_seed,
)


@pytest.mark.parametrize("values", [
    np.array(["a", "b"]), ["a", "b"], np.array([b"a"]), pd.Series(["f", "m"]),
    np.array([0, "a"], dtype=object),
])
def test_strings_or_objects_give_the_one_message(values):
    with pytest.raises(TypeError) as err:
        check_numeric("groups", values)
    assert str(err.value) == IDS_NOT_NUMERIC.format(name="groups",
                                                    dtype=np.asarray(values).dtype)


def test_numeric_dtypes_ndarrays_and_object_numbers_pass(ctx):
    for values in ([0, 1], np.array([0, 1], np.uint8), np.array([True, False]),
                   mx.nd.array([0, 1], ctx=ctx), pd.Series([0.0, 1.0])):
        assert check_ids("groups", values, 2).tolist() in ([0, 1], [1, 0])
    obj = check_numeric("groups", np.array([0, None, 1.0], dtype=object))
    assert np.isnan(obj[1]) and obj.dtype == np.float64


@pytest.mark.parametrize("values, bound, message", [
    ([0, np.nan], 2, r"groups: group ids must be integers in \[0, 2\), got 1 NaN or infinite"),
    ([0, np.inf], None, r"groups: group ids must be integers >= 0, got 1 NaN or infinite"),
    ([0, 0.5, 1.25], 2, r"got non-integer values such as \[0.5, 1.25\]"),
    ([0, 2], 2, r"got values in \[0, 2\]"),
    ([-1, 1], None, r"must be integers >= 0, got values in \[-1, 1\]"),
])
def test_bad_ids_name_the_argument_range_and_finding(values, bound, message):
    with pytest.raises(ValueError, match=message):
        check_ids("groups", values, bound, what="group ids")


def test_weights():
    assert check_sample_weight("w", [0, 2.5]).dtype == np.float64
    for bad, what in (([1, np.nan], "1 NaN"), ([1, -np.inf], "1 NaN or infinite"),
                      ([1, -1e-9], "1 negative")):
        with pytest.raises(ValueError, match=rf"w must be finite and >= 0, got {what}"):
            check_sample_weight("w", bad)
    with pytest.raises(TypeError, match="w must be numeric"):
        check_sample_weight("w", ["a"])


def test_scores_follow_the_convention():
    logits = np.linspace(-3, 3, 30)
    assert check_scores("scores", logits, from_logits=True).shape == (30,)
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\] with from_logits=False"):
        check_scores("scores", logits, from_logits=False)
    with pytest.raises(ValueError, match="scores must be finite, got 2 NaN or infinite"):
        check_scores("scores", [0.1, np.nan, np.inf], from_logits=True)
    probs = np.linspace(0, 1, LOOKS_LIKE_MIN_ROWS)
    with pytest.warns(UserWarning, match="look like probabilities, but from_logits=True"):
        check_scores("scores", probs, from_logits=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_scores("scores", probs[:-1], from_logits=True)  # too few rows to tell
        check_scores("scores", probs, from_logits=False)


@pytest.mark.parametrize("seed, expected", [
    (None, None), (0, 0), (np.int64(5), 5), (np.uint32(2**32 - 1), 2**32 - 1),
    ([1, 2], [1, 2]), (np.array([3, 4]), [3, 4]), ((5,), [5]),
])
def test_seeds_numpy_accepts(seed, expected):
    assert check_seed("seed", seed) == expected
    np.random.RandomState(seed)  # and NumPy agrees


@pytest.mark.parametrize("seed, error", [
    (True, TypeError), ("1", TypeError), (1.0, TypeError), ([1.5], TypeError), ([], TypeError),
    (-1, ValueError), (2**32, ValueError), ([1, -2], ValueError),
])
def test_seeds_numpy_refuses(seed, error):
    with pytest.raises(error, match="seed must be None, an int in"):
        check_seed("seed", seed)


def test_binary_labels_as_fairlearn_reads_them():
    assert check_binary_labels("y", [-1, 1, 1]).tolist() == [False, True, True]
    assert check_binary_labels("y", ["no", "yes"], pos_label="yes").tolist() == [False, True]
    assert check_binary_labels("y", [2, 2], pos_label=1).tolist() == [False, False]
    with pytest.raises(ValueError, match=r"two values\), got 3 distinct"):
        check_binary_labels("y", [0, 1, 2], pos_label=1)
    with pytest.raises(ValueError, match="got None; hint"):
        check_binary_labels("y", np.array([1, None], dtype=object), hint="; hint")


@pytest.mark.parametrize("shape, k, ok", [
    ((8,), 2, True), ((8, 1), 2, True), ((8, 2), 2, True), ((8, 10), 10, True),
    ((8,), 10, True), ((8, 10), 2, False), ((8, 1), 3, False), ((8, 2, 2), 2, False),
])
def test_prediction_columns(shape, k, ok):
    if ok:
        check_pred_columns("preds", shape, k)
    else:
        with pytest.raises(ValueError, match="preds"):
            check_pred_columns("preds", shape, k)


def test_scalar_checks_share_one_message_style():
    assert (check_int("num_bins", np.int64(0)), check_int("k", 3, low=2)) == (0, 3)
    for value, low, expected in ((-1, 0, "a non-negative integer"), (0, 1, "a positive integer"),
                                 (1, 2, "an integer >= 2"), (True, 0, "a non-negative integer"),
                                 (2.0, 0, "a non-negative integer")):
        with pytest.raises(ValueError, match=f"^x must be {expected}, got {value!r}$"):
            check_int("x", value, low=low)
    assert check_flag("replacement", np.bool_(True)) is True
    with pytest.raises(TypeError, match="^replacement must be True or False, got 1$"):
        check_flag("replacement", 1)


@pytest.mark.parametrize("shape, k, one_score, match", [
    ((8, 10), 2, False, "preds has 10 columns but num_classes=2: pass num_classes=10"),
    ((8, 2), 2, True, r"preds has 2 columns.*preds\[:, 1\] - preds\[:, 0\]"),
    ((8,), 3, True, "one score per row, but num_classes=3 needs"),
    ((8, 1, 1), 2, False, r"preds must have shape \(N,\), \(N, 1\) or \(N, 2\)"),
])
def test_prediction_shapes(shape, k, one_score, match):
    with pytest.raises(ValueError, match=match):
        check_pred_columns("preds", shape, k, one_score=one_score)
    ok = (8, 1) if k == 2 else (8, k)
    check_pred_columns("preds", ok, k, one_score=one_score)
