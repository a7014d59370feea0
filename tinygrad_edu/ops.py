"""Every op: forward on numpy arrays and backward with Tensor ops, side by side.

Conventions (see `function.py`): inputs `x, y`, the incoming gradient `grad`, the op's
result `self.output`. Each returned gradient carries its partial derivative as a comment.
Gradients may keep a broadcast shape; the engine sums them back to each input's shape.
"""

from __future__ import annotations

import numpy as np

from . import tensor as _tensor  # a module object: tensor.py imports this one
from .errors import ShapeError, broadcast_error, class_index_error, fmt_shapes
from .function import Function
from .shapes import normalize_dim, normalize_dims, reduced_shape


def _const(array) -> _tensor.Tensor:
    """A constant Tensor, outside the graph (a mask, a share, a target)."""
    return _tensor.Tensor._make(np.asarray(array), False)


class _Broadcasting(Function):
    """Elementwise binary ops: numpy broadcasting errors are reworded once, here."""

    def explain_error(self, inputs, params, exc):
        shapes = [t.shape for t in inputs]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            return broadcast_error(self.name.lower(), shapes)
        return super().explain_error(inputs, params, exc)


# ---- elementwise binary ----------------------------------------------------------------

class Add(_Broadcasting):
    """out = x + y"""

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad                            # dout/dx = 1, dout/dy = 1


class Sub(_Broadcasting):
    """out = x - y"""

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)  # dout/dx = 1, dout/dy = -1


class Mul(_Broadcasting):
    """out = x * y"""

    def forward(self, x, y):
        return x * y

    def backward(self, grad):
        x, y = self.inputs
        gx = grad * y if self.needs_input_grad[0] else None   # dout/dx = y
        gy = grad * x if self.needs_input_grad[1] else None   # dout/dy = x
        return gx, gy


class Div(_Broadcasting):
    """out = x / y"""

    def forward(self, x, y):
        return x / y

    def backward(self, grad):
        x, y = self.inputs
        gx = grad / y if self.needs_input_grad[0] else None                  # dout/dx = 1/y
        gy = -grad * self.output / y if self.needs_input_grad[1] else None   # dout/dy = -x/y^2
        return gx, gy


class Pow(_Broadcasting):
    """out = x ** y"""

    def forward(self, x, y):
        return x ** y

    def backward(self, grad):
        x, y = self.inputs
        gx = gy = None
        if self.needs_input_grad[0] and not self.needs_input_grad[1]:
            # dout/dx = y x^(y-1); where the constant y is 0, write the power as x^0 (no 1/0)
            gx = grad * y * x ** (y - _const(y.data != 0))
        elif self.needs_input_grad[0]:
            # y varies too: keep y - 1 so that d/dy of this rule is right; base 1 at x = y = 0
            base = _one_where(x, (x.data == 0) & (y.data == 0))
            gx = grad * y * base ** (y - 1)
        if self.needs_input_grad[1]:
            # dout/dy = out ln x; at x = 0, 0^y is flat (0 for y > 0): use ln 1 = 0 there
            gy = grad * self.output * _one_where(x, x.data == 0).log()
        return gx, gy


def _one_where(x, mask):
    """x with 1 where mask is set (a recorded op only when some element is)."""
    if not mask.any():
        return x
    return Where.apply(_const(np.ones((), x.dtype)), x, condition=mask)


class Maximum(_Broadcasting):
    """out = max(x, y) elementwise; where x == y each side gets half the gradient"""

    def forward(self, x, y):
        self.x_share = (x > y) + 0.5 * (x == y)   # 1 where x wins, 0.5 on ties, 0 where y wins
        return np.maximum(x, y)

    def backward(self, grad):
        gx = grad * _const(self.x_share) if self.needs_input_grad[0] else None      # 1, 1/2, 0
        gy = grad * _const(1 - self.x_share) if self.needs_input_grad[1] else None  # 0, 1/2, 1
        return gx, gy


class Minimum(Maximum):
    """out = min(x, y) elementwise; where x == y each side gets half the gradient"""

    def forward(self, x, y):
        self.x_share = (x < y) + 0.5 * (x == y)   # 1 where x wins, 0.5 on ties, 0 where y wins
        return np.minimum(x, y)


class Where(_Broadcasting):
    """out = x where condition else y (the condition is a constant)"""

    def explain_error(self, inputs, params, exc):
        shapes = [params["condition"].shape] + [t.shape for t in inputs]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            return ShapeError(f"where: condition, x and y of shapes {fmt_shapes(shapes)} do not "
                              "broadcast; reshape the condition or an operand so they line up")
        return super().explain_error(inputs, params, exc)

    def forward(self, x, y, condition):
        self.condition = condition
        return np.where(condition, x, y)

    def backward(self, grad):
        gx = grad * _const(self.condition) if self.needs_input_grad[0] else None   # 1 where cond
        gy = grad * _const(~self.condition) if self.needs_input_grad[1] else None  # 1 elsewhere
        return gx, gy


# ---- elementwise unary -----------------------------------------------------------------

class Neg(Function):
    """out = -x"""

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad                                 # dout/dx = -1


class Exp(Function):
    """out = exp(x)"""

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad):
        return grad * self.output                    # dout/dx = exp(x) = out


class Log(Function):
    """out = ln(x)"""

    def forward(self, x):
        return np.log(x)

    def backward(self, grad):
        return grad / self.inputs[0]                 # dout/dx = 1/x


class Log1p(Function):
    """out = ln(1 + x), exact for small x"""

    def forward(self, x):
        return np.log1p(x)

    def backward(self, grad):
        return grad / (self.inputs[0] + 1)           # dout/dx = 1/(1 + x)


class Sqrt(Function):
    """out = sqrt(x)"""

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, grad):
        return grad * 0.5 / self.output              # dout/dx = 1 / (2 sqrt(x))


class Abs(Function):
    """out = |x|"""

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, grad):
        return grad * _const(self.sign)              # dout/dx = sign(x), 0 at 0


class ReLU(Function):
    """out = max(x, 0)"""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, grad):
        x = self.inputs[0].data
        return grad * _const(x > 0)                  # dout/dx = 1 if x > 0 else 0 (also at 0)


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x)), computed without overflow"""

    def forward(self, x):
        # exp of a non-positive number never overflows: exp(-|x|) serves both signs
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, grad):
        out = self.output
        return grad * out * (1 - out)                # dout/dx = sigma (1 - sigma)


class Tanh(Function):
    """out = tanh(x)"""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad):
        out = self.output
        return grad * (1 - out * out)                # dout/dx = 1 - tanh^2


class Clamp(Function):
    """out = min(max(x, low), high)"""

    def forward(self, x, low, high):
        self.inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return np.clip(x, low, high)

    def backward(self, grad):
        return grad * _const(self.inside)            # dout/dx = 1 inside [low, high], else 0


class Cast(Function):
    """out = x converted to another dtype (a copy, for the same dtype: Tensor.clone)"""

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.inputs[0].dtype)     # the same values, in x's dtype


# ---- reductions ------------------------------------------------------------------------

class Sum(Function):
    """out = sum of x over dims"""

    def forward(self, x, dim=None, keepdim=False):
        self.dims, self.keepdim = normalize_dims(dim, x.shape, "sum"), keepdim
        return x.sum(axis=self.dims, keepdims=keepdim)

    def backward(self, grad):
        # dout/dx = 1 for every summed element: spread grad back over the summed dims
        x_shape = self.inputs[0].shape
        if not self.keepdim and grad.ndim:
            grad = grad.reshape(reduced_shape(x_shape, self.dims, keepdim=True))
        return grad.expand(x_shape)


class Max(Function):
    """out = max of x over dims; ties share the gradient evenly"""

    reduce = staticmethod(np.max)

    def forward(self, x, dim=None, keepdim=False):
        op = self.name.lower()
        dims = normalize_dims(dim, x.shape, op)
        if any(x.shape[d] == 0 for d in dims):       # the max of no elements has no value
            raise ShapeError(f"{op}: cannot reduce an empty tensor of shape {x.shape} over dims "
                             f"{dims}; reduce over dims that have elements")
        out = self.reduce(x, axis=dims, keepdims=True)
        winners = x == out
        self.share = winners / np.maximum(winners.sum(axis=dims, keepdims=True), 1)
        self.share = self.share.astype(x.dtype, copy=False)
        self.keepdim, self.kept_shape = keepdim, out.shape
        return out if keepdim else out.reshape(reduced_shape(x.shape, dims, keepdim=False))

    def backward(self, grad):
        if not self.keepdim:
            grad = grad.reshape(self.kept_shape)
        return grad * _const(self.share)             # dout/dx = 1/k at the k maxima, else 0


class Min(Max):
    """out = min of x over dims; ties share the gradient evenly"""

    reduce = staticmethod(np.min)  # computed directly: -max(-x) wraps around on integers


def _floating(x: np.ndarray) -> np.ndarray:
    """Integer or bool scores as floats (float32 at least): x - max(x) must not wrap around."""
    return x if x.dtype.kind in "fc" else x.astype(np.result_type(x.dtype, np.float32))


class Softmax(Function):
    """out = exp(x) / sum(exp(x)) along dim"""

    def forward(self, x, dim=-1, value=None):
        self.dim = normalize_dim(dim, x.ndim, "softmax", x.shape)
        if value is not None:                        # the caller computed softmax(x) already
            return value
        x = _floating(x)
        if not x.shape[self.dim]:                    # no classes: empty, as in PyTorch
            return np.empty_like(x)
        e = np.exp(x - x.max(axis=self.dim, keepdims=True))  # shifted: exp never overflows
        return e / e.sum(axis=self.dim, keepdims=True)

    def backward(self, grad):
        return _softmax_vjp(self.output, grad, self.dim)


def _softmax_vjp(out, grad, dim):
    """The gradient of x through out = softmax(x) (a Tensor on x), given grad of out."""
    # dout_i/dx_j = out_i (delta_ij - out_j), so grad_x = out * (grad - sum(grad * out))
    return out * (grad - (grad * out).sum(dim, keepdim=True))


class SoftmaxShift(Function):
    """out = (softmax(x) * a - y) * g * scale along dim: CrossEntropy's gradient, as one op

    y is the target (rows of probabilities, or `index`: the class indices of a one-hot y),
    a = sum(y) along dim (1 for one-hot rows), and g the gradient arriving at the loss: one
    number, or one per sample (broadcast along dim). `probs` is softmax(x), already computed
    by CrossEntropy's forward; `scale` is 1/N for a mean.
    """

    def forward(self, x, g, dim, probs, scale, target=None, index=None):
        self.dim, self.probs, self.scale, self.target, self.index = dim, probs, scale, target, index
        g_scaled = g * scale
        g_rows = np.expand_dims(g_scaled, dim) if g.ndim else g_scaled  # along the classes
        if index is None:
            return (probs * target.sum(axis=dim, keepdims=True) - target) * g_rows
        out = probs * g_rows
        out[index] -= g_scaled                       # minus the one-hot y, times g s
        return out

    def backward(self, grad):
        # out = d * g s with d = softmax(x) a - y: d's rule is softmax's rule applied to
        # grad * g s a, and dout/dg = d s, summed over the classes
        x, g = self.inputs
        probs = Softmax.apply(x, dim=self.dim, value=self.probs)     # still on x
        if self.index is None:
            y = _const(self.target)
            a = _const(self.target.sum(axis=self.dim, keepdims=True))
        else:
            y = np.zeros(self.probs.shape, self.probs.dtype)
            y[self.index] = 1
            y, a = _const(y), 1
        scale = _const(self.scale)
        g_rows = (g.unsqueeze(self.dim) if g.ndim else g) * scale
        gx = _softmax_vjp(probs, grad * g_rows * a, self.dim) if self.needs_input_grad[0] else None
        gg = (grad * (probs * a - y)).sum(self.dim) * scale if self.needs_input_grad[1] else None
        return gx, gg


class LogSoftmax(Function):
    """out = x - log(sum(exp(x))) along dim"""

    def forward(self, x, dim=-1):
        self.dim = normalize_dim(dim, x.ndim, "log_softmax", x.shape)
        x = _floating(x)
        if not x.shape[self.dim]:                    # no classes: empty, as in PyTorch
            return np.empty_like(x)
        shifted = x - x.max(axis=self.dim, keepdims=True)   # stable for large logits
        return shifted - np.log(np.exp(shifted).sum(axis=self.dim, keepdims=True))

    def backward(self, grad):
        # dout_i/dx_j = delta_ij - softmax_j, so grad_x = grad - softmax * sum(grad)
        return grad - self.output.exp() * grad.sum(self.dim, keepdim=True)


def _target_index(target: np.ndarray, class_dim: int) -> tuple:
    """The index that picks each sample's target class: `x[index]` has the shape of target."""
    target = target.copy()  # backward keeps it, and the caller may reuse its label array
    if target.ndim == 1:                             # (N,) labels of (N, C) logits
        return np.arange(target.shape[0]), target
    positions = list(np.indices(target.shape, sparse=True))  # 0..N-1 and over extra dims
    positions.insert(class_dim, target)
    return tuple(positions)


class _ClassIndexLoss(Function):
    """A loss over class indices: a label past the last class fails its indexing; say so."""

    loss_name: str

    def explain_error(self, inputs, params, exc):
        target = params.get("target")
        labels = isinstance(target, np.ndarray) and target.dtype.kind in "iu"
        if isinstance(exc, IndexError) and labels:
            return class_index_error(self.loss_name, inputs[0].shape, target)
        return super().explain_error(inputs, params, exc)


class CrossEntropy(_ClassIndexLoss):
    """out_n = -sum_c target_nc * log_softmax(x)_nc, over classes along dim 1 (or the only dim)

    `target` is a constant: class indices (one fewer dim than x) or probabilities (x's shape).
    One fused rule instead of log_softmax + nll: the textbook dL/dx = softmax(x) - y.
    """

    loss_name = "cross_entropy"

    def forward(self, x, target, reduction="mean"):
        self.class_dim = c = 1 if x.ndim > 1 else 0
        x = _floating(x)
        if x.shape[c]:
            # (ufunc.reduce rather than .max/.sum: the same sums, without numpy's Python wrapper)
            shifted = x - np.maximum.reduce(x, axis=c, keepdims=True)  # stable for large logits
            e = np.exp(shifted)
            total = np.add.reduce(e, axis=c, keepdims=True)
            self.probs = e / total                   # softmax(x), reused by backward
            log_total = np.log(total)                # log_softmax(x) = shifted - log_total
        else:                                        # no classes: each loss is an empty sum, 0
            shifted = self.probs = x
            log_total = np.zeros(x.shape[:c] + (1,) + x.shape[c + 1:], x.dtype)
        if target.dtype.kind in "iu":                # class indices: y is one-hot, sum(y) = 1
            self.index, self.target = _target_index(target, c), None
            losses = log_total.squeeze(c) - shifted[self.index]
        else:
            self.index, self.target = None, target.astype(x.dtype)   # a copy, kept for backward
            losses = -np.add.reduce(self.target * (shifted - log_total), axis=c)
        self.reduction, self.count = reduction, losses.size
        if reduction == "none":
            return losses
        summed = np.add.reduce(losses, axis=None)
        if reduction == "sum":
            return summed
        return summed / self.count if self.count else np.asarray(np.nan, x.dtype)

    def backward(self, grad):
        # dL/dx_c = (softmax_c * sum(y) - y_c) * grad / N  (softmax - y for one-hot y; N for
        # "mean"): one op, SoftmaxShift, since every training step runs it
        n = max(self.count, 1) if self.reduction == "mean" else 1
        return SoftmaxShift.apply(self.inputs[0], grad, dim=self.class_dim, probs=self.probs,
                                  scale=np.asarray(1 / n, self.probs.dtype),
                                  target=self.target, index=self.index)


class NLLLoss(_ClassIndexLoss):
    """out_n = -log_probs[n, target_n] (class indices along dim 1)"""

    loss_name = "nll_loss"

    def forward(self, log_probs, target, reduction="mean"):
        log_probs = _floating(log_probs)             # -(-128) wraps around in int8
        self.index = _target_index(target, 1 if log_probs.ndim > 1 else 0)
        losses = -log_probs[self.index]              # one pick per sample: O(N), not O(N C)
        self.reduction, self.count, self.target_shape = reduction, np.size(losses), target.shape
        if reduction == "none":
            return losses
        summed = np.add.reduce(losses, axis=None)
        if reduction == "sum":
            return summed
        return summed / self.count if self.count else np.asarray(np.nan, log_probs.dtype)

    def backward(self, grad):
        # dout_n/dlog_probs[n, c] = -1 if c == target_n, else 0: -grad_n goes to each pick
        if self.reduction == "mean":
            grad = grad / max(self.count, 1)
        if self.reduction != "none":
            grad = grad.expand(self.target_shape)
        return ScatterAdd.apply(-grad, index=self.index, shape=self.inputs[0].shape)


# ---- linear algebra --------------------------------------------------------------------

class MatMul(Function):
    """out = x @ y, with numpy's rules for 1-D operands and batches

    For matrices, dL/dx = grad @ y^T and dL/dy = x^T @ grad. A 1-D x is a row (1, n) and a
    1-D y a column (n, 1) for the product; their gradients drop that dim again. Batch dims
    broadcast, and the engine sums the gradients back over them.
    """

    def forward(self, x, y):
        if x.ndim > 1 and y.ndim > 1 and x.shape[-1] == 1 == y.shape[-2]:
            # inner dim 1 (an outer product, as in dW = dZ a^T for one sample): each output is
            # the single product x_i1 y_1j, which broadcasting computes ~4x faster than matmul
            return x * y
        if x.ndim == 2 == y.ndim:
            return np.dot(x, y)   # the same BLAS product as matmul, a microsecond sooner
        return np.matmul(x, y)

    def backward(self, grad):
        x, y = self.inputs
        if x.ndim == 2 and y.ndim == 2:              # the common case, stated plainly
            gx = grad @ y.T if self.needs_input_grad[0] else None
            gy = x.T @ grad if self.needs_input_grad[1] else None
            return gx, gy
        if x.ndim == 1 and y.ndim == 1:              # dot product: out = sum(x * y)
            return grad * y, grad * x
        xm = x.unsqueeze(0) if x.ndim == 1 else x
        ym = y.unsqueeze(-1) if y.ndim == 1 else y
        g = grad.unsqueeze(-2) if x.ndim == 1 else grad
        g = g.unsqueeze(-1) if y.ndim == 1 else g
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = g @ ym.mT
            gx = gx.squeeze(-2) if x.ndim == 1 else gx
        if self.needs_input_grad[1]:
            gy = xm.mT @ g
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


# ---- movement --------------------------------------------------------------------------

class Reshape(Function):
    """out = x with a new shape (same elements, same order)"""

    view = True

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.inputs[0].shape)    # the same elements, back in x's shape

    # An in-place op on a view inside the graph writes through to the viewed tensor (x), and
    # the view becomes a view of x's new value: `write_back` and `view_again` (tensor.py).
    def write_back(self, x, value):
        x.copy_(value.reshape(x.shape))

    def view_again(self, x, shape):
        return x.reshape(shape)

    def explain_error(self, inputs, params, exc):
        (x,) = inputs
        return ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                          f"elements) to {tuple(params['shape'])}; the element counts must "
                          "match (one dim may be -1 to infer it)")


class Permute(Function):
    """out = x with its dims reordered"""

    view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)                     # numpy checks dims (see explain_error)

    def backward(self, grad):
        n = len(self.dims)
        inverse = [0] * n                            # x's dim d went to place i: send it back
        for i, d in enumerate(self.dims):
            inverse[d % n] = i
        return Permute.apply(grad, dims=tuple(inverse))

    def write_back(self, x, value):
        x.copy_(value.permute(tuple(int(i) for i in np.argsort([d % x.ndim for d in self.dims]))))

    def view_again(self, x, shape):
        return Permute.apply(x, dims=self.dims)

    def explain_error(self, inputs, params, exc):
        shape, dims = inputs[0].shape, tuple(params["dims"])
        order = [normalize_dim(d, len(shape), "permute", shape) for d in dims]  # or DimError
        if sorted(order) != list(range(len(shape))):
            return ShapeError(f"permute: dims {dims} are not a reordering of the {len(shape)} "
                              f"dims of a tensor of shape {shape}; name each of "
                              f"0..{len(shape) - 1} exactly once")
        return super().explain_error(inputs, params, exc)


class Expand(Function):
    """out = x broadcast to a larger shape"""

    view = True

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return grad                                  # the engine sums it back to x's shape

    def explain_error(self, inputs, params, exc):
        return ShapeError(f"expand: cannot broadcast shape {inputs[0].shape} to "
                          f"{tuple(params['shape'])}; dims must match or be 1 in x")


def _numpy_index(index):
    """A Tensor inside an index becomes its array; arrays are copied (the rule keeps the index,
    and a later change to the caller's array must not reach it)."""
    if isinstance(index, tuple):
        return tuple(_index_part(i) for i in index)
    return _index_part(index)


def _index_part(i):
    i = i.data if isinstance(i, _tensor.Tensor) else i
    return np.array(i) if isinstance(i, (np.ndarray, list)) else i


def _has_array(index) -> bool:
    """Integer-array indexing can repeat an element: its backward must accumulate. A list,
    an array or a tuple inside the index is an integer array (numpy's rule)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, tuple, np.ndarray)) and np.asarray(i).dtype != bool
               for i in parts)


class GetItem(Function):
    """out = x[index]: slices, integers, integer arrays, boolean masks"""

    view = True

    def forward(self, x, index):
        self.index = _numpy_index(index)
        return x[self.index]

    def backward(self, grad):
        # dout/dx = 1 at each picked position; positions picked twice add up
        return ScatterAdd.apply(grad, index=self.index, shape=self.inputs[0].shape)

    def write_back(self, x, value):
        x[self.index] = value

    def view_again(self, x, shape):
        return GetItem.apply(x, index=self.index)

    def explain_error(self, inputs, params, exc):
        return type(exc)(f"getitem: index {params['index']!r} does not fit a tensor of shape "
                         f"{inputs[0].shape}: {exc}")


class ScatterAdd(Function):
    """out = zeros(shape) with x added at index (the backward of GetItem)"""

    def forward(self, x, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if _has_array(index):
            np.add.at(out, index, x)                 # repeated indices accumulate
        else:
            out[index] = x                           # slices never repeat: plain assignment
        return out

    def backward(self, grad):
        return grad[self.index]                      # dout/dx = 1 at the positions x went to


class Cat(Function):
    """out = x_1, x_2, ... joined along an existing dim"""

    def forward(self, *xs, dim=0):
        if not xs:
            raise ValueError("cat: needs at least one tensor")
        self.dim = normalize_dim(dim, xs[0].ndim, "cat", xs[0].shape)
        self.bounds = np.cumsum([0] + [x.shape[self.dim] for x in xs])
        return np.concatenate(xs, axis=self.dim)

    def backward(self, grad):
        lead = (slice(None),) * self.dim               # each input gets its own slice back
        return tuple(grad[lead + (slice(a, b),)] if need else None
                     for a, b, need in zip(self.bounds[:-1], self.bounds[1:],
                                           self.needs_input_grad, strict=True))

    def explain_error(self, inputs, params, exc):
        if not inputs:
            return ValueError("cat: needs at least one tensor; pass a non-empty list")
        return ShapeError(f"cat: shapes {[t.shape for t in inputs]} must match in every dim "
                          f"but dim {params.get('dim', 0)}")


class Stack(Function):
    """out = x_1, x_2, ... joined along a new dim"""

    def forward(self, *xs, dim=0):
        if not xs:
            raise ValueError("stack: needs at least one tensor")
        self.dim = normalize_dim(dim, xs[0].ndim + 1, "stack", xs[0].shape)
        return np.stack(xs, axis=self.dim)

    def backward(self, grad):
        lead = (slice(None),) * self.dim               # input i is slice i of the new dim
        return tuple(grad[lead + (i,)] if need else None
                     for i, need in enumerate(self.needs_input_grad))

    def explain_error(self, inputs, params, exc):
        if not inputs:
            return ValueError("stack: needs at least one tensor; pass a non-empty list")
        return ShapeError(f"stack: shapes {[t.shape for t in inputs]} must all be equal")
