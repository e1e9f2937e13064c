"""Fairness statistics, reweighing counts and FairBatch ratios summed over data-parallel workers.

In data-parallel training every worker sees a shard of the data, so its own fairness figures are
wrong until combined. mxfair's statistics are sums (:class:`~mxfair.metrics.GroupStats`, the
(group, label) cell counts of reweighing), so combining them is one allreduce of a small tensor:

* :func:`allreduce_stats` sums every additive array of a ``GroupStats`` over the workers, so
  that each worker holds the statistics (and the report) of the whole data set;
* :func:`global_cell_counts` / :func:`global_reweighing` give every worker the reweighing
  table of the global data (pass ``cell_counts=`` to the mxfair samplers);
* :func:`sync_ratios` makes every worker use the same FairBatch sampling ratios;
* :func:`allreduce_array` is the generic helper underneath.

Communication backends (``kvstore`` argument)
---------------------------------------------
``None``, ``"local"``, ``"device"``, ``"nccl"`` or any kvstore of one worker
    Nothing to combine: the result is the local value.
An MXNet parameter-server kvstore (``mx.kv.create("dist_sync")``, ps-lite)
    Values are pushed and pulled through the servers (the same kvstore object the
    ``gluon.Trainer`` uses). ``dist_async`` is refused: it cannot sum.
A Horovod-like object (``import horovod.mxnet as hvd``: anything with ``allreduce``, ``rank``
and ``size``)
    One ``hvd.allreduce`` (sum) of a float64 NDArray per call.

Exactness
---------
Integer-valued statistics (unweighted counts, histograms, bootstrap counts below 2**53) are
summed **exactly** through every backend, also through MXNet 1.9.1's ps-lite servers, which add
in float32 whatever dtype is pushed: the distributed report equals the single-process one bit
for bit. Other float64 values are the exact sum correctly rounded to float64 (within 96 bits of
range per array). How: ``mxfair/_kvstore.py``, the transport under this module and
:meth:`~mxfair.metrics.GroupStats.allreduce`.

A ``gluon.Trainer`` on a ``dist_*`` kvstore sends its optimizer to the servers by default
(``update_on_kvstore=True``); the servers then apply it to *every* pushed key, which turns a sum
into an optimizer step. mxfair detects this (a pushed 1 per worker does not come back as ``W``)
and raises ``RuntimeError``; create the trainer with ``update_on_kvstore=False`` (workers update
their own copy of the weights from the summed gradients, the same arithmetic) and call
:func:`init_trainer` before its first step, or use Horovod.

Every worker must make the same calls in the same order with arrays of the same shapes (the
usual data-parallel program); mismatched shapes or ``GroupStats`` configurations are detected
in the first round and raise ``ValueError``.
"""
from typing import Any, Literal, Optional

import mxnet as mx
import numpy as np

from . import _compat
from ._kvstore import is_distributed, rank_and_size, sum_float64
from ._ops import ArrayLike, is_ndarray, like_inputs, to_numpy
from ._validation import check_choice, check_positive_int
from .data.reweighing import cell_counts, weights_from_counts
from .metrics.stats import GroupStats

__all__ = [
    "allreduce_array",
    "allreduce_stats",
    "global_cell_counts",
    "global_reweighing",
    "sync_ratios",
    "is_distributed",
    "rank_and_size",
    "init_trainer",
]

BAD_METHOD = "method must be 'mean' or 'broadcast', got {value!r}"
BAD_KEY = "key must be a non-empty string naming the array, got {value!r}"


def allreduce_array(array: ArrayLike, kvstore: Any, *, key: str):
    """Sum of ``array`` over all workers, the same on every worker.

    Parameters
    ----------
    array : np.ndarray or NDArray, any shape
        This worker's values (finite). Integer dtypes are summed through float64 (exact up to
        2**53).
    kvstore : None, str, mx.kv.KVStore or Horovod-like
        See the module docstring; ``None`` or a local kvstore returns a copy of ``array``.
    key : str
        A name for this array, the same on every worker (mxfair derives its kvstore key from
        it and the size, away from the keys of ``gluon.Trainer``).

    Returns
    -------
    np.ndarray or NDArray
        Same kind, shape and dtype as ``array`` (an NDArray on its context).

    Examples
    --------
    >>> allreduce_array(np.array([[3.0, 1.0], [2.0, 5.0]]), None, key="counts").tolist()
    [[3.0, 1.0], [2.0, 5.0]]
    """
    if not isinstance(key, str) or not key:
        raise TypeError(BAD_KEY.format(value=key))
    host = to_numpy(array)
    (total,) = sum_float64(kvstore, key, [host])
    total = total.reshape(host.shape).astype(host.dtype, copy=False)
    if is_ndarray(array):
        return mx.nd.array(total, ctx=array.context, dtype=array.dtype)
    return total


def allreduce_stats(stats: GroupStats, kvstore: Any) -> GroupStats:
    """Sum a :class:`~mxfair.metrics.GroupStats` over all workers: ``stats.allreduce(kvstore)``.

    See :meth:`GroupStats.allreduce <mxfair.metrics.GroupStats.allreduce>`; every worker gets
    the statistics (and the report) of the whole data set, exactly.

    Examples
    --------
    >>> local = GroupStats(num_groups=2, from_logits=False)  # probabilities
    >>> local.update(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.7]), np.array([0, 0, 1]))
    >>> allreduce_stats(local, None).counts.asnumpy().sum()
    3.0
    """
    if not isinstance(stats, GroupStats):
        raise TypeError(f"stats must be a GroupStats, got {type(stats).__name__}")
    return stats.allreduce(kvstore)


def global_cell_counts(
    labels: ArrayLike,
    groups: ArrayLike,
    kvstore: Any,
    *,
    num_groups: int,
    num_classes: int = 2,
    sample_weight: Optional[ArrayLike] = None,
):
    """(group, label) cell counts of the rows of *all* workers.

    Each worker passes its own rows; the local table of :func:`mxfair.data.cell_counts` is
    summed over the workers. Pass the result as ``cell_counts=`` to ``ReweighingSampler``,
    ``GroupBalancedSampler``, ``FairBatchSampler`` or ``reweighing_weights`` so that every
    worker uses the global distribution.

    Parameters
    ----------
    labels, groups : array of int, shape (N,)
        This worker's rows (N may be 0).
    kvstore : None, str, mx.kv.KVStore or Horovod-like
    num_groups, num_classes : int
        Table size; required, since one shard can miss a group or a label.
    sample_weight : array of float, shape (N,), optional

    Returns
    -------
    counts : np.ndarray or NDArray, shape (G, K), float64
        NDArray on the inputs' context when any input is an NDArray.

    Examples
    --------
    >>> global_cell_counts([0, 1, 1], [0, 0, 1], None, num_groups=2).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    num_groups = check_positive_int("num_groups", num_groups)
    num_classes = check_positive_int("num_classes", num_classes)
    local = cell_counts(to_numpy(labels), to_numpy(groups), num_groups=num_groups,
                        num_classes=num_classes,
                        sample_weight=None if sample_weight is None else to_numpy(sample_weight))
    total = allreduce_array(np.asarray(local, dtype=np.float64), kvstore, key="cell_counts")
    return like_inputs(total, labels, groups, sample_weight, dtype=np.float64)


def global_reweighing(
    labels: ArrayLike,
    groups: ArrayLike,
    kvstore: Any,
    *,
    num_groups: int,
    num_classes: int = 2,
    sample_weight: Optional[ArrayLike] = None,
    empty: Literal["raise", "zero"] = "raise",
):
    """Reweighing table ``w(g, y) = n_g n_y / (n n_{g,y})`` from the counts of all workers.

    :func:`global_cell_counts` followed by :func:`mxfair.data.weights_from_counts` (the one home
    of the formula). Every worker gets the same table, equal to the single-process table of
    the whole data set.

    Parameters
    ----------
    labels, groups : array of int, shape (N,)
        This worker's rows.
    kvstore : None, str, mx.kv.KVStore or Horovod-like
    num_groups, num_classes : int
    sample_weight : array of float, shape (N,), optional
    empty : {'raise', 'zero'}
        Policy for a globally empty cell; see :func:`mxfair.data.weights_from_counts`.

    Returns
    -------
    weights : np.ndarray or NDArray, shape (G, K), float64
        Row ``i`` of a worker gets ``weights[groups[i], labels[i]]``.

    Examples
    --------
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> global_reweighing(y, g, None, num_groups=2).tolist()
    [[2.0, 0.6666666666666666], [0.6666666666666666, 2.0]]
    """
    check_choice("empty", empty, {"raise", "zero"})
    counts = global_cell_counts(labels, groups, kvstore, num_groups=num_groups,
                                num_classes=num_classes, sample_weight=sample_weight)
    return like_inputs(weights_from_counts(to_numpy(counts), empty=empty), labels, groups,
                       sample_weight, dtype=np.float64)


def sync_ratios(ratios: Any, kvstore: Any, *, method: Literal["mean", "broadcast"] = "mean",
                root: int = 0):
    """Make every worker hold the same FairBatch sampling ratios.

    Parameters
    ----------
    ratios : array, any shape, or a FairBatchSampler
        This worker's ratios (a ``FairBatchSampler``'s ``lambdas_``, shape (K, G)). Given a
        sampler (anything with a ``lambdas_`` attribute), its ``lambdas_`` are replaced by the
        agreed ratios.
    kvstore : None, str, mx.kv.KVStore or Horovod-like
    method : {'mean', 'broadcast'}
        ``'mean'``: the average of the workers' ratios (a mean of feasible ratio tables is
        feasible). ``'broadcast'``: worker ``root``'s ratios, exactly.
    root : int, default 0
        The worker whose ratios ``'broadcast'`` sends.

    Returns
    -------
    np.ndarray or NDArray
        The agreed ratios, bit-identical on every worker, of the kind given (NumPy for a
        sampler).

    Examples
    --------
    >>> sync_ratios(np.array([[0.2, 0.3], [0.25, 0.25]]), None).tolist()
    [[0.2, 0.3], [0.25, 0.25]]
    """
    if method not in ("mean", "broadcast"):
        raise ValueError(BAD_METHOD.format(value=method))
    sampler = ratios if hasattr(ratios, "lambdas_") else None
    values = sampler.lambdas_ if sampler is not None else ratios
    host = np.asarray(to_numpy(values), dtype=np.float64)
    rank, size = rank_and_size(kvstore)
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < size:
        raise ValueError(f"root must be a worker rank in [0, {size}), got {root!r}")
    if method == "broadcast":
        mine = host if rank == root else np.zeros_like(host)
        agreed = allreduce_array(mine, kvstore, key="ratios/broadcast")
    else:
        agreed = allreduce_array(host, kvstore, key="ratios/mean") / size
    if sampler is not None:
        sampler.lambdas_ = agreed
        return agreed
    if is_ndarray(values):
        return mx.nd.array(agreed, ctx=values.context, dtype=values.dtype)
    return agreed


def init_trainer(trainer) -> None:
    """Put a ``gluon.Trainer``'s parameters on its kvstore now, then wait for every worker.

    MXNet 1.9.1 initialises the trainer's kvstore keys lazily in the first ``step``: rank 0
    pushes the initial weights and every worker pulls them (a broadcast) right before pushing
    its first gradients. With a ``dist_sync`` kvstore and ``update_on_kvstore=False`` a worker
    can pull while another worker's gradients are being merged, and start from corrupted
    weights (seen here in about 1 run in 8 with two workers on one machine, without mxfair code
    involved). Calling this once after the parameters are initialised (after a first forward
    pass for deferred shapes) and before the first ``step`` does the broadcast up front and
    adds a barrier, so no gradient is pushed before every worker holds the initial weights.
    Nothing happens without a distributed kvstore.

    Parameters
    ----------
    trainer : gluon.Trainer

    Examples
    --------
    >>> net = mx.gluon.nn.Dense(1, in_units=2)
    >>> net.initialize()
    >>> init_trainer(mx.gluon.Trainer(net.collect_params(), "sgd"))
    """
    if not isinstance(trainer, mx.gluon.Trainer):
        raise TypeError(f"trainer must be a gluon.Trainer, got {type(trainer).__name__}")
    kv = _compat.trainer_kvstore(trainer)  # the Trainer's lazy set-up, done now
    if kv is None or not is_distributed(kv):
        return
    deferred = _compat.deferred_parameters(trainer)
    if deferred:
        raise ValueError(
            f"parameters {deferred[:3]} still have deferred shapes: run one forward pass "
            "before init_trainer"
        )
    _compat.init_trainer_params(trainer)
    _compat.barrier(kv)
