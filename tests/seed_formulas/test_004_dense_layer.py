"""Document 004: a dense layer Y = W X + B, its three gradients, categorical cross-entropy.

One example at a time: X is (n_in, 1), W is (n_out, n_in), B and Y are (n_out, 1), and
dE/dY is whatever the layers above send back. Each test runs `Y.backward(dE/dY)` and
compares with the closed form in numpy; the document writes two of the three gradients
with their factors in the wrong order (004-dX, 004-dW). Derivations: docs/derivations.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, numerical_grad
from tinygrad_edu.testing import strategies as tst

from .reference import (
    ATOL,
    MAX_CLASSES,
    MAX_HIDDEN,
    MAX_IN,
    NUMERICAL_ATOL,
    NUMERICAL_RTOL,
    RTOL,
    assert_disagrees,
    leaves,
    softmax_columns,
)

NONZERO = st.one_of(st.floats(-2.0, -0.5), st.floats(0.5, 2.0))


def _sizes(data, square: bool):
    """(n_in, n_out): equal and at least 2, or guaranteed different."""
    if square:
        n = data.draw(st.integers(2, MAX_HIDDEN), label="n_in = n_out")
        return n, n
    n_in = data.draw(st.integers(1, MAX_IN), label="n_in")
    n_out = data.draw(st.integers(1, MAX_HIDDEN), label="n_out")
    return n_in, (n_out + 1 if n_out == n_in else n_out)


def _layer(data, n_in, n_out):
    W = data.draw(tst.arrays((n_out, n_in), min_value=-1.0, max_value=1.0), label="W")
    X = data.draw(tst.arrays((n_in, 1), min_value=-2.0, max_value=2.0), label="X")
    B = data.draw(tst.arrays((n_out, 1), min_value=-1.0, max_value=1.0), label="B")
    G = data.draw(tst.arrays((n_out, 1), min_value=-1.0, max_value=1.0), label="dE/dY")
    return W, X, B, G


def _backward(W, X, B, G):
    """dE/dW, dE/dX, dE/dB by the engine, seeding the backward pass with dE/dY = G."""
    Wt, Xt, Bt = leaves([W, X, B])
    (Wt @ Xt + Bt).backward(Tensor(G))
    return Wt.grad, Xt.grad, Bt.grad


def _numerical(W, X, B, G):
    """dE/dW, dE/dX by central differences of E = sum(G * Y)."""
    return numerical_grad(lambda w, x: w @ x + Tensor(B), [W, X], grad_output=G)


@pytest.mark.erratum
@given(data=st.data(), square=st.booleans(), gap=NONZERO, d=NONZERO)
def test_004_dX_erratum(data, square, gap, d):
    """004-dX (erratum): the document writes "dE/dX = W . dE/dY"; it is W^T dE/dY.

    dE/dX_i = sum_j dE/dY_j W_ji: the sum runs down column i of W, a row of W^T. For a
    non-square W the written product cannot even be formed. For a square one it is wrong
    unless ((W - W^T) dE/dY) = 0: W_01 - W_10 = d and dE/dY_1 are set so that its entry 0 is
    `gap` (|gap| >= 0.5).
    """
    n_in, n_out = _sizes(data, square)
    W, X, B, G = _layer(data, n_in, n_out)
    if square:
        W[1, 0] = W[0, 1] - d
        rest = (W[0, 2:] - W[2:, 0]) @ G[2:, 0]
        G[1, 0] = (gap - rest) / d                 # ((W - W^T) G)_0 = d G_1 + rest = gap
    _, backward, _ = _backward(W, X, B, G)
    _, numerical = _numerical(W, X, B, G)
    correct = W.T @ G
    assert_grads_close(backward, correct, ATOL, RTOL, "dE/dX, W^T dE/dY")
    assert_grads_close(numerical, correct, NUMERICAL_ATOL, NUMERICAL_RTOL, "numerical dE/dX")
    if not square:
        with pytest.raises(ValueError):
            W @ G                                  # (n_out, n_in) @ (n_out, 1): n_in != n_out
        return
    written = W @ G
    assert_disagrees(backward, written, "dE/dX from backward vs W dE/dY")
    assert_disagrees(numerical, written, "numerical dE/dX vs W dE/dY")


@pytest.mark.erratum
@given(data=st.data(), square=st.booleans(), gap=NONZERO, x0=NONZERO)
def test_004_dW_erratum(data, square, gap, x0):
    """004-dW (erratum): the document writes "dE/dW = X . dE/dY"; it is dE/dY X^T.

    dE/dW_ji = dE/dY_j X_i (the document's own element formula) is row j, column i: the outer
    product dE/dY X^T, of W's shape (n_out, n_in). The written order, read as the outer
    product X dE/dY^T, is its transpose (n_in, n_out): a different shape when n_in != n_out,
    and for a square layer wrong unless X and dE/dY are parallel. X_0 = x0 and dE/dY_1 are set
    so that X_0 dE/dY_1 - X_1 dE/dY_0 = gap (|gap| >= 0.5).
    """
    n_in, n_out = _sizes(data, square)
    W, X, B, G = _layer(data, n_in, n_out)
    if square:
        X[0, 0] = x0
        G[1, 0] = (gap + X[1, 0] * G[0, 0]) / x0  # written[0, 1] - correct[0, 1] = gap
    backward, _, _ = _backward(W, X, B, G)
    numerical, _ = _numerical(W, X, B, G)
    correct = G @ X.T
    written = X @ G.T
    assert_grads_close(backward, correct, ATOL, RTOL, "dE/dW, dE/dY X^T")
    assert_grads_close(numerical, correct, NUMERICAL_ATOL, NUMERICAL_RTOL, "numerical dE/dW")
    assert (written.shape == W.shape) == square
    assert_disagrees(backward, written, "dE/dW from backward vs X dE/dY^T")
    assert_disagrees(numerical, written, "numerical dE/dW vs X dE/dY^T")


@given(data=st.data(), square=st.booleans())
def test_004_dB(data, square):
    """004-dB: "dE/dB = dE/dY" (dY_j/dB_i = 1 if i = j, else 0)."""
    W, X, B, G = _layer(data, *_sizes(data, square))
    _, _, backward = _backward(W, X, B, G)
    assert_grads_close(backward, G, ATOL, RTOL, "dE/dB")


@given(data=st.data())
def test_004_ce(data):
    """004-ce: "E = - sum_i y_i . log(yhat_i)" over yhat = softmax(Y), Y = W X + B.

    Value and gradients against the closed forms E = -log yhat_label, dE/dY = yhat - y,
    dE/dW = (yhat - y) X^T; built as written (one-hot y) and as the library's
    cross_entropy with a class index (the "sparse" form the document names).
    """
    n_in = data.draw(st.integers(1, MAX_IN), label="n_in")
    n_out = data.draw(st.integers(2, MAX_CLASSES), label="classes")
    W, X, B, _ = _layer(data, n_in, n_out)
    label = data.draw(st.integers(0, n_out - 1), label="label")
    y = np.eye(n_out)[:, [label]]
    yhat = softmax_columns(W @ X + B)
    expected = {"E": -np.log(yhat[label, 0]), "dE/dY": yhat - y, "dE/dW": (yhat - y) @ X.T}

    builds = {
        "-sum y log softmax(Y)": lambda out: -(Tensor(y) * out.softmax(dim=0).log()).sum(),
        "cross_entropy(Y^T, label)": lambda out: F.cross_entropy(out.T, np.array([label]),
                                                                 reduction="sum"),
    }
    for name, build in builds.items():
        Wt, Xt, Bt = leaves([W, X, B])
        out = Wt @ Xt + Bt
        out.retain_grad()
        E = build(out)
        E.backward()
        assert_grads_close(E, expected["E"], ATOL, RTOL, f"E ({name})")
        assert_grads_close(out.grad, expected["dE/dY"], ATOL, RTOL, f"dE/dY ({name})")
        assert_grads_close(Wt.grad, expected["dE/dW"], ATOL, RTOL, f"dE/dW ({name})")
