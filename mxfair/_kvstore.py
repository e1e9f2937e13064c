"""The transport of sums over data-parallel workers: ps-lite kvstores and Horovod.

Used by :mod:`mxfair.distributed` (the public API) and :meth:`mxfair.metrics.GroupStats.allreduce`;
:func:`sum_float64` sums float64 host arrays over the workers, :func:`gather_float64` puts every
worker's columns side by side. Backends: see :mod:`mxfair.distributed`.

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

A server-side optimizer (``gluon.Trainer(update_on_kvstore=True)``) would turn a sum into an
optimizer step: a pushed 1 per worker that does not come back as ``W`` raises ``RuntimeError``
(:data:`SERVER_UPDATER`).
"""
import math
import weakref
import zlib
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import mxnet as mx
import numpy as np

__all__: list = []

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


def _is_horovod(obj: Any) -> bool:
    return all(callable(getattr(obj, name, None)) for name in ("allreduce", "rank", "size"))


def backend_of(kvstore: Any) -> str:
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
    >>> import mxnet as mx
    >>> is_distributed(None), is_distributed(mx.kv.create("local"))
    (False, False)
    """
    return backend_of(kvstore) != "none"


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
        backend_of(kvstore)  # raises for a 'dist_*' string
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


def sum_float64(kvstore, name: str, arrays: List[np.ndarray],
                 signature: Optional[Mapping[str, Any]] = None) -> List[np.ndarray]:
    """Sum of float64 host arrays over the workers, each returned flat (float64).

    ``signature``: settings every worker must share (checked with the shapes, ps-lite only).
    """
    backend = backend_of(kvstore)
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
    if backend == "none":  # one process: refuse what the cluster path refuses, not a NaN sum
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError(NON_FINITE.format(name=name))
        return [a.reshape(-1).copy() for a in arrays]
    if backend == "horovod":
        return _horovod_sum_float64(kvstore, name, arrays)
    return _ps_sum_float64(kvstore, name, arrays, signature or {})


def gather_float64(kvstore: Any, name: str, rows: np.ndarray) -> np.ndarray:
    """Every worker's columns of ``rows`` (C, n_w), side by side in rank order: (C, sum n_w).

    Two sums: the column counts (one slot per worker), then a zero array of the total width in
    which each worker fills its own columns. Through ps-lite (float32 servers) each float64
    travels as the four 16-bit pieces of its bit pattern, integers the servers add exactly
    (every slot has one non-zero term); Horovod adds float64 directly (x + 0 is exact). Costs
    4 float32 per value and worker through ps-lite.
    """
    backend = backend_of(kvstore)
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if backend == "none":
        return rows.copy()
    rank, size = rank_and_size(kvstore)
    slots = np.zeros(size)
    slots[rank] = rows.shape[1]
    (widths,) = sum_float64(kvstore, f"{name}/widths", [slots], {"channels": rows.shape[0]})
    widths = np.rint(widths).astype(np.int64)
    total, start = int(widths.sum()), int(widths[:rank].sum())
    if total == 0:
        return np.zeros((rows.shape[0], 0))
    if backend == "horovod":
        buf = np.zeros((rows.shape[0], total))
        buf[:, start:start + rows.shape[1]] = rows
        (out,) = sum_float64(kvstore, name, [buf])
        return out.reshape(buf.shape)
    bits = rows.view(np.uint64)
    buf = np.zeros((4, rows.shape[0], total))
    for i, shift in enumerate((48, 32, 16, 0)):
        buf[i, :, start:start + rows.shape[1]] = (bits >> np.uint64(shift)) & np.uint64(0xFFFF)
    (out,) = sum_float64(kvstore, name, [buf])
    pieces = np.rint(out.reshape(buf.shape)).astype(np.uint64)
    joined = np.zeros((rows.shape[0], total), dtype=np.uint64)
    for i, shift in enumerate((48, 32, 16, 0)):
        joined |= pieces[i] << np.uint64(shift)
    return joined.view(np.float64)
