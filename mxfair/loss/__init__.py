"""Fairness-regularized losses, constrained training and adversarial debiasing for Gluon.

statistics   soft per-group rates (positive rate, TPR, FPR, stacked) as per-sample terms
penalties    how groups are compared (squared / absolute / smooth-max gap, MMD)
fair_loss    FairnessRegularizedLoss = base loss + lam * penalty(statistic); ConstrainedFairLoss
             (state the bound, lam follows); fairness_penalty
constrained  LagrangeMultiplier (dual ascent on the host)
adversarial  GradientReversal, AdversarialDebiasing (Zhang et al., 2018)
group_dro    GroupDROLoss (Sagawa et al., 2020), group_counts, cross_groups
arl          ARLAdversary, ARLLoss: adversarially reweighted learning (Lahoti et al., 2020)
"""
from . import adversarial, arl, constrained, fair_loss, group_dro, penalties, statistics
from .adversarial import *  # noqa: F401,F403
from .arl import *  # noqa: F401,F403
from .constrained import *  # noqa: F401,F403
from .fair_loss import *  # noqa: F401,F403
from .group_dro import *  # noqa: F401,F403
from .penalties import *  # noqa: F401,F403
from .statistics import *  # noqa: F401,F403

__all__ = (
    statistics.__all__
    + penalties.__all__
    + fair_loss.__all__
    + constrained.__all__
    + adversarial.__all__
    + group_dro.__all__
    + arl.__all__
)
