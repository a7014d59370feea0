"""Sums and maxima of float arrays, by a faster route where numpy's obvious call is slow.

numpy reduces a matrix's short rows one row at a time, and sums down its columns with an
element-wise loop. The same numbers come faster from BLAS (a product with a vector of
ones) or, for the shift by a row maximum, from whole columns of a transposed copy. Each
function here is numpy's own call (`np.add.reduce`, `x - np.maximum.reduce(x)`,
`np.maximum(x, 0)`) with one of those routes where it is faster, and that call everywhere
else. They serve the ops that every training step runs: a bias's gradient, softmax,
log_softmax and cross-entropy over a batch of class scores, and ReLU (against an array of
zeros, not a scalar).
"""

from __future__ import annotations

import functools

import numpy as np

_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# np.dot itself, without the __array_function__ dispatch every call goes through first (for
# array-like classes; these modules pass only ndarrays): 0.15 us sooner per product
dot = getattr(np.dot, "__wrapped__", np.dot)

# Rows of at most this many elements count as short (a classifier's class scores): there,
# numpy's row-at-a-time reduce is slowest, and a product's or a maximum's rounding is that
# of a few additions or none, so the faster route changes nothing but the last bit.
SHORT_ROW = 64


def sum_rows(array: np.ndarray) -> np.ndarray:
    """The sum over dim 0, as `np.add.reduce(array, axis=0)` (a 0-d array for a 1-D array).

    A float32 or float64 matrix is summed as ones^T @ array: BLAS adds a batch's rows 2-4x
    faster than add.reduce (1.0 against 3.0 us for 128 x 128), in the same order, row after
    row, so no less accurately. It is how a bias's gradient is summed every step.
    """
    if array.ndim == 2 and array.dtype in _BLAS_FLOATS:
        return dot(_filled((array.shape[0],), array.dtype, 1), array)
    return np.asarray(np.add.reduce(array, axis=0))  # (numpy gives a scalar for a 1-D array)


def sum_along(array: np.ndarray, dims: tuple, keepdims: bool = False) -> np.ndarray:
    """`np.add.reduce(array, axis=dims, keepdims=keepdims)` of a float array, faster for a
    matrix summed over its rows (see `sum_rows`) or along short rows (array @ ones: 0.8
    against 2.6 us for 128 x 10 scores)."""
    if array.ndim == 2 and len(dims) == 1 and array.dtype in _BLAS_FLOATS:
        if dims[0] == 0:
            total = sum_rows(array)
            return total[None, :] if keepdims else total
        if array.shape[1] <= SHORT_ROW:
            total = dot(array, _filled((array.shape[1],), array.dtype, 1))
            return total[:, None] if keepdims else total
    return np.add.reduce(array, axis=dims, keepdims=keepdims)


def shifted_along(array: np.ndarray, dim: int) -> np.ndarray:
    """`array - np.maximum.reduce(array, axis=dim, keepdims=True)`: the shift that keeps
    softmax's exp from overflowing. The same values, faster along many short rows: there the
    maximum and the subtraction run on a transposed copy, a whole column of rows at a time
    (numpy takes short rows one at a time): 2.5 against 6.7 us for 128 x 10 scores, 5.8
    against 43 us for 1024 x 10. The result is that copy seen transposed, in column-major
    order, so the ops after it (exp, the division by the row sums) run along columns too."""
    if (array.ndim == 2 and dim == 1 and 0 < array.shape[1] <= SHORT_ROW
            and array.shape[0] >= SHORT_ROW):
        columns = np.ascontiguousarray(array.T)  # (a view, no copy, if array is column-major)
        return (columns - np.maximum.reduce(columns, axis=0)).T
    return array - np.maximum.reduce(array, axis=dim, keepdims=True)


def relu(array: np.ndarray) -> np.ndarray:
    """`np.maximum(array, 0)`, the same values, 3-4x faster for a float array: numpy runs its
    vectorised maximum only for two arrays and broadcasts a scalar on a slow loop (1.3
    against 5.4 us for 128 x 128, from a thousand elements up, on AVX2 and AVX-512 alike),
    so the 0 is an array of zeros of the same shape (one kept per shape in use)."""
    if array.dtype.kind != "f":
        return np.maximum(array, 0)
    return np.maximum(array, _filled(array.shape, array.dtype, 0))


@functools.lru_cache(maxsize=32)
def _filled(shape: tuple, dtype: np.dtype, value) -> np.ndarray:
    """A read-only array of `value`s: shared by every call, so nobody may change it. Zeros
    come from np.zeros: a large one is pages the system maps to its shared page of zeros,
    which take no memory until written (and this one never is)."""
    array = np.zeros(shape, dtype)
    if value:
        array += value
    array.flags.writeable = False
    return array
