"""Per-row work of one ``GroupStats.update``: validity, reason codes and cell ids, on the device.

One hybridized block computes, for every row of a batch, where it goes (its cell, or the slot of
its reason code when it is invalid) and with which weight; ``mxfair._compat.scatter_add`` then
adds the weights into the statistics. Hybridized, the two dozen element-wise steps run as one
cached graph instead of two dozen Python calls, which is most of the cost of a small batch.

Exactness of the ids. Every id is an integer: cells below ``2 * G * K * K + 64``, histogram cells
below ``G * 2 * B``. They are formed in ``dtype``: float32 only when all of them are below 2**23
(float32 holds every integer below 2**24), else float64 (every integer below 2**53); the caller
decides. A row's reason code is formed from 0/1 flags only, so an id of NaN or inf can spoil its
cell value but never its code, and an invalid row's cell value is never used.

What is still formed in float32, and why it is exact:

- labels, group ids, decisions, cells and histogram cells in the float32 regime: integers below
  2**23 (the caller picks float64 otherwise; float64 input ids always stay float64);
- reason codes: integers below 64;
- ``argmax`` class ids of (N, K) scores: below K <= 46341 (K * K * G must stay below 2**31);
- bins ``floor(p * B)``: found in float64 from the float64 probability, then cast (below 2**23
  in the float32 regime);
- the decision ``score >= threshold`` of float32 scores: in float32 on purpose, with the
  threshold rounded to float32 as NumPy compares (documented at ``GroupStats``); float64 scores
  are compared in float64.

Bootstrap ids (``r * size + cell``) are formed by the caller in float64, and Poisson weights,
sample weights and every sum are float64.
"""
import math
from typing import List, Optional

import mxnet as mx
from mxnet import gluon

from .._ops import invalid_ids, invalid_weights, nonfinite, outside_unit

__all__ = ["RowBlock", "logit", "layout_of", "LOGIT_RANGE"]

#: Reason bits of a row's code (``INVALID_REASONS`` order): label, group, prediction, score,
#: probability, weight.
LABEL, GROUP, PREDICTION, SCORE, PROBABILITY, WEIGHT = (1, 2, 4, 8, 16, 32)
LOGIT_RANGE = 32.0


def logit(p: float) -> float:
    """log(p / (1 - p)) with the ends: -inf at 0, +inf at 1."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p) - math.log1p(-p)


class RowBlock(gluon.HybridBlock):
    """Where every row of a batch goes, and with which weight.

    Parameters
    ----------
    num_groups, num_classes : int
    layout : {"binary", "binary2", "scores", "ids"}
        Predictions (N,) binary scores, (N, 2) binary class scores, (N, K) multi-class scores,
        or (N,) multi-class ids.
    from_logits : bool
    threshold : float
    dtype : {"float32", "float64"}
        Of the ids and cells (see the module docstring).
    weighted : bool
        A fourth input, the sample weights (N,) float64.
    num_bins : int
    bin_scale : {"probability", "logit"}
    bootstrap, exact : bool
        Also give the outputs the bootstrap replicates and the kept rows need.

    Inputs: ``labels`` (N,) and ``groups`` (N,) in ``dtype``, ``preds``, [``weight``].
    Outputs: a tuple, named by :attr:`names`:

    - ``index`` (N,): the counts slot, in ``[0, 2 G K^2 + 64)``: the cell ``g K^2 + y K +
      decided`` (plus ``G K^2`` for a logit outside [0, 1]), or ``2 G K^2 + code`` for an
      invalid row; ``count_weight`` (N,) float64: its weight (1 for an invalid row);
    - with bins, bootstrap or exact: ``code`` (N,), the row's reason bits (0: valid), and
      ``valid_weight`` (N,) float64, the weight of a valid row (0 for an invalid one);
    - with bins: ``hist_index`` (N,) ``(g * 2 + y) * B + bin`` (0 for an invalid row) and
      ``prob_weight`` (N,) float64, probability times weight (0 for an invalid row);
    - with bootstrap: ``cell`` (N,) float64, the cell (0 for an invalid row);
    - with exact: ``rows`` (3, N) float64: ranking score, ``g * 2 + y`` (-1 for an invalid
      row), weight (0 for an invalid row).
    """

    def __init__(self, *, num_groups: int, num_classes: int, layout: str, from_logits: bool,
                 threshold: float, dtype: str, weighted: bool, num_bins: int, bin_scale: str,
                 bootstrap: bool, exact: bool, score_dtype: str = "float32"):
        super().__init__()
        self._score_dtype = score_dtype
        self._g, self._k, self._layout = num_groups, num_classes, layout
        self._from_logits, self._threshold, self._dtype = from_logits, threshold, dtype
        self._weighted, self._bins, self._scale = weighted, num_bins, bin_scale
        self._bootstrap, self._exact = bootstrap, exact
        self.names: List[str] = ["index", "count_weight"]
        if num_bins or bootstrap or exact:
            self.names += ["code", "valid_weight"]
        if num_bins:
            self.names += ["hist_index", "prob_weight"]
        if bootstrap:
            self.names.append("cell")
        if exact:
            self.names.append("rows")

    def hybrid_forward(self, F, labels, groups, preds, *weight):
        K, G, B, dt = self._k, self._g, self._bins, self._dtype
        size = G * K * K
        code = invalid_ids(F, labels, K, dt) + invalid_ids(F, groups, G, dt) * GROUP
        part = self._decide(F, preds)
        for bit, flag in part["flags"]:
            code = code + self._cast(F, flag, self._score_dtype) * bit
        ones64 = F.ones_like(F.cast(labels, "float64")) if dt != "float64" else F.ones_like(labels)
        zeros64 = F.zeros_like(ones64)
        w = weight[0] if self._weighted else ones64
        if self._weighted:  # NaN, inf and negative weights
            bad_w = invalid_weights(F, w)
            code = code + self._cast(F, bad_w, "float64") * WEIGHT
        cell = F.add_n(labels * K, groups * (K * K), part["decided"])
        shifted = cell if part["outside"] is None else cell + part["outside"] * size
        out = {
            "index": F.where(code, code + 2 * size, shifted),
            # unweighted: ones in the ids' dtype (a batch of fewer than 2**24 rows, the caller
            # makes sure, counts exactly in float32); weighted: float64
            "count_weight": F.where(code, ones64, w) if self._weighted else F.ones_like(code),
            "code": code,
            "valid_weight": F.where(code, zeros64, w),
        }
        if B:
            prob = part["prob"]
            if self._scale == "probability":
                bins = F.minimum(F.floor(prob * B), B - 1.0)  # prob in [0, 1] when valid
            else:
                z = part["rank"] if self._from_logits else F.log(prob) - F.log(1.0 - prob)
                scaled = F.floor((z + LOGIT_RANGE) * (B / (2.0 * LOGIT_RANGE)))
                bins = F.maximum(F.minimum(scaled, B - 1.0), 0.0)  # +-inf go to the ends
            hist = labels * B + groups * (2 * B) + F.cast(bins, dt)
            out["hist_index"] = F.where(code, F.zeros_like(hist), hist)
            out["prob_weight"] = F.where(code, zeros64, prob * w)
        if self._bootstrap:
            out["cell"] = F.cast(F.where(code, F.zeros_like(cell), cell), "float64")
        if self._exact:
            key = F.where(code, F.zeros_like(cell) - 1, groups * 2 + labels)
            rank = F.where(code, zeros64, part["rank"])
            out["rows"] = F.stack(rank, F.cast(key, "float64"), out["valid_weight"])
        return tuple(out[name] for name in self.names)

    def _cast(self, F, x, src: str):
        """``x`` (of dtype ``src``) in the ids' dtype; no step when it already is."""
        return x if src == self._dtype else F.cast(x, self._dtype)

    def _decide(self, F, preds) -> dict:
        """``decided`` (N,) dtype; ``outside`` (N,) dtype or None (logits outside [0, 1]);
        ``flags``: (coefficient, 0/1 flag) pairs of the reason bits; ``prob`` and ``rank``
        (N,) float64 or None."""
        K, t = self._k, self._threshold
        out = {"outside": None, "prob": None, "rank": None}
        need_prob = self._bins > 0
        need_rank = self._exact or (self._bins and self._scale == "logit")
        if self._layout == "scores":  # argmax; float32 class ids are exact (K < 2**24)
            out["decided"] = self._cast(F, F.argmax(preds, axis=1), self._score_dtype)
            out["flags"] = [(SCORE, F.sum(preds - preds, axis=1) != 0)]  # NaN or inf in a row
            return out
        if self._layout == "ids":
            ids = self._cast(F, F.reshape(preds, shape=(-1,)), self._score_dtype)
            out["decided"] = ids
            out["flags"] = [(PREDICTION, invalid_ids(F, ids, K, self._dtype))]
            return out
        if self._layout == "binary2":
            col0 = F.cast(F.reshape(F.slice_axis(preds, axis=1, begin=0, end=1), shape=(-1,)),
                          "float64")
            raw = F.reshape(F.slice_axis(preds, axis=1, begin=1, end=2), shape=(-1,))
            col1 = F.cast(raw, "float64")
            if self._from_logits:
                z = col1 - col0  # the log-odds of class 1 (exact for float32 inputs)
                out["decided"] = self._cast(F, z >= logit(t), "float64")
                out["outside"] = self._cast(F, F.maximum(outside_unit(F, col0),
                                                         outside_unit(F, col1)), "float64")
                out["flags"] = [(SCORE, self._cast(F, nonfinite(z), "float64"))]
                out["rank"] = z
                out["prob"] = F.sigmoid(z) if need_prob else None
                return out
            x, x64 = raw, col1
        else:
            x = F.reshape(preds, shape=(-1,))
            x64 = F.cast(x, "float64") if (need_prob or need_rank) else None
        bad = nonfinite(x)
        if self._from_logits:  # sigmoid(z) >= t  <=>  z >= logit(t), in the scores' precision
            out["decided"] = self._cast(F, x >= logit(t), self._score_dtype)
            out["outside"] = self._cast(F, outside_unit(F, x), self._score_dtype)
            out["flags"] = [(SCORE, bad)]
            out["rank"] = x64
            out["prob"] = F.sigmoid(x64) if need_prob else None
        else:  # 16 * outside - 8 * nonfinite: 8 for NaN/inf (outside too), 16 for the rest
            # t rounded to the scores' precision, as NumPy compares
            out["decided"] = self._cast(F, x >= t, self._score_dtype)
            out["flags"] = [(SCORE - PROBABILITY, bad), (PROBABILITY, outside_unit(F, x))]
            out["prob"] = out["rank"] = x64
        return out


def layout_of(preds: mx.nd.NDArray, num_classes: int) -> Optional[str]:
    """The layout of ``preds`` for :class:`RowBlock`, or None for a shape that does not fit."""
    K = num_classes
    if preds.ndim == 2 and preds.shape[1] == 1:
        return "binary" if K == 2 else "ids"
    if preds.ndim == 2 and preds.shape[1] == K:
        return "binary2" if K == 2 else "scores"
    if preds.ndim == 1:
        return "binary" if K == 2 else "ids"
    return None
