"""Reweighing weights and fairness-aware samplers for ``gluon.data.DataLoader``.

reweighing  Kamiran & Calders reweighing: per-cell table, per-row weights, the formula from
            (global) cell counts.
samplers    ReweighingSampler, GroupBalancedSampler: rows drawn cell by cell (with
            data-parallel sharding, shard_range).
fairbatch   FairBatchSampler: a batch sampler whose composition adapts between epochs.
weighted    WeightedDataset / reweighed_dataset: rows with a weight, for ``loss(pred, y, w)``.
grouped     with_groups / GroupedDataset: group ids attached to any Gluon dataset.
jtt         Just Train Twice (Liu et al., 2021): error set, upweighting sampler and weights.
"""
from . import fairbatch, grouped, jtt, reweighing, samplers, weighted
from .fairbatch import *  # noqa: F401,F403
from .grouped import *  # noqa: F401,F403
from .jtt import *  # noqa: F401,F403
from .reweighing import *  # noqa: F401,F403
from .samplers import *  # noqa: F401,F403
from .weighted import *  # noqa: F401,F403

__all__ = (reweighing.__all__ + samplers.__all__ + fairbatch.__all__ + weighted.__all__
           + grouped.__all__ + jtt.__all__)
