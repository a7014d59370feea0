"""Layers: Linear (document 004's dense layer) and the activation layers."""

from __future__ import annotations

import warnings

import numpy as np

from .. import ops
from ..errors import ShapeError, _user_stacklevel
from ..tensor import Tensor
from . import init as init_
from .init import Initializer, SeedLike
from .modules import Module, Parameter


class Linear(Module):
    """A dense layer: `y = x @ W.T + b`, with the weight stored as (out_features, in_features).

    This is document 004's "dense layer" (`Y = W X + B`, samples as columns), written for
    samples in rows; an activation is a separate layer (`ReLU`, `Sigmoid`, ...) and each
    layer's output is the next one's input, as in `Sequential`.

    The layer is one op (`ops.Linear`, PyTorch's addmm), so its graph node is "Linear". An input
    whose last dim is not `in_features` is a ShapeError naming the layer. A float input of
    another precision (float64 data into float32 parameters) is cast to the parameters' dtype,
    with a warning: otherwise numpy would silently promote the whole network to float64.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    bias : bool
        Learn an additive bias `b` of shape (out_features,).
    init : str or callable
        Initialiser of the weight: a name from `tinygrad_edu.nn.init` ('kaiming_uniform',
        the default; 'kaiming_normal', 'xavier_uniform', 'xavier_normal', 'uniform',
        'normal', 'zeros') or a function `f(shape, rng) -> ndarray`.
    bias_init : str or callable
        Initialiser of the bias, called with shape (out_features,); zeros by default.
    rng : numpy.random.Generator or int, optional
        Source of the random values (a seed makes them reproducible).
    dtype : numpy dtype
        float32 by default.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> layer = Linear(3, 2, rng=0)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 3), (2,))
    >>> layer(Tensor(np.ones((4, 3), np.float32))).shape
    (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | Initializer = "kaiming_uniform",
                 bias_init: str | Initializer = "zeros", rng: SeedLike = None,
                 dtype=np.float32):
        for label, size in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
                raise ValueError(f"Linear: {label} must be a positive int, got {size!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = init_.make_rng(rng)
        # stored column-major: W.T, the operand of x @ W.T, is then C-contiguous, which
        # OpenBLAS's AVX-512 kernel multiplies about 12% faster (W1: 300 -> 267 us)
        self.weight = Parameter(np.asfortranarray(_initial(
            "weight", init, (self.out_features, self.in_features), rng, dtype)))
        if bias:
            self.bias = Parameter(_initial("bias", bias_init, (self.out_features,), rng, dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        # read from the registry itself: `self.weight` finds it only after normal attribute
        # lookup fails, through __getattr__ (0.4 us a read, 5% of a small MLP's step)
        params = self._parameters
        try:
            weight, bias = params["weight"], params["bias"]
        except KeyError:                             # deleted: the AttributeError names it
            weight, bias = self.weight, self.bias
        if not isinstance(x, Tensor) or x.data.shape[-1:] != (self.in_features,) \
                or x.data.dtype != weight.data.dtype:
            x = self._fit_input(x)
        return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)

    def _fit_input(self, x) -> Tensor:
        """Check an input that is not a Tensor of this layer's width and dtype: the error
        names the layer; a float input of another precision is cast, once with a warning."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(
                f"{self!r}: the input has shape {x.shape}, so {x.shape[-1] if x.ndim else 0} "
                f"features in its last dim, but this layer takes {self.in_features}; give "
                f"inputs of shape (..., {self.in_features}) (flatten images first: "
                f"x.reshape(len(x), -1)), or build Linear({x.shape[-1] if x.ndim else 1}, "
                f"{self.out_features})")
        return cast_to_parameters(self, x)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def cast_to_parameters(layer: Module, x: Tensor) -> Tensor:
    """`x` in the dtype of `layer.weight`: integers (pixels) cast quietly, floats of another
    precision with a warning (else numpy would silently compute the whole network in the
    wider one)."""
    dtype = layer.weight.dtype
    if x.dtype != dtype and x.dtype.kind in "fiub":
        if x.dtype.kind == "f":
            warnings.warn(f"{layer!r}: a {x.dtype} input meets {dtype} parameters; the input "
                          f"is cast to {dtype} (else the whole network would silently compute "
                          f"in {x.dtype}). Convert the data once, for example "
                          f"Tensor(x, dtype=np.{dtype})", UserWarning,
                          stacklevel=_user_stacklevel())
        x = x.astype(dtype)
    return x


def _initial(what: str, init, shape: tuple[int, ...], rng, dtype) -> np.ndarray:
    values = np.asarray(init_.get_initializer(init)(shape, rng), dtype=dtype)
    if values.shape != shape:
        raise ValueError(f"Linear: the {what} initialiser returned shape {values.shape}, "
                         f"expected {shape}")
    return values



class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `dim` (-1 by default)."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - log(sum(exp(x))) along `dim` (-1 by default); pair it with `nll_loss`."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.log_softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Flatten(Module):
    """Merge dims `start_dim`..`end_dim` (1..-1 by default: (N, 28, 28) -> (N, 784)).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> Flatten()(Tensor.zeros(5, 28, 28)).shape
    (5, 784)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
