"""Exact Shapley values of a gap in mean output, for a few features (the reference).

The gap game of features S is v(S) = mean_a E_k f(x_S, x'_{k, not S}) − mean_b E_k f(x_S,
x'_{k, not S}) over a background set x'_k (interventional Shapley values; SHAP's
``group_difference`` of mean SHAP values). Its Shapley values add up to the gap exactly. The
enumeration costs 2^F evaluations of every row against every background row, so it serves to
check :func:`~mxfair.explain.gap_attribution` on small models (F <= 12 by default).
"""
import math
from itertools import combinations
from typing import Any, Callable, Optional, Sequence

import mxnet as mx
import numpy as np

from .._model import draw_baselines, group_pair, predict, setup
from .._ops import to_numpy
from .attribution import GapAttribution
from .features import as_feature_groups

__all__ = ["shapley_gap"]


def shapley_gap(
    model: Callable,
    X: Any,
    groups: Any,
    *,
    background: Any = 16,
    num_groups: Optional[int] = None,
    group_names: Optional[Sequence[str]] = None,
    feature_groups: Any = None,
    feature_names: Optional[Sequence[str]] = None,
    between: Optional[Sequence[int]] = None,
    output: str = "probability",
    from_logits: bool = True,
    target: Optional[int] = None,
    seed: Optional[int] = 0,
    ctx: Optional[mx.Context] = None,
    max_features: int = 12,
) -> GapAttribution:
    """Exact (interventional) Shapley values of the gap in mean output between two groups.

    Parameters
    ----------
    model : Block or callable
    X : array, shape (N, D)
    groups : array, shape (N,)
    background : int or array (K, D), default 16
        Background rows; an int draws that many rows of X with ``seed``, exactly as
        :func:`gap_attribution` draws its baselines (same ``seed``, same rows).
    feature_groups, feature_names, between, output, from_logits, target, ctx
        As in :func:`gap_attribution`.
    max_features : int, default 12
        Refuse more features than this (2^F coalitions).

    Returns
    -------
    GapAttribution
        ``method="exact Shapley"``; ``completeness_error`` is rounding only.

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> net = mx.gluon.nn.Dense(1, in_units=3)
    >>> net.initialize(mx.init.Constant(0.5))
    >>> X = np.random.RandomState(0).randn(100, 3).astype("float32")
    >>> g = (X[:, 0] > 0).astype(int)
    >>> sv = shapley_gap(net, X, g, output="logit", background=8)
    >>> abs(sv.completeness_error) < 1e-5
    True
    """
    Xh = np.asarray(to_numpy(X), dtype=np.float32)
    n = Xh.shape[0]
    flat = Xh.reshape(n, -1)
    s = setup(model, X, groups, num_groups, group_names, output, from_logits, target, ctx)
    g, G, names, ctx, f = s.g, s.G, s.names, s.ctx, s.f
    fg = as_feature_groups(feature_groups, flat.shape[1], feature_names=feature_names)
    F = len(fg)
    if F > max_features:
        raise ValueError(
            f"exact Shapley values of {F} features need 2^{F} coalitions; pass feature_groups "
            f"with at most max_features={max_features} features (or raise max_features)"
        )
    base = draw_baselines(Xh, background, seed).reshape(-1, flat.shape[1])  # (K, D)
    K = base.shape[0]
    counts = np.bincount(g, minlength=G).astype(np.float64)

    def value(mask: int) -> np.ndarray:
        """Per-group mean over rows and background of f(x_S, x'_rest), shape (G,)."""
        take = np.zeros(flat.shape[1], dtype=bool)
        for j in range(F):
            if mask >> j & 1:
                take[fg.columns[j]] = True
        mixed = np.where(take[None, None], flat[:, None], base[None])  # (n, K, D)
        out = predict(f, mixed.reshape((n * K,) + Xh.shape[1:]), ctx).reshape(n, K).mean(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(g, weights=out, minlength=G) / counts

    v = {mask: value(mask) for mask in range(1 << F)}
    phi = np.zeros((G, F))
    for j in range(F):
        others = [k for k in range(F) if k != j]
        for size in range(F):
            w = math.factorial(size) * math.factorial(F - size - 1) / math.factorial(F)
            for subset in combinations(others, size):
                mask = sum(1 << k for k in subset)
                phi[:, j] += w * (v[mask | 1 << j] - v[mask])
    full, empty = v[(1 << F) - 1], v[0]
    a, b = group_pair(full, counts, between)
    contributions = phi[a] - phi[b]
    gap = float(full[a] - full[b])
    return GapAttribution(
        names=list(fg.names), contributions=contributions, by_group=phi, mean_output=full,
        counts=counts, baseline_output=float(np.nanmean(empty)), between=(a, b), gap=gap,
        completeness_error=float(contributions.sum() - gap), group_names=names,
        output=output, method="exact Shapley", steps=0, num_baselines=K,
    )
