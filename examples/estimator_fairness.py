"""Bias mitigation through ``Estimator.fit``: group-aware batches, fairness validation, a fair
checkpoint and fairness early stopping.

The same MLP and data as ``adult_mitigation.py``, but the loop is MXNet's
``gluon.contrib.estimator.Estimator``. mxfair adds:

- ``GroupBatchProcessor``: batches are ``(x, y, group)``; a loss that takes the groups
  (``FairnessRegularizedLoss``) gets them, a plain Gluon loss does not;
- ``FairnessValidationHandler``: a ``FairnessMonitor`` on the validation split after each epoch;
- ``FairCheckpointHandler``: keeps the most accurate epoch whose demographic-parity difference
  is within ``--max-gap`` and restores it when training ends;
- ``FairnessEarlyStoppingHandler``: stops once the gap is within the bound and validation accuracy
  has not improved for ``--patience`` epochs, or when the gap keeps growing.

Runs (same seed and budget): the plain loss, the ``ReweighingSampler``, and the fair loss for
demographic parity. Prints the test table (as ``adult_mitigation.py``) with the epoch each run
restored, and writes the per-epoch validation curves with the bound to ``--out``.

Usage::

    python examples/estimator_fairness.py
    python examples/estimator_fairness.py --dataset german --max-gap 0.1 --epochs 40
"""
import argparse
import logging
import os
import sys
import time
import warnings
from typing import Dict, List, Optional

import mxnet as mx
from mxnet import gluon
from mxnet.gluon.contrib.estimator import Estimator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adult_mitigation  # noqa: E402  (its loaders: one home for each method's data pipeline)
from _common import format_table, mlp, predict_scores, seed_all, test_summary  # noqa: E402

from mxfair.callbacks import (  # noqa: E402
    FairCheckpointHandler,
    FairnessEarlyStoppingHandler,
    FairnessMonitor,
    FairnessValidationHandler,
    GroupBatchProcessor,
)
from mxfair.datasets import TABULAR_LOADERS, load_tabular  # noqa: E402
from mxfair.loss import FairnessRegularizedLoss  # noqa: E402
from mxfair.plot import plot_histories  # noqa: E402

GAP = "demographic_parity_difference"
DEFAULT_EPOCHS = {"adult": 10, "german": 60, "compas": 20}


def _plain(data, args, ctx):
    return (adult_mitigation.baseline(data, args, ctx).loader,
            gluon.loss.SigmoidBinaryCrossEntropyLoss())


def _reweighing(data, args, ctx):
    return (adult_mitigation.reweighing(data, args, ctx).loader,
            gluon.loss.SigmoidBinaryCrossEntropyLoss())


def _fair_loss(data, args, ctx):
    loss = FairnessRegularizedLoss(data.num_groups, constraint="demographic_parity",
                                   lam=args.lam)
    return adult_mitigation.baseline(data, args, ctx).loader, loss


#: name -> (label, function giving the training DataLoader and the Gluon loss)
RUNS = {
    "baseline": ("baseline", _plain),
    "reweighing": ("reweighing sampler", _reweighing),
    "loss-dp": ("fair loss (DP)", _fair_loss),
}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=sorted(TABULAR_LOADERS), default="adult")
    p.add_argument("--sensitive", nargs="+", default=None)
    p.add_argument("--root", default=None)
    p.add_argument("--epochs", type=int, default=None, help=f"default: {DEFAULT_EPOCHS}")
    p.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    p.add_argument("--lam", type=float, default=5.0, help="weight of the DP penalty")
    p.add_argument("--max-gap", type=float, default=0.05,
                   help="bound on the validation demographic-parity difference")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--subsample", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out")
    p.add_argument("--quiet", action="store_true", help="no progress bars or Estimator log")
    return p.parse_args(argv)


def fit_one(key: str, data, args, ctx) -> Dict:
    """One ``Estimator.fit`` with the three fairness handlers; test figures of the restored
    net."""
    label, make = RUNS[key]
    seed_all(args.seed)
    net = mlp(args.hidden, ctx, seed=args.seed)
    loader, loss = make(data, args, ctx)
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[args.dataset]
    monitor = FairnessMonitor(gluon.data.DataLoader(data.to_gluon(split="val"), batch_size=1024),
                              data.num_groups, from_logits=True, group_names=data.group_names,
                              progress=not args.quiet, log_level=logging.DEBUG)
    validation = FairnessValidationHandler(monitor)
    checkpoint = FairCheckpointHandler(validation, max_gap=args.max_gap, gap=GAP,
                                       score="accuracy")
    stopping = FairnessEarlyStoppingHandler(validation, max_gap=args.max_gap, gap=GAP,
                                            score="accuracy", patience=args.patience)
    est = Estimator(net, loss, trainer=gluon.Trainer(net.collect_params(), "adam",
                                                     {"learning_rate": args.lr}),
                    context=ctx, batch_processor=GroupBatchProcessor())
    est.logger.disabled = args.quiet
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:  # "no epoch met the bound" -> table
        warnings.simplefilter("always", RuntimeWarning)
        est.fit(loader, epochs=epochs, event_handlers=[validation, checkpoint, stopping])
    seconds = time.perf_counter() - start
    met = checkpoint.best_epoch is not None
    summary, _ = test_summary(data.test.y, predict_scores(net, data.test.X, ctx),
                              data.test.groups, data.group_names, bootstrap=args.bootstrap,
                              seed=args.seed)
    return {
        "method": label, "key": key, "seconds": seconds, **summary,
        "epochs_run": len(monitor.history),
        "restored_epoch": checkpoint.best_epoch + 1 if met else float("nan"),
        "stop_reason": stopping.stop_reason or "",
        "warnings": [str(w.message) for w in caught if "FairCheckpoint" in str(w.message)],
        "history": monitor.history,
    }


def main(argv: Optional[List[str]] = None) -> Dict:
    """Fit every run, print the table, write the curves.

    Returns
    -------
    dict
        ``rows`` (one per run: test figures, ``epochs_run``, ``restored_epoch`` (1-based, NaN
        if no epoch met the bound), ``stop_reason``, ``history``), ``table``, ``figures``.
    """
    args = parse_args(argv)
    ctx = mx.cpu()
    start = time.perf_counter()
    data = load_tabular(args.dataset, sensitive=args.sensitive, seed=args.seed,
                        subsample=args.subsample, root=args.root)
    print(f"{data.name}: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test "
          f"rows, groups {data.group_names}; bound: validation DP difference <= {args.max_gap}")
    rows = [fit_one(key, data, args, ctx) for key in args.runs]
    table = format_table(rows, extra=(("epochs_run", "epochs", "{:d}"),
                                      ("restored_epoch", "restored", "{:g}"),
                                      ("seconds", "time (s)", "{:.1f}")))
    print(f"\nTest set, seed {args.seed} [95 % bootstrap interval, {args.bootstrap} replicates]; "
          f"epochs: run before early stopping; restored: the most accurate epoch with "
          f"validation DP difference <= {args.max_gap} (nan: none met it, last epoch kept)\n")
    print(table)
    for r in rows:
        if r["stop_reason"]:
            print(f"{r['method']}: stopped early, {r['stop_reason']}")
    figures = {"curves": os.path.join(args.out, f"estimator_{data.name}_curves.png")}
    plot_histories({r["method"]: r["history"] for r in rows}, path=figures["curves"],
                   bounds={GAP: args.max_gap},
                   title=f"{data.name}: Estimator.fit, validation after each epoch")
    print(f"\nfigures: {figures['curves']}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return {"rows": rows, "table": table, "figures": figures, "data": data}


if __name__ == "__main__":
    main()
