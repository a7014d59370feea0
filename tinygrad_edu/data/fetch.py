"""Download MNIST or Fashion-MNIST files from mirrors, verified, all or nothing.

Each file is fetched from the mirrors in :data:`MIRRORS`, tried in turn, and kept only if
its SHA-256 matches :data:`SHA256`. Both tables can be changed here or per call. Each try
is announced on stderr, and a failed one says why in one line: no network, connection
refused, timeout, HTTP error, truncated, or bad checksum.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from .locate import ENV_VAR, TITLES, cache_dir, canonical_name, find_file, split_files

__all__ = ["MIRRORS", "SHA256", "DownloadError", "download", "failure_reason"]

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

_CHUNK = 1 << 16

# errors of a machine that has no route out: no network at all, or none to that host
_NO_NETWORK = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL}


class _ChecksumError(ValueError):
    """The file arrived whole, but its SHA-256 is not the expected one."""


def failure_reason(url: str, exc: BaseException, timeout: float) -> str:
    """Why fetching `url` failed, in one line that starts with the kind of failure.

    Parameters
    ----------
    url : str
        The URL that was tried (its host is named in the reason).
    exc : BaseException
        What the attempt raised.
    timeout : float
        The per-read timeout it ran with, in seconds.

    Returns
    -------
    str
        ``"no network: ..."``, ``"connection refused: ..."``, ``"timeout: ..."``,
        ``"HTTP error 404 (Not Found)"``, ``"truncated: ..."``, ``"bad checksum: ..."``,
        or for anything else the exception's type and message.

    Examples
    --------
    >>> import socket, urllib.error
    >>> offline = urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name "
    ...                                                     "resolution"))
    >>> failure_reason("https://example.org/a.gz", offline, 5.0)
    'no network: cannot resolve example.org (Temporary failure in name resolution)'
    >>> failure_reason("https://example.org/a.gz", TimeoutError("timed out"), 5.0)
    'timeout: example.org sent nothing for 5 s'
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc or url
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} ({exc.reason})"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(exc, _ChecksumError):
        return f"bad checksum: {exc}"
    if isinstance(reason, socket.gaierror):
        return f"no network: cannot resolve {parts.hostname or host} " \
               f"({reason.strerror or reason})"
    if isinstance(reason, TimeoutError):   # socket.timeout is TimeoutError since 3.10
        detail = str(reason)
        if detail.startswith("no complete file"):
            return f"timeout: {detail}"
        return f"timeout: {host} sent nothing for {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return f"connection refused: nothing answers at {host}"
    if isinstance(reason, OSError) and reason.errno in _NO_NETWORK:
        return f"no network: {host} is unreachable ({reason.strerror})"
    if isinstance(exc, ConnectionError) and str(exc).startswith("truncated"):
        return f"truncated: {str(exc).removeprefix('truncated download: ')}"
    if isinstance(reason, str):
        return f"{type(exc).__name__}: {reason}"
    return f"{type(reason).__name__}: {reason}"


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


def _fetch(url: str, folder: Path, filename: str, expected: str, timeout: float,
           deadline: float) -> Path:
    """Download url into a temporary file in folder; return it if its SHA-256 matches.

    `timeout` bounds each connection attempt and socket read; `deadline` the whole file,
    checked after each read (so it ends at most `timeout` seconds late).
    """
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    try:
        digest, received = hashlib.sha256(), 0
        give_up = time.monotonic() + deadline
        with os.fdopen(fd, "wb") as f, \
                urllib.request.urlopen(url, timeout=min(timeout, deadline)) as response:
            declared = response.headers.get("Content-Length")
            # read1 returns what one socket read brings: read(n) would wait for all n bytes
            read = getattr(response, "read1", response.read)
            while chunk := read(_CHUNK):
                digest.update(chunk)
                received += len(chunk)
                f.write(chunk)
                if time.monotonic() > give_up:
                    raise TimeoutError(
                        f"no complete file within the deadline of {deadline:g} s ({received} "
                        f"of {declared or 'an unknown number of'} bytes received); the mirror "
                        f"is too slow: pass a larger deadline= on a slow connection")
        # http.client's read(n) returns b"" at a closed connection, even short of the length
        if declared is not None and declared.isdigit() and received != int(declared):
            raise ConnectionError(f"truncated download: the connection closed after "
                                  f"{received} of {declared} bytes")
        if digest.hexdigest() != expected:
            raise _ChecksumError(
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
             timeout: float = 30.0, deadline: float = 900.0) -> Path:
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
        Seconds to wait for each connection attempt or socket read.
    deadline : float
        Seconds one file may take from one mirror, from the request to the last byte
        (15 minutes by default: MNIST's largest file, 9.9 MB, at 11 kB/s). A mirror that
        keeps sending, but too slowly, counts as failed once it is past (checked after
        each read, so at most ``timeout`` seconds late) and the next one is tried.

    Returns
    -------
    pathlib.Path
        The folder holding the files.

    Raises
    ------
    DownloadError
        If every mirror fails for a file. The message lists each URL with its failure (as
        :func:`failure_reason` words it: no network, connection refused, timeout, HTTP
        error, truncated, bad checksum) and says which files to put where by hand.
    ValueError
        If a needed file has no known SHA-256 (nothing unverified is ever saved), or
        ``timeout`` or ``deadline`` is not a positive number of seconds.

    Examples
    --------
    A mirror can be any URL urllib opens; here a local folder, with its own checksums:

    >>> import hashlib, pathlib, tempfile
    >>> import numpy as np
    >>> from tinygrad_edu.data import write_idx
    >>> mirror = pathlib.Path(tempfile.mkdtemp())
    >>> write_idx(mirror / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    >>> write_idx(mirror / "t10k-labels-idx1-ubyte.gz", np.array([3, 1], np.uint8))
    >>> sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    >>> folder = download("mnist", "test", folder=tempfile.mkdtemp(),
    ...                   mirrors=[mirror.as_uri()], sha256=sums)
    >>> sorted(p.name for p in folder.iterdir())
    ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
    """
    for what, seconds in (("timeout", timeout), ("deadline", deadline)):
        if isinstance(seconds, bool) or not (isinstance(seconds, (int, float))
                                             and 0 < seconds < math.inf):
            raise ValueError(f"download: {what} must be a positive number of seconds, "
                             f"got {seconds!r}")
    name = canonical_name(name)
    folder = cache_dir(name) if folder is None else Path(folder)
    mirrors = MIRRORS[name] if mirrors is None else tuple(mirrors)
    sha256 = SHA256[name] if sha256 is None else sha256
    needed = [f"{base}.gz" for base in split_files(split) if not find_file(folder, base)]
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
                print(f"tinygrad_edu: downloading {url}", file=sys.stderr, flush=True)
                try:
                    fetched[filename] = _fetch(url, folder, filename, sha256[filename],
                                               timeout, deadline)
                    break
                except Exception as e:  # any failure: say why, try the next mirror
                    why = failure_reason(url, e, timeout)
                    print(f"tinygrad_edu:   failed: {why}", file=sys.stderr, flush=True)
                    attempts.append((url, why))
            else:
                raise DownloadError(_download_message(name, filename, attempts, folder, split),
                                    attempts, folder, [f"{b}.gz" for b in split_files(split)])
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
    files = ", ".join(f"{b}.gz" for b in split_files(split))
    return (
        f"could not download {TITLES[name]} file {filename}; mirrors tried:\n{tried}\n"
        f"Nothing was saved. To install {TITLES[name]} by hand, put the files\n"
        f"  {files}\n"
        f"(gzipped, or unpacked without the .gz) in\n  {folder}\n"
        f"or in a folder passed as root=..., or in ${ENV_VAR}."
    )
