"""Per-group randomised threshold rules: the best one from score histograms, and applying one.

The search behind :class:`~mxfair.postprocessing.ThresholdOptimizer` (as fairlearn keeps its
curve utilities apart from its estimator): upper concave hulls of each group's threshold points
(:class:`Hull`), the one-dimensional search of a simple constraint (:func:`solve_simple`), and
equalized odds without slack (:func:`solve_equalized_odds`) or with it, as a linear program
(:func:`solve_equalized_odds_tol`). A rule of group g is two thresholds ``lo <= hi`` and three
positive probabilities (below ``lo``, between, at or above ``hi``); :func:`step_probability`
applies rules to scores inside a graph (``GroupThreshold``) or imperatively (``predict``).
"""
from typing import Tuple

import numpy as np

from .._ops import Tensor, group_onehot

__all__: list = []

_EPS = 1e-12


def upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the vertices of the upper concave hull of the points (x, y), x increasing.

    Of points sharing an x only the highest is kept; Andrew's monotone chain.
    """
    order = np.lexsort((y, x))  # by x, then y
    xs = x[order]
    last_of_run = np.append(xs[1:] != xs[:-1], True)
    order = order[last_of_run]
    xl, yl = x.tolist(), y.tolist()  # Python floats: much faster than NumPy scalars here
    hull = []
    for i in order.tolist():
        xi, yi = xl[i], yl[i]
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            # Drop i1 when it is on or below the chord from i0 to i.
            if (yl[i1] - yl[i0]) * (xi - xl[i0]) <= (yi - yl[i0]) * (xl[i1] - xl[i0]):
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull, dtype=np.int64)


class Hull:
    """Upper hull of one group's threshold points: vertex x, y and threshold index k."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        idx = upper_hull(x, y)
        self.x, self.y, self.k = x[idx], y[idx], idx

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.x, self.y)

    def argmax_x(self) -> float:
        return float(self.x[int(np.argmax(self.y))])

    def mix_at(self, t: float) -> Tuple[int, int, float]:
        """The two thresholds (k_lo <= k_hi) whose mix reaches ``t``, and the weight on k_lo.

        A larger threshold index gives fewer positives, hence a smaller rate.
        """
        if len(self.x) == 1:
            return int(self.k[0]), int(self.k[0]), 0.0
        j = int(np.clip(np.searchsorted(self.x, t, side="right") - 1, 0, len(self.x) - 2))
        span = self.x[j + 1] - self.x[j]
        w = float(np.clip((t - self.x[j]) / span, 0.0, 1.0)) if span > 0 else 0.0
        return int(self.k[j + 1]), int(self.k[j]), w


def step_probs(k_lo: int, k_hi: int, w_lo: float, rho: float = 0.0, const: float = 0.0):
    """Positive probability below k_lo, between, and at/above k_hi, of the rule "use threshold
    k_lo with probability w_lo, else k_hi; then, with probability rho, replace the decision by a
    coin with P(positive) = const"."""
    base = rho * const
    return (base, base + (1 - rho) * w_lo, base + (1 - rho))


def point_to_rule(hull: Hull, fpr: float, tpr: float):
    """Rule of a group reaching the ROC point (fpr, tpr) between the diagonal and its hull.

    The hull point at ``fpr`` is mixed with the coin that says positive with probability
    ``fpr`` (the diagonal point (fpr, fpr)), as in Hardt et al. and fairlearn's ``p_ignore``.
    """
    top = float(hull(fpr))
    rho = 0.0 if top - fpr <= _EPS else float(np.clip((top - tpr) / (top - fpr), 0.0, 1.0))
    k_lo, k_hi, w = hull.mix_at(fpr)
    return k_lo, k_hi, step_probs(k_lo, k_hi, w, rho, fpr)


def solve_simple(rate: np.ndarray, gain: np.ndarray, tol: float, grid_size: int):
    """Simple constraint: every group's rate in a common band [t, t + tol].

    rate, gain : (G, B + 1) per group and threshold index. Returns the rules of the groups.
    Each group's best value within the band is its concave hull at ``clip(x*, t, t + tol)``
    (x* its unconstrained best rate); the total is concave in t with breakpoints at the hull
    vertices and the vertices shifted by ``-tol``, so they and the grid are the candidates.
    """
    hulls = [Hull(rate[g], gain[g]) for g in range(rate.shape[0])]
    t_max = max(0.0, 1.0 - tol)
    verts = np.concatenate([h.x for h in hulls])
    cand = np.unique(np.clip(np.concatenate(
        [np.linspace(0.0, t_max, grid_size + 1), verts, verts - tol]), 0.0, t_max))
    best_x = np.array([h.argmax_x() for h in hulls])  # (G,)
    xs = np.clip(best_x[:, None], cand[None, :], cand[None, :] + tol)  # (G, C)
    total = sum(h(xs[g]) for g, h in enumerate(hulls))  # (C,)
    t = cand[int(np.argmax(total))]
    rules = []
    for g, h in enumerate(hulls):
        k_lo, k_hi, w = h.mix_at(float(np.clip(best_x[g], t, t + tol)))
        rules.append((k_lo, k_hi, step_probs(k_lo, k_hi, w)))
    return rules


def solve_equalized_odds(fpr, tpr, pos, neg, alpha, beta, grid_size):
    """Equalized odds with no slack: one common ROC point for all groups.

    The groups' achievable regions lie between the diagonal and their ROC hulls u_g, so the
    common points are those under m(x) = min_g u_g(x); the objective
    ``alpha * P * m(x) - beta * N * x`` is concave in x. It is evaluated on the grid and every
    hull vertex (between two such points each u_g is linear), then the two intervals next to
    the best candidate are refined with the crossings of every pair of hulls, where m bends.
    """
    hulls = [Hull(fpr[g], tpr[g]) for g in range(fpr.shape[0])]
    P, N = pos.sum(), neg.sum()

    def objective(x):
        m = np.min([h(x) for h in hulls], axis=0)
        return alpha * P * m - beta * N * x, m

    cand = np.unique(np.concatenate([np.linspace(0.0, 1.0, grid_size + 1)]
                                    + [h.x for h in hulls]))
    values, _ = objective(cand)
    i = int(np.argmax(values))
    lo, hi = cand[max(i - 1, 0)], cand[min(i + 1, len(cand) - 1)]
    extra = [cand[i]]
    for a, b in ((lo, cand[i]), (cand[i], hi)):
        if b <= a:
            continue
        ua, ub = np.array([h(a) for h in hulls]), np.array([h(b) for h in hulls])
        d0 = ua[:, None] - ua[None, :]  # (G, G) gaps at both ends of a linear piece
        d1 = ub[:, None] - ub[None, :]
        cross = (d0 * d1) < 0
        extra.extend((a + (b - a) * d0[cross] / (d0[cross] - d1[cross])).tolist())
    extra = np.asarray(extra)
    values, m = objective(extra)
    j = int(np.argmax(values))
    x, y = float(extra[j]), float(m[j])
    return [point_to_rule(h, x, y) for h in hulls]


def solve_equalized_odds_tol(fpr, tpr, pos, neg, alpha, beta, tol):
    """Equalized odds with slack: every group's FPR in [a, a + tol] and TPR in [b, b + tol].

    A linear program over the mixing weights of each group's ROC hull vertices and the two
    band positions (a, b) (scipy's HiGHS); its solution is re-expressed as a two-threshold rule
    plus a coin per group.
    """
    from scipy.optimize import linprog

    G = fpr.shape[0]
    hulls = [Hull(fpr[g], tpr[g]) for g in range(G)]
    sizes = [len(h.x) for h in hulls]
    nv = sum(sizes) + 2  # the weights, then a and b
    cost = np.zeros(nv)
    a_eq = np.zeros((G, nv))
    a_ub = np.zeros((4 * G, nv))
    b_ub = np.zeros(4 * G)
    start = 0
    for g, h in enumerate(hulls):
        sl = slice(start, start + sizes[g])
        cost[sl] = -(alpha * pos[g] * h.y - beta * neg[g] * h.x)
        a_eq[g, sl] = 1.0
        for r, (coord, band) in enumerate(((h.x, nv - 2), (h.y, nv - 1))):
            a_ub[4 * g + 2 * r, sl] = coord  # rate - band_low <= tol
            a_ub[4 * g + 2 * r, band] = -1.0
            b_ub[4 * g + 2 * r] = tol
            a_ub[4 * g + 2 * r + 1, sl] = -coord  # band_low - rate <= 0
            a_ub[4 * g + 2 * r + 1, band] = 1.0
        start += sizes[g]
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(G),
                  bounds=[(0, None)] * (nv - 2) + [(0, 1), (0, 1)], method="highs")
    if res.status != 0:  # pragma: no cover - the LP is always feasible (the diagonal)
        raise RuntimeError(f"the equalized-odds linear program failed: {res.message}")
    rules, start = [], 0
    for g, h in enumerate(hulls):
        lam = np.clip(res.x[start:start + sizes[g]], 0.0, None)
        lam /= lam.sum()
        x, y = float(lam @ h.x), float(lam @ h.y)
        rules.append(point_to_rule(h, x, min(max(y, x), float(h(x)))))
        start += sizes[g]
    return rules


def rule_rates(hist: np.ndarray, thresholds: np.ndarray, probs: np.ndarray):
    """Expected per-group TP, FP, positives, negatives of the step rules on the histograms."""
    G, _, B = hist.shape
    b = np.arange(B)[None, :]
    q = np.where(b < thresholds[:, :1], probs[:, :1],
                 np.where(b < thresholds[:, 1:], probs[:, 1:2], probs[:, 2:]))  # (G, B)
    return (hist[:, 1] * q).sum(1), (hist[:, 0] * q).sum(1), hist[:, 1].sum(1), hist[:, 0].sum(1)


def step_probability(F, scores: Tensor, groups: Tensor, thresholds: Tensor, probs: Tensor,
                     num_groups: int, num_bins: int = 0) -> Tensor:
    """Probability of a positive decision under per-group two-step rules (graph-safe).

    Parameters
    ----------
    F : mx.nd or mx.sym
    scores : shape (N,) or (N, 1)
        Probabilities in [0, 1].
    groups : shape (N,)
        Group ids; an id outside ``[0, num_groups)`` gets probability 0 (no check in a graph).
    thresholds : shape (G, 2)
        ``(lo, hi)`` per group, ``lo <= hi``.
    probs : shape (G, 3)
        Positive probability below ``lo``, in ``[lo, hi)``, at or above ``hi``.
    num_groups : int
    num_bins : int, default 0
        When > 0, scores and thresholds are compared as histogram bins: a score's bin is
        ``clip(floor(score * B), 0, B - 1)`` (as in ``GroupStats``) and the threshold ``k / B``
        is bin ``k``; this makes the decisions agree exactly with the fitting histograms.

    Returns
    -------
    shape (N,), float32
    """
    onehot = group_onehot(F, groups, num_groups)  # (N, G)
    thr = F.dot(onehot, thresholds)  # (N, 2)
    p = F.dot(onehot, probs)  # (N, 3)
    s = F.cast(F.reshape(scores, shape=(-1,)), dtype="float32")  # (N,)
    if num_bins:
        s = F.clip(F.floor(s * num_bins), 0, num_bins - 1)
        thr = F.round(thr * num_bins)
    lo = F.reshape(F.slice_axis(thr, axis=1, begin=0, end=1), shape=(-1,))
    hi = F.reshape(F.slice_axis(thr, axis=1, begin=1, end=2), shape=(-1,))
    p0, p1, p2 = (F.reshape(F.slice_axis(p, axis=1, begin=i, end=i + 1), shape=(-1,))
                  for i in range(3))
    # lo <= hi, so s >= hi implies s >= lo: the three levels add up as steps.
    return p0 + (s >= lo) * (p1 - p0) + (s >= hi) * (p2 - p1)
