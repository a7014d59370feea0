"""Elementwise ops: binary (with broadcasting), unary, clamp and cast."""

from __future__ import annotations

import numpy as np

from .. import tensor as _tensor  # a module object: tensor.py imports this package
from ..errors import ShapeError, broadcast_error, fmt_shapes
from ..function import Function
from ..reductions import relu


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

    rule_on_arrays = True

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad                            # dout/dx = 1, dout/dy = 1


class Sub(_Broadcasting):
    """out = x - y"""

    rule_on_arrays = True

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)  # dout/dx = 1, dout/dy = -1


class Mul(_Broadcasting):
    """out = x * y"""

    rule_on_arrays = True

    def forward(self, x, y):
        return x * y

    def backward(self, grad):
        x, y = self.operands(grad)
        gx = grad * y if self.needs_input_grad[0] else None   # dout/dx = y
        gy = grad * x if self.needs_input_grad[1] else None   # dout/dy = x
        return gx, gy


class Div(_Broadcasting):
    """out = x / y"""

    rule_on_arrays = True

    def forward(self, x, y):
        return x / y

    def backward(self, grad):
        x, y = self.operands(grad)
        gx = grad / y if self.needs_input_grad[0] else None                  # dout/dx = 1/y
        gy = -grad * self.result(grad) / y if self.needs_input_grad[1] else None  # -x/y^2
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
            # dout/dy = out ln x; at x = 0, 0^y is flat (0 for y > 0): use ln 1 = 0 there;
            # for y < 0, 0^y = inf and the slope inf * ln 0 = -inf stays (PyTorch's rule)
            gy = grad * self.output * _one_where(x, (x.data == 0) & (y.data >= 0)).log()
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

    rule_on_arrays = True

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad                                 # dout/dx = -1


class Exp(Function):
    """out = exp(x)"""

    rule_on_arrays = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad):
        return grad * self.result(grad)              # dout/dx = exp(x) = out


class Log(Function):
    """out = ln(x)"""

    rule_on_arrays = True

    def forward(self, x):
        return np.log(x)

    def backward(self, grad):
        return grad / self.operands(grad)[0]         # dout/dx = 1/x


class Log1p(Function):
    """out = ln(1 + x), exact for small x"""

    rule_on_arrays = True

    def forward(self, x):
        return np.log1p(x)

    def backward(self, grad):
        return grad / (self.operands(grad)[0] + 1)   # dout/dx = 1/(1 + x)


class Sqrt(Function):
    """out = sqrt(x)"""

    rule_on_arrays = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, grad):
        return grad * 0.5 / self.result(grad)        # dout/dx = 1 / (2 sqrt(x))


class Abs(Function):
    """out = |x|"""

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, grad):
        return grad * _const(self.sign)              # dout/dx = sign(x), 0 at 0


class ReLU(Function):
    """out = max(x, 0)"""

    rule_on_arrays = True

    def forward(self, x):
        return relu(x)                               # np.maximum(x, 0), 4x faster

    def backward(self, grad):
        x = self.inputs[0].data                      # the mask is a constant either way
        return grad * (x > 0)                        # dout/dx = 1 if x > 0 else 0 (also at 0)


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x)), computed without overflow"""

    rule_on_arrays = True

    def forward(self, x):
        # exp of a non-positive number never overflows: exp(-|x|) serves both signs
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, grad):
        out = self.result(grad)
        return grad * out * (1 - out)                # dout/dx = sigma (1 - sigma)


class Tanh(Function):
    """out = tanh(x)"""

    rule_on_arrays = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad):
        out = self.result(grad)
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

    rule_on_arrays = True

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.inputs[0].dtype)     # the same values, in x's dtype
