"""Calibration and power of the gap tests (``mxfair.metrics.significance``), by simulation.

Calibration: for each null scenario, ``--sets`` seeded data sets are drawn in which the null
holds, each is tested at alpha = 0.05 with ``--permutations`` permutations, and the rejection
rate is reported with its Monte-Carlo standard error (nominal: 0.05). The scenarios have
unequal group sizes and unequal base rates, which is where a naive test goes wrong; the plain
(unstudentized) permutation test of AUC and of the mean score is run beside the studentized
one to show why the latter is needed.

Power: the rejection rate against planted gaps of growing size (two groups of 500 rows).

Writes ``bench/results/significance.md`` and the figure ``docs/img/significance.png``.

Usage::

    python bench/bench_significance.py            # 2,000 data sets per null, 500 per power point
    python bench/bench_significance.py --quick    # 300 / 100
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from mxfair.metrics import FairnessReport
from mxfair.metrics import significance as sig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "significance.md"
FIGURE = ROOT / "docs" / "img" / "significance.png"


def counts_of(y, d, g, G):
    c = np.zeros((G, 2, 2))
    np.add.at(c, (g, y, d), 1)
    return c


def hist_report(y, s, g, G, bins=20):
    b = np.clip(np.floor(s * bins).astype(int), 0, bins - 1)
    hist, sums = np.zeros((G, 2, bins)), np.zeros((G, bins))
    np.add.at(hist, (g, y, b), 1)
    np.add.at(sums, (g, b), s)
    return FairnessReport(counts_of(y, (s >= 0.5).astype(int), g, G), hist=hist, score_sums=sums)


# ------------------------------------------------------------------------- null scenarios
def dp_null(rs):
    g = np.repeat([0, 1], [150, 850])
    y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
    return counts_of(y, (rs.rand(g.size) < 0.3).astype(int), g, 2)


def tpr_null(rs):
    g = np.repeat([0, 1], [300, 700])
    y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
    p = np.where(y == 1, 0.7, np.where(g == 0, 0.1, 0.3))
    return counts_of(y, (rs.rand(g.size) < p).astype(int), g, 2)


def eo_null(rs):
    g = np.repeat([0, 1, 2], [100, 300, 600])
    y = (rs.rand(g.size) < np.array([0.2, 0.4, 0.6])[g]).astype(int)
    return counts_of(y, (rs.rand(g.size) < np.where(y == 1, 0.7, 0.2)).astype(int), g, 3)


def accuracy_null(rs):
    g = np.repeat([0, 1], [200, 800])
    y = (rs.rand(g.size) < np.where(g == 0, 0.3, 0.6)).astype(int)
    correct = rs.rand(g.size) < 0.8
    return counts_of(y, np.where(correct, y, 1 - y), g, 2)


def ba_null(rs):
    g = np.repeat([0, 1], [300, 700])
    y = (rs.rand(g.size) < np.where(g == 0, 0.3, 0.5)).astype(int)
    p = np.where(y == 1, np.where(g == 0, 0.8, 0.6), np.where(g == 0, 0.3, 0.1))
    return counts_of(y, (rs.rand(g.size) < p).astype(int), g, 2)


def auc_null(rs):
    g = np.repeat([0, 1], [300, 900])
    y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
    z = rs.randn(g.size)
    x = np.where(g == 0, z + y, np.where(y == 1, 3 * z + np.sqrt(5), z))
    return hist_report(y, 1 / (1 + np.exp(-(x - 0.5))), g, 2)


def mean_null(rs):
    g = np.repeat([0, 1], [100, 900])
    y = rs.randint(0, 2, g.size)
    s = np.clip(0.5 + np.where(g == 0, 0.3, 0.05) * rs.randn(g.size), 0, 1)
    return hist_report(y, s, g, 2)


NULLS = [
    ("DP difference, sizes 150/850, base rates 0.2/0.5", dp_null,
     "demographic_parity_difference", True),
    ("DP ratio, same data", dp_null, "demographic_parity_ratio", True),
    ("equal opportunity (TPR) difference, base rates 0.2/0.5, FPR 0.1/0.3", tpr_null,
     "equal_opportunity_difference", True),
    ("equalized odds difference, 3 groups 100/300/600, base rates 0.2/0.4/0.6", eo_null,
     "equalized_odds_difference", True),
    ("accuracy difference, base rates 0.3/0.6", accuracy_null, "accuracy", True),
    ("balanced accuracy (0.75 from TPR 0.8/0.6, FPR 0.3/0.1), studentized", ba_null,
     "balanced_accuracy", True),
    ("AUC equal (shapes and base rates differ), studentized", auc_null, "auc_difference", True),
    ("AUC, same data, plain permutation test", auc_null, "auc_difference", False),
    ("mean score equal (spread 0.3 vs 0.05, sizes 100/900), studentized", mean_null,
     "mean_score_difference", True),
    ("mean score, same data, plain permutation test", mean_null, "mean_score_difference",
     False),
]


def rejection(make, metric, sets, B, studentized=True, seed=12345):
    rs = np.random.RandomState(seed)
    kwargs = {} if metric not in ("auc_difference", "mean_score_difference",
                                  "balanced_accuracy") else {"studentized": studentized}
    p = np.array([sig.p_value(make(rs), metric, permutations=B, seed=i, **kwargs)
                  for i in range(sets)])
    return float(np.mean(p <= 0.05))


# ------------------------------------------------------------------------------------ power
def dp_gap(delta):
    def make(rs):
        g = np.repeat([0, 1], [500, 500])
        d = (rs.rand(g.size) < np.where(g == 0, 0.3, 0.3 + delta)).astype(int)
        return counts_of(rs.randint(0, 2, g.size), d, g, 2)
    return make


def tpr_gap(delta):
    def make(rs):
        g = np.repeat([0, 1], [500, 500])
        y = (rs.rand(g.size) < np.where(g == 0, 0.2, 0.5)).astype(int)
        p = np.where(y == 1, np.where(g == 0, 0.6, 0.6 + delta), 0.2)
        return counts_of(y, (rs.rand(g.size) < p).astype(int), g, 2)
    return make


def auc_gap(delta):
    def make(rs):  # AUC = Φ(d/√2): d chosen so that AUC is 0.75 and 0.75 + delta
        from scipy.stats import norm

        g = np.repeat([0, 1], [500, 500])
        y = rs.randint(0, 2, g.size)
        d = np.sqrt(2) * norm.ppf(np.where(g == 0, 0.75, 0.75 + delta))
        x = rs.randn(g.size) + d * y
        return hist_report(y, 1 / (1 + np.exp(-(x - 0.5))), g, 2)
    return make


POWER = [
    ("DP difference (selection 0.3 vs 0.3 + δ)", dp_gap, "demographic_parity_difference"),
    ("TPR difference (0.6 vs 0.6 + δ, base rates 0.2/0.5)", tpr_gap,
     "equal_opportunity_difference"),
    ("AUC difference (0.75 vs 0.75 + δ), studentized", auc_gap, "auc_difference"),
]
DELTAS = [0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sets", type=int, default=None)
    p.add_argument("--power-sets", type=int, default=None)
    p.add_argument("--permutations", type=int, default=499)
    args = p.parse_args(argv)
    sets = args.sets or (300 if args.quick else 2000)
    power_sets = args.power_sets or (100 if args.quick else 500)
    B = args.permutations
    start = time.perf_counter()
    calibration = []
    for label, make, metric, studentized in NULLS:
        rate = rejection(make, metric, sets, B, studentized)
        se = np.sqrt(0.05 * 0.95 / sets)
        calibration.append((label, metric, rate, se))
        print(f"{label}: {rate:.3f}", flush=True)
    power = {}
    for label, family, metric in POWER:
        power[label] = [rejection(family(delta), metric, power_sets, B, seed=777)
                        for delta in DELTAS]
        print(label, power[label], flush=True)
    seconds = time.perf_counter() - start

    lines = [
        f"Rejection rate at alpha = 0.05 under true nulls, {sets:,} seeded data sets each, "
        f"{B} permutations per test (Monte-Carlo standard error of a rate of 0.05: "
        f"{np.sqrt(0.05 * 0.95 / sets):.4f}; the target band is [0.03, 0.07]).",
        "",
        "| null scenario | gap | rejection rate | in [0.03, 0.07] |",
        "|---|---|---|---|",
    ]
    for label, metric, rate, _ in calibration:
        lines.append(f"| {label} | `{metric}` | {rate:.3f} | "
                     f"{'yes' if 0.03 <= rate <= 0.07 else 'no'} |")
    lines += ["", f"Power (rejection rate at 0.05) against planted gaps δ, two groups of 500 "
              f"rows, {power_sets} data sets per point:", "",
              "| gap | " + " | ".join(f"δ = {d:.2f}" for d in DELTAS) + " |",
              "|---|" + "---|" * len(DELTAS)]
    for label, rates in power.items():
        lines.append(f"| {label} | " + " | ".join(f"{r:.2f}" for r in rates) + " |")
    lines += ["", f"{seconds:.0f} s in all."]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    _figure(calibration, power, sets)
    return 0


def _figure(calibration, power, sets) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
    labels = [c[0] for c in calibration]
    rates = [c[2] for c in calibration]
    y = np.arange(len(labels))[::-1]
    colors = ["#1e8449" if 0.03 <= r <= 0.07 else "#c0392b" for r in rates]
    left.barh(y, rates, color=colors)
    left.axvspan(0.03, 0.07, color="0.85", zorder=0, label="[0.03, 0.07]")
    left.axvline(0.05, color="0.3", linestyle="--", linewidth=1)
    left.set_yticks(y)
    left.set_yticklabels(labels, fontsize="x-small")
    left.set_xlabel(f"rejection rate at 0.05 under the null ({sets:,} data sets)")
    left.set_xscale("symlog", linthresh=0.1)
    left.set_xlim(0, 1)
    left.legend(fontsize="small", frameon=False, loc="lower right")
    left.set_title("Calibration: exact and studentized tests hold their level")
    for label, rates_ in power.items():
        right.plot(DELTAS, rates_, marker="o", label=label)
    right.axhline(0.05, color="0.3", linestyle="--", linewidth=1)
    right.set_xlabel("planted gap δ")
    right.set_ylabel("power at 0.05")
    right.set_ylim(0, 1.02)
    right.grid(True, alpha=0.3)
    right.legend(fontsize="x-small", frameon=False)
    right.set_title("Power, two groups of 500 rows")
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110, facecolor="white")


if __name__ == "__main__":
    sys.exit(main())
