"""Broadcasting and dim helpers: unbroadcast, normalize_dim, broadcast_shape."""

from __future__ import annotations

import numpy as np

from .errors import DimError, ShapeError, broadcast_error, dim_error


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


def unbroadcast(grad, shape):
    """Sum `grad` (a Tensor) back to `shape`: the backward of numpy broadcasting.

    Broadcasting prepends dims and stretches dims of size 1, so the gradient sums over the
    prepended dims and, with keepdim, over the stretched ones. Recorded as Tensor ops, so it
    also works under `create_graph=True`.
    """
    if grad.shape == shape:  # the common case: nothing was broadcast
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise ShapeError(f"backward: a gradient of shape {grad.shape} cannot belong to an "
                         f"input of shape {shape}; the op's backward rule is wrong")
    if lead:
        grad = grad.sum(dim=tuple(range(lead)))
    if grad.shape != shape:  # dims of size 1 that were stretched
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(dim=stretched, keepdim=True)
        if grad.shape != shape:
            raise ShapeError(f"backward: a gradient of shape {grad.shape} cannot belong to an "
                             f"input of shape {shape}; the op's backward rule is wrong")
    return grad
