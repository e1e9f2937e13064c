"""Data sets for fairness work: Adult, German credit and COMPAS loaders, and CIFAR-10S.

Every data set yields the protected group of each example next to its label, ``(x, y, group)``,
in a form ``gluon.data.DataLoader`` takes as it is.
"""
from . import tabular, vision
from .tabular import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403

__all__ = list(tabular.__all__) + list(vision.__all__)
