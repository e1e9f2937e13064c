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

Exactness over ps-lite
----------------------
MXNet 1.9.1's kvstore servers keep and add every pushed value in float32, whatever the dtype
pushed (a float64 push of ``2**40 + 1`` comes back rounded). mxfair therefore sends each float64
array as exact fixed-point integer "limbs": a first round agrees on a common binary scale per
array (the largest magnitude and the finest bit over all workers), then each value is split into
signed limbs of ``23 - ceil(log2 W)`` bits for ``W`` workers, so that every server-side float32
sum of ``W`` limbs stays below 2**23 and is exact. The pulled limbs are recombined in integer
arithmetic and rounded once to float64. Hence:

* integer-valued statistics (unweighted counts, histograms, bootstrap counts below 2**53) are
  summed **exactly**: the distributed result equals the single-process one bit for bit;
* other float64 values (weighted counts, score sums) give the exact sum of the workers' values,
  correctly rounded to float64, whenever the values of one array span at most 96 bits between
  the largest magnitude and the finest bit; beyond that they are first rounded to multiples of
  ``2**(e_max - 96)`` (absolute error below ``W * 2**(e_max - 97)`` per entry). They can still
  differ from a single-process accumulation in the last bit, because that accumulation rounds
  in a different order.

Keys, key types and the server-side optimizer
---------------------------------------------
mxfair uses integer keys in ``[150000, 215000)`` derived from a CRC-32 of the array name and
size, so it never clashes with ``gluon.Trainer``, which uses integer keys ``0 .. P-1`` (one per
parameter); larger keys would overflow ps-lite's server choice (``key * 9973`` in int32).
An MXNet kvstore refuses to mix integer and string keys ("Mixed key types are not allowed"):
when the kvstore already holds string keys, mxfair switches to string keys ``"mxfair/<name>/
<size>"`` instead. Initialise mxfair's keys after the user's own string keys, or use integer
keys yourself.

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
import math
import weakref
import zlib
from typing import Any, List, Literal, Mapping, Optional, Sequence, Tuple

import mxnet as mx
import numpy as np

from . import _compat
from ._ops import ArrayLike, as_ndarray, context_of, is_ndarray, to_numpy
from ._validation import check_choice, check_positive_int

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

ASYNC_KVSTORE = (
    "kvstore of type {type!r} is asynchronous: the servers apply each push on its own, so "
    "values cannot be summed; use 'dist_sync' (or 'dist_device_sync')"
)
STRING_KVSTORE = (
    "kvstore={value!r} is a string; for distributed training pass the kvstore object itself "
    "(kv = mx.kv.create('dist_sync'), the one given to gluon.Trainer): creating a second "
    "'dist_*' kvstore in one worker blocks"
)
BAD_KVSTORE = (
    "kvstore must be None, an mx.kv.KVStore or a Horovod-like object with allreduce/rank/size, "
    "got {type}"
)
SERVER_UPDATER = (
    "the kvstore servers changed pushed values: an optimizer runs on the servers (gluon.Trainer "
    "with update_on_kvstore=True, the default for 'dist_*' kvstores, or kv.set_optimizer). "
    "mxfair cannot sum through such a kvstore; create the trainer with "
    "gluon.Trainer(..., kvstore=kv, update_on_kvstore=False)"
)
MISMATCH = (
    "workers disagree on the arrays of {name!r} (number, sizes or configuration {mine}); every "
    "worker must allreduce the same arrays with the same shapes, in the same order"
)
NON_FINITE = (
    "{name!r} holds NaN or infinite values on some worker; only finite values can be summed"
)
BAD_METHOD = "method must be 'mean' or 'broadcast', got {value!r}"

# mxfair's integer keys lie in [150000, 215000): above Trainer's 0 .. num_params - 1, and below
# 2**31 / 9973, since ps-lite's KVStoreDist picks a key's server with int32 `key * 9973`.
_KEY_BASE = 150_000
_KEY_SPAN = 65_000
_EXP_OFFSET = 1100  # float64 exponents (frexp and lowest set bit) lie in [-1074, 1024]
_EXP_LEN = 2200
_MAX_SPAN = 96  # bits kept between an array's largest magnitude and its finest bit
_CHECK_BITS = 12  # header integers are sent as 12-bit pieces: float32-exact for W < 2**11
_CHECK_PIECES = 3  # ... three of them: integers below 2**36 (array sizes are below 2**31)

# Per kvstore object: the key type in use and the keys mxfair has initialised.
_REGISTRY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------- backend detection
def _is_horovod(obj: Any) -> bool:
    return all(callable(getattr(obj, name, None)) for name in ("allreduce", "rank", "size"))


def _backend(kvstore: Any) -> str:
    """'none' (nothing to combine), 'ps' (ps-lite kvstore) or 'horovod'; raises for others."""
    if kvstore is None:
        return "none"
    if isinstance(kvstore, str):
        if kvstore.lower() in ("local", "device", "nccl"):
            return "none"
        raise TypeError(STRING_KVSTORE.format(value=kvstore))
    if _is_horovod(kvstore):
        return "horovod" if int(kvstore.size()) > 1 else "none"
    kv_type = getattr(kvstore, "type", None)
    if kv_type is None or not hasattr(kvstore, "num_workers"):
        raise TypeError(BAD_KVSTORE.format(type=type(kvstore).__name__))
    kv_type = str(kv_type)
    if "dist" not in kv_type:
        return "none"
    if "async" in kv_type:
        raise ValueError(ASYNC_KVSTORE.format(type=kv_type))
    if int(kvstore.num_workers) == 1:
        return "none"
    if not isinstance(kvstore, mx.kv.KVStore):
        raise TypeError(BAD_KVSTORE.format(type=type(kvstore).__name__))
    return "ps"


def is_distributed(kvstore: Any) -> bool:
    """True when ``kvstore`` connects more than one worker (so values need combining).

    Parameters
    ----------
    kvstore : None, str, mx.kv.KVStore or Horovod-like

    Returns
    -------
    bool

    Examples
    --------
    >>> is_distributed(None), is_distributed(mx.kv.create("local"))
    (False, False)
    """
    return _backend(kvstore) != "none"


def rank_and_size(kvstore: Any) -> Tuple[int, int]:
    """This worker's rank and the number of workers: ``(0, 1)`` for no or a local kvstore.

    Parameters
    ----------
    kvstore : None, str, mx.kv.KVStore or Horovod-like

    Returns
    -------
    (rank, num_workers) : tuple of int

    Examples
    --------
    >>> rank_and_size(None)
    (0, 1)
    """
    if kvstore is None or isinstance(kvstore, str):
        _backend(kvstore)  # raises for a 'dist_*' string
        return 0, 1
    if _is_horovod(kvstore):
        return int(kvstore.rank()), int(kvstore.size())
    if hasattr(kvstore, "rank") and hasattr(kvstore, "num_workers"):
        return int(kvstore.rank), int(kvstore.num_workers)
    raise TypeError(BAD_KVSTORE.format(type=type(kvstore).__name__))


# ------------------------------------------------------------------------- ps-lite transport
class _KeyTable:
    """mxfair's keys on one kvstore: their type and which ones are initialised."""

    def __init__(self):
        self.use_strings = False
        self.keys = {}  # (name, size) -> key

    def key_for(self, name: str, size: int):
        if self.use_strings:
            return f"mxfair/{name}/{size}"
        key = _KEY_BASE + zlib.crc32(f"{name}:{size}".encode("utf-8")) % _KEY_SPAN
        for other, used in self.keys.items():
            if used == key and other != (name, size):
                raise RuntimeError(  # 1 chance in 65000 per pair of names; rename one
                    f"mxfair key clash between {other} and {(name, size)}; rename one of them"
                )
        return key


def _table(kv) -> _KeyTable:
    table = _REGISTRY.get(kv)
    if table is None:
        table = _REGISTRY[kv] = _KeyTable()
    return table


def _ps_sum_float32(kv, name: str, values: np.ndarray) -> np.ndarray:
    """One synchronous push/pull of a float32 vector: the float32 sum over workers."""
    table = _table(kv)
    size = int(values.size)
    key = table.key_for(name, size)
    if (name, size) not in table.keys:
        try:
            kv.init(key, mx.nd.zeros((size,), ctx=mx.cpu(), dtype="float32"))
        except mx.base.MXNetError as err:
            if "Mixed key types" not in str(err) or table.use_strings:
                raise
            # The kvstore already holds string keys: every worker sees the same error here.
            table.use_strings = True
            key = table.key_for(name, size)
            kv.init(key, mx.nd.zeros((size,), ctx=mx.cpu(), dtype="float32"))
        table.keys[(name, size)] = key
    buf = mx.nd.array(values, ctx=mx.cpu(), dtype="float32")
    kv.push(key, buf)
    kv.pull(key, out=buf)
    return buf.asnumpy()


def _pieces(values: Sequence[int]) -> np.ndarray:
    """Non-negative integers below 2**36 as three 12-bit pieces each: float32-exact after
    summing over fewer than 2**11 workers."""
    v = np.asarray(values, dtype=np.int64)
    if v.size and (v.min() < 0 or v.max() >= 1 << (_CHECK_BITS * _CHECK_PIECES)):
        raise ValueError(f"header integers must lie in [0, 2**36), got {v.min()}..{v.max()}")
    mask = (1 << _CHECK_BITS) - 1
    return np.concatenate([(v >> (_CHECK_BITS * i)) & mask
                           for i in range(_CHECK_PIECES)]).astype(np.float64)


def _exponents(x: np.ndarray) -> Tuple[Optional[int], Optional[int]]:
    """(e_max, q_min) of the non-zero finite entries: ``|x| < 2**e_max`` and every entry is an
    integer multiple of ``2**q_min``; (None, None) when all are zero."""
    nz = x[(x != 0) & np.isfinite(x)]
    if nz.size == 0:
        return None, None
    mant, exp = np.frexp(np.abs(nz))  # |x| = mant * 2**exp, mant in [0.5, 1)
    m_int = np.ldexp(mant, 53).astype(np.int64)  # 53-bit integer mantissa, exact
    low_bit = np.log2(m_int & -m_int).astype(np.int64)  # trailing zeros of the mantissa
    return int(exp.max()), int((exp - 53 + low_bit).min())


def _split_limbs(x: np.ndarray, q_min: int, num_limbs: int, bits: int, rounded: bool):
    """Signed limbs (num_limbs, n) with ``x == sum_j limbs[j] * 2**(q_min + bits*j)`` (exact
    unless ``rounded``, where x is first rounded to a multiple of ``2**q_min``)."""
    scaled = np.ldexp(np.abs(x), -q_min)  # exact: a power-of-two scaling
    if rounded:
        scaled = np.rint(scaled)
    sign = np.sign(x)
    limbs = np.empty((num_limbs, x.size), dtype=np.float64)
    rest = scaled
    for j in range(num_limbs - 1, -1, -1):  # top limb first; every step is exact in float64
        unit = math.ldexp(1.0, bits * j)
        top = np.floor(rest / unit)
        limbs[j] = top * sign
        rest = rest - top * unit
    return limbs


def _join_limbs(limbs: np.ndarray, q_min: int, bits: int, num_workers: int, span: int):
    """Exact integer recombination of summed limbs, rounded once to float64."""
    as_int = np.rint(limbs).astype(np.int64)
    if span + bits + math.ceil(math.log2(num_workers)) + 1 <= 62:  # fits int64: fast path
        acc = np.zeros(limbs.shape[1], dtype=np.int64)
        for j in range(limbs.shape[0] - 1, -1, -1):
            acc = (acc << bits) + as_int[j]
        return np.ldexp(acc.astype(np.float64), q_min)
    acc = np.zeros(limbs.shape[1], dtype=object)  # Python integers: unbounded
    for j in range(limbs.shape[0] - 1, -1, -1):
        acc = acc * (1 << bits) + as_int[j].astype(object)
    return np.array([math.ldexp(float(v), q_min) for v in acc], dtype=np.float64)


def _signature_ints(signature: Mapping[str, Any]) -> List[int]:
    """The settings of ``signature`` as integers in ``[0, 2**16)`` for the round-1 check:
    equal lists exactly when the settings are equal. A bool is one entry; an int (>= 0, below
    2**64) the four 16-bit pieces of its value; a float the four 16-bit pieces of its float64
    bit pattern (so 0.5 and the next float64 differ)."""
    ints = []
    for key, value in signature.items():
        if isinstance(value, (bool, np.bool_)):
            ints.append(int(value))
        elif isinstance(value, (int, np.integer)):
            if not 0 <= int(value) < 2 ** 64:
                raise ValueError(f"signature entry {key}={value!r} is outside [0, 2**64)")
            ints.extend((int(value) >> shift) & 0xFFFF for shift in (48, 32, 16, 0))
        else:
            bits = int(np.array([value], dtype=np.float64).view(np.uint64)[0])
            ints.extend((bits >> shift) & 0xFFFF for shift in (48, 32, 16, 0))
    return ints


def _ps_sum_float64(kv, name: str, arrays: List[np.ndarray], signature: Mapping[str, Any]):
    """Exact sum over ps-lite workers of float64 arrays (see the module docstring)."""
    num_workers = int(kv.num_workers)
    flats = [a.reshape(-1) for a in arrays]
    # Round 1: a check vector (must come back as W times itself), the number of non-finite
    # entries, and one-hot codes of every array's largest exponent and finest bit.
    check = np.concatenate([[1.0], _pieces([len(flats)] + [f.size for f in flats]
                                           + _signature_ints(signature))])
    hot = np.zeros((len(flats), 2, _EXP_LEN))
    bad = 0
    for i, flat in enumerate(flats):
        bad += int(np.count_nonzero(~np.isfinite(flat)))
        e_max, q_min = _exponents(flat)
        if e_max is not None:
            hot[i, 0, e_max + _EXP_OFFSET] = 1.0
            hot[i, 1, q_min + _EXP_OFFSET] = 1.0
    header = np.concatenate([check, [min(bad, 1)], hot.reshape(-1)])
    summed = _ps_sum_float32(kv, f"{name}/header", header)
    got = summed[:check.size]
    if got[0] != num_workers:
        raise RuntimeError(SERVER_UPDATER)
    if not np.array_equal(got, num_workers * check):
        mine = ", ".join(f"{key}={value!r}" for key, value in signature.items())
        raise ValueError(MISMATCH.format(name=name, mine=mine or "none"))
    if summed[check.size] > 0:
        raise ValueError(NON_FINITE.format(name=name))
    hot_sum = summed[check.size + 1:].reshape(len(flats), 2, _EXP_LEN)

    # Round 2: the limbs of every array on its global scale, in one push.
    bits = 23 - math.ceil(math.log2(num_workers))
    plans, parts = [], []
    for i, flat in enumerate(flats):
        if not hot_sum[i, 0].any():  # zero on every worker
            plans.append(None)
            continue
        e_max = int(np.flatnonzero(hot_sum[i, 0]).max()) - _EXP_OFFSET
        q_min = int(np.flatnonzero(hot_sum[i, 1]).min()) - _EXP_OFFSET
        rounded = e_max - q_min > _MAX_SPAN
        if rounded:
            q_min = e_max - _MAX_SPAN
        span = e_max - q_min
        num_limbs = max(1, math.ceil(span / bits))
        plans.append((q_min, num_limbs, span))
        parts.append(_split_limbs(flat, q_min, num_limbs, bits, rounded).reshape(-1))
    sums = []
    if parts:
        payload = _ps_sum_float32(kv, f"{name}/limbs", np.concatenate(parts))
    offset = 0
    for flat, plan in zip(flats, plans):
        if plan is None:
            sums.append(np.zeros(flat.size))
            continue
        q_min, num_limbs, span = plan
        limbs = payload[offset:offset + num_limbs * flat.size].reshape(num_limbs, flat.size)
        offset += num_limbs * flat.size
        sums.append(_join_limbs(limbs.astype(np.float64), q_min, bits, num_workers, span))
    return sums


def _horovod_sum_float64(hvd, name: str, arrays: List[np.ndarray]) -> List[np.ndarray]:
    flat = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0)
    tensor = mx.nd.array(flat, ctx=mx.cpu(), dtype="float64")
    if hasattr(hvd, "Sum"):  # Horovod >= 0.21
        out = hvd.allreduce(tensor, op=hvd.Sum, name=f"mxfair.{name}")
    else:
        out = hvd.allreduce(tensor, average=False, name=f"mxfair.{name}")
    total = out.asnumpy().astype(np.float64)
    sums, offset = [], 0
    for a in arrays:
        sums.append(total[offset:offset + a.size])
        offset += a.size
    return sums


def _sum_float64(kvstore, name: str, arrays: List[np.ndarray],
                 signature: Optional[Mapping[str, Any]] = None) -> List[np.ndarray]:
    """Sum of float64 host arrays over the workers, each returned flat (float64).

    ``signature``: settings every worker must share (checked with the shapes, ps-lite only).
    """
    backend = _backend(kvstore)
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
    if backend == "none":  # one process: refuse what the cluster path refuses, not a NaN sum
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError(NON_FINITE.format(name=name))
        return [a.reshape(-1).copy() for a in arrays]
    if backend == "horovod":
        return _horovod_sum_float64(kvstore, name, arrays)
    return _ps_sum_float64(kvstore, name, arrays, signature or {})


def _check_name(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty string naming the array, got {key!r}")
    return key


# ------------------------------------------------------------------------------- public API
def allreduce_array(kvstore: Any, key: str, array: ArrayLike):
    """Sum of ``array`` over all workers, the same on every worker.

    Parameters
    ----------
    kvstore : None, str, mx.kv.KVStore or Horovod-like
        See the module docstring; ``None`` or a local kvstore returns a copy of ``array``.
    key : str
        A name for this array, the same on every worker (mxfair derives its kvstore key from
        it and the size, away from the keys of ``gluon.Trainer``).
    array : np.ndarray or NDArray, any shape
        This worker's values (finite). Integer dtypes are summed through float64 (exact up to
        2**53).

    Returns
    -------
    np.ndarray or NDArray
        Same kind, shape and dtype as ``array`` (an NDArray on its context).

    Examples
    --------
    >>> allreduce_array(None, "counts", np.array([[3.0, 1.0], [2.0, 5.0]])).tolist()
    [[3.0, 1.0], [2.0, 5.0]]
    """
    name = _check_name(key)
    host = to_numpy(array)
    (total,) = _sum_float64(kvstore, name, [host])
    total = total.reshape(host.shape).astype(host.dtype, copy=False)
    if is_ndarray(array):
        return mx.nd.array(total, ctx=array.context, dtype=array.dtype)
    return total


def allreduce_stats(stats, kvstore: Any):
    """Sum a :class:`~mxfair.metrics.GroupStats` over all workers: each gets the global report.

    Every additive array of ``stats`` (``stats.storage()``: counts, histograms, score sums,
    bootstrap replicates, in their fixed order) is summed over the workers in one round trip
    (two through ps-lite). Integer-valued statistics are summed exactly (see the module
    docstring), so the report equals the one of a single process that saw all the data.

    Parameters
    ----------
    stats : GroupStats
        This worker's statistics (it may have seen no rows). Every worker must use the same
        ``num_groups``, ``num_classes``, ``num_bins``, ``bootstrap``, ``threshold``,
        ``from_logits``, ``bin_scale`` and ``exact_auc`` (checked through ps-lite; a mismatch
        raises ``ValueError``). The invalid-row counts are summed too. With ``exact_auc``, the
        kept rows of every worker are gathered (4 float32 per value through ps-lite). With
        ``bootstrap > 0``, give each worker its own ``seed`` (e.g. ``seed + rank``): the same
        seed would reuse the same Poisson weights on every shard.
    kvstore : None, str, mx.kv.KVStore or Horovod-like
        See the module docstring.

    Returns
    -------
    GroupStats
        A new object with the global sums, on ``stats``'s context; ``stats`` is unchanged
        (calling this twice does not count the data twice). For ``None`` or a local kvstore, a
        copy of ``stats``.

    Examples
    --------
    >>> from mxfair.metrics import GroupStats
    >>> local = GroupStats(num_groups=2, from_logits=False)  # probabilities
    >>> local.update(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.7]), np.array([0, 0, 1]))
    >>> allreduce_stats(local, None).counts.asnumpy().sum()
    3.0
    """
    from .metrics.stats import GroupStats

    if not isinstance(stats, GroupStats):
        raise TypeError(f"stats must be a GroupStats, got {type(stats).__name__}")
    if stats.counts is not None:
        out = stats.copy()
    else:  # no rows on this worker: zeros of the right shapes
        out = stats.like(ctx=stats.ctx or mx.current_context())
    if _backend(kvstore) == "none":
        return out
    arrays = out.storage()  # fixed order, summed in place
    sums = _sum_float64(kvstore, "stats", [a.asnumpy() for a in arrays], _stats_signature(stats))
    for arr, total in zip(arrays, sums):
        arr[:] = mx.nd.array(total.reshape(arr.shape), ctx=arr.context, dtype="float64")
    if stats.exact_auc:  # the kept rows of every worker, in rank order
        out.load_exact_rows(_gather_float64(kvstore, "stats/rows", stats.exact_rows()))
    return out


def _gather_float64(kvstore: Any, name: str, rows: np.ndarray) -> np.ndarray:
    """Every worker's columns of ``rows`` (C, n_w), side by side in rank order: (C, sum n_w).

    Two sums: the column counts (one slot per worker), then a zero array of the total width in
    which each worker fills its own columns. Through ps-lite (float32 servers) each float64
    travels as the four 16-bit pieces of its bit pattern, integers the servers add exactly
    (every slot has one non-zero term); Horovod adds float64 directly (x + 0 is exact). Costs
    4 float32 per value and worker through ps-lite.
    """
    backend = _backend(kvstore)
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if backend == "none":
        return rows.copy()
    rank, size = rank_and_size(kvstore)
    slots = np.zeros(size)
    slots[rank] = rows.shape[1]
    (widths,) = _sum_float64(kvstore, f"{name}/widths", [slots], {"channels": rows.shape[0]})
    widths = np.rint(widths).astype(np.int64)
    total, start = int(widths.sum()), int(widths[:rank].sum())
    if total == 0:
        return np.zeros((rows.shape[0], 0))
    if backend == "horovod":
        buf = np.zeros((rows.shape[0], total))
        buf[:, start:start + rows.shape[1]] = rows
        (out,) = _sum_float64(kvstore, name, [buf])
        return out.reshape(buf.shape)
    bits = rows.view(np.uint64)
    buf = np.zeros((4, rows.shape[0], total))
    for i, shift in enumerate((48, 32, 16, 0)):
        buf[i, :, start:start + rows.shape[1]] = (bits >> np.uint64(shift)) & np.uint64(0xFFFF)
    (out,) = _sum_float64(kvstore, name, [buf])
    pieces = np.rint(out.reshape(buf.shape)).astype(np.uint64)
    joined = np.zeros((rows.shape[0], total), dtype=np.uint64)
    for i, shift in enumerate((48, 32, 16, 0)):
        joined |= pieces[i] << np.uint64(shift)
    return joined.view(np.float64)


def _stats_signature(stats) -> dict:
    """The settings of a GroupStats that every worker must share: the shapes, and the
    ``threshold``, ``from_logits`` and ``bin_scale`` that decide what a cell holds (summing
    counts decided differently would be silently wrong), and ``exact_auc`` (the rows kept)."""
    from .metrics.stats import BIN_SCALES

    return {"num_groups": stats.num_groups, "num_classes": stats.num_classes,
            "num_bins": stats.num_bins, "bootstrap": stats.bootstrap,
            "threshold": stats.threshold, "from_logits": stats.from_logits,
            "bin_scale": BIN_SCALES.index(stats.bin_scale), "exact_auc": stats.exact_auc}


def global_cell_counts(
    labels: ArrayLike,
    groups: ArrayLike,
    kvstore: Any,
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
    from .data.reweighing import cell_counts

    num_groups = check_positive_int("num_groups", num_groups)
    num_classes = check_positive_int("num_classes", num_classes)
    local = cell_counts(to_numpy(labels), to_numpy(groups), num_groups, num_classes,
                        None if sample_weight is None else to_numpy(sample_weight))
    total = allreduce_array(kvstore, "cell_counts", np.asarray(local, dtype=np.float64))
    return _like(total, labels, groups, sample_weight)


def global_reweighing(
    labels: ArrayLike,
    groups: ArrayLike,
    kvstore: Any,
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
    from .data.reweighing import weights_from_counts

    check_choice("empty", empty, {"raise", "zero"})
    counts = global_cell_counts(labels, groups, kvstore, num_groups, num_classes,
                                sample_weight)
    return _like(weights_from_counts(to_numpy(counts), empty=empty), labels, groups,
                 sample_weight)


def sync_ratios(ratios: Any, kvstore: Any, method: Literal["mean", "broadcast"] = "mean",
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
        agreed = allreduce_array(kvstore, "ratios/broadcast", mine)
    else:
        agreed = allreduce_array(kvstore, "ratios/mean", host) / size
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


def _like(result, *inputs):
    """``result`` (NumPy) as a float64 NDArray on the inputs' context when any is an NDArray."""
    result = to_numpy(result)
    if any(is_ndarray(a) for a in inputs):
        return as_ndarray(result, ctx=context_of(*inputs), dtype=np.float64)
    return result
