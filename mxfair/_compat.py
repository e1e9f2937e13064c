"""MXNet's private API, used here and nowhere else in mxfair (``tests/test_layers.py`` checks).

mxfair pins MXNet 1.9.1 (its last release). A few things it needs have no public API in that
release; each is wrapped by one function below, with the private names it reads.
``tests/test_compat.py`` exercises every function against the installed MXNet and fails loudly,
naming the function, when a private name moved or changed meaning (another MXNet version).

- :func:`scatter_add`: ``mx.nd._internal._backward_gather_nd`` (a scatter with accumulation;
  the public ``scatter_nd`` overwrites duplicates);
- :func:`has_data`, :func:`is_initialized`: ``Parameter._data`` and ``Parameter._deferred_init``
  (``Parameter.data()`` raises instead of answering);
- :func:`dataset_arrays`: the ``_data`` and ``_label`` arrays of ``gluon.data.vision.CIFAR10``;
- :func:`trainer_kvstore`, :func:`deferred_parameters`, :func:`init_trainer_params`,
  :func:`barrier`: ``gluon.Trainer``'s lazy kvstore set-up and ``KVStore._barrier``.
"""
from typing import Any, List, Tuple

import mxnet as mx

__all__: list = []

#: The MXNet release every function here was checked against.
MXNET_VERSION = "1.9.1"


def scatter_add(index: mx.nd.NDArray, size: int, weight: mx.nd.NDArray) -> mx.nd.NDArray:
    """Sum of ``weight`` (N,) per ``index`` (N,), a new array of shape (size,) in weight's dtype.

    Every index must be an integer in ``[0, size)``: MXNet's scatter with accumulation casts it
    to an int and does not check (callers give invalid rows an index in range and a weight of
    0, or a slot of their own). As fast as MXNet's histogram kernel for small arrays and 2-3
    times faster for millions of cells (``bench/bench_metrics.py``).
    """
    return mx.nd._internal._backward_gather_nd(weight, index.reshape((1, -1)), shape=(size,))


def has_data(param: mx.gluon.Parameter) -> bool:
    """True once ``param`` holds arrays (it was initialised, not only deferred)."""
    return param._data is not None


def is_initialized(param: mx.gluon.Parameter) -> bool:
    """True once ``param`` holds arrays or has a pending deferred initialisation."""
    return param._data is not None or bool(param._deferred_init)


def dataset_arrays(dataset: Any) -> Tuple[Any, Any]:
    """The ``(data, label)`` arrays a ``gluon.data.vision`` data set (CIFAR10, MNIST) loaded."""
    return dataset._data, dataset._label


def trainer_kvstore(trainer: mx.gluon.Trainer) -> Any:
    """The trainer's kvstore (None without one), after its lazy set-up is done now."""
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    return trainer._kvstore


def deferred_parameters(trainer: mx.gluon.Trainer) -> List[str]:
    """Names of the trainer's parameters whose shapes are still deferred."""
    return [p.name for p in trainer._params if p._deferred_init]


def init_trainer_params(trainer: mx.gluon.Trainer) -> None:
    """Put the trainer's not yet initialised parameters on its kvstore (rank 0 pushes, every
    worker pulls), as its first ``step`` would."""
    if trainer._params_to_init:
        trainer._init_params()


def barrier(kvstore: Any) -> None:
    """Wait until every worker of a distributed kvstore reaches this point."""
    kvstore._barrier()
