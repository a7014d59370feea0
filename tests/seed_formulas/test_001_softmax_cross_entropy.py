"""Document 001: softmax, cross-entropy and backpropagation through hidden layers.

One example at a time, as column vectors: a_0 = x is (n_in, 1), z_l = W_l a_{l-1} + b_l,
a_l = Q(z_l) in hidden layers, yhat = softmax(z_L), L = -sum_i y_i log(yhat_i) (eq. 3).
Each test builds this from Tensor ops, runs the engine's backward pass and compares with
the document's closed form computed in numpy. Derivations: docs/derivations.md, part 2.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import SGD
from tinygrad_edu.testing import assert_grads_close
from tinygrad_edu.testing import strategies as tst

from .reference import (
    ACTIVATIONS,
    ATOL,
    MAX_CLASSES,
    RTOL,
    draw_column_mlp,
    numpy_forward_mlp,
    softmax_columns,
    tensor_forward_mlp,
    tensor_params,
)

HIDDEN = st.sampled_from(sorted(ACTIVATIONS))   # Q in the hidden layers: relu, sigmoid, tanh


def _logits(data, min_classes=1):
    n = data.draw(st.integers(min_classes, MAX_CLASSES), label="n")
    return data.draw(tst.arrays((n, 1)), label="z")          # values in [-10, 10]


def _one_hot(data, n):
    label = data.draw(st.integers(0, n - 1), label="label")
    return np.eye(n)[:, [label]]                               # (n, 1)


def _softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """J[i, j] = d yhat_i / d z_j by the engine: row i is the gradient of output i."""
    zt = Tensor(z, requires_grad=True)
    yhat = zt.softmax(dim=0)
    rows = [grad(yhat[i, 0], [zt], retain_graph=True)[0].data[:, 0] for i in range(len(z))]
    return np.stack(rows)


# ---- the softmax Jacobian --------------------------------------------------------------

@given(data=st.data())
def test_001_eq14(data):
    """001-eq14: "d yhat_i / d z_i = yhat_i (1 - yhat_i)" (the diagonal of the Jacobian)."""
    z = _logits(data)
    yhat = softmax_columns(z)[:, 0]
    assert_grads_close(np.diag(_softmax_jacobian(z)), yhat * (1 - yhat), ATOL, RTOL,
                       "d yhat_i / d z_i")


@given(data=st.data())
def test_001_eq20(data):
    """001-eq20: "d yhat_i / d z_j = - yhat_i yhat_j" for i != j.

    With eq. 14 on the diagonal, the whole Jacobian is diag(yhat) - yhat yhat^T.
    """
    z = _logits(data, min_classes=2)
    yhat = softmax_columns(z)[:, 0]
    jacobian = _softmax_jacobian(z)
    off = ~np.eye(len(yhat), dtype=bool)
    assert_grads_close(jacobian[off], (-np.outer(yhat, yhat))[off], ATOL, RTOL,
                       "d yhat_i / d z_j, i != j")
    assert_grads_close(jacobian, np.diag(yhat) - np.outer(yhat, yhat), ATOL, RTOL,
                       "softmax Jacobian")


# ---- cross-entropy over softmax ----------------------------------------------------------

def _loss_gradients(z: np.ndarray, y: np.ndarray) -> dict:
    """dL/dz for L = -sum y log softmax(z), built three ways from Tensor ops."""
    builds = {
        "eq. 3 as written, log(softmax(z))": lambda t: -(Tensor(y) * t.softmax(dim=0).log()).sum(),
        "log_softmax": lambda t: -(Tensor(y) * t.log_softmax(dim=0)).sum(),
        # cross_entropy keeps classes along dim 1: one sample is the row z^T
        "cross_entropy with probability targets":
            lambda t: F.cross_entropy(t.T, y.T, reduction="sum"),
    }
    found = {}
    for name, build in builds.items():
        zt = Tensor(z, requires_grad=True)
        build(zt).backward()
        found[name] = zt.grad
    return found


@given(data=st.data())
def test_001_eq31(data):
    """001-eq31: "dL/dz_j = yhat_j sum_i y_i - y_j", for any target vector y.

    The targets are drawn with entries of both signs and a sum that is never 1, so the
    factor sum_i y_i matters.
    """
    z = _logits(data)
    y = data.draw(tst.unnormalized_targets(z.shape), label="y")
    expected = softmax_columns(z) * y.sum() - y
    for name, found in _loss_gradients(z, y).items():
        assert_grads_close(found, expected, ATOL, RTOL, f"dL/dz ({name})")


@given(data=st.data())
def test_001_eq32(data):
    """001-eq32: "dL/dz_j = yhat_j - y_j" for a one-hot y (sum_i y_i = 1 in eq. 31)."""
    z = _logits(data)
    y = _one_hot(data, len(z))
    expected = softmax_columns(z) - y
    for name, found in _loss_gradients(z, y).items():
        assert_grads_close(found, expected, ATOL, RTOL, f"dL/dz ({name})")


# ---- the network ----------------------------------------------------------------------

def _draw_network(data):
    mlp = draw_column_mlp(data, min_hidden=1, max_hidden=4, min_out=2)
    hidden = data.draw(HIDDEN, label="Q")
    y = _one_hot(data, mlp.sizes[-1])
    return mlp, hidden, y


def _closed_form(mlp, hidden, y):
    """The document's backward pass in numpy: deltas dL/dz_l, then dL/dW_l and dL/db_l."""
    zs, acts = numpy_forward_mlp(mlp, hidden, "softmax")
    q_prime = ACTIVATIONS[hidden][1]
    deltas = [acts[-1] - y]                                    # eq. 32
    for layer in range(len(zs) - 2, -1, -1):                       # eq. 38, output to input
        W_next = mlp.params[layer + 1][0]
        deltas.insert(0, q_prime(zs[layer]) * (W_next.T @ deltas[0]))
    dWs = [d @ a.T for d, a in zip(deltas, acts[:-1], strict=True)]   # eq. 35 / 39
    dbs = list(deltas)                                                # eq. 37 / 40
    return deltas, dWs, dbs


def _engine(mlp, hidden, y):
    params = tensor_params(mlp)
    zs, acts = tensor_forward_mlp(params, mlp.x, hidden, "softmax")
    loss = -(Tensor(y) * acts[-1].log()).sum()                  # eq. 3
    return params, zs, loss


@given(data=st.data())
def test_001_eq35(data):
    """001-eq35: "dL/dw = dL/dz_j . (a_{j-1})^T" in the output layer, dL/dz = yhat - y."""
    mlp, hidden, y = _draw_network(data)
    _, dWs, _ = _closed_form(mlp, hidden, y)
    params, _, loss = _engine(mlp, hidden, y)
    loss.backward()
    assert_grads_close(params[-1][0].grad, dWs[-1], ATOL, RTOL, "dL/dW of the output layer")


@given(data=st.data())
def test_001_eq37(data):
    """001-eq37: "dL/db = dL/dz_j" in the output layer."""
    mlp, hidden, y = _draw_network(data)
    _, _, dbs = _closed_form(mlp, hidden, y)
    params, _, loss = _engine(mlp, hidden, y)
    loss.backward()
    assert_grads_close(params[-1][1].grad, dbs[-1], ATOL, RTOL, "dL/db of the output layer")


@given(data=st.data())
def test_001_eq38(data):
    """001-eq38: "dL/dz_j = Q'(z_j) . (w_{j+1})^T . dL/dz_{j+1}" in every hidden layer.

    1 to 4 hidden layers; Q is ReLU (with Q'(0) = 0), sigmoid or tanh. The closed form runs
    the recursion from dL/dz_L = yhat - y down to the first hidden layer.
    """
    mlp, hidden, y = _draw_network(data)
    deltas, _, _ = _closed_form(mlp, hidden, y)
    _, zs, loss = _engine(mlp, hidden, y)
    found = grad(loss, zs[:-1])
    for layer, (g, expected) in enumerate(zip(found, deltas[:-1], strict=True), start=1):
        assert_grads_close(g, expected, ATOL, RTOL, f"dL/dz_{layer} ({hidden})")


@given(data=st.data())
def test_001_eq39_40(data):
    """001-eq39-40: "dL/dw_j = dL/dz_j . (a_{j-1})^T", "dL/db_j = dL/dz_j", every layer."""
    mlp, hidden, y = _draw_network(data)
    _, dWs, dbs = _closed_form(mlp, hidden, y)
    params, _, loss = _engine(mlp, hidden, y)
    loss.backward()
    for layer, ((W, b), dW, db) in enumerate(zip(params, dWs, dbs, strict=True), start=1):
        assert_grads_close(W.grad, dW, ATOL, RTOL, f"dL/dW_{layer}")
        assert_grads_close(b.grad, db, ATOL, RTOL, f"dL/db_{layer}")


@given(data=st.data(), alpha=st.floats(1e-3, 1.0))
def test_001_eq44_45(data, alpha):
    """001-eq44-45: "w_i := w_i - alpha . dL/dw", "b_i := b_i - alpha . dL/db": one SGD step.

    dL/dw and dL/db are the closed forms of eq. 35-40, computed by hand in numpy.
    """
    mlp, hidden, y = _draw_network(data)
    _, dWs, dbs = _closed_form(mlp, hidden, y)
    params, _, loss = _engine(mlp, hidden, y)
    flat = [p for pair in params for p in pair]
    opt = SGD(flat, lr=alpha)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for layer, ((W, b), (W0, b0), dW, db) in enumerate(
            zip(params, mlp.params, dWs, dbs, strict=True), start=1):
        assert_grads_close(W, W0 - alpha * dW, ATOL, RTOL, f"w_{layer} after one SGD step")
        assert_grads_close(b, b0 - alpha * db, ATOL, RTOL, f"b_{layer} after one SGD step")

