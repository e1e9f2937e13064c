r"""The constraint set of a fairness bound, measured on held-out rows.

A bound :math:`\epsilon` on the *between-groups* difference of a rate (the figure
``FairnessReport.difference(rate)`` reports, fairlearn's ``method="between_groups"``) is the
set of constraints

.. math::

    |r_{a,c} - r_{b,c}| \le \epsilon \qquad \text{for every pair of groups } a < b
    \text{ and every column } c,

where :math:`r_{g,c}` is group g's rate in column c: the selection rate (demographic parity),
the TPR (equal opportunity), the FPR (predictive equality), TPR and FPR (equalized odds); for a
K-class task, each of those one-vs-rest per class. With G groups and C columns that is
:math:`m = C\,G(G-1)/2` constraints, one multiplier each (1 for two groups and demographic
parity, 2 for equalized odds: TPR and FPR). They hold together exactly when
:math:`\max_g r_{g,c} - \min_g r_{g,c} \le \epsilon` in every column: the bound is the
between-groups gap the package reports, not fairlearn's reductions' ``|r_g - r| <= eps``
against the overall rate (which allows a between-groups gap up to about :math:`2\epsilon`).

:class:`RateBound` measures the constraints from a :class:`~mxfair.metrics.GroupStats`, a
:class:`~mxfair.metrics.FairnessReport` or a :class:`~mxfair.callbacks.FairnessMonitor` (its
latest report), and :func:`constraint_slice` holds out the rows they are measured on.
"""
import warnings
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from .._constraints import CONSTRAINTS, canonical_constraint
from .._validation import (
    check_ids,
    check_not_empty,
    check_number,
    check_positive_int,
    check_same_length,
)
from ..loss import RATE_STATISTICS, Statistic, get_statistic
from ..metrics import FairnessReport, GroupStats, UndefinedRateWarning

__all__ = ["RateBound", "constraint_slice", "SOURCE_TYPES"]

#: What ``RateBound`` can measure from.
SOURCE_TYPES = "a GroupStats, a FairnessReport or a FairnessMonitor that has evaluated"

BAD_SOURCE = "{name} must be " + SOURCE_TYPES + ", got {value!r}"
SHAPE_MISMATCH = (
    "the statistics have {got} groups and {got_k} classes, but this bound was built for "
    "num_groups={g} and num_classes={k}"
)
UNMEASURABLE = (
    "{what} is undefined for group(s) {groups} on the held-out rows (no rows, or no rows "
    "of the label it conditions on): the constraints on those groups cannot be measured and "
    "are left out; give the held-out slice more rows of those groups"
)


class RateBound:
    r"""``max_g r_g - min_g r_g <= bound`` for the rate(s) of a constraint, as ``m`` linear
    constraints ``r_a - r_b <= bound`` over ordered pairs of groups.

    Parameters
    ----------
    constraint : str or Statistic
        ``'demographic_parity'``, ``'equal_opportunity'``, ``'predictive_equality'``,
        ``'equalized_odds'`` or an alias (``mxfair.canonical_constraint``), or a statistic of
        ``mxfair.loss`` built from the positive rate, TPR and FPR.
    num_groups : int
        G >= 2.
    bound : float
        The allowed between-groups difference ``eps``, in [0, 1).
    num_classes : int, default 2
        K > 2: the rates are one-vs-rest per class (K columns per rate).

    Attributes
    ----------
    constraint : str
        Canonical name (or the custom statistic's name).
    statistic : mxfair.loss.Statistic
        The soft version of the rates, for the training-side proxy.
    rates : tuple of str
        The report's rate names, in the statistic's column order.
    num_columns : int
        C: ``len(rates)`` (binary) or ``len(rates) * K``.
    pairs : ndarray of int, shape (m, 3)
        ``(c, a, b)`` of constraint j, ``a < b``: ``|r[a, c] - r[b, c]| <= bound``.

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.metrics import GroupStats
    >>> rb = RateBound("demographic_parity", num_groups=2, bound=0.1)
    >>> rb.num_constraints, rb.pairs.tolist()
    (1, [[0, 0, 1]])
    >>> stats = GroupStats(2, from_logits=False)
    >>> stats.update(np.array([0, 1, 0, 1]), np.array([0.9, 0.8, 0.1, 0.7]),
    ...              np.array([0, 0, 1, 1]))
    >>> rb.violations(stats).round(3).tolist()   # rates 1.0 and 0.5: |1.0 - 0.5| - 0.1
    [0.4]
    >>> rb.gap(stats), rb.is_met(stats)
    (0.5, False)
    """

    def __init__(self, constraint: Union[str, Statistic], num_groups: int, bound: float, *,
                 num_classes: int = 2):
        self.num_groups = check_positive_int("num_groups", num_groups)
        if self.num_groups < 2:
            raise ValueError(f"num_groups must be at least 2 for a between-groups bound, "
                             f"got {num_groups!r}")
        self.num_classes = check_positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        self.bound = check_number("bound", bound, low=0, high=1, high_inclusive=False)
        self.statistic = get_statistic(constraint)
        if isinstance(constraint, str):  # the rates from the one table, mxfair.CONSTRAINTS
            self.constraint = canonical_constraint(constraint)
            self.rates: Tuple[str, ...] = tuple(CONSTRAINTS[self.constraint])
        else:  # a statistic: the table's rates whose soft statistic it stacks
            self.constraint = self.statistic.name
            self.rates = _rates_of(self.statistic, constraint)
        per_rate = 1 if self.num_classes == 2 else self.num_classes
        self.num_columns = len(self.rates) * per_rate
        G = self.num_groups
        self.pairs = np.array([(c, a, b) for c in range(self.num_columns)
                               for a in range(G) for b in range(a + 1, G)], dtype=np.int64)
        self._warned: set = set()

    @property
    def num_constraints(self) -> int:
        """m = C * G * (G - 1) / 2."""
        return int(self.pairs.shape[0])

    # ---------------------------------------------------------------- measuring
    def report_of(self, source: Any, *, name: str = "source") -> FairnessReport:
        """The FairnessReport of a GroupStats, a FairnessReport or a FairnessMonitor."""
        if isinstance(source, GroupStats):
            report = source.report()
        elif isinstance(source, FairnessReport):
            report = source
        elif getattr(source, "last_report", None) is not None and isinstance(
                source.last_report, FairnessReport):
            report = source.last_report
        else:
            raise TypeError(BAD_SOURCE.format(name=name, value=source))
        if report.num_groups != self.num_groups or report.num_classes != self.num_classes:
            raise ValueError(SHAPE_MISMATCH.format(
                got=report.num_groups, got_k=report.num_classes, g=self.num_groups,
                k=self.num_classes))
        return report

    def group_rates(self, source: Any) -> np.ndarray:
        """Per-group rates, shape (G, C); NaN where a group's rate is undefined."""
        report = self.report_of(source)
        columns = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedRateWarning)
            for rate in self.rates:
                values = np.asarray(report[rate], dtype=np.float64)
                columns.append(values.reshape(self.num_groups, -1))
        rates = np.concatenate(columns, axis=1)  # (G, C)
        self._warn_undefined(rates)
        return rates

    def _warn_undefined(self, rates: np.ndarray) -> None:
        bad = np.isnan(rates)
        if not bad.any():
            return
        key = tuple(np.flatnonzero(bad.any(axis=1)))
        if key in self._warned:  # once per set of groups, not at every update
            return
        self._warned.add(key)
        what = "/".join(self.rates)
        warnings.warn(UNMEASURABLE.format(what=what, groups=list(key)), UndefinedRateWarning,
                      stacklevel=3)

    def violations(self, source: Any) -> np.ndarray:
        """``|r[a, c] - r[b, c]| - bound`` per constraint, shape (m,); NaN where undefined.

        Positive: violated; <= 0: met.
        """
        rates = self.group_rates(source)
        c, a, b = self.pairs.T
        return np.abs(rates[a, c] - rates[b, c]) - self.bound

    def gap(self, source: Any) -> float:
        """The between-groups gap the package reports: the largest
        ``FairnessReport.difference(rate)`` over the constraint's rates (groups where a rate is
        undefined left out; NaN if no rate is defined for two groups)."""
        report = self.report_of(source)
        self.group_rates(report)  # the warning about unmeasurable groups, once
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedRateWarning)
            gaps = np.array([report.difference(rate) for rate in self.rates])
        return float(np.nanmax(gaps)) if np.isfinite(gaps).any() else float("nan")

    def is_met(self, source: Any) -> bool:
        """Whether the gap is at most the bound (False when it cannot be measured)."""
        gap = self.gap(source)
        return bool(gap <= self.bound + 1e-12)

    def __repr__(self) -> str:
        return (f"RateBound({self.constraint!r}, num_groups={self.num_groups}, "
                f"bound={self.bound}, num_classes={self.num_classes})")


def _rates_of(statistic: Statistic, constraint: Any) -> Tuple[str, ...]:
    """The report's rates a custom statistic is made of (``mxfair.loss.RATE_STATISTICS``
    read backwards), or ValueError naming the parts a FairnessReport does not measure."""
    parts = getattr(statistic, "statistics", (statistic,))
    by_class = {kind: rate for rate, kind in RATE_STATISTICS.items()}
    unknown = [type(p).__name__ for p in parts if type(p) not in by_class]
    if unknown:
        raise ValueError(
            f"constraint {constraint!r} has statistic(s) {unknown} that a FairnessReport "
            f"does not measure; use one built from "
            f"{[kind.__name__ for kind in RATE_STATISTICS.values()]}")
    return tuple(by_class[type(p)] for p in parts)


def constraint_slice(labels: Any, groups: Any, *, fraction: float = 0.2,
                     seed: Optional[int] = 0, num_groups: Optional[int] = None
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Split row indices of a training set into rows to train on and a held-out slice on which
    the constraints are measured (the second data set of Cotter et al., 2019).

    The split is stratified by (group, label) cell, so the slice has the training set's group
    and label shares, and seeded. The slice is taken from the *training* data: the validation
    split stays free for model selection and for fitting post-processing, and every method of
    a comparison sees the same labelled rows.

    Parameters
    ----------
    labels : array, shape (N,)
        Class ids (integers).
    groups : array, shape (N,)
        Group ids in ``[0, num_groups)``.
    fraction : float, default 0.2
        Share of each cell held out, in (0, 1).
    seed : int, optional
    num_groups : int, optional
        Checked range of the ids (default: ``max(groups) + 1``).

    Returns
    -------
    (train_idx, slice_idx) : two sorted int64 arrays that partition ``range(N)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1] * 10)
    >>> g = np.array([0] * 10 + [1] * 10)
    >>> train_idx, slice_idx = constraint_slice(y, g, fraction=0.2, seed=0)
    >>> len(train_idx), len(slice_idx), sorted(set(train_idx) | set(slice_idx)) == list(range(20))
    (16, 4, True)
    """
    fraction = check_number("fraction", fraction, low=0, high=1, low_inclusive=False,
                            high_inclusive=False)
    y = check_ids("labels", labels, what="labels")
    bound = None if num_groups is None else check_positive_int("num_groups", num_groups)
    g = check_ids("groups", groups, bound, what="group ids")
    check_same_length(labels=y, groups=g)
    check_not_empty("labels", y.size)
    rng = np.random.RandomState(seed)
    held: List[np.ndarray] = []
    for cell in sorted(set(zip(g.tolist(), y.tolist()))):
        idx = np.flatnonzero((g == cell[0]) & (y == cell[1]))
        idx = idx[rng.permutation(idx.size)]
        k = int(np.floor(float(fraction) * idx.size + 0.5))
        held.append(idx[:k])
    slice_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    mask = np.ones(y.size, dtype=bool)
    mask[slice_idx] = False
    return np.flatnonzero(mask).astype(np.int64), slice_idx.astype(np.int64)
