"""Fairness in the training loop: per-epoch validation, Estimator handlers, a group-aware
BatchProcessor.

monitor    FairnessMonitor for plain Gluon loops (history, logging, CSV/JSON, progress bars).
estimator  GroupBatchProcessor, FairnessValidationHandler, FairCheckpointHandler and
           FairnessEarlyStoppingHandler for ``mxnet.gluon.contrib.estimator.Estimator``.
"""
from . import estimator, monitor
from .estimator import *  # noqa: F401,F403
from .monitor import *  # noqa: F401,F403

__all__ = monitor.__all__ + estimator.__all__
