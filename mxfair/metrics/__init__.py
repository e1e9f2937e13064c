"""Group-fairness metrics: one streaming core (:class:`GroupStats`), everything derived from it.

``GroupStats`` accumulates per-group confusion counts and score histograms on the device;
``FairnessReport`` derives rates and gaps; the functions carry fairlearn's names; the
``EvalMetric`` classes plug into ``mx.metric`` and the Estimator.
"""
from . import functional, report, stats
from .functional import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403
from .stats import *  # noqa: F401,F403

__all__ = stats.__all__ + report.__all__ + functional.__all__
