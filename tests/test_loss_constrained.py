"""LagrangeMultiplier and ConstrainedFairLoss: dual ascent, measured gaps, training to a bound."""
import mxnet as mx
import numpy as np
import pytest
from _helpers import leaky_data
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from mxnet import autograd, gluon
from mxnet.test_utils import assert_almost_equal

from mxfair.loss import ConstrainedFairLoss, LagrangeMultiplier
from mxfair.metrics import FairnessReport


def test_dual_ascent_arithmetic():
    m = LagrangeMultiplier(bound=0.05, lr=2.0, init=0.1, max_value=0.5)
    assert m.update(0.15) == pytest.approx(0.3)  # 0.1 + 2 * (0.15 - 0.05)
    assert m.update(0.25) == pytest.approx(0.5)  # 0.7 clipped to max_value
    assert m.update(0.0) == pytest.approx(0.4)
    assert m.update(float("nan")) == pytest.approx(0.4)  # undefined gap: no step
    for _ in range(10):
        m.update(0.0)
    assert m.value == 0.0  # projected: never below 0
    assert len(m.history) == 14
    assert m.history[0] == pytest.approx((0.15, 0.3))


@pytest.mark.parametrize("kwargs, match", [
    ({"bound": -0.1}, "bound must be a number in \\[0, 1\\), got -0.1"),
    ({"bound": 1.5}, "bound must be a number in \\[0, 1\\), got 1.5"),
    ({"bound": np.nan}, "bound must be a number in \\[0, 1\\), got nan"),
    ({"bound": True}, "bound must be a number in \\[0, 1\\), got True"),
    ({"bound": 0.1, "lr": 0}, "lr must be a finite number > 0, got 0"),
    ({"bound": 0.1, "lr": np.inf}, "lr must be a finite number > 0, got inf"),
    ({"bound": 0.1, "lr": "1"}, "lr must be a finite number > 0, got '1'"),
    ({"bound": 0.1, "init": -1.0}, "init must be a finite number >= 0, got -1.0"),
    ({"bound": 0.1, "max_value": -2}, "max_value must be a finite number >= 0, got -2"),
    ({"bound": 0.1, "max_value": np.nan}, "max_value must be a finite number >= 0, got nan"),
])
def test_multiplier_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LagrangeMultiplier(**kwargs)


def test_multiplier_takes_numpy_scalars():
    m = LagrangeMultiplier(bound=np.float32(0.25), lr=np.float64(2.0), init=np.int64(1),
                           max_value=np.float32(3.0))
    assert (m.bound, m.lr, m.value, m.max_value) == (0.25, 2.0, 1.0, 3.0)
    assert all(type(v) is float for v in (m.bound, m.lr, m.value, m.max_value))
    assert m.update(0.75) == pytest.approx(2.0)


def _measured(logits, labels, groups, num_groups=2, constraint="demographic_parity"):
    loss_fn = ConstrainedFairLoss(num_groups, bound=0.1, constraint=constraint)
    loss_fn.accumulate(mx.nd.array(logits), mx.nd.array(labels), mx.nd.array(groups))
    return loss_fn


def test_measured_gap_is_the_reports_difference():
    # one definition of a between-groups gap: FairnessReport.difference (metrics.group_gap)
    three = _measured([3, 3, 3, -3, 3, -3, -3, -3], [0] * 8, [0, 0, 0, 0, 1, 1, 1, 1], 3)
    assert three.measured_gap() == 0.5  # group 2 has no rows: left out
    # equalized odds: TPR 1/2 vs 1/4; FPR defined for group 1 only (one group: 0)
    odds = _measured([3, -3] + [3, -3, -3, -3] + [3] * 5, [1, 1] + [1] * 4 + [0] * 5,
                     [0, 0] + [1] * 9, constraint="equalized_odds")
    assert odds.measured_gap() == 0.25
    # one group with rows: the report says 0.0, and so does the loss (it said NaN, holding lam)
    one = _measured([3.0, -3.0], [0, 0], [0, 0])
    counts = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]], dtype=float)  # (G, K, K)
    assert one.measured_gap() == FairnessReport(counts).difference("selection_rate") == 0.0
    one.lam = 0.5
    assert one.update_multiplier() == pytest.approx(0.4)  # lam moves: 0.5 + 1.0 * (0 - 0.1)
    assert np.isnan(ConstrainedFairLoss(2, bound=0.1).measured_gap())  # no rows at all


@pytest.mark.parametrize("constraint, reference", [
    ("demographic_parity", demographic_parity_difference),
    ("equalized_odds", equalized_odds_difference),
])
def test_measured_gap_matches_fairlearn_over_batches(constraint, reference, ctx):
    rng = np.random.RandomState(0)
    n = 300
    logits = rng.randn(n).astype(np.float32) + 0.3
    y = rng.randint(0, 2, n)
    g = rng.randint(0, 3, n)
    loss_fn = ConstrainedFairLoss(3, bound=0.05, constraint=constraint)
    loss_fn.hybridize()
    for sl in (slice(0, 128), slice(128, 256), slice(256, n)):  # totals add exactly
        with autograd.record():  # training calls feed the multiplier
            loss_fn(*(mx.nd.array(a[sl], ctx=ctx) for a in (logits, y, g)))
    expected = reference(y, (logits > 0).astype(int), sensitive_features=g)
    assert loss_fn.measured_gap() == pytest.approx(expected, abs=1e-6)


def test_update_multiplier_feeds_lam_into_the_graph(ctx):
    rng = np.random.RandomState(1)
    logits = mx.nd.array(rng.randn(64), ctx=ctx)
    y = mx.nd.array(rng.randint(0, 2, 64), ctx=ctx)
    g = mx.nd.array(np.repeat([0, 1], 32), ctx=ctx)
    loss_fn = ConstrainedFairLoss(2, bound=0.0, lr=10.0, penalty="absolute")
    loss_fn.hybridize()
    with autograd.record():
        base = loss_fn(logits, y, g).asnumpy()  # lam = 0: the base loss alone
    gap = loss_fn.measured_gap()
    assert gap > 0
    lam = loss_fn.update_multiplier()
    assert lam == pytest.approx(10.0 * gap, rel=1e-5)
    assert loss_fn.lam == pytest.approx(lam, rel=1e-6)
    assert np.isnan(loss_fn.measured_gap())  # totals were reset
    with_lam = loss_fn(logits, y, g).asnumpy()
    assert np.all(with_lam > base)
    # an externally measured gap (bound 0: a zero gap leaves lam where it is)
    assert loss_fn.update_multiplier(gap=0.0) == pytest.approx(lam)
    assert loss_fn.update_multiplier(gap=0.01) == pytest.approx(lam + 0.1)
    loss_fn.lam = 0.25
    assert loss_fn.multiplier.value == 0.25


def test_multiplier_state_survives_save_load(ctx, tmp_path):
    loss_fn = ConstrainedFairLoss(2, bound=0.1, lr=1.0)
    loss_fn.update_multiplier(gap=0.6)
    path = str(tmp_path / "c.params")
    loss_fn.save_parameters(path)
    other = ConstrainedFairLoss(2, bound=0.1, lr=1.0)
    other.load_parameters(path, ctx=ctx)
    assert other.lam == pytest.approx(0.5)
    assert other.update_multiplier(gap=0.3) == pytest.approx(0.7)


def test_constructor_errors():
    with pytest.raises(TypeError, match="use lam_init"):
        ConstrainedFairLoss(2, bound=0.1, lam=1.0)
    with pytest.raises(ValueError, match="threshold must be a number in \\(0, 1\\), got 1.2"):
        ConstrainedFairLoss(2, bound=0.1, threshold=1.2)
    with pytest.raises(ValueError, match="threshold must be a number in \\(0, 1\\), got nan"):
        ConstrainedFairLoss(2, bound=0.1, threshold=np.nan)
    with pytest.raises(ValueError, match="bound must be a number"):
        ConstrainedFairLoss(2, bound=2)
    with pytest.raises(ValueError, match="lam_init must be a finite number >= 0, got -1"):
        ConstrainedFairLoss(2, bound=0.1, lam_init=-1)
    with pytest.raises(ValueError, match="lam_max must be a finite number >= 0, got inf"):
        ConstrainedFairLoss(2, bound=0.1, lam_max=np.inf)
    loss_fn = ConstrainedFairLoss(2, bound=np.float32(0.5), lr=np.float32(0.5),
                                  lam_init=np.float32(0.25), threshold=np.float64(0.5))
    assert (loss_fn.bound, loss_fn.lam) == (0.5, 0.25)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0, got True"):
        loss_fn.lam = True


def test_training_meets_the_bound(ctx):
    # a feature leaks the group; unconstrained the selection-rate gap is large
    x, y, g = leaky_data()
    n = len(y)
    xs, ys, gs = (mx.nd.array(a, ctx=ctx) for a in (x, y, g))

    def train(bound):
        mx.random.seed(0)
        net = gluon.nn.Dense(1)
        net.initialize(mx.init.Xavier(), ctx=ctx)
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
        loss_fn = ConstrainedFairLoss(2, bound=bound, lr=0.5)
        for _ in range(150):
            for sl in (slice(0, 256), slice(256, n)):
                with autograd.record():
                    loss = loss_fn(net(xs[sl]), ys[sl], gs[sl])
                loss.backward()
                trainer.step(256)
            loss_fn.update_multiplier()  # per epoch
        pred = net(xs).asnumpy().ravel() > 0
        return demographic_parity_difference(y, pred, sensitive_features=g), loss_fn

    loose, loose_fn = train(0.99)  # never binding: lam stays 0
    assert loose_fn.lam == 0.0 and loose > 0.3
    tight, tight_fn = train(0.05)
    assert tight_fn.lam > 0
    assert tight <= 0.1
    assert_almost_equal(np.array(tight_fn.multiplier.history[-1][1]),
                        np.array(tight_fn.lam), rtol=1e-6)


def test_measured_gap_sums_over_devices_and_accepts_loader_dtypes():
    # Data-parallel training calls the loss once per device; float64 weights and int64 labels
    # are what a DataLoader gives for reweighing_weights and to_gluon.
    loss_fn = ConstrainedFairLoss(2, bound=0.05)
    logits = np.array([3.0, 3.0, -3.0, -3.0], dtype=np.float32)  # group 0 all 1, group 1 all 0
    for device, lo in ((mx.cpu(0), logits), (mx.cpu(1), np.abs(logits))):  # gap 1, then gap 0
        with autograd.record():
            out = loss_fn(mx.nd.array(lo, ctx=device),
                          mx.nd.array([1, 0, 1, 0], ctx=device, dtype="int64"),
                          mx.nd.array([0, 0, 1, 1], ctx=device),
                          mx.nd.array([1.0, 1.0, 1.0, 1.0], ctx=device, dtype="float64"))
        assert out.context == device
    # over both devices: group 0 selects 4/4, group 1 selects 2/4
    assert loss_fn.measured_gap() == pytest.approx(0.5)


def test_measured_gap_counts_a_probability_of_one_half_as_positive():
    # the rule of GroupStats (score >= threshold), so the multiplier tracks the reported gap
    loss_fn = ConstrainedFairLoss(2, bound=0.05)
    loss_fn.accumulate(mx.nd.array([0.0, 0.0, -3.0, -3.0]), mx.nd.array([1, 0, 1, 0]),
                       mx.nd.array([0, 0, 1, 1]))  # the explicit form
    assert loss_fn.measured_gap() == pytest.approx(1.0)


# ----------------------------------------------------------- training rows feed the multiplier
def _split(n_train=96, n_val=64, seed=3):
    rng = np.random.RandomState(seed)
    x = rng.randn(n_train + n_val, 4).astype(np.float32)
    g = rng.randint(0, 2, n_train + n_val)
    y = ((x[:, 0] + g + 0.5 * rng.randn(len(g))) > 0.5).astype(np.float32)
    x[:, 3] = g  # the group leaks: a large gap
    tr, va = slice(0, n_train), slice(n_train, None)
    return (x[tr], y[tr], g[tr]), (x[va], y[va], g[va])


def _totals(loss_fn):
    num, den = loss_fn.measured_totals
    return num.asnumpy().copy(), den.asnumpy().copy()


def test_a_validation_pass_leaves_the_multiplier_where_it_was(ctx):
    (xt, yt, gt), (xv, yv, gv) = _split()
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    loss_fn = ConstrainedFairLoss(2, bound=0.02, lr=2.0, lam_init=0.5)
    loss_fn.hybridize()
    train = [mx.nd.array(a, ctx=ctx) for a in (xt, yt, gt)]
    val = [mx.nd.array(a, ctx=ctx) for a in (xv, yv, gv)]
    with autograd.record():
        loss = loss_fn(net(train[0]), train[1], train[2])
    loss.backward()
    before, gap = _totals(loss_fn), loss_fn.measured_gap()
    assert before[1].sum() == len(yt)  # demographic parity: every training row counts once
    # validation, as a plain loop writes it: no record, the same loss object
    val_loss = loss_fn(net(val[0]), val[1], val[2])
    assert val_loss.shape == (len(yv),)
    with autograd.predict_mode():
        loss_fn(net(val[0]), val[1], val[2])
    after = _totals(loss_fn)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert loss_fn.measured_gap() == gap
    lam = loss_fn.update_multiplier()
    assert lam == pytest.approx(0.5 + 2.0 * (gap - 0.02), rel=1e-6)
    # validation right after the update: the totals stay empty, the multiplier unchanged
    loss_fn(net(val[0]), val[1], val[2])
    assert loss_fn.measured_totals is None and np.isnan(loss_fn.measured_gap())
    assert loss_fn.update_multiplier() == pytest.approx(lam)  # NaN gap: no step
    # the explicit form adds rows on purpose
    loss_fn.accumulate(net(val[0]), val[1], val[2])
    assert _totals(loss_fn)[1].sum() == len(yv)


def test_estimator_validation_does_not_feed_the_multiplier(ctx):
    from mxnet.gluon.contrib.estimator import Estimator
    from mxnet.gluon.contrib.estimator.event_handler import BatchEnd

    from mxfair.callbacks import GroupBatchProcessor

    (xt, yt, gt), (xv, yv, gv) = _split()
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(xt, yt, gt), batch_size=32)
    val_loader = gluon.data.DataLoader(gluon.data.ArrayDataset(xv, yv, gv), batch_size=32)
    net = gluon.nn.Dense(1)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    loss_fn = ConstrainedFairLoss(2, bound=0.02, lr=1.0)
    rows = []

    class Rows(BatchEnd):  # what fed the totals after each training batch
        def batch_end(self, estimator, *args, **kwargs):
            rows.append(float(loss_fn.measured_totals[1].sum().asscalar()))

    est = Estimator(net, loss_fn, trainer=gluon.Trainer(net.collect_params(), "sgd"),
                    context=ctx, batch_processor=GroupBatchProcessor())
    assert est.val_loss is loss_fn  # the Estimator's default: the training loss object
    est.logger.disabled = True
    est.fit(loader, val_data=val_loader, epochs=2, event_handlers=[Rows()])
    # 2 epochs of 96 training rows, none of the 64 validation rows (validated after each epoch)
    assert rows == [32.0, 64.0, 96.0, 128.0, 160.0, 192.0]
    assert _totals(loss_fn)[1].sum() == 2 * len(yt)
