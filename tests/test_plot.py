"""mxfair.plot: figures from real monitor histories and reports, written as PNG headless."""
import os
import subprocess
import sys
import warnings

import mxnet as mx
import numpy as np
import pytest
from matplotlib.container import BarContainer
from mxnet import gluon

from mxfair.callbacks import FairnessMonitor
from mxfair.metrics import FairnessReport, GroupStats, UndefinedRateWarning
from mxfair.plot import (
    pareto_front,
    plot_group_rates,
    plot_histories,
    plot_history,
    plot_pareto,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path):
    assert os.path.isfile(path) and os.path.getsize(path) > 1000
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC


@pytest.fixture(scope="module")
def monitor():
    """A real monitor after three evaluations of a net whose weights change in between."""
    ctx = mx.cpu(1)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3)).astype("float32")
    g = (rng.uniform(size=400) < 0.4).astype(np.int64)
    y = (X[:, 0] + 0.8 * g + 0.3 * rng.normal(size=400) > 0.2).astype(np.int64)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=100)
    net = gluon.nn.Dense(1, in_units=3)
    net.initialize(ctx=ctx)
    mon = FairnessMonitor(loader, 2, from_logits=True, bootstrap=40, seed=0,
                          group_names=["women", "men"], progress=False)
    for epoch, w in enumerate(([1.0, 0.0, 0.0], [1.0, 0.5, 0.0], [2.0, 0.0, 0.3])):
        net.weight.set_data(mx.nd.array([w]))
        mon.evaluate(net, epoch=epoch)
    return mon


def test_history_plot_from_monitor_list_and_frame(monitor, tmp_path):
    path = tmp_path / "history.png"
    fig = plot_history(monitor, max_gap=0.1, title="run", path=path)
    _assert_png(path)
    left, right = fig.axes
    assert left.get_xlabel() == right.get_xlabel() == "epoch"
    assert left.get_title().startswith("Performance") and right.get_title().startswith("Fairness")
    acc_line = left.get_lines()[0]
    np.testing.assert_array_equal(acc_line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(acc_line.get_ydata(), [r["accuracy"] for r in monitor.history])
    assert len(left.collections) == 3 and len(right.collections) == 3  # bootstrap bands
    # the worst-group accuracy is a default score: the figure of group-robust training
    assert [t.get_text() for t in left.get_legend().get_texts()][-1] == "worst-group accuracy"
    np.testing.assert_allclose(left.get_lines()[2].get_ydata(),
                               [r["worst_group_accuracy"] for r in monitor.history])
    assert len(plot_history([{"epoch": 0, "accuracy": 0.5, "balanced_accuracy": 0.5}],
                            gaps=[]).axes[0].get_lines()) == 2  # absent from the records
    assert [t.get_text() for t in right.get_legend().get_texts()][-1] == "bound 0.1"
    for source in (list(monitor.history), monitor.to_pandas()):
        other = plot_history(source)
        np.testing.assert_allclose(other.axes[1].get_lines()[1].get_ydata(),
                                   right.get_lines()[1].get_ydata())
    plain = [{k: v for k, v in r.items() if not k.endswith(("_lo", "_hi"))}
             for r in monitor.history]
    assert len(plot_history(plain, gaps=[]).axes) == 1
    assert not plot_history(plain).axes[0].collections  # no intervals, no bands


def test_group_rates_bars_and_whiskers(monitor, tmp_path):
    report = monitor.last_report
    path = tmp_path / "rates.png"
    rates = ["selection_rate", "true_positive_rate", "false_positive_rate"]
    fig = plot_group_rates(monitor, rates=rates, path=path)
    _assert_png(path)
    ax = fig.axes[0]
    bar_sets = [c for c in ax.containers if isinstance(c, BarContainer)]  # one per group
    heights = np.array([[b.get_height() for b in c.patches] for c in bar_sets])  # (G, R)
    np.testing.assert_allclose(heights, np.array([report[r] for r in rates]).T)
    for g, bars in enumerate(bar_sets):  # whiskers span the bootstrap intervals
        segments = bars.errorbar.lines[2][0].get_segments()
        for r, seg in enumerate(segments):
            np.testing.assert_allclose([seg[0][1], seg[1][1]],
                                       report.interval(rates[r])[g],
                                       atol=1e-12)
    assert "bootstrap" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "overall" and labels[1].startswith("women (n=")

    # Without bootstrap: no whiskers; a rate undefined for a group is labelled n/a.
    counts = np.array([[[5, 1], [0, 0]], [[3, 1], [2, 4]]], float)  # group a: no positives
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedRateWarning)  # the plot must not warn
        fig = plot_group_rates(FairnessReport(counts, group_names=["a", "b"]))
    ax = fig.axes[0]
    assert [c.errorbar for c in ax.containers if isinstance(c, BarContainer)] == [None, None]
    assert "n/a" in [t.get_text() for t in ax.texts]


def test_pareto_front_and_plot(monitor, tmp_path):
    gaps = [0.10, 0.05, 0.20, 0.05, 0.02, np.nan]
    scores = [0.80, 0.78, 0.79, 0.70, 0.60, 0.90]
    np.testing.assert_array_equal(pareto_front(gaps, scores),
                                  [True, True, False, False, True, False])
    # Ties: two identical points do not dominate each other.
    np.testing.assert_array_equal(pareto_front([0.1, 0.1], [0.8, 0.8]), [True, True])

    runs = {"baseline": (0.20, 0.85), "reweighing": (0.08, 0.83), "lam=1": (0.10, 0.80),
            "monitor": monitor, "report": monitor.last_report}
    path = tmp_path / "pareto.png"
    fig = plot_pareto(runs, path=path)
    _assert_png(path)
    ax = fig.axes[0]
    last = monitor.history[-1]
    g = np.array([0.20, 0.08, 0.10] + [last["equalized_odds_difference"]] * 2)
    s = np.array([0.85, 0.83, 0.80] + [last["accuracy"]] * 2)
    front = pareto_front(g, s)
    line = ax.get_lines()[0]
    order = np.argsort(g[front], kind="stable")
    np.testing.assert_allclose(line.get_xdata(), g[front][order])
    np.testing.assert_allclose(line.get_ydata(), s[front][order])
    assert sorted(t.get_text() for t in ax.texts) == sorted(runs)
    assert ax.get_ylabel() == "accuracy (higher is better)"

    import pandas as pd

    frame = pd.DataFrame({"name": ["a", "b"], "demographic_parity_difference": [0.1, 0.2],
                          "balanced_accuracy": [0.7, 0.8]})
    fig = plot_pareto(frame, x="demographic_parity_difference", y="balanced_accuracy")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["a", "b"]


def test_pareto_panels_interval_bars_markers_and_legend(monitor):
    # what the examples drew for themselves: one panel per gap, bootstrap bars, squares
    report = monitor.last_report  # bootstrap=40: the summary has _lo / _hi
    runs = {"net": report, "thresholds": {"accuracy": 0.7, "equalized_odds_difference": 0.02,
                                          "demographic_parity_difference": 0.3}}
    fig = plot_pareto(runs, x=["demographic_parity_difference", "equalized_odds_difference"],
                      markers={"thresholds": "s"}, legend=True)
    assert len(fig.axes) == 2 and not fig.axes[0].texts
    summary = report.summary()
    bars = [c for c in fig.axes[1].containers if c.has_xerr and c.has_yerr]
    assert len(bars) == 1  # only the report has intervals
    (x_seg, y_seg) = (bars[0].lines[2][0].get_segments()[0], bars[0].lines[2][1].get_segments()[0])
    np.testing.assert_allclose(sorted(p[0] for p in x_seg),
                               [summary["equalized_odds_difference_lo"],
                                summary["equalized_odds_difference_hi"]])
    np.testing.assert_allclose(sorted(p[1] for p in y_seg),
                               [summary["accuracy_lo"], summary["accuracy_hi"]])
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()][1:] == list(runs)
    assert fig.axes[0].get_lines()[1].get_marker() == "o"


def test_histories_of_several_runs(monitor, tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_histories({"one": monitor, "two": monitor.history[:2]},
                         keys=["accuracy", "equalized_odds_difference"],
                         bounds={"equalized_odds_difference": 0.1}, path=path)
    _assert_png(path)
    lines = fig.axes[1].get_lines()
    assert [line.get_label() for line in lines] == ["one", "two", "bound 0.1"]
    np.testing.assert_allclose(lines[0].get_ydata(),
                               [r["equalized_odds_difference"] for r in monitor.history])
    with pytest.raises(ValueError, match="'auc' is not in the history"):
        plot_histories({"one": monitor}, keys=["auc"])


def test_plot_errors(monitor):
    with pytest.raises(ValueError, match="'auc' is not in the history"):
        plot_history(monitor, scores=["auc"])
    with pytest.raises(TypeError, match="history must be a FairnessMonitor"):
        plot_history(42)
    with pytest.raises(ValueError, match="history is empty"):
        plot_history([])
    with pytest.raises(ValueError, match="unknown rate 'recall'"):
        plot_group_rates(monitor.last_report, rates=["recall"])
    with pytest.raises(ValueError, match="needs a binary report"):
        plot_group_rates(GroupStats(2, num_classes=3).report())
    with pytest.raises(TypeError, match="runs must be a mapping"):
        plot_pareto([(0.1, 0.8)])
    with pytest.raises(ValueError, match="gaps has 2 values but scores has 1"):
        pareto_front([0.1, 0.2], [0.8])


def test_headless_without_pyplot(tmp_path):
    """No display and no pyplot: the figures are plain matplotlib Figure objects."""
    path = tmp_path / "headless.png"
    code = (
        "import sys; from mxfair.plot import plot_pareto; "
        f"plot_pareto({{'a': (0.1, 0.8), 'b': (0.2, 0.9)}}, path={str(path)!r}); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    _assert_png(path)


def test_path_in_a_missing_folder_is_created(tmp_path):
    # make demo writes out/<name>.png on a fresh clone, where out/ does not exist yet.
    path = tmp_path / "out" / "nested" / "pareto.png"
    plot_pareto({"baseline": (0.20, 0.85), "reweighing": (0.08, 0.83)}, path=str(path))
    _assert_png(path)
