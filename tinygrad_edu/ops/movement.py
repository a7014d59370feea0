"""Movement ops: reshape, permute, expand, indexing, joining."""

from __future__ import annotations

import numpy as np

from .. import tensor as _tensor  # a module object: tensor.py imports this package
from ..errors import ShapeError
from ..function import Function
from ..shapes import normalize_dim


class Reshape(Function):
    """out = x with a new shape (same elements, same order)"""

    view = True
    rule_on_arrays = True

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.inputs[0].shape)    # the same elements, back in x's shape

    # An in-place op on a view inside the graph writes through to the viewed tensor (x), and
    # the view becomes a view of x's new value: `write_back` and `view_again` (tensor.py).
    def write_back(self, x, value):
        x.copy_(value.reshape(x.shape))

    def view_again(self, x, shape):
        return x.reshape(shape)

    def explain_error(self, inputs, params, exc):
        (x,) = inputs
        return ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                          f"elements) to {tuple(params['shape'])}; the element counts must "
                          "match (one dim may be -1 to infer it)")


class Permute(Function):
    """out = x with its dims reordered"""

    view = True
    kept_after_release = ("dims",)                   # pictures name x.T and transpose by them

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)                     # numpy checks dims (see explain_error)

    def backward(self, grad):
        n = len(self.dims)
        inverse = [0] * n                            # x's dim d went to place i: send it back
        for i, d in enumerate(self.dims):
            inverse[d % n] = i
        return Permute.apply(grad, dims=tuple(inverse))

    def write_back(self, x, value):
        x.copy_(value.permute(tuple(int(i) for i in np.argsort([d % x.ndim for d in self.dims]))))

    def view_again(self, x, shape):
        return Permute.apply(x, dims=self.dims)

    def explain_error(self, inputs, params, exc):
        shape, dims = inputs[0].shape, tuple(params["dims"])
        order = [normalize_dim(d, len(shape), "permute", shape) for d in dims]  # or DimError
        if sorted(order) != list(range(len(shape))):
            return ShapeError(f"permute: dims {dims} are not a reordering of the {len(shape)} "
                              f"dims of a tensor of shape {shape}; name each of "
                              f"0..{len(shape) - 1} exactly once")
        return super().explain_error(inputs, params, exc)


class Expand(Function):
    """out = x broadcast to a larger shape"""

    view = True

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return grad                                  # the engine sums it back to x's shape

    def explain_error(self, inputs, params, exc):
        return ShapeError(f"expand: cannot broadcast shape {inputs[0].shape} to "
                          f"{tuple(params['shape'])}; dims must match or be 1 in x")


def _numpy_index(index):
    """A Tensor inside an index becomes its array; arrays are copied (the rule keeps the index,
    and a later change to the caller's array must not reach it)."""
    if isinstance(index, tuple):
        return tuple(_index_part(i) for i in index)
    return _index_part(index)


def _index_part(i):
    i = i.data if isinstance(i, _tensor.Tensor) else i
    return np.array(i) if isinstance(i, (np.ndarray, list)) else i


def _has_array(index) -> bool:
    """Integer-array indexing can repeat an element: its backward must accumulate. A list,
    an array or a tuple inside the index is an integer array (numpy's rule)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, tuple, np.ndarray)) and np.asarray(i).dtype != bool
               for i in parts)


class GetItem(Function):
    """out = x[index]: slices, integers, integer arrays, boolean masks"""

    view = True

    def forward(self, x, index):
        self.index = _numpy_index(index)
        return x[self.index]

    def backward(self, grad):
        # dout/dx = 1 at each picked position; positions picked twice add up
        return ScatterAdd.apply(grad, index=self.index, shape=self.inputs[0].shape)

    def write_back(self, x, value):
        x[self.index] = value

    def view_again(self, x, shape):
        return GetItem.apply(x, index=self.index)

    def explain_error(self, inputs, params, exc):
        return type(exc)(f"getitem: index {params['index']!r} does not fit a tensor of shape "
                         f"{inputs[0].shape}: {exc}")


class ScatterAdd(Function):
    """out = zeros(shape) with x added at index (the backward of GetItem)"""

    def forward(self, x, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if _has_array(index):
            np.add.at(out, index, x)                 # repeated indices accumulate
        else:
            out[index] = x                           # slices never repeat: plain assignment
        return out

    def backward(self, grad):
        return grad[self.index]                      # dout/dx = 1 at the positions x went to


class Cat(Function):
    """out = x_1, x_2, ... joined along an existing dim"""

    def forward(self, *xs, dim=0):
        if not xs:
            raise ValueError("cat: needs at least one tensor")
        self.dim = normalize_dim(dim, xs[0].ndim, "cat", xs[0].shape)
        self.bounds = np.cumsum([0] + [x.shape[self.dim] for x in xs])
        return np.concatenate(xs, axis=self.dim)

    def backward(self, grad):
        lead = (slice(None),) * self.dim               # each input gets its own slice back
        return tuple(grad[lead + (slice(a, b),)] if need else None
                     for a, b, need in zip(self.bounds[:-1], self.bounds[1:],
                                           self.needs_input_grad, strict=True))

    def explain_error(self, inputs, params, exc):
        if not inputs:
            return ValueError("cat: needs at least one tensor; pass a non-empty list")
        return ShapeError(f"cat: shapes {[t.shape for t in inputs]} must match in every dim "
                          f"but dim {params.get('dim', 0)}")


class Stack(Function):
    """out = x_1, x_2, ... joined along a new dim"""

    def forward(self, *xs, dim=0):
        if not xs:
            raise ValueError("stack: needs at least one tensor")
        self.dim = normalize_dim(dim, xs[0].ndim + 1, "stack", xs[0].shape)
        return np.stack(xs, axis=self.dim)

    def backward(self, grad):
        lead = (slice(None),) * self.dim               # input i is slice i of the new dim
        return tuple(grad[lead + (i,)] if need else None
                     for i, need in enumerate(self.needs_input_grad))

    def explain_error(self, inputs, params, exc):
        if not inputs:
            return ValueError("stack: needs at least one tensor; pass a non-empty list")
        return ShapeError(f"stack: shapes {[t.shape for t in inputs]} must all be equal")
