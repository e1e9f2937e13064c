"""mxfair.distributed, on a real local ps-lite cluster and in process.

The cluster tests start one scheduler, one server and two workers as processes on 127.0.0.1
through :func:`mxfair.launch.launch` (``tests/_dist_worker.py`` is the program; the launcher's
own tests are in test_launch.py), bounded by a timeout. Every worker saves its local and global
figures; the test compares them with a single process that sees all the data.
"""
import io
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import _dist_worker as worker
import mxnet as mx
import numpy as np
import pytest
from _helpers import leftovers

from mxfair import _kvstore
from mxfair import distributed as dist
from mxfair.data import cell_counts, reweighing_table
from mxfair.launch import free_port, launch
from mxfair.metrics import FairnessReport, GroupStats

WORKER = Path(worker.__file__).resolve()
ROWS, SEED = 3000, 7  # the worker's defaults
STATE = ("counts", "hist", "score_sums", "boot_counts", "boot_hist", "boot_score_sums")


def _load(out: Path, rank: int) -> dict:
    with np.load(out / f"worker{rank}.npz") as data:
        return {k: data[k] for k in data.files}


# ------------------------------------------------------------------------ the main cluster
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    port = free_port()
    log = io.StringIO()
    start = time.monotonic()
    result = launch([sys.executable, str(WORKER), "--out", str(out), "--rows", str(ROWS),
                     "--seed", str(SEED)], num_workers=2, num_servers=1, timeout=150,
                    port=port, out=log, env={"MXFAIR_PROGRESS": "0"})
    seconds = time.monotonic() - start
    left = leftovers(port)
    print(f"main cluster: {seconds:.1f} s\n{log.getvalue()}")
    assert result.returncode == 0, log.getvalue()
    return {"result": result, "log": log.getvalue(), "leftovers": left, "out": out,
            "w": [_load(out, 0), _load(out, 1)]}


@pytest.fixture(scope="module")
def reference():
    """Single-process statistics over all rows."""
    labels, scores, groups, weights = worker.make_data(ROWS, SEED)
    plain = worker.stats_of(labels, scores, groups)
    weighted = worker.stats_of(labels, scores, groups, weights)
    return {"data": (labels, scores, groups, weights), "plain": plain, "weighted": weighted}


def test_every_worker_knows_its_rank_and_the_cluster_shuts_down(cluster):
    assert cluster["result"].reason == "ok"
    assert cluster["leftovers"] == []  # servers and scheduler ended with the workers
    for rank, w in enumerate(cluster["w"]):
        assert int(w["size"]) == 2 and int(w["rank"]) == int(w["kv_rank"]) == rank


def test_distributed_report_equals_single_process_exactly(cluster, reference):
    ref = reference["plain"].arrays()
    for w in cluster["w"]:
        for name in ("counts", "hist", "score_sums"):
            np.testing.assert_array_equal(w[f"plain/{name}"], ref[name].asnumpy(), err_msg=name)
        assert bool(w["context_ok"])
    w0 = cluster["w"][0]
    # the shards really differ: the sum is not a copy of either
    assert not np.array_equal(w0["plain_local/counts"], ref["counts"].asnumpy())
    rep = FairnessReport(w0["plain/counts"], hist=w0["plain/hist"],
                         score_sums=w0["plain/score_sums"],
                         group_names=reference["plain"].group_names)
    expected = reference["plain"].report()
    assert rep.summary() == expected.summary()
    for name in ("selection_rate", "true_positive_rate", "false_positive_rate", "auc", "ece"):
        np.testing.assert_array_equal(rep[name], expected[name], err_msg=name)
    assert rep.overall["accuracy"] == expected.overall["accuracy"]


def test_exact_auc_rows_and_invalid_counts_are_combined(cluster):
    labels, scores, groups, _ = worker.make_data(ROWS, SEED)
    ref = worker.stats_of(*worker.spoil(labels, scores, groups), exact_auc=True)
    local = [w["exact/local_rows"] for w in cluster["w"]]
    assert 0 < local[0].shape[1] < ref.exact_rows().shape[1]  # each worker kept its own rows
    for w in cluster["w"]:
        # the rows of every worker in rank order: the single process's rows, bit for bit
        np.testing.assert_array_equal(w["exact/rows"], ref.exact_rows())
        np.testing.assert_array_equal(w["exact/rows"], np.concatenate(local, axis=1))
        np.testing.assert_array_equal(w["exact/invalid"], list(ref.invalid_counts.values()))
        assert float(w["exact/num_invalid"]) == ref.num_invalid > 0
        np.testing.assert_array_equal(w["exact/counts"], ref.counts.asnumpy())


def test_bootstrap_replicates_sum_exactly(cluster):
    w0, w1 = cluster["w"]
    for name in ("boot_counts", "boot_hist", "boot_score_sums"):
        exact = w0[f"plain_local/{name}"] + w1[f"plain_local/{name}"]  # integers, scores on a grid
        np.testing.assert_array_equal(w0[f"plain/{name}"], exact, err_msg=name)
        np.testing.assert_array_equal(w1[f"plain/{name}"], exact, err_msg=name)


def test_weighted_stats_are_the_correctly_rounded_sum(cluster, reference):
    w0, w1 = cluster["w"]
    ref = reference["weighted"].arrays()
    for name in ("counts", "hist", "score_sums"):
        a, b = w0[f"weighted_local/{name}"], w1[f"weighted_local/{name}"]
        exact = np.array([math.fsum(p) for p in zip(a.ravel(), b.ravel())]).reshape(a.shape)
        if name == "score_sums":
            # stored per (label, group, bin) and summed over the two labels when read: each
            # stored sum is correctly rounded, their sum is within one rounding of it
            np.testing.assert_allclose(w0[f"weighted/{name}"], exact, rtol=1e-15, atol=0)
            np.testing.assert_array_equal(w0[f"weighted/{name}"], w1[f"weighted/{name}"])
            continue
        np.testing.assert_array_equal(w0[f"weighted/{name}"], exact, err_msg=name)
        np.testing.assert_array_equal(w1[f"weighted/{name}"], exact, err_msg=name)
        # a single process adds in another order: equal up to float64 rounding
        np.testing.assert_allclose(w0[f"weighted/{name}"], ref[name].asnumpy(), rtol=1e-13)


def test_worker_without_rows_takes_part(cluster, reference):
    labels, scores, groups, _ = reference["data"]
    half = ROWS // 2  # only worker 0's rows were counted
    expected = worker.stats_of(labels[:half], scores[:half], groups[:half]).counts.asnumpy()
    for w in cluster["w"]:
        np.testing.assert_array_equal(w["empty/counts"], expected)


def test_global_reweighing_equals_single_process(cluster, reference):
    labels, _, groups, _ = reference["data"]
    table = reweighing_table(labels, groups, num_groups=worker.NUM_GROUPS, num_classes=2)
    counts = cell_counts(labels, groups, num_groups=worker.NUM_GROUPS, num_classes=2)
    for w in cluster["w"]:
        np.testing.assert_array_equal(w["cell_counts"], counts)
        np.testing.assert_array_equal(w["reweighing"], table)
        np.testing.assert_array_equal(w["reweighing_nd"], table)
        assert bool(w["reweighing_nd_ctx_ok"])
        np.testing.assert_array_equal(w["sampler_weights"], table)
        assert bool(w["sampler_in_part"])


def test_fairbatch_ratios_agree(cluster):
    w0, w1 = cluster["w"]
    mean = (w0["ratios_local"] + w1["ratios_local"]) / 2
    assert not np.array_equal(w0["ratios_local"], w1["ratios_local"])
    for w in (w0, w1):
        np.testing.assert_array_equal(w["ratios_mean"], mean)
        np.testing.assert_array_equal(w["ratios_bcast"], w1["ratios_local"])  # root=1


def test_errors_are_raised_on_every_worker(cluster):
    for w in cluster["w"]:
        assert str(w["mismatch_error"]).startswith("workers disagree on the arrays of 'mismatch'")
        assert str(w["nonfinite_error"]).startswith("'nonfinite' holds NaN or infinite")
        assert str(w["updater_error"]) == _kvstore.SERVER_UPDATER


def test_stats_deciding_predictions_differently_are_not_summed(cluster):
    # worker 1 used threshold 0.6 (worker 0: 0.5), then from_logits=True (worker 0: False)
    for rank, w in enumerate(cluster["w"]):
        threshold = str(w["config_error/threshold"])
        assert threshold.startswith("workers disagree on the arrays of 'stats'"), threshold
        assert f"threshold={0.5 + 0.1 * rank!r}" in threshold
        logits = str(w["config_error/from_logits"])
        assert logits.startswith("workers disagree on the arrays of 'stats'"), logits
        assert f"from_logits={rank == 1!r}" in logits


def test_distributed_training_reduces_the_loss(cluster):
    import json

    history = json.loads((cluster["out"] / "history.json").read_text())
    losses = [e["loss"] for e in history["epochs"]]
    assert history["num_workers"] == 2 and len(losses) == 2
    assert losses[1] < losses[0] < history["initial_loss"]
    for epoch in history["epochs"]:
        assert epoch["val_rows"] == 3000  # each worker validated 1500 rows; the report has all
        assert 0.5 < epoch["accuracy"] <= 1.0
    assert "[worker 0] rank 0: epoch 1  train loss" in cluster["log"]
    assert "[worker 1] rank 1: epoch" not in cluster["log"]  # rank 0 prints


# ------------------------------------------------------------------------------ string keys
def test_string_keys_when_the_kvstore_holds_some(tmp_path, reference):
    log = io.StringIO()
    result = launch([sys.executable, str(WORKER), "--out", str(tmp_path), "--mode", "strings",
                     "--rows", str(ROWS), "--seed", str(SEED)], num_workers=2, num_servers=1,
                    timeout=100, out=log)
    assert result.returncode == 0, log.getvalue()
    expected = reference["plain"].counts.asnumpy()
    for rank in (0, 1):  # the kvstore held a string key: mxfair used string keys too
        np.testing.assert_array_equal(_load(tmp_path, rank)["plain/counts"], expected)



# ------------------------------------------------------------------ in-process (no cluster)
def test_local_kvstores_give_a_copy(ctx):
    stats = GroupStats(2, ctx=ctx)
    stats.update(mx.nd.array([1, 0, 1], ctx=ctx), mx.nd.array([0.9, 0.2, 0.7], ctx=ctx),
                 mx.nd.array([0, 0, 1], ctx=ctx))
    for kv in (None, "local", mx.kv.create("local"), mx.kv.create("device")):
        out = dist.allreduce_stats(stats, kv)
        assert out is not stats and out.counts.context == ctx
        np.testing.assert_array_equal(out.counts.asnumpy(), stats.counts.asnumpy())
        assert not dist.is_distributed(kv) and dist.rank_and_size(kv) == (0, 1)
    out = stats.allreduce(None)
    out.counts[:] = 0  # a copy: the original is untouched
    assert stats.counts.asnumpy().sum() == 3
    settings = dict(num_bins=4, threshold=0.3, from_logits=True, bootstrap=2, seed=5,
                    group_names=["x", "y"])
    empty = dist.allreduce_stats(GroupStats(2, ctx=ctx, **settings), None)
    assert empty.counts.shape == (2, 2, 2) and empty.hist.shape == (2, 2, 4)
    assert empty.counts.context == ctx
    assert {k: getattr(empty, k) for k in settings} == settings  # every setting carried over


def test_signature_tells_every_setting_apart():
    base = GroupStats(3, num_bins=8)._signature()
    assert list(base) == ["num_groups", "num_classes", "threshold", "num_bins", "bootstrap",
                          "from_logits", "bin_scale", "exact_auc"]
    ints = _kvstore._signature_ints(base)
    assert all(0 <= v < 2 ** 16 for v in ints)  # 12-bit pieces summed by W < 2**11 workers
    nearest = float(np.nextafter(0.5, 1.0))
    for changed in (dict(threshold=nearest), dict(threshold=0.0), dict(from_logits=False),
                    dict(num_bins=9), dict(bootstrap=2), dict(bin_scale="logit"),
                    dict(exact_auc=True), dict(num_groups=3 + 2 ** 16)):
        other = GroupStats(**{"num_groups": 3, "num_bins": 8, **changed})._signature()
        assert _kvstore._signature_ints(other) != ints, changed
    assert _kvstore._signature_ints(GroupStats(3, num_bins=8)._signature()) == ints
    # before, a setting of 2**16 or more (num_groups=70000) could not be checked at all
    big = _kvstore._signature_ints({"num_groups": 70_000})
    assert big != _kvstore._signature_ints({"num_groups": 70_000 - 2 ** 16})
    with pytest.raises(ValueError, match=r"signature entry size=-1 is outside"):
        _kvstore._signature_ints({"size": -1})


def test_header_pieces_hold_sizes_past_2_to_the_24():
    # array sizes past 2**24 must survive the float32 sum of the header exactly
    sizes = [2 ** 31 - 2, 2 ** 24 + 1, 5]
    pieces = _kvstore._pieces(sizes)
    assert pieces.max() < 2 ** 12
    summed = (pieces.astype(np.float32) * np.float32(2047)).astype(np.float64)  # 2047 workers
    recovered = sum(summed.reshape(3, -1)[i] * 2 ** (12 * i) for i in range(3))
    np.testing.assert_array_equal(recovered, np.array(sizes, dtype=np.float64) * 2047)
    with pytest.raises(ValueError, match=r"header integers must lie in \[0, 2\*\*36\)"):
        _kvstore._pieces([2 ** 36])


def test_allreduce_array_keeps_kind_dtype_and_context(ctx):
    nd = mx.nd.array([[1, 2], [3, 4]], ctx=ctx, dtype="int64")
    out = dist.allreduce_array(nd, mx.kv.create("local"), key="x")
    assert isinstance(out, mx.nd.NDArray) and out.context == ctx and out.dtype == np.int64
    np.testing.assert_array_equal(out.asnumpy(), nd.asnumpy())
    host = np.array([0.25, 3.5], dtype=np.float32)
    res = dist.allreduce_array(host, None, key="y")
    assert isinstance(res, np.ndarray) and res.dtype == np.float32 and res is not host


def test_global_reweighing_without_kvstore_matches_reweighing_table(ctx):
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(dist.global_reweighing(y, g, None, num_groups=2),
                                  reweighing_table(y, g, num_groups=2, num_classes=2))
    nd = dist.global_reweighing(mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx), None,
                                num_groups=2)
    assert nd.context == ctx and nd.dtype == np.float64
    counts = dist.global_cell_counts(y, g, None, num_groups=3)  # a group absent locally
    assert counts.shape == (3, 2) and counts[2].sum() == 0


def test_sync_ratios_without_kvstore_and_with_a_sampler(ctx):
    from mxfair.data import FairBatchSampler

    ratios = np.array([[0.2, 0.3], [0.25, 0.25]])
    np.testing.assert_array_equal(dist.sync_ratios(ratios, None), ratios)
    nd = dist.sync_ratios(mx.nd.array(ratios, ctx=ctx), None, method="broadcast")
    assert nd.context == ctx
    y = np.array([0, 1] * 8)
    g = np.repeat([0, 1], 8)
    sampler = FairBatchSampler(y, g, batch_size=4, seed=0)
    before = sampler.lambdas_.copy()
    agreed = dist.sync_ratios(sampler, None)
    np.testing.assert_array_equal(agreed, before)
    assert sampler.lambdas_ is agreed


def test_init_trainer_without_a_distributed_kvstore_is_harmless():
    net = mx.gluon.nn.Dense(1, in_units=2)
    net.initialize(mx.init.Constant(0.5))
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1},
                               kvstore="local")
    dist.init_trainer(trainer)
    with mx.autograd.record():
        loss = net(mx.nd.ones((2, 2))).sum()
    loss.backward()
    trainer.step(2)
    np.testing.assert_allclose(net.weight.data().asnumpy(), [[0.4, 0.4]], rtol=1e-6)
    with pytest.raises(TypeError, match="trainer must be a gluon.Trainer"):
        dist.init_trainer(net)


def test_bad_arguments():
    with pytest.raises(TypeError, match="is a string; for distributed training pass"):
        dist.allreduce_array(np.ones(2), "dist_sync", key="x")
    with pytest.raises(TypeError, match="kvstore must be None, an mx.kv.KVStore"):
        dist.allreduce_array(np.ones(2), object(), key="x")
    with pytest.raises(TypeError, match="key must be a non-empty string"):
        dist.allreduce_array(np.ones(2), None, key=3)
    # the order of earlier releases, (kvstore, key, array), fails loudly
    with pytest.raises(TypeError, match="positional argument"):
        dist.allreduce_array(None, "x", np.ones(2))
    with pytest.raises(TypeError, match="stats must be a GroupStats"):
        dist.allreduce_stats(np.ones(3), None)
    with pytest.raises(ValueError, match="method must be 'mean' or 'broadcast', got 'max'"):
        dist.sync_ratios(np.ones(2), None, method="max")
    with pytest.raises(ValueError, match=r"root must be a worker rank in \[0, 1\), got 1"):
        dist.sync_ratios(np.ones(2), None, method="broadcast", root=1)


@pytest.mark.parametrize("num_workers", [2, 3, 7])
@pytest.mark.parametrize("kind", ["counts", "integers", "grid", "wide", "huge_span"])
def test_limb_protocol_is_exact(num_workers, kind):
    """The fixed-point limbs, summed in float32 as a server does, give the correctly rounded
    float64 sum (exact for integers); the bounded-span case rounds as documented."""
    rng = np.random.RandomState(num_workers)
    n = 300
    if kind == "counts":  # small spans: the int64 path of the recombination
        parts = [rng.randint(0, 2 ** 20, size=n).astype(np.float64) for _ in range(num_workers)]
    elif kind == "integers":  # wider: the Python-integer path
        parts = [rng.randint(0, 2 ** 40, size=n).astype(np.float64) for _ in range(num_workers)]
    elif kind == "grid":
        parts = [rng.randint(-2 ** 30, 2 ** 30, size=n) / 4096.0 for _ in range(num_workers)]
    elif kind == "wide":  # random float64 over 20 orders of magnitude, some zeros
        parts = [rng.randn(n) * 10.0 ** rng.randint(-10, 10, size=n) * (rng.rand(n) > 0.1)
                 for _ in range(num_workers)]
    else:
        parts = [np.concatenate([[1e30], rng.randn(n - 1) * 1e-30]) for _ in range(num_workers)]
    exps = [_kvstore._exponents(p) for p in parts]
    e_max = max(e for e, _ in exps if e is not None)
    q_min = min(q for _, q in exps if q is not None)
    rounded = e_max - q_min > _kvstore._MAX_SPAN
    if rounded:
        q_min = e_max - _kvstore._MAX_SPAN
    span = e_max - q_min
    bits = 23 - math.ceil(math.log2(num_workers))
    num_limbs = max(1, math.ceil(span / bits))
    limbs = [_kvstore._split_limbs(p, q_min, num_limbs, bits, rounded) for p in parts]
    total = np.zeros(limbs[0].shape, dtype=np.float32)
    for part in limbs:  # the server: float32 additions, one worker after the other
        assert np.all(np.abs(part) < 2 ** bits + 1)
        total = (total + part.astype(np.float32)).astype(np.float32)
    got = _kvstore._join_limbs(total.astype(np.float64), q_min, bits, num_workers, span)
    if not rounded:
        exact = np.array([math.fsum(col) for col in zip(*parts)])
        np.testing.assert_array_equal(got, exact)
    else:
        grid = [np.rint(np.ldexp(p, -q_min)) for p in parts]
        exact = np.array([math.ldexp(float(sum(int(v) for v in col)), q_min)
                          for col in zip(*grid)])
        np.testing.assert_array_equal(got, exact)
        # documented bound: W half-units of the grid, plus the final rounding to float64
        bound = Fraction(num_workers) * Fraction(2) ** (e_max - _kvstore._MAX_SPAN - 1)
        for value, col in zip(got, zip(*parts)):
            error = abs(Fraction(value) - sum(Fraction(v) for v in col))
            assert error <= bound + Fraction(np.spacing(abs(value))) / 2
