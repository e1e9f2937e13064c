r"""Adversarially Reweighted Learning (Lahoti et al., NeurIPS 2020): fairness without demographics.

Lahoti, Beutel, Chen, Lee, Prost, Thain, Wang and Chi, "Fairness without Demographics through
Adversarially Reweighted Learning", NeurIPS 2020 (reference code:
``google-research/group_agnostic_fairness``, ``adversarial_reweighting_model.py``). An
adversary :math:`f_\phi` looks at each training row's features and label and gives it a weight

.. math::

    w_i = 1 + n \, \frac{a_i}{\sum_j a_j}, \qquad a_i = \sigma\big(f_\phi(x_i, y_i)\big),

the learner minimises the weighted loss :math:`\frac1n \sum_i w_i \ell_i(\theta)` and the
adversary maximises it. The adversary can only upweight regions of (x, y) that it can *find*
("computationally identifiable" groups): no demographic attribute is used in training. Group
labels are needed only to validate (worst-group accuracy on a validation set).

Two pieces and one backward pass:

- :class:`ARLAdversary` (a HybridBlock): ``adv(features, label)`` -> weights (N,), behind a
  gradient reversal, so the gradient of the learner's weighted loss *ascends* for the adversary;
  its inputs are detached (the adversary never trains the features it reads);
- :class:`ARLLoss` (a Gluon loss): ``loss(pred, label, weights)`` -> ``weights * base loss``.

As in the reference code, train the learner alone for some steps first (``pretrain_steps``
there: call ``loss(pred, label)`` without weights), then both. The reference adversary is linear
(one hidden layer without activation); ``activation`` makes it a small MLP.
"""
from typing import Optional

import mxnet as mx

from .._ops import UnitWeights, as_dtype_of, is_ndarray
from .._validation import (
    check_column,
    check_ids,
    check_ndarray,
    check_number,
    check_positive_int,
    check_scores,
)
from ._rows import check_pred_array, score_rows
from ._terms import base_loss_block, per_row_loss
from .adversarial import GradientReversal

__all__ = ["ARLAdversary", "ARLLoss"]


def _labels_once(seen: set, label, num_classes: int, pred=None, from_logits: bool = True) -> None:
    """Label values (and probabilities given as ``pred`` with ``from_logits=False``) checked on
    the host for the first batch of each shape and context (one synchronisation): ids coded
    1..K stop the run at once."""
    key = (label.shape, label.context)
    if key not in seen:
        check_ids("label", label, num_classes, what="labels")
        if pred is not None and not from_logits:
            check_scores("pred", pred, from_logits=False, warn_stacklevel=None)
        if len(seen) > 64:
            seen.clear()
        seen.add(key)


def _check_classes(num_classes) -> int:
    k = check_positive_int("num_classes", num_classes)
    if k < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
    return k


class ARLAdversary(mx.gluon.HybridBlock):
    """The ARL adversary: example weights ``1 + n a_i / sum(a)`` from (features, label).

    Parameters
    ----------
    num_classes : int, default 2
        K; the label enters as one column (binary) or K one-hot columns.
    hidden_units : int, default 32
        Width of the hidden layer (0: none), as the reference's ``adversary_hidden_units=[32]``.
    activation : str, optional
        Activation of the hidden layer (default None: linear, as the reference).
    include_label : bool, default True
        Feed the label to the adversary (the reference's ``adversary_include_label``).
    scale : float, default 1.0
        Magnitude of the reversed gradient the adversary receives (its ascent step relative to
        its trainer's learning rate); a non-trained parameter (``adv.scale = value``).

    Inputs:
        - **features**: (N, ...) what the adversary sees (the input, or detached learner
          features), flattened to (N, F).
        - **label**: class ids, (N,) or (N, 1).

    Outputs:
        - **weights**: (N,), >= 1, mean 2 over the batch (``1 + a_i / mean(a)``; the
          reference clips ``mean(a)`` at 1e-4). Differentiable for the adversary only, with the
          sign reversed: ``(weights * loss).mean().backward()`` gives the learner the gradient
          of the weighted loss and the adversary the gradient of its negative.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import autograd, gluon
    >>> net, adv = gluon.nn.Dense(3), ARLAdversary(num_classes=3)
    >>> net.initialize()
    >>> adv.initialize()
    >>> loss_fn = ARLLoss(num_classes=3)
    >>> x, y = mx.nd.random.normal(shape=(8, 4)), mx.nd.array([0, 1, 2, 0, 1, 2, 0, 1])
    >>> with autograd.record():
    ...     weights = adv(x, y)
    ...     loss = loss_fn(net(x), y, weights)
    >>> loss.backward()
    >>> round(float(weights.mean().asscalar()), 4)
    2.0
    """

    def __init__(self, *, num_classes: int = 2, hidden_units: int = 32,
                 activation: Optional[str] = None, include_label: bool = True,
                 scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self._num_classes = _check_classes(num_classes)
        self._seen: set = set()
        if isinstance(hidden_units, bool) or not isinstance(hidden_units, int) \
                or hidden_units < 0:
            raise ValueError(f"hidden_units must be an integer >= 0, got {hidden_units!r}")
        self._include_label = bool(include_label)
        scale = check_number("scale", scale, low=0)
        with self.name_scope():
            self.hidden = (mx.gluon.nn.Dense(hidden_units, activation=activation)
                           if hidden_units else None)
            self.output = mx.gluon.nn.Dense(1)
            self.reversal = GradientReversal(scale=scale)

    @property
    def scale(self) -> float:
        """Magnitude of the reversed gradient."""
        return self.reversal.scale

    @scale.setter
    def scale(self, value: float) -> None:
        self.reversal.scale = check_number("scale", value, low=0)

    def forward(self, features, label=None):
        if label is None and self._include_label:
            raise ValueError("label is required (include_label=True): call adv(features, label)")
        if is_ndarray(features) or not isinstance(features, mx.sym.Symbol):
            check_ndarray("features", features)
            n = int(features.shape[0]) if features.ndim else 0
            if label is not None:
                check_ndarray("label", label, ids=True)
                check_column("label", label, n, features.context)
                _labels_once(self._seen, label, self._num_classes)
                label = as_dtype_of(features, label)
        if not self._include_label:
            return super().forward(features)
        return super().forward(features, label)

    def hybrid_forward(self, F, features, label=None):
        x = F.BlockGrad(F.flatten(features))  # (N, F): the adversary never trains features
        if self._include_label:
            y = F.BlockGrad(F.reshape(label, shape=(-1,)))
            y = (F.reshape(y, shape=(-1, 1)) if self._num_classes == 2
                 else F.one_hot(F.cast(y, "int32"), depth=self._num_classes))  # (N, K')
            x = F.concat(x, y, dim=1)
        h = self.hidden(x) if self.hidden is not None else x
        a = F.sigmoid(F.reshape(self.output(h), shape=(-1,)))  # (N,) in (0, 1)
        weights = 1.0 + F.broadcast_div(a, F.maximum(F.mean(a, keepdims=True), 1e-4))  # (N,)
        return self.reversal(weights)


class ARLLoss(mx.gluon.loss.Loss):
    """The ARL learner's loss: ``weights * base loss`` per row.

    Parameters
    ----------
    num_classes : int, default 2
        2: ``pred`` is one score per row and the base loss ``SigmoidBinaryCrossEntropyLoss``;
        K > 2: ``pred`` is (N, K) and the base loss ``SoftmaxCrossEntropyLoss``.
    from_logits : bool, default True
        ``pred`` holds logits; if False, probabilities.
    base_loss : gluon.loss.Loss, optional
        Per-row loss ``base_loss(pred, label) -> (N,)`` instead of the default (``pred`` may
        then have any shape with N rows, e.g. two softmax scores of a binary task).
    weight : float, optional
        Global scalar weight of the loss.

    Inputs:
        - **pred**: (N,) or (N, 1) (binary) or (N, K).
        - **label**: class ids, (N,) or (N, 1).
        - **weights**: optional, (N,): the adversary's weights (:class:`ARLAdversary`); None
          (the pre-training steps) gives the plain base loss.

    Outputs:
        - **loss**: (N,).

    Examples
    --------
    >>> import mxnet as mx
    >>> loss = ARLLoss()
    >>> pred, y = mx.nd.array([0.0, 0.0]), mx.nd.array([1, 0])
    >>> [round(float(v), 4) for v in loss(pred, y, mx.nd.array([1.0, 3.0])).asnumpy()]
    [0.6931, 2.0794]
    """

    def __init__(self, *, num_classes: int = 2, from_logits: bool = True,
                 base_loss: Optional[mx.gluon.loss.Loss] = None,
                 weight: Optional[float] = None, **kwargs):
        super().__init__(weight, 0, **kwargs)
        self._num_classes = _check_classes(num_classes)
        self._seen: set = set()
        self._from_logits = bool(from_logits)
        self._custom_base = base_loss is not None
        self._ones = UnitWeights()
        with self.name_scope():
            self.base_loss = base_loss_block(base_loss, self._num_classes, self._from_logits)

    def forward(self, pred, label=None, weights=None):
        if label is None:
            raise ValueError("label is required: call loss(pred, label[, weights])")
        if is_ndarray(pred) or not isinstance(pred, mx.sym.Symbol):
            check_ndarray("pred", pred)
            check_ndarray("label", label, ids=True)
            check_pred_array("pred", pred, type(self).__name__)  # float32, not empty
            n = int(pred.shape[0]) if self._custom_base \
                else score_rows("pred", pred, self._num_classes)
            check_column("label", label, n, pred.context)
            if not self._custom_base:
                _labels_once(self._seen, label, self._num_classes, pred, self._from_logits)
            if weights is not None:
                check_ndarray("weights", weights)
                check_column("weights", weights, n, pred.context)
            label, weights = as_dtype_of(pred, label), as_dtype_of(pred, weights)
            if weights is None:  # the pre-training steps: fixed graph inputs all the same
                weights = self._ones(pred)
        args = [pred, label] + ([] if weights is None else [weights])
        return super().forward(*args)

    def hybrid_forward(self, F, pred, label, weights=None):
        ell = per_row_loss(F, self.base_loss, pred, label, (
            self._num_classes > 2 and not self._from_logits and not self._custom_base))  # (N,)
        if weights is not None:
            ell = ell * F.reshape(weights, shape=(-1,))
        if self._weight is not None:
            ell = ell * self._weight
        return ell
