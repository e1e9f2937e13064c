"""Group-fairness metrics: one streaming core (:class:`GroupStats`), everything derived from it.

``GroupStats`` accumulates per-group confusion counts and score histograms on the device;
``FairnessReport`` derives rates and gaps; the functions carry fairlearn's names; the
``EvalMetric`` classes plug into ``mx.metric`` and the Estimator. Pre-training (label) bias
metrics are in :mod:`~mxfair.metrics.data_bias`; SageMaker Clarify's post-training metrics and
AIF360's signed metrics keep their sources' names in the namespaces
:mod:`mxfair.metrics.clarify` and :mod:`mxfair.metrics.aif360`. Permutation p-values of gaps
are in :mod:`mxfair.metrics.significance` (``FairnessReport.p_value``).
"""
from . import aif360, clarify, data_bias, eval_metric, functional, report, significance, stats
from .data_bias import *  # noqa: F401,F403
from .eval_metric import *  # noqa: F401,F403
from .functional import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403
from .stats import *  # noqa: F401,F403

__all__ = (stats.__all__ + report.__all__ + functional.__all__ + data_bias.__all__
           + eval_metric.__all__ + ["aif360", "clarify", "significance"])
