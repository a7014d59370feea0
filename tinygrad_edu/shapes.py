"""Broadcasting and dim helpers: unbroadcast, sum_to and spread_to, normalize_dim,
broadcast_shape."""

from __future__ import annotations

import math

import numpy as np

from .errors import DimError, ShapeError, broadcast_error, dim_error
from .reductions import sum_rows


def normalize_dim(dim: int, ndim: int, op: str, shape=None) -> int:
    """Turn a possibly negative `dim` into an index in `[0, ndim)`, or raise DimError."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if -ndim <= dim < ndim:
        return int(dim) % ndim
    raise dim_error(op, dim, shape if shape is not None else (None,) * ndim, ndim)


def normalize_dims(dim, shape, op: str) -> tuple[int, ...]:
    """`dim` given as None (all dims), an int or a tuple of ints -> sorted tuple of dims."""
    ndim = len(shape)
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    if ndim == 0 and all(d in (0, -1) for d in dims if isinstance(d, (int, np.integer))):
        return ()  # PyTorch lets dim 0 (or -1) name a 0-d tensor's one element: nothing to reduce
    out = tuple(sorted({normalize_dim(d, ndim, op, shape) for d in dims}))
    if len(out) != len(dims):
        raise DimError(f"{op}: dim {dim} names a dim twice for a tensor of shape "
                       f"{tuple(shape)}; list each dim once")
    return out


def broadcast_shape(op: str, *shapes) -> tuple[int, ...]:
    """The shape numpy broadcasting gives `shapes`, or ShapeError naming `op`."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise broadcast_error(op, shapes) from None


def reduced_shape(shape, dims, keepdim: bool) -> tuple[int, ...]:
    """Shape after reducing `dims` of `shape`."""
    if keepdim:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def summed_dims(grad_shape, shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The dims to sum a gradient of `grad_shape` over to get back to `shape`.

    Broadcasting prepends dims and stretches dims of size 1, so the gradient sums over the
    prepended dims and, keeping them, over the stretched ones: returns (prepended, stretched).
    """
    lead = len(grad_shape) - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, grad_shape[lead:], strict=True)):
        raise ShapeError(f"backward: a gradient of shape {tuple(grad_shape)} cannot belong to an "
                         f"input of shape {tuple(shape)}; the op's backward rule is wrong")
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad_shape[lead + i] != 1)
    return tuple(range(lead)), stretched


def unbroadcast(grad, shape):
    """Sum `grad` (a Tensor) back to `shape`: the backward of numpy broadcasting.

    Recorded as Tensor ops, so it also works under `create_graph=True`; `sum_to` is the same
    sum on a numpy array, for when nothing is recorded.
    """
    if grad.shape == shape:  # the common case: nothing was broadcast
        return grad
    prepended, stretched = summed_dims(grad.shape, shape)
    if prepended:
        grad = grad.sum(dim=prepended)
    if stretched:
        grad = grad.sum(dim=stretched, keepdim=True)
    return grad


def sum_to(array: np.ndarray, shape) -> np.ndarray:
    """`unbroadcast` on a numpy array: sum it back to `shape` (no graph, no op calls)."""
    if array.ndim == len(shape) + 1 and array.shape[1:] == shape:  # a bias's gradient
        return sum_rows(array)
    prepended, stretched = summed_dims(array.shape, shape)
    if prepended:
        array = np.add.reduce(array, axis=prepended)
    if stretched:
        array = np.add.reduce(array, axis=stretched, keepdims=True)
    return np.asarray(array)  # a sum over every dim is a numpy scalar


# Up to this many elements spread_to writes its result out: filling a small array takes
# 0.3-0.8 us, numpy's general broadcast_to 1.7-2 us (and a contiguous gradient is quicker
# for the next rule to read). Larger results stay numpy's broadcast view: no memory.
SMALL_SPREAD = 4096


def spread_to(array, shape: tuple) -> np.ndarray:
    """The inverse of `sum_to` on a numpy array (or number): repeat it to `shape` by numpy's
    broadcasting, as a new array when small, else as a read-only broadcast view."""
    if math.prod(shape) <= SMALL_SPREAD:
        out = np.empty(shape, np.result_type(array))
        out[...] = array
        return out
    return np.broadcast_to(array, shape)
