"""Tests of mxfair.data.reweighing and the weighted-dataset path (mxfair.data.weighted)."""
import warnings

import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mxnet import gluon

from mxfair.data import (
    WeightedDataset,
    cell_counts,
    reweighed_dataset,
    reweighing_table,
    reweighing_weights,
    weights_from_counts,
)

Y8 = np.array([1, 1, 1, 0, 0, 0, 0, 1])
G8 = np.array([0, 0, 0, 0, 1, 1, 1, 1])


def _aif360_closed_form(labels, groups, sample_weight=None):
    """AIF360's Reweighing, written independently with pandas: per-row new instance weight
    w_i * n_g * n_y / (n * n_{g,y}), all counts being sums of instance weights."""
    df = pd.DataFrame({"y": labels, "g": groups,
                       "w": np.ones(len(labels)) if sample_weight is None else sample_weight})
    n = df["w"].sum()
    n_g = df.groupby("g")["w"].transform("sum")
    n_y = df.groupby("y")["w"].transform("sum")
    n_gy = df.groupby(["g", "y"])["w"].transform("sum")
    return (df["w"] * n_g * n_y / (n * n_gy)).to_numpy()


@pytest.fixture(scope="module")
def adult_train():
    from mxfair.datasets import load_adult

    data = load_adult(sensitive="sex", seed=0)
    return data.train.y, data.train.groups


def test_hand_made_values():
    expected = np.array([[2.0, 2.0 / 3.0], [2.0 / 3.0, 2.0]])  # [group, label]
    np.testing.assert_allclose(reweighing_table(Y8, G8), expected)
    np.testing.assert_allclose(reweighing_weights(Y8, G8), expected[G8, Y8])
    np.testing.assert_allclose(cell_counts(Y8, G8), [[1, 3], [3, 1]])


def test_equals_aif360_on_adult(adult_train):
    y, g = adult_train
    np.testing.assert_allclose(reweighing_weights(y, g), _aif360_closed_form(y, g), rtol=1e-12)


def test_equals_aif360_with_instance_weights_on_adult(adult_train):
    y, g = adult_train
    sw = np.random.RandomState(3).uniform(0.2, 3.0, size=len(y))
    ours = reweighing_weights(y, g, sample_weight=sw)
    np.testing.assert_allclose(ours, _aif360_closed_form(y, g, sw), rtol=1e-12)
    # the weights change when the instance weights do: the test can tell them apart
    assert not np.allclose(ours, reweighing_weights(y, g) * sw)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(2, 4), st.integers(0, 10_000))
def test_weighted_joint_is_product_of_marginals(num_groups, num_classes, seed):
    rng = np.random.RandomState(seed)
    n = 200
    g = rng.randint(num_groups, size=n)
    y = (rng.randint(num_classes, size=n) + g) % num_classes  # dependent on g
    # every cell non-empty so that reweighing is defined
    cells = np.array([(a, b) for a in range(num_groups) for b in range(num_classes)])
    g[: len(cells)], y[: len(cells)] = cells[:, 0], cells[:, 1]
    w = reweighing_weights(y, g)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    joint = cell_counts(y, g, sample_weight=w) / w.sum()
    counts = cell_counts(y, g) / n
    np.testing.assert_allclose(joint, np.outer(counts.sum(1), counts.sum(0)), atol=1e-12)
    np.testing.assert_allclose(w.sum(), n)  # total mass is kept
    np.testing.assert_allclose(w, _aif360_closed_form(y, g), rtol=1e-12)


def test_global_counts_give_the_full_data_weights():
    rng = np.random.RandomState(0)
    g = rng.randint(3, size=500)
    y = (rng.rand(500) < 0.2 + 0.2 * g).astype(int)
    parts = [slice(0, 230), slice(230, 500)]
    total = sum(cell_counts(y[p], g[p], num_groups=3, num_classes=2) for p in parts)
    np.testing.assert_allclose(weights_from_counts(total), reweighing_table(y, g))
    full = reweighing_weights(y, g)
    for p in parts:
        np.testing.assert_allclose(reweighing_weights(y[p], g[p], cell_counts=total), full[p])


def test_ndarray_in_ndarray_out(ctx):
    y, g = mx.nd.array(Y8, ctx=ctx), mx.nd.array(G8, ctx=ctx)
    w = reweighing_weights(y, g)
    assert isinstance(w, mx.nd.NDArray) and w.context == ctx and w.dtype == np.float32
    assert w.shape == (8,)
    np.testing.assert_allclose(w.asnumpy(), reweighing_weights(Y8, G8), rtol=1e-6)
    table = reweighing_table(y, g)
    assert table.context == ctx and table.shape == (2, 2) and table.dtype == np.float64
    counts = cell_counts(y, g)
    assert counts.context == ctx
    wc = weights_from_counts(counts)
    assert wc.context == ctx
    np.testing.assert_allclose(wc.asnumpy(), table.asnumpy())
    sw = mx.nd.array(np.linspace(0.5, 2, 8), ctx=ctx)
    assert reweighing_weights(Y8, G8, sample_weight=sw).context == ctx


def test_numpy_in_numpy_out():
    w = reweighing_weights(list(Y8), list(G8))
    assert isinstance(w, np.ndarray) and w.dtype == np.float64


def test_inputs_not_mutated():
    y, g = Y8.copy(), G8.copy()
    sw = np.ones(8)
    reweighing_weights(y, g, sample_weight=sw)
    np.testing.assert_array_equal(y, Y8)
    np.testing.assert_array_equal(g, G8)
    np.testing.assert_array_equal(sw, np.ones(8))


# ------------------------------------------------------------------------------- bad input
def test_length_mismatch():
    with pytest.raises(ValueError, match="labels has 8 rows but groups has 7"):
        reweighing_weights(Y8, G8[:7])
    with pytest.raises(ValueError, match="labels has 8 rows but sample_weight has 3"):
        reweighing_weights(Y8, G8, sample_weight=np.ones(3))


def test_group_out_of_range():
    with pytest.raises(ValueError, match=r"group ids must be integers in \[0, 2\)"):
        reweighing_weights(Y8, G8 + 1, num_groups=2)
    with pytest.raises(ValueError, match="group ids must be integers >= 0"):
        reweighing_weights(Y8, G8 - 1)


def test_label_out_of_range_or_not_integer():
    with pytest.raises(ValueError, match=r"labels must be integers >= 0, got values in \[-1, 1\]"):
        reweighing_weights(Y8 * 2 - 1, G8)  # {-1, 1} labels
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 2\), got values in "
                                         r"\[0, 2\]"):
        reweighing_weights(Y8 * 2, G8, num_classes=2)
    with pytest.raises(ValueError, match=r"labels must be integers >= 0, got non-integer values "
                                         r"such as \[0.5\]"):
        reweighing_weights(Y8 * 0.5, G8)


def test_empty_cell_raises_by_default():
    y = np.array([1, 1, 0, 1, 1])  # group 1 has no negative
    g = np.array([0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"\(group=1, label=0\) cell has no rows"):
        reweighing_weights(y, g)
    with pytest.raises(ValueError, match=r"\(group=1, label=0\) cell has no rows"):
        weights_from_counts(np.array([[1.0, 2.0], [0.0, 2.0]]))


def test_empty_cell_zero_policy_warns_and_never_nan():
    y = np.array([1, 1, 0, 1, 1])
    g = np.array([0, 0, 0, 1, 1])
    with pytest.warns(UserWarning, match="weight is set to 0"):
        table = reweighing_table(y, g, empty="zero")
    assert np.all(np.isfinite(table)) and table[1, 0] == 0.0
    with pytest.warns(UserWarning, match="weight is set to 0"):
        w = reweighing_weights(y, g, empty="zero")
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    with pytest.raises(ValueError, match="empty must be one of"):
        reweighing_weights(y, g, empty="nan")


def test_absent_group_or_label_gets_zero_weight_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = reweighing_table(Y8, G8, num_groups=3, num_classes=3)
    assert table.shape == (3, 3)
    np.testing.assert_array_equal(table[2], 0.0)
    np.testing.assert_array_equal(table[:, 2], 0.0)
    np.testing.assert_allclose(table[:2, :2], reweighing_table(Y8, G8))


def test_single_label_gives_ones_with_a_warning():
    with pytest.warns(UserWarning, match="all rows have the same label"):
        w = reweighing_weights(np.ones(6, dtype=int), np.array([0, 0, 1, 1, 1, 2]))
    np.testing.assert_array_equal(w, np.ones(6))


def test_bad_counts_and_empty_input():
    with pytest.raises(ValueError, match="2-D"):
        weights_from_counts(np.ones(3))
    with pytest.raises(ValueError, match="positive total"):
        weights_from_counts(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        weights_from_counts(np.array([[1.0, -1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="empty"):
        reweighing_weights(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValueError, match="sample_weight must be finite and >= 0, got 8 negative"):
        reweighing_weights(Y8, G8, sample_weight=-np.ones(8))


def test_global_counts_missing_a_local_cell():
    table = np.array([[0.0, 3.0], [2.0, 1.0]])  # row 3 is in (0, 0), empty in the table
    with pytest.raises(ValueError, match="no rows"):
        reweighing_weights(Y8, G8, cell_counts=table)
    with pytest.warns(UserWarning, match="weight is set to 0"):
        with pytest.raises(ValueError, match=r"row 3 is in cell \(group=0, label=0\)"):
            reweighing_weights(Y8, G8, cell_counts=table, empty="zero")


# --------------------------------------------------------------------------- weighted path
def test_weighted_dataset_yields_weight_and_trains(ctx):
    rng = np.random.RandomState(0)
    x = rng.randn(64, 3).astype(np.float32)
    g = rng.randint(2, size=64)
    y = ((x[:, 0] + g) > 0.5).astype(np.int64)
    base = gluon.data.ArrayDataset(x, y, g)
    ds = reweighed_dataset(base)  # labels and groups read from the items
    expected = reweighing_weights(y, g).astype(np.float32)
    assert len(ds) == 64 and len(ds[0]) == 4
    np.testing.assert_allclose([ds[i][3] for i in range(64)], expected)
    np.testing.assert_allclose(reweighed_dataset(base, labels=y, groups=g).weights, expected)
    for hybridize in (False, True):
        net = gluon.nn.Dense(1)
        net.initialize(ctx=ctx)
        loss_fn = gluon.loss.SigmoidBCELoss()
        if hybridize:
            net.hybridize()
            loss_fn.hybridize()
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
        for xb, yb, _gb, wb in gluon.data.DataLoader(ds, batch_size=16, shuffle=True):
            xb, yb, wb = xb.as_in_context(ctx), yb.as_in_context(ctx), wb.as_in_context(ctx)
            assert wb.shape == (16,) and wb.dtype == np.float32
            with mx.autograd.record():
                loss = loss_fn(net(xb).reshape(-1), yb.astype("float32"), wb)
            loss.backward()
            trainer.step(16)
            assert np.all(np.isfinite(loss.asnumpy()))
        # the weight multiplies the loss of each row
        xb, yb = mx.nd.array(x[:4], ctx=ctx), mx.nd.array(y[:4], ctx=ctx)
        wb = mx.nd.array(expected[:4], ctx=ctx)
        plain = gluon.loss.SigmoidBCELoss()  # a hybridized loss keeps its argument structure
        np.testing.assert_allclose(
            loss_fn(net(xb).reshape(-1), yb, wb).asnumpy(),
            plain(net(xb).reshape(-1), yb).asnumpy() * expected[:4], rtol=1e-5)


def test_weighted_dataset_errors_and_single_items():
    base = gluon.data.SimpleDataset(list(range(4)))
    ds = WeightedDataset(base, mx.nd.array([1, 2, 3, 4]))
    assert ds[1] == (1, 2.0)
    with pytest.raises(ValueError, match="weights has 3 rows but dataset has 4"):
        WeightedDataset(base, np.ones(3))
    with pytest.raises(ValueError, match="weights must be finite and >= 0, got 1 NaN"):
        WeightedDataset(base, np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="labels has 8 rows but dataset has 4"):
        reweighed_dataset(base, labels=Y8, groups=G8)


# ------------------------------------------------------------------ ids and datasets (issue 12)
@pytest.mark.parametrize("fn", [reweighing_weights, reweighing_table, cell_counts])
def test_string_ids_point_to_group_encoder(fn):
    # main: a NumPy ufunc TypeError from deep inside
    with pytest.raises(TypeError, match=r"groups must hold numeric ids, got strings/objects "
                                        r"\(dtype <U1\); encode them with mxfair.GroupEncoder"):
        fn(Y8, np.where(G8 == 0, "a", "b"))
    with pytest.raises(TypeError, match="labels must hold numeric ids"):
        fn(np.where(Y8 == 0, "no", "yes"), G8)


def test_nan_ids_and_weights_are_refused_by_name():
    with pytest.raises(ValueError, match=r"groups: group ids must be integers >= 0, got 1 NaN"):
        reweighing_weights(Y8, np.where(np.arange(8) == 2, np.nan, G8))
    with pytest.raises(ValueError, match=r"labels must be integers >= 0, got 1 NaN"):
        reweighing_weights(np.where(np.arange(8) == 2, np.nan, Y8), G8)
    with pytest.raises(ValueError, match=r"sample_weight must be finite and >= 0, got 1 NaN"):
        reweighing_weights(Y8, G8, sample_weight=np.where(np.arange(8) == 2, np.nan, 1.0))


def test_reweighed_dataset_of_pairs_with_groups_given_yields_the_group():
    # main: (x, y) items with groups given yielded (x, y, weight), not the promised
    # (x, y, group, weight)
    pairs = gluon.data.ArrayDataset(np.arange(8.0).reshape(8, 1), Y8)
    ds = reweighed_dataset(pairs, groups=G8)
    expected = reweighing_weights(Y8, G8)
    for i in range(8):
        x, y, g, w = ds[i]
        assert (float(x[0]), int(y), int(g)) == (float(i), Y8[i], G8[i])
        assert w == pytest.approx(expected[i])
    batch = next(iter(gluon.data.DataLoader(ds, batch_size=8)))
    assert [b.shape for b in batch] == [(8, 1), (8,), (8,), (8,)]
    with pytest.raises(TypeError, match="groups must hold numeric ids"):
        reweighed_dataset(gluon.data.ArrayDataset(np.zeros((8, 1)), Y8,
                                                  np.where(G8 == 0, "a", "b")))
    lonely = np.array([0, 0, 0, 0, 0, 0, 0, 1])  # group 1: one positive, no negative
    with pytest.raises(ValueError, match=r"\(group=1, label=0\) cell has no rows"):
        reweighed_dataset(pairs, groups=lonely)
    with pytest.warns(UserWarning, match="weight is set to 0"):
        reweighed_dataset(pairs, groups=lonely, empty="zero")
