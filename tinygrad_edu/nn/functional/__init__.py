"""Functions of Tensors with PyTorch's names, signatures and reductions: losses (cross-entropy
with class weights, ignore_index and label smoothing, NLL, MSE, the binary cross-entropies),
activations, and the pieces of a convolutional network (conv1d/conv2d, max and average
pooling, pad, dropout, batch_norm).

One module per kind; every name is also here, so `F.cross_entropy` works as before:

- `losses`: cross_entropy, nll_loss, mse_loss, binary_cross_entropy,
  binary_cross_entropy_with_logits, one_hot
- `activations`: softmax, log_softmax, relu, sigmoid, tanh, leaky_relu, elu, gelu, silu,
  softplus, and linear
- `conv`: conv2d, conv1d, pad
- `pooling`: max_pool2d, max_unpool2d, avg_pool2d
- `regularization`: dropout, batch_norm (the two that depend on `training`)
- `_checks`: the argument check they share
"""

from .activations import (
    elu,
    gelu,
    leaky_relu,
    linear,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .conv import _pair as _pair  # nn.conv checks its layers' arguments with it
from .conv import conv1d, conv2d, pad
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
    one_hot,
)
from .pooling import avg_pool2d, max_pool2d, max_unpool2d
from .regularization import batch_norm, dropout

__all__ = [
    "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "one_hot",
    "softmax", "log_softmax", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu",
    "softplus", "linear",
    "conv2d", "conv1d", "max_pool2d", "max_unpool2d", "avg_pool2d", "pad",
    "dropout", "batch_norm",
]
