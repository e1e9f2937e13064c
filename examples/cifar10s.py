"""CIFAR-10S: a small CNN trained on a colour/grayscale-skewed image set, with and without
mitigation, and its accuracy per domain.

CIFAR-10S (Wang et al., 2020) skews the *domain* with the class: in training, classes 0-4 are 95 %
colour and classes 5-9 are 95 % grayscale; every test image appears once in colour and once in
grayscale. A model that learns "grayscale means classes 5-9" is right on most training images and
wrong on the other domain's versions at test time. Offline, the images come from the stand-in
(scikit-learn digits drawn in two random colours, ``source="digits"``); with the CIFAR-10 files
on disk (``--source cifar10``) the same code runs on the real thing.

Methods (the same CNN, seed, epochs and optimizer, one loop, ``_common.train``):

- ``baseline``: shuffled minibatches, softmax cross-entropy;
- ``reweighing``: ``ReweighingSampler`` with the *domain* as the group: (domain, class) cells are
  drawn with ``P(domain) P(class)``, so the class no longer predicts the domain;
- ``fair-loss``: ``FairnessRegularizedLoss`` with the multi-class statistic: equal opportunity per
  class (one-vs-rest true positive rate, i.e. per-class recall) equalised across domains;
- ``thresholds``: per-domain thresholds (``ThresholdOptimizer``) apply to a *binary* decision, so
  they are shown on the binary sub-task the skew corrupts, "is the class in 5-9?" (score: the
  softmax mass on classes 5-9 of the baseline), fitted for equalized odds on the validation half.
  A 10-class argmax has no single threshold to move per group, which is why the 10-class table has
  no thresholds row.

The test set is split by base image into a validation half (per-epoch curves, threshold fitting)
and a test half (the tables). Printed: the 10-class table (accuracy, accuracy per domain and
their gap with bootstrap intervals, worst-domain accuracy, time) and the binary sub-task table.
Figures (``--out``): per-epoch validation curves and per-domain accuracy bars.

Usage::

    python examples/cifar10s.py                       # digits stand-in, all methods
    python examples/cifar10s.py --source cifar10 --subsample 5000 --epochs 15
"""
import argparse
import logging
import os
import sys
import time
from functools import partial
from typing import Dict, List, Optional, Tuple

import mxnet as mx
import numpy as np
from matplotlib.figure import Figure
from mxnet import gluon
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    HEADLINE,
    Recipe,
    format_table,
    predict_scores,
    seed_all,
    test_summary,
    train,
)

from mxfair.callbacks import FairnessMonitor  # noqa: E402
from mxfair.data import ReweighingSampler  # noqa: E402
from mxfair.datasets import CIFAR10S  # noqa: E402
from mxfair.loss import FairnessRegularizedLoss  # noqa: E402
from mxfair.plot import plot_histories  # noqa: E402
from mxfair.postprocessing import ThresholdOptimizer  # noqa: E402

NUM_CLASSES = 10
UPPER = np.arange(5, 10)  # the classes that are mostly grayscale in training
METHODS = ("baseline", "reweighing", "fair-loss", "thresholds")
LABELS = {
    "baseline": "baseline",
    "reweighing": "reweighing by domain",
    "fair-loss": "fair loss (per-class TPR, lam={lam:g})",
    "thresholds": "baseline + domain thresholds (EO)",
}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--source", choices=["auto", "digits", "cifar10"], default="auto",
                   help="'auto': CIFAR-10 if its files are on disk, else the digits stand-in")
    p.add_argument("--root", default=None, help="folder of the CIFAR-10 binary files")
    p.add_argument("--subsample", type=int, default=None,
                   help="base images kept per split (default: all)")
    p.add_argument("--test-subsample", type=int, default=None,
                   help="base test images kept (default: --subsample)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--lam", type=float, default=1.0, help="weight of the fair loss's penalty")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out", help="folder of the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def cnn(ctx, seed: int) -> gluon.nn.HybridSequential:
    """Three 3x3 conv-BatchNorm-ReLU-pool blocks and a linear layer: (N, 3, 32, 32) -> (N, 10)
    logits."""
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    for channels in (16, 32, 64):
        net.add(gluon.nn.Conv2D(channels, 3, padding=1), gluon.nn.BatchNorm(),
                gluon.nn.Activation("relu"), gluon.nn.MaxPool2D(2))
    net.add(gluon.nn.GlobalAvgPool2D(), gluon.nn.Dense(NUM_CLASSES))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    return net


def _arrays(ds: CIFAR10S, items: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (M, 3, 32, 32) float32 in [0, 1], labels (M,), domains (M,) of the chosen items.

    The items are uint8 HWC NDArrays, as gluon.data.vision.CIFAR10's; this is what
    ``transforms.ToTensor()`` makes of them, done on the stacked array at once."""
    if not len(items):
        return np.zeros((0, 3, 32, 32), np.float32), ds.labels[items], ds.groups[items]
    hwc = np.stack([ds[int(i)][0].asnumpy() for i in items])  # (M, 32, 32, 3) uint8
    images = hwc.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return images, ds.labels[items], ds.groups[items]


def load(args) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The training set and the test set's two halves (split by base image, seeded)."""
    train_ds = CIFAR10S(train=True, root=args.root, source=args.source, seed=args.seed,
                        subsample=args.subsample)
    test_ds = CIFAR10S(train=False, root=args.root, source=args.source, seed=args.seed,
                       subsample=args.test_subsample or args.subsample)
    base = np.unique(test_ds.base_index)
    rng = np.random.RandomState(args.seed)
    val_base = rng.choice(base, size=len(base) // 2, replace=False)
    in_val = np.isin(test_ds.base_index, val_base)  # both versions of an image on one side
    return {
        "source": train_ds.source,
        "group_names": train_ds.group_names,
        "train": _arrays(train_ds, np.arange(len(train_ds))),
        "val": _arrays(test_ds, np.flatnonzero(in_val)),
        "test": _arrays(test_ds, np.flatnonzero(~in_val)),
    }


def _loader(data, args, **kw) -> gluon.data.DataLoader:
    X, y, g = data["train"]
    ds = gluon.data.ArrayDataset(X, y.astype(np.float32), g.astype(np.float32))
    return gluon.data.DataLoader(ds, batch_size=args.batch_size, **kw)


def baseline(data, args) -> Recipe:
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    return Recipe(_loader(data, args, shuffle=True), lambda out, y, g: ce(out, y))


def reweighing(data, args) -> Recipe:
    _, y, g = data["train"]
    sampler = ReweighingSampler(y, g, seed=args.seed, num_groups=2, num_classes=NUM_CLASSES)
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    return Recipe(_loader(data, args, sampler=sampler), lambda out, y, g: ce(out, y))


def fair_loss(data, args, constraint: str = "equal_opportunity") -> Recipe:
    loss = FairnessRegularizedLoss(2, constraint=constraint, lam=args.lam,
                                   num_classes=NUM_CLASSES)
    loss.hybridize()
    return Recipe(_loader(data, args, shuffle=True), loss)


RECIPES = {"baseline": baseline, "reweighing": reweighing,
           "fair-loss": partial(fair_loss, constraint="equal_opportunity")}


def upper_score(probs: np.ndarray) -> np.ndarray:
    """Binary sub-task score: probability that the class is in 5-9, shape (N,)."""
    return probs[:, UPPER].sum(axis=1)


def run(args: argparse.Namespace, data=None, ctx: Optional[mx.Context] = None) -> Dict:
    """Train and evaluate ``args.methods``; no printing, no files.

    Returns
    -------
    dict
        ``rows`` (10-class test figures per method), ``binary_rows`` (the "class in 5-9?"
        sub-task per method, thresholds included), ``histories``, ``reports``, ``data``.
    """
    ctx = ctx or mx.cpu()
    data = data or load(args)
    trained = [k for k in args.methods if k in RECIPES]
    if "thresholds" in args.methods and "baseline" not in trained:
        trained.insert(0, "baseline")
    labels = {k: v.format(lam=args.lam) for k, v in LABELS.items()}
    names = data["group_names"]
    Xv, yv, gv = data["val"]
    Xt, yt, gt = data["test"]
    val_loader = gluon.data.DataLoader(gluon.data.ArrayDataset(Xv, yv, gv), batch_size=256)
    per_epoch = -(-len(data["train"][1]) // args.batch_size)
    bar = tqdm(total=len(trained) * args.epochs * per_epoch, unit="batch", disable=args.quiet,
               dynamic_ncols=True)
    rows, binary_rows, histories, reports, probs, seconds = {}, {}, {}, {}, {}, {}
    try:
        for key in trained:
            bar.set_description(labels[key])
            seed_all(args.seed)
            net = cnn(ctx, args.seed)
            monitor = FairnessMonitor(val_loader, 2, from_logits=True, num_classes=NUM_CLASSES,
                                      group_names=names, progress=False,
                                      log_level=logging.DEBUG)
            start = time.perf_counter()
            train(net, RECIPES[key](data, args), args.epochs, args.lr, ctx, monitor, bar)
            seconds[key] = time.perf_counter() - start
            histories[labels[key]] = [_with_gap(r, names) for r in monitor.history]
            probs[key] = (predict_scores(net, Xv, ctx), predict_scores(net, Xt, ctx))
    finally:
        bar.close()

    for key in trained:
        summary, report = test_summary(yt, probs[key][1], gt, names,
                                       bootstrap=args.bootstrap, seed=args.seed)
        rows[key] = {"method": labels[key], "key": key, "seconds": seconds[key],
                     **summary, **_domain_figures(report, args.bootstrap > 0)}
        reports[key] = report
        binary_rows[key] = _binary_row(labels[key], key, seconds[key],
                                       upper_score(probs[key][1]), yt, gt, args, names)
    if "thresholds" in args.methods:
        start = time.perf_counter()
        opt = ThresholdOptimizer(constraint="equalized_odds", random_state=args.seed,
                                 from_logits=False)  # upper_score: a probability
        opt.fit(upper_score(probs["baseline"][0]), np.isin(yv, UPPER).astype(np.int64), gv,
                num_groups=2)
        decisions = opt.predict(upper_score(probs["baseline"][1]), gt)
        elapsed = seconds["baseline"] + time.perf_counter() - start
        binary_rows["thresholds"] = _binary_row(labels["thresholds"], "thresholds", elapsed,
                                                decisions, yt, gt, args, names)
    keep = [k for k in args.methods if k in rows]
    return {
        "rows": [rows[k] for k in keep],
        "binary_rows": [binary_rows[k] for k in args.methods if k in binary_rows],
        "histories": histories, "reports": {labels[k]: reports[k] for k in keep}, "data": data,
    }


def _with_gap(record: Dict[str, float], names: List[str]) -> Dict[str, float]:
    """A validation record plus the accuracy gap between the two domains."""
    accs = [record[f"accuracy[{n}]"] for n in names]
    return {**record, "accuracy_gap": float(np.nanmax(accs) - np.nanmin(accs))}


def _domain_figures(report, bootstrap: bool) -> Dict[str, float]:
    """Accuracy of each domain and the gap between them, with intervals when bootstrapped."""
    acc = report["accuracy"]  # (G,)
    out = {f"accuracy[{n}]": float(a) for n, a in zip(report.group_names, acc)}
    out["accuracy_gap"] = report.difference("accuracy")
    if bootstrap:
        per_group = report.interval("accuracy")  # (G, 2)
        for n, (lo, hi) in zip(report.group_names, per_group):
            out[f"accuracy[{n}]_lo"], out[f"accuracy[{n}]_hi"] = float(lo), float(hi)
        lo, hi = report.interval(lambda r: r.difference("accuracy"))
        out["accuracy_gap_lo"], out["accuracy_gap_hi"] = float(lo), float(hi)
    return out


def _binary_row(label, key, seconds, preds, y, g, args, names) -> Dict:
    summary, _ = test_summary(np.isin(y, UPPER).astype(np.int64), preds, g, names,
                              bootstrap=args.bootstrap, seed=args.seed)
    return {"method": label, "key": key, "seconds": seconds, **summary}


def plot_domains(rows: List[Dict], names: List[str], path: Optional[str] = None) -> Figure:
    """Grouped bars: test accuracy of each domain per method, with bootstrap whiskers."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    width = 0.8 / len(names)
    x = np.arange(len(rows))
    for j, name in enumerate(names):
        key = f"accuracy[{name}]"
        vals = np.array([r[key] for r in rows])
        err = None
        if all(f"{key}_lo" in r for r in rows):
            err = np.array([[max(r[key] - r[f"{key}_lo"], 0), max(r[f"{key}_hi"] - r[key], 0)]
                            for r in rows]).T
        ax.bar(x + (j - (len(names) - 1) / 2) * width, vals, width, yerr=err, capsize=3,
               label=name, color=["tab:orange", "0.55"][j % 2])
    ax.set_xticks(x)
    ax.set_xticklabels([r["method"] for r in rows], fontsize=8)
    ax.set_ylabel("test accuracy (10 classes)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="domain", loc="lower right")
    ax.set_title("accuracy per domain (95 % bootstrap whiskers)")
    fig.tight_layout()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run, print both tables, write the figures.

    Returns
    -------
    dict
        :func:`run`'s dict plus ``tables`` (the two printed tables) and ``figures`` (PNG paths).
    """
    args = parse_args(argv)
    start = time.perf_counter()
    data = load(args)
    names = data["group_names"]
    print(f"CIFAR-10S ({data['source']}): {len(data['train'][1])} training images "
          f"({int(data['train'][2].sum())} {names[1]}), validation {len(data['val'][1])}, "
          f"test {len(data['test'][1])} (every image in both domains)")
    result = run(args, data)
    columns = [("accuracy", "accuracy")] + [(f"accuracy[{n}]", n) for n in names] + [
        ("accuracy_gap", "gap"), ("worst_group_accuracy", "worst domain")]
    tables = {"classes": format_table(result["rows"], columns),
              "binary": format_table(result["binary_rows"], HEADLINE)}
    print(f"\n10-class test figures, {args.epochs} epochs, seed {args.seed} "
          f"[95 % bootstrap interval, {args.bootstrap} replicates]; time: training (s)\n")
    print(tables["classes"])
    print("\nBinary sub-task 'is the class in 5-9?' (the decision the colour skew corrupts; "
          "score = softmax mass on 5-9)\n")
    print(tables["binary"])
    figures = {"curves": os.path.join(args.out, "cifar10s_curves.png"),
               "domains": os.path.join(args.out, "cifar10s_domains.png")}
    plot_histories(result["histories"], path=figures["curves"],
                   keys=("accuracy", "worst_group_accuracy", "accuracy_gap"),
                   title=f"CIFAR-10S ({data['source']}): validation figures after each epoch")
    plot_domains(result["rows"], names, figures["domains"])
    print(f"\nfigures: {', '.join(figures.values())}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    result.update(tables=tables, figures=figures)
    return result


if __name__ == "__main__":
    main()
