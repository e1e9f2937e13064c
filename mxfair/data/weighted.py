"""The weighted path: a dataset that yields each row's weight, for ``loss(pred, y, weight)``.

For users who prefer weighting the loss to resampling: ``(x, y, group)`` rows become
``(x, y, group, weight)``, and the default batchify function stacks the weights into a float32
NDArray of shape (batch,).
"""
from typing import Any, Optional

import numpy as np
from mxnet import gluon

from .._ops import ArrayLike, to_numpy
from .reweighing import reweighing_weights

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
        w = np.asarray(to_numpy(weights), dtype=np.float32).reshape(-1)
        if len(w) != len(dataset):
            raise ValueError(
                f"weights has {len(w)} rows but dataset has {len(dataset)}; they must have the "
                "same length"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
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
    labels: Optional[ArrayLike] = None,
    groups: Optional[ArrayLike] = None,
    sample_weight: Optional[ArrayLike] = None,
    cell_counts: Optional[ArrayLike] = None,
    label_index: int = 1,
    group_index: int = 2,
) -> WeightedDataset:
    """A :class:`WeightedDataset` with the reweighing weights of :func:`reweighing_weights`.

    Parameters
    ----------
    dataset : gluon.data.Dataset
        Yields ``(x, y, group)`` (or any tuple with the label and group at ``label_index`` and
        ``group_index``).
    labels, groups : array of int, shape (N,), optional
        Read from the dataset's items when not given (one pass over the dataset).
    sample_weight, cell_counts : optional
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
    """
    if labels is None or groups is None:
        items = [dataset[i] for i in range(len(dataset))]
        if labels is None:
            labels = np.array([np.asarray(to_numpy(it[label_index])).item() for it in items])
        if groups is None:
            groups = np.array([np.asarray(to_numpy(it[group_index])).item() for it in items])
    labels, groups = to_numpy(labels), to_numpy(groups)
    if len(labels) != len(dataset):
        raise ValueError(
            f"labels has {len(labels)} rows but dataset has {len(dataset)}; they must have the "
            "same length"
        )
    weights = reweighing_weights(labels, groups, sample_weight=sample_weight,
                                 cell_counts=cell_counts)
    return WeightedDataset(dataset, weights)
