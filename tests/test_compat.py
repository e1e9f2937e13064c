"""Every use of MXNet's private API (``mxfair/_compat.py``) against the installed MXNet.

On another MXNet release a private name may be gone or mean something else: each test here
then fails, naming the ``_compat`` function to re-check.
"""
import inspect
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import gluon

from mxfair import _compat


def test_the_installed_mxnet_is_the_checked_release():
    assert mx.__version__ == _compat.MXNET_VERSION, (
        f"mxfair._compat was checked against MXNet {_compat.MXNET_VERSION}, this is "
        f"{mx.__version__}: re-check every function of mxfair/_compat.py (tests/test_compat.py)")


def test_scatter_add_sums_duplicates_like_numpy(ctx):
    index = mx.nd.array([0, 3, 3, 1, 3], ctx=ctx, dtype="float64")
    weight = mx.nd.array([1.0, 2.0, 0.5, 4.0, 0.25], ctx=ctx, dtype="float64")
    got = _compat.scatter_add(index, 5, weight)
    expected = np.zeros(5)
    np.add.at(expected, [0, 3, 3, 1, 3], [1.0, 2.0, 0.5, 4.0, 0.25])
    assert got.context == ctx and got.dtype == np.float64 and got.shape == (5,)
    np.testing.assert_array_equal(got.asnumpy(), expected)


def test_parameter_states(ctx):
    param = gluon.Parameter("p", shape=(1,), init=mx.init.Constant(2.0))
    assert not _compat.has_data(param) and not _compat.is_initialized(param)
    deferred = gluon.Parameter("q", shape=(0,), allow_deferred_init=True)
    deferred.initialize(ctx=ctx)
    assert _compat.is_initialized(deferred) and not _compat.has_data(deferred)
    param.initialize(ctx=ctx)
    assert _compat.has_data(param) and _compat.is_initialized(param)


def test_dataset_arrays_of_a_vision_dataset():
    # gluon.data.vision datasets keep what they loaded in _data and _label
    ds = gluon.data.vision.MNIST.__new__(gluon.data.vision.MNIST)
    ds._data, ds._label = mx.nd.zeros((2, 28, 28, 1)), np.array([3, 4])
    ds._transform = None
    data, label = _compat.dataset_arrays(ds)
    assert data.shape == (2, 28, 28, 1) and label.tolist() == [3, 4]
    assert ds[1][1] == 4  # the same arrays back the dataset's items


def test_trainer_set_up_without_a_distributed_kvstore():
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", kvstore="local")
    assert _compat.deferred_parameters(trainer) == []
    kv = _compat.trainer_kvstore(trainer)
    assert kv is None or isinstance(kv, mx.kv.KVStore)
    _compat.init_trainer_params(trainer)  # nothing to put on a missing kvstore
    deferred = gluon.nn.Dense(1)
    deferred.initialize()
    names = _compat.deferred_parameters(gluon.Trainer(deferred.collect_params(), "sgd"))
    assert len(names) == 1 and names[0].endswith("weight")


def test_barrier_exists_on_kvstores():
    kv = mx.kv.create("local")
    assert callable(getattr(kv, "_barrier", None))
    _compat.barrier(kv)  # a no-op for a local kvstore


def test_every_function_of_compat_is_exercised_here():
    source = Path(__file__).read_text(encoding="utf-8")
    functions = [name for name, obj in vars(_compat).items()
                 if inspect.isfunction(obj) and obj.__module__ == _compat.__name__]
    assert len(functions) >= 8
    assert [f for f in functions if f"_compat.{f}(" not in source] == []
