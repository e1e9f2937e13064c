"""Bias mitigation on a tabular data set: one Gluon MLP, one training loop, many methods.

The same two-layer perceptron is trained on Adult (sensitive attribute: sex) by default, with the
same seed, epochs, batch size and optimizer, by every method of the table ``METHODS``:

=================  ===========================================================================
baseline           plain shuffle, cross-entropy
reweighing         ``ReweighingSampler``: (group, label) cells drawn with ``P(g) P(y)``
fairbatch          ``FairBatchSampler`` (equalized odds): batch composition adapted each epoch
loss-dp            ``FairnessRegularizedLoss``: cross-entropy + lam * demographic-parity penalty
loss-eo            the same for equalized odds (TPR and FPR)
constrained        ``ConstrainedFairLoss``: lam is a Lagrange multiplier for ``DP gap <= bound``
adversarial        ``AdversarialDebiasing``: an adversary predicts the group from the output
thr-dp / -eo / -tpr  the baseline net plus ``ThresholdOptimizer`` per-group thresholds, fitted
                   on the validation split for demographic parity, equalized odds, equal
                   opportunity
=================  ===========================================================================

It prints one table of test figures -- accuracy, balanced accuracy, demographic-parity and
equalized-odds differences with 95 % bootstrap intervals (``GroupStats(bootstrap=200)``), and
training time -- and writes two PNGs to ``--out``: the accuracy-fairness front and the per-epoch
validation curves (``FairnessMonitor``).

Usage::

    python examples/adult_mitigation.py                     # Adult, sex, 10 epochs, all methods
    python examples/adult_mitigation.py --dataset german --epochs 60
    python examples/adult_mitigation.py --dataset compas --sensitive race sex  # intersectional
    python examples/adult_mitigation.py --methods baseline loss-dp thr-dp --bound 0.03
"""
import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable, Dict, List, Optional

import mxnet as mx
import numpy as np
from mxnet import gluon
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    Recipe,
    format_table,
    mlp,
    predict_scores,
    seed_all,
    test_summary,
    train,
)

from mxfair.callbacks import FairnessMonitor  # noqa: E402
from mxfair.data import FairBatchSampler, ReweighingSampler  # noqa: E402
from mxfair.datasets import TABULAR_LOADERS, load_tabular  # noqa: E402
from mxfair.loss import (  # noqa: E402
    AdversarialDebiasing,
    ConstrainedFairLoss,
    FairnessRegularizedLoss,
)
from mxfair.plot import plot_histories, plot_pareto  # noqa: E402
from mxfair.postprocessing import ThresholdOptimizer  # noqa: E402

DEFAULT_EPOCHS = {"adult": 10, "german": 60, "compas": 20}  # about 1,000 batches each
GAPS = ("demographic_parity_difference", "equalized_odds_difference")  # the figures' gaps


# ----------------------------------------------------------------------------------------------
# The methods: what each one changes in the shared loop (_common.train)
# ----------------------------------------------------------------------------------------------
def _dataset(data):
    tr = data.train
    return gluon.data.ArrayDataset(tr.X, tr.y.astype(np.float32), tr.groups.astype(np.float32))


def _bce():
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    return lambda out, y, g: bce(out, y)


def baseline(data, args, ctx) -> Recipe:
    """Plain shuffled minibatches and cross-entropy."""
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, shuffle=True)
    return Recipe(loader, _bce())


def reweighing(data, args, ctx) -> Recipe:
    """Rows drawn so that label and group are independent (Kamiran & Calders)."""
    sampler = ReweighingSampler(data.train.y, data.train.groups, seed=args.seed,
                                num_groups=data.num_groups)
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, sampler=sampler)
    return Recipe(loader, _bce())


def fairbatch(data, args, ctx, constraint: str = "equalized_odds", alpha: float = 0.01) -> Recipe:
    """FairBatch: each epoch, more rows from the (group, label) cell with the larger loss."""
    sampler = FairBatchSampler(data.train.y, data.train.groups, args.batch_size,
                               constraint=constraint, alpha=alpha, seed=args.seed,
                               num_groups=data.num_groups)
    loader = gluon.data.DataLoader(_dataset(data), batch_sampler=sampler)
    x_train = mx.nd.array(data.train.X, ctx=ctx)

    def after_epoch(net):  # per-row probabilities of the current model drive the next ratios
        sampler.update(probs=mx.nd.sigmoid(net(x_train)).reshape((-1,)))

    return Recipe(loader, _bce(), after_epoch=after_epoch)


def fair_loss(data, args, ctx, constraint: str = "demographic_parity",
              lam: float = 5.0) -> Recipe:
    """Cross-entropy plus ``lam`` times the squared gap of the soft per-group rates."""
    loss = FairnessRegularizedLoss(data.num_groups, constraint=constraint, lam=lam)
    loss.hybridize()
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, shuffle=True)
    return Recipe(loader, loss)


def constrained(data, args, ctx, constraint: str = "demographic_parity",
                lr: float = 0.05) -> Recipe:
    """Lagrangian training for ``gap <= args.bound``: lam rises by dual ascent while the
    measured (hard) gap of the recent batches is above the bound, and falls when below."""
    loss = ConstrainedFairLoss(data.num_groups, bound=args.bound, constraint=constraint, lr=lr)
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, shuffle=True)
    return Recipe(loader, loss, after_step=loss.update_multiplier)


def adversarial(data, args, ctx, constraint: str = "equalized_odds",
                alpha: float = 0.3) -> Recipe:
    """An adversary predicts the group from the logit (and label); its reversed gradient,
    scaled by ``alpha``, trains the net to hide the group (Zhang et al., 2018)."""
    adv = AdversarialDebiasing(data.num_groups, constraint=constraint, alpha=alpha)
    adv.initialize(mx.init.Xavier(), ctx=ctx)
    adv.hybridize()
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, shuffle=True)
    return Recipe(loader, lambda out, y, g: bce(out, y) + adv(out, y, g), blocks=[adv])


@dataclass
class Method:
    """A row of the results table: a label and either a recipe (trained) or a constraint for
    ``ThresholdOptimizer`` on the baseline's scores (post-processing)."""

    label: str
    recipe: Optional[Callable] = None
    thresholds: Optional[str] = None


#: The methods, in table order. Hyperparameters from a few runs on Adult (see the README).
METHODS: Dict[str, Method] = {
    "baseline": Method("baseline", baseline),
    "reweighing": Method("reweighing sampler", reweighing),
    "fairbatch": Method("FairBatch (EO)",
                        partial(fairbatch, constraint="equalized_odds", alpha=0.01)),
    "loss-dp": Method("fair loss (DP, lam=5)",
                      partial(fair_loss, constraint="demographic_parity", lam=5.0)),
    "loss-eo": Method("fair loss (EO, lam=5)",
                      partial(fair_loss, constraint="equalized_odds", lam=5.0)),
    "constrained": Method("constrained (DP <= bound)", partial(constrained, lr=0.05)),
    "adversarial": Method("adversarial (EO)",
                          partial(adversarial, constraint="equalized_odds", alpha=0.3)),
    "thr-dp": Method("baseline + thresholds (DP)", thresholds="demographic_parity"),
    "thr-eo": Method("baseline + thresholds (EO)", thresholds="equalized_odds"),
    "thr-tpr": Method("baseline + thresholds (TPR)", thresholds="equal_opportunity"),
}


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------
def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=sorted(TABULAR_LOADERS), default="adult")
    p.add_argument("--sensitive", nargs="+", default=None,
                   help="sensitive attribute(s); several give intersectional groups "
                        "(default: the data set's usual one: sex, age, race)")
    p.add_argument("--root", default=None, help="folder of the raw data files")
    p.add_argument("--epochs", type=int, default=None, help=f"default: {DEFAULT_EPOCHS}")
    p.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                   help="which rows of the table to run (default: all)")
    p.add_argument("--bound", type=float, default=0.05,
                   help="demographic-parity bound of the constrained method")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--bootstrap", type=int, default=200, help="replicates for the intervals")
    p.add_argument("--subsample", type=int, default=None, help="rows kept per split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out", help="folder of the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def run(args: argparse.Namespace, data=None, ctx: Optional[mx.Context] = None) -> Dict:
    """Train and evaluate every method of ``args.methods``; no printing, no files.

    Returns
    -------
    dict
        ``rows`` (one dict per method: ``method``, ``key``, ``kind``, ``seconds`` and the
        figures of ``FairnessReport.summary()`` with intervals), ``histories`` (per trained
        method, the validation records per epoch), ``data``.
    """
    ctx = ctx or mx.cpu()
    if data is None:
        data = _load(args)
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[args.dataset]
    keys = list(args.methods)
    post = [k for k in keys if METHODS[k].thresholds]
    trained = [k for k in keys if METHODS[k].recipe]
    if post and "baseline" not in trained:
        trained.insert(0, "baseline")  # the thresholds need the baseline's scores
    val_loader = gluon.data.DataLoader(data.to_gluon(split="val"), batch_size=1024)
    test = data.test

    # One bar over every batch of every trained method (a FairBatch epoch drops the last one).
    per_epoch = -(-len(data.train) // args.batch_size)
    bar = tqdm(total=len(trained) * epochs * per_epoch, unit="batch", disable=args.quiet,
               dynamic_ncols=True)
    nets, rows, histories = {}, {}, {}
    try:
        for key in trained:
            method = METHODS[key]
            bar.set_description(method.label)
            seed_all(args.seed)  # the same shuffles and initial weights for every method
            net = mlp(args.hidden, ctx, seed=args.seed)
            recipe = method.recipe(data, args, ctx)
            monitor = FairnessMonitor(val_loader, data.num_groups, from_logits=True,
                                      group_names=data.group_names, progress=False,
                                      log_level=logging.DEBUG)
            start = time.perf_counter()
            train(net, recipe, epochs, args.lr, ctx, monitor, bar)
            seconds = time.perf_counter() - start
            nets[key], histories[method.label] = net, monitor.history
            scores = predict_scores(net, test.X, ctx)
            rows[key] = _row(key, "train", seconds, scores, data, args)
    finally:
        bar.close()

    if post:
        val_scores = predict_scores(nets["baseline"], data.val.X, ctx)
        test_scores = predict_scores(nets["baseline"], test.X, ctx)
        for key in post:
            start = time.perf_counter()
            opt = ThresholdOptimizer(constraint=METHODS[key].thresholds, random_state=args.seed,
                                     from_logits=False)  # predict_scores gives probabilities
            opt.fit(val_scores, data.val.y, data.val.groups, num_groups=data.num_groups)
            decisions = opt.predict(test_scores, test.groups)  # 0/1, randomised where needed
            seconds = rows["baseline"]["seconds"] + time.perf_counter() - start
            rows[key] = _row(key, "post", seconds, decisions, data, args)
    return {"rows": [rows[k] for k in keys], "histories": histories, "data": data,
            "epochs": epochs}


def _load(args: argparse.Namespace):
    return load_tabular(args.dataset, sensitive=args.sensitive, seed=args.seed,
                        subsample=args.subsample, root=args.root)


def _row(key: str, kind: str, seconds: float, preds: np.ndarray, data, args) -> Dict:
    summary, report = test_summary(data.test.y, preds, data.test.groups, data.group_names,
                                   bootstrap=args.bootstrap, seed=args.seed)
    return {"method": METHODS[key].label, "key": key, "kind": kind, "seconds": seconds,
            "report": report, **summary}


def group_table(report) -> List[tuple]:
    """Rows (group, count, accuracy, selection rate, TPR, FPR) of a test report."""
    cols = ["count", "accuracy", "selection_rate", "true_positive_rate", "false_positive_rate"]
    values = [report[c] for c in cols]
    return [(name, int(values[0][g])) + tuple(float(v[g]) for v in values[1:])
            for g, name in enumerate(report.group_names)]


def format_groups(rows: List[tuple]) -> str:
    width = max(len(r[0]) for r in rows + [("group",)])
    lines = [f"{'group':<{width}}  {'count':>6}  {'accuracy':>8}  {'selection':>9}  "
             f"{'TPR':>6}  {'FPR':>6}"]
    lines += [f"{name:<{width}}  {n:>6}  {acc:>8.4f}  {sel:>9.4f}  {tpr:>6.4f}  {fpr:>6.4f}"
              for name, n, acc, sel, tpr, fpr in rows]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run, print the table, write the figures.

    Returns
    -------
    dict
        :func:`run`'s dict plus ``table`` (str), ``figures`` (name to PNG path) and, when the
        baseline ran, its ``groups`` (per-group rows of :func:`group_table`), ``accuracy`` and
        ``demographic_parity_difference`` on the test set.
    """
    args = parse_args(argv)
    start = time.perf_counter()
    data = _load(args)
    print(f"{data.name}: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test "
          f"rows, {data.num_features} features, groups {data.group_names}")
    result = run(args, data)
    base = next((r for r in result["rows"] if r["key"] == "baseline"), None)
    if base is not None:  # the problem first: who the unmitigated model treats differently
        groups = group_table(base["report"])
        print(f"\nbaseline on the test set: accuracy {base['accuracy']:.4f}, selection rate "
              f"{base['selection_rate']:.4f}")
        print(format_groups(groups))
        print(f"demographic parity difference {base['demographic_parity_difference']:.4f}, "
              f"equalized odds difference {base['equalized_odds_difference']:.4f}")
        result.update(groups=groups, accuracy=base["accuracy"],
                      demographic_parity_difference=base["demographic_parity_difference"])
    table = format_table(result["rows"])
    print(f"\nTest set, {result['epochs']} epochs, seed {args.seed}; [95 % bootstrap interval, "
          f"{args.bootstrap} replicates]; DP/EO diff: demographic parity / equalized odds "
          f"difference (between groups); constrained bound: DP <= {args.bound}; time: "
          f"training (+ threshold fitting)\n")
    print(table)
    name = f"{args.dataset}_{'-'.join(data.sensitive)}"
    figures = {
        "front": os.path.join(args.out, f"{name}_front.png"),
        "curves": os.path.join(args.out, f"{name}_curves.png"),
    }
    rows = {r["method"]: r for r in result["rows"]}
    plot_pareto(rows, x=GAPS, legend=True, path=figures["front"],
                markers={r["method"]: "s" for r in result["rows"] if r["kind"] == "post"},
                title=f"{data.name} ({', '.join(data.sensitive)}): accuracy-fairness trade-off "
                      "on the test set (95 % bootstrap bars)")
    if result["histories"]:
        bounds = ({"demographic_parity_difference": args.bound}
                  if "constrained" in args.methods else None)
        plot_histories(result["histories"], keys=("accuracy",) + GAPS, bounds=bounds,
                       path=figures["curves"],
                       title=f"{data.name} ({', '.join(data.sensitive)}): validation figures "
                             "after each epoch")
    else:
        del figures["curves"]
    print(f"\nfigures: {', '.join(figures.values())}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    result.update(table=table, figures=figures)
    return result


if __name__ == "__main__":
    main()
