"""Tests of mxfair.datasets.vision: the CIFAR-10S protocol on the offline digits stand-in."""
import numpy as np
import pytest
from mxnet import gluon

from mxfair.datasets import CIFAR10S, cifar10_available


@pytest.fixture(scope="module")
def train():
    return CIFAR10S(train=True, source="digits", seed=0)


@pytest.fixture(scope="module")
def test_set():
    return CIFAR10S(train=False, source="digits", seed=0)


def _half_up(x):
    return int(np.floor(x + 0.5))


def test_training_skew_is_exact_per_class(train):
    assert train.source == "digits-standin"
    assert train.group_names == ["colour", "grayscale"] and train.num_groups == 2
    assert sorted(np.unique(train.labels)) == list(range(10))
    for k in range(10):
        dom = train.groups[train.labels == k]
        minority = _half_up(0.05 * len(dom))
        assert minority > 0
        if k < 5:
            assert dom.sum() == minority  # 5 % grayscale
        else:
            assert (dom == 0).sum() == minority  # 5 % colour
    # every base image once in training
    assert len(np.unique(train.base_index)) == len(train)


def test_items_shapes_dtypes_and_domains(train):
    for i in np.flatnonzero(train.groups == 1)[:20]:
        image, label, domain = train[i]
        assert image.shape == (3, 32, 32) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert (label, domain) == (train.labels[i], 1)
        np.testing.assert_array_equal(image[0], image[1])
        np.testing.assert_array_equal(image[1], image[2])
    for i in np.flatnonzero(train.groups == 0)[:20]:
        image, _, domain = train[i]
        assert domain == 0
        assert np.abs(image[0] - image[1]).max() > 0.05 or np.abs(image[1] - image[2]).max() > 0.05


def test_test_set_has_every_image_in_both_domains(test_set):
    n = len(test_set) // 2
    np.testing.assert_array_equal(test_set.base_index[:n], test_set.base_index[n:])
    np.testing.assert_array_equal(test_set.groups, np.repeat([0, 1], n))
    np.testing.assert_array_equal(test_set.labels[:n], test_set.labels[n:])
    for i in (0, 7, n - 1):
        colour, _, d0 = test_set[i]
        gray, _, d1 = test_set[i + n]
        assert (d0, d1) == (0, 1)
        luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        np.testing.assert_allclose(gray[0], luma, rtol=1e-5, atol=1e-6)


def test_train_and_test_split_the_digits_once(train, test_set):
    assert len(train) + len(test_set) // 2 == 1797  # all of sklearn's digits, split once


def test_dataloader_batches(train):
    loader = gluon.data.DataLoader(train, batch_size=32, shuffle=True)
    x, y, g = next(iter(loader))
    assert x.shape == (32, 3, 32, 32) and x.dtype == np.float32
    assert y.dtype == np.int64 and g.dtype == np.int64


def test_seeded_reproducibility_and_subsample():
    a = CIFAR10S(source="digits", seed=5, subsample=300)
    b = CIFAR10S(source="digits", seed=5, subsample=300)
    c = CIFAR10S(source="digits", seed=6, subsample=300)
    assert len(a) == 300
    np.testing.assert_array_equal(a.groups, b.groups)
    np.testing.assert_array_equal(a.base_index, b.base_index)
    np.testing.assert_array_equal(a[17][0], b[17][0])
    assert not np.array_equal(a.base_index, c.base_index)
    for k in range(10):
        dom = a.groups[a.labels == k]
        minority = _half_up(0.05 * len(dom))
        assert (dom.sum() if k < 5 else (dom == 0).sum()) == minority
    t = CIFAR10S(train=False, source="digits", subsample=50)
    assert len(t) == 100


def test_auto_falls_back_offline_and_cifar_needs_files(tmp_path):
    assert not cifar10_available(str(tmp_path))
    ds = CIFAR10S(root=str(tmp_path), subsample=10)
    assert ds.source == "digits-standin"
    with pytest.raises(FileNotFoundError, match="CIFAR-10 binary files .* not found"):
        CIFAR10S(root=str(tmp_path), source="cifar10")
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (tmp_path / name).write_bytes(b"")
    assert cifar10_available(str(tmp_path))


def test_argument_errors():
    with pytest.raises(ValueError, match="source must be one of"):
        CIFAR10S(source="imagenet")
    with pytest.raises(ValueError, match="subsample must be a positive integer"):
        CIFAR10S(source="digits", subsample=0)
    with pytest.raises(ValueError, match=r"skew_minority must be a number in \[0, 0.5\], got 0.9"):
        CIFAR10S(source="digits", skew_minority=0.9)
    for bad in (np.nan, np.inf, True, "0.1", None):
        with pytest.raises(ValueError, match=r"skew_minority must be a number in \[0, 0.5\]"):
            CIFAR10S(source="digits", skew_minority=bad)


def test_numpy_skew_minority_is_the_same_protocol():
    ds = CIFAR10S(source="digits", subsample=200, skew_minority=0.25)
    ds32 = CIFAR10S(source="digits", subsample=200, skew_minority=np.float32(0.25))
    assert type(ds32.skew_minority) is float and ds32.skew_minority == 0.25
    np.testing.assert_array_equal(ds32.groups, ds.groups)
