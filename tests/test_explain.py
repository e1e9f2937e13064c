"""mxfair.explain: completeness, agreement with exact Shapley values, a planted proxy, one-hot
blocks, images, model-agnostic explainers and bad inputs."""
import itertools
import math
import os
import re
import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from mxfair._validation import IDS_NOT_NUMERIC
from mxfair.datasets import load_german
from mxfair.explain import (
    FeatureGroups,
    UnreliableGradientsError,
    feature_importance,
    gap_attribution,
    occlusion_maps,
    partial_dependence,
    permutation_gap_attribution,
    proxy_detection,
    shapley_gap,
    tabular_feature_groups,
)


def small_mlp(d, ctx=None, seed=0, hidden=8, act="tanh"):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(hidden, activation=act, in_units=d), gluon.nn.Dense(1, in_units=hidden))
    net.initialize(mx.init.Xavier(magnitude=2), ctx=ctx or mx.cpu())
    net.hybridize()
    return net


def shifted_data(n=400, seed=0):
    """Four features, three of them shifted by group."""
    rs = np.random.RandomState(seed)
    g = rs.randint(0, 2, n)
    X = np.c_[rs.randn(n) + 0.8 * g, rs.randn(n), rs.randn(n) - 0.5 * g, rs.randn(n) + 0.3 * g]
    return X.astype(np.float32), g


def train(net, X, y, epochs=8, ctx=None, lr=0.01):
    ctx = ctx or mx.cpu()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    for _ in range(epochs):
        for i in range(0, len(X), 128):
            xb = mx.nd.array(X[i:i + 128], ctx=ctx)
            yb = mx.nd.array(y[i:i + 128], ctx=ctx)
            with autograd.record():
                out = loss(net(xb), yb)
            out.backward()
            trainer.step(xb.shape[0])
    return net


# ------------------------------------------------------------------------------ completeness
@pytest.mark.parametrize("output", ["probability", "logit"])
def test_contributions_add_up_to_the_gap(output, ctx):
    X, g = shifted_data()
    net = small_mlp(4, ctx)
    att = gap_attribution(net, X, g, output=output, ctx=ctx)
    out = net(mx.nd.array(X, ctx=ctx)).reshape((-1,))
    f = out.sigmoid().asnumpy() if output == "probability" else out.asnumpy()
    a, b = att.between
    assert att.gap == pytest.approx(f[g == a].mean() - f[g == b].mean(), abs=1e-6)
    assert att.gap >= 0  # default pair: highest minus lowest mean output
    assert abs(att.contributions.sum() - att.gap) <= 0.01 * abs(att.gap) + 1e-4
    assert att.completeness_error == pytest.approx(att.contributions.sum() - att.gap)
    # each group's mean attribution adds up to its mean output minus the baselines' mean
    np.testing.assert_allclose(att.by_group.sum(axis=1), att.mean_output - att.baseline_output,
                               atol=2e-3)


def test_too_few_steps_warn_about_completeness():
    X, g = shifted_data()
    net = small_mlp(4, hidden=32, act="relu", seed=3)
    with pytest.warns(UserWarning, match="raise steps="):
        gap_attribution(net, X * 6, g, steps=1, baselines=4)


# ------------------------------------------------------------------------ exact Shapley values
def brute_force_shapley(f, X, g, background, a, b):
    """Shapley values of the gap game by averaging over all orderings (another algorithm)."""
    d = X.shape[1]

    def v(S):
        mixed = np.where(np.isin(np.arange(d), list(S))[None, None], X[:, None],
                         background[None])
        out = f(mixed.reshape(-1, d)).reshape(len(X), -1).mean(axis=1)
        return out[g == a].mean() - out[g == b].mean()

    phi = np.zeros(d)
    for order in itertools.permutations(range(d)):
        before = []
        for j in order:
            phi[j] += v(before + [j]) - v(before)
            before.append(j)
    return phi / math.factorial(d)


def test_shapley_gap_matches_a_brute_force_over_orderings():
    X, g = shifted_data(n=120)
    net = small_mlp(4, seed=1)
    sv = shapley_gap(net, X, g, background=X[:6], output="probability")

    def f(x):
        return net(mx.nd.array(x)).sigmoid().asnumpy().reshape(-1)

    expected = brute_force_shapley(f, X, g, X[:6], *sv.between)
    np.testing.assert_allclose(sv.contributions, expected, atol=1e-6)
    assert abs(sv.completeness_error) < 1e-6


def test_gradients_equal_shapley_values_for_an_additive_model():
    X, g = shifted_data()
    net = gluon.nn.Dense(1, in_units=4)
    net.initialize(mx.init.Normal(1.0))
    eg = gap_attribution(net, X, g, output="logit", baselines=16)
    sv = shapley_gap(net, X, g, output="logit", background=16)
    np.testing.assert_allclose(eg.contributions, sv.contributions, atol=1e-5)
    # and for a linear model both are w_j (mean_a x_j − mean_b x_j), whatever the baselines
    w = net.weight.data().asnumpy()[0]
    a, b = eg.between
    np.testing.assert_allclose(eg.contributions, w * (X[g == a].mean(0) - X[g == b].mean(0)),
                               atol=1e-5)


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_gradients_agree_with_exact_shapley_values_on_a_small_mlp(seed):
    X, g = shifted_data(seed=seed)
    net = small_mlp(4, seed=seed)
    eg = gap_attribution(net, X, g, baselines=16, steps=16)
    sv = shapley_gap(net, X, g, background=16)
    assert eg.gap == pytest.approx(sv.gap, abs=1e-6)
    assert np.argmax(np.abs(eg.contributions)) == np.argmax(np.abs(sv.contributions))
    # a path integral is not a Shapley value once features interact; measured: within 7 %
    assert np.abs(eg.contributions - sv.contributions).max() <= 0.1 * np.abs(
        sv.contributions).max()


def test_shapley_gap_refuses_many_features():
    X = np.random.RandomState(0).randn(20, 13).astype(np.float32)
    net = gluon.nn.Dense(1, in_units=13)
    net.initialize()
    with pytest.raises(ValueError, match="2\\^13 coalitions"):
        shapley_gap(net, X, np.arange(20) % 2)


# ---------------------------------------------------------------------------- planted proxy
@pytest.fixture(scope="module")
def planted():
    """A proxy of the group (zip) drives the label; three other features do not know the group."""
    rs = np.random.RandomState(0)
    n = 3000
    g = rs.randint(0, 2, n)
    zip_code = g + 0.35 * rs.randn(n)
    other = rs.randn(n, 3)
    X = np.c_[other[:, 0], zip_code, other[:, 1], other[:, 2]].astype(np.float32)
    y = (other[:, 0] + 1.5 * zip_code + 0.5 * other[:, 1] + 0.5 * rs.randn(n) > 0.75)
    net = train(small_mlp(4, hidden=16, act="relu"), X, y.astype(np.float32))
    return net, X, y.astype(int), g, ["income", "zip", "tenure", "age"]


def test_planted_proxy_comes_first_everywhere(planted):
    net, X, y, g, names = planted
    att = gap_attribution(net, X, g, feature_names=names)
    assert att.ranking()[0][0] == "zip"
    assert att.contributions[1] > 0.8 * att.gap
    proxies = proxy_detection(X, g, feature_names=names)
    assert proxies["feature"].iloc[0] == "zip" and proxies["auc"].iloc[0] > 0.9
    assert proxies["auc"].iloc[1:].max() < 0.6
    assert proxies.attrs["all_features_auc"] > 0.9
    perm = permutation_gap_attribution(net, X, g, feature_names=names)
    assert perm["feature"].iloc[0] == "zip"
    decisions = permutation_gap_attribution(net, X, g, feature_names=names, threshold=0.5)
    assert decisions["feature"].iloc[0] == "zip"
    assert decisions.attrs["quantity"] == "positive decisions"


def test_feature_importance_and_partial_dependence(planted):
    net, X, y, g, names = planted
    imp = feature_importance(net, X, y, groups=g, feature_names=names, group_names=["a", "b"])
    assert set(imp["feature"].iloc[:2]) == {"zip", "income"}
    assert {"importance[a]", "importance[b]"} <= set(imp.columns)
    acc = feature_importance(net, X, y, feature_names=names, metric="accuracy", repeats=1)
    assert acc["importance"].iloc[-1] == pytest.approx(0.0, abs=0.02)
    pdp = partial_dependence(net, X, "zip", groups=g, feature_names=names, grid=[-0.5, 0.5, 1.5])
    assert pdp.values.shape == (2, 3) and not pdp.categorical
    assert np.all(np.diff(pdp.values, axis=1) > 0)  # more "zip", more income, in both groups
    # the curve at a grid value is the mean output with the column set to it
    Xs = X.copy()
    Xs[:, 1] = 0.5
    p = net(mx.nd.array(Xs)).sigmoid().asnumpy().ravel()
    full = partial_dependence(net, X, "zip", groups=g, feature_names=names, grid=[0.5],
                              max_rows=None)
    np.testing.assert_allclose(full.values[:, 0], [p[g == 0].mean(), p[g == 1].mean()],
                               atol=1e-6)


# -------------------------------------------------------------------------- one-hot blocks
@pytest.fixture(scope="module")
def german():
    return load_german(subsample=300, sensitive="sex")


def test_tabular_feature_groups_follow_the_preprocessor(german):
    fg = tabular_feature_groups(german)
    assert fg.num_columns == german.num_features
    for name, cols in zip(fg.names, fg.columns):
        for c in cols:
            col = german.feature_names[c]
            assert col == name or col.startswith(name + "_"), (name, col)
    assert sum(len(c) > 1 for c in fg.columns) >= 5  # the categorical blocks
    assert "personal_status_sex" not in fg.names  # the sensitive column is not a feature


def test_one_hot_blocks_sum_their_columns(german):
    X, g = german.test.X, german.test.groups
    net = small_mlp(X.shape[1], seed=2)
    fg = tabular_feature_groups(german)
    per_column = gap_attribution(net, X, g, feature_names=german.feature_names)
    grouped = gap_attribution(net, X, g, feature_groups=german)
    assert grouped.names == fg.names
    np.testing.assert_allclose(grouped.contributions, fg.sum_columns(per_column.contributions),
                               atol=1e-9)
    frame = grouped.to_pandas()
    assert list(frame.columns[:3]) == ["feature", "contribution", "share_of_gap"]
    pdp = partial_dependence(net, X, "purpose", groups=g, feature_groups=fg,
                             feature_names=german.feature_names)
    assert pdp.categorical and len(pdp.grid) == len(fg.columns[fg.names.index("purpose")])
    assert all(not label.startswith("purpose_") for label in pdp.grid)


def test_feature_groups_are_checked():
    with pytest.raises(ValueError, match="cover each of the 3 input columns once"):
        FeatureGroups({"a": [0], "b": [0, 1]}, num_columns=3)
    with pytest.raises(ValueError, match="outside \\[0, 2\\)"):
        FeatureGroups({"a": [0, 2]}, num_columns=2)
    X, g = shifted_data(n=50)
    net = small_mlp(4)
    with pytest.raises(ValueError, match="unknown column name"):
        gap_attribution(net, X, g, feature_groups={"a": ["x0"], "b": [1, 2, 3]},
                        feature_names=["u", "v", "w", "z"])
    with pytest.raises(ValueError, match="got 3 feature_names for 4 input columns"):
        gap_attribution(net, X, g, feature_names=["a", "b", "c"])


# ------------------------------------------------------------------------ gradient check
class _NoGradient(mx.autograd.Function):
    """Sum of the inputs whose backward claims a zero gradient (a wrong gradient)."""

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=1)

    def backward(self, dy):
        return mx.nd.zeros(self.shape, ctx=dy.context)


class WrongGradientNet(gluon.Block):
    def forward(self, x):
        return _NoGradient()(x)


def test_wrong_gradients_are_refused_not_reported():
    X, g = shifted_data()
    with pytest.raises(UnreliableGradientsError, match="disagree with its outputs"):
        gap_attribution(WrongGradientNet(), X, g, output="logit")


def max_pool_cnn(ctx=None, seed=0):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(4, 3, padding=1, activation="relu"), gluon.nn.MaxPool2D(2),
            gluon.nn.GlobalAvgPool2D(), gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx or mx.cpu())
    net.hybridize()
    return net


def test_max_pooling_gradients_are_checked():
    """MXNet 1.9.1 with oneDNN gets max pooling's input gradient wrong in inference mode: the
    attribution must refuse then (naming the bug), and be complete where the gradient is right.

    Whether the gradient comes out wrong depends on oneDNN's state (batch shapes, primitives
    cached by earlier calls in the process: a one-row finite-difference probe agreed while the
    attribution's batches were wrong in a full-suite run), so the test takes either outcome and
    checks what each must satisfy; test_wrong_gradients_are_refused_not_reported checks the
    refusal deterministically."""
    rs = np.random.RandomState(0)
    X = rs.rand(64, 3, 8, 8).astype(np.float32)
    g = np.repeat([0, 1], 32)
    X[g == 1] *= 1.5
    net = max_pool_cnn()
    try:
        att = gap_attribution(net, X, g, baselines="mean", steps=16, output="logit")
    except UnreliableGradientsError as err:
        assert "apache/mxnet#10994" in str(err) and "MXNET_MKLDNN_ENABLED=0" in str(err)
    else:
        assert abs(att.completeness_error) <= 0.01 * abs(att.gap) + 1e-4


def test_occlusion_maps_match_a_direct_computation(ctx):
    rs = np.random.RandomState(2)
    X = rs.rand(30, 3, 8, 8).astype(np.float32)
    g = np.arange(30) % 2
    net = max_pool_cnn(ctx)
    occ = occlusion_maps(net, X, g, patch=3, ctx=ctx)  # 3 does not divide 8: last patch 2
    assert occ.maps.shape == (2, 3, 3) and occ.method == "occlusion"
    base = X.mean(axis=0)

    def prob(data):
        return net(mx.nd.array(data, ctx=ctx)).sigmoid().asnumpy().ravel()

    covered = X.copy()
    covered[:, :, 6:, 3:6] = base[:, 6:, 3:6]
    drop = prob(X) - prob(covered)
    np.testing.assert_allclose(occ.maps[:, 2, 1], [drop[g == 0].mean(), drop[g == 1].mean()],
                               atol=1e-6)
    a, b = occ.between
    np.testing.assert_allclose(occ.gap_map, occ.maps[a] - occ.maps[b])
    with pytest.raises(ValueError, match="needs images"):
        occlusion_maps(net, X.reshape(30, -1), g)


# ---------------------------------------------------------------------------------- images
def test_image_attribution_maps_per_group(ctx):
    rs = np.random.RandomState(0)
    n = 64
    g = np.repeat([0, 1], n // 2)
    X = rs.rand(n, 3, 8, 8).astype(np.float32)
    X[g == 1, :, :4, :] += 0.5  # the top half differs by group
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(4, 3, padding=1, activation="relu"), gluon.nn.GlobalAvgPool2D(),
            gluon.nn.Dense(1))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    att = gap_attribution(net, X, g, baselines="mean", steps=8, ctx=ctx)
    assert att.maps.shape == (2, 8, 8) and att.gap_map.shape == (8, 8)
    assert att.names == ["channel 0", "channel 1", "channel 2"]
    assert att.gap_map.sum() == pytest.approx(att.contributions.sum(), abs=1e-6)
    assert abs(att.completeness_error) <= 0.01 * abs(att.gap) + 1e-4
    top, bottom = np.abs(att.gap_map[:4]).sum(), np.abs(att.gap_map[4:]).sum()
    assert top > bottom  # the gap lives where the images differ


def test_multiclass_net_with_a_target_per_row(ctx):
    rs = np.random.RandomState(1)
    X = rs.randn(200, 5).astype(np.float32)
    g = (X[:, 0] > 0).astype(int)
    labels = rs.randint(0, 3, 200)
    mx.random.seed(1)
    net = gluon.nn.Dense(3, in_units=5)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    with pytest.raises(ValueError, match="pass target="):
        gap_attribution(net, X, g, ctx=ctx)
    att = gap_attribution(net, X, g, target=labels, steps=8, ctx=ctx)
    p = mx.nd.softmax(net(mx.nd.array(X, ctx=ctx))).asnumpy()[np.arange(200), labels]
    a, b = att.between
    assert att.gap == pytest.approx(p[g == a].mean() - p[g == b].mean(), abs=1e-6)
    single = gap_attribution(net, X, g, target=2, steps=8, ctx=ctx)
    assert abs(single.completeness_error) <= 0.01 * abs(single.gap) + 1e-4


# --------------------------------------------------------------------- contexts and exports
def test_runs_on_the_nets_context(ctx):
    X, g = shifted_data(n=100)
    net = small_mlp(4, ctx=ctx)  # parameters on cpu(1) only: inputs elsewhere would fail
    with pytest.raises(mx.base.MXNetError, match="data is on cpu\\(0\\)"):
        net(mx.nd.array(X[:2], ctx=mx.cpu(0)))
        mx.nd.waitall()
    att = gap_attribution(net, X, g)
    perm = permutation_gap_attribution(net, X, g, repeats=1)
    imp = feature_importance(net, X, g, repeats=1)
    pdp = partial_dependence(net, X, "x0", groups=g)
    assert np.isfinite(att.gap) and len(perm) == len(imp) == 4 and pdp.values.shape[0] == 2


def test_exported_symbol_block(tmp_path):
    X, g = shifted_data(n=200)
    net = small_mlp(4, seed=4)
    net(mx.nd.array(X[:2]))
    net.export(os.fspath(tmp_path / "m"))
    sym = gluon.SymbolBlock.imports(os.fspath(tmp_path / "m-symbol.json"), ["data"],
                                    os.fspath(tmp_path / "m-0000.params"))
    a = gap_attribution(net, X, g)
    b = gap_attribution(sym, X, g)  # an imported graph is differentiable too
    np.testing.assert_allclose(a.contributions, b.contributions, atol=1e-6)
    perm = permutation_gap_attribution(sym, X, g, repeats=2)
    assert perm.attrs["gap"] == pytest.approx(a.gap, abs=1e-6)


# ------------------------------------------------------------------------------ bad inputs
def test_bad_inputs_are_refused_clearly():
    X, g = shifted_data(n=60)
    net = small_mlp(4)
    strings = IDS_NOT_NUMERIC.format(name="groups", dtype=np.dtype("<U1"))
    with pytest.raises(TypeError, match=re.escape(strings)):
        gap_attribution(net, X, np.where(g == 1, "m", "f"))
    with pytest.raises(ValueError, match="X has 60 rows but groups has 59"):
        gap_attribution(net, X, g[:-1])
    with pytest.raises(ValueError, match="at least two groups"):
        gap_attribution(net, X, np.zeros(60, dtype=int))
    with pytest.raises(ValueError,
                       match="groups: group ids must be integers >= 0, got non-integer values"):
        gap_attribution(net, X, g + 0.5)
    with pytest.raises(ValueError, match="baselines must have shape"):
        gap_attribution(net, X, g, baselines=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="output must be one of"):
        gap_attribution(net, X, g, output="decision")
    with pytest.raises(ValueError, match="two groups or more"):
        proxy_detection(X, np.zeros(60, dtype=int))

    class TwoHeads(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return x.sum(axis=1), x.mean(axis=1)

    with pytest.raises(ValueError, match="returns 2 outputs"):
        gap_attribution(TwoHeads(), X, g)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a clean run warns about nothing
        gap_attribution(net, X, g)
