"""Array helpers shared by the package: NumPy/NDArray conversion, one-hot group sums, division.

The F-generic helpers take ``F`` (``mx.nd`` or ``mx.sym``) first so that they work inside
``hybrid_forward``.
"""
import math
from typing import Any, Optional, Union

import mxnet as mx
import numpy as np

Tensor = Union[mx.nd.NDArray, mx.sym.Symbol]
ArrayLike = Union[np.ndarray, mx.nd.NDArray, list, tuple]

__all__ = ["Tensor", "ArrayLike"]


def is_ndarray(x: Any) -> bool:
    """True for an MXNet NDArray (the kind a public function must give back)."""
    return isinstance(x, mx.nd.NDArray)


def to_numpy(x: Any) -> np.ndarray:
    """NumPy view of a list, NumPy array, pandas object or NDArray (synchronises for NDArray)."""
    if is_ndarray(x):
        return x.asnumpy()
    if hasattr(x, "to_numpy"):  # pandas
        return x.to_numpy()
    return np.asarray(x)


def context_of(*arrays: Any, default: Optional[mx.Context] = None) -> mx.Context:
    """Context of the first NDArray among ``arrays``, else ``default`` or the current context."""
    for a in arrays:
        if is_ndarray(a):
            return a.context
    return default if default is not None else mx.current_context()


def as_ndarray(x: Any, ctx: Optional[mx.Context] = None, dtype: Any = None) -> mx.nd.NDArray:
    """NDArray on ``ctx`` (default: its own context, or the current one for host data)."""
    if is_ndarray(x):
        if ctx is not None and x.context != ctx:
            x = x.as_in_context(ctx)
        if dtype is not None and x.dtype != np.dtype(dtype):
            x = x.astype(dtype)
        return x
    arr = to_numpy(x)
    if dtype is not None:
        arr = arr.astype(dtype)
    return mx.nd.array(arr, ctx=ctx or mx.current_context(), dtype=arr.dtype)


def like_inputs(result: Any, *inputs: Any, dtype: Any = None) -> Any:
    """``result`` given back as the kind of ``inputs``: an NDArray on their context when any
    is an NDArray (``dtype``, float32 by default), else a NumPy array (cast to ``dtype`` when
    given). Every public function returns the kind of array it was given."""
    result = to_numpy(result)
    if any(is_ndarray(a) for a in inputs):
        return as_ndarray(result, ctx=context_of(*inputs), dtype=dtype or np.float32)
    return result if dtype is None else result.astype(dtype)


def as_dtype_of(ref: mx.nd.NDArray, x: Any) -> Any:
    """``x`` cast to ``ref``'s dtype when it is an NDArray of another dtype (else unchanged).

    Loaders yield int64 labels and float64 weights; Gluon's losses need the prediction's dtype.
    """
    if is_ndarray(x) and x.dtype != ref.dtype:
        return x.astype(ref.dtype)
    return x


def group_onehot(F, groups: Tensor, num_groups: int, dtype: str = "float32") -> Tensor:
    """One-hot group matrix (N, G) from group ids (N,); an id outside the range gives a 0 row."""
    return F.one_hot(F.cast(F.reshape(groups, shape=(-1,)), "int32"), depth=num_groups, dtype=dtype)


def group_sums(F, values: Tensor, onehot: Tensor) -> Tensor:
    """Per-group sums: values (N,) or (N, C), onehot (N, G) → (G,) or (G, C)."""
    return F.dot(onehot, values, transpose_a=True)


def nan_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Host division that gives NaN (not a warning or inf) where den is 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


# ------------------------------------------------------------ graph-side checks of rows
# Inside a graph a bad row cannot raise: it is flagged (1.0) by these helpers, then left out
# and counted (GroupStats, the losses) or given NaN (GroupThreshold). Their host-side
# counterparts are the checks of ``_validation``.
_TABLE_MAX = 2 ** 16  # ids checked against a table of every valid id up to this many


def invalid_ids(F, ids: Tensor, count: int, dtype: str = "float32") -> Tensor:
    """1 where an id is not an integer in [0, count) (NaN and inf included), else 0: the one
    graph-side check of group ids and labels (GroupStats, the losses, GroupThreshold).

    Up to ``_TABLE_MAX`` valid ids: ``take(arange(count), id, mode="clip")`` is the valid id
    that the truncated, clipped id points to, and equals the id only when the id is one (NaN
    equals nothing): two steps. Above: ``min(max(floor(id), 0), count - 1)``, four steps
    (scalar minimum/maximum take a double; ``clip`` would round its bounds to float32).
    """
    if count <= _TABLE_MAX:
        return F.take(F.arange(0, count, dtype=dtype), ids, mode="clip") != ids
    return ids != F.minimum(F.maximum(F.floor(ids), 0.0), count - 1.0)


def nonfinite(x: Tensor) -> Tensor:
    """1 where x is NaN or +-inf (x - x is NaN there, 0 elsewhere)."""
    return (x - x) != 0


def outside_unit(F, x: Tensor) -> Tensor:
    """1 where x is not in [0, 1] (NaN and inf included)."""
    return x != F.minimum(F.maximum(x, 0.0), 1.0)


def invalid_weights(F, w: Tensor) -> Tensor:
    """1 where a sample weight is NaN, infinite or negative, else 0."""
    return 1 - (w >= 0) * (w < math.inf)


class UnitWeights:
    """Cached all-ones weight vectors (N,), one per (rows, context, dtype).

    A hybridized Gluon block caches which of its inputs are None, so a loss called once with
    ``sample_weight`` and once without fails; passing ones when none are given keeps the graph's
    inputs fixed.
    """

    def __init__(self):
        self._cache: dict = {}

    def __call__(self, like: mx.nd.NDArray) -> mx.nd.NDArray:
        n = int(like.shape[0]) if like.ndim else 0
        key = (n, like.context, np.dtype(like.dtype).name)
        ones = self._cache.get(key)
        if ones is None:
            if len(self._cache) > 16:
                self._cache.clear()
            ones = self._cache[key] = mx.nd.ones((n,), ctx=like.context, dtype=like.dtype)
        return ones
