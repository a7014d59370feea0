"""Convolution and pooling: im2col forward, backward rules that are convolutions again.

Layout NCHW, as PyTorch: x (N, C, H, W), weight (O, C/groups, kh, kw), out (N, O, OH, OW),
with OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1 (the same for W).

Every forward is im2col plus one matrix product: the windows of the padded input are a
strided view (`sliding_window_view`), copied once into a matrix `cols` of shape
(G, N OH OW, C/G kh kw), which BLAS multiplies by the kernel. The three ops of a convolution
form a closed set, so that every derivative of every order is a convolution again:

    Conv2d(x, w)          y = x * w                       (forward)
    ConvTranspose2d(g, w) dx = the adjoint of x -> x * w  (the input's gradient)
    Conv2dWeight(x, g)    dw = x correlated with g        (the kernel's gradient)

y is bilinear in (x, w), so <x * w, g> = <x, ConvTranspose2d(g, w)> = <w, Conv2dWeight(x, g)>,
and each op's backward names the other two (derivations.md, "Convolution").
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..function import Function
from .elementwise import _const
from .movement import GetItem, ScatterAdd


def _out_size(size: int, k: int, s: int, p0: int, p1: int, d: int) -> int:
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


def _windows(xp: np.ndarray, k: tuple, s: tuple, d: tuple) -> np.ndarray:
    """The view (N, C, OH, OW, kh, kw) of the windows of a padded (N, C, Hp, Wp) array."""
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    view = sliding_window_view(xp, span, axis=(2, 3))          # (N, C, Hp-.., Wp-.., span)
    return view[:, :, ::s[0], ::s[1], ::d[0], ::d[1]]


def _pad(x: np.ndarray, p: tuple, value=0) -> np.ndarray:
    """x with p = (top, bottom, left, right) rows and columns of `value` around H and W."""
    if not any(p):
        return x
    out = np.full(x.shape[:2] + (x.shape[2] + p[0] + p[1], x.shape[3] + p[2] + p[3]), value,
                  dtype=x.dtype)
    out[:, :, p[0]:p[0] + x.shape[2], p[2]:p[2] + x.shape[3]] = x
    return out


def _im2col(x, k, s, p, d, groups) -> tuple[np.ndarray, tuple]:
    """cols (G, N OH OW, C/G kh kw), contiguous, and (OH, OW)."""
    w = _windows(_pad(x, (p[0], p[0], p[1], p[1])), k, s, d)   # (N, C, OH, OW, kh, kw)
    n, c, oh, ow = w.shape[:4]
    w = w.reshape(n, groups, c // groups, oh, ow, k[0], k[1])
    taps = c // groups * k[0] * k[1]
    cols = w.transpose(1, 0, 3, 4, 2, 5, 6).reshape(groups, n * oh * ow, taps)  # the one copy
    return cols, (oh, ow)


def _grad_rows(g: np.ndarray, groups: int) -> np.ndarray:
    """An output-shaped (N, O, OH, OW) array as (G, N OH OW, O/G): one row per window."""
    n, o, oh, ow = g.shape
    g = g.reshape(n, groups, o // groups, oh, ow).transpose(1, 0, 3, 4, 2)
    return g.reshape(groups, n * oh * ow, o // groups)


def _col2im(cols, x_shape, k, s, p, d, oh, ow) -> np.ndarray:
    """The adjoint of im2col: add each window's column back where it came from.

    cols is (G, N OH OW, C/G kh kw); one strided add per kernel position (kh kw of them),
    never a loop over pixels or samples."""
    n, c, h, w = x_shape
    groups = cols.shape[0]
    cols = cols.reshape(groups, n, oh, ow, c // groups, k[0], k[1])
    cols = cols.transpose(1, 0, 4, 2, 3, 5, 6).reshape(n, c, oh, ow, k[0], k[1])
    xp = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]), dtype=cols.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            r, q = i * d[0], j * d[1]
            xp[:, :, r:r + s[0] * (oh - 1) + 1:s[0], q:q + s[1] * (ow - 1) + 1:s[1]] += \
                cols[:, :, :, :, i, j]
    return xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w]


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for stacks of G matrices; one BLAS call when G = 1."""
    if a.shape[0] == 1:
        return np.dot(a[0], b[0])[None]
    return np.matmul(a, b)


class _Conv(Function):
    """What the three convolution ops share: the geometry, saved by name."""

    def _geometry(self, stride, padding, dilation, groups, kernel):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.kernel = groups, kernel


class Conv2d(_Conv):
    """out[n, o] = sum_c x[n, c] (cross-)correlated with weight[o, c], NCHW, as PyTorch

    out[n, o, a, b] = sum_{c, i, j} w[o, c, i, j] xp[n, c, a s + i d, b s + j d], c within
    o's group, xp the zero-padded x. im2col plus one product: cols (N OH OW, C kh kw) @ w^T.
    dL/dx = ConvTranspose2d(grad, w) (a full convolution with the flipped kernel) and
    dL/dw = Conv2dWeight(x, grad) (x correlated with grad).
    """

    def forward(self, x, w, stride, padding, dilation, groups):
        k = w.shape[2:]
        self._geometry(stride, padding, dilation, groups, k)
        cols, (oh, ow) = _im2col(x, k, stride, padding, dilation, groups)
        og = w.shape[0] // groups
        taps = int(np.prod(w.shape[1:]))                              # C/G kh kw
        kernel = w.reshape(groups, og, taps).transpose(0, 2, 1)       # (G, K, O/G)
        out = _product(cols, kernel)                                # (G, N OH OW, O/G)
        n = x.shape[0]
        out = out.reshape(groups, n, oh, ow, og).transpose(1, 0, 4, 2, 3)
        return out.reshape(n, w.shape[0], oh, ow)

    def backward(self, grad):
        x, w = self.inputs
        geometry = dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                        groups=self.groups)
        gx = gw = None
        if self.needs_input_grad[0]:     # dL/dx = grad convolved (full) with the flipped w
            gx = ConvTranspose2d.apply(grad, w, **geometry, size=x.shape[2:])
        if self.needs_input_grad[1]:     # dL/dw[o, c] = x[:, c] correlated with grad[:, o]
            gw = Conv2dWeight.apply(x, grad, **geometry, kernel=w.shape[2:])
        return gx, gw


class ConvTranspose2d(_Conv):
    """out = the adjoint of x -> Conv2d(x, w) applied to g: Conv2d's input gradient

    cols = g_rows @ w (G, N OH OW, C/G kh kw), then col2im adds each column back onto the
    window it came from; `size` is (H, W) of the convolution's input (a stride can leave
    rows out of every window; they get 0). Linear in g and in w:
    dL/dg = Conv2d(grad, w), dL/dw = Conv2dWeight(grad, g).
    """

    def forward(self, g, w, stride, padding, dilation, groups, size):
        k = w.shape[2:]
        self._geometry(stride, padding, dilation, groups, k)
        taps = int(np.prod(w.shape[1:]))                              # C/G kh kw
        kernel = w.reshape(groups, w.shape[0] // groups, taps)        # (G, O/G, K)
        cols = _product(_grad_rows(g, groups), kernel)
        shape = (g.shape[0], w.shape[1] * groups) + tuple(size)
        return _col2im(cols, shape, k, stride, padding, dilation, *g.shape[2:])

    def backward(self, grad):
        g, w = self.inputs
        geometry = dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                        groups=self.groups)
        gg = gw = None
        if self.needs_input_grad[0]:     # <x, T(g, w)> = <Conv2d(x, w), g>
            gg = Conv2d.apply(grad, w, **geometry)
        if self.needs_input_grad[1]:     # = <w, Conv2dWeight(x, g)>, here with x = grad
            gw = Conv2dWeight.apply(grad, g, **geometry, kernel=w.shape[2:])
        return gg, gw


class Conv2dWeight(_Conv):
    """out[o, c, i, j] = sum_{n, a, b} g[n, o, a, b] xp[n, c, a s + i d, b s + j d]

    Conv2d's kernel gradient: x correlated with the output's gradient g, as one product
    g_rows^T @ cols. Linear in x and in g: dL/dx = ConvTranspose2d(g, grad),
    dL/dg = Conv2d(x, grad).
    """

    def forward(self, x, g, stride, padding, dilation, groups, kernel):
        self._geometry(stride, padding, dilation, groups, kernel)
        cols, _ = _im2col(x, kernel, stride, padding, dilation, groups)
        rows = _grad_rows(g, groups)                                  # (G, N OH OW, O/G)
        out = _product(rows.transpose(0, 2, 1), cols)                 # (G, O/G, C/G kh kw)
        return out.reshape(g.shape[1], x.shape[1] // groups, *kernel)

    def backward(self, grad):
        x, g = self.inputs
        geometry = dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                        groups=self.groups)
        gx = gg = None
        if self.needs_input_grad[0]:     # <Conv2dWeight(x, g), W> = <x, T(g, W)>
            gx = ConvTranspose2d.apply(g, grad, **geometry, size=x.shape[2:])
        if self.needs_input_grad[1]:     # = <Conv2d(x, W), g>
            gg = Conv2d.apply(x, grad, **geometry)
        return gx, gg


def max_windows(x: np.ndarray, kernel, stride, padding, dilation) -> tuple:
    """The largest value of each window (padding counting as the lowest value) and `best`,
    the position of its first maximum among the window's kh kw taps in row-major order."""
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    win = _windows(_pad(x, padding, low), kernel, stride, dilation)  # (N, C, OH, OW, kh, kw)
    flat = win.reshape(win.shape[:4] + (kernel[0] * kernel[1],))    # one copy
    best = np.argmax(flat, axis=-1)                                 # first maximum
    return np.take_along_axis(flat, best[..., None], -1)[..., 0], best


def _first_inside(size: int, count: int, k: int, s: int, before: int, d: int) -> np.ndarray:
    """Along one axis, the first tap of each of `count` windows that lies inside x (0..size-1),
    or -1 for a window whose taps all fall in the padding."""
    start = np.arange(count) * s - before
    skip = -(np.minimum(start, 0) // d)                       # taps in the padding before x
    first = start + skip * d
    return np.where((skip < k) & (first < size), first, -1)


def pool_winners(best: np.ndarray, geometry: tuple, size: tuple) -> tuple:
    """Each window's winner as its flat index h * W + w in its own (H, W) plane, and the mask
    of the windows whose winner is padding (None when there are none).

    `best` as max_windows returns it, `geometry` = (kernel, stride, padding, dilation) with
    padding (top, bottom, left, right), `size` = (H, W). A winner in the padding gets the
    index of a neighbouring tap: mask it out before use."""
    (kh, kw), (sh, sw), (top, _, left, _), (dh, dw) = geometry
    h, w = size
    oh, ow = best.shape[2:]
    # window start plus the winning tap's offset, read from a table of the kh kw offsets:
    # about 3x faster than divmod(best, kw) and a row and a column product per window
    start = (np.arange(oh) * sh - top)[:, None] * w + (np.arange(ow) * sw - left)
    taps = (np.arange(kh)[:, None] * dh * w + np.arange(kw) * dw).reshape(-1)
    index = start + taps[best]
    if not any(geometry[2]):                  # no padding: every tap is inside x
        return index, None
    i, j = np.divmod(best, kw)
    rows = (np.arange(oh) * sh - top)[:, None] + i * dh
    cols = np.arange(ow) * sw - left + j * dw
    padded = (rows < 0) | (rows >= h) | (cols < 0) | (cols >= w)
    return index, (padded if padded.any() else None)


def pool_indices(best: np.ndarray, geometry: tuple, size: tuple) -> np.ndarray:
    """max_pool2d's indices (int64, PyTorch's): the flat index h * W + w of each window's
    first maximum in its (H, W) plane. A window whose real elements all equal the padding's
    value (-inf) names its first real element, as PyTorch does; one of padding alone, -1."""
    index, padded = pool_winners(best, geometry, size)
    if padded is not None:
        (kh, kw), (sh, sw), (top, _, left, _), (dh, dw) = geometry
        oh, ow = best.shape[2:]
        rows = _first_inside(size[0], oh, kh, sh, top, dh)[:, None]
        cols = _first_inside(size[1], ow, kw, sw, left, dw)
        first = np.where((rows < 0) | (cols < 0), -1, rows * size[1] + cols)
        index = np.where(padded, first, index)
    return index.astype(np.int64, copy=False)


class MaxPool2d(Function):
    """out[n, c, a, b] = the largest x in the window at (a s, b s) (padding counts as -inf)

    Ties: the whole gradient goes to the first largest element of the window in row-major
    order, as PyTorch's CPU kernel does. Windows may overlap (stride < kernel): an element
    that wins several windows gets the sum of their gradients. `padding` is
    (top, bottom, left, right); ceil_mode's extra bottom and right rows are padding too.
    `pooled` is max_windows' (out, best) when the caller computed it already (to read the
    winners' indices from `best`): the windows are searched once.
    """

    def forward(self, x, kernel, stride, padding, dilation, pooled=None):
        geometry = (kernel, stride, padding, dilation)
        out, self.best = max_windows(x, *geometry) if pooled is None else pooled
        self.geometry, self.x_shape = geometry, x.shape
        return out

    def backward(self, grad):
        # dout/dx = 1 at each window's winner, 0 elsewhere: grad added at the winners
        n, c, h, w = self.x_shape
        index, padded = pool_winners(self.best, self.geometry, (h, w))
        if padded is not None:               # a winner in the padding: no gradient
            grad = grad * _const(~padded)
            index = np.where(padded, 0, index)
        index = index + np.arange(n * c).reshape(n, c, 1, 1) * (h * w)   # into x, flat
        flat = ScatterAdd.apply(grad.reshape(-1), index=index.reshape(-1), shape=(n * c * h * w,))
        return flat.reshape(self.x_shape)


class MaxUnpool2d(Function):
    """out[n, c].flat[index[n, c, a, b]] = x[n, c, a, b], 0 elsewhere: out (N, C, H, W)

    max_pool2d's partial inverse: each value goes back to where its index says (`index`,
    int64, in its own (H, W) plane, a constant). dL/dx = grad gathered at the same indices:
    a GetItem, whose own backward is a ScatterAdd, so every derivative order works. An index
    named twice (overlapping windows won by one element) keeps one of its values, and only
    that value gets the gradient; PyTorch's gather gives it to every copy.
    """

    def forward(self, x, index, size):
        n, c = x.shape[:2]
        plane = size[0] * size[1]
        flat = (index + np.arange(n * c).reshape(n, c, 1, 1) * plane).reshape(-1)
        order = np.arange(flat.size)
        writer = np.empty(n * c * plane, np.intp)
        writer[flat] = order                      # one write per position survives
        kept = writer[flat] == order
        self.flat, self.kept = flat, (None if kept.all() else kept)
        out = np.zeros(n * c * plane, dtype=x.dtype)
        if self.kept is None:
            out[flat] = x.reshape(-1)
        else:
            out[flat[kept]] = x.reshape(-1)[kept]
        return out.reshape((n, c) + tuple(size))

    def backward(self, grad):
        (x,) = self.inputs
        gathered = GetItem.apply(grad.reshape(-1), index=self.flat)
        if self.kept is not None:                 # a value overwritten by its twin: 0
            gathered = gathered * _const(self.kept)
        return gathered.reshape(x.shape)    # dout/dx = 1 at the position x went to and stayed


class Pad(Function):
    """out = x with `widths` (before, after) of `value` around each dim (numpy.pad's widths)"""

    def forward(self, x, widths, value=0):
        self.index = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape, strict=True))
        return np.pad(x, widths, constant_values=value)

    def backward(self, grad):
        return GetItem.apply(grad, index=self.index)   # dout/dx = 1 where x was copied to


def avg_pool_divisor(shape, kernel, stride, padding, extra, count_include_pad, dtype):
    """The count each average divides by: the window's elements inside x, or inside x and
    its padding (count_include_pad); never ceil_mode's `extra` rows. A constant."""
    h, w = shape
    inside = np.zeros((1, 1, h + 2 * padding[0] + extra[0], w + 2 * padding[1] + extra[1]),
                      dtype)
    if count_include_pad:
        inside[:, :, :h + 2 * padding[0], :w + 2 * padding[1]] = 1
    else:
        inside[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = 1
    return _const(_windows(inside, kernel, stride, (1, 1)).sum(axis=(-2, -1)))
