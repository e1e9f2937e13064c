r"""Penalties that compare groups on a statistic (the *how groups are compared* half).

A penalty maps the per-sample ``(values, weights)`` of a statistic (see ``statistics``) and the
one-hot group matrix to one non-negative number per batch, shape ``(1,)``. Groups absent from the
batch (no weight) are masked out: they add nothing and cause no division by zero.

Rate penalties compare each group's rate :math:`\gamma_{g,c}` with the overall rate
:math:`\bar\gamma_c` (fairlearn's ``to_overall``):

* ``'squared'``: :math:`\sum_{g,c} (\gamma_{g,c} - \bar\gamma_c)^2`;
* ``'absolute'``: :math:`\sum_{g,c} |\gamma_{g,c} - \bar\gamma_c|` (with two groups and one
  column this equals the between-groups gap :math:`|\gamma_0 - \gamma_1|`);
* ``'max'``: a smooth maximum of the absolute gaps, the log-mean-exp
  :math:`\tau \log \frac{1}{n} \sum_{g,c} \exp(|\gamma_{g,c} - \bar\gamma_c| / \tau)`, which
  lies between the mean and the maximum gap and tends to the maximum as :math:`\tau \to 0`.

The distribution penalty ``'mmd'`` (MinDiff) compares the groups' whole score distributions,
weighted as the statistic weights them (all rows for demographic parity, positives for TPR, ...),
with the Gaussian kernel :math:`k(x, x') = \exp(-(x - x')^2 / l^2)`:
:math:`\sum_{g,c} \mathrm{MMD}^2(P_{g,c}, P_c)` between each group and the whole batch. With two
groups of weight shares :math:`\pi_A, \pi_B` this is
:math:`(\pi_A^2 + \pi_B^2)\,\mathrm{MMD}^2(P_A, P_B)`: MinDiff's pairwise MMD scaled by a factor
that depends on the batch's group shares (between 1/2 and 1), so the effective ``lam`` moves a
little from batch to batch.
"""
from typing import Optional, Tuple, Union

from .._ops import Tensor
from .._validation import NOT_IN_CHOICES, check_number
from .statistics import group_totals, rate_gaps, safe_denominator

__all__ = [
    "Penalty",
    "SquaredGap",
    "AbsoluteGap",
    "SmoothMaxGap",
    "MMDPenalty",
    "PENALTIES",
    "get_penalty",
]


class Penalty:
    """Compares groups; ``penalty(F, values, weights, onehot)`` returns shape ``(1,)``, >= 0.

    Parameters of ``__call__``
    --------------------------
    F : module
        ``mx.nd`` or ``mx.sym``.
    values : Tensor, shape (N, C)
    weights : Tensor, shape (N, C) or (N, 1), or None (every row weight 1)
        From a statistic.
    onehot : Tensor, shape (N, G)
        One-hot group matrix.

    **Parts** (what a data-parallel step gathers): ``parts(F, values, weights, onehot)`` gives
    tensors that describe the batch, ``from_parts(F, *parts)`` the penalty from them, and
    ``combine`` says how the parts of several devices make the parts of the whole step:
    ``"sum"`` (per-group totals, (G, C): the rate penalties) or ``"concat"`` (the rows
    themselves along axis 0: the default, which any penalty that implements ``__call__``
    supports, at the cost of gathering every row on one device).
    """

    name = "penalty"
    combine = "concat"

    def __call__(self, F, values: Tensor, weights: Tensor, onehot: Tensor) -> Tensor:
        raise NotImplementedError

    def parts(self, F, values: Tensor, weights: Optional[Tensor], onehot: Tensor
              ) -> Tuple[Tensor, ...]:
        """The batch as ``(values (N, C), weights (N, C), onehot (N, G))``, for ``combine =
        "concat"``; weights None become ones."""
        weights = F.ones_like(values) if weights is None else F.broadcast_like(weights, values)
        return values, weights, onehot

    def from_parts(self, F, *parts: Tensor) -> Tensor:
        """The penalty, shape (1,), from ``parts`` (of one device, or combined)."""
        values, weights, onehot = parts
        return self(F, values, weights, onehot)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _RatePenalty(Penalty):
    """A penalty on the gaps between each present group's rate and the overall rate.

    Its parts are the per-group totals ``(num (G, C), den (G, C) or (G, 1))``, which add up
    over rows, batches and devices.
    """

    combine = "sum"

    def __call__(self, F, values, weights, onehot):
        return self.from_parts(F, *self.parts(F, values, weights, onehot))

    def parts(self, F, values, weights, onehot):
        return group_totals(F, values, weights, onehot)  # (G, C), (G, C) or (G, 1)

    def from_parts(self, F, num, den):
        gaps, present = rate_gaps(F, num, den)  # (G, C), (G, C) or (G, 1)
        return self.reduce(F, gaps, present)

    def reduce(self, F, gaps: Tensor, present: Tensor) -> Tensor:
        raise NotImplementedError


class SquaredGap(_RatePenalty):
    """Sum over groups and columns of the squared gap to the overall rate.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[1.0], [0.0], [1.0], [1.0]])
    >>> onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 2)
    >>> float(SquaredGap()(mx.nd, p, None, onehot).asscalar())
    0.125
    """

    name = "squared"

    def reduce(self, F, gaps, present):
        return F.sum(F.square(gaps))


class AbsoluteGap(_RatePenalty):
    """Sum over groups and columns of the absolute gap to the overall rate.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[1.0], [0.0], [1.0], [1.0]])
    >>> onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 2)
    >>> float(AbsoluteGap()(mx.nd, p, None, onehot).asscalar())
    0.5
    """

    name = "absolute"

    def reduce(self, F, gaps, present):
        return F.sum(F.abs(gaps))


class SmoothMaxGap(_RatePenalty):
    """Smooth maximum (log-mean-exp at temperature ``tau``) of the absolute gaps.

    Parameters
    ----------
    temperature : float, default 0.02
        Smaller is closer to the hard maximum (and has sharper gradients). Gaps lie in [0, 1].

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[1.0], [0.0], [1.0], [1.0]])
    >>> onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 2)
    >>> round(float(SmoothMaxGap(temperature=0.02)(mx.nd, p, None, onehot).asscalar()), 4)
    0.25
    """

    name = "max"

    def __init__(self, *, temperature: float = 0.02):
        self.temperature = check_number("temperature", temperature, low=0, low_inclusive=False)

    def reduce(self, F, gaps, present):
        z = F.abs(gaps) / self.temperature  # (G, C), >= 0, 0 for absent groups
        # Stabiliser: the largest z; the result does not depend on it, so no gradient through it.
        top = F.BlockGrad(F.max(z))  # (1,)
        present = F.broadcast_like(present, z)  # (G, C)
        exps = F.exp(F.broadcast_sub(z, top)) * present
        n = F.sum(present)  # (1,)
        # No present entry at all (e.g. no positives for TPR): sum 0 -> use 1 so the log is 0.
        total = F.sum(exps) + (n == 0)
        return self.temperature * (top + F.log(total / F.maximum(n, 1.0)))

    def __repr__(self) -> str:
        return f"SmoothMaxGap(temperature={self.temperature})"


class MMDPenalty(Penalty):
    """MinDiff: squared MMD between each group's score distribution and the batch's.

    Memory and time are O(C * N^2) per batch (a kernel matrix per column).

    Parameters
    ----------
    bandwidth : float, default 0.1
        ``l`` in the Gaussian kernel ``exp(-(x - x')^2 / l^2)`` (MinDiff's default).

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxfair._ops import group_onehot
    >>> p = mx.nd.array([[0.9], [0.8], [0.2], [0.1]])
    >>> onehot = group_onehot(mx.nd, mx.nd.array([0, 0, 1, 1]), 2)
    >>> float(MMDPenalty()(mx.nd, p, None, onehot).asscalar()) > 0
    True
    """

    name = "mmd"

    def __init__(self, *, bandwidth: float = 0.1):
        self.bandwidth = check_number("bandwidth", bandwidth, low=0, low_inclusive=False)

    def __call__(self, F, values, weights, onehot):
        weights = F.ones_like(values) if weights is None else F.broadcast_like(weights, values)
        vt = F.transpose(values)  # (C, N)
        diff = F.broadcast_sub(F.expand_dims(vt, axis=2), F.expand_dims(vt, axis=1))  # (C, N, N)
        kernel = F.exp(-F.square(diff) / (self.bandwidth ** 2))  # (C, N, N)
        # Weight of row i in group g for column c, and each group's total weight.
        member = F.broadcast_mul(F.expand_dims(F.transpose(weights), axis=2),
                                 F.expand_dims(onehot, axis=0))  # (C, N, G)
        den = F.sum(member, axis=1, keepdims=True)  # (C, 1, G)
        # Exact division (no floor), so a common scale of the weights cancels; an absent group
        # or column has only zero rows, which stay 0.
        a = F.broadcast_div(member, safe_denominator(F, den))  # (C, N, G), columns sum to 1 or 0
        everyone = F.sum(member, axis=2, keepdims=True)  # (C, N, 1)
        u = F.broadcast_div(everyone, safe_denominator(
            F, F.sum(everyone, axis=1, keepdims=True)))  # (C, N, 1)
        ka = F.batch_dot(kernel, a)  # (C, N, G)
        ku = F.batch_dot(kernel, u)  # (C, N, 1)
        q_gg = F.sum(a * ka, axis=1)  # (C, G)
        q_oo = F.sum(u * ku, axis=1)  # (C, 1)
        q_go = F.sum(F.broadcast_mul(a, ku), axis=1)  # (C, G)
        mmd2 = F.broadcast_add(q_gg, q_oo) - 2.0 * q_go  # (C, G)
        present = F.reshape(den, shape=(0, -1)) > 0  # (C, G)
        # MMD^2 >= 0 in exact arithmetic; rounding can leave tiny negatives.
        return F.sum(F.relu(mmd2) * present)

    def __repr__(self) -> str:
        return f"MMDPenalty(bandwidth={self.bandwidth})"


#: Penalty names and their classes.
PENALTIES = {
    "squared": SquaredGap,
    "absolute": AbsoluteGap,
    "max": SmoothMaxGap,
    "mmd": MMDPenalty,
}


def get_penalty(penalty: Union[str, Penalty]) -> Penalty:
    """The penalty for a name in ``PENALTIES`` (default settings), or ``penalty`` itself.

    Parameters
    ----------
    penalty : str or Penalty
        ``'squared'``, ``'absolute'``, ``'max'``, ``'mmd'`` or a ``Penalty`` instance (to set
        ``temperature`` or ``bandwidth``).

    Returns
    -------
    Penalty

    Examples
    --------
    >>> get_penalty("mmd")
    MMDPenalty(bandwidth=0.1)
    """
    if isinstance(penalty, Penalty):
        return penalty
    if not isinstance(penalty, str) or penalty not in PENALTIES:
        raise ValueError(
            NOT_IN_CHOICES.format(name="penalty", choices=sorted(PENALTIES), value=penalty)
        )
    return PENALTIES[penalty]()
