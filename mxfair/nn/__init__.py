"""Gluon blocks for fairness-aware architectures.

domain_independent  DomainIndependentHead, DomainIndependentLoss, CombineDomains and
                    domain_independent_nets: one classifier head per domain (Wang et al., 2020),
                    trained with the domain, used without it.
"""
from . import domain_independent
from .domain_independent import *  # noqa: F401,F403

__all__ = list(domain_independent.__all__)
