"""Helpers shared by the examples and the notebooks: seeding, data, nets, test figures, tables,
figures.

Each idea has one home here so that ``adult_mitigation.py``, ``cifar10s.py``,
``estimator_fairness.py`` and the notebooks measure, print and plot in the same way:

- :func:`seed_all`, :func:`load_tabular`, :func:`mlp`, :func:`predict_scores`;
- :class:`Recipe` and :func:`train` -- the one training loop, and what a method changes in it;
- :func:`test_summary` -- headline test figures with bootstrap intervals from
  :class:`mxfair.metrics.GroupStats` (``bootstrap=200`` by default);
- :func:`format_table` -- the one results table;
- :func:`plot_front` and :func:`plot_curves` -- the accuracy-fairness front of many methods
  with bootstrap error bars, and the per-epoch validation curves of many methods, saved as PNG
  (``mxfair.plot`` draws one run's history and an unadorned front; these compose several).
"""
import math
import os
import random
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import matplotlib
import mxnet as mx
import numpy as np
from matplotlib.figure import Figure
from mxnet import autograd, gluon

from mxfair.datasets import load_adult, load_compas, load_german
from mxfair.metrics import GroupStats
from mxfair.plot import pareto_front

__all__ = [
    "TABULAR_LOADERS",
    "DEFAULT_SENSITIVE",
    "HEADLINE",
    "seed_all",
    "load_tabular",
    "mlp",
    "predict_scores",
    "test_summary",
    "Recipe",
    "train",
    "format_table",
    "plot_front",
    "plot_curves",
]

TABULAR_LOADERS = {"adult": load_adult, "german": load_german, "compas": load_compas}
DEFAULT_SENSITIVE = {"adult": "sex", "german": "age", "compas": "race"}

#: The figures of the results table, as (key of ``FairnessReport.summary()``, column title).
HEADLINE = (
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "bal. acc."),
    ("demographic_parity_difference", "DP diff"),
    ("equalized_odds_difference", "EO diff"),
)


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and MXNet's global generators (samplers carry their own seeds)."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def load_tabular(dataset: str, sensitive=None, seed: int = 0, subsample: Optional[int] = None,
                 root: Optional[str] = None):
    """One of the tabular data sets with its usual sensitive attribute.

    Parameters
    ----------
    dataset : {"adult", "german", "compas"}
    sensitive : str or list of str, optional
        Default: sex (Adult), age (German), race (COMPAS). A list of one name is that name.
    seed, subsample, root
        Passed to the loader.

    Returns
    -------
    mxfair.datasets.TabularData
    """
    if dataset not in TABULAR_LOADERS:
        raise ValueError(f"dataset must be one of {sorted(TABULAR_LOADERS)}, got {dataset!r}")
    sensitive = sensitive or DEFAULT_SENSITIVE[dataset]
    if isinstance(sensitive, (list, tuple)) and len(sensitive) == 1:
        sensitive = sensitive[0]
    return TABULAR_LOADERS[dataset](root=root, sensitive=sensitive, seed=seed,
                                    subsample=subsample)


def mlp(hidden: int = 64, ctx: Optional[mx.Context] = None,
        seed: Optional[int] = None) -> gluon.nn.HybridSequential:
    """A two-layer perceptron with one logit per row (output (N, 1)), initialised, hybridized.

    With ``seed``, MXNet's generator is seeded first, so every method starts from the same
    weights.
    """
    if seed is not None:
        mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(hidden, activation="relu"), gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx or mx.cpu())
    net.hybridize()
    return net


def predict_scores(net: gluon.Block, X, ctx: Optional[mx.Context] = None,
                   batch_size: int = 1024) -> np.ndarray:
    """Probabilities from a net that outputs logits, in batches.

    Parameters
    ----------
    net : gluon.Block
        Outputs (N,) or (N, 1) logits (binary) or (N, K) logits (multi-class).
    X : np.ndarray or gluon.data.Dataset
        Inputs (N, ...), or a dataset whose items start with the input.

    Returns
    -------
    np.ndarray
        (N,) probabilities of the positive class, or (N, K) class probabilities.
    """
    ctx = ctx or mx.cpu()
    if isinstance(X, np.ndarray):
        batches = (X[i:i + batch_size] for i in range(0, len(X), batch_size))
    else:
        loader = gluon.data.DataLoader(X, batch_size=batch_size, shuffle=False)
        batches = (batch[0] for batch in loader)
    out = []
    for xb in batches:
        logits = net(mx.nd.array(xb, ctx=ctx) if isinstance(xb, np.ndarray)
                     else xb.as_in_context(ctx))
        if logits.ndim == 2 and logits.shape[1] > 1:
            out.append(mx.nd.softmax(logits, axis=-1).asnumpy())
        else:
            out.append(mx.nd.sigmoid(logits).reshape((-1,)).asnumpy())
    return np.concatenate(out)


def test_summary(labels, preds, groups, num_groups: int, num_classes: int = 2,
                 bootstrap: int = 200, seed: int = 0,
                 group_names: Optional[Sequence[str]] = None):
    """Headline figures of predictions on a test set, with bootstrap intervals.

    Parameters
    ----------
    labels, groups : array, shape (N,)
    preds : array
        Probabilities (N,) or hard 0/1 decisions (N,) (a decision of 1 is a score >= 0.5), or
        class probabilities (N, K).
    num_groups, num_classes : int
    bootstrap : int, default 200
        Bootstrap replicates (Poisson weights per row); 0 for no intervals.
    seed : int
        Seed of the bootstrap weights: the same for every method, so intervals compare.
    group_names : list of str, optional

    Returns
    -------
    (dict, FairnessReport)
        ``FairnessReport.summary()`` (with ``<name>_lo``/``<name>_hi`` when bootstrapped) and
        the report itself.
    """
    stats = GroupStats(num_groups, num_classes=num_classes, bootstrap=bootstrap, seed=seed,
                       group_names=list(group_names) if group_names is not None else None)
    stats.update(np.asarray(labels), np.asarray(preds, dtype=np.float32), np.asarray(groups))
    report = stats.report()
    return report.summary(), report


@dataclass
class Recipe:
    """What one training method changes in :func:`train`.

    Attributes
    ----------
    loader : DataLoader
        Yields ``(x, y, group)`` with ``y`` and ``group`` float32 of shape (N,).
    loss : callable
        ``loss(logits, y (N,), group (N,)) -> (N,)`` with logits (N,) (binary) or (N, K),
        called under ``autograd.record``.
    blocks : list of Block
        Extra trained blocks (an adversary); each gets its own Adam trainer.
    block_lr : float
        Learning rate of those trainers.
    after_step, after_epoch : callable
        ``after_step()`` after each optimizer step; ``after_epoch(net)`` after each epoch.
    after_batch, after_train : callable
        ``after_batch(net)`` after each optimizer step (after ``after_step``), e.g. a
        multiplier update measured on held-out rows; ``after_train(net)`` once at the end, e.g.
        loading the best iterate back.
    """

    loader: gluon.data.DataLoader
    loss: Callable
    blocks: List[gluon.Block] = field(default_factory=list)
    block_lr: float = 1e-2
    after_step: Callable[[], None] = lambda: None
    after_epoch: Callable[[gluon.Block], None] = lambda net: None
    after_batch: Callable[[gluon.Block], None] = lambda net: None
    after_train: Callable[[gluon.Block], None] = lambda net: None


def train(net: gluon.Block, recipe: Recipe, epochs: int, lr: float, ctx,
          monitor=None, bar=None) -> gluon.Block:
    """The one training loop of the examples: Adam for ``epochs`` under ``recipe``.

    Parameters
    ----------
    net : gluon.Block
        Outputs (N, 1) logits (binary; passed to the loss as (N,)) or (N, K) logits.
    recipe : Recipe
    epochs : int
    lr : float
        Adam's learning rate for ``net``.
    ctx : Context
    monitor : mxfair.callbacks.FairnessMonitor, optional
        ``monitor.evaluate(net, epoch)`` after each epoch (validation history).
    bar : tqdm, optional
        Advanced by one per batch.
    """
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    extra = [gluon.Trainer(b.collect_params(), "adam", {"learning_rate": recipe.block_lr})
             for b in recipe.blocks]
    for epoch in range(epochs):
        for x, y, g in recipe.loader:
            x, y, g = x.as_in_context(ctx), y.as_in_context(ctx), g.as_in_context(ctx)
            with autograd.record():
                out = net(x)  # (N, 1) logits of a binary task, (N, K) of K classes
                if out.shape[1] == 1:
                    out = out.reshape((-1,))
                loss = recipe.loss(out, y, g)  # (N,)
            loss.backward()
            for t in [trainer] + extra:
                t.step(x.shape[0])
            recipe.after_step()
            recipe.after_batch(net)
            if bar is not None:
                bar.update(1)
        recipe.after_epoch(net)
        if monitor is not None:
            monitor.evaluate(net, epoch)
    recipe.after_train(net)
    return net


def _cell(row: Dict[str, float], key: str) -> str:
    value = row.get(key, float("nan"))
    text = f"{value:.3f}"
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is not None and hi is not None:
        text += f" [{lo:.3f}, {hi:.3f}]"
    return text


def format_table(rows: Sequence[Dict[str, object]],
                 columns: Sequence[Tuple[str, str]] = HEADLINE,
                 extra: Sequence[Tuple[str, str, str]] = (("seconds", "time (s)", "{:.1f}"),)
                 ) -> str:
    """A plain-text table: one row per method, figures with their bootstrap intervals.

    Parameters
    ----------
    rows : list of dict
        Each has ``"method"`` and the keys named in ``columns`` (plus ``_lo``/``_hi``).
    columns : list of (key, title)
        Figures shown as ``value [lo, hi]``.
    extra : list of (key, title, format)
        Plain columns after the figures.
    """
    header = ["method"] + [title for _, title in columns] + [title for _, title, _ in extra]
    body = [
        [str(r["method"])] + [_cell(r, key) for key, _ in columns]
        + [fmt.format(r[key]) if key in r else "" for key, _, fmt in extra]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule] + [line(b) for b in body])


def plot_front(rows: Sequence[Dict[str, object]], path: Optional[str] = None,
               gaps: Sequence[Tuple[str, str]] = (
                   ("demographic_parity_difference", "demographic parity difference"),
                   ("equalized_odds_difference", "equalized odds difference")),
               score: Tuple[str, str] = ("accuracy", "test accuracy"),
               title: Optional[str] = None):
    """Accuracy against each fairness gap, one point per method, with the Pareto front.

    Error bars are the 95 % bootstrap intervals (``_lo``/``_hi`` keys) when present. Methods
    whose row has ``"kind": "post"`` (post-processing) are drawn as squares.

    Returns
    -------
    matplotlib.figure.Figure
        Also saved to ``path`` (PNG) when given.
    """
    fig = Figure(figsize=(6.0 * len(gaps), 4.8))  # no pyplot: no global state, any backend
    axes = fig.subplots(1, len(gaps), squeeze=False)
    colours = matplotlib.colormaps["tab10"]
    for ax, (gap, gap_title) in zip(axes[0], gaps):
        pts = np.array([[float(r[gap]), float(r[score[0]])] for r in rows])
        for i, r in enumerate(rows):
            x, y = pts[i]
            xerr = _err(r, gap, x)
            yerr = _err(r, score[0], y)
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="s" if r.get("kind") == "post" else "o",
                        color=colours(i % 10), ecolor=colours(i % 10), elinewidth=0.8,
                        capsize=2, markersize=7, label=str(r["method"]))
        front = pareto_front(pts[:, 0], pts[:, 1])
        if front.any():
            idx = np.flatnonzero(front)[np.argsort(pts[front, 0], kind="stable")]
            ax.step(pts[idx, 0], pts[idx, 1], where="post", color="0.35", linestyle="--",
                    linewidth=1, label="Pareto front", zorder=0)
        ax.set_xlabel(f"{gap_title} (lower is fairer)")
        ax.set_ylabel(score[1])
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title or "accuracy-fairness trade-off on the test set (95 % bootstrap bars)")
    fig.tight_layout()
    if path:
        _save(fig, path)
    return fig


def _err(row, key: str, value: float):
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [[max(value - lo, 0.0)], [max(hi - value, 0.0)]]


def plot_curves(histories: Dict[str, List[Dict[str, float]]], path: Optional[str] = None,
                keys: Sequence[Tuple[str, str]] = (
                    ("accuracy", "validation accuracy"),
                    ("demographic_parity_difference", "demographic parity difference"),
                    ("equalized_odds_difference", "equalized odds difference")),
                title: Optional[str] = None, bounds: Optional[Dict[str, float]] = None):
    """Per-epoch validation curves: one panel per figure, one line per method.

    Parameters
    ----------
    histories : dict of method name to list of records
        ``FairnessMonitor.history``-style records (``"epoch"`` and the ``keys``).
    bounds : dict of key to float, optional
        A dotted horizontal line in that key's panel (e.g. the bound of constrained training).

    Returns
    -------
    matplotlib.figure.Figure
        Also saved to ``path`` (PNG) when given.
    """
    fig = Figure(figsize=(5.0 * len(keys), 4.2))
    axes = fig.subplots(1, len(keys), squeeze=False)
    colours = matplotlib.colormaps["tab10"]
    for i, (name, history) in enumerate(histories.items()):
        epochs = [r["epoch"] + 1 for r in history]
        for ax, (key, _) in zip(axes[0], keys):
            ax.plot(epochs, [r.get(key, np.nan) for r in history], marker="o", markersize=3,
                    color=colours(i % 10), label=name)
    for ax, (key, key_title) in zip(axes[0], keys):
        if bounds and key in bounds:
            line = ax.axhline(bounds[key], color="0.3", linestyle=":", linewidth=1,
                              label=f"bound {bounds[key]:g}")
            ax.legend(handles=[line], fontsize=7, loc="upper right")  # methods: first panel
        ax.set_xlabel("epoch")
        ax.set_title(key_title)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(title or "validation figures after each epoch")
    fig.tight_layout()
    if path:
        _save(fig, path)
    return fig


def _save(fig, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=110)
