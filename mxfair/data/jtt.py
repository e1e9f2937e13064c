r"""Just Train Twice (Liu et al., ICML 2021): worst-group training without training group labels.

Liu, Haghgoo, Chen, Raghunathan, Koh, Sagawa, Liang and Finn, "Just Train Twice: Improving
Group Robustness without Training Group Information", ICML 2021. Two stages, in your own loop:

1. Train an *identification* model with ERM for a few epochs :math:`T` (early: it must not fit
   the training set), then take its **error set** :math:`E` = the training rows it gets wrong
   (:func:`misclassified` from its scores, or :func:`error_set` from the net and the dataset).
2. Train the final model from scratch on the training set with the rows of :math:`E`
   upweighted by :math:`\lambda_{up}`:

   .. math::

       J_{up}(\theta) = \lambda_{up} \sum_{i \in E} \ell_i(\theta)
                       + \sum_{i \notin E} \ell_i(\theta)

   either by sampling (:class:`JTTSampler`, the reference code's upsampled dataset: each row of
   :math:`E` drawn :math:`\lambda_{up}` times per epoch) or by sample weights
   (:func:`jtt_weights`, for ``WeightedDataset`` and ``loss(pred, label, sample_weight)``).

Group labels are used only on the validation set, to choose :math:`T` and :math:`\lambda_{up}`
(and the epoch) by worst-group accuracy, e.g. with ``FairnessMonitor`` over (label, attribute)
groups. The training rows need none.

Note on the reference code (``anniesch/jtt``): its ``--up_weight k`` *adds* k copies of each
error row, so a row appears k + 1 times; here ``up_weight`` is the paper's :math:`\lambda_{up}`,
the total weight (``up_weight = k + 1`` reproduces ``--up_weight k``).
"""
from typing import Any, Optional

import mxnet as mx
import numpy as np
from mxnet import gluon

from .._ops import ArrayLike, to_numpy
from .._validation import (
    LENGTH_MISMATCH,
    check_binary_flags,
    check_ids,
    check_not_empty,
    check_number,
    check_numeric,
    check_same_length,
    check_scores,
)
from .samplers import GroupBalancedSampler

__all__ = ["misclassified", "error_set", "jtt_weights", "JTTSampler"]

BAD_SCORES = ("scores must have shape (N,) or (N, 1) (binary) or (N, K), got {shape}")


def misclassified(scores: ArrayLike, labels: ArrayLike, *, from_logits: bool = True,
                  threshold: float = 0.5) -> np.ndarray:
    """Which rows a model gets wrong (host): the error set of JTT's first stage.

    Parameters
    ----------
    scores : array, shape (N,), (N, 1) or (N, K)
        A net's output: one logit (``from_logits=True``) or probability of class 1 per row, or
        K class scores (the argmax is the prediction; ``from_logits`` does not matter there).
    labels : array of int, shape (N,)
    from_logits : bool, default True
    threshold : float, default 0.5
        Decision threshold on the probability of class 1 (binary scores).

    Returns
    -------
    np.ndarray of bool, shape (N,)
        True where the prediction differs from the label. NaN/inf scores raise ValueError.

    Examples
    --------
    >>> misclassified(np.array([2.0, -1.0, 0.5]), np.array([1, 1, 0])).tolist()
    [False, True, True]
    >>> misclassified(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])).tolist()
    [False, True]
    """
    s = np.asarray(check_numeric("scores", scores, ids=False, flat=False), dtype=np.float64)
    threshold = check_number("threshold", threshold, low=0, high=1)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim not in (1, 2) or (s.ndim == 2 and s.shape[1] < 2):
        raise ValueError(BAD_SCORES.format(shape=s.shape))
    check_not_empty("scores", len(s))
    y = check_ids("labels", labels, 2 if s.ndim == 1 else s.shape[1], what="labels")
    check_same_length(scores=s, labels=y)
    # NaN/inf scores (a diverged net) are refused: they are no prediction at all
    if s.ndim == 1:
        prob = check_scores("scores", s, from_logits, warn_stacklevel=None)
        if from_logits:
            prob = 1.0 / (1.0 + np.exp(-prob))
        pred = (prob >= threshold).astype(np.int64)
    else:
        check_scores("scores", s, from_logits=True, warn_stacklevel=None)
        pred = np.argmax(s, axis=1)
    return pred != y


def error_set(net: gluon.Block, dataset: gluon.data.Dataset, *,
              ctx: Optional[mx.Context] = None, batch_size: int = 256,
              from_logits: bool = True, label_index: int = 1, threshold: float = 0.5) -> np.ndarray:
    """Run ``net`` over ``dataset`` in order and return the rows it gets wrong.

    Parameters
    ----------
    net : gluon.Block
        The identification model: input -> scores as for :func:`misclassified`.
    dataset : gluon.data.Dataset
        Items ``(x, label, ...)`` (e.g. ``(x, y, group)``: the group is not read).
    ctx : Context, optional
        Where to run ``net`` (default: the current context).
    batch_size : int, default 256
    from_logits, threshold
        As for :func:`misclassified`.
    label_index : int, default 1
        Position of the label in an item.

    Returns
    -------
    np.ndarray of bool, shape (len(dataset),)

    Examples
    --------
    >>> net = gluon.nn.Dense(1)
    >>> net.initialize()
    >>> ds = gluon.data.ArrayDataset(np.ones((5, 3), np.float32), np.array([0, 1, 0, 1, 1]))
    >>> error_set(net, ds).shape
    (5,)
    """
    ctx = ctx or mx.current_context()
    loader = gluon.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    scores, labels = [], []
    with mx.autograd.predict_mode():
        for batch in loader:
            x = batch[0].as_in_context(ctx)
            scores.append(net(x).asnumpy())
            labels.append(to_numpy(batch[label_index]).reshape(-1))
    return misclassified(np.concatenate(scores), np.concatenate(labels),
                         from_logits=from_logits, threshold=threshold)


def jtt_weights(errors: ArrayLike, up_weight: float) -> np.ndarray:
    """Per-row weights of JTT's second stage: ``up_weight`` on the error set, 1 elsewhere.

    Parameters
    ----------
    errors : array of bool or 0/1, shape (N,)
        The error set (:func:`misclassified`).
    up_weight : float
        :math:`\\lambda_{up}` > 0 (the paper tunes it in 5..100; 1 is ERM).

    Returns
    -------
    np.ndarray of float32, shape (N,)
        For :class:`~mxfair.data.WeightedDataset` or a loss's ``sample_weight``.

    Examples
    --------
    >>> jtt_weights([True, False, True], up_weight=20).tolist()
    [20.0, 1.0, 20.0]
    """
    e = check_binary_flags("errors", errors)
    lam = check_number("up_weight", up_weight, low=0, low_inclusive=False)
    return np.where(e, lam, 1.0).astype(np.float32)


class JTTSampler(GroupBalancedSampler):
    """Draw the error set ``up_weight`` times as often as the other rows (JTT's upsampling).

    A :class:`~mxfair.data.GroupBalancedSampler` whose "groups" are error (1) / no error (0):
    each cell's share is its size times ``up_weight`` (error cells) or 1, so a row of the error
    set is drawn ``up_weight`` times as often as any other row, and with the default
    ``num_samples`` and ``replacement=False`` an epoch is the reference code's upsampled
    dataset: every other row once, every error row ``up_weight`` times (up to rounding of a
    non-integer ``up_weight``).

    Parameters
    ----------
    errors : array of bool or 0/1, shape (N,)
        The error set of the identification model.
    up_weight : float
        :math:`\\lambda_{up}` > 0.
    labels : array of int, shape (N,), optional
        Class ids; given, the draws keep each (error, label) cell's share exactly (same
        distribution, less variance).
    num_samples : int, optional
        Indices per epoch; default ``N + (up_weight - 1) * |E|`` rounded (the upsampled size).
    replacement : bool, default False
    seed : int, optional
    num_parts, part_index : int
        Data-parallel sharding as for the other samplers.

    Attributes
    ----------
    errors_ : np.ndarray of bool, shape (N,)
    up_weight : float

    Examples
    --------
    >>> errors = np.array([1, 0, 0, 0, 0, 1, 0, 0], dtype=bool)
    >>> sampler = JTTSampler(errors, up_weight=3, seed=0)
    >>> len(sampler)
    12
    >>> idx = list(sampler)
    >>> idx.count(0), idx.count(5), idx.count(1)
    (3, 3, 1)
    """

    def __init__(self, errors: ArrayLike, up_weight: float, *,
                 labels: Optional[ArrayLike] = None,
                 num_samples: Optional[int] = None, replacement: bool = False,
                 seed: Optional[int] = None, num_parts: int = 1, part_index: int = 0):
        e = check_binary_flags("errors", errors)
        lam = check_number("up_weight", up_weight, low=0, low_inclusive=False)
        y = np.zeros(len(e), np.int64) if labels is None else labels
        self.errors_ = e
        self.up_weight = lam
        if num_samples is None:
            num_samples = max(1, int(round(len(e) + (lam - 1.0) * e.sum())))
        # The cell table (2, K): group 0 = correctly classified rows, group 1 = the error set.
        table = _cell_table(e, y)
        proportions = table * np.array([[1.0], [lam]])
        super().__init__(y, e.astype(np.int64), proportions=proportions,
                         num_samples=num_samples, replacement=replacement, seed=seed,
                         num_parts=num_parts, part_index=part_index, num_groups=2,
                         num_classes=table.shape[1])


def _labels_of(labels: Any, n: int) -> np.ndarray:
    y = check_ids("labels", labels, what="labels")
    if len(y) != n:
        raise ValueError(LENGTH_MISMATCH.format(a="errors", n=n, b="labels", m=len(y)))
    return y


def _cell_table(errors: np.ndarray, labels: Any) -> np.ndarray:
    """Counts of (error, label) cells, shape (2, K) (host)."""
    y = _labels_of(labels, len(errors))
    k = int(y.max()) + 1 if y.size else 1
    table = np.zeros((2, k))
    np.add.at(table, (errors.astype(np.int64), y), 1.0)
    return table
