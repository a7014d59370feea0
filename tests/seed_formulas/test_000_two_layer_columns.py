"""Document 000: a two-layer MNIST network derived by hand, samples as columns.

    Z1 = W1 X + b1,  A1 = ReLU(Z1),  Z2 = W2 A1 + b2,  A2 = softmax(Z2) (column-wise),
    loss = -(1/m) sum_j sum_i Y_ij log A2_ij   (cross-entropy averaged over the m samples)

X is n_in x m (one image per column), Y one-hot C x m. The document writes dZ for the
gradient of the summed loss and puts the 1/m into dW and db. Each test builds the network
from Tensor ops in that layout, runs the engine's backward pass and compares with the
document's closed form computed in numpy. Derivations: docs/derivations.md, part 2.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import SGD
from tinygrad_edu.testing import assert_grads_close

from .reference import (
    ATOL,
    RTOL,
    draw_two_layer_net,
    leaves,
    numpy_forward,
    tensor_forward,
)


def _engine(net, reduction="mean"):
    """Leaves W1, b1, W2, b2 and the forward pass (Tensors) of the drawn network."""
    W1, b1, W2, b2 = leaves([net.W1, net.b1, net.W2, net.b2])
    return (W1, b1, W2, b2), tensor_forward(W1, b1, W2, b2, net.X, net.Y, reduction)


@given(data=st.data())
def test_000_dZ2(data):
    """000-dZ2: "dZ^[2] = A^[2] - Y" -- the gradient of the summed loss; the mean gives /m."""
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    _, summed = _engine(net, "sum")
    (dZ2_sum,) = grad(summed.loss, [summed.Z2])
    _, mean = _engine(net, "mean")
    (dZ2_mean,) = grad(mean.loss, [mean.Z2])
    assert_grads_close(dZ2_sum, ref.A2 - net.Y, ATOL, RTOL, "dZ2 of the summed loss")
    assert_grads_close(dZ2_mean, (ref.A2 - net.Y) / net.m, ATOL, RTOL, "dZ2 of the mean loss")


@given(data=st.data())
def test_000_dW2(data):
    """000-dW2: "dW^[2] = (1/m) dZ^[2] A^[1]T", with dZ2 = A2 - Y."""
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    (_, _, W2, _), fwd = _engine(net)
    fwd.loss.backward()
    dZ2 = ref.A2 - net.Y
    assert_grads_close(W2.grad, dZ2 @ ref.A1.T / net.m, ATOL, RTOL, "dW2")


@given(data=st.data())
def test_000_db2(data):
    """000-db2: "db^[2] = (1/m) sum dZ^[2]" -- the sum runs over the m samples (columns)."""
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    (_, _, _, b2), fwd = _engine(net)
    fwd.loss.backward()
    dZ2 = ref.A2 - net.Y
    assert_grads_close(b2.grad, dZ2.sum(axis=1, keepdims=True) / net.m, ATOL, RTOL, "db2")


@given(data=st.data())
def test_000_dZ1(data):
    """000-dZ1: "dZ^[1] = w^[2]T dZ^[2] . ReLu'(Z^[1])", and footnote 1: ReLU'(0) = 0.

    `.` is the elementwise product. Z1 is drawn with an entry that is exactly 0 (a zero input
    column meets a zero bias), where the derivative must be taken as 0.
    """
    net = draw_two_layer_net(data, plant_relu_kink=True)
    ref = numpy_forward(net)
    assert (ref.Z1 == 0).any()
    _, summed = _engine(net, "sum")
    (dZ1,) = grad(summed.loss, [summed.Z1])
    relu_prime = (ref.Z1 > 0).astype(np.float64)     # 1 where Z1 > 0, else 0 (also at 0)
    expected = (net.W2.T @ (ref.A2 - net.Y)) * relu_prime
    assert_grads_close(dZ1, expected, ATOL, RTOL, "dZ1")


@given(data=st.data())
def test_000_dW1(data):
    """000-dW1: "dW^[1] = (1/m) dZ^[1] X^T"."""
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    (W1, _, _, _), fwd = _engine(net)
    fwd.loss.backward()
    dZ1 = (net.W2.T @ (ref.A2 - net.Y)) * (ref.Z1 > 0)
    assert_grads_close(W1.grad, dZ1 @ net.X.T / net.m, ATOL, RTOL, "dW1")


@given(data=st.data())
def test_000_db1(data):
    """000-db1: "db^[1] = (1/m) sum dZ^[1]" -- summed over the m samples (columns)."""
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    (_, b1, _, _), fwd = _engine(net)
    fwd.loss.backward()
    dZ1 = (net.W2.T @ (ref.A2 - net.Y)) * (ref.Z1 > 0)
    assert_grads_close(b1.grad, dZ1.sum(axis=1, keepdims=True) / net.m, ATOL, RTOL, "db1")


@given(data=st.data(), alpha=st.floats(1e-3, 1.0))
def test_000_update(data, alpha):
    """000-update: "w := w - alpha . dw" for w1, b1, w2, b2 is one step of the project's SGD.

    dw is the document's closed form (000-dW1 .. 000-db2), computed by hand in numpy.
    """
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    dZ2 = ref.A2 - net.Y
    dZ1 = (net.W2.T @ dZ2) * (ref.Z1 > 0)
    by_hand = {
        "w1": net.W1 - alpha * (dZ1 @ net.X.T / net.m),
        "b1": net.b1 - alpha * dZ1.sum(axis=1, keepdims=True) / net.m,
        "w2": net.W2 - alpha * (dZ2 @ ref.A1.T / net.m),
        "b2": net.b2 - alpha * dZ2.sum(axis=1, keepdims=True) / net.m,
    }
    params, fwd = _engine(net)
    opt = SGD(params, lr=alpha)
    opt.zero_grad()
    fwd.loss.backward()
    opt.step()
    for (name, expected), p in zip(by_hand.items(), params, strict=True):
        assert_grads_close(p, expected, ATOL, RTOL, f"{name} after one SGD step")


@pytest.mark.erratum
@given(data=st.data())
def test_000_argmax_erratum(data):
    """000-argmax (erratum): the document predicts "y-hat = max(A^[2])"; it must be argmax.

    max(A2) of a column is the largest probability, a number in [1/C, 1), never a digit;
    argmax(A2) is the index of that probability, the predicted class. Parameters and inputs
    are drawn small enough that no softmax column rounds to exactly 0 and 1.
    """
    net = draw_two_layer_net(data, param_range=(-0.5, 0.5), x_range=(-1.0, 1.0))
    A2 = tensor_forward(*leaves([net.W1, net.b1, net.W2, net.b2]), net.X, net.Y).A2
    C = A2.shape[0]
    written = A2.max(dim=0).values.data           # the document's prediction
    argmax = A2.argmax(dim=0).data                # the corrected prediction

    # max(A2) is a probability: at least 1/C (the columns sum to 1), below 1, so not a label
    assert np.all(written >= 1.0 / C - 1e-15) and np.all(written < 1.0)
    assert not np.isin(written, np.arange(C)).any()
    # so "accuracy" with the written prediction is 0 whatever the network and the labels
    assert np.mean(written == net.labels) == 0.0
    # argmax is a class index whose probability is that maximum, the largest in its column
    assert argmax.dtype.kind == "i" and np.all((argmax >= 0) & (argmax < C))
    np.testing.assert_array_equal(A2.data[argmax, np.arange(net.m)], written)
    assert np.all(A2.data <= written)
    # even against labels equal to the network's own predictions, max scores 0%
    assert np.mean(written == argmax) == 0.0


@given(data=st.data())
def test_000_rows_layout_gives_same_gradients(data):
    """Samples as rows (X^T W^T + b^T, cross_entropy over dim 1) gives the same numbers.

    The document transposes the data so that samples are columns; a framework that keeps
    samples in rows must show the same gradients, transposed.
    """
    net = draw_two_layer_net(data)
    (W1, b1, W2, b2), fwd = _engine(net)
    fwd.loss.backward()
    W1r, b1r, W2r, b2r = leaves([net.W1.T, net.b1.T, net.W2.T, net.b2.T])
    hidden = (Tensor(net.X.T) @ W1r + b1r).relu()             # (m, n_h)
    F.cross_entropy(hidden @ W2r + b2r, net.labels).backward()
    for name, cols, rows in [("dW1", W1, W1r), ("db1", b1, b1r), ("dW2", W2, W2r),
                             ("db2", b2, b2r)]:
        assert_grads_close(rows.grad, cols.grad.data.T, ATOL, RTOL, name)
