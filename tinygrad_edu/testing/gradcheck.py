"""Numerical gradients, and checks that `.backward()` agrees with them.

The numeric side is a float64 central difference, (f(x + eps) - f(x - eps)) / (2 eps), per
element. A function with many outputs is reduced to one number with fixed random weights v
(the check compares v^T J both ways), which catches a wrong Jacobian entry unless its error
hides exactly orthogonal to v. The backward pass must also give twice the gradient for 2 v:
a rule that ignores its incoming gradient fails, even under `fn = lambda t: op(t).sum()`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from ..autograd import grad
from ..errors import DtypeError
from ..tensor import Tensor, cat

EPS = 1e-6        # central-difference step; truncation error ~ EPS^2, rounding ~ 1e-16 / EPS
RTOL = 1e-4       # relative tolerance of gradcheck: the one that decides for most elements
ATOL = 1e-8       # absolute tolerance floor of gradcheck: smaller gradients are not checked
# The rounding error of one central difference per unit of sum(|v * fn(x)|): each of the two
# evaluations is off by a few ulps of the values summed (2^-52 each), divided by 2 EPS.
ROUNDING = 64 * float(np.finfo(np.float64).eps) / EPS
COTANGENT_SEED = 0
_ORDER_NAMES = {2: "second derivatives", 3: "third derivatives"}


class GradcheckError(AssertionError):
    """The autograd gradient and the numerical gradient disagree."""


# ---- arguments -------------------------------------------------------------------------------


def _check_number(op: str, name: str, value, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shown = f" {value!r:.40}" if isinstance(value, str | bytes) else ""
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}{shown}")
    value = float(value)
    if positive and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{op}: {name} must be a positive finite number, got {value:g} "
                         f"(the default is {EPS:g})")
    if not positive and not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{op}: {name} must be 0 or more and finite, got {value:g}")
    return value


def _check_options(op: str, eps, atol, rtol) -> tuple[float, float | None, float]:
    eps = _check_number(op, "eps", eps, positive=True)
    atol = None if atol is None else _check_number(op, "atol", atol)
    return eps, atol, _check_number(op, "rtol", rtol)


def _as_float64_inputs(op: str, inputs, need_one: bool = True) -> list[Tensor]:
    """Fresh float64 leaves; integer and boolean inputs stay constants (indices, labels, masks)."""
    if isinstance(inputs, Tensor | np.ndarray):
        inputs = [inputs]  # one array is one input, as in torch.autograd.gradcheck
    elif not isinstance(inputs, Sequence) or isinstance(inputs, str | bytes):
        raise TypeError(f"{op}: inputs must be a list of arrays or Tensors (one per argument "
                        f"of fn), got {type(inputs).__name__}")
    out = []
    for i, x in enumerate(inputs):
        data = np.array(x.data if isinstance(x, Tensor) else x)  # a copy we may perturb
        if data.dtype.kind == "f":  # C order, so a flat view perturbs x itself; not
            # ascontiguousarray, which turns a 0-d input into shape (1,)
            out.append(Tensor(np.array(data, dtype=np.float64, order="C"), requires_grad=True))
        elif data.dtype.kind in "iub":
            out.append(Tensor(data))
        else:
            raise DtypeError(f"{op}: input {i} has dtype {data.dtype}; inputs must be real "
                             "floating-point arrays (integer and boolean ones are constants)")
    if not need_one:
        return out
    if not out:
        raise ValueError(f"{op}: no inputs to check; pass the points to differentiate at, "
                         "one array per argument of fn, for example np.array([1.0, 2.0])")
    if not any(x.requires_grad for x in out):
        dtypes = [f"input {i} has dtype {x.dtype}" for i, x in enumerate(out)]
        listed = dtypes[0] if len(dtypes) == 1 else ", ".join(dtypes[:-1]) + " and " + dtypes[-1]
        raise DtypeError(
            f"{op}: no input can be checked: {listed}; integer and boolean inputs are "
            "constants (indices, labels, masks), so nothing would be compared; to check the "
            "gradient at those points, pass them as floats: np.asarray(x, dtype=np.float64)")
    return out


def _call(op: str, fn, xs) -> Tensor:
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: fn returned {type(out).__name__}, not a Tensor; build the result "
                        "from Tensor ops (t.exp(), not np.exp(t.data)) so that autograd can "
                        "differentiate it")
    if out.dtype.kind != "f":
        raise DtypeError(f"{op}: fn returned a Tensor of dtype {out.dtype}; only a "
                         "floating-point result has a gradient (a comparison or an integer "
                         "result is a constant)")
    return out


def _weights(shape, seed: int) -> np.ndarray:
    """Random sign, size 0.5 to 1.5: every output counts, none is weighed 1 by design."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape))


def _given_weights(op: str, grad_output, shape) -> np.ndarray:
    v = np.asarray(grad_output.data if isinstance(grad_output, Tensor) else grad_output,
                   dtype=np.float64)
    try:
        return np.broadcast_to(v, shape)
    except ValueError:
        raise ValueError(f"{op}: grad_output of shape {v.shape} does not broadcast to fn's "
                         f"output shape {tuple(shape)}; give one weight per output") from None


# ---- the numeric side ------------------------------------------------------------------------


def _weighted(op, fn, xs, v) -> float:
    out = _call(op, fn, xs)
    return float(np.sum(np.asarray(out.data, dtype=np.float64) * v))


def _central_differences(op, fn, xs, v, eps) -> list[np.ndarray | None]:
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
            plus = _weighted(op, fn, xs, v)
            flat[i] = orig - eps
            minus = _weighted(op, fn, xs, v)
            flat[i] = orig
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


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
        The step, positive.
    grad_output : array_like, optional
        Weights of the outputs; default: 1 for a one-element output, else fixed random ones.

    Returns
    -------
    list of ndarray or None
        One float64 gradient per input.

    Raises
    ------
    TypeError
        `fn` returns something other than a floating-point Tensor, or an input is not real.
    ValueError
        `eps` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> g = numerical_grad(lambda x: (x * x).sum(), [np.array([1.0, -2.0])])
    >>> np.round(g[0], 6)
    array([ 2., -4.])
    """
    eps = _check_number("numerical_grad", "eps", eps, positive=True)
    xs = _as_float64_inputs("numerical_grad", inputs, need_one=False)
    out = _call("numerical_grad", fn, xs)
    if grad_output is not None:
        v = _given_weights("numerical_grad", grad_output, out.shape)
    else:
        v = np.ones(out.shape) if out.data.size == 1 else _weights(out.shape, COTANGENT_SEED)
    return _central_differences("numerical_grad", fn, xs, v, eps)


# ---- the analytic side and the comparison ----------------------------------------------------


def _vjps(out: Tensor, xs, vs) -> list[list[np.ndarray | None]]:
    """The backward pass of `out` with each cotangent in `vs`: one gradient per input."""
    wrt = [x for x in xs if x.requires_grad]
    results = []
    for k, v in enumerate(vs):
        if out.requires_grad:
            found = iter(grad(out, wrt, grad_outputs=Tensor(v.astype(out.dtype)),
                              retain_graph=k < len(vs) - 1, allow_unused=True))
        else:  # the output does not depend on any input
            found = iter([None] * len(wrt))
        row = []
        for x in xs:
            g = next(found) if x.requires_grad else None
            if x.requires_grad:
                g = np.zeros_like(x.data) if g is None else np.asarray(g.data, np.float64)
            row.append(g)
        results.append(row)
    return results


def _check(op: str, fn, xs, eps, atol, rtol, grad_output=None, label: str = "") -> None:
    out = _call(op, fn, xs)
    v = (_weights(out.shape, COTANGENT_SEED) if grad_output is None
         else _given_weights(op, grad_output, out.shape))
    # one output: compare gradients per unit of v, the numbers the user would compute by hand
    unit = float(v.reshape(-1)[0]) if v.size == 1 and v.reshape(-1)[0] != 0 else 1.0
    if atol is None:  # the floor, plus what rounding can do to a central difference here
        size = float(np.sum(np.abs(np.asarray(out.data, np.float64) * v)))
        atol = ATOL + ROUNDING * size / abs(unit)
    analytic, doubled = _vjps(out, xs, [v / unit, 2 * v / unit])
    for i, (a, a2) in enumerate(zip(analytic, doubled, strict=True)):
        if a is not None:  # a gradient is linear in the incoming gradient
            _compare(a2, 2 * a, atol, rtol,
                     f"{label}input {i} (shape {xs[i].shape}): doubling the incoming "
                     "gradient did not double this gradient; a backward rule may ignore its "
                     "`grad` argument (write `return grad * dout_dx`, not `return dout_dx`)",
                     "with grad doubled", "expected", GradcheckError)
    numeric = _central_differences(op, fn, xs, v, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
        if a is not None:
            _compare(a, n / unit, atol, rtol, f"{label}input {i} (shape {xs[i].shape})",
                     "analytic", "numeric", GradcheckError)


def _derivative(op: str, fn, order: int):
    """`ys -> d(sum(w * fn(*ys)))/dy` for each y that needs a gradient, flattened and joined.

    Recorded with `create_graph=True`, so it can be checked (and differentiated) again; the
    weights w are fixed random numbers, a new set for each order.
    """

    def gradients(*ys):
        out = _call(op, fn, ys)
        wrt = [y for y in ys if y.requires_grad]
        if not out.requires_grad:
            return Tensor(np.zeros(sum(y.data.size for y in wrt)))
        w = Tensor(_weights(out.shape, COTANGENT_SEED + order).astype(out.dtype))
        gs = grad(out, wrt, grad_outputs=w, create_graph=True, allow_unused=True)
        parts = [(Tensor(np.zeros(y.shape)) if g is None else g).reshape(-1)
                 for g, y in zip(gs, wrt, strict=True)]
        return parts[0] if len(parts) == 1 else cat(parts)

    return gradients


# ---- the checks ------------------------------------------------------------------------------


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence, eps: float = EPS,
              atol: float | None = None, rtol: float = RTOL, grad_output=None) -> bool:
    """Check that autograd's gradient of `fn` matches central differences, in float64.

    The backward pass gets fixed random weights v of fn's outputs as its incoming gradient,
    and its result v^T J is compared with the central difference of sum(v * fn); it must
    also give twice the gradient for 2 v (a rule that ignores `grad` fails). For a
    one-element output the gradient is compared per unit of v.

    Parameters
    ----------
    fn : callable
        Takes Tensors (one per input), returns a floating-point Tensor built from Tensor ops.
    inputs : sequence of Tensor or array_like, or one Tensor or array
        Points to check at; converted to float64 copies. Integer and boolean inputs are
        constants (indices, labels, masks); at least one input must be floating-point.
    eps : float
        The central-difference step, positive.
    atol, rtol : float
        An element passes when |analytic - numeric| <= atol + rtol |numeric|. The default
        atol (None) is ATOL + ROUNDING * sum(|v * fn(inputs)|): the rounding error of a
        central difference grows with the size of fn's values, and rtol decides for every
        element above it. Limit: a gradient element smaller than this atol (at least
        ATOL = 1e-8) passes whatever its value; multiply fn by a constant to check it.
    grad_output : array_like, optional
        Output weights v (default: fixed random weights).

    Returns
    -------
    bool
        True when every element agrees.

    Raises
    ------
    GradcheckError
        Naming the input, the element index, the analytic and numeric values and the error.
    TypeError
        No input is floating-point (`DtypeError`), `fn` does not return a floating-point
        Tensor, or an option is not a number.
    ValueError
        No inputs, `eps` not positive, or `atol` or `rtol` negative.

    Examples
    --------
    >>> import numpy as np
    >>> gradcheck(lambda x, y: (x * y).sum(), [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    True
    """
    _check_order("gradcheck", fn, inputs, 1, eps, atol, rtol, grad_output)
    return True


def _check_order(op: str, fn, inputs, order: int, eps, atol, rtol, grad_output=None) -> None:
    eps, atol, rtol = _check_options(op, eps, atol, rtol)
    xs = _as_float64_inputs(op, inputs)
    for k in range(1, order):
        fn = _derivative(op, fn, k)
    label = _ORDER_NAMES.get(order, f"order-{order} derivatives")
    _check(op, fn, xs, eps, atol, rtol, grad_output, label=f"{label}: " if order > 1 else "")


def gradgradcheck(fn: Callable[..., Tensor], inputs: Sequence, eps: float = EPS,
                  atol: float | None = None, rtol: float = RTOL) -> bool:
    """Check second derivatives: differentiate the gradient built with `create_graph=True`.

    The first gradients g_i = d(sum(fn * w))/dx_i (fixed random w) are recorded as a graph,
    flattened and joined into one vector g, and `gradcheck` checks g as a function of the
    inputs: with its random weights u it compares u^T (dg/dx), a Hessian-vector product,
    with central differences of sum(u * g). Inputs, options and errors as in `gradcheck`.

    Examples
    --------
    >>> import numpy as np
    >>> gradgradcheck(lambda x: (x ** 3).sum(), [np.array([1.0, -2.0])])
    True
    """
    _check_order("gradgradcheck", fn, inputs, 2, eps, atol, rtol)
    return True


def check_grad(fn: Callable[..., Tensor], *inputs, order: int = 1, **options) -> bool:
    """Check the derivatives of `fn` up to `order` against central differences.

    `check_grad(f, x, y)` is `gradcheck(f, [x, y])`; `order=2` also runs `gradgradcheck`, and
    `order=3` checks third derivatives the same way (the second derivatives, recorded with
    `create_graph=True`, checked as a function). Each order costs a backward pass more per
    numerical step. `options`: `eps`, `atol`, `rtol`, as in `gradcheck`, and `grad_output`
    (for the first derivatives only).

    Raises
    ------
    GradcheckError
        The first order whose derivatives disagree; the message names it.
    TypeError, ValueError
        `order` is not an int of 1 or more; inputs or options as in `gradcheck`.

    Examples
    --------
    >>> import numpy as np
    >>> check_grad(lambda x: x.exp() * x, np.array([0.5, -1.0]), order=3)
    True
    """
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise TypeError(f"check_grad: order must be an int, got {type(order).__name__}")
    if order < 1:
        raise ValueError(f"check_grad: order must be 1 or more, got {order}")
    unknown = set(options) - {"eps", "atol", "rtol", "grad_output"}
    if unknown:
        raise TypeError(f"check_grad: unknown options {sorted(unknown)}; "
                        "the options are eps, atol, rtol and grad_output")
    grad_output = options.pop("grad_output", None)
    tolerances = {"eps": EPS, "atol": None, "rtol": RTOL} | options
    for k in range(1, int(order) + 1):
        _check_order("check_grad", fn, inputs, k, **tolerances,
                     grad_output=grad_output if k == 1 else None)
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
        f"(atol {atol:.3g}, rtol {rtol:g})")
