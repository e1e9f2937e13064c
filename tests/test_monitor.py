"""FairnessMonitor: per-epoch records against fairlearn/NumPy on the same predictions."""
import json
import logging
import re

import fairlearn.metrics as flm
import mxnet as mx
import numpy as np
import pandas as pd
import pytest
from _helpers import tiny_mlp
from mxnet import autograd, gluon
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from mxfair.callbacks import PROGRESS_ENV, FairnessMonitor, progress_enabled
from mxfair.callbacks.monitor import BAD_BATCH, EMPTY_HISTORY


def _tiny_net(ctx, hybridize=False, outputs=1, seed=0):
    return tiny_mlp(ctx, outputs=outputs, hybridize=hybridize, seed=seed)


def _train_one_epoch(net, data, ctx):
    loader = gluon.data.DataLoader(
        gluon.data.ArrayDataset(data.train.X, data.train.y.astype("float32")), batch_size=128,
        shuffle=True)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_fn = gluon.loss.SigmoidBCELoss()
    for x, y in loader:
        x, y = x.as_in_context(ctx), y.as_in_context(ctx)
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0])


def _val_loader(split, batch_size=256, weights=None):
    parts = [split.X, split.y, split.groups] + ([weights] if weights is not None else [])
    return gluon.data.DataLoader(gluon.data.ArrayDataset(*parts), batch_size=batch_size)


def _probs(net, X, ctx):
    """Independent predictions: one forward pass of the whole split, sigmoid on the host."""
    logits = net(mx.nd.array(X, ctx=ctx)).asnumpy().reshape(-1)
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def _fairlearn_record(y, y_pred, groups, names, sample_weight=None):
    """The history figures, computed by fairlearn / scikit-learn."""
    sens = np.asarray(names)[groups]
    kw = {"sensitive_features": sens, "sample_weight": sample_weight}
    frame = flm.MetricFrame(
        metrics={"selection_rate": flm.selection_rate, "true_positive_rate": flm.true_positive_rate,
                 "false_positive_rate": flm.false_positive_rate, "accuracy": accuracy_score},
        y_true=y, y_pred=y_pred, sensitive_features=sens,
        sample_params={k: {"sample_weight": sample_weight} for k in
                       ("selection_rate", "true_positive_rate", "false_positive_rate",
                        "accuracy")} if sample_weight is not None else None,
    )
    out = {
        "accuracy": accuracy_score(y, y_pred, sample_weight=sample_weight),
        "balanced_accuracy": balanced_accuracy_score(y, y_pred, sample_weight=sample_weight),
        "demographic_parity_difference": flm.demographic_parity_difference(y, y_pred, **kw),
        "demographic_parity_ratio": flm.demographic_parity_ratio(y, y_pred, **kw),
        "equalized_odds_difference": flm.equalized_odds_difference(y, y_pred, **kw),
        "equal_opportunity_difference": flm.true_positive_rate_difference(y, y_pred, **kw),
        "worst_group_accuracy": frame.group_min()["accuracy"],
    }
    for rate in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"):
        for name in names:
            out[f"{rate}[{name}]"] = frame.by_group[rate][name]
    return out


def _assert_record_matches(record, expected):
    for key, value in expected.items():
        np.testing.assert_allclose(record[key], value, rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("hybridize", [False, True])
def test_history_equals_fairlearn_on_adult(adult, ctx, hybridize):
    net = _tiny_net(ctx, hybridize)
    monitor = FairnessMonitor(_val_loader(adult.val), adult.num_groups, from_logits=True,
                              group_names=adult.group_names, progress=False)
    for epoch in range(2):
        _train_one_epoch(net, adult, ctx)
        report = monitor.evaluate(net, epoch=epoch)
        y_pred = (_probs(net, adult.val.X, ctx) >= 0.5).astype(int)
        expected = _fairlearn_record(adult.val.y, y_pred, adult.val.groups, adult.group_names)
        _assert_record_matches(monitor.history[-1], expected)
        assert monitor.history[-1]["epoch"] == epoch
        assert monitor.history[-1]["count"] == len(adult.val)
        for g, name in enumerate(adult.group_names):
            assert monitor.history[-1][f"count[{name}]"] == np.sum(adult.val.groups == g)
    assert report is monitor.last_report
    assert monitor.last_stats.counts.context == ctx  # statistics stayed on the net's device
    assert [r["epoch"] for r in monitor.history] == [0, 1]


def test_threshold_probabilities_and_sample_weights(adult, ctx):
    net = _tiny_net(ctx)
    prob_net = gluon.nn.HybridSequential()
    prob_net.add(net, gluon.nn.Activation("sigmoid"))
    rng = np.random.RandomState(1)
    w = rng.uniform(0.5, 2.0, size=len(adult.val)).astype("float32")
    monitor = FairnessMonitor(_val_loader(adult.val, weights=w), adult.num_groups,
                              threshold=0.45, from_logits=False, group_names=adult.group_names,
                              progress=False)
    monitor.evaluate(prob_net)
    y_pred = (_probs(net, adult.val.X, ctx) >= 0.45).astype(int)
    expected = _fairlearn_record(adult.val.y, y_pred, adult.val.groups, adult.group_names,
                                 sample_weight=w)
    _assert_record_matches(monitor.history[0], expected)
    np.testing.assert_allclose(monitor.history[0]["count"], w.sum(), rtol=1e-5)


def test_multiclass_scores(ctx):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)).astype("float32")
    y = rng.randint(0, 3, size=300)
    g = rng.randint(0, 2, size=300)
    net = _tiny_net(ctx, outputs=3)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=64)
    monitor = FairnessMonitor(loader, 2, num_classes=3, from_logits=True, progress=False)
    monitor.evaluate(net)
    pred = net(mx.nd.array(X, ctx=ctx)).asnumpy().argmax(axis=1)
    rec = monitor.history[0]
    np.testing.assert_allclose(rec["accuracy"], np.mean(pred == y), rtol=1e-6)
    np.testing.assert_allclose(rec["accuracy[0]"], np.mean(pred[g == 0] == y[g == 0]), rtol=1e-6)
    assert "selection_rate[0]" not in rec  # one-vs-rest rates stay in last_report


def test_two_devices_equal_one(adult, ctx):
    ctxs = [ctx, mx.cpu(2)]
    net = _tiny_net(ctxs)
    one = FairnessMonitor(_val_loader(adult.val, 100), 2, ctx=ctx, from_logits=True,
                          num_bins=10, progress=False)
    two = FairnessMonitor(_val_loader(adult.val, 100), 2, ctx=ctxs, from_logits=True,
                          num_bins=10, progress=False)
    one.evaluate(net)
    two.evaluate(net)
    np.testing.assert_array_equal(one.last_stats.counts.asnumpy(),
                                  two.last_stats.counts.asnumpy())
    np.testing.assert_allclose(one.last_stats.hist.asnumpy(), two.last_stats.hist.asnumpy())
    assert np.isfinite(two.history[0]["auc"])


def test_bootstrap_intervals_in_records(adult, ctx):
    net = _tiny_net(ctx)
    monitor = FairnessMonitor(_val_loader(adult.val), 2, bootstrap=30, seed=3,
                              from_logits=True, group_names=adult.group_names, progress=False)
    report = monitor.evaluate(net)
    rec = monitor.history[0]
    summary = report.summary()
    for key in ("accuracy", "equalized_odds_difference", "demographic_parity_difference"):
        assert rec[f"{key}_lo"] == summary[f"{key}_lo"]
        assert rec[f"{key}_lo"] <= rec[f"{key}_hi"]
        assert rec[f"{key}_lo"] < rec[f"{key}_hi"]  # 1200 rows: the interval has a width
    bounds = report.interval("selection_rate")
    for g, name in enumerate(adult.group_names):
        assert rec[f"selection_rate[{name}]_lo"] == bounds[g, 0]
        assert rec[f"selection_rate[{name}]_hi"] == bounds[g, 1]
    # Same seed, same net: the same replicate weights, the same intervals.
    monitor.evaluate(net)
    assert monitor.history[1]["accuracy_lo"] == rec["accuracy_lo"]


def test_log_line_per_epoch(adult, ctx, caplog):
    net = _tiny_net(ctx)
    monitor = FairnessMonitor(_val_loader(adult.val), 2, from_logits=True, progress=False)
    with caplog.at_level(logging.INFO, logger="mxfair"):
        monitor.evaluate(net, epoch=4)
        monitor.evaluate(net, epoch=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "mxfair"]
    assert len(lines) == 2
    acc = monitor.history[0]["accuracy"]
    assert lines[0].startswith(f"epoch 4 | n={len(adult.val)} | ")
    assert f"acc {acc:.4f}" in lines[0] and "eo_diff" in lines[0] and "dp_diff" in lines[0]


def test_log_line_names_the_worst_group(ctx, caplog):
    """Worst-group accuracy is the figure of group-robust training: the line says which group."""
    x = np.zeros((6, 1), np.float32)
    y = np.array([1, 1, 1, 1, 0, 0], np.float32)  # the net predicts 1 for every row
    g = np.array([0, 0, 1, 1, 2, 2], np.float32)
    net = gluon.nn.Dense(1, in_units=1, bias_initializer=mx.init.One())
    net.initialize(mx.init.Zero(), ctx=ctx)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y, g), batch_size=3)
    monitor = FairnessMonitor(loader, 3, from_logits=True, progress=False,
                              group_names=["a", "b", "c"])
    with caplog.at_level(logging.INFO, logger="mxfair"):
        monitor.evaluate(net, epoch=0)
    line = [r.getMessage() for r in caplog.records if r.name == "mxfair"][-1]
    assert monitor.history[0]["worst_group_accuracy"] == 0.0
    assert "worst_acc 0.0000 (c)" in line


def test_csv_json_round_trip_with_undefined_rate(ctx, tmp_path):
    # Group 1 has no positive labels: its TPR is NaN (written as null in JSON).
    X = np.linspace(-1, 1, 40, dtype="float32").reshape(-1, 1)
    y = np.array([1, 0] * 10 + [0] * 20)
    g = np.array([0] * 20 + [1] * 20)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=16)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Constant(1.0), ctx=ctx)
    monitor = FairnessMonitor(loader, 2, group_names=["a", "b"], from_logits=True,
                              progress=False)
    with pytest.raises(ValueError, match=re.escape(EMPTY_HISTORY)):
        monitor.to_csv(tmp_path / "h.csv")
    monitor.evaluate(net)
    monitor.evaluate(net)
    assert np.isnan(monitor.history[0]["true_positive_rate[b]"])
    monitor.to_csv(tmp_path / "h.csv")
    monitor.to_json(tmp_path / "h.json")
    frame = pd.read_csv(tmp_path / "h.csv", index_col="epoch")
    pd.testing.assert_frame_equal(frame, monitor.to_pandas(), check_dtype=False)
    text = (tmp_path / "h.json").read_text()
    assert "NaN" not in text and json.loads(text)["group_names"] == ["a", "b"]
    back = FairnessMonitor.read_json(tmp_path / "h.json")
    assert back[0].keys() == monitor.history[0].keys()
    for key, value in monitor.history[1].items():
        np.testing.assert_equal(back[1][key], value)


def test_progress_bar_and_env_switch(adult, ctx, capsys, monkeypatch):
    net = _tiny_net(ctx)
    monkeypatch.setenv(PROGRESS_ENV, "1")  # capsys is no terminal: bars only when asked for
    monitor = FairnessMonitor(_val_loader(adult.val), 2, from_logits=True, epochs=2)
    monitor.evaluate(net)
    err = capsys.readouterr().err
    assert "fairness validation" in err and "epochs" in err
    monitor.evaluate(net)
    assert monitor._epoch_bar is None  # closed by itself after `epochs` evaluations
    capsys.readouterr()
    monkeypatch.setenv(PROGRESS_ENV, "0")
    assert not progress_enabled(progress=True)
    monitor.evaluate(net)
    assert capsys.readouterr().err == ""
    assert not progress_enabled(progress=False)


def test_reduce_without_kvstore_is_identity_and_local_kvstore_agrees(adult, ctx):
    monitor = FairnessMonitor(_val_loader(adult.val), 2, from_logits=True, progress=False)
    stats = monitor._new_stats(ctx)
    assert monitor._reduce(stats) is stats
    net = _tiny_net(ctx)
    local = FairnessMonitor(_val_loader(adult.val), 2, from_logits=True, progress=False,
                            kvstore=mx.kv.create("local"))
    monitor.evaluate(net)
    local.evaluate(net)
    np.testing.assert_array_equal(local.last_stats.counts.asnumpy(),
                                  monitor.last_stats.counts.asnumpy())
    assert local.history[0]["accuracy"] == monitor.history[0]["accuracy"]


def test_device_stats_carry_every_setting(ctx):
    settings = dict(num_classes=2, threshold=0.3, num_bins=4, bootstrap=2, from_logits=True,
                    group_names=["x", "y"])
    monitor = FairnessMonitor([], 2, seed=5, progress=False, **settings)
    stats = monitor._new_stats(ctx, device=1)
    assert {k: getattr(stats, k) for k in settings} == settings
    assert stats.seed == 6 and stats.counts.context == ctx  # a seed of its own per device


def test_errors(ctx):
    loader = gluon.data.DataLoader(
        gluon.data.ArrayDataset(np.zeros((4, 2), "float32"), np.zeros(4)), batch_size=2)
    net = gluon.nn.Dense(1)
    net.initialize(ctx=ctx)
    with pytest.raises(ValueError, match=re.escape(BAD_BATCH.format(n=2))):
        FairnessMonitor(loader, 2, progress=False).evaluate(net)
    with pytest.raises(ValueError, match="num_groups must be a positive integer, got 0"):
        FairnessMonitor(loader, 0)
    with pytest.raises(TypeError, match="ctx must be a Context"):
        FairnessMonitor(loader, 2, ctx="cpu")
    with pytest.raises(TypeError, match="val_data must be an iterable"):
        FairnessMonitor(None, 2)
    with pytest.raises(ValueError, match="got 1 group_names for num_groups=2"):
        FairnessMonitor(loader, 2, group_names=["a"])


def test_last_batch_smaller_than_device_count(ctx):
    # 5 rows in batches of 4: the last batch has 1 row for 2 devices (it used to crash in
    # split_and_load on the empty second slice).
    X = np.arange(10, dtype="float32").reshape(5, 2) - 4.5
    y = np.array([0, 1, 0, 1, 1])
    g = np.array([0, 0, 1, 1, 0])
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=4)
    ctxs = [mx.cpu(0), ctx]
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Constant(0.3), ctx=ctxs)
    two = FairnessMonitor(loader, 2, ctx=ctxs, from_logits=True, progress=False)
    two.evaluate(net)
    one = FairnessMonitor(loader, 2, ctx=ctx, from_logits=True, progress=False)
    one.evaluate(net)
    pred = (net(mx.nd.array(X, ctx=ctx)).asnumpy().reshape(-1) >= 0).astype(int)
    expected = np.zeros((2, 2, 2))
    np.add.at(expected, (g, y, pred), 1.0)
    np.testing.assert_array_equal(two.last_stats.counts.asnumpy(), expected)
    np.testing.assert_array_equal(one.last_stats.counts.asnumpy(), expected)
    assert two.history[0]["count"] == 5.0
    assert two.history[0]["accuracy"] == np.mean(pred == y)



# ------------------------------------------------------------ conventions (issue 12)
def test_default_reads_logits_as_a_dense1_net_emits_them(adult, ctx):
    # main read the logits as probabilities: another DP, no warning
    net = _tiny_net(ctx)
    _train_one_epoch(net, adult, ctx)
    monitor = FairnessMonitor(_val_loader(adult.val), adult.num_groups, progress=False,
                              group_names=adult.group_names)
    monitor.evaluate(net)
    y_pred = (_probs(net, adult.val.X, ctx) >= 0.5).astype(int)
    expected = _fairlearn_record(adult.val.y, y_pred, adult.val.groups, adult.group_names)
    _assert_record_matches(monitor.history[0], expected)


def test_progress_bars_off_when_output_is_not_a_terminal(adult, ctx, capsys, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert not progress_enabled(progress=True)  # capsys' stderr is no terminal
    FairnessMonitor(_val_loader(adult.val), 2, epochs=1).evaluate(_tiny_net(ctx))
    assert capsys.readouterr().err == ""


def test_record_says_how_trivial_the_model_is(ctx):
    X = np.zeros((10, 2), "float32")
    y = np.array([0] * 7 + [1] * 3)
    g = np.array([0, 1] * 5)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=4)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Constant(0.0), ctx=ctx)  # logit 0 everywhere: one class
    monitor = FairnessMonitor(loader, 2, progress=False)
    monitor.evaluate(net)
    record = monitor.history[0]
    assert record["majority_rate"] == 0.7 and record["predicted_classes"] == 1.0
    assert record["num_invalid"] == 0.0


def test_clear_errors_for_outputs_shapes_empty_data_and_seeds(ctx):
    X, y, g = np.zeros((6, 3), "float32"), np.zeros(6), np.zeros(6)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y, g), batch_size=3)

    class TwoOutputs(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.dense = gluon.nn.Dense(1)

        def hybrid_forward(self, F, x):
            return self.dense(x), x

    two = TwoOutputs()
    two.initialize(ctx=ctx)
    with pytest.raises(ValueError, match="the net returned 2 outputs"):
        FairnessMonitor(loader, 2, progress=False).evaluate(two)
    ten = gluon.nn.Dense(10)
    ten.initialize(ctx=ctx)
    with pytest.raises(ValueError, match="has 10 columns but num_classes=2: pass num_classes=10"):
        FairnessMonitor(loader, 2, progress=False).evaluate(ten)
    with pytest.raises(ValueError, match="val_data yielded no rows"):
        FairnessMonitor([], 2, progress=False).evaluate(ten)
    for seed in (np.int64(3), [1, 2], None):
        FairnessMonitor(loader, 2, bootstrap=2, seed=seed, progress=False)
    with pytest.raises(TypeError, match="seed must be None, an int"):
        FairnessMonitor(loader, 2, seed="0")
    stats = FairnessMonitor(loader, 2, bootstrap=2, seed=[1, 2])._new_stats(ctx, device=1)
    assert stats.seed == [1, 2, 0, 1]


def test_report_warnings_reach_the_log(ctx, caplog):
    # a group without positives: the undefined TPR is logged with the epoch, not lost
    X = np.zeros((4, 2), "float32")
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(
        X, np.array([1, 0, 0, 0]), np.array([0, 0, 1, 1])), batch_size=4)
    net = gluon.nn.Dense(1)
    net.initialize(ctx=ctx)
    with caplog.at_level(logging.WARNING, logger="mxfair"):
        FairnessMonitor(loader, 2, progress=False).evaluate(net, epoch=4)
    assert any(r.getMessage().startswith("epoch 4: ") and "true_positive_rate" in r.getMessage()
               for r in caplog.records)
