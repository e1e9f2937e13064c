"""Feature groups: which encoded input columns make one original feature.

A one-hot block (``marital-status_Divorced``, ``marital-status_Married-civ-spouse``, ...) is one
feature to a reader; its attributions are summed and it is permuted as a block. The groups
come from the tabular loaders' fitted ``ColumnTransformer`` (``TabularData.preprocessor``), from
an explicit mapping, or are one column each.
"""
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

__all__ = ["FeatureGroups", "tabular_feature_groups", "as_feature_groups"]


class FeatureGroups:
    """An ordered mapping from feature name to the encoded columns it spans.

    Parameters
    ----------
    groups : mapping of str to sequence of int
        Feature name → column indices of the encoded input (disjoint).
    num_columns : int
        Width D of the encoded input; every column must belong to exactly one feature.

    Attributes
    ----------
    names : list of str
    columns : list of ndarray of int
    matrix : ndarray, shape (D, F)
        ``matrix[d, f] = 1`` when column d belongs to feature f (attributions (…, D) @ matrix
        gives per-feature sums).

    Examples
    --------
    >>> fg = FeatureGroups({"age": [0], "colour": [1, 2, 3]}, num_columns=4)
    >>> fg.names, fg.sum_columns(np.array([1.0, 0.5, 0.25, 0.25])).tolist()
    (['age', 'colour'], [1.0, 1.0])
    """

    def __init__(self, groups: Mapping[str, Sequence[int]], num_columns: int):
        self.names: List[str] = [str(k) for k in groups]
        self.columns = [np.asarray(list(v), dtype=np.int64) for v in groups.values()]
        self.num_columns = int(num_columns)
        seen = np.zeros(self.num_columns, dtype=np.int64)
        for name, cols in zip(self.names, self.columns):
            if cols.size == 0:
                raise ValueError(f"feature group {name!r} has no columns")
            if cols.min() < 0 or cols.max() >= self.num_columns:
                raise ValueError(
                    f"feature_groups: feature group {name!r} names columns {cols.tolist()} outside "
                    f"[0, {self.num_columns}) of the input"
                )
            np.add.at(seen, cols, 1)
        if np.any(seen != 1):
            missing = np.flatnonzero(seen == 0).tolist()
            twice = np.flatnonzero(seen > 1).tolist()
            raise ValueError(
                f"feature groups must cover each of the {self.num_columns} input columns once; "
                f"missing {missing[:10]}, in several groups {twice[:10]}"
            )
        self.matrix = np.zeros((self.num_columns, len(self.names)), dtype=np.float64)
        for f, cols in enumerate(self.columns):
            self.matrix[cols, f] = 1.0

    def __len__(self) -> int:
        return len(self.names)

    def sum_columns(self, values: np.ndarray) -> np.ndarray:
        """Per-feature sums of per-column values (…, D) → (…, F)."""
        return np.asarray(values, dtype=np.float64) @ self.matrix

    def __repr__(self) -> str:
        return f"FeatureGroups({len(self)} features over {self.num_columns} columns)"


def _transformer_outputs(name: str, transformer: Any, cols: Sequence[str]) -> List[tuple]:
    """(original column, number of output columns) for one fitted transformer."""
    categories = getattr(transformer, "categories_", None)
    if categories is not None:  # a one-hot encoder (possibly with dropped categories)
        drop = getattr(transformer, "drop_idx_", None)
        return [(c, len(cat) - (0 if drop is None or drop[i] is None else 1))
                for i, (c, cat) in enumerate(zip(cols, categories))]
    if hasattr(transformer, "get_feature_names_out"):
        out = list(transformer.get_feature_names_out(list(cols)))
        if len(out) == len(cols):
            return [(c, 1) for c in cols]
    raise ValueError(
        f"cannot tell which output columns of transformer {name!r} come from which input "
        "column; pass feature_groups explicitly"
    )


def tabular_feature_groups(data: Any) -> FeatureGroups:
    """Feature groups of a tabular loader's encoding: one per original column.

    Parameters
    ----------
    data : TabularData or sklearn ColumnTransformer
        A :class:`mxfair.datasets.TabularData` (its fitted ``preprocessor``) or a fitted
        ``ColumnTransformer`` of scalers and one-hot encoders.

    Returns
    -------
    FeatureGroups
        Numeric columns are one feature each; a one-hot block is one feature named after its
        original column.

    Examples
    --------
    >>> from mxfair.datasets import load_german
    >>> fg = tabular_feature_groups(load_german(subsample=100))
    >>> fg.num_columns > len(fg), "purpose" in fg.names
    (True, True)
    """
    pre = getattr(data, "preprocessor", data)
    fitted = getattr(pre, "transformers_", None)
    if fitted is None:
        raise TypeError(
            "data: tabular_feature_groups needs a TabularData or a fitted ColumnTransformer, got "
            f"{type(data).__name__}"
        )
    groups: Dict[str, List[int]] = OrderedDict()
    start = 0
    for name, transformer, cols in fitted:
        if transformer == "drop" or name == "remainder" and transformer == "drop":
            continue
        if isinstance(cols, str):
            cols = [cols]
        for col, width in _transformer_outputs(name, transformer, list(cols)):
            groups.setdefault(str(col), []).extend(range(start, start + width))
            start += width
    names = getattr(data, "feature_names", None)
    if names is not None and len(names) != start:
        raise ValueError(f"the preprocessor gives {start} columns but data has {len(names)}")
    return FeatureGroups(groups, start)


def as_feature_groups(feature_groups: Any, num_columns: int, *,
                      feature_names: Optional[Sequence[str]] = None) -> FeatureGroups:
    """Normalise the ``feature_groups`` argument of the explainers.

    ``None``: one feature per column, named by ``feature_names`` (or ``x0``, ``x1``, ...);
    a mapping name → columns; a :class:`FeatureGroups`; a TabularData or ColumnTransformer.
    Column lists may hold indices or names from ``feature_names``.
    """
    if isinstance(feature_groups, FeatureGroups):
        if feature_groups.num_columns != num_columns:
            raise ValueError(
                f"feature_groups spans {feature_groups.num_columns} columns but the input has "
                f"{num_columns}"
            )
        return feature_groups
    if feature_groups is None:
        names = list(feature_names) if feature_names is not None else [
            f"x{j}" for j in range(num_columns)]
        if len(names) != num_columns:
            raise ValueError(f"got {len(names)} feature_names for {num_columns} input columns")
        return FeatureGroups(OrderedDict((n, [j]) for j, n in enumerate(names)), num_columns)
    if isinstance(feature_groups, Mapping):
        index = {n: j for j, n in enumerate(feature_names or [])}
        groups = OrderedDict()
        for name, cols in feature_groups.items():
            cols = [cols] if isinstance(cols, (str, int, np.integer)) else list(cols)
            try:
                groups[name] = [index[c] if isinstance(c, str) else int(c) for c in cols]
            except KeyError as err:
                raise ValueError(f"feature group {name!r}: unknown column name {err}") from None
        return FeatureGroups(groups, num_columns)
    fg = tabular_feature_groups(feature_groups)
    return as_feature_groups(fg, num_columns)
