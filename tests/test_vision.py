"""Tests of mxfair.datasets.vision: the CIFAR-10S protocol on the offline digits stand-in."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from mxnet.gluon.data.vision import transforms

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
        assert isinstance(image, mx.nd.NDArray)  # as gluon.data.vision.CIFAR10's items
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert (label, domain) == (train.labels[i], 1)
        assert type(label) is np.int32 and type(domain) is np.int32
        image = image.asnumpy()
        np.testing.assert_array_equal(image[..., 0], image[..., 1])
        np.testing.assert_array_equal(image[..., 1], image[..., 2])
    for i in np.flatnonzero(train.groups == 0)[:20]:
        image, _, domain = train[i]
        image = image.asnumpy().astype(int)
        assert domain == 0
        assert np.abs(image[..., 0] - image[..., 1]).max() > 12 or \
            np.abs(image[..., 1] - image[..., 2]).max() > 12


def test_test_set_has_every_image_in_both_domains(test_set):
    n = len(test_set) // 2
    np.testing.assert_array_equal(test_set.base_index[:n], test_set.base_index[n:])
    np.testing.assert_array_equal(test_set.groups, np.repeat([0, 1], n))
    np.testing.assert_array_equal(test_set.labels[:n], test_set.labels[n:])
    for i in (0, 7, n - 1):
        colour, _, d0 = test_set[i]
        gray, _, d1 = test_set[i + n]
        assert (d0, d1) == (0, 1)
        colour = colour.asnumpy().astype(np.float64)
        luma = 0.299 * colour[..., 0] + 0.587 * colour[..., 1] + 0.114 * colour[..., 2]
        np.testing.assert_allclose(gray.asnumpy()[..., 0], luma, atol=0.5 + 1e-4)  # rounded


def test_train_and_test_split_the_digits_once(train, test_set):
    assert len(train) + len(test_set) // 2 == 1797  # all of sklearn's digits, split once


def test_dataloader_batches_with_the_gluon_vision_transforms(train):
    # main: items were NumPy CHW float32, so transforms.ToTensor() failed
    plain = gluon.data.DataLoader(train, batch_size=32)
    x, y, g = next(iter(plain))
    assert x.shape == (32, 32, 32, 3) and x.dtype == np.uint8
    assert y.dtype == np.int32 and g.dtype == np.int32
    pipeline = transforms.Compose([transforms.RandomFlipLeftRight(), transforms.ToTensor(),
                                   transforms.Normalize(0.5, 0.25)])
    loader = gluon.data.DataLoader(train.transform_first(pipeline), batch_size=32, shuffle=True)
    x, y, g = next(iter(loader))
    assert x.shape == (32, 3, 32, 32) and x.dtype == np.float32
    tensor = transforms.ToTensor()(train[0][0]).asnumpy()
    assert tensor.shape == (3, 32, 32) and 0.0 <= tensor.min() and tensor.max() <= 1.0


def test_items_are_those_of_gluons_cifar10():
    # the same item types as gluon.data.vision.CIFAR10 (built here from a tiny fake batch file)
    ds = CIFAR10S(source="digits", subsample=20)
    image, label, _ = ds[0]
    reference = gluon.data.vision.CIFAR10.__new__(gluon.data.vision.CIFAR10)
    reference._transform = None
    reference._data = mx.nd.array(np.zeros((1, 32, 32, 3), np.uint8), dtype=np.uint8)
    reference._label = np.zeros(1, np.int32)
    ref_image, ref_label = reference[0]
    assert type(image) is type(ref_image) and image.dtype == ref_image.dtype
    assert image.shape == ref_image.shape and type(label) is type(ref_label)


@pytest.mark.parametrize("seed", [np.int64(5), [5, 1], None])
def test_seeds_take_what_numpy_takes(seed):
    a = CIFAR10S(source="digits", seed=seed, subsample=50)  # main: TypeError for all three
    assert len(a) == 50
    if seed is not None:
        np.testing.assert_array_equal(a.groups, CIFAR10S(source="digits", seed=seed,
                                                         subsample=50).groups)
    with pytest.raises(TypeError, match="seed must be None, an int"):
        CIFAR10S(source="digits", seed="5")


def test_seeded_reproducibility_and_subsample():
    a = CIFAR10S(source="digits", seed=5, subsample=300)
    b = CIFAR10S(source="digits", seed=5, subsample=300)
    c = CIFAR10S(source="digits", seed=6, subsample=300)
    assert len(a) == 300
    np.testing.assert_array_equal(a.groups, b.groups)
    np.testing.assert_array_equal(a.base_index, b.base_index)
    np.testing.assert_array_equal(a[17][0].asnumpy(), b[17][0].asnumpy())
    assert not np.array_equal(a.base_index, c.base_index)
    for k in range(10):
        dom = a.groups[a.labels == k]
        minority = _half_up(0.05 * len(dom))
        assert (dom.sum() if k < 5 else (dom == 0).sum()) == minority
    t = CIFAR10S(train=False, source="digits", subsample=50)
    assert len(t) == 100


def test_auto_falls_back_offline_and_cifar_needs_files(tmp_path):
    assert not cifar10_available(root=str(tmp_path))
    ds = CIFAR10S(root=str(tmp_path), subsample=10)
    assert ds.source == "digits-standin"
    with pytest.raises(FileNotFoundError, match="CIFAR-10 binary files .* not found"):
        CIFAR10S(root=str(tmp_path), source="cifar10")
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (tmp_path / name).write_bytes(b"")
    assert cifar10_available(root=str(tmp_path))


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
