"""GroupStats: the one core of group statistics, accumulated on the device.

Every group-fairness metric of a classifier is a function of a few additive counts per group: the
confusion matrix of each group and, optionally, a histogram of scores per group and label.
``GroupStats`` sums them batch by batch on the context of the data, with no host synchronisation
until :meth:`GroupStats.report`. Because they are sums, statistics of batches, epochs and workers
combine exactly (:meth:`GroupStats.merge`, ``+``, :func:`mxfair.distributed.allreduce_stats`).
"""
from typing import Any, Optional

import mxnet as mx
import numpy as np

from .._ops import as_ndarray, context_of
from .._validation import check_positive_int, check_same_length

__all__ = ["GroupStats"]

PREDS_SHAPE = (
    "preds must have shape (N,) or (N, {k}) for num_classes={k}, got shape {shape}"
)


# The additive state of a GroupStats, in a fixed order (merge, allreduce, save).
_STATE = ("counts", "hist", "score_sums", "boot_counts", "boot_hist", "boot_score_sums")


def _scatter_add(index: mx.nd.NDArray, size: int, weight: Optional[mx.nd.NDArray]):
    """Sum of ``weight`` (ones when None) per integer ``index``, shape (size,), float64.

    ``index`` holds integral float values in ``[0, size)``. The unweighted case uses the
    histogram kernel (about twice as fast); the weighted one MXNet's scatter-with-accumulation.
    """
    if weight is None:
        counts, _ = mx.nd.histogram(index, bins=size, range=(0, size))
        return counts.astype("float64")
    return mx.nd._internal._backward_gather_nd(
        weight.astype("float64"), index.reshape((1, -1)), shape=(size,)
    )


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
        if not 0.0 <= float(threshold) <= 1.0 and not from_logits:
            raise ValueError(f"threshold must be in [0, 1] for probabilities, got {threshold}")
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
        self.ctx = ctx
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all statistics (the context and the bootstrap stream start over too)."""
        self.counts = None
        self.hist = None
        self.score_sums = None
        self.boot_counts = None
        self.boot_hist = None
        self.boot_score_sums = None
        self._rng = np.random.RandomState(self.seed)
        if self.ctx is not None:
            self._allocate(self.ctx)

    def _allocate(self, ctx: mx.Context) -> None:
        G, K, B, R = self.num_groups, self.num_classes, self.num_bins, self.bootstrap
        zeros = lambda *shape: mx.nd.zeros(shape, ctx=ctx, dtype="float64")  # noqa: E731
        self.ctx = ctx
        self.counts = zeros(G, K, K)
        if B:
            self.hist = zeros(G, 2, B)
            self.score_sums = zeros(G, B)
        if R:
            self.boot_counts = zeros(R, G, K, K)
            if B:
                self.boot_hist = zeros(R, G, 2, B)
                self.boot_score_sums = zeros(R, G, B)

    @property
    def num_rows(self) -> float:
        """Total (weighted) number of rows seen; synchronises with the device."""
        return 0.0 if self.counts is None else float(self.counts.sum().asscalar())

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
            Group ids in ``[0, G)``. Values out of range are not checked here (that would
            synchronise); check them once on the host with ``mxfair._validation``.
        sample_weight : array, shape (N,), optional
        """
        ctx = self.ctx or context_of(preds, labels, groups)
        if self.counts is None:
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
        # One fused sum instead of a chain of elementwise passes (the update is memory-bound).
        cell = mx.nd.add_n(groups * (K * K), labels * K, decided)  # shape (N,), in [0, G*K*K)
        self.counts += _scatter_add(cell, G * K * K, weight).reshape((G, K, K))
        if B:
            bins = mx.nd.clip(mx.nd.floor(score * B), 0, B - 1)  # shape (N,)
            hist_cell = mx.nd.add_n(groups * (2 * B), labels * B, bins)
            self.hist += _scatter_add(hist_cell, G * 2 * B, weight).reshape((G, 2, B))
            score_w = score.astype("float64")
            if weight is not None:
                score_w = score_w * weight
            self.score_sums += _scatter_add(groups * B + bins, G * B, score_w).reshape((G, B))
        if self.bootstrap:
            self._update_bootstrap(cell, weight, n, *((hist_cell, groups * B + bins, score)
                                                      if B else ()))

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

    def _update_bootstrap(self, cell, weight, n: int, hist_cell=None, score_cell=None,
                          score=None) -> None:
        R, G, K, B = self.bootstrap, self.num_groups, self.num_classes, self.num_bins
        ctx = self.ctx
        # Poisson(1) weights drawn on the host from the seeded stream: reproducible, and a
        # host-to-device copy does not synchronise.
        w = mx.nd.array(self._rng.poisson(1.0, size=(R, n)), ctx=ctx, dtype="float64")
        if weight is not None:
            w = mx.nd.broadcast_mul(w, weight.reshape((1, -1)))
        offsets = mx.nd.arange(R, ctx=ctx, dtype="float32").reshape((R, 1))
        size = G * K * K
        index = mx.nd.broadcast_add(offsets * size, cell.reshape((1, -1))).reshape((-1,))
        self.boot_counts += _scatter_add(index, R * size, w.reshape((-1,))).reshape(
            (R, G, K, K)
        )
        if hist_cell is not None:
            size = G * 2 * B
            index = mx.nd.broadcast_add(offsets * size, hist_cell.reshape((1, -1)))
            self.boot_hist += _scatter_add(
                index.reshape((-1,)), R * size, w.reshape((-1,))
            ).reshape((R, G, 2, B))
            size = G * B
            index = mx.nd.broadcast_add(offsets * size, score_cell.reshape((1, -1)))
            score_w = mx.nd.broadcast_mul(w, score.astype("float64").reshape((1, -1)))
            self.boot_score_sums += _scatter_add(
                index.reshape((-1,)), R * size, score_w.reshape((-1,))
            ).reshape((R, G, B))

    # ------------------------------------------------------------------ merge
    def _check_compatible(self, other: "GroupStats") -> None:
        if not isinstance(other, GroupStats):
            raise TypeError(f"can only merge GroupStats, got {type(other).__name__}")
        mine = (self.num_groups, self.num_classes, self.num_bins, self.bootstrap)
        theirs = (other.num_groups, other.num_classes, other.num_bins, other.bootstrap)
        if mine != theirs:
            raise ValueError(
                "cannot merge GroupStats with (num_groups, num_classes, num_bins, bootstrap) "
                f"{theirs} into {mine}"
            )

    def merge(self, other: "GroupStats") -> "GroupStats":
        """Add ``other``'s statistics to this one in place; returns self."""
        self._check_compatible(other)
        if other.counts is None:
            return self
        if self.counts is None:
            self._allocate(self.ctx or other.ctx)
        for name in _STATE:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None:
                mine += theirs.as_in_context(mine.context)
        return self

    def copy(self) -> "GroupStats":
        """An independent copy (same configuration, copied arrays)."""
        new = GroupStats(self.num_groups, self.num_classes, self.threshold, self.num_bins,
                         self.bootstrap, self.seed, self.from_logits, self.group_names, self.ctx)
        if self.counts is not None:
            new.merge(self)
        new._rng.set_state(self._rng.get_state())
        return new

    def __add__(self, other: "GroupStats") -> "GroupStats":
        return self.copy().merge(other)

    def arrays(self) -> dict:
        """The statistics as a dict of NDArrays (for saving or a kvstore allreduce)."""
        return {k: getattr(self, k) for k in _STATE if getattr(self, k) is not None}

    # ----------------------------------------------------------------- report
    def report(self):
        """Derive every rate and gap: a :class:`FairnessReport` (one host synchronisation)."""
        from .report import FairnessReport

        if self.counts is None:
            self._allocate(self.ctx or mx.current_context())
        host = lambda a: None if a is None else a.asnumpy()  # noqa: E731
        return FairnessReport(
            counts=host(self.counts),
            hist=host(self.hist),
            score_sums=host(self.score_sums),
            boot_counts=host(self.boot_counts),
            boot_hist=host(self.boot_hist),
            boot_score_sums=host(self.boot_score_sums),
            group_names=self.group_names,
        )

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

