"""Host-set state of a block (a value the host changes between steps), stored as a non-trained
Gluon parameter.

A value that the host changes between steps (the fairness weight ``lam``, a Lagrange multiplier,
the gradient-reversal scale, group DRO's group weights ``q``, a per-domain class prior) must not
be a Python constant inside ``hybrid_forward``: a hybridized block bakes Python constants into
its cached graph. It lives in a ``grad_req='null'`` parameter instead (a scalar of shape
``(1,)`` or an array), is read by the graph as an input, is changed with ``set_data`` (or a
device copy, with no host synchronisation) and survives ``save_parameters`` and ``export``.
"""
from typing import Any, Optional, Sequence

import mxnet as mx
import numpy as np

from ._compat import has_data, is_initialized

__all__: list = []


def new_state(block: mx.gluon.Block, name: str, shape: Sequence[int],
              value: Any) -> mx.gluon.Parameter:
    """Register a non-trained float32 parameter ``name`` of ``shape`` on ``block``, initialised
    to ``value`` (a number, or numbers of ``shape``).

    Assign it to an attribute of the same name: a block whose only parameters are its own is
    saved and loaded by parameter name (Gluon's flat format), so the two names must agree.
    """
    init = float(value) if np.isscalar(value) else np.asarray(value, np.float32)
    return block.params.get(name, shape=tuple(shape), init=mx.init.Constant(init),
                            dtype="float32", grad_req="null", differentiable=False)


def new_scalar(block: mx.gluon.Block, name: str, value: float) -> mx.gluon.Parameter:
    """:func:`new_state` of shape ``(1,)``."""
    return new_state(block, name, (1,), float(value))


def ensure_on(param: mx.gluon.Parameter, ctx: mx.Context) -> None:
    """Make ``param`` available on ``ctx``: initialise it there, or add ``ctx`` to its copies.

    Losses are rarely ``initialize``-d by users; this lets a loss be called on any context.
    """
    if not is_initialized(param):
        param.initialize(ctx=ctx)
    elif has_data(param) and ctx not in param.list_ctx():
        param.reset_ctx(list(param.list_ctx()) + [ctx])


def get_state(param: mx.gluon.Parameter) -> np.ndarray:
    """The state as a float64 NumPy array of its shape (its initial value before first use;
    synchronises)."""
    if not has_data(param):
        value = param.init.value if param.init is not None else 0.0
        return np.broadcast_to(np.asarray(value, np.float64), param.shape).copy()
    return param.data(param.list_ctx()[0]).asnumpy().astype(np.float64)


def get_scalar(param: mx.gluon.Parameter) -> float:
    """The current value of a scalar parameter, as a Python float (synchronises)."""
    return float(get_state(param).reshape(-1)[0])


def set_state(param: mx.gluon.Parameter, value: Any) -> None:
    """Set the state on every context it lives on (or its initial value if not yet used)."""
    exact = np.broadcast_to(np.asarray(value, np.float64), param.shape)
    arr = exact.astype(np.float32)
    # The initial value keeps the host's float64 (read back before first use as it was set).
    param.init = mx.init.Constant(float(exact.reshape(-1)[0]) if arr.size == 1 else arr)
    if has_data(param):
        with mx.autograd.pause():
            param.set_data(mx.nd.array(arr, ctx=param.list_ctx()[0], dtype="float32"))


def set_scalar(param: mx.gluon.Parameter, value: Any) -> None:
    """Set a scalar parameter on every context it lives on (or its initial value)."""
    set_state(param, float(value))


def write_state(param: mx.gluon.Parameter, value: mx.nd.NDArray) -> None:
    """Copy a device array into the state on every context (no host synchronisation)."""
    with mx.autograd.pause():
        for target in param.list_data():
            value.copyto(target)


def save_ready(params: Sequence[mx.gluon.Parameter],
               ctx: Optional[mx.Context] = None) -> None:
    """Initialise never-used state (on the CPU) so that ``save_parameters`` can write it."""
    for param in params:
        if not is_initialized(param):
            ensure_on(param, ctx or mx.cpu())
