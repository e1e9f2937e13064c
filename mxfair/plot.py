"""Figures of fairness during and after training (matplotlib, no pyplot state).

- :func:`plot_history`: accuracy and fairness gaps per epoch, with bootstrap bands when the
  history has them (from a :class:`~mxfair.callbacks.FairnessMonitor`, its Estimator handler, a
  list of records or a DataFrame).
- :func:`plot_group_rates`: per-group rates as grouped bars, with bootstrap whiskers and the
  overall value marked (from a :class:`~mxfair.metrics.FairnessReport`).
- :func:`plot_pareto`: the accuracy–fairness trade-off of several runs, the non-dominated runs
  joined (:func:`pareto_front`).

Every function builds a ``matplotlib.figure.Figure`` directly (no ``pyplot``, so no global
figure state and no display needed: it works on a headless server with any backend), returns it,
and writes a PNG when given ``path=``. In a notebook, the returned figure displays itself.
"""
import os
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["plot_history", "plot_group_rates", "plot_pareto", "pareto_front"]

PathArg = Optional[Union[str, os.PathLike]]

_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "worst_group_accuracy": "worst-group accuracy",
    "auc": "AUC",
    "selection_rate": "selection rate",
    "demographic_parity_difference": "demographic parity diff.",
    "demographic_parity_ratio": "demographic parity ratio",
    "equalized_odds_difference": "equalized odds diff.",
    "equal_opportunity_difference": "equal opportunity diff.",
    "auc_difference": "AUC diff.",
    "true_positive_rate": "true positive rate",
    "false_positive_rate": "false positive rate",
    "true_negative_rate": "true negative rate",
    "false_negative_rate": "false negative rate",
    "positive_predictive_value": "precision (PPV)",
    "negative_predictive_value": "NPV",
}

MISSING_KEY = "{key!r} is not in the history; available: {keys}"
EMPTY = "{what} is empty: nothing to plot"


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def _new_figure(figsize: Tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _save(fig, path: PathArg, dpi: int) -> None:
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi, format="png", facecolor="white")


def _colors(n: int) -> List:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _history_frame(history: Any):
    """A DataFrame with one row per epoch from a monitor, handler, list of dicts or DataFrame."""
    import pandas as pd

    if hasattr(history, "history") and isinstance(history.history, list):
        history = history.history
    if isinstance(history, pd.DataFrame):
        frame = history.copy()
        if "epoch" not in frame.columns:
            frame = frame.reset_index()
            if "epoch" not in frame.columns:
                frame = frame.rename(columns={frame.columns[0]: "epoch"})
    elif isinstance(history, (list, tuple)):
        if not all(isinstance(r, Mapping) for r in history):
            raise TypeError("history must be a list of dicts (records), a DataFrame or a "
                            "FairnessMonitor")
        frame = pd.DataFrame(list(history))
        if "epoch" not in frame.columns:
            frame["epoch"] = np.arange(len(frame))
    else:
        raise TypeError(f"history must be a FairnessMonitor, a list of records or a DataFrame, "
                        f"got {type(history).__name__}")
    if frame.empty:
        raise ValueError(EMPTY.format(what="history"))
    return frame.sort_values("epoch")


def _check_keys(frame, keys: Sequence[str]) -> None:
    for key in keys:
        if key not in frame.columns:
            raise ValueError(MISSING_KEY.format(key=key, keys=sorted(map(str, frame.columns))))


def plot_history(
    history: Any,
    scores: Optional[Sequence[str]] = None,
    gaps: Sequence[str] = ("demographic_parity_difference", "equalized_odds_difference",
                           "equal_opportunity_difference"),
    max_gap: Optional[float] = None,
    title: Optional[str] = None,
    path: PathArg = None,
    figsize: Tuple[float, float] = (11.0, 4.2),
    dpi: int = 120,
):
    """Accuracy and fairness gaps per epoch, side by side.

    Parameters
    ----------
    history : FairnessMonitor, FairnessValidationHandler, list of dict or DataFrame
        Records with an ``epoch`` (or a DataFrame indexed by epoch) and the keys to plot;
        ``<key>_lo`` / ``<key>_hi`` columns (bootstrap) are drawn as shaded bands.
    scores : sequence of str, optional
        Keys for the left panel (higher is better). Default: accuracy, balanced accuracy and,
        when the records have it (every monitor and handler history does), the worst-group
        accuracy.
    gaps : sequence of str
        Keys for the right panel (lower is fairer).
    max_gap : float, optional
        Draws the fairness bound as a dashed line on the right panel.
    title : str, optional
    path : str or path-like, optional
        Write the figure as PNG there.
    figsize : (float, float)
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> records = [{"epoch": 0, "accuracy": 0.80, "equalized_odds_difference": 0.20},
    ...            {"epoch": 1, "accuracy": 0.83, "equalized_odds_difference": 0.12}]
    >>> fig = plot_history(records, scores=["accuracy"], gaps=["equalized_odds_difference"])
    >>> [ax.get_title() for ax in fig.axes]
    ['Performance (higher is better)', 'Fairness gaps (lower is fairer)']
    """
    from matplotlib.ticker import MaxNLocator

    frame = _history_frame(history)
    if scores is None:
        scores = ["accuracy", "balanced_accuracy"] + (
            ["worst_group_accuracy"] if "worst_group_accuracy" in frame.columns else [])
    scores, gaps = list(scores), list(gaps)
    if not scores and not gaps:
        raise ValueError("nothing to plot: give at least one key in scores or gaps")
    _check_keys(frame, scores + gaps)
    fig = _new_figure(figsize)
    panels = [(keys, name) for keys, name in
              ((scores, "Performance (higher is better)"),
               (gaps, "Fairness gaps (lower is fairer)")) if keys]
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    epochs = frame["epoch"].to_numpy()
    colors = iter(_colors(len(scores) + len(gaps)))
    # Distinct markers and dashes, so that series that coincide (equalized odds and equal
    # opportunity often do) stay visible.
    styles = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":")]
    any_band = False
    for ax, (keys, name) in zip(axes, panels):
        for i, key in enumerate(keys):
            color = next(colors)
            marker, dash = styles[i % len(styles)]
            ax.plot(epochs, frame[key].to_numpy(dtype=float), marker=marker, markersize=5,
                    linestyle=dash, linewidth=1.8, color=color, label=_label(key), zorder=3)
            if f"{key}_lo" in frame.columns and f"{key}_hi" in frame.columns:
                any_band = True
                ax.fill_between(epochs, frame[f"{key}_lo"].to_numpy(dtype=float),
                                frame[f"{key}_hi"].to_numpy(dtype=float), color=color,
                                alpha=0.13, linewidth=0, zorder=1)
        if keys is gaps and max_gap is not None:
            ax.axhline(max_gap, color="0.3", linestyle="--", linewidth=1.2,
                       label=f"bound {max_gap:g}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("score" if keys is scores else "gap between groups")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", frameon=False)
        if keys is gaps:
            ax.set_ylim(bottom=0)
    if any_band:
        fig.supxlabel("shaded: 95% bootstrap intervals", fontsize="small", color="0.35")
    fig.suptitle(title or "Validation per epoch", fontweight="bold")
    _save(fig, path, dpi)
    return fig


def plot_group_rates(
    report: Any,
    rates: Sequence[str] = ("selection_rate", "true_positive_rate", "false_positive_rate",
                            "accuracy"),
    level: float = 0.95,
    title: Optional[str] = None,
    path: PathArg = None,
    figsize: Optional[Tuple[float, float]] = None,
    dpi: int = 120,
):
    """Per-group rates as grouped bars, with bootstrap whiskers and the overall value.

    Parameters
    ----------
    report : FairnessReport or FairnessMonitor
        A binary report (a monitor gives its ``last_report``). With bootstrap replicates, each
        bar gets a whisker for its ``level`` percentile interval.
    rates : sequence of str
        Per-group rate names (``report.metric_names``).
    level : float, default 0.95
    title : str, optional
    path : str or path-like, optional
        Write the figure as PNG there.
    figsize : (float, float), optional
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.metrics import FairnessReport
    >>> rep = FairnessReport(np.array([[[30, 10], [5, 15]], [[40, 4], [10, 6]]], float),
    ...                      group_names=["Female", "Male"])
    >>> fig = plot_group_rates(rep, rates=["selection_rate", "true_positive_rate"])
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['selection rate', 'true positive rate']
    """
    import warnings

    from .metrics.report import UndefinedRateWarning

    if hasattr(report, "last_report") and not hasattr(report, "counts"):
        if report.last_report is None:
            raise ValueError(EMPTY.format(what="the monitor's history"))
        report = report.last_report
    if not hasattr(report, "metric_names") or not hasattr(report, "overall"):
        raise TypeError(f"report must be a FairnessReport or a FairnessMonitor, got "
                        f"{type(report).__name__}")
    if not report.is_binary:
        raise ValueError("plot_group_rates needs a binary report (num_classes=2)")
    rates = list(rates)
    if not rates:
        raise ValueError("rates is empty: nothing to plot")
    for rate in rates:
        if rate not in report.metric_names:
            raise ValueError(f"unknown rate {rate!r}; expected one of {list(report.metric_names)}")
    G = report.num_groups
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedRateWarning)
        values = np.array([report._rate(r) for r in rates])  # shape (R, G)
        bounds = (np.array([report.interval(r, level) for r in rates])  # shape (R, G, 2)
                  if report.boot_counts is not None else None)
    overall = np.array([report.overall[r] for r in rates], dtype=float)

    fig = _new_figure(figsize or (max(6.0, 1.6 + 1.0 * len(rates) * (0.6 + 0.35 * G)), 4.4))
    ax = fig.subplots()
    x = np.arange(len(rates), dtype=float)
    width = 0.8 / G
    for g, color in zip(range(G), _colors(G)):
        pos = x - 0.4 + width * (g + 0.5)
        height = np.nan_to_num(values[:, g], nan=0.0)
        err = None
        if bounds is not None:
            lo, hi = bounds[:, g, 0], bounds[:, g, 1]
            err = np.nan_to_num(np.stack([values[:, g] - lo, hi - values[:, g]]), nan=0.0)
            err = np.clip(err, 0.0, None)
        count = report._rate("count")[g]
        ax.bar(pos, height, width * 0.92, color=color, yerr=err, capsize=3 if err is not None
               else 0, error_kw={"elinewidth": 1.1, "ecolor": "0.2"},
               label=f"{report.group_names[g]} (n={count:g})")
        tops = values[:, g] if bounds is None else np.fmax(values[:, g], bounds[:, g, 1])
        for px, v, top in zip(pos, values[:, g], tops):
            # Above the whisker, so that the label never sits on it.
            ax.text(px, (0.0 if np.isnan(top) else top) + 0.015,
                    "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="bottom",
                    fontsize="x-small", color="0.2", zorder=5,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6, "alpha": 0.8})
    ax.hlines(overall, x - 0.45, x + 0.45, colors="black", linestyles="--", linewidth=1.2,
              label="overall", zorder=4)
    ax.set_xticks(x)
    ax.set_xticklabels([_label(r) for r in rates])
    ax.set_ylabel("value")
    ax.set_ylim(0, 1.08)
    ax.grid(True, axis="y", alpha=0.3)
    note = f" with {level:.0%} bootstrap intervals" if bounds is not None else ""
    ax.set_title(title or f"Rates by group{note}")
    ax.set_xlabel("per-group rate")
    ax.legend(fontsize="small", frameon=False, ncol=min(G + 1, 4), loc="upper center",
              bbox_to_anchor=(0.5, -0.14))
    _save(fig, path, dpi)
    return fig


def pareto_front(gaps: Sequence[float], scores: Sequence[float]) -> np.ndarray:
    """Which points are non-dominated when a smaller gap and a higher score are better.

    A point is dominated when another has a gap no larger and a score no smaller, and is
    strictly better in one of them. Points with a NaN coordinate are never on the front.

    Parameters
    ----------
    gaps, scores : sequence of float, shape (P,)

    Returns
    -------
    ndarray of bool, shape (P,)

    Examples
    --------
    >>> pareto_front([0.10, 0.05, 0.20, 0.05], [0.80, 0.78, 0.79, 0.70]).tolist()
    [True, True, False, False]
    """
    gaps = np.asarray(gaps, dtype=float).reshape(-1)
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if gaps.shape != scores.shape:
        raise ValueError(f"gaps has {gaps.size} values but scores has {scores.size}")
    valid = ~(np.isnan(gaps) | np.isnan(scores))
    no_worse = (gaps[None, :] <= gaps[:, None]) & (scores[None, :] >= scores[:, None])
    better = (gaps[None, :] < gaps[:, None]) | (scores[None, :] > scores[:, None])
    dominated = (no_worse & better & valid[None, :]).any(axis=1)  # [i]: someone beats i
    return valid & ~dominated


def _run_point(run: Any, x: str, y: str) -> Tuple[float, float]:
    if hasattr(run, "history") and isinstance(run.history, list):
        if not run.history:
            raise ValueError(EMPTY.format(what="a run's history"))
        run = run.history[-1]
    if hasattr(run, "summary") and hasattr(run, "counts"):  # a FairnessReport
        run = run.summary()
    if isinstance(run, Mapping):
        for key in (x, y):
            if key not in run:
                raise ValueError(MISSING_KEY.format(key=key, keys=sorted(run)))
        return float(run[x]), float(run[y])
    if isinstance(run, (tuple, list)) and len(run) == 2:
        return float(run[0]), float(run[1])
    raise TypeError(f"a run must be a record dict, a FairnessReport, a FairnessMonitor or a "
                    f"(gap, score) pair, got {type(run).__name__}")


def plot_pareto(
    runs: Any,
    x: str = "equalized_odds_difference",
    y: str = "accuracy",
    title: Optional[str] = None,
    path: PathArg = None,
    figsize: Tuple[float, float] = (6.4, 4.8),
    dpi: int = 120,
):
    """The accuracy–fairness trade-off of several runs; the non-dominated ones joined.

    Parameters
    ----------
    runs : mapping of name to run, or DataFrame
        A run is a history record (dict), a :class:`FairnessReport`, a monitor or handler (its
        last record), or a ``(gap, score)`` pair. A DataFrame gives one run per row (names from
        a ``name`` column, else the index) with columns ``x`` and ``y``.
    x : str, default "equalized_odds_difference"
        The gap (lower is fairer), on the horizontal axis.
    y : str, default "accuracy"
        The score (higher is better), on the vertical axis.
    title : str, optional
    path : str or path-like, optional
        Write the figure as PNG there.
    figsize : (float, float)
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_pareto({"baseline": (0.20, 0.85), "reweighing": (0.08, 0.83),
    ...                    "lam=1": (0.10, 0.80)})
    >>> fig.axes[0].get_xlabel()
    'equalized odds diff. (lower is fairer)'
    """
    import pandas as pd

    if isinstance(runs, pd.DataFrame):
        names = (runs["name"] if "name" in runs.columns else runs.index).astype(str).tolist()
        for key in (x, y):
            if key not in runs.columns:
                raise ValueError(MISSING_KEY.format(key=key, keys=sorted(map(str, runs.columns))))
        points = list(zip(runs[x].astype(float), runs[y].astype(float)))
    elif isinstance(runs, Mapping):
        names = [str(k) for k in runs]
        points = [_run_point(v, x, y) for v in runs.values()]
    else:
        raise TypeError(f"runs must be a mapping of name to run or a DataFrame, got "
                        f"{type(runs).__name__}")
    if not points:
        raise ValueError(EMPTY.format(what="runs"))
    gaps = np.array([p[0] for p in points])
    scores = np.array([p[1] for p in points])
    front = pareto_front(gaps, scores)

    fig = _new_figure(figsize)
    ax = fig.subplots()
    order = np.flatnonzero(front)[np.argsort(gaps[front], kind="stable")]
    ax.plot(gaps[order], scores[order], color="tab:blue", linewidth=1.6, zorder=2,
            label="Pareto front")
    ax.scatter(gaps[~front], scores[~front], s=46, color="0.65", edgecolor="0.35", zorder=3,
               label="dominated run")
    ax.scatter(gaps[front], scores[front], s=58, color="tab:blue", edgecolor="navy", zorder=4,
               label="non-dominated run")
    for name, gx, sy in zip(names, gaps, scores):
        if np.isfinite(gx) and np.isfinite(sy):
            ax.annotate(name, (gx, sy), xytext=(5, 5), textcoords="offset points",
                        fontsize="small")
    ax.set_xlabel(f"{_label(x)} (lower is fairer)")
    ax.set_ylabel(f"{_label(y)} (higher is better)")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.15, y=0.12)
    ax.set_title(title or "Accuracy–fairness trade-off")
    ax.legend(fontsize="small", frameon=False, loc="best")
    _save(fig, path, dpi)
    return fig
