"""Shared fixtures: fixed seeds, a non-default CPU context, the optional raw-data folder."""
import os
import random
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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
    """The raw data folder that CI has (../shared/data), or None on a user's machine."""
    root = os.environ.get("MXFAIR_SHARED_DATA", str(SHARED_DATA))
    return Path(root) if Path(root).is_dir() else None


def pytest_collection_modifyitems(config, items):
    if mx.context.num_gpus() > 0:
        return
    skip_gpu = pytest.mark.skip(reason="needs a GPU: mx.context.num_gpus() == 0")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
