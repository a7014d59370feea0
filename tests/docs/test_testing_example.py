"""The worked example of docs/testing.md, run as a test.

Every Python block on that page is copied from this file; `test_the_page_shows_this_code`
fails when the two drift apart.
"""

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Function, Tensor
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import (
    GradcheckError,
    assert_grads_close,
    check_grad,
    gradcheck,
    gradgradcheck,
)
from tinygrad_edu.testing import strategies as tst

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


# --- 1. a smooth op --------------------------------------------------------------------------


class Softplus(Function):
    """out = log(1 + exp(x)), without overflow for large x"""

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def backward(self, grad):
        (x,) = self.inputs
        return grad * x.sigmoid()              # dout/dx = sigmoid(x), from Tensor ops


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(x)


@given(tst.arrays(min_value=-30.0, max_value=30.0))
def test_softplus_grad_matches_numerical(x):
    assert gradcheck(softplus, [x])


@given(tst.arrays(min_value=-30.0, max_value=30.0, max_side=3))
def test_softplus_second_derivative_matches_numerical(x):
    assert gradgradcheck(softplus, [x])


@given(tst.arrays())
def test_softplus_grad_is_sigmoid(x):
    t = Tensor(x, requires_grad=True)
    softplus(t).sum().backward()
    assert_grads_close(t.grad, 1 / (1 + np.exp(-x)), name="d softplus / dx")


# --- 2. what a wrong rule looks like ---------------------------------------------------------


class DetachedSoftplus(Softplus):
    def backward(self, grad):
        (x,) = self.inputs
        sigmoid = 1 / (1 + np.exp(-x.data))     # numpy on .data: cut from the graph
        return grad * Tensor(sigmoid)


def test_a_detached_backward_passes_gradcheck_but_not_gradgradcheck():
    x = np.array([-1.0, 0.5, 2.0])
    assert gradcheck(DetachedSoftplus.apply, [x])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\)"):
        gradgradcheck(DetachedSoftplus.apply, [x])


# --- 3. an op with a kink --------------------------------------------------------------------


class LeakyReLU(Function):
    """out = x if x > 0 else slope * x"""

    def forward(self, x, slope=0.01):
        self.scale = np.where(x > 0, 1.0, slope).astype(x.dtype)  # which side of the kink
        return x * self.scale

    def backward(self, grad):
        return grad * Tensor(self.scale)       # dout/dx = 1 or slope: a constant mask


@given(tst.arrays(min_magnitude=1e-3))         # nothing within EPS of the kink at 0
def test_leaky_relu_grad_matches_numerical(x):
    assert check_grad(lambda t: LeakyReLU.apply(t, slope=0.1), x)


# --- 4. a tiny model -------------------------------------------------------------------------


def mlp_loss(x, labels):
    """The loss of a one-hidden-layer MLP as a function of its parameters."""
    def loss(w1, b1, w2, b2):
        hidden = (Tensor(x) @ w1 + b1).tanh()
        return F.cross_entropy(hidden @ w2 + b2, labels)
    return loss


@given(st.data())
def test_mlp_grads_match_numerical(data):
    (w1, b1), (w2, b2) = data.draw(tst.mlp_params(sizes=[3, 4, 2]))
    _, labels = data.draw(tst.logits_and_targets(max_batch=4, min_classes=2, max_classes=2))
    x = data.draw(tst.arrays((len(labels), 3)))
    assert check_grad(mlp_loss(x, labels), w1, b1, w2, b2)


@given(st.data())
def test_mlp_output_layer_grad_is_the_textbook_formula(data):
    (w1, b1), (w2, b2) = data.draw(tst.mlp_params(sizes=[3, 4, 2]))
    _, labels = data.draw(tst.logits_and_targets(max_batch=4, min_classes=2, max_classes=2))
    x = data.draw(tst.arrays((len(labels), 3)))
    params = [Tensor(p, requires_grad=True) for p in (w1, b1, w2, b2)]
    mlp_loss(x, labels)(*params).backward()
    h = np.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    dz = (probs - np.eye(2)[labels]) / len(labels)    # softmax - one-hot, over N
    assert_grads_close(params[2].grad, h.T @ dz, name="dW2")
    assert_grads_close(params[3].grad, dz.sum(0), name="db2")


# --- the page and this file agree ------------------------------------------------------------


def test_the_page_shows_this_code():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    source = Path(__file__).read_text()
    example_blocks = [b for b in blocks if not b.startswith("# conftest.py")]
    assert len(example_blocks) >= 4
    for block in example_blocks:
        assert block in source, f"docs/testing.md shows code this file does not run:\n{block}"
