"""How far the per-group AUC of ``GroupStats`` histograms is from scikit-learn's, by bin count
and bin scale, and whether the report warns.

Cases (10^5 rows, two groups, labels and groups uniform; within each group the AUC is about
0.80): logits ``z = N(1.2 y - 0.3 g, 1)`` ("ordinary"), the same times 8 and 16, ``20 + 5 z``
(a confident model: every probability rounds to 1 in float32), and probabilities squeezed into
[0.499, 0.501]. The first four are logits (``from_logits=True``), the last probabilities.

For each case, bin scale (``"probability"``: B equal bins of [0, 1]; ``"logit"``: B equal bins
of the log-odds in [-32, 32]) and bin count B, the table gives the largest error over the two
groups of ``report["auc"]`` against ``sklearn.metrics.roc_auc_score`` on the same scores, and
``(w)`` where reading it raises ``AUCResolutionWarning``. ``GroupStats(exact_auc=True)`` equals
scikit-learn in every case (error below 1e-12, checked here too).

Usage::

    python bench/bench_auc.py   # writes bench/results/auc.md and the table of docs/histograms.md
"""
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from mxfair.metrics import AUCResolutionWarning, GroupStats, ScoreScaleWarning

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "auc.md"
DOCS = ROOT / "docs" / "histograms.md"
BINS = (10, 100, 1000, 10_000)
SCALES = ("probability", "logit")


def make_case(name: str, n: int = 100_000, seed: int = 0):
    rs = np.random.RandomState(seed)
    y, g = rs.randint(0, 2, n), rs.randint(0, 2, n)
    z = rs.randn(n) + 1.2 * y - 0.3 * g
    if name == "squeezed probabilities":
        return y, g, (0.499 + 0.002 / (1 + np.exp(-z))).astype(np.float32), False
    scale = {"ordinary logits": 1.0, "logits x 8": 8.0, "logits x 16": 16.0}.get(name)
    scores = 20 + 5 * z if scale is None else scale * z
    return y, g, scores.astype(np.float32), True


CASES = ("ordinary logits", "logits x 8", "logits x 16", "logits 20 + 5z",
         "squeezed probabilities")


def auc_error(name: str, **settings):
    """(largest per-group |AUC - sklearn|, warned?)."""
    y, g, scores, from_logits = make_case(name)
    stats = GroupStats(2, from_logits=from_logits, **settings)
    stats.update(y, scores, g)
    truth = np.array([roc_auc_score(y[g == k], scores[g == k]) for k in (0, 1)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auc = stats.report()["auc"]
    warned = any(issubclass(c.category, AUCResolutionWarning) for c in caught)
    return float(np.abs(auc - truth).max()), warned


def main() -> int:
    header = "| case | scale | " + " | ".join(f"B = {b:,}" for b in BINS) + " |\n"
    header += "| --- | --- | " + " | ".join("---" for _ in BINS) + " |\n"
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScoreScaleWarning)
        for name in CASES:
            for scale in SCALES:
                cells = []
                for b in BINS:
                    err, warned = auc_error(name, num_bins=b, bin_scale=scale)
                    cells.append(f"{err:.1e}{' (w)' if warned else ''}")
                rows.append(f"| {name} | {scale} | " + " | ".join(cells) + " |")
                print(rows[-1], flush=True)
            exact, warned = auc_error(name, exact_auc=True)
            if exact > 1e-12 or warned:
                raise AssertionError(f"exact_auc is off by {exact} on {name}")
    table = (
        "Largest per-group |AUC - sklearn roc_auc_score| of the histogram AUC, 10^5 rows, two "
        "groups; (w): the report warns (AUCResolutionWarning). `exact_auc=True`: 0 (below "
        "1e-12) in every case.\n\n" + header + "\n".join(rows) + "\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    sys.path.insert(0, str(ROOT / "bench"))
    from run_all import splice

    DOCS.write_text(splice(DOCS.read_text(encoding="utf-8"), "auc", table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
