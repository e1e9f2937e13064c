r"""Domain-independent training (Wang et al., CVPR 2020): one classifier head per domain.

Wang, Qinami, Karakozis, Genova, Nair, Hata and Russakovsky, "Towards Fairness in Visual
Recognition: Effective Strategies for Bias Mitigation", CVPR 2020, the best method of their
CIFAR-10S study. A shared body feeds :math:`D` classifier heads, one per domain (the protected
attribute). In training, a row's loss is the softmax cross-entropy of *its own domain's* head, so
no head can use the domain as a shortcut for the class:

.. math::

    \ell_i = -\log \mathrm{softmax}\big(z_{d_i}(x_i)\big)_{y_i}

At inference the domain is not needed: the per-domain outputs are combined. ``"sum"`` adds the
per-domain logits, :math:`\hat y = \arg\max_y \sum_d z_d(x)_y` (the reference code's
"sum out", the paper's best variant on CIFAR-10S); ``"sum_probs"`` adds the per-domain
probabilities, :math:`\hat y = \arg\max_y \sum_d \mathrm{softmax}(z_d(x))_y`.

Gluon pieces (a hybridized block has one input signature, so "with the domain" and "without it"
are two blocks that share parameters):

- :class:`DomainIndependentHead`: features (N, C) -> per-domain logits (N, D, K) (binary:
  (N, D, 1), one logit per head, as Gluon's binary nets);
- :class:`DomainIndependentLoss`: ``loss(per_domain_logits, label, domain)`` -> (N,);
- :class:`CombineDomains`: per-domain logits -> logits (N, K) (binary: (N, 1)), no domain;
- :func:`domain_independent_nets`: ``(train_net, predict_net)`` around a body, sharing its
  parameters; ``predict_net`` takes the input alone and is what you validate, save and export.
"""
from typing import Literal, Optional, Tuple

import mxnet as mx
import numpy as np

from .. import _state
from .._ops import ArrayLike, UnitWeights, as_dtype_of, is_ndarray, to_numpy
from .._validation import (
    PRED_SHAPE,
    check_choice,
    check_column,
    check_ids,
    check_ndarray,
    check_number,
    check_positive_int,
    check_same_length,
    check_sample_weight,
)

__all__ = ["DomainIndependentHead", "DomainIndependentLoss", "CombineDomains",
           "domain_independent_nets", "domain_class_log_prior", "COMBINE_RULES"]

#: How :class:`CombineDomains` merges the per-domain outputs.
COMBINE_RULES = ("sum", "sum_probs")


def _check_classes(num_classes) -> int:
    k = check_positive_int("num_classes", num_classes)
    if k < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
    return k


def _outputs(num_classes: int) -> int:
    """Scores per domain head: one logit for a binary task (as Gluon's binary nets), else K."""
    return 1 if num_classes == 2 else num_classes


def _binary_ce(F, z, y):
    """Sigmoid cross-entropy of logits z against 0/1 labels y, stable at large |z| (N,)."""
    return F.relu(z) - z * y + F.Activation(-F.abs(z), act_type="softrelu")


class DomainIndependentHead(mx.gluon.HybridBlock):
    """One linear classifier per domain on shared features.

    Parameters
    ----------
    num_classes : int
        K >= 2. A binary task (K = 2) gets one logit per domain head, as a Gluon binary net
        ends in ``Dense(1)``; K > 2 gets K logits per head.
    num_domains : int
        D, the number of domains (protected attribute values).
    in_units : int, default 0
        Width of the features (0: inferred at the first call).

    Inputs:
        - **features**: (N, C) (or (N, ...), flattened).

    Outputs:
        - **logits**: (N, D, K') with K' = 1 (binary) or K: the logits of each domain's head.

    Examples
    --------
    >>> import mxnet as mx
    >>> head = DomainIndependentHead(num_classes=3, num_domains=2)
    >>> head.initialize()
    >>> head(mx.nd.ones((4, 5))).shape
    (4, 2, 3)
    """

    def __init__(self, num_classes: int, num_domains: int, *, in_units: int = 0, **kwargs):
        super().__init__(**kwargs)
        self._num_classes = _check_classes(num_classes)
        self._num_domains = check_positive_int("num_domains", num_domains)
        with self.name_scope():
            self.dense = mx.gluon.nn.Dense(self._num_domains * _outputs(self._num_classes),
                                           in_units=in_units)

    @property
    def num_classes(self) -> int:
        """K."""
        return self._num_classes

    @property
    def num_domains(self) -> int:
        """D."""
        return self._num_domains

    def hybrid_forward(self, F, features):
        z = self.dense(features)  # (N, D*K'), domain-major
        return F.reshape(z, shape=(0, self._num_domains, _outputs(self._num_classes)))


class CombineDomains(mx.gluon.HybridBlock):
    """Per-domain logits (N, D, K') -> logits (N, K') without the domain.

    Parameters
    ----------
    num_classes : int
        K; 2 means one logit per domain (binary), as :class:`DomainIndependentHead` gives.
    combine : {"sum", "sum_probs"}, default "sum"
        ``"sum"``: :math:`\\sum_d z_d` (the reference code's inference, the paper's best);
        ``"sum_probs"``: the logits of the mean of the per-domain probabilities,
        :math:`\\log \\frac{1}{D}\\sum_d \\mathrm{softmax}(z_d)` (binary: the log-odds of
        :math:`\\frac{1}{D}\\sum_d \\sigma(z_d)`).
    log_prior : array, shape (D, K), optional
        Log class prior of each domain's training rows, :math:`\\log P(y \\mid d)`
        (:func:`domain_class_log_prior`), subtracted from each head's logits first (binary:
        its log-odds): a head trained on a domain where a class is rare is biased against it by
        that prior, a property of the training skew, not of the image. With two domains whose
        skews mirror each other (CIFAR-10S) the prior cancels in ``"sum"``. Kept as a
        non-trained parameter (saved and exported).
    num_domains : int, optional
        Checks ``log_prior``'s shape.

    Inputs:
        - **logits**: (N, D, K').

    Outputs:
        - **logits**: (N, K') with K' = 1 (binary) or K, logits in the sense of
          ``from_logits=True``.

    Examples
    --------
    >>> import mxnet as mx
    >>> z = mx.nd.array([[[2, 0, 0], [0, 1, 0]]])  # one row, 2 domains, 3 classes
    >>> CombineDomains(num_classes=3)(z).asnumpy().tolist()
    [[2.0, 1.0, 0.0]]
    >>> CombineDomains(num_classes=2)(mx.nd.array([[[2.0], [-1.0]]])).asnumpy().tolist()
    [[1.0]]
    """

    def __init__(self, num_classes: int, *, combine: Literal["sum", "sum_probs"] = "sum",
                 log_prior: Optional[ArrayLike] = None, num_domains: Optional[int] = None,
                 **kwargs):
        super().__init__(**kwargs)
        self._num_classes = _check_classes(num_classes)
        self._combine = check_choice("combine", combine, COMBINE_RULES)
        self._prior = log_prior is not None
        if self._prior:
            table = np.asarray(to_numpy(log_prior), dtype=np.float64)
            if table.ndim != 2 or table.shape[1] != self._num_classes \
                    or (num_domains is not None and table.shape[0] != num_domains) \
                    or not np.all(np.isfinite(table)):
                raise ValueError("log_prior must be a finite (num_domains, num_classes) table, "
                                 f"got shape {table.shape}")
            if self._num_classes == 2:  # one logit per head: the prior's log-odds
                table = table[:, 1:] - table[:, :1]  # (D, 1)
            with self.name_scope():
                self.log_prior = _state.new_state(self, "log_prior", table.shape, table)

    @property
    def combine(self) -> str:
        """The combination rule."""
        return self._combine

    def forward(self, logits):
        if self._prior and is_ndarray(logits):
            _state.ensure_on(self.log_prior, logits.context)
        return super().forward(logits)

    def hybrid_forward(self, F, logits, log_prior=None):
        if log_prior is not None:  # remove each head's training class prior, (D, K')
            logits = F.broadcast_sub(logits, F.expand_dims(log_prior, axis=0))
        if self._combine == "sum":
            return F.sum(logits, axis=1)  # (N, K')
        if self._num_classes == 2:
            mean = F.mean(F.sigmoid(logits), axis=1)  # (N, 1)
            return F.log(F.maximum(mean, 1e-30)) - F.log(F.maximum(1.0 - mean, 1e-30))
        probs = F.softmax(logits, axis=-1)  # (N, D, K)
        return F.log(F.maximum(F.mean(probs, axis=1), 1e-30))  # (N, K)


def _head_rows(pred, num_domains: int, outputs: int) -> int:
    """Rows of per-domain scores, which must have shape (N, D, K'); ValueError otherwise."""
    shape = tuple(pred.shape)
    if len(shape) != 3 or shape[1:] != (num_domains, outputs):
        raise ValueError(PRED_SHAPE.format(name="pred", shapes=f"(N, {num_domains}, {outputs})",
                                           shape=shape))
    return int(shape[0])


class DomainIndependentLoss(mx.gluon.loss.Loss):
    """Cross-entropy of each row's own domain head.

    Softmax cross-entropy over the K logits of the row's domain head, or (binary) sigmoid
    cross-entropy of its one logit.

    Parameters
    ----------
    num_classes : int
        K >= 2.
    num_domains : int
        D.
    weight : float, optional
        Global scalar weight of the loss.

    Inputs:
        - **pred**: per-domain logits, (N, D, K') (:class:`DomainIndependentHead`; K' = 1 for
          a binary task).
        - **label**: class ids, (N,) or (N, 1).
        - **domain**: domain ids, (N,) or (N, 1), integers in ``[0, D)``.
        - **sample_weight**: optional, (N,) or (N, 1).

    Outputs:
        - **loss**: (N,). A row whose domain id is not an integer in ``[0, D)`` (or whose
          label is not one in ``[0, K)``) selects no head and gets loss NaN, never a silent 0
          or another domain's head; it sends no gradient, so the parameters stay finite, but
          the mean loss you log is NaN. The first batch of each shape is checked on the host,
          values included (one synchronisation; :meth:`check_inputs` checks any batch).

    Examples
    --------
    >>> import mxnet as mx
    >>> z = mx.nd.zeros((2, 2, 3))
    >>> loss = DomainIndependentLoss(num_classes=3, num_domains=2)
    >>> [round(float(v), 4) for v in loss(z, mx.nd.array([0, 2]), mx.nd.array([1, 0])).asnumpy()]
    [1.0986, 1.0986]
    """

    def __init__(self, num_classes: int, num_domains: int, *, weight: Optional[float] = None,
                 **kwargs):
        super().__init__(weight, 0, **kwargs)
        self._scale = None if weight is None else float(weight)
        self._num_classes = _check_classes(num_classes)
        self._num_domains = check_positive_int("num_domains", num_domains)
        self._seen = set()
        self._ones = UnitWeights()

    def check_inputs(self, pred, label, domain, sample_weight=None) -> None:
        """Host check of one batch, values included (synchronises); ValueError if bad."""
        self._check(pred, label, domain, sample_weight)
        self._check_values(label, domain, sample_weight)

    def _check_values(self, label, domain, sample_weight) -> None:
        check_ids("domain", domain, self._num_domains, what="domain ids")
        check_ids("label", label, self._num_classes, what="labels")
        if sample_weight is not None:
            check_sample_weight("sample_weight", sample_weight)

    def _check(self, pred, label, domain, sample_weight) -> None:
        check_ndarray("pred", pred)
        check_ndarray("label", label, ids=True)
        check_ndarray("domain", domain, ids=True)
        if sample_weight is not None:
            check_ndarray("sample_weight", sample_weight)
        key = (pred.shape, label.shape, domain.shape, pred.context,
               None if sample_weight is None else sample_weight.shape)
        if key in self._seen:
            return
        n = _head_rows(pred, self._num_domains, _outputs(self._num_classes))
        for name, arr in (("label", label), ("domain", domain),
                          ("sample_weight", sample_weight)):
            if arr is not None:
                check_column(name, arr, n, pred.context)
        self._check_values(label, domain, sample_weight)  # first batch of a shape: values too
        if len(self._seen) > 64:
            self._seen.clear()
        self._seen.add(key)

    def forward(self, pred, label=None, domain=None, sample_weight=None):
        if label is None or domain is None:
            raise ValueError("label and domain are required: call "
                             "loss(per_domain_logits, label, domain[, sample_weight])")
        if is_ndarray(pred) or not isinstance(pred, mx.sym.Symbol):
            self._check(pred, label, domain, sample_weight)
            label, domain, sample_weight = (as_dtype_of(pred, a)
                                            for a in (label, domain, sample_weight))
            if sample_weight is None:  # fixed graph inputs: calls with and without weights
                sample_weight = self._ones(pred)
        args = [pred, label, domain] + ([] if sample_weight is None else [sample_weight])
        return super().forward(*args)

    def hybrid_forward(self, F, pred, label, domain, sample_weight=None):
        d = F.reshape(domain, shape=(-1,))  # (N,)
        y = F.reshape(label, shape=(-1,))  # (N,)
        ok = ((d == F.floor(d)) * (d >= 0) * (d < self._num_domains)
              * (y == F.floor(y)) * (y >= 0) * (y < self._num_classes))  # (N,) 0/1
        onehot = F.one_hot(F.cast(F.where(ok, d, F.zeros_like(d)), "int32"),
                           depth=self._num_domains)  # (N, D)
        own = F.sum(F.broadcast_mul(pred, F.expand_dims(onehot, axis=2)), axis=1)  # (N, K')
        if self._num_classes == 2:
            ell = _binary_ce(F, F.reshape(own, shape=(-1,)), y)  # (N,)
        else:
            ell = -F.pick(F.log_softmax(own, axis=-1), y, axis=-1)  # (N,)
        zero = F.zeros_like(ell)
        ell = F.where(ok, ell, zero / zero)  # a bad id is NaN: never a silent 0, no gradient
        if sample_weight is not None:
            ell = ell * F.reshape(sample_weight, shape=(-1,))
        if self._scale is not None:
            ell = ell * self._scale
        return ell


def domain_class_log_prior(labels: ArrayLike, domains: ArrayLike, num_domains: int,
                           num_classes: int, *, smoothing: float = 1.0) -> np.ndarray:
    """Log class prior of each domain's training rows, :math:`\\log P(y \\mid d)` (host).

    Parameters
    ----------
    labels, domains : array of int, shape (N,)
        Training labels in ``[0, K)`` and domains in ``[0, D)``.
    num_domains, num_classes : int
    smoothing : float, default 1.0
        Added to every (domain, class) count (Laplace), so a class never seen in a domain gets
        a finite prior.

    Returns
    -------
    np.ndarray, shape (D, K)
        For ``CombineDomains(log_prior=...)``.

    Examples
    --------
    >>> domain_class_log_prior([0, 0, 0, 1], [0, 0, 0, 0], 1, 2, smoothing=0).round(3).tolist()
    [[-0.288, -1.386]]
    """
    num_domains = check_positive_int("num_domains", num_domains)
    num_classes = _check_classes(num_classes)
    smoothing = check_number("smoothing", smoothing, low=0)
    y = check_ids("labels", labels, num_classes)
    d = check_ids("domains", domains, num_domains, what="domain ids")
    check_same_length(labels=y, domains=d)
    counts = np.full((num_domains, num_classes), smoothing, dtype=np.float64)
    np.add.at(counts, (d, y), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior = counts / counts.sum(axis=1, keepdims=True)
        out = np.log(prior)
    if not np.all(np.isfinite(out)):
        raise ValueError("a domain has no training row or a class none (with smoothing=0); "
                         "use smoothing > 0")
    return out


def domain_independent_nets(body: mx.gluon.HybridBlock, num_classes: int, num_domains: int, *,
                            combine: Literal["sum", "sum_probs"] = "sum",
                            in_units: int = 0, log_prior: Optional[ArrayLike] = None
                            ) -> Tuple[mx.gluon.nn.HybridSequential,
                                       mx.gluon.nn.HybridSequential]:
    """A training net and a prediction net around ``body`` that share every parameter.

    Parameters
    ----------
    body : HybridBlock
        Input -> features (N, C) (a CNN without its last layer, say).
    num_classes, num_domains : int
    combine : {"sum", "sum_probs"}, default "sum"
        Inference rule (:class:`CombineDomains`).
    in_units : int, default 0
        Feature width (0: inferred).
    log_prior : array, shape (D, K), optional
        Per-domain class prior removed at inference (:class:`CombineDomains`).

    Returns
    -------
    (train_net, predict_net) : tuple of HybridSequential
        ``train_net(x)`` -> per-domain logits (N, D, K'), for :class:`DomainIndependentLoss`;
        ``predict_net(x)`` -> logits (N, K') (K' = 1 for a binary task), no domain needed:
        validate it (``FairnessMonitor``), save it and ``export`` it. ``initialize`` either
        one (they hold the same parameters); parameters saved from one load into the other.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import autograd, gluon
    >>> body = gluon.nn.HybridSequential()
    >>> body.add(gluon.nn.Dense(8, activation="relu"))
    >>> train_net, predict_net = domain_independent_nets(body, num_classes=3, num_domains=2)
    >>> predict_net.initialize()
    >>> loss_fn = DomainIndependentLoss(num_classes=3, num_domains=2)
    >>> x = mx.nd.ones((4, 5))
    >>> with autograd.record():
    ...     loss = loss_fn(train_net(x), mx.nd.array([0, 1, 2, 0]), mx.nd.array([0, 0, 1, 1]))
    >>> loss.backward()
    >>> predict_net(x).shape
    (4, 3)
    """
    if not isinstance(body, mx.gluon.HybridBlock):
        raise TypeError(f"body must be a gluon HybridBlock, got {type(body).__name__}")
    head = DomainIndependentHead(num_classes, num_domains, in_units=in_units)
    train_net = mx.gluon.nn.HybridSequential()
    train_net.add(body, head)
    predict_net = mx.gluon.nn.HybridSequential()
    predict_net.add(body, head, CombineDomains(num_classes, combine=combine, log_prior=log_prior,
                                               num_domains=num_domains))
    return train_net, predict_net
