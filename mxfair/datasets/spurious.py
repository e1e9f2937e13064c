"""SpuriousDigits: an offline, Waterbirds-like spurious-correlation benchmark.

Waterbirds (Sagawa et al., ICLR 2020) pastes birds (label: waterbird or landbird) onto water or
land backgrounds (the spurious attribute) so that 95 % of the training birds sit on their own
kind of background, while validation and test have either background equally often for each
label. A model that reads the background is right on most training images and wrong on the
minority groups (a waterbird on land, a landbird on water); the figure reported is the
worst-group accuracy over the four (label, background) groups.

This stand-in builds the same protocol from scikit-learn's bundled handwritten digits
(``sklearn.datasets.load_digits``: 1,797 images of 8x8 pixels), so it runs without network:

- **label** ``y``: 0 for digits 0-4 ("low"), 1 for digits 5-9 ("high");
- **attribute** ``a`` (the background): 0 "warm" (hues around orange/yellow), 1 "cool" (hues
  around blue); the digit's stroke is a light colour of random hue, independent of both;
- **splits**: a fixed stratified split of the digits into train / validation / test
  (60 / 20 / 20 %, the same whatever ``seed``); in **train** the background matches the label
  (``a = y``) for a fraction ``correlation`` (default 0.95) of each label's images, chosen with
  ``RandomState(seed)``; in **validation** and **test** half of each label's images get each
  background;
- **groups** ``g = 2 * y + a`` (:func:`mxfair.loss.cross_groups`): 0 low/warm, 1 low/cool,
  2 high/warm, 3 high/cool; in training, groups 1 and 2 are the 5 % minorities.

Images are 32x32 RGB (the 8x8 digit upsampled by 4, nearest neighbour, plus uniform noise of at
most 8/255 per 4x4 block), like CIFAR-10, so the same CNN fits both. This is a stand-in for
Waterbirds' *protocol*, not for its images: the figures it gives are not Waterbirds figures.
"""
import colorsys
from typing import List, Literal

import mxnet as mx
import numpy as np
from mxnet import gluon

from .._validation import check_choice, check_number

__all__ = ["SpuriousDigits", "SPURIOUS_GROUP_NAMES"]

#: Names of the four (label, background) groups, in group-id order.
SPURIOUS_GROUP_NAMES = ["low/warm", "low/cool", "high/warm", "high/cool"]
_SPLIT_SEED = 0  # fixed: the three splits stay disjoint whatever ``seed`` is
_FRACTIONS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}
_WARM_HUES = (0.02, 0.17)  # red-orange to yellow
_COOL_HUES = (0.52, 0.67)  # cyan to blue


def _split_rows(labels: np.ndarray, split: str) -> np.ndarray:
    """Row indices of ``split``: a fixed stratified split per digit."""
    rng = np.random.RandomState(_SPLIT_SEED)
    lo, hi = _FRACTIONS[split]
    rows = []
    for k in range(10):
        idx = rng.permutation(np.flatnonzero(labels == k))
        rows.append(idx[int(round(lo * len(idx))):int(round(hi * len(idx)))])
    return np.sort(np.concatenate(rows))


def _backgrounds(y: np.ndarray, split: str, correlation: float,
                 rng: np.random.RandomState) -> np.ndarray:
    """The attribute of each row: in train ``a = y`` for ``correlation`` of each label."""
    a = np.zeros(len(y), dtype=np.int64)
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == label))
        share = correlation if split == "train" else 0.5
        m = int(np.floor(share * len(idx) + 0.5))  # rows whose background matches the label
        a[idx[:m]] = label
        a[idx[m:]] = 1 - label
    return a


def _render(intensity: np.ndarray, a: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Digits (M, 8, 8) in [0, 1] on their backgrounds: (M, 32, 32, 3) uint8."""
    m = len(a)
    bg_hue = np.where(a == 0, rng.uniform(*_WARM_HUES, size=m), rng.uniform(*_COOL_HUES, size=m))
    bg = np.array([colorsys.hsv_to_rgb(h, 0.75, 0.55) for h in bg_hue], np.float32)  # (M, 3)
    fg = np.array([colorsys.hsv_to_rgb(h, 0.15, 1.0) for h in rng.uniform(size=m)], np.float32)
    big = np.repeat(np.repeat(intensity, 4, axis=1), 4, axis=2)[..., None]  # (M, 32, 32, 1)
    rgb = big * fg[:, None, None, :] + (1.0 - big) * bg[:, None, None, :]
    noise = rng.randint(-8, 9, size=(m, 8, 8, 3)).astype(np.int16)  # one value per 4x4 block
    noise = np.repeat(np.repeat(noise, 4, axis=1), 4, axis=2)  # (M, 32, 32, 3)
    return np.clip(np.round(rgb * 255.0).astype(np.int16) + noise, 0, 255).astype(np.uint8)


class SpuriousDigits(gluon.data.Dataset):
    """Digits whose background colour predicts the label in training only (Waterbirds-like).

    See the module docstring for the protocol.

    Parameters
    ----------
    split : {"train", "val", "test"}
    correlation : float, default 0.95
        Share of each label's training images whose background matches the label, in
        [0.5, 1]; 0.5 removes the spurious correlation. Validation and test always use 0.5.
    seed : int, default 0
        Seeds the backgrounds, colours and noise (the split itself is fixed).

    Attributes
    ----------
    images : np.ndarray, uint8, shape (M, 32, 32, 3)
        HWC, as ``gluon.data.vision.CIFAR10`` holds them.
    labels : np.ndarray, int64, shape (M,)
        0 (digits 0-4) or 1 (digits 5-9).
    attributes : np.ndarray, int64, shape (M,)
        The background: 0 warm, 1 cool.
    groups : np.ndarray, int64, shape (M,)
        ``2 * label + attribute``, in ``[0, 4)``.
    digits : np.ndarray, int64, shape (M,)
        The digit shown (0-9).
    group_names : list of str
        :data:`SPURIOUS_GROUP_NAMES`.
    num_groups : int
        4.

    Items are ``(image, label, group)``: image an ``mx.nd.NDArray`` of uint8, shape
    (32, 32, 3), as ``gluon.data.vision.CIFAR10`` yields (so
    ``transform_first(transforms.ToTensor())`` works), label and group ints. A training loop
    of a method without group labels (ERM, JTT, ARL) simply does not read the group.

    Examples
    --------
    >>> train = SpuriousDigits("train")
    >>> len(train), np.bincount(train.groups).tolist()
    (1078, [514, 27, 27, 510])
    >>> test = SpuriousDigits("test")
    >>> np.bincount(test.groups).tolist()
    [90, 90, 89, 90]
    >>> from mxnet.gluon.data.vision import transforms
    >>> x, y, g = train.transform_first(transforms.ToTensor())[0]
    >>> x.shape, x.dtype
    ((3, 32, 32), <class 'numpy.float32'>)
    """

    def __init__(self, split: Literal["train", "val", "test"], *,
                 correlation: float = 0.95, seed: int = 0):
        super().__init__()
        check_choice("split", split, set(_FRACTIONS))
        correlation = check_number("correlation", correlation, low=0.5, high=1.0)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {seed!r}")
        from sklearn.datasets import load_digits

        digits = load_digits()
        rows = _split_rows(digits.target, split)
        # One generator per (seed, split) so the splits' draws never depend on each other.
        rng = np.random.RandomState([int(seed), list(_FRACTIONS).index(split)])
        self.split = split
        self.correlation = correlation if split == "train" else 0.5
        self.seed = int(seed)
        self.digits = digits.target[rows].astype(np.int64)
        self.labels = (self.digits >= 5).astype(np.int64)
        self.attributes = _backgrounds(self.labels, split, self.correlation, rng)
        self.groups = 2 * self.labels + self.attributes
        self.images = _render(digits.images[rows].astype(np.float32) / 16.0, self.attributes,
                              rng)
        self.group_names: List[str] = list(SPURIOUS_GROUP_NAMES)
        self.num_groups = 4
        self._data = mx.nd.array(self.images, dtype="uint8", ctx=mx.cpu())

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, idx):
        return self._data[idx], int(self.labels[idx]), int(self.groups[idx])

    def __repr__(self) -> str:
        counts = np.bincount(self.groups, minlength=4).tolist()
        return (f"SpuriousDigits(split={self.split!r}, n={len(self)}, "
                f"correlation={self.correlation:g}, group_counts={counts})")
