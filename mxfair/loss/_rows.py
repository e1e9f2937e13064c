"""Which rows a loss can use, the count of those it cannot, and the host checks of its inputs.

A row is *invalid* when its group id is not an integer in ``[0, G)`` (NaN, 0.5, -1, G, ...), its
label is not a class id (binary: 0 or 1; multi-class: an integer in ``[0, K)``), or its sample
weight is negative, NaN or infinite. Inside the graph (no host synchronisation) such a row gets
weight 0 in the base loss and no group, so it adds nothing to the loss, to the penalty or to the
gradient; the number of such rows, by reason, is an output of the graph that the loss adds up on
the device (:class:`InvalidRows`). The first batch of every new shape is also checked on the host
and refused with a ``ValueError`` (one synchronisation per shape): a systematic error (groups
coded 1/2 for ``num_groups=2``) stops the run at once, a rare bad row later is counted and warned.
"""
import warnings
from typing import Dict, Optional

import mxnet as mx
import numpy as np

from .._ops import Tensor, as_dtype_of, invalid_ids, invalid_weights, is_ndarray
from .._validation import (
    check_column,
    check_ids,
    check_ndarray,
    check_numeric,
    check_pred_columns,
    check_sample_weight,
)

__all__: list = []

#: Why a row is invalid, in the order of the counts a loss graph outputs after the row total.
REASONS = ("group", "label", "sample_weight")

PRED_NOT_FLOAT32 = (
    "{name} has dtype {dtype}; {owner} computes in float32: pass {name}.astype('float32') (or "
    "build the net in float32: net.cast('float32'))"
)
EMPTY_BATCH = (
    "{name} has 0 rows: {owner} needs a non-empty batch (its penalty compares the groups "
    "present in the batch)"
)
BAD_DEVICE_LISTS = (
    "{owner} takes either one NDArray per argument or one list per argument with one NDArray "
    "per device (as gluon.utils.split_and_load gives); got {what}"
)
NEEDS_LABEL = "constraint {name!r} conditions on the true label; pass label (got None)"
NEEDS_GROUP = "group ids are required: call loss(pred, label, group[, sample_weight])"
INVALID_ROWS_WARNING = (
    "{owner} left {rows:g} invalid row(s) out of the loss, its penalty and its gradient "
    "(group id not an integer in [0, {g}): {group:g}; label not a class id in [0, {k}): "
    "{label:g}; sample_weight negative, NaN or infinite: {sample_weight:g}); fix the data "
    "(mxfair.GroupEncoder turns any group column into ids 0..G-1)"
)


def score_rows(name: str, pred, num_classes: int) -> int:
    """The rows of a net's output given to a loss with the default base loss: (N,) or (N, 1)
    for a binary task, (N, K) for K classes (``check_pred_columns(one_score=True)``)."""
    check_pred_columns(name, tuple(pred.shape), num_classes, one_score=True)
    return int(pred.shape[0]) if pred.ndim else 0


def check_pred_array(name: str, pred: mx.nd.NDArray, owner: str) -> None:
    """float32 and at least one row, or an error naming ``name``."""
    if pred.dtype != np.float32:
        raise TypeError(PRED_NOT_FLOAT32.format(name=name, dtype=np.dtype(pred.dtype).name,
                                                owner=owner))
    if pred.ndim == 0 or pred.shape[0] == 0:
        raise ValueError(EMPTY_BATCH.format(name=name, owner=owner))


def check_host_ids(name: str, values):
    """``values`` unchanged; TypeError ``IDS_NOT_NUMERIC`` when host data hold strings (an
    NDArray is numeric and is not read: no synchronisation)."""
    if values is not None and not is_ndarray(values) and not isinstance(values, mx.sym.Symbol):
        check_numeric(name, values)
    return values


def host_arrays(*arrays):
    """NDArrays as they are, lists and other array-likes as NumPy arrays, None as None."""
    return tuple(None if a is None else (a if is_ndarray(a) else np.asarray(a)) for a in arrays)


def check_shapes(pred, label, group, sample_weight, num_classes: int,
                 needs_label: bool, statistic_name: str, name: str = "pred") -> None:
    """Host shape checks (no synchronisation); ValueError naming the bad input and the fix."""
    if group is None:
        raise ValueError(NEEDS_GROUP)
    if label is None and needs_label:
        raise ValueError(NEEDS_LABEL.format(name=statistic_name))
    shape = tuple(pred.shape)
    check_pred_columns(name, shape, num_classes, one_score=True)
    n = shape[0] if shape else 0
    for arg, arr in (("group", group), ("label", label), ("sample_weight", sample_weight)):
        if arr is not None:
            check_column(arg, arr, n)


def check_values(label, group, num_groups: int, num_classes: int,
                 sample_weight=None) -> None:
    """Host value checks (synchronise): group ids, labels and weights, ValueError if bad."""
    check_ids("group", group, num_groups, what="group ids")
    if label is not None:
        check_ids("label", label, num_classes, what="labels")
    if sample_weight is not None:
        check_sample_weight("sample_weight", sample_weight)


class InputChecker:
    """The host checks of one block's inputs, each new shape's first batch checked for values.

    Parameters
    ----------
    owner : str
        The block's class name, for the messages.
    num_groups, num_classes : int
    needs_label : bool
        Whether the block reads the label (else it is dropped, keeping the graph's inputs).
    statistic_name : str
        For the message when a label-conditioned constraint gets no label.
    missing_group : str
        The message when ``group`` is None.
    """

    def __init__(self, owner: str, num_groups: int, num_classes: int, needs_label: bool,
                 statistic_name: str, missing_group: str = NEEDS_GROUP):
        self.owner = owner
        self.num_groups = num_groups
        self.num_classes = num_classes
        self.needs_label = needs_label
        self.statistic_name = statistic_name
        self.missing_group = missing_group
        self._seen: set = set()  # (shapes, context) whose first batch was checked

    def __call__(self, pred, label, group, sample_weight, name: str = "pred",
                 every_call: bool = False):
        """Check one device's inputs; return ``(label, sample_weight)`` in pred's dtype (the
        label None when not read). Values are checked (one synchronisation) for the first
        batch of each shape and context, or in every call with ``every_call``."""
        if not self.needs_label:
            label = None  # not read: keeps the graph's inputs fixed
        if (not every_call and is_ndarray(pred) and is_ndarray(group)
                and (label is None or is_ndarray(label))
                and (sample_weight is None or is_ndarray(sample_weight))):
            key = (pred.shape, pred.dtype, None if label is None else label.shape, group.shape,
                   None if sample_weight is None else sample_weight.shape, pred.context)
            if key in self._seen:  # every check but the values' passed for this shape
                return as_dtype_of(pred, label), as_dtype_of(pred, sample_weight)
        check_ndarray(name, pred)
        if group is None:
            raise ValueError(self.missing_group)
        check_ndarray("label", label, ids=True)
        check_ndarray("group", group, ids=True)
        check_ndarray("sample_weight", sample_weight)
        check_pred_array(name, pred, self.owner)
        check_shapes(pred, label, group, sample_weight, self.num_classes, self.needs_label,
                     self.statistic_name, name=name)
        key = (pred.shape, pred.dtype, None if label is None else label.shape, group.shape,
               None if sample_weight is None else sample_weight.shape, pred.context)
        if key not in self._seen or every_call:
            check_values(label, group, self.num_groups, self.num_classes, sample_weight)
            if len(self._seen) > 64:
                self._seen.clear()
            self._seen.add(key)
        # Loaders yield int64 labels and float64 weights; the graph needs pred's float dtype.
        return as_dtype_of(pred, label), as_dtype_of(pred, sample_weight)


def as_device_lists(owner: str, pred, label, group, sample_weight):
    """``(preds, labels, groups, weights)`` as lists of equal length when ``pred`` is a list
    or tuple (one entry per device), else None; TypeError/ValueError when they do not match."""
    if not isinstance(pred, (list, tuple)):
        for name, value in (("label", label), ("group", group),
                            ("sample_weight", sample_weight)):
            if isinstance(value, (list, tuple)) and value and is_ndarray(value[0]):
                raise TypeError(BAD_DEVICE_LISTS.format(
                    owner=owner, what=f"one NDArray as pred but a list as {name}"))
        return None
    n = len(pred)
    if n == 0:
        raise ValueError(BAD_DEVICE_LISTS.format(owner=owner, what="an empty list as pred"))
    out = [list(pred)]
    for name, value in (("label", label), ("group", group), ("sample_weight", sample_weight)):
        if value is None:
            out.append([None] * n)
            continue
        if not isinstance(value, (list, tuple)) or len(value) != n:
            what = (f"{n} preds but {name} is {type(value).__name__}"
                    if not isinstance(value, (list, tuple))
                    else f"{n} preds but {len(value)} {name} arrays")
            raise TypeError(BAD_DEVICE_LISTS.format(owner=owner, what=what))
        out.append(list(value))
    for i, p in enumerate(out[0]):
        if not is_ndarray(p):
            check_ndarray(f"pred[{i}]", p)
    return tuple(out)


def sanitize(F, label: Tensor, group: Tensor, sample_weight: Optional[Tensor],
             num_groups: int, num_classes: int):
    """Graph-safe validity of each row, and inputs in which invalid rows are harmless.

    Parameters
    ----------
    F : module
    label : Tensor, shape (N,) or (N, 1), float32, or None (not checked)
    group : Tensor, shape (N,) or (N, 1)
    sample_weight : Tensor, shape (N,) or (N, 1), or None
    num_groups, num_classes : int

    Returns
    -------
    valid : Tensor, shape (N,)
        1.0 for a valid row, else 0.0.
    counts : Tensor, shape (4,)
        Invalid rows, then rows with a bad group id, label, sample weight (``REASONS``).
    label : Tensor, shape (N,)
        The label, 0 in invalid rows.
    group : Tensor, shape (N,)
        The group id, -1 (no group) in invalid rows.
    weight : Tensor, shape (N,), or None
        The sample weight, 0 in invalid rows (None when none was given).
    """
    # The package's graph-side row checks (mxfair._ops), as GroupStats applies them.
    g = F.cast(F.reshape(group, shape=(-1,)), "float32")  # (N,)
    ok_group = 1 - invalid_ids(F, g, num_groups)
    if label is None:  # not read (an adversary for demographic parity)
        y = F.zeros_like(g)
        ok_label = y + 1
    else:
        y = F.reshape(label, shape=(-1,))  # (N,), float32: the loss casts it to pred's dtype
        ok_label = 1 - invalid_ids(F, y, num_classes)
    valid = ok_group * ok_label
    w = None
    if sample_weight is None:
        ok_weight = F.ones_like(g)
    else:
        w = F.cast(F.reshape(sample_weight, shape=(-1,)), "float32")
        ok_weight = 1 - invalid_weights(F, w)  # NaN, negative and infinite fail
        valid = valid * ok_weight
    # (4,): invalid rows, bad group ids, labels, weights; exact in float32 below 2^24 rows
    counts = F.sum(1 - F.stack(valid, ok_group, ok_label, ok_weight, axis=1), axis=0)
    zeros = F.zeros_like(y)
    safe_label = F.where(valid, y, zeros)
    safe_group = F.where(valid, g, valid - 1)  # -1: in no group
    safe_weight = None if w is None else F.where(valid, w, zeros)
    return valid, counts, safe_label, safe_group, safe_weight


class InvalidRows:
    """A running count, on the device, of the invalid rows a loss has left out; warns.

    ``add`` keeps a batch's counts (an NDArray of shape (4,), see ``sanitize``); no operation
    and no synchronisation per batch. At calls 2, 4, 8, ..., ``check_every`` and every
    ``check_every`` calls after that, the kept counts are summed on their devices, the total as
    it stood at the previous such call (a copy the device finished batches ago, so reading it
    does not stall the pipeline) is read, and a warning is given if it grew. ``totals`` and
    ``warn`` read the current total (they synchronise).
    """

    def __init__(self, owner: str, num_groups: int, num_classes: int, check_every: int = 64):
        self.owner = owner
        self.num_groups = num_groups
        self.num_classes = num_classes
        self.check_every = check_every
        self.reset()

    def reset(self) -> None:
        self._sums: Dict[mx.Context, mx.nd.NDArray] = {}
        self._pending: list = []
        self._calls = 0
        self._snapshot: Optional[mx.nd.NDArray] = None
        self._warned = 0.0

    def _is_check(self, calls: int) -> bool:
        if calls < self.check_every:
            return calls >= 2 and calls & (calls - 1) == 0  # a power of two
        return calls % self.check_every == 0

    def add(self, counts: mx.nd.NDArray) -> None:
        self._pending.append(counts)
        self._calls += 1
        if self._is_check(self._calls):
            if self._snapshot is not None:
                self._maybe_warn(self._snapshot.asnumpy(), stacklevel=5)
            self._snapshot = self._total()

    def _flush(self) -> None:
        """Sum the kept counts into the per-device totals (asynchronous)."""
        by_ctx: Dict[mx.Context, list] = {}
        for counts in self._pending:
            by_ctx.setdefault(counts.context, []).append(counts)
        self._pending = []
        with mx.autograd.pause():
            for ctx, arrays in by_ctx.items():
                if ctx in self._sums:
                    arrays = arrays + [self._sums[ctx]]
                self._sums[ctx] = mx.nd.add_n(*arrays) if len(arrays) > 1 else arrays[0].copy()

    def _total(self) -> mx.nd.NDArray:
        """The sum over contexts, on the CPU (asynchronous)."""
        self._flush()
        parts = [s.copyto(mx.cpu()) for s in self._sums.values()]
        return mx.nd.add_n(*parts) if len(parts) > 1 else parts[0]

    def totals(self) -> Dict[str, float]:
        """``{"rows": ..., "group": ..., "label": ..., "sample_weight": ...}`` (synchronises)."""
        arr = self._total().asnumpy() if self._sums or self._pending else np.zeros(4)
        return dict(zip(("rows",) + REASONS, (float(v) for v in arr)))

    def _maybe_warn(self, arr: np.ndarray, stacklevel: int) -> None:
        if arr[0] > self._warned:
            self._warned = float(arr[0])
            warnings.warn(INVALID_ROWS_WARNING.format(
                owner=self.owner, rows=arr[0], g=self.num_groups, k=self.num_classes,
                group=arr[1], label=arr[2], sample_weight=arr[3]), UserWarning,
                stacklevel=stacklevel)

    def warn(self) -> Dict[str, float]:
        """Warn now if rows were left out since the last warning; return ``totals()``."""
        totals = self.totals()
        self._maybe_warn(np.array([totals[k] for k in ("rows",) + REASONS]), stacklevel=3)
        return totals
