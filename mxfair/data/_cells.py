"""The (group, label) cells behind reweighing and the samplers.

Host-side: checked ids (:func:`prepare_ids`), per-cell counts (:func:`count_cells`), the
reweighing formula on a table of counts (:func:`cell_weights`), the rows of a worker's part
(:func:`shard_range`), and drawing rows cell by cell (:class:`CellRows`,
:func:`systematic_counts`) for the samplers, whose shared set-up is :class:`CellSampler`.
"""
import warnings
from typing import List, Optional, Tuple

import numpy as np
from mxnet import gluon

from .._ops import to_numpy
from .._validation import (
    check_ids,
    check_positive_int,
    check_same_length,
    check_sample_weight,
    check_seed,
)

__all__: list = []

EMPTY_CELL = (
    "the (group={g}, label={y}) cell has no rows, although group {g} and label {y} both occur: "
    "reweighing cannot give it the mass P(g)P(y) > 0; merge groups, drop the label, or pass "
    "empty='zero' to give such cells weight 0"
)
EMPTY_CELL_ZERO = (
    "the (group={g}, label={y}) cell has no rows, although group {g} and label {y} both occur; "
    "its weight is set to 0 (empty='zero') and the weighted data keep a group-label dependence"
)
BAD_COUNTS = "cell_counts must be a 2-D (num_groups, num_classes) table of non-negative {what}"
BAD_PART = "part_index must be in [0, num_parts={num_parts}), got {part_index!r}"
SHARD_MISSES_CELL = (
    "part {part} of {parts} has no row in cell (group={g}, label={y}), which has target "
    "proportion {p:.3g}; shuffle the dataset before sharding or use fewer parts"
)
EMPTY_SHARD = "part {part} of {parts} has no rows with a positive sampling weight"


def _ids(name: str, what: str, values, bound: Optional[int]) -> Tuple[np.ndarray, int]:
    """Ids as int64 in ``[0, bound)`` and ``bound`` (inferred as ``max + 1`` when not given)."""
    if bound is not None:
        bound = check_positive_int(f"num_{'classes' if name == 'labels' else name}", bound)
    ids = check_ids(name, values, bound, what=what)
    if bound is None:
        bound = int(ids.max()) + 1 if ids.size else 1
    return ids, bound


def prepare_ids(labels, groups, num_groups, num_classes, sample_weight):
    """Host-side checks shared by reweighing and the samplers: (y, g, w or None, G, K).

    Ids go through ``check_ids`` (strings: TypeError pointing to GroupEncoder; NaN,
    non-integer or out-of-range ids: ValueError naming the argument), weights through
    ``check_sample_weight`` (finite, >= 0)."""
    check_same_length(labels=labels, groups=groups, sample_weight=sample_weight)
    y, num_classes = _ids("labels", "labels", labels, num_classes)
    g, num_groups = _ids("groups", "group ids", groups, num_groups)
    w = None if sample_weight is None else check_sample_weight("sample_weight", sample_weight)
    return y, g, w, num_groups, num_classes


def count_cells(y, g, w, num_groups: int, num_classes: int) -> np.ndarray:
    """Per-cell (weighted) counts, float64 (G, K); row ``i`` goes to cell ``(g_i, y_i)``."""
    flat = g * num_classes + y
    out = np.bincount(flat, weights=w, minlength=num_groups * num_classes)
    return out.astype(np.float64).reshape(num_groups, num_classes)


def cell_weights(counts: np.ndarray, empty: str) -> np.ndarray:
    """The reweighing weight of each cell, ``n_g n_y / (n n_{g,y})``, from a (G, K) table of
    counts: the one home of the formula (see :func:`mxfair.data.weights_from_counts`)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(BAD_COUNTS.format(what=f"counts, got shape {counts.shape}"))
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(BAD_COUNTS.format(what="finite counts, got negative or non-finite ones"))
    n = counts.sum()
    if n <= 0:
        raise ValueError(BAD_COUNTS.format(what="counts with a positive total, got all zeros"))
    n_g = counts.sum(axis=1, keepdims=True)  # (G, 1)
    n_y = counts.sum(axis=0, keepdims=True)  # (1, K)
    expected = n_g * n_y  # (G, K), n * (expected count under independence)
    weights = np.zeros_like(counts)
    filled = counts > 0
    weights[filled] = expected[filled] / (n * counts[filled])
    missing = (~filled) & (expected > 0)
    if np.any(missing):
        g, y = (int(v) for v in np.argwhere(missing)[0])
        if empty == "raise":
            raise ValueError(EMPTY_CELL.format(g=g, y=y))
        warnings.warn(EMPTY_CELL_ZERO.format(g=g, y=y), UserWarning, stacklevel=3)
    return weights


def shard_range(length: int, *, num_parts: int = 1, part_index: int = 0) -> Tuple[int, int]:
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
    >>> [shard_range(10, num_parts=3, part_index=i) for i in range(3)]
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


def systematic_counts(fractions: np.ndarray, sizes: np.ndarray, rng) -> np.ndarray:
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


class CellRows:
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


class CellSampler(gluon.data.Sampler):
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
        y, g, _, num_groups, num_classes = prepare_ids(labels, groups, num_groups, num_classes,
                                                       None)
        if y.size == 0:
            raise ValueError("labels and groups are empty; a sampler needs at least one row")
        self.num_groups = num_groups
        self.num_classes = num_classes
        self.num_parts = check_positive_int("num_parts", num_parts)
        self.part_index = part_index
        start, end = shard_range(len(y), num_parts=num_parts, part_index=part_index)
        self._start, self._end = start, end
        # global counts (G, K): from the full arrays unless given
        self.cell_counts_ = (
            table if cell_counts is not None
            else count_cells(y, g, None, num_groups, num_classes)
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
        self._cells = CellRows(self._rows, self._rng)

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
