"""Benchmark of the streaming group statistics: mxfair ``GroupStats`` against fairlearn's
``MetricFrame`` and a plain NumPy ``bincount`` reference, in one run.

All three compute the same thing from labels, scores and group ids: the per-group confusion
counts at threshold 0.5 and from them selection rate, TPR, FPR and accuracy by group.

- mxfair: the data are NDArrays already on the device (CPU here; float32 labels, scores and group
  ids, as a Gluon loader gives them), streamed through ``GroupStats.update`` in batches of
  65,536 rows (slices, no copies), then ``report()`` (one synchronisation, the rates).
- NumPy: ``np.bincount`` of the cell id ``(group * 2 + label) * 2 + (score >= 0.5)`` on int64
  host arrays, then the rates; one pass, no batching.
- fairlearn 0.9.0: ``MetricFrame`` with ``selection_rate``, ``true_positive_rate``,
  ``false_positive_rate`` and ``accuracy_score`` on the thresholded predictions; only up to 10^6
  rows (about 10 s there), 10^7 is skipped.

Timing: one warm-up run, then the best of k runs (k = 5, 3 at 10^7; 1 for fairlearn at 10^6),
``mx.nd.waitall()`` inside the timed region. The mxfair counts are checked equal to NumPy's.
Also the cost of one ``update`` of a 1,024-row batch (median of 200, after warm-up).

Usage::

    python bench/bench_metrics.py            # writes bench/results/metrics.md
    python bench/bench_metrics.py --quick    # 10^5 and 10^6 only, no fairlearn at 10^6
"""
import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List

import mxnet as mx
import numpy as np

from mxfair.metrics import GroupStats

RESULTS = Path(__file__).resolve().parent / "results" / "metrics.md"
BATCH = 65_536


def best_of(fn: Callable[[], object], k: int) -> float:
    """Best wall time in ms of ``k`` runs after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(k):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def make_data(n: int, G: int, seed: int = 0) -> Dict[str, np.ndarray]:
    rs = np.random.RandomState(seed)
    g = rs.randint(0, G, n)
    y = (rs.rand(n) < 0.3 + 0.4 * g / max(G - 1, 1)).astype(np.int64)
    score = np.clip(0.35 * y + 0.65 * rs.rand(n), 0, 1).astype(np.float32)
    return {"y": y, "g": g, "score": score}


def mxfair_run(labels, scores, groups, G: int, batch: int):
    stats = GroupStats(G, ctx=scores.context, from_logits=False)  # probabilities
    n = scores.shape[0]
    for i in range(0, n, batch):
        j = min(i + batch, n)
        stats.update(labels[i:j], scores[i:j], groups[i:j])
    rep = stats.report()  # synchronises: the rates on the host
    return rep.counts, rep


def numpy_run(y, score, g, G: int):
    cell = (g * 2 + y) * 2 + (score >= 0.5)
    counts = np.bincount(cell, minlength=4 * G).reshape(G, 2, 2).astype(np.float64)
    tn, fp, fn, tp = counts[:, 0, 0], counts[:, 0, 1], counts[:, 1, 0], counts[:, 1, 1]
    n = counts.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = {"selection_rate": (tp + fp) / n, "tpr": tp / (tp + fn),
                 "fpr": fp / (fp + tn), "accuracy": (tp + tn) / n}
    return counts, rates


def fairlearn_run(y, score, g):
    import fairlearn.metrics as flm
    from sklearn.metrics import accuracy_score

    metrics = {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
               "fpr": flm.false_positive_rate, "accuracy": accuracy_score}
    yhat = (score >= 0.5).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas deprecations inside fairlearn
        return flm.MetricFrame(metrics=metrics, y_true=y, y_pred=yhat,
                               sensitive_features=g).by_group


def update_cost(G: int, rows: int = 1024, reps: int = 200) -> float:
    """Median ms of one update (enqueue + compute, synchronised) of a ``rows``-row batch."""
    d = make_data(rows, G, seed=1)
    ctx = mx.cpu()
    y = mx.nd.array(d["y"], ctx=ctx)
    s = mx.nd.array(d["score"], ctx=ctx)
    g = mx.nd.array(d["g"], ctx=ctx)
    stats = GroupStats(G, ctx=ctx, from_logits=False)  # probabilities
    for _ in range(20):
        stats.update(y, s, g)
    mx.nd.waitall()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        stats.update(y, s, g)
        stats.counts.wait_to_read()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def run_config(n: int, G: int, batch: int, fairlearn_max: int) -> str:
    """Time the three implementations on one data set; a markdown table row."""
    d = make_data(n, G)
    ctx = mx.cpu()
    labels = mx.nd.array(d["y"], ctx=ctx, dtype="float32")
    scores = mx.nd.array(d["score"], ctx=ctx, dtype="float32")
    groups = mx.nd.array(d["g"], ctx=ctx, dtype="float32")
    mx.nd.waitall()
    k = 3 if n >= 10 ** 7 else 5
    ours, _ = mxfair_run(labels, scores, groups, G, batch)
    ref, _ = numpy_run(d["y"], d["score"], d["g"], G)
    if not np.array_equal(ours, ref):
        raise AssertionError(f"mxfair and NumPy counts differ at n={n}, G={G}")
    t_mx = best_of(lambda: mxfair_run(labels, scores, groups, G, batch), k)
    t_np = best_of(lambda: numpy_run(d["y"], d["score"], d["g"], G), k)
    if n <= fairlearn_max:
        t_fl = best_of(lambda: fairlearn_run(d["y"], d["score"], d["g"]),
                       1 if n >= 10 ** 6 else 3)
        fl_cell, fl_ratio = f"{t_fl:,.0f}", f"{t_fl / t_mx:,.0f}x"
    else:
        fl_cell, fl_ratio = "skipped", "–"
    return (f"| {n:.0e} | {G} | {t_mx:,.1f} | {t_np:,.1f} | {t_mx / t_np:.2f} | "
            f"{fl_cell} | {fl_ratio} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--batch", type=int, default=BATCH)
    args = p.parse_args(argv)
    sizes = [10 ** 5, 10 ** 6] if args.quick else [10 ** 5, 10 ** 6, 10 ** 7]
    fairlearn_max = 10 ** 5 if args.quick else 10 ** 6
    rows: List[str] = []
    for n in sizes:
        for G in (2, 16):
            rows.append(run_config(n, G, args.batch, fairlearn_max))
            print(rows[-1], flush=True)
    cost = {G: update_cost(G) for G in (2, 16)}
    header = (
        f"Counts and rates (selection rate, TPR, FPR, accuracy by group) of N rows, G groups; "
        f"best of k wall times in ms after a warm-up, in one run on {platform.machine()} "
        f"({os.cpu_count()} cores), MXNet {mx.__version__} CPU, NumPy {np.__version__}. "
        f"mxfair: float32 NDArrays on the device, `GroupStats.update` per "
        f"{args.batch:,}-row batch, then `report()`; NumPy: one `bincount` on int64 host arrays; "
        f"fairlearn 0.9.0 `MetricFrame` (not run at 10^7: ~10 s already at 10^6). "
        f"mxfair's counts are checked equal to NumPy's. Load average at the end of the run: "
        f"{os.getloadavg()[0]:.1f} (the machine is shared; ratios are noisy).\n\n"
        "| rows | groups | mxfair (ms) | NumPy bincount (ms) | mxfair / NumPy | "
        "fairlearn (ms) | fairlearn / mxfair |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
    )
    footer = (
        f"\nOne `update` of a 1,024-row batch (synchronised, median of 200): "
        f"{cost[2]:.3f} ms with 2 groups, {cost[16]:.3f} ms with 16 groups.\n"
    )
    table = header + "\n".join(rows) + "\n" + footer
    print(footer)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
