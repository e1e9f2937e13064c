"""GroupEncoder: one or several sensitive columns → integer group ids ``0..G-1`` with names.

Several columns give intersectional groups: the combinations seen at ``fit`` time, named like
``sex=Female&race=Black``.
"""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ._ops import is_ndarray, to_numpy

__all__ = ["GroupEncoder"]

UNSEEN_GROUP = "unseen group {value} at transform time; the encoder was fitted on {known}"
NOT_FITTED = "this GroupEncoder is not fitted yet; call fit() first"


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
    """Numbers in numeric order (2 before 10, as fairlearn orders them), then strings."""
    return tuple(
        (0, float(v), "") if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
        else (1, 0.0, str(v))
        for v in values
    )


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


class GroupEncoder:
    """Map sensitive columns to group ids ``0..G-1``.

    Parameters
    ----------
    names : sequence of str, optional
        Column names used in group names; taken from a DataFrame or dict when not given.

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
    """

    def __init__(self, names: Optional[Sequence[str]] = None):
        self.names = names

    def fit(self, sensitive: Any) -> "GroupEncoder":
        cols, names = _as_columns(sensitive, self.names)
        keys = list(zip(*[c.tolist() for c in cols]))
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
        keys = list(zip(*[c.tolist() for c in cols]))
        out = np.empty(len(keys), dtype=np.int64)
        for i, k in enumerate(keys):
            try:
                out[i] = self._index[k]
            except KeyError:
                raise ValueError(
                    UNSEEN_GROUP.format(value=k if len(k) > 1 else k[0], known=self.group_names_)
                ) from None
        return out

    def fit_transform(self, sensitive: Any) -> np.ndarray:
        return self.fit(sensitive).transform(sensitive)
