"""matplotlib figures without pyplot (no global state, no display needed), written as PNG.

The one home of how mxfair makes and saves a figure, for :mod:`mxfair.plot` and the audit's
figures. matplotlib is imported when a figure is made (it is the ``plot`` extra).
"""
import os
from typing import Optional, Tuple, Union

__all__ = ["PathArg", "new_figure", "save_png"]

PathArg = Optional[Union[str, os.PathLike]]


def new_figure(figsize: Tuple[float, float]):
    """A ``matplotlib.figure.Figure`` of ``figsize`` inches with constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def save_png(fig, path: PathArg, dpi: int):
    """Write ``fig`` as PNG to ``path`` (its folder is created when missing; nothing when
    ``path`` is None) and return ``fig``."""
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
        fig.savefig(os.fspath(path), dpi=dpi, format="png", facecolor="white")
    return fig
