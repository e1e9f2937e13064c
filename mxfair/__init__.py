"""mxfair: measure and reduce group unfairness while training Apache MXNet Gluon models.

Subpackages
-----------
metrics         GroupStats (the one core of group statistics), FairnessReport, fairlearn-named
                functions, Clarify/AIF360 metrics and ``mx.metric.EvalMetric`` classes.
data            Reweighing weights and fairness-aware samplers for ``gluon.data.DataLoader``.
loss            Fairness-regularized loss blocks, constrained training, adversarial debiasing.
postprocessing  ThresholdOptimizer and the exportable GroupThreshold block.
callbacks       Per-epoch fairness validation for plain loops and the Estimator API.
datasets        Adult, German, COMPAS loaders and the CIFAR-10S protocol.
"""
__version__ = "0.1.0"

from .groups import GroupEncoder  # noqa: E402

__all__ = ["GroupEncoder", "__version__"]
