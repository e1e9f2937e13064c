"""Conventions of the public API read from the signatures: optional arguments are keyword-only.

Every argument with a default value is keyword-only, except the optional data inputs whose
positions Gluon, MXNet and fairlearn fix: the tensors of a Block's ``forward`` /
``hybrid_forward`` and of ``__call__``, the arrays of an ``update`` (``EvalMetric`` order), and
the ``y_pred`` of the functions named after fairlearn and Clarify (``(y_true, y_pred, *, ...)``).
"""
import dataclasses
import inspect

import pytest
from _helpers import public_modules

from mxfair import loss

MODULES = public_modules()
#: Methods whose optional arguments are data inputs in positions fixed by Gluon or MXNet (and
#: the host checks that mirror a forward call), and overrides whose signature Gluon fixes.
POSITIONAL_DATA = {"forward", "hybrid_forward", "__call__", "update", "terms", "check_inputs",
                   "accumulate", "hybridize", "save_parameters", "fit_batch", "evaluate_batch"}
#: A command line's ``main(argv=None)`` follows argparse's convention.
COMMAND_LINES = {"main"}


def _public_callables():
    seen = set()
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or inspect.ismodule(obj) or not callable(obj):
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                if not dataclasses.is_dataclass(obj):  # a dataclass's fields are its data
                    yield f"{module.__name__}.{name}", obj.__init__
                for attr, member in vars(obj).items():
                    if (not attr.startswith("_") or attr == "__call__") and callable(member) \
                            and attr not in POSITIONAL_DATA:
                        yield f"{module.__name__}.{name}.{attr}", member
            elif name not in COMMAND_LINES:
                yield f"{module.__name__}.{name}", obj


def _positional_defaults(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params
            if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty
            and p.name != "y_pred"]


def test_optional_arguments_are_keyword_only():
    offenders = {where: names for where, fn in _public_callables()
                 if (names := _positional_defaults(fn))}
    assert not offenders, "\n".join(f"{k}: {v}" for k, v in sorted(offenders.items()))


def test_the_reordered_penalty_call_of_earlier_releases_fails_loudly():
    # fairness_penalty(pred, group, label) was the order; the loss's is (pred, label, group):
    # with two 0/1 arrays a positional call would swap them silently, so both are keywords
    import numpy as np

    pred, y, g = np.array([2.0, -1.0, 0.5, 1.0]), np.array([1, 0, 1, 0]), np.array([0, 0, 1, 1])
    with pytest.raises(TypeError, match="positional"):
        loss.fairness_penalty(pred, g, y, num_groups=2)
    with pytest.raises(TypeError, match="positional"):
        loss.fairness_penalty(pred, g, num_groups=2)
    assert loss.fairness_penalty(pred, label=y, group=g, num_groups=2) >= 0
