"""Why does the model treat groups differently? Gap attribution through the net's gradients.

:func:`gap_attribution` splits the gap in mean model output between two groups into per-feature
contributions with integrated gradients (Sundararajan et al., 2017) averaged over a set of
baselines drawn from the data (expected gradients, Erion et al., 2021), computed with autograd
on the net's context. With a common set of baselines x'_k, each row's attributions add up to
f(x) − mean_k f(x'_k) (completeness), so the difference of the groups' mean attributions adds
up to mean_a f − mean_b f: the baseline terms cancel. With the data as baselines, the
per-feature differences approximate the difference of mean (interventional) SHAP values of the
two groups, SHAP's ``group_difference``, and equal it for an additive model.

The explained output is the predicted probability by default, so contributions are in the units
of a selection rate ("relationship accounts for 0.07 of the 0.18 gap in mean predicted
probability"); ``output="logit"`` explains the logit instead (its gap is not a rate, but the net
is closer to linear there, so fewer steps reach the same completeness).

:func:`permutation_gap_attribution` is the model-agnostic alternative for exported
``SymbolBlock`` s, thresholded decisions and other pipelines without useful gradients: permute a
feature (a whole one-hot block) across rows and measure how much of the gap goes away. Its
contributions do not add up to the gap.
"""
import dataclasses
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import mxnet as mx
import numpy as np
from mxnet import autograd

from .._model import batches, draw_baselines, group_pair, predict, setup
from .._ops import is_ndarray, to_numpy
from .._validation import check_choice, check_number, check_positive_int
from .features import FeatureGroups, as_feature_groups

__all__ = ["GapAttribution", "gap_attribution", "permutation_gap_attribution",
           "OcclusionMaps", "occlusion_maps", "UnreliableGradientsError", "INCOMPLETE",
           "BAD_GRADIENTS"]

#: Completeness is checked against ``rtol * |gap| + atol``; a larger residual warns.
COMPLETENESS_RTOL, COMPLETENESS_ATOL = 0.01, 1e-4
INCOMPLETE = (
    "gap attribution: the contributions add up to {total:.5f} but the gap in mean {output} is "
    "{gap:.5f} (residual {err:.2e} > {tol:.1e}); raise steps= (now {steps}) for a finer path "
    "integral"
)
BAD_GRADIENTS = (
    "gap attribution refused: the net's input gradients disagree with its outputs (per row, the "
    "path integral of the gradient misses f(x) − f(baseline) by {rel:.0%} of its size, also "
    "with {steps} steps). MXNet 1.9.1 computes wrong input gradients in inference mode through "
    "oneDNN max pooling on CPU (apache/mxnet#10994) and through BatchNorm on GPU "
    "(apache/mxnet#18209). Use permutation_gap_attribution or occlusion_maps (forward passes "
    "only), or start Python with MXNET_MKLDNN_ENABLED=0 (CPU)"
)
#: Relative per-row completeness error above which the gradients are checked again.
GRADIENT_CHECK_RTOL = 0.1
_ELEMENTS_PER_BATCH = 1 << 21  # input elements per forward/backward pass (bounded memory)


class UnreliableGradientsError(RuntimeError):
    """The net's input gradients are inconsistent with its outputs; a gradient attribution
    would be wrong (see :data:`BAD_GRADIENTS`)."""


@dataclasses.dataclass
class GapAttribution:
    """Per-feature contributions to the gap in mean model output between two groups.

    Attributes
    ----------
    names : list of str
        Feature names (F), one-hot blocks as one feature.
    contributions : ndarray, shape (F,)
        ``mean_a φ_j − mean_b φ_j``; they add up to ``gap`` up to ``completeness_error``.
    by_group : ndarray, shape (G, F)
        Mean attribution of each feature in each group (relative to the baselines' mean output).
    mean_output : ndarray, shape (G,)
        Mean output per group (NaN for a group without rows).
    counts : ndarray, shape (G,)
    baseline_output : float
        Mean output at the baselines.
    between : tuple of int
        The compared groups (a, b): ``gap = mean_output[a] − mean_output[b]``.
    gap : float
    completeness_error : float
        ``sum(contributions) − gap`` (quadrature error of the path integrals).
    group_names : list of str
    output, method : str
    steps, num_baselines : int
    maps : ndarray, shape (G, H, W), optional
        Images: mean attribution per pixel (summed over channels) in each group.
    """

    names: List[str]
    contributions: np.ndarray
    by_group: np.ndarray
    mean_output: np.ndarray
    counts: np.ndarray
    baseline_output: float
    between: Tuple[int, int]
    gap: float
    completeness_error: float
    group_names: List[str]
    output: str
    method: str
    steps: int
    num_baselines: int
    maps: Optional[np.ndarray] = None

    @property
    def gap_map(self) -> Optional[np.ndarray]:
        """Images: ``maps[a] − maps[b]``, the per-pixel contributions to the gap (H, W)."""
        if self.maps is None:
            return None
        a, b = self.between
        return self.maps[a] - self.maps[b]

    def ranking(self) -> List[Tuple[str, float]]:
        """(feature, contribution) pairs by decreasing |contribution|."""
        order = np.argsort(-np.abs(self.contributions), kind="stable")
        return [(self.names[j], float(self.contributions[j])) for j in order]

    def to_pandas(self):
        """One row per feature (by decreasing |contribution|): the contribution, its share of
        the gap and each group's mean attribution."""
        import pandas as pd

        order = np.argsort(-np.abs(self.contributions), kind="stable")
        frame = pd.DataFrame({
            "feature": [self.names[j] for j in order],
            "contribution": self.contributions[order],
            "share_of_gap": self.contributions[order] / self.gap if self.gap else np.nan,
        })
        for g, name in enumerate(self.group_names):
            frame[f"mean[{name}]"] = self.by_group[g, order]
        return frame

    def describe(self) -> str:
        a, b = self.between
        return (
            f"gap in mean {self.output}: {self.group_names[a]} {self.mean_output[a]:.4f} − "
            f"{self.group_names[b]} {self.mean_output[b]:.4f} = {self.gap:+.4f}; "
            f"contributions add up to {self.contributions.sum():+.4f} "
            f"(residual {self.completeness_error:+.1e}; {self.method}, {self.steps} steps, "
            f"{self.num_baselines} baseline(s))"
        )


def _quadrature(steps: int) -> Tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (exact for polynomials of degree 2S − 1)."""
    t, w = np.polynomial.legendre.leggauss(steps)
    return (t + 1.0) / 2.0, w / 2.0


# ------------------------------------------------------------------------ the path integral
def _group_attribution_sums(f: Callable, X: Any, groups: np.ndarray, G: int,
                            base: np.ndarray, steps: int, ctx: mx.Context,
                            batch_size: Optional[int], row_target: Optional[np.ndarray]):
    """Per-group sums (G, D) of the rows' integrated gradients averaged over the baselines,
    and each row's total attribution (N,) (for the gradient check).

    Layout (steps, baselines, rows, D): every reduction is an ``add_n`` of contiguous slices
    and the quadrature weights enter as the head gradient of ``backward`` (MXNet's broadcast
    reductions over middle axes are several times slower).
    """
    shape = tuple(X.shape[1:])
    D = int(np.prod(shape))
    K = base.shape[0]
    nodes, weights = _quadrature(steps)
    points = batch_size or max(1, _ELEMENTS_PER_BATCH // max(D, 1))
    rows_per_pass = max(1, points // (K * steps))
    bl = mx.nd.array(base.reshape(K, 1, D), ctx=ctx)  # (K, 1, D)
    sums = mx.nd.zeros((G, D), ctx=ctx, dtype="float64")
    totals = []
    for sl in batches(X.shape[0], rows_per_pass):
        x = (X[sl].as_in_context(ctx) if is_ndarray(X) else mx.nd.array(X[sl], ctx=ctx))
        m = x.shape[0]
        x = x.reshape((1, m, D)).astype("float32", copy=False)
        diff = mx.nd.broadcast_sub(x, bl)  # (K, m, D)
        start = mx.nd.broadcast_to(bl, shape=(K, m, D))
        path = mx.nd.concat(*[start + float(a) * diff for a in nodes], dim=0)  # (S*K, m, D)
        path = path.reshape((steps * K * m,) + shape)
        path.attach_grad()
        head = mx.nd.array(np.repeat(weights, K * m), ctx=ctx)  # the quadrature weights
        target = None
        if row_target is not None:
            target = mx.nd.array(np.tile(row_target[sl], steps * K), ctx=ctx)
        with autograd.record(train_mode=False):  # dropout off, BatchNorm uses running stats
            out = f(path, target)
        # autograd.grad: the input gradient only; the net's own .grad buffers stay untouched
        grad = autograd.grad(out, [path], head_grads=head, train_mode=False)[0]
        grad = grad.reshape((steps, K * m * D))
        mean_grad = mx.nd.add_n(*[grad[s] for s in range(steps)]) if steps > 1 else grad[0]
        prod = (mean_grad.reshape((K, m * D)) * diff.reshape((K, m * D)))
        attr = (mx.nd.add_n(*[prod[k] for k in range(K)]) if K > 1 else prod[0]) / K
        onehot = mx.nd.one_hot(mx.nd.array(groups[sl], ctx=ctx), G)  # (m, G)
        attr = attr.reshape((m, D))
        sums += mx.nd.dot(onehot, attr, transpose_a=True).astype("float64")
        totals.append(attr.sum(axis=1))
    return sums.asnumpy(), mx.nd.concat(*totals, dim=0).asnumpy().astype(np.float64)


def gap_attribution(
    net: Callable,
    X: Any,
    groups: Any,
    *,
    num_groups: Optional[int] = None,
    group_names: Optional[Sequence[str]] = None,
    feature_groups: Any = None,
    feature_names: Optional[Sequence[str]] = None,
    between: Optional[Sequence[int]] = None,
    baselines: Union[int, str, np.ndarray] = 32,
    steps: int = 4,
    output: str = "probability",
    from_logits: bool = True,
    target: Any = None,
    batch_size: Optional[int] = None,
    seed: Optional[int] = 0,
    ctx: Optional[mx.Context] = None,
) -> GapAttribution:
    """Per-feature contributions to the gap in mean output between two groups (gradients).

    Parameters
    ----------
    net : Block or callable
        Any differentiable Gluon net (tabular (N, D) or image (N, C, H, W) input) emitting
        (N,)/(N, 1) binary scores or (N, K) class scores.
    X : array or NDArray, shape (N, ...)
        Inputs (as the net takes them: encoded, normalised).
    groups : array, shape (N,)
        Group ids in ``[0, G)``.
    num_groups : int, optional
        G (default: max id + 1).
    group_names : list of str, optional
    feature_groups : TabularData, ColumnTransformer, mapping or FeatureGroups, optional
        Columns reported as one feature (one-hot blocks); default one feature per column, or
        per channel for images.
    feature_names : list of str, optional
        Names of the input columns (``TabularData.feature_names``).
    between : (int, int), optional
        The groups (a, b) compared; default: the groups with the highest and the lowest mean
        output, so the gap is >= 0.
    baselines : int, "mean", "zeros" or array (K, ...), default 32
        Reference inputs of the path integrals: an int draws that many rows of X (seeded;
        expected gradients); ``"mean"`` is the mean row (a good choice for images).
    steps : int, default 4
        Gauss-Legendre nodes per path (exact for a path integrand that is a polynomial of
        degree 2 steps − 1; completeness is checked, and a warning asks for more when the
        residual is above tolerance).
    output : {"probability", "logit"}, default "probability"
    from_logits : bool, default True
        The net emits logits (the package convention); False: probabilities.
    target : int or array (N,), optional
        Multi-class nets: the explained class, or one per row (e.g. the labels).
    batch_size : int, optional
        Path points per forward/backward pass (default: about 2M input elements).
    seed : int, optional
        Seeds the baselines drawn from X.
    ctx : Context, optional
        Where to run; default the net's context.

    Returns
    -------
    GapAttribution

    Notes
    -----
    Completeness is checked: when ``|sum(contributions) − gap|`` exceeds
    ``0.01 |gap| + 1e-4`` a warning says to raise ``steps``.

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> net = mx.gluon.nn.Dense(1, in_units=3)
    >>> net.initialize(mx.init.Constant(0.5))
    >>> X = np.random.RandomState(0).randn(200, 3).astype("float32")
    >>> g = (X[:, 0] > 0).astype(int)  # feature 0 separates the groups
    >>> att = gap_attribution(net, X, g, feature_names=["a", "b", "c"], output="logit")
    >>> att.ranking()[0][0], abs(att.completeness_error) < 1e-4
    ('a', True)
    """
    check_choice("output", output, ("probability", "logit"))
    steps = check_positive_int("steps", steps)
    n = X.shape[0]
    if n == 0:
        raise ValueError("X has no rows")
    s = setup(net, X, groups, num_groups, group_names, output, from_logits, target, ctx)
    g, G, names, ctx, f, row_target = s.g, s.G, s.names, s.ctx, s.f, s.row_target
    image = X.ndim == 4
    if feature_groups is None and image:
        fg = FeatureGroups({f"channel {c}": np.arange(c * X.shape[2] * X.shape[3],
                                                       (c + 1) * X.shape[2] * X.shape[3])
                            for c in range(X.shape[1])}, int(np.prod(X.shape[1:])))
    else:
        fg = as_feature_groups(feature_groups, int(np.prod(X.shape[1:])),
                               feature_names=feature_names)
    base = draw_baselines(X, baselines, seed)

    out = predict(f, X, ctx, row_target=row_target)  # exact outputs, (N,)
    counts = np.bincount(g, minlength=G).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_out = np.bincount(g, weights=out, minlength=G) / counts
    # Each row's reference: the baselines' mean output (at the row's class when the explained
    # class varies by row, so that the groups' reference terms can differ).
    row_ref = _row_references(f, base, ctx, row_target, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_out = np.bincount(g, weights=row_ref, minlength=G) / counts
    a, b = group_pair(mean_out, counts, between)

    sums, totals = _group_attribution_sums(f, X, g, G, base, steps, ctx, batch_size, row_target)
    _check_gradients(f, X, g, G, base, steps, ctx, batch_size, row_target, totals,
                     out - row_ref)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_column = sums / counts[:, None]  # (G, D)
    by_group = fg.sum_columns(per_column)
    contributions = by_group[a] - by_group[b]
    gap = float(mean_out[a] - mean_out[b])
    target_gap = gap - float(base_out[a] - base_out[b])  # the reference terms cancel, or not
    err = float(contributions.sum() - target_gap)
    tol = COMPLETENESS_RTOL * abs(target_gap) + COMPLETENESS_ATOL
    if abs(err) > tol:
        warnings.warn(INCOMPLETE.format(total=contributions.sum(), output=output,
                                        gap=target_gap, err=abs(err), tol=tol, steps=steps),
                      UserWarning, stacklevel=2)
    maps = None
    if image:
        maps = per_column.reshape((G,) + tuple(X.shape[1:])).sum(axis=1)  # (G, H, W)
    baseline_output = float(row_ref[0]) if row_target is None else float("nan")
    return GapAttribution(
        names=list(fg.names), contributions=contributions, by_group=by_group,
        mean_output=mean_out, counts=counts, baseline_output=baseline_output, between=(a, b),
        gap=gap, completeness_error=err, group_names=names, output=output,
        method="expected gradients" if base.shape[0] > 1 else "integrated gradients",
        steps=steps, num_baselines=int(base.shape[0]), maps=maps,
    )


def _row_references(f, base, ctx, row_target, n: int) -> np.ndarray:
    """Each row's reference output mean_k f(x'_k) (N,), at the row's class if it has one."""
    if row_target is None:
        return np.full(n, predict(f, base, ctx).mean())
    K = base.shape[0]
    classes, inverse = np.unique(row_target, return_inverse=True)
    at_class = np.array([
        predict(f, base, ctx, row_target=np.full(K, c, dtype=np.float32)).mean()
        for c in classes
    ])
    return at_class[inverse]


def _relative_error(totals: np.ndarray, expected: np.ndarray) -> float:
    """RMS of the per-row completeness errors relative to the RMS of f(x) − f(baseline)."""
    scale = max(float(np.sqrt(np.mean(expected ** 2))), 1e-6)
    return float(np.sqrt(np.mean((totals - expected) ** 2))) / scale


def _check_gradients(f, X, g, G, base, steps, ctx, batch_size, row_target, totals, expected):
    """Refuse when the rows' path integrals miss f(x) − f(baseline) for a reason other than
    too few steps: the error on the worst rows must shrink when the steps are quadrupled."""
    if _relative_error(totals, expected) <= GRADIENT_CHECK_RTOL:
        return
    rows = np.argsort(-np.abs(totals - expected), kind="stable")[:16]
    sub_target = None if row_target is None else row_target[rows]
    before = _relative_error(totals[rows], expected[rows])
    _, again = _group_attribution_sums(f, X[rows], np.zeros(rows.size, dtype=np.int64), 1,
                                       base, 4 * steps, ctx, batch_size, sub_target)
    after = _relative_error(again, expected[rows])
    if after > GRADIENT_CHECK_RTOL and after > 0.5 * before:
        raise UnreliableGradientsError(BAD_GRADIENTS.format(rel=after, steps=4 * steps))


# ------------------------------------------------------------------------ model-agnostic
def permutation_gap_attribution(
    model: Callable,
    X: Any,
    groups: Any,
    *,
    num_groups: Optional[int] = None,
    group_names: Optional[Sequence[str]] = None,
    feature_groups: Any = None,
    feature_names: Optional[Sequence[str]] = None,
    between: Optional[Sequence[int]] = None,
    output: str = "probability",
    threshold: Optional[float] = None,
    from_logits: bool = True,
    target: Any = None,
    repeats: int = 3,
    seed: Optional[int] = 0,
    ctx: Optional[mx.Context] = None,
    batch_size: int = 8192,
):
    """How much of the gap goes away when a feature is permuted (no gradients needed).

    For each feature (a one-hot block is permuted as a whole), its values are shuffled across
    all rows, which removes what the feature tells about the group, and the gap in mean output
    (or, with ``threshold``, in the rate of positive decisions) is measured again. The drop,
    ``gap − mean over repeats of the permuted gap``, is the feature's share. These shares do
    not add up to the gap (features interact and correlate); use :func:`gap_attribution` when
    the net is differentiable.

    Parameters
    ----------
    model : Block, SymbolBlock or callable
        Anything that maps an NDArray batch to scores (see :func:`gap_attribution`).
    X, groups, num_groups, group_names, feature_groups, feature_names, between, output,
    from_logits, target, ctx
        As in :func:`gap_attribution`.
    threshold : float, optional
        Explain the gap in positive decisions ``output >= threshold`` (the demographic-parity
        difference of the thresholded model) instead of the mean output.
    repeats : int, default 3
        Permutations per feature (their mean is used; ``std`` is reported).
    seed : int, optional
    batch_size : int, default 8192

    Returns
    -------
    pandas.DataFrame
        One row per feature by decreasing drop: ``feature``, ``drop``, ``std``,
        ``permuted_gap``; ``frame.attrs`` holds the ``gap`` and the compared groups.

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> net = mx.gluon.nn.Dense(1, in_units=3)
    >>> net.initialize(mx.init.Constant(0.5))
    >>> X = np.random.RandomState(0).randn(300, 3).astype("float32")
    >>> g = (X[:, 0] > 0).astype(int)
    >>> permutation_gap_attribution(net, X, g, repeats=2)["feature"].iloc[0]
    'x0'
    """
    import pandas as pd

    repeats = check_positive_int("repeats", repeats)
    n = X.shape[0]
    if threshold is not None:
        threshold = check_number("threshold", threshold, low=0.0, high=1.0)
    s = setup(model, X, groups, num_groups, group_names, output, from_logits, target, ctx)
    g, G, names, ctx, f, row_target = s.g, s.G, s.names, s.ctx, s.f, s.row_target
    Xh = np.asarray(to_numpy(X), dtype=np.float32)
    flat = Xh.reshape(n, -1)
    fg = as_feature_groups(feature_groups, flat.shape[1], feature_names=feature_names)
    counts = np.bincount(g, minlength=G).astype(np.float64)

    def group_means(values):
        if threshold is not None:
            values = (values >= threshold).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(g, weights=values, minlength=G) / counts

    means = group_means(predict(f, Xh, ctx, batch_size, row_target))
    a, b = group_pair(means, counts, between)
    gap = float(means[a] - means[b])
    rng = np.random.RandomState(seed)
    rows = []
    for name, cols in zip(fg.names, fg.columns):
        gaps = []
        for _ in range(repeats):
            permuted = flat.copy()
            permuted[:, cols] = flat[rng.permutation(n)][:, cols]
            m = group_means(predict(f, permuted.reshape(Xh.shape), ctx, batch_size, row_target))
            gaps.append(m[a] - m[b])
        rows.append((name, gap - float(np.mean(gaps)), float(np.std(gaps)),
                     float(np.mean(gaps))))
    frame = pd.DataFrame(rows, columns=["feature", "drop", "std", "permuted_gap"])
    frame = frame.sort_values("drop", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs.update(gap=gap, between=(names[a], names[b]),
                       quantity="positive decisions" if threshold is not None
                       else f"mean {output}")
    return frame


@dataclasses.dataclass
class OcclusionMaps:
    """Per-group occlusion maps of an image model (forward passes only).

    Attributes
    ----------
    maps : ndarray, shape (G, H // patch, W // patch)
        ``maps[g, i, j]``: mean over group g's images of f(x) − f(x with patch (i, j) set to the
        baseline image's patch): how much the group's mean output rests on that region.
    counts, mean_output : ndarray, shape (G,)
    between : tuple of int
    gap : float
        ``mean_output[a] − mean_output[b]``.
    group_names : list of str
    output : str
    patch : int
    method : str
        ``"occlusion"``.
    """

    maps: np.ndarray
    counts: np.ndarray
    mean_output: np.ndarray
    between: Tuple[int, int]
    gap: float
    group_names: List[str]
    output: str
    patch: int
    method: str = "occlusion"

    @property
    def gap_map(self) -> np.ndarray:
        """``maps[a] − maps[b]``: the regions whose occlusion changes the gap (unlike gradient
        contributions, these do not add up to the gap)."""
        a, b = self.between
        return self.maps[a] - self.maps[b]

    def describe(self) -> str:
        a, b = self.between
        return (f"gap in mean {self.output}: {self.group_names[a]} {self.mean_output[a]:.4f} − "
                f"{self.group_names[b]} {self.mean_output[b]:.4f} = {self.gap:+.4f}; occlusion "
                f"of {self.patch}x{self.patch} patches by the baseline image")


def occlusion_maps(
    model: Callable,
    X: Any,
    groups: Any,
    *,
    patch: int = 4,
    baseline: Union[str, np.ndarray] = "mean",
    num_groups: Optional[int] = None,
    group_names: Optional[Sequence[str]] = None,
    between: Optional[Sequence[int]] = None,
    output: str = "probability",
    from_logits: bool = True,
    target: Any = None,
    ctx: Optional[mx.Context] = None,
    batch_size: int = 512,
) -> OcclusionMaps:
    """Per-group maps of how much an image model's output rests on each region (no gradients).

    Each ``patch`` x ``patch`` region of every image is replaced by the same region of the
    baseline image (the mean image by default) and the drop in output is averaged per group:
    a model-agnostic alternative to :func:`gap_attribution` for images (exported
    ``SymbolBlock`` s, pipelines without gradients, or nets whose gradients MXNet gets wrong).

    Parameters
    ----------
    model : Block, SymbolBlock or callable
    X : array, shape (N, C, H, W)
    groups : array, shape (N,)
    patch : int, default 4
        Side of the square regions (H and W need not be multiples; the last ones are smaller).
    baseline : "mean", "zeros" or array (C, H, W)
    num_groups, group_names, between, output, from_logits, target, ctx
        As in :func:`gap_attribution`.
    batch_size : int, default 512

    Returns
    -------
    OcclusionMaps

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> net = mx.gluon.nn.HybridSequential()
    >>> net.add(mx.gluon.nn.GlobalAvgPool2D(), mx.gluon.nn.Dense(1))
    >>> net.initialize(mx.init.Constant(1.0))
    >>> X = np.random.RandomState(0).rand(20, 3, 8, 8).astype("float32")
    >>> occ = occlusion_maps(net, X, np.arange(20) % 2, patch=4, output="logit")
    >>> occ.maps.shape
    (2, 2, 2)
    """
    patch = check_positive_int("patch", patch)
    if X.ndim != 4:
        raise ValueError(f"X: occlusion_maps needs images (N, C, H, W), got shape {X.shape}")
    Xh = np.asarray(to_numpy(X), dtype=np.float32)
    n, _, H, W = Xh.shape
    s = setup(model, X, groups, num_groups, group_names, output, from_logits, target, ctx)
    g, G, names, ctx, f, row_target = s.g, s.G, s.names, s.ctx, s.f, s.row_target
    base = draw_baselines(Xh, baseline, None)[0]  # (C, H, W)
    counts = np.bincount(g, minlength=G).astype(np.float64)

    def group_means(values):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(g, weights=values, minlength=G) / counts

    out = predict(f, Xh, ctx, batch_size, row_target)
    mean_out = group_means(out)
    a, b = group_pair(mean_out, counts, between)
    rows, cols = range(0, H, patch), range(0, W, patch)
    maps = np.zeros((G, len(rows), len(cols)))
    for i, top in enumerate(rows):
        for j, left in enumerate(cols):
            occluded = Xh.copy()
            occluded[:, :, top:top + patch, left:left + patch] = \
                base[:, top:top + patch, left:left + patch]
            maps[:, i, j] = group_means(out - predict(f, occluded, ctx, batch_size, row_target))
    return OcclusionMaps(maps, counts, mean_out, (a, b), float(mean_out[a] - mean_out[b]),
                         names, output, patch)
