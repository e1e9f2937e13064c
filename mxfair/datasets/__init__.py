"""Data sets for fairness work: Adult, German credit and COMPAS loaders, and CIFAR-10S.

Every loader gives data that ``gluon.data.DataLoader`` takes as it is, with the protected group
of each example next to its label: ``(x, y, group)``.
"""
from . import tabular
from .tabular import *  # noqa: F401,F403

__all__ = list(tabular.__all__)
