"""``audit(net, data)``: one call that measures, tests and explains a trained net's group gaps.

One pass of the net over the data on its context fills a :class:`~mxfair.metrics.GroupStats`
(confusion counts, score histograms and bootstrap replicates); the gaps get intervals from the
replicates and permutation p-values from the counts (Holm-adjusted); the gap in mean predicted
probability is attributed to the input features through the net's gradients; the features
that encode the group are found (proxies); and, with ``train_data``, the labels' own bias
(SageMaker Clarify's pre-training metrics) is measured. Everything lands in an
:class:`~mxfair.auditing.AuditReport`.
"""
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import gluon

from .._model import (
    as_group_ids,
    check_features,
    check_model_input,
    group_name_list,
    model_context,
)
from .._ops import is_ndarray, to_numpy
from .._validation import check_ids, check_positive_int
from ..explain import (
    UnreliableGradientsError,
    gap_attribution,
    occlusion_maps,
    partial_dependence,
    permutation_gap_attribution,
    proxy_detection,
    tabular_feature_groups,
)
from ..explain.features import as_feature_groups
from ..metrics import GroupStats, pretraining_bias
from ..metrics.significance import gap_significance
from .report import AuditReport

__all__ = ["audit", "SINGLE_GROUP", "LABELS_ADVICE"]

SINGLE_GROUP = (
    "groups: the audited data hold a single group ({name}); an audit compares groups, so it "
    "needs rows of at least two"
)
LABELS_ADVICE = "pass num_classes= for a multi-class net, or map the labels to 0/1 first"
_BINARY_GAPS = ("demographic_parity_difference", "demographic_parity_ratio",
                "equal_opportunity_difference", "equalized_odds_difference",
                "mean_score_difference", "auc_difference")
_MULTICLASS_GAPS = ("selection_rate", "accuracy", "true_positive_rate")


# ------------------------------------------------------------------------------- the data
def _is_tabular_data(data: Any) -> bool:
    return all(hasattr(data, k) for k in ("train", "test", "preprocessor", "group_names"))


def _arrays(data: Any):
    """(X, y, groups) of a tuple, a split (``.X``, ``.y``, ``.groups``) or None for a Dataset."""
    if isinstance(data, (tuple, list)) and len(data) == 3:
        return tuple(data)
    if all(hasattr(data, k) for k in ("X", "y", "groups")):
        return data.X, data.y, data.groups
    return None


def _labels_groups(data: Any):
    """Labels and group ids (host) of ``train_data``: a split, a tuple or a Dataset."""
    arrays = _arrays(data)
    if arrays is not None:
        return to_numpy(arrays[1]).reshape(-1), to_numpy(arrays[2]).reshape(-1)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return to_numpy(data[0]).reshape(-1), to_numpy(data[1]).reshape(-1)
    ys, gs = [], []
    for _, y, g in _loader(data, 4096):
        ys.append(to_numpy(y).reshape(-1))
        gs.append(to_numpy(g).reshape(-1))
    return np.concatenate(ys), np.concatenate(gs)


def _loader(data: Any, batch_size: int):
    if isinstance(data, gluon.data.DataLoader):
        return data
    if isinstance(data, gluon.data.Dataset):
        return gluon.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    raise TypeError(
        "data must be (X, y, groups) arrays, a split with .X/.y/.groups, a TabularData, or a "
        f"gluon Dataset/DataLoader of (x, y, group); got {type(data).__name__}"
    )


def _forward(net: Any, data: Any, ctx: mx.Context, batch_size: int):
    """One pass: raw outputs (NDArray on ctx), labels and groups (host), inputs (host)."""
    arrays = _arrays(data)
    outs, xs, ys, gs = [], [], [], []
    if arrays is not None:
        X, y, g = arrays
        n = X.shape[0]
        if n == 0:
            raise ValueError("data is empty: nothing to audit")
        check_model_input(net, X, ctx, from_logits=False)  # a width the net refuses: X named
        for start in range(0, n, batch_size):
            xb = X[start:start + batch_size]
            xb = xb.as_in_context(ctx) if is_ndarray(xb) else mx.nd.array(xb, ctx=ctx)
            outs.append(net(xb))
        return (mx.nd.concat(*outs, dim=0), np.asarray(to_numpy(X)),
                to_numpy(y).reshape(-1), to_numpy(g).reshape(-1))
    for batch in _loader(data, batch_size):
        if len(batch) != 3:
            raise ValueError(f"batches must be (x, y, group); got {len(batch)} items")
        xb, yb, gb = batch
        xb = xb.as_in_context(ctx) if is_ndarray(xb) else mx.nd.array(xb, ctx=ctx)
        if not outs:
            check_model_input(net, xb, ctx, from_logits=False)
        outs.append(net(xb))
        xs.append(xb.asnumpy())
        ys.append(to_numpy(yb).reshape(-1))
        gs.append(to_numpy(gb).reshape(-1))
    if not outs:
        raise ValueError("data is empty: nothing to audit")
    return mx.nd.concat(*outs, dim=0), np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


# --------------------------------------------------------------------------------- audit
def audit(
    net: Any,
    data: Any,
    *,
    train_data: Any = None,
    num_groups: Optional[int] = None,
    group_names: Optional[Sequence[str]] = None,
    num_classes: int = 2,
    from_logits: bool = True,
    threshold: float = 0.5,
    feature_names: Optional[Sequence[str]] = None,
    feature_groups: Any = None,
    permutations: int = 10000,
    bootstrap: int = 200,
    num_bins: int = 100,
    alpha: float = 0.05,
    attribution: bool = True,
    baselines: Any = 32,
    steps: int = 4,
    proxies: bool = True,
    partial_dependence_top: int = 3,
    figures: bool = True,
    title: Optional[str] = None,
    seed: Optional[int] = 0,
    ctx: Optional[mx.Context] = None,
    batch_size: int = 1024,
) -> AuditReport:
    """Audit a trained net: gaps with intervals and p-values, what drives them, data bias.

    Parameters
    ----------
    net : Block or callable
        The trained net (a Gluon ``Block``, an imported ``SymbolBlock``, or a callable on
        NDArray batches), emitting logits by default (``from_logits``).
    data : tuple, split, TabularData, Dataset or DataLoader
        The audited data: ``(X, y, groups)`` arrays (NumPy or NDArray), an object with
        ``.X``, ``.y``, ``.groups`` (a ``TabularData`` split), a ``TabularData`` (its test
        split; feature names, one-hot blocks and group names come from it), or a Gluon
        ``Dataset``/``DataLoader`` of ``(x, y, group)``.
    train_data : optional
        Labels and groups of the training data (a split, ``(X, y, groups)``, ``(y, groups)``
        or a Dataset of ``(x, y, group)``) for the data-bias half: Clarify's pre-training
        metrics of each group against the rest.
    num_groups : int, optional
        G (default: the largest id + 1).
    group_names : list of str, optional
    num_classes : int, default 2
    from_logits : bool, default True
        The net emits logits (the package convention); False: probabilities.
    threshold : float, default 0.5
        Decision threshold on the probability.
    feature_names : list of str, optional
    feature_groups : optional
        One-hot blocks as one feature (see :func:`mxfair.explain.gap_attribution`).
    permutations : int, default 10000
        Permutations per gap test.
    bootstrap : int, default 200
        Bootstrap replicates for the intervals (0: none).
    num_bins : int, default 100
        Score histogram bins (AUC, mean-score test).
    alpha : float, default 0.05
        Family-wise error rate of the Holm-adjusted decisions.
    attribution : bool, default True
        Attribute the gap in mean predicted probability (gradients; if the net has none, the
        permutation alternative).
    baselines, steps
        Of :func:`mxfair.explain.gap_attribution`.
    proxies : bool, default True
        Proxy detection (tabular inputs).
    partial_dependence_top : int, default 3
        Per-group partial dependence of the top gap drivers (tabular inputs).
    figures : bool, default True
        Build the figures (needs matplotlib).
    title : str, optional
    seed : int, optional
        Seeds the bootstrap, the permutations and the attribution baselines.
    ctx : Context, optional
        Where to run; default the net's context.
    batch_size : int, default 1024

    Returns
    -------
    AuditReport

    Examples
    --------
    >>> import mxnet as mx
    >>> import numpy as np
    >>> rs = np.random.RandomState(0)
    >>> X = rs.randn(400, 3).astype("float32")
    >>> g = (X[:, 0] + 0.5 * rs.randn(400) > 0).astype(int)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> net = mx.gluon.nn.Dense(1, in_units=3)
    >>> net.initialize(mx.init.Constant(1.0))
    >>> rep = audit(net, (X, y, g), permutations=999, bootstrap=50, figures=False)
    >>> rep.significance.set_index("gap").loc["demographic_parity_difference", "p_value"] < 0.01
    True
    >>> rep.attribution.ranking()[0][0]
    'x0'
    """
    timings: Dict[str, float] = {}
    notes: List[str] = []
    start = time.perf_counter()
    num_classes = check_positive_int("num_classes", num_classes)
    permutations = check_positive_int("permutations", permutations)
    if _is_tabular_data(data):
        tabular = data
        data = tabular.test
        group_names = group_names or list(tabular.group_names)
        feature_names = feature_names or list(tabular.feature_names)
        if feature_groups is None:
            feature_groups = tabular_feature_groups(tabular)
        num_groups = num_groups or tabular.num_groups
    ctx = model_context(net, ctx)

    # ---- one pass over the data
    raw, X, y, g = _forward(net, data, ctx, batch_size)
    check_features(X)
    g = as_group_ids(g, len(y), num_groups)
    y = _labels(y, num_classes)
    G = int(num_groups or g.max() + 1)
    names = group_name_list(group_names, G)
    present = np.unique(g)
    if present.size < 2:
        raise ValueError(SINGLE_GROUP.format(name=names[int(present[0])]))
    binary = num_classes == 2
    stats = GroupStats(G, num_classes=num_classes, threshold=threshold,
                       num_bins=num_bins if binary else 0, bootstrap=bootstrap, seed=seed,
                       from_logits=from_logits, group_names=names, ctx=ctx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats.update(mx.nd.array(y, ctx=ctx), raw, mx.nd.array(g, ctx=ctx))
        report = stats.report()
        summary = report.summary()
    timings["pass and report"] = time.perf_counter() - start

    # ---- significance
    t0 = time.perf_counter()
    gaps = list(_BINARY_GAPS if binary else _MULTICLASS_GAPS)
    with warnings.catch_warnings(record=True) as caught_sig:
        warnings.simplefilter("always")
        significance = gap_significance(report, metrics=gaps, permutations=permutations, seed=seed,
                                        alpha=alpha)
        groups_table = report.to_pandas(p_values=binary, permutations=permutations, seed=seed)
    caught += caught_sig
    main_test = significance.attrs["tests"][0]
    timings["significance"] = time.perf_counter() - t0

    # ---- data bias (labels only)
    t0 = time.perf_counter()
    data_bias = {"audited data": _data_bias(y, g, names, num_classes, notes)}
    if train_data is not None:
        ty, tg = _labels_groups(train_data)
        tg = as_group_ids(tg, len(ty), G)
        data_bias["training data"] = _data_bias(_labels(ty, num_classes), tg, names,
                                                num_classes, notes)
    timings["data bias"] = time.perf_counter() - t0

    # ---- why: attribution, proxies, partial dependence
    att, perm_att, occlusion, proxy_frame, pdps = None, None, None, None, []
    tabular_input = X.ndim == 2
    target = None if binary else y.astype(np.float32)
    if attribution:
        t0 = time.perf_counter()
        common = dict(num_groups=G, group_names=names, from_logits=from_logits, target=target,
                      ctx=ctx)
        features = dict(feature_groups=feature_groups, feature_names=feature_names, seed=seed)
        try:
            with warnings.catch_warnings(record=True) as caught_att:
                warnings.simplefilter("always")
                att = gap_attribution(net, X, g, baselines=baselines, steps=steps, **common,
                                      **features)
            caught += caught_att
        except (mx.base.MXNetError, UnreliableGradientsError) as err:
            # no gradient through this model, or wrong ones: forward passes only
            lines = str(err).strip().splitlines()
            reason = lines[-1] if isinstance(err, mx.base.MXNetError) else lines[0]
            notes.append(f"gradients unavailable or unreliable ({reason[:300]}); the gap is "
                         "explained by " + ("permuting features" if tabular_input
                                            else "occluding image regions") + " instead")
            if tabular_input:
                perm_att = permutation_gap_attribution(net, X, g, **common, **features)
            else:
                occlusion = occlusion_maps(net, X, g, **common)
        timings["attribution"] = time.perf_counter() - t0
    if tabular_input and proxies:
        t0 = time.perf_counter()
        fg = as_feature_groups(feature_groups, X.shape[1], feature_names=feature_names)
        try:
            proxy_frame = proxy_detection(X, g, feature_groups=fg, seed=seed)
        except ValueError as err:
            notes.append(f"proxy detection skipped: {err}")
        timings["proxies"] = time.perf_counter() - t0
    if tabular_input and att is not None and partial_dependence_top:
        t0 = time.perf_counter()
        fg = as_feature_groups(feature_groups, X.shape[1], feature_names=feature_names)
        for feature, _ in att.ranking()[:partial_dependence_top]:
            pdps.append(partial_dependence(net, X, feature, groups=g, feature_groups=fg,
                                           feature_names=feature_names, group_names=names,
                                           from_logits=from_logits, target=None if binary
                                           else 1, seed=seed, ctx=ctx))
        timings["partial dependence"] = time.perf_counter() - t0

    warned = _warning_notes(caught)
    notes += [text for _, text in warned]
    meta = {
        "rows": int(len(y)), "groups": names, "counts": np.bincount(g, minlength=G).tolist(),
        "num_classes": num_classes, "from_logits": from_logits, "threshold": threshold,
        "permutations": permutations, "bootstrap": bootstrap, "num_bins": num_bins,
        "alpha": alpha, "seed": seed, "context": str(ctx), "input_shape": list(X.shape[1:]),
        "correction": significance.attrs["correction"],
    }
    rep = AuditReport(
        title=title or "Fairness audit", meta=meta, report=report, summary=summary,
        significance=significance, groups=groups_table, data_bias=data_bias,
        attribution=att, permutation_attribution=perm_att, occlusion=occlusion,
        proxies=proxy_frame,
        partial_dependence=pdps, notes=notes, timings=timings, main_test=main_test,
    )
    if figures:
        t0 = time.perf_counter()
        try:
            rep.build_figures()
        except ImportError:  # matplotlib is the ``plot`` extra
            notes.append("figures skipped: matplotlib is not installed (pip install "
                          "'mxfair[plot]')")
        timings["figures"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    # the notes are the report's; the caller is told too (a page nobody opens says nothing)
    categories = dict((text, category) for category, text in warned)
    for text in notes:
        warnings.warn(text, categories.get(text, UserWarning), stacklevel=2)
    return rep


def _labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class labels as int64, by the shared ``check_ids`` (strings: ``IDS_NOT_NUMERIC``)."""
    try:
        return check_ids("labels (y)", y, num_classes, what="labels")
    except ValueError as err:
        raise ValueError(f"{err}; {LABELS_ADVICE}") from None


def _data_bias(y: np.ndarray, g: np.ndarray, names: List[str], num_classes: int,
               notes: List[str]) -> Dict[str, Dict[str, float]]:
    """Clarify's pre-training metrics of each present group (facet) against the rest."""
    out = {}
    pos = 1 if num_classes == 2 else None
    for k in np.unique(g):
        try:
            out[names[int(k)]] = pretraining_bias(y, groups=g, facet=int(k),
                                                  pos_label=pos if pos is not None else 1)
        except ValueError as err:
            notes.append(f"data bias of {names[int(k)]}: {err}")
    return out


def _warning_notes(caught) -> List[tuple]:
    """(category, text) of the warnings caught, once each (DeprecationWarnings left out)."""
    seen, notes = set(), []
    for w in caught:
        text = str(w.message)
        if not issubclass(w.category, UserWarning) or text in seen:
            continue
        seen.add(text)
        notes.append((w.category, text))
    return notes

