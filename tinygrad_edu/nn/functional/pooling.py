"""Max and average pooling (max_pool2d, avg_pool2d) and max_unpool2d, NCHW as PyTorch."""

from __future__ import annotations

import numpy as np

from ... import ops
from ...errors import DtypeError, ShapeError
from ...ops.conv import avg_pool_divisor, max_windows, pool_indices
from ...tensor import Tensor
from ._checks import _check_tensor
from .conv import _image_batch, _pair


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """kernel, stride, padding, dilation as pairs, and ceil_mode's extra bottom/right rows."""
    kernel = _pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None or stride == [] else _pair(op, "stride", stride)
    padding = _pair(op, "padding", padding, low=0)
    dilation = _pair(op, "dilation", dilation)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel} (a window of padding alone has no value)")
    extra = []
    for size, k, s, p in zip(x.shape[2:], span, stride, padding, strict=True):
        if size + 2 * p < k:
            raise ShapeError(f"{op}: input {x.shape} padded by {padding} is smaller than the "
                             f"kernel {kernel} (spanning {tuple(span)}); use a smaller kernel")
        out = (size + 2 * p - k) // s + 1
        if ceil_mode:
            out = -(-(size + 2 * p - k) // s) + 1
            if (out - 1) * s >= size + p:         # the last window must start inside x
                out -= 1
        extra.append(max(0, (out - 1) * s + k - size - 2 * p))
    return kernel, stride, padding, dilation, tuple(extra)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The largest value of each kernel_size window, NCHW (stride = kernel_size by default).

    Padding counts as -inf. Ties: the whole gradient goes to the first largest element of
    the window in row-major order (PyTorch's CPU rule); where windows overlap, an element
    that wins several gets the sum of their gradients.

    Parameters
    ----------
    input : Tensor
        Shape (N, C, H, W), or (C, H, W) for one image.
    kernel_size, stride, dilation : int or (int, int)
        The window, the step between windows (kernel_size when None), between its taps.
    padding : int or (int, int)
        -inf added on both sides of H and W, at most half the kernel.
    ceil_mode : bool
        Round the output size up: a last, partial window at the bottom and right.
    return_indices : bool
        Also return where each maximum was, for `max_unpool2d`.

    Returns
    -------
    Tensor, or (Tensor, Tensor) with return_indices
        The maxima, shape (N, C, OH, OW), OH = (H + 2 padding - dilation (kh - 1) - 1)
        // stride + 1 (rounded up with ceil_mode). The indices (int64, no gradient, the
        output's shape) are PyTorch's: the flat index h * W + w of each window's first
        maximum, the element that gets its gradient, in its own (H, W) plane of the input
        (a window whose elements are all -inf names its first one).

    Raises
    ------
    ValueError
        Padding more than half the kernel; with return_indices, a window of padding alone
        (dilation can skip over the whole input), whose maximum names no element.
    ShapeError
        An input that is not an image batch, or smaller than the window.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2)
    Tensor([[[[ 5.,  7.],
              [13., 15.]]]], dtype=float64)
    >>> x = Tensor([[[3.0, 1.0, 3.0],
    ...               [0.0, 3.0, 2.0]]])             # one (C, H, W) image, H = 2, W = 3
    >>> out, indices = max_pool2d(x, 2, stride=1, return_indices=True)
    >>> out, indices            # each window's first 3 in row-major order: h * 3 + w
    (Tensor([[[3., 3.]]], dtype=float32), Tensor([[[0, 2]]], dtype=int64))
    """
    op = "max_pool2d"
    x, unbatched = _image_batch(op, input)
    kernel, stride, padding, dilation, extra = _pool_geometry(
        op, x, kernel_size, stride, padding, dilation, ceil_mode)
    sides = (padding[0], padding[0] + extra[0], padding[1], padding[1] + extra[1])
    options = dict(kernel=kernel, stride=stride, padding=sides, dilation=dilation)
    if not return_indices:
        out = ops.MaxPool2d.apply(x, **options)
        return out.squeeze(0) if unbatched else out
    pooled = max_windows(x.data, kernel, stride, sides, dilation)   # for both results
    out = ops.MaxPool2d.apply(x, **options, pooled=pooled)
    index = pool_indices(pooled[1], (kernel, stride, sides, dilation), x.shape[2:])
    if (index < 0).any():
        raise ValueError(f"{op}: with kernel_size {kernel}, stride {stride}, padding "
                         f"{padding} and dilation {dilation}, a window of the input "
                         f"{x.shape} holds padding alone: its maximum is -inf and names no "
                         "element, so it has no index; lower the padding or the dilation")
    indices = Tensor(index)
    return (out.squeeze(0), indices.squeeze(0)) if unbatched else (out, indices)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Max pooling's partial inverse: each value put back at its index, zeros elsewhere.

    out[n, c].flat[indices[n, c, a, b]] = input[n, c, a, b], as PyTorch: with the indices
    of `max_pool2d(..., return_indices=True)`, every maximum returns to where it was. One
    `ops.conv.MaxUnpool2d` (a scatter); its gradient is a gather with the same indices. An
    index named twice keeps one of its values, and only that one gets a gradient (PyTorch
    gives every copy one).

    Parameters
    ----------
    input : Tensor
        Shape (N, C, H_in, W_in), or (C, H_in, W_in) for one image.
    indices : Tensor
        Integer, the input's shape: flat indices h * W + w into each (H, W) output plane.
    kernel_size, stride, padding : int or (int, int)
        The pooling's (stride = kernel_size by default); they give the default size.
    output_size : sequence of int, optional
        (H, W), or a full shape ending in them (`x.shape` of the pooled input): needed when
        the pooling rounded its size down. Each side must lie strictly between default -
        stride and default + stride.

    Returns
    -------
    Tensor
        Shape (N, C, H, W), by default H = (H_in - 1) stride - 2 padding + kernel_size.

    Raises
    ------
    ShapeError
        Indices of another shape than the input, an input that is not an image batch.
    DtypeError
        Indices that are not integers.
    ValueError
        Indices outside [0, H W), or an output_size that does not fit.
    TypeError
        Indices that are not a Tensor, an output_size that is not a sequence of ints.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> x = Tensor(np.array([[[[1.0, 2.0], [4.0, 3.0]]]]))
    >>> out, indices = max_pool2d(x, 2, return_indices=True)
    >>> out, indices
    (Tensor([[[[4.]]]], dtype=float64), Tensor([[[[2]]]], dtype=int64))
    >>> max_unpool2d(out, indices, 2)
    Tensor([[[[0., 0.],
              [4., 0.]]]], dtype=float64)
    """
    op = "max_unpool2d"
    x, unbatched = _image_batch(op, input)
    _check_tensor(op, "indices", indices)
    kernel = _pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None else _pair(op, "stride", stride)
    padding = _pair(op, "padding", padding, low=0)
    if indices.shape != input.shape:
        raise ShapeError(f"{op}: indices of shape {indices.shape} must have the input's "
                         f"shape {input.shape}, one index per value; pass the indices "
                         "max_pool2d(..., return_indices=True) returned with this input")
    if indices.dtype.kind not in "iu":
        raise DtypeError(f"{op}: indices must be integers, got dtype {indices.dtype}; pass "
                         "the indices of max_pool2d(..., return_indices=True), or convert: "
                         "indices.astype(np.int64)")
    size = _unpool_size(op, x.shape[2:], kernel, stride, padding, output_size)
    index = indices.data.reshape(x.shape)
    plane = size[0] * size[1]
    if index.size and (index.min() < 0 or index.max() >= plane):
        raise ValueError(f"{op}: indices must lie in [0, {plane - 1}] for output planes of "
                         f"size {size}, got values in [{index.min()}, {index.max()}]; pass "
                         "output_size= the (H, W) of the input max_pool2d pooled (when "
                         "its size was rounded down) and the indices it returned")
    out = ops.conv.MaxUnpool2d.apply(x, index=index.astype(np.int64, copy=False), size=size)
    return out.squeeze(0) if unbatched else out


def _unpool_size(op, size_in, kernel, stride, padding, output_size) -> tuple[int, int]:
    """(H, W) of max_unpool2d's output: the default, or output_size checked as PyTorch."""
    default = tuple((n - 1) * s - 2 * p + k
                    for n, k, s, p in zip(size_in, kernel, stride, padding, strict=True))
    if output_size is None:
        if min(default) < 1:
            raise ValueError(f"{op}: an input of (H, W) = {tuple(size_in)} with kernel_size "
                             f"{kernel}, stride {stride} and padding {padding} unpools to "
                             f"{default}; lower the padding or pass output_size")
        return default
    given = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
    if given is not None and len(given) > 2:
        given = given[-2:] if len(given) in (3, 4) else None
    if given is None or len(given) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in given):
        raise TypeError(f"{op}: output_size must be (H, W) or a shape ending in them, a "
                        f"sequence of ints; got {output_size!r}")
    low = tuple(d - s for d, s in zip(default, stride, strict=True))
    high = tuple(d + s for d, s in zip(default, stride, strict=True))
    if not all(a < n < b for a, n, b in zip(low, given, high, strict=True)):
        raise ValueError(f"{op}: output_size {tuple(output_size)} does not fit: an input of "
                         f"(H, W) = {tuple(size_in)} with kernel_size {kernel}, stride "
                         f"{stride} and padding {padding} unpools to {default}, and each side "
                         f"must lie strictly between {low} and {high} (default -/+ stride); "
                         "pass the (H, W) of the input max_pool2d pooled")
    return int(given[0]), int(given[1])


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each kernel_size window, NCHW (stride = kernel_size by default).

    A convolution of each channel with a kernel of ones, divided by the window's count:
    kh kw including padding (count_include_pad, PyTorch's default), or only x's elements, or
    `divisor_override`. ceil_mode's extra windows count only what they cover of x and its
    padding, as PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2)
    Tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]], dtype=float64)
    """
    op = "avg_pool2d"
    x, unbatched = _image_batch(op, input)
    kernel, stride, padding, _, extra = _pool_geometry(op, x, kernel_size, stride, padding,
                                                       1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override
                                         <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive number, got "
                         f"{divisor_override!r}")
    n, c, h, w = x.shape
    planes = x.reshape(n * c, 1, h, w)
    if any(extra):                  # ceil_mode's extra rows: zeros, not counted below
        planes = ops.Pad.apply(planes, widths=((0, 0), (0, 0), (padding[0], padding[0] +
                               extra[0]), (padding[1], padding[1] + extra[1])))
        conv_padding = (0, 0)
    else:
        conv_padding = padding
    ones = Tensor(np.ones((1, 1) + kernel, x.dtype if x.dtype.kind == "f" else np.float64))
    sums = ops.Conv2d.apply(planes if x.dtype.kind == "f" else planes.double(), ones,
                            stride=stride, padding=conv_padding, dilation=(1, 1), groups=1)
    sums = sums.reshape(n, c, *sums.shape[2:])
    if divisor_override is not None:
        out = sums * (1.0 / divisor_override)
    elif count_include_pad and not any(extra):
        out = sums * (1.0 / (kernel[0] * kernel[1]))
    else:
        out = sums / avg_pool_divisor((h, w), kernel, stride, padding, extra,
                                      count_include_pad, sums.dtype)
    return out.squeeze(0) if unbatched else out
