r"""The multiplier player of the proxy-Lagrangian game, and a bound-driven schedule for ``lam``.

Constrained training as a two-player game (Cotter, Jiang & Sridharan, ALT 2019; Cotter et al.,
ICML 2019): the model player descends

.. math::

    w_0\, f(\theta) + \sum_{j=1}^{m} w_j\, \tilde g_j(\theta)

on training batches (:math:`f` the base loss, :math:`\tilde g_j` differentiable proxies of the
constraints), while the multiplier player moves the weights :math:`w` on the simplex of
dimension :math:`m + 1` toward the constraints that the *measured* constraints
:math:`g_j(\theta)` (hard decisions, on held-out rows) say are violated. The payoff of the
multiplier player at an update is :math:`\langle w, (0, g_1, \dots, g_m) \rangle`.

Why the simplex and not :math:`\lambda \in [0, \infty)^m`: the model's gradient is a convex
combination of the objective's and the proxies' gradients, so its scale never exceeds the
larger of the two and the user's optimizer and learning rate stay valid as they are, however
hard the bound pushes (the model player's step size is the user's, unchanged). A Lagrange
multiplier :math:`\lambda_j` is the ratio :math:`w_j / w_0`.

Step-size rule (no per-data-set tuning)
----------------------------------------
The weights follow multiplicative updates (Hedge over the :math:`N = m + 1` "experts": the
objective and the constraints) with the anytime step size of Hedge for payoffs in a range of
width :math:`R`,

.. math::

    \eta_t = \frac{1}{R}\sqrt{\frac{8 \ln N}{t}},

which bounds the multiplier player's regret by :math:`O(R\sqrt{t \ln N})` after t updates
(Cesa-Bianchi & Lugosi, *Prediction, Learning, and Games*, 2006, Thm 2.3). The payoffs are
measured in units of the bound: :math:`R = \epsilon` and each violation
:math:`g_j = |r_a - r_b| - \epsilon` is clipped to :math:`[-\epsilon, \epsilon]` (below the
bound it cannot be smaller than :math:`-\epsilon` anyway; a gap of :math:`2\epsilon` or more
counts as one full unit). So a multiplier's log-odds against the objective move by at most
:math:`\sqrt{8 \ln N / t}` per update: about 3 nats at the first update, 0.3 after a hundred.
The inputs are the bound, the measured gaps and the number of constraints; nothing is tuned
per data set (``MIN_PAYOFF_RANGE`` keeps a bound of 0 usable).

Other ranges were measured first (an MLP, ten updates per epoch, bound 0.05): with
:math:`R = 1`, the a-priori range of a rate, the multiplier on COMPAS needed 12 of 20 epochs
to reach the objective's weight; with :math:`R` the largest violation seen so far, the
multiplier on Adult's equalized odds (violations of 0.01 to 0.02 against an early range of
0.1) hardly left its floor, and 2 of 95 iterates met the bound on the held-out rows (11 with
the rule above).
``regret="swap"`` (the default, TFCO's) keeps an :math:`N \times N` column-stochastic matrix
whose columns are updated multiplicatively with the payoffs weighted by the current
distribution, and plays its stationary distribution (Algorithm 2 of the ALT paper);
``regret="external"`` plays Hedge itself. Every weight stays at least :math:`\rho / N`
(``radius``, TFCO's ``minimum_multiplier_radius``), so a multiplier can always grow back.
"""
import math
from typing import Any, List, Optional, Sequence, Union

import numpy as np

from .._validation import check_choice, check_number, check_numeric, check_positive_int
from .bounds import RateBound

__all__ = ["ProxyLagrangian", "BoundSchedule", "hedge_step_size", "bound_payoff_range",
           "REGRETS", "MIN_PAYOFF_RANGE"]

REGRETS = ("swap", "external")

#: The payoff range used when the bound is smaller (a bound of 0 still needs a scale).
MIN_PAYOFF_RANGE = 0.01

BAD_VIOLATIONS = "violations must have shape ({m},) (one per constraint), got shape {shape}"


def hedge_step_size(t: int, num_experts: int, payoff_range: float) -> float:
    r"""The anytime Hedge step size :math:`\sqrt{8 \ln N / t} / R`.

    Parameters
    ----------
    t : int
        Update number, from 1.
    num_experts : int
        N = m + 1 (the objective and m constraints), >= 2.
    payoff_range : float
        R > 0, the width of the payoffs' range.

    Examples
    --------
    >>> round(hedge_step_size(1, 3, 0.25), 3)
    11.858
    >>> round(hedge_step_size(100, 3, 0.25), 3)
    1.186
    """
    t = check_positive_int("t", t)
    num_experts = check_positive_int("num_experts", num_experts)
    payoff_range = check_number("payoff_range", payoff_range, low=0, low_inclusive=False)
    return math.sqrt(8.0 * math.log(max(num_experts, 2)) / t) / payoff_range


def bound_payoff_range(bound: float) -> float:
    """The payoff range of the step-size rule: the bound, at least ``MIN_PAYOFF_RANGE``.

    Examples
    --------
    >>> bound_payoff_range(0.05), bound_payoff_range(0.0)
    (0.05, 0.01)
    """
    return max(check_number("bound", bound, low=0, high=1, high_inclusive=False),
               MIN_PAYOFF_RANGE)


def _log_normalize(logw: np.ndarray, axis: int = 0) -> np.ndarray:
    top = logw.max(axis=axis, keepdims=True)
    return logw - (top + np.log(np.exp(logw - top).sum(axis=axis, keepdims=True)))


def _floor(logw: np.ndarray, floor: float, axis: int = 0) -> np.ndarray:
    """Log of the projection onto {distributions with every entry >= floor} along ``axis``:
    entries below the floor are raised to it and the others scaled down to fill the rest
    (repeated until no entry falls below: at most N rounds)."""
    w = np.exp(_log_normalize(logw, axis))
    low = np.zeros_like(w, dtype=bool)
    for _ in range(w.shape[axis]):
        new_low = low | (w < floor)
        if (new_low == low).all():
            break
        low = new_low
        free = np.where(low, 0.0, w)
        spare = 1.0 - np.where(low, floor, 0.0).sum(axis=axis, keepdims=True)
        w = np.where(low, floor,
                     free * spare / np.maximum(free.sum(axis=axis, keepdims=True), 1e-300))
    return np.log(w)


class ProxyLagrangian:
    """Weights on the objective and m constraints, updated from measured constraint values.

    Parameters
    ----------
    num_constraints : int
        m >= 1.
    regret : {"swap", "external"}, default "swap"
        Swap-regret (TFCO's default: a stochastic matrix, its stationary distribution is
        played) or external-regret (Hedge) multiplicative updates.
    step_size : float, optional
        A constant step size; default: the anytime Hedge rule of the module docstring.
    radius : float, default 1e-3
        Every weight is at least ``radius / (m + 1)``; in (0, 1).
    payoff_range : float, optional
        R of the step-size rule; default: the largest |violation| seen so far. The losses and
        schedules of this package pass the bound (:func:`bound_payoff_range`).
    clip : bool, default False
        Clip the violations to ``[-payoff_range, payoff_range]`` (needs ``payoff_range``).

    Attributes
    ----------
    weights : ndarray, shape (m + 1,)
        ``weights[0]`` on the objective, ``weights[1:]`` on the constraints; sums to 1.
    num_updates : int
    payoff_range : float
        R, the largest |violation| seen (NaN before the first update).
    history : list of dict
        Per update: ``violations``, ``weights``, ``step``.

    Examples
    --------
    >>> game = ProxyLagrangian(num_constraints=2, regret="external")
    >>> game.weights.round(4).tolist()
    [0.9993, 0.0003, 0.0003]
    >>> for _ in range(10):
    ...     w = game.update([0.15, -0.25])   # constraint 1 violated, constraint 2 met
    >>> bool(game.weights[1] > game.weights[0] > game.weights[2])
    True
    """

    def __init__(self, num_constraints: int, *, regret: str = "swap",
                 step_size: Optional[float] = None, radius: float = 1e-3,
                 payoff_range: Optional[float] = None, clip: bool = False):
        self.num_constraints = check_positive_int("num_constraints", num_constraints)
        self.regret = check_choice("regret", regret, REGRETS)
        self.step_size = (None if step_size is None
                          else check_number("step_size", step_size, low=0, low_inclusive=False))
        self.radius = check_number("radius", radius, low=0, high=1, low_inclusive=False,
                                   high_inclusive=False)
        self.fixed_range = (None if payoff_range is None else
                            check_number("payoff_range", payoff_range, low=0,
                                         low_inclusive=False))
        if clip and self.fixed_range is None:
            raise ValueError("clip=True needs a payoff_range to clip to")
        self.clip = bool(clip)
        self.reset()

    @property
    def num_experts(self) -> int:
        return self.num_constraints + 1

    def reset(self) -> None:
        """Back to the initial weights: everything on the objective but the floor."""
        n = self.num_experts
        floor = self.radius / n
        init = np.full(n, floor)
        init[0] = 1.0 - floor * (n - 1)
        if self.regret == "external":
            self._state = np.log(init)
        else:  # every column of the stochastic matrix starts as the initial distribution
            self._state = np.log(np.tile(init[:, None], (1, n)))
        self._weights = init
        self.num_updates = 0
        self.payoff_range = float("nan")
        self.history: List[dict] = []

    @property
    def weights(self) -> np.ndarray:
        """The distribution played: shape (m + 1,), a copy."""
        return self._weights.copy()

    @property
    def multipliers(self) -> np.ndarray:
        """Lagrange multipliers ``weights[1:] / weights[0]``, shape (m,)."""
        return self._weights[1:] / self._weights[0]

    def update(self, violations: Union[Sequence[float], np.ndarray]) -> np.ndarray:
        """One multiplicative step from measured constraint values (``> 0``: violated).

        A NaN entry (a constraint that could not be measured) gets payoff 0 for this step.

        Returns
        -------
        ndarray, shape (m + 1,)
            The new weights.
        """
        v = check_numeric("violations", violations, ids=False).astype(np.float64)
        if v.shape != (self.num_constraints,):
            raise ValueError(BAD_VIOLATIONS.format(m=self.num_constraints,
                                                   shape=np.shape(violations)))
        if np.isinf(v).any():
            raise ValueError("violations must be finite or NaN (unmeasured), got inf")
        payoff = np.concatenate([[0.0], np.nan_to_num(v, nan=0.0)])
        if self.clip:
            payoff = np.clip(payoff, -self.fixed_range, self.fixed_range)
        seen = float(np.abs(payoff).max())
        if self.fixed_range is not None:
            self.payoff_range = self.fixed_range
        else:
            self.payoff_range = seen if math.isnan(self.payoff_range) else max(
                self.payoff_range, seen)
        self.num_updates += 1
        if self.step_size is not None:
            eta = self.step_size
        elif self.payoff_range > 0:
            eta = hedge_step_size(self.num_updates, self.num_experts, self.payoff_range)
        else:
            eta = 0.0  # every constraint exactly at its bound so far: nothing to learn
        floor = self.radius / self.num_experts
        if self.regret == "external":
            self._state = _floor(self._state + eta * payoff, floor)
            self._weights = np.exp(self._state)
        else:
            # Column i is the Hedge instance that "expert i" runs on the payoffs it is credited
            # with, weight_i * payoff; the played weights are the fixed point w = M w.
            self._state = _floor(self._state + eta * np.outer(payoff, self._weights), floor,
                                 axis=0)
            self._weights = _stationary(np.exp(self._state))
        self.history.append({"violations": v.tolist(), "weights": self._weights.tolist(),
                             "step": eta})
        return self.weights

    def __repr__(self) -> str:
        return (f"ProxyLagrangian(num_constraints={self.num_constraints}, "
                f"regret={self.regret!r}, updates={self.num_updates})")


def _stationary(matrix: np.ndarray) -> np.ndarray:
    """The stationary distribution w = M w of a column-stochastic matrix with positive
    entries (Perron-Frobenius: unique and positive)."""
    values, vectors = np.linalg.eig(matrix)
    w = np.abs(np.real(vectors[:, int(np.argmin(np.abs(values - 1.0)))]))
    return w / w.sum()


class BoundSchedule:
    """Drive the ``lam`` of a penalised loss toward a bound on the gap measured on held-out rows.

    The penalty weight of :class:`mxfair.loss.FairnessRegularizedLoss` (or any object with a
    settable ``lam``, or another attribute named by ``attr``) becomes the Lagrange multiplier
    of the single constraint ``gap <= bound``, played by a :class:`ProxyLagrangian` with one
    constraint: ``lam = w_1 / w_0``, raised while the measured between-groups gap is above the
    bound and lowered while below, with the step-size rule of the module docstring. Only the
    bound is stated; ``lam`` starts near 0 (``radius / (2 - radius)``).

    Parameters
    ----------
    target : object
        Has a settable ``attr`` (``loss.lam``).
    bound : float
        The allowed between-groups gap, in [0, 1).
    constraint : str
        Whose rates the gap is measured on (as for :class:`RateBound`).
    num_groups : int
    num_classes : int, default 2
    attr : str, default "lam"
    regret : {"swap", "external"}, default "swap"
    radius : float, default 1e-3

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.loss import FairnessRegularizedLoss
    >>> from mxfair.metrics import GroupStats
    >>> loss_fn = FairnessRegularizedLoss(num_groups=2)
    >>> schedule = BoundSchedule(loss_fn, bound=0.05, constraint="demographic_parity",
    ...                          num_groups=2)
    >>> stats = GroupStats(2, from_logits=False)
    >>> stats.update(np.array([0, 1, 0, 1]), np.array([0.9, 0.8, 0.1, 0.7]),
    ...              np.array([0, 0, 1, 1]))   # gap 0.5: far above the bound
    >>> before = loss_fn.lam
    >>> after = schedule.update(stats)
    >>> after > before, loss_fn.lam == after
    (True, True)
    """

    def __init__(self, target: Any, bound: float, constraint: str, num_groups: int, *,
                 num_classes: int = 2, attr: str = "lam", regret: str = "swap",
                 radius: float = 1e-3):
        if not isinstance(attr, str) or not hasattr(target, attr):
            raise TypeError(f"target must have a settable attribute {attr!r} (the penalty "
                            f"weight), got {target!r}")
        self.target, self.attr = target, attr
        self.rate_bound = RateBound(constraint, num_groups, bound, num_classes=num_classes)
        self.game = ProxyLagrangian(1, regret=regret, radius=radius,
                                    payoff_range=bound_payoff_range(self.rate_bound.bound),
                                    clip=True)
        setattr(self.target, self.attr, float(self.game.multipliers[0]))

    @property
    def bound(self) -> float:
        return self.rate_bound.bound

    @property
    def value(self) -> float:
        """The current ``lam``."""
        return float(self.game.multipliers[0])

    def update(self, source: Any) -> float:
        """One step from the gap of ``source`` (GroupStats, FairnessReport or
        FairnessMonitor of the held-out rows); sets and returns the new ``lam``."""
        gap = self.rate_bound.gap(source)
        self.game.update([gap - self.bound])
        setattr(self.target, self.attr, self.value)
        return self.value

    def __repr__(self) -> str:
        return (f"BoundSchedule({self.attr}={self.value:.4g}, bound={self.bound}, "
                f"constraint={self.rate_bound.constraint!r})")
