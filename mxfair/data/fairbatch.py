"""FairBatch (Roh, Lee, Whang & Suh, ICLR 2021): a batch sampler whose per-cell composition
moves, between epochs, toward the target fairness from the current model's per-cell losses.

See :class:`FairBatchSampler`; the row samplers (reweighing, group-balanced) are in
:mod:`mxfair.data.samplers`, and both share the cells and the sharding of
``mxfair/data/_cells.py``.
"""
from typing import Any, List, Literal, Optional

import numpy as np

from .._constraints import (
    CONSTRAINTS,
    RATE_LABELS,
    ConstraintName,
    canonical_constraint,
    constraints_over,
)
from .._ops import ArrayLike, to_numpy
from .._validation import check_choice, check_flag, check_number, check_positive_int
from ._cells import CellSampler, count_cells, systematic_counts

__all__ = ["FairBatchSampler"]

FAIRBATCH_UPDATE = (
    "update() takes exactly one of: a GroupStats, a FairnessReport, a (G, K) or (G,) array of "
    "losses as `source`, `probs=` or `losses=` per row; got {what}"
)


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


class FairBatchSampler(CellSampler):
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
    constraint : {'equalized_odds', 'equal_opportunity', 'predictive_equality', \
'demographic_parity'}, default 'equalized_odds'
        The constraint aimed at. Any alias of ``mxfair.CONSTRAINTS`` is accepted: the
        FairBatch code's ``'eqodds'``, ``'eqopp'``, ``'dp'``, fairlearn's
        ``'true_positive_rate_parity'``, ``'false_positive_rate_parity'``... The ``constraint``
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
    >>> fb = FairBatchSampler(y, g, batch_size=8, constraint="eqopp", alpha=0.1, seed=0)
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
        *,
        constraint: ConstraintName = "equalized_odds",
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
        self.constraint = canonical_constraint(constraint, allowed=constraints_over(RATE_LABELS))
        self.alpha = check_number("alpha", alpha, low=0, high=1, low_inclusive=False)
        if not 0 <= pos_label < self.num_classes:
            raise ValueError(
                f"pos_label must be a class id in [0, {self.num_classes}), got {pos_label!r}"
            )
        self.pos_label = int(pos_label)
        # What the update compares follows the constraint's rates (mxfair.CONSTRAINTS): a TPR
        # the cells of the positive label, an FPR those of the other labels, both every label;
        # a selection rate (demographic parity) every label, with the loss of predicting the
        # positive label (and the share of the group moved the other way off it).
        conditions = {RATE_LABELS[rate] for rate in CONSTRAINTS[self.constraint]}
        self._selection = None in conditions
        labels_of = {1: [self.pos_label],
                     0: [k for k in range(self.num_classes) if k != self.pos_label]}
        self._compared = (list(range(self.num_classes)) if self._selection
                          else sorted(k for c in conditions for k in labels_of[c]))
        self.last_batch = check_choice("last_batch", last_batch, {"discard", "keep"})
        self.replacement = check_flag("replacement", replacement)
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
        counts = systematic_counts(self.target_.reshape(-1), sizes, self._rng)  # (B, C)
        for row_counts in counts:
            batch = self._cells.draw_batch(row_counts, self.replacement)
            self._rng.shuffle(batch)
            yield batch.tolist()

    # ------------------------------------------------------------------------------ update
    def cell_losses(self, *, probs: Optional[ArrayLike] = None,
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
            Per-row losses, already computed the way ``constraint`` needs (for demographic
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
            cls = np.full(n, self.pos_label) if self._selection else self._labels
            per_row = -np.log(np.clip(p[np.arange(n), cls], 1e-7, 1.0))
        else:
            per_row = np.asarray(to_numpy(losses), dtype=np.float64).reshape(-1)
            if per_row.shape != (n,):
                raise ValueError(f"losses must have shape ({n},), got {per_row.shape}")
        if not np.all(np.isfinite(per_row)):
            raise ValueError("per-row losses must be finite")
        sums = count_cells(self._labels, self._groups, per_row, self.num_groups,
                                 self.num_classes)  # (G, K)
        counts = count_cells(self._labels, self._groups, None, self.num_groups,
                                   self.num_classes)
        den = counts.sum(axis=1, keepdims=True) if self._selection else counts
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
        if self._selection:
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
                if self._selection or self._compared != [self.pos_label]:
                    raise ValueError(
                        f"per-group losses of shape ({self.num_groups},) drive only "
                        f"constraint='equal_opportunity' (the positive label's cells), not "
                        f"{self.constraint!r}; give (G, K) cell losses"
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
        y = self._compared[int(np.argmax(gaps[self._compared]))]  # the largest loss gap
        if not np.isfinite(gaps[y]) or gaps[y] <= 0:
            return  # one group only, or a tie: nothing to move toward
        worst = int(np.nanargmax(loss[y]))
        up = not self._selection or y == self.pos_label
        self._step(y, worst, up)
