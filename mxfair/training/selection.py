r"""Which model to keep: the best iterate that meets the bound on the held-out rows, or the
randomized mixture of the iterates.

The game of :mod:`mxfair.training.game` has guarantees for a *randomized* model, a mixture of
the iterates (Cotter et al., 2019: a distribution over at most m + 1 iterates, found by a
linear program over their measured objective and constraints). :class:`BestIterate` keeps the
single iterate with the highest held-out score (accuracy by default) among those whose
measured gap is within the bound, and the iterate with the smallest violation while none is
(with a warning): one set of parameters, deterministic decisions. An iterate that does no
better than predicting the held-out rows' majority class never counts as meeting the bound:
the first iterates of a run often look fair that way (on Adult's equalized odds at 0.02 such
an iterate, accuracy 0.76, was kept on 3 of 5 seeds before this rule). :func:`best_mixture`
solves the linear program over the recorded iterates (keep them with
``BestIterate(keep_all=True)``) and :meth:`BestIterate.mixture_net` deploys its solution as
one :class:`~mxfair.training.IterateMixture` block; ``bench/bench_bounds.py`` measures both.
"""
import warnings
from typing import Any, Callable, Dict, List, Optional

import mxnet as mx
import numpy as np

from .._validation import check_choice, check_not_empty, check_numeric
from .bounds import RateBound
from .mixture import IterateMixture

__all__ = ["BestIterate", "best_mixture", "NoFeasibleIterateWarning"]

SCORES = ("accuracy", "balanced_accuracy")

#: Iterates of the LP mixture with less probability than this are left out of its net.
MIN_MIXTURE_WEIGHT = 1e-6

NOTHING_KEPT = "no iterate was considered yet: call consider(net, stats) during training"


class NoFeasibleIterateWarning(UserWarning):
    """No iterate met the bound on the held-out rows; the least violating one is used."""


def _bound_of(bound: Any) -> RateBound:
    if isinstance(bound, RateBound):
        return bound
    rb = getattr(bound, "rate_bound", None)
    if isinstance(rb, RateBound):
        return rb
    raise TypeError(f"bound must be a RateBound or have one as .rate_bound (a BoundedFairLoss, "
                    f"a BoundSchedule), got {bound!r}")


class BestIterate:
    """Keep the parameters of the best iterate that meets the bound on held-out rows.

    Parameters
    ----------
    bound : RateBound, BoundedFairLoss or BoundSchedule
        What "meets the bound" means (its ``rate_bound``).
    score : {"accuracy", "balanced_accuracy"}, default "accuracy"
        Higher is better, measured on the same rows.
    keep_all : bool, default False
        Also keep every iterate's parameters (for :meth:`mixture`); memory grows with the
        number of calls.

    Attributes
    ----------
    history : list of dict
        Per :meth:`consider`: ``step``, ``gap``, ``max_violation``, ``score``,
        ``degenerate`` (accuracy at most the majority-class share), ``met`` (gap within the
        bound and not degenerate).
    best : dict or None
        The record of the kept iterate.

    Examples
    --------
    >>> import numpy as np
    >>> from mxnet import gluon
    >>> from mxfair.metrics import GroupStats
    >>> net = gluon.nn.Dense(1, in_units=3)
    >>> net.initialize()
    >>> keeper = BestIterate(RateBound("demographic_parity", num_groups=2, bound=0.1))
    >>> y, g = np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])
    >>> fair, unfair = GroupStats(2, from_logits=False), GroupStats(2, from_logits=False)
    >>> fair.update(y, np.array([0.2, 0.9, 0.1, 0.8]), g)     # gap 0, accuracy 1
    >>> unfair.update(y, np.array([0.9, 0.9, 0.1, 0.1]), g)   # gap 1
    >>> keeper.consider(net, unfair), keeper.consider(net, fair)
    (True, True)
    >>> keeper.best["met"], keeper.best["score"]
    (True, 1.0)
    """

    def __init__(self, bound: Any, *, score: str = "accuracy", keep_all: bool = False):
        self.rate_bound = _bound_of(bound)
        self.score = check_choice("score", score, SCORES)
        self.keep_all = bool(keep_all)
        self.reset()

    def reset(self) -> None:
        self.history: List[Dict[str, Any]] = []
        self.best: Optional[Dict[str, Any]] = None
        self._best_params: Optional[Dict[str, mx.nd.NDArray]] = None
        self._all_params: List[Dict[str, mx.nd.NDArray]] = []
        self._rates: List[np.ndarray] = []

    @property
    def met(self) -> bool:
        """Whether the kept iterate meets the bound."""
        return bool(self.best is not None and self.best["met"])

    def consider(self, net: mx.gluon.Block, source: Any, *, step: Optional[int] = None) -> bool:
        """Record ``net``'s current iterate, measured by ``source`` on the held-out rows, and
        keep its parameters if it is the best so far.

        Parameters
        ----------
        net : gluon.Block
        source : GroupStats, FairnessReport or FairnessMonitor
            The statistics of ``net`` as it is now (the same ones you gave ``update``).
        step : int, optional
            Stored in the record (default: the number of earlier calls).

        Returns
        -------
        bool
            True if this iterate is now the kept one.
        """
        rb = self.rate_bound
        report = rb.report_of(source)
        violations = rb.violations(report)
        gap = rb.gap(report)
        score = float(report.overall[self.score])
        worst = float(np.nanmax(violations)) if np.isfinite(violations).any() else float("nan")
        # No better than always predicting the majority class of these rows: such a model
        # (the first iterates of a run, say) looks fair and is useless.
        per_class = report.counts.sum(axis=(0, 2))  # (K,): rows per true class
        majority = float(per_class.max() / max(per_class.sum(), 1e-300))
        degenerate = bool(float(report.overall["accuracy"]) <= majority + 1e-12)
        record = {"step": len(self.history) if step is None else int(step), "gap": gap,
                  "max_violation": worst, "score": score, "degenerate": degenerate,
                  "met": bool(np.isfinite(gap) and gap <= rb.bound + 1e-12
                              and not degenerate)}
        self.history.append(record)
        params = None
        if self.keep_all:
            params = _snapshot(net)
            self._all_params.append(params)
            self._rates.append(rb.group_rates(report))
        if self._better(record):
            self.best = record
            self._best_params = params if params is not None else _snapshot(net)
            return True
        return False

    @staticmethod
    def _rank(record: Dict[str, Any]) -> tuple:
        """Higher is better: iterates that meet the bound by score; then the others, a
        non-degenerate one first, by smaller violation, then by score."""
        if record["met"]:
            return (1, record["score"], 0.0, 0.0)
        violation = record["max_violation"]
        return (0, float(not record["degenerate"]),
                -np.inf if np.isnan(violation) else -violation, record["score"])

    def _better(self, record: Dict[str, Any]) -> bool:
        """Strictly better than the kept one (the first of equals is kept)."""
        return self.best is None or self._rank(record) > self._rank(self.best)

    def restore(self, net: mx.gluon.Block) -> Dict[str, Any]:
        """Load the kept parameters into ``net`` (the same net, or one of the same
        architecture built in the same way). Warns when the kept iterate does not meet the
        bound.

        Returns
        -------
        dict
            The kept iterate's record.
        """
        if self._best_params is None:
            raise ValueError(NOTHING_KEPT)
        if not self.best["met"]:
            warnings.warn(
                f"no iterate met the bound {self.rate_bound.bound} on the held-out rows; "
                f"restoring the least violating one (gap {self.best['gap']:.4f})",
                NoFeasibleIterateWarning, stacklevel=2)
        _load(net, self._best_params)
        return dict(self.best)

    def load(self, net: mx.gluon.Block, index: int) -> None:
        """Load iterate ``index`` of ``history`` (needs ``keep_all=True``)."""
        if not self.keep_all:
            raise ValueError("load(net, index) needs BestIterate(keep_all=True)")
        _load(net, self._all_params[index])

    def mixture(self) -> np.ndarray:
        """:func:`best_mixture` over every recorded iterate (needs ``keep_all=True``).

        Returns
        -------
        ndarray, shape (len(history),)
            Probabilities of playing each iterate.
        """
        if not self.keep_all:
            raise ValueError("mixture() needs BestIterate(keep_all=True)")
        if not self.history:
            raise ValueError(NOTHING_KEPT)
        scores = np.array([r["score"] for r in self.history])
        return best_mixture(-scores, np.stack(self._rates), self.rate_bound)

    def mixture_net(self, make_net: Callable[[], mx.gluon.HybridBlock]) -> IterateMixture:
        """The randomized model of :meth:`mixture` as one Gluon block (needs ``keep_all``).

        Parameters
        ----------
        make_net : callable
            Returns a new net of the trained net's architecture (the function that built it:
            initialized, deferred shapes allowed); each iterate of the mixture's support is
            loaded into one.

        Returns
        -------
        IterateMixture
            Members: the iterates with probability above ``MIN_MIXTURE_WEIGHT``, in the order
            of ``history``; probabilities renormalised over them.
        """
        p = self.mixture()
        support = np.flatnonzero(p > MIN_MIXTURE_WEIGHT)
        members = []
        for index in support:
            member = make_net()
            if not isinstance(member, mx.gluon.HybridBlock):
                raise TypeError(f"make_net must return a gluon HybridBlock, got "
                                f"{type(member).__name__}")
            _load(member, self._all_params[int(index)])
            members.append(member)
        return IterateMixture(members, p[support] / p[support].sum())


def best_mixture(objective: np.ndarray, rates: np.ndarray, rate_bound: RateBound
                 ) -> np.ndarray:
    r"""The distribution over iterates that minimises the expected objective subject to the
    bound on the expected rates (the linear program of Cotter et al.; at most m + 1 iterates
    get weight). When no distribution meets the bound, the smallest feasible relaxation
    ``eps + s`` is found by the same program with a slack ``s`` minimised first.

    Parameters
    ----------
    objective : array, shape (T,)
        Lower is better (e.g. minus accuracy).
    rates : array, shape (T, G, C)
        Each iterate's per-group rates on the held-out rows (NaN: unmeasured, left out).
    rate_bound : RateBound

    Returns
    -------
    ndarray, shape (T,)

    Examples
    --------
    >>> import numpy as np
    >>> rb = RateBound("demographic_parity", num_groups=2, bound=0.1)
    >>> rates = np.array([[[0.5], [0.1]], [[0.3], [0.3]]])   # gaps 0.4 and 0.0
    >>> best_mixture(np.array([-0.9, -0.7]), rates, rb).round(3).tolist()
    [0.25, 0.75]
    """
    from scipy.optimize import linprog

    if not isinstance(rate_bound, RateBound):
        raise TypeError(f"rate_bound must be a RateBound, got {rate_bound!r}")
    objective = check_numeric("objective", objective, ids=False).astype(np.float64)
    rates = check_numeric("rates", rates, ids=False, flat=False).astype(np.float64)
    T = objective.size
    check_not_empty("objective", T)
    if not np.isfinite(objective).all():
        raise ValueError(f"objective must be finite, got "
                         f"{int((~np.isfinite(objective)).sum())} NaN or infinite value(s)")
    shape = (T, rate_bound.num_groups, rate_bound.num_columns)
    if rates.shape != shape:
        raise ValueError(f"rates must have shape {shape} (iterates, groups, columns of "
                         f"rate_bound) to match objective, got {rates.shape}")
    c_idx, a, b = rate_bound.pairs.T
    # Expected rates are linear in p; |sum_t p_t d_t| <= eps is two linear constraints.
    diffs = rates[:, a, c_idx] - rates[:, b, c_idx]  # (T, m)
    keep = np.isfinite(diffs).all(axis=0)
    diffs = np.hstack([diffs[:, keep], -diffs[:, keep]])
    # Variables (p_1..p_T, s): minimise s first (feasibility), then the objective at that s.
    a_ub = np.hstack([diffs.T, -np.ones((diffs.shape[1], 1))])
    b_ub = np.full(diffs.shape[1], rate_bound.bound)
    a_eq = np.hstack([np.ones((1, T)), np.zeros((1, 1))])
    bounds = [(0, None)] * T + [(0, None)]
    first = linprog(np.r_[np.zeros(T), 1.0], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0],
                    bounds=bounds, method="highs")
    slack = float(first.x[-1]) if first.success else 0.0
    bounds[-1] = (0, slack + 1e-9)
    second = linprog(np.r_[objective, 0.0], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0],
                     bounds=bounds, method="highs")
    p = np.clip(second.x[:T], 0, None) if second.success else np.eye(T)[int(np.argmin(
        objective))]
    return p / p.sum()


def _snapshot(net: mx.gluon.Block) -> Dict[str, mx.nd.NDArray]:
    """Copies of the parameters (first context), kept on their device: no host round trip."""
    out = {}
    for name, param in net.collect_params().items():
        out[name] = param.data(param.list_ctx()[0]).copy()
    return out


def _load(net: mx.gluon.Block, params: Dict[str, mx.nd.NDArray]) -> None:
    """Load kept parameters into ``net``: by name when the names match (the same net), else
    in order (a new net of the same architecture: Gluon numbers the names of every new
    block), each shape checked."""
    current = net.collect_params()
    if set(current.keys()) == set(params):
        pairs = [(param, params[name]) for name, param in current.items()]
    else:
        saved, mine = list(params.items()), list(current.values())
        pairs = list(zip(mine, (value for _, value in saved)))
        if len(saved) != len(mine) or not all(
                _shape_fits(param.shape, value.shape) for param, value in pairs):
            raise ValueError(
                f"the net's parameters do not match the kept ones: "
                f"{[(name, p.shape) for name, p in current.items()][:5]} against "
                f"{[(name, v.shape) for name, v in saved][:5]}; build the net the same way")
    for param, value in pairs:
        param.set_data(value)


def _shape_fits(shape: tuple, kept: tuple) -> bool:
    """A parameter's shape (0: not inferred yet) admits the kept array's shape."""
    return len(shape) == len(kept) and all(s in (0, k) for s, k in zip(shape, kept))
