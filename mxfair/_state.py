"""Host-set state of a block (a hyperparameter the host changes between steps), stored as a
non-trained Gluon parameter.

A value that the host changes between steps (the fairness weight ``lam``, a Lagrange multiplier,
the gradient-reversal scale) must not be a Python float inside ``hybrid_forward``: a hybridized
block bakes Python constants into its cached graph. It lives in a ``grad_req='null'`` parameter of
shape ``(1,)`` instead, is changed with ``set_data`` and survives ``save_parameters``.
"""
from typing import Any

import mxnet as mx

from ._compat import has_data, is_initialized

__all__: list = []


def new_scalar(block: mx.gluon.Block, name: str, value: float) -> mx.gluon.Parameter:
    """Register a non-trained scalar parameter ``name`` on ``block``, initialised to ``value``.

    Assign it to an attribute of the same name: a block whose only parameters are its own is
    saved and loaded by parameter name (Gluon's flat format), so the two names must agree.
    """
    return block.params.get(
        name, shape=(1,), init=mx.init.Constant(float(value)), dtype="float32",
        grad_req="null", differentiable=False,
    )


def ensure_on(param: mx.gluon.Parameter, ctx: mx.Context) -> None:
    """Make ``param`` available on ``ctx``: initialise it there, or add ``ctx`` to its copies.

    Losses are rarely ``initialize``-d by users; this lets a loss be called on any context.
    """
    if not is_initialized(param):
        param.initialize(ctx=ctx)
    elif has_data(param) and ctx not in param.list_ctx():
        param.reset_ctx(list(param.list_ctx()) + [ctx])


def get_scalar(param: mx.gluon.Parameter) -> float:
    """The current value of a scalar parameter, as a Python float (synchronises)."""
    if not has_data(param):
        return float(param.init.value)
    return float(param.data(param.list_ctx()[0]).asscalar())


def set_scalar(param: mx.gluon.Parameter, value: Any) -> None:
    """Set a scalar parameter on every context it lives on (or its initial value)."""
    value = float(value)
    param.init = mx.init.Constant(value)
    if has_data(param):
        param.set_data(mx.nd.full((1,), value, dtype="float32"))
