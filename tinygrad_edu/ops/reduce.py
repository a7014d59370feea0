"""Reductions: sum, mean, max and min, softmax and log_softmax."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..function import Function
from ..reductions import shifted_along, sum_along
from ..shapes import normalize_dim, normalize_dims, reduced_shape, spread_to
from ..tensor import Tensor
from .elementwise import _const


class Sum(Function):
    """out = sum of x over dims"""

    def forward(self, x, dim=None, keepdim=False):
        self.dims, self.keepdim = normalize_dims(dim, x.shape, "sum"), keepdim
        return sum_along(x, self.dims, keepdim)

    rule_on_arrays = True

    def backward(self, grad):
        # dout/dx = 1 for every summed element: spread grad back over the summed dims
        return _spread(grad, self.inputs[0].shape, self.dims, self.keepdim)


class Mean(Function):
    """out = sum of x over dims / N, for the N values each output averages"""

    def forward(self, x, dim=None, keepdim=False):
        self.dims, self.keepdim = normalize_dims(dim, x.shape, "mean"), keepdim
        total = sum_along(x, self.dims, keepdim)
        count = x.size // total.size if total.size else 0
        self.scale = 1.0 / count if count else float("nan")  # no values: NaN, as numpy's
        if x.dtype.kind != "f":              # integers and bools average in float64 (numpy's)
            return np.true_divide(total, count) if count else np.full(total.shape, np.nan)
        return total * np.asarray(self.scale, x.dtype)

    rule_on_arrays = True

    def backward(self, grad):
        # dout/dx = 1/N for every averaged element: grad / N spread back over the averaged dims
        return _spread(grad * self.scale, self.inputs[0].shape, self.dims, self.keepdim)


def _spread(grad, x_shape: tuple, dims: tuple, keepdim: bool):
    """The gradient of a reduction over `dims` repeated along them, to x's shape (the op
    Expand on Tensors)."""
    if not keepdim and np.ndim(grad):
        grad = grad.reshape(reduced_shape(x_shape, dims, keepdim=True))
    return grad.expand(x_shape) if isinstance(grad, Tensor) else spread_to(grad, x_shape)


def _total(x, dim: int):
    """x summed along dim, kept as a dim of 1 (Sum on Tensors, sum_along on arrays)."""
    return x.sum(dim, keepdim=True) if isinstance(x, Tensor) else sum_along(x, (dim,), True)


class Max(Function):
    """out = max of x over dims; ties share the gradient evenly (NaNs, which propagate, win)"""

    reduce = staticmethod(np.max)

    def forward(self, x, dim=None, keepdim=False):
        op = self.name.lower()
        dims = normalize_dims(dim, x.shape, op)
        if any(x.shape[d] == 0 for d in dims):       # the max of no elements has no value
            raise ShapeError(f"{op}: cannot reduce an empty tensor of shape {x.shape} over dims "
                             f"{dims}; reduce over dims that have elements")
        out = self.reduce(x, axis=dims, keepdims=True)
        winners = x == out
        if x.dtype.kind == "f" and np.isnan(out).any():  # a NaN is the result (and NaN != NaN)
            winners |= np.isnan(x) & np.isnan(out)
        self.share = winners / np.maximum(winners.sum(axis=dims, keepdims=True), 1)
        self.share = self.share.astype(x.dtype, copy=False)
        self.keepdim, self.kept_shape = keepdim, out.shape
        return out if keepdim else out.reshape(reduced_shape(x.shape, dims, keepdim=False))

    def backward(self, grad):
        if not self.keepdim:
            grad = grad.reshape(self.kept_shape)
        return grad * _const(self.share)             # dout/dx = 1/k at the k maxima, else 0


class Min(Max):
    """out = min of x over dims; ties share the gradient evenly"""

    reduce = staticmethod(np.min)  # computed directly: -max(-x) wraps around on integers


def _floating(x: np.ndarray) -> np.ndarray:
    """Integer or bool scores as floats (float32 at least): x - max(x) must not wrap around."""
    return x if x.dtype.kind in "fc" else x.astype(np.result_type(x.dtype, np.float32))


class Softmax(Function):
    """out = exp(x) / sum(exp(x)) along dim"""

    def forward(self, x, dim=-1, value=None):
        self.dim = normalize_dim(dim, x.ndim, "softmax", x.shape)
        if value is not None:                        # the caller computed softmax(x) already
            return value
        x = _floating(x)
        if not x.shape[self.dim]:                    # no classes: empty, as in PyTorch
            return np.empty_like(x)
        e = np.exp(shifted_along(x, self.dim))      # x - max(x): exp never overflows
        return e / sum_along(e, (self.dim,), keepdims=True)

    rule_on_arrays = True

    def backward(self, grad):
        return _softmax_vjp(self.result(grad), grad, self.dim)


def _softmax_vjp(out, grad, dim):
    """The gradient of x through out = softmax(x) (a Tensor on x, or an array), given grad of
    out."""
    # dout_i/dx_j = out_i (delta_ij - out_j), so grad_x = out * (grad - sum(grad * out))
    return out * (grad - _total(grad * out, dim))



class LogSoftmax(Function):
    """out = x - log(sum(exp(x))) along dim"""

    def forward(self, x, dim=-1):
        self.dim = normalize_dim(dim, x.ndim, "log_softmax", x.shape)
        x = _floating(x)
        if not x.shape[self.dim]:                    # no classes: empty, as in PyTorch
            return np.empty_like(x)
        shifted = shifted_along(x, self.dim)        # x - max(x): stable for large logits
        return shifted - np.log(sum_along(np.exp(shifted), (self.dim,), keepdims=True))

    rule_on_arrays = True

    def backward(self, grad):
        # dout_i/dx_j = delta_ij - softmax_j, so grad_x = grad - softmax * sum(grad)
        out = self.result(grad)
        softmax = out.exp() if isinstance(out, Tensor) else np.exp(out)
        return grad - softmax * _total(grad, self.dim)
