"""EvalMetric classes: registry, config round trip, update conventions, values vs reports."""
import logging
import math
import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from mxnet.gluon.contrib.estimator import Estimator

from mxfair.callbacks import GroupBatchProcessor
from mxfair.metrics import (
    BINARY_SUMMARY_KEYS,
    SUMMARY_KEYS,
    DemographicParityDifference,
    FairnessMetric,
    GroupFairnessMetric,
    GroupStats,
    UndefinedRateWarning,
)

NAMED = {
    "demographic_parity_difference": "DemographicParityDifference",
    "demographic_parity_ratio": "DemographicParityRatio",
    "equalized_odds_difference": "EqualizedOddsDifference",
    "equal_opportunity_difference": "EqualOpportunityDifference",
    "worst_group_accuracy": "WorstGroupAccuracy",
}


def batches(ctx, n=512, batch=128, G=3, seed=0):
    """Batches of labels, logits (what a Dense(1) net emits: the metrics' default) and groups."""
    rs = np.random.RandomState(seed)
    y, g = rs.randint(0, 2, n), rs.randint(0, G, n)
    p = np.clip(0.3 * y + 0.15 * g + 0.4 * rs.rand(n), 0.01, 0.99)
    logits = np.log(p / (1 - p))
    for i in range(0, n, batch):
        sl = slice(i, i + batch)
        yield (mx.nd.array(y[sl], ctx=ctx), mx.nd.array(logits[sl], ctx=ctx),
               mx.nd.array(g[sl], ctx=ctx))


def reference_summary(ctx, G=3, which=None, **kwargs):
    """Summary of GroupStats over the batches numbered in ``which`` (all by default)."""
    kwargs.setdefault("from_logits", True)  # the batches hold logits
    stats = GroupStats(G, **kwargs)
    for i, (y, p, g) in enumerate(batches(ctx, G=G)):
        if which is None or i in which:
            stats.update(y, p, g)
    return stats.report().summary()


@pytest.mark.parametrize("alias, class_name", sorted(NAMED.items()))
def test_registry_create_and_config_round_trip(alias, class_name, ctx):
    metric = mx.metric.create(alias, num_groups=3)
    assert type(metric).__name__ == class_name
    assert mx.metric.create(class_name.lower(), num_groups=3).quantity == alias
    name, value = metric.get()
    assert name == alias and math.isnan(value)  # NaN before data
    for y, p, g in batches(ctx):
        metric.update([y, g], [p])
    expected = reference_summary(ctx)[alias]
    assert metric.get()[1] == pytest.approx(expected, abs=1e-12)
    clone = mx.metric.create(**metric.get_config())
    assert type(clone) is type(metric) and clone.get_config() == metric.get_config()
    assert math.isnan(clone.get()[1])


def test_generic_metric_config_keeps_quantity_and_hyperparameters():
    metric = FairnessMetric(num_groups=4, quantity="auc_difference", num_bins=32, threshold=0.3,
                            name="auc_gap")
    config = metric.get_config()
    assert config["quantity"] == "auc_difference" and config["num_bins"] == 32
    clone = mx.metric.create(**config)
    assert (clone.name, clone.quantity, clone._stats.threshold, clone._stats.num_bins) == (
        "auc_gap", "auc_difference", 0.3, 32)
    assert isinstance(mx.metric.create("group_fairness_figure", num_groups=2), FairnessMetric)


def test_group_fairness_metric_several_values(ctx):
    metric = mx.metric.create("group_fairness", num_groups=3)
    assert isinstance(metric, GroupFairnessMetric)
    names, values = metric.get()
    assert names[0] == "accuracy" and all(math.isnan(v) for v in values)
    for y, p, g in batches(ctx):
        metric.update([y], [p], g)  # groups as the third argument
    summary = reference_summary(ctx)
    names, values = metric.get()
    assert values == pytest.approx([summary[n] for n in names], abs=1e-12)
    assert dict(metric.get_name_value())["worst_group_accuracy"] == summary[
        "worst_group_accuracy"]
    assert metric.stats.counts.context == ctx
    clone = mx.metric.create(**metric.get_config())
    assert clone.quantities == metric.quantities


def test_composite_eval_metric_and_reset(ctx):
    composite = mx.metric.CompositeEvalMetric()
    composite.add(mx.metric.create("demographic_parity_difference", num_groups=3))
    composite.add(GroupFairnessMetric(3, quantities=["accuracy", "balanced_accuracy"]))
    for y, p, g in batches(ctx):
        composite.update([y, g], [p])
    summary = reference_summary(ctx)
    got = dict(composite.get_name_value())
    assert got["demographic_parity_difference"] == pytest.approx(
        summary["demographic_parity_difference"])
    assert got["balanced_accuracy"] == pytest.approx(summary["balanced_accuracy"])
    composite.reset()
    assert all(math.isnan(v) for _, v in composite.get_name_value())
    composite.reset_local()
    assert all(math.isnan(v) for _, v in composite.get_name_value())


def test_streaming_equals_one_batch_and_weights(ctx):
    rs = np.random.RandomState(1)
    y, p, g = rs.randint(0, 2, 300), rs.rand(300), rs.randint(0, 2, 300)
    w = rs.rand(300)
    whole = DemographicParityDifference(2, from_logits=False)  # p: probabilities
    whole.update([mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx),
                  mx.nd.array(w, ctx=ctx, dtype="float64")], mx.nd.array(p, ctx=ctx))
    streamed = DemographicParityDifference(2, from_logits=False)
    for i in range(0, 300, 64):
        streamed.update([mx.nd.array(y[i:i + 64]), mx.nd.array(g[i:i + 64]),
                         mx.nd.array(w[i:i + 64], dtype="float64")], [mx.nd.array(p[i:i + 64])])
    sel = [np.sum(w[(g == k)] * (p[g == k] >= 0.5)) / w[g == k].sum() for k in range(2)]
    assert whole.get()[1] == pytest.approx(abs(sel[0] - sel[1]), abs=1e-9)
    assert streamed.get()[1] == pytest.approx(whole.get()[1], abs=1e-9)
    assert whole.num_inst == 300


def test_multiclass_and_logits(ctx):
    rs = np.random.RandomState(2)
    y, g = rs.randint(0, 3, 200), rs.randint(0, 2, 200)
    scores = rs.randn(200, 3)
    metric = FairnessMetric(2, quantity="demographic_parity_difference", num_classes=3)
    metric.update([mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)],
                  [mx.nd.array(scores, ctx=ctx)])
    pred = scores.argmax(1)
    sel = np.array([[np.mean(pred[g == k] == c) for c in range(3)] for k in range(2)])
    assert metric.get()[1] == pytest.approx(np.abs(sel[0] - sel[1]).max())
    logits = FairnessMetric(2, quantity="accuracy", from_logits=True)
    logits.update([mx.nd.array([1, 0]), mx.nd.array([0, 1])], [mx.nd.array([2.0, -1.0])])
    assert logits.get()[1] == 1.0


def test_undefined_group_warns_through_get():
    metric = mx.metric.create("equal_opportunity_difference", num_groups=2)
    metric.update([mx.nd.array([1, 1, 0, 0]), mx.nd.array([0, 0, 1, 1])],
                  [mx.nd.array([2.2, -2.2, 0.4, -1.4])])
    with pytest.warns(UndefinedRateWarning, match="leaves out group"):
        assert metric.get()[1] == 0.0


@pytest.mark.parametrize("call, match", [
    (lambda m: m.update([mx.nd.ones(2)], [mx.nd.ones(2)]),
     r"labels must be \[label, group\].*got a list of 1"),
    (lambda m: m.update(mx.nd.ones(2), [mx.nd.ones(2)]),
     r"labels must be \[label, group\].*got NDArray"),
    (lambda m: m.update([mx.nd.ones(2), mx.nd.ones(2)], [mx.nd.ones(2), mx.nd.ones(2)]),
     "expected one array, got a list of 2"),
    (lambda m: m.update([[mx.nd.ones(2), mx.nd.ones(2)]] * 2, [mx.nd.ones(2)]),
     r"one prediction per device: got 2 label list\(s\) and 1 prediction\(s\)"),
    (lambda m: m.update([[mx.nd.ones(2)]], [mx.nd.ones(2)]),
     r"labels must be \[label, group\].*got a list of 1"),
])
def test_bad_updates(call, match):
    with pytest.raises(ValueError, match=match):
        call(DemographicParityDifference(2))


def test_bad_construction():
    with pytest.raises(ValueError, match="quantity must be one of"):
        FairnessMetric(2, quantity="f1")
    with pytest.raises(ValueError, match="needs num_bins > 0"):
        FairnessMetric(2, quantity="auc")
    with pytest.raises(ValueError, match="num_groups must be a positive integer"):
        mx.metric.create("demographic_parity_ratio", num_groups=0)
    with pytest.raises(ValueError, match="at least one figure"):
        GroupFairnessMetric(2, quantities=[])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedRateWarning)
        assert math.isnan(GroupFairnessMetric(2).get()[1][0])


@pytest.mark.parametrize("devices", [1, 2])
def test_estimator_fit_with_label_with_group(ctx, devices):
    # GroupBatchProcessor(label_with_group=True) hands the metrics one [y, group] pair per
    # device and one prediction per device. A zero learning rate keeps the net fixed, so the
    # epoch's figure is that of the net's predictions on the whole data.
    ctxs = [mx.cpu(0), ctx][-devices:]
    rs = np.random.RandomState(3)
    X = rs.normal(size=(60, 3)).astype("float32")
    y = (X[:, 0] + 0.5 * rs.normal(size=60) > 0).astype("int64")
    g = (X[:, 1] > 0).astype("int64")
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=16)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Xavier(), ctx=ctxs)
    # One figure per metric: the Estimator's LoggingHandler formats each value as a float.
    metrics = [DemographicParityDifference(2, from_logits=True),
               FairnessMetric(2, quantity="accuracy", from_logits=True),
               FairnessMetric(2, quantity="equal_opportunity_difference", from_logits=True)]
    est = Estimator(net, gluon.loss.SigmoidBCELoss(), train_metrics=metrics,
                    trainer=gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.0}),
                    context=ctxs, batch_processor=GroupBatchProcessor(label_with_group=True))
    est.logger.disabled = True
    est.fit(loader, val_data=loader, epochs=1)

    pred = (net(mx.nd.array(X, ctx=ctxs[0])).asnumpy().reshape(-1) >= 0).astype(int)
    sel = [pred[g == k].mean() for k in range(2)]
    tpr = [pred[(g == k) & (y == 1)].mean() for k in range(2)]
    expected = [abs(sel[0] - sel[1]), np.mean(pred == y), abs(tpr[0] - tpr[1])]
    for group in (est.train_metrics, est.val_metrics):
        fair = [m for m in group if isinstance(m, FairnessMetric)]
        assert [m.quantity for m in fair] == [m.quantity for m in metrics]
        assert [m.num_inst for m in fair] == [60, 60, 60]
        assert [m.get()[1] for m in fair] == pytest.approx(expected, abs=1e-12)
        assert fair[0].stats.counts.context == ctxs[0]


def test_local_and_global_statistics(ctx):
    dp = DemographicParityDifference(3)
    several = GroupFairnessMetric(3)
    data = list(batches(ctx))  # 4 batches of 128 rows
    for metric in (dp, several):
        for i, (y, p, g) in enumerate(data):
            if i == 2:
                metric.reset_local()
            metric.update([y, g], [p])
        assert (metric.num_inst, metric.global_num_inst) == (256, 512)
    local, whole = reference_summary(ctx, which={2, 3}), reference_summary(ctx)
    assert local["demographic_parity_difference"] != whole["demographic_parity_difference"]
    assert dp.get()[1] == pytest.approx(local["demographic_parity_difference"], abs=1e-12)
    assert dp.get_global()[1] == pytest.approx(whole["demographic_parity_difference"],
                                               abs=1e-12)
    names, values = several.get_global()
    assert values == pytest.approx([whole[n] for n in names], abs=1e-12)
    assert several.get()[1] == pytest.approx([local[n] for n in names], abs=1e-12)
    assert dict(several.get_global_name_value())["accuracy"] == pytest.approx(
        whole["accuracy"], abs=1e-12)
    assert dp.global_stats.num_rows == 512 and dp.stats.num_rows == 256
    assert dp.global_stats.counts.context == ctx
    # An empty local part: get() is NaN, get_global() unchanged; reset() clears both.
    dp.reset_local()
    dp.reset_local()
    assert math.isnan(dp.get()[1])
    assert dp.get_global()[1] == pytest.approx(whole["demographic_parity_difference"],
                                               abs=1e-12)
    dp.reset()
    assert math.isnan(dp.get()[1]) and math.isnan(dp.get_global()[1])
    assert dp.global_num_inst == 0


def test_speedometer_auto_reset_keeps_the_epoch_figure(ctx, caplog):
    # Speedometer(auto_reset=True) logs every 2 batches and then calls reset_local(); the
    # epoch's figure (get_global_name_value, what Module.fit logs) still covers every batch.
    composite = mx.metric.CompositeEvalMetric()
    composite.add(DemographicParityDifference(3))
    composite.add(GroupFairnessMetric(3, quantities=["accuracy", "worst_group_accuracy"]))
    speedometer = mx.callback.Speedometer(batch_size=128, frequent=2, auto_reset=True)
    with caplog.at_level(logging.INFO):
        for nbatch, (y, p, g) in enumerate(batches(ctx)):
            composite.update([y, g], [p])
            speedometer(mx.model.BatchEndParam(epoch=0, nbatch=nbatch,
                                               eval_metric=composite, locals=None))
    # Calls at nbatch 0 (start of the clock), 1, 2 (log and reset_local), 3.
    logged = [r.getMessage() for r in caplog.records if "Speed" in r.getMessage()]
    assert len(logged) == 1
    first = reference_summary(ctx, which={0, 1, 2})
    assert f"demographic_parity_difference={first['demographic_parity_difference']:f}" in \
        logged[0]
    local, whole = reference_summary(ctx, which={3}), reference_summary(ctx)
    names = ["demographic_parity_difference", "accuracy", "worst_group_accuracy"]
    got_local = dict(composite.get_name_value())
    got_global = dict(composite.get_global_name_value())
    assert [got_local[n] for n in names] == pytest.approx([local[n] for n in names], abs=1e-12)
    assert [got_global[n] for n in names] == pytest.approx([whole[n] for n in names],
                                                           abs=1e-12)


def test_binary_only_quantities_refused_for_multiclass(ctx):
    rs = np.random.RandomState(4)
    y, g = rs.randint(0, 3, 300), rs.randint(0, 2, 300)
    scores = mx.nd.array(rs.randn(300, 3), ctx=ctx)
    labels = [mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)]
    for quantity in SUMMARY_KEYS:
        if quantity in BINARY_SUMMARY_KEYS:
            with pytest.raises(ValueError, match=rf"quantity '{quantity}' is defined for binary "
                               r"tasks only .*num_classes=3"):
                FairnessMetric(2, quantity=quantity, num_classes=3,
                               num_bins=8 if quantity.startswith("auc") else 0)
            continue
        # Every other figure is defined for multi-class scores.
        metric = FairnessMetric(2, quantity=quantity, num_classes=3)
        metric.update(labels, [scores])
        assert np.isfinite(metric.get()[1]), quantity
    # The same quantities are well defined for binary tasks.
    binary = FairnessMetric(2, quantity="selection_rate", from_logits=False)
    binary.update([mx.nd.array([1, 0, 1, 0]), mx.nd.array([0, 0, 1, 1])],
                  [mx.nd.array([.9, .2, .4, .7])])
    assert binary.get()[1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="'selection_rate' is defined for binary tasks only"):
        GroupFairnessMetric(2, quantities=["accuracy", "selection_rate"], num_classes=4)
    with pytest.raises(ValueError, match="'selection_rate' is defined for binary tasks only"):
        mx.metric.create("group_fairness_figure", num_groups=2, quantity="selection_rate",
                         num_classes=3)


def test_estimator_metrics_see_the_sample_weights(ctx):
    # (x, y, group, weight) batches: with label_with_group the metrics get [y, group, weight]
    rs = np.random.RandomState(4)
    X = rs.normal(size=(48, 3)).astype("float32")
    y = (X[:, 0] > 0).astype("int64")
    g = (X[:, 1] > 0).astype("int64")
    w = (1 + np.arange(48) % 3).astype("float32")
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g, w), batch_size=16)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    metric = DemographicParityDifference(2, from_logits=True)
    est = Estimator(net, gluon.loss.SigmoidBCELoss(), train_metrics=[metric],
                    trainer=gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.0}),
                    context=ctx, batch_processor=GroupBatchProcessor(label_with_group=True))
    est.logger.disabled = True
    est.fit(loader, epochs=1)
    pred = (net(mx.nd.array(X, ctx=ctx)).asnumpy().reshape(-1) >= 0).astype(float)
    sel = [np.average(pred[g == k], weights=w[g == k]) for k in range(2)]
    fair = [m for m in est.train_metrics if isinstance(m, FairnessMetric)][0]
    assert fair.get()[1] == pytest.approx(abs(sel[0] - sel[1]), abs=1e-12)


@pytest.mark.parametrize("make", [
    lambda: mx.metric.create("demographic_parity_difference", num_groups=2),
    lambda: DemographicParityDifference(2),
    lambda: FairnessMetric(2),
    lambda: GroupFairnessMetric(2, quantities=["demographic_parity_difference"]),
])
def test_default_reads_a_dense1_nets_logits(make, ctx):
    # A Gluon binary net ends in Dense(1) and emits logits; main read them as probabilities
    # (a positive where logit >= 0.5 instead of logit >= 0) and gave another DP, silently.
    rs = np.random.RandomState(5)
    X = rs.normal(size=(400, 3)).astype("float32")
    g = (rs.rand(400) < 0.5).astype("int64")
    X[:, 1] = g  # the net sees the group
    y = ((X[:, 0] + 0.8 * g) > 0.3).astype("int64")
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.weight.set_data(mx.nd.array([[1.0, 0.8, 0.0]], ctx=ctx))
    net.bias.set_data(mx.nd.array([0.25], ctx=ctx))
    logits = net(mx.nd.array(X, ctx=ctx))
    decided = logits.asnumpy().reshape(-1) >= 0  # sigmoid(logit) >= 0.5
    truth = abs(decided[g == 0].mean() - decided[g == 1].mean())
    assert truth > 0.05  # a non-trivial figure
    metric = make()
    metric.update([mx.nd.array(y, ctx=ctx), mx.nd.array(g, ctx=ctx)], [logits])
    value = metric.get()[1]
    value = value[0] if isinstance(value, list) else value
    assert value == pytest.approx(truth, abs=1e-12)
    wrong = logits.asnumpy().reshape(-1) >= 0.5  # what reading logits as probabilities gives
    assert abs(abs(wrong[g == 0].mean() - wrong[g == 1].mean()) - truth) > 0.01


def test_multiclass_scores_with_the_binary_default_say_pass_num_classes(ctx):
    metric = mx.metric.create("demographic_parity_difference", num_groups=2)
    with pytest.raises(ValueError, match="preds has 10 columns but num_classes=2: pass "
                                         "num_classes=10"):
        metric.update([mx.nd.zeros(4, ctx=ctx), mx.nd.zeros(4, ctx=ctx)],
                      [mx.nd.zeros((4, 10), ctx=ctx)])
