"""Data-parallel fair training of an Adult MLP on MXNet's parameter-server kvstore.

Every worker trains on its own part of the training rows with ``FairnessRegularizedLoss``
(cross-entropy + lam * demographic-parity penalty); ``gluon.Trainer`` sums the gradients over
the workers through a ``dist_sync`` kvstore. With ``--devices N`` each worker also splits its
batch over N contexts (``split_and_load``; CPU contexts stand in for GPUs unless ``--gpu``) and
calls the loss once with the per-device lists, so the penalty is that of the worker's whole batch
and the step equals the one-device step. Across workers the penalty is each worker's own (its
batch's group gap): with W workers the gradient is the sum of W per-batch penalties, each over
``--batch-size`` rows (see docs/distributed.md). At the end of each epoch every worker validates on
its part of the validation rows and ``FairnessMonitor(kvstore=kv)`` sums the group statistics
over the workers (:func:`mxfair.distributed.allreduce_stats`), so the report printed by rank 0 is
the one of the whole validation set. With ``--reweigh`` the rows are drawn by a
``ReweighingSampler`` whose weights come from the global (all-worker) cell counts.

Two workers and one server on this machine::

    python -m mxfair.launch -n 2 -s 1 --timeout 300 -- \\
        python examples/distributed_adult.py --epochs 5

One process (no kvstore), for comparison, on one and on two devices (the same training)::

    python examples/distributed_adult.py --epochs 5
    python examples/distributed_adult.py --epochs 5 --devices 2
"""
import argparse
import json
import logging
import os
import sys
import time

import mxnet as mx  # with DMLC_ROLE=server/scheduler, MXNet serves inside this import and exits
import numpy as np
from mxnet import autograd, gluon

from mxfair import distributed as dist
from mxfair.callbacks import FairnessMonitor
from mxfair.data import ReweighingSampler, shard_range
from mxfair.datasets import load_adult
from mxfair.loss import FairnessRegularizedLoss


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256, help="per worker")
    parser.add_argument("--devices", type=int, default=1,
                        help="contexts per worker; the loss sees the worker's whole batch")
    parser.add_argument("--gpu", action="store_true", help="use GPUs 0..devices-1")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--lam", type=float, default=1.0, help="weight of the fairness penalty")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--subsample", type=int, default=None,
                        help="keep at most this many rows per split (fast runs)")
    parser.add_argument("--reweigh", action="store_true",
                        help="draw rows with global reweighing weights")
    parser.add_argument("--kvstore", default=None,
                        help="default: dist_sync under a launcher (DMLC_ROLE set), else none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="rank 0 writes the history here (JSON)")
    return parser.parse_args(argv)


def build_net(hidden: int) -> gluon.nn.HybridSequential:
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(hidden, activation="relu"), gluon.nn.Dense(1))
    return net


def mean_loss(net, loss_fn, batches, kv, ctx) -> float:
    """Mean per-row loss over every worker's rows (a sum and a count, summed by the kvstore)."""
    total = np.zeros(2)
    for x, y, g in batches:
        x, y, g = (a.as_in_context(ctx) for a in (x, y, g))
        loss = loss_fn(net(x), y, g)
        total += [float(loss.sum().asscalar()), loss.shape[0]]
    total = dist.allreduce_array(total, kv, key="example/loss")
    return float(total[0] / total[1])


def main(argv=None, kv=None) -> int:
    """Train; ``kv`` is an existing kvstore to use (one process can create only one)."""
    args = parse_args(argv)
    if kv is None:
        kv_name = args.kvstore or ("dist_sync" if "DMLC_ROLE" in os.environ else None)
        kv = mx.kv.create(kv_name) if kv_name else None
    rank, size = dist.rank_and_size(kv)
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"rank {rank}: %(message)s")
    mx.random.seed(args.seed)  # the same initial weights on every worker
    np.random.seed(args.seed + rank)

    data = load_adult(sensitive="sex", seed=args.seed, subsample=args.subsample,
                      download=False)
    train, val = data.train, data.val
    # The splits keep file order: shuffle once with the shared seed (the same permutation on
    # every worker), keep a multiple of the worker count so that every shard has the same
    # number of rows, hence of batches (a worker with one batch more would wait forever in
    # dist_sync), and give each worker a contiguous part.
    order = np.random.RandomState(args.seed).permutation(len(train.y))
    order = order[: len(order) // size * size]
    x_all, y_all, g_all = train.X[order], train.y[order], train.groups[order]
    lo, hi = shard_range(len(y_all), num_parts=size, part_index=rank)
    x_tr, y_tr, g_tr = x_all[lo:hi], y_all[lo:hi], g_all[lo:hi]
    if args.reweigh:
        counts = dist.global_cell_counts(y_tr, g_tr, kv, num_groups=2)
        sampler = ReweighingSampler(y_all, g_all, seed=args.seed + rank,
                                    num_parts=size, part_index=rank, cell_counts=counts,
                                    replacement=False)
        dataset = gluon.data.ArrayDataset(x_all, y_all.astype("float32"), g_all)
        loader = gluon.data.DataLoader(dataset, batch_size=args.batch_size, sampler=sampler,
                                       last_batch="discard")
    else:
        dataset = gluon.data.ArrayDataset(x_tr, y_tr.astype("float32"), g_tr)
        loader = gluon.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                       last_batch="discard")
    plain_loader = gluon.data.DataLoader(gluon.data.ArrayDataset(
        x_tr, y_tr.astype("float32"), g_tr), batch_size=1024)
    v_lo, v_hi = shard_range(len(val.y), num_parts=size, part_index=rank)
    val_loader = gluon.data.DataLoader(gluon.data.ArrayDataset(
        val.X[v_lo:v_hi], val.y[v_lo:v_hi], val.groups[v_lo:v_hi]), batch_size=1024)

    contexts = [mx.gpu(i) if args.gpu else mx.cpu(i) for i in range(args.devices)]
    net = build_net(args.hidden)
    net.initialize(mx.init.Xavier(), ctx=contexts)
    net.hybridize()
    loss_fn = FairnessRegularizedLoss(num_groups=2, constraint="demographic_parity",
                                      lam=args.lam)
    # update_on_kvstore=False: the servers only sum gradients (no optimizer on the servers),
    # which is what lets mxfair sum its statistics through the same kvstore.
    # Without a dist kvstore, "device" sums the gradients of the contexts (kvstore=None would
    # let every context update its own copy from its own gradient).
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": args.lr},
                            kvstore=kv if kv is not None else "device",
                            update_on_kvstore=False if kv else None)
    monitor = FairnessMonitor(val_loader, num_groups=2, from_logits=True, kvstore=kv,
                              group_names=data.group_names, progress=False, ctx=contexts)

    history = {"num_workers": size, "devices": len(contexts),
               "initial_loss": mean_loss(net, loss_fn, plain_loader, kv, contexts[0]),
               "epochs": []}
    # The forward pass above fixed the shapes: broadcast the initial weights now and wait for
    # every worker (works around a first-step race of MXNet 1.9.1, see init_trainer).
    dist.init_trainer(trainer)
    logging.info("%d worker(s); initial loss %.4f", size, history["initial_loss"])
    for epoch in range(args.epochs):
        start = time.time()
        total = np.zeros(2)
        for x, y, g in loader:
            xs, ys, gs = (gluon.utils.split_and_load(a, contexts, even_split=False)
                          for a in (x, y, g))
            with autograd.record():
                # One call with the per-device lists: the penalty of the worker's whole batch.
                losses = loss_fn([net(xi) for xi in xs], ys, gs)
            for loss in losses:
                loss.backward()
            # Gradients are summed over devices and workers: normalise by the global batch.
            trainer.step(x.shape[0] * size)
            total += [sum(float(loss.sum().asscalar()) for loss in losses), x.shape[0]]
        total = dist.allreduce_array(total, kv, key="example/epoch_loss")
        logging.info("epoch %d  train loss %.4f  (%d rows, %.1f s)", epoch,
                     total[0] / total[1], total[1], time.time() - start)
        report = monitor.evaluate(net, epoch=epoch)  # logs the global fairness report
        summary = report.summary()
        history["epochs"].append({
            "epoch": epoch,
            "loss": float(total[0] / total[1]),
            "rows": int(total[1]),
            "val_rows": float(report.overall["count"]),
            "accuracy": float(summary["accuracy"]),
            "demographic_parity_difference": float(summary["demographic_parity_difference"]),
            "equalized_odds_difference": float(summary["equalized_odds_difference"]),
            "selection_rate": [float(v) for v in report["selection_rate"]],
        })
    history["counts"] = monitor.last_stats.counts.asnumpy().tolist()
    if rank == 0 and args.out:
        with open(args.out, "w") as fh:
            json.dump(history, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
