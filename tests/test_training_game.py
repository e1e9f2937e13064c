"""ProxyLagrangian (the multiplier player), its step-size rule, and BoundSchedule."""
import math

import numpy as np
import pytest

from mxfair.loss import FairnessRegularizedLoss
from mxfair.metrics import GroupStats
from mxfair.training import BoundSchedule, ProxyLagrangian, hedge_step_size

REGRETS = ("swap", "external")


def test_hedge_step_size_formula():
    assert hedge_step_size(1, 2, 1.0) == pytest.approx(math.sqrt(8 * math.log(2)))
    assert hedge_step_size(16, 5, 0.05) == pytest.approx(math.sqrt(8 * math.log(5) / 16) / 0.05)
    with pytest.raises(ValueError, match="payoff_range must be a finite number > 0"):
        hedge_step_size(1, 2, 0.0)
    with pytest.raises(ValueError, match="t must be a positive integer"):
        hedge_step_size(0, 2, 1.0)


@pytest.mark.parametrize("regret", REGRETS)
def test_starts_on_the_objective_and_stays_there_while_the_bound_is_slack(regret):
    game = ProxyLagrangian(3, regret=regret, radius=1e-3, payoff_range=0.05, clip=True)
    start = game.weights
    assert start[0] == pytest.approx(1 - 3e-3 / 4) and np.allclose(start[1:], 1e-3 / 4)
    for _ in range(50):  # every constraint met by a margin: no reason to weigh it
        game.update([-0.05, -0.02, -0.01])
    np.testing.assert_allclose(game.weights, start, rtol=1e-9)
    assert np.all(game.multipliers < 1e-3)  # a Lagrange multiplier of (numerically) zero


@pytest.mark.parametrize("regret", REGRETS)
def test_moves_toward_a_violated_constraint_and_back_when_it_is_met(regret):
    game = ProxyLagrangian(2, regret=regret, payoff_range=0.05, clip=True)
    lam = [game.multipliers[0]]
    for _ in range(60):
        game.update([0.04, -0.05])  # constraint 1 violated, constraint 2 met
        lam.append(game.multipliers[0])
    assert np.all(np.diff(lam) >= 0) and lam[-1] > 5.0  # rises to outweigh the objective
    assert game.weights[2] == pytest.approx(game.radius / 3)  # the met one stays at its floor
    high = lam[-1]
    down = []
    for _ in range(60):
        game.update([-0.05, -0.05])  # now met: the multiplier falls back
        down.append(game.multipliers[0])
    assert np.all(np.diff(down) <= 1e-12) and down[-1] < min(1.0, high / 5)
    w = game.weights
    assert w.sum() == pytest.approx(1.0) and np.all(w >= game.radius / 3 - 1e-12)


def test_step_rule_and_clipping():
    game = ProxyLagrangian(1, regret="external", payoff_range=0.05, clip=True)
    game.update([0.5])  # clipped to the range: ten bounds over counts as one
    clipped = ProxyLagrangian(1, regret="external", payoff_range=0.05, clip=True)
    clipped.update([0.05])
    np.testing.assert_allclose(game.weights, clipped.weights)
    assert game.history[0]["step"] == pytest.approx(hedge_step_size(1, 2, 0.05))
    game.update([0.05])
    assert game.history[1]["step"] == pytest.approx(hedge_step_size(2, 2, 0.05))
    # External regret is Hedge: log-odds of constraint vs objective move by step * payoff
    # while no weight sits at its floor.
    fresh = ProxyLagrangian(1, regret="external", radius=0.5, payoff_range=1.0)
    before = np.log(fresh.weights[1] / fresh.weights[0])
    fresh.update([0.1])
    after = np.log(fresh.weights[1] / fresh.weights[0])
    assert after - before == pytest.approx(hedge_step_size(1, 2, 1.0) * 0.1)
    adaptive = ProxyLagrangian(2)  # no range given: the largest |payoff| seen
    adaptive.update([0.2, -0.3])
    adaptive.update([0.1, 0.0])
    assert adaptive.payoff_range == 0.3
    constant = ProxyLagrangian(1, step_size=0.5)
    constant.update([0.1])
    assert constant.history[0]["step"] == 0.5


@pytest.mark.parametrize("regret", REGRETS)
def test_unmeasured_constraint_does_not_move(regret):
    game = ProxyLagrangian(2, regret=regret, payoff_range=0.05, clip=True)
    for _ in range(5):
        game.update([np.nan, 0.05])
    assert game.weights[1] == pytest.approx(game.radius / 3)
    assert game.weights[2] > 0.1


@pytest.mark.parametrize("kwargs, violations, match", [
    ({}, [0.1, 0.2], r"violations must have shape \(1,\)"),
    ({}, [np.inf], "violations must be finite or NaN"),
])
def test_update_refuses_bad_violations(kwargs, violations, match):
    with pytest.raises(ValueError, match=match):
        ProxyLagrangian(1, **kwargs).update(violations)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_constraints": 0}, "num_constraints must be a positive integer"),
    ({"num_constraints": 1, "regret": "internal"}, "regret must be one of"),
    ({"num_constraints": 1, "radius": 1.0}, r"radius must be a number in \(0, 1\)"),
    ({"num_constraints": 1, "step_size": -1.0}, "step_size must be a finite number > 0"),
    ({"num_constraints": 1, "clip": True}, "clip=True needs a payoff_range"),
])
def test_constructor_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ProxyLagrangian(**kwargs)


def _gap_stats(gap: float) -> GroupStats:
    """Two groups of 100 rows whose selection rates differ by ``gap``."""
    y = np.zeros(200, dtype=np.int64)
    g = np.repeat([0, 1], 100)
    on = int(round(100 * gap))
    p = np.zeros(200, dtype=np.float32)
    p[:30 + on] = 1.0
    p[100:130] = 1.0
    stats = GroupStats(2, from_logits=False)
    stats.update(y, p, g)
    return stats


def test_bound_schedule_drives_lam_toward_the_bound():
    loss = FairnessRegularizedLoss(2, lam=5.0, from_logits=True)
    schedule = BoundSchedule(loss, bound=0.05, constraint="demographic_parity", num_groups=2)
    assert loss.lam == pytest.approx(schedule.value) and loss.lam < 1e-3  # starts near 0
    slack = [schedule.update(_gap_stats(0.0)) for _ in range(10)]
    assert max(slack) < 1e-3  # met: stays near 0
    above = [schedule.update(_gap_stats(0.20)) for _ in range(40)]
    assert np.all(np.diff(above) > 0) and above[-1] > 1.0
    assert loss.lam == pytest.approx(above[-1], rel=1e-6)
    below = [schedule.update(_gap_stats(0.0)) for _ in range(40)]
    assert np.all(np.diff(below) < 0) and below[-1] < above[-1]


def test_bound_schedule_refuses_a_target_without_the_attribute():
    with pytest.raises(TypeError, match="settable attribute 'lam'"):
        BoundSchedule(object(), 0.05, "demographic_parity", 2)
    with pytest.raises(ValueError, match="bound must be a number"):
        BoundSchedule(FairnessRegularizedLoss(2), 1.5, "demographic_parity", 2)
