r"""Group DRO: minimise the worst group's expected loss (Sagawa, Koh, Hashimoto & Liang, 2020).

Sagawa et al., "Distributionally Robust Neural Networks for Group Shifts: On the Importance of
Regularization for Worst-Case Generalization", ICLR 2020 (Algorithm 1 and the reference code's
``LossComputer``). Each step computes the batch's mean loss of every group, moves the group
weights :math:`q` towards the groups that do worst and returns the :math:`q`-weighted loss:

.. math::

    \ell_g = \frac{\sum_{i \in g} w_i \ell_i}{\sum_{i \in g} w_i}, \qquad
    q_g \leftarrow \frac{q_g \exp\big(\eta\,(\ell_g + C/\sqrt{n_g})\big)}
                        {\sum_h q_h \exp\big(\eta\,(\ell_h + C/\sqrt{n_h})\big)}, \qquad
    R = \sum_g q_g \ell_g

with step size :math:`\eta`, group adjustment :math:`C` and training-set group sizes
:math:`n_g`. Groups are usually (label, attribute) pairs, e.g. ``label * A + attribute``
(:func:`cross_groups`). The paper's protocol: strong regularisation (large weight decay, e.g.
``wd`` of the ``Trainer``) or early stopping, with the model chosen on the worst-group accuracy
of a validation set that has group labels. Without regularisation a network that fits its
training set makes every group's training loss small and group DRO degenerates to ERM.

Differences from the reference code, both deliberate: (1) a group absent from a batch keeps its
weight's exponent at 0 (the reference adds its adjustment term even with no row of it in the
batch); (2) sample weights, when given, weight the rows inside each group's mean.
"""
import warnings
from typing import Optional, Sequence, Union

import mxnet as mx
import numpy as np

from .. import _state
from .._ops import (
    ArrayLike,
    UnitWeights,
    as_dtype_of,
    invalid_ids,
    invalid_weights,
    is_ndarray,
    nonfinite,
)
from .._validation import (
    check_column,
    check_ids,
    check_ndarray,
    check_number,
    check_numeric,
    check_positive_int,
    check_same_length,
    check_scores,
)
from ._rows import check_pred_array, check_values, score_rows
from ._terms import base_loss_block, per_row_loss

__all__ = ["GroupDROLoss", "group_counts", "cross_groups"]

BAD_COUNTS = "group_counts must be {G} finite counts >= 0 (one per group), got {what}"
BAD_ADJUSTMENT = "adjustment must be a finite number >= 0 or {G} of them, got {what}"
NEEDS_COUNTS = "adjustment > 0 needs group_counts (the training-set size of each group)"
INVALID_ROWS = (
    "GroupDROLoss left {n:g} training row(s) out of the loss and of the weight update: group id "
    "not an integer in [0, {G}), label not a class id in [0, {K}), a NaN/inf/negative "
    "sample_weight, or a NaN/inf loss"
)


def group_counts(groups: ArrayLike, num_groups: int) -> np.ndarray:
    """Training-set size of each group (host), for the group adjustment of :class:`GroupDROLoss`.

    Parameters
    ----------
    groups : array of int, shape (N,)
        Group ids in ``[0, num_groups)`` (NumPy, list or NDArray).
    num_groups : int

    Returns
    -------
    np.ndarray of int64, shape (num_groups,)

    Examples
    --------
    >>> group_counts([0, 2, 2, 1, 2], num_groups=4).tolist()
    [1, 1, 3, 0]
    """
    num_groups = check_positive_int("num_groups", num_groups)
    g = check_ids("groups", groups, num_groups, what="group ids")
    return np.bincount(g, minlength=num_groups).astype(np.int64)


def cross_groups(labels: ArrayLike, attributes: ArrayLike, num_attributes: int) -> np.ndarray:
    """Group ids of (label, attribute) pairs, ``label * num_attributes + attribute`` (host).

    The groups of Sagawa et al. and Liu et al. (Waterbirds: (bird, background), 4 groups).

    Parameters
    ----------
    labels : array of int, shape (N,)
        Class ids >= 0.
    attributes : array of int, shape (N,)
        Attribute ids in ``[0, num_attributes)``.
    num_attributes : int

    Returns
    -------
    np.ndarray of int64, shape (N,)
        In ``[0, num_classes * num_attributes)``.

    Examples
    --------
    >>> cross_groups([0, 0, 1, 1], [0, 1, 0, 1], num_attributes=2).tolist()
    [0, 1, 2, 3]
    """
    num_attributes = check_positive_int("num_attributes", num_attributes)
    y = check_ids("labels", labels)
    a = check_ids("attributes", attributes, num_attributes, what="attribute ids")
    check_same_length(labels=y, attributes=a)
    return y * num_attributes + a


def _adjustment_terms(adjustment, counts, num_groups: int) -> np.ndarray:
    """``C / sqrt(n_g)`` per group (0 for a group with no training row), shape (G,)."""
    c = np.asarray(adjustment, dtype=np.float64) if not isinstance(adjustment, bool) else None
    if c is None or c.ndim > 1 or (c.ndim == 1 and c.shape != (num_groups,)) \
            or not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError(BAD_ADJUSTMENT.format(G=num_groups, what=adjustment))
    c = np.broadcast_to(c, (num_groups,))
    if not np.any(c > 0):
        return np.zeros(num_groups)
    if counts is None:
        raise ValueError(NEEDS_COUNTS)
    n = np.asarray(check_numeric("group_counts", counts), dtype=np.float64)
    if n.shape != (num_groups,) or not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError(BAD_COUNTS.format(G=num_groups, what=counts))
    out = np.zeros(num_groups)
    np.divide(c, np.sqrt(n), out=out, where=n > 0)
    return out


class GroupDROLoss(mx.gluon.loss.Loss):
    r"""Online group DRO: the :math:`q`-weighted per-group loss, with :math:`q` updated each
    training step by exponentiated gradient ascent on the group losses.

    Parameters
    ----------
    num_groups : int
        Number of groups; ids are integers in ``[0, num_groups)``.
    num_classes : int, default 2
        2: ``pred`` holds one score per row, (N,) or (N, 1), and the base loss is
        ``SigmoidBinaryCrossEntropyLoss``. K > 2: ``pred`` is (N, K) and the base loss is
        ``SoftmaxCrossEntropyLoss``.
    step_size : float, default 0.01
        :math:`\eta`, the step of the exponentiated update of ``q`` (the reference code's
        ``robust_step_size``), > 0.
    adjustment : float or array of shape (num_groups,), default 0.0
        The group adjustment :math:`C` (paper: a value in 0..5 chosen on validation data);
        :math:`C/\sqrt{n_g}` is added to the group's loss in the update of ``q``, favouring
        small groups, whose training loss underestimates their test loss.
    group_counts : array of shape (num_groups,), optional
        Training-set size :math:`n_g` of each group (:func:`group_counts`); needed when
        ``adjustment > 0``.
    from_logits : bool, default True
        ``pred`` holds logits; if False, probabilities (of class 1, or (N, K) rows).
    base_loss : gluon.loss.Loss, optional
        Per-row loss ``base_loss(pred, label) -> (N,)`` (default as above); with it, ``pred``
        may have any shape with N rows (e.g. a binary net with two softmax outputs and
        ``SoftmaxCrossEntropyLoss()``).
    weight : float, optional
        Global scalar weight of the loss (as in every Gluon loss).
    batch_axis : int, default 0
        Only 0 is supported.

    Inputs:
        - **pred**: scores, (N,) or (N, 1) (binary) or (N, K).
        - **label**: class ids, (N,) or (N, 1).
        - **group**: group ids, (N,) or (N, 1), in ``[0, num_groups)``.
        - **sample_weight**: optional, (N,) or (N, 1), finite and >= 0.

    Outputs:
        - **loss**: shape (N,), ``N * q_g * w_i * l_i / W_g`` for row ``i`` of group ``g``
          (``W_g`` the group's weight in the batch), so that ``loss.mean()`` is the robust
          loss :math:`R` and ``loss.backward(); trainer.step(N)`` descends it.

    The first batch of each shape is checked on the host, values included (one
    synchronisation): bad ids, labels or weights there raise ValueError. Later bad rows are
    left out and counted on the device (see ``group_weights``).

    Under ``autograd.record()`` in training mode (``train_mode=True``, the default of
    ``record``) the call first updates ``q`` (on the device, no host synchronisation) and
    weights the loss with the updated ``q``, as the reference code does. Any other call
    (validation, ``autograd.predict_mode()``) uses ``q`` as it is and never moves it.

    Rows with an invalid group id or label, or a NaN/inf/negative sample weight, are left out
    of the loss and of the update of ``q`` and counted in :attr:`num_invalid` (training calls
    only); a NaN/inf loss of a row stays in the output (divergence stays visible) but never
    reaches ``q``. :attr:`group_weights` warns when rows were left out.

    ``q`` (parameter ``q``) and the adjustment terms (parameter ``adj``) are non-trained
    parameters: they survive ``save_parameters``/``load_parameters`` and ``export`` (the
    exported graph takes four inputs, ``sample_weight`` included, and gives the loss at the
    stored ``q`` as its second output). With
    data-parallel training (one call per device on its slice), each call updates ``q`` from its
    slice, one after the other.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import autograd, gluon
    >>> net = gluon.nn.Dense(3)
    >>> net.initialize()
    >>> loss_fn = GroupDROLoss(num_groups=2, num_classes=3, step_size=0.1)
    >>> x = mx.nd.random.normal(shape=(6, 4))
    >>> y = mx.nd.array([0, 1, 2, 0, 1, 2])
    >>> g = mx.nd.array([0, 0, 0, 0, 1, 1])
    >>> with autograd.record():
    ...     loss = loss_fn(net(x), y, g)
    >>> loss.backward()
    >>> loss.shape
    (6,)
    >>> w = loss_fn.group_weights   # moved away from [0.5, 0.5] by the training call
    >>> bool(abs(w.sum() - 1) < 1e-6)
    True
    """

    def __init__(self, num_groups: int, *, num_classes: int = 2, step_size: float = 0.01,
                 adjustment: Union[float, Sequence[float]] = 0.0,
                 group_counts: Optional[ArrayLike] = None, from_logits: bool = True,
                 base_loss: Optional[mx.gluon.loss.Loss] = None,
                 weight: Optional[float] = None, batch_axis: int = 0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._num_groups = check_positive_int("num_groups", num_groups)
        self._num_classes = check_positive_int("num_classes", num_classes)
        if self._num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        if batch_axis != 0:
            raise ValueError(f"batch_axis must be 0, got {batch_axis!r}")
        self._step_size = check_number("step_size", step_size, low=0, low_inclusive=False)
        adj = _adjustment_terms(adjustment, group_counts, self._num_groups)
        self._from_logits = bool(from_logits)
        self._custom_base = base_loss is not None
        self._seen = set()
        self._ones = UnitWeights()
        with self.name_scope():
            self.base_loss = base_loss_block(base_loss, self._num_classes,
                                                     self._from_logits)
            self.q = _state.new_state(self, "q", (self._num_groups,),
                                       1.0 / self._num_groups)
            self.adj = _state.new_state(self, "adj", (self._num_groups,), adj)
            self.invalid = _state.new_state(self, "invalid", (1,), 0.0)

    # ----------------------------------------------------------------- state
    @property
    def num_groups(self) -> int:
        """Number of groups."""
        return self._num_groups

    @property
    def step_size(self) -> float:
        """The step size of the update of ``q``."""
        return self._step_size

    @property
    def adjustment_terms(self) -> np.ndarray:
        """``C / sqrt(n_g)`` per group, shape (num_groups,)."""
        return _state.get_state(self.adj)

    @property
    def num_invalid(self) -> float:
        """Training rows left out so far (invalid id, label or weight, NaN/inf loss)."""
        return float(_state.get_state(self.invalid)[0])

    @property
    def group_weights(self) -> np.ndarray:
        """The current ``q``, shape (num_groups,), summing to 1 (host copy; synchronises).

        Warns (``RuntimeWarning``) when training rows were left out as invalid.
        """
        n = self.num_invalid
        if n > 0:
            warnings.warn(INVALID_ROWS.format(n=n, G=self._num_groups, K=self._num_classes),
                          RuntimeWarning, stacklevel=2)
        return _state.get_state(self.q)

    @group_weights.setter
    def group_weights(self, value: ArrayLike) -> None:
        q = np.asarray(value, dtype=np.float64).reshape(-1)
        if q.shape != (self._num_groups,) or not np.all(np.isfinite(q)) or np.any(q < 0) \
                or q.sum() <= 0:
            raise ValueError(f"group_weights must be {self._num_groups} finite values >= 0 "
                             f"with a positive sum, got {value!r}")
        _state.set_state(self.q, q / q.sum())

    def reset(self) -> None:
        """Uniform ``q`` and no invalid rows counted (a new training run)."""
        _state.set_state(self.q, np.full(self._num_groups, 1.0 / self._num_groups))
        _state.set_state(self.invalid, 0.0)

    def save_parameters(self, filename: str, deduplicate: bool = False) -> None:
        """Save ``q``, the adjustment terms and the invalid count (also before any call)."""
        _state.save_ready([self.q, self.adj, self.invalid])
        super().save_parameters(filename, deduplicate=deduplicate)

    # --------------------------------------------------------------- forward
    def _check(self, pred, label, group, sample_weight) -> None:
        check_ndarray("pred", pred)
        check_ndarray("label", label, ids=True)
        check_ndarray("group", group, ids=True)
        if sample_weight is not None:
            check_ndarray("sample_weight", sample_weight)
        key = (pred.shape, label.shape, group.shape,
               None if sample_weight is None else sample_weight.shape, pred.context,
               label.context, group.context,
               None if sample_weight is None else sample_weight.context)
        if key in self._seen:
            return
        check_pred_array("pred", pred, type(self).__name__)  # float32, not empty
        if self._custom_base:  # the base loss decides what pred looks like; rows only here
            n = int(pred.shape[0])
        else:
            n = score_rows("pred", pred, self._num_classes)
            if not self._from_logits:  # probabilities: the first batch of a shape checked
                check_scores("pred", pred, from_logits=False, warn_stacklevel=None)
        for name, arr in (("label", label), ("group", group), ("sample_weight", sample_weight)):
            if arr is not None:
                check_column(name, arr, n, pred.context)
        # The first batch of each shape: values too (one synchronisation), so that a systematic
        # error (ids coded 1..G) stops the run; a rare bad row later is counted and warned.
        check_values(None if self._custom_base else label, group, self._num_groups,
                     self._num_classes, sample_weight)
        if len(self._seen) > 64:
            self._seen.clear()
        self._seen.add(key)

    def forward(self, pred, label=None, group=None, sample_weight=None):
        """Check the inputs (shapes, kinds, contexts: no synchronisation), run the loss and,
        in a training step, update ``q``."""
        if label is None or group is None:
            raise ValueError("label and group are required: call "
                             "loss(pred, label, group[, sample_weight])")
        if not is_ndarray(pred) and not isinstance(pred, mx.sym.Symbol):
            check_ndarray("pred", pred)
        if isinstance(pred, mx.sym.Symbol):
            args = [pred, label, group] + ([] if sample_weight is None else [sample_weight])
            return super().forward(*args)[1]  # a symbolic graph: the loss with q as it is
        self._check(pred, label, group, sample_weight)
        ctx = pred.context
        for param in (self.q, self.adj, self.invalid):
            _state.ensure_on(param, ctx)
        label, group, sample_weight = (as_dtype_of(pred, a) for a in (label, group,
                                                                        sample_weight))
        if sample_weight is None:
            # Always four inputs: a hybridized loss then takes calls with and without weights.
            sample_weight = self._ones(pred)
        loss_new, loss_now, q_new, invalid = super().forward(pred, label, group, sample_weight)
        if not mx.autograd.is_training():
            return loss_now
        _state.write_state(self.q, q_new)
        _state.write_state(self.invalid, invalid)
        return loss_new

    def hybrid_forward(self, F, pred, label, group, sample_weight=None, q=None, adj=None,
                       invalid=None):
        G, K = self._num_groups, self._num_classes
        ell = per_row_loss(F, self.base_loss, pred, label, not (
            self._custom_base or self._from_logits or K == 2))  # (N,)
        g = F.reshape(group, shape=(-1,))  # (N,)
        y = F.reshape(label, shape=(-1,))  # (N,)
        ones = F.ones_like(ell)  # (N,)
        # The package's graph-side row checks (mxfair._ops): NaN, fractional or out-of-range
        # ids and labels, NaN/inf/negative weights.
        ok_g = 1 - invalid_ids(F, g, G)
        ok_y = 1 - invalid_ids(F, y, K)
        w = ones if sample_weight is None else F.reshape(sample_weight, shape=(-1,))
        ok_w = 1 - invalid_weights(F, w)
        finite = 1 - nonfinite(ell)
        valid = ok_g * ok_y * ok_w * finite  # (N,) 0/1
        ids = F.cast(F.where(ok_g, g, F.zeros_like(g)), "int32")  # (N,) a safe id
        onehot = F.broadcast_mul(F.one_hot(ids, depth=G), F.reshape(valid, shape=(-1, 1)))
        wv = F.where(valid, w, F.zeros_like(w))  # (N,)
        mass = F.dot(onehot, wv, transpose_a=True)  # (G,) weight of each group in the batch
        total = F.dot(onehot, wv * F.where(finite, ell, F.zeros_like(ell)), transpose_a=True)
        present = mass > 0  # (G,)
        safe_mass = F.maximum(mass, 1e-12)
        group_loss = F.BlockGrad(total / safe_mass)  # (G,)
        exponent = self._step_size * (group_loss + adj) * present  # (G,)
        q_new = F.BlockGrad(F.softmax(F.log(F.maximum(q, 1e-30)) + exponent))  # (G,)
        n = F.sum(ones)  # (1,) batch size
        scale = F.broadcast_mul(n, wv * ell)  # (N,)

        def weighted(weights):  # (G,) -> (N,): N * q_g / W_g for each row, 0 if invalid
            return scale * F.dot(onehot, weights * present / safe_mass)

        loss_new, loss_now = weighted(q_new), weighted(q)
        if self._weight is not None:
            loss_new, loss_now = loss_new * self._weight, loss_now * self._weight
        return loss_new, loss_now, q_new, F.BlockGrad(invalid + n - F.sum(valid))

    def __repr__(self) -> str:
        return (f"GroupDROLoss(num_groups={self._num_groups}, num_classes={self._num_classes}, "
                f"step_size={self._step_size:g}, from_logits={self._from_logits})")
