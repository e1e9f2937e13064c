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

**Which rows feed the multiplier.** The measured gap is that of the *training* rows: a call of the
loss adds its rows' hard per-group totals only while autograd records in training mode (inside
``autograd.record()``, i.e. a training step). A validation pass (no ``record``, as in a plain
loop or in ``Estimator.fit(val_data=...)``, whose validation loss is by default the training
loss object) leaves the totals, hence the multiplier, exactly where they were. Rows from
anywhere else can be added on purpose with :meth:`ConstrainedFairLoss.accumulate`, and a gap
measured elsewhere passed to :meth:`ConstrainedFairLoss.update_multiplier`.
"""
from typing import List, Optional, Union

import mxnet as mx
import numpy as np

from .. import _state
from .._ops import is_ndarray, nan_divide
from .._validation import check_number
from ._rows import as_device_lists, check_lam
from .fair_loss import FairnessRegularizedLoss
from .penalties import Penalty
from .statistics import Statistic

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
        self.max_value = None if max_value is None else check_lam(max_value, "max_value")
        self.value = check_lam(init, "init")
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

    Every training call (under ``autograd.record()`` in training mode) also adds the batch's
    hard per-group totals to running sums, on the device, without synchronising; calls
    outside ``record`` (validation) add nothing. ``update_multiplier()`` (after
    ``trainer.step``, every step or at the end of an epoch) reads the measured gap from those
    sums, takes a dual-ascent step, writes the new multiplier into ``lam`` and resets the sums.
    It can also take a gap measured elsewhere (e.g. on validation data with
    ``mxfair.metrics``). With per-device lists (data-parallel), the totals of all devices are
    summed, as is the penalty (see ``FairnessRegularizedLoss``).

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
        lam_init = check_lam(lam_init, "lam_init")
        lam_max = None if lam_max is None else check_lam(lam_max, "lam_max")
        threshold = check_number("threshold", threshold, low=0, high=1,
                                 low_inclusive=False, high_inclusive=False)
        super().__init__(num_groups, constraint=constraint, penalty=penalty, lam=lam_init,
                         **kwargs)
        self.multiplier = LagrangeMultiplier(bound, lr=lr, init=lam_init, max_value=lam_max)
        self._threshold = threshold
        self.terms.threshold = threshold  # the graph also outputs the hard per-group totals
        self._totals = None  # (num, den), each NDArray (G, C), on the first batch's context

    @property
    def bound(self) -> float:
        """The allowed gap."""
        return self.multiplier.bound

    @FairnessRegularizedLoss.lam.setter
    def lam(self, value: float) -> None:
        # The multiplier and the parameter hold the same value.
        self.multiplier.value = check_lam(value)
        _state.set_scalar(self.lam_value, self.multiplier.value)

    def _observe(self, measured) -> None:
        """Add the hard totals of a training call (one ``(num, den)`` per device)."""
        if mx.autograd.is_recording() and mx.autograd.is_training():
            self._add_totals(measured)

    def _add_totals(self, measured) -> None:
        with mx.autograd.pause():
            home = (self._totals[0].context if self._totals is not None
                    else measured[0][0].context)
            # Copies: a graph built with static_alloc may reuse its output buffers.
            num, den = ([m[k].copyto(home) for m in measured] for k in (0, 1))
            num = num[0] if len(num) == 1 else mx.nd.add_n(*num)
            den = den[0] if len(den) == 1 else mx.nd.add_n(*den)
            if self._totals is None:
                self._totals = (num, den)
            else:
                self._totals = (self._totals[0] + num, self._totals[1] + den)

    def accumulate(self, pred, label, group, sample_weight=None) -> None:
        """Add the measured per-group totals of these rows to the running sums, explicitly.

        Training calls of the loss do this themselves; use it to feed the multiplier from rows
        that are not trained on in this call (for example a held-out batch the bound is meant
        for). No synchronisation; lists (one entry per device) are accepted.

        Parameters
        ----------
        pred, label, group, sample_weight : NDArray, or lists of NDArrays (one per device)
            As for the forward call.
        """
        lists = as_device_lists(type(self).__name__, pred, label, group, sample_weight)
        if lists is None:
            lists = ([pred], [label], [group], [sample_weight])
        measured = []
        with mx.autograd.pause():
            for i, (p, y, g, w) in enumerate(zip(*lists)):
                y, w = self._prepare(p, y, g, w, name="pred" if len(lists[0]) == 1
                                     else f"pred[{i}]")
                out = self.terms(p, y, g) if w is None else self.terms(p, y, g, w)
                self._invalid.add(out[1])
                measured.append(out[-2:])
        self._add_totals(measured)

    @property
    def measured_totals(self):
        """``(num, den)``: the hard per-group totals (G, C) summed since the last update, as
        NDArrays on the first batch's context, or None before any training call.

        ``den`` sums the weight of the rows each rate is taken over (for demographic parity:
        every training row), so ``den`` tells how many rows fed the multiplier.
        """
        return self._totals

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
            (one host synchronisation; it also warns if invalid rows were left out).

        Returns
        -------
        float
            The new ``lam``.
        """
        if gap is None:
            gap = self.measured_gap()
            self._invalid.warn()  # a synchronisation anyway: say if rows were left out
        self.reset_totals()
        # The parameter is the saved state (load_parameters restores it): start from it.
        self.multiplier.value = self.lam
        value = self.multiplier.update(gap)
        _state.set_scalar(self.lam_value, value)
        return value
