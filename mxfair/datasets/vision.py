"""CIFAR-10S: the colour/grayscale skew protocol of Wang et al. (CVPR 2020).

Wang, Qinami, Karakozis, Genova, Nair, Hata and Russakovsky, "Towards Fairness in Visual
Recognition: Effective Strategies for Bias Mitigation", CVPR 2020. In training, classes 0-4
are 95 % colour and 5 % grayscale and classes 5-9 the reverse; the test set is scored in both
domains (each test image once in colour, once in grayscale). The protected attribute is the
domain: 0 = colour, 1 = grayscale.

The real CIFAR-10 images are used when their files are on disk (or ``download=True``).
Without them (no network), a stand-in of the same protocol is built from scikit-learn's bundled
handwritten digits (``sklearn.datasets.load_digits``: 1,797 images of 8x8 pixels, 10 classes),
upsampled to 32x32 and colourised with a random hue per image so that colour and grayscale are
told apart. Its ``source`` is ``"digits-standin"``; its numbers are not CIFAR-10 numbers.
"""
import colorsys
import os
from typing import Any, List, Literal, Optional

import mxnet as mx
import numpy as np
from mxnet import base, gluon

from .._compat import dataset_arrays
from .._validation import check_choice, check_number, check_positive_int, check_seed

__all__ = ["CIFAR10S", "CIFAR10_CLASSES", "DOMAIN_NAMES", "cifar10_available"]

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]
DOMAIN_NAMES = ["colour", "grayscale"]
_CIFAR_FILES = ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]
_DIGITS_TEST_FRACTION = 0.25
_DIGITS_SPLIT_SEED = 0  # fixed: train and test stay disjoint whatever ``seed`` is
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601

NO_CIFAR = (
    "CIFAR-10 binary files {files} not found in {root}; pass download=True (needs network), "
    "put them there, or use source='digits' for the offline stand-in"
)


def _default_cifar_root() -> str:
    return os.path.join(base.data_dir(), "datasets", "cifar10")


def cifar10_available(*, root: Optional[str] = None) -> bool:
    """True when the six CIFAR-10 binary batch files are in ``root`` (MXNet's default root)."""
    root = root or _default_cifar_root()
    return all(os.path.isfile(os.path.join(root, f)) for f in _CIFAR_FILES)


def _load_cifar10(train: bool, root: Optional[str], download: bool):
    """CIFAR-10 through ``gluon.data.vision.CIFAR10``: images (N, 32, 32, 3) uint8, labels."""
    root = root or _default_cifar_root()
    if not download and not cifar10_available(root=root):
        missing = [f for f in _CIFAR_FILES if not os.path.isfile(os.path.join(root, f))]
        raise FileNotFoundError(NO_CIFAR.format(files=missing, root=root))
    images, labels = dataset_arrays(gluon.data.vision.CIFAR10(root=root, train=train))
    images = images.asnumpy() if hasattr(images, "asnumpy") else np.asarray(images)
    return images.astype(np.uint8), np.asarray(labels).astype(np.int64)


def _digits_standin(train: bool):
    """The offline stand-in: sklearn digits as colour images (N, 32, 32, 3) uint8, labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    intensity = digits.images.astype(np.float32) / 16.0  # (N, 8, 8) in [0, 1]
    labels = digits.target.astype(np.int64)
    rng = np.random.RandomState(_DIGITS_SPLIT_SEED)
    test = np.zeros(len(labels), dtype=bool)
    for k in range(10):  # a fixed stratified split
        idx = rng.permutation(np.flatnonzero(labels == k))
        test[idx[: int(round(_DIGITS_TEST_FRACTION * len(idx)))]] = True
    hues = rng.uniform(0.0, 1.0, size=len(labels))  # drawn for all, so a split never shifts
    keep = ~test if train else test
    intensity, labels, hues = intensity[keep], labels[keep], hues[keep]
    # nearest-neighbour upsampling 8x8 -> 32x32
    big = np.repeat(np.repeat(intensity, 4, axis=1), 4, axis=2)[..., None]  # (N, 32, 32, 1)
    fg = np.array([colorsys.hsv_to_rgb(h, 0.7, 1.0) for h in hues], np.float32)
    bg = np.array([colorsys.hsv_to_rgb((h + 0.5) % 1.0, 0.6, 0.3) for h in hues], np.float32)
    rgb = big * fg[:, None, None, :] + (1.0 - big) * bg[:, None, None, :]
    return np.round(rgb * 255.0).astype(np.uint8), labels


class CIFAR10S(gluon.data.Dataset):
    """CIFAR-10S: CIFAR-10 with a class-correlated colour/grayscale skew (Wang et al., 2020).

    Training set: every base image appears once; in each class ``k < 5`` exactly
    ``round(skew_minority * n_k)`` images (chosen with ``RandomState(seed)``) are grayscale,
    in each class ``k >= 5`` exactly that many are colour and the rest grayscale.
    Test set: every base image appears twice, first all in colour (items ``0..N-1``), then all in
    grayscale (items ``N..2N-1``).

    Parameters
    ----------
    train : bool, default True
    root : str, optional
        Folder of the CIFAR-10 binary files (MXNet's default ``$MXNET_HOME/datasets/cifar10``).
    source : {"auto", "cifar10", "digits"}, default "auto"
        ``"auto"`` uses CIFAR-10 when its files are on disk (or ``download=True``), else the
        digits stand-in.
    seed : int, sequence of int or None, default 0
        Seeds which images are grayscale and the subsample (anything
        ``numpy.random.RandomState`` accepts).
    subsample : int, optional
        Keep this many base images (chosen at random, seeded) before the protocol; a test set
        then has ``2 * subsample`` items.
    download : bool, default False
        Let ``gluon.data.vision.CIFAR10`` download the files (needs network).
    skew_minority : float, default 0.05
        The minority-domain share of each class in training.

    Attributes
    ----------
    source : str
        ``"cifar10"`` or ``"digits-standin"``.
    labels : np.ndarray, int64, shape (M,)
    groups : np.ndarray, int64, shape (M,)
        The domain of each item: 0 colour, 1 grayscale.
    base_index : np.ndarray, int64, shape (M,)
        Which base image each item shows (a test image's two items share it).
    classes : list of str
    group_names : list of str
        ``["colour", "grayscale"]``.

    Items are ``(image, label, domain)`` as ``gluon.data.vision.CIFAR10`` gives
    ``(image, label)``: the image a uint8 NDArray of shape (32, 32, 3) (HWC; grayscale: three
    equal channels of BT.601 luma, rounded), the label and the domain ``numpy.int32``. So the
    ``gluon.data.vision.transforms`` work as they do on CIFAR-10, e.g.
    ``ds.transform_first(transforms.ToTensor())`` gives float32 (3, 32, 32) images in [0, 1].

    Examples
    --------
    >>> from mxnet.gluon.data.vision import transforms
    >>> ds = CIFAR10S(train=True, source="digits")
    >>> ds.source, len(ds)
    ('digits-standin', 1347)
    >>> image, label, domain = ds[0]
    >>> image.shape, image.dtype
    ((32, 32, 3), <class 'numpy.uint8'>)
    >>> loader = gluon.data.DataLoader(ds.transform_first(transforms.ToTensor()),
    ...                                batch_size=64, shuffle=True)
    >>> next(iter(loader))[0].shape
    (64, 3, 32, 32)
    """

    def __init__(
        self,
        *,
        train: bool = True,
        root: Optional[str] = None,
        source: Literal["auto", "cifar10", "digits"] = "auto",
        seed: Any = 0,
        subsample: Optional[int] = None,
        download: bool = False,
        skew_minority: float = 0.05,
    ):
        super().__init__()
        check_choice("source", source, {"auto", "cifar10", "digits"})
        if subsample is not None:
            subsample = check_positive_int("subsample", subsample)
        seed = check_seed("seed", seed)
        skew_minority = check_number("skew_minority", skew_minority, low=0.0, high=0.5)
        if source == "auto":
            source = "cifar10" if download or cifar10_available(root=root) else "digits"
        if source == "cifar10":
            images, labels = _load_cifar10(train, root, download)
            self.source, self.classes = "cifar10", list(CIFAR10_CLASSES)
        else:
            images, labels = _digits_standin(train)
            self.source, self.classes = "digits-standin", [str(k) for k in range(10)]
        self.train = bool(train)
        self.seed = seed
        self.skew_minority = skew_minority
        self.group_names: List[str] = list(DOMAIN_NAMES)

        rng = np.random.RandomState(seed)
        base_index = np.arange(len(labels), dtype=np.int64)
        if subsample is not None and subsample < len(labels):
            base_index = np.sort(rng.choice(base_index, size=subsample, replace=False))
        base_labels = labels[base_index]
        if train:
            domains = np.zeros(len(base_index), dtype=np.int64)
            for k in np.unique(base_labels):
                idx = rng.permutation(np.flatnonzero(base_labels == k))
                m = int(np.floor(self.skew_minority * len(idx) + 0.5))
                if k < 5:  # mostly colour: m grayscale
                    domains[idx[:m]] = 1
                else:  # mostly grayscale: m colour
                    domains[idx[m:]] = 1
            self.base_index = base_index
            self.groups = domains
        else:
            self.base_index = np.concatenate([base_index, base_index])
            self.groups = np.repeat(np.array([0, 1], dtype=np.int64), len(base_index))
        self.labels = labels[self.base_index].astype(np.int64)
        self._images = images  # (N, 32, 32, 3) uint8, colour
        self.num_groups = 2

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, idx):
        image = self._images[self.base_index[idx]]  # (32, 32, 3) uint8
        if self.groups[idx] == 1:
            gray = np.clip(np.round(image.astype(np.float32) @ _LUMA), 0, 255)  # (32, 32)
            image = np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
        return (
            mx.nd.array(image, dtype=np.uint8),  # HWC uint8, as gluon.data.vision.CIFAR10
            np.int32(self.labels[idx]),
            np.int32(self.groups[idx]),
        )

    def __repr__(self) -> str:
        return (
            f"CIFAR10S(source={self.source!r}, train={self.train}, n={len(self)}, "
            f"grayscale={int(self.groups.sum())})"
        )
