"""Benchmark of the streaming group statistics, before and after the exactness and validation
work, against fairlearn's ``MetricFrame`` and a plain NumPy ``bincount`` reference, in one run.

All compute the same thing from labels, scores and group ids: the per-group confusion counts at
threshold 0.5 and from them selection rate, TPR, FPR and accuracy by group.

- mxfair after: ``GroupStats`` as it is now (every row validated on the device: label, group id,
  score, probability range and weight, counted by reason; cell ids exact at every size). The data
  are NDArrays already on the device (CPU here; float32 labels, scores and group ids, as a Gluon
  loader gives them), streamed through ``update`` in batches of 65,536 rows (slices, no copies),
  then ``report()`` (one synchronisation, the rates). Probabilities: ``from_logits=False``.
- mxfair before: the update of ``GroupStats`` at commit 43d5ab5 (float32 cell ids, labels and
  groups clipped into padding slots, no other validation), copied below as ``BeforeStats`` so
  that both run in the same process, on the same data, interleaved.
- NumPy: ``np.bincount`` of the cell id ``(group * 2 + label) * 2 + (score >= 0.5)`` on int64
  host arrays, then the rates; one pass, no batching.
- fairlearn 0.9.0: ``MetricFrame`` with ``selection_rate``, ``true_positive_rate``,
  ``false_positive_rate`` and ``accuracy_score`` on the thresholded predictions; only up to 10^6
  rows (about 10 s there), 10^7 is skipped.

Timing: one warm-up run, then the best of k runs (k = 5, 3 at 10^7; 1 for fairlearn at 10^6),
``mx.nd.waitall()`` inside the timed region. Before and after are timed alternately, run by run.
The counts of both are checked equal to NumPy's. Also: the options settings (weights, bins,
bootstrap, exact AUC) before and after; small batches streamed; exactness in two id spaces past
2**24 cells (the cases of issue 17); the cost of the cell-id options; one ``update`` of a
1,024-row batch.

Usage::

    python bench/bench_metrics.py            # writes bench/results/metrics.md and
                                             # bench/results/metrics_exactness.md
    python bench/bench_metrics.py --quick    # 10^5 and 10^6 only, no fairlearn at 10^6
"""
import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional

import mxnet as mx
import numpy as np

from mxfair.metrics import GroupStats

RESULTS = Path(__file__).resolve().parent / "results" / "metrics.md"
EXACTNESS = RESULTS.with_name("metrics_exactness.md")  # not spliced into docs/benchmarks.md
BATCH = 65_536


# ------------------------------------------------------------------ the code before (43d5ab5)
def _before_scatter_add(index, size: int, weight, offset: int = 0):
    if weight is None:
        counts, _ = mx.nd.histogram(index, bins=size, range=(-offset, size - offset))
        return counts.astype("float64")
    if offset:
        index = index + offset
    return mx.nd._internal._backward_gather_nd(
        weight.astype("float64"), index.reshape((1, -1)), shape=(size,))


class BeforeStats:
    """``GroupStats.update`` at commit 43d5ab5, binary probabilities only: float32 cell ids,
    label and group axes padded by one slot on each side (ids clipped into them)."""

    def __init__(self, num_groups: int, num_bins: int = 0, bootstrap: int = 0,
                 seed: Optional[int] = None, ctx=None):
        G2, B, R = num_groups + 2, num_bins, bootstrap
        self.G, self.B, self.R = num_groups, B, R
        self.rng = np.random.RandomState(seed)
        zeros = lambda *shape: mx.nd.zeros(shape, ctx=ctx, dtype="float64")  # noqa: E731
        self.raw = {"counts": zeros(4, G2, 2)}
        if B:
            self.raw["hist"], self.raw["score_sums"] = zeros(4, G2, B), zeros(4, G2, B)
        if R:
            self.raw["boot_counts"] = zeros(R, 4, G2, 2)
            if B:
                self.raw["boot_hist"] = zeros(R, 4, G2, B)
                self.raw["boot_score_sums"] = zeros(R, 4, G2, B)
        self.ctx = ctx

    def update(self, labels, score, groups, weight=None):
        G, B, raw, G2 = self.G, self.B, self.raw, self.G + 2
        n = score.shape[0]
        labels = labels.reshape((-1,)).astype("float32", copy=False)
        groups = groups.reshape((-1,)).astype("float32", copy=False)
        if weight is not None:
            weight = weight.reshape((-1,)).astype("float64")
        score = score.astype("float32", copy=False)
        decided = score >= 0.5
        labels, groups = mx.nd.clip(labels, -1, 2), mx.nd.clip(groups, -1, G)
        cell = mx.nd.add_n(labels * (G2 * 2), groups * 2, decided)
        offset = G2 * 2 + 2
        raw["counts"] += _before_scatter_add(cell, raw["counts"].size, weight, offset).reshape(
            raw["counts"].shape)
        hist_cell = None
        if B:
            bins = mx.nd.clip(mx.nd.floor(score * B), 0, B - 1)
            hist_cell = mx.nd.add_n(labels * (G2 * B), groups * B, bins)
            hist_offset = G2 * B + B
            size, shape = raw["hist"].size, raw["hist"].shape
            raw["hist"] += _before_scatter_add(hist_cell, size, weight, hist_offset).reshape(shape)
            score_w = score.astype("float64")
            if weight is not None:
                score_w = score_w * weight
            raw["score_sums"] += _before_scatter_add(hist_cell, size, score_w,
                                                     hist_offset).reshape(shape)
            hist_cell = hist_cell + hist_offset
        if self.R:
            self._bootstrap(cell + offset, weight, n, hist_cell, score)

    def _bootstrap(self, cell, weight, n, hist_cell, score):
        R, raw, ctx = self.R, self.raw, self.ctx
        w = mx.nd.array(self.rng.poisson(1.0, size=(R, n)), ctx=ctx, dtype="float64")
        if weight is not None:
            w = mx.nd.broadcast_mul(w, weight.reshape((1, -1)))
        offsets = mx.nd.arange(R, ctx=ctx, dtype="float32").reshape((R, 1))
        size = raw["boot_counts"][0].size
        index = mx.nd.broadcast_add(offsets * size, cell.reshape((1, -1))).reshape((-1,))
        raw["boot_counts"] += _before_scatter_add(index, R * size, w.reshape((-1,))).reshape(
            raw["boot_counts"].shape)
        if hist_cell is not None:
            size, shape = raw["boot_hist"][0].size, raw["boot_hist"].shape
            index = mx.nd.broadcast_add(offsets * size, hist_cell.reshape((1, -1))).reshape((-1,))
            raw["boot_hist"] += _before_scatter_add(index, R * size, w.reshape((-1,))).reshape(
                shape)
            score_w = mx.nd.broadcast_mul(w, score.astype("float64").reshape((1, -1)))
            raw["boot_score_sums"] += _before_scatter_add(
                index, R * size, score_w.reshape((-1,))).reshape(shape)

    def counts(self) -> np.ndarray:
        """(G, 2, 2) counts on the host."""
        inner = self.raw["counts"].asnumpy()[1:3, 1:self.G + 1]  # (2, G, 2)
        return inner.transpose(1, 0, 2)

    def hist(self) -> np.ndarray:
        return self.raw["hist"].asnumpy()[1:3, 1:self.G + 1].transpose(1, 0, 2)

    def boot_hist(self) -> np.ndarray:
        return self.raw["boot_hist"].asnumpy()[:, 1:3, 1:self.G + 1].transpose(0, 2, 1, 3)


# ------------------------------------------------------------------------------- helpers
def best_of(fn: Callable[[], object], k: int) -> float:
    """Best wall time in ms of ``k`` runs after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(k):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def best_of_pair(fa: Callable[[], object], fb: Callable[[], object], k: int):
    """Best wall times in ms of two functions, run alternately (the same machine state)."""
    fa(), fb()
    ta = tb = float("inf")
    for _ in range(k):
        start = time.perf_counter()
        fa()
        ta = min(ta, time.perf_counter() - start)
        start = time.perf_counter()
        fb()
        tb = min(tb, time.perf_counter() - start)
    return ta * 1e3, tb * 1e3


def make_data(n: int, G: int, seed: int = 0) -> Dict[str, np.ndarray]:
    rs = np.random.RandomState(seed)
    g = rs.randint(0, G, n)
    y = (rs.rand(n) < 0.3 + 0.4 * g / max(G - 1, 1)).astype(np.int64)
    score = np.clip(0.35 * y + 0.65 * rs.rand(n), 0, 1).astype(np.float32)
    return {"y": y, "g": g, "score": score, "w": rs.gamma(2.0, 0.5, n)}


def on_device(d: Dict[str, np.ndarray], ctx) -> Dict[str, mx.nd.NDArray]:
    out = {k: mx.nd.array(d[k], ctx=ctx, dtype="float32") for k in ("y", "g", "score")}
    out["w"] = mx.nd.array(d["w"], ctx=ctx, dtype="float64")
    mx.nd.waitall()
    return out


def stream(stats, nd, batch: int, weighted: bool = False):
    n = nd["score"].shape[0]
    for i in range(0, n, batch):
        j = min(i + batch, n)
        stats.update(nd["y"][i:j], nd["score"][i:j], nd["g"][i:j],
                     nd["w"][i:j] if weighted else None)


def after_run(nd, G: int, batch: int, weighted: bool = False, **settings):
    stats = GroupStats(G, ctx=nd["score"].context, from_logits=False, **settings)
    stream(stats, nd, batch, weighted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = stats.report()  # synchronises: the rates on the host
    return rep.counts, rep


def before_run(nd, G: int, batch: int, weighted: bool = False, **settings):
    stats = BeforeStats(G, ctx=nd["score"].context, **settings)
    stream(stats, nd, batch, weighted)
    return stats.counts(), stats


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


# ------------------------------------------------------------------------------- tables
def run_config(n: int, G: int, batch: int, fairlearn_max: int) -> str:
    """Time the implementations on one data set; a markdown table row."""
    d = make_data(n, G)
    nd = on_device(d, mx.cpu())
    k = 3 if n >= 10 ** 7 else 5
    ref, _ = numpy_run(d["y"], d["score"], d["g"], G)
    for name, fn in (("after", after_run), ("before", before_run)):
        if not np.array_equal(fn(nd, G, batch)[0], ref):
            raise AssertionError(f"mxfair {name} and NumPy counts differ at n={n}, G={G}")
    t_before, t_after = best_of_pair(lambda: before_run(nd, G, batch),
                                     lambda: after_run(nd, G, batch), k)
    t_np = best_of(lambda: numpy_run(d["y"], d["score"], d["g"], G), k)
    if n <= fairlearn_max:
        t_fl = best_of(lambda: fairlearn_run(d["y"], d["score"], d["g"]),
                       1 if n >= 10 ** 6 else 3)
        fl_cell, fl_ratio = f"{t_fl:,.0f}", f"{t_fl / t_after:,.0f}x"
    else:
        fl_cell, fl_ratio = "skipped", "–"
    return (f"| {n:.0e} | {G} | {t_before:,.1f} | {t_after:,.1f} | {t_after / t_before:.2f} | "
            f"{t_np:,.1f} | {t_after / t_np:.2f} | {fl_cell} | {fl_ratio} |")


OPTIONS = (
    ("weights", dict(weighted=True), True),
    ("num_bins=100", dict(num_bins=100), True),
    ("bootstrap=20", dict(bootstrap=20, seed=0), True),
    ("num_bins=100, bin_scale='logit'", dict(num_bins=100, bin_scale="logit"), False),
    ("exact_auc=True", dict(exact_auc=True), False),
)


def run_options(n: int, G: int, batch: int) -> List[str]:
    d = make_data(n, G)
    nd = on_device(d, mx.cpu())
    k = 3 if n >= 10 ** 7 else 5
    rows = []
    for label, settings, has_before in OPTIONS:
        if "bootstrap" in settings and n > 10 ** 6:
            continue  # 2 x 10^8 replicate rows: minutes, and the ratio is the one at 10^6
        weighted = settings.get("weighted", False)
        kw = {key: v for key, v in settings.items() if key != "weighted"}
        def before(weighted=weighted, kw=kw):
            return before_run(nd, G, batch, weighted, **kw)

        def after(weighted=weighted, kw=kw):
            return after_run(nd, G, batch, weighted, **kw)

        if has_before:
            t_before, t_after = best_of_pair(before, after, k)
            cells = f"{t_before:,.1f} | {t_after:,.1f} | {t_after / t_before:.2f}"
        else:
            t_after = best_of(after, k)
            cells = f"– | {t_after:,.1f} | –"
        rows.append(f"| {n:.0e} | {label} | {cells} |")
        print(rows[-1], flush=True)
    return rows


def exactness() -> List[str]:
    """The two cases of issue 17, before and after: cells (or mass) differing from NumPy."""
    rows = []
    # (a) GroupStats(12000, num_bins=1000): 24 M histogram cells
    G, B, n = 12_000, 1000, 100_000
    rs = np.random.RandomState(0)
    g, y, s = rs.randint(0, G, n), rs.randint(0, 2, n), rs.rand(n).astype(np.float32)
    ref = np.zeros((G, 2, B))
    np.add.at(ref, (g, y, np.minimum(np.floor(s.astype(np.float64) * B), B - 1).astype(int)), 1)
    nd = {"y": mx.nd.array(y), "g": mx.nd.array(g), "score": mx.nd.array(s)}
    before = BeforeStats(G, num_bins=B, ctx=mx.cpu())
    before.update(nd["y"], nd["score"], nd["g"])
    after = GroupStats(G, num_bins=B, from_logits=False, ctx=mx.cpu())
    after.update(nd["y"], nd["score"], nd["g"])
    wrong_before = int(np.count_nonzero(before.hist() != ref))
    wrong_after = int(np.count_nonzero(after.hist.asnumpy() != ref))
    rows.append(f"| GroupStats(12000, num_bins=1000), 10^5 rows: histogram cells that differ "
                f"from np.add.at (of {G * 2 * B:,}) | {wrong_before:,} | {wrong_after:,} |")
    # (b) GroupStats(64, num_bins=1000, bootstrap=300), every score 0.0055 (bin 5)
    G, B, R, n = 64, 1000, 300, 20_000
    g, y = rs.randint(0, G, n), rs.randint(0, 2, n)
    s = np.full(n, 0.0055, np.float32)
    nd = {"y": mx.nd.array(y), "g": mx.nd.array(g), "score": mx.nd.array(s)}
    before = BeforeStats(G, num_bins=B, bootstrap=R, seed=0, ctx=mx.cpu())
    before.update(nd["y"], nd["score"], nd["g"])
    boot = before.boot_hist()
    total = boot.sum()
    misplaced_before = total - boot[..., 5].sum()
    del before, boot
    after = GroupStats(G, num_bins=B, bootstrap=R, seed=0, from_logits=False, ctx=mx.cpu())
    after.update(nd["y"], nd["score"], nd["g"])
    boot = after.boot_hist.asnumpy()
    misplaced_after = boot.sum() - boot[..., 5].sum()
    rows.append(f"| GroupStats(64, num_bins=1000, bootstrap=300), 20,000 rows at score 0.0055: "
                f"replicate mass outside bin 5 (of {total:,.0f}) | {misplaced_before:,.0f} | "
                f"{misplaced_after:,.0f} |")
    return rows


def index_options() -> List[str]:
    """Cost of the cell-id options on 24 M histogram cells, 10^5 rows: MXNet's histogram kernel
    on float32 ids (before; inexact past 2**24), on float32 ids in chunks of 2**23 cells (exact)
    and on float64 ids (exact); its scatter-with-accumulation on float64 ids (now) and on int64
    ids (both exact)."""
    G, B, n = 12_000, 1000, 100_000
    size = G * 2 * B
    rs = np.random.RandomState(0)
    cell = rs.randint(0, size, n)
    ref = np.bincount(cell, minlength=size)
    idx32, idx64 = mx.nd.array(cell, dtype="float32"), mx.nd.array(cell, dtype="float64")
    idx_int = mx.nd.array(cell, dtype="int64")
    ones = mx.nd.ones((n,), dtype="float64")
    chunk = 2 ** 23

    def histogram(ids):
        return mx.nd.histogram(ids, bins=size, range=(-0.5, size - 0.5))[0].astype("float64")

    def chunked():
        parts = []
        for start in range(0, size, chunk):
            width = min(chunk, size - start)
            local = idx64 - start  # each chunk's ids below 2**23: exact in float32
            parts.append(mx.nd.histogram(local.astype("float32"), bins=width,
                                         range=(-0.5, width - 0.5))[0].astype("float64"))
        return mx.nd.concat(*parts, dim=0)

    def scatter(ids):
        return mx.nd._internal._backward_gather_nd(ones, ids.reshape((1, -1)), shape=(size,))

    rows = []
    for label, fn in (("histogram, float32 ids (before)", lambda: histogram(idx32)),
                      ("histogram, float32 ids in chunks of 2**23 cells", chunked),
                      ("histogram, float64 ids", lambda: histogram(idx64)),
                      ("scatter, float64 ids (now)", lambda: scatter(idx64)),
                      ("scatter, int64 ids", lambda: scatter(idx_int))):
        wrong = int(np.count_nonzero(fn().asnumpy() != ref))
        t = best_of(lambda fn=fn: fn().wait_to_read(), 3)
        rows.append(f"| {label} | {t:,.1f} | {wrong:,} |")
        print(rows[-1], flush=True)
    return rows


def small_batches(G: int = 16, n: int = 2 ** 17, batch: int = 1024) -> str:
    """Streaming ``n`` rows in batches of ``batch`` (a validation DataLoader), before/after."""
    nd = on_device(make_data(n, G, seed=2), mx.cpu())
    t_before, t_after = best_of_pair(lambda: before_run(nd, G, batch),
                                     lambda: after_run(nd, G, batch), 5)
    return (f"| {n:,} | {batch:,} | {t_before:,.1f} | {t_after:,.1f} | "
            f"{t_after / t_before:.2f} |")


def update_cost(G: int, rows: int = 1024, reps: int = 200) -> Dict[str, float]:
    """Median ms of one update (enqueue + compute, synchronised) of a ``rows``-row batch,
    before and after, alternately."""
    d = on_device(make_data(rows, G, seed=1), mx.cpu())
    stats = {"after": GroupStats(G, ctx=mx.cpu(), from_logits=False),
             "before": BeforeStats(G, ctx=mx.cpu())}
    times = {k: [] for k in stats}
    for _ in range(20):
        for s in stats.values():
            s.update(d["y"], d["score"], d["g"])
    mx.nd.waitall()
    for _ in range(reps):
        for name, s in stats.items():
            start = time.perf_counter()
            s.update(d["y"], d["score"], d["g"])
            mx.nd.waitall()
            times[name].append(time.perf_counter() - start)
    return {k: float(np.median(v) * 1e3) for k, v in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--batch", type=int, default=BATCH)
    args = p.parse_args(argv)
    sizes = [10 ** 5, 10 ** 6] if args.quick else [10 ** 5, 10 ** 6, 10 ** 7]
    fairlearn_max = 10 ** 5 if args.quick else 10 ** 6
    load_start = os.getloadavg()[0]
    rows: List[str] = []
    for n in sizes:
        for G in (2, 16):
            rows.append(run_config(n, G, args.batch, fairlearn_max))
            print(rows[-1], flush=True)
    option_rows = []
    for n in sizes[1:]:
        option_rows += run_options(n, 16, args.batch)
    exact_rows = exactness()
    print("\n".join(exact_rows), flush=True)
    index_rows = index_options()
    stream_row = small_batches()
    print(stream_row, flush=True)
    cost = {G: update_cost(G) for G in (2, 16)}
    header = (
        f"Counts and rates (selection rate, TPR, FPR, accuracy by group) of N rows, G groups; "
        f"best of k wall times in ms after a warm-up, in one run on {platform.machine()} "
        f"({os.cpu_count()} cores), MXNet {mx.__version__} CPU, NumPy {np.__version__}. "
        f"mxfair: float32 NDArrays on the device, `GroupStats.update` per "
        f"{args.batch:,}-row batch, then `report()`; *before*: the update of commit 43d5ab5 "
        f"(float32 cell ids, no validation; copied into `bench/bench_metrics.py`), timed "
        f"alternately with *after* (every row validated and counted by reason, exact ids); "
        f"NumPy: one `bincount` on int64 host arrays; fairlearn 0.9.0 `MetricFrame` (not run "
        f"at 10^7). All counts are checked equal to NumPy's. Load average at the start and end "
        f"of the run: {load_start:.1f} and {os.getloadavg()[0]:.1f} (the machine is shared; "
        f"ratios are noisy).\n\n"
        "| rows | groups | before (ms) | after (ms) | after / before | NumPy bincount (ms) | "
        "after / NumPy | fairlearn (ms) | fairlearn / after |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    options = (
        "\nThe options, 16 groups, same batches (bootstrap only at 10^6 rows):\n\n"
        "| rows | setting | before (ms) | after (ms) | after / before |\n"
        "| --- | --- | --- | --- | --- |\n" + "\n".join(option_rows) + "\n"
    )
    exact = (
        "\nExactness past 2**24 cells (issue 17's cases), one update:\n\n"
        "| case | before | after |\n| --- | --- | --- |\n" + "\n".join(exact_rows) + "\n"
    )
    index = (
        "\nCell-id options: 10^5 ids summed into 24 M cells (ms, best of 3) and the cells that "
        "differ from `np.bincount` (the fastest exact one is used):\n\n"
        "| kernel and ids | time (ms) | cells wrong |\n| --- | --- | --- |\n"
        + "\n".join(index_rows) + "\n"
    )
    small = (
        "\nSmall batches, as a validation DataLoader gives them (16 groups, streamed without "
        "synchronising, then `report()`):\n\n"
        "| rows | batch | before (ms) | after (ms) | after / before |\n"
        "| --- | --- | --- | --- | --- |\n" + stream_row + "\n"
    )
    footer = (
        f"\nOne `update` of a 1,024-row batch (synchronised, median of 200): before "
        f"{cost[2]['before']:.3f} ms, after {cost[2]['after']:.3f} ms with 2 groups; before "
        f"{cost[16]['before']:.3f} ms, after {cost[16]['after']:.3f} ms with 16 groups.\n"
    )
    table = header + "\n".join(rows) + "\n" + options + small + footer
    print(footer)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    EXACTNESS.write_text(f"From the run of `bench/bench_metrics.py` that wrote "
                         f"`{RESULTS.name}`.\n" + exact + index, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
