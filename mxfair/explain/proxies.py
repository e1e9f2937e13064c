"""Proxy detection: which input features predict the sensitive attribute, and how well.

Leaving the sensitive column out of the inputs does not keep a model from using it when
other features encode it (relationship = "Husband"/"Wife" encodes sex in Adult). For each
feature (a one-hot block as one), a small logistic model predicts the group from that feature
alone; its cross-validated AUC says how well the feature stands in for the group (0.5: not at
all, 1: perfectly). The same for all features together says how recoverable the group is from
the inputs as a whole.
"""
from typing import Any, Optional, Sequence

import numpy as np

from .._model import as_group_ids, check_features
from .._ops import to_numpy
from .._validation import check_int
from .features import as_feature_groups

__all__ = ["proxy_detection"]


def _cv_auc(Z: np.ndarray, g: np.ndarray, folds: int, seed: Any) -> float:
    """Cross-validated AUC of a logistic model of g on Z (macro one-vs-rest for G > 2)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, Z, g, cv=cv, method="predict_proba")
    if proba.shape[1] == 2:
        return float(roc_auc_score(g, proba[:, 1]))
    return float(roc_auc_score(g, proba, multi_class="ovr", average="macro"))


def proxy_detection(
    X: Any,
    groups: Any,
    *,
    feature_groups: Any = None,
    feature_names: Optional[Sequence[str]] = None,
    folds: int = 3,
    max_rows: Optional[int] = 20000,
    seed: Optional[int] = 0,
):
    """How well each feature alone predicts the group (cross-validated AUC).

    Parameters
    ----------
    X : array, shape (N, D)
        Encoded inputs.
    groups : array, shape (N,)
        Group ids in ``[0, G)`` (at least two groups, each with ``folds`` rows or more).
    feature_groups, feature_names
        One-hot blocks as one feature (see :func:`~mxfair.explain.gap_attribution`).
    folds : int, default 3
        Stratified cross-validation folds.
    max_rows : int, optional, default 20000
        A seeded subsample of the rows is used above this size.
    seed : int, optional

    Returns
    -------
    pandas.DataFrame
        One row per feature by decreasing ``auc``: ``feature``, ``auc`` (macro one-vs-rest
        for more than two groups), ``columns``; ``frame.attrs["all_features_auc"]``.

    Examples
    --------
    >>> import numpy as np
    >>> rs = np.random.RandomState(0)
    >>> g = rs.randint(0, 2, 500)
    >>> X = np.c_[rs.randn(500), g + 0.3 * rs.randn(500)]  # x1 is a proxy
    >>> proxy_detection(X, g, feature_names=["noise", "proxy"])["feature"].tolist()
    ['proxy', 'noise']
    """
    import pandas as pd

    folds = check_int("folds", folds, low=2)
    check_features(X)
    Xh = np.asarray(to_numpy(X), dtype=np.float64)
    n = Xh.shape[0]
    flat = Xh.reshape(n, -1)
    g = as_group_ids(groups, n)
    fg = as_feature_groups(feature_groups, flat.shape[1], feature_names=feature_names)
    if max_rows is not None and n > max_rows:
        keep = np.sort(np.random.RandomState(seed).choice(n, max_rows, replace=False))
        flat, g = flat[keep], g[keep]
    present, sizes = np.unique(g, return_counts=True)
    if present.size < 2:
        raise ValueError(f"proxy detection needs rows of two groups or more; got {present.size}")
    if sizes.min() < folds:
        raise ValueError(
            f"group {present[np.argmin(sizes)]} has {sizes.min()} rows, fewer than folds={folds}"
        )
    g = np.searchsorted(present, g)  # contiguous labels for sklearn
    rows = [(name, _cv_auc(flat[:, cols], g, folds, seed), int(cols.size))
            for name, cols in zip(fg.names, fg.columns)]
    frame = pd.DataFrame(rows, columns=["feature", "auc", "columns"])
    frame = frame.sort_values("auc", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["all_features_auc"] = _cv_auc(flat, g, folds, seed)
    return frame
