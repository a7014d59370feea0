"""Linear algebra: the matrix product, and the dense layer as one op."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..function import Function
from ..reductions import dot


class MatMul(Function):
    """out = x @ y, with numpy's rules for 1-D operands and batches

    For matrices, dL/dx = grad @ y^T and dL/dy = x^T @ grad. A 1-D x is a row (1, n) and a
    1-D y a column (n, 1) for the product; their gradients drop that dim again. Batch dims
    broadcast, and the engine sums the gradients back over them.
    """

    rule_on_arrays = True

    def forward(self, x, y):
        return _product(x, y)

    def backward(self, grad):
        x, y = self.operands(grad)
        if x.ndim == 2 and y.ndim == 2:              # the common case, stated plainly
            gx = _matmul(grad, y.T) if self.needs_input_grad[0] else None
            gy = _matmul(x.T, grad) if self.needs_input_grad[1] else None
            return gx, gy
        if x.ndim == 1 and y.ndim == 1:              # dot product: out = sum(x * y)
            return grad * y, grad * x
        xm = x[None] if x.ndim == 1 else x           # a row (1, n)
        ym = y[..., None] if y.ndim == 1 else y      # a column (n, 1)
        g = grad[..., None, :] if x.ndim == 1 else grad
        g = g[..., None] if y.ndim == 1 else g
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = _matmul(g, ym.swapaxes(-1, -2))
            gx = gx.squeeze(-2) if x.ndim == 1 else gx
        if self.needs_input_grad[1]:
            gy = _matmul(xm.swapaxes(-1, -2), g)
            gy = gy.squeeze(-1) if y.ndim == 1 else gy
        return gx, gy

    def explain_error(self, inputs, params, exc):
        (a, b) = (t.shape for t in inputs)
        if not a or not b:
            return ShapeError(f"matmul: {a} @ {b}: operands need at least one dim; "
                              "use * to multiply by a scalar")
        inner_a, inner_b = a[-1], (b[-2] if len(b) > 1 else b[0])
        if inner_a != inner_b:
            return ShapeError(f"matmul: {a} @ {b}: inner dimensions {inner_a} and {inner_b} "
                              "differ; transpose or reshape one operand")
        return ShapeError(f"matmul: {a} @ {b}: batch dimensions {a[:-2]} and {b[:-2]} do "
                          "not broadcast; reshape one operand")


def _product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y on arrays, by the quickest route that gives numpy's numbers."""
    if x.ndim > 1 and y.ndim > 1 and x.shape[-1] == 1 == y.shape[-2]:
        # inner dim 1 (an outer product, as in dW = dZ a^T for one sample): each output is
        # the single product x_i1 y_1j, which broadcasting computes ~4x faster than matmul
        return x * y
    if x.ndim == 2 == y.ndim:
        return dot(x, y)   # the same BLAS product as matmul, a microsecond sooner
    return np.matmul(x, y)


def _matmul(a, b):
    """a @ b inside a rule: the recorded op on Tensors, MatMul's own product on arrays."""
    return _product(a, b) if type(a) is np.ndarray else a @ b


class Linear(Function):
    """out = x @ w^T + b, with w of shape (out_features, in_features) as nn.Linear stores it

    One op for the whole layer (PyTorch's addmm): no transposed view of w and no separate Add
    are recorded, and dL/dw = grad^T @ x comes out in w's own layout, so it is stored as .grad
    without a copy. x may have batch dims before its features; b is optional.
    """

    rule_on_arrays = True

    def forward(self, x, w, b=None):
        out = dot(x, w.T) if x.ndim == 2 else np.matmul(x, w.T)
        if b is not None:
            out += b                                 # out is new: add the bias in place
        return out

    def backward(self, grad):
        x, w = self.operands(grad)[:2]
        need = self.needs_input_grad
        gx = _matmul(grad, w) if need[0] else None   # dout/dx = w
        gw = None
        if need[1]:                                  # dout/dw = grad^T x, summed over the batch
            x2, g2 = ((x, grad) if x.ndim == 2 and grad.ndim == 2 else
                      (x.reshape(-1, w.shape[1]), grad.reshape(-1, w.shape[0])))
            gw = (_matmul(x2.T, g2).T if self.inputs[1].data.flags.f_contiguous
                  else _matmul(g2.T, x2))
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, grad if need[2] else None     # dout/db = 1 (the engine sums the batch)

    def explain_error(self, inputs, params, exc):
        x, w = inputs[0].shape, inputs[1].shape
        return ShapeError(f"linear: input {x} and weight {w}: the input's last dim must equal "
                          f"the weight's in_features ({w[-1] if w else '?'}), and the bias must "
                          "have out_features elements")
