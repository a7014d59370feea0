"""Load MNIST and Fashion-MNIST as numpy arrays, from local files or a verified download.

The loaders look for the files as :mod:`tinygrad_edu.data.locate` says; if they are
nowhere and ``download=True``, :func:`tinygrad_edu.data.fetch.download` puts them in the
cache first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import fetch
from .idx import IDXError, read_idx
from .locate import (
    TITLES,
    cache_dir,
    canonical_name,
    find_dataset,
    find_file,
    search_dirs,
    split_files,
)

__all__ = ["DatasetNotFoundError", "mnist", "fashion_mnist"]


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the searched folders, and downloading is off."""


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
    name = canonical_name(name)
    bases = split_files(split)
    folder = find_dataset(name, root, split)
    if folder is None:
        if not download_missing:
            searched = "\n".join(f"  {d}" for d in search_dirs(name, root))
            raise DatasetNotFoundError(
                f"{TITLES[name]} {split} files {bases[0]}[.gz] and {bases[1]}[.gz] are in "
                f"none of these folders:\n{searched}\nput them in one of them, or pass "
                f"download=True to fetch them into {cache_dir(name)}"
            )
        folder = fetch.download(name, split, mirrors=mirrors, sha256=sha256)
    images_path, labels_path = (find_file(folder, base) for base in bases)
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
