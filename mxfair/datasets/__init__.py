"""Data sets for fairness work: Adult, German credit and COMPAS loaders, and CIFAR-10S.

tabular  load_adult, load_german, load_compas (one TabularSpec each), load_tabular(name)
vision   CIFAR10S, the colour/grayscale skew protocol
(the raw files are found, downloaded and checksummed by ``_files``)

Every data set yields the protected group of each example next to its label, ``(x, y, group)``,
in a form ``gluon.data.DataLoader`` takes as it is.
"""
from . import tabular, vision
from .tabular import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403

__all__ = list(tabular.__all__) + list(vision.__all__)
