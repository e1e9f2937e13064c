r"""The fair losses: a Gluon loss plus a batch-level group-fairness penalty, weighted by ``lam``
(:class:`FairnessRegularizedLoss`) or by a Lagrange multiplier for a stated bound
(:class:`ConstrainedFairLoss`).

.. math::

    \ell_i = \ell^{base}(\hat y_i, y_i) + \lambda \cdot
              \mathrm{penalty}\big(\mathrm{statistic}(p, y, a)\big)

The penalty is one number per batch, added to every sample's loss, so that ``loss.backward()``
followed by ``trainer.step(batch_size)`` keeps its usual meaning: the gradient of the batch mean
is the mean base-loss gradient plus ``lam`` times the penalty's gradient.

The statistic (positive rate, TPR, FPR, ...; ``statistics``) and the penalty (squared, absolute,
smooth-max gap, MMD; ``penalties``) are chosen independently.

**Data-parallel steps.** Called with lists, one entry per device (what
``gluon.utils.split_and_load`` gives), the loss returns one array of per-row losses per device
and its penalty is that of the *whole step*: the devices' per-group totals are summed, every
device evaluates the penalty of the sum with its own totals live, and the penalty's gradient is
scaled by ``N / n_d`` on a device of ``n_d`` of the step's ``N`` rows, so that
``for loss in losses: loss.backward()`` then ``trainer.step(N)`` is the step of the whole batch
on one device (``mxfair.loss._devices`` derives it). Calling the
loss once per device instead penalises each device's slice: a different, noisier penalty
(exactly 0 when each device holds one group).

**Input checks.** Inputs must be NDArrays (NumPy arrays cannot carry a gradient) with float32
scores; shapes are checked on the host without synchronisation. Group ids, labels and sample
weights are checked on the host for the first batch of every new shape (one synchronisation;
bad values raise ``ValueError``), and inside the graph for every batch: an invalid row (group id
not an integer in ``[0, num_groups)``, label not a class id, sample weight negative, NaN or
infinite) is left out of the loss, the penalty and the gradient, counted on the device, and
reported by a warning (the count is read with a lag, at calls 2, 4, 8, ... 64 and every 64 calls
after that, so that it never stalls training) and by ``num_invalid`` (exact; synchronises).
``check_groups=True`` checks every batch on the host instead (one synchronisation per batch).

**Constrained training** (:class:`ConstrainedFairLoss`): state the bound ``gap <= eps`` instead
of tuning ``lam``; ``lam`` is then a Lagrange multiplier (:class:`~mxfair.loss.LagrangeMultiplier`)
that rises by dual ascent while the measured gap is above the bound and falls below it.
As in TFCO's proxy-Lagrangian, the model sees a differentiable proxy (the soft penalty) while the
multiplier follows the *measured* gap of hard decisions (``p >= threshold``, the rule of
``GroupStats``): the difference between the largest and the smallest group rate (fairlearn's
``between_groups``, :func:`mxfair.metrics.group_gap`), worst over the statistic's columns (TPR
and FPR for equalized odds). Update per step (noisy, fast) or per epoch (smooth).

**Which rows feed the multiplier.** The measured gap is that of the *training* rows: a call of the
loss adds its rows' hard per-group totals only while autograd records in training mode (inside
``autograd.record()``, i.e. a training step). A validation pass (no ``record``, as in a plain
loop or in ``Estimator.fit(val_data=...)``, whose validation loss is by default the training
loss object) leaves the totals, hence the multiplier, exactly where they were. Rows from
anywhere else can be added on purpose with :meth:`ConstrainedFairLoss.accumulate`, and a gap
measured elsewhere passed to :meth:`ConstrainedFairLoss.update_multiplier`.
"""
from typing import Dict, List, Optional, Union

import mxnet as mx
import numpy as np

from .. import _state
from .._constraints import canonical_constraint
from .._ops import group_onehot, is_ndarray, nan_divide, to_numpy
from .._row_mask import InvalidRows
from .._validation import check_number, check_positive_int
from ..metrics import group_gap
from ._devices import DeviceLoss, Placements, combine_parts
from ._rows import (
    NEEDS_GROUP,
    NEEDS_LABEL,
    InputChecker,
    as_device_lists,
    check_host_ids,
    check_pred_array,
    check_shapes,
    check_values,
    host_arrays,
)
from ._terms import FairTerms, base_loss_block, label_matrix, probabilities
from .constrained import LagrangeMultiplier
from .penalties import Penalty, get_penalty
from .statistics import Statistic, apply_sample_weight, get_statistic

__all__ = ["FairnessRegularizedLoss", "ConstrainedFairLoss", "fairness_penalty"]


def _constraint_name(constraint: Union[str, Statistic], statistic: Statistic) -> str:
    """The canonical name of a named constraint, else the custom statistic's name."""
    return canonical_constraint(constraint) if isinstance(constraint, str) else statistic.name


class FairnessRegularizedLoss(mx.gluon.loss.Loss):
    """Base classification loss plus ``lam`` times a batch-level group-fairness penalty.

    Parameters
    ----------
    num_groups : int
        Number of groups; group ids are integers in ``[0, num_groups)``.
    constraint : str or Statistic, default 'demographic_parity'
        What is equalised across groups: ``'demographic_parity'`` (positive rate),
        ``'equal_opportunity'`` (TPR), ``'predictive_equality'`` (FPR), ``'equalized_odds'``
        (TPR and FPR), or a ``Statistic``. Multi-class: the same per class (one-vs-rest).
        The aliases of ``mxfair.CONSTRAINTS`` are accepted too (``'dp'``, ``'eqopp'``,
        ``'eqodds'``, fairlearn's ``'true_positive_rate_parity'``, ...); the ``constraint``
        property holds the canonical name.
    penalty : str or Penalty, default 'squared'
        How groups are compared: ``'squared'``, ``'absolute'``, ``'max'`` (smooth maximum),
        ``'mmd'`` (MinDiff), or a ``Penalty`` instance.
    lam : float, default 1.0
        Weight of the penalty, >= 0. A non-trained parameter: change it between steps with
        ``loss.lam = value`` (works after ``hybridize``; saved by ``save_parameters``). It is
        initialised on the context of the first batch (no ``initialize()`` call needed).
    base_loss : gluon.loss.Loss, optional
        Called as ``base_loss(pred, label, sample_weight)`` with ``label`` of shape (N,) and the
        weight of pred's rank (0 for invalid rows); it must return shape (N,). Default:
        ``SigmoidBinaryCrossEntropyLoss`` (binary) or ``SoftmaxCrossEntropyLoss`` (multi-class).
    from_logits : bool, default True
        ``pred`` holds logits (sigmoid/softmax applied here); if False, probabilities.
    num_classes : int, default 2
        2: ``pred`` is one score per row, shape (N,) or (N, 1). K > 2: ``pred`` is (N, K).
    check_groups : bool, default False
        Check group ids, labels and weights on the host in every imperative call (one
        synchronisation per call) and raise on a bad value, instead of only in the first batch
        of each shape (later bad rows are then counted and warned, see the module docstring).
    weight : float, optional
        Global scalar weight of the whole loss (as in every Gluon loss).
    batch_axis : int, default 0
        Passed to the default base loss.

    Inputs:
        - **pred**: scores, float32, shape (N,) or (N, 1) (binary) or (N, K); or a list of
          such arrays, one per device.
        - **label**: true labels, shape (N,) or (N, 1), 0/1 or class ids (any numeric dtype);
          a list when ``pred`` is one.
        - **group**: group ids, shape (N,) or (N, 1), integers in ``[0, num_groups)``; a list
          when ``pred`` is one.
        - **sample_weight**: optional, shape (N,) or (N, 1), finite and >= 0; weights the base
          loss per sample and the rows inside the group statistics; a list when ``pred`` is one.

    Outputs:
        - **loss**: shape (N,): base loss per sample + ``lam`` * penalty (same for every row); a
          list of such arrays, one per device (on the device of its ``pred``), for lists.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import autograd, gluon
    >>> net = gluon.nn.Dense(1)
    >>> net.initialize()
    >>> loss_fn = FairnessRegularizedLoss(num_groups=2, constraint="demographic_parity", lam=2.0)
    >>> x = mx.nd.random.normal(shape=(8, 3))
    >>> y = mx.nd.array([0, 1, 0, 1, 1, 0, 1, 0])
    >>> g = mx.nd.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> with autograd.record():
    ...     loss = loss_fn(net(x), y, g)
    >>> loss.backward()
    >>> loss.shape
    (8,)

    Data-parallel: one call with the per-device lists, one backward per device (here two CPU
    contexts stand in for two GPUs); the penalty is that of all 8 rows.

    >>> ctx = [mx.cpu(0), mx.cpu(1)]
    >>> net.collect_params().reset_ctx(ctx)
    >>> xs, ys, gs = (gluon.utils.split_and_load(a, ctx) for a in (x, y, g))
    >>> with autograd.record():
    ...     losses = loss_fn([net(xi) for xi in xs], ys, gs)
    >>> for loss in losses:
    ...     loss.backward()
    >>> [(loss.shape, loss.context) for loss in losses]
    [((4,), cpu(0)), ((4,), cpu(1))]
    """

    #: ``GroupBatchProcessor`` calls the loss once per step with the per-device lists.
    takes_device_lists = True

    def __init__(self, num_groups: int, *, constraint: Union[str, Statistic] = "demographic_parity",
                 penalty: Union[str, Penalty] = "squared", lam: float = 1.0,
                 base_loss: Optional[mx.gluon.loss.Loss] = None, from_logits: bool = True,
                 num_classes: int = 2, check_groups: bool = False,
                 weight: Optional[float] = None, batch_axis: int = 0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._scale = weight  # the loss's global weight (Gluon's ``weight``)
        self._num_groups = check_positive_int("num_groups", num_groups)
        self._num_classes = check_positive_int("num_classes", num_classes)
        if self._num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        self._statistic = get_statistic(constraint)
        self._constraint_name = _constraint_name(constraint, self._statistic)
        self._penalty = get_penalty(penalty)
        self._from_logits = bool(from_logits)
        self._check_groups = bool(check_groups)
        lam = check_number("lam", lam, low=0)
        custom_base = base_loss is not None
        self._check = InputChecker(type(self).__name__, self._num_groups, self._num_classes,
                                   True, self._constraint_name)
        self._invalid = InvalidRows(type(self).__name__, self._num_groups, self._num_classes)
        with self.name_scope():
            base_loss = base_loss_block(base_loss, self._num_classes, self._from_logits,
                                        batch_axis)
            self.terms = FairTerms(base_loss, custom_base, self._statistic, self._penalty,
                                   self._num_groups, self._num_classes, self._from_logits)
            # Each device's rows in a data-parallel step (``_forward_devices``).
            self.device_loss = DeviceLoss(self._penalty, weight)
            self.lam_value = _state.new_scalar(self, "lam_value", lam)
        self._placements = Placements()

    def hybridize(self, active: bool = True, **kwargs) -> None:
        """As ``HybridBlock.hybridize``; the per-device tail of a data-parallel step is always
        cached without ``static_alloc``: with it, MXNet 1.9.1 computed that block's gradient
        with the value ``lam`` had before ``update_multiplier`` changed it (measured)."""
        super().hybridize(active, **kwargs)
        self.device_loss.hybridize(active)

    @property
    def num_groups(self) -> int:
        """Number of groups."""
        return self._num_groups

    @property
    def constraint(self) -> str:
        """The canonical constraint name (or a custom statistic's name)."""
        return self._constraint_name

    @property
    def statistic(self) -> Statistic:
        """The statistic equalised across groups."""
        return self._statistic

    @property
    def penalty(self) -> Penalty:
        """The penalty comparing groups."""
        return self._penalty

    @property
    def base_loss(self) -> mx.gluon.Block:
        """The per-row loss the penalty is added to."""
        return self.terms.base_loss

    @property
    def lam(self) -> float:
        """Weight of the fairness penalty (host float; setting it checks ``lam >= 0``)."""
        return _state.get_scalar(self.lam_value)

    @lam.setter
    def lam(self, value: float) -> None:
        _state.set_scalar(self.lam_value, check_number("lam", value, low=0))

    @property
    def num_invalid(self) -> Dict[str, float]:
        """Rows left out since the loss was built (or ``reset_invalid``), by reason.

        ``{"rows": ..., "group": ..., "label": ..., "sample_weight": ...}``; a row with two bad
        values counts once in ``rows`` and once under each reason. Reading it synchronises.
        """
        return self._invalid.totals()

    def reset_invalid(self) -> None:
        """Forget the invalid-row counts (``num_invalid``)."""
        self._invalid.reset()

    def save_parameters(self, filename: str, deduplicate: bool = False) -> None:
        """Save ``lam`` (initialised on the CPU first if the loss was never called)."""
        if not _state.is_initialized(self.lam_value):
            _state.ensure_on(self.lam_value, mx.cpu())
        super().save_parameters(filename, deduplicate=deduplicate)

    def check_inputs(self, pred, label, group, sample_weight=None) -> None:
        """Check shapes and values of one batch on the host; raise ValueError naming the problem.

        This synchronises (it reads the group ids and labels). It cannot run inside a
        hybridized graph; call it on your data before training or in an imperative loop.

        Parameters
        ----------
        pred, label, group, sample_weight : NDArray or numpy.ndarray
            As for the forward call.

        Examples
        --------
        >>> import numpy as np
        >>> loss_fn = FairnessRegularizedLoss(num_groups=2)
        >>> loss_fn.check_inputs(np.zeros(3), np.array([0, 1, 1]), np.array([0, 1, 2]))
        Traceback (most recent call last):
        ...
        ValueError: ...group ids must be integers in [0, 2), got values in [0, 2]
        """
        check_host_ids("label", label)
        check_host_ids("group", group)
        pred, label, group, sample_weight = host_arrays(pred, label, group, sample_weight)
        if label is None:
            raise ValueError(NEEDS_LABEL.format(name=self._constraint_name)
                             if self._statistic.needs_label
                             else "label is required by the base loss (got None)")
        check_shapes(pred, label, group, sample_weight, self._num_classes, True,
                     self._constraint_name)
        check_values(label, group, self._num_groups, self._num_classes, sample_weight)

    # ------------------------------------------------------------------------- forward
    def _prepare(self, pred, label, group, sample_weight, name: str = "pred"):
        """Host checks of one device's inputs; returns label and weight in pred's dtype."""
        if label is None and is_ndarray(pred) and group is not None:
            raise ValueError("label is required (got None)")
        label, sample_weight = self._check(pred, label, group, sample_weight, name=name,
                                           every_call=self._check_groups)
        _state.ensure_on(self.lam_value, pred.context)
        return label, sample_weight

    def forward(self, pred, label=None, group=None, sample_weight=None):
        """Check the inputs on the host, then run the loss (see the class docstring)."""
        lists = as_device_lists(type(self).__name__, pred, label, group, sample_weight)
        if lists is not None:
            return self._forward_devices(*lists)
        if isinstance(pred, mx.sym.Symbol):  # composed into a larger symbolic graph
            if group is None:
                raise ValueError(NEEDS_GROUP)
            args = (pred, label, group) + (() if sample_weight is None else (sample_weight,))
            return super().forward(*args)[0]
        label, sample_weight = self._prepare(pred, label, group, sample_weight)
        args = (pred, label, group) + (() if sample_weight is None else (sample_weight,))
        out = super().forward(*args)
        self._invalid.add(out[1])
        self._observe([out[2:]])
        return out[0]

    def _forward_devices(self, preds, labels, groups, weights) -> List[mx.nd.NDArray]:
        """One step over several devices: per-device losses, the whole step's penalty."""
        prepared = [self._prepare(p, y, g, w, name=f"pred[{i}]")
                    for i, (p, y, g, w) in enumerate(zip(preds, labels, groups, weights))]
        outs = []
        for p, g, (y, w) in zip(preds, groups, prepared):
            out = self.terms(p, y, g) if w is None else self.terms(p, y, g, w)
            self._invalid.add(out[1])
            outs.append(out)
        num_parts = len(outs[0]) - 2 - (2 if self.terms.threshold is not None else 0)
        parts = [out[2:2 + num_parts] for out in outs]
        self._observe([out[2 + num_parts:] for out in outs])
        combined = combine_parts(self._penalty, parts)
        total = sum(p.shape[0] for p in preds)
        losses, offset = [], 0
        for d, (pred, out) in enumerate(zip(preds, outs)):
            ctx, rows = pred.context, pred.shape[0]
            args = tuple(combined[d]) + tuple(parts[d])
            if self._penalty.combine != "sum":
                args += (self._placements.placement(ctx, total, offset, rows),)
            losses.append(self.device_loss(out[0], self.lam_value.data(ctx),
                                           self._placements.scale(ctx, total, rows), *args))
            offset += rows
        return losses

    def _observe(self, measured) -> None:
        """What the graphs measured beyond the loss (one tuple per device); for subclasses."""

    def hybrid_forward(self, F, pred, label, group, sample_weight=None, lam_value=None):
        out = (self.terms(pred, label, group) if sample_weight is None
               else self.terms(pred, label, group, sample_weight))
        extra = 2 if self.terms.threshold is not None else 0
        parts = out[2:len(out) - extra]
        pen = self._penalty.from_parts(F, *parts)  # (1,)
        loss = F.broadcast_add(out[0], F.broadcast_mul(lam_value, pen))  # (N,)
        if self._scale is not None:
            loss = loss * self._scale
        return (loss, out[1]) + tuple(out[len(out) - extra:])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_groups={self._num_groups}, "
                f"statistic={self._statistic!r}, penalty={self._penalty!r}, "
                f"num_classes={self._num_classes}, from_logits={self._from_logits})")


def fairness_penalty(pred, *, group, label=None, num_groups: int,
                     constraint: Union[str, Statistic] = "demographic_parity",
                     penalty: Union[str, Penalty] = "squared", from_logits: bool = True,
                     num_classes: int = 2, sample_weight=None):
    """The batch fairness penalty alone (what ``FairnessRegularizedLoss`` adds, before ``lam``).

    ``label`` and ``group`` are keyword-only: both are arrays of small integers, and this
    function took them as ``(pred, group, label)`` before, where the losses take
    ``(pred, label, group)``; a positional call could swap them without an error.

    Parameters
    ----------
    pred : NDArray or numpy.ndarray, shape (N,), (N, 1) or (N, K)
        Logits (default, what a Gluon net emits) or probabilities (``from_logits=False``).
        Computed in float32 (a float64 NDArray is cast, inside autograd).
    group : NDArray or numpy.ndarray, shape (N,)
        Group ids in ``[0, num_groups)`` (checked here, on the host).
    label : NDArray or numpy.ndarray, shape (N,), optional
        Required by label-conditioned constraints (equal opportunity, equalized odds).
    num_groups : int
    constraint, penalty, from_logits, num_classes
        As for ``FairnessRegularizedLoss``.
    sample_weight : NDArray or numpy.ndarray, shape (N,), optional
        Finite and >= 0 (checked here).

    Returns
    -------
    NDArray of shape (1,) on the context of ``pred`` (differentiable under ``autograd``) for
    NDArray input, else a float.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.array([2.0, -2.0, 2.0, 2.0])
    >>> round(fairness_penalty(logits, group=np.array([0, 0, 1, 1]), num_groups=2,
    ...                        penalty="absolute"), 4)
    0.3808
    >>> fairness_penalty(np.array([1.0, 0.0, 1.0, 1.0]), group=np.array([0, 0, 1, 1]),
    ...                  num_groups=2, penalty="absolute", from_logits=False)
    0.5
    """
    num_groups = check_positive_int("num_groups", num_groups)
    num_classes = check_positive_int("num_classes", num_classes)
    statistic, pen = get_statistic(constraint), get_penalty(penalty)
    check_host_ids("group", group)
    check_host_ids("label", label)
    return_nd = is_ndarray(pred)
    ctx = pred.context if return_nd else mx.current_context()

    def _nd(a):
        if a is None:
            return None
        if is_ndarray(a):
            a = a.as_in_context(ctx)
            return a if a.dtype == np.float32 else a.astype("float32")
        return mx.nd.array(np.asarray(to_numpy(a), dtype=np.float64), ctx=ctx, dtype="float32")

    pred, group, label, sample_weight = (_nd(a) for a in (pred, group, label, sample_weight))
    check_pred_array("pred", pred, "fairness_penalty")
    check_shapes(pred, label, group, sample_weight, num_classes, statistic.needs_label,
                 _constraint_name(constraint, statistic))
    check_values(label, group, num_groups, num_classes, sample_weight)
    F = mx.nd
    probs = probabilities(F, pred, num_classes, from_logits)
    labels = None if label is None else label_matrix(F, label, num_classes)
    values, weights = statistic.terms(F, probs, labels)
    weights = apply_sample_weight(F, weights, sample_weight)
    out = pen(F, values, weights, group_onehot(F, group, num_groups))
    return out if return_nd else float(out.asscalar())


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
                 *,
                 constraint: Union[str, Statistic] = "demographic_parity",
                 penalty: Union[str, Penalty] = "absolute", lr: float = 1.0,
                 lam_init: float = 0.0, lam_max: Optional[float] = None,
                 threshold: float = 0.5, **kwargs):
        if "lam" in kwargs:
            raise TypeError("ConstrainedFairLoss sets lam itself; use lam_init")
        lam_init = check_number("lam_init", lam_init, low=0)
        lam_max = None if lam_max is None else check_number("lam_max", lam_max, low=0)
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
        self.multiplier.value = check_number("lam", value, low=0)
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
        """Between-groups gap of the hard rates summed since the last update.

        The largest, over the statistic's columns (TPR and FPR for equalized odds), of the
        difference between the groups that have rows, as :meth:`FairnessReport.difference
        <mxfair.metrics.FairnessReport.difference>` defines it (one definition:
        :func:`mxfair.metrics.group_gap`): 0 when one group only has rows, NaN when none has
        (or before any training call).
        """
        if self._totals is None:
            return float("nan")
        num, den = (t.asnumpy() for t in self._totals)
        gaps = group_gap(nan_divide(num, den).T)  # (C,); a group without rows is left out
        return float(np.nanmax(gaps)) if not np.all(np.isnan(gaps)) else float("nan")

    def reset_totals(self) -> None:
        """Forget the accumulated totals (``update_multiplier`` does this)."""
        self._totals = None

    def update_multiplier(self, *, gap: Optional[float] = None) -> float:
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
