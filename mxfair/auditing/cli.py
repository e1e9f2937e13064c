"""``mxfair audit``: audit an exported model on a CSV file and write the report page.

Usage::

    python -m mxfair audit --model adult_net --data test.csv --label income --sensitive sex \\
        --out audit.html [--json audit.json] [--markdown audit.md]

The model is the pair ``<prefix>-symbol.json`` + ``<prefix>-<epoch>.params`` written by
``HybridBlock.export`` and loaded with ``gluon.SymbolBlock.imports``; it takes one input, the
feature columns of the CSV in order (already encoded as the model's input), and emits logits
(``--probabilities`` if it emits probabilities). The sensitive column(s) become group ids
through :class:`mxfair.GroupEncoder` (several columns: intersectional groups).
"""
import argparse
import json
import os
import sys
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import gluon

from ..groups import GroupEncoder
from .core import audit

__all__ = ["main", "CliError"]

PROG = "mxfair audit"


class CliError(Exception):
    """A problem with the command line's inputs, reported as one clear line (exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Audit an exported Gluon model on a CSV file: gaps between "
        "groups with intervals and p-values, what drives them, proxies, label bias.")
    p.add_argument("--model", required=True,
                   help="prefix of <prefix>-symbol.json and <prefix>-<epoch>.params")
    p.add_argument("--epoch", type=int, default=0, help="epoch of the params file (default 0)")
    p.add_argument("--data", required=True, help="CSV file with features, label, sensitive")
    p.add_argument("--label", required=True, help="the label column")
    p.add_argument("--sensitive", required=True, nargs="+", help="sensitive column(s)")
    p.add_argument("--positive", default=None,
                   help="the positive label value (needed unless the labels are 0/1)")
    p.add_argument("--features", nargs="+", default=None,
                   help="feature columns in the model's input order (default: every other "
                        "column, in file order)")
    p.add_argument("--drop", nargs="+", default=[], help="columns that are not features")
    p.add_argument("--group-sep", default=None,
                   help="report one-hot columns named <column><sep><value> as one feature")
    p.add_argument("--train-data", default=None,
                   help="CSV of the training data (label and sensitive columns) for label bias")
    p.add_argument("--probabilities", action="store_true",
                   help="the model emits probabilities (default: logits)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--permutations", type=int, default=10000)
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--no-attribution", action="store_true", help="skip the gap attribution")
    p.add_argument("--input-name", default=None, help="the model's input (default: detected)")
    p.add_argument("--ctx", default="cpu", help="cpu, cpu:1, gpu:0 ... (default cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--title", default=None)
    p.add_argument("--out", default=None, help="HTML page (default <data>-audit.html)")
    p.add_argument("--json", default=None, help="also write the report as JSON")
    p.add_argument("--markdown", default=None, help="also write the report as Markdown")
    return p


def _context(text: str):
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
        raise CliError(f"--ctx must be cpu, cpu:N, gpu or gpu:N; got {text!r}")
    return getattr(mx, kind)(int(index or 0))


def _read_csv(path: str, what: str):
    import pandas as pd

    if not os.path.isfile(path):
        raise CliError(f"{what} file {path!r} does not exist")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise CliError(f"cannot read {what} file {path!r} as CSV: {err}") from None


def _check_columns(frame, columns: Sequence[str], what: str, path: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CliError(f"{what} column(s) {missing} not in {path}; its columns are "
                       f"{list(frame.columns)}")


def _labels(values, positive: Optional[str], path: str, column: str) -> np.ndarray:
    import pandas as pd

    if values.isna().any():
        raise CliError(f"label column {column!r} of {path} has {int(values.isna().sum())} "
                       "missing value(s)")
    if positive is not None:
        as_text = values.astype(str)
        if positive not in set(as_text):
            raise CliError(f"--positive {positive!r} is not a value of label column {column!r} "
                           f"(values: {sorted(set(as_text))[:10]})")
        return (as_text == positive).to_numpy().astype(np.int64)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or not set(numeric.unique()) <= {0, 1}:
        shown = sorted(map(str, values.unique()))[:10]
        raise CliError(f"label column {column!r} of {path} holds {shown}; the audit needs 0/1 "
                       "labels: pass --positive VALUE to name the positive one")
    return numeric.to_numpy().astype(np.int64)


def _feature_groups(names: List[str], sep: Optional[str]):
    if not sep:
        return None
    groups = {}
    for j, name in enumerate(names):
        head = name.split(sep, 1)[0] if sep in name else name
        groups.setdefault(head, []).append(j)
    return groups


def _model_inputs(symbol, params: dict) -> List[str]:
    known = {k.split(":", 1)[-1] for k in params}
    return [a for a in symbol.list_arguments() + symbol.list_auxiliary_states()
            if a not in known]


def _expected_width(symbol, params: dict, input_name: str) -> Optional[int]:
    """The input width the first fully connected layer reading the input takes, if any."""
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    source = next((i for i, n in enumerate(nodes) if n["op"] == "null"
                   and n["name"] == input_name), None)
    if source is None:
        return None
    for node in nodes:
        inputs = [i[0] for i in node.get("inputs", [])]
        if node["op"] == "FullyConnected" and inputs and inputs[0] == source:
            weight = nodes[inputs[1]]["name"]
            array = params.get(f"arg:{weight}", params.get(weight))
            return None if array is None else int(array.shape[1])
    return None


def _load_model(prefix: str, epoch: int, input_name: Optional[str], ctx):
    symbol_file = f"{prefix}-symbol.json"
    params_file = f"{prefix}-{epoch:04d}.params"
    for path in (symbol_file, params_file):
        if not os.path.isfile(path):
            raise CliError(f"model file {path!r} does not exist (--model is the prefix of "
                           f"<prefix>-symbol.json and <prefix>-{epoch:04d}.params)")
    try:
        symbol = mx.sym.load(symbol_file)
        params = mx.nd.load(params_file)
    except mx.base.MXNetError as err:
        raise CliError(f"cannot load the model {prefix!r}: {str(err).splitlines()[0]}") from None
    inputs = _model_inputs(symbol, params)
    if input_name is None:
        if len(inputs) != 1:
            raise CliError(f"the model takes {len(inputs)} inputs {inputs}; the audit feeds one "
                           "(the features): export the net without the group input, or pass "
                           "--input-name")
        input_name = inputs[0]
    elif input_name not in inputs:
        raise CliError(f"--input-name {input_name!r} is not an input of the model {inputs}")
    net = gluon.SymbolBlock.imports(symbol_file, [input_name], params_file, ctx=ctx)
    return net, _expected_width(symbol, params, input_name)


def _check_width(net, X: np.ndarray, expected: Optional[int], features: List[str], ctx):
    if expected is not None and expected != X.shape[1]:
        raise CliError(
            f"shape mismatch: the CSV gives {X.shape[1]} feature columns but the model's first "
            f"layer takes {expected} inputs (features: {features[:8]}"
            f"{' ...' if len(features) > 8 else ''}); select the model's input columns with "
            "--features or --drop"
        )
    try:
        out = net(mx.nd.array(X[:2], ctx=ctx))
        mx.nd.waitall()
    except mx.base.MXNetError as err:
        raise CliError(f"shape mismatch: the model refuses input of shape {(2, X.shape[1])}: "
                       f"{str(err).strip().splitlines()[-1][:300]}") from None
    if isinstance(out, (list, tuple)):
        raise CliError(f"the model returns {len(out)} outputs; the audit needs one (scores)")


def run(args: argparse.Namespace):
    """Do the audit of the parsed command line; returns the AuditReport."""
    ctx = _context(args.ctx)
    frame = _read_csv(args.data, "data")
    _check_columns(frame, [args.label] + list(args.sensitive), "label/sensitive", args.data)
    excluded = {args.label, *args.sensitive, *args.drop}
    _check_columns(frame, args.drop, "--drop", args.data)
    if args.features is not None:
        _check_columns(frame, args.features, "feature", args.data)
        features = list(args.features)
    else:
        features = [c for c in frame.columns if c not in excluded]
    if not features:
        raise CliError(f"no feature columns left in {args.data}")
    text = [c for c in features if not np.issubdtype(frame[c].dtype, np.number)]
    if text:
        raise CliError(f"feature column(s) {text[:8]} are not numeric; the model takes numbers: "
                       "encode them as at training time, or --drop them")
    X = frame[features].to_numpy(dtype=np.float32)
    if not np.all(np.isfinite(X)):
        bad = [c for c in features if not np.all(np.isfinite(frame[c].to_numpy(float)))]
        raise CliError(f"feature column(s) {bad[:8]} hold missing or infinite values")
    y = _labels(frame[args.label], args.positive, args.data, args.label)
    encoder = GroupEncoder()

    def sensitive(table):  # one column: bare values as group names ("Female"), as the loaders
        cols = list(args.sensitive)
        return table[cols[0]].to_numpy() if len(cols) == 1 else table[cols]

    try:
        groups = encoder.fit_transform(sensitive(frame))
    except (ValueError, TypeError) as err:
        raise CliError(f"sensitive column(s) {list(args.sensitive)}: {err}") from None
    if encoder.num_groups_ < 2:
        raise CliError(f"the sensitive column(s) {list(args.sensitive)} of {args.data} hold a "
                       f"single group ({encoder.group_names_[0]}); an audit compares groups")
    net, expected = _load_model(args.model, args.epoch, args.input_name, ctx)
    _check_width(net, X, expected, features, ctx)
    train = None
    if args.train_data:
        tframe = _read_csv(args.train_data, "training data")
        _check_columns(tframe, [args.label] + list(args.sensitive), "label/sensitive",
                       args.train_data)
        try:
            tgroups = encoder.transform(sensitive(tframe))
        except ValueError as err:
            raise CliError(f"training data: {err}") from None
        train = (_labels(tframe[args.label], args.positive, args.train_data, args.label),
                 tgroups)
    return audit(
        net, (X, y, groups), train_data=train, num_groups=encoder.num_groups_,
        group_names=list(encoder.group_names_), from_logits=not args.probabilities,
        threshold=args.threshold, feature_names=features,
        feature_groups=_feature_groups(features, args.group_sep),
        permutations=args.permutations, bootstrap=args.bootstrap,
        attribution=not args.no_attribution, seed=args.seed, ctx=ctx,
        title=args.title or f"Fairness audit of {os.path.basename(args.model)} on "
                            f"{os.path.basename(args.data)}",
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``mxfair audit``; returns the exit code (0, or 2 on bad inputs)."""
    args = _parser().parse_args(argv)
    try:
        report = run(args)
    except CliError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    out = args.out or os.path.splitext(args.data)[0] + "-audit.html"
    report.to_html(out)
    written = [out]
    if args.json:
        report.to_json(args.json)
        written.append(args.json)
    if args.markdown:
        report.to_markdown(args.markdown)
        written.append(args.markdown)
    print(report.title)
    for line in report.findings():
        print(f"- {line}")
    print(f"wrote {', '.join(written)}")
    return 0
