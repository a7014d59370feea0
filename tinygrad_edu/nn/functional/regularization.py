"""dropout and batch_norm: the functions whose result depends on `training`."""

from __future__ import annotations

import numpy as np

from ... import function as _function
from ... import ops
from ... import random as _random
from ...errors import ShapeError
from ...ops.normalization import batch_stats
from ...tensor import Tensor
from ._checks import _check_tensor


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p); the identity
    when not training (so the expected value is the same in both modes).

    The mask comes from the global generator (`tinygrad_edu.manual_seed`) and is a constant:
    the gradient is the same mask times 1 / (1 - p).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> dropout(Tensor([1.0, 2.0]), 0.5, training=False)
    Tensor([1., 2.], dtype=float32)
    """
    _check_tensor("dropout", "input", input)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not training or p == 0:
        return input
    dtype = input.dtype if input.dtype.kind == "f" else np.dtype(np.float32)
    if p == 1:
        return input * Tensor(np.zeros((), dtype))
    keep = _random.make_rng(None).random(input.shape, dtype=np.float32) >= p
    mask = Tensor(keep.astype(dtype) * dtype.type(1 / (1 - p)))
    mask.name = f"dropout mask / {1 - p:g}"                # as drawings label it
    return input * mask


def batch_norm(input: Tensor, running_mean, running_var, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1), as PyTorch.

    Training: mean and (biased) var over every dim but 1, from this batch, with the gradient
    flowing through them; running_mean and running_var (Tensors of shape (C,), or None) are
    then updated in place, without a gradient: running = (1 - momentum) running + momentum
    stat, with the unbiased variance. Evaluation: the running statistics, as constants.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> mean, var = Tensor(np.zeros(1, np.float32)), Tensor(np.ones(1, np.float32))
    >>> batch_norm(Tensor([[1.0], [3.0]]), mean, var, training=True, eps=0.0)
    Tensor([[-1.],
            [ 1.]], dtype=float32)
    >>> mean, var                                  # 0.1 x 2, and 0.9 + 0.1 x 2 (unbiased)
    (Tensor([0.2], dtype=float32), Tensor([1.1], dtype=float32))
    """
    op = "batch_norm"
    _check_tensor(op, "input", input)
    if input.ndim < 2:
        raise ShapeError(f"{op}: input of shape {input.shape} has no channel dim; pass "
                         "(N, C), (N, C, L) or (N, C, H, W)")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, Tensor) or t.shape != (c,)):
            raise ShapeError(f"{op}: {name} must be a Tensor of shape ({c},) for input "
                             f"{input.shape}, got {getattr(t, 'shape', type(t).__name__)}")
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        count = input.data.size // max(c, 1)
        if count <= 1:
            raise ValueError(f"{op}: training needs more than one value per channel, got "
                             f"input of shape {input.shape}; use a larger batch or eval()")
        mean, var = batch_stats(input.data)       # numpy arrays, outside the graph
        _update_running(running_mean, mean.reshape(c), momentum)
        _update_running(running_var, var.reshape(c) * (count / (count - 1)), momentum)
        # one op: normalisation and affine map, with one closed-form backward rule
        if bias is not None and weight is None:   # its inputs are x, [weight, [bias]]
            weight = Tensor(np.ones(c, input.dtype if input.dtype.kind == "f" else mean.dtype))
        affine = [t for t in (weight, bias) if t is not None]
        return ops.BatchNorm.apply(input, *affine, eps=eps, stats=(mean, var))
    # evaluation: an affine map with constants, the running statistics
    if running_mean is None or running_var is None:
        raise ValueError(f"{op}: evaluation (training=False) needs running_mean and "
                         "running_var; pass them, or training=True for batch statistics")
    scale = 1 / np.sqrt(running_var.data.reshape(shape) + eps)
    out = (input - Tensor(running_mean.data.reshape(shape))) * Tensor(scale.astype(
        running_var.dtype))
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _update_running(stat: Tensor | None, value: np.ndarray, momentum: float) -> None:
    if stat is None:
        return
    np.copyto(stat.data, (1 - momentum) * stat.data + momentum * value, casting="unsafe")
    _function.mark_written(stat.data)
