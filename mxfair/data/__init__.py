"""Reweighing weights and fairness-aware samplers for ``gluon.data.DataLoader``.

reweighing  Kamiran & Calders reweighing: per-cell table, per-row weights, the formula from
            (global) cell counts.
samplers    ReweighingSampler, GroupBalancedSampler, FairBatchSampler (with data-parallel
            sharding).
weighted    WeightedDataset / reweighed_dataset: rows with a weight, for ``loss(pred, y, w)``.
grouped     with_groups / GroupedDataset: group ids attached to any Gluon dataset.
"""
from . import grouped, reweighing, samplers, weighted
from .grouped import *  # noqa: F401,F403
from .reweighing import *  # noqa: F401,F403
from .samplers import *  # noqa: F401,F403
from .weighted import *  # noqa: F401,F403

__all__ = reweighing.__all__ + samplers.__all__ + weighted.__all__ + grouped.__all__
