"""mxfair: measure and reduce group unfairness while training Apache MXNet Gluon models.

Subpackages
-----------
metrics         GroupStats (the one core of group statistics), FairnessReport, fairlearn-named
                functions, Clarify/AIF360 metrics and ``mx.metric.EvalMetric`` classes.
data            Reweighing weights and fairness-aware samplers for ``gluon.data.DataLoader``;
                Just Train Twice (JTT).
loss            Fairness-regularized loss blocks, constrained training, adversarial debiasing,
                group DRO and adversarially reweighted learning (ARL).
postprocessing  ThresholdOptimizer and the exportable GroupThreshold block.
callbacks       Per-epoch fairness validation for plain loops and the Estimator API.
nn              Fairness-aware blocks: the domain-independent head (one classifier per domain).
datasets        Adult, German, COMPAS loaders, the CIFAR-10S protocol and SpuriousDigits.
distributed     GroupStats and reweighing counts summed over a kvstore (import it explicitly).
plot            matplotlib figures (import it explicitly; matplotlib is the ``plot`` extra).
"""
__version__ = "0.1.0"

from . import callbacks, data, datasets, loss, metrics, nn, postprocessing  # noqa: E402
from ._constraints import CONSTRAINT_NAMES, CONSTRAINTS, canonical_constraint  # noqa: E402
from .callbacks import FairnessMonitor  # noqa: E402
from .data import FairBatchSampler, GroupBalancedSampler, ReweighingSampler  # noqa: E402
from .groups import GroupEncoder  # noqa: E402
from .loss import AdversarialDebiasing, ConstrainedFairLoss, FairnessRegularizedLoss  # noqa: E402
from .metrics import FairnessReport, GroupStats  # noqa: E402
from .postprocessing import GroupThreshold, ThresholdOptimizer  # noqa: E402

__all__ = [
    "__version__",
    "GroupEncoder",
    "CONSTRAINTS",
    "CONSTRAINT_NAMES",
    "canonical_constraint",
    "GroupStats",
    "FairnessReport",
    "ReweighingSampler",
    "GroupBalancedSampler",
    "FairBatchSampler",
    "FairnessRegularizedLoss",
    "ConstrainedFairLoss",
    "AdversarialDebiasing",
    "ThresholdOptimizer",
    "GroupThreshold",
    "FairnessMonitor",
    "callbacks",
    "data",
    "datasets",
    "loss",
    "metrics",
    "nn",
    "postprocessing",
]
