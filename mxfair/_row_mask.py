"""Rows a block cannot use: the graph-side mask and the count of such rows, kept on the device.

A row is *invalid* when its group id is not an integer in ``[0, G)`` (NaN, 0.5, -1, G, ...), its
label is not a class id (binary: 0 or 1; multi-class: an integer in ``[0, K)``), or its sample
weight is negative, NaN or infinite. Inside the graph (no host synchronisation) such a row gets
weight 0 and no group (:func:`sanitize`), so it adds nothing to a loss, its penalty or its
gradient; the number of such rows, by reason, is an output of the graph that
:class:`InvalidRows` adds up on the device and warns about. Shared by the losses
(``mxfair.loss``) and the bounded loss (``mxfair.training``).
"""
import warnings
from typing import Dict, Optional

import mxnet as mx
import numpy as np

from ._ops import Tensor, invalid_ids, invalid_weights

__all__ = ["REASONS", "INVALID_ROWS_WARNING", "sanitize", "InvalidRows"]

#: Why a row is invalid, in the order of the counts a loss graph outputs after the row total.
REASONS = ("group", "label", "sample_weight")

INVALID_ROWS_WARNING = (
    "{owner} left {rows:g} invalid row(s) out of the loss, its penalty and its gradient "
    "(group id not an integer in [0, {g}): {group:g}; label not a class id in [0, {k}): "
    "{label:g}; sample_weight negative, NaN or infinite: {sample_weight:g}); fix the data "
    "(mxfair.GroupEncoder turns any group column into ids 0..G-1)"
)


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
