"""Data sets for fairness work: Adult, German credit and COMPAS loaders, CIFAR-10S and the
Waterbirds-like SpuriousDigits.

tabular  load_adult, load_german, load_compas (one TabularSpec each), load_tabular(name)
vision   CIFAR10S, the colour/grayscale skew protocol
(the raw files are found, downloaded and checksummed by ``_files``)

Every data set yields the protected group of each example next to its label, ``(x, y, group)``,
in a form ``gluon.data.DataLoader`` takes as it is.
"""
from . import spurious, tabular, vision
from .spurious import *  # noqa: F401,F403
from .tabular import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403

__all__ = list(tabular.__all__) + list(vision.__all__) + list(spurious.__all__)
