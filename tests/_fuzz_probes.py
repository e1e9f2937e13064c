"""Bad-input probes of every public entry point, each run in a process of its own.

A probe is one call a user could make with bad input (NaN/inf, strings, ids out of range or not
integral, wrong shapes or dtypes, empty input, negative weights, logits where probabilities are
expected, ...). :func:`run` forks one child process per probe (a few at a time) and sorts the
outcome into one of the classes below; a child killed by a signal or past the time limit is a
crash, whatever it was doing.

========== ==============================================================================
clear      a ValueError/TypeError raised by mxfair whose message names the argument
documented the call returned and warned (a warning, or a WARNING log line), or a graph block
           marked the bad rows NaN as documented (it cannot raise)
correct    the call returned what the user meant (the probe states it): the input is fine
           under the package's conventions (e.g. a net's logits, now the default)
deep       any other error: raised inside MXNet/NumPy/pandas, or not naming the argument
crash      the process died (signal) or hung
silent     a figure came back with no warning (NaN included)
absent     the entry point does not exist in the tree under test (new in this branch)
========== ==============================================================================

The probes use only the API that main and this branch share (keyword arguments a tree does not
know are dropped where dropping keeps the meaning, ``_kw``), so ``bench/probe_table.py`` runs
the same list against main for the "before" column. ``owner`` names the branch whose work a
probe's outcome depends on: ``"stats"`` (the GroupStats core, another helper's) or ``"loss"``
(losses, adversary, GroupBatchProcessor, FairBatch's repeats); ``None`` is this branch.
"""
import dataclasses
import inspect
import io
import json
import logging
import os
import select
import signal
import sys
import time
import traceback
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

CLASSES = ("clear", "documented", "correct", "deep", "crash", "silent", "absent")
GOOD = ("clear", "documented", "correct")


@dataclasses.dataclass
class Probe:
    entry: str  # the public entry point, as a user calls it
    case: str  # what is wrong with the input
    fn: Callable[[], Any]  # the call; returns the figure (float, array, tuple)
    args: Tuple[str, ...] = ()  # a clear refusal names one of these
    owner: Optional[str] = None  # whose branch decides the outcome ("stats", "loss")
    truth: Any = None  # what the user meant, when the call should now succeed (or a callable)
    requires: Optional[str] = None  # "module:attribute" that must exist in the tree
    marks_invalid: Optional[Callable[[Any], bool]] = None  # graph blocks: NaN for bad rows

    @property
    def id(self) -> str:
        return f"{self.entry} | {self.case}"


PROBES: List[Probe] = []


def probe(entry: str, case: str, args: Sequence[str] = (), **kwargs) -> Callable:
    def deco(fn):
        PROBES.append(Probe(entry, case, fn, tuple(args), **kwargs))
        return fn
    return deco


def add(entry: str, case: str, fn: Callable, args: Sequence[str] = (), **kwargs) -> None:
    PROBES.append(Probe(entry, case, fn, tuple(args), **kwargs))


def _kw(fn: Callable, **kwargs) -> dict:
    """The keyword arguments ``fn`` accepts (a tree may predate some, e.g. from_logits on the
    threshold optimizer, which then took probabilities only: dropping it keeps the meaning)."""
    params = inspect.signature(fn).parameters
    return {k: v for k, v in kwargs.items() if k in params}


# ---------------------------------------------------------------------------------- the data
Y8 = np.array([0, 1, 1, 0, 1, 0, 1, 0])
G8 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
P8 = np.array([0.2, 0.8, 0.6, 0.4, 0.7, 0.3, 0.9, 0.45], dtype=np.float32)
L8 = np.log(P8 / (1 - P8)).astype(np.float32)  # the same scores as logits
NAN, INF = float("nan"), float("inf")


def with_value(arr, i, value, dtype=np.float64):
    out = np.asarray(arr, dtype=dtype).copy()
    out[i] = value
    return out


def _nd(x, dtype="float32"):
    import mxnet as mx

    return mx.nd.array(x, dtype=dtype)


def _summary(report) -> np.ndarray:
    s = report.summary()
    return np.array([s["accuracy"], s["demographic_parity_difference"],
                     s["equalized_odds_difference"]])


# --------------------------------------------------------------------------- GroupStats core
def _stats_call(labels, preds, groups, weight=None, **kw):
    from mxfair.metrics import GroupStats

    stats = GroupStats(2, **_kw(GroupStats, from_logits=False, **kw))
    stats.update(labels, preds, groups, weight)
    return _summary(stats.report())


_GS = "GroupStats.update/report"
for _case, _call, _args in [
    ("NaN score", lambda: _stats_call(_nd(Y8), _nd(with_value(P8, 2, NAN)), _nd(G8)), ()),
    ("+inf score", lambda: _stats_call(_nd(Y8), _nd(with_value(P8, 2, INF)), _nd(G8)), ()),
    ("NaN group id", lambda: _stats_call(_nd(Y8), _nd(P8), _nd(with_value(G8, 0, NAN))), ()),
    ("group id 0.5", lambda: _stats_call(_nd(Y8), _nd(P8), _nd(with_value(G8, 0, 0.5))), ()),
    ("NaN label", lambda: _stats_call(_nd(with_value(Y8, 1, NAN)), _nd(P8), _nd(G8)), ()),
    ("label 0.5", lambda: _stats_call(_nd(with_value(Y8, 1, 0.5)), _nd(P8), _nd(G8)), ()),
    ("group id out of range", lambda: _stats_call(_nd(Y8), _nd(P8), _nd(G8 + 1)), ()),
    ("negative sample_weight", lambda: _stats_call(
        _nd(Y8), _nd(P8), _nd(G8), _nd(with_value(np.ones(8), 0, -5.0))), ()),
    ("NaN sample_weight", lambda: _stats_call(
        _nd(Y8), _nd(P8), _nd(G8), _nd(with_value(np.ones(8), 0, NAN))), ()),
    ("NaN group id with sample_weight", lambda: _stats_call(
        _nd(Y8), _nd(P8), _nd(with_value(G8, 0, NAN)), _nd(np.ones(8))), ()),
    ("NaN label with num_bins", lambda: _stats_call(
        _nd(with_value(Y8, 1, NAN)), _nd(P8), _nd(G8), num_bins=10), ()),
    ("NaN group id with bootstrap", lambda: _stats_call(
        _nd(Y8), _nd(P8), _nd(with_value(G8, 0, NAN)), bootstrap=3, seed=0), ()),
    ("NaN score with num_bins", lambda: _stats_call(
        _nd(Y8), _nd(with_value(P8, 2, NAN)), _nd(G8), num_bins=10), ()),
    ("all-NaN output (a diverged net)", lambda: _stats_call(
        _nd(Y8), _nd(np.full(8, NAN)), _nd(G8)), ()),
    ("logits with from_logits=False", lambda: _stats_call(_nd(Y8), _nd(L8 * 3), _nd(G8)),
     ("from_logits",)),
    ("string group ids (NumPy)", lambda: _stats_call(Y8, P8, np.where(G8 == 0, "f", "m")),
     ("groups",)),
    ("(N, 10) scores with num_classes=2", lambda: _stats_call(
        _nd(Y8), _nd(np.zeros((8, 10))), _nd(G8)), ("preds", "num_classes")),
    ("lengths differ", lambda: _stats_call(_nd(Y8), _nd(P8[:7]), _nd(G8)),
     ("labels", "preds")),
    ("empty batch only", lambda: _stats_call(_nd(Y8[:0]), _nd(P8[:0]), _nd(G8[:0])), ()),
]:
    add(_GS, _case, _call, _args, owner="stats")


# ------------------------------------------------------------------------ FairnessMonitor
def _loader(X, y, g, w=None, batch_size=4):
    from mxnet import gluon

    parts = [X, y, g] + ([w] if w is not None else [])
    return gluon.data.DataLoader(gluon.data.ArrayDataset(*parts), batch_size=batch_size)


def _dense(weight, bias=0.0, units=1, in_units=2):
    import mxnet as mx
    from mxnet import gluon

    net = gluon.nn.Dense(units, in_units=in_units)
    net.initialize(ctx=mx.cpu())
    net.weight.set_data(mx.nd.array(np.full((units, in_units), 0.0) + weight))
    net.bias.set_data(mx.nd.array(np.full(units, bias)))
    return net


X16 = np.stack([np.linspace(-2, 2, 16), np.tile([0.0, 1.0], 8)], axis=1).astype(np.float32)
Y16 = (X16[:, 0] + 0.5 * X16[:, 1] > 0.2).astype(np.int64)
G16 = X16[:, 1].astype(np.int64)


def _monitor(net, loader, **kw):
    from mxfair.callbacks import FairnessMonitor

    monitor = FairnessMonitor(loader, 2, progress=False, **kw)
    monitor.evaluate(net)
    r = monitor.history[0]
    return np.array([r["accuracy"], r["demographic_parity_difference"],
                     r["equalized_odds_difference"]])


def _monitor_truth_logits():
    z = X16 @ np.array([1.5, 0.8]) - 0.3  # the net below: logits
    d = (z >= 0).astype(int)
    sel = [d[G16 == k].mean() for k in (0, 1)]
    tpr = [d[(G16 == k) & (Y16 == 1)].mean() for k in (0, 1)]
    fpr = [d[(G16 == k) & (Y16 == 0)].mean() for k in (0, 1)]
    return np.array([np.mean(d == Y16), abs(sel[0] - sel[1]),
                     max(abs(tpr[0] - tpr[1]), abs(fpr[0] - fpr[1]))])


def _logit_net():
    net = _dense(0.0, -0.3)
    import mxnet as mx

    net.weight.set_data(mx.nd.array([[1.5, 0.8]]))
    return net


_FM = "FairnessMonitor.evaluate"
add(_FM, "a Dense(1) net's logits, default settings",
    lambda: _monitor(_logit_net(), _loader(X16, Y16, G16)), truth=_monitor_truth_logits())
add(_FM, "diverged net (all-NaN output)",
    lambda: _monitor(_dense(NAN), _loader(X16, Y16, G16), from_logits=True), owner="stats")
add(_FM, "diverged net with num_bins",
    lambda: _monitor(_dense(NAN), _loader(X16, Y16, G16), from_logits=True, num_bins=10),
    owner="stats")
add(_FM, "group ids coded 1/2 for num_groups=2",
    lambda: _monitor(_logit_net(), _loader(X16, Y16, G16 + 1), from_logits=True),
    owner="stats")
add(_FM, "NaN sample weights in the loader",
    lambda: _monitor(_logit_net(), _loader(X16, Y16, G16, with_value(np.ones(16), 3, NAN)),
                     from_logits=True), owner="stats")
add(_FM, "net with two outputs",
    lambda: _monitor(_two_outputs(), _loader(X16, Y16, G16), from_logits=True),
    ("outputs", "net"))
add(_FM, "10-class net with num_classes=2",
    lambda: _monitor(_dense(0.1, units=10), _loader(X16, Y16, G16), from_logits=True),
    ("num_classes",))
add(_FM, "validation data with no rows",
    lambda: _monitor(_logit_net(), [], from_logits=True), ("val_data",))
add(_FM, "batches of (x, y) without groups",
    lambda: _monitor(_logit_net(), _pairs_loader(), from_logits=True), ("batch",))
add(_FM, "seed='0' (a string)",
    lambda: _monitor(_logit_net(), _loader(X16, Y16, G16), bootstrap=2, seed="0"), ("seed",))


def _pairs_loader():
    from mxnet import gluon

    return gluon.data.DataLoader(gluon.data.ArrayDataset(X16, Y16), batch_size=4)


def _two_outputs():
    from mxnet import gluon

    class Two(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.dense = gluon.nn.Dense(1, in_units=2)

        def hybrid_forward(self, F, x):
            return self.dense(x), x

    import mxnet as mx

    net = Two()
    net.initialize(ctx=mx.cpu())
    return net


# ---------------------------------------------------------------------- EvalMetric classes
def _metric(preds, groups=G8, labels=Y8, name="demographic_parity_difference", **kw):
    import mxnet as mx

    metric = mx.metric.create(name, num_groups=2, **kw)
    numeric = np.asarray(groups).dtype.kind in "fiub"
    metric.update([_nd(labels), _nd(groups) if numeric else groups], [preds])
    return metric.get()[1]


def _metric_truth():
    d = (L8 >= 0).astype(int)
    return abs(d[G8 == 0].mean() - d[G8 == 1].mean())




def _binary_accuracy(preds, labels=Y8, **kw):
    from mxfair.callbacks import BinaryAccuracy

    metric = BinaryAccuracy(**kw)
    metric.update([labels if isinstance(labels, list) else _nd(labels)], [preds])
    return metric.get()[1]


add("BinaryAccuracy", "a Dense(1) net's logits", lambda: _binary_accuracy(_nd(L8).reshape((-1, 1))),
    truth=float(((L8 >= 0) == Y8).mean()))
add("BinaryAccuracy", "NaN scores", lambda: _binary_accuracy(_nd(with_value(L8, 0, NAN))))
add("BinaryAccuracy", "probabilities outside [0, 1] with from_logits=False",
    lambda: _binary_accuracy(_nd(L8), from_logits=False))
add("BinaryAccuracy", "(N, 10) scores", lambda: _binary_accuracy(_nd(np.zeros((8, 10)))),
    ("num_classes", "classes"))
add("BinaryAccuracy", "threshold 1.5", lambda: _binary_accuracy(_nd(L8), threshold=1.5),
    ("threshold",))

_EM = 'mx.metric.create("demographic_parity_difference")'
add(_EM, "a Dense(1) net's logits, default settings", lambda: _metric(_nd(L8)),
    truth=_metric_truth())
add(_EM, "NaN scores", lambda: _metric(_nd(with_value(P8, 0, NAN)), from_logits=True),
    owner="stats")
add(_EM, "string group ids", lambda: _metric(_nd(L8), groups=np.where(G8 == 0, "f", "m")),
    ("groups",), owner="stats")
add(_EM, "group id out of range", lambda: _metric(_nd(L8), groups=G8 + 1), owner="stats")
add(_EM, "(N, 10) scores with num_classes=2", lambda: _metric(_nd(np.zeros((8, 10)))),
    ("num_classes",))
add(_EM, "labels without groups", lambda: _metric_no_groups(), ("labels",))
_P_SKEW = with_value(P8, 7, 0.65)  # group 1 selects 3 of 4 at 0.5: a DP of 0.25
add(_EM, "probabilities, default settings (logits expected)", lambda: _metric(_nd(_P_SKEW)),
    owner="stats", truth=0.25)


def _metric_no_groups():
    import mxnet as mx

    metric = mx.metric.create("demographic_parity_difference", num_groups=2)
    metric.update([_nd(Y8)], [_nd(L8)])
    return metric.get()[1]


# ------------------------------------------------------------------- fairlearn-named functions
_YP = (P8 >= 0.5).astype(int)


def _fl(name, y_true=Y8, y_pred=_YP, **kw):
    import mxfair.metrics as mfm

    kw.setdefault("sensitive_features", np.where(G8 == 0, "a", "b"))
    return getattr(mfm, name)(y_true, y_pred, **kw)


for _name in ("demographic_parity_difference", "equalized_odds_difference",
              "equalized_odds_ratio", "equal_opportunity_difference"):
    add(_name, "sensitive_features=None",
        lambda n=_name: _fl(n, sensitive_features=None), ("sensitive_features",))
for _name in ("equalized_odds_difference", "equal_opportunity_ratio"):
    add(_name, "labels {0, 2}", lambda n=_name: _fl(n, y_true=Y8 * 2), ("y_true",))
    add(_name, "NaN label", lambda n=_name: _fl(n, y_true=with_value(Y8, 0, NAN)), ("y_true",))
add("demographic_parity_difference", "NaN prediction",
    lambda: _fl("demographic_parity_difference", y_pred=with_value(_YP, 0, NAN)), ("y_pred",))
add("demographic_parity_difference", "scores instead of hard predictions",
    lambda: _fl("demographic_parity_difference", y_pred=P8), ("y_pred",))
add("demographic_parity_difference", "negative sample_weight",
    lambda: _fl("demographic_parity_difference", sample_weight=with_value(np.ones(8), 0, -1)),
    ("sample_weight",))
add("demographic_parity_difference", "NaN sample_weight",
    lambda: _fl("demographic_parity_difference", sample_weight=with_value(np.ones(8), 0, NAN)),
    ("sample_weight",))
add("demographic_parity_difference", "NaN in sensitive_features",
    lambda: _fl("demographic_parity_difference",
                sensitive_features=with_value(G8, 0, NAN)), ("sensitive",))
add("demographic_parity_difference", "empty input",
    lambda: _fl("demographic_parity_difference", y_true=Y8[:0], y_pred=_YP[:0],
                sensitive_features=G8[:0]), ("y_true", "y_pred"))
add("demographic_parity_difference", "lengths differ",
    lambda: _fl("demographic_parity_difference", y_true=Y8[:7]), ("y_true",))
add("true_positive_rate", "labels {0, 2}",
    lambda: _fl("true_positive_rate", y_true=Y8 * 2, sensitive_features=None), ("y_true",))
add("selection_rate", "NaN prediction (NDArray)",
    lambda: _fl("selection_rate", y_pred=_nd(with_value(_YP, 0, NAN)),
                sensitive_features=None), ("y_pred",))
add("group_report", "predictions {0, 2}",
    lambda: _summary(_fl("group_report", y_pred=_YP * 2)), ("y_pred",))


# ------------------------------------------------------------------------------ GroupEncoder
def _encode(values, **kw):
    from mxfair import GroupEncoder

    return GroupEncoder(**kw).fit_transform(values)


add("GroupEncoder.fit_transform", "None and NaN in one column",
    lambda: _encode(np.array(["F", None, "M", NAN, NAN], dtype=object)), ("missing",))
add("GroupEncoder.fit_transform", "NaN in a float column",
    lambda: _encode(np.array([0.0, NAN, 1.0, NAN])), ("missing",))
add("GroupEncoder.transform", "a value unseen at fit time",
    lambda: _encoder_unseen(), ("unseen",))


def _encoder_unseen():
    from mxfair import GroupEncoder

    return GroupEncoder().fit(["F", "M"]).transform(["F", "X"])


# --------------------------------------------------------------------------------- Clarify
def _clarify(fn, *args, **kw):
    from mxfair.metrics import clarify, data_bias

    module = clarify if hasattr(clarify, fn) else data_bias
    out = getattr(module, fn)(*args, **kw)
    return np.array(list(out.values()), dtype=float) if isinstance(out, dict) else out


_S8 = np.array([0, 1, 0, 1, 0, 1, 0, 1])
add("clarify.post_training_bias", "CDDPL undefined (no positive prediction)",
    lambda: _clarify("post_training_bias", Y8, np.zeros(8, int), groups=G8, facet=1,
                     strata=_S8), ("strata", "CDDPL"))
add("clarify.bias_report", "CDDL undefined (no positive label)",
    lambda: _clarify("bias_report", np.zeros(8, int), groups=G8, facet=1, strata=_S8),
    ("strata", "CDDL"))
add("data_bias.pretraining_bias", "CDDL undefined (no negative label)",
    lambda: _clarify("pretraining_bias", np.ones(8, int), groups=G8, facet=1, strata=_S8),
    ("strata", "CDDL"))
add("clarify.post_training_bias", "NaN in the facets (groups)",
    lambda: _clarify("post_training_bias", Y8, _YP, groups=with_value(G8, 0, NAN), facet=1),
    ("groups",))
add("clarify.post_training_bias", "NaN label",
    lambda: _clarify("post_training_bias", with_value(Y8, 0, NAN), _YP, groups=G8, facet=1),
    ("y_true",))
add("data_bias.pretraining_bias", "NaN in strata",
    lambda: _clarify("pretraining_bias", Y8, groups=G8, facet=1,
                     strata=with_value(_S8, 0, NAN)), ("strata",))
add("data_bias.class_imbalance", "empty input",
    lambda: _clarify("class_imbalance", Y8[:0], groups=G8[:0], facet=1), ("y_true", "groups"))
add("clarify.difference_in_positive_proportions", "negative sample_weight",
    lambda: _clarify("difference_in_positive_proportions", Y8, _YP, groups=G8, facet=1,
                     sample_weight=-np.ones(8)), ("sample_weight",))
add("clarify.recall_difference", "facet value not in groups",
    lambda: _clarify("recall_difference", Y8, _YP, groups=G8, facet=7), ("facet",))
add("clarify.accuracy_difference", "lengths differ",
    lambda: _clarify("accuracy_difference", Y8, _YP[:7], groups=G8, facet=1),
    ("y_true", "y_pred"))


# ----------------------------------------------------------------------------------- AIF360
def _aif(fn, *args, **kw):
    from mxfair.metrics import aif360

    return getattr(aif360, fn)(*args, **kw)


_G6, _Y6, _P6 = np.array([0, 0, 1, 1, 2, 2]), np.array([1, 0, 1, 0, 0, 0]), \
    np.array([0, 0, 1, 1, 1, 0])
add("aif360.equal_opportunity_difference", "a group without positive labels",
    lambda: _aif("equal_opportunity_difference", _Y6, _P6, groups=_G6, privileged=1,
                 unprivileged=2))
add("aif360.average_odds_difference", "a group without positive labels",
    lambda: _aif("average_odds_difference", _Y6, _P6, groups=_G6, privileged=1,
                 unprivileged=2))
add("aif360.disparate_impact", "no selection in either group (0/0)",
    lambda: _aif("disparate_impact", Y8, np.zeros(8, int), groups=G8, privileged=0))
add("aif360.generalized_entropy_index", "alpha=-1 without false negatives",
    lambda: _aif("generalized_entropy_index", np.array([1, 0, 0, 1, 0]),
                 np.array([1, 1, 0, 1, 0]), alpha=-1.0),
    truth=float(np.mean((np.array([1, 2, 1, 1, 1]) / 1.2) ** -1.0 - 1) / 2.0))
add("aif360.generalized_entropy_index", "alpha=0, every row a false negative",
    lambda: _aif("generalized_entropy_index", np.ones(4, int), np.zeros(4, int), alpha=0.0))
add("aif360.theil_index", "every row a false negative",
    lambda: _aif("theil_index", np.ones(4, int), np.zeros(4, int)))
add("aif360.statistical_parity_difference", "NaN in groups",
    lambda: _aif("statistical_parity_difference", Y8, _YP, groups=with_value(G8, 0, NAN),
                 privileged=0), ("groups",))


# ---------------------------------------------------------------------- ThresholdOptimizer
def _fitted(scores=P8, labels=Y8, groups=G8, **kw):
    from mxfair.postprocessing import ThresholdOptimizer

    opt = ThresholdOptimizer(constraint="demographic_parity", grid_size=20,
                             **_kw(ThresholdOptimizer, from_logits=False, **kw))
    return opt.fit(scores, labels, groups)


def _thr_call(method, *args, **kw):
    opt = _fitted()
    return getattr(opt, method)(*args, **kw)


_TO = "ThresholdOptimizer"
add(_TO + ".fit", "NaN score", lambda: _fitted(with_value(P8, 0, NAN)), ("scores",))
add(_TO + ".fit", "logits with from_logits=False", lambda: _fitted(L8 * 3),
    ("from_logits", "probabilities"))
add(_TO + ".fit", "string group ids", lambda: _fitted(groups=np.where(G8 == 0, "f", "m")),
    ("groups",))
add(_TO + ".fit", "NaN group id", lambda: _fitted(groups=with_value(G8, 0, NAN)),
    ("groups", "group ids"))
add(_TO + ".fit", "group id 0.5", lambda: _fitted(groups=with_value(G8, 0, 0.5)),
    ("groups", "group ids"))
add(_TO + ".fit", "labels {0, 2}", lambda: _fitted(labels=Y8 * 2), ("labels",))
add(_TO + ".fit", "negative sample_weight",
    lambda: _fitted_weighted(with_value(np.ones(8), 0, -1)), ("sample_weight",))
add(_TO + ".fit", "empty input", lambda: _fitted(P8[:0], Y8[:0], G8[:0]), ("scores", "rows"))
add(_TO + ".fit", "(N, 2) scores", lambda: _fitted(np.stack([P8, P8], 1)), ("scores",))
add(_TO + ".fit", "a Dense(1) net's logits, default settings",
    lambda: _default_fit_on_logits(), truth=lambda: _default_fit_truth())
add(_TO + ".predict", "NaN score",
    lambda: _thr_call("predict", with_value(P8, 0, NAN), G8, random_state=0), ("scores",))
add(_TO + ".predict", "logits to a probability-fitted optimizer",
    lambda: _thr_call("predict", L8 * 3, G8, random_state=0), ("from_logits", "scores"))
add(_TO + ".predict", "string group ids",
    lambda: _thr_call("predict", P8, np.where(G8 == 0, "f", "m"), random_state=0),
    ("groups",))
add(_TO + ".predict", "group id never seen at fit time",
    lambda: _thr_call("predict", P8, G8 + 1, random_state=0), ("group ids", "groups"))
add(_TO + ".positive_probability", "NaN score",
    lambda: _thr_call("positive_probability", with_value(P8, 0, NAN), G8), ("scores",))
add(_TO + ".positive_probability", "NaN group id",
    lambda: _thr_call("positive_probability", P8, with_value(G8, 0, NAN)),
    ("group ids", "groups"))
add(_TO + ".predict", "random_state='seed'",
    lambda: _thr_call("predict", P8, G8, random_state="seed"), ("random_state",))
add(_TO + ".from_json", "a missing key", lambda: _from_json_missing(), ("thresholds", "key"))
add(_TO + ".from_json", "not JSON", lambda: _from_json("{oops"), ("JSON",))
add(_TO + ".fit_stats", "statistics without histograms", lambda: _fit_stats_plain(),
    ("num_bins", "histograms"))


def _fitted_weighted(weight):
    from mxfair.postprocessing import ThresholdOptimizer

    opt = ThresholdOptimizer(constraint="demographic_parity", grid_size=20,
                             **_kw(ThresholdOptimizer, from_logits=False))
    return opt.fit(P8, Y8, G8, sample_weight=weight)


def _default_fit_on_logits():
    from mxfair.postprocessing import ThresholdOptimizer

    opt = ThresholdOptimizer(constraint="demographic_parity", grid_size=20).fit(L8, Y8, G8)
    return opt.positive_probability(L8, G8)


def _default_fit_truth():
    # what the user meant: the optimizer fitted on the probabilities of these logits
    import mxnet as mx

    from mxfair.postprocessing import ThresholdOptimizer

    probs = mx.nd.sigmoid(mx.nd.array(L8)).asnumpy()
    opt = ThresholdOptimizer(constraint="demographic_parity", grid_size=20,
                             **_kw(ThresholdOptimizer, from_logits=False))
    return opt.fit(probs, Y8, G8).positive_probability(probs, G8)


def _from_json_missing():
    opt = _fitted()
    doc = json.loads(opt.to_json())
    del doc["thresholds"]
    return _from_json(json.dumps(doc))


def _from_json(text):
    from mxfair.postprocessing import ThresholdOptimizer

    return ThresholdOptimizer.from_json(text).thresholds_


def _fit_stats_plain():
    from mxfair.metrics import GroupStats
    from mxfair.postprocessing import ThresholdOptimizer

    stats = GroupStats(2)
    stats.update(Y8, P8, G8)
    return ThresholdOptimizer().fit_stats(stats).thresholds_


# --------------------------------------------------------------- GroupThreshold, thresholds
def _block(mode="deterministic", **kw):
    import mxnet as mx

    from mxfair.postprocessing import GroupThreshold

    block = GroupThreshold(2, mode=mode, **_kw(GroupThreshold, **{"from_logits": False, **kw}))
    block.initialize(ctx=mx.cpu())
    return block


def _nan_at(*rows):
    def check(out):
        out = np.asarray(out, dtype=float)
        bad = np.zeros(out.shape, dtype=bool)
        bad[list(rows)] = True
        return bool(np.all(np.isnan(out[bad])) and not np.any(np.isnan(out[~bad])))
    return check


_GT = "GroupThreshold"
add(_GT, "NaN score", lambda: _block()(_nd(with_value(P8, 0, NAN)), _nd(G8)).asnumpy(),
    marks_invalid=_nan_at(0))
add(_GT, "probability 1.5 with from_logits=False",
    lambda: _block()(_nd(with_value(P8, 0, 1.5)), _nd(G8)).asnumpy(), marks_invalid=_nan_at(0))
add(_GT, "group id out of range", lambda: _block()(_nd(P8), _nd(with_value(G8, 0, 5))).asnumpy(),
    marks_invalid=_nan_at(0))
add(_GT, "NaN group id (probability mode)",
    lambda: _block("probability")(_nd(P8), _nd(with_value(G8, 0, NAN))).asnumpy(),
    marks_invalid=_nan_at(0))
add(_GT, "groups of another length",
    lambda: _block()(_nd(P8), _nd(G8[:1])).asnumpy(), ("groups", "scores"))
add(_GT + ".set_rule", "NaN threshold",
    lambda: _block().set_rule([[NAN, 0.5], [0.5, 0.5]], [[0, 0, 1], [0, 0, 1]]),
    ("thresholds",))
add("with_thresholds", "a net with two outputs",
    lambda: _with_thresholds(_two_outputs(), X16[:8]), ("outputs", "net"))
add("with_thresholds", "x and groups of different lengths",
    lambda: _with_thresholds(_logit_net(), X16[:8], G8[:3]), ("groups", "x"))
add("with_thresholds", "a Dense(1) net's logits, default settings",
    lambda: _with_thresholds_default(),
    truth=lambda: (_logit_net_np(X16[:8]) >= 0).astype(np.float32))


def _logit_net_np(x):
    return x @ np.array([1.5, 0.8]) - 0.3


def _with_thresholds(net, x, groups=G8):
    import mxnet as mx

    from mxfair.postprocessing import with_thresholds

    block = _block(from_logits=True)
    deployed = with_thresholds(net, block, **_kw(with_thresholds, from_logits=True))
    return deployed(mx.nd.array(x), mx.nd.array(groups)).asnumpy()


def _with_thresholds_default():
    import mxnet as mx

    from mxfair.postprocessing import GroupThreshold, with_thresholds

    block = GroupThreshold(2, mode="deterministic")  # the plain 0.5 rule until set_rule
    block.initialize(ctx=mx.cpu())
    return with_thresholds(_logit_net(), block)(mx.nd.array(X16[:8]),
                                                mx.nd.array(G8)).asnumpy()


# ------------------------------------------------------------------- reweighing and samplers
def _data_call(name, *args, **kw):
    import mxfair.data as mdata

    out = getattr(mdata, name)(*args, **kw)
    if hasattr(out, "__iter__") and not isinstance(out, np.ndarray) and not hasattr(
            out, "asnumpy"):
        return np.array(list(out)[:8])
    return out


_STR_G = np.where(G8 == 0, "f", "m")
for _name in ("reweighing_weights", "ReweighingSampler", "GroupBalancedSampler"):
    add(_name, "string group ids", lambda n=_name: _data_call(n, Y8, _STR_G), ("groups",))
    add(_name, "NaN group id", lambda n=_name: _data_call(n, Y8, with_value(G8, 0, NAN)),
        ("groups", "group ids"))
    add(_name, "label 0.5", lambda n=_name: _data_call(n, with_value(Y8, 0, 0.5), G8),
        ("labels",))
add("FairBatchSampler", "string group ids",
    lambda: _data_call("FairBatchSampler", Y8, _STR_G, batch_size=4), ("groups",))
add("FairBatchSampler", "NaN label",
    lambda: _data_call("FairBatchSampler", with_value(Y8, 0, NAN), G8, batch_size=4),
    ("labels",))
add("reweighing_weights", "negative sample_weight",
    lambda: _data_call("reweighing_weights", Y8, G8, sample_weight=-np.ones(8)),
    ("sample_weight",))
add("reweighing_weights", "NaN sample_weight",
    lambda: _data_call("reweighing_weights", Y8, G8, sample_weight=with_value(
        np.ones(8), 0, NAN)), ("sample_weight",))
add("reweighing_table", "label out of range for num_classes",
    lambda: _data_call("reweighing_table", Y8 * 2, G8, num_classes=2), ("labels",))
add("weights_from_counts", "negative counts",
    lambda: _data_call("weights_from_counts", np.array([[1.0, -1.0], [1.0, 1.0]])),
    ("cell_counts",))
_EMPTY_Y = np.array([1, 1, 0, 1, 1, 0, 0, 1])
_EMPTY_G = np.array([0, 0, 0, 1, 1, 0, 0, 1])  # group 1 has no negative
add("ReweighingSampler", "an empty cell, following the error's advice empty='zero'",
    lambda: _data_call("ReweighingSampler", _EMPTY_Y, _EMPTY_G, seed=0, empty="zero"))
for _seed, _case in ((np.array([3, 1]), "seed as an array of ints"), (None, "seed=None")):
    add("ReweighingSampler", _case,
        lambda s=_seed: len(list(_data_call_raw("ReweighingSampler", Y8, G8, seed=s))),
        ("seed",), truth=8)
add("ReweighingSampler", "seed='3' (a string)",
    lambda: _data_call("ReweighingSampler", Y8, G8, seed="3"), ("seed",))
add("ReweighingSampler", "seed=-1", lambda: _data_call("ReweighingSampler", Y8, G8, seed=-1),
    ("seed",))


def _data_call_raw(name, *args, **kw):
    import mxfair.data as mdata

    return getattr(mdata, name)(*args, **kw)


# ------------------------------------------------------------------------ weighted datasets
def _pairs():
    from mxnet import gluon

    return gluon.data.ArrayDataset(np.zeros((8, 2), np.float32), Y8)


add("WeightedDataset", "NaN weight",
    lambda: _data_call_raw("WeightedDataset", _pairs(), with_value(np.ones(8), 0, NAN)),
    ("weights",))
add("reweighed_dataset", "(x, y) items with the groups given apart",
    lambda: len(_data_call_raw("reweighed_dataset", _pairs(), groups=G8)[0]), truth=4)
add("reweighed_dataset", "string groups in the items",
    lambda: _data_call_raw("reweighed_dataset", _triples(_STR_G)), ("groups",))
add("reweighed_dataset", "labels of another length",
    lambda: _data_call_raw("reweighed_dataset", _pairs(), labels=Y8[:5], groups=G8), ("labels",))
add("with_groups", "string group ids",
    lambda: _data_call_raw("with_groups", _pairs(), _STR_G), ("groups",),
    requires="mxfair.data:with_groups")
add("with_groups", "groups of another length",
    lambda: _data_call_raw("with_groups", _pairs(), G8[:5]), ("groups",),
    requires="mxfair.data:with_groups")
add("with_groups", "NaN group id",
    lambda: _data_call_raw("with_groups", _pairs(), with_value(G8, 0, NAN)), ("groups",),
    requires="mxfair.data:with_groups")


def _triples(groups):
    from mxnet import gluon

    return gluon.data.ArrayDataset(np.zeros((8, 2), np.float32), Y8, groups)


# ---------------------------------------------------------------------------------- datasets
def _german(**kw):
    from mxfair.datasets import load_german

    return load_german(subsample=50, download=False, **kw)


def _stock_loss_on_to_gluon():
    from mxnet import gluon

    data = _german()
    x, y, _ = next(iter(gluon.data.DataLoader(data.to_gluon(split="train"), batch_size=8)))
    net = gluon.nn.Dense(1)
    net.initialize()
    return bool(np.isfinite(gluon.loss.SigmoidBinaryCrossEntropyLoss()(net(x), y).asnumpy())
                .all())


def _binary_file(tmp):
    from mxfair.datasets import load_german

    with open(os.path.join(tmp, "german.data"), "wb") as f:
        f.write(bytes(range(256)) * 8)
    return load_german(root=tmp, verify=False, download=False)


def _cifar(**kw):
    from mxfair.datasets import CIFAR10S

    return CIFAR10S(source="digits", subsample=20, **kw)


def _cifar_to_tensor():
    from mxnet.gluon.data.vision import transforms

    return transforms.ToTensor()(_cifar()[0][0]).shape


add("TabularData.to_gluon", "labels into the stock SigmoidBinaryCrossEntropyLoss",
    _stock_loss_on_to_gluon, truth=True)
add("load_german", "a binary file (verify=False)", lambda: _binary_file(_tmpdir()),
    ("german.data", "binary"))
add("load_german", "seed=None", lambda: len(_german(seed=None).train), ("seed",), truth=50)
add("load_german", "seed as a list of ints", lambda: len(_german(seed=[1, 2]).train),
    ("seed",), truth=50)
add("CIFAR10S", "items through transforms.ToTensor()", _cifar_to_tensor, truth=(3, 32, 32))
add("CIFAR10S", "seed=None", lambda: len(_cifar(seed=None)), ("seed",), truth=20)
add("CIFAR10S", "skew_minority=NaN", lambda: _cifar(skew_minority=NAN), ("skew_minority",))


def _tmpdir():
    import tempfile

    return tempfile.mkdtemp(prefix="mxfair-probe-")


# -------------------------------------------------------------------------- Estimator handlers
def _estimator_run(handler_cls, schedule_bias, **kw):
    """A Dense(1) net whose bias is set at each epoch's start (learning rate 0): every epoch
    predicts one class, with every gap 0. Returns the handler's decision."""
    import mxnet as mx
    from mxnet import gluon
    from mxnet.gluon.contrib.estimator import Estimator
    from mxnet.gluon.contrib.estimator.event_handler import EpochBegin

    from mxfair.callbacks import FairnessMonitor, FairnessValidationHandler, GroupBatchProcessor

    loader = _loader(X16, Y16, G16, batch_size=8)
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=mx.cpu())

    class Schedule(EpochBegin):
        def epoch_begin(self, estimator, *args, **kwargs):
            estimator.net.weight.set_data(mx.nd.zeros((1, 2)))
            estimator.net.bias.set_data(mx.nd.array([schedule_bias]))

    est = Estimator(net, gluon.loss.SigmoidBCELoss(),
                    trainer=gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.0}),
                    context=mx.cpu(), batch_processor=GroupBatchProcessor())
    fair = FairnessValidationHandler(FairnessMonitor(loader, 2, from_logits=True,
                                                     progress=False))
    handler = handler_cls(fair, max_gap=0.05, gap="demographic_parity_difference", **kw)
    est.fit(loader, epochs=3, event_handlers=[Schedule(), fair, handler])
    if hasattr(handler, "best_epoch"):
        return float("nan") if handler.best_epoch is None else float(handler.best_epoch)
    return float("nan") if handler.stopped_epoch is None else float(handler.stopped_epoch)


def _handlers():
    from mxfair.callbacks import FairCheckpointHandler, FairnessEarlyStoppingHandler

    return FairCheckpointHandler, FairnessEarlyStoppingHandler


add("FairCheckpointHandler", "every epoch predicts one class (gap 0)",
    lambda: _estimator_run(_handlers()[0], -5.0))
add("FairnessEarlyStoppingHandler", "every epoch predicts one class (gap 0)",
    lambda: _estimator_run(_handlers()[1], -5.0, patience=1))
add("FairCheckpointHandler", "max_gap=NaN", lambda: _checkpoint(max_gap=NAN), ("max_gap",))
add("FairnessValidationHandler", "a loader instead of a FairnessMonitor",
    lambda: _validation_handler(), ("fairness",))


def _checkpoint(**kw):
    from mxfair.callbacks import FairCheckpointHandler, FairnessMonitor

    return FairCheckpointHandler(FairnessMonitor([], 2, progress=False), **kw)


def _validation_handler():
    from mxfair.callbacks import FairnessValidationHandler

    return FairnessValidationHandler(_loader(X16, Y16, G16))


# ------------------------------------------------------------------------------------ losses
def _loss(pred, label, group, weight=None, cls="FairnessRegularizedLoss", **kw):
    import mxfair.loss as mloss

    loss = getattr(mloss, cls)(num_groups=2, **kw)
    args = (pred, label, group) + ((weight,) if weight is not None else ())
    return loss(*args).asnumpy()


_LG = "FairnessRegularizedLoss"
add(_LG, "group ids coded 1/2 for num_groups=2", lambda: _loss(_nd(L8), _nd(Y8), _nd(G8 + 1)),
    ("group",), owner="loss")
add(_LG, "NaN group id", lambda: _loss(_nd(L8), _nd(Y8), _nd(with_value(G8, 0, NAN))),
    ("group",), owner="loss")
add(_LG, "NumPy inputs", lambda: _loss(L8, Y8.astype(np.float32), G8.astype(np.float32)),
    ("pred", "NDArray"), owner="loss")
add(_LG, "float64 predictions", lambda: _loss(_nd(L8, "float64"), _nd(Y8), _nd(G8)),
    ("pred", "float64"), owner="loss")
add(_LG, "(N, 10) scores for num_classes=2", lambda: _loss(_nd(np.zeros((8, 10))), _nd(Y8),
                                                             _nd(G8)),
    ("num_classes",), owner="loss")
add(_LG, "empty batch", lambda: _loss(_nd(L8[:0]), _nd(Y8[:0]), _nd(G8[:0])),
    ("batch", "empty", "pred"), owner="loss")
add(_LG, "NaN sample_weight", lambda: _loss(_nd(L8), _nd(Y8), _nd(G8),
                                            _nd(with_value(np.ones(8), 0, NAN))),
    ("sample_weight",), owner="loss")
add("fairness_penalty", "group ids coded 1/2", lambda: _penalty(G8 + 1), ("group",),
    owner="loss")
add("AdversarialDebiasing", "an out-of-range group id", lambda: _adversary(G8 + 1),
    ("group",), owner="loss")
add("AdversarialDebiasing", "+-inf logits (gradients)", lambda: _adversary_inf(),
    owner="loss", truth=True)


def _penalty(groups):
    import mxfair.loss as mloss

    params = inspect.signature(mloss.fairness_penalty).parameters
    values = {"pred": _nd(L8), "preds": _nd(L8), "scores": _nd(L8), "label": _nd(Y8),
              "labels": _nd(Y8), "group": _nd(groups), "groups": _nd(groups)}
    # positional where the tree takes them so (pred, group, label before), else by keyword
    args = [values[n] for n, p in params.items() if n in values and p.kind != p.KEYWORD_ONLY]
    kwargs = {n: values[n] for n, p in params.items() if n in values and p.kind == p.KEYWORD_ONLY}
    return mloss.fairness_penalty(*args, **kwargs, **_kw(mloss.fairness_penalty,
                                                         num_groups=2)).asnumpy()


def _adversary(groups, pred=L8):
    import mxnet as mx

    import mxfair.loss as mloss

    adv = mloss.AdversarialDebiasing(num_groups=2)
    adv.initialize(ctx=mx.cpu())
    x = _nd(pred).reshape((-1, 1))
    x.attach_grad()
    with mx.autograd.record():
        out = adv(x, _nd(Y8), _nd(groups))
    out.backward()
    return x.grad.asnumpy()


def _adversary_inf():
    """True when the gradients are finite, as Gluon's own BCE gives them at +-inf logits."""
    return bool(np.all(np.isfinite(_adversary(G8, with_value(L8, 0, INF)))))


# ---------------------------------------------------------------------- reports, distributed
def _report(counts):
    from mxfair.metrics import FairnessReport

    return FairnessReport(counts).summary()


add("FairnessReport", "counts of shape (G, K)", lambda: _report(np.ones((2, 2))), ("counts",))
add("FairnessReport.difference", "an unknown metric",
    lambda: _report_obj().difference("f1"), ("metric",))
add("distributed.allreduce_stats", "not a GroupStats",
    lambda: _allreduce(np.zeros(3)), ("stats",))


def _report_obj():
    from mxfair.metrics import FairnessReport

    return FairnessReport(np.ones((2, 2, 2)))


def _allreduce(obj):
    from mxfair.distributed import allreduce_stats

    return allreduce_stats(obj, None)


# --------------------------------------------------------------- plots, histories, the rest
def _plot(fn, *args, **kw):
    from mxfair import plot

    return getattr(plot, fn)(*args, **kw)


add("plot.plot_history", "an empty history", lambda: _plot("plot_history", []), ("history",))
add("plot.plot_histories", "a run without the key",
    lambda: _plot("plot_histories", {"run": [{"epoch": 0, "accuracy": 0.5}]}, keys=["auc"]),
    ("auc",))
add("plot.pareto_front", "gaps and scores of different lengths",
    lambda: _plot("pareto_front", [0.1, 0.2], [0.5]), ("gaps", "scores"))
add("plot.plot_pareto", "runs given as a list",
    lambda: _plot("plot_pareto", [{"accuracy": 0.8}]), ("runs",))
add("plot.plot_pareto", "a run without the x key",
    lambda: _plot("plot_pareto", {"a": {"accuracy": 0.8}}), ("equalized_odds_difference",))
add("FairnessMonitor.to_csv", "before any evaluation",
    lambda: _monitor_obj().to_csv(os.path.join(_tmpdir(), "h.csv")), ("evaluate", "history"))
add("FairnessReport.interval", "without bootstrap replicates",
    lambda: _report_obj().interval("accuracy"), ("bootstrap",))
add("load_adult", "an unknown sensitive attribute",
    lambda: _load_adult(sensitive="height"), ("sensitive",))
add("CIFAR10S", "source='imagenet'", lambda: _cifar_source("imagenet"), ("source",))
add("distributed.global_cell_counts", "string group ids",
    lambda: _global_counts(np.where(G8 == 0, "f", "m")), ("groups",))
add("distributed.global_cell_counts", "NaN label",
    lambda: _global_counts(G8, with_value(Y8, 0, NAN)), ("labels",))
add("ConstrainedFairLoss", "group ids coded 1/2 for num_groups=2",
    lambda: _constrained(G8 + 1), ("group",), owner="loss")
add("GroupBatchProcessor.fit_batch", "batches of (x, y) without groups",
    lambda: _batch_processor(), ("batch", "group"), owner="loss")


def _monitor_obj():
    from mxfair.callbacks import FairnessMonitor

    return FairnessMonitor([], 2, progress=False)


def _load_adult(**kw):
    from mxfair.datasets import load_adult

    return load_adult(subsample=50, download=False, **kw)


def _cifar_source(source):
    from mxfair.datasets import CIFAR10S

    return CIFAR10S(source=source, subsample=10)


def _global_counts(groups, labels=Y8):
    from mxfair.distributed import global_cell_counts

    return global_cell_counts(labels, groups, None, num_groups=2)


def _constrained(groups):
    import mxfair.loss as mloss

    loss = mloss.ConstrainedFairLoss(num_groups=2, bound=0.05)
    return loss(_nd(L8), _nd(Y8), _nd(groups)).asnumpy()


def _batch_processor():
    import mxnet as mx
    from mxnet import gluon
    from mxnet.gluon.contrib.estimator import Estimator

    from mxfair.callbacks import GroupBatchProcessor

    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=mx.cpu())
    est = Estimator(net, gluon.loss.SigmoidBCELoss(),
                    trainer=gluon.Trainer(net.collect_params(), "sgd"), context=mx.cpu(),
                    batch_processor=GroupBatchProcessor())
    batch = next(iter(_pairs_loader()))
    return est.batch_processor.fit_batch(est, batch)[3][0].asnumpy()


# ------------------------------------------------- one probe for each remaining entry point
def _call(path: str, *args, **kw):
    """``mxfair.<module>.<name>(*args, **kw)`` for ``path = "<module>.<name>"``."""
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module("mxfair" + ("." + module if module else "")),
                   name)(*args, **kw)


def _class_metric(cls, preds, groups=G8, labels=Y8, **kw):
    import mxfair.metrics as mfm

    metric = getattr(mfm, cls)(2, **kw)
    numeric = np.asarray(groups).dtype.kind in "fiub"
    metric.update([_nd(labels), _nd(groups) if numeric else groups], [preds])
    return metric.get()[1]


add("DemographicParityDifference", "NaN group id",
    lambda: _class_metric("DemographicParityDifference", _nd(L8), with_value(G8, 0, NAN)),
    owner="stats")
add("DemographicParityRatio", "(N, 3) scores with num_classes=2",
    lambda: _class_metric("DemographicParityRatio", _nd(np.zeros((8, 3)))), ("num_classes",))
add("EqualizedOddsDifference", "string group ids",
    lambda: _class_metric("EqualizedOddsDifference", _nd(L8), _STR_G), ("groups",),
    owner="stats")
add("EqualOpportunityDifference", "labels {0, 2}",
    lambda: _class_metric("EqualOpportunityDifference", _nd(L8), labels=Y8 * 2),
    owner="stats")
add("WorstGroupAccuracy", "+inf scores",
    lambda: _class_metric("WorstGroupAccuracy", _nd(with_value(L8, 0, INF))), owner="stats")
add("FairnessMetric", "an unknown quantity",
    lambda: _call("metrics.FairnessMetric", 2, quantity="f1"), ("quantity",))
add("GroupFairnessMetric", "no quantities",
    lambda: _call("metrics.GroupFairnessMetric", 2, quantities=[]), ("quantities",))
add("metrics.binarize", "a 1-D table", lambda: _call("metrics.binarize", np.zeros(3)),
    ("counts",))
add("metrics.clarify_divide", "strings", lambda: _call("metrics.clarify_divide", ["a"], [1.0]),
    ("num",))
add("metrics.confusion_rates", "counts of shape (G, K)",
    lambda: _call("metrics.confusion_rates", np.ones((2, 3))), ("counts",), owner="stats")
add("metrics.group_gap", "strings as values",
    lambda: _call("metrics.group_gap", np.array(["a", "b"])), ("values",))
add("metrics.group_gap", "to_overall without the overall value",
    lambda: _call("metrics.group_gap", np.array([0.2, 0.4]), method="to_overall"), ("overall",))
add("metrics.facet_counts", "neither facet nor reference",
    lambda: _call("metrics.facet_counts", Y8, groups=G8), ("facet",))
add("demographic_parity_ratio", "NaN label",
    lambda: _fl("demographic_parity_ratio", y_true=with_value(Y8, 0, NAN)), ("y_true",))
add("false_negative_rate", "labels {0, 2}",
    lambda: _fl("false_negative_rate", y_true=Y8 * 2, sensitive_features=None), ("y_true",))
add("false_positive_rate", "NaN prediction",
    lambda: _fl("false_positive_rate", y_pred=with_value(_YP, 0, NAN)), ("y_pred",))
add("true_negative_rate", "scores instead of hard predictions",
    lambda: _fl("true_negative_rate", y_pred=P8, sensitive_features=None), ("y_pred",))
add("aif360.generalized_entropy_from_counts", "counts of shape (3, 3)",
    lambda: _call("metrics.aif360.generalized_entropy_from_counts", np.ones((3, 3))),
    ("counts",))
for _fn, _case, _extra, _args in [
    ("difference_in_conditional_acceptance", "NaN label", dict(y_true=with_value(Y8, 0, NAN)),
     ("y_true",)),
    ("difference_in_conditional_rejection", "negative sample_weight",
     dict(sample_weight=-np.ones(8)), ("sample_weight",)),
    ("difference_in_acceptance_rates", "facet value not in groups", dict(facet=9), ("facet",)),
    ("difference_in_rejection_rates", "lengths differ", dict(y_pred=_YP[:6]),
     ("y_true", "y_pred")),
    ("specificity_difference", "empty input", dict(y_true=Y8[:0], y_pred=_YP[:0],
                                                   groups=G8[:0]), ("y_true",)),
    ("treatment_equality", "NaN in the facets", dict(groups=with_value(G8, 0, NAN)),
     ("groups",)),
    ("conditional_demographic_disparity_in_predicted_labels", "no strata", {}, ("strata",)),
]:
    _all = dict(y_true=Y8, y_pred=_YP, groups=G8, facet=1)
    _all.update(_extra)
    add("clarify." + _fn, _case, lambda f=_fn, a=_all: _call(
        "metrics.clarify." + f, a["y_true"], a["y_pred"],
        **{k: v for k, v in a.items() if k not in ("y_true", "y_pred")}), _args)
for _fn, _case, _extra, _args in [
    ("difference_in_proportions_of_labels", "NaN label", dict(y_true=with_value(Y8, 0, NAN)),
     ("y_true",)),
    ("kl_divergence", "no label value in both facets", dict(y_true=G8), ("KL",)),
    ("jensen_shannon_divergence", "NaN in the facets", dict(groups=with_value(G8, 0, NAN)),
     ("groups",)),
    ("lp_norm", "negative sample_weight", dict(sample_weight=-np.ones(8)), ("sample_weight",)),
    ("total_variation_distance", "empty input", dict(y_true=Y8[:0], groups=G8[:0]),
     ("y_true",)),
    ("kolmogorov_smirnov", "facet and reference overlap", dict(reference=1), ("facet",)),
    ("conditional_demographic_disparity_in_labels", "no strata", {}, ("strata",)),
]:
    _all = dict(y_true=Y8, groups=G8, facet=1)
    _all.update(_extra)
    add("data_bias." + _fn, _case, lambda f=_fn, a=_all: _call(
        "metrics.data_bias." + f, a["y_true"],
        **{k: v for k, v in a.items() if k != "y_true"}), _args)
add("datasets.load_tabular", "an unknown data set",
    lambda: _call("datasets.load_tabular", "credit", download=False), ("name",))
add("data.shard_range", "num_parts=0", lambda: _call("data.shard_range", 10, num_parts=0),
    ("num_parts",))
add("data.GroupedDataset", "num_groups=0",
    lambda: _call("data.GroupedDataset", _pairs(), G8, num_groups=0), ("num_groups",),
    requires="mxfair.data:GroupedDataset")
add("datasets.find_data_file", "an unknown file name",
    lambda: _call("datasets.find_data_file", "foo.csv"), ("name",))
add("datasets.load_compas", "root that is not a folder",
    lambda: _call("datasets.load_compas", root=os.path.join(_tmpdir(), "nowhere"),
                  download=False), ("root",))
add("distributed.allreduce_array", "NaN values (one process)",
    lambda: _call("distributed.allreduce_array", np.array([1.0, NAN]), None, key="weights"),
    ("weights",))
add("distributed.global_reweighing", "string labels",
    lambda: _call("distributed.global_reweighing", np.where(Y8 == 0, "n", "y"), G8, None,
                  num_groups=2), ("labels",))
add("distributed.init_trainer", "not a Trainer", lambda: _call("distributed.init_trainer", 42),
    ("trainer",))
add("distributed.sync_ratios", "NaN ratios",
    lambda: _call("distributed.sync_ratios", np.array([NAN, 1.0]), None), ("ratios",))
add("distributed.rank_and_size", "not a kvstore",
    lambda: _call("distributed.rank_and_size", 42), ("kvstore",))
add("distributed.is_distributed", "not a kvstore",
    lambda: _call("distributed.is_distributed", 42), ("kvstore",))
add("loss.get_penalty", "an unknown name", lambda: _call("loss.get_penalty", "nope"),
    ("penalty",), owner="loss")
add("loss.get_statistic", "an unknown name", lambda: _call("loss.get_statistic", "nope"),
    ("constraint",), owner="loss")
add("loss.SmoothMaxGap", "temperature=-1", lambda: _call("loss.SmoothMaxGap", temperature=-1.0),
    ("temperature",), owner="loss")
add("loss.MMDPenalty", "bandwidth=-1", lambda: _call("loss.MMDPenalty", bandwidth=-1.0),
    ("bandwidth",),
    owner="loss")
add("loss.GradientReversal", "scale=NaN", lambda: _call("loss.GradientReversal", scale=NAN),
    ("scale",), owner="loss")
add("loss.LagrangeMultiplier", "bound=2", lambda: _call("loss.LagrangeMultiplier", 2.0),
    ("bound",), owner="loss")
add("loss.StackedStatistic", "no statistics", lambda: _call("loss.StackedStatistic"),
    ("Statistic",), owner="loss")
add("plot.plot_group_rates", "an array instead of a report",
    lambda: _plot("plot_group_rates", np.zeros(3)), ("report",))
add("postprocessing.ThresholdedNet", "no GroupThreshold",
    lambda: _call("postprocessing.ThresholdedNet", _logit_net(), None), ("threshold",))
add("canonical_constraint", "an unknown name", lambda: _call("canonical_constraint", "nope"),
    ("constraint",))

# ------------------------------------------------------------------ training to a bound
def _training(name):
    import mxfair.training as training

    return getattr(training, name)


def _held_stats(preds=P8, groups=G8, labels=Y8, num_groups=2, **kw):
    from mxfair.metrics import GroupStats

    stats = GroupStats(num_groups, **kw)
    stats.update(_nd(labels), _nd(preds), _nd(groups))
    return stats


def _rate_bound(**kw):
    settings = {"constraint": "demographic_parity", "num_groups": 2, "bound": 0.1, **kw}
    return _training("RateBound")(**settings)


def _bounded_loss(pred, label, group, weight=None, **kw):
    loss = _training("BoundedFairLoss")(2, 0.05, **kw)
    args = (pred, label, group) + ((weight,) if weight is not None else ())
    return loss(*args).asnumpy()


def _slice(labels=Y8, groups=G8, **kw):
    return _training("constraint_slice")(labels, groups, **kw)


def _best_iterate_consider(source):
    keeper = _training("BestIterate")(_rate_bound())
    keeper.consider(_dense(1.0), source)
    return keeper.best["gap"]


def _handler(player, **kw):
    return _training("BoundedTrainingHandler")(player, _loader(X16, Y16, G16), **kw)


_TR = "mxfair.training"
add(f"{_TR}.RateBound", "num_groups=1", lambda: _rate_bound(num_groups=1), ("num_groups",))
add(f"{_TR}.RateBound", "an unknown constraint", lambda: _rate_bound(constraint="parity"),
    ("constraint",))
add(f"{_TR}.RateBound", "bound=NaN", lambda: _rate_bound(bound=NAN), ("bound",))
add(f"{_TR}.RateBound", "bound=1.5 (a ratio, not a difference)",
    lambda: _rate_bound(bound=1.5), ("bound",))
add(f"{_TR}.RateBound.violations", "a NumPy array of scores as the source",
    lambda: _rate_bound().violations(P8), ("source",))
add(f"{_TR}.RateBound.violations", "statistics of 3 groups for num_groups=2",
    lambda: _rate_bound().violations(_held_stats(groups=G8 + (Y8 > 0), num_groups=3,
                                                 from_logits=False)), ("num_groups",))
add(f"{_TR}.RateBound.gap", "logits measured with from_logits=False",
    lambda: _rate_bound().gap(_held_stats(preds=L8 * 3, from_logits=False)),
    ("from_logits",))
add(f"{_TR}.RateBound.gap", "an out-of-range group id in the statistics",
    lambda: _rate_bound().gap(_held_stats(groups=with_value(G8, 0, 5), from_logits=False)),
    ("group",))
add(f"{_TR}.RateBound.gap", "a group with no held-out rows",
    lambda: _rate_bound().gap(_held_stats(groups=np.zeros(8), from_logits=False)), ())
add(f"{_TR}.constraint_slice", "string group ids",
    lambda: _slice(groups=np.where(G8 == 0, "f", "m")), ("groups",))
add(f"{_TR}.constraint_slice", "NaN label", lambda: _slice(labels=with_value(Y8, 0, NAN)),
    ("labels",))
add(f"{_TR}.constraint_slice", "group ids coded 1/2 for num_groups=2",
    lambda: _slice(groups=G8 + 1, num_groups=2), ("groups",))
add(f"{_TR}.constraint_slice", "lengths differ", lambda: _slice(labels=Y8[:7]),
    ("labels", "groups"))
add(f"{_TR}.constraint_slice", "empty input", lambda: _slice(labels=Y8[:0], groups=G8[:0]),
    ("labels",))
add(f"{_TR}.constraint_slice", "fraction=1.5", lambda: _slice(fraction=1.5), ("fraction",))
add(f"{_TR}.ProxyLagrangian", "num_constraints=0",
    lambda: _training("ProxyLagrangian")(0), ("num_constraints",))
add(f"{_TR}.ProxyLagrangian", "regret='none'",
    lambda: _training("ProxyLagrangian")(1, regret="none"), ("regret",))
add(f"{_TR}.ProxyLagrangian.update", "two violations for one constraint",
    lambda: _training("ProxyLagrangian")(1).update([0.1, 0.2]), ("violations",))
add(f"{_TR}.ProxyLagrangian.update", "strings as violations",
    lambda: _training("ProxyLagrangian")(1).update(["high"]), ("violations",))
add(f"{_TR}.ProxyLagrangian.update", "an infinite violation",
    lambda: _training("ProxyLagrangian")(1).update([INF]), ("violations",))
add(f"{_TR}.BoundSchedule", "a target without lam",
    lambda: _training("BoundSchedule")(object(), 0.05, "demographic_parity", 2), ("lam",))
add(f"{_TR}.BoundSchedule.update", "a NumPy array of scores as the source",
    lambda: _schedule().update(P8), ("source",))
add(f"{_TR}.hedge_step_size", "t=0", lambda: _training("hedge_step_size")(0, 2, 0.05), ("t",))
add(f"{_TR}.hedge_step_size", "payoff_range=0",
    lambda: _training("hedge_step_size")(1, 2, 0.0), ("payoff_range",))
add(f"{_TR}.bound_payoff_range", "bound=NaN",
    lambda: _training("bound_payoff_range")(NAN), ("bound",))
add(f"{_TR}.BoundedFairLoss", "proxy='squared'",
    lambda: _training("BoundedFairLoss")(2, 0.05, proxy="squared"), ("proxy",))
add(f"{_TR}.BoundedFairLoss", "group ids coded 1/2 for num_groups=2",
    lambda: _bounded_loss(_nd(L8), _nd(Y8), _nd(G8 + 1)), ("group",))
add(f"{_TR}.BoundedFairLoss", "NaN group id",
    lambda: _bounded_loss(_nd(L8), _nd(Y8), _nd(with_value(G8, 0, NAN))), ("group",))
add(f"{_TR}.BoundedFairLoss", "NumPy inputs",
    lambda: _bounded_loss(L8, Y8.astype(np.float32), G8.astype(np.float32)), ("pred",))
add(f"{_TR}.BoundedFairLoss", "NaN logits (a diverged net)",
    lambda: _bounded_loss(_nd(with_value(L8, 0, NAN)), _nd(Y8), _nd(G8)), ("pred",))
add(f"{_TR}.BoundedFairLoss", "logits with from_logits=False",
    lambda: _bounded_loss(_nd(L8 * 3), _nd(Y8), _nd(G8), from_logits=False),
    ("from_logits",))
add(f"{_TR}.BoundedFairLoss", "(N, 10) scores for num_classes=2",
    lambda: _bounded_loss(_nd(np.zeros((8, 10))), _nd(Y8), _nd(G8)), ("pred",))
add(f"{_TR}.BoundedFairLoss", "label 2 for a binary task",
    lambda: _bounded_loss(_nd(L8), _nd(with_value(Y8, 0, 2)), _nd(G8)), ("label",))
add(f"{_TR}.BoundedFairLoss", "empty batch",
    lambda: _bounded_loss(_nd(L8[:0]), _nd(Y8[:0]), _nd(G8[:0])), ("pred",))
add(f"{_TR}.BoundedFairLoss", "NaN sample_weight",
    lambda: _bounded_loss(_nd(L8), _nd(Y8), _nd(G8), _nd(with_value(np.ones(8), 0, NAN))),
    ("sample_weight",))
add(f"{_TR}.BoundedFairLoss.update", "a NumPy array of scores as the source",
    lambda: _training("BoundedFairLoss")(2, 0.05).update(P8), ("source",))
add(f"{_TR}.BestIterate", "a number as the bound", lambda: _training("BestIterate")(0.1),
    ("bound",))
add(f"{_TR}.BestIterate", "score='auc'",
    lambda: _training("BestIterate")(_rate_bound(), score="auc"), ("score",))
add(f"{_TR}.BestIterate.consider", "statistics of 3 groups for num_groups=2",
    lambda: _best_iterate_consider(_held_stats(groups=G8 + (Y8 > 0), num_groups=3,
                                               from_logits=False)), ("num_groups",))
add(f"{_TR}.BestIterate.restore", "before any iterate was considered",
    lambda: _training("BestIterate")(_rate_bound()).restore(_dense(1.0)), ("consider",))
add(f"{_TR}.best_mixture", "objective and rates of different lengths",
    lambda: _training("best_mixture")(np.zeros(3), np.zeros((2, 2, 1)), _rate_bound()),
    ("rates",))
add(f"{_TR}.best_mixture", "NaN objective",
    lambda: _training("best_mixture")(np.array([NAN, 0.5]), np.zeros((2, 2, 1)),
                                      _rate_bound()), ("objective",))
add(f"{_TR}.best_mixture", "no iterates",
    lambda: _training("best_mixture")(np.zeros(0), np.zeros((0, 2, 1)), _rate_bound()),
    ("objective",))
def _mixture(probabilities=(0.5, 0.5), members=None):
    members = [_dense(1.0), _dense(-1.0)] if members is None else members
    return _training("IterateMixture")(members, probabilities)


def _kept_run(keep_all=True):
    keeper = _training("BestIterate")(_rate_bound(), keep_all=keep_all)
    keeper.consider(_dense(1.0), _held_stats(from_logits=False))
    return keeper


add(f"{_TR}.IterateMixture", "3 probabilities for 2 members",
    lambda: _mixture((0.2, 0.3, 0.5)), ("probabilities", "members"))
add(f"{_TR}.IterateMixture", "probabilities summing to 0.9",
    lambda: _mixture((0.5, 0.4)), ("probabilities",))
add(f"{_TR}.IterateMixture", "a NaN probability", lambda: _mixture((NAN, 1.0)),
    ("probabilities",))
add(f"{_TR}.IterateMixture", "string probabilities", lambda: _mixture(("a", "b")),
    ("probabilities",))
add(f"{_TR}.IterateMixture", "a NumPy array as a member",
    lambda: _mixture(members=[np.ones((2, 1)), _dense(1.0)]), ("members",))
add(f"{_TR}.IterateMixture", "noise with fewer draws than rows",
    lambda: _mixture()(_nd(X16), _nd(np.full(3, 0.5))).asnumpy(), ("noise",))
add(f"{_TR}.BestIterate.mixture_net", "iterates not kept (keep_all=False)",
    lambda: _kept_run(keep_all=False).mixture_net(lambda: _dense(0.0)), ("keep_all",))
add(f"{_TR}.BestIterate.mixture_net", "make_net returns a string",
    lambda: _kept_run().mixture_net(lambda: "net"), ("make_net",))
add(f"{_TR}.BoundedTrainingHandler", "a FairnessRegularizedLoss as the player",
    lambda: _handler(_fair_loss()), ("player",))
add(f"{_TR}.BoundedTrainingHandler", "update_every=0",
    lambda: _handler(_training("BoundedFairLoss")(2, 0.05), update_every=0),
    ("update_every",))
add(f"{_TR}.update_interval", "batches_per_epoch=0",
    lambda: _training("update_interval")(0), ("batches_per_epoch",))


def _schedule():
    return _training("BoundSchedule")(_fair_loss(), 0.05, "demographic_parity", 2)


def _fair_loss():
    import mxfair.loss as mloss

    return mloss.FairnessRegularizedLoss(num_groups=2)




# ------------------------------------------------------- the audit, explain and significance
X40 = np.random.RandomState(0).randn(40, 3).astype(np.float32)
Y40 = (np.arange(40) % 2).astype(np.int64)
G40 = (np.arange(40) // 20).astype(np.int64)
STR40 = np.where(G40 == 0, "f", "m")


def _net3(weight=1.0, sigmoid=False):
    """Dense(1) on 3 inputs (logits; ``sigmoid=True``: probabilities)."""
    import mxnet as mx
    from mxnet import gluon

    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(1, in_units=3))
    if sigmoid:
        net.add(gluon.nn.Activation("sigmoid"))
    net.initialize(mx.init.Constant(weight), ctx=mx.cpu())
    return net


def _audit(X=X40, y=Y40, g=G40, data=None, net=None, **kw):
    from mxfair import audit

    kw = {"permutations": 19, "bootstrap": 0, "figures": False, "proxies": False,
          "partial_dependence_top": 0, **kw}
    rep = audit(_net3() if net is None else net, (X, y, g) if data is None else data, **kw)
    return rep.summary["demographic_parity_difference"]


for _case, _probe_call, _args in [
    ("a single group", lambda: _audit(g=np.zeros(40)), ("groups",)),
    ("string group ids", lambda: _audit(g=STR40), ("groups", "GroupEncoder")),
    ("NaN group id", lambda: _audit(g=with_value(G40, 0, NAN)), ("groups",)),
    ("group id 2 with num_groups=2", lambda: _audit(g=with_value(G40, 0, 2), num_groups=2),
     ("groups",)),
    ("labels {0, 2}", lambda: _audit(y=Y40 * 2), ("labels",)),
    ("NaN label", lambda: _audit(y=with_value(Y40, 1, NAN)), ("labels",)),
    ("string labels", lambda: _audit(y=np.where(Y40 == 1, "yes", "no")), ("labels",)),
    ("a dict as data", lambda: _audit(data={"X": X40}), ("data",)),
    ("no rows", lambda: _audit(X=X40[:0], y=Y40[:0], g=G40[:0]), ("data", "groups")),
    ("groups shorter than X", lambda: _audit(g=G40[:-1]), ("groups", "X")),
    ("X of 5 columns for a 3-input net", lambda: _audit(X=np.zeros((40, 5), np.float32)),
     ("X", "data")),
    ("permutations=0", lambda: _audit(permutations=0), ("permutations",)),
    ("num_classes=1", lambda: _audit(num_classes=1), ("num_classes",)),
    ("probabilities with from_logits=True", lambda: _audit(net=_net3(sigmoid=True)), ()),
    ("NaN output (a diverged net)", lambda: _audit(net=_net3(NAN)), ()),
]:
    add("audit", _case, _probe_call, _args)


def _audit_report():
    from mxfair import audit

    return audit(_net3(), (X40, Y40, G40), permutations=19, bootstrap=0, proxies=False,
                 partial_dependence_top=0)


add("AuditReport.to_html", "image_format='gif'",
    lambda: _audit_report().to_html(None, image_format="gif"), ("image_format",))
add("AuditReport.to_markdown", "figures_dir is a file",
    lambda: _audit_report().to_markdown(None, figures_dir=__file__), ("figures_dir",))


def _cli(argv, named):
    """``mxfair audit`` on bad input: (exit code, whether stderr names the argument)."""
    import contextlib

    from mxfair.auditing.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, named in err.getvalue()


def _cli_files(tmp, label="y", width=3, scale=1):
    """An exported Dense(1) on 3 inputs and a CSV (``width`` feature columns, y, sex)."""
    import pandas as pd

    net = _net3()
    net.hybridize()
    net(_nd(X40[:2]))
    prefix = os.path.join(tmp, "net")
    net.export(prefix)
    frame = pd.DataFrame(np.random.RandomState(1).randn(40, width),
                         columns=[f"x{j}" for j in range(width)])
    frame[label] = Y40 * scale
    frame["sex"] = STR40
    path = os.path.join(tmp, "data.csv")
    frame.to_csv(path, index=False)
    return prefix, path


def _cli_case(argv, named, **files):
    import tempfile

    tmp = tempfile.mkdtemp()
    prefix, path = _cli_files(tmp, **files)
    argv = [a.replace("{model}", prefix).replace("{data}", path) for a in argv]
    return _cli(argv + ["--out", os.path.join(tmp, "page.html"), "--permutations", "19",
                        "--bootstrap", "0", "--no-attribution"], named)


_CLI = ["--model", "{model}", "--data", "{data}", "--label", "y", "--sensitive", "sex"]
for _case, _argv, _named, _files in [
    ("a missing label column", _CLI[:5] + ["income"] + _CLI[6:], "income", {}),
    ("a missing sensitive column", _CLI[:7] + ["race"], "race", {}),
    ("4 feature columns for a 3-input model", _CLI, "shape mismatch", {"width": 4}),
    ("a missing model file", ["--model", "nothing"] + _CLI[2:], "nothing-symbol.json", {}),
    ("labels {0, 2}", _CLI, "--positive", {"scale": 2}),
    ("--ctx gpu:x", _CLI + ["--ctx", "gpu:x"], "--ctx", {}),
]:
    add("auditing.cli.main", _case, lambda a=_argv, n=_named, f=_files: _cli_case(a, n, **f),
        truth=(2, True))


def _explain(name, *args, **kw):
    import mxfair.explain as ex

    return getattr(ex, name)(*args, **kw)


def _att(X=X40, g=G40, **kw):
    return _explain("gap_attribution", _net3(), X, g, **kw).gap


for _case, _probe_call, _args in [
    ("string group ids", lambda: _att(g=STR40), ("groups", "GroupEncoder")),
    ("NaN group id", lambda: _att(g=with_value(G40, 3, NAN)), ("groups",)),
    ("a single group", lambda: _att(g=np.zeros(40, int)), ("groups", "two groups")),
    ("NaN feature", lambda: _att(X=with_value(X40, (0, 1), NAN, np.float32)), ("X",)),
    ("X of 5 columns for a 3-input net", lambda: _att(X=np.zeros((40, 5), np.float32)),
     ("X", "net")),
    ("baselines of the wrong width", lambda: _att(baselines=np.zeros((2, 5), np.float32)),
     ("baselines",)),
    ("steps=0", lambda: _att(steps=0), ("steps",)),
    ("output='prob'", lambda: _att(output="prob"), ("output",)),
    ("between=(0, 5)", lambda: _att(between=(0, 5)), ("between",)),
    ("probabilities with from_logits=True", lambda: _explain(
        "gap_attribution", _net3(sigmoid=True), X40, G40).gap, ()),
]:
    add("gap_attribution", _case, _probe_call, _args)

add("permutation_gap_attribution", "string group ids", lambda: _explain(
    "permutation_gap_attribution", _net3(), X40, STR40), ("groups",))
add("permutation_gap_attribution", "repeats=0", lambda: _explain(
    "permutation_gap_attribution", _net3(), X40, G40, repeats=0), ("repeats",))
add("permutation_gap_attribution", "threshold=2", lambda: _explain(
    "permutation_gap_attribution", _net3(), X40, G40, threshold=2.0), ("threshold",))
add("shapley_gap", "more features than max_features", lambda: _explain(
    "shapley_gap", _net3(), X40, G40, max_features=2), ("max_features",))
add("shapley_gap", "NaN group id", lambda: _explain(
    "shapley_gap", _net3(), X40, with_value(G40, 0, NAN)), ("groups",))
add("occlusion_maps", "tabular rows instead of images", lambda: _explain(
    "occlusion_maps", _net3(), X40, G40), ("X",))
add("occlusion_maps", "patch=0", lambda: _explain(
    "occlusion_maps", _net3(), np.zeros((40, 1, 4, 4), np.float32), G40, patch=0), ("patch",))
add("feature_importance", "an unknown metric", lambda: _explain(
    "feature_importance", _net3(), X40, Y40, metric="auc"), ("metric",))
add("feature_importance", "labels {0, 2}", lambda: _explain(
    "feature_importance", _net3(), X40, Y40 * 2), ("y", "labels"))
add("feature_importance", "string group ids", lambda: _explain(
    "feature_importance", _net3(), X40, Y40, groups=STR40), ("groups",))
add("partial_dependence", "an unknown feature", lambda: _explain(
    "partial_dependence", _net3(), X40, "age"), ("feature", "age"))
add("partial_dependence", "group id out of range with group_names", lambda: _explain(
    "partial_dependence", _net3(), X40, "x0", groups=G40 + 1, group_names=["a", "b"]),
    ("groups", "group_names"))
add("proxy_detection", "string group ids", lambda: _explain(
    "proxy_detection", X40, STR40), ("groups",))
add("proxy_detection", "folds=1", lambda: _explain(
    "proxy_detection", X40, G40, folds=1), ("folds",))
add("proxy_detection", "NaN feature", lambda: _explain(
    "proxy_detection", with_value(X40, (0, 0), NAN, np.float32), G40), ("X",))
add("tabular_feature_groups", "an array instead of a TabularData", lambda: _explain(
    "tabular_feature_groups", X40), ("data",))
add("as_feature_groups", "a column index out of range", lambda: _explain(
    "as_feature_groups", {"a": [0, 7]}, 3), ("feature_groups",))
add("as_feature_groups", "feature_names of the wrong length", lambda: _explain(
    "as_feature_groups", None, 3, feature_names=["a"]), ("feature_names",))


def _sig_report(labels=Y8, preds=None, groups=G8, weights=None, num_classes=2):
    from mxfair.metrics import GroupStats

    stats = GroupStats(int(np.max(groups)) + 1, num_classes=num_classes,
                       num_bins=10 if num_classes == 2 else 0, from_logits=False)
    preds = P8 if preds is None else preds
    stats.update(_nd(labels), _nd(preds), _nd(groups),
                 None if weights is None else _nd(weights))
    return stats.report()


def _sig(name, *args, **kw):
    import mxfair.metrics.significance as sig

    return getattr(sig, name)(*args, **kw)


add("permutation_test", "an unknown metric", lambda: _sig(
    "permutation_test", _sig_report(), "dp_gap").p_value, ("metric",))
add("permutation_test", "weighted counts", lambda: _sig(
    "permutation_test", _sig_report(weights=np.full(8, 0.3)), "demographic_parity_difference"
).p_value, ("weight",))
add("permutation_test", "permutations=0", lambda: _sig(
    "permutation_test", _sig_report(), "demographic_parity_difference", permutations=0).p_value,
    ("permutations",))
add("p_value", "kind='sum'", lambda: _sig(
    "p_value", _sig_report(), "selection_rate", kind="sum"), ("kind",))
add("FairnessReport.p_value", "an array instead of a metric name",
    lambda: _sig_report().p_value(np.zeros(2)), ("metric",))
add("holm", "p-values above 1", lambda: _sig("holm", [0.5, 1.5]), ("p_values",))
add("holm", "strings", lambda: _sig("holm", ["a"]), ("p_values",))
add("gap_significance", "an unknown gap", lambda: _sig(
    "gap_significance", _sig_report(), metrics=["nope_difference"]), ("metric", "nope"))
add("summary_p_values", "keys that are not gaps", lambda: _sig(
    "summary_p_values", _sig_report(), ["accuracy"]), ("keys",))
add("group_p_values", "a multi-class report", lambda: _sig(
    "group_p_values", _sig_report(labels=Y8 * 2 % 3, preds=np.eye(3)[Y8 % 3], num_classes=3)),
    ("binary", "num_classes", "report"))


def _figure(name, *args, **kw):
    import mxfair.auditing.figures as figs

    return getattr(figs, name)(*args, **kw)


add("plot_gap_attribution", "an array instead of a GapAttribution",
    lambda: _figure("plot_gap_attribution", np.zeros(3)), ("attribution",))
add("plot_null_distribution", "an array instead of a GapTest",
    lambda: _figure("plot_null_distribution", np.zeros(3)), ("test",))
add("plot_proxies", "an array instead of proxy_detection's table",
    lambda: _figure("plot_proxies", np.zeros(3)), ("proxies",))
add("plot_partial_dependence", "an empty list", lambda: _figure("plot_partial_dependence", []),
    ("curves",))
add("plot_attribution_maps", "tabular attribution", lambda: _figure(
    "plot_attribution_maps", _explain("gap_attribution", _net3(), X40, G40)), ("attribution",))
add("figure_bytes", "fmt='gif'", lambda: _figure(
    "figure_bytes", _figure("plot_null_distribution", _sig(
        "permutation_test", _sig_report(), "demographic_parity_difference", permutations=19)),
    fmt="gif"), ("fmt",))




# ------------------------------------------------------------------- worst-group robustness
def _dro(pred, label, group, weight=None, train=True, **kw):
    import mxnet as mx

    from mxfair.loss import GroupDROLoss

    loss = GroupDROLoss(2, **kw)
    args = (pred, label, group) + ((weight,) if weight is not None else ())
    with mx.autograd.record(train_mode=train):
        out = loss(*args)
    return out.asnumpy(), loss.group_weights


_DRO = "GroupDROLoss"
add(_DRO, "group ids coded 1/2 for num_groups=2", lambda: _dro(_nd(L8), _nd(Y8), _nd(G8 + 1)),
    ("group",))
add(_DRO, "NaN group id", lambda: _dro(_nd(L8), _nd(Y8), _nd(with_value(G8, 0, NAN))),
    ("group",))
add(_DRO, "label 2 for a binary task", lambda: _dro(_nd(L8), _nd(with_value(Y8, 0, 2)),
                                                     _nd(G8)), ("label",))
add(_DRO, "string group ids (NumPy)", lambda: _dro(_nd(L8), _nd(Y8), _STR_G), ("group",))
add(_DRO, "NumPy inputs", lambda: _dro(L8, Y8.astype(np.float32), G8.astype(np.float32)),
    ("pred",))
add(_DRO, "float64 predictions", lambda: _dro(_nd(L8, "float64"), _nd(Y8), _nd(G8)),
    ("pred",))
add(_DRO, "(N, 10) scores for num_classes=2", lambda: _dro(_nd(np.zeros((8, 10))), _nd(Y8),
                                                             _nd(G8)), ("num_classes",))
add(_DRO, "group of another length", lambda: _dro(_nd(L8), _nd(Y8), _nd(G8[:6])), ("group",))
add(_DRO, "empty batch", lambda: _dro(_nd(L8[:0]), _nd(Y8[:0]), _nd(G8[:0])), ("pred",))
add(_DRO, "NaN sample_weight", lambda: _dro(_nd(L8), _nd(Y8), _nd(G8),
                                            _nd(with_value(np.ones(8), 0, NAN))),
    ("sample_weight",))
add(_DRO, "logits with from_logits=False", lambda: _dro(_nd(L8 * 3), _nd(Y8), _nd(G8),
                                                        from_logits=False), ("from_logits",))
add(_DRO, "NaN score (a diverged net)", lambda: _dro(_nd(with_value(L8, 2, NAN)), _nd(Y8),
                                                     _nd(G8)),
    marks_invalid=lambda r: bool(np.isnan(r[0][2]) and np.isfinite(r[1]).all()))
add(_DRO, "step_size=0", lambda: _call("loss.GroupDROLoss", 2, step_size=0.0), ("step_size",))
add(_DRO, "adjustment without group_counts",
    lambda: _call("loss.GroupDROLoss", 2, adjustment=1.0), ("group_counts",))
add("loss.group_counts", "group id out of range",
    lambda: _call("loss.group_counts", G8 + 1, num_groups=2), ("groups",))
add("loss.group_counts", "string group ids", lambda: _call("loss.group_counts", _STR_G,
                                                            num_groups=2), ("groups",))
add("loss.cross_groups", "lengths differ",
    lambda: _call("loss.cross_groups", Y8, G8[:6], num_attributes=2), ("labels", "attributes"))
add("loss.cross_groups", "attribute out of range",
    lambda: _call("loss.cross_groups", Y8, G8 + 1, num_attributes=2), ("attributes",))
add("loss.cross_groups", "NaN label",
    lambda: _call("loss.cross_groups", with_value(Y8, 0, NAN), G8, num_attributes=2),
    ("labels",))


def _arl(pred, label, weights=None, **kw):
    from mxfair.loss import ARLLoss

    loss = ARLLoss(**kw)
    return loss(pred, label, *(() if weights is None else (weights,))).asnumpy()


def _arl_adversary(features, label):
    import mxnet as mx

    from mxfair.loss import ARLAdversary

    adv = ARLAdversary()
    adv.initialize(ctx=mx.cpu())
    return adv(features, label).asnumpy()


add("ARLLoss", "label 2 for a binary task", lambda: _arl(_nd(L8), _nd(with_value(Y8, 0, 2))),
    ("label",))
add("ARLLoss", "NumPy inputs", lambda: _arl(L8, Y8), ("pred",))
add("ARLLoss", "logits with from_logits=False",
    lambda: _arl(_nd(L8 * 3), _nd(Y8), from_logits=False), ("from_logits",))
add("ARLLoss", "weights of another length", lambda: _arl(_nd(L8), _nd(Y8), _nd(np.ones(5))),
    ("weights",))
add("ARLLoss", "empty batch", lambda: _arl(_nd(L8[:0]), _nd(Y8[:0])), ("pred",))
add("ARLAdversary", "string labels", lambda: _arl_adversary(_nd(np.zeros((8, 3))),
                                                            np.where(Y8 == 0, "n", "y")),
    ("label",))
add("ARLAdversary", "label 0.5", lambda: _arl_adversary(_nd(np.zeros((8, 3))),
                                                        _nd(with_value(Y8, 0, 0.5))),
    ("label",))
add("ARLAdversary", "hidden_units=-1", lambda: _call("loss.ARLAdversary", hidden_units=-1),
    ("hidden_units",))


def _nan_net():
    from mxnet import gluon

    return gluon.nn.HybridLambda(lambda F, x: F.sum(x, axis=1, keepdims=True) * NAN)


def _error_set(net, X=None, y=Y8, **kw):
    from mxnet import gluon

    from mxfair.data import error_set

    X = np.ones((8, 2), np.float32) if X is None else X
    return error_set(net, gluon.data.ArrayDataset(X, y), **kw)


add("data.misclassified", "NaN score", lambda: _call("data.misclassified",
                                                     with_value(L8, 0, NAN), Y8), ("scores",))
add("data.misclassified", "label 2 for binary scores",
    lambda: _call("data.misclassified", L8, with_value(Y8, 0, 2)), ("labels",))
add("data.misclassified", "logits with from_logits=False",
    lambda: _call("data.misclassified", L8 * 3, Y8, from_logits=False), ("from_logits",))
add("data.misclassified", "lengths differ", lambda: _call("data.misclassified", L8, Y8[:5]),
    ("scores", "labels"))
add("data.misclassified", "empty input", lambda: _call("data.misclassified", L8[:0], Y8[:0]),
    ("scores",))
add("data.misclassified", "string labels",
    lambda: _call("data.misclassified", L8, np.where(Y8 == 0, "n", "y")), ("labels",))
add("data.error_set", "a net that outputs NaN", lambda: _error_set(_nan_net()), ("scores",))
add("data.error_set", "label 2 in the dataset",
    lambda: _error_set(_nan_net(), y=with_value(Y8, 0, 2)), ("labels", "scores"))
add("data.jtt_weights", "up_weight=0", lambda: _call("data.jtt_weights", Y8, up_weight=0.0),
    ("up_weight",))
add("data.jtt_weights", "errors coded 0/2", lambda: _call("data.jtt_weights", Y8 * 2,
                                                          up_weight=5.0), ("errors",))
add("data.JTTSampler", "string errors",
    lambda: _call("data.JTTSampler", np.where(Y8 == 0, "n", "y"), 5.0), ("errors",))
add("data.JTTSampler", "labels of another length",
    lambda: _call("data.JTTSampler", Y8, 5.0, labels=Y8[:5]), ("labels", "errors"))
add("data.JTTSampler", "NaN up_weight", lambda: _call("data.JTTSampler", Y8, NAN),
    ("up_weight",))
add("datasets.SpuriousDigits", "split='dev'", lambda: _call("datasets.SpuriousDigits", "dev"),
    ("split",))
add("datasets.SpuriousDigits", "correlation=1.5",
    lambda: _call("datasets.SpuriousDigits", "train", correlation=1.5), ("correlation",))


def _di_loss(pred, label, domain):
    from mxfair.nn import DomainIndependentLoss

    return DomainIndependentLoss(2, 2)(pred, label, domain).asnumpy()


_Z8 = np.zeros((8, 2, 1), np.float32)  # one logit per domain head of a binary task
add("nn.DomainIndependentLoss", "domain id 2 for num_domains=2",
    lambda: _di_loss(_nd(_Z8), _nd(Y8), _nd(G8 * 2)), ("domain",))
add("nn.DomainIndependentLoss", "string domains", lambda: _di_loss(_nd(_Z8), _nd(Y8), _STR_G),
    ("domain",))
add("nn.DomainIndependentLoss", "NumPy inputs", lambda: _di_loss(_Z8, Y8, G8), ("pred",))
add("nn.DomainIndependentLoss", "(N, K) scores without the domain axis",
    lambda: _di_loss(_nd(np.zeros((8, 1))), _nd(Y8), _nd(G8)), ("pred",))
add("nn.CombineDomains", "combine='max'", lambda: _call("nn.CombineDomains", 2, combine="max"),
    ("combine",))
add("nn.CombineDomains", "log_prior of the wrong shape",
    lambda: _call("nn.CombineDomains", 3, log_prior=np.zeros((2, 2))), ("log_prior",))
add("nn.DomainIndependentHead", "num_domains=0",
    lambda: _call("nn.DomainIndependentHead", 2, 0), ("num_domains",))
add("nn.domain_class_log_prior", "domain id out of range",
    lambda: _call("nn.domain_class_log_prior", Y8, G8 + 1, 2, 2), ("domains",))
add("nn.domain_class_log_prior", "NaN label",
    lambda: _call("nn.domain_class_log_prior", with_value(Y8, 0, NAN), G8, 2, 2), ("labels",))
add("nn.domain_independent_nets", "a function as the body",
    lambda: _call("nn.domain_independent_nets", lambda x: x, 2, 2), ("body",))


#: Public callables no probe targets, and why (the coverage test checks the rest).
EXEMPT = {
    "TabularSpec": "a frozen dataclass the loaders are described by",
    "Statistic": "abstract base class of the loss statistics",
    "Penalty": "abstract base class of the loss penalties",
    "PositiveRate": "a graph statistic without arguments; probed through the losses",
    "TruePositiveRate": "a graph statistic without arguments; probed through the losses",
    "FalsePositiveRate": "a graph statistic without arguments; probed through the losses",
    "AbsoluteGap": "a graph penalty without arguments; probed through the losses",
    "SquaredGap": "a graph penalty without arguments; probed through the losses",
    "apply_sample_weight": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "safe_denominator": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "rate_gaps": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "group_gaps": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "group_rates": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "group_totals": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "hard_predictions": "F-generic graph helper (runs in hybrid_forward, checks nothing)",
    "Split": "a frozen dataclass of arrays the loaders build",
    "cache_dir": "takes no argument",
    "cifar10_available": "a file-existence check",
    "progress_enabled": "reads a bool and an environment variable",
    "AuditReport": "the result dataclass audit() builds (its writers are probed)",
    "GapAttribution": "a result dataclass gap_attribution and shapley_gap build",
    "OcclusionMaps": "a result dataclass occlusion_maps builds",
    "PartialDependence": "a result dataclass partial_dependence builds",
    "FeatureGroups": "a result dataclass as_feature_groups builds",
    "GapTest": "a result dataclass permutation_test builds",
    "UnreliableGradientsError": "an exception",
    "CliError": "an exception (probed through auditing.cli.main)",
}


# -------------------------------------------------------------------------------- the runner
def _inside_mxfair(tb) -> bool:
    frames = traceback.extract_tb(tb)
    return bool(frames) and f"{os.sep}mxfair{os.sep}" in frames[-1].filename


def _same(result: Any, truth: Any) -> bool:
    try:
        if isinstance(truth, (tuple, bool)):
            return result == truth
        return bool(np.allclose(np.asarray(result, dtype=float), np.asarray(truth, dtype=float),
                                equal_nan=True, rtol=1e-5, atol=1e-6))
    except (TypeError, ValueError):
        return False


def _available(requires: Optional[str]) -> bool:
    if not requires:
        return True
    module, _, attr = requires.partition(":")
    try:
        mod = __import__(module, fromlist=[attr])
    except ImportError:
        return False
    return hasattr(mod, attr)


def classify(p: Probe) -> dict:
    """Run one probe in this process and classify it (the child's side of :func:`run`)."""
    if not _available(p.requires):
        return {"outcome": "absent", "detail": f"no {p.requires}"}
    logged: List[str] = []
    handle = logging.Logger.handle

    def recording(self, record):  # the Estimator's own logger too (not in the hierarchy)
        if record.levelno >= logging.WARNING:
            logged.append(record.getMessage())
        return handle(self, record)

    logging.Logger.handle = recording
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = p.fn()
        except Exception as err:  # noqa: BLE001 - every error is classified
            message = f"{type(err).__name__}: {err}"
            named = any(a in str(err) for a in p.args)
            mine = isinstance(err, (ValueError, TypeError, FileNotFoundError)) and \
                _inside_mxfair(err.__traceback__)
            return {"outcome": "clear" if mine and named else "deep", "detail": message[:300]}
    said = [str(w.message) for w in caught
            if issubclass(w.category, UserWarning) and "site-packages" not in w.filename]
    said += logged
    try:
        truth = p.truth() if callable(p.truth) else p.truth
    except Exception as err:  # noqa: BLE001 - a probe whose truth fails is reported, not run
        return {"outcome": "deep", "detail": f"the probe's truth failed: {err!r}"[:300]}
    if truth is not None and _same(result, truth):
        return {"outcome": "correct", "detail": _short(result)}
    if said:
        return {"outcome": "documented", "detail": said[0][:300]}
    if p.marks_invalid is not None:
        try:
            if p.marks_invalid(result):
                return {"outcome": "documented", "detail": "NaN for the invalid rows"}
        except Exception:  # noqa: BLE001 - a result of another shape is no marking
            pass
    return {"outcome": "silent", "detail": _short(result)}


def _short(result: Any) -> str:
    text = repr(result if not hasattr(result, "asnumpy") else result.asnumpy())
    return " ".join(text.split())[:200]


def preload() -> None:
    """Import MXNet, mxfair and what the probes use once, in the parent: every forked child
    starts with them loaded (an import costs seconds; a fork milliseconds)."""
    import mxnet as mx  # noqa: F401
    import mxnet.gluon.contrib.estimator  # noqa: F401
    import mxnet.gluon.data.vision.transforms  # noqa: F401
    import pandas  # noqa: F401
    import scipy.optimize  # noqa: F401
    import sklearn.compose  # noqa: F401
    import sklearn.datasets  # noqa: F401
    from mxnet import gluon

    import mxfair  # noqa: F401
    import mxfair.callbacks  # noqa: F401
    import mxfair.datasets  # noqa: F401
    import mxfair.distributed  # noqa: F401
    import mxfair.metrics  # noqa: F401
    import mxfair.postprocessing  # noqa: F401

    try:  # the plot extra
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        pass
    # first uses that initialise things lazily: a loader pass, a forward and a backward
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X16, Y16, G16), batch_size=8)
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=mx.cpu())
    for x, _, _ in loader:
        with mx.autograd.record():
            out = net(x)
        out.backward()
    mx.nd.waitall()


def run(probes: Sequence[Probe] = None, jobs: int = 2, timeout: float = 60.0) -> List[dict]:
    """Run every probe in a forked child process of its own, ``jobs`` at a time.

    Returns one dict per probe (in order): ``id``, ``entry``, ``case``, ``owner``, ``outcome``
    (one of :data:`CLASSES`) and ``detail`` (the message, warning or figure).
    """
    preload()
    probes = list(PROBES if probes is None else probes)
    results: List[Optional[dict]] = [None] * len(probes)
    running = {}  # pid -> (index, read fd, start time, chunks)
    todo = list(range(len(probes)))
    while todo or running:
        while todo and len(running) < jobs:
            i = todo.pop(0)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: run, report, leave without cleanup
                os.close(read)
                code = 0
                try:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, 1)
                    os.dup2(devnull, 2)
                    out = classify(probes[i])
                    os.write(write, json.dumps(out).encode())
                except BaseException:  # noqa: BLE001 - the child must exit whatever happens
                    code = 3
                finally:
                    os._exit(code)
            os.close(write)
            running[pid] = (i, read, time.time(), [])
        _reap(running, probes, results, timeout)
    return [dict(id=p.id, entry=p.entry, case=p.case, owner=p.owner, **r)
            for p, r in zip(probes, results)]


def _reap(running: dict, probes, results, timeout: float) -> None:
    """Wait until a child's pipe reaches its end (the child exited) or a child is past its
    time; record those children's results."""
    fds = {v[1]: pid for pid, v in running.items()}
    now = time.time()
    wait = max(0.0, min(v[2] for v in running.values()) + timeout - now)
    ready, _, _ = select.select(list(fds), [], [], wait)
    for fd in ready:
        pid = fds[fd]
        i, _, start, chunks = running[pid]
        chunk = os.read(fd, 65536)
        if chunk:
            chunks.append(chunk)
            continue
        _, status = os.waitpid(pid, 0)  # end of the pipe: the child has exited
        if os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            results[i] = {"outcome": "crash", "detail": f"killed by {sig}"}
        elif chunks:
            results[i] = json.loads(b"".join(chunks).decode())
            results[i]["seconds"] = round(time.time() - start, 3)
        else:
            results[i] = {"outcome": "crash",
                          "detail": f"exit status {os.WEXITSTATUS(status)}, no report"}
        os.close(fd)
        del running[pid]
    for pid in list(running):
        i, fd, start, _ = running[pid]
        if time.time() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            results[i] = {"outcome": "crash", "detail": f"hung: killed after {timeout:.0f} s"}
            os.close(fd)
            del running[pid]


def table(after: Sequence[dict], before: Optional[Sequence[dict]] = None) -> str:
    """A markdown table of the outcome counts (before and) after, and per owner."""
    def counts(rows):
        return [sum(r["outcome"] == c for r in rows) for c in CLASSES]

    lines = ["| | probes | " + " | ".join(CLASSES) + " |",
             "|---|---|" + "---|" * len(CLASSES)]
    rows = ([("before (main)", before)] if before is not None else []) + [
        ("after (this branch)", after)]
    for owner in ("stats", "loss"):
        mine = [r for r in after if r["owner"] == owner]
        if mine:
            rows.append((f"after, owner {owner} only", mine))
    for name, part in rows:
        lines.append(f"| {name} | {len(part)} | " + " | ".join(map(str, counts(part))) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """``python _fuzz_probes.py [--jobs N]``: run the probes here, JSON lines on stdout."""
    jobs = int(argv[argv.index("--jobs") + 1]) if "--jobs" in argv else 2
    out = io.StringIO()
    for row in run(jobs=jobs):
        out.write(json.dumps(row) + "\n")
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
