"""Figures of fairness during and after training (matplotlib, no pyplot state).

- :func:`plot_history`: accuracy and fairness gaps per epoch, with bootstrap bands when the
  history has them (from a :class:`~mxfair.callbacks.FairnessMonitor`, its Estimator handler, a
  list of records or a DataFrame).
- :func:`plot_group_rates`: per-group rates as grouped bars, with bootstrap whiskers and the
  overall value marked (from a :class:`~mxfair.metrics.FairnessReport`).
- :func:`plot_histories`: the same per-epoch figures for several runs, one line per run.
- :func:`plot_pareto`: the accuracy–fairness trade-off of several runs, the non-dominated runs
  joined (:func:`pareto_front`), with bootstrap interval bars, one panel per gap.

Every function builds a ``matplotlib.figure.Figure`` directly (no ``pyplot``, so no global
figure state and no display needed: it works on a headless server with any backend), returns it,
and writes a PNG when given ``path=``. In a notebook, the returned figure displays itself.
"""
import warnings
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._figures import PathArg, new_figure, save_png
from .metrics import UndefinedRateWarning

__all__ = ["plot_history", "plot_histories", "plot_group_rates", "plot_pareto", "pareto_front"]


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
    *,
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
    fig = new_figure(figsize)
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
    save_png(fig, path, dpi)
    return fig


def plot_group_rates(
    report: Any,
    *,
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
    values = np.array([report.rate(r, warn=False) for r in rates])  # shape (R, G)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedRateWarning)
        bounds = (np.array([report.interval(r, level=level) for r in rates])  # (R, G, 2)
                  if report.boot_counts is not None else None)
    overall = np.array([report.overall[r] for r in rates], dtype=float)

    fig = new_figure(figsize or (max(6.0, 1.6 + 1.0 * len(rates) * (0.6 + 0.35 * G)), 4.4))
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
        count = report.rate("count", warn=False)[g]
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
    save_png(fig, path, dpi)
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


def _run_record(run: Any) -> Mapping:
    """A run as a record: a history's last record, a report's summary, a (gap, score) pair."""
    if hasattr(run, "history") and isinstance(run.history, list):
        if not run.history:
            raise ValueError(EMPTY.format(what="a run's history"))
        run = run.history[-1]
    if hasattr(run, "summary") and hasattr(run, "counts"):  # a FairnessReport
        run = run.summary()
    if isinstance(run, Mapping):
        return run
    raise TypeError(f"a run must be a record dict, a FairnessReport, a FairnessMonitor or a "
                    f"(gap, score) pair, got {type(run).__name__}")


def _point(record: Mapping, key: str, intervals: bool) -> Tuple[float, Optional[List]]:
    """The value of ``key`` and, when the record has ``<key>_lo`` / ``<key>_hi``, its error
    bar ``[[below], [above]]`` for ``errorbar``."""
    if key not in record:
        raise ValueError(MISSING_KEY.format(key=key, keys=sorted(map(str, record))))
    value = float(record[key])
    lo, hi = record.get(f"{key}_lo"), record.get(f"{key}_hi")
    if not intervals or lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return value, None
    return value, [[max(value - float(lo), 0.0)], [max(float(hi) - value, 0.0)]]


def _runs_as_records(runs: Any, keys: Sequence[str]) -> Tuple[List[str], List[Mapping]]:
    import pandas as pd

    if isinstance(runs, pd.DataFrame):
        names = (runs["name"] if "name" in runs.columns else runs.index).astype(str).tolist()
        return names, runs.to_dict("records")
    if not isinstance(runs, Mapping):
        raise TypeError(f"runs must be a mapping of name to run or a DataFrame, got "
                        f"{type(runs).__name__}")
    names, records = [], []
    for name, run in runs.items():
        if isinstance(run, (tuple, list)) and len(run) == 2:  # (gap, score): one panel only
            run = dict(zip(keys, (float(run[0]), float(run[1]))))
        names.append(str(name))
        records.append(_run_record(run))
    return names, records


def plot_pareto(
    runs: Any,
    *,
    x: Union[str, Sequence[str]] = "equalized_odds_difference",
    y: str = "accuracy",
    intervals: bool = True,
    markers: Optional[Mapping[str, str]] = None,
    legend: bool = False,
    title: Optional[str] = None,
    path: PathArg = None,
    figsize: Optional[Tuple[float, float]] = None,
    dpi: int = 120,
):
    """The accuracy–fairness trade-off of several runs; the non-dominated ones joined.

    Parameters
    ----------
    runs : mapping of name to run, or DataFrame
        A run is a record (dict), a :class:`FairnessReport` (its summary), a monitor or
        handler (its last record), or a ``(gap, score)`` pair. A DataFrame gives one run per
        row (names from a ``name`` column, else the index).
    x : str or sequence of str, default "equalized_odds_difference"
        The gap (lower is fairer) on the horizontal axis; several give one panel each.
    y : str, default "accuracy"
        The score (higher is better), on the vertical axis.
    intervals : bool, default True
        Draw a run's ``<key>_lo`` / ``<key>_hi`` (bootstrap intervals, as
        :meth:`FairnessReport.summary` gives them with ``bootstrap=R``) as error bars.
    markers : mapping of run name to matplotlib marker, optional
        E.g. squares (``"s"``) for post-processed runs; circles by default.
    legend : bool, default False
        Name the runs in a legend (many runs) instead of beside their points.
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
    >>> fig = plot_pareto({"baseline": (0.20, 0.85), "reweighing": (0.08, 0.83),
    ...                    "lam=1": (0.10, 0.80)})
    >>> fig.axes[0].get_xlabel()
    'equalized odds diff. (lower is fairer)'
    >>> runs = {"a": {"accuracy": 0.8, "accuracy_lo": 0.78, "accuracy_hi": 0.82,
    ...               "demographic_parity_difference": 0.1, "equalized_odds_difference": 0.2},
    ...         "b": {"accuracy": 0.7, "demographic_parity_difference": 0.05,
    ...               "equalized_odds_difference": 0.3}}
    >>> len(plot_pareto(runs, x=["demographic_parity_difference",
    ...                          "equalized_odds_difference"]).axes)
    2
    """
    gaps = [x] if isinstance(x, str) else list(x)
    if not gaps:
        raise ValueError("x is empty: give at least one gap to plot")
    names, records = _runs_as_records(runs, gaps[:1] + [y])
    if not records:
        raise ValueError(EMPTY.format(what="runs"))
    markers = dict(markers or {})
    fig = new_figure(figsize or (6.2 * len(gaps), 4.8))
    axes = fig.subplots(1, len(gaps), squeeze=False)[0]
    colors = _colors(len(records))
    for ax, gap in zip(axes, gaps):
        points = [(_point(r, gap, intervals), _point(r, y, intervals)) for r in records]
        xs = np.array([p[0][0] for p in points])
        ys = np.array([p[1][0] for p in points])
        front = pareto_front(xs, ys)
        order = np.flatnonzero(front)[np.argsort(xs[front], kind="stable")]
        ax.plot(xs[order], ys[order], color="0.35", linestyle="--", linewidth=1.1, zorder=1,
                label="Pareto front")
        for i, (name, color, ((gx, xerr), (sy, yerr))) in enumerate(zip(names, colors,
                                                                         points)):
            ax.errorbar(gx, sy, xerr=xerr, yerr=yerr, fmt=markers.get(name, "o"),
                        color=color, ecolor=color, elinewidth=0.9, capsize=2, markersize=7,
                        markeredgecolor="black" if front[i] else color, label=name, zorder=3)
            if not legend and np.isfinite(gx) and np.isfinite(sy):
                ax.annotate(name, (gx, sy), xytext=(5, 5), textcoords="offset points",
                            fontsize="small")
        ax.set_xlabel(f"{_label(gap)} (lower is fairer)")
        ax.set_ylabel(f"{_label(y)} (higher is better)")
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.15, y=0.12)
    if legend:
        axes[-1].legend(fontsize="small", frameon=False, loc="best")
    bars = " (bars: 95% bootstrap intervals)" if intervals and any(
        f"{y}_lo" in r for r in records) else ""
    fig.suptitle(title or f"Accuracy–fairness trade-off{bars}", fontweight="bold")
    save_png(fig, path, dpi)
    return fig


def plot_histories(
    histories: Mapping[str, Any],
    *,
    keys: Sequence[str] = ("accuracy", "demographic_parity_difference",
                           "equalized_odds_difference"),
    bounds: Optional[Mapping[str, float]] = None,
    title: Optional[str] = None,
    path: PathArg = None,
    figsize: Optional[Tuple[float, float]] = None,
    dpi: int = 120,
):
    """Per-epoch validation figures of several runs: one panel per key, one line per run.

    Parameters
    ----------
    histories : mapping of run name to history
        A history is what :func:`plot_history` takes: a monitor or handler, a list of
        records (``epoch`` and the keys) or a DataFrame.
    keys : sequence of str
        The record keys to draw, one panel each.
    bounds : mapping of key to float, optional
        A dotted horizontal line in that key's panel (e.g. the bound of constrained training).
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
    >>> runs = {"baseline": [{"epoch": 0, "accuracy": 0.80}, {"epoch": 1, "accuracy": 0.83}],
    ...         "fair": [{"epoch": 0, "accuracy": 0.78}, {"epoch": 1, "accuracy": 0.80}]}
    >>> fig = plot_histories(runs, keys=["accuracy"])
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['baseline', 'fair']
    """
    from matplotlib.ticker import MaxNLocator

    keys = list(keys)
    if not histories or not keys:
        raise ValueError(EMPTY.format(what="histories" if not histories else "keys"))
    frames = {str(name): _history_frame(h) for name, h in histories.items()}
    for frame in frames.values():
        _check_keys(frame, keys)
    fig = new_figure(figsize or (5.0 * len(keys), 4.2))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for (name, frame), color in zip(frames.items(), _colors(len(frames))):
        for ax, key in zip(axes, keys):
            ax.plot(frame["epoch"].to_numpy(), frame[key].to_numpy(dtype=float), marker="o",
                    markersize=3, color=color, label=name)
    for ax, key in zip(axes, keys):
        if bounds and key in bounds:
            ax.axhline(bounds[key], color="0.3", linestyle=":", linewidth=1.2,
                       label=f"bound {bounds[key]:g}")
        ax.set_xlabel("epoch")
        ax.set_title(_label(key))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small", frameon=False, loc="best")
    fig.suptitle(title or "Validation per epoch", fontweight="bold")
    save_png(fig, path, dpi)
    return fig
