"""Fairness-aware samplers for ``gluon.data.DataLoader``.

* :class:`ReweighingSampler` draws rows so that each epoch follows the reweighed distribution
  ``P(g) P(y)`` over (group, label) cells (Kamiran & Calders, 2012).
* :class:`GroupBalancedSampler` draws equal (or user-given) proportions of each cell.
* :class:`FairBatchSampler` is FairBatch (Roh, Lee, Whang & Suh, ICLR 2021): a *batch* sampler
  whose per-cell batch composition moves, between epochs, toward equal opportunity, predictive
  equality, equalized odds or demographic parity from the current model's per-cell losses.

All three keep their own seeded ``np.random.RandomState`` (each epoch differs, the sequence of
epochs is reproducible from ``seed``), check their inputs on the host at construction, and
support data-parallel sharding with ``num_parts``/``part_index``: the rows ``[0, N)`` are split
into ``num_parts`` contiguous parts (the first ``N % num_parts`` parts get one row more), a worker
draws only from its part, and the cell weights come from the counts of the *full*
``labels``/``groups`` arrays or from given global ``cell_counts``. Contiguous parts assume the
rows are in random order, as for ``SplitSampler``; shuffle the dataset once if they are not.

How the row samplers draw (``ReweighingSampler``, ``GroupBalancedSampler``):
``replacement=True`` makes i.i.d. draws (a cell with probability ``target_[g, y]``, then a row
uniformly within it), so the per-cell numbers of an epoch are multinomial; ``replacement=False``
fixes them up to rounding (systematic rounding of ``num_samples * target_``, exact in
expectation) and takes rows from a shuffled cycle over each cell's rows, kept across epochs, so a
row repeats only after all rows of its cell were used; that epoch is then shuffled. The yielded
indices are Python ints.
"""
from typing import Any, List, Literal, Optional, Tuple

import numpy as np
from mxnet import gluon

from .._constraints import ConstraintName, canonical_constraint
from .._ops import ArrayLike, to_numpy
from .._validation import check_choice, check_number, check_positive_int, check_seed
from .reweighing import EmptyPolicy, _cell_counts_host, _prepare, _weights_from_counts_host

__all__ = ["shard_range", "ReweighingSampler", "GroupBalancedSampler", "FairBatchSampler"]

NOT_NON_NEGATIVE_INT = "{name} must be a non-negative integer, got {value!r}"
BAD_PART = "part_index must be in [0, num_parts={num_parts}), got {part_index!r}"
SHARD_MISSES_CELL = (
    "part {part} of {parts} has no row in cell (group={g}, label={y}), which has target "
    "proportion {p:.3g}; shuffle the dataset before sharding or use fewer parts"
)
EMPTY_SHARD = "part {part} of {parts} has no rows with a positive sampling weight"
BAD_PROPORTIONS = (
    "proportions must be a non-negative ({G}, {K}) table with a positive sum, got {what}"
)
PROPORTION_ON_EMPTY_CELL = (
    "proportions give cell (group={g}, label={y}) the share {p:.3g}, but that cell has no rows"
)
FAIRBATCH_UPDATE = (
    "update() takes exactly one of: a GroupStats, a FairnessReport, a (G, K) or (G,) array of "
    "losses as `source`, `probs=` or `losses=` per row; got {what}"
)
#: The constraints FairBatch can aim at (canonical names; aliases such as the paper code's
#: ``eqopp``, ``eqodds``, ``dp`` are accepted, see ``mxfair._constraints``).
FAIRNESS_TYPES = ("demographic_parity", "equal_opportunity", "predictive_equality",
                  "equalized_odds")


def shard_range(length: int, num_parts: int = 1, part_index: int = 0) -> Tuple[int, int]:
    """Rows ``[start, end)`` of part ``part_index`` when ``length`` rows are split in
    ``num_parts`` contiguous parts whose sizes differ by at most one.

    Parameters
    ----------
    length : int
    num_parts : int
    part_index : int, in ``[0, num_parts)``

    Returns
    -------
    (start, end) : tuple of int

    Examples
    --------
    >>> [shard_range(10, 3, i) for i in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    num_parts = check_positive_int("num_parts", num_parts)
    if (
        isinstance(part_index, bool)
        or not isinstance(part_index, (int, np.integer))
        or not 0 <= part_index < num_parts
    ):
        raise ValueError(BAD_PART.format(num_parts=num_parts, part_index=part_index))
    base, extra = divmod(int(length), num_parts)
    start = part_index * base + min(part_index, extra)
    return start, start + base + (1 if part_index < extra else 0)


def _systematic_counts(fractions: np.ndarray, sizes: np.ndarray, rng) -> np.ndarray:
    """Integer counts per cell for each of ``len(sizes)`` draws of ``sizes[b]`` items.

    Systematic (Madow) rounding: cell ``c`` gets ``floor`` or ``ceil`` of
    ``sizes[b] * fractions[c]``, the expectation is exact and each row sums to ``sizes[b]``.

    fractions (C,) summing to 1, sizes (B,) -> counts (B, C) int64.
    """
    edges = np.concatenate([[0.0], np.cumsum(fractions)])  # (C + 1,)
    edges[-1] = 1.0  # the last edge must be exactly the size, whatever the rounding error
    scaled = sizes[:, None].astype(np.float64) * edges[None, :]  # (B, C + 1)
    offset = rng.random_sample((len(sizes), 1))  # (B, 1), in [0, 1)
    return np.diff(np.ceil(scaled - offset), axis=1).astype(np.int64)


class _CellRows:
    """Row indices of each cell, and draws from them.

    ``replacement=False`` takes rows from a cycle over a shuffled permutation of the cell
    (reshuffled at each wrap), kept across epochs; ``replacement=True`` draws uniformly.
    """

    def __init__(self, rows_by_cell: List[np.ndarray], rng: np.random.RandomState):
        self.rows = rows_by_cell
        self.rng = rng
        self._perm = [None] * len(rows_by_cell)
        self._pos = [0] * len(rows_by_cell)

    def _cycle(self, c: int, k: int, batch: bool = False) -> np.ndarray:
        """``k`` rows of cell ``c`` from its cycle. ``batch``: the rows go into one batch, so a
        wrap inside the call keeps the same shuffled order for one more pass (as FairBatch's
        code does) instead of drawing a new one: the rows taken after the wrap are then the
        head of the order, none of which is among the tail just taken (for ``k <= len(rows)``),
        and every row is still used once per pass."""
        rows = self.rows[c]
        parts = []
        while k > 0:
            if self._perm[c] is None:
                self._perm[c] = self.rng.permutation(rows)
                self._pos[c] = 0
            elif self._pos[c] >= len(rows):
                if not (batch and parts):
                    self._perm[c] = self.rng.permutation(rows)
                self._pos[c] = 0
            take = min(k, len(rows) - self._pos[c])
            parts.append(self._perm[c][self._pos[c]:self._pos[c] + take])
            self._pos[c] += take
            k -= take
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def draw(self, counts: np.ndarray, replacement: bool) -> np.ndarray:
        """Rows for each cell, ``counts[c]`` of cell ``c``, concatenated in cell order."""
        out = []
        for c, k in enumerate(counts):
            k = int(k)
            if k == 0:
                continue
            if replacement:
                out.append(self.rows[c][self.rng.randint(len(self.rows[c]), size=k)])
            else:
                out.append(self._cycle(c, k))
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    def draw_batch(self, counts: np.ndarray, replacement: bool) -> np.ndarray:
        """One batch: ``counts[c]`` rows of each cell, in cell order. Without replacement no row
        appears twice unless a cell has fewer rows than the batch asks of it."""
        if replacement:
            return self.draw(counts, replacement=True)
        out = [self._cycle(c, int(k), batch=True) for c, k in enumerate(counts) if k > 0]
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


class _CellSamplerBase(gluon.data.Sampler):
    """Shared set-up: host checks, global counts, the shard and its rows per cell."""

    def __init__(self, labels, groups, num_groups, num_classes, cell_counts, seed,
                 num_parts, part_index):
        if cell_counts is not None:
            table = np.asarray(to_numpy(cell_counts), dtype=np.float64)
            if table.ndim != 2 or np.any(table < 0) or not np.all(np.isfinite(table)):
                raise ValueError(
                    "cell_counts must be a non-negative (num_groups, num_classes) table, got "
                    f"shape {table.shape}"
                )
            num_groups, num_classes = table.shape
        y, g, _, num_groups, num_classes = _prepare(labels, groups, num_groups, num_classes, None)
        if y.size == 0:
            raise ValueError("labels and groups are empty; a sampler needs at least one row")
        self.num_groups = num_groups
        self.num_classes = num_classes
        self.num_parts = check_positive_int("num_parts", num_parts)
        self.part_index = part_index
        start, end = shard_range(len(y), num_parts, part_index)
        self._start, self._end = start, end
        # global counts (G, K): from the full arrays unless given
        self.cell_counts_ = (
            table if cell_counts is not None
            else _cell_counts_host(y, g, None, num_groups, num_classes)
        )
        cells = g[start:end] * num_classes + y[start:end]  # (n_shard,), flat cell id
        order = np.argsort(cells, kind="stable")
        bounds = np.searchsorted(cells[order], np.arange(num_groups * num_classes + 1))
        rows = start + order
        self._rows = [rows[bounds[c]:bounds[c + 1]] for c in range(len(bounds) - 1)]
        self.shard_counts_ = np.diff(bounds).reshape(num_groups, num_classes)  # (G, K)
        self._labels, self._groups = y, g
        self.seed = check_seed("seed", seed)
        self._rng = np.random.RandomState(self.seed)
        self._cells = _CellRows(self._rows, self._rng)

    def _check_shard_covers(self, target: np.ndarray) -> None:
        """Raise when the shard lacks rows of a cell that must be drawn (target > 0)."""
        missing = (target > 0) & (self.shard_counts_ == 0)
        if np.any(missing):
            g, y = (int(v) for v in np.argwhere(missing)[0])
            raise ValueError(SHARD_MISSES_CELL.format(
                part=self.part_index, parts=self.num_parts, g=g, y=y, p=target[g, y]))

    @property
    def shard(self) -> Tuple[int, int]:
        """Rows ``[start, end)`` this sampler draws from."""
        return self._start, self._end


class _RowSampler(_CellSamplerBase):
    """A sampler whose rows have probability ``row_weight[g, y]`` (then normalised over the
    shard), with per-cell draws as the module docstring explains."""

    def _setup_draws(self, row_weight: np.ndarray, num_samples, replacement: bool) -> None:
        self.row_weight_ = row_weight  # (G, K), unnormalised probability of one row of the cell
        mass = self.shard_counts_ * row_weight  # (G, K)
        total = mass.sum()
        if not total > 0:
            raise ValueError(EMPTY_SHARD.format(part=self.part_index, parts=self.num_parts))
        self.target_ = mass / total  # (G, K): cell proportions of the drawn rows
        self._fractions = self.target_.reshape(-1)
        # tables of the i.i.d. draw, over the cells with mass (C',)
        live = np.flatnonzero(self._fractions > 0)
        sizes = np.array([len(self._rows[c]) for c in live])
        self._cum = np.concatenate([[0.0], np.cumsum(self._fractions[live])[:-1]])
        # the slope is shrunk by 1e-9 so that rounding in u - cum (~1e-16) cannot carry a draw
        # past its cell's last row (for cells with fraction > 1e-6; the last one is clipped)
        self._slope = sizes / self._fractions[live] * (1.0 - 1e-9)
        self._intercept = np.concatenate([[0], np.cumsum(sizes)[:-1]]) - self._cum * self._slope
        self._sorted_rows = np.concatenate([self._rows[c] for c in live])
        if num_samples is None:
            num_samples = self._end - self._start
        self.num_samples = check_positive_int("num_samples", num_samples)
        if not isinstance(replacement, (bool, np.bool_)):
            raise TypeError(f"replacement must be a bool, got {replacement!r}")
        self.replacement = bool(replacement)

    def _iid_rows(self) -> np.ndarray:
        """``num_samples`` i.i.d. rows: one uniform number ``u`` picks the cell (by the
        cumulative cell fractions) and, rescaled within the cell's interval, the row in it:
        ``pos = offset[c] + (u - cum[c]) * n_c / fraction[c]``, one fused multiply-add."""
        u = self._rng.random_sample(self.num_samples)  # (S,)
        if len(self._cum) <= 8:  # a few comparisons beat a binary search
            cell = np.zeros(u.shape, dtype=np.intp)
            for edge in self._cum[1:]:
                cell += u >= edge
        else:
            cell = np.searchsorted(self._cum, u, side="right") - 1  # (S,), live cells only
        pos = (u * self._slope[cell] + self._intercept[cell]).astype(np.int64)
        np.minimum(pos, self._sorted_rows.size - 1, out=pos)
        return self._sorted_rows[pos]

    def __iter__(self):
        if self.replacement:
            return iter(self._iid_rows().tolist())
        counts = _systematic_counts(self._fractions, np.array([self.num_samples]), self._rng)
        rows = self._cells.draw(counts[0], replacement=False)
        self._rng.shuffle(rows)
        return iter(rows.tolist())

    def __len__(self) -> int:
        return self.num_samples


class ReweighingSampler(_RowSampler):
    """Draw rows with probability proportional to their reweighing weight.

    Each epoch follows the reweighed distribution: the (group, label) cells are drawn with
    proportions ``P(g) P(y)`` (Kamiran & Calders, 2012), so the label is independent of the
    group in what the model sees, while rows within a cell stay uniform.

    Parameters
    ----------
    labels : array of int, shape (N,)
        Class ids of the dataset rows, in ``[0, num_classes)``.
    groups : array of int, shape (N,)
        Group ids in ``[0, num_groups)``.
    num_samples : int, optional
        Indices per epoch; default the number of rows of the shard.
    replacement : bool, default True
        ``True``: i.i.d. draws. ``False``: per-cell counts fixed up to rounding and rows cycled
        without repetition within a cell (see the module docstring).
    seed : int, sequence of int or None, optional
        Seed of the sampler's own ``RandomState`` (anything NumPy accepts).
    num_parts, part_index : int
        Data-parallel sharding as in ``SplitSampler``; the weights use the global counts.
    num_groups, num_classes : int, optional
        Inferred as ``max + 1`` when not given.
    cell_counts : array, shape (G, K), optional
        Global (all-worker) cell counts to take the weights from, instead of the counts of
        ``labels``/``groups``.
    empty : {'raise', 'zero'}, default 'raise'
        An empty (group, label) cell whose group and label both occur cannot get its mass
        ``P(g)P(y)``: raise, or give it weight 0 with a warning (the drawn data then keep some
        group-label dependence); see :func:`~mxfair.data.weights_from_counts`.

    Attributes
    ----------
    cell_weights_ : np.ndarray, shape (G, K)
        The reweighing weight of each cell (:func:`~mxfair.data.weights_from_counts`).
    target_ : np.ndarray, shape (G, K)
        Expected proportion of each cell among the drawn indices.

    Examples
    --------
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> sampler = ReweighingSampler(y, g, seed=0)
    >>> len(list(sampler)) == len(sampler) == 8
    True
    >>> loader = gluon.data.DataLoader(
    ...     gluon.data.ArrayDataset(np.arange(8.0), y, g), batch_size=4, sampler=sampler)
    """

    def __init__(
        self,
        labels: ArrayLike,
        groups: ArrayLike,
        num_samples: Optional[int] = None,
        replacement: bool = True,
        seed: Optional[int] = None,
        num_parts: int = 1,
        part_index: int = 0,
        num_groups: Optional[int] = None,
        num_classes: Optional[int] = None,
        cell_counts: Optional[ArrayLike] = None,
        empty: EmptyPolicy = "raise",
    ):
        super().__init__(labels, groups, num_groups, num_classes, cell_counts, seed,
                         num_parts, part_index)
        self.empty = check_choice("empty", empty, {"raise", "zero"})
        self.cell_weights_ = _weights_from_counts_host(self.cell_counts_, self.empty)
        self._setup_draws(self.cell_weights_, num_samples, replacement)


class GroupBalancedSampler(_RowSampler):
    """Draw equal (or given) proportions of each (group, label) cell.

    Parameters
    ----------
    labels, groups : array of int, shape (N,)
    proportions : array, shape (G, K), optional
        Target share of each cell (normalised to sum 1). Default: equal shares over the cells
        that have rows; a positive share on an empty cell raises ``ValueError``. Use
        ``proportions`` with ones in a column only (e.g. ``[[0, 1], [0, 1]]``) to balance groups
        among the positives alone, or a per-group row to balance groups regardless of label.
    num_samples, replacement, seed, num_parts, part_index, num_groups, num_classes, cell_counts
        As in :class:`ReweighingSampler`.

    Attributes
    ----------
    target_ : np.ndarray, shape (G, K)
        Expected proportion of each cell among the drawn indices (equals the normalised
        ``proportions`` when the shard is the whole data).

    Examples
    --------
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> GroupBalancedSampler(y, g, seed=0).target_.tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """

    def __init__(
        self,
        labels: ArrayLike,
        groups: ArrayLike,
        proportions: Optional[ArrayLike] = None,
        num_samples: Optional[int] = None,
        replacement: bool = True,
        seed: Optional[int] = None,
        num_parts: int = 1,
        part_index: int = 0,
        num_groups: Optional[int] = None,
        num_classes: Optional[int] = None,
        cell_counts: Optional[ArrayLike] = None,
    ):
        super().__init__(labels, groups, num_groups, num_classes, cell_counts, seed,
                         num_parts, part_index)
        counts = self.cell_counts_
        shape = (self.num_groups, self.num_classes)
        if proportions is None:
            props = (counts > 0).astype(np.float64)
        else:
            props = np.asarray(to_numpy(proportions), dtype=np.float64)
            if props.shape != shape:
                raise ValueError(BAD_PROPORTIONS.format(G=shape[0], K=shape[1],
                                                        what=f"shape {props.shape}"))
            if not np.all(np.isfinite(props)) or np.any(props < 0) or props.sum() <= 0:
                raise ValueError(BAD_PROPORTIONS.format(G=shape[0], K=shape[1],
                                                        what=props.tolist()))
            bad = (props > 0) & (counts == 0)
            if np.any(bad):
                g, y = (int(v) for v in np.argwhere(bad)[0])
                raise ValueError(PROPORTION_ON_EMPTY_CELL.format(
                    g=g, y=y, p=props[g, y] / props.sum()))
        self.proportions_ = props / props.sum()
        row_weight = np.zeros(shape)
        np.divide(self.proportions_, counts, out=row_weight, where=counts > 0)
        self._setup_draws(row_weight, num_samples, replacement)


def _project_simplex(v: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v[support]`` onto the probability simplex; 0 off support."""
    out = np.zeros_like(v)
    x = v[support]
    u = np.sort(x)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.arange(1, len(u) + 1)
    rho = np.nonzero(u - css / k > 0)[0][-1]
    out[support] = np.maximum(x - css[rho] / (rho + 1.0), 0.0)
    return out


class FairBatchSampler(_CellSamplerBase):
    """FairBatch (Roh, Lee, Whang & Suh, ICLR 2021) as a Gluon *batch* sampler.

    Each batch holds, from every (group, label) cell, a number of rows set by the sampling
    ratios ``lambdas_``: label ``y`` keeps its share ``P(y)`` of the batch (as in FairBatch), and
    ``lambdas_[y, g]`` is group ``g``'s share of it. Between epochs, :meth:`update` moves the
    ratios toward the target fairness from the current model's per-cell losses. Use it as
    ``DataLoader(dataset, batch_sampler=FairBatchSampler(...))``.

    The update (the paper's Algorithm 1, a signed step of size ``alpha`` on the outer
    objective), with ``L[g, y]`` the mean loss of cell ``(g, y)``:

    * ``'equal_opportunity'`` (the paper's ``'eqopp'``): on the positive label, raise the share
      of the group with the largest loss ``L[g, pos]``.
    * ``'predictive_equality'`` (not in the paper; the same rule on the negatives): on the
      negative label (with more than two classes: the non-positive label whose loss gap is
      largest), raise the share of the group with the largest loss. A group's loss on its
      negatives tracks its false positive rate as its loss on the positives tracks its TPR;
      this is the step ``'equalized_odds'`` takes whenever the negatives have the larger gap.
    * ``'equalized_odds'`` (``'eqodds'``): pick the label whose loss gap ``max_g L - min_g L``
      is largest and raise the share of its worst group there.
    * ``'demographic_parity'`` (``'dp'``): ``L[g, y]`` is the loss of predicting the *positive*
      label, summed over the cell and divided by the group size ``n_g``; pick the label with the
      largest gap; on the positive label raise the share of the group with the largest value
      (the least selected), on another label lower it.

    **Generalisation to G > 2 groups** (for two groups it is exactly FairBatch's rule,
    ``lb += alpha`` or ``lb -= alpha`` then clipping to ``[0, 1]``): the chosen group's ratio
    moves by ``alpha`` and every other group of that label that has rows moves by
    ``alpha / (m - 1)`` the other way (``m`` such groups); the ratios are then projected
    (Euclidean) back onto the simplex over the groups with rows, which is the clipping when
    ``m = 2``. Groups with an undefined loss (NaN, no rows) are left out of the choice. Exact ties
    leave the ratios unchanged.

    **Batch composition**: exact per batch, as in FairBatch. A batch of ``s`` rows gets
    ``floor`` or ``ceil`` of ``s * P(y) * lambdas_[y, g]`` rows of each cell, by systematic
    rounding with a fresh random offset per batch, so each batch has exactly ``s`` rows and the
    expected composition equals the ratios even when they move by less than one row (FairBatch's
    ``round`` can leave small steps without effect and batch sizes off by one). Rows come from a
    shuffled cycle over each cell (``replacement=False``, FairBatch's default) or uniformly
    (``replacement=True``); each batch is shuffled. Without replacement a row never appears
    twice in a batch (unless the batch asks a cell for more rows than it has): when a cell's
    shuffled order runs out inside a batch, the batch continues from the head of the same order,
    as FairBatch's code does, and that order is kept for one more pass.

    Parameters
    ----------
    labels, groups : array of int, shape (N,)
    batch_size : int
    fairness : {'equalized_odds', 'equal_opportunity', 'predictive_equality', \
'demographic_parity'}, default 'equalized_odds'
        The constraint aimed at. Any alias of ``mxfair._constraints`` is accepted: the
        FairBatch code's ``'eqodds'``, ``'eqopp'``, ``'dp'``, fairlearn's
        ``'true_positive_rate_parity'``, ``'false_positive_rate_parity'``... The ``fairness``
        attribute holds the canonical name.
    alpha : float, default 0.005
        Step size of the ratios per :meth:`update` (the paper uses 0.005 to 0.01).
    pos_label : int, default 1
    num_samples : int, optional
        Rows per epoch; default the number of rows of the shard.
    last_batch : {'discard', 'keep'}, default 'discard'
        ``'discard'`` (FairBatch's choice) yields ``num_samples // batch_size`` full batches;
        ``'keep'`` adds one smaller batch of the remaining rows.
    replacement : bool, default False
    seed : int, optional
    num_parts, part_index, num_groups, num_classes, cell_counts
        As in :class:`ReweighingSampler`; every worker must call :meth:`update` with the same
        (global) evidence, e.g. an allreduced ``GroupStats``, so that the ratios agree.

    Attributes
    ----------
    lambdas_ : np.ndarray, shape (K, G)
        Group shares within each label; rows sum to 1 (a label without rows: all 0).
    target_ : np.ndarray, shape (G, K)
        Expected proportion of each cell in a batch.

    Examples
    --------
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 1] * 4)
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1] * 4)
    >>> fb = FairBatchSampler(y, g, batch_size=8, fairness="eqopp", alpha=0.1, seed=0)
    >>> fb.lambdas_[1].tolist()
    [0.75, 0.25]
    >>> _ = fb.update(np.array([[0.3, 0.2], [0.4, 0.9]]))  # group 1 has the larger loss on y=1
    >>> fb.lambdas_[1].round(2).tolist()
    [0.65, 0.35]
    """

    def __init__(
        self,
        labels: ArrayLike,
        groups: ArrayLike,
        batch_size: int,
        fairness: ConstraintName = "equalized_odds",
        alpha: float = 0.005,
        pos_label: int = 1,
        num_samples: Optional[int] = None,
        last_batch: Literal["discard", "keep"] = "discard",
        replacement: bool = False,
        seed: Optional[int] = None,
        num_parts: int = 1,
        part_index: int = 0,
        num_groups: Optional[int] = None,
        num_classes: Optional[int] = None,
        cell_counts: Optional[ArrayLike] = None,
    ):
        super().__init__(labels, groups, num_groups, num_classes, cell_counts, seed,
                         num_parts, part_index)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.fairness = canonical_constraint(fairness, allowed=FAIRNESS_TYPES,
                                             argument="fairness")
        self.alpha = check_number("alpha", alpha, low=0, high=1, low_inclusive=False)
        if not 0 <= pos_label < self.num_classes:
            raise ValueError(
                f"pos_label must be a class id in [0, {self.num_classes}), got {pos_label!r}"
            )
        self.pos_label = int(pos_label)
        self.last_batch = check_choice("last_batch", last_batch, {"discard", "keep"})
        if not isinstance(replacement, (bool, np.bool_)):
            raise TypeError(f"replacement must be a bool, got {replacement!r}")
        self.replacement = bool(replacement)
        if num_samples is None:
            num_samples = self._end - self._start
        self.num_samples = check_positive_int("num_samples", num_samples)
        if self.last_batch == "discard" and self.num_samples < self.batch_size:
            raise ValueError(
                f"num_samples={self.num_samples} is smaller than batch_size={self.batch_size}: "
                "with last_batch='discard' no batch would be yielded"
            )
        counts = self.cell_counts_  # (G, K) global
        self._support = (counts > 0).T  # (K, G): cells that can be drawn
        n_y = counts.sum(axis=0)  # (K,)
        self.label_share_ = n_y / n_y.sum()  # (K,), P(y), fixed as in FairBatch
        lam = np.zeros((self.num_classes, self.num_groups))
        np.divide(counts.T, n_y[:, None], out=lam, where=n_y[:, None] > 0)
        self.lambdas_ = lam  # (K, G); starts at the data's own composition
        self.initial_lambdas_ = lam.copy()
        self._check_shard_covers(self._support.T.astype(float))
        self.history_: List[np.ndarray] = [lam.copy()]

    # ----------------------------------------------------------------------------- batches
    @property
    def target_(self) -> np.ndarray:
        """Expected proportion of each (group, label) cell in a batch, shape (G, K)."""
        return (self.lambdas_ * self.label_share_[:, None]).T

    def _batch_sizes(self) -> np.ndarray:
        full, rest = divmod(self.num_samples, self.batch_size)
        sizes = [self.batch_size] * full
        if rest and self.last_batch == "keep":
            sizes.append(rest)
        return np.asarray(sizes, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._batch_sizes())

    def __iter__(self):
        sizes = self._batch_sizes()  # (B,)
        counts = _systematic_counts(self.target_.reshape(-1), sizes, self._rng)  # (B, C)
        for row_counts in counts:
            batch = self._cells.draw_batch(row_counts, self.replacement)
            self._rng.shuffle(batch)
            yield batch.tolist()

    # ------------------------------------------------------------------------------ update
    def cell_losses(self, probs: Optional[ArrayLike] = None,
                    losses: Optional[ArrayLike] = None) -> np.ndarray:
        """Per-cell losses ``L[g, y]`` the update compares, from per-row model outputs.

        Parameters
        ----------
        probs : array, shape (N,) or (N, K), optional
            Predicted probabilities for the sampler's full ``labels``: (N,) is the probability
            of class 1 of a binary task. The per-row loss is the cross-entropy of the true
            label (equal opportunity, predictive equality, equalized odds) or of ``pos_label``
            (demographic parity), as in FairBatch.
        losses : array, shape (N,), optional
            Per-row losses, already computed the way ``fairness`` needs (for demographic
            parity: the loss of predicting ``pos_label``).

        Returns
        -------
        np.ndarray, shape (G, K)
            Mean loss per cell (demographic parity: sum per cell divided by the group size);
            NaN for an empty cell.
        """
        n = len(self._labels)
        if (probs is None) == (losses is None):
            raise ValueError("give exactly one of probs= or losses=")
        if probs is not None:
            p = np.asarray(to_numpy(probs), dtype=np.float64)
            if p.ndim == 1:
                if self.num_classes != 2:
                    raise ValueError(
                        f"probs of shape (N,) need binary labels, not {self.num_classes} classes"
                    )
                p = np.stack([1.0 - p, p], axis=1)
            if p.ndim != 2 or p.shape != (n, self.num_classes):
                raise ValueError(
                    f"probs must have shape ({n},) or ({n}, {self.num_classes}), got {p.shape}"
                )
            dp = self.fairness == "demographic_parity"
            cls = np.full(n, self.pos_label) if dp else self._labels
            per_row = -np.log(np.clip(p[np.arange(n), cls], 1e-7, 1.0))
        else:
            per_row = np.asarray(to_numpy(losses), dtype=np.float64).reshape(-1)
            if per_row.shape != (n,):
                raise ValueError(f"losses must have shape ({n},), got {per_row.shape}")
        if not np.all(np.isfinite(per_row)):
            raise ValueError("per-row losses must be finite")
        sums = _cell_counts_host(self._labels, self._groups, per_row, self.num_groups,
                                 self.num_classes)  # (G, K)
        counts = _cell_counts_host(self._labels, self._groups, None, self.num_groups,
                                   self.num_classes)
        den = counts.sum(axis=1, keepdims=True) if self.fairness == "demographic_parity" \
            else counts
        out = np.full(sums.shape, np.nan)
        np.divide(sums, np.broadcast_to(den, sums.shape), out=out, where=counts > 0)
        return out

    def _losses_from_confusion(self, conf: np.ndarray) -> np.ndarray:
        """0-1 analogue of the per-cell losses from confusion counts (G, K, K) [group, true,
        pred]: error rate of the cell, or (demographic parity) share of the group that is in
        the cell and not predicted positive."""
        conf = np.asarray(conf, dtype=np.float64)
        shape = (self.num_groups, self.num_classes, self.num_classes)
        if conf.shape != shape:
            raise ValueError(f"confusion counts must have shape {shape}, got {conf.shape}")
        n_cell = conf.sum(axis=2)  # (G, K)
        if self.fairness == "demographic_parity":
            not_pos = n_cell - conf[:, :, self.pos_label]
            n_g = np.broadcast_to(n_cell.sum(axis=1, keepdims=True), n_cell.shape)
            out = np.full(n_cell.shape, np.nan)
            np.divide(not_pos, n_g, out=out, where=n_cell > 0)
            return out
        correct = np.diagonal(conf, axis1=1, axis2=2)  # (G, K)
        out = np.full(n_cell.shape, np.nan)
        np.divide(n_cell - correct, n_cell, out=out, where=n_cell > 0)
        return out

    def _step(self, y: int, worst: int, up: bool) -> None:
        support = self._support[y]
        m = int(support.sum())
        if m < 2:
            return
        step = np.where(support, -self.alpha / (m - 1), 0.0)
        step[worst] = self.alpha
        if not up:
            step = -step
        self.lambdas_[y] = _project_simplex(self.lambdas_[y] + step, support)

    def update(self, source: Any = None, *, probs: Optional[ArrayLike] = None,
               losses: Optional[ArrayLike] = None) -> "FairBatchSampler":
        """Move the sampling ratios one step toward the target fairness; call between epochs.

        Parameters
        ----------
        source : GroupStats, FairnessReport or array, optional
            A ``mxfair.metrics.GroupStats`` or ``FairnessReport``: its confusion ``counts``
            (G, K, K) give 0-1 losses per cell (the cell's error rate; for demographic parity
            the share of the group that is in the cell and not predicted ``pos_label``). Or the
            per-cell losses ``L`` as an array of shape (G, K), or (G,) for the positive label
            (equal opportunity only). NumPy or NDArray.
        probs, losses : array, optional
            Per-row model outputs on the sampler's full ``labels``; see :meth:`cell_losses`.

        Returns
        -------
        self
        """
        given = [x is not None for x in (source, probs, losses)]
        if sum(given) != 1:
            raise ValueError(FAIRBATCH_UPDATE.format(what=f"{sum(given)} of them"))
        if source is None:
            cell_loss = self.cell_losses(probs=probs, losses=losses)
        elif hasattr(source, "counts"):  # GroupStats or FairnessReport: (G, K, K) counts
            if source.counts is None:
                raise ValueError("the GroupStats has no data yet; update it before FairBatch")
            cell_loss = self._losses_from_confusion(to_numpy(source.counts))
        else:
            arr = np.asarray(to_numpy(source), dtype=np.float64)
            if arr.shape == (self.num_groups,):
                if self.fairness != "equal_opportunity":
                    raise ValueError(
                        f"per-group losses of shape ({self.num_groups},) drive only "
                        f"fairness='eqopp' (equal_opportunity), not {self.fairness!r}; give "
                        "(G, K) cell losses"
                    )
                full = np.full((self.num_groups, self.num_classes), np.nan)
                full[:, self.pos_label] = arr
                arr = full
            if arr.shape != (self.num_groups, self.num_classes):
                raise ValueError(FAIRBATCH_UPDATE.format(what=f"an array of shape {arr.shape}"))
            cell_loss = arr
        self.last_cell_losses_ = cell_loss
        self._apply(cell_loss)
        self.history_.append(self.lambdas_.copy())
        return self

    def _apply(self, cell_loss: np.ndarray) -> None:
        """One FairBatch step from per-cell losses (G, K)."""
        loss = np.where(self._support.T, cell_loss, np.nan).T  # (K, G), NaN off support
        valid = ~np.isnan(loss)
        gaps = np.full(self.num_classes, -np.inf)
        for y in range(self.num_classes):
            if valid[y].sum() >= 2:
                gaps[y] = np.nanmax(loss[y]) - np.nanmin(loss[y])
        if self.fairness == "equal_opportunity":
            y = self.pos_label
        elif self.fairness == "predictive_equality":
            negatives = [k for k in range(self.num_classes) if k != self.pos_label]
            y = negatives[int(np.argmax(gaps[negatives]))]
        else:
            y = int(np.argmax(gaps))
        if not np.isfinite(gaps[y]) or gaps[y] <= 0:
            return  # one group only, or a tie: nothing to move toward
        worst = int(np.nanargmax(loss[y]))
        up = self.fairness != "demographic_parity" or y == self.pos_label
        self._step(y, worst, up)
