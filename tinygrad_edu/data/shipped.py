"""The 10,000 real MNIST digits shipped inside the package, with a fixed train/test split.

The files in ``sample/`` are the first 10,000 images of the MNIST training set, in a
fixed shuffled order; ``sample/PROVENANCE.md`` says where they come from, how they were
converted (``scripts/make_mnist_sample.py``) and their licences.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from .idx import read_idx

__all__ = ["mnist_sample", "SAMPLE_SIZE", "SAMPLE_TEST_SIZE", "SAMPLE_FILES"]

SAMPLE_SIZE = 10_000
SAMPLE_TEST_SIZE = 2_000  # the last 2,000 of the shipped order; the first 8,000 train
SAMPLE_FILES = ("sample-images-idx3-ubyte.gz", "sample-labels-idx1-ubyte.gz")


@functools.cache
def _load_all() -> tuple[np.ndarray, np.ndarray]:
    folder = resources.files("tinygrad_edu.data") / "sample"
    arrays = []
    for filename in SAMPLE_FILES:
        # as_file gives a real path even when the package is imported from a zip
        with resources.as_file(folder / filename) as path:
            arrays.append(read_idx(path))
    images, labels = arrays
    if images.shape != (SAMPLE_SIZE, 28, 28) or labels.shape != (SAMPLE_SIZE,):
        raise RuntimeError(f"the shipped MNIST sample is damaged: images {images.shape}, "
                           f"labels {labels.shape}; reinstall tinygrad_edu")
    images.flags.writeable = False  # callers get copies; the cached arrays stay intact
    labels = labels.astype(np.int64)
    labels.flags.writeable = False
    return images, labels


def mnist_sample(split: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Load the shipped MNIST sample: 10,000 real digits, no download needed.

    Parameters
    ----------
    split : {"all", "train", "test"}
        ``"train"`` is the first 8,000 of the shipped (shuffled) order, ``"test"`` the
        last :data:`SAMPLE_TEST_SIZE` = 2,000, ``"all"`` both, train part first.

    Returns
    -------
    images : numpy.ndarray
        uint8, shape (N, 28, 28), pixels 0 to 255.
    labels : numpy.ndarray
        int64, shape (N,), digits 0 to 9.

    Raises
    ------
    ValueError
        If ``split`` is not one of the three.

    Examples
    --------
    >>> images, labels = mnist_sample("test")
    >>> images.shape, images.dtype, labels.shape
    ((2000, 28, 28), dtype('uint8'), (2000,))
    """
    cut = SAMPLE_SIZE - SAMPLE_TEST_SIZE
    parts = {"all": slice(None), "train": slice(None, cut), "test": slice(cut, None)}
    if split not in parts:
        raise ValueError(f"mnist_sample: unknown split {split!r}; choose one of "
                         f"{sorted(parts)}")
    images, labels = _load_all()
    return images[parts[split]].copy(), labels[parts[split]].copy()
