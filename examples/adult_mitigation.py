"""Bias mitigation on a tabular data set: one Gluon MLP, one training loop, many methods.

The same two-layer perceptron is trained on Adult (sensitive attribute: sex) by default, with the
same seed, epochs, batch size and optimizer, by every method of the table ``METHODS``:

=================  ===========================================================================
baseline           plain shuffle, cross-entropy
reweighing         ``ReweighingSampler``: (group, label) cells drawn with ``P(g) P(y)``
fairbatch          ``FairBatchSampler`` (equalized odds): batch composition adapted each epoch
loss-dp            ``FairnessRegularizedLoss``: cross-entropy + lam * demographic-parity
                   penalty, lam scheduled toward ``DP gap <= bound`` (``BoundSchedule``)
loss-eo            the same for equalized odds (TPR and FPR)
constrained        ``ConstrainedFairLoss``: lam is a Lagrange multiplier for ``DP gap <= bound``
                   measured on the training batches themselves
bounded-dp         ``mxfair.training.BoundedFairLoss``: ``DP gap <= bound`` measured on the
                   validation split (proxy-Lagrangian, two data sets)
bounded-eo         the same for equalized odds
adversarial        ``AdversarialDebiasing``: an adversary predicts the group from the output
thr-dp / -eo / -tpr  the baseline net plus ``ThresholdOptimizer`` per-group thresholds, fitted
                   on the validation split for demographic parity, equalized odds, equal
                   opportunity
=================  ===========================================================================

The in-training rows that enforce a fairness constraint are stated as a bound ``--bound``
(``eps``, default 0.05) on the between-groups difference the table reports, not as a penalty
weight: ``loss-*`` and ``bounded-*`` train on every training row, update their multiplier
from the gap measured on the validation split about ten times per epoch, and end on the most
accurate iterate whose validation gap met the bound (``BestIterate``).

It prints one table of test figures -- accuracy, balanced accuracy, demographic-parity and
equalized-odds differences with 95 % bootstrap intervals (``GroupStats(bootstrap=200)``), and
training time -- and writes two PNGs to ``--out``: the accuracy-fairness front and the per-epoch
validation curves (``FairnessMonitor``). ``--json PATH`` writes the table as JSON too (per method
and seed: the figures, their intervals, the stated bound and whether the test figure met it);
``--seeds 0 1 2 3 4`` repeats everything at each seed (the splits and the initial weights
change) and prints the mean and standard deviation over the seeds. It ends with
``mxfair.audit`` of the baseline and of the best mitigated net (the trained method with the
smallest demographic-parity difference among those within 0.02 of the baseline's accuracy):
permutation p-values of the gaps, what drives the gap (gap attribution through the net's
gradients), proxies of the sensitive attribute, label bias; one HTML page each in ``--out``,
with its figures as PNG beside it.

Usage::

    python examples/adult_mitigation.py                     # Adult, sex, 10 epochs, all methods
    python examples/adult_mitigation.py --dataset german --epochs 60
    python examples/adult_mitigation.py --dataset compas --sensitive race sex  # intersectional
    python examples/adult_mitigation.py --methods baseline loss-dp thr-dp --bound 0.03
    python examples/adult_mitigation.py --methods bounded-dp bounded-eo --seeds 0 1 2 3 4 \
        --json out/adult_bounds.json
"""
import argparse
import json
import logging
import math
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
    HEADLINE,
    Recipe,
    format_table,
    mlp,
    predict_scores,
    seed_all,
    test_summary,
    train,
)

from mxfair import audit  # noqa: E402
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
from mxfair.training import (  # noqa: E402
    BestIterate,
    BoundedFairLoss,
    BoundSchedule,
    update_interval,
)

DEFAULT_EPOCHS = {"adult": 10, "german": 60, "compas": 20}  # about 1,000 batches each
GAPS = ("demographic_parity_difference", "equalized_odds_difference")  # the figures' gaps

# ----------------------------------------------------------------------------------------------
# The methods: what each one changes in the shared loop (_common.train)
# ----------------------------------------------------------------------------------------------
def _dataset(data):
    tr = data.train
    return gluon.data.ArrayDataset(tr.X, tr.y.astype(np.float32), tr.groups.astype(np.float32))


@dataclass
class HeldOut:
    """What the two-data-set scheme adds to a recipe (see :func:`held_out`)."""

    loader: gluon.data.DataLoader
    after_batch: Callable[[gluon.Block], None]
    after_train: Callable[[gluon.Block], None]
    best: BestIterate


def held_out(data, args, player, keep_all: bool = False) -> HeldOut:
    """The two-data-set scheme: train on the training rows, measure the bound on the
    validation split about ten times per epoch, update ``player`` (a ``BoundedFairLoss`` or a
    ``BoundSchedule``) from it, keep the best iterate that meets the bound there (every
    iterate too with ``keep_all``, for ``BestIterate.mixture``).

    Why the validation split and not a slice of the training rows (``constraint_slice``):
    the bound is only as good as the rows it is measured on. On COMPAS a fifth of the training
    rows is 630 rows (standard error of a gap about 0.04, of the order of the bound) and costs
    the model a fifth of its training rows; the validation split has 1,055 and costs none
    (docs/bounds.md measures both).
    """
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, shuffle=True)
    held = gluon.data.DataLoader(data.to_gluon(split="val"), batch_size=4096)
    monitor = FairnessMonitor(held, data.num_groups, from_logits=True, progress=False)
    best = BestIterate(player, keep_all=keep_all)
    every = update_interval(len(loader))
    steps = [0]

    def after_batch(net):
        steps[0] += 1
        if steps[0] % every == 0:
            stats = monitor.collect(net)  # hard decisions of the current net on the slice
            player.update(stats)
            best.consider(net, stats, step=steps[0])

    def after_train(net):
        if best.best is not None:
            best.restore(net)  # warns when no iterate met the bound on the slice

    return HeldOut(loader, after_batch, after_train, best)


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


def fair_loss(data, args, ctx, constraint: str = "demographic_parity") -> Recipe:
    """Cross-entropy plus ``lam`` times the squared gap of the soft per-group rates, with
    ``lam`` scheduled toward ``gap <= args.bound`` on held-out rows (``BoundSchedule``)."""
    loss = FairnessRegularizedLoss(data.num_groups, constraint=constraint, from_logits=True)
    loss.hybridize()
    schedule = BoundSchedule(loss, args.bound, constraint, data.num_groups)
    part = held_out(data, args, schedule)
    return Recipe(part.loader, loss, after_batch=part.after_batch, after_train=part.after_train)


def constrained(data, args, ctx, constraint: str = "demographic_parity",
                lr: float = 0.05) -> Recipe:
    """Lagrangian training for ``gap <= args.bound``: lam rises by dual ascent while the
    measured (hard) gap of the recent batches is above the bound, and falls when below."""
    loss = ConstrainedFairLoss(data.num_groups, bound=args.bound, constraint=constraint, lr=lr)
    loader = gluon.data.DataLoader(_dataset(data), batch_size=args.batch_size, shuffle=True)
    return Recipe(loader, loss, after_step=loss.update_multiplier)


def bounded(data, args, ctx, constraint: str = "demographic_parity",
            keep_all: bool = False, proxy: str = "absolute") -> Recipe:
    """The proxy-Lagrangian game of Cotter et al. (2019): the net descends the weighted
    cross-entropy and soft pair gaps on training batches, the weights follow the hard gaps
    measured on held-out rows; the best iterate that meets the bound there is kept.
    The recipe's ``held_out`` attribute is the :class:`HeldOut` (its ``best``)."""
    loss = BoundedFairLoss(data.num_groups, args.bound, constraint=constraint, from_logits=True,
                           proxy=proxy)
    loss.hybridize()
    part = held_out(data, args, loss, keep_all=keep_all)
    recipe = Recipe(part.loader, loss, after_batch=part.after_batch,
                    after_train=part.after_train)
    recipe.held_out = part
    return recipe


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
    #: The test figure the method's ``--bound`` applies to (None: no bound is stated).
    bound_on: Optional[str] = None


#: The methods, in table order. The rows with ``bound_on`` take ``--bound`` as their only
#: fairness setting; the other hyperparameters come from a few runs on Adult (docs/benchmarks.md).
METHODS: Dict[str, Method] = {
    "baseline": Method("baseline", baseline),
    "reweighing": Method("reweighing sampler", reweighing),
    "fairbatch": Method("FairBatch (EO)",
                        partial(fairbatch, constraint="equalized_odds", alpha=0.01)),
    "loss-dp": Method("fair loss (DP <= bound, lam scheduled)",
                      partial(fair_loss, constraint="demographic_parity"),
                      bound_on="demographic_parity_difference"),
    "loss-eo": Method("fair loss (EO <= bound, lam scheduled)",
                      partial(fair_loss, constraint="equalized_odds"),
                      bound_on="equalized_odds_difference"),
    "constrained": Method("constrained, train batches (DP <= bound)",
                          partial(constrained, lr=0.05),
                          bound_on="demographic_parity_difference"),
    "bounded-dp": Method("bounded, held-out (DP <= bound)",
                         partial(bounded, constraint="demographic_parity"),
                         bound_on="demographic_parity_difference"),
    "bounded-eo": Method("bounded, held-out (EO <= bound)",
                         partial(bounded, constraint="equalized_odds"),
                         bound_on="equalized_odds_difference"),
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
                   help="the bound eps of every bound-stated row (loss-*, constrained, "
                        "bounded-*) on its between-groups difference")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--bootstrap", type=int, default=200, help="replicates for the intervals")
    p.add_argument("--subsample", type=int, default=None, help="rows kept per split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="run everything at each seed and report mean +- sd (default: --seed)")
    p.add_argument("--json", default=None, help="also write the results as JSON to this path")
    p.add_argument("--out", default="out", help="folder of the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--audit-permutations", type=int, default=10000,
                   help="permutations per gap in the closing audits (0: no audit)")
    args = p.parse_args(argv)
    if not (math.isfinite(args.bound) and 0.0 <= args.bound < 1.0):
        p.error(f"--bound must be a number in [0, 1), got {args.bound}")
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        p.error(f"--seeds must be distinct, got {args.seeds}")
    return args


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
            "epochs": epochs, "nets": nets}


def _load(args: argparse.Namespace):
    return load_tabular(args.dataset, sensitive=args.sensitive, seed=args.seed,
                        subsample=args.subsample, root=args.root)


def _row(key: str, kind: str, seconds: float, preds: np.ndarray, data, args) -> Dict:
    summary, report = test_summary(data.test.y, preds, data.test.groups, data.group_names,
                                   bootstrap=args.bootstrap, seed=args.seed)
    row = {"method": METHODS[key].label, "key": key, "kind": kind, "seconds": seconds,
           "seed": args.seed, "report": report, **summary}
    return {**row, **_bound_fields(METHODS[key].bound_on, args.bound, row)}


def _bound_fields(bound_on: Optional[str], bound: float, row: Dict) -> Dict:
    """The stated bound of a row and whether its test figure met it: ``bound_met`` on the
    point estimate, ``bound_met_interval`` when the bound lies at or above the interval's lower
    end (the test split cannot tell the figure from the bound)."""
    if bound_on is None:
        return {"bound": None, "bound_on": None, "bound_met": None,
                "bound_met_interval": None}
    value, lo = row[bound_on], row.get(f"{bound_on}_lo")
    return {"bound": bound, "bound_on": bound_on, "bound_met": bool(value <= bound),
            "bound_met_interval": None if lo is None else bool(lo <= bound)}


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


#: The figures averaged over seeds (``--seeds``) and written to the JSON summary.
SEED_FIGURES = tuple(key for key, _ in HEADLINE) + ("selection_rate", "seconds")


def summarize(rows: List[Dict]) -> List[Dict]:
    """Mean and sample standard deviation over seeds, per method (in first-seen order).

    Returns
    -------
    list of dict
        ``method``, ``key``, ``kind``, ``bound``, ``bound_on``, ``seeds`` (how many), for each
        figure of ``SEED_FIGURES`` ``<figure>_mean`` and ``<figure>_sd`` (0 for one seed), the
        mean bootstrap half-width ``<figure>_halfwidth`` where intervals were computed, and
        ``bound_met`` (the number of seeds whose test figure met the bound, None if no bound).
    """
    keys = list(dict.fromkeys(r["key"] for r in rows))
    out = []
    for key in keys:
        group = [r for r in rows if r["key"] == key]
        first = group[0]
        entry = {k: first[k] for k in ("method", "key", "kind", "bound", "bound_on")}
        entry["seeds"] = len(group)
        for fig in SEED_FIGURES:
            values = np.array([float(r.get(fig, np.nan)) for r in group])
            entry[f"{fig}_mean"] = float(np.mean(values))
            entry[f"{fig}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            if all(f"{fig}_lo" in r for r in group):
                half = [(r[f"{fig}_hi"] - r[f"{fig}_lo"]) / 2 for r in group]
                entry[f"{fig}_halfwidth"] = float(np.mean(half))
        entry["bound_met"] = (None if first["bound_on"] is None
                              else int(sum(bool(r["bound_met"]) for r in group)))
        out.append(entry)
    return out


def format_seed_table(summary: List[Dict]) -> str:
    """The results table over seeds: ``mean +- sd`` per figure."""
    cells = [["method"] + [title for _, title in HEADLINE] + ["bound met", "time (s)"]]
    for e in summary:
        met = "" if e["bound_met"] is None else f"{e['bound_met']}/{e['seeds']}"
        cells.append([e["method"]] + [f"{e[f'{k}_mean']:.3f} +- {e[f'{k}_sd']:.3f}"
                                      for k, _ in HEADLINE]
                     + [met, f"{e['seconds_mean']:.1f}"])
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = ["  ".join([c[0].ljust(widths[0])] + [x.rjust(w) for x, w in zip(c[1:], widths[1:])])
             for c in cells]
    return "\n".join([lines[0], "-" * len(lines[0])] + lines[1:])


def _plain(value):
    """JSON-safe: NaN and infinities become null, NumPy scalars Python ones."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def results_json(args: argparse.Namespace, data, epochs: int, seeds: List[int],
                 rows: List[Dict], summary: List[Dict]) -> Dict:
    """The document ``--json`` writes: the settings, one row per method and seed (every test
    figure of the table with its 95 % interval, the stated bound and whether it was met), and
    the per-method summary over seeds."""
    return {
        "format": "mxfair.examples.adult_mitigation/1",
        "dataset": data.name,
        "sensitive": list(data.sensitive),
        "group_names": list(data.group_names),
        "bound": args.bound,
        "epochs": epochs,
        "bootstrap": args.bootstrap,
        "seeds": list(seeds),
        "rows": [{k: _plain(v) for k, v in r.items() if k != "report"} for r in rows],
        "summary": [{k: _plain(v) for k, v in e.items()} for e in summary],
    }


def write_json(path: str, document: Dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, allow_nan=False)
        f.write("\n")


def best_mitigated(rows: List[Dict], tolerance: float = 0.02) -> Optional[Dict]:
    """The trained method (not the baseline) with the smallest demographic-parity difference
    among those whose accuracy is within ``tolerance`` of the baseline's."""
    base = next((r for r in rows if r["key"] == "baseline"), None)
    if base is None:
        return None
    fit = [r for r in rows if r["kind"] == "train" and r["key"] != "baseline"
           and r["accuracy"] >= base["accuracy"] - tolerance]
    return min(fit, key=lambda r: r["demographic_parity_difference"], default=None)


def audit_models(result: Dict, args: argparse.Namespace, name: str) -> Dict[str, str]:
    """``mxfair.audit`` of the baseline and the best mitigated net: print what drives the gap,
    write one page each; returns method key to page path."""
    data, pages = result["data"], {}
    best = best_mitigated(result["rows"])
    for key in ["baseline"] + ([best["key"]] if best is not None else []):
        label = METHODS[key].label
        rep = audit(result["nets"][key], data, train_data=data.train,
                    permutations=args.audit_permutations, bootstrap=args.bootstrap,
                    seed=args.seed, title=f"{data.name} ({', '.join(data.sensitive)}): audit "
                                          f"of {label}")
        sig = rep.significance.set_index("gap")
        dp = sig.loc["demographic_parity_difference"]
        print(f"\naudit of {label}: demographic parity difference {dp['observed']:.4f}, "
              f"permutation p = {dp['p_value']:.2g} (Holm {dp['p_holm']:.2g}, "
              f"{args.audit_permutations} permutations)")
        print(f"  {rep.attribution.describe()}")
        for feature, value in rep.attribution.ranking()[:4]:
            share = value / rep.attribution.gap if rep.attribution.gap else float("nan")
            print(f"    {feature:<16} {value:+.4f}  ({share:.0%} of the gap)")
        proxies = rep.proxies.head(3)
        print("  proxies of " + ", ".join(data.sensitive) + ": " + ", ".join(
            f"{r.feature} (AUC {r.auc:.2f})" for r in proxies.itertuples()))
        pages[key] = os.path.join(args.out, f"{name}_audit_{key}.html")
        rep.to_html(pages[key])
        rep.save_figures(args.out, prefix=f"{name}_audit_{key}_")  # the page's figures as PNG
        result.setdefault("audits", {})[key] = rep
    return pages


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run, print the table, write the figures (and the JSON with ``--json``).

    Returns
    -------
    dict
        :func:`run`'s dict (of the first seed) plus ``table`` (str), ``figures`` (name to PNG
        path), ``seeds``, ``all_rows`` (every seed's rows), ``summary`` (:func:`summarize`),
        ``json`` (the document written with ``--json``, else None) and, when the baseline ran,
        its ``groups`` (per-group rows of :func:`group_table`), ``accuracy`` and
        ``demographic_parity_difference`` on the test set. and (unless
        ``--audit-permutations 0``) ``pages`` (method key to audit page) and ``audits``
        (method key to :class:`mxfair.AuditReport`), for the first seed.
    """
    args = parse_args(argv)
    seeds = args.seeds or [args.seed]
    args.seed = seeds[0]
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
          f"difference (between groups); bound of the bound-stated rows: {args.bound}; time: "
          f"training (+ threshold fitting)\n")
    print(table)
    name = f"{args.dataset}_{'-'.join(data.sensitive)}"
    os.makedirs(args.out, exist_ok=True)  # out/ does not exist in a fresh checkout (audit pages)
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
        dp_bounded = [k for k in args.methods
                      if METHODS[k].bound_on == "demographic_parity_difference"]
        bounds = {"demographic_parity_difference": args.bound} if dp_bounded else None
        plot_histories(result["histories"], keys=("accuracy",) + GAPS, bounds=bounds,
                       path=figures["curves"],
                       title=f"{data.name} ({', '.join(data.sensitive)}): validation figures "
                             "after each epoch")
    else:
        del figures["curves"]
    all_rows = list(result["rows"])
    for seed in seeds[1:]:  # the other seeds: new splits and initial weights, same settings
        other = argparse.Namespace(**{**vars(args), "seed": seed})
        all_rows += run(other)["rows"]
    summary = summarize(all_rows)
    if len(seeds) > 1:
        print(f"\nTest set, mean +- sd over seeds {seeds}; bound met: seeds whose test figure "
              f"met the bound {args.bound}\n")
        print(format_seed_table(summary))
    document = None
    if args.json:
        document = results_json(args, data, result["epochs"], seeds, all_rows, summary)
        write_json(args.json, document)
        figures_and_json = list(figures.values()) + [args.json]
    else:
        figures_and_json = list(figures.values())
    print(f"\nfigures: {', '.join(figures_and_json)}")
    if args.audit_permutations > 0 and "baseline" in result["nets"]:
        pages = audit_models(result, args, name)
        print(f"\naudit pages: {', '.join(pages.values())}")
        result["pages"] = pages
    print(f"done in {time.perf_counter() - start:.1f} s")
    result.update(table=table, figures=figures, seeds=seeds, all_rows=all_rows,
                  summary=summary, json=document)
    return result


if __name__ == "__main__":
    main()
