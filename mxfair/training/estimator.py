"""Training to a bound with ``mxnet.gluon.contrib.estimator.Estimator``.

:class:`BoundedTrainingHandler` plays the multiplier player and keeps the best iterate:
every ``update_every`` training batches it runs the net over the held-out slice
(:class:`~mxfair.callbacks.FairnessMonitor.collect`, statistics on the device), gives the
statistics to the loss's :meth:`~mxfair.training.BoundedFairLoss.update` (or a
:class:`~mxfair.training.BoundSchedule`), records the iterate in a
:class:`~mxfair.training.BestIterate`, and at the end of training loads the best iterate that
met the bound back into the net. Train with :class:`mxfair.callbacks.GroupBatchProcessor` so
that the loss receives the groups.
"""
from typing import Any, Dict, Iterable, Optional

import mxnet as mx
from mxnet.gluon.contrib.estimator.event_handler import BatchEnd, TrainBegin, TrainEnd

from .._validation import check_positive_int
from ..callbacks import FairnessMonitor
from .game import BoundSchedule
from .loss import BoundedFairLoss
from .selection import BestIterate

__all__ = ["BoundedTrainingHandler", "DEFAULT_UPDATES_PER_EPOCH", "update_interval"]

#: Multiplier updates per epoch when the interval is derived from the epoch's length.
DEFAULT_UPDATES_PER_EPOCH = 10


def update_interval(batches_per_epoch: int, *,
                    updates_per_epoch: int = DEFAULT_UPDATES_PER_EPOCH) -> int:
    """Batches between two multiplier updates: ``max(1, round(batches / updates))``.

    About ten updates per epoch: enough for the multipliers to follow the model within an
    epoch, while the held-out pass (a forward over the slice, no backward) costs a small share
    of the epoch's training time for a slice of a fifth of the training rows.

    Examples
    --------
    >>> update_interval(95), update_interval(3)
    (10, 1)
    """
    batches_per_epoch = check_positive_int("batches_per_epoch", batches_per_epoch)
    updates_per_epoch = check_positive_int("updates_per_epoch", updates_per_epoch)
    return max(1, int(round(batches_per_epoch / updates_per_epoch)))


class BoundedTrainingHandler(TrainBegin, BatchEnd, TrainEnd):
    """Estimator handler: multiplier updates from a held-out slice, best iterate at the end.

    Parameters
    ----------
    player : BoundedFairLoss or BoundSchedule
        Whose ``update(stats)`` takes the held-out statistics (the Estimator's loss, or the
        schedule of its ``lam``).
    slice_data : iterable of batches
        ``(x, y, group)`` batches of the held-out rows: the validation split, or a slice of
        the training rows (:func:`constraint_slice`); never trained on.
    update_every : int, optional
        Batches between updates; default :func:`update_interval` of ``len(train_data)``
        given as ``batches_per_epoch``, else 10.
    batches_per_epoch : int, optional
    restore_best : bool, default True
        Load the best iterate into the net at train end.
    keep_all : bool, default False
        Passed to :class:`BestIterate`.
    from_logits : bool, optional
        Whether the net outputs logits, for the slice's statistics; default: the loss's own
        setting (required with a :class:`BoundSchedule`).
    priority : float, default -950
        After the validation handlers (-1000, -999), before the fair checkpoint (-900).

    Attributes
    ----------
    best : BestIterate
    monitor : FairnessMonitor
        Its ``collect`` measures the slice (``from_logits`` and the class count follow the
        player's loss).

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> from mxfair.callbacks import GroupBatchProcessor
    >>> x = mx.nd.random.normal(shape=(96, 4))
    >>> y, g = (x[:, 0] > 0), (x[:, 1] > 0)
    >>> train = gluon.data.DataLoader(gluon.data.ArrayDataset(x[:64], y[:64], g[:64]),
    ...                               batch_size=16)
    >>> held = gluon.data.DataLoader(gluon.data.ArrayDataset(x[64:], y[64:], g[64:]),
    ...                              batch_size=32)
    >>> net = gluon.nn.Dense(1)
    >>> net.initialize()
    >>> loss_fn = BoundedFairLoss(num_groups=2, bound=0.1)
    >>> est = Estimator(net, loss_fn, trainer=gluon.Trainer(net.collect_params(), "adam"),
    ...                 batch_processor=GroupBatchProcessor())
    >>> est.logger.disabled = True
    >>> handler = BoundedTrainingHandler(loss_fn, held, update_every=2, restore_best=False)
    >>> est.fit(train, epochs=2, event_handlers=[handler])
    >>> len(handler.best.history), loss_fn.game.num_updates
    (4, 4)
    """

    def __init__(self, player: Any, slice_data: Iterable, *, update_every: Optional[int] = None,
                 batches_per_epoch: Optional[int] = None, restore_best: bool = True,
                 keep_all: bool = False, from_logits: Optional[bool] = None,
                 priority: float = -950):
        if not isinstance(player, (BoundedFairLoss, BoundSchedule)):
            raise TypeError(f"player must be a BoundedFairLoss or a BoundSchedule, got "
                            f"{player!r}")
        self.player = player
        rb = player.rate_bound
        if update_every is None:
            update_every = (update_interval(batches_per_epoch) if batches_per_epoch is not None
                            else DEFAULT_UPDATES_PER_EPOCH)
        self.update_every = check_positive_int("update_every", update_every)
        if from_logits is None:
            if not isinstance(player, BoundedFairLoss):
                raise ValueError("from_logits is required with a BoundSchedule: say whether "
                                 "the net outputs logits (True) or probabilities (False)")
            from_logits = player.from_logits
        self.monitor = FairnessMonitor(slice_data, rb.num_groups, num_classes=rb.num_classes,
                                       from_logits=from_logits, progress=False)
        self.best = BestIterate(player, keep_all=keep_all)
        self.restore_best = bool(restore_best)
        self.priority = priority
        self._batches = 0

    def train_begin(self, estimator, *args, **kwargs):
        self._batches = 0
        self.best.reset()
        if self.monitor.ctx is None:
            self.monitor.ctx = list(estimator.context)

    def batch_end(self, estimator, *args, **kwargs):
        self._batches += 1
        if self._batches % self.update_every == 0:
            self.step(estimator.net)
        return False

    def step(self, net: mx.gluon.Block) -> Dict[str, Any]:
        """Measure the slice, update the player, record the iterate; the iterate's record."""
        stats = self.monitor.collect(net)
        self.player.update(stats)
        self.best.consider(net, stats, step=self._batches)
        return self.best.history[-1]

    def train_end(self, estimator, *args, **kwargs):
        if self.restore_best and self.best.best is not None:
            self.best.restore(estimator.net)
