"""Training to a stated bound that holds on data the model has not seen.

State ``gap <= eps`` (a between-groups difference, as the package reports it) and get the most
accurate model that meets it on held-out rows, without tuning a penalty weight: the two-data-set
proxy-Lagrangian game of Cotter et al. (ICML 2019) for Gluon.

bounds     RateBound (the m pair constraints |r_a - r_b| <= eps, measured from GroupStats /
           FairnessReport / FairnessMonitor), constraint_slice (rows held out of training)
game       ProxyLagrangian (the multiplier player, step sizes from the bound and the data),
           BoundSchedule (drives a penalty weight ``lam`` toward the bound)
loss       BoundedFairLoss (the model player's Gluon loss)
selection  BestIterate (keep the best iterate that meets the bound), best_mixture
mixture    IterateMixture (the randomized model over iterates, one exportable block)
estimator  BoundedTrainingHandler for the Estimator API
"""
from . import bounds, estimator, game, loss, mixture, selection
from .bounds import *  # noqa: F401,F403
from .estimator import *  # noqa: F401,F403
from .game import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .mixture import *  # noqa: F401,F403
from .selection import *  # noqa: F401,F403

__all__ = (bounds.__all__ + game.__all__ + loss.__all__ + mixture.__all__ + selection.__all__
           + estimator.__all__)
