"""Convolution and pooling: im2col forward, backward rules that are convolutions again.

Layout NCHW, as PyTorch: x (N, C, H, W), weight (O, C/groups, kh, kw), out (N, O, OH, OW),
with OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1 (the same for W).

Every forward is im2col plus one matrix product: the windows of the padded input are a
strided view (`sliding_window_view`), copied once into a matrix `cols` of shape
(G, C/G kh kw, N OH OW), one row per kernel tap and one column per window, which BLAS
multiplies by the kernel: out = w @ cols. The three ops of a convolution form a closed set,
so that every derivative of every order is a convolution again:

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
    """cols (G, C/G kh kw, N OH OW), contiguous, and (OH, OW)."""
    w = _windows(_pad(x, (p[0], p[0], p[1], p[1])), k, s, d)   # (N, C, OH, OW, kh, kw)
    n, c, oh, ow = w.shape[:4]
    w = w.reshape(n, groups, c // groups, oh, ow, k[0], k[1])
    taps = c // groups * k[0] * k[1]
    # the one copy, taps down and windows across: each row of cols is one kernel tap's shifted
    # image, copied a row of OW at a time; faster than one row per window (measured on the
    # CNN: conv2 1.5 ms against 2.6, conv1, one channel, 0.3 against 1.3)
    cols = w.transpose(1, 2, 5, 6, 0, 3, 4).reshape(groups, taps, n * oh * ow)
    return cols, (oh, ow)


def _grad_cols(g: np.ndarray, groups: int, batch_last: bool = False) -> np.ndarray:
    """An output-shaped (N, O, OH, OW) array as (G, O/G, N OH OW): one column per window,
    in im2col's order; with batch_last, (G, O/G, OH OW N), in col2im's."""
    n, o, oh, ow = g.shape
    if batch_last:
        return g.transpose(1, 2, 3, 0).reshape(groups, o // groups, oh * ow * n)
    g = g.reshape(n, groups, o // groups, oh, ow).transpose(1, 2, 0, 3, 4)
    return g.reshape(groups, o // groups, n * oh * ow)


def _col2im(cols, x_shape, k, s, p, d, oh, ow) -> np.ndarray:
    """The adjoint of im2col: add each window's column back where it came from.

    cols is (G, C/G kh kw, OH OW N), its windows batch last; one strided add per kernel
    position (kh kw of them), never a loop over pixels or samples. The sum is built as
    (C, H, W, N) and returned as an (N, C, H, W) view."""
    n, c, h, w = x_shape
    cols = cols.reshape(c, k[0], k[1], oh, ow, n)
    xp = np.zeros((c, h + 2 * p[0], w + 2 * p[1], n), dtype=cols.dtype)
    # batch last, each add runs over OW N contiguous numbers per row of windows, not OW:
    # ~3x faster adds (conv2 of the CNN: 1.1 ms against 3.2), for two small transposes
    for i in range(k[0]):
        for j in range(k[1]):
            r, q = i * d[0], j * d[1]
            xp[:, r:r + s[0] * (oh - 1) + 1:s[0], q:q + s[1] * (ow - 1) + 1:s[1]] += \
                cols[:, i, j]
    return xp[:, p[0]:p[0] + h, p[1]:p[1] + w].transpose(3, 0, 1, 2)


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
    o's group, xp the zero-padded x. im2col plus one product: w (O, C kh kw) @ cols
    (C kh kw, N OH OW), whose (O, N, OH, OW) result is returned as an (N, O, OH, OW) view.
    dL/dx = ConvTranspose2d(grad, w) (a full convolution with the flipped kernel) and
    dL/dw = Conv2dWeight(x, grad) (x correlated with grad).
    """

    def forward(self, x, w, stride, padding, dilation, groups):
        k = w.shape[2:]
        self._geometry(stride, padding, dilation, groups, k)
        cols, (oh, ow) = _im2col(x, k, stride, padding, dilation, groups)
        kernel = w.reshape(groups, w.shape[0] // groups, -1)          # (G, O/G, C/G kh kw)
        out = _product(kernel, cols)                                  # (G, O/G, N OH OW)
        return out.reshape(w.shape[0], x.shape[0], oh, ow).transpose(1, 0, 2, 3)

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

    cols = w^T @ g_cols (G, C/G kh kw, OH OW N), then col2im adds each column back onto the
    window it came from; `size` is (H, W) of the convolution's input (a stride can leave
    rows out of every window; they get 0). Linear in g and in w:
    dL/dg = Conv2d(grad, w), dL/dw = Conv2dWeight(grad, g).
    """

    def forward(self, g, w, stride, padding, dilation, groups, size):
        k = w.shape[2:]
        self._geometry(stride, padding, dilation, groups, k)
        kernel = w.reshape(groups, w.shape[0] // groups, -1)          # (G, O/G, C/G kh kw)
        cols = _product(kernel.transpose(0, 2, 1), _grad_cols(g, groups, batch_last=True))
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
    g_cols @ cols^T. Linear in x and in g: dL/dx = ConvTranspose2d(g, grad),
    dL/dg = Conv2d(x, grad).
    """

    def forward(self, x, g, stride, padding, dilation, groups, kernel):
        self._geometry(stride, padding, dilation, groups, kernel)
        cols, _ = _im2col(x, kernel, stride, padding, dilation, groups)
        # (cols @ g^T)^T rather than g @ cols^T: the same numbers, BLAS ~1.3x faster with the
        # long N OH OW sum running along both operands' rows (measured on the CNN's convs)
        out = _product(cols, _grad_cols(g, groups).transpose(0, 2, 1))  # (G, C/G kh kw, O/G)
        return out.transpose(0, 2, 1).reshape(g.shape[1], x.shape[1] // groups, *kernel)

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


# Windows of at most this many taps are searched one tap at a time (_max_of_taps): measured
# 2-10x faster than argmax over the copied windows for every stride up to 5 x 5 windows; for
# larger windows that do not overlap, argmax is faster (7 x 7: equal; 28 x 28: ~25x).
MAX_TAPS_ONE_AT_A_TIME = 25


def max_windows(x: np.ndarray, kernel, stride, padding, dilation) -> tuple:
    """The largest value of each window (padding counting as the lowest value) and `best`,
    the position of its first maximum among the window's kh kw taps in row-major order."""
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _pad(x, padding, low)
    if kernel[0] * kernel[1] <= MAX_TAPS_ONE_AT_A_TIME:
        found = _max_of_taps(xp, kernel, stride, dilation)
        if found is not None:
            return found
    return _max_by_argmax(xp, kernel, stride, dilation)


def _max_by_argmax(xp: np.ndarray, kernel, stride, dilation) -> tuple:
    """max_windows of a padded xp, the general way: argmax over a copy of the windows."""
    win = _windows(xp, kernel, stride, dilation)                    # (N, C, OH, OW, kh, kw)
    flat = win.reshape(win.shape[:4] + (kernel[0] * kernel[1],))    # one copy
    best = np.argmax(flat, axis=-1)                                 # first maximum
    return np.take_along_axis(flat, best[..., None], -1)[..., 0], best


def _max_of_taps(xp: np.ndarray, kernel, stride, dilation) -> tuple | None:
    """max_windows of a padded xp from its kh kw strided slices, one per tap (for 2 x 2
    windows of stride 2, xp[:, :, i::2, j::2]), taken in window order; None when a window
    holds a NaN (argmax then names its first NaN).

    A tap becomes `best` only when strictly larger than the maximum so far, so a tie keeps
    the first maximum, as argmax does (a tie of 0.0 and -0.0 may keep either sign). Plain
    ufuncs, no copy of the windows: the CNN's 2 x 2 pools take 1.0 ms against 6.5 for argmax
    ((64, 16, 28, 28) float32)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh = _out_size(xp.shape[2], kh, sh, 0, 0, dh)
    ow = _out_size(xp.shape[3], kw, sw, 0, 0, dw)
    taps = [xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    out = taps[0].copy()
    # best in the smallest integer type that counts the taps (uint8): 1/8 of intp's memory
    # traffic, the loop ~2x faster; argmax's intp once at the end
    best = np.zeros(out.shape, np.min_scalar_type(len(taps) - 1))
    for t in range(1, len(taps)):
        wins = taps[t] > out
        np.maximum(best, wins * best.dtype.type(t), out=best)   # t exceeds earlier winners
        np.maximum(out, taps[t], out=out)                        # a NaN anywhere reaches out
    if out.dtype.kind == "f" and np.isnan(out).any():
        return None
    return out, best.astype(np.intp)


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
