r"""The penalty of a whole data-parallel step, from the parts every device computed.

With ``gluon.utils.split_and_load`` device :math:`d` holds :math:`n_d` of the step's
:math:`N = \sum_d n_d` rows. The single-device loss of the whole batch gives every row
:math:`\ell_i + \lambda P`, so ``loss.backward()`` followed by ``trainer.step(N)`` descends on
:math:`\frac1N \sum_i \ell_i + \lambda P` and the gradient of ``sum(loss)`` is
:math:`\sum_i \nabla\ell_i + N \lambda \nabla P`.

:math:`P = f(c)` is a function of parts that the devices compute on their rows (per-group totals
that add up, or the rows themselves, see ``Penalty.parts``): :math:`c` is the sum (or the
concatenation) of the devices' parts :math:`c_d`. Here:

1. each device's parts are copied, detached, to the first device, combined into :math:`c`, and
   :math:`c` is copied, detached, to every device (for the rate penalties a few (G, C) arrays);
2. device :math:`d` evaluates the penalty at
   :math:`c^{(d)} = c + E_d\,(c_d - \mathrm{stop}(c_d))`, where :math:`E_d` places the device's
   part where it belongs in :math:`c` (the identity for sums, a row-selection matrix for
   concatenations). Its value is exactly :math:`P(c)`, the same on every device, and its
   gradient with respect to :math:`c_d` is :math:`E_d^\top \nabla f(c)`: the device's share
   of the whole batch's gradient;
3. device :math:`d` returns, for each of its rows,
   :math:`\ell_i + \lambda\,(\mathrm{stop}(P^{(d)}) + \frac{N}{n_d}(P^{(d)} -
   \mathrm{stop}(P^{(d)})))`: the value is :math:`\ell_i + \lambda P`, the single-device
   value, and summed over the device's :math:`n_d` rows the penalty's gradient is
   :math:`N \lambda E_d^\top \nabla f(c)\, \partial c_d`; summed over the devices it is
   :math:`N \lambda \nabla P`, the single-device gradient of the whole batch.

Each device's loss depends only on that device's graph (the other devices enter as constants),
so ``for loss in losses: loss.backward()`` works, as does ``autograd.backward(losses)``. (A
penalty computed once and copied to every device would share one graph between the devices'
losses; MXNet 1.9.1 then refuses the second ``backward``.) The penalty is evaluated once per
device: for the rate penalties a few operations on (G, C) arrays, for the MMD penalty
``O(N^2)`` per device.
"""
from typing import Dict, List, Sequence, Tuple

import mxnet as mx

from .penalties import Penalty

__all__: list = []


class DeviceLoss(mx.gluon.HybridBlock):
    """One device's rows of a data-parallel step (see the module docstring).

    Inputs: ``base`` (n,), ``lam`` (1,), ``scale`` (1,) = N / n, then the combined parts of the
    step (k arrays, no graph), the device's own parts (k arrays, with their graph) and, for
    concatenated parts, the placement matrix (N, n).
    """

    def __init__(self, penalty: Penalty, weight=None, **kwargs):
        super().__init__(**kwargs)
        self._penalty = penalty
        self._weight = weight

    def hybrid_forward(self, F, base, lam, scale, *args):
        concat = self._penalty.combine != "sum"
        k = (len(args) - 1) // 2 if concat else len(args) // 2
        combined, own = args[:k], args[k:2 * k]
        live = []
        for c, mine in zip(combined, own):
            delta = mine - F.BlockGrad(mine)  # 0, with the gradient of the device's part
            live.append(c + (F.dot(args[-1], delta) if concat else delta))
        pen = self._penalty.from_parts(F, *live)  # (1,), P of the whole step
        pen = F.BlockGrad(pen) + scale * (pen - F.BlockGrad(pen))  # value P, gradient N/n dP
        loss = F.broadcast_add(base, F.broadcast_mul(lam, pen))  # (n,)
        return loss if self._weight is None else loss * self._weight


def combine_parts(penalty: Penalty, parts_by_device: Sequence[Sequence[mx.nd.NDArray]]
                  ) -> List[List[mx.nd.NDArray]]:
    """The parts of the whole step (sums or concatenations), detached, on every device."""
    contexts = [parts[0].context for parts in parts_by_device]
    home = contexts[0]
    out: List[List[mx.nd.NDArray]] = [[] for _ in contexts]
    with mx.autograd.pause():
        for k in range(len(parts_by_device[0])):
            pieces = [parts[k].detach().as_in_context(home) for parts in parts_by_device]
            if len(pieces) == 1:
                total = pieces[0]
            elif penalty.combine == "sum":
                total = mx.nd.add_n(*pieces)
            else:
                total = mx.nd.concat(*pieces, dim=0)
            for d, ctx in enumerate(contexts):
                # A fresh array per device: one array in two devices' graphs would make the
                # second device's backward fail once the first freed the graph.
                out[d].append(total.copyto(ctx))
    return out


class Placements:
    """Cached constants of a data-parallel step: ``N / n_d`` and the (N, n_d) matrices that
    put a device's rows at their offset in a concatenation."""

    def __init__(self):
        self._cache: Dict[Tuple, mx.nd.NDArray] = {}

    def _get(self, key, make):
        if key not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = make()
        return self._cache[key]

    def scale(self, ctx, total: int, rows: int) -> mx.nd.NDArray:
        return self._get(("scale", ctx, total, rows),
                         lambda: mx.nd.full((1,), total / rows, ctx=ctx))

    def placement(self, ctx, total: int, offset: int, rows: int) -> mx.nd.NDArray:
        def make():
            rows_idx = mx.nd.arange(offset, offset + rows, ctx=ctx)
            return mx.nd.one_hot(rows_idx, depth=total).T  # (N, n)
        return self._get(("place", ctx, total, offset, rows), make)
