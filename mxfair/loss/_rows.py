"""The host checks of a loss's inputs.

Which rows a loss can use inside the graph, and the device count of those it cannot, live in
``mxfair._row_mask`` (shared with ``mxfair.training``). The first batch of every new shape is
also checked on the host and refused with a ``ValueError`` (one synchronisation per shape): a
systematic error (groups coded 1/2 for ``num_groups=2``) stops the run at once, a rare bad row
later is counted and warned.
"""

import mxnet as mx
import numpy as np

from .._ops import as_dtype_of, is_ndarray
from .._validation import (
    check_column,
    check_ids,
    check_ndarray,
    check_numeric,
    check_pred_columns,
    check_sample_weight,
)

__all__: list = []


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
