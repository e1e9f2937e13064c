"""Just Train Twice: the error set, the upweighting sampler and the weights."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from mxfair.data import JTTSampler, WeightedDataset, error_set, jtt_weights, misclassified


def test_misclassified_binary_multiclass_and_nonfinite():
    y = np.array([1, 1, 0, 0])
    assert misclassified(np.array([2.0, -1.0, 0.5, -3.0]), y).tolist() == [False, True, True,
                                                                            False]
    probs = np.array([0.9, 0.4, 0.5, 0.1])
    assert misclassified(probs, y, from_logits=False).tolist() == [False, True, True, False]
    assert misclassified(probs, y, from_logits=False, threshold=0.6).tolist() == [
        False, True, False, False]
    assert misclassified(np.array([[2.0], [-1.0], [0.1], [-1.0]]), y).tolist() == [
        False, True, True, False]
    scores = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.0, 0.0, 1.0]])
    assert misclassified(scores, np.array([1, 1, 0])).tolist() == [False, True, True]
    # a NaN/inf score is no prediction: refused (it once counted as an error, silently)
    with pytest.raises(ValueError, match="scores must be finite, got 1 NaN"):
        misclassified(np.array([[2.0], [np.nan], [0.1], [-1.0]]), y)
    with pytest.raises(ValueError, match="scores must be finite, got 1 NaN"):
        misclassified(np.array([[0.1, 0.7, 0.2], [np.inf, 0.0, 0.0]]), np.array([1, 0]))
    # a label out of range is refused, not counted as an error
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 2\), got values"):
        misclassified(np.array([2.0, -1.0]), np.array([1, 2]))
    with pytest.raises(ValueError, match="from_logits=False"):
        misclassified(np.array([2.0, -1.0]), np.array([1, 0]), from_logits=False)
    assert misclassified(mx.nd.array(scores[:2]), mx.nd.array([1, 0])).tolist() == [False,
                                                                                    False]
    with pytest.raises(ValueError, match="same length"):
        misclassified(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="GroupEncoder"):
        misclassified(np.zeros(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]"):
        misclassified(np.zeros(2), np.zeros(2), threshold=2)


def test_error_set_runs_the_net_in_order(ctx):
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=ctx)
    net.weight.set_data(mx.nd.array([[1.0, 0.0]], ctx=ctx))
    net.bias.set_data(mx.nd.zeros((1,), ctx=ctx))
    x = np.array([[1, 0], [-1, 0], [2, 0], [-2, 0], [3, 0]], np.float32)
    y = np.array([1, 1, 0, 0, 1])
    groups = np.array([0, 1, 0, 1, 0])  # read by nobody
    ds = gluon.data.ArrayDataset(x, y, groups)
    errors = error_set(net, ds, ctx=ctx, batch_size=2)
    assert errors.tolist() == [False, True, True, False, False]


def test_weights_and_weighted_dataset():
    w = jtt_weights(np.array([1, 0, 1]), 20)
    assert w.dtype == np.float32 and w.tolist() == [20.0, 1.0, 20.0]
    ds = WeightedDataset(gluon.data.ArrayDataset(np.zeros((3, 2)), np.array([0, 1, 1])), w)
    assert float(ds[0][-1]) == 20.0
    with pytest.raises(ValueError, match="up_weight must be a finite number > 0"):
        jtt_weights([True], 0)
    with pytest.raises(ValueError, match=r"errors must be booleans or 0/1 values, got values "
                                         r"in \[0, 2\]"):
        jtt_weights([0, 2], 5)


@pytest.mark.parametrize("labels", [None, np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 1])])
def test_sampler_is_the_upsampled_dataset(labels):
    errors = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 1], bool)
    sampler = JTTSampler(errors, up_weight=4, labels=labels, seed=0)
    assert len(sampler) == 10 + 3 * 3
    for _ in range(2):  # every epoch: other rows once, error rows up_weight times
        counts = np.bincount(list(sampler), minlength=10)
        assert counts.tolist() == [4, 1, 1, 4, 1, 1, 1, 1, 1, 4]
    assert sampler.up_weight == 4.0 and sampler.errors_.tolist() == errors.tolist()


def test_sampler_with_replacement_and_epoch_size():
    errors = np.zeros(1000, bool)
    errors[:50] = True
    sampler = JTTSampler(errors, up_weight=10, seed=1, replacement=True, num_samples=1000)
    draws = np.array(list(sampler))
    assert len(draws) == 1000
    # error rows: 50 * 10 / (950 + 500) of the draws
    assert np.mean(draws < 50) == pytest.approx(500 / 1450, abs=0.05)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(np.arange(1000.0)), batch_size=100,
                                   sampler=JTTSampler(errors, 10, seed=1, num_samples=1000))
    assert sum(b.shape[0] for b in loader) == 1000


def test_sampler_refuses_bad_input():
    with pytest.raises(ValueError, match="same length"):
        JTTSampler(np.array([1, 0]), 2, labels=np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="up_weight must be a finite number > 0"):
        JTTSampler(np.array([1, 0]), -1)
    with pytest.raises(TypeError, match="GroupEncoder"):
        JTTSampler(np.array(["x", "y"]), 2)
    with pytest.raises(ValueError, match="labels must be integers >= 0, got non-integer values"):
        JTTSampler(np.array([1, 0]), 2, labels=np.array([0.5, 1]))
