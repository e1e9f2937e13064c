"""Benchmark of ``mxfair.postprocessing.ThresholdOptimizer`` against fairlearn 0.9.0.

1. Quality on Adult (sensitive attribute: sex), full size: one fixed scorer (a scikit-learn
   LogisticRegression fitted on the train split) scores the validation and test splits; both
   optimizers are fitted on the validation scores (fairlearn with ``prefit=True,
   predict_method="predict_proba"``, objective accuracy) and evaluated on the test split with
   their *expected* decisions (the positive probabilities, so no draw noise enters): accuracy and
   the constraint's between-groups gap. Goal: mxfair's accuracy no more than 0.3 points below
   fairlearn's and its gap no more than 0.01 above.
2. Speed of ``fit`` at 10^4, 10^5 and 10^6 rows (synthetic scores, two groups) for every
   constraint, in the same process: fairlearn (given the precomputed scores through a trivial
   prefit estimator, so only its search is timed), mxfair's ``fit`` on NumPy scores (histograms
   built with GroupStats, then the search) and ``fit_stats`` alone (the search from a GroupStats
   a validation loop already holds). Medians of repeated runs. Goal: ``fit`` at least 50x faster
   than fairlearn at 10^5 and 10^6 rows.

Usage::

    python bench/bench_thresholds.py            # writes bench/results/thresholds.md
    python bench/bench_thresholds.py --sizes 10000 100000 --constraints demographic_parity
"""
import argparse
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List

import mxnet as mx
import numpy as np

from mxfair import CONSTRAINTS
from mxfair._constraints import FAIRLEARN_THRESHOLD_NAMES
from mxfair.datasets import load_adult
from mxfair.metrics import GroupStats
from mxfair.postprocessing import ThresholdOptimizer

RESULTS = Path(__file__).resolve().parent / "results" / "thresholds.md"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    p.add_argument("--constraints", nargs="+", default=list(CONSTRAINTS))
    p.add_argument("--reps", type=int, default=5, help="timed runs of mxfair per cell")
    p.add_argument("--fairlearn-budget", type=float, default=30.0,
                   help="stop repeating fairlearn once a cell has used this many seconds")
    p.add_argument("--out", default=str(RESULTS))
    return p.parse_args(argv)


class _FixedScores:
    """A prefit "estimator" whose predict_proba returns column 0 of X as the score."""

    fitted_ = True  # passes sklearn's check_is_fitted

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        s = np.asarray(X)[:, 0]
        return np.column_stack([1 - s, s])


def _fairlearn(constraint: str, estimator):
    from fairlearn.postprocessing import ThresholdOptimizer as FairlearnTO

    return FairlearnTO(estimator=estimator, constraints=FAIRLEARN_THRESHOLD_NAMES[constraint],
                       objective="accuracy_score", prefit=True, predict_method="predict_proba")


def _figures(q: np.ndarray, y: np.ndarray, g: np.ndarray, constraint: str):
    """Expected accuracy and between-groups gap of the constraint's rate(s)."""
    acc = float(np.mean(np.where(y == 1, q, 1 - q)))
    groups = np.unique(g)
    rate = {"selection_rate": [q[g == k].mean() for k in groups],
            "true_positive_rate": [q[(g == k) & (y == 1)].mean() for k in groups],
            "false_positive_rate": [q[(g == k) & (y == 0)].mean() for k in groups]}
    return acc, float(max(np.ptp(rate[name]) for name in CONSTRAINTS[constraint]))


def quality_on_adult(constraints: List[str]) -> List[str]:
    from sklearn.linear_model import LogisticRegression

    data = load_adult(sensitive="sex", seed=0)
    scorer = LogisticRegression(max_iter=1000).fit(data.train.X, data.train.y)
    val_s = scorer.predict_proba(data.val.X)[:, 1]
    test_s = scorer.predict_proba(data.test.X)[:, 1]
    y, g = data.test.y, data.test.groups
    base_acc = float(np.mean((test_s >= 0.5) == y))
    lines = [
        f"Adult (sex): LogisticRegression scores; both optimizers fitted on the validation "
        f"split (n={len(data.val.y)}), evaluated on the test split (n={len(y)}) with expected "
        f"decisions. Unconstrained 0.5 threshold: test accuracy {base_acc:.4f}.",
        "",
        "| constraint | fairlearn acc | mxfair acc | acc diff (points) | fairlearn gap "
        "| mxfair gap | gap diff | fairlearn fit s | mxfair fit ms | within goal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for constraint in constraints:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fl = _fairlearn(constraint, scorer)
            t0 = time.perf_counter()
            fl.fit(data.val.X, data.val.y, sensitive_features=data.val.groups)
            t_fl = time.perf_counter() - t0
            q_fl = fl._pmf_predict(data.test.X, sensitive_features=g)[:, 1]
        t0 = time.perf_counter()
        ours = ThresholdOptimizer(constraint=constraint, from_logits=False).fit(val_s, data.val.y,
                                                                     data.val.groups)
        t_mx = time.perf_counter() - t0
        acc_fl, gap_fl = _figures(q_fl, y, g, constraint)
        acc_mx, gap_mx = _figures(ours.positive_probability(test_s, g), y, g, constraint)
        ok = acc_mx >= acc_fl - 0.003 and gap_mx <= gap_fl + 0.01
        lines.append(
            f"| {constraint} | {acc_fl:.4f} | {acc_mx:.4f} | {100 * (acc_mx - acc_fl):+.2f} "
            f"| {gap_fl:.4f} | {gap_mx:.4f} | {gap_mx - gap_fl:+.4f} | {t_fl:.2f} "
            f"| {1000 * t_mx:.1f} | {'yes' if ok else 'NO'} |")
        print(lines[-1], flush=True)
    return lines


def _synthetic(n: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    groups = rng.randint(0, 2, n)
    labels = (rng.rand(n) < 0.25 + 0.3 * groups).astype(np.int64)
    logit = 2.0 * (labels - 0.5) + 0.5 * groups + rng.randn(n)
    return (1 / (1 + np.exp(-logit))).astype(np.float32), labels, groups


def _fit_fairlearn(constraint, X, labels, groups):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fairlearn(constraint, _FixedScores()).fit(X, labels, sensitive_features=groups)


def _fit_mxfair(constraint, scores, labels, groups):
    return ThresholdOptimizer(constraint=constraint, from_logits=False).fit(scores, labels, groups)


def _median_time(fn: Callable[[], object], reps: int, budget: float = np.inf) -> float:
    times = []
    while len(times) < reps and sum(times) < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), len(times)


def speed(sizes: List[int], constraints: List[str], reps: int, budget: float) -> List[str]:
    lines = [
        "`fit` time, synthetic scores, two groups, grid_size=1000 (median of repeated runs; "
        "fairlearn repeated up to its time budget). mxfair `fit` includes the input checks and "
        "the GroupStats histograms; `fit_stats` is the search alone.",
        "",
        "| rows | constraint | fairlearn fit s (runs) | mxfair fit ms | speed-up | "
        "mxfair fit_stats ms |",
        "|---|---|---|---|---|---|",
    ]
    speedups: Dict[int, List[float]] = {}
    for n in sizes:
        scores, labels, groups = _synthetic(n)
        X = scores.reshape(-1, 1)
        stats = GroupStats(2, num_bins=1000, ctx=mx.cpu(), from_logits=False)
        stats.update(labels, scores, groups)
        for constraint in constraints:
            run_fl = partial(_fit_fairlearn, constraint, X, labels, groups)
            run_mx = partial(_fit_mxfair, constraint, scores, labels, groups)
            run_stats = partial(ThresholdOptimizer(constraint=constraint,
                                                   from_logits=False).fit_stats,
                                stats)
            run_mx()  # warm-up (first MXNet calls)
            t_fl, n_fl = _median_time(run_fl, reps, budget)
            t_mx, _ = _median_time(run_mx, reps)
            t_st, _ = _median_time(run_stats, reps)
            speedups.setdefault(n, []).append(t_fl / t_mx)
            lines.append(f"| {n:,} | {constraint} | {t_fl:.3f} ({n_fl}) | {1000 * t_mx:.1f} "
                         f"| {t_fl / t_mx:.0f}x | {1000 * t_st:.1f} |")
            print(lines[-1], flush=True)
    lines.append("")
    lines.append("Smallest speed-up per size: " + ", ".join(
        f"{n:,} rows {min(v):.0f}x" for n, v in speedups.items()) + " (goal: >= 50x at "
        "10^5 and 10^6 rows).")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    mx.random.seed(0)
    np.random.seed(0)
    lines = ["### Post-hoc thresholds: mxfair vs fairlearn 0.9.0", ""]
    lines += quality_on_adult(args.constraints)
    lines += [""]
    lines += speed(args.sizes, args.constraints, args.reps, args.fairlearn_budget)
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
