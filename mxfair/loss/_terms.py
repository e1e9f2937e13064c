"""What one device computes for a fair loss: the per-row base loss, the penalty's parts, the
invalid-row counts (and, for ``ConstrainedFairLoss``, the measured per-group totals).

``FairnessRegularizedLoss`` runs this block inside its own graph on one device, and once per
device for a data-parallel step, whose penalty is then formed from every device's parts
(``_devices``). Keeping one block for both is what makes the two agree.
"""
from typing import Optional

import mxnet as mx

from .._ops import Tensor, group_onehot
from .._row_mask import sanitize
from .penalties import Penalty
from .statistics import Statistic, apply_sample_weight, group_totals, hard_predictions

__all__: list = []


def probabilities(F, pred: Tensor, num_classes: int, from_logits: bool) -> Tensor:
    """Predicted probabilities, shape (N, 1) for a binary task (positive class) else (N, K)."""
    if num_classes == 2:
        pred = F.reshape(pred, shape=(-1, 1))
        return F.sigmoid(pred) if from_logits else pred
    return F.softmax(pred, axis=-1) if from_logits else pred


def base_loss_block(base_loss: Optional[mx.gluon.Block], num_classes: int, from_logits: bool,
                    batch_axis: int = 0) -> mx.gluon.Block:
    """The given per-row loss, or the losses' default: sigmoid cross-entropy (binary, one score
    per row) or softmax cross-entropy (K classes), on logits or probabilities as ``from_logits``
    says. TypeError when ``base_loss`` is not a Gluon block."""
    if base_loss is not None:
        if not isinstance(base_loss, mx.gluon.Block):
            raise TypeError(f"base_loss must be a gluon Block (a Loss), got {base_loss!r}")
        return base_loss
    if num_classes == 2:
        return mx.gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=not from_logits,
                                                           batch_axis=batch_axis)
    # SoftmaxCrossEntropyLoss(from_logits=True) means "pred holds log-probabilities": K-class
    # probabilities go in through their log (per_row_loss, FairTerms).
    return mx.gluon.loss.SoftmaxCrossEntropyLoss(from_logits=not from_logits,
                                                 batch_axis=batch_axis)


def per_row_loss(F, base: mx.gluon.Block, pred: Tensor, label: Tensor,
                 multiclass_probabilities: bool) -> Tensor:
    """``base(pred, label)`` as (N,); with the default base loss on K-class probabilities
    (``multiclass_probabilities``) they go in as log-probabilities."""
    if multiclass_probabilities:
        return F.reshape(base(F.log(F.maximum(pred, 1e-12)), label), shape=(-1,))
    return F.reshape(base(pred, label), shape=(-1,))


def label_matrix(F, label: Tensor, num_classes: int) -> Tensor:
    """The label (float32) as indicators: (N, 1) 0/1 for a binary task, (N, K) one-hot
    otherwise."""
    if num_classes == 2:
        return F.reshape(label, shape=(-1, 1))
    return F.one_hot(F.cast(F.reshape(label, shape=(-1,)), "int32"), depth=num_classes)


class FairTerms(mx.gluon.HybridBlock):
    """One device's terms of a fair loss.

    Outputs, in order: the base loss per row (N,) (0 for invalid rows), the invalid-row counts
    (4,) (``mxfair._row_mask.sanitize``), the penalty's parts (``Penalty.parts``), then, when
    ``threshold`` is set, the hard per-group totals ``num, den`` (G, C) of the statistic.
    """

    def __init__(self, base_loss: mx.gluon.Block, custom_base: bool, statistic: Statistic,
                 penalty: Penalty, num_groups: int, num_classes: int, from_logits: bool,
                 **kwargs):
        super().__init__(**kwargs)
        self._custom_base = custom_base
        self._statistic = statistic
        self._penalty = penalty
        self._num_groups = num_groups
        self._num_classes = num_classes
        self._from_logits = from_logits
        self.threshold: Optional[float] = None  # set by ConstrainedFairLoss before the 1st call
        with self.name_scope():
            self.base_loss = base_loss

    def hybrid_forward(self, F, pred, label, group, sample_weight=None):
        k = self._num_classes
        valid, counts, label, group, weight = sanitize(F, label, group, sample_weight,
                                                       self._num_groups, k)
        # The base loss weighs every row by its sample weight, and invalid rows by 0. Gluon's
        # losses multiply a per-row loss of pred's rank: give the weight that rank, so that
        # (N,) never broadcasts against (N, 1) to (N, N).
        row_weight = valid if weight is None else weight  # (N,)
        base_weight = (F.reshape_like(row_weight, pred) if k == 2
                       else F.reshape(row_weight, shape=(-1, 1)))
        if self._custom_base:
            base = self.base_loss(pred, label, base_weight)  # (N,)
        else:
            if k > 2 and not self._from_logits:
                # SoftmaxCrossEntropyLoss(from_logits=True) expects log-probabilities.
                base = self.base_loss(F.log(F.maximum(pred, 1e-12)), label, base_weight)
            else:
                base = self.base_loss(pred, label, base_weight)  # (N,)
        probs = probabilities(F, pred, k, self._from_logits)  # (N, K')
        labels = label_matrix(F, label, k)  # (N, K')
        onehot = group_onehot(F, group, self._num_groups)  # (N, G); invalid rows: no group
        values, weights = self._statistic.terms(F, probs, labels)
        weights = apply_sample_weight(F, weights, weight)
        outputs = (base, counts) + tuple(self._penalty.parts(F, values, weights, onehot))
        if self.threshold is not None:
            hard = hard_predictions(F, probs, num_classes=k, threshold=self.threshold)
            h_values, h_weights = self._statistic.terms(F, hard, labels)
            h_weights = apply_sample_weight(F, h_weights, weight)
            num, den = group_totals(F, h_values, h_weights, onehot)
            outputs += (num, F.broadcast_like(den, num))  # (G, C) each
        return outputs
