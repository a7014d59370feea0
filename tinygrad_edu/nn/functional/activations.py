"""Activations (softmax, relu, gelu, ...) and linear: the functions behind nn.layers."""

from __future__ import annotations

import numpy as np

from ... import ops
from ...tensor import Tensor
from ._checks import _check_tensor


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`; integers are computed in floats, an empty dim is empty."""
    _check_tensor("softmax", "x", x)
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - log(sum(exp(x))) along `dim`, stable for large values (ints, empty dims: as softmax)."""
    _check_tensor("log_softmax", "x", x)
    return x.log_softmax(dim)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, as one op (PyTorch's `F.linear`; the op `nn.Linear` runs).

    `weight` has shape (out_features, in_features); `input` ends with in_features.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> linear(Tensor([[1.0, 2.0]]), Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    ...        Tensor([0.5, 0.5, 0.5]))
    Tensor([[1.5, 2.5, 3.5]], dtype=float32)
    """
    _check_tensor("linear", "input", input)
    _check_tensor("linear", "weight", weight)
    if bias is None:
        return ops.Linear.apply(input, weight)
    _check_tensor("linear", "bias", bias)
    return ops.Linear.apply(input, weight, bias)


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x)."""
    return x.tanh()

def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere (the slope's gradient at 0, as PyTorch).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> leaky_relu(Tensor([-2.0, 3.0]), 0.1)
    Tensor([-0.2,  3. ], dtype=float32)
    """
    _check_tensor("leaky_relu", "x", x)
    return ops.Where.apply(x, x * negative_slope, condition=x.data > 0)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> elu(Tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    _check_tensor("elu", "x", x)
    # exp of min(x, 0): the branch not taken never overflows
    negative = (x.clamp(max=0.0).exp() - 1) * alpha
    return ops.Where.apply(x, negative, condition=x.data > 0)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt(2))).

    approximate='tanh' uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> round(gelu(Tensor([1.0])).item(), 4), round(gelu(Tensor([1.0]), "tanh").item(), 4)
    (0.8413, 0.8412)
    """
    _check_tensor("gelu", "x", x)
    if approximate == "none":
        return x * 0.5 * (ops.Erf.apply(x * (1 / np.sqrt(2.0))) + 1)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * np.sqrt(2 / np.pi)
        return x * 0.5 * (inner.tanh() + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> silu(Tensor([0.0])).item()
    0.0
    """
    _check_tensor("silu", "x", x)
    return x * x.sigmoid()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, computed without overflow; x itself where beta x > threshold.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> round(softplus(Tensor([0.0])).item(), 4), softplus(Tensor([1000.0])).item()
    (0.6931, 1000.0)
    """
    _check_tensor("softplus", "x", x)
    if not beta > 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    return ops.Softplus.apply(x, beta=beta, threshold=threshold)
