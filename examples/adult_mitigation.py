"""Baseline: a small Gluon MLP on a tabular fairness data set, with test figures per group.

Trains an unmitigated two-layer perceptron on Adult (sensitive attribute: sex) by default and
prints the test accuracy and selection rate of each group, computed with plain NumPy, and the
demographic-parity difference (largest minus smallest selection rate). This is the reference
point that mitigation methods are compared against.

Usage::

    python examples/adult_mitigation.py    # Adult, sex, 5 epochs
    python examples/adult_mitigation.py --dataset german --sensitive age
    python examples/adult_mitigation.py --dataset compas --root /path/to/folder
"""
import argparse
import sys
import time
from typing import Dict, List, Optional

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from mxfair.datasets import load_adult, load_compas, load_german

LOADERS = {"adult": load_adult, "german": load_german, "compas": load_compas}
DEFAULT_SENSITIVE = {"adult": "sex", "german": "age", "compas": "race"}
DEFAULT_EPOCHS = {"adult": 5, "german": 60, "compas": 20}  # about 500 batches each


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=sorted(LOADERS), default="adult")
    p.add_argument("--sensitive", nargs="+", default=None,
                   help="sensitive attribute(s); several give intersectional groups "
                        "(default: sex for adult, age for german, race for compas)")
    p.add_argument("--root", default=None, help="folder of the raw data files")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: 5 for adult, 60 for german, 20 for compas")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--subsample", type=int, default=None, help="rows kept per split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def build_net(hidden: int) -> gluon.nn.HybridSequential:
    """Two-layer perceptron giving one logit per example, shape (N,)."""
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(hidden, activation="relu"), gluon.nn.Dense(1), gluon.nn.Flatten())
    return net


def train(net, dataset, epochs, batch_size, lr, ctx, quiet=False):
    """Plain minibatch training with sigmoid cross-entropy and Adam."""
    loader = gluon.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    loss_fn = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    bar = tqdm(total=epochs * len(loader), desc="training", unit="batch", disable=quiet,
               file=sys.stdout, leave=False)
    for epoch in range(epochs):
        total, count = 0.0, 0
        for x, y, _group in loader:
            x = x.as_in_context(ctx)
            y = y.as_in_context(ctx).astype("float32")
            with autograd.record():
                loss = loss_fn(net(x).reshape((-1,)), y)  # (N,)
            loss.backward()
            trainer.step(x.shape[0])
            total += float(loss.sum().asscalar())
            count += x.shape[0]
            bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{total / count:.4f}")
    bar.close()
    return net


def predict_proba(net, X: np.ndarray, ctx, batch_size: int = 4096) -> np.ndarray:
    """Probabilities of the positive class, shape (N,)."""
    out = [
        mx.nd.sigmoid(net(mx.nd.array(X[i:i + batch_size], ctx=ctx))).reshape((-1,)).asnumpy()
        for i in range(0, len(X), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def group_table(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, names: List[str]) -> List:
    """Rows (name, count, accuracy, selection rate) per group, plain NumPy."""
    rows = []
    for g, name in enumerate(names):
        mask = groups == g
        n = int(mask.sum())
        acc = float((pred[mask] == y[mask]).mean()) if n else float("nan")
        sel = float(pred[mask].mean()) if n else float("nan")
        rows.append((name, n, acc, sel))
    return rows


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    mx.random.seed(args.seed)
    np.random.seed(args.seed)
    ctx = mx.cpu()
    start = time.time()

    sensitive = args.sensitive or DEFAULT_SENSITIVE[args.dataset]
    if isinstance(sensitive, list) and len(sensitive) == 1:
        sensitive = sensitive[0]
    data = LOADERS[args.dataset](
        root=args.root, sensitive=sensitive, seed=args.seed, subsample=args.subsample
    )
    print(f"{data.name}: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test "
          f"rows, {data.num_features} features, groups {data.group_names}")

    net = build_net(args.hidden)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[args.dataset]
    train(net, data.to_gluon("train"), epochs, args.batch_size, args.lr, ctx, args.quiet)

    test = data.test
    pred = (predict_proba(net, test.X, ctx) >= args.threshold).astype(np.int64)
    accuracy = float((pred == test.y).mean())
    rows = group_table(test.y, pred, test.groups, data.group_names)
    rates = [r[3] for r in rows if r[1] > 0]
    dp_diff = float(max(rates) - min(rates))

    width = max(len(r[0]) for r in rows + [("group",)])
    print(f"\ntest accuracy {accuracy:.4f}, selection rate {pred.mean():.4f}")
    print(f"{'group':<{width}}  {'count':>6}  {'accuracy':>8}  {'selection':>9}")
    for name, n, acc, sel in rows:
        print(f"{name:<{width}}  {n:>6}  {acc:>8.4f}  {sel:>9.4f}")
    print(f"demographic parity difference {dp_diff:.4f}")
    print(f"done in {time.time() - start:.1f} s")
    return {
        "accuracy": accuracy,
        "groups": rows,
        "demographic_parity_difference": dp_diff,
    }


if __name__ == "__main__":
    main()
