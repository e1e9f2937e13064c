"""Helpers of the worst-group blocks: host checks of one batch, host id checks, and non-trained
array state.

Batch checks read shapes and dtypes only (no synchronisation). Non-trained state is a
``grad_req='null'`` parameter: a hybridized block reads it as a graph input (not a baked-in
constant), the host changes it with ``set_data``, and it survives ``save_parameters`` and
``export``.
"""
from typing import Any, Optional, Sequence

import mxnet as mx
import numpy as np

from ._ops import is_ndarray, to_numpy
from ._validation import IDS_NOT_NUMERIC

__all__: list = []

NOT_NDARRAY = (
    "{name} must be an mx.nd.NDArray, got {kind}; wrap host data with "
    "mx.nd.array(values, ctx=pred.context)"
)
BAD_COLUMN = "{name} must have shape ({n},) or ({n}, 1) to match pred, got {shape}"
BAD_SCORES = "pred must have shape {expected}, got {shape}{hint}"
OTHER_CONTEXT = "{name} is on {ctx}, pred on {pred_ctx}; put every input on one context"
BAD_ERRORS = "{name} must be booleans or 0/1 values, got values in [{lo}, {hi}]"

#: Host dtypes that cannot hold numeric ids (strings, bytes, Python objects, raw void).
_NON_NUMERIC_KINDS = "OUSV"


def check_numeric_ids(name: str, values: Any) -> np.ndarray:
    """Host values as a NumPy array; TypeError ``IDS_NOT_NUMERIC`` for strings or objects."""
    arr = np.asarray(to_numpy(values))
    if arr.dtype.kind in _NON_NUMERIC_KINDS:
        raise TypeError(IDS_NOT_NUMERIC.format(name=name, dtype=arr.dtype))
    return arr


def check_ndarray(name: str, value: Any, ids: bool = False) -> None:
    """TypeError unless ``value`` is an NDArray (string ids get the ``IDS_NOT_NUMERIC`` text)."""
    if is_ndarray(value):
        return
    if ids:
        check_numeric_ids(name, value)
    raise TypeError(NOT_NDARRAY.format(name=name, kind=type(value).__name__))


def check_column(name: str, value: mx.nd.NDArray, n: int, ctx: mx.Context) -> None:
    """ValueError unless ``value`` has shape (n,) or (n, 1) and lives on ``ctx``."""
    if tuple(value.shape) not in ((n,), (n, 1)):
        raise ValueError(BAD_COLUMN.format(name=name, n=n, shape=tuple(value.shape)))
    if value.context != ctx:
        raise ValueError(OTHER_CONTEXT.format(name=name, ctx=value.context, pred_ctx=ctx))


def check_scores(pred: mx.nd.NDArray, num_classes: int, leading: Sequence[int] = (),
                 last: Optional[int] = None) -> int:
    """Check ``pred``'s shape and return the batch size.

    Without ``leading``: ``num_classes == 2`` wants (N,) or (N, 1) (one score per row, as
    Gluon's binary losses take), ``num_classes > 2`` wants (N, K). With ``leading``:
    (N, *leading, last).
    """
    shape = tuple(pred.shape)
    if leading:
        expected = "(N, " + ", ".join(str(d) for d in leading) + f", {last})"
        ok = len(shape) == 2 + len(leading) and shape[1:] == tuple(leading) + (last,)
    elif num_classes == 2:
        expected = "(N,) or (N, 1) (one score per row of a binary task)"
        ok = len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)
    else:
        expected = f"(N, {num_classes})"
        ok = len(shape) == 2 and shape[1] == num_classes
    if not ok:
        hint = ""
        if len(shape) == 2 and shape[-1] > 2 and not leading and shape[-1] != num_classes:
            hint = f": got {shape[-1]} columns, pass num_classes={shape[-1]}"
        elif len(shape) == 2 and shape[-1] == 2 and num_classes == 2 and not leading:
            hint = (": two softmax scores per row of a binary task need "
                    "base_loss=gluon.loss.SoftmaxCrossEntropyLoss()")
        raise ValueError(BAD_SCORES.format(expected=expected, shape=shape, hint=hint))
    return int(shape[0]) if shape else 0


def check_binary_flags(name: str, values: Any) -> np.ndarray:
    """Host 0/1 or boolean flags as a bool array; ValueError (naming ``name``) otherwise."""
    arr = check_numeric_ids(name, values).reshape(-1)
    if arr.dtype == np.bool_:
        return arr
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        lo = finite.min() if finite.size else np.nan
        hi = finite.max() if finite.size else np.nan
        raise ValueError(BAD_ERRORS.format(name=name, lo=lo, hi=hi))
    return arr.astype(bool)


class UnitWeights:
    """Cached all-ones weight vectors, one per (rows, context, dtype).

    A hybridized Gluon block caches which of its inputs are None, so a loss called once with
    ``sample_weight`` and once without fails; passing ones when none are given keeps the graph's
    inputs fixed.
    """

    def __init__(self):
        self._cache = {}

    def __call__(self, like: mx.nd.NDArray) -> mx.nd.NDArray:
        n = int(like.shape[0]) if like.ndim else 0
        key = (n, like.context, np.dtype(like.dtype).name)
        ones = self._cache.get(key)
        if ones is None:
            if len(self._cache) > 16:
                self._cache.clear()
            ones = self._cache[key] = mx.nd.ones((n,), ctx=like.context, dtype=like.dtype)
        return ones


# ------------------------------------------------------------------------------ base loss
def base_loss_block(base_loss: Optional[mx.gluon.Block], num_classes: int,
                    from_logits: bool) -> mx.gluon.Block:
    """The given per-row loss, or the default: sigmoid cross-entropy (binary, one score per row)
    or softmax cross-entropy (K classes), on logits or probabilities as ``from_logits`` says."""
    if base_loss is not None:
        if not isinstance(base_loss, mx.gluon.Block):
            raise TypeError(f"base_loss must be a gluon Block (a Loss), got {base_loss!r}")
        return base_loss
    if num_classes == 2:
        return mx.gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=not from_logits)
    # SoftmaxCrossEntropyLoss(from_logits=True) means "pred holds log-probabilities"
    return mx.gluon.loss.SoftmaxCrossEntropyLoss(from_logits=not from_logits)


def per_row_loss(F, base: mx.gluon.Block, pred, label, default_multiclass_probs: bool):
    """``base(pred, label)`` as (N,); K-class probabilities go in as log-probabilities."""
    if default_multiclass_probs:
        return F.reshape(base(F.log(F.maximum(pred, 1e-12)), label), shape=(-1,))
    return F.reshape(base(pred, label), shape=(-1,))


# ------------------------------------------------------------------------- non-trained state
def new_state(block: mx.gluon.Block, name: str, shape: Sequence[int],
              value: Any) -> mx.gluon.Parameter:
    """A non-trained float32 parameter ``name`` of ``shape`` initialised to ``value``.

    ``value`` is a number or a list of numbers of ``shape``. Assign the result to an attribute
    of the same name (Gluon saves a block's own parameters by that name).
    """
    init = float(value) if np.isscalar(value) else np.asarray(value, np.float32)
    return block.params.get(name, shape=tuple(shape), init=mx.init.Constant(init),
                            dtype="float32", grad_req="null", differentiable=False)


def state_ready(param: mx.gluon.Parameter) -> bool:
    """True once ``param`` holds data (or waits for a deferred initialisation)."""
    return param._data is not None or bool(param._deferred_init)


def state_on(param: mx.gluon.Parameter, ctx: mx.Context) -> None:
    """Make ``param`` available on ``ctx`` (initialise it there or add a copy)."""
    if not state_ready(param):
        param.initialize(ctx=ctx)
    elif param._data is not None and ctx not in param.list_ctx():
        param.reset_ctx(list(param.list_ctx()) + [ctx])


def state_value(param: mx.gluon.Parameter) -> np.ndarray:
    """The state as a float64 NumPy array (its initial value before first use; synchronises)."""
    if param._data is None:
        value = param.init.value if param.init is not None else 0.0
        return np.broadcast_to(np.asarray(value, np.float64), param.shape).copy()
    return param.data(param.list_ctx()[0]).asnumpy().astype(np.float64)


def set_state(param: mx.gluon.Parameter, value: Any) -> None:
    """Set the state on every context it lives on (or its initial value if not yet used)."""
    arr = np.broadcast_to(np.asarray(value, np.float32), param.shape)
    param.init = mx.init.Constant(arr.copy())
    if param._data is not None:
        with mx.autograd.pause():
            param.set_data(mx.nd.array(arr, ctx=param.list_ctx()[0], dtype="float32"))


def write_state(param: mx.gluon.Parameter, value: mx.nd.NDArray) -> None:
    """Copy a device array into the state on every context (no host synchronisation)."""
    with mx.autograd.pause():
        for target in param.list_data():
            value.copyto(target)


def save_ready(block: mx.gluon.Block, params: Sequence[mx.gluon.Parameter],
               ctx: Optional[mx.Context] = None) -> None:
    """Initialise never-used state on the CPU so that ``save_parameters`` can write it."""
    for param in params:
        if not state_ready(param):
            state_on(param, ctx or mx.cpu())
