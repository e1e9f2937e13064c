"""Helpers shared by the example scripts: seeding, nets, one training loop, one results table.

Each idea has one home here so that ``adult_mitigation.py``, ``cifar10s.py`` and
``estimator_fairness.py`` train and print in the same way (the figures, test summaries and the
data sets come from the library: ``mxfair.plot``, ``mxfair.metrics.group_report``,
``mxfair.datasets.load_tabular``):

- :func:`seed_all`, :func:`mlp`, :func:`predict_scores`;
- :class:`Recipe` and :func:`train` -- the one training loop, and what a method changes in it;
- :func:`test_summary` -- :func:`mxfair.metrics.group_report` of test predictions by group name;
- :func:`format_table` -- the one results table.
"""
import random
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from mxfair.metrics import group_report

__all__ = [
    "HEADLINE",
    "seed_all",
    "mlp",
    "predict_scores",
    "test_summary",
    "Recipe",
    "train",
    "format_table",
]

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


def test_summary(labels, preds, groups, group_names: Sequence[str], bootstrap: int = 200,
                 seed: int = 0):
    """Headline figures of predictions on a test set, with bootstrap intervals.

    :func:`mxfair.metrics.group_report` of probabilities (N,), 0/1 decisions (N,) or class
    probabilities (N, K), the groups named by ``group_names[groups]``; the same ``seed`` for
    every method, so their intervals compare.

    Returns
    -------
    (dict, FairnessReport)
        ``FairnessReport.summary()`` (with ``<name>_lo``/``<name>_hi``) and the report.
    """
    report = group_report(np.asarray(labels), y_score=np.asarray(preds, dtype=np.float64),
                          from_logits=False, bootstrap=bootstrap, seed=seed,
                          sensitive_features=np.asarray(group_names)[np.asarray(groups)])
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
    """

    loader: gluon.data.DataLoader
    loss: Callable
    blocks: List[gluon.Block] = field(default_factory=list)
    block_lr: float = 1e-2
    after_step: Callable[[], None] = lambda: None
    after_epoch: Callable[[gluon.Block], None] = lambda net: None


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
            if bar is not None:
                bar.update(1)
        recipe.after_epoch(net)
        if monitor is not None:
            monitor.evaluate(net, epoch=epoch)
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
