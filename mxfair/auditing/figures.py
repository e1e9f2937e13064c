"""Figures of an audit (matplotlib, the ``plot`` extra; no pyplot state).

- :func:`plot_gap_attribution`: what drives the gap, one bar per feature, and the gap itself;
- :func:`plot_null_distribution`: a gap against its permutation distribution;
- :func:`plot_proxies`: how well each feature predicts the group;
- :func:`plot_partial_dependence`: per-group curves of the model output against a feature;
- :func:`plot_attribution_maps`: images: mean attribution map per group and their difference.

Each returns a ``matplotlib.figure.Figure`` (and writes a PNG with ``path=``);
:func:`figure_bytes` encodes one as PNG or SVG for a self-contained page.
"""
import io
from typing import Any, Optional, Sequence

import numpy as np

from .._figures import PathArg, new_figure, save_png
from .._validation import check_choice
from ..explain import GapAttribution, OcclusionMaps
from ..metrics.significance import GapTest

__all__ = ["plot_gap_attribution", "plot_null_distribution", "plot_proxies",
           "plot_partial_dependence", "plot_attribution_maps", "figure_bytes"]

_POSITIVE, _NEGATIVE = "#c0392b", "#2471a3"


def _expect(name: str, value: Any, types: tuple, what: str) -> None:
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")


def figure_bytes(fig, *, fmt: str = "png", dpi: int = 110) -> bytes:
    """The figure encoded as PNG or SVG bytes."""
    check_choice("fmt", fmt, ("png", "svg"))
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()


def plot_gap_attribution(attribution: Any, *, top: int = 12, title: Optional[str] = None,
                         path: PathArg = None):
    """Horizontal bars of the largest contributions to the gap, and the gap.

    Parameters
    ----------
    attribution : GapAttribution
    top : int, default 12
        Features shown; the rest are summed into one bar ("other features").
    title : str, optional
    path : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from mxfair.explain import GapAttribution
    >>> att = GapAttribution(["a", "b"], np.array([0.1, -0.02]), np.zeros((2, 2)),
    ...                      np.array([0.3, 0.22]), np.array([10.0, 10.0]), 0.2, (0, 1), 0.08,
    ...                      0.0, ["x", "y"], "probability", "expected gradients", 4, 8)
    >>> [t.get_text() for t in plot_gap_attribution(att).axes[0].get_yticklabels()]
    ['a', 'b']
    """
    _expect("attribution", attribution, (GapAttribution,), "a GapAttribution (gap_attribution)")
    order = np.argsort(-np.abs(attribution.contributions), kind="stable")
    shown = order[:top]
    names = [attribution.names[j] for j in shown]
    values = list(attribution.contributions[shown])
    rest = order[top:]
    if rest.size:
        names.append(f"other features ({rest.size})")
        values.append(float(attribution.contributions[rest].sum()))
    fig = new_figure((7.2, 0.9 + 0.36 * len(names)))
    ax = fig.subplots()
    y = np.arange(len(names))[::-1]
    ax.barh(y, values, color=[_POSITIVE if v >= 0 else _NEGATIVE for v in values])
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.axvline(0, color="0.3", linewidth=0.8)
    for yy, v in zip(y, values):
        ax.text(v, yy, f" {v:+.3f} ", va="center", ha="left" if v >= 0 else "right",
                fontsize="x-small")
    a, b = attribution.between
    ax.set_xlabel(f"contribution to the gap in mean {attribution.output} "
                  f"({attribution.group_names[a]} − {attribution.group_names[b]} = "
                  f"{attribution.gap:+.3f})")
    lo, hi = min(values + [0.0]), max(values + [0.0])
    pad = 0.18 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title or f"What drives the gap ({attribution.method})")
    return save_png(fig, path, 120)


def plot_null_distribution(test: Any, *, title: Optional[str] = None, path: PathArg = None):
    """Histogram of a gap's permutation distribution with the observed value marked.

    Parameters
    ----------
    test : GapTest
        From :func:`mxfair.metrics.significance.permutation_test`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _expect("test", test, (GapTest,), "a GapTest (permutation_test)")
    draws = np.asarray(test.null_draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    fig = new_figure((6.4, 3.4))
    ax = fig.subplots()
    if draws.size:
        ax.hist(draws, bins=min(60, max(10, int(np.sqrt(draws.size)))), color="0.7",
                edgecolor="0.55", label=f"{test.permutations} permutations")
    ax.axvline(test.statistic, color=_POSITIVE, linewidth=2,
               label=f"observed (p = {test.p_value:.2g})")
    statistic = {"exact": "gap", "studentized": "studentized statistic Q"}.get(test.test, "gap")
    if test.kind == "ratio" and test.test == "exact":
        statistic = "− ratio"
    ax.set_xlabel(f"{test.metric} {statistic} under the null")
    ax.set_ylabel("permutations")
    ax.legend(fontsize="small", frameon=False)
    ax.set_title(title or f"{test.metric}: {test.null}", fontsize="small")
    return save_png(fig, path, 120)


def plot_proxies(proxies: Any, *, top: int = 12, title: Optional[str] = None,
                 path: PathArg = None):
    """Bars of each feature's cross-validated AUC at predicting the group.

    Parameters
    ----------
    proxies : pandas.DataFrame
        From :func:`mxfair.explain.proxy_detection`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not (hasattr(proxies, "head") and {"feature", "auc"} <= set(getattr(proxies, "columns",
                                                                            ()))):
        raise TypeError(f"proxies must be the table of proxy_detection (columns feature, auc), "
                        f"got {type(proxies).__name__}")
    frame = proxies.head(top)
    fig = new_figure((6.4, 0.9 + 0.34 * len(frame)))
    ax = fig.subplots()
    y = np.arange(len(frame))[::-1]
    ax.barh(y, frame["auc"] - 0.5, left=0.5, color="#7d3c98")
    ax.set_yticks(y)
    ax.set_yticklabels(frame["feature"])
    ax.axvline(0.5, color="0.3", linewidth=0.8)
    everything = proxies.attrs.get("all_features_auc")
    if everything is not None:
        ax.axvline(everything, color="0.3", linestyle="--", linewidth=1,
                   label=f"all features together: {everything:.2f}")
        ax.legend(fontsize="small", frameon=False, loc="lower right")
    ax.set_xlim(0.45, 1.0)
    ax.set_xlabel("AUC of predicting the group from the feature alone (cross-validated)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title or "Proxies: features that encode the sensitive attribute")
    return save_png(fig, path, 120)


def plot_partial_dependence(curves: Sequence[Any], *, title: Optional[str] = None,
                            path: PathArg = None):
    """One panel per feature: each group's mean output as the feature is set to each value.

    Parameters
    ----------
    curves : sequence of PartialDependence

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import colormaps

    n = len(curves)
    if n == 0:
        raise ValueError("no partial dependence curves to plot")
    fig = new_figure((4.2 * n, 3.6))
    axes = np.atleast_1d(fig.subplots(1, n))
    colors = colormaps["tab10"]
    for ax, pd_ in zip(axes, curves):
        x = np.arange(len(pd_.grid)) if pd_.categorical else np.asarray(pd_.grid, float)
        for g, name in enumerate(pd_.group_names):
            ax.plot(x, pd_.values[g], marker="o" if pd_.categorical else None, ms=3,
                    color=colors(g % 10), label=name)
        if pd_.categorical:
            ax.set_xticks(x)
            ax.set_xticklabels(pd_.grid, rotation=40, ha="right", fontsize="x-small")
        ax.set_title(pd_.feature)
        ax.set_ylabel(f"mean {pd_.output}")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    return save_png(fig, path, 120)


def plot_attribution_maps(attribution: Any, *, title: Optional[str] = None,
                          path: PathArg = None):
    """Images: each group's mean attribution map and the map of the gap (a − b).

    Parameters
    ----------
    attribution : GapAttribution or OcclusionMaps
        With ``maps`` (an image net).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _expect("attribution", attribution, (GapAttribution, OcclusionMaps),
            "a GapAttribution or OcclusionMaps")
    if attribution.maps is None:
        raise ValueError("attribution: this attribution has no maps (the input was not an "
                         "image batch)")
    maps = attribution.maps
    what = "occlusion" if attribution.method == "occlusion" else "mean attribution"
    panels = [(f"{name} ({what})", maps[g])
              for g, name in enumerate(attribution.group_names)
              if attribution.counts[g] > 0]
    a, b = attribution.between
    panels.append((f"gap: {attribution.group_names[a]} − {attribution.group_names[b]}",
                   attribution.gap_map))
    fig = new_figure((3.0 * len(panels), 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (label, image) in zip(axes, panels):
        bound = float(np.nanmax(np.abs(image))) or 1.0
        im = ax.imshow(image, cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(label, fontsize="small")
        ax.axis("off")
        fig.colorbar(im, ax=ax, shrink=0.75)
    fig.suptitle(title or f"Where the gap in mean {attribution.output} comes from")
    return save_png(fig, path, 120)
