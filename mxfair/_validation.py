"""Input checks shared by the package, and their error messages (tests match these)."""
from typing import Any, Optional

import numpy as np

from ._ops import to_numpy

__all__: list = []

LENGTH_MISMATCH = "{a} has {n} rows but {b} has {m}; they must have the same length"
GROUP_OUT_OF_RANGE = (
    "group ids must be integers in [0, {num_groups}), got values in [{lo}, {hi}]"
)
NOT_POSITIVE_INT = "{name} must be a positive integer, got {value!r}"
NOT_IN_CHOICES = "{name} must be one of {choices}, got {value!r}"


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as int, or raise ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(NOT_POSITIVE_INT.format(name=name, value=value))
    return int(value)


def check_choice(name: str, value: Any, choices) -> Any:
    """Raise ValueError when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(NOT_IN_CHOICES.format(name=name, choices=sorted(choices), value=value))
    return value


def check_same_length(**arrays) -> int:
    """Check that every given array (None skipped) has the same first dimension; return it."""
    items = [(k, v) for k, v in arrays.items() if v is not None]
    n = None
    first = None
    for name, arr in items:
        m = int(arr.shape[0]) if hasattr(arr, "shape") else len(arr)
        if n is None:
            n, first = m, name
        elif m != n:
            raise ValueError(LENGTH_MISMATCH.format(a=first, n=n, b=name, m=m))
    return n if n is not None else 0


def check_group_ids(groups, num_groups: int, copy: Optional[np.ndarray] = None) -> np.ndarray:
    """Check host-side that group ids are integers in ``[0, num_groups)``; return them as int64.

    This is a host check (it synchronises); call it in ``fit``/sampler init, not per batch in
    a training loop.
    """
    g = to_numpy(groups) if copy is None else copy
    g = np.asarray(g).reshape(-1)
    if g.size and not np.all(np.equal(np.mod(g, 1), 0)):
        raise ValueError("group ids must be integers, got non-integer values")
    g = g.astype(np.int64)
    if g.size and (g.min() < 0 or g.max() >= num_groups):
        raise ValueError(
            GROUP_OUT_OF_RANGE.format(num_groups=num_groups, lo=int(g.min()), hi=int(g.max()))
        )
    return g
