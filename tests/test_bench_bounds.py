"""bench/bench_bounds.py: the fairlearn bound that implies a between-groups bound."""
import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.spec_from_file_location(
    "bench_bounds", Path(__file__).resolve().parents[1] / "bench" / "bench_bounds.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def _largest_between_gap(eps_f: float, share_a: float) -> float:
    """max |r_a - r_b| over rates on a grid with |r_g - r| <= eps_f, r the share-weighted mean
    (fairlearn's constraint on two groups), found by brute force."""
    grid = np.linspace(0, 1, 801)
    ra, rb = np.meshgrid(grid, grid)
    r = share_a * ra + (1 - share_a) * rb
    ok = (np.abs(ra - r) <= eps_f + 1e-12) & (np.abs(rb - r) <= eps_f + 1e-12)
    return float(np.abs(ra - rb)[ok].max())


@pytest.mark.parametrize("share_a, eps", [(0.5, 0.05), (0.675, 0.05), (0.8, 0.02)])
def test_implied_eps_makes_fairlearns_constraint_the_between_groups_bound(share_a, eps):
    n = 1000
    g = (np.arange(n) >= share_a * n).astype(int)  # group 0 has share_a of the rows
    y = np.arange(n) % 2
    eps_f = bench.fairlearn_eps(eps, "demographic_parity", y, g)
    assert eps_f == pytest.approx(eps * max(share_a, 1 - share_a))
    assert _largest_between_gap(eps_f, share_a) == pytest.approx(eps, abs=2e-3)
    # At fairlearn's own eps the between-groups gap can exceed eps (up to eps / max share).
    assert _largest_between_gap(eps, share_a) == pytest.approx(
        eps / max(share_a, 1 - share_a), abs=2e-3)


def test_implied_eps_for_equalized_odds_takes_the_tighter_label_stratum():
    # Label 1: group 0 has 90 % of the positives; label 0: 60 % of the negatives.
    y = np.array([1] * 100 + [0] * 100)
    g = np.array([0] * 90 + [1] * 10 + [0] * 60 + [1] * 40)
    assert bench.fairlearn_eps(0.05, "equalized_odds", y, g) == pytest.approx(0.05 * 0.6)


def test_three_groups_use_half_the_bound():
    g = np.array(list(itertools.chain.from_iterable([[k] * 10 for k in range(3)])))
    assert bench.fairlearn_eps(0.04, "demographic_parity", np.zeros(30), g) == 0.02


def test_tables_render_from_the_saved_run(tmp_path):
    out = tmp_path / "bounds.md"
    saved = Path(__file__).resolve().parents[1] / "bench" / "results" / "bounds.json"
    assert bench.main(["--from-json", str(saved), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    checks = text[text.index("#### Checks at eps = 0.05"):]
    for data in ("adult", "compas", "german"):
        for gap in ("DP", "EO"):
            for model in ("bounded", "bounded, mixture"):
                assert f"| {data} | {gap} | {model} | " in checks
    assert text == saved.with_suffix(".md").read_text(encoding="utf-8")  # the committed tables
