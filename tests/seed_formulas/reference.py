"""Plain-numpy side of the seed-formula tests: forward passes, activations, tolerances.

The closed forms themselves are written out in each test, next to the document's quote; this
module holds only what several tests share: numpy forward passes in the documents' layouts
(samples as columns, or one example as an (n, 1) column), activations and their derivatives,
and helpers that draw a network with hypothesis and turn it into Tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import strategies as st

from tinygrad_edu import Tensor, testing
from tinygrad_edu.testing import assert_grads_close
from tinygrad_edu.testing import strategies as tst

# .backward() against a closed form: both are float64 computations of the same numbers, so
# they agree to rounding; far tighter than gradcheck's ATOL/RTOL, which allow for the
# truncation error of central differences.
ATOL = 1e-10
RTOL = 1e-8
# central differences against a closed form: gradcheck's own tolerances
NUMERICAL_ATOL = testing.ATOL
NUMERICAL_RTOL = testing.RTOL


def assert_disagrees(found, written, name: str) -> None:
    """Assert that an erratum's written form fails the check the correct form passes.

    Even at gradcheck's looser tolerances; a different shape counts as a disagreement too.
    """
    with pytest.raises(AssertionError):
        assert_grads_close(found, written, NUMERICAL_ATOL, NUMERICAL_RTOL, name)


# Sizes kept small for the `ci` profile.
MAX_IN, MAX_HIDDEN, MAX_CLASSES, MAX_BATCH = 8, 6, 5, 6


# ---- activations in numpy, and their derivatives as functions of z ----------------------

def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def softmax_columns(z: np.ndarray) -> np.ndarray:
    """Softmax of each column (samples are columns), shifted so exp never overflows."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


ACTIVATIONS = {
    # name: (Q(z) in numpy, Q'(z) in numpy, Q applied to a Tensor)
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype),  # ReLU'(0) = 0
             Tensor.relu),
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z)), Tensor.sigmoid),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, Tensor.tanh),
}


def leaves(arrays) -> list[Tensor]:
    """Fresh float64 leaf Tensors that require grad (copies: a step must not touch the draw)."""
    return [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]


# ---- documents 000 and 003: 784-10-10 with samples as columns ---------------------------

@dataclass
class TwoLayerNet:
    """Drawn parameters and batch of documents 000/003 (numpy arrays, samples as columns)."""

    W1: np.ndarray   # (n_h, n_in)
    b1: np.ndarray   # (n_h, 1), broadcast over the m columns
    W2: np.ndarray   # (C, n_h)
    b2: np.ndarray   # (C, 1)
    X: np.ndarray    # (n_in, m)
    Y: np.ndarray    # (C, m), one-hot columns
    labels: np.ndarray  # (m,)

    @property
    def m(self) -> int:
        return self.X.shape[1]


def draw_two_layer_net(data: st.DataObject, plant_relu_kink: bool = False,
                       min_classes: int = 2, param_range=(-1.0, 1.0),
                       x_range=(-2.0, 2.0)) -> TwoLayerNet:
    """Draw sizes, parameters (layout="columns"), inputs and labels of the 000/003 network.

    With `plant_relu_kink`, one column of X and one entry of b1 are set to 0, so Z1 has an
    entry that is exactly 0: the place where ReLU has no derivative (footnote 1 of 000).
    """
    sizes = [data.draw(st.integers(1, MAX_IN), label="n_in"),
             data.draw(st.integers(1, MAX_HIDDEN), label="n_h"),
             data.draw(st.integers(min_classes, MAX_CLASSES), label="C")]
    (W1, b1), (W2, b2) = data.draw(tst.mlp_params(sizes=sizes, layout="columns",
                                                  min_value=param_range[0],
                                                  max_value=param_range[1]), label="params")
    X, Y, labels = data.draw(tst.column_batches(sizes[0], sizes[2], max_batch=MAX_BATCH,
                                                min_value=x_range[0], max_value=x_range[1]),
                             label="X, Y")
    if plant_relu_kink:
        k = data.draw(st.integers(0, sizes[1] - 1), label="kink unit")
        j = data.draw(st.integers(0, X.shape[1] - 1), label="kink sample")
        X[:, j] = 0.0
        b1[k, 0] = 0.0          # Z1[k, j] = W1[k] @ 0 + 0 = 0 exactly
    return TwoLayerNet(W1, b1, W2, b2, X, Y, labels)


@dataclass
class TwoLayerForward:
    """Values of one forward pass (numpy arrays, or Tensors on the engine side)."""

    Z1: object
    A1: object
    Z2: object
    A2: object
    loss: object = None


def numpy_forward(net: TwoLayerNet) -> TwoLayerForward:
    """The document's forward pass in plain numpy."""
    Z1 = net.W1 @ net.X + net.b1
    A1 = np.maximum(Z1, 0.0)
    Z2 = net.W2 @ A1 + net.b2
    return TwoLayerForward(Z1, A1, Z2, softmax_columns(Z2))


def tensor_forward(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, X: np.ndarray,
                   Y: np.ndarray, reduction: str = "mean") -> TwoLayerForward:
    """The same forward pass from Tensor ops, in the document's layout, with its loss.

    loss = -(1/m) sum_j sum_i Y_ij log A2_ij ("mean"), or without the 1/m ("sum").
    """
    X, Y = Tensor(X), Tensor(Y)
    Z1 = W1 @ X + b1                 # b1 (n_h, 1) broadcasts over the m columns
    A1 = Z1.relu()
    Z2 = W2 @ A1 + b2
    A2 = Z2.softmax(dim=0)           # column-wise: each sample is a column
    total = -(Y * A2.log()).sum()
    loss = total / X.shape[1] if reduction == "mean" else total
    return TwoLayerForward(Z1, A1, Z2, A2, loss)


# ---- documents 001 and 002: one example as an (n, 1) column, any depth ------------------

@dataclass
class ColumnMLP:
    """Drawn layers [(W_1, b_1), ..., (W_L, b_L)] (W_l is (n_l, n_{l-1}), b_l is (n_l, 1))."""

    params: list
    x: np.ndarray    # (n_in, 1)

    @property
    def sizes(self) -> list[int]:
        return [self.x.shape[0]] + [W.shape[0] for W, _ in self.params]


def draw_column_mlp(data: st.DataObject, min_hidden: int = 1, max_hidden: int = 4,
                    min_out: int = 1) -> ColumnMLP:
    """An MLP with `min_hidden`..`max_hidden` hidden layers and one input column x."""
    depth = data.draw(st.integers(min_hidden, max_hidden), label="hidden layers") + 1
    sizes = ([data.draw(st.integers(1, MAX_IN), label="n_in")]
             + [data.draw(st.integers(1, MAX_HIDDEN), label="hidden width")
                for _ in range(depth - 1)]
             + [data.draw(st.integers(min_out, MAX_CLASSES), label="n_out")])
    params = data.draw(tst.mlp_params(sizes=sizes, layout="columns"), label="params")
    x = data.draw(tst.arrays((sizes[0], 1), min_value=-2.0, max_value=2.0), label="x")
    return ColumnMLP(params, x)


def numpy_forward_mlp(mlp: ColumnMLP, hidden: str, output: str):
    """z_l = W_l a_{l-1} + b_l, a_l = Q(z_l); returns the lists zs and activations [x, a_1..]."""
    zs, acts = [], [mlp.x]
    for i, (W, b) in enumerate(mlp.params):
        z = W @ acts[-1] + b
        name = output if i == len(mlp.params) - 1 else hidden
        zs.append(z)
        acts.append(softmax_columns(z) if name == "softmax" else ACTIVATIONS[name][0](z))
    return zs, acts


def tensor_forward_mlp(params: list, x, hidden: str, output: str):
    """The same forward pass from Tensor ops: lists zs and activations (Tensors)."""
    zs, acts = [], [x if isinstance(x, Tensor) else Tensor(x)]
    for i, (W, b) in enumerate(params):
        z = W @ acts[-1] + b
        name = output if i == len(params) - 1 else hidden
        zs.append(z)
        acts.append(z.softmax(dim=0) if name == "softmax" else ACTIVATIONS[name][2](z))
    return zs, acts


def tensor_params(mlp: ColumnMLP) -> list[tuple[Tensor, Tensor]]:
    return [tuple(leaves(pair)) for pair in mlp.params]
