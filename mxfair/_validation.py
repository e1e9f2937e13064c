"""Input checks shared by the package, and their error messages (tests match these)."""
import numbers
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
NOT_A_NUMBER = "{name} must be {expected}, got {value!r}"
#: Strings or other objects where integer ids are expected (group ids, labels, domains).
IDS_NOT_NUMERIC = (
    "{name} must hold integer ids, got values of dtype {dtype}; map strings and other "
    "categories to ids 0..G-1 with mxfair.GroupEncoder first"
)


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as int, or raise ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(NOT_POSITIVE_INT.format(name=name, value=value))
    return int(value)


def _range_text(low, high, low_inclusive: bool, high_inclusive: bool) -> str:
    """``'a finite number >= 0'``, ``'a number in [0, 1)'``, ``'a finite number'`` ..."""
    if low is not None and high is not None:
        return (f"a number in {'[' if low_inclusive else '('}{low:g}, "
                f"{high:g}{']' if high_inclusive else ')'}")
    if low is not None:
        return f"a finite number {'>=' if low_inclusive else '>'} {low:g}"
    if high is not None:
        return f"a finite number {'<=' if high_inclusive else '<'} {high:g}"
    return "a finite number"


def check_number(name: str, value: Any, *, low: Optional[float] = None,
                 high: Optional[float] = None, low_inclusive: bool = True,
                 high_inclusive: bool = True) -> float:
    """Return a real scalar hyperparameter as a Python float, or raise ValueError naming it.

    Python and NumPy numbers are accepted (``1``, ``0.5``, ``np.float32(0.5)``, ``np.int64(2)``);
    booleans, strings, arrays, NaN and infinities are not.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : Any
        What the user passed.
    low, high : float, optional
        Bounds of the allowed range (None: unbounded on that side; the value must still be
        finite).
    low_inclusive, high_inclusive : bool, default True
        Whether the bound itself is allowed.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``NOT_A_NUMBER``: ``"{name} must be {range}, got {value!r}"``, where the range reads
        e.g. ``a finite number >= 0``, ``a finite number > 0`` or ``a number in [0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> check_number("lam", np.float32(0.5), low=0)
    0.5
    >>> check_number("bound", 1.0, low=0, high=1, high_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: bound must be a number in [0, 1), got 1.0
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    number = float(value) if ok else float("nan")
    if ok and np.isfinite(number):
        ok = ((low is None or (number >= low if low_inclusive else number > low))
              and (high is None or (number <= high if high_inclusive else number < high)))
    else:
        ok = False
    if not ok:
        expected = _range_text(low, high, low_inclusive, high_inclusive)
        raise ValueError(NOT_A_NUMBER.format(name=name, expected=expected, value=value))
    return number


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
