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
training        Train to a stated bound that holds on held-out rows (BoundedFairLoss,
                BestIterate, BoundSchedule: the two-data-set proxy-Lagrangian game).
datasets        Adult, German, COMPAS loaders, the CIFAR-10S protocol and SpuriousDigits.
explain         Why groups are treated differently: gap attribution, importance, proxies.
auditing        audit(net, data): gaps, p-values, attribution, label bias as one report page
                (also ``python -m mxfair audit`` on an exported model and a CSV file).
distributed     GroupStats and reweighing counts summed over a kvstore (import it explicitly).
plot            matplotlib figures (import it explicitly; matplotlib is the ``plot`` extra).
"""
__version__ = "0.1.0"

from . import (  # noqa: E402
    auditing,
    callbacks,
    data,
    datasets,
    explain,
    loss,
    metrics,
    nn,
    postprocessing,
    training,
)
from ._constraints import CONSTRAINT_NAMES, CONSTRAINTS, canonical_constraint  # noqa: E402
from .auditing import AuditReport, audit  # noqa: E402
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
    "audit",
    "AuditReport",
    "auditing",
    "callbacks",
    "data",
    "datasets",
    "explain",
    "loss",
    "metrics",
    "nn",
    "postprocessing",
    "training",
]
