"""with_groups: group ids attached to any Gluon dataset (an image folder plus a metadata table)."""
import os

import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from mxnet import gluon
from mxnet.gluon.data.vision import transforms
from PIL import Image

from mxfair import GroupEncoder
from mxfair.callbacks import FairnessMonitor
from mxfair.data import GroupedDataset, ReweighingSampler, reweighed_dataset, with_groups


@pytest.fixture
def image_folder(tmp_path):
    """photos/<class>/<file>.png (as ImageFolderDataset reads them) and a metadata CSV."""
    rng = np.random.RandomState(0)
    rows = []
    for label in ("cat", "dog"):
        os.makedirs(tmp_path / "photos" / label)
        for i in range(6):
            name = f"{label}{i}.png"
            pixels = rng.randint(0, 256, size=(8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / name)
            rows.append({"file": f"{label}/{name}", "skin_tone": ["dark", "light"][i % 2]})
    meta = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # not in the folder's order
    meta.to_csv(tmp_path / "metadata.csv", index=False)
    return tmp_path


def test_image_folder_with_a_metadata_table(image_folder, ctx):
    root = str(image_folder / "photos")
    images = gluon.data.vision.ImageFolderDataset(root)  # yields (image, label)
    meta = pd.read_csv(image_folder / "metadata.csv").set_index("file")
    files = [os.path.relpath(path, root) for path, _ in images.items]
    encoder = GroupEncoder()
    ds = with_groups(images, encoder.fit_transform(meta.loc[files, "skin_tone"]))
    assert encoder.group_names_ == ["skin_tone=dark", "skin_tone=light"] and len(ds) == 12
    image, label, group = ds[3]
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    assert files[3] == "cat/cat3.png" and (label, int(group)) == (0, 1)
    # transform_first after attaching, then a DataLoader, a sampler and the monitor
    labels = [lab for _, lab in images.items]
    loader = gluon.data.DataLoader(ds.transform_first(transforms.ToTensor()), batch_size=5,
                                   sampler=ReweighingSampler(labels, ds.groups, seed=0))
    x, y, g = next(iter(loader))
    assert x.shape == (5, 3, 8, 8) and y.shape == g.shape == (5,)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Flatten(), gluon.nn.Dense(1))
    net.initialize(ctx=ctx)
    val = gluon.data.DataLoader(ds.transform_first(transforms.ToTensor()), batch_size=4)
    FairnessMonitor(val, 2, group_names=encoder.group_names_, progress=False).evaluate(net)


def test_items_of_every_shape_and_the_weighted_path():
    singles = gluon.data.SimpleDataset([np.full(2, k, "float32") for k in range(4)])
    ds = with_groups(singles, [1, 0, 1, 0])
    assert [int(ds[i][1]) for i in range(4)] == [1, 0, 1, 0] and len(ds[0]) == 2
    triples = gluon.data.ArrayDataset(np.zeros((4, 2)), np.array([0, 1, 1, 0]), np.ones(4))
    x, y, g, w = with_groups(triples, np.array([1.0, 0.0, 1.0, 0.0]))[0]
    assert (int(y), int(g), float(w)) == (0, 1, 1.0)  # the group goes after x and y
    pairs = gluon.data.ArrayDataset(np.zeros((4, 2)), np.array([0, 1, 1, 0]))
    assert len(reweighed_dataset(with_groups(pairs, [0, 0, 1, 1]))[0]) == 4
    grouped = GroupedDataset(pairs, mx.nd.array([0, 0, 1, 1]), num_groups=3)
    assert grouped.num_groups == 3 and grouped.groups.dtype == np.int64


def test_bad_groups_are_refused_by_name():
    pairs = gluon.data.ArrayDataset(np.zeros((4, 2)), np.array([0, 1, 1, 0]))
    with pytest.raises(TypeError, match=r"groups must hold numeric ids.*GroupEncoder"):
        with_groups(pairs, ["a", "b", "a", "b"])
    with pytest.raises(ValueError, match="groups has 3 rows but dataset has 4 items"):
        with_groups(pairs, [0, 1, 0])
    with pytest.raises(ValueError, match=r"groups: group ids must be integers in \[0, 2\)"):
        with_groups(pairs, [0, 1, 2, 0], num_groups=2)
    with pytest.raises(ValueError, match="got 1 NaN"):
        with_groups(pairs, [0, 1, np.nan, 0])
    with pytest.raises(TypeError, match="dataset must be a gluon.data.Dataset"):
        with_groups(42, [0])
