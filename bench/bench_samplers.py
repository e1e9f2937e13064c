"""Benchmark of the fairness-aware samplers on Adult (sensitive attribute: sex).

One Gluon MLP, the same epochs, batch size and seeds, trained with:
the plain shuffle (``DataLoader(shuffle=True)``, i.e. ``gluon.data.RandomSampler``),
``ReweighingSampler``, ``GroupBalancedSampler``, the weighted loss (``reweighed_dataset``) and
``FairBatchSampler`` (equalized odds and demographic parity). It reports the test accuracy and
the demographic-parity and equalized-odds differences (``mxfair.metrics``, fairlearn's
definitions) as mean ± sd over the seeds, and, in the same run, the cost of the sampler alone
per epoch next to ``RandomSampler`` (interleaved repetitions, medians) and the whole training
epoch next to the plain shuffle.

Usage::

    python bench/bench_samplers.py               # writes bench/results/samplers.md
    python bench/bench_samplers.py --epochs 3 --seeds 0   # a quick look
"""
import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from mxfair.data import FairBatchSampler, GroupBalancedSampler, ReweighingSampler, reweighed_dataset
from mxfair.datasets import load_adult
from mxfair.metrics import demographic_parity_difference, equalized_odds_difference

RESULTS = Path(__file__).resolve().parent / "results" / "samplers.md"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--alpha", type=float, default=0.01, help="FairBatch step size")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--timing-reps", type=int, default=200)
    p.add_argument("--epoch-reps", type=int, default=5, help="interleaved timed epochs")
    p.add_argument("--out", default=str(RESULTS))
    return p.parse_args(argv)


def make_net(seed: int, ctx) -> gluon.HybridBlock:
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    return net


def make_loader(method: str, data, args, seed: int):
    """The DataLoader of ``method`` (and the FairBatchSampler, or None)."""
    tr = data.train
    y, g = tr.y, tr.groups
    ds = gluon.data.ArrayDataset(tr.X, y.astype(np.float32), g)
    fb = None
    loader_kw = dict(batch_size=args.batch_size, last_batch="discard")
    if method == "shuffle":
        loader = gluon.data.DataLoader(ds, shuffle=True, **loader_kw)
    elif method == "reweighing":
        loader = gluon.data.DataLoader(ds, sampler=ReweighingSampler(y, g, seed=seed),
                                       **loader_kw)
    elif method == "balanced":
        loader = gluon.data.DataLoader(ds, sampler=GroupBalancedSampler(y, g, seed=seed),
                                       **loader_kw)
    elif method == "weighted":
        loader = gluon.data.DataLoader(reweighed_dataset(ds, labels=y, groups=g), shuffle=True,
                                       **loader_kw)
    elif method.startswith("fairbatch"):
        fb = FairBatchSampler(y, g, args.batch_size, constraint=method.split("-")[1],
                              alpha=args.alpha, seed=seed)
        loader = gluon.data.DataLoader(ds, batch_sampler=fb)
    else:
        raise ValueError(method)
    return loader, fb


class Run:
    """One MLP, its trainer and its loader: ``epoch()`` trains one epoch."""

    def __init__(self, method: str, data, args, seed: int, ctx):
        self.method, self.ctx = method, ctx
        self.loader, self.fb = make_loader(method, data, args, seed)
        self.net = make_net(seed, ctx)
        self.loss_fn = gluon.loss.SigmoidBCELoss()
        self.trainer = gluon.Trainer(self.net.collect_params(), "adam",
                                     {"learning_rate": args.lr})
        self.x_train = mx.nd.array(data.train.X, ctx=ctx)

    def epoch(self) -> float:
        """Train one epoch; return its wall time in seconds (the FairBatch update excluded)."""
        ctx = self.ctx
        start = time.perf_counter()
        for batch in self.loader:
            xb, yb = batch[0].as_in_context(ctx), batch[1].as_in_context(ctx)
            wb = batch[3].as_in_context(ctx) if self.method == "weighted" else None
            with autograd.record():
                out = self.net(xb).reshape(-1)
                loss = self.loss_fn(out, yb) if wb is None else self.loss_fn(out, yb, wb)
            loss.backward()
            self.trainer.step(xb.shape[0])
        mx.nd.waitall()
        return time.perf_counter() - start

    def update(self) -> float:
        """FairBatch: per-cell losses of the current model on the training set, one step."""
        start = time.perf_counter()
        self.fb.update(probs=self.net(self.x_train).sigmoid().reshape(-1))
        return time.perf_counter() - start


def train(method: str, data, args, seed: int, ctx) -> Dict[str, float]:
    """Train one MLP with ``method``; return test figures and the FairBatch update time."""
    np.random.seed(seed)  # RandomSampler draws from NumPy's global state
    run = Run(method, data, args, seed, ctx)
    update_times = []
    for _ in range(args.epochs):
        run.epoch()
        if run.fb is not None:
            update_times.append(run.update())
    te = data.test
    probs = run.net(mx.nd.array(te.X, ctx=ctx)).sigmoid().reshape(-1).asnumpy()
    pred = (probs >= 0.5).astype(np.int64)
    fb = run.fb
    return {
        "accuracy": float(np.mean(pred == te.y)),
        "dp": demographic_parity_difference(te.y, pred, sensitive_features=te.groups),
        "eo": equalized_odds_difference(te.y, pred, sensitive_features=te.groups),
        "update_s": float(np.median(update_times)) if update_times else 0.0,
        "female_pos_share": float(fb.lambdas_[1, 0]) if fb else np.nan,
        "female_neg_share": float(fb.lambdas_[0, 0]) if fb else np.nan,
    }


def time_epochs(methods: List[str], data, args, ctx) -> Dict[str, float]:
    """Median wall time of one training epoch per method, epochs interleaved across methods so
    that every method sees the same machine load."""
    runs = {m: Run(m, data, args, 0, ctx) for m in methods}
    times = {m: [] for m in methods}
    for r in range(args.epoch_reps + 1):
        for m, run in runs.items():
            t = run.epoch()
            if run.fb is not None:
                run.update()  # as in training: the next epoch's batches follow new ratios
            if r:  # the first round warms up (graph caching, allocations)
                times[m].append(t)
    return {m: float(np.median(v)) for m, v in times.items()}


def time_iteration(samplers: Dict[str, Callable[[], object]], reps: int) -> Dict[str, float]:
    """Median seconds to iterate each sampler once, repetitions interleaved (same load)."""
    built = {k: make() for k, make in samplers.items()}
    times = {k: [] for k in built}
    for _ in range(reps):
        for k, s in built.items():
            start = time.perf_counter()
            for _ in s:
                pass
            times[k].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in times.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    ctx = mx.cpu()
    data = load_adult(sensitive="sex", seed=0)
    y, g = data.train.y, data.train.groups
    n, bs = len(y), args.batch_size

    rows = time_iteration({
        "RandomSampler": lambda: gluon.data.RandomSampler(n),
        "ReweighingSampler": lambda: ReweighingSampler(y, g, seed=0),
        "ReweighingSampler (replacement=False)":
            lambda: ReweighingSampler(y, g, replacement=False, seed=0),
        "GroupBalancedSampler": lambda: GroupBalancedSampler(y, g, seed=0),
    }, args.timing_reps)
    batches = time_iteration({
        "BatchSampler(RandomSampler)":
            lambda: gluon.data.BatchSampler(gluon.data.RandomSampler(n), bs, "discard"),
        "BatchSampler(ReweighingSampler)":
            lambda: gluon.data.BatchSampler(ReweighingSampler(y, g, seed=0), bs, "discard"),
        "FairBatchSampler": lambda: FairBatchSampler(y, g, bs, seed=0),
    }, args.timing_reps)

    methods = [
        ("shuffle", "plain shuffle (RandomSampler)"),
        ("reweighing", "ReweighingSampler"),
        ("balanced", "GroupBalancedSampler"),
        ("weighted", "reweighed loss (reweighed_dataset)"),
        ("fairbatch-eqodds", f"FairBatchSampler eqodds (alpha={args.alpha})"),
        ("fairbatch-dp", f"FairBatchSampler dp (alpha={args.alpha})"),
    ]
    results: Dict[str, List[Dict[str, float]]] = {}
    for key, name in methods:
        results[key] = []
        for seed in args.seeds:
            start = time.perf_counter()
            results[key].append(train(key, data, args, seed, ctx))
            print(f"{name} seed {seed}: {results[key][-1]} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)

    def ms(v):
        return f"{1e3 * np.mean(v):.1f}"

    def stat(key, field, digits=3):
        v = np.array([r[field] for r in results[key]])
        return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}"

    epochs = time_epochs([k for k, _ in methods], data, args, ctx)
    lines = [
        f"Adult (sex), train {n} rows, test {len(data.test.y)}; MLP 101-64-1, Adam lr {args.lr}, "
        f"batch {bs}, {args.epochs} epochs, seeds {args.seeds} (mean ± sd); threshold 0.5. "
        "DP / EO diff: `mxfair.metrics.demographic_parity_difference` / "
        "`equalized_odds_difference` on the test split. Epoch: median wall time of one training "
        f"epoch (data loading + forward/backward; {args.epoch_reps} epochs per method, "
        "interleaved across methods in this run), ratio to the plain shuffle; the FairBatch "
        "update (a forward pass over the training set and one step) is apart.",
        "",
        "| method | accuracy | DP diff | EO diff | epoch (ms) | epoch vs shuffle | "
        "FairBatch update (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, name in methods:
        epoch = epochs[key]
        upd = ms([r["update_s"] for r in results[key]]) if key.startswith("fairbatch") else "–"
        lines.append(
            f"| {name} | {stat(key, 'accuracy')} | {stat(key, 'dp')} | {stat(key, 'eo')} | "
            f"{1e3 * epoch:.0f} | {epoch / epochs['shuffle']:.2f} | {upd} |"
        )
    def share(key, label):
        return np.mean([r[f"female_{label}_share"] for r in results[key]])

    lines += [
        "",
        "FairBatch ratios after the last epoch (mean over seeds), Female share of the batch's "
        f"positives / negatives: eqodds {share('fairbatch-eqodds', 'pos'):.3f} / "
        f"{share('fairbatch-eqodds', 'neg'):.3f}, dp {share('fairbatch-dp', 'pos'):.3f} / "
        f"{share('fairbatch-dp', 'neg'):.3f}; in the data {np.mean(g[y == 1] == 0):.3f} / "
        f"{np.mean(g[y == 0] == 0):.3f}.",
        "",
        f"Sampler alone: median time to iterate one epoch ({args.timing_reps} interleaved "
        "repetitions in this run), ratio to the `gluon.data` baseline above it.",
        "",
        "| sampler | ms / epoch | vs baseline |",
        "| --- | --- | --- |",
    ]
    for table, base in ((rows, "RandomSampler"), (batches, "BatchSampler(RandomSampler)")):
        for name, t in table.items():
            lines.append(f"| {name} | {1e3 * t:.2f} | {t / table[base]:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
