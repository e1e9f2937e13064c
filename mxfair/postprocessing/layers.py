"""Gluon blocks that apply per-group thresholds inside the graph, for export and serving.

:class:`GroupThreshold` holds the rule fitted by :class:`ThresholdOptimizer` as non-trained
Parameters, so it survives ``save_parameters``/``load_parameters`` and
``hybridize`` → ``export`` → ``SymbolBlock.imports``; :class:`ThresholdedNet` (or
:func:`with_thresholds`) appends it to a trained scorer, giving one exportable network with
inputs ``(x, groups)`` and 0/1 decisions as output.
"""
from typing import Any, Literal, Optional

import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock

from .._ops import Tensor, group_onehot, to_numpy
from .._validation import check_choice, check_positive_int

__all__ = ["GroupThreshold", "ThresholdedNet", "with_thresholds", "MODES"]

MODES = ("random", "deterministic", "probability")


def _step_probability(F, scores: Tensor, groups: Tensor, thresholds: Tensor,
                               probs: Tensor, num_groups: int, num_bins: int = 0) -> Tensor:
    """Probability of a positive decision under per-group two-step rules (graph-safe).

    Parameters
    ----------
    F : mx.nd or mx.sym
    scores : shape (N,) or (N, 1)
        Probabilities in [0, 1].
    groups : shape (N,)
        Group ids; an id outside ``[0, num_groups)`` gets probability 0 (no check in a graph).
    thresholds : shape (G, 2)
        ``(lo, hi)`` per group, ``lo <= hi``.
    probs : shape (G, 3)
        Positive probability below ``lo``, in ``[lo, hi)``, at or above ``hi``.
    num_groups : int
    num_bins : int, default 0
        When > 0, scores and thresholds are compared as histogram bins: a score's bin is
        ``clip(floor(score * B), 0, B - 1)`` (as in ``GroupStats``) and the threshold ``k / B``
        is bin ``k``; this makes the decisions agree exactly with the fitting histograms.

    Returns
    -------
    shape (N,), float32
    """
    onehot = group_onehot(F, groups, num_groups)  # (N, G)
    thr = F.dot(onehot, thresholds)  # (N, 2)
    p = F.dot(onehot, probs)  # (N, 3)
    s = F.cast(F.reshape(scores, shape=(-1,)), dtype="float32")  # (N,)
    if num_bins:
        s = F.clip(F.floor(s * num_bins), 0, num_bins - 1)
        thr = F.round(thr * num_bins)
    lo = F.reshape(F.slice_axis(thr, axis=1, begin=0, end=1), shape=(-1,))
    hi = F.reshape(F.slice_axis(thr, axis=1, begin=1, end=2), shape=(-1,))
    p0, p1, p2 = (F.reshape(F.slice_axis(p, axis=1, begin=i, end=i + 1), shape=(-1,))
                  for i in range(3))
    # lo <= hi, so s >= hi implies s >= lo: the three levels add up as steps.
    return p0 + (s >= lo) * (p1 - p0) + (s >= hi) * (p2 - p1)


class GroupThreshold(HybridBlock):
    """Per-group randomised thresholds as a Gluon block (the rule of a ThresholdOptimizer).

    Each group g has thresholds ``lo_g <= hi_g`` and three positive probabilities: a row is
    positive with probability ``probs[g, 0]`` when its score is below ``lo_g``,
    ``probs[g, 1]`` in ``[lo_g, hi_g)``, and ``probs[g, 2]`` at or above ``hi_g``. Until
    :meth:`set_rule` is called it is a plain 0.5 threshold for every group.

    Parameters
    ----------
    num_groups : int
        G.
    num_bins : int, default 0
        Compare on histogram bins of this size (what :meth:`ThresholdOptimizer.to_block` sets,
        so that decisions match the fitting histograms exactly); 0 compares raw scores.
    mode : {"random", "deterministic", "probability"}, default "random"
        ``"random"``: positive where a uniform draw is below the probability. The draw is the
        optional third input ``noise`` (N,) in [0, 1) when given (fully reproducible from a
        host seed), else ``F.random.uniform_like``, reproducible after
        ``mx.random.seed(seed, ctx)``. ``"deterministic"``: positive where the probability is
        at least 0.5 (the likelier decision; rates then differ from the fitted ones by the
        rows in a mixed step). ``"probability"``: output the probability itself.

    Inputs:
        - **scores**: (N,) or (N, 1) probabilities in [0, 1].
        - **groups**: (N,) group ids in ``[0, G)`` (an id outside gives probability 0).
        - **noise** (optional): (N,) uniform draws, used in ``"random"`` mode.

    Outputs:
        - **out**: (N,) float32, 0/1 decisions (or probabilities in ``"probability"`` mode).

    Examples
    --------
    >>> import mxnet as mx
    >>> block = GroupThreshold(num_groups=2, mode="deterministic")
    >>> block.initialize()
    >>> block.set_rule([[0.3, 0.3], [0.6, 0.6]], [[0, 0, 1], [0, 0, 1]])
    >>> block(mx.nd.array([0.4, 0.4]), mx.nd.array([0, 1])).asnumpy()
    array([1., 0.], dtype=float32)
    """

    def __init__(self, num_groups: int, num_bins: int = 0,
                 mode: Literal["random", "deterministic", "probability"] = "random",
                 prefix: Optional[str] = None, params: Any = None):
        super().__init__(prefix=prefix, params=params)
        self.num_groups = check_positive_int("num_groups", num_groups)
        if isinstance(num_bins, bool) or int(num_bins) != num_bins or num_bins < 0:
            raise ValueError(f"num_bins must be a non-negative integer, got {num_bins!r}")
        self.num_bins = int(num_bins)
        self.mode = check_choice("mode", mode, MODES)
        with self.name_scope():
            self.thresholds = self.params.get(
                "thresholds", grad_req="null", differentiable=False,
                shape=(self.num_groups, 2), init=mx.init.Constant(0.5))
            self.probs = self.params.get(
                "probs", grad_req="null", differentiable=False,
                shape=(self.num_groups, 3),
                init=mx.init.Constant(np.array([0.0, 0.0, 1.0], dtype=np.float32)))

    def set_rule(self, thresholds: Any, probs: Any) -> None:
        """Set the rule (on every context the block lives on).

        Parameters
        ----------
        thresholds : array, shape (G, 2)
            ``lo <= hi`` per group.
        probs : array, shape (G, 3)
            Probabilities in [0, 1].
        """
        thr = np.asarray(to_numpy(thresholds), dtype=np.float32)
        pr = np.asarray(to_numpy(probs), dtype=np.float32)
        G = self.num_groups
        if thr.shape != (G, 2) or pr.shape != (G, 3):
            raise ValueError(f"expected thresholds of shape {(G, 2)} and probs of shape "
                             f"{(G, 3)}, got {thr.shape} and {pr.shape}")
        if np.any(thr[:, 0] > thr[:, 1]):
            raise ValueError(f"every group needs lo <= hi, got thresholds {thr.tolist()}")
        if not np.all((pr >= 0) & (pr <= 1)):
            raise ValueError(f"probs must be in [0, 1], got {pr.tolist()}")
        self.thresholds.set_data(mx.nd.array(thr))
        self.probs.set_data(mx.nd.array(pr))

    def hybrid_forward(self, F, scores, groups, noise=None, thresholds=None, probs=None):
        q = _step_probability(F, scores, groups, thresholds, probs,
                                       self.num_groups, self.num_bins)  # (N,)
        if self.mode == "probability":
            return q
        if self.mode == "deterministic":
            return q >= 0.5
        u = F.random.uniform_like(q) if noise is None else F.reshape(noise, shape=(-1,))
        return u < q

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_groups={self.num_groups}, "
                f"num_bins={self.num_bins}, mode={self.mode!r})")


class ThresholdedNet(HybridBlock):
    """A trained scorer followed by a :class:`GroupThreshold`: ``(x, groups)`` → decisions.

    Parameters
    ----------
    net : HybridBlock
        Outputs one score per row, shape (N,) or (N, 1): a probability, or a logit with
        ``from_logits=True``.
    threshold : GroupThreshold
    from_logits : bool, default False
        Apply a sigmoid to the net's output first.

    Inputs:
        - **x**: the net's input, (N, ...).
        - **groups**: (N,) group ids.
        - **noise** (optional): (N,) uniform draws for ``"random"`` mode.

    Outputs:
        - **out**: (N,) float32 decisions (or probabilities, per the threshold's mode).

    Examples
    --------
    >>> import mxnet as mx
    >>> scorer = mx.gluon.nn.Dense(1, in_units=3)
    >>> scorer.initialize()
    >>> thr = GroupThreshold(num_groups=2, mode="deterministic")
    >>> thr.initialize()
    >>> net = ThresholdedNet(scorer, thr, from_logits=True)
    >>> net.hybridize()
    >>> net(mx.nd.ones((4, 3)), mx.nd.array([0, 1, 0, 1])).shape
    (4,)
    """

    def __init__(self, net: HybridBlock, threshold: GroupThreshold, from_logits: bool = False,
                 prefix: Optional[str] = None, params: Any = None):
        super().__init__(prefix=prefix, params=params)
        if not isinstance(threshold, GroupThreshold):
            raise TypeError(f"threshold must be a GroupThreshold, got {type(threshold).__name__}")
        if not isinstance(net, HybridBlock):
            raise TypeError(f"net must be a HybridBlock (to export), got {type(net).__name__}")
        self.from_logits = bool(from_logits)
        with self.name_scope():
            self.net = net
            self.threshold = threshold

    def hybrid_forward(self, F, x, groups, noise=None):
        score = F.reshape(self.net(x), shape=(-1,))  # (N,)
        if self.from_logits:
            score = F.sigmoid(score)
        if noise is None:
            return self.threshold(score, groups)
        return self.threshold(score, groups, noise)


def with_thresholds(net: HybridBlock, threshold: GroupThreshold,
                    from_logits: bool = False) -> ThresholdedNet:
    """Append a fitted :class:`GroupThreshold` to a trained scorer (see :class:`ThresholdedNet`).

    Examples
    --------
    >>> import mxnet as mx
    >>> scorer = mx.gluon.nn.Dense(1, in_units=3)
    >>> scorer.initialize()
    >>> thr = GroupThreshold(num_groups=2)
    >>> thr.initialize()
    >>> with_thresholds(scorer, thr, from_logits=True)(mx.nd.ones((2, 3)), mx.nd.zeros(2)).shape
    (2,)
    """
    return ThresholdedNet(net, threshold, from_logits=from_logits)
