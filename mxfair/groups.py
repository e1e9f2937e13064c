"""GroupEncoder: one or several sensitive columns → integer group ids ``0..G-1`` with names.

Several columns give intersectional groups: the combinations seen at ``fit`` time, named like
``sex=Female&race=Black``. Missing values (None, NaN, ``pd.NA``, ``NaT``) raise by default;
``missing="group"`` makes them one explicit group named ``missing``.
"""
from typing import Any, Dict, List, Literal, Optional, Sequence

import numpy as np

from ._ops import is_ndarray, to_numpy
from ._validation import check_choice

__all__ = ["GroupEncoder"]

UNSEEN_GROUP = "unseen group {value} at transform time; the encoder was fitted on {known}"
NOT_FITTED = "this GroupEncoder is not fitted yet; call fit() first"
MISSING_VALUES = (
    "sensitive column {column!r} has {count} missing value(s) (None/NaN) at rows {rows}; fill "
    "or drop them, or pass GroupEncoder(missing='group') to make them one group named "
    "'missing'"
)
#: The name of the group of missing values with ``missing="group"``.
MISSING_NAME = "missing"


def _as_columns(sensitive: Any, names: Optional[Sequence[str]]):
    """Turn a 1-D array, a 2-D array, a DataFrame, a dict or a list of columns into columns."""
    if hasattr(sensitive, "columns"):  # pandas DataFrame
        cols = [sensitive[c].to_numpy() for c in sensitive.columns]
        default = [str(c) for c in sensitive.columns]
    elif isinstance(sensitive, dict):
        cols = [to_numpy(v) for v in sensitive.values()]
        default = [str(k) for k in sensitive.keys()]
    else:
        if hasattr(sensitive, "name") and not is_ndarray(sensitive):  # pandas Series
            default = [str(sensitive.name)]
        else:
            default = None
        arr = to_numpy(sensitive)
        if arr.ndim == 1:
            cols = [arr]
        elif arr.ndim == 2:
            cols = [arr[:, j] for j in range(arr.shape[1])]
        else:
            raise ValueError(f"sensitive features must be 1-D or 2-D, got shape {arr.shape}")
        if default is None:
            default = ["sensitive"] if len(cols) == 1 else [f"s{j}" for j in range(len(cols))]
    if names is not None:
        if len(names) != len(cols):
            raise ValueError(f"got {len(names)} names for {len(cols)} sensitive columns")
        default = list(names)
    n = {len(c) for c in cols}
    if len(n) > 1:
        raise ValueError(f"sensitive columns have different lengths: {sorted(n)}")
    return [np.asarray(c) for c in cols], default


def _sort_key(values: tuple) -> tuple:
    """Numbers in numeric order (2 before 10, as fairlearn orders them), then strings, then the
    missing value (None)."""
    return tuple(
        (2, 0.0, "") if v is None
        else (0, float(v), "") if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
        else (1, 0.0, str(v))
        for v in values
    )


def _keys(cols: List[np.ndarray], names: List[str], missing: str) -> List[tuple]:
    """One tuple per row; a missing value becomes None (one group) or raises."""
    import pandas as pd

    values = []
    for col, name in zip(cols, names):
        isna = np.asarray(pd.isna(col), dtype=bool).reshape(-1)
        row = col.tolist()
        if isna.any():
            if missing == "raise":
                rows = np.flatnonzero(isna)
                raise ValueError(MISSING_VALUES.format(
                    column=name, count=int(isna.sum()),
                    rows=rows[:5].tolist() + (["..."] if rows.size > 5 else [])))
            row = [None if bad else v for v, bad in zip(row, isna.tolist())]
        values.append(row)
    return list(zip(*values))


def _fmt(v: Any) -> str:
    if v is None:
        return MISSING_NAME
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


class GroupEncoder:
    """Map sensitive columns to group ids ``0..G-1``.

    Parameters
    ----------
    names : sequence of str, optional
        Column names used in group names; taken from a DataFrame or dict when not given.
    missing : {"raise", "group"}, default "raise"
        Missing values (None, NaN, ``pd.NA``, ``NaT``): raise ``ValueError`` naming the column
        and rows, or put every missing value of a column into one group named ``missing``
        (sorted last), never one group per NaN.

    Attributes
    ----------
    groups_ : list of tuple
        The value combination of each group id, in sorted order.
    group_names_ : list of str
        Readable names, ``"sex=Female"`` or ``"sex=Female&race=Black"``; a single unnamed
        column gives the bare value.
    num_groups_ : int

    Examples
    --------
    >>> enc = GroupEncoder().fit({"sex": ["F", "M", "F"], "race": ["a", "a", "b"]})
    >>> enc.transform({"sex": ["M", "F"], "race": ["a", "b"]}).tolist()
    [2, 1]
    >>> enc.group_names_
    ['sex=F&race=a', 'sex=F&race=b', 'sex=M&race=a']
    >>> GroupEncoder(missing="group").fit_transform(["F", None, "M", float("nan")]).tolist()
    [0, 2, 1, 2]
    """

    def __init__(self, *, names: Optional[Sequence[str]] = None,
                 missing: Literal["raise", "group"] = "raise"):
        self.names = names
        self.missing = check_choice("missing", missing, {"raise", "group"})

    def fit(self, sensitive: Any) -> "GroupEncoder":
        """Learn the groups (the value combinations that occur); returns self."""
        cols, names = _as_columns(sensitive, self.names)
        keys = _keys(cols, names, self.missing)
        self.groups_: List[tuple] = sorted(set(keys), key=_sort_key)
        self.columns_ = names
        self._index: Dict[tuple, int] = {k: i for i, k in enumerate(self.groups_)}
        self.num_groups_ = len(self.groups_)
        unnamed = len(cols) == 1 and names == ["sensitive"]
        self.group_names_ = [
            _fmt(k[0]) if unnamed else "&".join(f"{n}={_fmt(v)}" for n, v in zip(names, k))
            for k in self.groups_
        ]
        return self

    def transform(self, sensitive: Any) -> np.ndarray:
        """Group ids, int64 array of shape (N,); raises ValueError on an unseen combination."""
        if not hasattr(self, "groups_"):
            raise ValueError(NOT_FITTED)
        cols, _ = _as_columns(sensitive, None)
        if len(cols) != len(self.columns_):
            raise ValueError(
                f"expected {len(self.columns_)} sensitive columns, got {len(cols)}"
            )
        keys = _keys(cols, self.columns_, self.missing)
        out = np.empty(len(keys), dtype=np.int64)
        for i, k in enumerate(keys):
            try:
                out[i] = self._index[k]
            except KeyError:
                value = tuple(_fmt(v) if v is None else v for v in k)
                raise ValueError(UNSEEN_GROUP.format(
                    value=value if len(k) > 1 else value[0], known=self.group_names_)) from None
        return out

    def fit_transform(self, sensitive: Any) -> np.ndarray:
        """``fit(sensitive).transform(sensitive)``."""
        return self.fit(sensitive).transform(sensitive)
