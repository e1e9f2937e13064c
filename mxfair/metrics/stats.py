"""GroupStats: the one core of group statistics, accumulated on the device.

Every group-fairness metric of a classifier is a function of a few additive counts per group: the
confusion matrix of each group and, optionally, a histogram of scores per group and label.
``GroupStats`` sums them batch by batch on the context of the data, with no host synchronisation
until :meth:`GroupStats.report`. Because they are sums, statistics of batches, epochs and workers
combine exactly (:meth:`GroupStats.merge`, ``+``, :func:`mxfair.distributed.allreduce_stats`).

Rows whose label is outside ``[0, K)`` or whose group id is outside ``[0, G)`` are counted apart
and left out of every statistic (the report warns about them), at the cost of one ``clip`` per
id array and batch: the storage has one padding slot on each side of the label and group axes,
so a bad id can neither spill into another cell nor write out of bounds.
"""
import warnings
from typing import Any, Optional

import mxnet as mx
import numpy as np

from .._ops import as_ndarray, context_of
from .._validation import check_positive_int, check_same_length

__all__ = ["GroupStats"]

PREDS_SHAPE = (
    "preds must have shape (N,) or (N, {k}) for num_classes={k}, got shape {shape}"
)


INVALID_ROWS = (
    "{count:g} row(s) had a label outside [0, {k}) or a group id outside [0, {g}) and are left "
    "out of every statistic"
)

# The public statistics, in a fixed order (arrays(), allreduce, save).
_STATE = ("counts", "hist", "score_sums", "boot_counts", "boot_hist", "boot_score_sums")
_SAME_SEED = object()  # GroupStats.like: keep the seed (None is a seed of its own)


def _scatter_add(index: mx.nd.NDArray, size: int, weight: Optional[mx.nd.NDArray],
                 offset: int = 0):
    """Sum of ``weight`` (ones when None) per integer ``index + offset``, shape (size,), float64.

    ``index + offset`` holds integral float values in ``[0, size)``. The unweighted case uses
    the histogram kernel (about twice as fast, and the offset is free); the weighted one MXNet's
    scatter-with-accumulation.
    """
    if weight is None:
        counts, _ = mx.nd.histogram(index, bins=size, range=(-offset, size - offset))
        return counts.astype("float64")
    if offset:
        index = index + offset
    return mx.nd._internal._backward_gather_nd(
        weight.astype("float64"), index.reshape((1, -1)), shape=(size,)
    )


def _padding_sum(raw_counts: np.ndarray, k: int, g: int) -> float:
    """Weight in the padding slots of padded counts (K + 2, G + 2, K): the rows left out."""
    inside = np.zeros(raw_counts.shape, dtype=bool)
    inside[1:k + 1, 1:g + 1] = True
    return float(raw_counts[~inside].sum())


def _inner(raw: np.ndarray, label_axis: int, sizes) -> np.ndarray:
    """The valid block of a padded array: drop the padding slot on each side of the label
    axis ``label_axis`` and of the group axis after it, then put the group axis first (after
    any leading replicate axis). ``sizes`` = (number of labels, G)."""
    k, g = sizes
    index = [slice(None)] * raw.ndim
    index[label_axis], index[label_axis + 1] = slice(1, k + 1), slice(1, g + 1)
    inner = raw[tuple(index)]
    axes = list(range(inner.ndim))
    axes[label_axis], axes[label_axis + 1] = axes[label_axis + 1], axes[label_axis]
    return inner.transpose(axes)


class GroupStats:
    """Additive per-group statistics of a classifier: confusion counts and score histograms.

    Parameters
    ----------
    num_groups : int
        Number of groups G; group ids are integers in ``[0, G)``.
    num_classes : int, default 2
        Number of classes K.
    threshold : float, default 0.5
        Decision threshold on binary scores of shape (N,) (a positive is ``score >= threshold``).
    num_bins : int, default 0
        When > 0, also keep per-group, per-label histograms of binary scores over ``[0, 1]`` with
        this many bins (for AUC, calibration and :meth:`ThresholdOptimizer.fit_stats`).
    bootstrap : int, default 0
        Number R of bootstrap replicates accumulated in the same pass: every row gets an
        independent Poisson(1) weight per replicate (drawn on the host from ``seed``).
    seed : int, optional
        Seed of the bootstrap weights.
    from_logits : bool, default False
        Binary scores are logits (a sigmoid, or a softmax for (N, 2), is applied first).
    group_names : list of str, optional
        Names used in reports; ``"0"``, ``"1"``, ... by default.
    ctx : Context, optional
        Where the statistics live; by default the context of the first update's ``preds``.

    Attributes
    ----------
    counts : NDArray, shape (G, K, K), float64
        ``counts[g, t, p]`` is the (weighted) number of rows of group g with label t predicted p.
    hist : NDArray, shape (G, 2, B), float64, or None
        ``hist[g, y, b]``: rows of group g and label y whose score falls in bin b.
    score_sums : NDArray, shape (G, B), float64, or None
        Sum of the scores falling in each bin (for calibration error).
    boot_counts : NDArray, shape (R, G, K, K), or None
    boot_hist : NDArray, shape (R, G, 2, B), or None
    boot_score_sums : NDArray, shape (R, G, B), or None
        These attributes are read-only views computed from the padded storage (a few small
        operations per access, no synchronisation).
    num_invalid : float
        Rows (weight) left out for a label or group id out of range; synchronises.

    Examples
    --------
    >>> import mxnet as mx
    >>> stats = GroupStats(num_groups=2)
    >>> stats.update(mx.nd.array([1, 0, 1, 0]), mx.nd.array([0.9, 0.2, 0.4, 0.7]),
    ...              mx.nd.array([0, 0, 1, 1]))
    >>> stats.counts.asnumpy()[1]
    array([[0., 1.],
           [1., 0.]])
    >>> round(stats.report().difference("selection_rate"), 3)
    0.0
    """

    def __init__(
        self,
        num_groups: int,
        num_classes: int = 2,
        threshold: float = 0.5,
        num_bins: int = 0,
        bootstrap: int = 0,
        seed: Optional[int] = None,
        from_logits: bool = False,
        group_names: Optional[list] = None,
        ctx: Optional[mx.Context] = None,
    ):
        self.num_groups = check_positive_int("num_groups", num_groups)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if not 0.0 <= float(threshold) <= 1.0:  # compared with probabilities, also for logits
            raise ValueError(f"threshold must be in [0, 1] (a probability), got {threshold}")
        if isinstance(num_bins, bool) or int(num_bins) != num_bins or num_bins < 0:
            raise ValueError(f"num_bins must be a non-negative integer, got {num_bins!r}")
        if isinstance(bootstrap, bool) or int(bootstrap) != bootstrap or bootstrap < 0:
            raise ValueError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
        if num_bins and self.num_classes != 2:
            raise ValueError("score histograms (num_bins > 0) need num_classes=2")
        if group_names is not None and len(group_names) != self.num_groups:
            raise ValueError(
                f"got {len(group_names)} group_names for num_groups={self.num_groups}"
            )
        self.threshold = float(threshold)
        self.num_bins = int(num_bins)
        self.bootstrap = int(bootstrap)
        self.seed = seed
        self.from_logits = bool(from_logits)
        self.group_names = (
            list(group_names) if group_names is not None else [str(g) for g in range(num_groups)]
        )
        self._ctx_given = ctx
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all statistics; the bootstrap stream starts over, and the context is again
        the one given at construction (or that of the next update)."""
        self.ctx = self._ctx_given
        self._raw = None  # padded storage, see _allocate
        self._rng = np.random.RandomState(self.seed)
        if self.ctx is not None:
            self._allocate(self.ctx)

    def _allocate(self, ctx: mx.Context) -> None:
        """Padded storage: label axis K + 2 (the histograms: 4) and group axis G + 2 slots, label
        first; slot 0 and the last slot of each take the rows whose id is out of range."""
        G2, K2, B, R = self.num_groups + 2, self.num_classes + 2, self.num_bins, self.bootstrap
        K = self.num_classes
        zeros = lambda *shape: mx.nd.zeros(shape, ctx=ctx, dtype="float64")  # noqa: E731
        self.ctx = ctx
        raw = {"counts": zeros(K2, G2, K)}
        if B:
            raw["hist"] = zeros(4, G2, B)
            raw["score_sums"] = zeros(4, G2, B)
        if R:
            raw["boot_counts"] = zeros(R, K2, G2, K)
            if B:
                raw["boot_hist"] = zeros(R, 4, G2, B)
                raw["boot_score_sums"] = zeros(R, 4, G2, B)
        self._raw = raw

    def _view(self, name: str) -> Optional[mx.nd.NDArray]:
        """The public (valid, group-first) block of a padded array, as a new NDArray."""
        if self._raw is None or name not in self._raw:
            return None
        raw, G = self._raw[name], self.num_groups
        lead = 1 if name.startswith("boot_") else 0
        k = self.num_classes if name.endswith("counts") else 2
        begin = [None] * raw.ndim
        end = [None] * raw.ndim
        begin[lead], end[lead], begin[lead + 1], end[lead + 1] = 1, k + 1, 1, G + 1
        inner = mx.nd.slice(raw, begin=tuple(begin), end=tuple(end))
        if name.endswith("score_sums"):
            return inner.sum(axis=lead)  # (..., G, B): the sum over both labels
        axes = list(range(raw.ndim))
        axes[lead], axes[lead + 1] = lead + 1, lead
        return inner.transpose(axes)

    counts = property(lambda self: self._view("counts"))
    hist = property(lambda self: self._view("hist"))
    score_sums = property(lambda self: self._view("score_sums"))
    boot_counts = property(lambda self: self._view("boot_counts"))
    boot_hist = property(lambda self: self._view("boot_hist"))
    boot_score_sums = property(lambda self: self._view("boot_score_sums"))

    @property
    def num_rows(self) -> float:
        """Total (weighted) number of valid rows seen; synchronises with the device."""
        return 0.0 if self._raw is None else float(self.counts.sum().asscalar())

    @property
    def num_invalid(self) -> float:
        """Rows (weight) left out for an id out of range; synchronises with the device."""
        if self._raw is None:
            return 0.0
        return _padding_sum(self._raw["counts"].asnumpy(), self.num_classes, self.num_groups)

    # ----------------------------------------------------------------- update
    def update(self, labels: Any, preds: Any, groups: Any, sample_weight: Any = None) -> None:
        """Add one batch.

        Parameters
        ----------
        labels : array, shape (N,)
            True classes in ``[0, K)``.
        preds : array, shape (N,) or (N, K)
            Binary: probabilities (or logits with ``from_logits``) or hard 0/1 labels, shape (N,),
            or class scores (N, 2). Multi-class: hard labels (N,) or class scores (N, K).
        groups : array, shape (N,)
            Group ids in ``[0, G)``. A row with a label or group id out of range is left out
            (and counted in ``num_invalid``; the report warns), without synchronising.
        sample_weight : array, shape (N,), optional
        """
        ctx = self.ctx or context_of(preds, labels, groups)
        if self._raw is None:
            self._allocate(ctx)
        n = check_same_length(labels=labels, preds=preds, groups=groups,
                              sample_weight=sample_weight)
        if n == 0:
            return
        K, G, B = self.num_classes, self.num_groups, self.num_bins
        preds = as_ndarray(preds, ctx=ctx, dtype="float32" if not _is_nd(preds) else None)
        labels = as_ndarray(labels, ctx=ctx).reshape((-1,)).astype("float32", copy=False)
        groups = as_ndarray(groups, ctx=ctx).reshape((-1,)).astype("float32", copy=False)
        weight = None
        if sample_weight is not None:
            weight = as_ndarray(sample_weight, ctx=ctx).reshape((-1,)).astype("float64")

        score, decided = self._decide(preds)  # score (N,) for binary, decided (N,) in [0, K)
        # Ids out of range go to the padding slots -1 and K (labels), -1 and G (groups).
        labels = mx.nd.clip(labels, -1, K)
        groups = mx.nd.clip(groups, -1, G)
        if K != 2 and preds.ndim == 1:  # hard multi-class predictions: a bad class spoils the row
            clipped = mx.nd.clip(decided, 0, K - 1)
            groups = mx.nd.where(clipped == decided, groups, -mx.nd.ones_like(groups))
            decided = clipped
        raw, G2 = self._raw, G + 2
        # Padded cell (label + 1, group + 1, decided), as label * G2*K + group * K + decided
        # plus a constant offset; one fused sum (the update is memory-bound).
        cell = mx.nd.add_n(labels * (G2 * K), groups * K, decided)  # shape (N,)
        offset = G2 * K + K
        raw["counts"] += _scatter_add(cell, raw["counts"].size, weight, offset).reshape(
            raw["counts"].shape)
        hist_cell = None
        if B:
            bins = mx.nd.clip(mx.nd.floor(score * B), 0, B - 1)  # shape (N,)
            hist_cell = mx.nd.add_n(labels * (G2 * B), groups * B, bins)
            hist_offset = G2 * B + B
            size, shape = raw["hist"].size, raw["hist"].shape
            raw["hist"] += _scatter_add(hist_cell, size, weight, hist_offset).reshape(shape)
            score_w = score.astype("float64")
            if weight is not None:
                score_w = score_w * weight
            raw["score_sums"] += _scatter_add(hist_cell, size, score_w, hist_offset).reshape(
                shape)
        if self.bootstrap:
            self._update_bootstrap(cell + offset, weight, n,
                                   None if hist_cell is None else hist_cell + hist_offset, score)

    def _decide(self, preds: mx.nd.NDArray):
        """Binary score (N,) (or None) and the decided class (N,) as float32."""
        K = self.num_classes
        if preds.ndim == 2 and preds.shape[1] == K:
            if K != 2:
                return None, mx.nd.argmax(preds, axis=1).astype("float32", copy=False)
            probs = mx.nd.softmax(preds, axis=1) if self.from_logits else preds
            score = mx.nd.slice_axis(probs, axis=1, begin=1, end=2).reshape((-1,))
            score = score.astype("float32", copy=False)
            return score, score >= self.threshold
        if preds.ndim == 2 and preds.shape[1] == 1:
            preds = preds.reshape((-1,))
        if preds.ndim != 1:
            raise ValueError(PREDS_SHAPE.format(k=K, shape=preds.shape))
        if K != 2:
            return None, preds.astype("float32", copy=False)
        score = mx.nd.sigmoid(preds) if self.from_logits else preds
        score = score.astype("float32", copy=False)
        return score, score >= self.threshold

    def _update_bootstrap(self, cell, weight, n: int, hist_cell=None, score=None) -> None:
        """Replicate r of a row adds its Poisson weight at ``r * size + cell`` (cells already
        shifted to ``[0, size)``)."""
        R, raw, ctx = self.bootstrap, self._raw, self.ctx
        # Poisson(1) weights drawn on the host from the seeded stream: reproducible, and a
        # host-to-device copy does not synchronise.
        w = mx.nd.array(self._rng.poisson(1.0, size=(R, n)), ctx=ctx, dtype="float64")
        if weight is not None:
            w = mx.nd.broadcast_mul(w, weight.reshape((1, -1)))
        offsets = mx.nd.arange(R, ctx=ctx, dtype="float32").reshape((R, 1))
        size = raw["boot_counts"][0].size
        index = mx.nd.broadcast_add(offsets * size, cell.reshape((1, -1))).reshape((-1,))
        raw["boot_counts"] += _scatter_add(index, R * size, w.reshape((-1,))).reshape(
            raw["boot_counts"].shape)
        if hist_cell is not None:
            size, shape = raw["boot_hist"][0].size, raw["boot_hist"].shape
            index = mx.nd.broadcast_add(offsets * size, hist_cell.reshape((1, -1)))
            index = index.reshape((-1,))
            raw["boot_hist"] += _scatter_add(index, R * size, w.reshape((-1,))).reshape(shape)
            score_w = mx.nd.broadcast_mul(w, score.astype("float64").reshape((1, -1)))
            raw["boot_score_sums"] += _scatter_add(
                index, R * size, score_w.reshape((-1,))).reshape(shape)

    # ------------------------------------------------------------------ merge
    def _check_compatible(self, other: "GroupStats") -> None:
        if not isinstance(other, GroupStats):
            raise TypeError(f"can only merge GroupStats, got {type(other).__name__}")
        names = ("num_groups", "num_classes", "num_bins", "bootstrap", "threshold", "from_logits")
        mine = tuple(getattr(self, k) for k in names)
        theirs = tuple(getattr(other, k) for k in names)
        if mine != theirs:  # threshold and from_logits decide what a prediction is
            raise ValueError(
                f"cannot merge GroupStats with ({', '.join(names)}) {theirs} into {mine}"
            )

    def merge(self, other: "GroupStats") -> "GroupStats":
        """Add ``other``'s statistics to this one in place; returns self."""
        self._check_compatible(other)
        if other._raw is None:
            return self
        if self._raw is None:
            self._allocate(self.ctx or other.ctx)
        for mine, theirs in zip(self.storage(), other.storage()):
            mine += theirs.as_in_context(mine.context)
        return self

    def like(self, ctx: Optional[mx.Context] = None, seed: Any = _SAME_SEED) -> "GroupStats":
        """An empty GroupStats with the same settings (groups, classes, threshold, bins,
        bootstrap, seed, from_logits, group names).

        Parameters
        ----------
        ctx : Context, optional
            Where the new statistics live; this one's context by default (``None`` until the
            first update when none was given).
        seed : int or None, optional
            Seed of the new bootstrap stream; this one's ``seed`` by default.

        Returns
        -------
        GroupStats

        Examples
        --------
        >>> empty = GroupStats(num_groups=3, threshold=0.3).like(seed=7)
        >>> empty.num_groups, empty.threshold, empty.seed, empty.num_rows
        (3, 0.3, 7, 0.0)
        """
        return GroupStats(
            self.num_groups, num_classes=self.num_classes, threshold=self.threshold,
            num_bins=self.num_bins, bootstrap=self.bootstrap,
            seed=self.seed if seed is _SAME_SEED else seed, from_logits=self.from_logits,
            group_names=self.group_names, ctx=self.ctx if ctx is None else ctx,
        )

    def copy(self) -> "GroupStats":
        """An independent copy (same configuration, copied arrays, same bootstrap stream)."""
        new = self.like()
        if self._raw is not None:
            new.merge(self)
        new._rng.set_state(self._rng.get_state())
        return new

    def __add__(self, other: "GroupStats") -> "GroupStats":
        return self.copy().merge(other)

    def arrays(self) -> dict:
        """The public statistics (``counts``, ``hist``, ...) as a dict of new NDArrays."""
        return {k: getattr(self, k) for k in _STATE if getattr(self, k) is not None}

    def storage(self) -> list:
        """The padded storage arrays in a fixed order: add to them in place to merge or
        allreduce (they are sums; allocated on first use)."""
        if self._raw is None:
            self._allocate(self.ctx or mx.current_context())
        return [self._raw[k] for k in _STATE if k in self._raw]

    # ----------------------------------------------------------------- report
    def report(self):
        """Derive every rate and gap: a :class:`FairnessReport` (one host synchronisation)."""
        from .report import FairnessReport

        if self._raw is None:
            self._allocate(self.ctx or mx.current_context())
        raw = {k: v.asnumpy() for k, v in self._raw.items()}
        G, K = self.num_groups, self.num_classes
        public = {}
        for name, array in raw.items():
            lead = 1 if name.startswith("boot_") else 0
            inner = _inner(array, lead, (K if name.endswith("counts") else 2, G))
            public[name] = inner.sum(axis=lead + 1) if name.endswith("score_sums") else inner
        invalid = _padding_sum(raw["counts"], self.num_classes, G)
        if invalid > 0:
            warnings.warn(INVALID_ROWS.format(count=invalid, k=K, g=G), UserWarning,
                          stacklevel=2)
        return FairnessReport(group_names=self.group_names, **public)

    def __repr__(self) -> str:
        return (
            f"GroupStats(num_groups={self.num_groups}, num_classes={self.num_classes}, "
            f"threshold={self.threshold}, num_bins={self.num_bins}, "
            f"bootstrap={self.bootstrap}, ctx={self.ctx})"
        )

    def allreduce(self, kvstore: Any) -> "GroupStats":
        """Sum over every worker of ``kvstore``: a new GroupStats with the global statistics.

        ``self`` is unchanged. See :func:`mxfair.distributed.allreduce_stats` (exact for counts;
        a copy for ``None`` or a local kvstore).
        """
        from ..distributed import allreduce_stats

        return allreduce_stats(self, kvstore)


def _is_nd(x: Any) -> bool:
    return isinstance(x, mx.nd.NDArray)

