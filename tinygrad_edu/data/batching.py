"""Cut numpy arrays into minibatches, optionally shuffled, reproducibly."""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral

import numpy as np

from ..random import make_rng

__all__ = ["DataLoader", "batches"]


class DataLoader:
    """Iterate over aligned numpy arrays in minibatches.

    Each iteration is one epoch: it yields tuples ``(a[idx], b[idx], ...)``, one entry per
    array, where ``idx`` runs over every sample exactly once (the last batch may be smaller
    unless ``drop_last``). With ``shuffle=True`` and a ``seed``, epoch ``e`` uses the
    permutation drawn from ``np.random.default_rng((seed, e))``: the same loader reshuffles
    each time it is iterated again, and a new loader with the same seed repeats the
    same sequence of epochs. Without shuffling, batches are read-only views of the arrays (no
    copy), so an in-place op on one (`x -= mean`) raises instead of changing the data.

    Parameters
    ----------
    *arrays : numpy.ndarray
        One or more arrays with the same first dimension (the samples).
    batch_size : int
        Samples per batch, at least 1.
    shuffle : bool
        Visit the samples in a new random order each epoch.
    seed : int, optional
        Makes the shuffling reproducible; None draws from the global generator
        (`tinygrad_edu.manual_seed`).
    drop_last : bool
        Skip a final batch smaller than ``batch_size``.

    Attributes
    ----------
    epoch : int
        How many epochs have started; the next iteration shuffles with this number.
        Set it to replay a given epoch.

    Raises
    ------
    ValueError
        If no array is given, an array is 0-d, the arrays' lengths differ,
        ``batch_size`` is less than 1, or ``seed`` is negative.
    TypeError
        If ``batch_size`` is not an integer, or ``seed`` is neither None nor an integer.

    Examples
    --------
    >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> loader = DataLoader(x, y, batch_size=2)
    >>> len(loader)
    3
    >>> [yb.tolist() for _, yb in loader]
    [[0, 1], [2, 3], [4]]
    >>> [yb.tolist() for _, yb in DataLoader(x, y, batch_size=2, shuffle=True, seed=0)]
    [[2, 4], [3, 0], [1]]
    """

    def __init__(self, *arrays: np.ndarray, batch_size: int, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False) -> None:
        if not arrays:
            raise ValueError("DataLoader: pass at least one array, e.g. "
                             "DataLoader(images, labels, batch_size=32)")
        arrays = tuple(np.asarray(a) for a in arrays)
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"DataLoader: array {i} is 0-d (a scalar); every array needs "
                                 f"a first dimension indexing the samples")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"DataLoader: the arrays have different lengths {lengths} "
                             f"(shapes {shapes}); every array needs one entry per sample")
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
            raise TypeError(f"DataLoader: batch_size must be an int, got "
                            f"{type(batch_size).__name__} {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, Integral):
                raise TypeError(f"DataLoader: seed must be None or an int, got "
                                f"{type(seed).__name__} {seed!r}")
            if seed < 0:
                raise ValueError(f"DataLoader: seed must be >= 0 (numpy's generators take "
                                 f"non-negative seeds), got {seed}")
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        """How many samples the arrays hold (their common first dimension)."""
        return len(self.arrays[0])

    def __len__(self) -> int:
        """Number of batches in one epoch."""
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _order(self, epoch: int) -> np.ndarray | None:
        if not self.shuffle:
            return None
        if self.seed is None:  # the global generator: tinygrad_edu.manual_seed repeats a run
            return make_rng(None).permutation(self.num_samples)
        return np.random.default_rng((self.seed, epoch)).permutation(self.num_samples)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        order = self._order(self.epoch)
        self.epoch += 1
        for b in range(len(self)):
            start, stop = b * self.batch_size, (b + 1) * self.batch_size
            if order is None:  # views, no copy: read-only, so `x -= mean` cannot change the data
                yield tuple(_read_only(a[start:stop]) for a in self.arrays)
            else:
                idx = order[start:stop]
                yield tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.arrays)} arrays of {self.num_samples} samples, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last})")


def batches(*arrays: np.ndarray, batch_size: int, shuffle: bool = False,
            seed: int | None = None, drop_last: bool = False,
            ) -> Iterator[tuple[np.ndarray, ...]]:
    """One epoch of minibatches: ``iter(DataLoader(*arrays, ...))``.

    Parameters and errors are those of :class:`DataLoader`; the errors are raised at
    the call, not at the first ``next``.

    Examples
    --------
    >>> [x.tolist() for (x,) in batches(np.arange(5), batch_size=2, drop_last=True)]
    [[0, 1], [2, 3]]
    """
    return iter(DataLoader(*arrays, batch_size=batch_size, shuffle=shuffle, seed=seed,
                           drop_last=drop_last))


def _read_only(view: np.ndarray) -> np.ndarray:
    view.flags.writeable = False
    return view
