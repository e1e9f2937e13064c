"""Data-parallel fair training: each device's own penalty against the whole step's penalty.

``gluon.utils.split_and_load`` gives every device a slice of the batch. Calling the fair loss once
per slice (``[loss_fn(p, y, g) for p, y, g in zip(...)]``) penalises each slice's own group gap;
calling it once with the lists (``loss_fn(preds, labels, groups)``) penalises the gap of the
whole step. This script measures, on Adult (sex), with CPU contexts standing in for devices:

1. the gradient of the penalty w.r.t. the logits, summed over the devices, against the gradient
   of the single-device whole batch (relative L2 difference and cosine), on 20 random batches of
   256 rows, for two models: a plain logistic regression and one trained near demographic
   parity;
2. the mean penalty over one epoch of batches, per-slice against whole-batch (the effective
   ``lam``), and a batch sorted by group (each device sees one group);
3. the time of a training step (MLP 64-32-1, hybridized, batch 256) on 1, 2 and 4 contexts.

Run: ``python bench/bench_data_parallel.py`` (about 1-2 minutes). Writes
``bench/results/data_parallel.md``. The per-slice columns need only the single-array call, so
the script also runs on code without the list call (those columns are then the only ones).
"""
import argparse
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from mxfair.datasets import load_adult
from mxfair.loss import FairnessRegularizedLoss

RESULTS = Path(__file__).resolve().parent / "results" / "data_parallel.md"
BATCH = 256
CONTEXTS = [mx.cpu(i) for i in range(8)]
CONSTRAINTS = ("equal_opportunity", "equalized_odds", "demographic_parity")


class ZeroLoss(gluon.loss.Loss):
    """A base loss of 0, so that the loss's gradient is the penalty's alone."""

    def __init__(self, **kwargs):
        super().__init__(None, 0, **kwargs)

    def hybrid_forward(self, F, pred, label, sample_weight=None):
        return F.zeros_like(F.reshape(pred, shape=(-1,)))


def penalty_loss(constraint, penalty):
    return FairnessRegularizedLoss(2, constraint=constraint, penalty=penalty, lam=1.0,
                                   base_loss=ZeroLoss())


def supports_lists() -> bool:
    loss = penalty_loss("demographic_parity", "squared")
    p = [mx.nd.zeros((2, 1), ctx=c) for c in CONTEXTS[:2]]
    try:
        out = loss(p, [mx.nd.array([0, 1], ctx=c) for c in CONTEXTS[:2]],
                   [mx.nd.array([0, 1], ctx=c) for c in CONTEXTS[:2]])
        return isinstance(out, list)
    except Exception:  # noqa: BLE001 - older code: the list call is not there
        return False


def slices(n, ndev):
    """Row indices of each device, as split_and_load cuts an n-row batch."""
    step = n // ndev
    return [np.arange(i * step, n if i == ndev - 1 else (i + 1) * step) for i in range(ndev)]


def logit_grad(loss_fn, logits, y, g, ndev, mode):
    """Gradient of sum(loss) w.r.t. the logits (rows in batch order), and the loss values."""
    parts = slices(len(y), ndev)
    ctxs = CONTEXTS[:ndev]
    preds = [mx.nd.array(logits[i].reshape(-1, 1), ctx=c) for i, c in zip(parts, ctxs)]
    ys = [mx.nd.array(y[i], ctx=c) for i, c in zip(parts, ctxs)]
    gs = [mx.nd.array(g[i], ctx=c) for i, c in zip(parts, ctxs)]
    for p in preds:
        p.attach_grad()
    with autograd.record():
        if mode == "whole":
            losses = loss_fn(preds, ys, gs)
        else:
            losses = [loss_fn(p, a, b) for p, a, b in zip(preds, ys, gs)]
    for loss in losses:  # one backward per device, as Gluon's data-parallel loops do
        loss.backward()
    grad = np.concatenate([p.grad.asnumpy().ravel() for p in preds])
    value = np.concatenate([loss.asnumpy() for loss in losses])
    return grad, value


def train_logreg(data, lam, epochs=3, seed=0):
    """A logistic regression on one context; lam > 0 adds the DP absolute penalty."""
    mx.random.seed(seed)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-2})
    loss_fn = FairnessRegularizedLoss(2, constraint="demographic_parity", penalty="absolute",
                                      lam=lam)
    X, y, g = (mx.nd.array(a) for a in (data.train.X, data.train.y, data.train.groups))
    rng = np.random.RandomState(seed)
    for _ in range(epochs):
        order = rng.permutation(len(data.train.y))
        for s in range(0, len(order) - BATCH + 1, BATCH):
            i = mx.nd.array(order[s:s + BATCH], dtype="int64")
            with autograd.record():
                loss = loss_fn(net(X.take(i)), y.take(i), g.take(i))
            loss.backward()
            trainer.step(BATCH)
    return net(X).asnumpy().ravel()


def gradient_table(data, logits_by_model, with_lists):
    rng = np.random.RandomState(1)
    n = len(data.train.y)
    batches = [rng.choice(n, BATCH, replace=False) for _ in range(20)]
    y_all, g_all = data.train.y.astype(np.float32), data.train.groups
    lines = ["| model | constraint | penalty | devices | per-device calls: rel. diff "
             "(median [min-max]) | cosine (median [min]) | list call: max rel. diff |",
             "|---|---|---|---|---|---|---|"]
    for model, logits in logits_by_model.items():
        for constraint in CONSTRAINTS:
            for penalty in ("absolute", "squared"):
                loss_fn = penalty_loss(constraint, penalty)
                for ndev in (2, 4, 8):
                    rel, cos, rel_list = [], [], []
                    for idx in batches:
                        x, y, g = logits[idx], y_all[idx], g_all[idx]
                        ref, _ = logit_grad(loss_fn, x, y, g, 1, "slice")
                        norm = np.linalg.norm(ref)
                        if norm == 0:
                            continue
                        got, _ = logit_grad(loss_fn, x, y, g, ndev, "slice")
                        rel.append(np.linalg.norm(got - ref) / norm)
                        cos.append(got @ ref / (np.linalg.norm(got) * norm + 1e-30))
                        if with_lists:
                            whole, _ = logit_grad(loss_fn, x, y, g, ndev, "whole")
                            rel_list.append(np.linalg.norm(whole - ref) / norm)
                    listed = f"{max(rel_list):.1e}" if rel_list else "n/a"
                    lines.append(
                        f"| {model} | {constraint} | {penalty} | {ndev} | "
                        f"{np.median(rel):.1%} [{min(rel):.1%}-{max(rel):.1%}] | "
                        f"{np.median(cos):.2f} [{min(cos):.2f}] | {listed} |")
                    print(lines[-1], flush=True)
    return lines


def penalty_ratio_table(data, logits, with_lists):
    """Mean penalty over an epoch of batches: per-slice mean over devices / whole batch."""
    y_all, g_all = data.train.y.astype(np.float32), data.train.groups
    order = np.random.RandomState(2).permutation(len(y_all))
    batches = [order[s:s + BATCH] for s in range(0, len(order) - BATCH + 1, BATCH)]
    lines = ["| constraint | penalty | devices | mean per-slice penalty / whole-batch penalty | "
             "list call: max abs. diff of the per-row penalty |", "|---|---|---|---|---|"]
    for constraint, penalty in (("equal_opportunity", "absolute"),
                                ("equalized_odds", "absolute"),
                                ("demographic_parity", "squared")):
        loss_fn = penalty_loss(constraint, penalty)
        whole = [logit_grad(loss_fn, logits[i], y_all[i], g_all[i], 1, "slice")[1][0]
                 for i in batches]
        for ndev in (2, 4, 8):
            per_slice, diffs = [], []
            for i, w in zip(batches, whole):
                _, values = logit_grad(loss_fn, logits[i], y_all[i], g_all[i], ndev, "slice")
                per_slice.append(values.mean())  # equal slices: the mean over devices
                if with_lists:
                    _, listed = logit_grad(loss_fn, logits[i], y_all[i], g_all[i], ndev, "whole")
                    diffs.append(np.abs(listed - w).max())
            listed = f"{max(diffs):.1e}" if diffs else "n/a"
            lines.append(f"| {constraint} | {penalty} | {ndev} | "
                         f"{np.mean(per_slice) / np.mean(whole):.2f}x | {listed} |")
            print(lines[-1], flush=True)
    # a batch sorted by group: with 2 devices each sees (almost) one group
    idx = batches[0][np.argsort(g_all[batches[0]], kind="stable")]
    loss_fn = penalty_loss("demographic_parity", "squared")
    one = logit_grad(loss_fn, logits[idx], y_all[idx], g_all[idx], 1, "slice")[1][0]
    two = logit_grad(loss_fn, logits[idx], y_all[idx], g_all[idx], 2, "slice")[1]
    text = (f"Batch sorted by group, demographic parity, squared: whole-batch penalty {one:.4g}; "
            f"per-slice penalties on 2 devices {two[0]:.4g} and {two[-1]:.4g}")
    if with_lists:
        both = logit_grad(loss_fn, logits[idx], y_all[idx], g_all[idx], 2, "whole")[1]
        text += f"; list call {both[0]:.4g} and {both[-1]:.4g}"
    lines += ["", text + "."]
    print(lines[-1], flush=True)
    return lines


def step_time_table(data, with_lists, rounds=15, steps=20):
    X, y, g = data.train.X, data.train.y.astype(np.float32), data.train.groups
    setups = [("1 context", 1, "slice")]
    for ndev in (2, 4):
        setups.append((f"{ndev} contexts, one call per context", ndev, "slice"))
        if with_lists:
            setups.append((f"{ndev} contexts, one list call (whole step)", ndev, "whole"))
    runs = {}
    for name, ndev, mode in setups:
        ctxs = CONTEXTS[:ndev]
        mx.random.seed(0)
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(32, activation="relu"),
                gluon.nn.Dense(1))
        net.initialize(mx.init.Xavier(), ctx=ctxs)
        net.hybridize(static_alloc=True, static_shape=True)
        loss_fn = FairnessRegularizedLoss(2, constraint="demographic_parity", penalty="absolute")
        loss_fn.hybridize(static_alloc=True, static_shape=True)
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3})
        data_b = [[gluon.utils.split_and_load(mx.nd.array(a[s * BATCH:(s + 1) * BATCH]), ctxs)
                   for a in (X, y, g)] for s in range(steps)]
        runs[name] = (net, loss_fn, trainer, data_b, mode)

    def run(name):
        net, loss_fn, trainer, data_b, mode = runs[name]
        start = time.perf_counter()
        for xs, ys, gs in data_b:
            with autograd.record():
                preds = [net(x) for x in xs]
                if mode == "whole":
                    losses = loss_fn(preds, ys, gs)
                else:
                    losses = [loss_fn(p, a, b) for p, a, b in zip(preds, ys, gs)]
            for loss in losses:
                loss.backward()
            trainer.step(BATCH)
        mx.nd.waitall()
        return (time.perf_counter() - start) / len(data_b) * 1e3

    for name in runs:
        run(name)  # warm-up
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name in runs:
            times[name].append(run(name))
    lines = ["| setup | ms / step (median) | vs one call per context, same contexts |",
             "|---|---|---|"]
    for name, values in times.items():
        ratio = ""
        if "list call" in name:
            ref = np.array(times[name.split(",")[0] + ", one call per context"])
            ratio = f"{np.median(np.array(values) / ref) - 1:+.0%}"
        lines.append(f"| {name} | {np.median(values):.2f} | {ratio} |")
        print(lines[-1], flush=True)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--timing-only", action="store_true",
                        help="only the step times (printed; the results file is not written)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    data = load_adult(sensitive="sex", seed=0, download=False)
    with_lists = supports_lists()
    if args.timing_only:
        step_time_table(data, with_lists)
        return 0
    logits = {"plain logistic": train_logreg(data, 0.0),
              "near-DP logistic (lam=2)": train_logreg(data, 2.0)}
    lines = [
        f"Adult (sex), training split (n={len(data.train.y)}), batch {BATCH}; CPU contexts "
        "stand in for devices. Per-device calls: the loss called on each slice; list call: "
        "the loss called once with the per-device lists (the whole step's penalty).",
        "",
        "Gradient of the penalty (lam = 1, base loss 0) w.r.t. the logits, summed over the "
        "devices, against the single-device gradient of the whole batch; 20 random batches:",
        "",
    ]
    lines += gradient_table(data, logits, with_lists)
    lines += ["", "Mean penalty over one epoch of batches (plain logistic regression):", ""]
    lines += penalty_ratio_table(data, logits["plain logistic"], with_lists)
    if not args.no_timing:
        lines += ["", "Training step (MLP 64-32-1, DP absolute, net and loss hybridized, batch "
                      f"{BATCH} split over the contexts; {15} rounds of 20 steps):", ""]
        lines += step_time_table(data, with_lists)
    lines += ["", f"Total bench time {time.perf_counter() - t0:.0f} s."]
    table = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
