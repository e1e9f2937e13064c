"""Reweighing (Kamiran & Calders, 2012): weights that make the label independent of the group.

Each row of the (group ``g``, label ``y``) cell gets the weight

.. math::

    w(g, y) = \\frac{P(g)\\,P(y)}{P(g, y)} = \\frac{n_g\\, n_y}{n\\, n_{g,y}},

so that under the weighted distribution ``P_w(g, y) = P(g) P(y)``. With instance weights the
counts are sums of weights, and a row's new weight is its instance weight times ``w(g, y)``,
as AIF360's ``Reweighing.transform`` does.

The formula has one home, :func:`weights_from_counts`, which works from a ``(G, K)`` table of
cell counts. Distributed training sums that table over the workers (a kvstore allreduce of a
small tensor) and calls the same function, so every worker uses the global weights.
"""
import warnings
from typing import Literal, Optional

import numpy as np

from .._ops import ArrayLike, like_inputs, to_numpy
from .._validation import check_choice
from ._cells import BAD_COUNTS, cell_weights, count_cells, prepare_ids

__all__ = ["cell_counts", "weights_from_counts", "reweighing_table", "reweighing_weights"]

SINGLE_LABEL = (
    "all rows have the same label; the label is trivially independent of the group and every "
    "reweighing weight is 1"
)
EMPTY_INPUT = "labels and groups are empty; reweighing needs at least one row"

EmptyPolicy = Literal["raise", "zero"]


def cell_counts(
    labels: ArrayLike,
    groups: ArrayLike,
    *,
    num_groups: Optional[int] = None,
    num_classes: Optional[int] = None,
    sample_weight: Optional[ArrayLike] = None,
):
    """Number of rows (or sum of weights) in each (group, label) cell.

    Parameters
    ----------
    labels : array of int, shape (N,)
        Class ids in ``[0, num_classes)``.
    groups : array of int, shape (N,)
        Group ids in ``[0, num_groups)``.
    num_groups, num_classes : int, optional
        Table size; inferred as ``max + 1`` of the ids when not given (give them when a shard
        or a batch may miss the largest id).
    sample_weight : array of float, shape (N,), optional
        Instance weights; the counts are then sums of weights.

    Returns
    -------
    counts : np.ndarray or NDArray, shape (G, K)
        ``counts[g, y]``; float64 NumPy for NumPy input, a float64 NDArray on the input's
        context for NDArray input.

    Examples
    --------
    >>> cell_counts([0, 1, 1, 0], [0, 0, 1, 1]).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    y, g, w, num_groups, num_classes = prepare_ids(
        labels, groups, num_groups, num_classes, sample_weight
    )
    counts = count_cells(y, g, w, num_groups, num_classes)
    return like_inputs(counts, labels, groups, sample_weight, dtype=np.float64)


def weights_from_counts(cell_counts: ArrayLike, *, empty: EmptyPolicy = "raise"):
    """Reweighing weight of each (group, label) cell from the cell counts: the one home of
    the formula.

    .. math::

        w(g, y) = \\frac{n_g\\, n_y}{n\\, n_{g,y}},\\qquad
        n_g = \\sum_y n_{g,y},\\; n_y = \\sum_g n_{g,y},\\; n = \\sum_{g,y} n_{g,y}.

    Parameters
    ----------
    cell_counts : array, shape (G, K)
        Non-negative counts (or sums of instance weights) per (group, label) cell, for example
        the allreduced sum of every worker's :func:`cell_counts`.
    empty : {'raise', 'zero'}
        What to do with an empty cell whose group and label both occur (its target mass
        ``P(g)P(y)`` is positive but no row can carry it): raise ``ValueError`` (default), or
        give it weight 0 with a ``UserWarning``. A cell whose whole group or whole label is
        absent gets weight 0 silently: it has no rows and no target mass.

    Returns
    -------
    weights : np.ndarray or NDArray, shape (G, K)
        Float64; an NDArray on the input's context when ``cell_counts`` is an NDArray. Never
        NaN.

    Examples
    --------
    >>> weights_from_counts(np.array([[3.0, 1.0], [1.0, 3.0]])).tolist()
    [[0.6666666666666666, 2.0], [2.0, 0.6666666666666666]]
    """
    check_choice("empty", empty, {"raise", "zero"})
    weights = cell_weights(to_numpy(cell_counts), empty)
    return like_inputs(weights, cell_counts, dtype=np.float64)


def reweighing_table(
    labels: ArrayLike,
    groups: ArrayLike,
    *,
    num_groups: Optional[int] = None,
    num_classes: Optional[int] = None,
    sample_weight: Optional[ArrayLike] = None,
    empty: EmptyPolicy = "raise",
):
    """Reweighing weight of each (group, label) cell, computed from the data.

    ``weights_from_counts(cell_counts(labels, groups, ...))``; see those two functions.

    Parameters
    ----------
    labels, groups : array of int, shape (N,)
    num_groups, num_classes : int, optional
    sample_weight : array of float, shape (N,), optional
    empty : {'raise', 'zero'}

    Returns
    -------
    table : np.ndarray or NDArray, shape (G, K)
        Float64, on the inputs' context for NDArray input.

    Examples
    --------
    >>> reweighing_table([1, 1, 1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 1, 1, 1]).tolist()
    [[2.0, 0.6666666666666666], [0.6666666666666666, 2.0]]
    """
    check_choice("empty", empty, {"raise", "zero"})
    y, g, w, num_groups, num_classes = prepare_ids(
        labels, groups, num_groups, num_classes, sample_weight
    )
    if y.size == 0:
        raise ValueError(EMPTY_INPUT)
    table = cell_weights(count_cells(y, g, w, num_groups, num_classes), empty)
    return like_inputs(table, labels, groups, sample_weight, dtype=np.float64)


def reweighing_weights(
    labels: ArrayLike,
    groups: ArrayLike,
    *,
    sample_weight: Optional[ArrayLike] = None,
    num_groups: Optional[int] = None,
    num_classes: Optional[int] = None,
    cell_counts: Optional[ArrayLike] = None,
    empty: EmptyPolicy = "raise",
):
    """Per-row reweighing weights (Kamiran & Calders, 2012), for any number of groups and classes.

    Row ``i`` gets ``sample_weight[i] * w(groups[i], labels[i])`` with
    ``w(g, y) = P(g) P(y) / P(g, y)`` (see :func:`weights_from_counts`), which equals AIF360's
    ``Reweighing().fit_transform(ds).instance_weights`` for two groups and binary labels.

    Parameters
    ----------
    labels : array of int, shape (N,)
        Class ids in ``[0, num_classes)``.
    groups : array of int, shape (N,)
        Group ids in ``[0, num_groups)``.
    sample_weight : array of float, shape (N,), optional
        Instance weights: they enter the counts (as AIF360's instance weights do) and multiply
        the result.
    num_groups, num_classes : int, optional
        Inferred as ``max + 1`` when not given (and from ``cell_counts`` when that is given).
    cell_counts : array, shape (G, K), optional
        Global (all-worker) cell counts to compute the cell weights from, instead of the counts
        of ``labels``/``groups``: in data-parallel training each worker passes its own rows and
        the allreduced table.
    empty : {'raise', 'zero'}
        Policy for an empty cell whose group and label occur; see :func:`weights_from_counts`.
        Rows never fall into an empty cell, so the returned weights are always finite.

    Returns
    -------
    weights : np.ndarray or NDArray, shape (N,)
        Float64 NumPy array for NumPy input; float32 NDArray on the context of the input for
        NDArray input (ready for ``loss(pred, label, weight)``).

    Notes
    -----
    Data with a single label gives weights all 1, with a ``UserWarning``.

    Examples
    --------
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> reweighing_weights(y, g).round(3).tolist()
    [0.667, 0.667, 0.667, 2.0, 0.667, 0.667, 0.667, 2.0]
    """
    check_choice("empty", empty, {"raise", "zero"})
    if cell_counts is not None:
        table_in = np.asarray(to_numpy(cell_counts), dtype=np.float64)
        if table_in.ndim != 2:
            raise ValueError(BAD_COUNTS.format(what=f"counts, got shape {table_in.shape}"))
        num_groups, num_classes = table_in.shape
    y, g, w, num_groups, num_classes = prepare_ids(
        labels, groups, num_groups, num_classes, sample_weight
    )
    if y.size == 0:
        raise ValueError(EMPTY_INPUT)
    if cell_counts is None:
        table_in = count_cells(y, g, w, num_groups, num_classes)
    if np.count_nonzero(table_in.sum(axis=0)) == 1:
        warnings.warn(SINGLE_LABEL, UserWarning, stacklevel=2)
    table = cell_weights(table_in, empty)
    row_w = table[g, y]
    if cell_counts is not None and np.any(row_w == 0):
        i = int(np.argmax(row_w == 0))
        raise ValueError(
            f"row {i} is in cell (group={g[i]}, label={y[i]}), which is empty in cell_counts; "
            "the global counts must include every worker's rows"
        )
    if w is not None:
        row_w = row_w * w
    return like_inputs(row_w, labels, groups, sample_weight)
