"""ThresholdOptimizer: per-group (randomised) thresholds that satisfy a fairness constraint.

After training, pick one decision rule per group for a fixed scorer so that a fairness
constraint holds on held-out data and the accuracy (or balanced accuracy) is as high as
possible, as in Hardt, Price & Srebro (2016) and fairlearn's ``ThresholdOptimizer``.

Everything is computed from the per-group, per-label score histograms of
:class:`mxfair.metrics.GroupStats` (shape (G, 2, B)), so a validation epoch never gathers scores
on the host, and the search costs O(G·B) instead of sorting N scores:

1. Suffix sums of each group's histograms give, for every candidate threshold (bin edge
   ``k / B``, ``k = 0..B``), the group's true and false positives, hence its selection rate,
   TPR and FPR.
2. A randomised mix of two thresholds reaches any point on the segment between them, so each
   group's achievable (constraint rate, objective) pairs are bounded above by the upper concave
   hull of its threshold points.
3. The groups are combined by a one-dimensional search over the common rate (simple
   constraints) or the common false positive rate (equalized odds), on a grid refined with every
   hull vertex, which makes the result the exact optimum over randomised threshold rules.

The fitted rule of group g is a randomised step function of the score with two steps
(``thresholds_[g] = (lo, hi)``, ``lo <= hi``): a row is positive with probability
``positive_probs_[g, 0]`` when its score is below ``lo``, ``positive_probs_[g, 1]`` between the
two, and ``positive_probs_[g, 2]`` at or above ``hi``. :class:`GroupThreshold` applies the same
rule inside a (hybridizable, exportable) Gluon graph.

Scores follow the package convention: a net's raw output (logits) by default,
``from_logits=True``; with ``from_logits=False`` they are probabilities in [0, 1]. The
thresholds are always probabilities (bin edges of [0, 1]). ``fit``, ``predict`` and
``positive_probability`` check their inputs the same way: NaN or infinite scores, and with
``from_logits=False`` scores outside [0, 1], raise ``ValueError`` (naming ``from_logits``);
string group ids raise ``TypeError`` pointing to :class:`mxfair.GroupEncoder`.
"""
import json
from typing import Any, Literal, Optional, Union

import mxnet as mx
import numpy as np

from .._constraints import CONSTRAINTS, RATE_LABELS, ConstraintName, canonical_constraint
from .._ops import as_ndarray, context_of, is_ndarray
from .._validation import (
    check_choice,
    check_flag,
    check_ids,
    check_not_empty,
    check_number,
    check_numeric,
    check_positive_int,
    check_same_length,
    check_sample_weight,
    check_scores,
    check_seed,
)
from ..metrics import GroupStats, confusion_rates, group_gap
from ._rules import (
    rule_rates,
    solve_equalized_odds,
    solve_equalized_odds_tol,
    solve_simple,
    step_probability,
)
from .layers import GroupThreshold

__all__ = ["ThresholdOptimizer", "OBJECTIVES"]

OBJECTIVES = ("accuracy", "balanced_accuracy")

NOT_FITTED = "this ThresholdOptimizer is not fitted yet; call fit() or fit_stats() first"
UNSEEN_GROUP = (
    "group ids {ids} were not seen at fit time; this ThresholdOptimizer was fitted on "
    "groups [0, {num_groups})"
)
EMPTY_GROUP = "group {group} has no rows in the fitting data; every group id must occur"
DEGENERATE_GROUP = (
    "group {group} has no {what} labels in the fitting data; {constraint} needs them to "
    "define its {rate}"
)
DEGENERATE_LABELS = "balanced_accuracy needs both labels in the fitting data, got only {label}"
NO_HISTOGRAM = (
    "fit_stats needs score histograms: build the statistics as "
    "GroupStats(num_groups, num_bins=grid_size)"
)
LABELS_NOT_BINARY = "labels must be 0 or 1, got values {values}"
BAD_FORMAT = "not a ThresholdOptimizer JSON document: {why}"
STATS_FROM_LOGITS = (
    "the GroupStats was built with from_logits={theirs} but this ThresholdOptimizer has "
    "from_logits={mine}: predict() would read scores differently from the histograms; build "
    "ThresholdOptimizer(from_logits={theirs})"
)
#: Keys a ThresholdOptimizer JSON document must hold (``from_logits`` is optional: documents
#: written before it existed hold probabilities, ``from_logits=False``).
JSON_KEYS = ("constraint", "objective", "tolerance", "grid_size", "num_groups", "num_bins",
             "group_names", "thresholds", "positive_probs")

_FORMAT = "mxfair.ThresholdOptimizer/1"
_EPS = 1e-12
#: The constraints the search solves: one rate (a common band of that rate), or the TPR and the
#: FPR together (a common point of the ROC hulls).
_SOLVABLE = tuple(c for c, rates in CONSTRAINTS.items()
                  if len(rates) == 1 or set(rates) == {"true_positive_rate", "false_positive_rate"})
#: The rates whose expected values ``rates_`` reports.
_FITTED_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")


def _binary_counts(tp, fp, pos, neg) -> np.ndarray:
    """Confusion counts (..., 2, 2) ``[[TN, FP], [FN, TP]]`` from TP, FP and the number of
    positives and negatives, for :func:`mxfair.metrics.confusion_rates` (the rates' one
    definition)."""
    tp, fp, pos, neg = np.broadcast_arrays(tp, fp, pos, neg)
    return np.stack([np.stack([neg - fp, fp], axis=-1), np.stack([pos - tp, tp], axis=-1)],
                    axis=-2)


def _check_binary_shape(scores: Any) -> None:
    shape = tuple(scores.shape) if hasattr(scores, "shape") else np.shape(scores)
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise ValueError(f"scores must have shape (N,) or (N, 1): one binary score per row, "
                         f"got shape {shape}")


def _check_random_state(value: Any) -> Any:
    """A RandomState as it is; otherwise a seed NumPy accepts (``check_seed``)."""
    if isinstance(value, np.random.RandomState):
        return value
    return check_seed("random_state", value)


# ----------------------------------------------------------------------- estimator
class ThresholdOptimizer:
    r"""Per-group randomised thresholds on a fixed scorer, maximising an objective subject to a
    fairness constraint (Hardt, Price & Srebro 2016).

    Parameters
    ----------
    constraint : {"demographic_parity", "equal_opportunity", "predictive_equality", \
"equalized_odds"}
        The rate(s) to equalise across groups: selection rate, TPR (equal opportunity), FPR
        (predictive equality), or both TPR and FPR. fairlearn's names are accepted as aliases
        (``"true_positive_rate_parity"``, ``"false_positive_rate_parity"``, and the equivalent
        ``"false_negative_rate_parity"``, ``"true_negative_rate_parity"``,
        ``"selection_rate_parity"``), as are the others of :data:`mxfair.CONSTRAINTS`
        (``"dp"``, ``"eqopp"``, ``"eqodds"``...). The ``constraint`` attribute holds the
        canonical name, and so does :meth:`to_json`.
    objective : {"accuracy", "balanced_accuracy"}
        Maximised over the whole fitting data: accuracy
        :math:`(TP + TN) / n`, or balanced accuracy :math:`\frac12 (TP/P + TN/N)` (of all rows,
        not fairlearn's group-weighted mean of per-group balanced accuracies).
    tolerance : float, default 0.0
        Slack of the constraint: every constrained rate may differ between groups by at most
        ``tolerance`` (max over groups minus min over groups, on the fitting data). The search
        places all groups' rates in a common band ``[t, t + tolerance]`` and lets each group
        take its best rate within the band, the band position chosen for the best objective.
        For equalized odds both the FPR and the TPR have such a band (a linear program).
    grid_size : int, default 1000
        Number of score bins ``B`` of the histograms built by :meth:`fit` (candidate thresholds
        are the bin edges ``k / B``) and number of grid steps of the rate search, which is
        refined with every vertex of the groups' hulls (so the result does not depend on it
        beyond the bins).
    random_state : int or numpy.random.RandomState, optional
        Default seed of the randomised decisions of :meth:`predict` (anything
        ``numpy.random.RandomState`` accepts).
    from_logits : bool, default True
        Scores given to :meth:`fit`, :meth:`predict` and :meth:`positive_probability` are a
        net's raw output (logits; a sigmoid is applied); False: probabilities in [0, 1].
        :meth:`to_block` builds the block for the same kind of scores.

    Attributes
    ----------
    thresholds_ : ndarray, shape (G, 2)
        Per group the two thresholds ``(lo, hi)`` on the score, multiples of ``1 / B``.
    positive_probs_ : ndarray, shape (G, 3)
        Per group the probability of a positive decision for a score below ``lo``, in
        ``[lo, hi)`` and at or above ``hi`` (a score's bin is ``floor(score * B)``, as in
        ``GroupStats``; the comparison is made on bins).
    num_groups_, num_bins_ : int
    group_names_ : list of str
    rates_ : dict of str -> ndarray (G,)
        Expected selection rate, TPR and FPR of each group under the fitted rule on the
        fitting data.
    objective_value_ : float
        Expected objective on the fitting data.
    constraint_gap_ : float
        Largest between-groups difference of the constrained rate(s) on the fitting data.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> groups = rng.randint(0, 2, 2000)
    >>> labels = (rng.rand(2000) < 0.3 + 0.3 * groups).astype(int)
    >>> scores = np.clip(0.35 * labels + 0.15 * groups + 0.5 * rng.rand(2000), 0, 1)
    >>> opt = ThresholdOptimizer(constraint="demographic_parity", from_logits=False)
    >>> opt = opt.fit(scores, labels, groups)
    >>> bool(opt.constraint_gap_ < 1e-9)
    True
    >>> decisions = opt.predict(scores, groups, random_state=0)
    >>> decisions.shape, decisions.dtype
    ((2000,), dtype('int64'))
    >>> block = opt.to_block()  # a GroupThreshold HybridBlock for deployment
    """

    def __init__(
        self,
        *,
        constraint: ConstraintName = "demographic_parity",
        objective: Literal["accuracy", "balanced_accuracy"] = "accuracy",
        tolerance: float = 0.0,
        grid_size: int = 1000,
        random_state: Union[None, int, np.random.RandomState] = None,
        from_logits: bool = True,
    ):
        self.constraint = canonical_constraint(constraint, allowed=_SOLVABLE)
        self.objective = check_choice("objective", objective, OBJECTIVES)
        self.tolerance = check_number("tolerance", tolerance, low=0)
        self.grid_size = check_positive_int("grid_size", grid_size)
        self.random_state = _check_random_state(random_state)
        self.from_logits = check_flag("from_logits", from_logits)

    def __repr__(self) -> str:
        return (f"ThresholdOptimizer(constraint={self.constraint!r}, "
                f"objective={self.objective!r}, tolerance={self.tolerance}, "
                f"grid_size={self.grid_size}, random_state={self.random_state!r}, "
                f"from_logits={self.from_logits})")

    # ------------------------------------------------------------------- fit
    def fit(self, scores: Any, labels: Any, groups: Any, *, sample_weight: Any = None,
            num_groups: Optional[int] = None) -> "ThresholdOptimizer":
        """Fit the thresholds on held-out scores.

        Builds the score histograms with :class:`~mxfair.metrics.GroupStats` on the context of
        the scores (``num_bins=grid_size``) and calls :meth:`fit_stats`.

        Parameters
        ----------
        scores : array, shape (N,) or (N, 1)
            Logits (probabilities in [0, 1] with ``from_logits=False``) of the positive class,
            NumPy or NDArray; finite.
        labels : array, shape (N,)
            True labels, 0 or 1.
        groups : array, shape (N,)
            Group ids, integers in ``[0, G)`` (from :class:`mxfair.GroupEncoder` for strings or
            several sensitive columns).
        sample_weight : array, shape (N,), optional
            Finite and >= 0.
        num_groups : int, optional
            G; by default ``max(groups) + 1``. Every group must occur.

        Returns
        -------
        self
        """
        n = check_same_length(scores=scores, labels=labels, groups=groups,
                              sample_weight=sample_weight)
        check_not_empty("scores", n)
        _check_binary_shape(scores)
        host_scores = check_scores("scores", scores, self.from_logits)
        host_labels = check_numeric("labels", labels)
        not_binary = (host_labels != 0) & (host_labels != 1)  # no sort: O(N); NaN included
        if np.any(not_binary):
            bad = np.unique(host_labels[not_binary])
            raise ValueError(LABELS_NOT_BINARY.format(values=bad[:5].tolist()))
        weight = None
        if sample_weight is not None:
            weight = check_sample_weight("sample_weight", sample_weight)
        if num_groups is None:
            num_groups = int(check_ids("groups", groups, what="group ids").max()) + 1
        num_groups = check_positive_int("num_groups", num_groups)
        g = check_ids("groups", groups, num_groups, what="group ids")
        ctx = context_of(scores, labels, groups, default=mx.cpu())
        # The host arrays were checked; GroupStats bins the probabilities.
        stats = GroupStats(num_groups, num_bins=self.grid_size, ctx=ctx,
                           from_logits=self.from_logits)
        stats.update(mx.nd.array(host_labels, ctx=ctx), mx.nd.array(host_scores, ctx=ctx),
                     mx.nd.array(g, ctx=ctx),
                     sample_weight=None if weight is None else mx.nd.array(weight, ctx=ctx))
        return self._fit_stats(stats)

    def fit_stats(self, group_stats: GroupStats) -> "ThresholdOptimizer":
        """Fit the thresholds straight from a GroupStats' score histograms.

        Parameters
        ----------
        group_stats : GroupStats
            Built as ``GroupStats(num_groups, num_bins=B, from_logits=...)`` and updated over
            a validation epoch; its ``hist`` (G, 2, B) is the only thing read. The thresholds
            are the bin edges ``k / B`` of these statistics (``B`` need not equal
            ``grid_size``). Its ``from_logits`` must be this optimizer's, so that
            :meth:`predict` reads scores as the histograms did.

        Returns
        -------
        self
        """
        if not isinstance(group_stats, GroupStats):
            raise TypeError(f"fit_stats expects a GroupStats, got {type(group_stats).__name__}")
        if group_stats.num_bins == 0:
            raise ValueError(NO_HISTOGRAM)
        if bool(group_stats.from_logits) != self.from_logits:
            raise ValueError(STATS_FROM_LOGITS.format(theirs=bool(group_stats.from_logits),
                                                      mine=self.from_logits))
        if group_stats.bin_scale != "probability":  # the thresholds below are edges k / B
            raise ValueError("fit_stats needs GroupStats(bin_scale='probability') histograms, "
                             f"got bin_scale={group_stats.bin_scale!r}")
        return self._fit_stats(group_stats)

    def _fit_stats(self, group_stats: GroupStats) -> "ThresholdOptimizer":
        """The search from the histograms of ``group_stats`` (checked by the caller)."""
        if group_stats.hist is None:
            raise ValueError("the GroupStats has no data yet; update it before fit_stats")
        hist = group_stats.hist.asnumpy().astype(np.float64)
        self._fit_hist(hist)
        self.group_names_ = list(group_stats.group_names)
        self.context_ = group_stats.ctx  # where to_block() puts the block by default
        return self

    def _check_hist(self, pos: np.ndarray, neg: np.ndarray) -> None:
        for g in range(len(pos)):
            if pos[g] + neg[g] <= 0:
                raise ValueError(EMPTY_GROUP.format(group=g))
            for rate in CONSTRAINTS[self.constraint]:  # a rate over one label needs its rows
                label = RATE_LABELS[rate]
                if label is not None and (pos[g] if label else neg[g]) <= 0:
                    raise ValueError(DEGENERATE_GROUP.format(
                        group=g, what="positive" if label else "negative",
                        constraint=self.constraint, rate=rate))
        if self.objective == "balanced_accuracy" and min(pos.sum(), neg.sum()) <= 0:
            raise ValueError(DEGENERATE_LABELS.format(label=int(pos.sum() > 0)))

    def _fit_hist(self, hist: np.ndarray) -> None:
        G, _, B = hist.shape
        neg, pos = hist[:, 0].sum(1), hist[:, 1].sum(1)  # (G,)
        self._check_hist(pos, neg)
        # tp[g, k], fp[g, k]: positives and negatives with bin >= k, for k = 0..B.
        zero = np.zeros((G, 1))
        tp = np.concatenate([np.cumsum(hist[:, 1, ::-1], axis=1)[:, ::-1], zero], axis=1)
        fp = np.concatenate([np.cumsum(hist[:, 0, ::-1], axis=1)[:, ::-1], zero], axis=1)
        n = pos.sum() + neg.sum()
        # The objective is const + sum over groups of alpha * TP_g - beta * FP_g.
        if self.objective == "accuracy":
            alpha, beta, const = 1.0 / n, 1.0 / n, neg.sum() / n
        else:
            alpha, beta, const = 0.5 / pos.sum(), 0.5 / neg.sum(), 0.5
        rate = confusion_rates(_binary_counts(tp, fp, pos[:, None], neg[:, None]))  # (G, B+1)
        constrained = CONSTRAINTS[self.constraint]
        if len(constrained) == 2:  # TPR and FPR: one common ROC point (or band)
            args = (rate["false_positive_rate"], rate["true_positive_rate"], pos, neg,
                    alpha, beta)
            rules = (solve_equalized_odds(*args, self.grid_size) if self.tolerance == 0
                     else solve_equalized_odds_tol(*args, self.tolerance))
        else:
            rules = solve_simple(rate[constrained[0]], alpha * tp - beta * fp, self.tolerance,
                                 self.grid_size)
        self._set_rules(np.array([[r[0], r[1]] for r in rules], dtype=np.float64) / B,
                        np.array([r[2] for r in rules], dtype=np.float64), B)
        tp_e, fp_e, pos_e, neg_e = rule_rates(hist, np.round(self.thresholds_ * B),
                                               self.positive_probs_)
        fitted = confusion_rates(_binary_counts(tp_e, fp_e, pos_e, neg_e)[None])  # (1, G)
        self.rates_ = {name: fitted[name][0] for name in _FITTED_RATES}
        self.objective_value_ = float(const + alpha * tp_e.sum() - beta * fp_e.sum())
        self.constraint_gap_ = float(max(group_gap(self.rates_[r]) for r in constrained))

    def _set_rules(self, thresholds: np.ndarray, probs: np.ndarray, num_bins: int) -> None:
        thr = np.asarray(thresholds, dtype=np.float64).reshape(-1, 2).copy()
        probs = np.clip(np.asarray(probs, dtype=np.float64).reshape(-1, 3), 0, 1)
        # Canonical form: a middle step equal to an outer one is no step (one threshold).
        same_hi = np.abs(probs[:, 1] - probs[:, 2]) <= _EPS
        same_lo = ~same_hi & (np.abs(probs[:, 1] - probs[:, 0]) <= _EPS)
        thr[same_hi, 1] = thr[same_hi, 0]
        thr[same_lo, 0] = thr[same_lo, 1]
        probs[same_lo, 1] = probs[same_lo, 2]
        self.thresholds_, self.positive_probs_ = thr, probs
        self.num_groups_ = self.thresholds_.shape[0]
        self.num_bins_ = int(num_bins)
        self.group_names_ = [str(g) for g in range(self.num_groups_)]

    # --------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise ValueError(NOT_FITTED)

    def _probability(self, scores: Any, groups: Any):
        """Positive probability as an NDArray on the scores' context (host data: CPU), after
        the checks of :meth:`fit` (one host synchronisation)."""
        self._check_fitted()
        check_same_length(scores=scores, groups=groups)
        _check_binary_shape(scores)
        check_scores("scores", scores, self.from_logits, warn_stacklevel=4)
        g = check_numeric("groups", groups)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(g) | (g < 0) | (g >= self.num_groups_) | (np.mod(g, 1) != 0)
        if np.any(bad):
            raise ValueError(UNSEEN_GROUP.format(ids=np.unique(g[bad])[:5].tolist(),
                                                 num_groups=self.num_groups_))
        ctx = context_of(scores, groups, default=mx.cpu())
        s = as_ndarray(scores, ctx=ctx, dtype="float32").reshape((-1,))
        if self.from_logits:
            s = mx.nd.sigmoid(s)
        return step_probability(
            mx.nd, s, as_ndarray(g, ctx=ctx, dtype="float32"),
            mx.nd.array(self.thresholds_, ctx=ctx), mx.nd.array(self.positive_probs_, ctx=ctx),
            num_groups=self.num_groups_, num_bins=self.num_bins_)

    def positive_probability(self, scores: Any, groups: Any):
        """Probability of a positive decision for each row.

        Parameters
        ----------
        scores : array, shape (N,)
            Logits (probabilities in [0, 1] with ``from_logits=False``), finite.
        groups : array, shape (N,)
            Group ids seen at fit time.

        Returns
        -------
        array, shape (N,), float32
            NumPy for NumPy input, an NDArray on the scores' context for NDArray input.
        """
        q = self._probability(scores, groups)
        return q if is_ndarray(scores) else q.asnumpy()

    def predict(self, scores: Any, groups: Any,
                *,
                random_state: Union[None, int, np.random.RandomState] = None):
        """Randomised decisions: positive where a uniform draw is below the positive probability.

        Parameters
        ----------
        scores : array, shape (N,)
        groups : array, shape (N,)
        random_state : int or RandomState, optional
            Seed of the uniform draws (made on the host, so NumPy and NDArray inputs give the
            same decisions); defaults to the constructor's ``random_state``.

        Returns
        -------
        array, shape (N,)
            0/1 decisions: int64 NumPy for NumPy input, float32 NDArray on the scores' context
            for NDArray input.
        """
        q = self._probability(scores, groups)
        rs = self.random_state if random_state is None else _check_random_state(random_state)
        rs = rs if isinstance(rs, np.random.RandomState) else np.random.RandomState(rs)
        u = mx.nd.array(rs.random_sample(q.shape[0]), ctx=q.context, dtype="float32")
        decided = u < q
        return decided if is_ndarray(scores) else decided.asnumpy().astype(np.int64)

    # ---------------------------------------------------------------- export
    def to_block(self, *, mode: Literal["random", "deterministic", "probability"] = "random",
                 ctx: Optional[mx.Context] = None, prefix: Optional[str] = None
                 ) -> GroupThreshold:
        """A :class:`GroupThreshold` block holding the fitted rule, initialised on ``ctx``
        (default: the context of the data it was fitted on, else the current context), for
        the same kind of scores (``from_logits``)."""
        self._check_fitted()
        block = GroupThreshold(self.num_groups_, num_bins=self.num_bins_, mode=mode,
                               prefix=prefix, from_logits=self.from_logits)
        block.initialize(ctx=ctx or getattr(self, "context_", None) or mx.current_context())
        block.set_rule(self.thresholds_, self.positive_probs_)
        return block

    def to_json(self) -> str:
        """The fitted rule as a JSON document (read back with :meth:`from_json`)."""
        self._check_fitted()
        doc = {
            "format": _FORMAT,
            "constraint": self.constraint,
            "objective": self.objective,
            "tolerance": self.tolerance,
            "grid_size": self.grid_size,
            "from_logits": self.from_logits,
            "num_groups": self.num_groups_,
            "num_bins": self.num_bins_,
            "group_names": self.group_names_,
            "thresholds": self.thresholds_.tolist(),
            "positive_probs": self.positive_probs_.tolist(),
        }
        for name in ("objective_value_", "constraint_gap_"):
            if hasattr(self, name):
                doc[name.rstrip("_")] = getattr(self, name)
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "ThresholdOptimizer":
        """A fitted ThresholdOptimizer from :meth:`to_json`'s output (no fitting data needed).

        Documents written before the canonical names (with fairlearn's
        ``"true_positive_rate_parity"`` or ``"false_positive_rate_parity"``) load too; the
        loaded ``constraint`` is the canonical name. Documents without ``from_logits`` were
        written when the optimizer took probabilities only: they load with
        ``from_logits=False``. A missing key or malformed rule raises ``ValueError`` naming it.
        """
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, TypeError) as err:
            raise ValueError(BAD_FORMAT.format(why=err)) from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(BAD_FORMAT.format(why=f"expected format {_FORMAT!r}"))
        missing = [k for k in JSON_KEYS if k not in doc]
        if missing:
            raise ValueError(BAD_FORMAT.format(why=f"missing key(s) {missing}"))
        opt = cls(constraint=doc["constraint"], objective=doc["objective"],
                  tolerance=doc["tolerance"], grid_size=doc["grid_size"],
                  from_logits=doc.get("from_logits", False))
        try:
            thresholds = np.array(doc["thresholds"], dtype=np.float64).reshape(-1, 2)
            probs = np.array(doc["positive_probs"], dtype=np.float64).reshape(-1, 3)
        except (TypeError, ValueError) as err:
            raise ValueError(BAD_FORMAT.format(why=f"thresholds/positive_probs: {err}")) from None
        if (thresholds.shape[0] != probs.shape[0] or not np.all(np.isfinite(thresholds))
                or not np.all((probs >= 0) & (probs <= 1))):
            raise ValueError(BAD_FORMAT.format(
                why="thresholds must be finite (G, 2) and positive_probs in [0, 1] (G, 3)"))
        opt._set_rules(thresholds, probs, check_positive_int("num_bins", doc["num_bins"]))
        if len(doc["group_names"]) != opt.num_groups_:
            raise ValueError(BAD_FORMAT.format(why="group_names do not match the thresholds"))
        opt.group_names_ = list(doc["group_names"])
        for name in ("objective_value", "constraint_gap"):
            if name in doc:
                setattr(opt, name + "_", doc[name])
        return opt
