"""Audit a trained net: :func:`audit` and its :class:`AuditReport` (HTML, JSON, Markdown).

``python -m mxfair audit`` (or the ``mxfair`` command) audits an exported model on a CSV file;
see :mod:`mxfair.auditing.cli`. The figures are in :mod:`mxfair.auditing.figures` (matplotlib,
the ``plot`` extra).
"""
from . import core, report
from .core import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403

__all__ = core.__all__ + report.__all__
