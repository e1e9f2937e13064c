r"""The Lagrange multiplier of constrained training: state the bound ``gap <= eps``, not ``lam``.

The constrained problem :math:`\min_\theta L(\theta)` s.t. :math:`\mathrm{gap}(\theta) \le
\epsilon` is trained through its Lagrangian :math:`L(\theta) + \lambda (\mathrm{penalty}(\theta)
- \epsilon)` with :math:`\lambda \ge 0`. The model descends on :math:`\theta` (the usual
``backward`` / ``trainer.step``) while the multiplier ascends on the measured violation, on the host
between steps (dual ascent, :class:`LagrangeMultiplier`):

.. math::

    \lambda \leftarrow \min\big(\lambda_{max}, \max(0, \lambda + \eta\,
    (\mathrm{gap} - \epsilon))\big).

:class:`~mxfair.loss.ConstrainedFairLoss` (in :mod:`mxfair.loss.fair_loss`, beside the loss it
extends) holds one and feeds it the gap of its training rows.
"""
from typing import List, Optional

import numpy as np

from .._validation import check_number

__all__ = ["LagrangeMultiplier"]


class LagrangeMultiplier:
    """A Lagrange multiplier for ``gap <= bound``, updated by projected dual ascent on the host.

    Parameters
    ----------
    bound : float
        The allowed gap ``eps``, in [0, 1).
    lr : float, default 1.0
        Dual step size ``eta``: the multiplier moves by ``lr * (gap - bound)`` per update.
        Per-step updates want a small step (e.g. 0.05), per-epoch ones a larger (e.g. 2).
    init : float, default 0.0
        Starting value, >= 0.
    max_value : float, optional
        Upper clip (keeps a noisy gap from driving the multiplier without limit).

    Attributes
    ----------
    value : float
        The current multiplier, >= 0.
    history : list of (gap, value)
        One entry per ``update``.

    Examples
    --------
    >>> m = LagrangeMultiplier(bound=0.02, lr=10.0)
    >>> round(m.update(0.12), 6)    # gap above the bound: lam grows
    1.0
    >>> round(m.update(0.0), 6)     # gap below the bound: lam shrinks (never below 0)
    0.8
    """

    def __init__(self, bound: float, *, lr: float = 1.0, init: float = 0.0,
                 max_value: Optional[float] = None):
        self.bound = check_number("bound", bound, low=0, high=1, high_inclusive=False)
        self.lr = check_number("lr", lr, low=0, low_inclusive=False)
        self.max_value = None if max_value is None else check_number("max_value", max_value, low=0)
        self.value = check_number("init", init, low=0)
        if self.max_value is not None:
            self.value = min(self.value, self.max_value)
        self.history: List[tuple] = []

    def update(self, gap: float) -> float:
        """One dual-ascent step from a measured gap; a NaN gap (undefined) leaves it unchanged.

        Returns
        -------
        float
            The new value.
        """
        gap = float(gap)
        if not np.isnan(gap):
            value = max(0.0, self.value + self.lr * (gap - self.bound))
            self.value = value if self.max_value is None else min(value, self.max_value)
        self.history.append((gap, self.value))
        return self.value

    def __repr__(self) -> str:
        return (f"LagrangeMultiplier(bound={self.bound}, lr={self.lr}, value={self.value:.4g}, "
                f"max_value={self.max_value})")
