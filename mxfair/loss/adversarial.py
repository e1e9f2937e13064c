"""Adversarial debiasing (Zhang, Lemoine & Mitchell, 2018) with a graph-safe gradient reversal.

An adversary tries to predict the group from the model's output (and the true label, for
equalized odds); the model is trained to predict the label *and* to defeat the adversary. One
``backward`` does both through a gradient-reversal layer between the model and the adversary: the
adversary's parameters get the gradient of its cross-entropy, the model gets that gradient times
``-alpha``. This is a Gluon-native counterpart of AIF360's TF1-only ``AdversarialDebiasing``.

Difference from the paper: the paper also removes from the model's gradient its projection onto
the adversary's gradient; gradient reversal keeps only the ``-alpha`` term (as Ganin & Lempitsky's
domain-adversarial training), which is what can live inside one hybridized graph.

Each row's adversary loss depends on that row alone (no batch statistic), so data-parallel
training needs nothing special: called with per-device lists (as ``gluon.utils.split_and_load``
gives) the adversary returns one loss array per device, and the summed gradients equal those of
the whole batch on one device.

Rows whose group id is not an integer in ``[0, num_groups)`` (or whose label or weight is
invalid) are never trained as some group: they get weight 0, are counted on the device and
warned about, and the first batch of each shape is checked on the host (``ValueError``), as in
``FairnessRegularizedLoss``. Logits are clipped to ``[-1e4, 1e4]`` before the adversary (the
sigmoid is saturated long before), so ``+-inf`` logits give finite values and gradients.
"""
import mxnet as mx

from .. import _state
from .._constraints import CONSTRAINTS, RATE_LABELS, canonical_constraint, constraints_over
from .._ops import is_ndarray
from .._row_mask import InvalidRows, sanitize
from .._validation import check_int, check_ndarray, check_number, check_positive_int
from ._rows import (
    InputChecker,
    as_device_lists,
    check_host_ids,
    check_shapes,
    check_values,
    host_arrays,
)
from ._terms import label_matrix

__all__ = ["GradientReversal", "AdversarialDebiasing"]

_MISSING_GROUP = "group ids are required: call adv(pred, label, group)"
#: Logits beyond this magnitude reach the adversary clipped (exactly 0 or 1 after its sigmoid).
_LOGIT_CLIP = 1e4


class GradientReversal(mx.gluon.HybridBlock):
    """Identity on the forward pass; multiplies the gradient by ``-scale`` on the backward pass.

    Built as ``y = BlockGrad(x) - scale * (x - BlockGrad(x))``: the value is exactly ``x``, and
    the only path that carries a gradient is ``-scale * x``. Unlike an ``autograd.Function``, this
    works inside a hybridized graph. ``scale`` is a non-trained parameter, so it can be scheduled
    between steps (``block.scale = value``) after ``hybridize``.

    Parameters
    ----------
    scale : float, default 1.0
        The gradient multiplier's magnitude, >= 0.

    Inputs:
        - **x**: any shape.

    Outputs:
        - **y**: ``x`` (same shape); gradient ``-scale`` times the incoming gradient.

    Examples
    --------
    >>> import mxnet as mx
    >>> grl = GradientReversal(scale=0.5)
    >>> x = mx.nd.array([1.0, 2.0])
    >>> x.attach_grad()
    >>> with mx.autograd.record():
    ...     y = grl(x)
    >>> y.backward()
    >>> x.grad.asnumpy().tolist()
    [-0.5, -0.5]
    """

    def __init__(self, *, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.scale_value = _state.new_scalar(self, "scale_value",
                                                  check_number("scale", scale, low=0))

    @property
    def scale(self) -> float:
        """The reversal scale (host float)."""
        return _state.get_scalar(self.scale_value)

    @scale.setter
    def scale(self, value: float) -> None:
        _state.set_scalar(self.scale_value, check_number("scale", value, low=0))

    def forward(self, x, *args):
        if is_ndarray(x):
            _state.ensure_on(self.scale_value, x.context)
        return super().forward(x, *args)

    def hybrid_forward(self, F, x, scale_value=None):
        frozen = F.BlockGrad(x)
        return frozen - F.broadcast_mul(x - frozen, scale_value)


class AdversarialDebiasing(mx.gluon.HybridBlock):
    """Adversary head that predicts the group from the model's output, behind gradient reversal.

    The adversary follows Zhang et al. (and AIF360): ``s = sigmoid((1 + |c|) * logit)`` with a
    learned ``c``, features ``[s]`` for demographic parity or ``[s, s*y, s*(1-y), y]`` when the
    constraint conditions on the label (AIF360 omits ``y``; without it the adversary can only
    see the groups' different base rates through ``s``, which pushes towards demographic
    parity rather than equalized odds), an optional hidden layer, then a linear layer to
    ``num_groups`` logits and softmax cross-entropy against the group. For equal opportunity
    only rows with ``y = 1`` count, for predictive equality only rows with ``y = 0`` (binary
    tasks only). Multi-class: ``s`` is the softmax and the features are per class.

    Parameters
    ----------
    num_groups : int
        Number of groups (the adversary's classes).
    constraint : {'demographic_parity', 'equal_opportunity', 'predictive_equality', \
'equalized_odds'}
        Or an alias of one (``'dp'``, ``'eqopp'``, ``'true_positive_rate_parity'``, ...; see
        ``mxfair.CONSTRAINTS``); the ``constraint`` property holds the canonical name.
    alpha : float, default 1.0
        Weight of the adversary's (reversed) gradient in the model's update; a non-trained
        parameter, schedule it with ``adv.alpha = value``. Zhang et al. grow it like sqrt(t).
    hidden_units : int, default 0
        Width of a hidden ReLU layer in the adversary (0: a linear adversary, as the paper's).
    num_classes : int, default 2
        2: ``pred`` is one logit per row, shape (N,) or (N, 1); K > 2: (N, K) logits.
    from_logits : bool, default True
        If False, ``pred`` holds probabilities, fed to the adversary as they are (no ``c``).

    Inputs:
        - **pred**: the model's output, shape (N,), (N, 1) or (N, K).
        - **label**: true labels, shape (N,); may be None for demographic parity.
        - **group**: group ids, shape (N,), in ``[0, num_groups)`` (the adversary's target).
        - **sample_weight**: optional, shape (N,).

    Outputs:
        - **loss**: the adversary's cross-entropy per sample, shape (N,). Add it to the model's
          loss: the sum's gradient trains the adversary to find the group and, reversed, the
          model to hide it.

    Examples
    --------
    A training loop: one forward, one backward, a trainer for each side (the adversary usually
    wants its own learning rate).

    >>> import mxnet as mx
    >>> from mxnet import autograd, gluon
    >>> net = gluon.nn.Dense(1)
    >>> adv = AdversarialDebiasing(num_groups=2, constraint="equalized_odds", alpha=1.0)
    >>> net.initialize()
    >>> adv.initialize()
    >>> task_loss = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    >>> trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3})
    >>> adv_trainer = gluon.Trainer(adv.collect_params(), "adam", {"learning_rate": 1e-2})
    >>> x = mx.nd.random.normal(shape=(8, 3))
    >>> y = mx.nd.array([0, 1, 0, 1, 1, 0, 1, 0])
    >>> g = mx.nd.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> with autograd.record():
    ...     out = net(x)
    ...     loss = task_loss(out, y) + adv(out, y, g)
    >>> loss.backward()
    >>> trainer.step(8)
    >>> adv_trainer.step(8)
    >>> adv.alpha = 2.0   # e.g. a schedule between epochs
    """

    #: ``GroupBatchProcessor`` may call the adversary once per step with per-device lists.
    takes_device_lists = True

    def __init__(self, num_groups: int, *, constraint: str = "demographic_parity",
                 alpha: float = 1.0, hidden_units: int = 0, num_classes: int = 2,
                 from_logits: bool = True, **kwargs):
        super().__init__(**kwargs)
        self._num_groups = check_positive_int("num_groups", num_groups)
        constraint = canonical_constraint(constraint, allowed=constraints_over(RATE_LABELS))
        self._constraint = constraint
        # The rows each rate is taken over (mxfair.CONSTRAINTS): the adversary sees the label
        # when a rate conditions on it, and only one label's rows when every rate takes the
        # same one (equal opportunity: y = 1; predictive equality: y = 0).
        labels = {RATE_LABELS[rate] for rate in CONSTRAINTS[constraint]}
        self._needs_label = labels != {None}
        self._one_label = labels.pop() if len(labels) == 1 else None
        self._num_classes = check_positive_int("num_classes", num_classes)
        if self._num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        if self._one_label is not None and self._num_classes > 2:
            raise ValueError(f"constraint {constraint!r} is defined for binary tasks "
                             f"(num_classes=2), got num_classes={num_classes!r}")
        alpha = check_number("alpha", alpha, low=0)
        hidden_units = check_int("hidden_units", hidden_units)
        self._from_logits = bool(from_logits)
        self._check = InputChecker(type(self).__name__, self._num_groups, self._num_classes,
                                   self._needs_label, constraint, _MISSING_GROUP)
        self._invalid = InvalidRows(type(self).__name__, self._num_groups, self._num_classes)
        with self.name_scope():
            self.reversal = GradientReversal(scale=alpha)
            # Zhang et al.'s learned sharpness of the sigmoid the adversary sees.
            # Unused (and not trained) when pred holds probabilities.
            self.c = self.params.get("c", shape=(1,), init=mx.init.Constant(1.0),
                                     grad_req="write" if self._from_logits else "null")
            self.hidden = (mx.gluon.nn.Dense(hidden_units, activation="relu", flatten=False)
                           if hidden_units else None)
            self.output = mx.gluon.nn.Dense(self._num_groups, flatten=False)
            self.ce = mx.gluon.loss.SoftmaxCrossEntropyLoss()

    @property
    def constraint(self) -> str:
        """The canonical constraint name."""
        return self._constraint

    @property
    def alpha(self) -> float:
        """Weight of the reversed adversary gradient in the model's update."""
        return self.reversal.scale

    @alpha.setter
    def alpha(self, value: float) -> None:
        self.reversal.scale = check_number("alpha", value, low=0)

    @property
    def num_invalid(self):
        """Rows left out since the block was built, by reason (synchronises); see
        ``FairnessRegularizedLoss.num_invalid``."""
        return self._invalid.totals()

    def check_inputs(self, pred, label, group, sample_weight=None) -> None:
        """Host check of shapes and of group/label values (synchronises); ValueError if bad."""
        check_host_ids("label", label)
        check_host_ids("group", group)
        pred, label, group, sample_weight = host_arrays(pred, label, group, sample_weight)
        check_shapes(pred, label, group, sample_weight, self._num_classes, self._needs_label,
                     self._constraint)
        check_values(label if self._needs_label else None, group, self._num_groups,
                     self._num_classes, sample_weight)

    def forward(self, pred, label=None, group=None, sample_weight=None):
        lists = as_device_lists(type(self).__name__, pred, label, group, sample_weight)
        if lists is not None:  # one loss per device: each row's loss is its own
            return [self.forward(*args) for args in zip(*lists)]
        if not is_ndarray(pred) and not isinstance(pred, mx.sym.Symbol):
            check_ndarray("pred", pred)
        if is_ndarray(pred):
            label, sample_weight = self._check(pred, label, group, sample_weight)
        elif group is None:
            raise ValueError(_MISSING_GROUP)
        elif not self._needs_label:
            label = None
        args = [pred, label, group] + ([] if sample_weight is None else [sample_weight])
        out = super().forward(*args)
        if is_ndarray(pred):
            self._invalid.add(out[1])
        return out[0]

    def hybrid_forward(self, F, pred, label, group, sample_weight=None, c=None):
        valid, counts, label, group, weight = sanitize(
            F, label, group, sample_weight, self._num_groups, self._num_classes)
        if self._from_logits:  # +-inf would give inf - inf in the reversal and 0 * inf in c
            pred = F.clip(pred, -_LOGIT_CLIP, _LOGIT_CLIP)
        z = self.reversal(pred)
        if self._num_classes == 2:
            z = F.reshape(z, shape=(-1, 1))  # (N, 1)
        if self._from_logits:
            sharp = F.broadcast_mul(z, 1.0 + F.abs(c))
            s = F.sigmoid(sharp) if self._num_classes == 2 else F.softmax(sharp, axis=-1)
        else:
            s = z
        weight = valid if weight is None else weight  # (N,), 0 for invalid rows
        if self._needs_label:
            y = label_matrix(F, label, self._num_classes)  # (N, K')
            # AIF360 feeds [s, s*y, s*(1-y)]; the label itself is added so the adversary need
            # not learn the groups' base rates from the model (which pushes towards parity).
            feats = F.concat(s, s * y, s * (1.0 - y), y, dim=1)  # (N, 4K')
            if self._one_label is not None:
                # Only the rows of one label count (binary only): y = 1 or y = 0.
                keep = F.reshape(y if self._one_label else 1.0 - y, shape=(-1,))
                weight = keep * weight
        else:
            feats = s  # (N, K')
        h = self.hidden(feats) if self.hidden is not None else feats
        logits = self.output(h)  # (N, G)
        # Invalid rows carry group -1 and weight 0: any valid target will do (0).
        target = F.maximum(group, 0)
        return self.ce(logits, target, F.reshape(weight, shape=(-1, 1))), counts  # (N,), (4,)

    def __repr__(self) -> str:
        return (f"AdversarialDebiasing(num_groups={self._num_groups}, "
                f"constraint={self._constraint!r}, hidden={self.hidden is not None}, "
                f"num_classes={self._num_classes})")
