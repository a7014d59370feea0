"""Find, download and load MNIST and Fashion-MNIST as numpy arrays.

Both datasets come as four IDX files (gzipped or not) with the same standard names. A
loader looks for them in these folders, in order, and uses the first that holds both
files of the split it needs:

1. ``root``, if given;
2. ``$TINYGRAD_EDU_DATA``, then ``$TINYGRAD_EDU_DATA/<dataset>``;
3. the cache, ``~/.cache/tinygrad_edu/<dataset>`` (``$XDG_CACHE_HOME`` replaces ``~/.cache``);
4. system folders: ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST, where Debian's
   ``dataset-fashion-mnist`` package puts it.

When nothing is found and ``download=True``, the files are downloaded into the cache from
the mirrors in :data:`MIRRORS`, tried in turn, and each one is checked against the SHA-256
in :data:`SHA256` before it is kept.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .idx import IDXError, read_idx

__all__ = [
    "DownloadError",
    "DatasetNotFoundError",
    "MIRRORS",
    "SHA256",
    "SYSTEM_DIRS",
    "ENV_VAR",
    "FILES",
    "cache_dir",
    "search_dirs",
    "find_dataset",
    "download",
    "mnist",
    "fashion_mnist",
]

ENV_VAR = "TINYGRAD_EDU_DATA"

# split -> (images file, labels file); each may be on disk as NAME.gz or NAME (or spelled
# with a dot, train-images.idx3-ubyte[.gz])
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
}

# SHA-256 of the .gz files the mirrors serve; the same sums are in tensorflow_datasets'
# url_checksums/{mnist,fashion_mnist}.txt (see docs/data.md for how they were checked).
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (),
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_CHUNK = 1 << 16


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the searched folders, and downloading is off."""


class DownloadError(OSError):
    """Every mirror failed for a file; nothing was saved.

    Attributes
    ----------
    attempts : list of (url, reason)
        Each URL tried, with why it failed.
    folder : pathlib.Path
        Where the files would have gone, and where to put them by hand.
    files : list of str
        The file names needed.
    """

    def __init__(self, message: str, attempts: list[tuple[str, str]], folder: Path,
                 files: list[str]) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.folder = folder
        self.files = files


def _canonical(name: str) -> str:
    key = name.lower().replace("_", "-")
    if key not in _TITLES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(_TITLES)}")
    return key


def _split_files(split: str | None) -> list[str]:
    if split is None:
        return [f for pair in FILES.values() for f in pair]
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(FILES)}")
    return list(FILES[split])


def cache_dir(name: str) -> Path:
    """The folder downloads go to: ``$XDG_CACHE_HOME`` (or ``~/.cache``)/tinygrad_edu/<name>.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.

    Returns
    -------
    pathlib.Path
        The folder; it is not created here.

    Examples
    --------
    >>> cache_dir("mnist").parts[-2:]
    ('tinygrad_edu', 'mnist')
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # the XDG spec says to ignore a relative path
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tinygrad_edu" / _canonical(name)


def search_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for a dataset's files, in the order they are searched.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    root : str or os.PathLike, optional
        A folder to search first.

    Returns
    -------
    list of pathlib.Path
        ``root``, ``$TINYGRAD_EDU_DATA``, ``$TINYGRAD_EDU_DATA/<name>``, the cache folder,
        then the system folders in :data:`SYSTEM_DIRS`; unset ones left out.

    Examples
    --------
    >>> search_dirs("fashion-mnist", root="data")[0]
    PosixPath('data')
    """
    name = _canonical(name)
    dirs = [] if root is None else [Path(root)]
    env = os.environ.get(ENV_VAR, "")
    if env:
        dirs += [Path(env), Path(env) / name]
    dirs += [cache_dir(name), *SYSTEM_DIRS.get(name, ())]
    return list(dict.fromkeys(dirs))  # drop repeats, keep the order


def _find_file(folder: Path, base: str) -> Path | None:
    # also the spelling "train-images.idx3-ubyte" that some unpackers and copies use
    dotted = base.replace("-idx", ".idx")
    for candidate in (folder / f"{base}.gz", folder / base, folder / f"{dotted}.gz",
                      folder / dotted):
        if candidate.is_file():
            return candidate
    return None


def find_dataset(name: str, root: str | os.PathLike | None = None,
                 split: str | None = None) -> Path | None:
    """The first folder in the search order that holds the dataset's files, or None.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    root : str or os.PathLike, optional
        A folder to search first (see :func:`search_dirs`).
    split : {"train", "test"}, optional
        Only require that split's two files; by default all four are required.

    Returns
    -------
    pathlib.Path or None
        The folder the loaders would read from; None if the files must be downloaded.

    Examples
    --------
    >>> import tempfile
    >>> empty = tempfile.mkdtemp()
    >>> find_dataset("mnist", root=empty) == find_dataset("mnist")  # an empty root is skipped
    True
    """
    bases = _split_files(split)
    for folder in search_dirs(name, root):
        if all(_find_file(folder, base) for base in bases):
            return folder
    return None


def _fetch(url: str, folder: Path, filename: str, expected: str, timeout: float) -> Path:
    """Download url into a temporary file in folder; return it if its SHA-256 matches."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    try:
        digest, received = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                received += len(chunk)
                f.write(chunk)
        # http.client's read(n) returns b"" at a closed connection, even short of the length
        if declared is not None and declared.isdigit() and received != int(declared):
            raise ConnectionError(f"truncated download: the connection closed after "
                                  f"{received} of {declared} bytes")
        if digest.hexdigest() != expected:
            raise ValueError(
                f"SHA-256 mismatch: got {digest.hexdigest()}, expected {expected} "
                f"(the mirror served a different or damaged file)"
            )
        os.chmod(tmp, 0o644)
        return Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _make_dirs(folder: Path) -> list[Path]:
    """Create folder and its missing parents; return the ones created, deepest first."""
    created = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        created.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    return created


def download(name: str, split: str | None = None, *, folder: str | os.PathLike | None = None,
             mirrors: Sequence[str] | None = None, sha256: Mapping[str, str] | None = None,
             timeout: float = 30.0) -> Path:
    """Download a dataset's missing files, verify them, and save them all or none.

    Each missing file is fetched from the mirrors in turn until one serves a file with the
    expected SHA-256. Files are streamed to temporary files in the target folder and moved
    into place (``os.replace``) only once every file has been verified, so a failure leaves
    no partial file, no temporary file and no new empty folder behind.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    split : {"train", "test"}, optional
        Fetch only that split's two files; by default all four.
    folder : str or os.PathLike, optional
        Where to save; by default :func:`cache_dir` ``(name)``.
    mirrors : sequence of str, optional
        Base URLs, tried in order; by default ``MIRRORS[name]``.
    sha256 : mapping of str to str, optional
        ``{"train-images-idx3-ubyte.gz": hex digest, ...}``; by default ``SHA256[name]``.
    timeout : float
        Seconds to wait for each connection or read.

    Returns
    -------
    pathlib.Path
        The folder holding the files.

    Raises
    ------
    DownloadError
        If every mirror fails for a file. The message lists each URL with its failure and
        says which files to put where by hand.
    ValueError
        If a needed file has no known SHA-256 (nothing unverified is ever saved).
    """
    name = _canonical(name)
    folder = cache_dir(name) if folder is None else Path(folder)
    mirrors = MIRRORS[name] if mirrors is None else tuple(mirrors)
    sha256 = SHA256[name] if sha256 is None else sha256
    needed = [f"{base}.gz" for base in _split_files(split) if not _find_file(folder, base)]
    for filename in needed:
        if filename not in sha256:
            raise ValueError(f"download: no known SHA-256 for {name} file {filename}; "
                             f"pass sha256={{{filename!r}: '<hex digest>', ...}}")
    if not needed:
        return folder

    created = _make_dirs(folder)
    fetched: dict[str, Path] = {}
    try:
        for filename in needed:
            attempts = []
            for mirror in mirrors:
                url = mirror.rstrip("/") + "/" + filename
                print(f"tinygrad_edu: downloading {url}", file=sys.stderr)
                try:
                    fetched[filename] = _fetch(url, folder, filename, sha256[filename], timeout)
                    break
                except Exception as e:  # any failure: try the next mirror
                    attempts.append((url, f"{type(e).__name__}: {e}"))
            else:
                raise DownloadError(_download_message(name, filename, attempts, folder, split),
                                    attempts, folder, [f"{b}.gz" for b in _split_files(split)])
        for filename, tmp in fetched.items():
            os.replace(tmp, folder / filename)
        fetched.clear()
    finally:
        for tmp in fetched.values():
            tmp.unlink(missing_ok=True)
        for made in created:  # deepest first; only the folders this call made, if empty
            if made.exists() and not any(made.iterdir()):
                made.rmdir()
    return folder


def _download_message(name: str, filename: str, attempts: list[tuple[str, str]],
                      folder: Path, split: str | None) -> str:
    tried = "\n".join(f"  {url}\n    -> {reason}" for url, reason in attempts) or "  (none)"
    files = ", ".join(f"{b}.gz" for b in _split_files(split))
    return (
        f"could not download {_TITLES[name]} file {filename}; mirrors tried:\n{tried}\n"
        f"Nothing was saved. To install {_TITLES[name]} by hand, put the files\n"
        f"  {files}\n"
        f"(gzipped, or unpacked without the .gz) in\n  {folder}\n"
        f"or in a folder passed as root=..., or in ${ENV_VAR}."
    )


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IDXError(f"{images_path}: expected uint8 images of shape (N, 28, 28), got "
                       f"{images.dtype} {images.shape}; is this the right file?")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXError(f"{labels_path}: expected uint8 labels of shape (N,), got "
                       f"{labels.dtype} {labels.shape}; is this the right file?")
    if len(images) != len(labels):
        raise IDXError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                       f"{len(labels)} labels; the two files come from different splits or "
                       f"releases: replace them with a matching pair")
    if labels.size and labels.max() > 9:
        raise IDXError(f"{labels_path}: label {labels.max()} is out of range 0..9; "
                       f"is this the right file?")
    return images, labels.astype(np.int64)


def _load(name: str, split: str, root: str | os.PathLike | None, download_missing: bool,
          mirrors: Sequence[str] | None, sha256: Mapping[str, str] | None,
          ) -> tuple[np.ndarray, np.ndarray]:
    name = _canonical(name)
    bases = _split_files(split)
    folder = find_dataset(name, root, split)
    if folder is None:
        if not download_missing:
            searched = "\n".join(f"  {d}" for d in search_dirs(name, root))
            raise DatasetNotFoundError(
                f"{_TITLES[name]} {split} files {bases[0]}[.gz] and {bases[1]}[.gz] are in "
                f"none of these folders:\n{searched}\nput them in one of them, or pass "
                f"download=True to fetch them into {cache_dir(name)}"
            )
        folder = download(name, split, mirrors=mirrors, sha256=sha256)
    images_path, labels_path = (_find_file(folder, base) for base in bases)
    return _read_pair(images_path, labels_path)


def mnist(split: str = "train", root: str | os.PathLike | None = None, download: bool = True,
          *, mirrors: Sequence[str] | None = None, sha256: Mapping[str, str] | None = None,
          ) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST handwritten digits: 60,000 training or 10,000 test images.

    Parameters
    ----------
    split : {"train", "test"}
        Which part to load.
    root : str or os.PathLike, optional
        A folder to look in first; see :func:`search_dirs` for the whole order.
    download : bool
        Download into :func:`cache_dir` if the files are found nowhere.
    mirrors, sha256 : optional
        Override ``MIRRORS["mnist"]`` and ``SHA256["mnist"]`` (see :func:`download`).

    Returns
    -------
    images : numpy.ndarray
        uint8, shape (N, 28, 28), pixels 0 (background) to 255 (ink).
    labels : numpy.ndarray
        int64, shape (N,), digits 0 to 9.

    Raises
    ------
    DatasetNotFoundError
        If the files are nowhere and ``download=False``.
    DownloadError
        If downloading fails.
    IDXError
        If a file found is truncated, corrupt, or of the wrong shape.

    Examples
    --------
    >>> from tinygrad_edu.data import find_dataset
    >>> if find_dataset("mnist", split="test"):
    ...     images, labels = mnist("test", download=False)
    ...     assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    """
    return _load("mnist", split, root, download, mirrors, sha256)


def fashion_mnist(split: str = "train", root: str | os.PathLike | None = None,
                  download: bool = True, *, mirrors: Sequence[str] | None = None,
                  sha256: Mapping[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Zalando's clothing images), in MNIST's format and sizes.

    Same parameters, returns and errors as :func:`mnist`; labels are 0 T-shirt/top,
    1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag,
    9 Ankle boot. On Debian, ``apt-get install dataset-fashion-mnist`` provides the files.

    Examples
    --------
    >>> from tinygrad_edu.data import find_dataset
    >>> if find_dataset("fashion-mnist", split="test"):
    ...     images, labels = fashion_mnist("test", download=False)
    ...     assert images.dtype == np.uint8 and labels.max() == 9
    """
    return _load("fashion-mnist", split, root, download, mirrors, sha256)
