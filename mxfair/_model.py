"""How the explainers and the audit call a model: its context, the output they explain,
batching, group ids, baselines.

A *model* is a Gluon ``Block`` (a ``HybridBlock``, an imported ``SymbolBlock``) or any callable
that takes an NDArray batch (N, ...) and returns scores: (N,) or (N, 1) for a binary net, (N, K)
for K classes. The explained *output* is one number per row:

- ``"probability"`` (the default): the probability of the positive class (binary) or of the
  ``target`` class. Gap attributions then add up to the gap in mean predicted probability, in
  the units of the selection rate that a demographic-parity gap compares.
- ``"logit"``: the logit of that probability (binary) or the target class's raw score.

``from_logits=True`` (the package convention) says the model emits logits/unnormalised scores;
``False`` that it emits probabilities.
"""
import dataclasses
import warnings
from typing import Any, Callable, List, Optional, Sequence, Union

import mxnet as mx
import numpy as np

from ._ops import is_ndarray, to_numpy
from ._validation import (
    FEATURES_NOT_FINITE,
    LENGTH_MISMATCH,
    LOOKS_LIKE_MIN_ROWS,
    SCORES_LOOK_LIKE_PROBABILITIES,
    check_choice,
    check_ids,
    check_positive_int,
)

__all__ = ["OUTPUTS", "model_context", "output_function", "predict", "as_group_ids",
           "check_features", "check_model_input",
           "batches", "group_pair", "draw_baselines", "group_name_list", "Setup", "setup"]

OUTPUTS = ("probability", "logit")
NO_TARGET = (
    "the model emits {k} class scores per row: pass target= (a class index, or one per row) to "
    "choose the explained output"
)
BAD_OUTPUT_SHAPE = (
    "the model's output has shape {shape}; expected (N,), (N, 1) or (N, K) scores for N = {n} "
    "rows"
)



def model_context(model: Any, ctx: Optional[mx.Context] = None) -> mx.Context:
    """The context to run ``model`` on: ``ctx`` if given, else that of its first initialised
    parameter, else the current context."""
    if ctx is not None:
        return ctx
    params = getattr(model, "collect_params", None)
    if params is not None:
        for p in params().values():
            try:
                return p.list_ctx()[0]
            except (RuntimeError, AssertionError, IndexError):  # deferred init: not placed yet
                continue
    return mx.current_context()


def output_function(model: Callable, output: str = "probability", from_logits: bool = True,
                    target: Any = None) -> Callable:
    """A function x (NDArray) [, row target] -> (N,) NDArray of the explained output.

    It is differentiable (autograd) when ``model`` is.
    """
    check_choice("output", output, OUTPUTS)

    def f(x: mx.nd.NDArray, row_target: Optional[mx.nd.NDArray] = None) -> mx.nd.NDArray:
        raw = model(x)
        if isinstance(raw, (list, tuple)):
            raise ValueError(
                f"the model returns {len(raw)} outputs; explain a model with one output "
                "(wrap it in a Block that returns the scores)"
            )
        n = x.shape[0]
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw.reshape((-1,))
        if raw.ndim == 1:
            if raw.shape[0] != n:
                raise ValueError(BAD_OUTPUT_SHAPE.format(shape=raw.shape, n=n))
            if from_logits:
                return raw if output == "logit" else mx.nd.sigmoid(raw)
            if output == "probability":
                return raw
            p = mx.nd.clip(raw, 1e-7, 1 - 1e-7)
            return mx.nd.log(p) - mx.nd.log(1 - p)
        if raw.ndim != 2 or raw.shape[0] != n:
            raise ValueError(BAD_OUTPUT_SHAPE.format(shape=raw.shape, n=n))
        k = raw.shape[1]
        if row_target is None:
            if target is None and k != 2:
                raise ValueError(NO_TARGET.format(k=k))
            index = mx.nd.full((n,), 1 if target is None else int(target), ctx=raw.context)
        else:
            index = row_target
        if output == "probability":
            scores = mx.nd.softmax(raw, axis=1) if from_logits else raw
        elif from_logits:
            scores = raw
        else:
            scores = mx.nd.log(mx.nd.clip(raw, 1e-7, 1.0))
        return mx.nd.pick(scores, index.astype(raw.dtype), axis=1)

    return f


def batches(n: int, size: int):
    """Slices of ``range(n)`` of at most ``size`` rows."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def predict(f: Callable, X: Union[np.ndarray, mx.nd.NDArray], ctx: mx.Context,
            batch_size: int = 4096, row_target: Optional[np.ndarray] = None) -> np.ndarray:
    """``f`` over the rows of X in batches on ``ctx``; float64 NumPy (N,)."""
    out = []
    n = X.shape[0]
    for sl in batches(n, batch_size):
        xb = mx.nd.array(X[sl], ctx=ctx) if not is_ndarray(X) else X[sl].as_in_context(ctx)
        tb = None if row_target is None else mx.nd.array(row_target[sl], ctx=ctx)
        out.append(f(xb, tb).asnumpy().astype(np.float64))
    return np.concatenate(out) if out else np.zeros(0)


def as_group_ids(groups: Any, n: int, num_groups: Optional[int] = None) -> np.ndarray:
    """Group ids as int64 (N,), checked by the shared ``check_ids`` (strings: TypeError
    ``IDS_NOT_NUMERIC``; NaN, non-integral, out-of-range: ValueError), one per row of X."""
    g = check_ids("groups", to_numpy(groups).reshape(-1), num_groups, what="group ids")
    if g.shape[0] != n:
        raise ValueError(LENGTH_MISMATCH.format(a="X", n=n, b="groups", m=g.shape[0]))
    return g


def group_pair(means: np.ndarray, counts: np.ndarray,
               between: Optional[Sequence[int]]) -> tuple:
    """The (higher, lower) pair of groups whose mean outputs are compared."""
    present = np.flatnonzero(counts > 0)
    if present.size < 2 and between is None:
        raise ValueError(
            f"need rows of at least two groups to explain a gap; found rows of {present.size}"
        )
    if between is not None:
        a, b = (int(v) for v in between)
        for v in (a, b):
            if not 0 <= v < len(counts) or counts[v] == 0:
                raise ValueError(f"between={tuple(between)}: group {v} has no rows")
        return a, b
    order = present[np.argsort(means[present], kind="stable")]
    return int(order[-1]), int(order[0])


def draw_baselines(X: Any, baselines: Any, seed: Any) -> np.ndarray:
    """Baselines (K, *shape) as float32: K rows drawn from X, ``"mean"``, ``"zeros"`` or given."""
    shape = tuple(X.shape[1:])
    if isinstance(baselines, str):
        check_choice("baselines", baselines, ("mean", "zeros"))
        if baselines == "zeros":
            return np.zeros((1,) + shape, dtype=np.float32)
        return np.asarray(to_numpy(X), dtype=np.float64).mean(axis=0, keepdims=True).astype(
            np.float32)
    if isinstance(baselines, (int, np.integer)) and not isinstance(baselines, bool):
        k = check_positive_int("baselines", baselines)
        rng = np.random.RandomState(seed)
        idx = rng.choice(X.shape[0], size=min(k, X.shape[0]), replace=False)
        return np.asarray(to_numpy(X[np.sort(idx)] if not is_ndarray(X) else
                                   X.asnumpy()[np.sort(idx)]), dtype=np.float32)
    arr = np.asarray(to_numpy(baselines), dtype=np.float32)
    if arr.shape == shape:
        arr = arr[None]
    if arr.shape[1:] != shape:
        raise ValueError(f"baselines must have shape (K,) + {shape}, got {arr.shape}")
    return arr


def group_name_list(group_names: Optional[Sequence[str]], G: int) -> List[str]:
    """``group_names`` as a list of G names (``"0"``, ``"1"``, ... by default), checked."""
    names = list(group_names) if group_names is not None else [str(k) for k in range(G)]
    if len(names) != G:
        raise ValueError(f"got {len(names)} group_names for {G} groups")
    return names


@dataclasses.dataclass
class Setup:
    """What every explainer needs first: checked group ids, G, names, the context, the
    explained output ``f(x[, row_target])`` and the per-row targets (or None)."""

    g: np.ndarray
    G: int
    names: List[str]
    ctx: mx.Context
    f: Callable
    row_target: Optional[np.ndarray]


def check_features(X: Any, name: str = "X") -> None:
    """Refuse NaN or infinite features (a model's input) with a ValueError naming ``name``."""
    values = to_numpy(X)
    if values.dtype.kind == "f":
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(FEATURES_NOT_FINITE.format(name=name, count=bad))


def check_model_input(model: Callable, X: Any, ctx: mx.Context, from_logits: bool = True,
                      rows: int = 256) -> Any:
    """Run ``model`` on the first rows of X: an input it refuses (a width it was not built
    for) is a ValueError naming X; one-score outputs that all lie in [0, 1] while
    ``from_logits=True`` warn (they look like probabilities). Returns the raw output."""
    xb = X[:rows]
    xb = xb.as_in_context(ctx) if is_ndarray(xb) else mx.nd.array(xb, ctx=ctx)
    try:
        raw = model(xb)
        mx.nd.waitall()
    except mx.base.MXNetError as err:
        last = str(err).strip().splitlines()[-1][:300]
        raise ValueError(f"X: the model refuses input of shape {tuple(X.shape)} (the shape it "
                         f"was built for differs?): {last}") from None
    if (from_logits and not isinstance(raw, (list, tuple)) and raw.shape[0] >= LOOKS_LIKE_MIN_ROWS
            and (raw.ndim == 1 or (raw.ndim == 2 and raw.shape[1] == 1))):
        values = raw.asnumpy()
        if np.all((values >= 0) & (values <= 1)):
            warnings.warn(SCORES_LOOK_LIKE_PROBABILITIES.format(
                count=values.size, name="model outputs of the first rows"), UserWarning,
                stacklevel=3)
    return raw


def setup(model: Callable, X: Any, groups: Any, num_groups: Optional[int],
          group_names: Optional[Sequence[str]], output: str = "probability",
          from_logits: bool = True, target: Any = None,
          ctx: Optional[mx.Context] = None) -> Setup:
    """Check X (finite, a shape the model takes) and its groups, and set up the explained
    output of ``model``.

    ``target`` is a class index (one output for all rows) or one class per row.
    """
    n = X.shape[0]
    g = as_group_ids(groups, n, num_groups)
    check_features(X)
    ctx = model_context(model, ctx)
    if n:
        check_model_input(model, X, ctx, from_logits)
    G = int(num_groups or g.max() + 1)
    row_target = None
    if target is not None and np.ndim(target) > 0:
        row_target = np.asarray(to_numpy(target), dtype=np.float32).reshape(-1)
        if row_target.shape[0] != n:
            raise ValueError(f"target has {row_target.shape[0]} rows but X has {n}")
        target = None
    return Setup(g, G, group_name_list(group_names, G), ctx,
                 output_function(model, output, from_logits, target), row_target)
