"""Numerical gradients, and checks that `.backward()` agrees with them.

The numeric side is a float64 central difference, (f(x + eps) - f(x - eps)) / (2 eps), per
element. A function with many outputs is reduced to one number with a fixed random weighting
v (the check compares v^T J both ways), which catches a wrong Jacobian entry unless it hides
exactly orthogonal to v.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..autograd import grad
from ..tensor import Tensor

EPS = 1e-6        # central-difference step; truncation error ~ EPS^2, rounding ~ 1e-16 / EPS
ATOL = 1e-5       # absolute tolerance of gradcheck, for float64
RTOL = 1e-4       # relative tolerance of gradcheck, for float64
COTANGENT_SEED = 0


class GradcheckError(AssertionError):
    """The autograd gradient and the numerical gradient disagree."""


def _as_float64_inputs(inputs) -> list[Tensor]:
    """Fresh float64 leaves (floats need a gradient; integer inputs stay constants)."""
    out = []
    for x in inputs:
        data = np.array(x.data if isinstance(x, Tensor) else x)  # a copy we may perturb
        if data.dtype.kind not in "iub":  # C order, so a flat view perturbs x itself; not
            # ascontiguousarray, which turns a 0-d input into shape (1,)
            out.append(Tensor(np.array(data, dtype=np.float64, order="C"), requires_grad=True))
        else:
            out.append(Tensor(data))
    return out


def _cotangent(out: Tensor, grad_output):
    if grad_output is not None:
        return np.asarray(grad_output.data if isinstance(grad_output, Tensor) else grad_output,
                          dtype=np.float64)
    if out.data.size == 1:
        return np.ones(out.shape)
    rng = np.random.default_rng(COTANGENT_SEED)
    return rng.uniform(0.5, 1.5, size=out.shape) * rng.choice([-1.0, 1.0], size=out.shape)


def _scalar(fn, xs, v) -> float:
    out = fn(*xs)
    return float(np.sum(np.asarray(out.data, dtype=np.float64) * v))


def numerical_grad(fn: Callable[..., Tensor], inputs: Sequence, eps: float = EPS,
                   grad_output=None) -> list[np.ndarray | None]:
    """Central-difference gradients of `sum(fn(*inputs) * grad_output)`, in float64.

    Parameters
    ----------
    fn : callable
        Takes Tensors, returns a Tensor.
    inputs : sequence of Tensor or array_like
        Where to differentiate. Integer inputs are constants (their gradient is None).
    eps : float
        The step.
    grad_output : array_like, optional
        Weights of the outputs; default: 1 for a one-element output, else fixed random ones.

    Returns
    -------
    list of ndarray or None
        One float64 gradient per input.

    Examples
    --------
    >>> import numpy as np
    >>> g = numerical_grad(lambda x: (x * x).sum(), [np.array([1.0, -2.0])])
    >>> np.round(g[0], 6)
    array([ 2., -4.])
    """
    xs = _as_float64_inputs(inputs)
    v = _cotangent(fn(*xs), grad_output)
    grads: list[np.ndarray | None] = []
    for x in xs:
        if not x.requires_grad:
            grads.append(None)
            continue
        g = np.zeros_like(x.data)
        flat, gflat = x.data.reshape(-1), g.reshape(-1)  # views: perturb x in place
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = _scalar(fn, xs, v)
            flat[i] = orig - eps
            minus = _scalar(fn, xs, v)
            flat[i] = orig
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _analytic_grad(fn, xs, v) -> list[np.ndarray | None]:
    out = fn(*xs)
    wrt = [x for x in xs if x.requires_grad]
    if not out.requires_grad:  # the output does not depend on any input
        found = [None] * len(wrt)
    else:
        found = list(grad(out, wrt, grad_outputs=Tensor(v.astype(out.dtype)),
                          allow_unused=True))
    result, it = [], iter(found)
    for x in xs:
        if not x.requires_grad:
            result.append(None)
            continue
        g = next(it)
        result.append(np.zeros_like(x.data) if g is None else np.asarray(g.data, np.float64))
    return result


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence, eps: float = EPS,
              atol: float = ATOL, rtol: float = RTOL, grad_output=None) -> bool:
    """Check that autograd's gradient of `fn` matches central differences, in float64.

    Parameters
    ----------
    fn : callable
        Takes Tensors (one per input), returns a Tensor built from Tensor ops.
    inputs : sequence of Tensor or array_like
        Points to check at; converted to float64 copies (integer inputs stay constants).
    eps, atol, rtol : float
        Step and tolerances: an element passes when |analytic - numeric| <= atol + rtol |numeric|.
    grad_output : array_like, optional
        Output weights (default: fixed random weights for a non-scalar output).

    Returns
    -------
    bool
        True when every element agrees.

    Raises
    ------
    GradcheckError
        Naming the input, the element index, the analytic and numeric values and the error.

    Examples
    --------
    >>> import numpy as np
    >>> gradcheck(lambda x, y: (x * y).sum(), [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    True
    """
    xs = _as_float64_inputs(inputs)
    v = _cotangent(fn(*xs), grad_output)
    analytic = _analytic_grad(fn, xs, v)
    numeric = numerical_grad(fn, [x.data for x in xs], eps, grad_output=v)
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
        if a is None:
            continue
        _compare(a, n, atol, rtol, f"input {i} (shape {xs[i].shape})", "analytic", "numeric",
                 GradcheckError)
    return True


def gradgradcheck(fn: Callable[..., Tensor], inputs: Sequence, eps: float = EPS,
                  atol: float = ATOL, rtol: float = RTOL) -> bool:
    """Check second derivatives: differentiate the gradient built with `create_graph=True`.

    The first gradients g_i = d(sum(fn * v))/dx_i are recorded as a graph, reduced to
    s = sum_i sum(g_i * u_i) with fixed random u_i, and `gradcheck` compares ds/dx (a
    Hessian-vector product) with central differences of s.

    Examples
    --------
    >>> import numpy as np
    >>> gradgradcheck(lambda x: (x ** 3).sum(), [np.array([1.0, -2.0])])
    True
    """
    xs = _as_float64_inputs(inputs)
    v = _cotangent(fn(*xs), None)
    rng = np.random.default_rng(COTANGENT_SEED + 1)
    us = [rng.uniform(-1.0, 1.0, size=x.shape) for x in xs]

    def first_grads_dotted(*ys):
        out = fn(*ys)
        wrt = [(y, u) for y, u in zip(ys, us, strict=True) if y.requires_grad]
        total = Tensor(np.zeros((), dtype=np.float64))
        if not out.requires_grad:
            return total
        gs = grad(out, [y for y, _ in wrt], grad_outputs=Tensor(v.astype(out.dtype)),
                  create_graph=True, allow_unused=True)
        for g, (_, u) in zip(gs, wrt, strict=True):
            if g is not None:
                total = total + (g * Tensor(u)).sum()
        return total

    return gradcheck(first_grads_dotted, xs, eps, atol, rtol)


def check_grad(fn: Callable[..., Tensor], *inputs, order: int = 1, **tolerances) -> bool:
    """`gradcheck`, and with `order=2` also `gradgradcheck`: `check_grad(f, x, y, order=2)`."""
    gradcheck(fn, inputs, **tolerances)
    if order >= 2:
        gradgradcheck(fn, inputs, **tolerances)
    return True


def assert_grads_close(actual, expected, atol: float = 1e-8, rtol: float = 1e-6,
                       name: str = "gradient") -> None:
    """Assert two gradients agree elementwise; the message points to the worst element.

    Parameters
    ----------
    actual, expected : Tensor or array_like
        Same shape.
    atol, rtol : float
        An element passes when |actual - expected| <= atol + rtol |expected|.
    name : str
        What is compared, for the message (for example "dW1").

    Examples
    --------
    >>> assert_grads_close([1.0, 2.0], [1.0, 2.0 + 1e-12])
    >>> assert_grads_close([1.0, 2.0], [1.0, 2.5], name="db")
    Traceback (most recent call last):
    ...
    AssertionError: db: 1 of 2 elements differ; worst at index (1,): actual 2.0, expected 2.5, ...
    """
    a = np.asarray(actual.data if isinstance(actual, Tensor) else actual, dtype=np.float64)
    e = np.asarray(expected.data if isinstance(expected, Tensor) else expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shape {a.shape} differs from expected shape {e.shape}")
    _compare(a, e, atol, rtol, name, "actual", "expected", AssertionError)


def _compare(a, e, atol, rtol, what, a_name, e_name, error) -> None:
    err = np.abs(a - e)
    bad = ~(err <= atol + rtol * np.abs(e))  # NaN counts as bad
    if not bad.any():
        return
    excess = np.where(np.isnan(err), np.inf, err - rtol * np.abs(e))
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), a.shape))
    raise error(
        f"{what}: {int(bad.sum())} of {a.size} elements differ; worst at index {worst}: "
        f"{a_name} {float(a[worst])!r}, {e_name} {float(e[worst])!r}, "
        f"|difference| {err[worst]:.3g} "
        f"(atol {atol:g}, rtol {rtol:g})")
