"""Batch normalisation in training as one op: batch statistics, normalisation and affine map."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..function import Function, state
from .elementwise import _const
from .reduce import _floating


def batch_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the biased variance of x over every dim but 1 (the channels), each of
    shape (1, C, 1, ...) so that they broadcast against x."""
    if x.ndim < 2 or x.size == 0:
        raise ShapeError(f"batch_norm: input of shape {x.shape} has no channel dim or no "
                         "values; pass (N, C), (N, C, L) or (N, C, H, W) with N > 0")
    x = _floating(x)
    dims = _stat_dims(x.ndim)
    mean = x.mean(axis=dims, keepdims=True)
    centred = x - mean
    return mean, np.mean(centred * centred, axis=dims, keepdims=True)


def _stat_dims(ndim: int) -> tuple[int, ...]:
    return (0,) + tuple(range(2, ndim))


class BatchNorm(Function):
    """out = (x - mean) / sqrt(var + eps) * weight + bias, per channel (dim 1)

    mean and var (biased) are x's own, over every dim but 1, so the gradient flows through
    them; x is (N, C), (N, C, L) or (N, C, H, W). weight and bias, of shape (C,), are
    optional inputs: x alone, x and weight, or all three. `stats` is x's (mean, var) when the
    caller has computed them already (`batch_stats`; F.batch_norm needs them for the running
    statistics too).
    """

    def forward(self, x, weight=None, bias=None, eps=1e-5, stats=None):
        mean, var = batch_stats(x) if stats is None else stats
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and p.shape != (x.shape[1],):
                raise ShapeError(f"batch_norm: {name} of shape {p.shape} for input {x.shape}; "
                                 f"give one value per channel, shape ({x.shape[1]},)")
        self.eps = eps
        self.inv_std = 1 / np.sqrt(var + var.dtype.type(eps))   # (float32 stays float32)
        self.xhat = out = (_floating(x) - mean) * self.inv_std  # both kept for backward
        if weight is not None:
            out = out * weight.reshape(mean.shape)
        if bias is not None:
            out = out + bias.reshape(mean.shape)
        return out

    def backward(self, grad):
        # With dxhat = g w and sums and means over every dim but 1 (M values per channel):
        #   dx = (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) / sqrt(var + eps)
        # the chain rule through xhat, mean and var (docs/derivations.md). Since w is one
        # number per channel, sum(dxhat) = w db and sum(dxhat xhat) = w dw: dx reuses them.
        x, *params = self.inputs
        need_x, need_w, need_b = (self.needs_input_grad + (False, False))[:3]  # w, b optional
        dims, shape = _stat_dims(x.ndim), self.inv_std.shape
        if state.grad_enabled and x.requires_grad:  # create_graph: xhat and 1/std are on x
            xhat, inv_std = _normalized(x, dims, self.eps)
        else:                                        # nothing is recorded: the saved values
            xhat, inv_std = _const(self.xhat), _const(self.inv_std)
        db = grad.sum(dims) if need_x or need_b else None               # dout/dbias = 1
        dw = (grad * xhat).sum(dims) if need_x or need_w else None      # dout/dweight = xhat
        dx = None
        if need_x:
            m = x.data.size // shape[1]
            scale = inv_std if not params else params[0].reshape(shape) * inv_std
            # dout/dx as above: (g - (db + xhat dw) / M) w / sqrt(var + eps)
            dx = (grad - (xhat * (dw / m).reshape(shape) + (db / m).reshape(shape))) * scale
        return (dx, dw if need_w else None, db if need_b else None)[:len(self.inputs)]


def _normalized(x, dims, eps):
    """xhat and 1 / sqrt(var + eps) with Tensor ops on x, for a rule recorded as a graph."""
    centred = x - x.mean(dims, keepdim=True)
    inv_std = 1 / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    return centred * inv_std, inv_std
