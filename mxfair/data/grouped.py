"""Group ids for any Gluon dataset: ``with_groups(dataset, groups)``.

Image folders, record files and custom datasets yield ``(x, y)``; fairness work needs the group
of each example next to it. :func:`with_groups` wraps any ``gluon.data.Dataset`` and inserts the
group id after ``x`` and ``y``, so the items become ``(x, y, group)`` (or ``(x, group)`` for a
dataset of single items), ready for ``DataLoader``, the samplers (``dataset.groups``) and
:class:`~mxfair.callbacks.FairnessMonitor`. ``transform_first`` works before or after.
Group ids come from a metadata table through :class:`mxfair.GroupEncoder`.
"""
from typing import Any, Optional

from mxnet import gluon

from .._ops import ArrayLike
from .._validation import check_ids, check_positive_int

__all__ = ["GroupedDataset", "with_groups"]

LENGTH_MISMATCH = (
    "groups has {n} rows but dataset has {m} items; give one group id per item, in the "
    "dataset's order"
)


class GroupedDataset(gluon.data.Dataset):
    """A dataset whose items carry a group id: ``(x, y, ...)`` becomes ``(x, y, group, ...)``.

    Parameters
    ----------
    dataset : gluon.data.Dataset
        Any dataset; its items are tuples ``(x, y, ...)`` or single items ``x``.
    groups : array of int, shape (len(dataset),)
        Group id of each item, integers in ``[0, num_groups)`` (NumPy, list, pandas or NDArray;
        any numeric dtype holding integral values). Strings raise ``TypeError``: encode them
        with :class:`mxfair.GroupEncoder`.
    num_groups : int, optional
        G; by default ``max(groups) + 1``.

    Attributes
    ----------
    groups : np.ndarray, int64, shape (N,)
    num_groups : int

    Items
    -----
    ``(x, y, group)`` for ``(x, y)`` items (the group is inserted at position 2, so
    ``(x, y, w)`` becomes ``(x, y, group, w)``), ``(x, group)`` for single items; the group is a
    NumPy int64 scalar, which the default batchify stacks into an int64 NDArray (N,).

    Examples
    --------
    >>> import numpy as np
    >>> from mxnet import gluon
    >>> base = gluon.data.ArrayDataset(np.zeros((3, 2), "float32"), np.array([0, 1, 1]))
    >>> ds = GroupedDataset(base, [1, 0, 1])
    >>> x, y, g = ds[2]
    >>> int(y), int(g), ds.num_groups
    (1, 1, 2)
    """

    def __init__(self, dataset: gluon.data.Dataset, groups: ArrayLike,
                 *,
                 num_groups: Optional[int] = None):
        if not isinstance(dataset, gluon.data.Dataset) and not (
                hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"dataset must be a gluon.data.Dataset, got {type(dataset).__name__}")
        if num_groups is not None:
            num_groups = check_positive_int("num_groups", num_groups)
        ids = check_ids("groups", groups, num_groups, what="group ids")
        if len(ids) != len(dataset):
            raise ValueError(LENGTH_MISMATCH.format(n=len(ids), m=len(dataset)))
        self._dataset = dataset
        self.groups = ids
        self.num_groups = num_groups if num_groups is not None else (
            int(ids.max()) + 1 if ids.size else 1)

    def __len__(self) -> int:
        return len(self._dataset)

    def __getitem__(self, idx: int) -> Any:
        item = self._dataset[idx]
        group = self.groups[idx]
        if isinstance(item, tuple):
            return item[:2] + (group,) + item[2:]
        return item, group

    def __repr__(self) -> str:
        return (f"GroupedDataset(n={len(self)}, num_groups={self.num_groups}, "
                f"dataset={type(self._dataset).__name__})")


def with_groups(dataset: gluon.data.Dataset, groups: ArrayLike,
                *,
                num_groups: Optional[int] = None) -> GroupedDataset:
    """Attach a group id to every item of ``dataset`` (see :class:`GroupedDataset`).

    Parameters
    ----------
    dataset : gluon.data.Dataset
        For example ``gluon.data.vision.ImageFolderDataset(root)``, yielding ``(image, label)``.
    groups : array of int, shape (len(dataset),)
        One group id per item, in the dataset's order; from a metadata table with
        ``GroupEncoder().fit_transform(table.loc[keys, "column"])``.
    num_groups : int, optional

    Returns
    -------
    GroupedDataset
        Yields ``(x, y, group)``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from mxnet import gluon
    >>> from mxfair import GroupEncoder
    >>> images = gluon.data.SimpleDataset([(np.zeros((4, 4, 3), "uint8"), k) for k in range(3)])
    >>> meta = pd.DataFrame({"file": ["a.png", "b.png", "c.png"],
    ...                      "skin_tone": ["dark", "light", "dark"]}).set_index("file")
    >>> ds = with_groups(images, GroupEncoder().fit_transform(meta["skin_tone"]))
    >>> [int(ds[i][2]) for i in range(3)]
    [0, 1, 0]
    """
    return GroupedDataset(dataset, groups, num_groups=num_groups)

