"""The Tensor: a numpy array, whether it needs a gradient, and the op that made it.

`x + y`, `x.sum(dim)` and the rest call ops from `ops/`; each method names its op, so
`grep "def mul"` finds where `*` is defined. The graph walk lives in `autograd.py`.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from . import inplace, ops
from .errors import DimError, DtypeError, ShapeError
from .function import Function, state
from .random import SeedLike, make_rng
from .shapes import normalize_dims, reduced_shape

Scalar = int | float | bool


class _Size(int):
    """A tensor's element count (numpy's `a.size`) that, called, gives PyTorch's `size()`:
    the shape, or the length of one dim."""

    def __new__(cls, data: np.ndarray):
        size = super().__new__(cls, data.size)
        size.shape = data.shape
        return size

    def __call__(self, dim: int | None = None):
        if dim is None:
            return self.shape
        from .shapes import normalize_dim
        return self.shape[normalize_dim(dim, len(self.shape), "size", self.shape)]


def _accepts_axis(method):
    """Take numpy's `axis=` as another name for `dim=`, as PyTorch does."""
    @functools.wraps(method)
    def with_axis(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs or len(args) > 1:
                raise TypeError(f"{method.__name__}: give dim or axis (the same thing), not both")
            kwargs["dim"] = kwargs.pop("axis")
        return method(*args, **kwargs)
    return with_axis


class Tensor:
    """An n-dimensional array that records the ops applied to it, for `.backward()`.

    Parameters
    ----------
    data : array_like or Tensor
        numpy arrays keep their dtype (and memory: no copy); Python numbers and lists
        become float32.
    requires_grad : bool
        Record the ops that use this tensor so `.backward()` can fill its `.grad`.
        Needs a floating dtype.
    dtype : numpy dtype, optional
        Convert `data` to this dtype.

    Examples
    --------
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([2., 4., 6.], dtype=float32)
    """

    # `_seq`, set with `_ctx` when an op records this tensor, numbers the recorded tensors in
    # the order they were made: backward runs the rule of the highest number first.
    # `_before`, set only by an in-place op inside the graph, is a weak reference to the tensor
    # that took over this one's earlier value (see `function.recorded_inputs`).
    __slots__ = ("data", "requires_grad", "_grad", "_ctx", "_seq", "name", "_retains_grad",
                 "_before", "__weakref__")
    __array_ufunc__ = None  # make `ndarray * Tensor` call Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if not isinstance(data, np.ndarray) or data.dtype.kind not in "biufc":
            data = _numeric_array(data, dtype)
        elif dtype is not None:
            data = np.asarray(data, dtype=dtype)
        if requires_grad and data.dtype.kind != "f":
            raise DtypeError(
                f"Tensor: requires_grad=True needs a floating dtype, got {data.dtype}; "
                f"convert first, for example Tensor(data, dtype=np.float32, requires_grad=True)")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self._grad = None
        self._ctx = None
        self.name = None
        self._retains_grad = False

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's output array without the checks of __init__ (the hot path)."""
        t = object.__new__(Tensor)
        t.data = data
        t.requires_grad = requires_grad
        t._grad = None
        t._ctx = None
        t.name = None
        t._retains_grad = False
        return t

    # ---- properties ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> _Size:
        """Number of elements, as numpy's `a.size`; called, the shape, as PyTorch's `size()`.

        Examples
        --------
        >>> t = Tensor.zeros(2, 3)
        >>> t.size, t.size(), t.size(1)
        (6, (2, 3), 3)
        """
        return _Size(self.data)

    def numel(self) -> int:
        return self.data.size

    @property
    def grad(self) -> Tensor | None:
        """d(output)/d(self) from the latest backward passes, summed: kept on leaves that
        require grad and on tensors that called `retain_grad()`; None before any backward."""
        grad = self._grad
        if grad is None and self._ctx is not None and not self._retains_grad:
            warnings.warn(
                "the .grad of a tensor that is not a leaf is not kept by backward, so it is "
                "None; call t.retain_grad() before backward to keep it (or read the leaves' "
                ".grad)", UserWarning, stacklevel=2)
        return grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        self._grad = value

    @property
    def grad_fn(self) -> Function | None:
        """The op node that made this tensor (None for leaves)."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op: inputs, parameters, detached values."""
        return self._ctx is None

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, got "
                             f"shape {self.shape}; reduce first (for example .sum() or .mean())")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor with the same data (shared) that is cut from the graph."""
        return Tensor._make(self.data, False)

    def clone(self) -> Tensor:
        """A copy with data of its own that stays in the graph: its gradient flows to self.

        Examples
        --------
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> y = x.clone()
        >>> y.data[0] = 5.0                     # x keeps its values
        >>> x
        Tensor([1., 2.], dtype=float32, requires_grad=True)
        >>> (y * y).sum().backward()            # d/dx of sum(x^2) at the values y had
        >>> x.grad
        Tensor([10.,  4.], dtype=float32)
        """
        return ops.Cast.apply(self, dtype=self.dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place on a leaf; returns self."""
        if requires_grad and self.dtype.kind != "f":
            raise DtypeError(f"requires_grad_: needs a floating dtype, got {self.dtype}; "
                             "convert first, for example t.astype(np.float32)")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True

    def backward(self, gradient=None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad.

        Parameters
        ----------
        gradient : Tensor or array_like, optional
            d(final)/d(self), of self's shape. Optional for one-element tensors (defaults to 1).
        retain_graph : bool
            Keep the graph so backward can run through it again; by default it is freed.
        create_graph : bool
            Record the backward pass too, so gradients can be differentiated again.
        """
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(",
                               threshold=100, edgeitems=3, precision=4)
        extra = f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self.name:
            extra += f", name={self.name!r}"
        return f"Tensor({body}{extra})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use (t).all() or (t).any() on the data, or reduce first")
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    __hash__ = object.__hash__

    def _lift(self, other) -> Tensor:
        """Turn a number or array into a constant Tensor; numbers take self's float dtype."""
        if isinstance(other, Tensor):
            return other
        kind = self.data.dtype.kind
        if isinstance(other, (int, float, bool)) and kind == "f":
            return Tensor._make(np.asarray(other, dtype=self.data.dtype), False)
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool) and kind in "iu":
            try:  # an integer with an integer tensor stays an integer op, exactly
                return Tensor._make(np.asarray(other, dtype=self.data.dtype), False)
            except OverflowError:
                raise OverflowError(f"{other} does not fit in this tensor's dtype {self.dtype}; "
                                    "convert the tensor first, for example "
                                    "t.astype(np.int64)") from None
        if isinstance(other, np.ndarray):  # copied, as PyTorch does: the op may keep it
            return Tensor(other.copy())
        if isinstance(other, ValuesIndices):
            return Tensor(other)  # its own error: take .values
        try:
            return Tensor(other)
        except TypeError:
            raise TypeError(f"unsupported operand: a Tensor and {type(other).__name__} "
                            f"({other!r:.60}); tensor arithmetic takes Tensors, numbers and "
                            "numeric numpy arrays") from None

    # ---- arithmetic (elementwise, broadcasting) ----------------------------------------
    # `other if isinstance(other, Tensor) else self._lift(other)`: a Tensor operand (the
    # common case, in every rule) is passed on without a function call.
    def add(self, other) -> Tensor:
        return ops.Add.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    def sub(self, other) -> Tensor:
        return ops.Sub.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    def mul(self, other) -> Tensor:
        return ops.Mul.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    def div(self, other) -> Tensor:
        return ops.Div.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    def pow(self, exponent) -> Tensor:
        exponent = exponent if isinstance(exponent, Tensor) else self._lift(exponent)
        return ops.Pow.apply(self, exponent)

    def neg(self) -> Tensor:
        return ops.Neg.apply(self)

    def matmul(self, other) -> Tensor:
        return ops.MatMul.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    __add__ = add
    __sub__ = sub
    __mul__ = mul
    __truediv__ = div
    __pow__ = pow
    __neg__ = neg
    __matmul__ = matmul

    def __radd__(self, other) -> Tensor:
        return ops.Add.apply(self._lift(other), self)

    def __rsub__(self, other) -> Tensor:
        return ops.Sub.apply(self._lift(other), self)

    def __rmul__(self, other) -> Tensor:
        return ops.Mul.apply(self._lift(other), self)

    def __rtruediv__(self, other) -> Tensor:
        return ops.Div.apply(self._lift(other), self)

    def __rpow__(self, other) -> Tensor:
        return ops.Pow.apply(self._lift(other), self)

    def __rmatmul__(self, other) -> Tensor:
        return ops.MatMul.apply(self._lift(other), self)

    # ---- in-place updates (PyTorch's rules, in inplace.py) ------------------------------
    # `p -= lr * p.grad` changes p itself: written into its memory outside the graph,
    # recorded as the op inside it.
    def add_(self, other, *, alpha=1) -> Tensor:
        """self += alpha * other, in place; returns self.

        Under no_grad, `alpha` scales in the same pass as the update (one BLAS axpy where
        scipy is installed), with no temporary array: `w.add_(w.grad, alpha=-lr)` is
        PyTorch's one-pass SGD step.
        """
        return inplace.update(self, "add_", ops.Add.apply, np.add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        """self -= alpha * other, in place; returns self.

        `w -= lr * w.grad` computes `lr * w.grad` into a new array first; under no_grad,
        `w.sub_(w.grad, alpha=lr)` gives the same update in one pass with no temporary
        (see `add_`).

        Examples
        --------
        >>> from tinygrad_edu import no_grad
        >>> w = Tensor([1.0, 2.0], requires_grad=True)
        >>> (w * w).sum().backward()
        >>> with no_grad():                  # a parameter update: outside the graph
        ...     w -= 0.1 * w.grad
        >>> w
        Tensor([0.8, 1.6], dtype=float32, requires_grad=True)
        >>> with no_grad():
        ...     w.sub_(w.grad, alpha=0.5)
        Tensor([-0.2, -0.4], dtype=float32, requires_grad=True)
        """
        return inplace.update(self, "sub_", ops.Sub.apply, np.subtract, other, alpha=alpha)

    def mul_(self, other) -> Tensor:
        """self *= other, in place; returns self."""
        return inplace.update(self, "mul_", ops.Mul.apply, np.multiply, other)

    def div_(self, other) -> Tensor:
        """self /= other, in place; returns self."""
        return inplace.update(self, "div_", ops.Div.apply, np.divide, other)

    def copy_(self, source) -> Tensor:
        """Overwrite self's values with `source`, broadcast to self's shape and cast to its
        dtype (as PyTorch's copy_); returns self."""
        return inplace.update(self, "copy_", inplace.replace, None, source, casts=True)

    def fill_(self, value) -> Tensor:
        """Set every element to `value`; returns self."""
        return inplace.update(self, "fill_", inplace.replace, None, value, casts=True)

    def zero_(self) -> Tensor:
        """Set every element to 0; returns self."""
        return inplace.update(self, "zero_", inplace.replace, None, 0, casts=True)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # ---- conversion to Python numbers --------------------------------------------------
    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """`f"{loss:.3f}"` formats a one-element tensor's value; an empty spec gives repr."""
        return format(self.item(), spec) if spec else str(self)

    # ---- comparisons: constant bool tensors, outside the graph -------------------------
    def _compare(self, other, fn) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(np.asarray(fn(self.data, other)), False)

    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other) -> Tensor:
        return self._compare(other, np.greater_equal)

    # ---- elementwise functions ---------------------------------------------------------
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def log1p(self) -> Tensor:
        """ln(1 + x), exact where x is tiny."""
        return ops.Log1p.apply(self)

    def erf(self) -> Tensor:
        """The error function, elementwise (exact gelu is built on it)."""
        return ops.Erf.apply(self)

    def conv2d(self, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
               dilation=1, groups: int = 1) -> Tensor:
        """2-D convolution of this (N, C, H, W) batch: `nn.functional.conv2d(self, ...)`."""
        from .nn.functional import conv2d  # nn imports this module: import when called

        return conv2d(self, weight, bias, stride, padding, dilation, groups)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    __abs__ = abs

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def maximum(self, other) -> Tensor:
        """Elementwise maximum; where the two are equal, each gets half the gradient."""
        return ops.Maximum.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    def minimum(self, other) -> Tensor:
        """Elementwise minimum; where the two are equal, each gets half the gradient."""
        return ops.Minimum.apply(self, other if isinstance(other, Tensor) else self._lift(other))

    def clamp(self, min: float | Tensor | None = None,
              max: float | Tensor | None = None) -> Tensor:
        """Limit values to [min, max]; the gradient is 1 inside and 0 outside.

        A bound may be a Tensor (broadcast against self): where it wins, it gets the gradient.
        """
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else where((self < min).data, self._lift(min), self)
            return out if max is None else where((out > max).data, out._lift(max), out)
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and not isinstance(bound, (int, float, np.number)):
                raise TypeError(f"clamp: {name} must be a number or a Tensor, got "
                                f"{type(bound).__name__}")
        return ops.Clamp.apply(self, low=min, high=max)

    clip = clamp

    def astype(self, dtype) -> Tensor:
        """Convert to `dtype`; the gradient is converted back to this tensor's dtype.

        A non-float result (integers, bools) is a constant: it cannot carry a gradient.
        """
        if np.dtype(dtype) == self.dtype:
            return self
        if np.dtype(dtype).kind != "f":
            return Tensor._make(self.data.astype(dtype), False)
        return ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # ---- reductions --------------------------------------------------------------------
    @_accepts_axis
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Sum over `dim`: all dims by default, none for `dim=()` (numpy's meaning; PyTorch
        sums everything for an empty dim list)."""
        return ops.Sum.apply(self, dim=dim, keepdim=keepdim)

    @_accepts_axis
    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Mean over `dim` (all dims by default, none for `dim=()`): the sum over the count.
        Integers and bools average in float64, as numpy's mean."""
        return ops.Mean.apply(self, dim=dim, keepdim=keepdim)

    @_accepts_axis
    def var(self, dim: int | Sequence[int] | None = None, keepdim: bool = False,
            correction: int = 1) -> Tensor:
        """Variance over `dim`: sum((x - mean)^2) / (N - correction), as PyTorch's `var`
        (correction=1, Bessel's, by default; 0 for the population variance). NaN where
        N <= correction."""
        normalize_dims(dim, self.shape, "var")
        deviation = self - self.mean(dim, keepdim=True)
        total = (deviation * deviation).sum(dim, keepdim)
        count = self.data.size // total.data.size if total.data.size else 0
        return total * (1.0 / (count - correction) if count > correction else float("nan"))

    @_accepts_axis
    def std(self, dim: int | Sequence[int] | None = None, keepdim: bool = False,
            correction: int = 1) -> Tensor:
        """Standard deviation over `dim`: the square root of `var` (same `correction`).

        Where the values are all equal (std 0) the gradient is 0, as PyTorch's: sqrt's slope
        is infinite at 0 and var's is 0 there, and their product would be NaN.
        """
        var = self.var(dim, keepdim, correction)
        flat = var.data == 0
        if not flat.any():
            return var.sqrt()
        # sqrt of 1 instead of 0 where var is 0, and the result 0 there: the gradient that
        # reaches var (and every derivative after it) is 0 at those places, never 0 * inf
        return where(flat, 0.0, where(flat, 1.0, var).sqrt())

    @_accepts_axis
    def logsumexp(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """ln(sum(exp(x))) over `dim`, without overflow: m + ln(sum(exp(x - m))), m the max
        (a constant: the result's gradient is softmax(x) whatever m is)."""
        dims = normalize_dims(dim, self.shape, "logsumexp")
        m = self.data.max(axis=dims, keepdims=True) if self.data.size else np.zeros(())
        m = Tensor._make(np.where(np.isfinite(m), m, 0).astype(self.dtype), False)
        out = (self - m).exp().sum(dim, keepdim=True).log() + m
        return out if keepdim else out.reshape(reduced_shape(self.shape, dims, keepdim=False))

    @_accepts_axis
    def max(self, dim: int | Sequence[int] | None = None,
            keepdim: bool = False) -> Tensor | ValuesIndices:
        """The largest value; along one dim, the largest values and where they are.

        As in PyTorch: with `dim` an int the result is `(values, indices)` (a named tuple:
        `logits.max(1).indices` are the predicted classes); with no dim, or a tuple of dims
        (PyTorch's `amax`), it is the Tensor of values. Ties split the gradient evenly among
        the maxima (PyTorch's max(dim) gives it all to the index it returns).

        Examples
        --------
        >>> values, indices = Tensor([[1.0, 5.0], [7.0, 2.0]]).max(1)
        >>> values, indices
        (Tensor([5., 7.], dtype=float32), Tensor([1, 0], dtype=int64))
        """
        values = ops.Max.apply(self, dim=dim, keepdim=keepdim)
        if not isinstance(dim, (int, np.integer)):
            return values
        return ValuesIndices(values, self.argmax(dim, keepdim))

    @_accepts_axis
    def min(self, dim: int | Sequence[int] | None = None,
            keepdim: bool = False) -> Tensor | ValuesIndices:
        """The smallest value; along one dim, `(values, indices)`: as `max`."""
        values = ops.Min.apply(self, dim=dim, keepdim=keepdim)
        if not isinstance(dim, (int, np.integer)):
            return values
        return ValuesIndices(values, self.argmin(dim, keepdim))

    @_accepts_axis
    def amax(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The largest values over `dim` (an int or a tuple), without their indices."""
        return ops.Max.apply(self, dim=dim, keepdim=keepdim)

    @_accepts_axis
    def amin(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The smallest values over `dim` (an int or a tuple), without their indices."""
        return ops.Min.apply(self, dim=dim, keepdim=keepdim)

    @_accepts_axis
    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (first one on ties); an integer tensor, no gradient."""
        return self._arg("argmax", dim, keepdim)

    @_accepts_axis
    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the smallest value (first one on ties); an integer tensor, no gradient."""
        return self._arg("argmin", dim, keepdim)

    def _arg(self, name: str, dim: int | None, keepdim: bool) -> Tensor:
        if dim is None or self.ndim == 0 and dim in (0, -1):  # (a 0-d tensor's dim 0: PyTorch)
            return Tensor._make(np.asarray(getattr(self.data, name)()), False)
        from .shapes import normalize_dim
        d = normalize_dim(dim, self.ndim, name, self.shape)
        return Tensor._make(np.asarray(getattr(self.data, name)(axis=d, keepdims=keepdim)), False)

    @_accepts_axis
    def softmax(self, dim: int = -1) -> Tensor:
        if self.ndim == 0 and dim in (0, -1):  # PyTorch lets dim 0 name a 0-d tensor's element
            return self.reshape(1).softmax(0).reshape(())
        return ops.Softmax.apply(self, dim=dim)

    @_accepts_axis
    def log_softmax(self, dim: int = -1) -> Tensor:
        if self.ndim == 0 and dim in (0, -1):  # as softmax
            return self.reshape(1).log_softmax(0).reshape(())
        return ops.LogSoftmax.apply(self, dim=dim)

    # ---- movement ----------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims start_dim..end_dim into one."""
        from .shapes import normalize_dim
        if self.ndim == 0:
            return self.reshape(1)
        s = normalize_dim(start_dim, self.ndim, "flatten", self.shape)
        e = normalize_dim(end_dim, self.ndim, "flatten", self.shape)
        if s > e:
            raise DimError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                           f"tensor of shape {self.shape}; swap them")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    @_accepts_axis
    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a dim of size 1 at `dim`."""
        from .shapes import normalize_dim
        d = normalize_dim(dim, self.ndim + 1, "unsqueeze", self.shape)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    @_accepts_axis
    def squeeze(self, dim: int | None = None) -> Tensor:
        """Remove dims of size 1 (only `dim`, when given)."""
        from .shapes import normalize_dim
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        d = normalize_dim(dim, self.ndim, "squeeze", self.shape)
        return self.reshape(self.shape[:d] + self.shape[d + 1:]) if self.shape[d] == 1 else self

    def permute(self, *dims) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return ops.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dims."""
        from .shapes import normalize_dim
        order = list(range(self.ndim))
        a = normalize_dim(dim0, self.ndim, "transpose", self.shape)
        b = normalize_dim(dim1, self.ndim, "transpose", self.shape)
        order[a], order[b] = order[b], order[a]
        return ops.Permute.apply(self, dims=tuple(order))

    swapaxes = transpose  # numpy's name

    @property
    def T(self) -> Tensor:
        """All dims reversed (numpy's `.T`); the matrix transpose for 2-D tensors."""
        if not (self.requires_grad and state.grad_enabled):
            # Nothing to record (as in every backward rule without create_graph): the numpy
            # view is the whole result, so skip the op's bookkeeping. Same numbers either way.
            return Tensor._make(self.data.T, False)
        return ops.Permute.apply(self, dims=tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two dims swapped: the transpose of each matrix in a batch."""
        return self.transpose(-2, -1)

    def expand(self, *shape) -> Tensor:
        """Broadcast to `shape` (numpy's broadcast_to); backward sums back.

        -1 keeps the size of that dim (counted from the right, as broadcasting aligns dims).

        Examples
        --------
        >>> Tensor([[1.0], [2.0]]).expand(3, -1, 4).shape
        (3, 2, 4)
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if -1 in shape:
            new = len(shape) - self.ndim                # dims added in front have no size yet
            if new < 0 or -1 in shape[:new]:
                raise ShapeError(f"expand: -1 in {tuple(shape)} must stand for one of the "
                                 f"{self.ndim} dims of a tensor of shape {self.shape}; give "
                                 "new leading dims a size")
            shape = tuple(self.shape[i - new] if n == -1 else n for i, n in enumerate(shape))
        return ops.Expand.apply(self, shape=shape)

    def __getitem__(self, index) -> Tensor:
        return ops.GetItem.apply(self, index=index)

    def __setitem__(self, index, value) -> None:
        """`t[index] = value`, an in-place update with the rules of `sub_` and the others."""
        index = index.data if isinstance(index, Tensor) else index
        inplace.update(self, "setitem", lambda x, y: inplace.assign(x, index, y),
                       inplace.Assign(index), value, casts=True, target=self.data[index].shape)

    def draw(self, **options):
        """Draw the graph that made this tensor (see `tinygrad_edu.viz.draw_graph`)."""
        from .viz import draw_graph

        return draw_graph(self, **options)

    # ---- factories ---------------------------------------------------------------------
    @staticmethod
    def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
        return Tensor(np.zeros(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
        return Tensor(np.ones(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def full(shape, fill_value, dtype=np.float32, requires_grad: bool = False) -> Tensor:
        """A tensor of `shape` filled with `fill_value`."""
        return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
        """Evenly spaced values in [start, stop) (numpy's arange: int64 for ints)."""
        data = np.arange(start, stop, step) if stop is not None else np.arange(start)
        return Tensor(data if dtype is None else data.astype(dtype), requires_grad=requires_grad)

    @staticmethod
    def eye(n: int, m: int | None = None, dtype=np.float32, requires_grad: bool = False) -> Tensor:
        """The identity matrix, n x m (m = n by default)."""
        return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def randn(*shape, rng: SeedLike = None, dtype=np.float32,
              requires_grad: bool = False) -> Tensor:
        """Standard normal values from `rng`: a numpy Generator, an int seed, or None for the
        global generator (`tinygrad_edu.manual_seed`)."""
        values = make_rng(rng).standard_normal(_shape_args(shape))
        return Tensor(values.astype(dtype), requires_grad=requires_grad)

    @staticmethod
    def rand(*shape, rng: SeedLike = None, dtype=np.float32,
             requires_grad: bool = False) -> Tensor:
        """Uniform values in [0, 1) from `rng` (as `randn`)."""
        values = make_rng(rng).random(_shape_args(shape))
        return Tensor(values.astype(dtype), requires_grad=requires_grad)

    def zeros_like(self, dtype=None, requires_grad: bool = False) -> Tensor:
        """Zeros of this tensor's shape (and dtype, unless one is given)."""
        return Tensor(np.zeros(self.shape, dtype or self.dtype), requires_grad=requires_grad)

    def ones_like(self, dtype=None, requires_grad: bool = False) -> Tensor:
        """Ones of this tensor's shape (and dtype, unless one is given)."""
        return Tensor(np.ones(self.shape, dtype or self.dtype), requires_grad=requires_grad)

    def full_like(self, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
        """`fill_value` in this tensor's shape (and dtype, unless one is given)."""
        return Tensor.full(self.shape, fill_value, dtype or self.dtype, requires_grad)

    def randn_like(self, rng: SeedLike = None, dtype=None,
                   requires_grad: bool = False) -> Tensor:
        """Standard normal values in this tensor's shape (and float dtype)."""
        return Tensor.randn(self.shape, rng=rng, dtype=dtype or self.dtype,
                            requires_grad=requires_grad)


def _shape_args(shape: tuple) -> tuple:
    """`f(2, 3)` and `f((2, 3))` alike."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


class ValuesIndices(NamedTuple):
    """What `max(dim)` and `min(dim)` return, as in PyTorch: the values and their indices."""

    values: Tensor
    indices: Tensor


def _numeric_array(data, dtype=None) -> np.ndarray:
    """`data` (numbers, nested lists of numbers, a numpy scalar) as an array of `dtype`: by
    default float32, and a numpy scalar's own dtype. None or a string would silently become NaN
    or a number, so they are refused."""
    if isinstance(data, ValuesIndices):
        raise TypeError("Tensor: got the (values, indices) pair that max(dim) and min(dim) "
                        "return, as in PyTorch; take its .values (or use amax/amin)")
    raw = np.asarray(data)
    if raw.dtype.kind == "O" and all(isinstance(v, numbers.Number) for v in raw.flat):
        raw = raw.astype(np.float64)  # Python ints too large for int64
    if raw.dtype.kind not in "biufc":
        what = type(data).__name__ if raw.dtype.kind == "O" or raw.ndim == 0 else (
            f"{type(data).__name__} of {raw.dtype}")
        raise TypeError(f"Tensor: cannot make a tensor from {what} ({data!r:.60}); give a "
                        "number, a (nested) list of numbers or a numeric numpy array")
    if dtype is None:
        dtype = raw.dtype if isinstance(data, np.generic) else np.float32
    return raw.astype(dtype, copy=False)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Same as `Tensor(data, requires_grad, dtype)`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


@_accepts_axis
def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim."""
    return ops.Cat.apply(*tensors, dim=dim)


@_accepts_axis
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dim."""
    return ops.Stack.apply(*tensors, dim=dim)


def where(condition, x, y) -> Tensor:
    """`x` where `condition` holds, else `y` (broadcasting); the condition gets no gradient."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        raise DtypeError(f"where: the condition must be bool, got {cond.dtype} (a nonzero number "
                         "would silently count as True); compare first: where(c > 0, x, y)")
    cond = cond.copy()  # the rule keeps it: a later change to the caller's mask must not reach it
    base = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else Tensor(x)
    return ops.Where.apply(base._lift(x), base._lift(y), condition=cond)


def maximum(x, y) -> Tensor:
    """Elementwise maximum of two tensors; ties split the gradient evenly."""
    base = x if isinstance(x, Tensor) else Tensor(x)
    return ops.Maximum.apply(base, base._lift(y))


def minimum(x, y) -> Tensor:
    """Elementwise minimum of two tensors; ties split the gradient evenly."""
    base = x if isinstance(x, Tensor) else Tensor(x)
    return ops.Minimum.apply(base, base._lift(y))


# Last, because autograd.py imports this module: the module object is taken (complete by the
# time `backward` runs), not its `backward`, which may not exist yet at import time.
from . import autograd as _autograd  # noqa: E402
