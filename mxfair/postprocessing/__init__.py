"""Post-processing: per-group thresholds fitted after training, and the blocks that serve them.

:class:`ThresholdOptimizer` fits per-group (randomised) thresholds on held-out scores or straight
from :class:`mxfair.metrics.GroupStats` histograms; :class:`GroupThreshold` applies them inside
an exportable Gluon graph and :class:`ThresholdedNet` appends it to a trained net.
"""
from . import layers, threshold_optimizer
from .layers import *  # noqa: F401,F403
from .threshold_optimizer import *  # noqa: F401,F403

__all__ = threshold_optimizer.__all__ + layers.__all__
