"""Step time of the worst-group methods against plain softmax cross-entropy on the example CNN.

The CNN of ``examples/cifar10s.py`` (three 3x3 conv-BatchNorm-ReLU-pool blocks, global pooling,
a linear layer; 32x32x3 inputs, 10 classes), batch 64, Adam, net and loss hybridized. One step is
forward + loss + backward + ``trainer.step`` (+ the adversary's step for ARL), measured in
rounds of ``--steps`` steps; the methods run alternately in one process, ``--rounds`` times, and
each method's overhead is the median of its per-round ratio to the plain loss of the same round
(paired, so a machine busy with other work affects both sides alike).

Rows: plain softmax CE, and a second copy of it as a control (its "overhead" is the noise of
the measurement); ``GroupDROLoss`` over 20 (class, domain) groups; the domain-independent
head (``domain_independent_nets`` + ``DomainIndependentLoss``, 2 domains); JTT's second stage
(plain CE on ``JTTSampler`` indices: the sampler's draw per epoch is timed apart, and the first
stage costs ``T`` extra ERM epochs plus one pass of ``error_set``); ARL (``ARLAdversary`` on the
input pooled to 3x8x8 and the label, ``ARLLoss``, a second Adam step); the fair loss
(``FairnessRegularizedLoss``, equal opportunity over 2 domains) for reference.

Run: ``python bench/bench_worst_group.py`` (a few minutes on 2 cores). Writes
``bench/results/worst_group.md``.
"""
import argparse
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from mxfair.data import JTTSampler
from mxfair.loss import ARLAdversary, ARLLoss, FairnessRegularizedLoss, GroupDROLoss
from mxfair.nn import DomainIndependentLoss, domain_independent_nets

RESULTS = Path(__file__).resolve().parent / "results" / "worst_group.md"
BATCH, K, DOMAINS = 64, 10, 2


def body(seed: int) -> gluon.nn.HybridSequential:
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    for channels in (16, 32, 64):
        net.add(gluon.nn.Conv2D(channels, 3, padding=1), gluon.nn.BatchNorm(),
                gluon.nn.Activation("relu"), gluon.nn.MaxPool2D(2))
    net.add(gluon.nn.GlobalAvgPool2D())
    return net


def plain_net(ctx, seed=0):
    net = gluon.nn.HybridSequential()
    net.add(body(seed), gluon.nn.Dense(K))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


class Method:
    """One row: a net, its loss, its trainer(s) and ``step(x, y, a, g)``."""

    def __init__(self, name, ctx):
        self.name = name
        self.adversary, self.adv_trainer = None, None
        if name == "domain-independent head":
            self.net, _ = domain_independent_nets(body(0), K, DOMAINS)
            self.net.initialize(mx.init.Xavier(), ctx=ctx)
            self.net.hybridize(static_alloc=True, static_shape=True)
        else:
            self.net = plain_net(ctx)
        if name == "group DRO":
            self.loss_block = GroupDROLoss(K * DOMAINS, num_classes=K)
        elif name == "domain-independent head":
            self.loss_block = DomainIndependentLoss(K, DOMAINS)
        elif name == "fair loss (EO, 2 domains)":
            self.loss_block = FairnessRegularizedLoss(DOMAINS, constraint="equal_opportunity",
                                                      num_classes=K)
        elif name == "ARL":
            self.loss_block = ARLLoss(num_classes=K)
            self.adversary = ARLAdversary(num_classes=K)
            self.adversary.initialize(mx.init.Xavier(), ctx=ctx)
            self.adversary.hybridize(static_alloc=True, static_shape=True)
        else:  # plain, and its control copy (how large the noise of a paired ratio is)
            self.loss_block = gluon.loss.SoftmaxCrossEntropyLoss()
        self.loss_block.hybridize(static_alloc=True, static_shape=True)
        self.trainer = gluon.Trainer(self.net.collect_params(), "adam", {"learning_rate": 1e-3})

    def loss(self, out, x, y, a, g):
        if self.name == "group DRO":
            return self.loss_block(out, y, g)
        if self.name in ("domain-independent head", "fair loss (EO, 2 domains)"):
            return self.loss_block(out, y, a)
        if self.name == "ARL":
            view = mx.nd.Pooling(x, kernel=(4, 4), stride=(4, 4), pool_type="avg")
            return self.loss_block(out, y, self.adversary(view, y))
        return self.loss_block(out, y)

    def step(self, x, y, a, g):
        with autograd.record():
            loss = self.loss(self.net(x), x, y, a, g)
        loss.backward()
        self.trainer.step(BATCH)
        if self.adversary is not None:
            if self.adv_trainer is None:  # after the first call (deferred initialisation)
                self.adv_trainer = gluon.Trainer(self.adversary.collect_params(), "adam",
                                                 {"learning_rate": 1e-2})
            self.adv_trainer.step(BATCH)


class HeadAndLoss:
    """The part of a step that differs between methods: the last layer(s) and the loss, on fixed
    body features (N, 64) (and, for ARL, the pooled input), forward + backward + the adversary's
    Adam step. Timed over many repetitions, it is far less noisy than a whole step."""

    def __init__(self, method: "Method", ctx):
        self.method = method
        net = method.net
        self.head = net[1] if len(net) > 1 else None  # Dense(K) or the domain-independent head
        rng = np.random.RandomState(1)
        self.features = mx.nd.array(rng.normal(size=(BATCH, 64)), ctx=ctx)
        self.x = mx.nd.array(rng.uniform(size=(BATCH, 3, 32, 32)), ctx=ctx)
        self.y = mx.nd.array(rng.randint(0, K, BATCH), ctx=ctx)
        self.a = mx.nd.array(rng.randint(0, DOMAINS, BATCH), ctx=ctx)
        self.g = self.y * DOMAINS + self.a
        self.head.hybridize(static_alloc=True, static_shape=True)

    def step(self):
        with autograd.record():
            loss = self.method.loss(self.head(self.features), self.x, self.y, self.a, self.g)
        loss.backward()
        if self.method.adv_trainer is not None:
            self.method.adv_trainer.step(BATCH)


NAMES = ["plain softmax CE", "plain softmax CE (control: a second copy)", "group DRO",
         "domain-independent head", "ARL", "fair loss (EO, 2 domains)"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args(argv)
    ctx = mx.cpu()
    rng = np.random.RandomState(0)
    pool = 8  # a few distinct batches, cycled
    xs = [mx.nd.array(rng.uniform(size=(BATCH, 3, 32, 32)), ctx=ctx) for _ in range(pool)]
    ys = [mx.nd.array(rng.randint(0, K, BATCH), ctx=ctx) for _ in range(pool)]
    as_ = [mx.nd.array(rng.randint(0, DOMAINS, BATCH), ctx=ctx) for _ in range(pool)]
    gs = [y * DOMAINS + a for y, a in zip(ys, as_)]
    methods = [Method(n, ctx) for n in NAMES]
    for m in methods:  # warm-up: graphs built, memory allocated
        for i in range(5):
            m.step(xs[i % pool], ys[i % pool], as_[i % pool], gs[i % pool])
    mx.nd.waitall()
    times = {m.name: [] for m in methods}
    for r in range(args.rounds):
        for m in methods[r % len(methods):] + methods[:r % len(methods)]:
            mx.nd.waitall()
            start = time.perf_counter()
            for i in range(args.steps):
                j = (r * args.steps + i) % pool
                m.step(xs[j], ys[j], as_[j], gs[j])
            mx.nd.waitall()
            times[m.name].append((time.perf_counter() - start) / args.steps)
    # the part that differs, timed alone: 2000 repetitions per method, in alternating blocks
    parts = [HeadAndLoss(m, ctx) for m in methods]
    for part in parts:
        for _ in range(20):
            part.step()
    mx.nd.waitall()
    part_times = {m.name: [] for m in methods}
    for _ in range(args.rounds):
        for part in parts:
            mx.nd.waitall()
            start = time.perf_counter()
            for _ in range(100):
                part.step()
            mx.nd.waitall()
            part_times[part.method.name].append((time.perf_counter() - start) / 100)
    base = np.array(times[NAMES[0]])
    step_ms = 1000 * float(np.median(base))
    part_base = 1000 * float(np.median(part_times[NAMES[0]]))
    rows = []
    for name in NAMES:
        t = np.array(times[name])
        rows.append((name, 1000 * np.median(t), 100 * (np.median(t / base) - 1)))
    # JTT: the second stage's steps are plain CE steps; its sampler draws once per epoch
    errors = np.zeros(1347, bool)
    errors[rng.choice(1347, 60, replace=False)] = True
    sampler = JTTSampler(errors, 10.0, seed=0, num_samples=1347)
    draws = []
    for _ in range(20):
        start = time.perf_counter()
        list(sampler)
        draws.append(time.perf_counter() - start)
    epoch_steps = -(-1347 // BATCH)
    plain_epoch = rows[0][1] * epoch_steps
    jtt_draw_ms = 1000 * float(np.median(draws))
    lines = [
        "Example CNN (3 conv-BN-ReLU-pool blocks, 32x32x3, 10 classes), batch 64, Adam, "
        f"hybridized; {args.rounds} rounds of {args.steps} steps per method, alternated; "
        "median ms/step and median paired overhead vs plain softmax CE (CPU, "
        "OMP_NUM_THREADS as set).",
        "",
        "| method | ms / step | overhead vs plain | ms / epoch (1,347 images) |",
        "|---|---|---|---|",
    ]
    for name, ms, over in rows:
        lines.append(f"| {name} | {ms:.2f} | {over:+.1f}% | {ms * epoch_steps:.0f} |")
    lines.append(f"| JTT, second stage (plain CE on JTTSampler indices) | {rows[0][1]:.2f} | "
                 f"{100 * jtt_draw_ms / plain_epoch:+.1f}% (sampler draw, "
                 f"{jtt_draw_ms:.2f} ms per epoch) | {plain_epoch + jtt_draw_ms:.0f} |")
    lines += [
        "",
        "The part that differs between methods, timed alone (last layer(s) + loss, forward + "
        "backward, + the adversary's step for ARL, on fixed (64, 64) body features; "
        f"{args.rounds} x 100 repetitions): its extra time over plain softmax CE, as a share of "
        f"the whole plain step ({step_ms:.1f} ms) -- the overhead net of the machine's noise.",
        "",
        "| method | head + loss (ms) | extra vs plain (ms) | overhead of a step |",
        "|---|---|---|---|",
    ]
    for name in NAMES:
        ms = 1000 * float(np.median(part_times[name]))
        lines.append(f"| {name} | {ms:.3f} | {ms - part_base:+.3f} | "
                     f"{100 * (ms - part_base) / step_ms:+.1f}% |")
    lines.append("")
    lines.append("JTT's first stage adds T ERM epochs and one inference pass over the training "
                 "set (`error_set`); ARL's row includes the adversary's forward, backward and "
                 "Adam step.")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
