"""Convolution (conv1d, conv2d) and pad, NCHW as PyTorch; pooling is in `pooling`."""

from __future__ import annotations

import numpy as np

from ... import ops
from ...errors import DtypeError, ShapeError
from ...tensor import Tensor
from ._checks import _check_tensor


def _pair(op: str, name: str, value, low: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= low, as the pair (for H, W)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < low:
        raise ValueError(f"{op}: {name} must be >= {low}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _image_batch(op: str, x, dims: int = 4) -> tuple[Tensor, bool]:
    """x as a batch (N, C, H, W); True when an unbatched (C, H, W) was given."""
    _check_tensor(op, "input", x)
    if x.ndim == dims - 1:
        return x.unsqueeze(0), True
    if x.ndim != dims:
        layout = "(N, C, H, W) or (C, H, W)" if dims == 4 else "(N, C, L) or (C, L)"
        raise ShapeError(f"{op}: input of shape {x.shape} is not an image batch; pass shape "
                         f"{layout} (channels first, as PyTorch)")
    return x, False


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library), NCHW.

    out[n, o, a, b] = bias[o] + sum_{c, i, j} weight[o, c, i, j] x[n, c, a s + i d, b s + j d]
    over the channels c of o's group, x zero-padded. One `ops.Conv2d` (im2col and one matrix
    product); its backward is again a convolution (derivations.md, "Convolution").

    Parameters
    ----------
    input : Tensor
        Shape (N, C, H, W), or (C, H, W) for one image.
    weight : Tensor
        Shape (O, C / groups, kh, kw).
    bias : Tensor, optional
        Shape (O,).
    stride, dilation : int or (int, int)
        Step between windows, and between the kernel's taps (>= 1).
    padding : int, (int, int), 'valid' or 'same'
        Zeros added on both sides of H and W; 'same' (stride 1 only) keeps H and W, with the
        odd extra row or column at the bottom or right, as PyTorch.
    groups : int
        Split C and O into this many groups, each convolved separately (C: depthwise).

    Returns
    -------
    Tensor
        Shape (N, O, OH, OW), OH = (H + 2 padding - dilation (kh - 1) - 1) // stride + 1.

    Raises
    ------
    ShapeError
        Shapes that do not fit (channels, groups, a kernel larger than the padded input).
    TypeError, ValueError
        A stride, padding, dilation or groups that is not a positive int (or pair).

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), stride=2)
    Tensor([[[[10., 18.],
              [42., 50.]]]], dtype=float64)
    """
    op = "conv2d"
    x, unbatched = _image_batch(op, input)
    _check_tensor(op, "weight", weight)
    stride, dilation = _pair(op, "stride", stride), _pair(op, "dilation", dilation)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must have shape (out_channels, in_channels / groups, "
                         f"kh, kw), got {weight.shape}")
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c % groups or o % groups or cg * groups != c:
        raise ShapeError(f"{op}: input {x.shape} has {c} channels and weight {weight.shape} "
                         f"takes {cg} per group with groups={groups}; need in_channels = "
                         f"{cg} x {groups} and out_channels ({o}) divisible by groups")
    if x.dtype != weight.dtype:
        raise DtypeError(f"{op}: input is {x.dtype} and weight is {weight.dtype}; convert "
                         f"one, for example input.astype(np.{weight.dtype})")
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (o,)):
        raise ShapeError(f"{op}: bias must be a Tensor of shape ({o},), got "
                         f"{getattr(bias, 'shape', type(bias).__name__)}")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
        padding = (total[0] // 2, total[1] // 2)
        if total[0] % 2 or total[1] % 2:    # the odd extra row/column: bottom and right
            x = pad(x, (0, total[1] % 2, 0, total[0] % 2))
            h, w = x.shape[2:]
    elif isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                         f"{padding!r}")
    else:
        padding = _pair(op, "padding", padding, low=0)
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if h + 2 * padding[0] < span[0] or w + 2 * padding[1] < span[1]:
        raise ShapeError(f"{op}: input {x.shape} padded by {padding} is "
                         f"{(h + 2 * padding[0], w + 2 * padding[1])}, smaller than the "
                         f"kernel {(kh, kw)} spanning {span} with dilation {dilation}; pad "
                         "more or use a smaller kernel")
    out = ops.Conv2d.apply(x, weight, stride=stride, padding=padding, dilation=dilation,
                           groups=int(groups))
    if bias is not None:
        out = out + bias.reshape(o, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding=0, dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution over (N, C, L) with weight (O, C / groups, k): conv2d with H = 1.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> conv1d(Tensor([[[1.0, 2.0, 3.0]]]), Tensor([[[1.0, -1.0]]]))
    Tensor([[[-1., -1.]]], dtype=float32)
    """
    x, unbatched = _image_batch("conv1d", input, dims=3)
    _check_tensor("conv1d", "weight", weight)
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must have shape (out_channels, in_channels / "
                         f"groups, k), got {weight.shape}")
    one = (lambda v: (1, v)) if not isinstance(padding, str) else (lambda v: v)
    pad1 = padding if isinstance(padding, str) else (0, padding)
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, stride=one(stride) if isinstance(
        stride, (int, np.integer)) else stride, padding=pad1, dilation=(1, dilation),
        groups=groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad) // 2 dims: pad = (left, right, top, bottom, ...), last dim first.

    mode 'constant' fills with `value` (0 by default); 'reflect' mirrors without repeating
    the edge, 'replicate' repeats the edge, 'circular' wraps around. The last three are
    indexing (`x[..., rows, cols]`), so their gradient adds up every copy of an element.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> pad(Tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    Tensor([[3., 2., 1., 2., 3., 2.]], dtype=float32)
    """
    op = "pad"
    _check_tensor(op, "input", input)
    widths = tuple(pad)
    if len(widths) % 2 or len(widths) // 2 > input.ndim or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in widths):
        raise ValueError(f"{op}: pad must hold an even number of ints, two per padded dim "
                         f"(last dim first), at most {2 * input.ndim} for shape {input.shape}; "
                         f"got {pad!r}")
    if any(p < 0 for p in widths):
        raise ValueError(f"{op}: negative padding {pad!r} is not supported; crop with "
                         "indexing instead (x[..., a:b])")
    count = len(widths) // 2
    pairs = [(int(widths[2 * i]), int(widths[2 * i + 1])) for i in range(count)][::-1]
    lead = input.ndim - count
    if mode == "constant":
        full = [(0, 0)] * lead + pairs
        return ops.Pad.apply(input, widths=tuple(full), value=0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"{op}: mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    if value is not None:
        raise ValueError(f"{op}: value is for mode='constant' only, got value={value} with "
                         f"mode={mode!r}")
    maps = []
    for size, (before, after) in zip(input.shape[lead:], pairs, strict=True):
        limit = size - 1 if mode == "reflect" else size
        if max(before, after) > limit or size == 0:
            raise ValueError(f"{op}: {mode} padding of {(before, after)} needs a dim of more "
                             f"than {max(before, after)}{'' if mode != 'reflect' else ''} "
                             f"elements, got {size} (shape {input.shape})")
        i = np.arange(-before, size + after)
        if mode == "reflect":
            period = 2 * (size - 1)
            i = np.abs((i + period) % period if period else i * 0)
            i = np.where(i > size - 1, period - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, size - 1)
        else:
            i = i % size
        maps.append(i)
    index = (slice(None),) * lead + np.ix_(*maps)
    return ops.GetItem.apply(input, index=index)
