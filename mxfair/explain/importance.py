"""Model-agnostic feature importance and per-group partial dependence.

Both call the model forward only, so they work for any Gluon net, an exported ``SymbolBlock``
or a callable, on the model's context.
"""
import dataclasses
from typing import Any, Callable, List, Optional, Sequence

import mxnet as mx
import numpy as np

from .._model import (
    as_group_ids,
    check_features,
    check_model_input,
    group_name_list,
    model_context,
    output_function,
    predict,
)
from .._ops import to_numpy
from .._validation import check_choice, check_ids, check_positive_int
from .features import as_feature_groups

__all__ = ["feature_importance", "partial_dependence", "PartialDependence"]

IMPORTANCE_METRICS = ("log_loss", "accuracy")


def _loss_terms(p: np.ndarray, y: np.ndarray, metric: str, threshold: float,
                multiclass: bool) -> np.ndarray:
    """Per-row loss: log loss, or 1 − correct (so that importance = increase)."""
    if metric == "log_loss":
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return -np.log(p) if multiclass else -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return ((p >= threshold).astype(np.int64) != y).astype(np.float64)


def feature_importance(
    model: Callable,
    X: Any,
    y: Any,
    *,
    groups: Any = None,
    metric: str = "log_loss",
    feature_groups: Any = None,
    feature_names: Optional[Sequence[str]] = None,
    group_names: Optional[Sequence[str]] = None,
    repeats: int = 3,
    threshold: float = 0.5,
    from_logits: bool = True,
    seed: Optional[int] = 0,
    ctx: Optional[mx.Context] = None,
    batch_size: int = 8192,
):
    """Permutation importance: how much worse the model gets when a feature is shuffled.

    Parameters
    ----------
    model : Block, SymbolBlock or callable
    X : array, shape (N, ...)
    y : array, shape (N,)
        Labels (binary 0/1, or classes in ``[0, K)`` for a K-class net with ``log_loss``).
    groups : array, shape (N,), optional
        Group ids: the importance is also given within each group (a feature the model needs
        for one group only shows up there).
    metric : {"log_loss", "accuracy"}, default "log_loss"
        The increase in mean log loss, or the drop in accuracy (binary, at ``threshold``).
    feature_groups, feature_names, group_names, from_logits, ctx
        As in :func:`~mxfair.explain.gap_attribution`.
    repeats : int, default 3
    seed : int, optional

    Returns
    -------
    pandas.DataFrame
        One row per feature, by decreasing ``importance``; ``std`` over repeats; with groups,
        one ``importance[<group>]`` column per group.

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> net = mx.gluon.nn.Dense(1, in_units=2)
    >>> net.initialize(mx.init.Constant(2.0))
    >>> X = np.random.RandomState(0).randn(400, 2).astype("float32")
    >>> X[:, 1] *= 0.01  # the model barely sees the second feature
    >>> y = (X.sum(axis=1) > 0).astype(int)
    >>> feature_importance(net, X, y)["feature"].tolist()
    ['x0', 'x1']
    """
    import pandas as pd

    check_choice("metric", metric, IMPORTANCE_METRICS)
    repeats = check_positive_int("repeats", repeats)
    Xh = np.asarray(to_numpy(X), dtype=np.float32)
    n = Xh.shape[0]
    yv = np.asarray(to_numpy(y)).reshape(-1)
    if yv.shape[0] != n:
        raise ValueError(f"y has {yv.shape[0]} rows but X has {n}")
    ctx = model_context(model, ctx)
    check_features(Xh)
    probe = check_model_input(model, Xh, ctx, from_logits)
    multiclass = probe.ndim == 2 and probe.shape[1] > 2
    yv = check_ids("y", yv, probe.shape[1] if multiclass else 2, what="labels")
    if multiclass and metric == "accuracy":
        raise ValueError("metric='accuracy' is for binary nets; use metric='log_loss'")
    f = output_function(model, "probability", from_logits)
    target = yv.astype(np.float32) if multiclass else None
    flat = Xh.reshape(n, -1)
    fg = as_feature_groups(feature_groups, flat.shape[1], feature_names=feature_names)
    g = None if groups is None else as_group_ids(groups, n)
    G = 0 if g is None else int(g.max() + 1)
    names = group_name_list(group_names, G) if g is not None else []

    def losses(data):
        p = predict(f, data, ctx, batch_size, target)
        terms = _loss_terms(p, yv, metric, threshold, multiclass)
        overall = terms.mean()
        if g is None:
            return overall, None
        with np.errstate(invalid="ignore", divide="ignore"):
            return overall, np.bincount(g, terms, G) / np.bincount(g, minlength=G)

    base, base_g = losses(Xh)
    rng = np.random.RandomState(seed)
    rows = []
    for name, cols in zip(fg.names, fg.columns):
        over, per = [], []
        for _ in range(repeats):
            permuted = flat.copy()
            permuted[:, cols] = flat[rng.permutation(n)][:, cols]
            o, pg = losses(permuted.reshape(Xh.shape))
            over.append(o - base)
            if pg is not None:
                per.append(pg - base_g)
        row = {"feature": name, "importance": float(np.mean(over)), "std": float(np.std(over))}
        for k, gname in enumerate(names):
            row[f"importance[{gname}]"] = float(np.mean([p[k] for p in per]))
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values("importance", ascending=False, kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(metric=metric, baseline=float(base))
    return frame


@dataclasses.dataclass
class PartialDependence:
    """Mean model output per group as one feature is set to each value of a grid.

    Attributes
    ----------
    feature : str
    grid : list
        Grid values (numbers for a column, category names for a one-hot block).
    values : ndarray, shape (G, len(grid))
        Mean output of each group's rows with the feature set to each grid value.
    group_names : list of str
    output : str
    categorical : bool
    """

    feature: str
    grid: List[Any]
    values: np.ndarray
    group_names: List[str]
    output: str
    categorical: bool

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.values.T, index=pd.Index(self.grid, name=self.feature),
                            columns=self.group_names)


def partial_dependence(
    model: Callable,
    X: Any,
    feature: str,
    *,
    groups: Any = None,
    grid: Optional[Sequence[float]] = None,
    grid_size: int = 20,
    feature_groups: Any = None,
    feature_names: Optional[Sequence[str]] = None,
    group_names: Optional[Sequence[str]] = None,
    output: str = "probability",
    from_logits: bool = True,
    target: Optional[int] = None,
    max_rows: Optional[int] = 2000,
    seed: Optional[int] = 0,
    ctx: Optional[mx.Context] = None,
) -> PartialDependence:
    """Per-group partial dependence of the model output on one feature.

    For each grid value, every row gets the feature set to it (a one-hot block: the category's
    column set to 1, the block's others to 0) and the mean output of each group is taken.
    Two groups' curves that differ in level but not in shape say the feature is not what
    separates them; crossing curves say the model uses it differently per group.

    Parameters
    ----------
    model : Block, SymbolBlock or callable
    X : array, shape (N, D)
    feature : str
        A feature name (of ``feature_groups`` / ``feature_names``).
    groups : array, shape (N,), optional
    grid : sequence of float, optional
        Values of a one-column feature (in the encoded scale); default: up to ``grid_size``
        quantiles of the column. A one-hot block always uses its categories.
    max_rows : int, optional, default 2000
        Rows used (a seeded subsample, stratified by nothing; None: all).
    output, from_logits, target, feature_groups, feature_names, group_names, ctx
        As in :func:`~mxfair.explain.gap_attribution`.

    Returns
    -------
    PartialDependence

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> net = mx.gluon.nn.Dense(1, in_units=2)
    >>> net.initialize(mx.init.Constant(1.0))
    >>> X = np.random.RandomState(0).randn(100, 2).astype("float32")
    >>> pd_ = partial_dependence(net, X, "x0", grid=[-1.0, 0.0, 1.0], output="logit")
    >>> np.round(np.diff(pd_.values[0]), 3).tolist()
    [1.0, 1.0]
    """
    Xh = np.asarray(to_numpy(X), dtype=np.float32)
    n = Xh.shape[0]
    flat = Xh.reshape(n, -1)
    fg = as_feature_groups(feature_groups, flat.shape[1], feature_names=feature_names)
    if feature not in fg.names:
        raise ValueError(f"unknown feature {feature!r}; features are {fg.names}")
    cols = fg.columns[fg.names.index(feature)]
    g = np.zeros(n, dtype=np.int64) if groups is None else as_group_ids(groups, n)
    check_features(flat)
    G = int(g.max() + 1)
    names = ["all"] if groups is None else group_name_list(group_names, G)
    if max_rows is not None and n > max_rows:
        keep = np.sort(np.random.RandomState(seed).choice(n, max_rows, replace=False))
        flat, g = flat[keep], g[keep]
    ctx = model_context(model, ctx)
    f = output_function(model, output, from_logits, target)
    categorical = cols.size > 1
    if categorical:
        col_names = ([feature_names[c] for c in cols] if feature_names is not None
                     else [str(c) for c in cols])
        labels = [c[len(feature) + 1:] if c.startswith(feature + "_") else c for c in col_names]
        settings = [np.eye(cols.size, dtype=np.float32)[k] for k in range(cols.size)]
    else:
        values = (np.asarray(grid, dtype=np.float64) if grid is not None
                  else np.unique(np.quantile(flat[:, cols[0]], np.linspace(0, 1, grid_size))))
        labels = [float(v) for v in values]
        settings = [np.array([v], dtype=np.float32) for v in values]
    counts = np.bincount(g, minlength=G)
    curves = np.zeros((G, len(settings)))
    for i, setting in enumerate(settings):
        data = flat.copy()
        data[:, cols] = setting
        out = predict(f, data.reshape((-1,) + Xh.shape[1:]), ctx)
        with np.errstate(invalid="ignore", divide="ignore"):
            curves[:, i] = np.bincount(g, out, G) / counts
    return PartialDependence(feature, labels, curves, names, output, categorical)
