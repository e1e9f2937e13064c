r"""The penalty of a whole data-parallel step, from the parts every device computed.

With ``gluon.utils.split_and_load`` device :math:`d` holds :math:`n_d` of the step's
:math:`N = \sum_d n_d` rows. The single-device loss of the whole batch gives every row
:math:`\ell_i + \lambda P`, so ``loss.backward()`` followed by ``trainer.step(N)`` descends on
:math:`\frac1N \sum_i \ell_i + \lambda P` and the gradient of ``sum(loss)`` is
:math:`\sum_i \nabla\ell_i + N \lambda \nabla P`.

:math:`P` is a function of parts that the devices compute on their rows (per-group totals that
add up, or the rows themselves, see ``Penalty.parts``): :math:`P = f(c)`, with :math:`c` the sum
(or concatenation) of the devices' parts :math:`c_d`. Here:

1. each device's parts are copied, detached, to the first device and combined;
2. :math:`P = f(c)` and :math:`A = \partial f / \partial c` are computed there, in a small graph
   of its own (a few (G, C) operations for the rate penalties);
3. device :math:`d` returns, for each of its rows,

   .. math::

       \ell_i + \lambda \Big(P + \frac{N}{n_d}\,\langle A_d,\ c_d - \mathrm{stop}(c_d)\rangle
       \Big),

   where :math:`A_d` is :math:`A` (sum) or its rows of device :math:`d` (concatenation). The
   bracket's second term is exactly 0, so every row's value is the single-device value; its
   gradient is :math:`\frac{N}{n_d} A_d \,\partial c_d`. Summed over the :math:`n_d` rows of
   the device and then over the devices, the penalty's gradient is
   :math:`N \lambda \sum_d A_d\, \partial c_d = N \lambda \nabla P`: the single-device gradient
   of the whole batch.

Each device's loss depends only on that device's graph (the other devices enter as constants),
so ``for loss in losses: loss.backward()`` works, as does ``autograd.backward(losses)``. (A
penalty computed once and copied to every device would share one graph between the devices'
losses; MXNet 1.9.1 then refuses the second ``backward``.)
"""
from typing import List, Optional, Sequence, Tuple

import mxnet as mx

from .penalties import Penalty

__all__: list = []


def combine_parts(penalty: Penalty, parts_by_device: Sequence[Sequence[mx.nd.NDArray]]
                  ) -> List[mx.nd.NDArray]:
    """The parts of the whole step on the first device: sums or concatenations, detached."""
    home = parts_by_device[0][0].context
    combined = []
    with mx.autograd.pause():
        for k in range(len(parts_by_device[0])):
            pieces = [parts[k].detach().as_in_context(home) for parts in parts_by_device]
            if len(pieces) == 1:
                combined.append(pieces[0].copy())
            elif penalty.combine == "sum":
                combined.append(mx.nd.add_n(*pieces))
            else:
                combined.append(mx.nd.concat(*pieces, dim=0))
    return combined


def whole_step_penalty(penalty: Penalty, parts_by_device: Sequence[Sequence[mx.nd.NDArray]],
                       need_grad: bool
                       ) -> Tuple[mx.nd.NDArray, Optional[List[List[mx.nd.NDArray]]]]:
    """The step's penalty (shape (1,), first device, no graph) and, if ``need_grad``, each
    device's coefficients ``A_d`` (one per part, on that device)."""
    combined = combine_parts(penalty, parts_by_device)
    if not need_grad:
        with mx.autograd.pause():
            return penalty.from_parts(mx.nd, *combined), None
    for leaf in combined:
        leaf.attach_grad()
    with mx.autograd.record():  # a graph of its own: the leaves have no history
        value = penalty.from_parts(mx.nd, *combined)
    value.backward()
    coefs: List[List[mx.nd.NDArray]] = []
    offset = 0
    # Fresh copies outside the recording: a constant shared by two devices' graphs (even a
    # variable node) would make the second device's backward fail once the first freed it.
    with mx.autograd.pause():
        for parts in parts_by_device:
            ctx = parts[0].context
            if penalty.combine == "sum":
                coefs.append([leaf.grad.copyto(ctx) for leaf in combined])
            else:
                n = parts[0].shape[0]
                coefs.append([leaf.grad[offset:offset + n].copyto(ctx) for leaf in combined])
                offset += n
    return value.detach(), coefs


def linear_term(parts: Sequence[mx.nd.NDArray], coefs: Sequence[mx.nd.NDArray]
                ) -> mx.nd.NDArray:
    """``sum_k <A_k, c_k - stop(c_k)>``: 0 in value, gradient ``A_k`` w.r.t. ``c_k``; (1,)."""
    terms = [mx.nd.sum(a * (c - mx.nd.BlockGrad(c)), keepdims=True).reshape((1,))
             for c, a in zip(parts, coefs)]
    return mx.nd.add_n(*terms) if len(terms) > 1 else terms[0]
