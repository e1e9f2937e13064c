"""The weighted path: a dataset that yields each row's weight, for ``loss(pred, y, weight)``.

For users who prefer weighting the loss to resampling: ``(x, y, group)`` rows become
``(x, y, group, weight)``, and the default batchify function stacks the weights into a float32
NDArray of shape (batch,). A dataset of ``(x, y)`` items with the groups given apart gets them
attached first (:func:`~mxfair.data.with_groups`), so the items are ``(x, y, group, weight)``
either way.
"""
from typing import Any, Optional

import numpy as np
from mxnet import gluon

from .._ops import ArrayLike, to_numpy
from .._validation import check_sample_weight
from .grouped import with_groups
from .reweighing import EmptyPolicy, reweighing_weights

__all__ = ["WeightedDataset", "reweighed_dataset"]


class WeightedDataset(gluon.data.Dataset):
    """Append a per-row weight to each item of a dataset.

    Parameters
    ----------
    dataset : gluon.data.Dataset
        Yields a tuple ``(x, y, group, ...)`` or a single item.
    weights : array of float, shape (len(dataset),)
        NumPy or NDArray; stored on the host as float32.

    Examples
    --------
    >>> base = gluon.data.ArrayDataset(np.zeros((3, 2)), np.array([0, 1, 1]))
    >>> ds = WeightedDataset(base, np.array([1.0, 0.5, 2.0]))
    >>> float(ds[2][-1])
    2.0
    """

    def __init__(self, dataset: gluon.data.Dataset, weights: ArrayLike):
        w = check_sample_weight("weights", weights).astype(np.float32)
        if len(w) != len(dataset):
            raise ValueError(
                f"weights has {len(w)} rows but dataset has {len(dataset)}; they must have the "
                "same length"
            )
        self._dataset = dataset
        self.weights = w

    def __getitem__(self, idx: int) -> Any:
        item = self._dataset[idx]
        if isinstance(item, tuple):
            return item + (self.weights[idx],)
        return item, self.weights[idx]

    def __len__(self) -> int:
        return len(self._dataset)


def reweighed_dataset(
    dataset: gluon.data.Dataset,
    *,
    labels: Optional[ArrayLike] = None,
    groups: Optional[ArrayLike] = None,
    sample_weight: Optional[ArrayLike] = None,
    cell_counts: Optional[ArrayLike] = None,
    label_index: int = 1,
    group_index: int = 2,
    empty: EmptyPolicy = "raise",
) -> WeightedDataset:
    """A :class:`WeightedDataset` with the reweighing weights of :func:`reweighing_weights`.

    Parameters
    ----------
    dataset : gluon.data.Dataset
        Yields ``(x, y, group)`` (or any tuple with the label and group at ``label_index`` and
        ``group_index``), or ``(x, y)`` when ``groups`` is given: the groups are then attached
        with :func:`~mxfair.data.with_groups`.
    labels, groups : array of int, shape (N,), optional
        Read from the dataset's items when not given (one pass over the dataset, keeping only
        the label and group of each item).
    sample_weight, cell_counts, empty : optional
        As in :func:`reweighing_weights` (``cell_counts``: global counts for data-parallel
        training).
    label_index, group_index : int
        Positions of the label and the group in an item.

    Returns
    -------
    WeightedDataset
        Yields ``(x, y, group, weight)``.

    Examples
    --------
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> ds = reweighed_dataset(gluon.data.ArrayDataset(np.zeros((8, 2)), y, g))
    >>> round(float(ds[3][3]), 3)
    2.0
    >>> pairs = gluon.data.ArrayDataset(np.zeros((8, 2)), y)  # (x, y) items, groups apart
    >>> len(reweighed_dataset(pairs, groups=g)[3])
    4
    """
    for name, given in (("labels", labels), ("groups", groups)):
        if given is not None and len(to_numpy(given)) != len(dataset):
            raise ValueError(f"{name} has {len(to_numpy(given))} rows but dataset has "
                             f"{len(dataset)}; they must have the same length")
    first = dataset[0] if len(dataset) else None
    if groups is not None and not (isinstance(first, tuple) and len(first) > group_index):
        if group_index != 2:
            raise ValueError(f"the items have no element at group_index={group_index}; give "
                             "items with their group, or group_index=2 to attach groups")
        dataset = with_groups(dataset, groups)
    if labels is None or groups is None:
        read_labels, read_groups = [], []
        for i in range(len(dataset)):  # one pass; keep the label and group only
            item = dataset[i]
            if labels is None:
                read_labels.append(_scalar(item[label_index]))
            if groups is None:
                read_groups.append(_scalar(item[group_index]))
        labels = np.array(read_labels) if labels is None else labels
        groups = np.array(read_groups) if groups is None else groups
    weights = reweighing_weights(labels, groups, sample_weight=sample_weight,
                                 cell_counts=cell_counts, empty=empty)
    return WeightedDataset(dataset, weights)


def _scalar(value: Any) -> Any:
    """A label or group of an item as a Python scalar (NDArray, NumPy or plain)."""
    arr = np.asarray(to_numpy(value))
    if arr.size != 1:
        raise ValueError(f"an item's label and group must be scalars, got shape {arr.shape}")
    return arr.reshape(-1)[0]
