r"""FairnessRegularizedLoss: a Gluon loss plus a batch-level group-fairness penalty.

.. math::

    \ell_i = \ell^{base}(\hat y_i, y_i) + \lambda \cdot
              \mathrm{penalty}\big(\mathrm{statistic}(p, y, a)\big)

The penalty is one number per batch, added to every sample's loss, so that ``loss.backward()``
followed by ``trainer.step(batch_size)`` keeps its usual meaning: the gradient of the batch mean
is the mean base-loss gradient plus ``lam`` times the penalty's gradient.

The statistic (positive rate, TPR, FPR, ...; ``statistics``) and the penalty (squared, absolute,
smooth-max gap, MMD; ``penalties``) are chosen independently.

Input checks: shapes and ``lam`` are checked on every imperative call (no synchronisation). The
range of the group ids cannot be checked inside a hybridized graph (an id outside
``[0, num_groups)`` gives a zero one-hot row: that sample is left out of every group and of the
overall rate); call ``check_inputs`` on the host once on your data, or build the loss with
``check_groups=True`` to check every imperative call (one host synchronisation per call).
"""
from typing import Optional, Union

import mxnet as mx
import numpy as np

from .._constraints import canonical_constraint
from .._ops import Tensor, as_dtype_of, group_onehot, is_ndarray, to_numpy
from .._validation import check_group_ids, check_number, check_positive_int
from . import _scalar
from .penalties import Penalty, get_penalty
from .statistics import Statistic, apply_sample_weight, get_statistic

__all__ = ["FairnessRegularizedLoss", "fairness_penalty"]

NEEDS_LABEL = "constraint {name!r} conditions on the true label; pass label (got None)"
NEEDS_GROUP = "group ids are required: call loss(pred, label, group[, sample_weight])"
BAD_GROUP_SHAPE = "group must have shape ({n},) or ({n}, 1) to match pred, got {shape}"
BAD_PRED_SHAPE = (
    "pred must have shape (N,) or (N, 1) for a binary task, or (N, {k}) for num_classes={k}; "
    "got {shape}"
)
BAD_LABEL_SHAPE = "label must have shape ({n},) or ({n}, 1), got {shape}"
BAD_LABEL_VALUES = "label values must be integers in [0, {k}), got values in [{lo}, {hi}]"
BAD_WEIGHT_SHAPE = "sample_weight must have shape ({n},) or ({n}, 1), got {shape}"


def _host_arrays(*arrays):
    """NDArrays as they are, lists and other array-likes as NumPy arrays, None as None."""
    return tuple(None if a is None else (a if is_ndarray(a) else np.asarray(a)) for a in arrays)


def _check_lam(value, name: str = "lam") -> float:
    """``value`` as a float; ValueError ("lam must be a finite number >= 0, got ...") unless it
    is a finite real number >= 0 (Python or NumPy)."""
    return check_number(name, value, low=0)


def _constraint_name(constraint: Union[str, Statistic], statistic: Statistic) -> str:
    """The canonical name of a named constraint, else the custom statistic's name."""
    return canonical_constraint(constraint) if isinstance(constraint, str) else statistic.name


def _probabilities(F, pred: Tensor, num_classes: int, from_logits: bool) -> Tensor:
    """Predicted probabilities, shape (N, 1) for a binary task (positive class) else (N, K)."""
    if num_classes == 2:
        pred = F.reshape(pred, shape=(-1, 1))
        return F.sigmoid(pred) if from_logits else pred
    return F.softmax(pred, axis=-1) if from_logits else pred


def _label_matrix(F, label: Tensor, num_classes: int) -> Tensor:
    """The label as indicators: (N, 1) 0/1 for a binary task, (N, K) one-hot otherwise."""
    if num_classes == 2:
        return F.cast(F.reshape(label, shape=(-1, 1)), "float32")
    return F.one_hot(F.cast(F.reshape(label, shape=(-1,)), "int32"), depth=num_classes)


def _penalty_value(F, statistic: Statistic, penalty: Penalty, probs: Tensor,
                   labels: Optional[Tensor], group: Tensor, num_groups: int,
                   num_classes: int, sample_weight: Optional[Tensor] = None) -> Tensor:
    """The batch penalty, shape (1,): statistic terms, sample weights, one-hot groups, penalty."""
    values, weights = statistic.terms(F, probs, labels)  # (N, C); (N, C), (N, 1) or None
    weights = apply_sample_weight(F, weights, sample_weight)
    prob_columns = 1 if num_classes == 2 else num_classes
    shared = statistic.weight_columns(prob_columns) <= 1
    return penalty(F, values, weights, group_onehot(F, group, num_groups), shared_weights=shared)


def _check_shapes(pred, label, group, sample_weight, num_classes: int,
                 needs_label: bool, statistic_name: str) -> None:
    """Host shape checks (no synchronisation); raise ValueError naming the bad input."""
    if group is None:
        raise ValueError(NEEDS_GROUP)
    if label is None and needs_label:
        raise ValueError(NEEDS_LABEL.format(name=statistic_name))
    shape = tuple(pred.shape)
    n = shape[0] if shape else 0
    ok = (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) if num_classes == 2 \
        else (len(shape) == 2 and shape[1] == num_classes)
    if not ok:
        raise ValueError(BAD_PRED_SHAPE.format(k=num_classes, shape=shape))

    def _is_column(arr) -> bool:
        s = tuple(arr.shape)
        return s in ((n,), (n, 1))

    if not _is_column(group):
        raise ValueError(BAD_GROUP_SHAPE.format(n=n, shape=tuple(group.shape)))
    if label is not None and not _is_column(label):
        raise ValueError(BAD_LABEL_SHAPE.format(n=n, shape=tuple(label.shape)))
    if sample_weight is not None and not _is_column(sample_weight):
        raise ValueError(BAD_WEIGHT_SHAPE.format(n=n, shape=tuple(sample_weight.shape)))


def _check_values(label, group, num_groups: int, num_classes: int) -> None:
    """Host value checks (synchronise): group ids in range, labels integers in [0, K)."""
    check_group_ids(group, num_groups)
    if label is None:
        return
    y = to_numpy(label).reshape(-1)
    if y.size and (not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0
                   or y.max() >= num_classes):
        raise ValueError(BAD_LABEL_VALUES.format(k=num_classes, lo=y.min(), hi=y.max()))


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
        The aliases of ``mxfair._constraints`` are accepted too (``'dp'``, ``'eqopp'``,
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
        Called as ``base_loss(pred, label, sample_weight)``; it must return shape (N,). Default:
        ``SigmoidBinaryCrossEntropyLoss`` (binary) or ``SoftmaxCrossEntropyLoss`` (multi-class).
    from_logits : bool, default True
        ``pred`` holds logits (sigmoid/softmax applied here); if False, probabilities.
    num_classes : int, default 2
        2: ``pred`` is one score per row, shape (N,) or (N, 1). K > 2: ``pred`` is (N, K).
    check_groups : bool, default False
        Check on every imperative call that group and label values are in range (one host
        synchronisation per call). Use ``check_inputs`` for a one-off check instead.
    weight : float, optional
        Global scalar weight of the whole loss (as in every Gluon loss).
    batch_axis : int, default 0
        Passed to the default base loss.

    Inputs:
        - **pred**: scores, shape (N,) or (N, 1) (binary) or (N, K).
        - **label**: true labels, shape (N,) or (N, 1), 0/1 or class ids.
        - **group**: group ids, shape (N,) or (N, 1), integers in ``[0, num_groups)``.
        - **sample_weight**: optional, shape (N,) or (N, 1); weights the base loss per sample and
          the rows inside the group statistics.

    Outputs:
        - **loss**: shape (N,): base loss per sample + ``lam`` * penalty (same for every row).

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
    """

    def __init__(self, num_groups: int, constraint: Union[str, Statistic] = "demographic_parity",
                 penalty: Union[str, Penalty] = "squared", lam: float = 1.0,
                 base_loss: Optional[mx.gluon.loss.Loss] = None, from_logits: bool = True,
                 num_classes: int = 2, check_groups: bool = False,
                 weight: Optional[float] = None, batch_axis: int = 0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._num_groups = check_positive_int("num_groups", num_groups)
        self._num_classes = check_positive_int("num_classes", num_classes)
        if self._num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        self._statistic = get_statistic(constraint)
        self._constraint_name = _constraint_name(constraint, self._statistic)
        self._penalty = get_penalty(penalty)
        self._from_logits = bool(from_logits)
        self._check_groups = bool(check_groups)
        lam = _check_lam(lam)
        if base_loss is not None and not isinstance(base_loss, mx.gluon.Block):
            raise TypeError(f"base_loss must be a gluon Block (a Loss), got {base_loss!r}")
        self._custom_base = base_loss is not None
        self._seen = set()  # (shapes, context) combinations already checked
        with self.name_scope():
            if base_loss is None:
                if self._num_classes == 2:
                    base_loss = mx.gluon.loss.SigmoidBinaryCrossEntropyLoss(
                        from_sigmoid=not self._from_logits, batch_axis=batch_axis)
                else:
                    # from_logits=True here means "pred holds log-probabilities" (see below).
                    base_loss = mx.gluon.loss.SoftmaxCrossEntropyLoss(
                        from_logits=not self._from_logits, batch_axis=batch_axis)
            self.base_loss = base_loss
            self.lam_value = _scalar.new_scalar(self, "lam_value", lam)

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
    def lam(self) -> float:
        """Weight of the fairness penalty (host float; setting it checks ``lam >= 0``)."""
        return _scalar.get_scalar(self.lam_value)

    @lam.setter
    def lam(self, value: float) -> None:
        _scalar.set_scalar(self.lam_value, _check_lam(value))

    def save_parameters(self, filename: str, deduplicate: bool = False) -> None:
        """Save ``lam`` (initialised on the CPU first if the loss was never called)."""
        if not _scalar.is_initialized(self.lam_value):
            _scalar.ensure_on(self.lam_value, mx.cpu())
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
        ValueError: group ids must be integers in [0, 2), got values in [0, 2]
        """
        pred, label, group, sample_weight = _host_arrays(pred, label, group, sample_weight)
        if label is None:
            raise ValueError(NEEDS_LABEL.format(name=self._constraint_name)
                             if self._statistic.needs_label
                             else "label is required by the base loss (got None)")
        _check_shapes(pred, label, group, sample_weight, self._num_classes, True,
                     self._constraint_name)
        _check_values(label, group, self._num_groups, self._num_classes)

    def forward(self, pred, label=None, group=None, sample_weight=None):
        """Check shapes on the host (and values if ``check_groups``), then run the loss."""
        if is_ndarray(pred):
            if label is None:
                raise ValueError("label is required (got None)")
            if group is None:
                raise ValueError(NEEDS_GROUP)
            # Shapes and context repeat from batch to batch: check each new combination once.
            key = (pred.shape, label.shape, group.shape,
                   None if sample_weight is None else sample_weight.shape, pred.context)
            if key not in self._seen:
                _check_shapes(pred, label, group, sample_weight, self._num_classes, True,
                             self._constraint_name)
                if len(self._seen) > 64:
                    self._seen.clear()
                self._seen.add(key)
            if self._check_groups:
                _check_values(label, group, self._num_groups, self._num_classes)
            _scalar.ensure_on(self.lam_value, key[-1])
            # Loaders yield int64 labels (``TabularData.to_gluon``); the base losses need pred's
            # float dtype, so cast here rather than make every training loop do it.
            label, sample_weight = (as_dtype_of(pred, a) for a in (label, sample_weight))
        elif group is None:
            raise ValueError(NEEDS_GROUP)
        if sample_weight is None:
            return super().forward(pred, label, group)
        return super().forward(pred, label, group, sample_weight)

    def hybrid_forward(self, F, pred, label, group, sample_weight=None, lam_value=None):
        probs = _probabilities(F, pred, self._num_classes, self._from_logits)  # (N, K')
        labels = _label_matrix(F, label, self._num_classes)  # (N, K')
        if self._custom_base:
            base = self.base_loss(pred, label, sample_weight)  # (N,)
        else:
            base_weight = sample_weight
            if sample_weight is not None:
                # Match the built-in losses' per-row shape so (N,) never broadcasts to (N, N).
                base_weight = (F.reshape_like(sample_weight, pred) if self._num_classes == 2
                               else F.reshape(sample_weight, shape=(-1, 1)))
            if self._num_classes > 2 and not self._from_logits:
                # SoftmaxCrossEntropyLoss(from_logits=True) expects log-probabilities.
                base = self.base_loss(F.log(F.maximum(pred, 1e-12)), label, base_weight)
            else:
                base = self.base_loss(pred, label, base_weight)  # (N,)
        pen = _penalty_value(F, self._statistic, self._penalty, probs, labels, group,
                             self._num_groups, self._num_classes, sample_weight)  # (1,)
        loss = F.broadcast_add(base, F.broadcast_mul(lam_value, pen))  # (N,)
        if self._weight is not None:
            loss = loss * self._weight
        return loss

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_groups={self._num_groups}, "
                f"statistic={self._statistic!r}, penalty={self._penalty!r}, "
                f"num_classes={self._num_classes}, from_logits={self._from_logits})")


def fairness_penalty(pred, group, label=None, *, num_groups: int,
                     constraint: Union[str, Statistic] = "demographic_parity",
                     penalty: Union[str, Penalty] = "squared", from_logits: bool = False,
                     num_classes: int = 2, sample_weight=None):
    """The batch fairness penalty alone (what ``FairnessRegularizedLoss`` adds, before ``lam``).

    Parameters
    ----------
    pred : NDArray or numpy.ndarray, shape (N,), (N, 1) or (N, K)
        Probabilities (default) or logits (``from_logits=True``).
    group : NDArray or numpy.ndarray, shape (N,)
        Group ids in ``[0, num_groups)`` (checked here, on the host).
    label : NDArray or numpy.ndarray, shape (N,), optional
        Required by label-conditioned constraints (equal opportunity, equalized odds).
    num_groups : int
    constraint, penalty, from_logits, num_classes
        As for ``FairnessRegularizedLoss``.
    sample_weight : NDArray or numpy.ndarray, shape (N,), optional

    Returns
    -------
    NDArray of shape (1,) on the context of ``pred`` (differentiable under ``autograd``) for
    NDArray input, else a float.

    Examples
    --------
    >>> import numpy as np
    >>> fairness_penalty(np.array([1.0, 0.0, 1.0, 1.0]), np.array([0, 0, 1, 1]),
    ...                  num_groups=2, penalty="absolute")
    0.5
    """
    num_groups = check_positive_int("num_groups", num_groups)
    statistic, pen = get_statistic(constraint), get_penalty(penalty)
    return_nd = is_ndarray(pred)
    ctx = pred.context if return_nd else mx.current_context()

    def _nd(a, dtype="float32"):
        if a is None:
            return None
        return a.as_in_context(ctx) if is_ndarray(a) else mx.nd.array(to_numpy(a), ctx=ctx,
                                                                        dtype=dtype)

    pred, group, label, sample_weight = (_nd(a) for a in (pred, group, label, sample_weight))
    _check_shapes(pred, label, group, sample_weight, num_classes, statistic.needs_label,
                 _constraint_name(constraint, statistic))
    _check_values(label, group, num_groups, num_classes)
    probs = _probabilities(mx.nd, pred, num_classes, from_logits)
    labels = None if label is None else _label_matrix(mx.nd, label, num_classes)
    out = _penalty_value(mx.nd, statistic, pen, probs, labels, group, num_groups, num_classes,
                         sample_weight)
    return out if return_nd else float(out.asscalar())
