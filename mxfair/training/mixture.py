r"""The randomized model of the proxy-Lagrangian game, as one exportable Gluon block.

The guarantees of Cotter et al. (ICML 2019) are for a *distribution over iterates*: at most
m + 1 of them (m the number of constraints), found by the linear program of
:func:`~mxfair.training.best_mixture` on the held-out rows. :class:`IterateMixture` deploys that
distribution: each row's output is the output of one member net, drawn with the mixture's
probabilities. Where the members agree (most rows) the draw changes nothing; where they
disagree, the row's decision is random, which is what lets the mixture sit between two
iterates on the accuracy–gap front (one a little above the bound and more accurate, one
below it). The deterministic alternative is :meth:`BestIterate.restore`.
"""
from typing import Any, List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock

from .._ops import to_numpy
from .._validation import check_numeric

__all__ = ["IterateMixture"]

#: How far from 1 the probabilities may sum (they are renormalised within it).
SUM_TOLERANCE = 1e-6


class IterateMixture(HybridBlock):
    """A randomized net: each row gets the output of member t with probability ``p[t]``.

    Parameters
    ----------
    members : list of HybridBlock
        T >= 1 initialized nets of the same input and output shapes (e.g. iterates of one run,
        :meth:`BestIterate.mixture_net`), one output each.
    probabilities : array, shape (T,)
        Non-negative, summing to 1.

    Inputs:
        - **x**: the members' input, (N, ...).
        - **noise** (optional): (N,) uniform draws in [0, 1), for a reproducible draw from a
          host seed; without it ``F.random.uniform_like`` draws anew at every call
          (reproducible after ``mx.random.seed(seed, ctx)``).

    Outputs:
        - **out**: the members' output shape, (N,), (N, 1) or (N, K): per row, the output of
          the member drawn for it (logits, if the members output logits).

    The probabilities are a non-trained parameter: they survive ``save_parameters`` and
    ``hybridize`` → ``export`` → ``SymbolBlock.imports`` with the members, and live on every
    context of the members. Every array the block makes is on the input's context.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> a, b = gluon.nn.Dense(1, in_units=2), gluon.nn.Dense(1, in_units=2)
    >>> a.initialize(mx.init.Constant(1.0)); b.initialize(mx.init.Constant(-1.0))
    >>> mix = IterateMixture([a, b], [0.25, 0.75])
    >>> x = mx.nd.ones((4, 2))
    >>> mix(x, mx.nd.array([0.1, 0.3, 0.5, 0.9])).reshape((-1,)).asnumpy().tolist()
    [2.0, -2.0, -2.0, -2.0]
    """

    def __init__(self, members: Sequence[HybridBlock], probabilities: Any, *,
                 prefix: Optional[str] = None, params: Any = None):
        super().__init__(prefix=prefix, params=params)
        if isinstance(members, HybridBlock):
            members = [members]
        elif isinstance(members, (list, tuple)):
            members = list(members)
        else:
            raise TypeError(f"members must be a list of gluon HybridBlocks, got "
                            f"{type(members).__name__}")
        if not members or not all(isinstance(m, HybridBlock) for m in members):
            raise TypeError(f"members must be a non-empty sequence of gluon HybridBlocks, got "
                            f"{[type(m).__name__ for m in members]}")
        p = check_numeric("probabilities", to_numpy(probabilities), ids=False).astype(np.float64)
        if p.size != len(members):
            raise ValueError(f"probabilities has {p.size} entries for {len(members)} members: "
                             "give one probability per member")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1) > SUM_TOLERANCE:
            raise ValueError(f"probabilities must be non-negative and sum to 1, got "
                             f"{p.tolist()} (sum {p.sum():.6g})")
        self.probabilities = p / p.sum()
        self.num_members = len(members)
        for i, member in enumerate(members):
            self.register_child(member, f"member{i}")
        self._members = members
        cumulative = np.cumsum(self.probabilities)
        cumulative[-1] = 1.0  # u < 1 always falls in a member
        ctx = _contexts_of(members)
        with self.name_scope():
            self.upper = self.params.get(
                "upper", grad_req="null", differentiable=False, shape=(self.num_members,),
                init=mx.init.Zero())
        self.upper.initialize(ctx=ctx)
        self.upper.set_data(mx.nd.array(cumulative, dtype="float32"))

    def forward(self, x, noise=None):
        if noise is None:
            return super().forward(x)
        if isinstance(x, mx.nd.NDArray) and isinstance(noise, mx.nd.NDArray) \
                and noise.size != x.shape[0]:
            raise ValueError(f"noise must have one draw per row of x ({x.shape[0]}), "
                             f"got shape {noise.shape}")
        return super().forward(x, noise)

    def hybrid_forward(self, F, x, noise=None, upper=None):
        outs = [member(x) for member in self._members]
        flat = [F.reshape(o, shape=(0, -1)) for o in outs]  # (N, D) each
        first = F.slice_axis(flat[0], axis=1, begin=0, end=1)  # (N, 1)
        u = F.random.uniform_like(first) if noise is None else F.reshape_like(
            F.cast(noise, "float32"), first)
        lower = F.zeros_like(first)
        picked = F.zeros_like(flat[0])
        for t, out in enumerate(flat):
            hi = F.slice_axis(upper, axis=0, begin=t, end=t + 1)  # (1,)
            mask = F.broadcast_lesser(u, hi) * F.broadcast_greater_equal(
                u, lower if t == 0 else F.slice_axis(upper, axis=0, begin=t - 1, end=t))
            picked = picked + F.broadcast_mul(mask, out)  # (N, D)
        return F.reshape_like(picked, outs[0])

    def __repr__(self) -> str:
        p = ", ".join(f"{v:.3f}" for v in self.probabilities)
        return f"{self.__class__.__name__}(members={self.num_members}, probabilities=[{p}])"


def _contexts_of(members: Sequence[HybridBlock]) -> List[mx.Context]:
    """The contexts the members' parameters live on (all of them, for data-parallel use; the
    CPU for members without parameters)."""
    for member in members:
        for param in member.collect_params().values():
            try:
                return list(param.list_ctx())
            except RuntimeError:  # not initialized
                raise ValueError(f"member parameter {param.name} is not initialized: "
                                 "initialize (or load) every member first") from None
    return [mx.cpu()]
