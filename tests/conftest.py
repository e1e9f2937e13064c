"""Shared fixtures: fixed seeds, a non-default CPU context, the optional raw-data folder, the
Adult subsample of the training-loop tests."""
import os
import random
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from mxfair.datasets import load_adult

#: Names a folder of the raw data files as first published (CI sets it; the COMPAS file is not
#: shipped, so the tests that read it are skipped where the variable is not set).
SHARED_DATA_ENV = "MXFAIR_SHARED_DATA"


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    mx.random.seed(0)


@pytest.fixture
def ctx():
    """A context other than the default, to catch arrays created on mx.current_context()."""
    return mx.cpu(1)


@pytest.fixture
def shared_data():
    """The raw data folder named by ``$MXFAIR_SHARED_DATA``, or None when it is not set."""
    root = os.environ.get(SHARED_DATA_ENV)
    return Path(root) if root and Path(root).is_dir() else None


@pytest.fixture(scope="session")
def adult():
    """An Adult subsample (1,500 rows per split, seed 1) for the training-loop tests."""
    return load_adult(subsample=1500, seed=1)


def pytest_collection_modifyitems(config, items):
    if mx.context.num_gpus() > 0:
        return
    skip_gpu = pytest.mark.skip(reason="needs a GPU: mx.context.num_gpus() == 0")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
