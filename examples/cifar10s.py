"""Worst-group accuracy on two offline spurious-correlation benchmarks: ERM against reweighing,
the fair loss, group DRO, the domain-independent head, JTT and ARL, over several seeds.

Benchmarks (``--benchmark``):

- ``cifar10s``: CIFAR-10S (Wang et al., 2020): in training classes 0-4 are 95 % colour and 5-9 are
  95 % grayscale; every test image appears in both domains. Offline the images come from the
  digits stand-in (``mxfair.datasets.CIFAR10S(source="digits")``); with the CIFAR-10 files on disk
  (``--source cifar10``, or ``auto`` when they are there) the same code runs on CIFAR-10.
  Groups: (class, domain), 20 of them.
- ``spurious``: ``mxfair.datasets.SpuriousDigits``, a Waterbirds-like stand-in (Sagawa et al.,
  2020): "digit >= 5?" with a background colour that matches the label for 95 % of the training
  images and half of validation/test. Groups: (label, background), 4 of them.

Methods (one CNN, one optimiser, one budget; ``--methods``):

=============  ==========================================================  ====================
key            what changes                                                 training groups?
=============  ==========================================================  ====================
erm            nothing: shuffled minibatches, cross-entropy                 no
reweighing     ``ReweighingSampler`` with the attribute as the group        yes
fair-loss      ``FairnessRegularizedLoss``, equal opportunity per class     yes
group-dro      ``GroupDROLoss`` over (label, attribute) groups, strong L2   yes
domain-ind     ``domain_independent_nets``: one head per attribute value    yes
jtt            ``JTTSampler``: ERM for ``--jtt-epochs``, errors upweighted  no
arl            ``ARLAdversary`` + ``ARLLoss`` (adversary over x and y)      no
thresholds     CIFAR-10S only: per-domain thresholds on the binary          (validation)
               sub-task "class in 5-9?" of the ERM net
=============  ==========================================================  ====================

Protocol (the papers'): Adam with a cosine learning-rate decay, the same epochs for every method
(JTT's identification epochs are extra); after every epoch the net is validated with
``FairnessMonitor`` on (label, attribute) groups of a validation split, and the epoch with the
best *worst-group* validation accuracy (ties: the more accurate) is the one tested (group labels
are used for validation only by ERM, JTT and ARL). Each seed draws a new training skew /
background assignment and a new initialisation; the table gives the mean over seeds and a 95 %
t-interval (one seed: bootstrap intervals of the test set).

Usage::

    python examples/cifar10s.py                              # CIFAR-10S stand-in, 1 seed
    python examples/cifar10s.py --benchmark spurious --seeds 5
    python examples/cifar10s.py --source cifar10 --subsample 5000 --epochs 15
"""
import argparse
import contextlib
import logging
import os
import sys
import time
import warnings
from typing import Dict, List, Optional, Tuple

import mxnet as mx
import numpy as np
from matplotlib.figure import Figure
from mxnet import autograd, gluon
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import HEADLINE, format_table, seed_all, test_summary  # noqa: E402

from mxfair.callbacks import FairnessMonitor  # noqa: E402
from mxfair.data import JTTSampler, ReweighingSampler, error_set  # noqa: E402
from mxfair.datasets import CIFAR10S, SpuriousDigits  # noqa: E402
from mxfair.loss import (  # noqa: E402
    ARLAdversary,
    ARLLoss,
    FairnessRegularizedLoss,
    GroupDROLoss,
    cross_groups,
    group_counts,
)
from mxfair.metrics import UndefinedRateWarning, group_report  # noqa: E402
from mxfair.nn import DomainIndependentLoss, domain_independent_nets  # noqa: E402
from mxfair.plot import plot_histories  # noqa: E402
from mxfair.postprocessing import ThresholdOptimizer  # noqa: E402

BENCHMARKS = ("cifar10s", "spurious")
TRAINED = ("erm", "reweighing", "fair-loss", "group-dro", "domain-ind", "jtt", "arl")
METHODS = TRAINED + ("thresholds",)
USES_TRAINING_GROUPS = {"reweighing", "fair-loss", "group-dro", "domain-ind"}
LABELS = {
    "erm": "ERM (baseline)",
    "reweighing": "reweighing by attribute",
    "fair-loss": "fair loss (per-class TPR, lam={lam:g})",
    "group-dro": "group DRO (eta={dro_step:g}, wd={dro_wd:g})",
    "domain-ind": "domain-independent heads",
    "jtt": "JTT (T={jtt_epochs}, up={jtt_up:g})",
    "arl": "ARL (adversary on x, y)",
    "thresholds": "ERM + domain thresholds (EO)",
}
UPPER = np.arange(5, 10)  # CIFAR-10S: the classes that are mostly grayscale in training


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--benchmark", choices=BENCHMARKS, default="cifar10s")
    p.add_argument("--source", choices=["auto", "digits", "cifar10"], default="auto",
                   help="CIFAR-10S images: 'auto' uses CIFAR-10 if its files are on disk")
    p.add_argument("--root", default=None, help="folder of the CIFAR-10 binary files")
    p.add_argument("--subsample", type=int, default=None,
                   help="images kept in the training split (default: all)")
    p.add_argument("--test-subsample", type=int, default=None,
                   help="images kept in validation + test (CIFAR-10S: base images, each in "
                        "both domains; spurious: per split) (default: --subsample)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--seeds", type=int, default=1, help="number of seeds (0, 1, ...)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=1e-3, help="weight decay of every method")
    p.add_argument("--lam", type=float, default=1.0, help="weight of the fair loss's penalty")
    p.add_argument("--dro-step", type=float, default=0.01, help="group DRO's step size eta")
    p.add_argument("--dro-wd", type=float, default=1e-2, help="group DRO's (strong) L2")
    p.add_argument("--dro-adjustment", type=float, default=0.0, help="group adjustment C")
    p.add_argument("--jtt-epochs", type=int, default=5, help="JTT's identification epochs T")
    p.add_argument("--jtt-up", type=float, default=20.0, help="JTT's lambda_up")
    p.add_argument("--arl-pretrain", type=int, default=1, help="ARL's learner-only epochs")
    p.add_argument("--arl-lr", type=float, default=1e-2, help="ARL adversary's learning rate")
    p.add_argument("--arl-activation", default=None,
                   help="activation of the adversary's hidden layer (default: none, linear, "
                        "as the reference; 'relu' lets it find label x attribute cells)")
    p.add_argument("--select", choices=["worst_group", "last"], default="worst_group",
                   help="epoch tested: best validation worst-group accuracy, or the last")
    p.add_argument("--bootstrap", type=int, default=200,
                   help="bootstrap replicates of the test figures (used with one seed)")
    p.add_argument("--out", default="out", help="folder of the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


# --------------------------------------------------------------------------------- data
def _chw(image) -> np.ndarray:
    """An image item as float32 CHW in [0, 1] (NDArray or NumPy, HWC uint8 or CHW float)."""
    arr = image.asnumpy() if hasattr(image, "asnumpy") else np.asarray(image)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if arr.shape[-1] == 3 and arr.shape[0] != 3:
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _split(x, y, a, num_attributes: int) -> Dict[str, np.ndarray]:
    return {"x": x, "y": y.astype(np.int64), "a": a.astype(np.int64),
            "g": cross_groups(y, a, num_attributes)}


def load(args: argparse.Namespace, seed: int) -> Dict:
    """Train / validation / test splits of the benchmark for one seed.

    Returns
    -------
    dict
        ``train``/``val``/``test``: dicts of ``x`` (M, 3, 32, 32) float32, ``y`` labels,
        ``a`` attribute, ``g`` (label, attribute) group; ``num_classes``, ``num_attributes``,
        ``group_names``, ``attribute_names``, ``source``.
    """
    if args.benchmark == "spurious":
        parts = {s: SpuriousDigits(s, seed=seed) for s in ("train", "val", "test")}
        rng = np.random.RandomState(seed)
        out = {}
        for s, ds in parts.items():
            keep = args.subsample if s == "train" else (args.test_subsample or args.subsample)
            rows = np.arange(len(ds))
            if keep is not None and keep < len(ds):
                rows = np.sort(rng.choice(rows, size=keep, replace=False))
            out[s] = _split(ds.images[rows].astype(np.float32).transpose(0, 3, 1, 2) / 255.0,
                            ds.labels[rows], ds.attributes[rows], 2)
        out.update(num_classes=2, num_attributes=2, group_names=parts["train"].group_names,
                   attribute_names=["warm", "cool"], source="digits (Waterbirds-like)")
        return out
    train = CIFAR10S(train=True, root=args.root, source=args.source, seed=seed,
                     subsample=args.subsample)
    test = CIFAR10S(train=False, root=args.root, source=args.source, seed=seed,
                    subsample=args.test_subsample or args.subsample)
    base = np.unique(test.base_index)
    rng = np.random.RandomState(seed)
    in_val = np.isin(test.base_index, rng.choice(base, size=len(base) // 2, replace=False))

    def take(ds, items):
        x = (np.stack([_chw(ds[int(i)][0]) for i in items]) if len(items)
             else np.zeros((0, 3, 32, 32), np.float32))
        return _split(x, ds.labels[items], ds.groups[items], 2)

    out = {"train": take(train, np.arange(len(train))),
           "val": take(test, np.flatnonzero(in_val)), "test": take(test, np.flatnonzero(~in_val))}
    names = [f"{c}/{d}" for c in train.classes for d in train.group_names]
    out.update(num_classes=10, num_attributes=2, group_names=names,
               attribute_names=list(train.group_names), source=train.source)
    return out


# --------------------------------------------------------------------------------- nets
def cnn_body(seed: int) -> gluon.nn.HybridSequential:
    """Three 3x3 conv-BatchNorm-ReLU-pool blocks and global pooling: (N, 3, 32, 32) -> (N, 64)."""
    mx.random.seed(seed)
    body = gluon.nn.HybridSequential()
    for channels in (16, 32, 64):
        body.add(gluon.nn.Conv2D(channels, 3, padding=1), gluon.nn.BatchNorm(),
                 gluon.nn.Activation("relu"), gluon.nn.MaxPool2D(2))
    body.add(gluon.nn.GlobalAvgPool2D())
    return body


def cnn(ctx, seed: int, num_classes: int = 10) -> gluon.nn.HybridSequential:
    """The example CNN with a linear head: (N, 3, 32, 32) -> logits (N, 1) (binary) or (N, K)."""
    net = gluon.nn.HybridSequential()
    net.add(cnn_body(seed), gluon.nn.Dense(1 if num_classes == 2 else num_classes))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    return net


def base_loss(num_classes: int) -> gluon.loss.Loss:
    """Cross-entropy on logits: sigmoid (binary, one logit) or softmax."""
    if num_classes == 2:
        return gluon.loss.SigmoidBinaryCrossEntropyLoss()
    return gluon.loss.SoftmaxCrossEntropyLoss()


def _adversary_view(x: mx.nd.NDArray) -> mx.nd.NDArray:
    """What ARL's adversary reads: the image average-pooled to 3x8x8 (192 numbers)."""
    return mx.nd.Pooling(x, kernel=(4, 4), stride=(4, 4), pool_type="avg")


# ------------------------------------------------------------------------------ training
class _Run:
    """One method's training objects: nets, the loss of a batch, batches of an epoch."""

    def __init__(self, key: str, data: Dict, args, seed: int, ctx):
        self.key, self.ctx = key, ctx
        tr = data["train"]
        K, A = data["num_classes"], data["num_attributes"]
        n = len(tr["y"])
        self.rng = np.random.RandomState(seed)
        self.extra: List[gluon.Trainer] = []
        self.order = lambda: self.rng.permutation(n)
        self.pretrain_steps = 0
        self.wd = args.dro_wd if key == "group-dro" else args.wd
        ce = base_loss(K)
        if key == "domain-ind":
            self.net, self.predict_net = domain_independent_nets(cnn_body(seed), K, A)
            self.predict_net.initialize(mx.init.Xavier(), ctx=ctx)
            self.net.hybridize()
            self.predict_net.hybridize()
            loss = DomainIndependentLoss(K, A)
            self.loss = lambda out, b: loss(out, b["y"], b["a"])
        else:
            self.net = self.predict_net = cnn(ctx, seed, K)
            self.loss = lambda out, b: ce(out, b["y"])
        if key == "reweighing":
            sampler = ReweighingSampler(tr["y"], tr["a"], seed=seed, num_groups=A,
                                        num_classes=K)
            self.order = lambda: np.fromiter(sampler, dtype=np.int64, count=len(sampler))
        elif key == "fair-loss":
            fair = FairnessRegularizedLoss(A, constraint="equal_opportunity", lam=args.lam,
                                           num_classes=K, from_logits=True)
            fair.hybridize()
            self.loss = lambda out, b: fair(out, b["y"], b["a"])
        elif key == "group-dro":
            G = K * A
            dro = GroupDROLoss(G, num_classes=K, step_size=args.dro_step,
                               adjustment=args.dro_adjustment,
                               group_counts=group_counts(tr["g"], G), from_logits=True)
            dro.hybridize()
            self.loss = lambda out, b: dro(out, b["y"], b["g"])
        elif key == "jtt":
            errors = self._identify(tr, args, seed, K)
            sampler = JTTSampler(errors, args.jtt_up, labels=tr["y"], seed=seed, num_samples=n)
            self.errors = errors
            self.order = lambda: np.fromiter(sampler, dtype=np.int64, count=len(sampler))
        elif key == "arl":
            adv = ARLAdversary(num_classes=K, activation=args.arl_activation)
            adv.initialize(mx.init.Xavier(), ctx=ctx)
            adv.hybridize()
            arl = ARLLoss(num_classes=K)
            arl.hybridize()
            self.pretrain_steps = args.arl_pretrain * -(-n // args.batch_size)
            self.adversary = adv
            self.extra_lr = args.arl_lr

            def arl_loss(out, b):
                if self.step < self.pretrain_steps:
                    return arl(out, b["y"])
                return arl(out, b["y"], adv(_adversary_view(b["x"]), b["y"]))

            self.loss = arl_loss
        self.step = 0

    def _identify(self, tr, args, seed, K) -> np.ndarray:
        """JTT's first stage: ERM for ``jtt_epochs``, then the training rows it gets wrong."""
        net = cnn(self.ctx, seed, K)
        ce = base_loss(K)
        trainer = _trainer(net, args, args.wd, args.jtt_epochs * -(-len(tr["y"])
                                                                   // args.batch_size))
        for _ in range(args.jtt_epochs):
            for b in _batches(tr, self.rng.permutation(len(tr["y"])), args.batch_size,
                              self.ctx):
                with autograd.record():
                    loss = ce(_squeeze(net(b["x"])), b["y"])
                loss.backward()
                trainer.step(b["x"].shape[0])
        ds = gluon.data.ArrayDataset(tr["x"], tr["y"].astype(np.float32))
        return error_set(net, ds, ctx=self.ctx, batch_size=512)


def _squeeze(out: mx.nd.NDArray) -> mx.nd.NDArray:
    """(N, 1) binary logits as (N,), as Gluon's binary losses take them; (N, K) unchanged."""
    return out.reshape((-1,)) if out.ndim == 2 and out.shape[1] == 1 else out


def _batches(split: Dict[str, np.ndarray], order: np.ndarray, batch_size: int, ctx):
    """Minibatches of ``split`` in ``order`` as NDArrays on ``ctx`` (the last one may be short)."""
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield {k: mx.nd.array(split[k][idx], ctx=ctx,
                              dtype="float32") for k in ("x", "y", "a", "g")}


def _trainer(net, args, wd: float, total_steps: int) -> gluon.Trainer:
    """Adam with a cosine decay of the learning rate to 1 % over ``total_steps``."""
    schedule = mx.lr_scheduler.CosineScheduler(max(1, total_steps), base_lr=args.lr,
                                               final_lr=args.lr * 0.01)
    return gluon.Trainer(net.collect_params(), "adam",
                         {"learning_rate": args.lr, "wd": wd, "lr_scheduler": schedule})


def _val_loader(split: Dict[str, np.ndarray]) -> gluon.data.DataLoader:
    ds = gluon.data.ArrayDataset(split["x"], split["y"].astype(np.float32),
                                 split["g"].astype(np.float32))
    return gluon.data.DataLoader(ds, batch_size=512)


def fit(key: str, data: Dict, args, seed: int, ctx, bar=None):
    """Train one method and keep the epoch ``args.select`` picks.

    Returns
    -------
    (predict_net, history, info)
        The net to test (input -> logits), the monitor's per-epoch validation records and
        ``{"seconds", "epoch", "errors", "errors_by_group"}`` (training time including JTT's
        first stage, the epoch kept (1-based), JTT's error-set size and its rows per group,
        counted with the group labels JTT itself never reads).
    """
    seed_all(seed)
    start = time.perf_counter()
    run = _Run(key, data, args, seed, ctx)
    tr, K = data["train"], data["num_classes"]
    steps = args.epochs * -(-len(tr["y"]) // args.batch_size)
    trainer = _trainer(run.net, args, run.wd, steps)
    monitor = FairnessMonitor(_val_loader(data["val"]), len(data["group_names"]), ctx=ctx,
                              from_logits=True, num_classes=K,
                              group_names=data["group_names"], progress=False,
                              log_level=logging.DEBUG)
    best, best_params = None, None
    for epoch in range(args.epochs):
        for b in _batches(tr, run.order(), args.batch_size, ctx):
            with autograd.record():
                loss = run.loss(_squeeze(run.net(b["x"])), b)
            loss.backward()
            trainer.step(b["x"].shape[0])
            if run.step >= run.pretrain_steps and key == "arl":
                if not run.extra:
                    run.extra.append(gluon.Trainer(run.adversary.collect_params(), "adam",
                                                   {"learning_rate": run.extra_lr}))
                run.extra[0].step(b["x"].shape[0])
            run.step += 1
            if bar is not None:
                bar.update(1)
        with _quiet_undefined_rates():
            monitor.evaluate(run.predict_net, epoch=epoch)
        record = monitor.history[-1]
        # ties (several epochs at worst-group accuracy 0, say) go to the more accurate epoch
        score = (record["worst_group_accuracy"], record["accuracy"])
        if args.select == "last" or best is None or score > best:
            best = score
            best_params = {name: p.data(ctx).copy()
                           for name, p in run.predict_net.collect_params().items()}
            kept = epoch
    for name, p in run.predict_net.collect_params().items():
        p.set_data(best_params[name])
    info = {"seconds": time.perf_counter() - start, "epoch": kept + 1,
            "errors": int(run.errors.sum()) if key == "jtt" else None,
            "errors_by_group": (np.bincount(tr["g"][run.errors],
                                            minlength=len(data["group_names"])).tolist()
                                if key == "jtt" else None)}
    return run.predict_net, [dict(r) for r in monitor.history], info


@contextlib.contextmanager
def _quiet_undefined_rates():
    """(label, attribute) groups hold one label each, so their TPR/FPR are undefined by design;
    the warnings about that (logged by the monitor, raised by the report) are expected here."""
    log = logging.getLogger("mxfair")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedRateWarning)
            yield
    finally:
        log.setLevel(level)


# ------------------------------------------------------------------------------- figures
def logits_of(net, x: np.ndarray, ctx, batch_size: int = 512) -> np.ndarray:
    """The net's logits for host images, (N, 1) or (N, K)."""
    with autograd.predict_mode():
        return np.concatenate([net(mx.nd.array(x[i:i + batch_size], ctx=ctx)).asnumpy()
                               for i in range(0, len(x), batch_size)])


def test_figures(logits: np.ndarray, split: Dict[str, np.ndarray], data: Dict,
                 bootstrap: int, seed: int) -> Dict[str, float]:
    """Mean accuracy, worst-group accuracy over (label, attribute) groups and worst
    attribute-value accuracy on the test split (``mxfair.metrics.group_report`` of the logits)."""
    out = {}
    for prefix, ids, names in (("", split["g"], data["group_names"]),
                               ("attribute_", split["a"], data["attribute_names"])):
        with _quiet_undefined_rates():
            summary = group_report(split["y"], y_score=logits, from_logits=True,
                                   sensitive_features=np.asarray(names)[ids],
                                   bootstrap=bootstrap, seed=seed).summary()
        for name in ("accuracy", "worst_group_accuracy"):
            if prefix and name == "accuracy":
                continue
            for suffix in ("", "_lo", "_hi"):
                if name + suffix in summary:
                    out[prefix + name + suffix] = summary[name + suffix]
    return out


def seed_interval(values: List[float]) -> Tuple[float, float, float]:
    """Mean and 95 % Student-t interval over seeds, clipped to [0, 1] (one value: no interval)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()), float("nan"), float("nan")
    from scipy import stats

    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    # an accuracy lies in [0, 1]: the interval is clipped there (with few seeds it can be wide)
    return float(v.mean()), float(max(v.mean() - half, 0.0)), float(min(v.mean() + half, 1.0))


FIGURES = ("accuracy", "worst_group_accuracy", "attribute_worst_group_accuracy")


def run(args: argparse.Namespace, ctx: Optional[mx.Context] = None) -> Dict:
    """Train and test ``args.methods`` for ``args.seeds`` seeds; no printing, no files.

    Returns
    -------
    dict
        ``rows`` (one per trained method: figures over seeds), ``per_seed`` (method -> list of
        per-seed rows), ``binary_rows`` (CIFAR-10S "class in 5-9?" sub-task incl. thresholds),
        ``histories`` (first seed), ``data`` (first seed's splits).
    """
    ctx = ctx or mx.cpu()
    trained = [k for k in args.methods if k in TRAINED]
    want_thresholds = "thresholds" in args.methods and args.benchmark == "cifar10s"
    if want_thresholds and "erm" not in trained:
        trained.insert(0, "erm")
    labels = {k: v.format(**vars(args)) for k, v in LABELS.items()}
    seeds = [args.seed + i for i in range(max(1, args.seeds))]
    per_seed: Dict[str, List[Dict]] = {k: [] for k in trained}
    histories, binary_rows, first = {}, {}, None
    bar = None
    try:
        for s in seeds:
            data = load(args, s)
            first = first or data
            if bar is None:
                per_epoch = -(-len(data["train"]["y"]) // args.batch_size)
                bar = tqdm(total=len(seeds) * len(trained) * args.epochs * per_epoch,
                           unit="batch", disable=args.quiet, dynamic_ncols=True)
            for key in trained:
                bar.set_description(f"seed {s}: {labels[key]}")
                net, history, info = fit(key, data, args, s, ctx, bar)
                logits = logits_of(net, data["test"]["x"], ctx)
                row = {"seed": s, **info,
                       **test_figures(logits, data["test"], data,
                                      args.bootstrap if len(seeds) == 1 else 0, s)}
                per_seed[key].append(row)
                if s == seeds[0]:
                    histories[labels[key]] = history
                    if want_thresholds and key == "erm":
                        binary_rows = _binary_rows(net, data, args, ctx, info["seconds"],
                                                   labels)
    finally:
        if bar is not None:
            bar.close()
    rows = [_summary_row(k, labels[k], per_seed[k], len(seeds)) for k in trained
            if k in args.methods]
    return {"rows": rows, "per_seed": per_seed, "binary_rows": binary_rows,
            "histories": histories, "data": first, "seeds": seeds}


def _summary_row(key: str, label: str, rows: List[Dict], num_seeds: int) -> Dict:
    out = {"method": label, "key": key, "training_groups": key in USES_TRAINING_GROUPS,
           "seconds": float(np.mean([r["seconds"] for r in rows])),
           "epoch": float(np.mean([r["epoch"] for r in rows]))}
    for name in FIGURES:
        if num_seeds == 1:  # bootstrap intervals of the one test set, when asked
            out.update({k: rows[0][k] for k in (name, f"{name}_lo", f"{name}_hi")
                        if k in rows[0]})
        else:
            out[name], out[f"{name}_lo"], out[f"{name}_hi"] = seed_interval(
                [r[name] for r in rows])
    return out


def _binary_rows(net, data, args, ctx, seconds, labels) -> Dict[str, Dict]:
    """CIFAR-10S: the ERM net on "is the class in 5-9?", with and without domain thresholds."""
    def upper(split):
        z = logits_of(net, data[split]["x"], ctx)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True))[:, UPPER].sum(axis=1)

    y_val = np.isin(data["val"]["y"], UPPER).astype(np.int64)
    y_test = np.isin(data["test"]["y"], UPPER).astype(np.int64)
    opt = ThresholdOptimizer(constraint="equalized_odds", random_state=args.seed,
                             from_logits=False)  # upper(): a probability
    opt.fit(upper("val"), y_val, data["val"]["a"], num_groups=2)
    rows = {}
    for key, scores in (("erm", upper("test")),
                        ("thresholds", opt.predict(upper("test"), data["test"]["a"]))):
        with _quiet_undefined_rates():
            summary, _ = test_summary(y_test, scores, data["test"]["a"], data["attribute_names"],
                                      bootstrap=args.bootstrap, seed=args.seed)
        rows[key] = {"method": labels[key], "key": key, "seconds": seconds, **summary}
    return rows


def plot_worst_group(rows: List[Dict], path: Optional[str] = None,
                     title: Optional[str] = None) -> Figure:
    """Mean and worst-group test accuracy per method, with their intervals."""
    fig = Figure(figsize=(8.5, 4.2))
    ax = fig.subplots()
    x = np.arange(len(rows))
    for j, (name, label, colour) in enumerate((("accuracy", "mean accuracy", "0.6"),
                                              ("worst_group_accuracy", "worst-group accuracy",
                                               "tab:red"))):
        vals = np.array([r[name] for r in rows])
        err = None
        if all(np.isfinite(r.get(f"{name}_lo", np.nan)) for r in rows):
            err = np.array([[max(r[name] - r[f"{name}_lo"], 0), max(r[f"{name}_hi"] - r[name], 0)]
                            for r in rows]).T
        ax.bar(x + (j - 0.5) * 0.4, vals, 0.4, yerr=err, capsize=3, label=label, color=colour)
    ax.set_xticks(x)
    ax.set_xticklabels([r["key"] for r in rows], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "mean and worst-group test accuracy (95 % intervals)")
    fig.tight_layout()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run, print the table(s), write the figures.

    Returns
    -------
    dict
        :func:`run`'s dict plus ``tables`` and ``figures`` (PNG paths).
    """
    args = parse_args(argv)
    start = time.perf_counter()
    result = run(args)
    data = result["data"]
    tr = data["train"]
    print(f"{args.benchmark} ({data['source']}): {len(tr['y'])} training images, validation "
          f"{len(data['val']['y'])}, test {len(data['test']['y'])}; "
          f"{len(data['group_names'])} (label, attribute) groups; smallest training group "
          f"{np.bincount(tr['g'], minlength=len(data['group_names'])).min()} images")
    columns = [("accuracy", "mean acc."), ("worst_group_accuracy", "worst group"),
               ("attribute_worst_group_accuracy", "worst attribute")]
    tables = {"methods": format_table(
        result["rows"], columns,
        extra=(("seconds", "time (s)", "{:.1f}"), ("epoch", "epoch kept", "{:.1f}")))}
    how = (f"mean over seeds {result['seeds']} [95 % t-interval]" if len(result["seeds"]) > 1
           else f"seed {result['seeds'][0]} [95 % bootstrap interval, {args.bootstrap} "
                "replicates]")
    print(f"\nTest figures, {args.epochs} epochs, epoch kept by {args.select} validation "
          f"accuracy; {how}\n")
    print(tables["methods"])
    print("\nTraining group labels used by: " + ", ".join(
        r["key"] for r in result["rows"] if r["training_groups"]) + "; the other methods "
        "use group labels on the validation split only.")
    if result["binary_rows"]:
        tables["binary"] = format_table(list(result["binary_rows"].values()), HEADLINE)
        print("\nBinary sub-task 'is the class in 5-9?' of the ERM net (first seed)\n")
        print(tables["binary"])
    os.makedirs(args.out, exist_ok=True)
    figures = {"curves": os.path.join(args.out, f"{args.benchmark}_curves.png"),
               "worst_group": os.path.join(args.out, f"{args.benchmark}_worst_group.png")}
    plot_histories(result["histories"], path=figures["curves"],
                   keys=("accuracy", "worst_group_accuracy"),
                   title=f"{args.benchmark}: validation after each epoch (first seed)")
    plot_worst_group(result["rows"], figures["worst_group"])
    print(f"\nfigures: {', '.join(figures.values())}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    result.update(tables=tables, figures=figures)
    return result


if __name__ == "__main__":
    main()
