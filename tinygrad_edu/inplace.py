"""In-place updates with PyTorch's rules: `p -= x`, `add_`, `copy_`, `fill_`, `t[i] = v`.

`p -= lr * p.grad` changes p itself: the same Tensor, so parameters(), optimisers and
checkpoints keep seeing it. Outside the graph (no_grad, or nothing needs a gradient) the new
values are written into p's memory; every view of that memory sees them, and nodes that saved
the old values refuse to backpropagate (`function.mark_written`). Inside the graph the update
is recorded as an op: p becomes its output (`_hand_over`, `_take_over`), and an update of a
view writes through to the tensor it views. The Tensor methods (`add_`, `__isub__`, ...) call
`update`.
"""

from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING

import numpy as np

from . import ops
from .errors import DtypeError, GraphError, ShapeError
from .function import mark_written, note_update, state

if TYPE_CHECKING:
    from .tensor import Tensor


def update(t: Tensor, name: str, op, ufunc, other, casts: bool = False,
           target: tuple | None = None, alpha=1) -> Tensor:
    """t = op(t, other), keeping the Tensor object t: recorded as the op inside the
    graph, written into t's memory (by `ufunc`; None copies) outside it.

    `other` must broadcast to `target` (t's shape by default); with `casts`, any dtype
    is cast to t's, else the result must keep t's kind (a float stays a float). `alpha`
    (add_ and sub_ only) scales `other` first: outside the graph in the same pass as the
    update (`add_scaled`)."""
    other = other if isinstance(other, _tensor.Tensor) else t._lift(other)
    scaled = type(alpha) is not int or alpha != 1  # add_(x, alpha=a), sub_(x, alpha=a)
    if scaled:
        alpha = _checked_alpha(name, alpha, t, other)
    if state.grad_enabled and (t.requires_grad or other.requires_grad):
        if scaled:
            other = other * alpha
        if t._ctx is None and t.requires_grad:
            raise GraphError(
                f"{name}: a leaf tensor that requires grad (shape {t.shape}) is being "
                "updated in place while grad mode is on, which would cut it from its own "
                "gradient; update parameters inside `with no_grad():` (as optimisers do), "
                "or compute a new tensor (w2 = w - x)")
        viewed = _viewed_tensor(t, name)
        _check_update(name, t, other, t.shape if target is None else target,
                      None if casts else ufunc)
        old = _hand_over(t)
        result = op(old, old if other is t else other)
        if result.dtype != t.dtype:
            result = result.astype(t.dtype)
        if viewed is not None:  # write through to the viewed tensor, then view it again
            old._ctx.write_back(viewed, result)
            result = old._ctx.view_again(viewed, t.shape)
        _take_over(t, result)
        return t
    try:
        if ufunc is None:
            np.copyto(t.data, other.data, casting="unsafe")
        elif scaled:
            scale = alpha if ufunc is np.add else -alpha
            if other.shape == t.shape and t.data.flags.writeable:  # what add_scaled needs
                add_scaled(t.data, scale, other.data)
            else:  # a broadcast operand, or read-only memory (numpy's error, worded below)
                np.add(t.data, scale * other.data, out=t.data)
        else:
            ufunc(t.data, other.data, out=t.data)
    except TypeError:  # numpy's casting error (UFuncTypeError is a TypeError)
        raise _inplace_dtype_error(name, t, other, ufunc) from None
    except ValueError as exc:
        if not t.data.flags.writeable:
            raise ValueError(f"{name}: this tensor's memory is read-only (shape "
                             f"{t.shape}, a broadcast view such as expand()'s); update "
                             "a copy: t = t.clone()") from None
        raise _inplace_shape_error(name, t, other, target) from exc
    mark_written(t.data)
    return t


def add_scaled(w: np.ndarray, scale, g: np.ndarray) -> None:
    """w += scale * g, in place (optimisers' updates, and add_ and sub_ with alpha), for a
    writable w and a g of w's shape: the callers check both (BLAS would write into read-only
    memory all the same).

    numpy computes `scale * g` into a new array and then adds it: two passes over memory
    and a third array. BLAS's axpy (y += a x) does it in one pass, with no temporary; scipy
    exposes it, so with scipy installed (the `fast` extra) a float32 or float64 update of
    arrays of one shape, contiguous in the same order, takes that route: 6-8 us of the W1
    benchmark's 300 us step (docs/benchmarks.md). The numbers agree with numpy's to the last
    bit, or differ there (axpy may fuse the multiply and the add into one rounding). The
    first such update imports scipy.linalg: 0.1 s and 22-28 MiB of resident memory, once
    per process.
    """
    axpy = _blas_axpy().get(w.dtype) if g.dtype == w.dtype else None
    if (axpy is not None and w.flags.forc and w.strides == g.strides and w.size
            and (w.base is None and g.base is None or not np.may_share_memory(w, g))):
        # both contiguous in the same order (nn.Linear's weight and its gradient are column-
        # major): flat views in memory order line the elements up, and axpy writes into w.
        # Not when g overlaps w (views of one array): axpy would read what it has written
        axpy(g.ravel(order="K"), w.ravel(order="K"), a=scale)
    else:
        w += scale * g


@functools.cache
def _blas_axpy() -> dict:
    """scipy's axpy for each float dtype, or {} without scipy; imported on the first update,
    not with the package (scipy.linalg takes a tenth of a second to import)."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return {}
    return {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}


def _checked_alpha(name: str, alpha, t: Tensor, other: Tensor):
    """alpha as a Python number: a real number, and a whole one for integer tensors (as in
    PyTorch, whose integer add_ refuses a float alpha)."""
    if isinstance(alpha, np.generic):
        alpha = alpha.item()
    if not isinstance(alpha, (int, float)):  # (a Tensor, a string, a complex number...)
        raise TypeError(f"{name}: alpha must be a Python or numpy number, got "
                        f"{type(alpha).__name__} ({alpha!r:.60})")
    if isinstance(alpha, float) and t.dtype.kind in "biu" and other.dtype.kind in "biu":
        raise DtypeError(f"{name}: alpha={alpha} is a float, but this tensor and the other "
                         f"operand are integers ({t.dtype}, {other.dtype}); give a whole "
                         "alpha (an int), or convert first: t.astype(np.float32)")
    return alpha


def _viewed_tensor(t: Tensor, name: str) -> Tensor | None:
    """The tensor this one is a view of (x for y = x[0], x.T, x.reshape(...)), which an
    in-place op inside the graph must update too; None when this one is no view."""
    node = t._ctx
    if t.data.base is None or (node is not None and not node.view):
        return None
    if node is None or node.inputs is None or not hasattr(node, "write_back"):
        raise GraphError(
            f"{name}: this tensor (shape {t.shape}) shares memory with another one (a "
            "view made outside the graph, an expand() or a freed graph), so an in-place "
            "op inside the graph cannot update both; update the other tensor itself "
            "(y[0:2] = ...), do it under no_grad(), or compute a new tensor")
    base = node.inputs[0]
    while base._ctx is not None and base._ctx.view and base.data.base is not None:
        base = base._ctx.inputs[0]
    if base._ctx is None and base.requires_grad:
        raise GraphError(
            f"{name}: this tensor (shape {t.shape}) is a view of a leaf tensor that "
            f"requires grad (shape {base.shape}); an in-place op on it while grad mode is on "
            "would cut the leaf from its own gradient; update it inside `with no_grad():`")
    return node.inputs[0]


def _hand_over(t: Tensor) -> Tensor:
    """A new Tensor that takes this one's current value and place in the graph, so an
    in-place op can take it as its input while this object becomes the op's output."""
    old = _tensor.Tensor._make(t.data, t.requires_grad)
    old.name = t.name
    node = t._ctx
    if node is not None:
        old._ctx, old._seq = node, t._seq
        node._output = weakref.ref(old)
        old._before = getattr(t, "_before", None)
    t._before = weakref.ref(old)  # ops that took t before this update resolve to old
    return old


def _take_over(t: Tensor, result: Tensor) -> None:
    """Become `result` (the recorded in-place op's output), as the same Python object."""
    t.data, t.requires_grad = result.data, result.requires_grad
    t._ctx, t._seq = result._ctx, result._seq
    t._ctx._output = weakref.ref(t)
    # Nodes recorded before this update took this object as an input: their backward must
    # find the old value and place (`function.recorded_inputs`), not this op's output.
    note_update(t._seq)


def replace(x: Tensor, y: Tensor) -> Tensor:
    """y broadcast to x's shape, recorded as `where(True, y, x)`: x's old value gets no
    gradient (copy_, fill_, zero_ in the graph)."""
    return ops.Where.apply(y, x, condition=np.ones(x.shape, dtype=bool))


class Assign:
    """Writes `value` into `array[index]` (the memory path of `t[index] = value`)."""

    def __init__(self, index):
        self.index = index

    def __call__(self, array, value, out):
        array[self.index] = value


def assign(x: Tensor, index, y: Tensor) -> Tensor:
    """x with y written at `index`, recorded: y's gradient is grad[index], x's is grad with
    zeros at `index`."""
    target = x.data[index].shape
    written = np.zeros(x.shape, dtype=np.int64)
    np.add.at(written, index, 1)
    if written.max(initial=0) > 1:
        raise ValueError(f"setitem: the index names some elements of the tensor of shape "
                         f"{x.shape} more than once, so the value written last would win; "
                         "give each element once")
    placed = ops.ScatterAdd.apply(y.astype(x.dtype).expand(target), index=index, shape=x.shape)
    return ops.Where.apply(placed, x, condition=written.astype(bool))


def _check_update(name: str, t: Tensor, other: Tensor, target: tuple, ufunc) -> None:
    """An in-place op in the graph keeps t's shape, and the kind of t's dtype (floats stay
    floats) unless it casts (`ufunc` None)."""
    try:
        fits = np.broadcast_shapes(target, other.shape) == target
    except ValueError:
        fits = False
    if not fits:
        raise _inplace_shape_error(name, t, other, target)
    if ufunc is not None and not np.can_cast(_result_dtype(ufunc, t, other), t.dtype,
                                             "same_kind"):
        raise _inplace_dtype_error(name, t, other, ufunc)


def _result_dtype(ufunc, t: Tensor, other: Tensor) -> np.dtype:
    """The dtype numpy's `ufunc` gives for t and other (true division of ints: float64)."""
    return np.result_type(ufunc(t.data.ravel()[:0], other.data.ravel()[:0]))


def _inplace_dtype_error(name: str, t: Tensor, other: Tensor, ufunc) -> DtypeError:
    result = _result_dtype(ufunc, t, other)
    return DtypeError(f"{name}: the result has dtype {result}, which this tensor of dtype "
                      f"{t.dtype} cannot hold (the other operand has dtype {other.dtype}); "
                      "compute a new tensor instead: t2 = t.astype(np.float32) ...")


def _inplace_shape_error(name: str, t: Tensor, other: Tensor, target=None) -> ShapeError:
    where = "this tensor's shape" if target in (None, t.shape) else "the indexed part's shape"
    return ShapeError(f"{name}: an operand of shape {other.shape} does not broadcast to {where} "
                      f"{t.shape if target is None else target}; an in-place op cannot change "
                      "a tensor's shape: compute a new tensor instead (t2 = t + x)")


# Last, because tensor.py imports this module: the module object is taken (complete by the
# time an update runs), not its `Tensor`, which may not exist yet at import time.
from . import tensor as _tensor  # noqa: E402
