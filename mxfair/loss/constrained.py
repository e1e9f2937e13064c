r"""Constrained training: state the bound ``gap <= eps`` instead of tuning ``lam``.

The constrained problem :math:`\min_\theta L(\theta)` s.t. :math:`\mathrm{gap}(\theta) \le
\epsilon` is trained through its Lagrangian :math:`L(\theta) + \lambda (\mathrm{penalty}(\theta)
- \epsilon)` with :math:`\lambda \ge 0`. The model descends on :math:`\theta` (the usual
``backward`` / ``trainer.step``) while the multiplier ascends on the measured violation, on the host
between steps (dual ascent):

.. math::

    \lambda \leftarrow \min\big(\lambda_{max}, \max(0, \lambda + \eta\,
    (\mathrm{gap} - \epsilon))\big).

As in TFCO's proxy-Lagrangian, the model sees a differentiable proxy (the soft penalty) while the
multiplier follows the *measured* gap of hard decisions (``p > threshold``): the difference between
the largest and the smallest group rate (fairlearn's ``between_groups``), worst over the statistic's
columns (TPR and FPR for equalized odds). Update per step (noisy, fast) or per epoch (smooth).
"""
from typing import List, Optional, Union

import mxnet as mx
import numpy as np

from .._ops import as_dtype_of, group_onehot, is_ndarray, nan_divide
from .._validation import check_number
from . import _scalar
from .fair_loss import FairnessRegularizedLoss, _check_lam, _label_matrix, _probabilities
from .penalties import Penalty
from .statistics import Statistic, apply_sample_weight, group_totals, hard_predictions

__all__ = ["LagrangeMultiplier", "ConstrainedFairLoss", "between_groups_gap"]


def between_groups_gap(num, den) -> float:
    """Worst between-groups gap from per-group totals: max over columns of (max - min) rate.

    Parameters
    ----------
    num, den : array-like, shape (G, C)
        Per-group totals (``statistics.group_totals``), NumPy or NDArray.

    Returns
    -------
    float
        The gap; groups with ``den == 0`` are ignored; NaN if no column has two groups present.

    Examples
    --------
    >>> between_groups_gap([[3.0], [1.0]], [[4.0], [4.0]])
    0.5
    """
    num = num.asnumpy() if is_ndarray(num) else np.asarray(num, dtype=np.float64)
    den = den.asnumpy() if is_ndarray(den) else np.asarray(den, dtype=np.float64)
    rates = nan_divide(num, den)  # (G, C), NaN for absent groups
    gaps = []
    for c in range(rates.shape[1]):
        col = rates[:, c][~np.isnan(rates[:, c])]
        if col.size >= 2:
            gaps.append(float(col.max() - col.min()))
    return max(gaps) if gaps else float("nan")


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

    def __init__(self, bound: float, lr: float = 1.0, init: float = 0.0,
                 max_value: Optional[float] = None):
        self.bound = check_number("bound", bound, low=0, high=1, high_inclusive=False)
        self.lr = check_number("lr", lr, low=0, low_inclusive=False)
        self.max_value = None if max_value is None else _check_lam(max_value, "max_value")
        self.value = _check_lam(init, "init")
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


class ConstrainedFairLoss(FairnessRegularizedLoss):
    """A ``FairnessRegularizedLoss`` whose ``lam`` is a Lagrange multiplier for ``gap <= bound``.

    Every imperative call also adds the batch's hard per-group totals to running sums (on the
    device, no synchronisation). ``update_multiplier()`` (after ``trainer.step``, every step or at
    the end of an epoch) reads the measured gap from those sums, takes a dual-ascent step, writes
    the new multiplier into ``lam`` and resets the sums. It can also take a gap measured
    elsewhere (e.g. on validation data with ``mxfair.metrics``).

    Parameters
    ----------
    num_groups : int
    bound : float
        The allowed between-groups gap ``eps`` of the measured rates.
    constraint : str or Statistic, default 'demographic_parity'
        As for ``FairnessRegularizedLoss`` (canonical names or their aliases).
    penalty : str or Penalty, default 'absolute'
        The differentiable proxy of the gap. ``'absolute'`` equals the gap of the soft rates for
        two groups.
    lr : float, default 1.0
        Dual step size (see ``LagrangeMultiplier``).
    lam_init : float, default 0.0
        Starting multiplier, >= 0.
    lam_max : float, optional
        Upper clip of the multiplier, >= 0.
    threshold : float, default 0.5
        Decision threshold on the probability for the measured (hard) gap of a binary task.
    **kwargs
        Passed to ``FairnessRegularizedLoss`` (``base_loss``, ``from_logits``, ``num_classes``...).

    Inputs and outputs are those of ``FairnessRegularizedLoss``.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import autograd, gluon
    >>> net = gluon.nn.Dense(1)
    >>> net.initialize()
    >>> trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    >>> loss_fn = ConstrainedFairLoss(num_groups=2, bound=0.02, lr=2.0)
    >>> x = mx.nd.random.normal(shape=(8, 3))
    >>> y = mx.nd.array([0, 1, 0, 1, 1, 0, 1, 0])
    >>> g = mx.nd.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> for epoch in range(2):
    ...     with autograd.record():
    ...         loss = loss_fn(net(x), y, g)
    ...     loss.backward()
    ...     trainer.step(8)
    ...     lam = loss_fn.update_multiplier()   # per epoch here: one batch per epoch
    >>> lam >= 0
    True
    """

    def __init__(self, num_groups: int, bound: float,
                 constraint: Union[str, Statistic] = "demographic_parity",
                 penalty: Union[str, Penalty] = "absolute", lr: float = 1.0,
                 lam_init: float = 0.0, lam_max: Optional[float] = None,
                 threshold: float = 0.5, **kwargs):
        if "lam" in kwargs:
            raise TypeError("ConstrainedFairLoss sets lam itself; use lam_init")
        lam_init = _check_lam(lam_init, "lam_init")
        lam_max = None if lam_max is None else _check_lam(lam_max, "lam_max")
        threshold = check_number("threshold", threshold, low=0, high=1,
                                 low_inclusive=False, high_inclusive=False)
        super().__init__(num_groups, constraint=constraint, penalty=penalty, lam=lam_init,
                         **kwargs)
        self.multiplier = LagrangeMultiplier(bound, lr=lr, init=lam_init, max_value=lam_max)
        self._threshold = threshold
        self._totals = None  # (num, den), each NDArray (G, C), on the context of the batches

    @property
    def bound(self) -> float:
        """The allowed gap."""
        return self.multiplier.bound

    @FairnessRegularizedLoss.lam.setter
    def lam(self, value: float) -> None:
        # The multiplier and the parameter hold the same value.
        self.multiplier.value = _check_lam(value)
        _scalar.set_scalar(self.lam_value, self.multiplier.value)

    def forward(self, pred, label=None, group=None, sample_weight=None):
        """The regularized loss; imperative calls also accumulate the measured per-group totals."""
        out = super().forward(pred, label, group, sample_weight)
        if is_ndarray(pred):
            with mx.autograd.pause():
                self._accumulate(pred, label, group, as_dtype_of(pred, sample_weight))
        return out

    def _accumulate(self, pred, label, group, sample_weight) -> None:
        F = mx.nd
        probs = _probabilities(F, pred, self._num_classes, self._from_logits)
        hard = hard_predictions(F, probs, self._num_classes, self._threshold)
        labels = _label_matrix(F, label, self._num_classes)
        values, weights = self._statistic.terms(F, hard, labels)
        weights = apply_sample_weight(F, weights, sample_weight)
        num, den = group_totals(F, values, weights, group_onehot(F, group, self._num_groups))
        den = F.broadcast_like(den, num)  # (G, C)
        if self._totals is None:
            self._totals = (num, den)
        else:
            # Data-parallel training calls the loss once per device: sum on the first one.
            home = self._totals[0].context
            self._totals = (self._totals[0] + num.as_in_context(home),
                            self._totals[1] + den.as_in_context(home))

    def measured_gap(self) -> float:
        """Between-groups gap of the hard rates summed since the last update (NaN if none)."""
        if self._totals is None:
            return float("nan")
        return between_groups_gap(*self._totals)

    def reset_totals(self) -> None:
        """Forget the accumulated totals (``update_multiplier`` does this)."""
        self._totals = None

    def update_multiplier(self, gap: Optional[float] = None) -> float:
        """Dual-ascent step: ``lam <- clip(lam + lr * (gap - bound), 0, lam_max)``.

        Parameters
        ----------
        gap : float, optional
            A gap measured elsewhere; default: the gap accumulated since the last update
            (one host synchronisation).

        Returns
        -------
        float
            The new ``lam``.
        """
        if gap is None:
            gap = self.measured_gap()
        self.reset_totals()
        # The parameter is the saved state (load_parameters restores it): start from it.
        self.multiplier.value = self.lam
        value = self.multiplier.update(gap)
        _scalar.set_scalar(self.lam_value, value)
        return value
