"""Helpers shared by several test files (one home each, no copies).

* :func:`leftovers`: processes of a local ps-lite cluster still alive (test_launch,
  test_distributed);
* ``Y``, ``YP``, ``G``: two hand-counted facets (test_data_bias, test_clarify, test_aif360);
* :func:`leaky_data`: a small synthetic set whose fourth feature leaks the group (the training
  tests of the losses and the adversary);
* :func:`tiny_mlp`: the small Gluon MLP of the training-loop tests (monitor, Estimator).

The Adult subsample the training-loop tests share is the ``adult`` fixture of ``conftest.py``.
"""
import os
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import gluon

# Two facets, hand-counted: a = group "a" (TP=2, FP=1, FN=0, TN=1), d = group "d"
# (TP=1, FP=0, FN=1, TN=2).
Y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
YP = np.array([1, 1, 1, 0, 1, 0, 0, 0])
G = np.array(["a", "a", "a", "a", "d", "d", "d", "d"])


def leftovers(port: int) -> list:
    """Pids of live processes started for the cluster on ``port`` (found by environment)."""
    tag = f"DMLC_PS_ROOT_PORT={port}".encode() + b"\0"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text()
        except OSError:  # gone meanwhile, or not ours
            continue
        if tag in environ and "\nState:\tZ" not in status:
            pids.append(int(entry.name))
    return pids


def leaky_data(n: int = 512, seed: int = 0):
    """``(x (n, 4) float32, y (n,) float32, g (n,) int)``: the label depends on the group, and
    the fourth feature is the group plus noise, so an unconstrained model has a large
    selection-rate gap (about 0.5)."""
    rng = np.random.RandomState(seed)
    g = rng.randint(0, 2, n)
    x = np.c_[rng.randn(n, 3), g + 0.3 * rng.randn(n)].astype(np.float32)
    y = ((x[:, 0] + 1.5 * g + 0.3 * rng.randn(n)) > 0.8).astype(np.float32)
    return x, y, g


def tiny_mlp(ctx, outputs: int = 1, hybridize: bool = False, seed: int = 0):
    """Dense(8, relu) then Dense(outputs), Xavier-initialised on ``ctx`` from ``seed``."""
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(8, activation="relu"), gluon.nn.Dense(outputs))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    if hybridize:
        net.hybridize()
    return net


def public_modules() -> tuple:
    """Every module whose ``__all__`` is public API (the API and probe-coverage tests walk it)."""
    import mxfair
    from mxfair import (
        auditing,
        callbacks,
        data,
        datasets,
        distributed,
        explain,
        loss,
        metrics,
        nn,
        plot,
        postprocessing,
        training,
    )
    from mxfair.auditing import cli, figures
    from mxfair.metrics import aif360, clarify, data_bias, significance

    return (mxfair, metrics, data, loss, postprocessing, callbacks, datasets, distributed, plot,
            clarify, aif360, data_bias, significance, explain, auditing, figures, cli, training,
            nn)
