"""Raw data files: where they are looked for, their download, and their checksums.

Where a raw file is looked for, first to last:

1. the ``root=`` argument, when given (then only there: a missing file is an error);
2. the folder named by ``$MXFAIR_DATA``;
3. the cache ``~/.mxfair/datasets``;
4. the copies shipped inside the package (Adult and German; COMPAS is not shipped);
5. a download from the original source into ``$MXFAIR_DATA`` (or the cache when it is unset),
   when ``download=True`` and the machine is online.

A file may be stored plain (``adult.data``) or gzip-compressed (``adult.data.gz``); the sha256 of
its uncompressed content is checked (:func:`read_content`). A data set is described apart, as
data (:mod:`mxfair.datasets.tabular`): this module knows files, not tables.
"""
import dataclasses
import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import List, Optional, Union

from .._validation import check_choice

__all__: list = []

DATA_ENV = "MXFAIR_DATA"
PACKAGE_DATA = Path(__file__).resolve().parent / "_data"
_DOWNLOAD_TIMEOUT = 10.0  # seconds; a loader must not hang on a machine without network
_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/"
_PROPUBLICA = "https://raw.githubusercontent.com/propublica/compas-analysis/master/"

# Error messages (tests match these).
ROOT_NOT_A_DIR = "root={root!r} is not a directory"
FILE_NOT_FOUND = (
    "data file {name!r} not found; looked for {name} and {name}.gz in: {places}.{reason} "
    "Put the file (plain, or gzip-compressed as {name}.gz) into {target} (or a folder named by "
    "${env}, or pass root=); the original is at {url}"
)
CHECKSUM_MISMATCH = (
    "checksum mismatch for {path}: sha256 of the uncompressed content is {actual}, expected "
    "{expected}; the file is corrupt or another version (pass verify=False to load a file of "
    "your own on purpose)"
)
NOT_GZIP = "could not decompress {path}: {err}"


@dataclasses.dataclass(frozen=True)
class RawFile:
    name: str
    sha256: str
    url: str


FILES = {
    f.name: f
    for f in (
        RawFile(
            "adult.data",
            "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
            _UCI + "adult/adult.data",
        ),
        RawFile(
            "adult.test",
            "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
            _UCI + "adult/adult.test",
        ),
        RawFile(
            "german.data",
            "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871",
            _UCI + "statlog/german/german.data",
        ),
        RawFile(
            "compas-scores-two-years.csv",
            "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d",
            _PROPUBLICA + "compas-scores-two-years.csv",
        ),
    )
}


def cache_dir() -> Path:
    """The per-user cache folder ``~/.mxfair/datasets`` (read at each call: ``$HOME`` counts)."""
    return Path(os.path.expanduser("~")) / ".mxfair" / "datasets"


def _search_dirs(root: Optional[Union[str, os.PathLike]]) -> List[Path]:
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(ROOT_NOT_A_DIR.format(root=str(root)))
        return [path]
    dirs = []
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(cache_dir())
    dirs.append(PACKAGE_DATA)
    return dirs


def _download_target() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else cache_dir()


def _download(spec: RawFile, folder: Path) -> Path:
    """Fetch ``spec.url`` into ``folder/spec.name`` (atomically), checking its sha256."""
    with urllib.request.urlopen(spec.url, timeout=_DOWNLOAD_TIMEOUT) as response:
        content = response.read()
    actual = hashlib.sha256(content).hexdigest()
    if actual != spec.sha256:
        raise ValueError(
            CHECKSUM_MISMATCH.format(path=spec.url, actual=actual, expected=spec.sha256)
        )
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=spec.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, folder / spec.name)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return folder / spec.name


def find_data_file(
    name: str, *, root: Optional[Union[str, os.PathLike]] = None, download: bool = True
) -> Path:
    """Path of raw data file ``name``, looked for in the documented order.

    Parameters
    ----------
    name : str
        One of ``"adult.data"``, ``"adult.test"``, ``"german.data"``,
        ``"compas-scores-two-years.csv"``. ``name`` and ``name + ".gz"`` are both accepted.
    root : str or path-like, optional
        A folder to use instead of the default places (then nothing else is searched and
        nothing is downloaded).
    download : bool, default True
        Fetch the file from its original source when it is found nowhere.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, or the file is nowhere and could not be downloaded; the
        message says which file to put where.

    Examples
    --------
    >>> find_data_file("german.data").name
    'german.data.gz'
    """
    spec = FILES.get(name)
    if spec is None:
        check_choice("name", name, set(FILES))
    dirs = _search_dirs(root)
    for folder in dirs:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    reason = ""
    if root is None and download:
        try:
            return _download(spec, _download_target())
        except (OSError, ValueError) as err:  # URLError and timeouts are OSErrors
            reason = f" Downloading {spec.url} failed: {err}."
    raise FileNotFoundError(
        FILE_NOT_FOUND.format(
            name=name,
            places=", ".join(str(d) for d in dirs),
            reason=reason,
            target=dirs[0] if root is not None else _download_target(),
            env=DATA_ENV,
            url=spec.url,
        )
    )


def read_content(path: Path, expected: str, verify: bool) -> bytes:
    """Uncompressed bytes of ``path`` (gzip detected by its magic number), checksum-checked."""
    content = path.read_bytes()
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(NOT_GZIP.format(path=path, err=err)) from None
    if verify:
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise ValueError(
                CHECKSUM_MISMATCH.format(path=path, actual=actual, expected=expected)
            )
    return content
