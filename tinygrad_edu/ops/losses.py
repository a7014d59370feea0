"""Losses as single ops, for speed and stability: cross-entropy, NLL, and the rule they share."""

from __future__ import annotations

import numpy as np

from ..errors import class_index_error
from ..function import Function
from ..reductions import shifted_along, sum_along
from .elementwise import _const
from .movement import ScatterAdd
from .reduce import Softmax, _floating, _softmax_vjp


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
    kept_after_release = ("reduction",)              # pictures say a summed loss is summed

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
            shifted = shifted_along(x, c)             # x - max(x): stable for large logits
            e = np.exp(shifted)
            total = sum_along(e, (c,), keepdims=True)
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

    rule_on_arrays = True

    def backward(self, grad):
        # dL/dx_c = (softmax_c * sum(y) - y_c) * grad / N  (softmax - y for one-hot y; N for
        # "mean"): one op, SoftmaxShift, since every training step runs it
        n = max(self.count, 1) if self.reduction == "mean" else 1
        x = self.operands(grad)[0]
        return SoftmaxShift.apply_in_rule(x, grad, dim=self.class_dim, probs=self.probs,
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
