"""Worker program for tests/test_distributed.py and tests/test_launch.py, run by the launcher.

Every worker takes its contiguous shard of a synthetic data set (the same generator as the
test's single-process reference), combines its statistics with :mod:`mxfair.distributed` and
saves the local and global figures to ``<out>/worker<rank>.npz`` for the test to compare.

Modes: ``main`` (two epochs of ``examples/distributed_adult.py`` on this kvstore, then
statistics, reweighing, ratios and the error cases), ``strings`` (the kvstore already holds
string keys), ``fail`` (worker 1 dies abruptly while worker 0 waits in a barrier, for the
launcher's failure handling).
"""
import argparse
import os
import sys
from pathlib import Path

import mxnet as mx  # on a server or scheduler, MXNet serves and exits inside this import
import numpy as np

from mxfair import distributed as dist
from mxfair.data import ReweighingSampler, shard_range
from mxfair.metrics import GroupStats

NUM_GROUPS = 3
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def make_data(n: int, seed: int):
    """Synthetic rows: labels, scores on a 2**-12 grid, groups, and arbitrary float weights."""
    rng = np.random.RandomState(seed)
    groups = rng.randint(0, NUM_GROUPS, size=n)
    labels = (rng.rand(n) < 0.3 + 0.2 * groups / NUM_GROUPS).astype(np.int64)
    scores = np.clip(0.35 * labels + 0.15 * groups / NUM_GROUPS + 0.5 * rng.rand(n), 0, 1)
    scores = (np.floor(scores * 4096) / 4096).astype(np.float32)
    weights = rng.gamma(2.0, 0.7, size=n)  # not on any grid: sums round in float64
    return labels, scores, groups, weights


def spoil(labels, scores, groups):
    """The same rows with some made invalid, by their global index: NaN scores, a group id out
    of range, a label of 0.5 (float copies; the statistics count them by reason)."""
    labels, scores, groups = (a.astype(np.float64) for a in (labels, scores, groups))
    index = np.arange(labels.size)
    scores[index % 97 == 5] = np.nan
    groups[index % 101 == 7] = NUM_GROUPS
    labels[index % 103 == 11] = 0.5
    return labels, scores, groups


def stats_of(labels, scores, groups, weights=None, seed=None, bootstrap=0, **settings):
    stats = GroupStats(NUM_GROUPS, num_bins=16, bootstrap=bootstrap, seed=seed,
                       ctx=mx.cpu(0), from_logits=False, **settings)
    for start in range(0, len(labels), 128):  # batches, as a validation loop does
        sl = slice(start, start + 128)
        stats.update(labels[sl], scores[sl], groups[sl],
                     None if weights is None else weights[sl])
    return stats


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=["main", "strings", "fail"], default="main")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    kv = mx.kv.create("dist_sync")
    rank, size = dist.rank_and_size(kv)
    labels, scores, groups, weights = make_data(args.rows, args.seed)
    start, end = shard_range(args.rows, num_parts=size, part_index=rank)
    y, s, g, w = labels[start:end], scores[start:end], groups[start:end], weights[start:end]
    out = {"rank": rank, "size": size, "kv_rank": kv.rank, "start": start, "end": end}

    if args.mode == "fail":
        print(f"rank {rank} of {size}", flush=True)
        if rank == 1:
            os._exit(3)  # no kvstore shutdown: worker 0 would wait for us forever
        kv._barrier()
        return 0
    if args.mode == "strings":
        kv.init("user/weight", mx.nd.zeros((4,)))  # the user's own string key comes first
        glob = dist.allreduce_stats(stats_of(y, s, g), kv)
        for name, arr in glob.arrays().items():
            out[f"plain/{name}"] = arr.asnumpy()
        np.savez(Path(args.out) / f"worker{rank}.npz", **out)
        return 0

    # (c) fair training on this kvstore (gluon.Trainer keys 0..P-1, update_on_kvstore=False)
    sys.path.insert(0, str(EXAMPLES))
    import distributed_adult

    distributed_adult.main(["--epochs", str(args.epochs), "--subsample", "3000",
                            "--out", str(Path(args.out) / "history.json")], kv=kv)

    # (a) statistics: unweighted (+ bootstrap, a seed per worker), and weighted
    plain = stats_of(y, s, g, seed=100 + rank, bootstrap=4)
    glob = plain.allreduce(kv)
    for name, arr in glob.arrays().items():
        out[f"plain/{name}"] = arr.asnumpy()
        out[f"plain_local/{name}"] = plain.arrays()[name].asnumpy()
    weighted = stats_of(y, s, g, w)
    glob_w = dist.allreduce_stats(weighted, kv)
    for name, arr in glob_w.arrays().items():
        out[f"weighted/{name}"] = arr.asnumpy()
        out[f"weighted_local/{name}"] = weighted.arrays()[name].asnumpy()
    out["context_ok"] = glob.counts.context == mx.cpu(0)
    # exact AUC rows gathered in rank order, invalid rows counted by reason on every shard
    by, bs, bg = spoil(labels, scores, groups)
    exact = stats_of(by[start:end], bs[start:end], bg[start:end], exact_auc=True)
    glob_exact = dist.allreduce_stats(exact, kv)
    out["exact/rows"] = glob_exact.exact_rows()
    out["exact/local_rows"] = exact.exact_rows()
    out["exact/invalid"] = np.array(list(glob_exact.invalid_counts.values()))
    out["exact/num_invalid"] = glob_exact.num_invalid
    out["exact/counts"] = glob_exact.counts.asnumpy()
    # a worker without rows still takes part
    nothing = GroupStats(NUM_GROUPS, num_bins=16, from_logits=False)
    empty = dist.allreduce_stats(nothing if rank == 1 else stats_of(y, s, g), kv)
    out["empty/counts"] = empty.counts.asnumpy()

    # (b) reweighing from global counts, and a sampler drawing from this worker's part
    out["cell_counts"] = dist.global_cell_counts(y, g, kv, num_groups=NUM_GROUPS, num_classes=2)
    out["reweighing"] = dist.global_reweighing(y, g, kv, num_groups=NUM_GROUPS, num_classes=2)
    nd_table = dist.global_reweighing(mx.nd.array(y, ctx=mx.cpu(1)),
                                      mx.nd.array(g, ctx=mx.cpu(1)), kv, num_groups=NUM_GROUPS,
                                      num_classes=2)
    out["reweighing_nd"] = nd_table.asnumpy()
    out["reweighing_nd_ctx_ok"] = nd_table.context == mx.cpu(1)
    sampler = ReweighingSampler(labels, groups, seed=rank, num_parts=size, part_index=rank,
                                cell_counts=out["cell_counts"])
    drawn = np.array(list(sampler))
    out["sampler_weights"] = sampler.cell_weights_
    out["sampler_in_part"] = bool(np.all((drawn >= start) & (drawn < end)))

    # FairBatch ratios: a different table per worker, then agreement
    ratios = np.full((2, NUM_GROUPS), 1.0 / 6) + 0.01 * (rank + 1) * np.arange(NUM_GROUPS)
    out["ratios_local"] = ratios
    out["ratios_mean"] = dist.sync_ratios(ratios, kv)
    out["ratios_bcast"] = dist.sync_ratios(ratios, kv, method="broadcast", root=1)

    out["plain_again/counts"] = plain.allreduce(kv).counts.asnumpy()

    # error cases, seen by every worker
    try:
        dist.allreduce_array(np.zeros(3 + rank), kv, key="mismatch")
        out["mismatch_error"] = ""
    except ValueError as err:
        out["mismatch_error"] = str(err)
    bad = np.array([1.0, np.nan]) if rank == 0 else np.array([1.0, 2.0])
    try:
        dist.allreduce_array(bad, kv, key="nonfinite")
        out["nonfinite_error"] = ""
    except ValueError as err:
        out["nonfinite_error"] = str(err)
    # GroupStats that decide predictions differently must not be summed
    for setting, value in (("threshold", 0.5 + 0.1 * rank), ("from_logits", rank == 1)):
        try:
            dist.allreduce_stats(GroupStats(NUM_GROUPS, ctx=mx.cpu(0), **{setting: value}), kv)
            out[f"config_error/{setting}"] = ""
        except ValueError as err:
            out[f"config_error/{setting}"] = str(err)
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))  # optimizer on the servers
    try:
        dist.allreduce_stats(plain, kv)
        out["updater_error"] = ""
    except RuntimeError as err:
        out["updater_error"] = str(err)

    np.savez(Path(args.out) / f"worker{rank}.npz", **out)
    print(f"rank {rank} of {size}: rows [{start}, {end}) done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
