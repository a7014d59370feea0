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


class MaxPool2d(Function):
    """out[n, c, a, b] = the largest x in the window at (a s, b s) (padding counts as -inf)

    Ties: the whole gradient goes to the first largest element of the window in row-major
    order, as PyTorch's CPU kernel does. Windows may overlap (stride < kernel): an element
    that wins several windows gets the sum of their gradients. `padding` is
    (top, bottom, left, right); ceil_mode's extra bottom and right rows are padding too.
    """

    def forward(self, x, kernel, stride, padding, dilation):
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = _pad(x, padding, low)
        win = _windows(xp, kernel, stride, dilation)                  # (N, C, OH, OW, kh, kw)
        flat = win.reshape(win.shape[:4] + (kernel[0] * kernel[1],))  # one copy
        best = np.argmax(flat, axis=-1)                               # first maximum
        out = np.take_along_axis(flat, best[..., None], -1)[..., 0]
        self.best, self.geometry, self.x_shape = best, (kernel, stride, padding, dilation), \
            x.shape
        return out

    def _winners(self):
        """The winner of each window as a flat index into x, and the mask of windows whose
        winner is padding (all their real elements are -inf: no gradient), or None."""
        (kh, kw), (sh, sw), (top, _, left, _), (dh, dw) = self.geometry
        n, c, h, w = self.x_shape
        oh, ow = self.best.shape[2:]
        # window start (row-major flat index in x) plus the tap's offset within the window
        start = (np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
                 + (np.arange(oh) * sh - top)[:, None] * w + (np.arange(ow) * sw - left))
        taps = (np.arange(kh)[:, None] * dh * w + np.arange(kw) * dw).reshape(-1)
        index = start + taps[self.best]
        if not any(self.geometry[2]):
            return index.reshape(-1), None
        i, j = np.divmod(self.best, kw)
        rows = (np.arange(oh) * sh - top)[:, None] + i * dh
        cols = np.arange(ow) * sw - left + j * dw
        padded = (rows < 0) | (rows >= h) | (cols < 0) | (cols >= w)
        if not padded.any():
            return index.reshape(-1), None
        return np.where(padded, 0, index).reshape(-1), ~padded

    def backward(self, grad):
        # dout/dx = 1 at each window's winner, 0 elsewhere: grad added at the winners
        index, keep = self._winners()
        if keep is not None:
            grad = grad * _const(keep)
        size = int(np.prod(self.x_shape))
        flat = ScatterAdd.apply(grad.reshape(-1), index=index, shape=(size,))
        return flat.reshape(self.x_shape)


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
