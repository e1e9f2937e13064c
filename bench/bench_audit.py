"""Benchmark of the audit: ``mxfair.audit`` on Adult's test split (15,060 rows) against the
closest peers that run here, in one run.

- mxfair: ``audit(net, data, permutations=10000, bootstrap=200)`` -- one pass of the net,
  GroupStats with 200 bootstrap replicates, six gap tests of 10,000 permutations each (drawn
  from the counts), Holm's correction, expected-gradients gap attribution (32 baselines x 4
  Gauss-Legendre nodes per row, all 15,060 rows), proxy detection, per-group partial
  dependence; figures timed apart.
- Significance peers, the same tests (DP difference with group ids permuted over all rows;
  equalized-odds difference with group ids permuted within each label): fairlearn 0.9.0's
  ``MetricFrame`` (``demographic_parity_difference`` / ``equalized_odds_difference``) in a
  resampling loop, timed on ``--peer-permutations`` permutations and scaled linearly to
  10,000 (marked "scaled"); and a NumPy loop (``rng.permutation`` + ``np.bincount``) at the
  full 10,000, the fastest plain resampling we could write.
- Attribution peer: Kernel SHAP (``shap.KernelExplainer``, shap 0.42.1 when installed, else
  the small Kernel SHAP estimate below) of the net's probability, background = the same 32
  rows, ``--kernel-samples`` coalitions per row, on ``--kernel-rows`` rows per group and
  scaled to 15,060 rows; the per-column SHAP values are summed into the same one-hot blocks,
  and the group difference of their means is compared with mxfair's contributions (rank of
  the top features, correlation).

Usage::

    python bench/bench_audit.py            # writes bench/results/audit.md
    python bench/bench_audit.py --quick    # fewer peer permutations and Kernel SHAP rows
"""
import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from mxfair import audit
from mxfair.datasets import load_adult
from mxfair.explain import tabular_feature_groups

RESULTS = Path(__file__).resolve().parent / "results" / "audit.md"
warnings.filterwarnings("ignore", category=FutureWarning)  # fairlearn 0.9.0 on pandas 2
PERMUTATIONS = 10000


def train_baseline(data, epochs: int, seed: int = 0):
    """The demo's baseline: Dense(64, relu) -> Dense(1) logits, Adam 1e-3, batches of 256."""
    mx.random.seed(seed)
    rng = np.random.RandomState(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3})
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    X, y = data.train.X, data.train.y.astype(np.float32)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), 256):
            idx = order[i:i + 256]
            with autograd.record():
                out = loss(net(mx.nd.array(X[idx])), mx.nd.array(y[idx]))
            out.backward()
            trainer.step(len(idx))
    return net


def probabilities(net, X):
    return mx.nd.sigmoid(net(mx.nd.array(X))).asnumpy().reshape(-1)


# ------------------------------------------------------------------------ significance peers
def fairlearn_loop(y, d, g, B, rng):
    """(seconds per permutation for DP, for EO) of fairlearn in a resampling loop."""
    import fairlearn.metrics as flm

    start = time.perf_counter()
    for _ in range(B):
        flm.demographic_parity_difference(y, d, sensitive_features=rng.permutation(g))
    dp = (time.perf_counter() - start) / B
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    start = time.perf_counter()
    for _ in range(B):
        gp = g.copy()
        gp[pos], gp[neg] = rng.permutation(g[pos]), rng.permutation(g[neg])
        flm.equalized_odds_difference(y, d, sensitive_features=gp)
    eo = (time.perf_counter() - start) / B
    return dp, eo


def numpy_loop(y, d, g, B, rng, G=2):
    """Seconds of B permutations of DP and of EO with NumPy; and the two p-values."""
    def dp_gap(gp):
        n = np.bincount(gp, minlength=G)
        rate = np.bincount(gp, weights=d, minlength=G) / n
        return rate.max() - rate.min()

    def eo_gap(gp):
        gaps = []
        for label in (1, 0):
            m = y == label
            n = np.bincount(gp[m], minlength=G)
            rate = np.bincount(gp[m], weights=d[m], minlength=G) / n
            gaps.append(rate.max() - rate.min())
        return max(gaps)

    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    start = time.perf_counter()
    obs = dp_gap(g)
    dp_draws = [dp_gap(rng.permutation(g)) for _ in range(B)]
    dp_s = time.perf_counter() - start
    start = time.perf_counter()
    obs_eo = eo_gap(g)
    eo_draws = []
    for _ in range(B):
        gp = g.copy()
        gp[pos], gp[neg] = rng.permutation(g[pos]), rng.permutation(g[neg])
        eo_draws.append(eo_gap(gp))
    eo_s = time.perf_counter() - start
    p_dp = (1 + np.sum(np.array(dp_draws) >= obs - 1e-12)) / (B + 1)
    p_eo = (1 + np.sum(np.array(eo_draws) >= obs_eo - 1e-12)) / (B + 1)
    return dp_s, eo_s, p_dp, p_eo


# ------------------------------------------------------------------------------ Kernel SHAP
def kernel_shap(f, X, background, nsamples, rng):
    """A small Kernel SHAP (Lundberg & Lee, 2017): for each row, ``nsamples`` coalitions drawn
    from the Shapley kernel, v(S) = mean over the background of f(x_S, b_rest), weighted least
    squares with the efficiency constraint. Returns (N, D) SHAP values."""
    N, D = X.shape
    sizes = np.arange(1, D)
    kernel = (D - 1) / (sizes * (D - sizes))
    size_p = kernel / kernel.sum()
    masks = np.zeros((nsamples, D), dtype=bool)
    for i, s in enumerate(rng.choice(sizes, size=nsamples, p=size_p)):
        masks[i, rng.choice(D, s, replace=False)] = True
    weights = np.ones(nsamples)
    base = f(background).mean()
    out = np.zeros((N, D))
    for r in range(N):
        mixed = np.where(masks[:, None, :], X[r][None, None], background[None])
        v = f(mixed.reshape(-1, D)).reshape(nsamples, -1).mean(axis=1)
        fx = f(X[r:r + 1])[0]
        # eliminate the last feature with the efficiency constraint sum(phi) = fx - base
        Z = masks[:, :-1].astype(float) - masks[:, -1:].astype(float)
        target = v - base - masks[:, -1] * (fx - base)
        WZ = Z * weights[:, None]
        phi = np.linalg.lstsq(WZ.T @ Z, WZ.T @ target, rcond=None)[0]
        out[r, :-1] = phi
        out[r, -1] = (fx - base) - phi.sum()
    return out


def shap_attribution(net, X, g, background, nsamples, rows_per_group, seed):
    """Per-column group-mean difference of Kernel SHAP values on a subsample; seconds/row."""
    rng = np.random.RandomState(seed)
    rows = np.concatenate([rng.choice(np.flatnonzero(g == k), rows_per_group, replace=False)
                           for k in (0, 1)])

    def f(Z):
        return probabilities(net, Z.astype(np.float32))

    start = time.perf_counter()
    try:
        import shap

        explainer = shap.KernelExplainer(f, background)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.asarray(explainer.shap_values(X[rows], nsamples=nsamples, silent=True))
        engine = f"shap {shap.__version__} KernelExplainer"
    except ImportError:
        values = kernel_shap(f, X[rows], background, nsamples, rng)
        engine = "Kernel SHAP estimate (bench_audit.kernel_shap)"
    seconds = time.perf_counter() - start
    sub = g[rows]
    diff = values[sub == 1].mean(axis=0) - values[sub == 0].mean(axis=0)
    return diff, seconds / len(rows), engine, len(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--peer-permutations", type=int, default=None)
    p.add_argument("--kernel-rows", type=int, default=None, help="rows per group")
    p.add_argument("--kernel-samples", type=int, default=2048)
    args = p.parse_args(argv)
    peer_b = args.peer_permutations or (50 if args.quick else 300)
    kernel_rows = args.kernel_rows or (5 if args.quick else 20)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")

    data = load_adult()
    net = train_baseline(data, 2 if args.quick else args.epochs)
    T = data.test
    fg = tabular_feature_groups(data)
    # warm-up (graph building, imports) outside the timed region
    audit(net, (T.X[:500], T.y[:500], T.groups[:500]), permutations=99, bootstrap=10,
          figures=True, proxies=False)

    start = time.perf_counter()
    rep = audit(net, data, permutations=PERMUTATIONS, bootstrap=200, figures=False)
    total = time.perf_counter() - start
    start = time.perf_counter()
    rep.build_figures()
    rep.to_html(os.devnull)
    page = time.perf_counter() - start
    stages = rep.timings
    sig = rep.significance.set_index("gap")

    # significance peers
    p_scores = probabilities(net, T.X)
    d = (p_scores >= 0.5).astype(np.int64)
    y, g = T.y.astype(np.int64), T.groups.astype(np.int64)
    rng = np.random.RandomState(0)
    fl_dp, fl_eo = fairlearn_loop(y, d, g, peer_b, rng)
    np_dp, np_eo, np_p_dp, np_p_eo = numpy_loop(y, d, g, PERMUTATIONS, rng)
    mx_sig = stages["significance"]

    # attribution peer, on the same background rows as mxfair's expected gradients
    att = rep.attribution
    background = T.X[np.sort(np.random.RandomState(0).choice(len(T.X), 32, replace=False))]
    diff, per_row, engine, n_rows = shap_attribution(net, T.X, g, background,
                                                     args.kernel_samples, kernel_rows, 0)
    shap_groups = fg.sum_columns(diff)  # Male (1) − Female (0), as mxfair's pair
    sign = 1.0 if att.between == (1, 0) else -1.0
    ours = att.contributions * sign
    corr = float(np.corrcoef(ours, shap_groups)[0, 1])
    top_ours = [att.names[j] for j in np.argsort(-np.abs(ours))[:3]]
    top_shap = [fg.names[j] for j in np.argsort(-np.abs(shap_groups))[:3]]
    shap_full = per_row * len(T.X)

    lines = [
        f"Adult test split ({len(T.X):,} rows, {data.num_features} encoded columns in "
        f"{len(fg)} features), baseline MLP 101-64-1 ({2 if args.quick else args.epochs} "
        f"epochs); {platform.processor() or platform.machine()}, "
        f"OMP_NUM_THREADS={threads}, load average {os.getloadavg()[0]:.1f} at the end (the 2 "
        f"cores are shared), one run. Gap tests: {PERMUTATIONS:,} permutations each.",
        "",
        "| step | mxfair | peer | peer / mxfair |",
        "|---|---|---|---|",
        f"| whole audit (6 gap tests + Holm, 200 bootstrap replicates, attribution, proxies, "
        f"partial dependence) | {total:.1f} s | – | – |",
        f"| gap tests, 6 gaps x {PERMUTATIONS:,} permutations | {mx_sig:.2f} s | fairlearn "
        f"MetricFrame loop, DP + EO only: {(fl_dp + fl_eo) * PERMUTATIONS:.0f} s (scaled from "
        f"{peer_b}) | {(fl_dp + fl_eo) * PERMUTATIONS / mx_sig:.0f}x (for 2 of the 6 gaps) |",
        f"| | | NumPy permutation loop, DP + EO: {np_dp + np_eo:.1f} s | "
        f"{(np_dp + np_eo) / mx_sig:.1f}x (for 2 of the 6 gaps) |",
        f"| gap attribution, all {len(T.X):,} rows | {stages['attribution']:.2f} s "
        f"(expected gradients, 32 baselines x 4 nodes) | {engine}, {args.kernel_samples} "
        f"coalitions x 32 background rows: {shap_full:,.0f} s (scaled from {n_rows} rows, "
        f"{per_row:.2f} s/row) | {shap_full / stages['attribution']:,.0f}x |",
        f"| proxies (12 logistic models, 3-fold) | {stages.get('proxies', 0):.2f} s | – | – |",
        f"| one pass + GroupStats report | {stages['pass and report']:.2f} s | – | – |",
        f"| figures + HTML page | {page:.2f} s | – | – |",
        "",
        f"Same answers: DP p-value mxfair {sig.loc['demographic_parity_difference', 'p_value']:.2g}"
        f", NumPy loop {np_p_dp:.2g}; EO p-value mxfair "
        f"{sig.loc['equalized_odds_difference', 'p_value']:.2g}, NumPy loop {np_p_eo:.2g}. "
        f"Attribution: top three features mxfair {top_ours}, Kernel SHAP on {n_rows} rows "
        f"{top_shap}; correlation of the {len(fg)} per-feature contributions {corr:.2f}. "
        f"Gap in mean probability {att.gap:.4f}, contributions sum to "
        f"{att.contributions.sum():.4f}.",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    print(f"ratios: gap tests vs fairlearn loop {(fl_dp + fl_eo) * PERMUTATIONS / mx_sig:.0f}x, "
          f"vs NumPy loop {(np_dp + np_eo) / mx_sig:.1f}x; attribution vs Kernel SHAP "
          f"{shap_full / stages['attribution']:,.0f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
