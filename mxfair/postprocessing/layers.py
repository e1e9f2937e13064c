"""Gluon blocks that apply per-group thresholds inside the graph, for export and serving.

:class:`GroupThreshold` holds the rule fitted by :class:`ThresholdOptimizer` as non-trained
Parameters, so it survives ``save_parameters``/``load_parameters`` and
``hybridize`` → ``export`` → ``SymbolBlock.imports``; :class:`ThresholdedNet` (or
:func:`with_thresholds`) appends it to a trained scorer, giving one exportable network with
inputs ``(x, groups)`` and 0/1 decisions as output.

Scores follow the package convention: logits by default (``from_logits=True``). A graph cannot
raise on data, so a row whose score is NaN or infinite (or, with ``from_logits=False``, outside
[0, 1]) or whose group id is not an integer in ``[0, G)`` gets NaN as its output: never a
decision. Mismatched row counts of the inputs raise ``ValueError`` when the block is called with
NDArrays.
"""
from typing import Any, Literal, Optional

import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock

from .._ops import Tensor, invalid_ids, nonfinite, outside_unit, to_numpy
from .._validation import check_choice, check_int, check_positive_int, check_same_length
from ._rules import step_probability

__all__ = ["GroupThreshold", "ThresholdedNet", "with_thresholds", "MODES"]

MODES = ("random", "deterministic", "probability")
SEVERAL_OUTPUTS = (
    "the net returned {n} outputs; ThresholdedNet needs a net with one output of shape (N,) or "
    "(N, 1) (the positive-class score): wrap the scoring head alone"
)
KIND_MISMATCH = (
    "with_thresholds(from_logits=False) says the net outputs probabilities, but the "
    "GroupThreshold expects logits (from_logits=True); build the block for probabilities, e.g. "
    "ThresholdOptimizer(from_logits=False).fit(...).to_block()"
)


def _valid_rows(F, scores: Tensor, groups: Tensor, num_groups: int,
                probabilities: bool) -> Tensor:
    """1 where the row can be decided, 0 where not (graph-safe), shape (N,): a finite score
    (in [0, 1] when ``probabilities``) and an integer group id in ``[0, num_groups)``."""
    s = F.cast(F.reshape(scores, shape=(-1,)), dtype="float32")
    g = F.cast(F.reshape(groups, shape=(-1,)), dtype="float32")
    bad = F.maximum(nonfinite(s), invalid_ids(F, g, num_groups))
    if probabilities:
        bad = F.maximum(bad, outside_unit(F, s))
    return 1 - bad


def _check_rows(**arrays) -> None:
    """Same number of rows (NDArray inputs only: a traced Symbol has no shape here)."""
    given = {k: v for k, v in arrays.items() if isinstance(v, mx.nd.NDArray)}
    if len(given) > 1:
        check_same_length(**given)


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
    from_logits : bool, default True
        The scores are logits (a sigmoid is applied first); False: probabilities in [0, 1].
        The thresholds are probabilities either way.

    Inputs:
        - **scores**: (N,) or (N, 1) logits (probabilities with ``from_logits=False``).
        - **groups**: (N,) group ids in ``[0, G)``.
        - **noise** (optional): (N,) uniform draws, used in ``"random"`` mode.

    Outputs:
        - **out**: (N,) float32, 0/1 decisions (or probabilities in ``"probability"`` mode);
          NaN for a row with a NaN/infinite score (with ``from_logits=False``: outside
          [0, 1]) or a group id that is not an integer in ``[0, G)``.

    Examples
    --------
    >>> import mxnet as mx
    >>> block = GroupThreshold(num_groups=2, mode="deterministic", from_logits=False)
    >>> block.initialize()
    >>> block.set_rule([[0.3, 0.3], [0.6, 0.6]], [[0, 0, 1], [0, 0, 1]])
    >>> block(mx.nd.array([0.4, 0.4, float("nan")]), mx.nd.array([0, 1, 1])).asnumpy()
    array([ 1.,  0., nan], dtype=float32)
    """

    def __init__(self, num_groups: int, *, num_bins: int = 0,
                 mode: Literal["random", "deterministic", "probability"] = "random",
                 prefix: Optional[str] = None, params: Any = None, from_logits: bool = True):
        super().__init__(prefix=prefix, params=params)
        self.from_logits = bool(from_logits)
        self.num_groups = check_positive_int("num_groups", num_groups)
        self.num_bins = check_int("num_bins", num_bins)
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
            ``lo <= hi`` per group, finite (probabilities: bin edges of [0, 1]).
        probs : array, shape (G, 3)
            Probabilities in [0, 1].
        """
        thr = np.asarray(to_numpy(thresholds), dtype=np.float32)
        pr = np.asarray(to_numpy(probs), dtype=np.float32)
        G = self.num_groups
        if thr.shape != (G, 2) or pr.shape != (G, 3):
            raise ValueError(f"expected thresholds of shape {(G, 2)} and probs of shape "
                             f"{(G, 3)}, got {thr.shape} and {pr.shape}")
        if not np.all(np.isfinite(thr)):
            raise ValueError(f"thresholds must be finite, got {thr.tolist()}")
        if np.any(thr[:, 0] > thr[:, 1]):
            raise ValueError(f"every group needs lo <= hi, got thresholds {thr.tolist()}")
        if not np.all((pr >= 0) & (pr <= 1)):
            raise ValueError(f"probs must be in [0, 1], got {pr.tolist()}")
        self.thresholds.set_data(mx.nd.array(thr))
        self.probs.set_data(mx.nd.array(pr))

    def forward(self, scores, groups, noise=None):
        _check_rows(scores=scores, groups=groups, noise=noise)
        if noise is None:
            return super().forward(scores, groups)
        return super().forward(scores, groups, noise)

    def hybrid_forward(self, F, scores, groups, noise=None, thresholds=None, probs=None):
        valid = _valid_rows(F, scores, groups, self.num_groups, not self.from_logits)  # (N,)
        if self.from_logits:
            scores = F.sigmoid(scores)
        # An invalid row's group id goes to 0 before the one-hot (its output is NaN anyway).
        safe_groups = F.where(valid, F.reshape(groups, shape=(-1,)),
                              F.zeros_like(F.reshape(groups, shape=(-1,))))
        q = step_probability(F, scores, safe_groups, thresholds, probs,
                              self.num_groups, self.num_bins)  # (N,)
        if self.mode == "probability":
            out = q
        elif self.mode == "deterministic":
            out = q >= 0.5
        else:
            u = F.random.uniform_like(q) if noise is None else F.reshape(noise, shape=(-1,))
            out = u < q
        return F.where(valid, out, F.ones_like(out) * float("nan"))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_groups={self.num_groups}, "
                f"num_bins={self.num_bins}, mode={self.mode!r}, "
                f"from_logits={self.from_logits})")


class ThresholdedNet(HybridBlock):
    """A trained scorer followed by a :class:`GroupThreshold`: ``(x, groups)`` → decisions.

    Parameters
    ----------
    net : HybridBlock
        Outputs one score per row, shape (N,) or (N, 1): a logit (``from_logits=True``) or a
        probability.
    threshold : GroupThreshold
    from_logits : bool, optional
        Whether the net outputs logits; by default the threshold block's ``from_logits``
        (True unless the block was built for probabilities). A net of logits with a block
        for probabilities gets a sigmoid in between; a net of probabilities with a block for
        logits raises ``ValueError``.

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
    >>> net = ThresholdedNet(scorer, thr)  # logits, as Dense(1) emits them
    >>> net.hybridize()
    >>> net(mx.nd.ones((4, 3)), mx.nd.array([0, 1, 0, 1])).shape
    (4,)
    """

    def __init__(self, net: HybridBlock, threshold: GroupThreshold,
                 *,
                 from_logits: Optional[bool] = None, prefix: Optional[str] = None,
                 params: Any = None):
        super().__init__(prefix=prefix, params=params)
        if not isinstance(threshold, GroupThreshold):
            raise TypeError(f"threshold must be a GroupThreshold, got {type(threshold).__name__}")
        if not isinstance(net, HybridBlock):
            raise TypeError(f"net must be a HybridBlock (to export), got {type(net).__name__}")
        self.from_logits = threshold.from_logits if from_logits is None else bool(from_logits)
        if threshold.from_logits and not self.from_logits:
            raise ValueError(KIND_MISMATCH)
        with self.name_scope():
            self.net = net
            self.threshold = threshold

    def forward(self, x, groups, noise=None):
        _check_rows(x=x, groups=groups, noise=noise)
        if noise is None:
            return super().forward(x, groups)
        return super().forward(x, groups, noise)

    def hybrid_forward(self, F, x, groups, noise=None):
        out = self.net(x)
        if isinstance(out, (list, tuple)):
            raise ValueError(SEVERAL_OUTPUTS.format(n=len(out)))
        score = F.reshape(out, shape=(-1,))  # (N,)
        if self.from_logits and not self.threshold.from_logits:
            score = F.sigmoid(score)  # the block takes probabilities
        if noise is None:
            return self.threshold(score, groups)
        return self.threshold(score, groups, noise)


def with_thresholds(net: HybridBlock, threshold: GroupThreshold,
                    *,
                    from_logits: Optional[bool] = None) -> ThresholdedNet:
    """Append a fitted :class:`GroupThreshold` to a trained scorer (see :class:`ThresholdedNet`).

    ``from_logits`` says whether the net outputs logits; by default the block's setting,
    which :meth:`ThresholdOptimizer.to_block` takes from the optimizer (logits unless it was
    built with ``from_logits=False``).

    Examples
    --------
    >>> import mxnet as mx
    >>> scorer = mx.gluon.nn.Dense(1, in_units=3)
    >>> scorer.initialize()
    >>> thr = GroupThreshold(num_groups=2)
    >>> thr.initialize()
    >>> with_thresholds(scorer, thr)(mx.nd.ones((2, 3)), mx.nd.zeros(2)).shape
    (2,)
    """
    return ThresholdedNet(net, threshold, from_logits=from_logits)
