"""FairnessMonitor: per-epoch group-fairness validation for a plain Gluon training loop.

At the end of an epoch, :meth:`FairnessMonitor.evaluate` runs the net over a validation
``DataLoader`` of ``(x, y, group)`` batches, accumulates :class:`mxfair.metrics.GroupStats` on the
device (one host synchronisation per epoch, when the report is made), appends one record to
:attr:`FairnessMonitor.history` and logs one line through the ``"mxfair"`` logger.

A record holds the headline figures of :meth:`FairnessReport.summary` (accuracy, balanced
accuracy, demographic-parity, equalized-odds and equal-opportunity gaps, worst-group accuracy,
and with ``bootstrap=R`` their 95 % intervals as ``<name>_lo`` / ``<name>_hi``), the per-group
rates as ``<rate>[<group name>]`` (with their intervals when bootstrapped), the number of
validation rows, the epoch and the seconds the pass took; and what the fairness handlers need to
tell a useful model from a trivial one: ``majority_rate`` (the share of the most frequent label)
and ``predicted_classes`` (how many classes the net predicted for at least one row).

The net's output follows the package convention: logits by default (``from_logits=True``), as a
Gluon ``Dense(1)`` net trained with ``SigmoidBinaryCrossEntropyLoss`` emits them.
"""
import json
import logging
import os
import sys
import time
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import mxnet as mx
import numpy as np

from .._validation import check_positive_int, check_pred_columns, check_seed
from ..distributed import rank_and_size
from ..metrics.report import FairnessReport, UndefinedRateWarning
from ..metrics.stats import GroupStats

__all__ = ["FairnessMonitor", "PROGRESS_ENV", "GROUP_RATES", "progress_enabled"]

#: Environment variable for the progress bars: ``0``/``false``/``no``/``off`` turns every mxfair
#: bar off, ``1``/``true``/``yes``/``on`` shows them even when the output is not a terminal.
PROGRESS_ENV = "MXFAIR_PROGRESS"

#: Per-group rates copied into each history record, as ``<rate>[<group name>]``.
GROUP_RATES = ("count", "selection_rate", "true_positive_rate", "false_positive_rate",
               "accuracy")

# Short names for the log line, in the order shown.
_LOG_NAMES = (
    ("accuracy", "acc"),
    ("balanced_accuracy", "bal_acc"),
    ("auc", "auc"),
    ("demographic_parity_difference", "dp_diff"),
    ("equalized_odds_difference", "eo_diff"),
    ("equal_opportunity_difference", "eop_diff"),
    ("worst_group_accuracy", "worst_acc"),
)

BAD_BATCH = (
    "validation batches must be (x, y, group) or (x, y, group, sample_weight), got a batch of "
    "{n} element(s)"
)
EMPTY_HISTORY = "the history is empty: call evaluate() at least once"
NO_VALIDATION_ROWS = "val_data yielded no rows: there is nothing to validate"
SEVERAL_OUTPUTS = (
    "the net returned {n} outputs; FairnessMonitor needs one array of scores per batch, shape "
    "(N,), (N, 1) or (N, num_classes): validate a block that returns the scores only"
)

logger = logging.getLogger("mxfair")


def _interactive() -> bool:
    """True when the bars' stream (stderr) is a terminal, or in a Jupyter kernel (widgets)."""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a replaced or closed stream
        pass
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_enabled(*, progress: bool = True) -> bool:
    """Whether a progress bar should be shown.

    ``progress`` must be true, and ``$MXFAIR_PROGRESS`` decides when set (off: ``0``,
    ``false``, ``no``, ``off``; on: ``1``, ``true``, ``yes``, ``on``); otherwise bars are shown
    only when the output is a terminal (or a Jupyter notebook), so logs and CI output get none.

    Examples
    --------
    >>> import os
    >>> os.environ["MXFAIR_PROGRESS"] = "0"
    >>> progress_enabled(progress=True)
    False
    >>> os.environ["MXFAIR_PROGRESS"] = "1"
    >>> progress_enabled(progress=True), progress_enabled(progress=False)
    (True, False)
    >>> del os.environ["MXFAIR_PROGRESS"]
    """
    if not progress:
        return False
    env = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    return _interactive()


def _as_ctx_list(ctx) -> Optional[List[mx.Context]]:
    if ctx is None:
        return None
    if isinstance(ctx, mx.Context):
        return [ctx]
    if isinstance(ctx, (list, tuple)) and ctx and all(isinstance(c, mx.Context) for c in ctx):
        return list(ctx)
    raise TypeError(f"ctx must be a Context or a non-empty list of Contexts, got {ctx!r}")


def _net_contexts(net: mx.gluon.Block) -> List[mx.Context]:
    """The contexts the net's parameters live on (the current context if it has none yet)."""
    for param in net.collect_params().values():
        try:
            return list(param.list_ctx())
        except RuntimeError:  # deferred initialisation: not allocated yet
            continue
    return [mx.current_context()]


class FairnessMonitor:
    """Group-fairness validation at the end of each epoch of a plain Gluon loop.

    Parameters
    ----------
    val_data : iterable of batches
        A ``gluon.data.DataLoader`` (or any re-iterable) yielding ``(x, y, group)`` or
        ``(x, y, group, sample_weight)``; ``y`` and ``group`` of shape (N,).
    num_groups : int
        Number of groups G; group ids are integers in ``[0, G)``.
    ctx : Context or list of Context, optional
        Where the net runs; a list splits each batch over the devices (one ``GroupStats`` per
        device, merged before the report). Default: the contexts of the net's parameters.
    threshold : float, default 0.5
        Decision threshold on the positive-class probability (binary tasks).
    from_logits : bool, default True
        The net outputs logits (a ``Dense(1)`` head, or unnormalised (N, K) scores): a sigmoid
        (shape (N,) or (N, 1)) or softmax (N, K) is applied. False: the net outputs
        probabilities in [0, 1] (rows outside are counted as invalid and warned about).
    bootstrap : int, default 0
        Number of bootstrap replicates accumulated in the same pass; > 0 adds 95 % intervals
        (``<name>_lo``, ``<name>_hi``) to every record.
    seed : int, sequence of int or None, default 0
        Seed of the bootstrap weights (the same weights every epoch, so epochs compare fairly;
        device d of worker r uses ``seed + 1000 * r + d``, or ``[*seed, r, d]`` for a
        sequence); anything ``numpy.random.RandomState`` accepts.
    num_bins : int, default 0
        When > 0, score histograms are kept (AUC per group, and ``last_stats`` can feed
        ``ThresholdOptimizer.fit_stats``). Binary tasks only.
    num_classes : int, default 2
    group_names : list of str, optional
        Names of the groups in records, logs and plots; ``"0"``, ``"1"``, ... by default.
    kvstore : KVStore or str, optional
        For data-parallel validation across workers: the statistics are summed over workers in
        :meth:`_reduce` before the report. ``None``: this process only.
    progress : bool, default True
        Show tqdm bars over epochs and batches when the output is a terminal (or a notebook);
        ``$MXFAIR_PROGRESS`` overrides (see :func:`progress_enabled`).
    epochs : int, optional
        Total number of epochs, for the epoch bar.
    log_level : int, default logging.INFO
        Level of the per-epoch line on the ``"mxfair"`` logger.

    Attributes
    ----------
    history : list of dict
        One record per call of :meth:`evaluate`.
    last_report : FairnessReport or None
    last_stats : GroupStats or None
        The (reduced) statistics of the last evaluation.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> x = mx.nd.random.normal(shape=(64, 3))
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> g = (x[:, 1] > 0).astype("int64")
    >>> val = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y, g), batch_size=16)
    >>> net = gluon.nn.Dense(1)
    >>> net.initialize()
    >>> monitor = FairnessMonitor(val, num_groups=2, progress=False)  # the net emits logits
    >>> report = monitor.evaluate(net, epoch=0)
    >>> sorted(monitor.history[0])[:3]
    ['accuracy', 'accuracy[0]', 'accuracy[1]']
    >>> monitor.history[0]["count[0]"] + monitor.history[0]["count[1]"]
    64.0
    """

    def __init__(
        self,
        val_data: Iterable,
        num_groups: int,
        *,
        ctx: Optional[Union[mx.Context, Sequence[mx.Context]]] = None,
        threshold: float = 0.5,
        bootstrap: int = 0,
        seed: Any = 0,
        from_logits: bool = True,
        num_bins: int = 0,
        num_classes: int = 2,
        group_names: Optional[Sequence[str]] = None,
        kvstore: Any = None,
        progress: bool = True,
        epochs: Optional[int] = None,
        log_level: int = logging.INFO,
    ):
        if val_data is None or not hasattr(val_data, "__iter__"):
            raise TypeError(f"val_data must be an iterable of batches (a DataLoader), got "
                            f"{val_data!r}")
        self.val_data = val_data
        self.num_groups = check_positive_int("num_groups", num_groups)
        self.ctx = _as_ctx_list(ctx)
        if epochs is not None:
            epochs = check_positive_int("epochs", epochs)
        self.epochs = epochs
        seed = check_seed("seed", seed)
        # GroupStats checks threshold, num_bins, bootstrap, num_classes and group_names.
        self._template = GroupStats(
            num_groups, num_classes=num_classes, threshold=threshold, num_bins=num_bins,
            bootstrap=bootstrap, seed=seed, from_logits=from_logits, group_names=group_names,
        )
        self.group_names = list(self._template.group_names)
        self.kvstore = kvstore
        self.progress = bool(progress)
        self.log_level = int(log_level)
        self.history: List[Dict[str, float]] = []
        self.last_report: Optional[FairnessReport] = None
        self.last_stats: Optional[GroupStats] = None
        self._epoch_bar = None

    # ------------------------------------------------------------- evaluation
    def _new_stats(self, ctx: mx.Context, device: int = 0) -> GroupStats:
        return self._template.like(ctx=ctx, seed=self._replicate_seed(device))

    def _replicate_seed(self, device: int) -> Optional[int]:
        """Seed of the bootstrap weights of one device's shard: distinct per device and per
        worker (the same seed would give every shard the same Poisson weights)."""
        seed = self._template.seed
        if seed is None or not self._template.bootstrap:
            return seed
        rank = 0 if self.kvstore is None else rank_and_size(self.kvstore)[0]
        if isinstance(seed, list):
            return seed + [rank, device]
        return int(seed) + 1000 * rank + device

    def collect(self, net: mx.gluon.Block) -> GroupStats:
        """Run ``net`` over the validation data and return the (reduced) statistics.

        No host synchronisation happens here except when the bar is shown (none per batch):
        predictions stay on the device and only sums are kept.

        Parameters
        ----------
        net : gluon.Block
            Maps ``x`` (N, ...) to scores (N,), (N, 1) or (N, K).

        Returns
        -------
        GroupStats
        """
        ctxs = self.ctx or _net_contexts(net)
        per_device = [self._new_stats(c, i) for i, c in enumerate(ctxs)]
        batches = self._progress_batches()
        rows = 0
        try:
            for batch in batches:
                if not isinstance(batch, (list, tuple)) or len(batch) not in (3, 4):
                    n = len(batch) if isinstance(batch, (list, tuple)) else 1
                    raise ValueError(BAD_BATCH.format(n=n))
                # A last batch with fewer rows than devices goes to the first k devices only:
                # split_data always returns one slice per device, empty ones included, and an
                # empty slice cannot be copied to a device.
                k = min(len(ctxs), int(batch[0].shape[0]))
                rows += int(batch[0].shape[0])
                if k == 0:
                    continue
                shards = [
                    mx.gluon.utils.split_and_load(part, ctxs[:k], even_split=False)
                    for part in batch
                ]
                for i, stats in enumerate(per_device[:k]):
                    x, y, g = shards[0][i], shards[1][i], shards[2][i]
                    w = shards[3][i] if len(shards) == 4 else None
                    out = net(x)
                    if isinstance(out, (list, tuple)):
                        raise ValueError(SEVERAL_OUTPUTS.format(n=len(out)))
                    check_pred_columns("the net's output", out.shape, self._template.num_classes)
                    stats.update(y, out, g, sample_weight=w)
        finally:
            if hasattr(batches, "close"):
                batches.close()
        if rows == 0:
            raise ValueError(NO_VALIDATION_ROWS)
        stats = per_device[0]
        for other in per_device[1:]:
            stats.merge(other)
        return self._reduce(stats)

    def _reduce(self, stats: GroupStats) -> GroupStats:
        """Combine the statistics of every worker: the one place where a kvstore sums them.

        With ``kvstore=None`` the statistics are returned unchanged. Otherwise every additive
        array of ``stats`` (``GroupStats.storage()``) is summed over the workers by
        ``stats.allreduce(kvstore)``, so that every worker reports the figures of the whole
        validation set.
        """
        if self.kvstore is None:
            return stats
        return stats.allreduce(self.kvstore)

    def evaluate(self, net: mx.gluon.Block, *, epoch: Optional[int] = None,
                 log: Optional[logging.Logger] = None) -> FairnessReport:
        """Validate ``net`` once: statistics, report, one history record and one log line.

        Parameters
        ----------
        net : gluon.Block
        epoch : int, optional
            Stored in the record; by default the number of earlier evaluations.
        log : logging.Logger, optional
            Where the line and the report's warnings go: the ``"mxfair"`` logger by default;
            :class:`~mxfair.callbacks.FairnessValidationHandler` passes the Estimator's
            logger, so the line shows in ``est.fit``'s own output.

        Returns
        -------
        FairnessReport
        """
        log = logger if log is None else log
        start = time.time()
        stats = self.collect(net)
        epoch = len(self.history) if epoch is None else int(epoch)
        # Every warning of the report (invalid rows, undefined rates, a from_logits hint)
        # goes to the log as well, where the epoch's line is; undefined rates are logged only
        # (they are expected per epoch), the others are also warned again.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = stats.report()
            record = self._record(report, epoch)
            record["num_invalid"] = float(stats.num_invalid)
        seen = set()
        for w in caught:
            message = str(w.message)
            if message in seen:
                continue
            seen.add(message)
            log.warning("epoch %s: %s", epoch, message)
            if not issubclass(w.category, UndefinedRateWarning):
                warnings.warn(message, w.category, stacklevel=3)
        record["seconds"] = time.time() - start
        self.history.append(record)
        self.last_report, self.last_stats = report, stats
        log.log(self.log_level, self.format_record(record))
        self._advance_epoch_bar(record)
        return report

    # ---------------------------------------------------------------- records
    def _record(self, report: FairnessReport, epoch: int) -> Dict[str, float]:
        record: Dict[str, float] = {"epoch": epoch}
        # Undefined per-group rates (a group without positives, say) are NaN in the record and
        # logged once by _evaluate; gaps leave those groups out.
        record.update({k: float(v) for k, v in report.summary().items()})
        record["count"] = float(report.overall["count"])
        # What tells a useful model from a trivial one (the fairness handlers read these).
        confusion = report.counts.sum(axis=0)  # (K, K): label, predicted class
        labels, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
        total = labels.sum()
        record["majority_rate"] = float(labels.max() / total) if total > 0 else float("nan")
        record["predicted_classes"] = float(np.count_nonzero(predicted > 0))
        bootstrapped = report.boot_counts is not None
        for rate in GROUP_RATES:
            values = report.rate(rate, warn=False)
            if values.ndim != 1:  # multi-class one-vs-rest rates: see last_report
                continue
            bounds = report.interval(rate) if bootstrapped and rate != "count" else None
            for g, name in enumerate(self.group_names):
                record[f"{rate}[{name}]"] = float(values[g])
                if bounds is not None:
                    record[f"{rate}[{name}]_lo"] = float(bounds[g, 0])
                    record[f"{rate}[{name}]_hi"] = float(bounds[g, 1])
        return record

    @staticmethod
    def format_record(record: Dict[str, float]) -> str:
        """The one-line summary of a record that :meth:`evaluate` logs.

        Examples
        --------
        >>> FairnessMonitor.format_record({"epoch": 3, "accuracy": 0.8125, "count": 100.0,
        ...                                "equalized_odds_difference": 0.05,
        ...                                "equalized_odds_difference_lo": 0.01,
        ...                                "equalized_odds_difference_hi": 0.09})
        'epoch 3 | n=100 | acc 0.8125 | eo_diff 0.0500 [0.0100, 0.0900]'

        The worst-group accuracy names its group:

        >>> FairnessMonitor.format_record({"epoch": 0, "accuracy": 0.9,
        ...                                "worst_group_accuracy": 0.6,
        ...                                "accuracy[colour]": 0.6, "accuracy[grayscale]": 0.95})
        'epoch 0 | acc 0.9000 | worst_acc 0.6000 (colour)'
        """
        parts = [f"epoch {record.get('epoch', '?')}"]
        if "count" in record:
            parts.append(f"n={record['count']:g}")
        for key, short in _LOG_NAMES:
            if key not in record:
                continue
            text = f"{short} {record[key]:.4f}"
            if f"{key}_lo" in record:
                text += f" [{record[f'{key}_lo']:.4f}, {record[f'{key}_hi']:.4f}]"
            if key == "worst_group_accuracy":
                text += _worst_group_name(record)
            parts.append(text)
        if "seconds" in record:
            parts.append(f"{record['seconds']:.2f}s")
        return " | ".join(parts)

    # ---------------------------------------------------------------- outputs
    def to_pandas(self):
        """The history as a DataFrame, one row per evaluation, indexed by epoch."""
        import pandas as pd

        frame = pd.DataFrame(self.history)
        return frame.set_index("epoch") if "epoch" in frame else frame

    def to_csv(self, path: Union[str, os.PathLike]) -> None:
        """Write the history as CSV (one row per evaluation)."""
        if not self.history:
            raise ValueError(EMPTY_HISTORY)
        self.to_pandas().to_csv(path)

    def to_json(self, path: Union[str, os.PathLike]) -> None:
        """Write the history as a JSON list of records (NaN written as null)."""
        if not self.history:
            raise ValueError(EMPTY_HISTORY)
        clean = [{k: _nan_to_none(v) for k, v in r.items()} for r in self.history]
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"group_names": self.group_names, "history": clean}, f, indent=1)

    @staticmethod
    def read_json(path: Union[str, os.PathLike]) -> List[Dict[str, float]]:
        """Read a history written by :meth:`to_json` (null back to NaN)."""
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return [{k: (float("nan") if v is None else v) for k, v in r.items()}
                for r in data["history"]]

    def reset(self) -> None:
        """Forget the history (a new run with the same validation data)."""
        self.history = []
        self.last_report = self.last_stats = None
        self.close()

    # --------------------------------------------------------------- progress
    def _progress_batches(self):
        if not progress_enabled(progress=self.progress):
            return self.val_data
        from tqdm.auto import tqdm

        try:
            total = len(self.val_data)
        except TypeError:
            total = None
        return tqdm(self.val_data, total=total, desc="fairness validation", unit="batch",
                    leave=False, position=1 if self._epoch_bar is not None else 0)

    def _advance_epoch_bar(self, record: Dict[str, float]) -> None:
        if not progress_enabled(progress=self.progress):
            return
        if self._epoch_bar is None:
            from tqdm.auto import tqdm

            self._epoch_bar = tqdm(total=self.epochs, desc="epochs", unit="epoch", position=0)
        postfix = {short: f"{record[key]:.3f}" for key, short in _LOG_NAMES[:5]
                   if key in record and key not in ("balanced_accuracy", "auc")}
        self._epoch_bar.set_postfix(postfix, refresh=False)
        self._epoch_bar.update(1)
        if self.epochs is not None and self._epoch_bar.n >= self.epochs:
            self.close()

    def close(self) -> None:
        """Close the epoch progress bar (done by itself after ``epochs`` evaluations)."""
        if self._epoch_bar is not None:
            self._epoch_bar.close()
            self._epoch_bar = None

    def __repr__(self) -> str:
        t = self._template
        return (
            f"FairnessMonitor(num_groups={self.num_groups}, threshold={t.threshold}, "
            f"bootstrap={t.bootstrap}, num_bins={t.num_bins}, epochs_seen={len(self.history)})"
        )


def _worst_group_name(record: Dict[str, float]) -> str:
    """`` (name)`` of the group whose ``accuracy[name]`` is the worst-group accuracy, or ``""``."""
    target = record.get("worst_group_accuracy")
    for key, value in record.items():
        if key.startswith("accuracy[") and key.endswith("]") and value == target:
            return f" ({key[len('accuracy['):-1]})"
    return ""


def _nan_to_none(value: Any) -> Any:
    """JSON has no NaN: undefined figures are written as null."""
    return None if isinstance(value, float) and np.isnan(value) else value
