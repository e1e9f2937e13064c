"""Row samplers for ``gluon.data.DataLoader`` that draw (group, label) cells in set proportions.

* :class:`ReweighingSampler` draws rows so that each epoch follows the reweighed distribution
  ``P(g) P(y)`` over (group, label) cells (Kamiran & Calders, 2012).
* :class:`GroupBalancedSampler` draws equal (or user-given) proportions of each cell.

(:class:`~mxfair.data.FairBatchSampler`, a batch sampler whose composition adapts between
epochs, is in :mod:`mxfair.data.fairbatch`.) All three keep their own seeded
``np.random.RandomState`` (each epoch differs, the sequence of epochs is reproducible from
``seed``), check their inputs on the host at construction, and
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
from typing import Optional

import numpy as np

from .._ops import ArrayLike, to_numpy
from .._validation import check_choice, check_flag, check_positive_int
from ._cells import EMPTY_SHARD, CellSampler, cell_weights, shard_range, systematic_counts
from .reweighing import EmptyPolicy

__all__ = ["shard_range", "ReweighingSampler", "GroupBalancedSampler"]

BAD_PROPORTIONS = (
    "proportions must be a non-negative ({G}, {K}) table with a positive sum, got {what}"
)
PROPORTION_ON_EMPTY_CELL = (
    "proportions give cell (group={g}, label={y}) the share {p:.3g}, but that cell has no rows"
)


class _RowSampler(CellSampler):
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
        self.replacement = check_flag("replacement", replacement)

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
        counts = systematic_counts(self._fractions, np.array([self.num_samples]), self._rng)
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
    >>> from mxnet import gluon
    >>> loader = gluon.data.DataLoader(
    ...     gluon.data.ArrayDataset(np.arange(8.0), y, g), batch_size=4, sampler=sampler)
    """

    def __init__(
        self,
        labels: ArrayLike,
        groups: ArrayLike,
        *,
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
        self.cell_weights_ = cell_weights(self.cell_counts_, self.empty)
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
        *,
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


