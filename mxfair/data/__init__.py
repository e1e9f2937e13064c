"""Reweighing weights and fairness-aware samplers for ``gluon.data.DataLoader``.

reweighing  Kamiran & Calders reweighing: per-cell table, per-row weights, the formula from
            (global) cell counts.
samplers    ReweighingSampler, GroupBalancedSampler, FairBatchSampler (with data-parallel
            sharding).
weighted    WeightedDataset / reweighed_dataset: rows with a weight, for ``loss(pred, y, w)``.
jtt         Just Train Twice (Liu et al., 2021): error set, upweighting sampler and weights.
"""
from . import jtt, reweighing, samplers, weighted
from .jtt import *  # noqa: F401,F403
from .reweighing import *  # noqa: F401,F403
from .samplers import *  # noqa: F401,F403
from .weighted import *  # noqa: F401,F403

__all__ = reweighing.__all__ + samplers.__all__ + weighted.__all__ + jtt.__all__
