"""Fairness-regularized training on Adult (sex): accuracy, gaps and step time in one table.

The same MLP (2 hidden ReLU layers), optimizer, epochs and seed for every row: the plain loss,
``FairnessRegularizedLoss`` for demographic parity and for equalized odds over a ``lam`` sweep,
``ConstrainedFairLoss`` at ``eps = 0.02``, and ``AdversarialDebiasing``; fairlearn's
``ExponentiatedGradient(LogisticRegression, DemographicParity)`` on the same split is the
reference. Gaps are between-groups differences on the test split (fairlearn's definitions, via
``mxfair.metrics``). The "val-selected" column marks, per method, the row one would pick without
looking at test data: the most accurate on validation among those with validation DP gap <= 0.02.

Step time: forward + backward + ``trainer.step`` at batch 256, net and loss hybridized,
plain and fair loss measured alternately in the same process (median of several rounds).

Run: ``python bench/bench_fair_loss.py`` (about 3-5 minutes on 2 cores). Writes
``bench/results/fair_loss.md``.
"""
import argparse
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from mxfair.datasets import load_adult
from mxfair.loss import AdversarialDebiasing, ConstrainedFairLoss, FairnessRegularizedLoss
from mxfair.metrics import demographic_parity_difference, equalized_odds_difference

RESULTS = Path(__file__).resolve().parent / "results" / "fair_loss.md"
BATCH = 256


def make_net(ctx, seed):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(32, activation="relu"),
            gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def batches(n, seed, epoch):
    """Shuffled full batches (the last partial batch is dropped: static shapes)."""
    order = np.random.RandomState(seed * 1000 + epoch).permutation(n)
    return [order[i:i + BATCH] for i in range(0, n - BATCH + 1, BATCH)]


def evaluate(net, split, ctx):
    scores = net(mx.nd.array(split.X, ctx=ctx)).asnumpy().ravel()
    pred = (scores > 0).astype(np.int64)
    y, g = split.y, split.groups
    return {
        "acc": float((pred == y).mean()),
        "dp": demographic_parity_difference(y, pred, sensitive_features=g),
        "eo": equalized_odds_difference(y, pred, sensitive_features=g),
    }


def train(data, ctx, epochs, seed, loss_fn=None, adversary=None, adv_lr=1e-2,
          alpha_schedule=None, per_epoch_update=False, per_step=False):
    """Train the MLP; ``loss_fn`` None = plain BCE. Returns (net, seconds)."""
    net = make_net(ctx, seed)
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3})
    if loss_fn is not None:
        loss_fn.hybridize(static_alloc=True, static_shape=True)
    if adversary is not None:
        adversary.initialize(mx.init.Xavier(), ctx=ctx)
        adversary.hybridize(static_alloc=True, static_shape=True)
        adv_trainer = gluon.Trainer(adversary.collect_params(), "adam",
                                    {"learning_rate": adv_lr})
    X = mx.nd.array(data.train.X, ctx=ctx)
    y = mx.nd.array(data.train.y, ctx=ctx)
    g = mx.nd.array(data.train.groups, ctx=ctx)
    start = time.perf_counter()
    for epoch in range(epochs):
        if adversary is not None and alpha_schedule is not None:
            adversary.alpha = alpha_schedule(epoch)
        for idx in batches(len(data.train.y), seed, epoch):
            i = mx.nd.array(idx, ctx=ctx, dtype="int64")
            xb, yb, gb = X.take(i), y.take(i), g.take(i)
            with autograd.record():
                out = net(xb)
                if loss_fn is not None:
                    loss = loss_fn(out, yb, gb)
                else:
                    loss = bce(out, yb)
                if adversary is not None:
                    loss = loss + adversary(out, yb, gb)
            loss.backward()
            trainer.step(BATCH)
            if adversary is not None:
                adv_trainer.step(BATCH)
            if per_step:
                loss_fn.update_multiplier()
        if per_epoch_update:
            loss_fn.update_multiplier()
    mx.nd.waitall()
    return net, time.perf_counter() - start


def step_times(data, ctx, rounds=25, steps=20):
    """Per-step time (ms) of each loss and its overhead over plain BCE.

    The losses run in alternating blocks of ``steps`` steps, ``rounds`` times, so that load from
    other processes hits them alike; the overhead is the median over rounds of the paired ratio
    (each loss's block against the plain block of the same round).
    """
    n = BATCH * steps
    X, y, g = (mx.nd.array(a[:n], ctx=ctx)
               for a in (data.train.X, data.train.y, data.train.groups))
    setups = {
        "plain BCE": gluon.loss.SigmoidBinaryCrossEntropyLoss(),
        "fair loss (DP, absolute)": FairnessRegularizedLoss(2, constraint="demographic_parity",
                                                            penalty="absolute"),
        "fair loss (DP, squared)": FairnessRegularizedLoss(2, constraint="demographic_parity",
                                                           penalty="squared"),
        "fair loss (EO, absolute)": FairnessRegularizedLoss(2, constraint="equalized_odds",
                                                            penalty="absolute"),
        "fair loss (DP, mmd)": FairnessRegularizedLoss(2, constraint="demographic_parity",
                                                       penalty="mmd"),
        "BCE + adversary (DP)": AdversarialDebiasing(2, constraint="demographic_parity", alpha=5.0),
    }
    bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    bce.hybridize(static_alloc=True, static_shape=True)
    nets, trainers = {}, {}
    for name, block in setups.items():
        nets[name] = make_net(ctx, 0)
        params = nets[name].collect_params()
        if isinstance(block, AdversarialDebiasing):
            block.initialize(mx.init.Xavier(), ctx=ctx)
            params.update(block.collect_params())
        block.hybridize(static_alloc=True, static_shape=True)
        trainers[name] = gluon.Trainer(params, "adam", {"learning_rate": 1e-3})

    def run(name, n_steps):
        net, trainer, block = nets[name], trainers[name], setups[name]
        start = time.perf_counter()
        for s in range(n_steps):
            sl = slice(s * BATCH, (s + 1) * BATCH)
            with autograd.record():
                out = net(X[sl])
                if name == "plain BCE":
                    loss = block(out, y[sl])
                elif isinstance(block, AdversarialDebiasing):
                    loss = bce(out, y[sl]) + block(out, y[sl], g[sl])
                else:
                    loss = block(out, y[sl], g[sl])
            loss.backward()
            trainer.step(BATCH)
        mx.nd.waitall()
        return (time.perf_counter() - start) / n_steps * 1e3

    for name in setups:  # warm-up: build the cached graphs
        run(name, 5)
    times = {name: [] for name in setups}
    for _ in range(rounds):
        for name in setups:
            times[name].append(run(name, steps))
    plain = np.array(times["plain BCE"])
    return {name: (float(np.median(v)), float(np.median(np.array(v) / plain - 1)))
            for name, v in times.items()}


def fairlearn_reference(data):
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    eg = ExponentiatedGradient(LogisticRegression(max_iter=1000), DemographicParity())
    eg.fit(data.train.X, data.train.y, sensitive_features=data.train.groups)
    seconds = time.perf_counter() - start
    out = {}
    for split in ("val", "test"):
        s = getattr(data, split)
        pred = eg.predict(s.X, random_state=0)
        out[split] = {
            "acc": float((pred == s.y).mean()),
            "dp": demographic_parity_difference(s.y, pred, sensitive_features=s.groups),
            "eo": equalized_odds_difference(s.y, pred, sensitive_features=s.groups),
        }
    return out, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fairlearn", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer configurations")
    parser.add_argument("--only", nargs="*", help="families to run (plain, DP, EO, ...)")
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)
    ctx = mx.cpu()
    data = load_adult(sensitive="sex", seed=args.seed)
    t_all = time.perf_counter()

    def dp_loss(lam, penalty="absolute"):
        return FairnessRegularizedLoss(2, constraint="demographic_parity", penalty=penalty, lam=lam)

    def eo_loss(lam, penalty="absolute"):
        return FairnessRegularizedLoss(2, constraint="equalized_odds", penalty=penalty, lam=lam)

    dp_lams = [0.5, 0.75, 1.0, 1.5, 2.0] if not args.quick else [1.0]
    eo_lams = [0.25, 0.5, 1.0] if not args.quick else [0.5]
    configs = [("plain BCE", "plain", "-", dict())]
    configs += [("fair loss, DP, absolute", "DP lam sweep", f"lam={lam}",
                 dict(loss_fn=dp_loss(lam))) for lam in dp_lams]
    configs += [("fair loss, DP, squared", "DP squared", f"lam={lam:g}",
                 dict(loss_fn=dp_loss(lam, "squared"))) for lam in (10.0, 20.0)]
    configs += [("fair loss, DP, smooth max", "DP max", "lam=1",
                 dict(loss_fn=dp_loss(1.0, "max")))]
    configs += [("fair loss, DP, MMD (MinDiff)", "DP mmd", "lam=20",
                 dict(loss_fn=dp_loss(20.0, "mmd")))]
    configs += [("fair loss, EO, absolute", "EO lam sweep", f"lam={lam}",
                 dict(loss_fn=eo_loss(lam))) for lam in eo_lams]
    configs += [("constrained, DP, eps=0.02", "constrained", "dual step per batch, lr=0.02",
                 dict(loss_fn=ConstrainedFairLoss(2, bound=0.02, lr=0.02), per_step=True))]
    configs += [("constrained, DP, eps=0.02", "constrained", "dual step per epoch, lr=10",
                 dict(loss_fn=ConstrainedFairLoss(2, bound=0.02, lr=10.0),
                      per_epoch_update=True))]
    configs += [("adversarial, DP", "adversary", f"alpha={a:g}, adversary lr={lr:g}",
                 dict(adversary=AdversarialDebiasing(2, constraint="demographic_parity"), adv_lr=lr,
                      alpha_schedule=lambda e, a=a: a))
                for a, lr in ((5.0, 1e-3), (10.0, 3e-3))]
    configs += [("adversarial, EO", "adversary-EO", "alpha=1, adversary lr=0.01",
                 dict(adversary=AdversarialDebiasing(2, constraint="equalized_odds"), adv_lr=1e-2,
                      alpha_schedule=lambda e: 1.0))]

    if args.only:
        configs = [c for c in configs if c[1].split()[0] in args.only]
    rows = []
    for label, family, setting, kw in configs:
        net, seconds = train(data, ctx, args.epochs, args.seed, **kw)
        val, test = evaluate(net, epoch=data.val, log=ctx), evaluate(net, epoch=data.test, log=ctx)
        extra = ""
        if isinstance(kw.get("loss_fn"), ConstrainedFairLoss):
            extra = f", final lam={kw['loss_fn'].lam:.2f}"
        rows.append(dict(method=label, family=family, setting=setting + extra, val=val,
                         test=test, seconds=seconds))
        print(f"{label:32s} {setting:24s} test acc {test['acc']:.4f} DP {test['dp']:.4f} "
              f"EO {test['eo']:.4f} | val acc {val['acc']:.4f} DP {val['dp']:.4f} "
              f"({seconds:.1f} s)", flush=True)

    if not args.no_fairlearn:
        ref, seconds = fairlearn_reference(data)
        rows.append(dict(method="fairlearn EG(LogReg, DP)", family="fairlearn", setting="-",
                         val=ref["val"], test=ref["test"], seconds=seconds))
        print(f"fairlearn EG: test {ref['test']} ({seconds:.1f} s)", flush=True)

    times = {} if args.no_timing else step_times(data, ctx)
    print("step times (ms):", times, flush=True)

    # per family, the row one would choose on validation data: val DP <= 0.02, best val accuracy
    chosen = {}
    for i, r in enumerate(rows):
        if r["family"] in ("plain", "fairlearn") or r["val"]["dp"] > 0.02:
            continue
        fam = r["family"].split()[0]
        if fam not in chosen or r["val"]["acc"] > rows[chosen[fam]]["val"]["acc"]:
            chosen[fam] = i
    plain_acc = rows[0]["test"]["acc"]
    lines = [
        f"Adult (sex), official test split (n={len(data.test.y)}); train n={len(data.train.y)}, "
        f"MLP 64-32-1, Adam 1e-3, batch {BATCH}, {args.epochs} epochs, seed {args.seed}.",
        "",
        "| method | setting | test acc | test DP diff | test EO diff | val acc | val DP diff "
        "| val-selected | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        mark = "yes" if i in chosen.values() else ""
        lines.append(
            f"| {r['method']} | {r['setting']} | {r['test']['acc']:.4f} | {r['test']['dp']:.4f} "
            f"| {r['test']['eo']:.4f} | {r['val']['acc']:.4f} | {r['val']['dp']:.4f} | {mark} "
            f"| {r['seconds']:.1f} |")
    if times:
        lines += [
            "",
            "Per-step time, forward + backward + Adam step, batch 256, net and loss hybridized; "
            "25 rounds of 20 steps per loss, run alternately in one process; median ms/step "
            "and median paired overhead vs plain BCE:",
            "",
            "| loss | ms / step | overhead vs plain |",
            "|---|---|---|",
        ]
        for name, (ms, over) in times.items():
            lines.append(f"| {name} | {ms:.3f} | {over:+.1%} |")
    lines += ["", f"Plain test accuracy {plain_acc:.4f}; total bench time "
                  f"{time.perf_counter() - t_all:.0f} s."]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
