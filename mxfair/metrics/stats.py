"""GroupStats: the one core of group statistics, accumulated on the device.

Every group-fairness metric of a classifier is a function of a few additive counts per group: the
confusion matrix of each group and, optionally, a histogram of scores per group and label.
``GroupStats`` sums them batch by batch on the context of the data, with no host synchronisation
until :meth:`GroupStats.report`. Because they are sums, statistics of batches, epochs and workers
combine exactly (:meth:`GroupStats.merge`, ``+``, :meth:`GroupStats.allreduce`).

Invalid rows never count as data. A row whose label or group id is not an integer in range, whose
score is NaN or infinite, whose probability lies outside [0, 1] (``from_logits=False``) or whose
sample weight is NaN, infinite or negative is left out of every statistic and counted on the
device by reason (:attr:`GroupStats.invalid_counts`); :meth:`GroupStats.report` warns with the
counts. No input value can index outside the storage.

Exactness. Every cell id (group, label, decision or score bin, bootstrap replicate) is an integer
below :data:`MAX_CELLS` (``2**31 - 2``, the int32 index range of MXNet's kernels; a configuration
whose arrays would not fit is refused at construction). Ids are formed in float32 only when every
id of the configuration is below 2**23 (float32 holds every integer below 2**24), else in float64
(every integer below 2**53); bootstrap ids (replicate x cell) always in float64. Float64 input
ids are never rounded to float32. The per-row work runs as one hybridized block
(``_rows.RowBlock``). Counts, histograms and bootstrap replicates are float64 sums: exact integers
up to 2**53.
"""
import warnings
from typing import Any, Dict, List, Literal, Optional

import mxnet as mx
import numpy as np

from .._compat import scatter_add
from .._kvstore import gather_float64, is_distributed, sum_float64
from .._ops import context_of, is_ndarray
from .._validation import (
    check_choice,
    check_int,
    check_number,
    check_numeric,
    check_positive_int,
    check_same_length,
)
from ._rows import LOGIT_RANGE, RowBlock, layout_of
from .report import FairnessReport

__all__ = [
    "GroupStats",
    "InvalidRowsWarning",
    "ScoreScaleWarning",
    "INVALID_REASONS",
    "BIN_SCALES",
    "MAX_CELLS",
]

PREDS_SHAPE = (
    "preds must have shape (N,) or (N, {k}) for num_classes={k}, got shape {shape}"
)
PREDS_NOT_NUMERIC = "preds must hold numeric scores or class ids, got dtype {dtype}"
TOO_MANY_CELLS = (
    "GroupStats({settings}) needs {name} of {cells:,} cells; at most {limit:,} cells "
    "(2**31 - 2, the index range of MXNet's kernels) can be held: use fewer groups, bins or "
    "bootstrap replicates"
)
BOOTSTRAP_ONE = (
    "bootstrap must be 0 (no intervals) or at least 2 replicates, got 1: one replicate gives "
    "no interval"
)
INVALID_ROWS = "{count:g} row(s) were left out of every statistic: {reasons}"
LOOKS_LIKE_PROBABILITIES = (
    "every score lies in [0, 1], yet from_logits=True reads scores as logits (a sigmoid is "
    "applied before the threshold): pass from_logits=False if these are probabilities or hard "
    "0/1 predictions"
)

#: Why a row can be left out, in the order of :attr:`GroupStats.invalid_counts`.
INVALID_REASONS = ("label", "group", "prediction", "score", "probability", "weight")
_REASON_TEXT = {
    "label": "a label that is not an integer in [0, {k})",
    "group": "a group id that is not an integer in [0, {g})",
    "prediction": "a predicted class that is not an integer in [0, {k})",
    "score": "a NaN or infinite score",
    "probability": "a score outside [0, 1] with from_logits=False (logits? pass "
                   "from_logits=True)",
    "weight": "a sample weight that is NaN, infinite or negative",
}
_CODES = 1 << len(INVALID_REASONS)  # a row's reasons as bits: code 0 is a valid row

#: Scales of the score histograms: ``"probability"`` (B equal bins of [0, 1]) or ``"logit"``
#: (B equal bins of the log-odds in [-LOGIT_RANGE, LOGIT_RANGE], the ends open).
BIN_SCALES = ("probability", "logit")

#: Largest number of cells of one statistics array (the int32 index range of MXNet's kernels).
MAX_CELLS = 2 ** 31 - 2
_MAX_BATCH = 2 ** 23  # rows per block call: its unweighted counts are float32-exact

# The public statistics, in a fixed order (arrays(), allreduce, save).
_STATE = ("counts", "hist", "score_sums", "boot_counts", "boot_hist", "boot_score_sums")
#: Every constructor setting but ``ctx`` (like, copy and repr read them from here), and whether
#: it decides what a cell holds: statistics that differ in one of those cannot be merged or
#: summed over workers (counts decided at another threshold would add up silently wrong).
_SETTINGS = {
    "num_groups": True, "num_classes": True, "threshold": True, "num_bins": True,
    "bootstrap": True, "seed": False, "from_logits": True, "group_names": False,
    "bin_scale": True, "exact_auc": True, "min_count": False,
}
_SAME_SEED = object()  # GroupStats.like: keep the seed (None is a seed of its own)


class InvalidRowsWarning(UserWarning):
    """Rows were left out of the statistics (bad label, group id, score or weight)."""


class ScoreScaleWarning(UserWarning):
    """The scores do not look like what ``from_logits`` says they are."""


def _as_ids(values: Any, ctx: mx.Context, int_dtype: str) -> mx.nd.NDArray:
    """Ids (labels, groups) or weights as an NDArray (N,) on ``ctx``: floats keep their
    precision, integers and booleans become ``int_dtype`` (the configuration's id dtype).
    float32 only serves when every valid id is below 2**23: an integer that float32 rounds is
    out of range before and after, so it cannot turn into a valid id. A float64 id such as
    1 + 1e-12 could, so float64 ids are never rounded."""
    if is_ndarray(values):
        ids = values.as_in_context(ctx) if values.context != ctx else values
        if np.dtype(ids.dtype).kind != "f":
            ids = ids.astype(int_dtype)
        return ids.reshape((-1,))
    host = check_numeric("ids", values)  # checked by name before: numeric here
    if host.dtype.kind != "f":
        host = host.astype(int_dtype)
    return mx.nd.array(host.reshape(-1), ctx=ctx, dtype=host.dtype)


def _as_scores(preds: Any, ctx: mx.Context) -> mx.nd.NDArray:
    """Predictions as an NDArray on ``ctx`` in their own float precision: a float64 score is
    never rounded to float32. Integer and boolean predictions become float64 (compared with
    a threshold of 0.5 they must not see it cast to an integer)."""
    if is_ndarray(preds):
        scores = preds.as_in_context(ctx) if preds.context != ctx else preds
        if np.dtype(scores.dtype).kind != "f":
            scores = scores.astype("float64")
        return scores
    host = np.asarray(preds.to_numpy() if hasattr(preds, "to_numpy") else preds)
    if host.dtype.kind not in "biuf":
        raise TypeError(PREDS_NOT_NUMERIC.format(dtype=host.dtype))
    if host.dtype.kind != "f":
        host = host.astype(np.float64)
    return mx.nd.array(host, ctx=ctx, dtype=host.dtype)


class GroupStats:
    """Additive per-group statistics of a classifier: confusion counts and score histograms.

    Parameters
    ----------
    num_groups : int
        Number of groups G; group ids are integers in ``[0, G)``.
    num_classes : int, default 2
        Number of classes K.
    threshold : float, default 0.5
        Decision threshold on binary scores, a probability: a row is predicted positive when
        its probability is ``>= threshold``. With ``from_logits=True`` the logit ``z`` is
        compared with ``logit(threshold)`` (the same decision, without rounding the sigmoid:
        a logit of 40 is not 1.0 here). The comparison is made in the precision of the scores:
        float64 scores against the float64 threshold, float32 scores against the threshold
        rounded to float32 (as NumPy compares a float32 array with a Python float).
    num_bins : int, default 0
        When > 0, also keep per-group, per-label histograms of binary scores with this many bins
        (for AUC, calibration error and :meth:`ThresholdOptimizer.fit_stats`).
    bootstrap : int, default 0
        Number R of bootstrap replicates accumulated in the same pass: every row gets an
        independent Poisson(1) weight per replicate (drawn on the host from ``seed``). 0 or at
        least 2 (one replicate gives no interval).
    seed : int, optional
        Seed of the bootstrap weights.
    from_logits : bool, default True
        Binary scores are logits, as a Gluon ``Dense(1)`` net trained with
        ``SigmoidBinaryCrossEntropyLoss`` emits (for ``(N, 2)`` scores: a softmax). Pass
        ``False`` for probabilities in [0, 1] or hard 0/1 predictions; a score outside [0, 1]
        is then left out and counted (reason ``"probability"``). With ``True``, the report
        warns (:class:`ScoreScaleWarning`) when every score lies in [0, 1]. Multi-class
        predictions are class scores (N, K) (argmax) or class ids (N,) either way.
    group_names : list of str, optional
        Names used in reports; ``"0"``, ``"1"``, ... by default.
    ctx : Context, optional
        Where the statistics live; by default the context of the first update's ``preds``.
    bin_scale : {"probability", "logit"}, default "probability"
        ``"probability"``: B equal bins of [0, 1], bin ``floor(p * B)`` in float64 (what
        ``ThresholdOptimizer.fit_stats`` and the usual calibration error read).
        ``"logit"``: B equal bins of the log-odds over ``[-32, 32]`` (the two end bins open),
        which keeps a confident model's scores apart: probability bins put every logit above
        ``logit(1 - 1/B)`` (6.9 for B = 1000) into one bin, so a confident model's AUC from
        probability bins can be far off (0.50 for a true 0.80 with logits ``20 + 5 z``).
        See ``docs/histograms.md`` for the AUC error of each scale by bin count.
    exact_auc : bool, default False
        Also keep every valid row's score, label, group and weight on the device (24 bytes a
        row) for an exact per-group AUC (ties count 1/2, as ``sklearn.metrics.roc_auc_score``),
        computed at :meth:`report` by one sort on the host (O(N log N)). Without it, the AUC
        comes from the histograms and the report warns when they cannot resolve the ranking.
    min_count : float, default 0
        Default ``min_count`` of :meth:`report`: gaps, summaries and worst groups leave out
        groups whose count (sum of weights; rows when unweighted) is below it.

    Attributes
    ----------
    counts : NDArray, shape (G, K, K), float64
        ``counts[g, t, p]`` is the (weighted) number of rows of group g with label t predicted p.
    hist : NDArray, shape (G, 2, B), float64, or None
        ``hist[g, y, b]``: rows of group g and label y whose score falls in bin b.
    score_sums : NDArray, shape (G, B), float64, or None
        Sum of the probabilities falling in each bin (for calibration error).
    boot_counts : NDArray, shape (R, G, K, K), or None
    boot_hist : NDArray, shape (R, G, 2, B), or None
    boot_score_sums : NDArray, shape (R, G, B), or None
        These attributes are new arrays (copies or small views of the storage).
    num_invalid : float
        Rows left out of every statistic (a number of rows, not a weight); synchronises.
    invalid_counts : dict of str to float
        Rows left out, by reason (:data:`INVALID_REASONS`; a row can have several reasons);
        synchronises.

    Notes
    -----
    Cost of one update of N rows: a few element-wise passes over N in float64 plus one
    scatter into each statistics array; a scatter allocates a temporary of the array's size,
    so very large cell spaces (millions of groups x bins x replicates) cost that much memory
    traffic per batch.

    Examples
    --------
    >>> import mxnet as mx
    >>> stats = GroupStats(num_groups=2, from_logits=False)  # probabilities
    >>> stats.update(mx.nd.array([1, 0, 1, 0]), mx.nd.array([0.9, 0.2, 0.4, 0.7]),
    ...              mx.nd.array([0, 0, 1, 1]))
    >>> stats.counts.asnumpy()[1]
    array([[0., 1.],
           [1., 0.]])
    >>> round(stats.report().difference("selection_rate"), 3)
    0.0
    >>> logits = GroupStats(num_groups=2)  # the default: a Dense(1) net's outputs
    >>> logits.update(mx.nd.array([1, 0]), mx.nd.array([2.2, -1.4]), mx.nd.array([0, 1]))
    >>> logits.counts.asnumpy()[:, 1, 1]  # the logit 2.2 is a positive decision
    array([1., 0.])
    """

    def __init__(
        self,
        num_groups: int,
        *,
        num_classes: int = 2,
        threshold: float = 0.5,
        num_bins: int = 0,
        bootstrap: int = 0,
        seed: Optional[int] = None,
        from_logits: bool = True,
        group_names: Optional[list] = None,
        ctx: Optional[mx.Context] = None,
        bin_scale: Literal["probability", "logit"] = "probability",
        exact_auc: bool = False,
        min_count: float = 0,
    ):
        self.num_groups = check_positive_int("num_groups", num_groups)
        self.num_classes = check_int("num_classes", num_classes, low=2)
        # compared with probabilities, also for logits
        threshold = check_number("threshold", threshold, low=0, high=1)
        num_bins = check_int("num_bins", num_bins)
        bootstrap = check_int("bootstrap", bootstrap)
        if bootstrap == 1:
            raise ValueError(BOOTSTRAP_ONE)
        if num_bins and self.num_classes != 2:
            raise ValueError("score histograms (num_bins > 0) need num_classes=2")
        if exact_auc and self.num_classes != 2:
            raise ValueError("exact_auc=True needs num_classes=2 (AUC of binary scores)")
        if group_names is not None and len(group_names) != self.num_groups:
            raise ValueError(
                f"got {len(group_names)} group_names for num_groups={self.num_groups}"
            )
        self.threshold = float(threshold)
        self.num_bins = int(num_bins)
        self.bootstrap = int(bootstrap)
        self.seed = seed
        self.from_logits = bool(from_logits)
        self.bin_scale = check_choice("bin_scale", bin_scale, BIN_SCALES)
        self.exact_auc = bool(exact_auc)
        self.min_count = check_number("min_count", min_count, low=0)
        self._check_sizes()  # before anything of size G is built
        self.group_names = (
            list(group_names) if group_names is not None else [str(g) for g in range(num_groups)]
        )
        # float32 ids are exact below 2**24, and MXNet's histogram kernel places float32 ids
        # at half-integer bounds exactly below 2**23: use float32 when every main id is below.
        shapes = self._shapes()
        largest = max(int(np.prod(shapes[k])) for k in ("counts", "hist") if k in shapes)
        self._dtype = "float32" if largest < 2 ** 23 else "float64"
        self._blocks: Dict[tuple, RowBlock] = {}
        self._ctx_given = ctx
        self.reset()

    def _settings(self, cells_only: bool = False) -> dict:
        """The constructor settings but ``ctx``; only those that decide what a cell holds
        with ``cells_only`` (see ``_SETTINGS``)."""
        return {k: getattr(self, k) for k, cell in _SETTINGS.items() if cell or not cells_only}

    def _shapes(self) -> Dict[str, tuple]:
        """Storage shapes. ``counts`` is flat: the cells of rows whose score lies in [0, 1],
        the same cells for the other rows (for the from_logits warning), then one slot per
        invalid-reason code (rows, unweighted)."""
        G, K, B, R = self.num_groups, self.num_classes, self.num_bins, self.bootstrap
        shapes = {"counts": (2 * G * K * K + _CODES,)}
        if B:
            shapes["hist"] = (G, 2, B)
            shapes["score_sums"] = (G, 2, B)
        if R:
            shapes["boot_counts"] = (R, G, K, K)
            if B:
                shapes["boot_hist"] = (R, G, 2, B)
                shapes["boot_score_sums"] = (R, G, 2, B)
        return shapes

    def _check_sizes(self) -> None:
        for name, shape in self._shapes().items():
            cells = int(np.prod(shape, dtype=np.int64))
            if cells > MAX_CELLS:
                settings = (f"num_groups={self.num_groups}, num_classes={self.num_classes}, "
                            f"num_bins={self.num_bins}, bootstrap={self.bootstrap}")
                raise ValueError(TOO_MANY_CELLS.format(settings=settings, name=name,
                                                       cells=cells, limit=MAX_CELLS))

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all statistics; the bootstrap stream starts over, and the context is again
        the one given at construction (or that of the next update)."""
        self.ctx = self._ctx_given
        self._raw = None  # storage, see _allocate
        self._rows: List[mx.nd.NDArray] = []  # exact_auc: (3, n) blocks, see RowBlock
        self._rng = np.random.RandomState(self.seed)
        if self.ctx is not None:
            self._allocate(self.ctx)

    def _allocate(self, ctx: mx.Context) -> None:
        self.ctx = ctx
        self._raw = {name: mx.nd.zeros(shape, ctx=ctx, dtype="float64")
                     for name, shape in self._shapes().items()}

    def _view(self, name: str) -> Optional[mx.nd.NDArray]:
        """The public form of a stored array, as a new NDArray."""
        if self._raw is None or name not in self._raw:
            return None
        raw = self._raw[name]
        if name == "counts":
            G, K = self.num_groups, self.num_classes
            size = G * K * K
            halves = mx.nd.slice(raw, begin=(0,), end=(2 * size,)).reshape((2, G, K, K))
            return halves.sum(axis=0)
        if name.endswith("score_sums"):
            return raw.sum(axis=raw.ndim - 2)  # (..., G, B): the sum over both labels
        return raw.copy()

    counts = property(lambda self: self._view("counts"))
    hist = property(lambda self: self._view("hist"))
    score_sums = property(lambda self: self._view("score_sums"))
    boot_counts = property(lambda self: self._view("boot_counts"))
    boot_hist = property(lambda self: self._view("boot_hist"))
    boot_score_sums = property(lambda self: self._view("boot_score_sums"))

    @property
    def bin_edges(self) -> Optional[np.ndarray]:
        """The B + 1 bin edges of the histograms as probabilities, shape (B + 1,), or None.

        Bin b holds the scores in ``[edges[b], edges[b + 1])`` (the last bin includes 1).
        ``"probability"``: ``b / B``; ``"logit"``: ``sigmoid(-32 + 64 b / B)`` inside, 0 and 1
        at the ends.
        """
        B = self.num_bins
        if not B:
            return None
        if self.bin_scale == "probability":
            return np.arange(B + 1, dtype=np.float64) / B
        z = -LOGIT_RANGE + 2.0 * LOGIT_RANGE * np.arange(B + 1, dtype=np.float64) / B
        edges = 1.0 / (1.0 + np.exp(-z))
        edges[0], edges[-1] = 0.0, 1.0
        return edges

    @property
    def num_rows(self) -> float:
        """Total (weighted) number of valid rows seen; synchronises with the device."""
        return 0.0 if self._raw is None else float(self.counts.sum().asscalar())

    def _tallies(self) -> np.ndarray:
        """Rows left out per reason code (``_CODES``,), host float64; synchronises."""
        if self._raw is None:
            return np.zeros(_CODES)
        raw = self._raw["counts"]
        return raw[raw.size - _CODES:].asnumpy()

    @property
    def num_invalid(self) -> float:
        """Rows left out of every statistic (a number of rows, whatever the weights);
        synchronises with the device."""
        return float(self._tallies()[1:].sum())

    @property
    def invalid_counts(self) -> Dict[str, float]:
        """Rows left out, by reason (keys :data:`INVALID_REASONS`; a row can have several
        reasons, so the values can add up to more than :attr:`num_invalid`); synchronises."""
        return _by_reason(self._tallies())

    # ----------------------------------------------------------------- update
    def update(self, labels: Any, preds: Any, groups: Any, sample_weight: Any = None) -> None:
        """Add one batch.

        Parameters
        ----------
        labels : array, shape (N,)
            True classes in ``[0, K)``.
        preds : array, shape (N,) or (N, K)
            Binary: logits (``from_logits=True``, the default) or probabilities / hard 0/1
            predictions (``from_logits=False``), shape (N,) or (N, 1), or class scores (N, 2).
            Multi-class: class ids (N,) or class scores (N, K).
        groups : array, shape (N,)
            Group ids in ``[0, G)``.
        sample_weight : array, shape (N,), optional
            Finite weights ``>= 0``.

        Rows with a bad label, group id, score or weight are left out and counted by reason
        (:attr:`invalid_counts`) on the device, without synchronising; :meth:`report` warns.
        Strings where ids are expected raise ``TypeError`` (encode them with
        :class:`mxfair.GroupEncoder`).
        """
        if not is_ndarray(labels):
            labels = check_numeric("labels", labels)
        if not is_ndarray(groups):
            groups = check_numeric("groups", groups)
        if sample_weight is not None and not is_ndarray(sample_weight):
            sample_weight = check_numeric("sample_weight", sample_weight, ids=False)
        n = check_same_length(labels=labels, preds=preds, groups=groups,
                              sample_weight=sample_weight)
        ctx = self.ctx or context_of(preds, labels, groups)
        if self._raw is None:
            self._allocate(ctx)
        if n == 0:
            return
        preds = _as_scores(preds, ctx)
        y, g = _as_ids(labels, ctx, self._dtype), _as_ids(groups, ctx, self._dtype)
        for name, arr in (("labels", y), ("groups", g)):
            if arr.shape[0] != n:
                raise ValueError(f"{name} must have shape (N,) with N = {n}, got {arr.size} "
                                 f"values")
        # Ids are compared and combined in float32 when every cell id of this configuration is
        # below 2**23 (exact there, half the memory traffic), else in float64 (exact below
        # 2**53); float64 input ids are never rounded to float32.
        wide = self._dtype == "float64" or np.float64 in (np.dtype(y.dtype), np.dtype(g.dtype))
        dtype = "float64" if wide else "float32"
        y, g = y.astype(dtype, copy=False), g.astype(dtype, copy=False)
        weight = None
        if sample_weight is not None:
            weight = _as_ids(sample_weight, ctx, "float64").astype("float64", copy=False)
            if weight.shape[0] != n:
                raise ValueError(f"sample_weight must have shape (N,) with N = {n}, got "
                                 f"{weight.size} values")
        self._add(y, preds, g, weight, n, dtype)

    def _block(self, layout: str, dtype: str, weighted: bool, score_dtype: str) -> RowBlock:
        """The hybridized per-row block of this layout (made once, then a cached graph)."""
        key = (layout, dtype, weighted, score_dtype)
        if key not in self._blocks:
            block = RowBlock(num_groups=self.num_groups, num_classes=self.num_classes,
                             layout=layout, from_logits=self.from_logits,
                             threshold=self.threshold, dtype=dtype, weighted=weighted,
                             num_bins=self.num_bins, bin_scale=self.bin_scale,
                             bootstrap=self.bootstrap > 0, exact=self.exact_auc,
                             score_dtype=np.dtype(score_dtype).name)
            block.hybridize()
            self._blocks[key] = block
        return self._blocks[key]

    def _add(self, y, preds, g, weight, n: int, dtype: str) -> None:
        layout = layout_of(preds, self.num_classes)
        if layout is None:
            raise ValueError(PREDS_SHAPE.format(k=self.num_classes, shape=preds.shape))
        if n > _MAX_BATCH:  # unweighted counts of one call are summed in float32 (exact)
            for start in range(0, n, _MAX_BATCH):
                stop = min(n, start + _MAX_BATCH)
                self._add(y[start:stop], preds[start:stop], g[start:stop],
                          None if weight is None else weight[start:stop], stop - start, dtype)
            return
        block = self._block(layout, dtype, weight is not None, np.dtype(preds.dtype).name)
        outs = block(y, g, preds, *(() if weight is None else (weight,)))
        out = dict(zip(block.names, outs))
        raw = self._raw
        raw["counts"] += scatter_add(out["index"], raw["counts"].size,
                                     out["count_weight"]).astype("float64", copy=False)
        if self.num_bins:
            size, shape = raw["hist"].size, raw["hist"].shape
            raw["hist"] += scatter_add(out["hist_index"], size, out["valid_weight"]).reshape(shape)
            raw["score_sums"] += scatter_add(out["hist_index"], size,
                                             out["prob_weight"]).reshape(shape)
        if self.bootstrap:
            self._update_bootstrap(out, n)
        if self.exact_auc:
            self._rows.append(out["rows"])

    def _update_bootstrap(self, out: dict, n: int) -> None:
        """Replicate r of a row adds its Poisson weight (times its own) at ``r * size + cell``;
        an invalid row adds 0. The ids are float64 (``R * size`` can pass 2**24; it stays below
        2**31 by MAX_CELLS); rows are taken in chunks so that R x rows stays below 2**31 too."""
        R, raw, ctx = self.bootstrap, self._raw, self.ctx
        # Poisson(1) weights drawn on the host from the seeded stream: reproducible, and a
        # host-to-device copy does not synchronise.
        draws = self._rng.poisson(1.0, size=(R, n))
        offsets = mx.nd.arange(R, ctx=ctx, dtype="float64").reshape((R, 1))
        hist_index = out.get("hist_index")
        if hist_index is not None:
            hist_index = hist_index.astype("float64", copy=False)
        step = max(1, MAX_CELLS // R)
        for start in range(0, n, step):
            stop = min(n, start + step)
            poisson = mx.nd.array(draws[:, start:stop], ctx=ctx, dtype="float64")
            w = mx.nd.broadcast_mul(poisson, out["valid_weight"][start:stop].reshape((1, -1)))
            size, shape = raw["boot_counts"][0].size, raw["boot_counts"].shape
            index = mx.nd.broadcast_add(offsets * size, out["cell"][start:stop].reshape((1, -1)))
            raw["boot_counts"] += scatter_add(index.reshape((-1,)), R * size,
                                              w.reshape((-1,))).reshape(shape)
            if hist_index is None:
                continue
            size, shape = raw["boot_hist"][0].size, raw["boot_hist"].shape
            index = mx.nd.broadcast_add(offsets * size, hist_index[start:stop].reshape((1, -1)))
            index = index.reshape((-1,))
            raw["boot_hist"] += scatter_add(index, R * size, w.reshape((-1,))).reshape(shape)
            score_w = mx.nd.broadcast_mul(poisson,
                                          out["prob_weight"][start:stop].reshape((1, -1)))
            raw["boot_score_sums"] += scatter_add(index, R * size,
                                                  score_w.reshape((-1,))).reshape(shape)

    def load_exact_rows(self, rows: np.ndarray) -> None:
        """exact_auc: replace the kept rows by ``rows`` (3, M) (as :meth:`exact_rows` gives
        them); :meth:`allreduce` puts the rows of every worker here."""
        if not self.exact_auc:
            raise ValueError("load_exact_rows needs GroupStats(exact_auc=True)")
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[0] != 3:
            raise ValueError(f"rows must have shape (3, M), got {rows.shape}")
        if self._raw is None:
            self._allocate(self.ctx or mx.current_context())
        self._rows = [mx.nd.array(rows, ctx=self.ctx, dtype="float64")]

    def exact_rows(self) -> Optional[np.ndarray]:
        """exact_auc: the kept rows as a host array (3, M): ranking score (the logit with
        ``from_logits=True``, else the probability), ``group * 2 + label`` and weight, for
        the valid rows of weight > 0; None without ``exact_auc``. Synchronises."""
        if not self.exact_auc:
            return None
        if not self._rows:
            return np.zeros((3, 0))
        rows = np.concatenate([r.asnumpy() for r in self._rows], axis=1)
        return rows[:, rows[2] > 0]

    # ------------------------------------------------------------------ merge
    def _check_compatible(self, other: "GroupStats") -> None:
        if not isinstance(other, GroupStats):
            raise TypeError(f"can only merge GroupStats, got {type(other).__name__}")
        mine, theirs = self._settings(cells_only=True), other._settings(cells_only=True)
        if mine != theirs:  # threshold, from_logits and bin_scale decide what a cell holds
            raise ValueError(f"cannot merge GroupStats with ({', '.join(theirs)}) "
                             f"{tuple(theirs.values())} into {tuple(mine.values())}")

    def merge(self, other: "GroupStats") -> "GroupStats":
        """Add ``other``'s statistics to this one in place; returns self."""
        self._check_compatible(other)
        if other._raw is None:
            return self
        if self._raw is None:
            self._allocate(self.ctx or other.ctx)
        for mine, theirs in zip(self.storage(), other.storage()):
            mine += theirs.as_in_context(mine.context)
        # Kept rows are never changed in place: sharing them is safe.
        self._rows.extend(r.as_in_context(self.ctx) for r in other._rows)
        return self

    def like(self, *, ctx: Optional[mx.Context] = None, seed: Any = _SAME_SEED) -> "GroupStats":
        """An empty GroupStats with the same settings (groups, classes, threshold, bins,
        bootstrap, seed, from_logits, group names, bin scale, exact_auc, min_count).

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
        settings = self._settings()
        if seed is not _SAME_SEED:
            settings["seed"] = seed
        return GroupStats(ctx=self.ctx if ctx is None else ctx, **settings)

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
        """The storage arrays in a fixed order: add to them in place to merge or allreduce
        (they are sums, the invalid-row tallies included; allocated on first use). The rows
        kept by ``exact_auc`` are not sums: see :meth:`exact_rows`."""
        if self._raw is None:
            self._allocate(self.ctx or mx.current_context())
        return [self._raw[k] for k in _STATE if k in self._raw]

    # ----------------------------------------------------------------- report
    def report(self, *, min_count: Optional[float] = None):
        """Derive every rate and gap: a :class:`FairnessReport` (one host synchronisation).

        Parameters
        ----------
        min_count : float, optional
            Groups with a count below it are left out of gaps, summaries and worst groups
            (with a warning); this object's ``min_count`` by default.

        Warns
        -----
        InvalidRowsWarning
            Rows were left out, with the count of each reason.
        ScoreScaleWarning
            ``from_logits=True`` and every valid score lies in [0, 1].
        """
        if self._raw is None:
            self._allocate(self.ctx or mx.current_context())
        G, K = self.num_groups, self.num_classes
        raw = {k: v.asnumpy() for k, v in self._raw.items()}
        flat, size = raw.pop("counts"), G * K * K
        tallies = flat[2 * size:]
        public = {"counts": (flat[:size] + flat[size:2 * size]).reshape(G, K, K)}
        for name, array in raw.items():
            public[name] = array.sum(axis=-2) if name.endswith("score_sums") else array
        invalid = _by_reason(tallies)
        if tallies[1:].sum() > 0:
            reasons = "; ".join(f"{_REASON_TEXT[r].format(k=K, g=G)}: {c:g}"
                                for r, c in invalid.items() if c > 0)
            warnings.warn(INVALID_ROWS.format(count=tallies[1:].sum(), reasons=reasons),
                          InvalidRowsWarning, stacklevel=2)
        if (self.from_logits and K == 2 and public["counts"].sum() > 0
                and flat[size:2 * size].sum() == 0):
            warnings.warn(LOOKS_LIKE_PROBABILITIES, ScoreScaleWarning, stacklevel=2)
        return FairnessReport(
            group_names=self.group_names,
            min_count=self.min_count if min_count is None else min_count,
            exact_rows=self.exact_rows(), invalid_counts=invalid, num_invalid=tallies[1:].sum(),
            bin_edges=self.bin_edges, **public,
        )

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._settings(cells_only=True).items())
        return f"GroupStats({settings}, ctx={self.ctx})"

    # ------------------------------------------------------------- workers
    def _signature(self) -> dict:
        """The settings every worker must share, as numbers (``bin_scale`` by its index)."""
        signature = self._settings(cells_only=True)
        signature["bin_scale"] = BIN_SCALES.index(self.bin_scale)
        return signature

    def allreduce(self, kvstore: Any) -> "GroupStats":
        """Sum over every worker of ``kvstore``: each gets the statistics of the whole data set.

        Every additive array (:meth:`storage`: counts, histograms, score sums, bootstrap
        replicates and the invalid-row tallies, in their fixed order) is summed over the
        workers in one round trip (two through ps-lite). Integer-valued statistics are summed
        exactly (see :mod:`mxfair.distributed`), so the report equals the one of a single
        process that saw all the data.

        Parameters
        ----------
        kvstore : None, str, mx.kv.KVStore or Horovod-like
            See :mod:`mxfair.distributed`. Every worker must use the same settings that decide
            what a cell holds (``num_groups``, ``num_classes``, ``threshold``, ``num_bins``,
            ``bootstrap``, ``from_logits``, ``bin_scale``, ``exact_auc``; checked through
            ps-lite: a mismatch raises ``ValueError``). With ``exact_auc``, the kept rows of
            every worker are gathered (4 float32 per value through ps-lite). With
            ``bootstrap > 0``, give each worker its own ``seed`` (e.g. ``seed + rank``): the
            same seed would reuse the same Poisson weights on every shard.

        Returns
        -------
        GroupStats
            A new object with the global sums, on this one's context; ``self`` is unchanged
            (calling this twice does not count the data twice). For ``None`` or a local
            kvstore, a copy. This worker may have seen no rows.
        """
        if self._raw is not None:
            out = self.copy()
        else:  # no rows on this worker: zeros of the right shapes
            out = self.like(ctx=self.ctx or mx.current_context())
        if not is_distributed(kvstore):
            return out
        arrays = out.storage()  # fixed order, summed in place
        sums = sum_float64(kvstore, "stats", [a.asnumpy() for a in arrays], self._signature())
        for arr, total in zip(arrays, sums):
            arr[:] = mx.nd.array(total.reshape(arr.shape), ctx=arr.context, dtype="float64")
        if self.exact_auc:  # the kept rows of every worker, in rank order
            out.load_exact_rows(gather_float64(kvstore, "stats/rows", self.exact_rows()))
        return out


def _by_reason(tallies: np.ndarray) -> Dict[str, float]:
    """Rows per reason from the rows per reason code (bit i of a code is reason i)."""
    codes = np.arange(_CODES)
    return {reason: float(tallies[(codes >> i) & 1 == 1].sum())
            for i, reason in enumerate(INVALID_REASONS)}
