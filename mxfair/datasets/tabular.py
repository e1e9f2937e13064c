"""Tabular fairness benchmarks: UCI Adult, UCI German Credit (Statlog) and ProPublica COMPAS.

Each loader reads the file as first published, checks the sha256 of its uncompressed content,
parses it, splits it, and encodes the features with a scikit-learn ``ColumnTransformer``
(``StandardScaler`` for numeric columns, ``OneHotEncoder(handle_unknown="ignore")`` for
categorical ones) fitted on the training split only. The result is a :class:`TabularData` with
``train``, ``val`` and ``test`` splits of ``X`` float32 (N, D), ``y`` int64 (N,) and ``groups``
int64 (N,), ready for ``gluon.data.DataLoader`` through :meth:`TabularData.to_gluon`.

The raw files are found, downloaded and checked by ``mxfair/datasets/_files.py``
(:func:`find_data_file` says where they are looked for). Each data set is one spec
(:class:`TabularSpec`: its files and parser, its columns, its sensitive attributes, its split),
and :func:`load_tabular` loads any of them by name.

Data sets and their licences
----------------------------
- UCI Adult (Census Income), Becker & Kohavi (1996), UCI Machine Learning Repository,
  doi:10.24432/C5XW20, CC BY 4.0.
- UCI Statlog (German Credit Data), Hofmann (1994), UCI Machine Learning Repository,
  doi:10.24432/C5NC77, CC BY 4.0.
- COMPAS two-year recidivism, ProPublica ``compas-analysis`` repository (Angwin, Larson, Mattu
  and Kirchner, "Machine Bias", 2016); not shipped with mxfair.
"""
import dataclasses
import functools
import io
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from mxnet import gluon
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .._validation import check_choice, check_number, check_positive_int, check_seed
from ..groups import GroupEncoder
from ._files import DATA_ENV, FILES, cache_dir, find_data_file, read_content

__all__ = [
    "DATA_ENV",
    "Split",
    "TabularData",
    "TabularSpec",
    "TABULAR_LOADERS",
    "cache_dir",
    "find_data_file",
    "load_adult",
    "load_compas",
    "load_german",
    "load_tabular",
]

BAD_FORMAT = "{path} does not look like the {dataset} data: {detail}"
UNKNOWN_SPLIT = "split must be one of ['test', 'train', 'val'], got {value!r}"


# --------------------------------------------------------------------------------------------
# Parsers: bytes of the raw file -> a clean DataFrame with a ``label`` column (int64)
# --------------------------------------------------------------------------------------------
_ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]
_ADULT_NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
_ADULT_CATEGORICAL = [
    "workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
    "native-country",
]

_GERMAN_COLUMNS = [
    "checking_status", "duration", "credit_history", "purpose", "credit_amount", "savings",
    "employment_since", "installment_rate", "personal_status_sex", "other_debtors",
    "residence_since", "property", "age", "other_installment_plans", "housing",
    "existing_credits", "job", "num_liable", "telephone", "foreign_worker", "credit",
]
_GERMAN_NUMERIC = [
    "duration", "credit_amount", "installment_rate", "residence_since", "age",
    "existing_credits", "num_liable",
]
_GERMAN_CATEGORICAL = [
    c for c in _GERMAN_COLUMNS if c not in _GERMAN_NUMERIC and c != "credit"
]
# Attribute 9, "personal status and sex": A91 divorced/separated male, A92 female
# divorced/separated/married, A93 single male, A94 married/widowed male, A95 single female.
_GERMAN_SEX = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}

_COMPAS_NUMERIC = [
    "age", "priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count",
]
_COMPAS_CATEGORICAL = ["c_charge_degree", "sex", "race"]
_COMPAS_FILTER = ["days_b_screening_arrest", "is_recid", "score_text"]
_COMPAS_RACES = ("African-American", "Caucasian")


def _check_columns(df: pd.DataFrame, needed: Sequence[str], path: str, dataset: str):
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(
            BAD_FORMAT.format(path=path, dataset=dataset, detail=f"missing columns {missing}")
        )


def _parse_adult(content: bytes, path: str) -> pd.DataFrame:
    # The test file opens with "|1x3 Cross validator": '|' never occurs in a record.
    df = pd.read_csv(
        io.BytesIO(content), header=None, names=_ADULT_COLUMNS, skipinitialspace=True,
        na_values="?", comment="|", skip_blank_lines=True, dtype=str,
    )
    if len(df) == 0 or df["income"].isna().all():
        raise ValueError(
            BAD_FORMAT.format(path=path, dataset="Adult", detail="no rows of 15 columns")
        )
    df = df.dropna().reset_index(drop=True)
    income = df.pop("income").str.rstrip(".")  # test labels end in '.'
    label = income.map({">50K": 1, "<=50K": 0})
    if label.isna().any():
        bad = sorted(set(income[label.isna()]))[:5]
        raise ValueError(
            BAD_FORMAT.format(path=path, dataset="Adult", detail=f"unexpected labels {bad}")
        )
    try:
        df[_ADULT_NUMERIC] = df[_ADULT_NUMERIC].astype(np.float64)
    except ValueError as err:
        raise ValueError(BAD_FORMAT.format(path=path, dataset="Adult", detail=err)) from None
    df = df.drop(columns="fnlwgt")  # a census sampling weight, not a property of the person
    df["label"] = label.astype(np.int64)
    return df


def _parse_german(content: bytes, path: str) -> pd.DataFrame:
    df = pd.read_csv(io.BytesIO(content), sep=r"\s+", header=None, dtype=str)
    if df.shape[1] != len(_GERMAN_COLUMNS):
        raise ValueError(
            BAD_FORMAT.format(
                path=path, dataset="German credit",
                detail=f"{df.shape[1]} columns, expected {len(_GERMAN_COLUMNS)}",
            )
        )
    df.columns = _GERMAN_COLUMNS
    credit = df.pop("credit")
    if not credit.isin(["1", "2"]).all():
        raise ValueError(
            BAD_FORMAT.format(path=path, dataset="German credit", detail="labels not in {1, 2}")
        )
    try:
        df[_GERMAN_NUMERIC] = df[_GERMAN_NUMERIC].astype(np.float64)
    except ValueError as err:
        raise ValueError(
            BAD_FORMAT.format(path=path, dataset="German credit", detail=err)
        ) from None
    unknown = set(df["personal_status_sex"]) - set(_GERMAN_SEX)
    if unknown:
        raise ValueError(
            BAD_FORMAT.format(
                path=path, dataset="German credit",
                detail=f"unknown personal status codes {sorted(unknown)}",
            )
        )
    df["label"] = (credit == "1").astype(np.int64)  # 1 = good credit, 2 = bad
    return df


def _parse_compas(content: bytes, path: str) -> pd.DataFrame:
    # keep_default_na=False keeps the literal "N/A" of score_text a string we can filter on.
    df = pd.read_csv(io.BytesIO(content), keep_default_na=False, na_values=[""])
    needed = _COMPAS_NUMERIC + _COMPAS_CATEGORICAL + _COMPAS_FILTER + ["two_year_recid"]
    _check_columns(df, needed, path, "COMPAS")
    days = pd.to_numeric(df["days_b_screening_arrest"], errors="coerce")
    # ProPublica's filter; a missing days_b_screening_arrest fails it, as in their R code.
    keep = (
        days.between(-30, 30)
        & (pd.to_numeric(df["is_recid"], errors="coerce") != -1)
        & (df["c_charge_degree"] != "O")
        & (df["score_text"] != "N/A")
        & df["score_text"].notna()
    )
    df = df.loc[keep, _COMPAS_NUMERIC + _COMPAS_CATEGORICAL + ["two_year_recid"]]
    df = df.reset_index(drop=True)
    try:
        df[_COMPAS_NUMERIC] = df[_COMPAS_NUMERIC].astype(np.float64)
        label = df.pop("two_year_recid").astype(np.int64)
    except ValueError as err:
        raise ValueError(BAD_FORMAT.format(path=path, dataset="COMPAS", detail=err)) from None
    if not label.isin([0, 1]).all():
        raise ValueError(
            BAD_FORMAT.format(path=path, dataset="COMPAS", detail="two_year_recid not in {0, 1}")
        )
    df[_COMPAS_CATEGORICAL] = df[_COMPAS_CATEGORICAL].astype(str)
    df["label"] = label
    return df


# --------------------------------------------------------------------------------------------
# A data set described as data
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class TabularSpec:
    """One tabular data set as data: what a loader reads, encodes and compares.

    Attributes
    ----------
    name : str
        Short name (``TabularData.name``, the key of :data:`TABULAR_LOADERS`).
    title : str
        Name in messages (``"German credit"``).
    files : tuple of str
        Its raw files (``find_data_file`` names): one (split at random) or two (the official
        train and test files).
    parse : callable
        ``parse(content: bytes, path: str) -> DataFrame`` with a ``label`` column (int64).
    numeric, categorical : tuple of str
        The feature columns, standardised and one-hot encoded.
    sensitive : mapping of str to (callable, tuple of str)
        Attribute -> (its values from a parsed frame, the columns it comes from: they leave the
        features unless ``include_sensitive``).
    """

    name: str
    title: str
    files: Tuple[str, ...]
    parse: Callable[[bytes, str], pd.DataFrame]
    numeric: Tuple[str, ...]
    categorical: Tuple[str, ...]
    sensitive: Mapping[str, Tuple[Callable[[pd.DataFrame], np.ndarray], Tuple[str, ...]]]


def _column(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    """The values of one column, as a sensitive attribute."""
    return lambda frame: frame[name].to_numpy()


@functools.lru_cache(maxsize=8)
def _parse_cached(spec: "TabularSpec", name: str, path: str, mtime_ns: int, size: int,
                  verify: bool) -> pd.DataFrame:
    # mtime and size are part of the key so that a replaced file is read again.
    content = read_content(Path(path), FILES[name].sha256, verify)
    dataset = spec.title
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(BAD_FORMAT.format(
            path=path, dataset=dataset,
            detail=f"binary content, not a text file ({err.reason} at byte {err.start}); give "
                   f"the {name} text file (plain or gzip-compressed)")) from None
    try:
        return spec.parse(content, path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(BAD_FORMAT.format(path=path, dataset=dataset, detail=err)) from None


def _load_frame(spec: "TabularSpec", name: str, root, verify: bool,
                download: bool) -> pd.DataFrame:
    path = find_data_file(name, root=root, download=download)
    st = path.stat()
    return _parse_cached(spec, name, str(path), st.st_mtime_ns, st.st_size,
                         bool(verify)).copy()


# --------------------------------------------------------------------------------------------
# The result object
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a tabular data set.

    Attributes
    ----------
    X : np.ndarray, float32, shape (N, D)
        Encoded features.
    y : np.ndarray, int64, shape (N,)
        Binary labels.
    groups : np.ndarray, int64, shape (N,)
        Group ids in ``[0, G)``, names in ``TabularData.group_names``.
    frame : pandas.DataFrame
        The same N rows before encoding (all parsed columns and ``label``).
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    frame: pd.DataFrame = dataclasses.field(repr=False)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, num_features={self.X.shape[1]})"


@dataclasses.dataclass(frozen=True)
class TabularData:
    """A loaded tabular data set: three splits, the fitted encoders and the names.

    Attributes
    ----------
    name : str
    train, val, test : Split
    feature_names : list of str
        Names of the D columns of ``X`` (one-hot columns as ``column_value``).
    group_names : list of str
        Name of each group id; a single sensitive column gives bare values (``"Female"``),
        several give ``"sex=Female&race=White"``.
    encoder : mxfair.GroupEncoder
        Fitted on the sensitive values of all rows (it holds only the set of values).
    preprocessor : sklearn.compose.ColumnTransformer
        Fitted on the training split only.
    sensitive : list of str
        The sensitive attributes, in the order they were given.
    """

    name: str
    train: Split
    val: Split
    test: Split
    feature_names: List[str] = dataclasses.field(repr=False)
    group_names: List[str]
    encoder: GroupEncoder = dataclasses.field(repr=False)
    preprocessor: ColumnTransformer = dataclasses.field(repr=False)
    sensitive: List[str] = dataclasses.field(default_factory=list)

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    @property
    def num_groups(self) -> int:
        return len(self.group_names)

    def split(self, split: str) -> Split:
        """The split named ``"train"``, ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise ValueError(UNKNOWN_SPLIT.format(value=split))
        return getattr(self, split)

    def to_gluon(self, *, split: str = "train") -> gluon.data.ArrayDataset:
        """A ``gluon.data.ArrayDataset`` yielding ``(x, y, group)`` for ``split``.

        ``x`` is float32 of shape (D,), ``y`` a float32 scalar (0.0 or 1.0) and ``group`` an
        int64 scalar; the default ``DataLoader`` batchify keeps these dtypes. Float32 labels
        are what the stock Gluon losses take with a float32 net:
        ``gluon.loss.SigmoidBinaryCrossEntropyLoss`` fails on int64 labels, and a plain
        ``Estimator`` (which reads ``x, y`` of each batch) trains on these batches as they are.
        ``Split.y`` stays int64 (for samplers and metrics).

        Examples
        --------
        >>> data = load_german(subsample=100)
        >>> loader = gluon.data.DataLoader(data.to_gluon(split="train"), batch_size=32)
        >>> x, y, g = next(iter(loader))
        >>> x.shape == (32, data.num_features), x.dtype, y.dtype, g.dtype
        (True, <class 'numpy.float32'>, <class 'numpy.float32'>, <class 'numpy.int64'>)
        """
        s = self.split(split)
        return gluon.data.ArrayDataset(s.X, s.y.astype(np.float32), s.groups)


# --------------------------------------------------------------------------------------------
# Shared building steps
# --------------------------------------------------------------------------------------------
def _sensitive_list(sensitive, choices: Sequence[str]) -> List[str]:
    if isinstance(sensitive, str):
        names = [sensitive]
    elif isinstance(sensitive, (list, tuple)):
        names = list(sensitive)
    else:
        names = []
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"sensitive must be a column name or a list of names, got {sensitive!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"sensitive lists a column twice: {names}")
    for n in names:
        check_choice("sensitive", n, set(choices))
    return names


def _stratified_split(
    strata: np.ndarray, fractions: Sequence[float], rng: np.random.RandomState
) -> List[np.ndarray]:
    """Row indices split into ``len(fractions) + 1`` parts, stratum by stratum.

    Part ``k >= 1`` takes ``round(fractions[k-1] * n_s)`` rows of each stratum of size ``n_s``
    (at random); part 0 takes the rest. Each part is returned sorted.
    """
    parts: List[List[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for s in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == s))
        start = 0
        for k, frac in enumerate(fractions, start=1):
            m = min(int(np.floor(frac * len(idx) + 0.5)), len(idx) - start)
            parts[k].append(idx[start:start + m])
            start += m
        parts[0].append(idx[start:])
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def _subsample(idx: np.ndarray, subsample: Optional[int], rng) -> np.ndarray:
    if subsample is None or subsample >= len(idx):
        return idx
    return np.sort(rng.choice(idx, size=subsample, replace=False))


def _one_hot_encoder() -> OneHotEncoder:
    try:
        return OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    except TypeError:  # scikit-learn < 1.2
        return OneHotEncoder(handle_unknown="ignore", sparse=False)


def _build(spec: "TabularSpec", frames: Dict[str, pd.DataFrame], sensitive: List[str],
           include_sensitive: bool) -> TabularData:
    """Encode groups and features of already split frames (keys train, val, test)."""
    excluded = set()
    if not include_sensitive:
        for s in sensitive:
            excluded.update(spec.sensitive[s][1])
    num_cols = [c for c in spec.numeric if c not in excluded]
    cat_cols = [c for c in spec.categorical if c not in excluded]

    def values(frame):
        if len(sensitive) == 1:  # bare values as group names
            return np.asarray(spec.sensitive[sensitive[0]][0](frame))
        return {s: np.asarray(spec.sensitive[s][0](frame)) for s in sensitive}

    everything = pd.concat(list(frames.values()), ignore_index=True)
    encoder = GroupEncoder().fit(values(everything))

    preprocessor = ColumnTransformer(
        [("num", StandardScaler(), num_cols), ("cat", _one_hot_encoder(), cat_cols)],
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )
    preprocessor.fit(frames["train"][num_cols + cat_cols])
    splits = {}
    for key, frame in frames.items():
        if len(frame):
            X = preprocessor.transform(frame[num_cols + cat_cols])
        else:  # val_fraction=0 gives an empty validation split
            X = np.zeros((0, len(preprocessor.get_feature_names_out())))
        X = np.ascontiguousarray(X, dtype=np.float32)
        splits[key] = Split(
            X=X,
            y=frame["label"].to_numpy(dtype=np.int64),
            groups=encoder.transform(values(frame)).astype(np.int64),
            frame=frame.reset_index(drop=True),
        )
    return TabularData(
        name=spec.name,
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        feature_names=[str(f) for f in preprocessor.get_feature_names_out()],
        group_names=list(encoder.group_names_),
        encoder=encoder,
        preprocessor=preprocessor,
        sensitive=list(sensitive),
    )


def _strata(frame: pd.DataFrame, spec: "TabularSpec", sensitive: List[str]) -> np.ndarray:
    """One stratum id per row: the sensitive value combination and the label."""
    keys = pd.DataFrame({s: np.asarray(spec.sensitive[s][0](frame)).astype(str)
                         for s in sensitive})
    keys["label"] = frame["label"].to_numpy()
    return keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy()


def _check_common(val_fraction, subsample, seed):
    val_fraction = check_number("val_fraction", val_fraction, low=0, high=1,
                                high_inclusive=False)
    if subsample is not None:
        subsample = check_positive_int("subsample", subsample)
    check_seed("seed", seed)
    return val_fraction, subsample


def _split_three(frame, spec, sensitive, val_fraction, test_fraction, subsample, seed):
    """Random train/val/test frames, stratified by group and label, then subsampled."""
    test_fraction = check_number("test_fraction", test_fraction, low=0, high=1,
                                 low_inclusive=False, high_inclusive=False)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
        )
    rng = np.random.RandomState(seed)
    train, val, test = _stratified_split(
        _strata(frame, spec, sensitive), [val_fraction, test_fraction], rng
    )
    return {
        key: frame.iloc[_subsample(idx, subsample, rng)].reset_index(drop=True)
        for key, idx in (("train", train), ("val", val), ("test", test))
    }


# --------------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------------
_ADULT = TabularSpec(
    name="adult", title="Adult", files=("adult.data", "adult.test"), parse=_parse_adult,
    numeric=_ADULT_NUMERIC, categorical=_ADULT_CATEGORICAL,
    sensitive={"sex": (_column("sex"), ("sex",)), "race": (_column("race"), ("race",))},
)

SensitiveArg = Union[str, Sequence[str]]
SeedArg = Union[None, int, Sequence[int]]
PathArg = Optional[Union[str, os.PathLike]]


def load_adult(
    *,
    root: PathArg = None,
    sensitive: SensitiveArg = "sex",
    seed: SeedArg = 0,
    val_fraction: float = 0.2,
    subsample: Optional[int] = None,
    include_sensitive: bool = False,
    verify: bool = True,
    download: bool = True,
) -> TabularData:
    """UCI Adult (Census Income): predict whether income exceeds 50K a year.

    The official split: ``adult.data`` gives train and validation (``val_fraction`` of it,
    stratified by group and label, seeded), ``adult.test`` the test split. Rows with a missing
    value (``?``) are dropped, leaving 30,162 + 15,060 rows. ``fnlwgt`` (a census sampling
    weight, not a property of the person) is dropped. Features: age, education-num,
    capital-gain, capital-loss, hours-per-week (standardised) and workclass, education,
    marital-status, occupation, relationship, race, sex, native-country (one-hot), less the
    sensitive columns unless ``include_sensitive``.

    Parameters
    ----------
    root : str or path-like, optional
        Folder holding ``adult.data`` and ``adult.test`` (plain or ``.gz``); by default the
        ``$MXFAIR_DATA`` folder, the cache, then the copy shipped with mxfair.
    sensitive : str or list of str, default "sex"
        ``"sex"`` (groups Female, Male), ``"race"``, or a list for intersectional groups.
    seed : int, sequence of int or None, default 0
        Anything ``numpy.random.RandomState`` accepts; None gives another split each call.
        Seeds the validation split and the subsampling.
    val_fraction : float in [0, 1), default 0.2
    subsample : int, optional
        Keep at most this many rows per split (chosen at random, seeded), for fast tests.
    include_sensitive : bool, default False
        Keep the sensitive columns among the features.
    verify : bool, default True
        Check the sha256 of the raw files; ``False`` loads a file of your own.
    download : bool, default True
        Fetch missing files from the UCI repository (10 s timeout).

    Returns
    -------
    TabularData
        ``X`` float32 (N, D), ``y`` int64 (N,) with 1 = income >50K, ``groups`` int64 (N,).

    Examples
    --------
    >>> data = load_adult(sensitive="sex", subsample=500)
    >>> data.group_names
    ['Female', 'Male']
    >>> data.train.X.dtype, len(data.test)
    (dtype('float32'), 500)
    """
    names = _sensitive_list(sensitive, _ADULT.sensitive)
    val_fraction, subsample = _check_common(val_fraction, subsample, seed)
    full, test = (_load_frame(_ADULT, f, root, verify, download) for f in _ADULT.files)
    rng = np.random.RandomState(seed)
    train_idx, val_idx = _stratified_split(_strata(full, _ADULT, names), [val_fraction], rng)
    frames = {
        "train": full.iloc[_subsample(train_idx, subsample, rng)],
        "val": full.iloc[_subsample(val_idx, subsample, rng)],
        "test": test.iloc[_subsample(np.arange(len(test)), subsample, rng)],
    }
    return _build(_ADULT, frames, names, include_sensitive)


_GERMAN = TabularSpec(
    name="german", title="German credit", files=("german.data",), parse=_parse_german,
    numeric=_GERMAN_NUMERIC, categorical=_GERMAN_CATEGORICAL,
    sensitive={
        "age": (lambda f: np.where(f["age"].to_numpy() > 25, "age>25", "age<=25"), ("age",)),
        "sex": (lambda f: f["personal_status_sex"].map(_GERMAN_SEX).to_numpy(),
                ("personal_status_sex",)),
    },
)


def load_german(
    *,
    root: PathArg = None,
    sensitive: SensitiveArg = "age",
    seed: SeedArg = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    subsample: Optional[int] = None,
    include_sensitive: bool = False,
    verify: bool = True,
    download: bool = True,
) -> TabularData:
    """UCI Statlog German Credit: predict good (1) or bad (0) credit risk.

    1,000 rows (700 good), split at random 60/20/20 into train/val/test by default,
    stratified by group and label, seeded. The 7 numeric attributes are standardised and the
    13 symbolic ones one-hot encoded.

    Parameters
    ----------
    root : str or path-like, optional
        Folder holding ``german.data`` (plain or ``.gz``); by default ``$MXFAIR_DATA``, the
        cache, then the copy shipped with mxfair.
    sensitive : str or list of str, default "age"
        ``"age"``: groups ``"age<=25"`` and ``"age>25"`` (the raw ``age`` column leaves the
        features); ``"sex"``: ``"female"``/``"male"`` from attribute 9, personal status and
        sex (A91/A93/A94 male, A92/A95 female; the whole attribute leaves the features).
    seed : int, sequence of int or None, default 0
        Anything ``numpy.random.RandomState`` accepts; None gives another split each call.
    val_fraction, test_fraction : float, default 0.2 and 0.2
    subsample : int, optional
        Keep at most this many rows per split (seeded).
    include_sensitive : bool, default False
    verify : bool, default True
    download : bool, default True

    Returns
    -------
    TabularData

    Examples
    --------
    >>> data = load_german(sensitive="sex")
    >>> data.group_names, len(data.train), len(data.val), len(data.test)
    (['female', 'male'], 600, 200, 200)
    """
    names = _sensitive_list(sensitive, _GERMAN.sensitive)
    val_fraction, subsample = _check_common(val_fraction, subsample, seed)
    frame = _load_frame(_GERMAN, "german.data", root, verify, download)
    frames = _split_three(frame, _GERMAN, names, val_fraction, test_fraction, subsample, seed)
    return _build(_GERMAN, frames, names, include_sensitive)


_COMPAS = TabularSpec(
    name="compas", title="COMPAS", files=("compas-scores-two-years.csv",), parse=_parse_compas,
    numeric=_COMPAS_NUMERIC, categorical=_COMPAS_CATEGORICAL,
    sensitive={"race": (_column("race"), ("race",)), "sex": (_column("sex"), ("sex",))},
)


def load_compas(
    *,
    root: PathArg = None,
    sensitive: SensitiveArg = "race",
    seed: SeedArg = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    subsample: Optional[int] = None,
    races: Optional[Sequence[str]] = _COMPAS_RACES,
    include_sensitive: bool = False,
    verify: bool = True,
    download: bool = True,
) -> TabularData:
    """ProPublica COMPAS: predict two-year recidivism (``two_year_recid``).

    ProPublica's filter keeps rows with ``days_b_screening_arrest`` in [-30, 30],
    ``is_recid != -1``, ``c_charge_degree != "O"`` and ``score_text != "N/A"``: 6,172 of
    7,214. By default only African-American and Caucasian defendants are kept (``races``;
    5,278 rows). Features: age, priors_count, juv_fel_count, juv_misd_count,
    juv_other_count (standardised), c_charge_degree, sex, race (one-hot), less the sensitive
    columns unless ``include_sensitive``; the COMPAS scores themselves are not features.
    Random 60/20/20 split by default, stratified by group and label, seeded.

    The file is not shipped with mxfair: it is looked for in ``root``, ``$MXFAIR_DATA`` and
    the cache, then downloaded from ProPublica's ``compas-analysis`` repository.

    Parameters
    ----------
    root : str or path-like, optional
        Folder holding ``compas-scores-two-years.csv`` (plain or ``.gz``).
    sensitive : str or list of str, default "race"
        ``"race"``, ``"sex"`` or both.
    seed : int, sequence of int or None, default 0
        Anything ``numpy.random.RandomState`` accepts; None gives another split each call.
    val_fraction, test_fraction : float, default 0.2 and 0.2
    subsample : int, optional
    races : sequence of str or None, default ("African-American", "Caucasian")
        Keep only these values of ``race``; ``None`` keeps all six.
    include_sensitive : bool, default False
    verify : bool, default True
        ``False`` loads a file of your own (same columns, other content).
    download : bool, default True

    Returns
    -------
    TabularData

    Examples
    --------
    >>> data = load_compas()  # doctest: +SKIP
    >>> data.group_names  # doctest: +SKIP
    ['African-American', 'Caucasian']
    """
    names = _sensitive_list(sensitive, _COMPAS.sensitive)
    val_fraction, subsample = _check_common(val_fraction, subsample, seed)
    frame = _load_frame(_COMPAS, "compas-scores-two-years.csv", root, verify, download)
    if races is not None:
        races = [races] if isinstance(races, str) else list(races)
        unknown = sorted(set(races) - set(frame["race"]))
        if unknown or not races:
            raise ValueError(
                f"races must be values of the race column {sorted(set(frame['race']))}, "
                f"got {races!r}"
            )
        frame = frame[frame["race"].isin(races)].reset_index(drop=True)
    frames = _split_three(frame, _COMPAS, names, val_fraction, test_fraction, subsample, seed)
    return _build(_COMPAS, frames, names, include_sensitive)


#: Every tabular data set by name: ``load_tabular(name, **options)`` calls its loader.
TABULAR_LOADERS: Dict[str, Callable[..., TabularData]] = {
    "adult": load_adult, "german": load_german, "compas": load_compas,
}


def load_tabular(name: str, **options: Any) -> TabularData:
    """A tabular data set by name: ``TABULAR_LOADERS[name](**options)``.

    Parameters
    ----------
    name : {"adult", "german", "compas"}
    **options
        The loader's options (``sensitive`` defaults to each data set's usual attribute: sex,
        age, race; ``sensitive=["sex"]`` is ``"sex"``).

    Returns
    -------
    TabularData

    Examples
    --------
    >>> load_tabular("german", subsample=50).name
    'german'
    """
    check_choice("name", name, set(TABULAR_LOADERS))
    sensitive = options.get("sensitive")
    if isinstance(sensitive, (list, tuple)) and len(sensitive) == 1:
        options["sensitive"] = sensitive[0]
    elif sensitive is None:
        options.pop("sensitive", None)
    return TABULAR_LOADERS[name](**options)
