"""SpuriousDigits: the Waterbirds-like protocol, item format, determinism."""
import numpy as np
import pytest
from mxnet import gluon
from mxnet.gluon.data.vision import transforms

from mxfair.datasets import SPURIOUS_GROUP_NAMES, SpuriousDigits


@pytest.fixture(scope="module")
def splits():
    return {s: SpuriousDigits(s) for s in ("train", "val", "test")}


def test_protocol(splits):
    train = splits["train"]
    for label in (0, 1):
        rows = train.labels == label
        # exactly round(0.95 * n) rows of each label sit on their own background
        assert (train.attributes[rows] == label).sum() == int(np.floor(0.95 * rows.sum() + 0.5))
    for split in ("val", "test"):
        ds = splits[split]
        for label in (0, 1):
            rows = ds.labels == label
            assert abs((ds.attributes[rows] == 1).sum() - rows.sum() / 2) <= 0.5
    assert sum(len(d) for d in splits.values()) == 1797
    assert np.array_equal(train.groups, 2 * train.labels + train.attributes)
    assert np.array_equal(train.labels, (train.digits >= 5).astype(int))
    assert train.group_names == SPURIOUS_GROUP_NAMES and train.num_groups == 4
    # the background really is the colour: warm images are redder than cool ones
    mean_rgb = train.images.reshape(len(train), -1, 3).mean(axis=1)
    warm = mean_rgb[train.attributes == 0]
    cool = mean_rgb[train.attributes == 1]
    assert warm[:, 0].mean() > cool[:, 0].mean() and warm[:, 2].mean() < cool[:, 2].mean()


def test_items_work_with_gluon_transforms(splits):
    ds = splits["val"]
    image, label, group = ds[3]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert (label, group) == (ds.labels[3], ds.groups[3])
    assert np.array_equal(image.asnumpy(), ds.images[3])
    loader = gluon.data.DataLoader(ds.transform_first(transforms.ToTensor()), batch_size=50)
    x, y, g = next(iter(loader))
    assert x.shape == (50, 3, 32, 32) and float(x.max().asscalar()) <= 1.0


def test_seeds_and_correlation():
    a, b = SpuriousDigits("train", seed=0), SpuriousDigits("train", seed=0)
    assert np.array_equal(a.images, b.images)
    c = SpuriousDigits("train", seed=1)
    assert np.array_equal(a.digits, c.digits)  # the split is fixed
    assert not np.array_equal(a.attributes, c.attributes)
    flat = SpuriousDigits("train", correlation=0.5)
    assert abs(np.mean(flat.attributes == flat.labels) - 0.5) < 0.01
    assert SpuriousDigits("test", correlation=0.99).correlation == 0.5
    assert "split='train'" in repr(a)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"split": "dev"}, ValueError, "split must be one of"),
    ({"correlation": 0.3}, ValueError, r"correlation must be a number in \[0.5, 1\]"),
    ({"correlation": "high"}, ValueError, "correlation must be a number"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        SpuriousDigits(**{"split": "train", **kwargs})
