"""Layers of a convolutional network, with PyTorch's names, signatures and defaults:
Conv2d, MaxPool2d, MaxUnpool2d, AvgPool2d, Dropout, BatchNorm1d, BatchNorm2d, and the
activation layers LeakyReLU, ELU, GELU, SiLU, Softplus."""

from __future__ import annotations

import math

import numpy as np

from .. import function as _function
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init as init_
from .init import SeedLike
from .layers import cast_to_parameters
from .modules import Module, Parameter


class Conv2d(Module):
    """A 2-D convolution layer: `y = conv2d(x, weight) + bias`, NCHW, as torch.nn.Conv2d.

    The weight has shape (out_channels, in_channels / groups, kh, kw). Initialisation is
    PyTorch's: weight and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] with
    fan_in = in_channels / groups * kh * kw (`kaiming_uniform_(a=sqrt(5))`: gain sqrt(1/3)
    times sqrt(3 / fan_in)).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
    groups : int
        in_channels and out_channels are split into groups convolved separately.
    bias : bool
        Learn one bias per output channel.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        What the padding holds.
    rng : numpy.random.Generator or int, optional
        Source of the initial values (the global generator by default; a seed repeats them).
    dtype : numpy dtype
        float32 by default.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> conv = Conv2d(1, 6, 5, padding=2, rng=0)
    >>> conv.weight.shape, conv(Tensor(np.zeros((2, 1, 28, 28), np.float32))).shape
    ((6, 1, 5, 5), (2, 6, 28, 28))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 rng: SeedLike = None, dtype=np.float32):
        for label, size in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
                raise ValueError(f"Conv2d: {label} must be a positive int, got {size!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' "
                             f"or 'circular', got {padding_mode!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = F._pair("Conv2d", "kernel_size", kernel_size)
        self.stride = F._pair("Conv2d", "stride", stride)
        self.dilation = F._pair("Conv2d", "dilation", dilation)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1, got {self.stride}")
            self.padding = padding
        else:
            self.padding = F._pair("Conv2d", "padding", padding, low=0)
        self.groups, self.padding_mode = int(groups), padding_mode
        rng = init_.make_rng(rng)
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        bound = 1 / math.sqrt(shape[1] * shape[2] * shape[3])
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype))
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, self.out_channels).astype(dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        x = self._fit_input(x)
        if self.padding_mode == "zeros":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        if self.padding == "valid":
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)
        widths = []                        # F.pad's order: (left, right, top, bottom)
        for k, d, p in zip(self.kernel_size[::-1], self.dilation[::-1],
                           (None, None) if self.padding == "same" else self.padding[::-1],
                           strict=True):
            total = d * (k - 1) if p is None else 2 * p    # 'same': the odd one at the end
            widths += [total // 2, total - total // 2]
        x = F.pad(x, tuple(widths), mode=self.padding_mode)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def _fit_input(self, x) -> Tensor:
        """The input as a Tensor of the weight's dtype: integers (pixels) are cast quietly,
        floats of another precision with a warning (as Linear); wrong channels are named."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim in (3, 4) and x.shape[-3] != self.in_channels:
            raise ShapeError(f"{self!r}: the input has shape {x.shape}, so {x.shape[-3]} "
                             f"channels in dim {x.ndim - 3}, but this layer takes "
                             f"{self.in_channels}; give inputs (N, {self.in_channels}, H, W) "
                             f"(a grey image batch (N, H, W) needs x.unsqueeze(1))")
        return cast_to_parameters(self, x)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text


class MaxPool2d(Module):
    """The largest value of each window (F.max_pool2d); stride = kernel_size by default.

    With return_indices=True the layer returns (output, indices), the indices MaxUnpool2d
    takes.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> MaxPool2d(2)(Tensor.zeros(1, 3, 28, 28)).shape
    (1, 3, 14, 14)
    >>> out, indices = MaxPool2d(2, return_indices=True)(Tensor.zeros(1, 3, 28, 28))
    >>> indices.shape, indices.dtype
    ((1, 3, 14, 14), dtype('int64'))
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        self.return_indices = return_indices

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(Module):
    """Max pooling's partial inverse (F.max_unpool2d): each value back at its index, zeros
    elsewhere; stride = kernel_size by default.

    `forward(input, indices, output_size=None)` takes the output and indices of
    MaxPool2d(..., return_indices=True); output_size (the pooled input's shape or its
    (H, W)) when the pooling rounded its size down.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> out, indices = MaxPool2d(2, return_indices=True)(x)
    >>> MaxUnpool2d(2)(out, indices)
    Tensor([[[[ 0.,  0.,  0.,  0.],
              [ 0.,  5.,  0.,  7.],
              [ 0.,  0.,  0.,  0.],
              [ 0., 13.,  0., 15.]]]], dtype=float64)
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}")


class AvgPool2d(Module):
    """The mean of each window (F.avg_pool2d); stride = kernel_size by default.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> AvgPool2d(2)(Tensor.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}")


class Dropout(Module):
    """Zero each element with probability p in training, scaling the rest by 1 / (1 - p);
    the identity after `eval()`.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> drop = Dropout(0.5).eval()
    >>> drop(Tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, p: float = 0.5):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """Batch normalisation over dim 1 with PyTorch's parameters, buffers and defaults.

    weight (ones) and bias (zeros) are learned when `affine`; the buffers running_mean
    (zeros), running_var (ones) and num_batches_tracked (0), saved by `state_dict`, follow
    the batches seen in training when `track_running_stats`: each training call updates
    them in place, without a gradient (momentum None: a cumulative average). After `eval()`
    the running statistics normalise.
    """

    _dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=np.float32):
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) \
                or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got "
                             f"{num_features!r}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim not in self._dims \
                or x.shape[1] != self.num_features:
            shape = getattr(x, "shape", type(x).__name__)
            raise ShapeError(f"{self!r}: expected input of {self._dims[0]}" +
                             (f" or {self._dims[1]}" if len(self._dims) > 1 else "") +
                             f" dims with {self.num_features} channels in dim 1, got {shape}"
                             + ("; use BatchNorm2d for images (N, C, H, W)"
                                if name == "BatchNorm1d" and getattr(x, "ndim", 0) == 4
                                else ""))
        counting = self.training and self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        if counting and self.momentum is None:     # a cumulative moving average
            factor = 1.0 / (int(self.num_batches_tracked.data) + 1)
        use_batch = self.training or self.running_mean is None
        out = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                           use_batch, factor, self.eps)
        if counting:                               # after batch_norm: an error counts nothing
            tracked = self.num_batches_tracked.data
            np.add(tracked, 1, out=tracked)
            _function.mark_written(tracked)
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) over N (and L), per channel C.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> bn = BatchNorm1d(3)
    >>> sorted(bn.state_dict())
    ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images (N, C, H, W) over N, H and W, per channel C.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> bn = BatchNorm2d(2)
    >>> y = bn(Tensor(np.random.default_rng(0).normal(5, 3, (8, 2, 4, 4)).astype(np.float32)))
    >>> bool(abs(y.data.mean()) < 1e-5), bn.num_batches_tracked.item()
    (True, 1)
    """

    _dims = (4,)


class LeakyReLU(Module):
    """x where x > 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, x itself where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
