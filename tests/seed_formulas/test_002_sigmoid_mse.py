"""Document 002: the four equations of backpropagation, sigmoid layers and an MSE cost.

One example at a time, as column vectors: a^0 = x is (n_in, 1), z^l = w^l a^{l-1} + b^l,
a^l = sigma(z^l) in every layer, C = 1/2 ||a^L - y||^2 (eq. 13); over N examples the cost
is averaged (eq. 12). delta^l = dC/dz^l. Each test builds this from Tensor ops, runs the
engine's backward pass and compares with the document's closed form computed in numpy.
Derivations: docs/derivations.md, part 2.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, numerical_grad
from tinygrad_edu.testing import strategies as tst

from .reference import (
    ATOL,
    MAX_BATCH,
    NUMERICAL_ATOL,
    NUMERICAL_RTOL,
    RTOL,
    ColumnMLP,
    assert_disagrees,
    draw_column_mlp,
    numpy_forward_mlp,
    sigmoid,
    tensor_forward_mlp,
    tensor_params,
)


def sigmoid_prime(v):
    """sigma'(v) = sigma(v) (1 - sigma(v)), the document's `derivative_sigmoid`."""
    return sigmoid(v) * (1.0 - sigmoid(v))


def _targets(data, n):
    return data.draw(tst.arrays((n, 1), min_value=0.0, max_value=1.0), label="y")


def _draw(data, min_hidden=0, max_hidden=3):
    mlp = draw_column_mlp(data, min_hidden=min_hidden, max_hidden=max_hidden)
    return mlp, _targets(data, mlp.sizes[-1])


def _closed_form(mlp, y):
    """The document's four equations in numpy: deltas, dC/db^l and dC/dw^l for every layer."""
    zs, acts = numpy_forward_mlp(mlp, "sigmoid", "sigmoid")
    deltas = [(acts[-1] - y) * sigmoid_prime(zs[-1])]                       # eq. 16, 19
    for layer in range(len(zs) - 2, -1, -1):                                  # eq. 22
        W_next = mlp.params[layer + 1][0]
        deltas.insert(0, (W_next.T @ deltas[0]) * sigmoid_prime(zs[layer]))
    dbs = list(deltas)                                                        # eq. 27
    dWs = [d @ a.T for d, a in zip(deltas, acts[:-1], strict=True)]           # eq. 39
    return zs, acts, deltas, dWs, dbs


def _cost(a, y):
    """C = 1/2 ||a - y||^2 from Tensor ops (eq. 13)."""
    return 0.5 * ((a - Tensor(y)) ** 2).sum()


def _engine(mlp, y):
    params = tensor_params(mlp)
    zs, acts = tensor_forward_mlp(params, mlp.x, "sigmoid", "sigmoid")
    return params, zs, acts, _cost(acts[-1], y)


@given(data=st.data())
def test_002_eq19(data):
    """002-eq19: "grad_{a^L} C = a^L - y" for C = 1/2 ||a^L - y||^2.

    Also with the library's loss: C = mse_loss(a, y, reduction="sum") / 2.
    """
    mlp, y = _draw(data)
    _, acts, _, _, _ = _closed_form(mlp, y)
    _, _, tensor_acts, cost = _engine(mlp, y)
    (grad_a,) = grad(cost, [tensor_acts[-1]])
    assert_grads_close(grad_a, acts[-1] - y, ATOL, RTOL, "grad_a C")
    a = Tensor(acts[-1], requires_grad=True)
    (F.mse_loss(a, Tensor(y), reduction="sum") / 2).backward()
    assert_grads_close(a.grad, acts[-1] - y, ATOL, RTOL, "grad_a of mse_loss(sum) / 2")


@given(data=st.data())
def test_002_eq12(data):
    """002-eq12: "C = 1/(2N) sum_x ||a^L(x) - y(x)||^2" has the mean per-example gradient.

    The network runs once per example (as the document's training loop does); the gradient
    of the averaged cost is the mean over the N examples of the per-example closed forms.
    """
    mlp = draw_column_mlp(data, min_hidden=0, max_hidden=3)
    n = data.draw(st.integers(1, MAX_BATCH), label="N")
    xs = [data.draw(tst.arrays(mlp.x.shape, min_value=-2.0, max_value=2.0), label="x")
          for _ in range(n)]
    ys = [_targets(data, mlp.sizes[-1]) for _ in range(n)]
    params = tensor_params(mlp)
    total = None
    for x, y in zip(xs, ys, strict=True):
        _, acts = tensor_forward_mlp(params, x, "sigmoid", "sigmoid")
        total = _cost(acts[-1], y) if total is None else total + _cost(acts[-1], y)
    (total / n).backward()
    per_example = [_closed_form(ColumnMLP(mlp.params, x), y) for x, y in zip(xs, ys, strict=True)]
    for layer, (W, b) in enumerate(params):
        mean_dW = np.mean([dWs[layer] for *_, dWs, _ in per_example], axis=0)
        mean_db = np.mean([dbs[layer] for *_, dbs in per_example], axis=0)
        assert_grads_close(W.grad, mean_dW, ATOL, RTOL, f"dC/dw^{layer + 1}")
        assert_grads_close(b.grad, mean_db, ATOL, RTOL, f"dC/db^{layer + 1}")


@given(data=st.data())
def test_002_eq16(data):
    """002-eq16: "delta^L = grad_a C (.) sigma'(z^L)" = (a^L - y) * sigma(z^L)(1 - sigma(z^L))."""
    mlp, y = _draw(data)
    _, _, deltas, _, _ = _closed_form(mlp, y)
    _, zs, _, cost = _engine(mlp, y)
    (delta_L,) = grad(cost, [zs[-1]])
    assert_grads_close(delta_L, deltas[-1], ATOL, RTOL, "delta^L")


@given(data=st.data())
def test_002_eq22(data):
    """002-eq22: "delta^l = ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l)", 1 to 4 hidden layers."""
    mlp, y = _draw(data, min_hidden=1, max_hidden=4)
    _, _, deltas, _, _ = _closed_form(mlp, y)
    _, zs, _, cost = _engine(mlp, y)
    found = grad(cost, zs[:-1])
    for layer, (g, expected) in enumerate(zip(found, deltas[:-1], strict=True), start=1):
        assert_grads_close(g, expected, ATOL, RTOL, f"delta^{layer}")


@given(data=st.data())
def test_002_eq27(data):
    """002-eq27: "dC/db^l_j = delta^l_j" in every layer."""
    mlp, y = _draw(data, max_hidden=4)
    _, _, _, _, dbs = _closed_form(mlp, y)
    params, _, _, cost = _engine(mlp, y)
    cost.backward()
    for layer, ((_, b), db) in enumerate(zip(params, dbs, strict=True), start=1):
        assert_grads_close(b.grad, db, ATOL, RTOL, f"dC/db^{layer}")


@given(data=st.data())
def test_002_eq34_39(data):
    """002-eq34-39: "dC/dw^l_jk = a^{l-1}_k delta^l_j", as a matrix "delta^l (a^{l-1})^T".

    Both forms: entry by entry (eq. 34) and as the outer product (eq. 39).
    """
    mlp, y = _draw(data, max_hidden=4)
    _, acts, deltas, dWs, _ = _closed_form(mlp, y)
    params, _, _, cost = _engine(mlp, y)
    cost.backward()
    for layer, (W, _) in enumerate(params):
        a_prev, delta = acts[layer][:, 0], deltas[layer][:, 0]
        entrywise = np.array([[a_prev[k] * delta[j] for k in range(len(a_prev))]
                              for j in range(len(delta))])
        assert_grads_close(W.grad, entrywise, ATOL, RTOL, f"dC/dw^{layer + 1}_jk (eq. 34)")
        assert_grads_close(W.grad, dWs[layer], ATOL, RTOL, f"dC/dw^{layer + 1} (eq. 39)")


@pytest.mark.erratum
@given(data=st.data(), z0=st.one_of(st.floats(-4.0, -1.5), st.floats(1.5, 4.0)))
def test_002_sigma_erratum(data, z0):
    """002-sigma (erratum): the listing computes delta^L with sigma' of a^L, not of z^L.

    `delta = self.derivative_cost(self.activation[-1], self.y) *
    self.derivative_sigmoid(self.activation[-1])` is (a - y) * sigma'(a); eq. 16 says
    (a - y) * sigma'(z). sigma' is even and falls with |v|, and a = sigma(z) lies in (0, 1),
    so the two agree only where |z| = sigma(z) or a = y. The output bias is drawn so that
    z^L_0 = z0 with |z0| >= 1.5 > a, and y is one-hot (a never equals 0 or 1): they differ.
    """
    mlp = draw_column_mlp(data, min_hidden=0, max_hidden=3)
    W_L, b_L = mlp.params[-1]
    label = data.draw(st.integers(0, mlp.sizes[-1] - 1), label="label")
    y = np.eye(mlp.sizes[-1])[:, [label]]
    _, acts = numpy_forward_mlp(mlp, "sigmoid", "sigmoid")
    b_L[0, 0] = z0 - (W_L @ acts[-2])[0, 0]                       # so that z^L_0 = z0
    zs, acts, _, _, _ = _closed_form(mlp, y)
    z_L, a_L = zs[-1], acts[-1]
    correct = (a_L - y) * sigmoid_prime(z_L)                      # eq. 16
    written = (a_L - y) * sigmoid_prime(a_L)                      # the code listing

    _, tensor_zs, _, cost = _engine(mlp, y)
    (backward,) = grad(cost, [tensor_zs[-1]])
    (numerical,) = numerical_grad(lambda z: _cost(z.sigmoid(), y), [z_L])

    assert_grads_close(backward, correct, ATOL, RTOL, "delta^L, sigma'(z^L)")
    assert_grads_close(numerical, correct, NUMERICAL_ATOL, NUMERICAL_RTOL, "numerical delta^L")
    assert_disagrees(backward, written, "delta^L from backward vs sigma'(a^L)")
    assert_disagrees(numerical, written, "numerical delta^L vs sigma'(a^L)")
