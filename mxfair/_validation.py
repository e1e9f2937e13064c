"""Input checks shared by the package, and their error messages (tests match these).

One helper per kind of check, one message style: ``"{name} must be {what is expected}, got
{what was found}"`` (with what to do where it is not obvious). Scalars: :func:`check_int`,
:func:`check_positive_int`, :func:`check_number`, :func:`check_flag`, :func:`check_choice`,
:func:`check_seed`. Arrays: :func:`check_same_length`, :func:`check_not_empty`,
:func:`check_numeric` (strings where numbers are expected), :func:`check_ids` (group ids and
class labels), :func:`check_sample_weight`, :func:`check_scores` (the score convention),
:func:`check_binary_labels` (fairlearn's rule), :func:`check_binary_flags` (0/1 flags),
:func:`check_pred_columns` (score shapes); a block's device inputs: :func:`check_ndarray`,
:func:`check_column` (shapes and contexts only, no synchronisation).
These run on the host (they synchronise for NDArray input): in ``fit``, sampler init and host
functions. Inside a graph, rows are checked by the F-generic helpers of ``mxfair._ops``
(``invalid_ids``, ``nonfinite``, ``outside_unit``, ``invalid_weights``) and counted instead.
"""
import numbers
import warnings
from typing import Any, Optional

import mxnet as mx
import numpy as np

from ._ops import is_ndarray, to_numpy

__all__: list = []

# ------------------------------------------------------------------------------- messages
#: The one template of a scalar that is not what it should be.
NOT_EXPECTED = "{name} must be {expected}, got {value!r}"
NOT_IN_CHOICES = "{name} must be one of {choices}, got {value!r}"
LENGTH_MISMATCH = "{a} has {n} rows but {b} has {m}; they must have the same length"
EMPTY_INPUT = "{name} is empty: at least one row is needed"
#: Strings or objects where numeric ids are expected (one message for the whole package).
IDS_NOT_NUMERIC = (
    "{name} must hold numeric ids, got strings/objects (dtype {dtype}); encode them with "
    "mxfair.GroupEncoder"
)
#: Strings or objects where numbers other than ids are expected (sample weights).
NOT_NUMERIC = "{name} must hold numbers, got strings/objects (dtype {dtype})"
IDS_NOT_FINITE = "{prefix}{what} must be integers {allowed}, got {count} NaN or infinite value(s)"
IDS_NOT_INTEGER = (
    "{prefix}{what} must be integers {allowed}, got non-integer values such as {values}"
)
IDS_OUT_OF_RANGE = "{prefix}{what} must be integers {allowed}, got values in [{lo}, {hi}]"
BAD_WEIGHTS = "{name} must be finite and >= 0, got {what}"
#: Features (a model's input) with NaN or infinite values, refused on the host.
FEATURES_NOT_FINITE = "{name} must be finite, got {count} NaN or infinite value(s)"
SCORES_NOT_FINITE = (
    "{name} must be finite, got {count} NaN or infinite value(s) (did the net diverge?)"
)
SCORES_NOT_PROBABILITIES = (
    "{name} must be probabilities in [0, 1] with from_logits=False, got values in [{lo}, {hi}]; "
    "pass from_logits=True for a net's raw output (logits)"
)
SCORES_LOOK_LIKE_PROBABILITIES = (
    "every one of the {count} {name} lies in [0, 1]: they look like probabilities, but "
    "from_logits=True applies a sigmoid to them; pass from_logits=False if they are "
    "probabilities"
)
BAD_SEED = (
    "{name} must be None, an int in [0, 2**32) or a sequence of such ints (what "
    "numpy.random.RandomState accepts), got {value!r}"
)
PRED_COLUMNS = (
    "{name} has {cols} columns but num_classes={k}: pass num_classes={cols} for {cols}-class "
    "scores ({binary})"
)
PRED_SHAPE = "{name} must have shape {shapes}, got shape {shape}"
PRED_TWO_COLUMNS = (
    "{name} has 2 columns, but with num_classes=2 it takes one logit per row, shape (N,) or "
    "(N, 1) (a net ending in Dense(1)); for a two-column softmax output pass "
    "{name}[:, 1] - {name}[:, 0], the logit of class 1"
)
PRED_ONE_COLUMN = (
    "{name} has shape {shape}, one score per row, but num_classes={k} needs (N, {k}) scores; "
    "for a binary task pass num_classes=2"
)
NEEDS_NDARRAY = (
    "{name} must be an MXNet NDArray (or, for data-parallel training, a list with one NDArray "
    "per device), got {kind}; pass mx.nd.array({name}) (a loss runs inside autograd on the "
    "device, NumPy arrays cannot carry a gradient)"
)
COLUMN_SHAPE = "{name} must have shape ({n},) or ({n}, 1) to match pred, got {shape}"
OTHER_CONTEXT = "{name} is on {ctx}, pred on {pred_ctx}; put every input on one context"
NOT_BINARY_FLAGS = "{name} must be booleans or 0/1 values, got values in [{lo}, {hi}]"
#: Scores of fewer rows than this never trigger SCORES_LOOK_LIKE_PROBABILITIES: a handful of
#: logits can all lie in [0, 1] by chance, a few dozen of a trained net hardly.
LOOKS_LIKE_MIN_ROWS = 20


# -------------------------------------------------------------------------------- scalars
def check_int(name: str, value: Any, *, low: int = 0) -> int:
    """Return an integer ``>= low`` (Python or NumPy; not a bool) as int, or ValueError.

    Examples
    --------
    >>> check_int("num_bins", 0), check_int("num_classes", 3, low=2)
    (0, 3)
    >>> check_int("bootstrap", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: bootstrap must be a non-negative integer, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
            low, f"an integer >= {low}")
        raise ValueError(NOT_EXPECTED.format(name=name, expected=expected, value=value))
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """``check_int(name, value, low=1)``: sizes and counts (``num_groups``, ``batch_size``)."""
    return check_int(name, value, low=1)


def check_flag(name: str, value: Any) -> bool:
    """Return ``value`` when it is True or False (Python or NumPy), else TypeError.

    Examples
    --------
    >>> check_flag("replacement", "yes")
    Traceback (most recent call last):
    ...
    TypeError: replacement must be True or False, got 'yes'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(NOT_EXPECTED.format(name=name, expected="True or False", value=value))
    return bool(value)


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
        ``NOT_EXPECTED``: ``"{name} must be {range}, got {value!r}"``, where the range reads
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
        raise ValueError(NOT_EXPECTED.format(name=name, expected=expected, value=value))
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


# ------------------------------------------------------------------------------- arrays
def _allowed(bound: Optional[int]) -> str:
    return f"in [0, {bound})" if bound is not None else ">= 0"


def check_numeric(name: str, values: Any, *, ids: bool = True, flat: bool = True) -> np.ndarray:
    """``values`` as a flat NumPy array of a numeric dtype, or TypeError ``IDS_NOT_NUMERIC``.

    Strings, bytes and objects that are not numbers (``None`` and NaN in an object array become
    NaN) are refused with the one message that points to :class:`mxfair.GroupEncoder` (with
    ``ids=False``, for numbers that are not ids such as weights: ``NOT_NUMERIC``); with
    ``flat=False`` the array keeps its shape. This
    synchronises for an NDArray (which is always numeric): call it on host input only, or
    where the check happens on the host anyway.

    Examples
    --------
    >>> check_numeric("groups", [0, 1.0, 2]).dtype
    dtype('float64')
    >>> check_numeric("groups", ["a", "b"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: groups must hold numeric ids, got strings/objects (dtype <U1); encode them ...
    """
    arr = np.asarray(to_numpy(values))
    if arr.dtype.kind in "biuf":
        return arr.reshape(-1) if flat else arr
    if arr.dtype.kind == "O":
        items = arr.reshape(-1).tolist()
        if all(v is None or (isinstance(v, numbers.Real) and not isinstance(v, str))
               for v in items):
            numbers_ = np.array([np.nan if v is None else float(v) for v in items],
                                dtype=np.float64)
            return numbers_ if flat else numbers_.reshape(arr.shape)
    raise TypeError((IDS_NOT_NUMERIC if ids else NOT_NUMERIC).format(name=name, dtype=arr.dtype))


def check_ids(name: str, values: Any, bound: Optional[int] = None, *,
              what: Optional[str] = None) -> np.ndarray:
    """Host check of group ids or class labels: integers in ``[0, bound)``; int64 (N,).

    Parameters
    ----------
    name : str
        The argument, for the message (``"groups"``, ``"labels"``, ...).
    values : array-like or NDArray
        Any numeric dtype holding integral values (``0.0``, ``1.0`` are fine).
    bound : int, optional
        Ids must be below it; None: only ``>= 0`` is required.
    what : str, optional
        What the ids are (``"group ids"``, ``"labels"``); the message then reads
        ``"groups: group ids must be integers in [0, 2), ..."``. Default: ``name``.

    Returns
    -------
    np.ndarray, int64, shape (N,)

    Raises
    ------
    TypeError
        ``IDS_NOT_NUMERIC`` for strings/objects.
    ValueError
        ``IDS_NOT_FINITE``, ``IDS_NOT_INTEGER`` or ``IDS_OUT_OF_RANGE``, naming the argument,
        the allowed range and what was found.

    Examples
    --------
    >>> check_ids("groups", [0.0, 1.0, 1.0], bound=2, what="group ids").tolist()
    [0, 1, 1]
    >>> check_ids("groups", [0, 2], bound=2, what="group ids")
    Traceback (most recent call last):
    ...
    ValueError: groups: group ids must be integers in [0, 2), got values in [0, 2]
    """
    arr = check_numeric(name, values)
    what = what or name
    fields = {"prefix": "" if what == name else f"{name}: ", "what": what,
              "allowed": _allowed(bound)}
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not np.all(finite):
            raise ValueError(IDS_NOT_FINITE.format(count=int((~finite).sum()), **fields))
        fractional = arr != np.floor(arr)
        if np.any(fractional):
            raise ValueError(IDS_NOT_INTEGER.format(
                values=np.unique(arr[fractional])[:3].tolist(), **fields))
    ids = arr.astype(np.int64)
    if ids.size and (ids.min() < 0 or (bound is not None and ids.max() >= bound)):
        lo, hi = (arr.min(), arr.max())
        raise ValueError(IDS_OUT_OF_RANGE.format(lo=_fmt(lo), hi=_fmt(hi), **fields))
    return ids


def _fmt(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def check_sample_weight(name: str, weights: Any) -> np.ndarray:
    """Host check of sample weights: finite and >= 0; float64 (N,).

    Examples
    --------
    >>> check_sample_weight("sample_weight", [1, 0.5]).tolist()
    [1.0, 0.5]
    >>> check_sample_weight("sample_weight", [1.0, -2.0])
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be finite and >= 0, got 1 negative value(s) (min -2.0)
    """
    arr = np.asarray(to_numpy(weights))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    w = arr.astype(np.float64).reshape(-1)
    bad = ~np.isfinite(w)
    if np.any(bad):
        raise ValueError(BAD_WEIGHTS.format(
            name=name, what=f"{int(bad.sum())} NaN or infinite value(s)"))
    if np.any(w < 0):
        raise ValueError(BAD_WEIGHTS.format(
            name=name, what=f"{int((w < 0).sum())} negative value(s) (min {w.min()!r})"))
    return w


def check_not_empty(name: str, size: int) -> None:
    """Raise ValueError ``EMPTY_INPUT`` when ``size`` is 0."""
    if int(size) == 0:
        raise ValueError(EMPTY_INPUT.format(name=name))


def check_scores(name: str, scores: Any, from_logits: bool,
                 warn_stacklevel: Optional[int] = 3) -> np.ndarray:
    """Host check of binary scores, float64 (N,): the package's score convention.

    NaN and infinite scores are refused (``SCORES_NOT_FINITE``). With ``from_logits=False``
    scores must be probabilities in [0, 1] (``SCORES_NOT_PROBABILITIES``, naming
    ``from_logits``); with ``from_logits=True`` scores of at least :data:`LOOKS_LIKE_MIN_ROWS`
    rows that all lie in [0, 1] give a ``UserWarning`` (they look like probabilities), unless
    ``warn_stacklevel`` is None.

    Examples
    --------
    >>> check_scores("scores", [0.2, 0.9], from_logits=False).tolist()
    [0.2, 0.9]
    >>> check_scores("scores", [-1.5, 2.0], from_logits=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scores must be probabilities in [0, 1] with from_logits=False, got values in ...
    """
    arr = np.asarray(to_numpy(scores))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric scores, got dtype {arr.dtype}")
    s = arr.astype(np.float64).reshape(-1)
    bad = ~np.isfinite(s)
    if np.any(bad):
        raise ValueError(SCORES_NOT_FINITE.format(name=name, count=int(bad.sum())))
    if not s.size:
        return s
    lo, hi = float(s.min()), float(s.max())
    inside = lo >= 0.0 and hi <= 1.0
    if not from_logits and not inside:
        raise ValueError(SCORES_NOT_PROBABILITIES.format(name=name, lo=lo, hi=hi))
    if from_logits and inside and s.size >= LOOKS_LIKE_MIN_ROWS and warn_stacklevel:
        warnings.warn(SCORES_LOOK_LIKE_PROBABILITIES.format(name=name, count=s.size),
                      UserWarning, stacklevel=warn_stacklevel)
    return s


def check_seed(name: str, seed: Any) -> Any:
    """Return ``seed`` when ``numpy.random.RandomState`` accepts it, else raise naming it.

    None, Python and NumPy integers in ``[0, 2**32)`` and sequences (or arrays) of them are
    accepted; integers come back as Python ints, sequences as lists. Booleans, floats and
    strings are refused (TypeError), as are out-of-range integers (ValueError).

    Examples
    --------
    >>> import numpy as np
    >>> check_seed("seed", np.int64(3)), check_seed("seed", None), check_seed("seed", [1, 2])
    (3, None, [1, 2])
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or isinstance(seed, (str, bytes)):
        raise TypeError(BAD_SEED.format(name=name, value=seed))
    if isinstance(seed, (numbers.Integral, np.integer)):
        if not 0 <= int(seed) < 2**32:
            raise ValueError(BAD_SEED.format(name=name, value=seed))
        return int(seed)
    try:
        arr = np.asarray(seed)
    except Exception:  # noqa: BLE001 - anything NumPy cannot read is not a seed
        raise TypeError(BAD_SEED.format(name=name, value=seed)) from None
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise TypeError(BAD_SEED.format(name=name, value=seed))
    if arr.min() < 0 or arr.max() >= 2**32:
        raise ValueError(BAD_SEED.format(name=name, value=seed))
    return [int(v) for v in arr.tolist()]


def check_binary_labels(name: str, values: Any, pos_label: Any = None,
                        hint: str = "") -> np.ndarray:
    """Host check of binary labels as fairlearn reads them; returns a bool (N,) "is positive".

    With ``pos_label=None`` the values must come from {0, 1} or {-1, 1} (1 is positive); with
    a ``pos_label``, at most two distinct values, one of which is ``pos_label`` when there are
    two. NaN is never a label. ``hint`` is appended to every message.

    Examples
    --------
    >>> check_binary_labels("y_true", [0, 1, 1]).tolist()
    [False, True, True]
    >>> check_binary_labels("y_true", [0, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y_true must hold binary labels from {0, 1} or {-1, 1} (or pass pos_label), ...
    """
    arr = np.asarray(to_numpy(values)).reshape(-1)
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
        raise ValueError(f"{name} must hold binary labels, got {int(np.isnan(arr).sum())} NaN "
                         f"value(s){hint}")
    if arr.dtype.kind == "O" and any(v is None for v in arr.tolist()):
        raise ValueError(f"{name} must hold binary labels, got None{hint}")
    unique = list(dict.fromkeys(arr.tolist()))
    if pos_label is None:
        if arr.dtype.kind not in "biuf" or not (set(unique) <= {0, 1}
                                                 or set(unique) <= {-1, 1}):
            shown = sorted(unique, key=str)[:5]
            raise ValueError(f"{name} must hold binary labels from {{0, 1}} or {{-1, 1}} (or "
                             f"pass pos_label), got values {shown}{hint}")
        return arr == 1
    if len(unique) > 2:
        raise ValueError(f"{name} must hold binary labels (two values), got {len(unique)} "
                         f"distinct values such as {sorted(unique, key=str)[:5]}{hint}")
    if len(unique) == 2 and pos_label not in unique:
        raise ValueError(f"pos_label={pos_label!r} is not one of the values of {name}: "
                         f"{sorted(unique, key=str)}{hint}")
    return arr == pos_label


def check_pred_columns(name: str, shape: tuple, num_classes: int, *,
                       one_score: bool = False) -> None:
    """Raise ValueError when scores of ``shape`` do not fit ``num_classes`` (no data read).

    Binary (``num_classes=2``): (N,), (N, 1) or (N, 2); K classes: (N,) class ids or (N, K)
    scores. With ``one_score`` (the losses: a net's output that a loss differentiates), binary
    scores are one logit per row, (N,) or (N, 1), and K classes need (N, K) scores. A (N, C)
    array with another C says "pass num_classes=C".

    Examples
    --------
    >>> check_pred_columns("preds", (8, 10), 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: preds has 10 columns but num_classes=2: pass num_classes=10 for 10-class ...
    """
    shape = tuple(int(d) for d in shape)
    k = num_classes
    binary = ((1,) if one_score else (1, 2)) if k == 2 else (k,)
    cols = shape[1] if len(shape) == 2 else None
    if (len(shape) == 1 and not (one_score and k > 2)) or cols in binary:
        return
    if one_score and k == 2 and cols == 2:
        raise ValueError(PRED_TWO_COLUMNS.format(name=name))
    if one_score and k > 2 and (len(shape) == 1 or cols == 1):
        raise ValueError(PRED_ONE_COLUMN.format(name=name, shape=shape, k=k))
    shapes = ("(N,) or (N, 1)" if one_score else "(N,), (N, 1) or (N, 2)") if k == 2 else (
        f"(N, {k})" if one_score else f"(N,) or (N, {k}) for num_classes={k}")
    if cols is not None and cols > 2 and len(shape) == 2:
        raise ValueError(PRED_COLUMNS.format(name=name, cols=cols, k=k,
                                             binary=f"binary scores have shape {shapes}"
                                             if k == 2 else f"scores have shape {shapes}"))
    raise ValueError(PRED_SHAPE.format(name=name, shapes=shapes, shape=shape))


def check_binary_flags(name: str, values: Any) -> np.ndarray:
    """Host booleans or 0/1 values (an error set, a mask) as a flat bool array.

    Examples
    --------
    >>> check_binary_flags("errors", [1, 0, 1.0]).tolist()
    [True, False, True]
    >>> check_binary_flags("errors", [0, 2])
    Traceback (most recent call last):
    ...
    ValueError: errors must be booleans or 0/1 values, got values in [0, 2]
    """
    arr = check_numeric(name, values)
    if arr.dtype == np.bool_:
        return arr
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        lo, hi = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
        raise ValueError(NOT_BINARY_FLAGS.format(name=name, lo=_fmt(lo), hi=_fmt(hi)))
    return arr.astype(bool)


# ------------------------------------------------------------------ device inputs of a block
def check_ndarray(name: str, value: Any, *, ids: bool = False) -> None:
    """TypeError ``NEEDS_NDARRAY`` unless ``value`` is an NDArray, a Symbol or None; host
    strings where ids are expected (``ids=True``) get ``IDS_NOT_NUMERIC`` instead."""
    if value is None or is_ndarray(value) or isinstance(value, mx.sym.Symbol):
        return
    if ids:
        check_numeric(name, value)
    raise TypeError(NEEDS_NDARRAY.format(name=name, kind=type(value).__name__))


def check_column(name: str, value: Any, n: int, ctx: Optional[mx.Context] = None) -> None:
    """ValueError unless the NDArray ``value`` has shape (n,) or (n, 1) (and lives on ``ctx``
    when given): the per-row inputs of a block beside ``pred``. Reads no data."""
    if tuple(value.shape) not in ((n,), (n, 1)):
        raise ValueError(COLUMN_SHAPE.format(name=name, n=n, shape=tuple(value.shape)))
    if ctx is not None and value.context != ctx:
        raise ValueError(OTHER_CONTEXT.format(name=name, ctx=value.context, pred_ctx=ctx))
