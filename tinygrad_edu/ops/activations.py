"""Activations that need a rule of their own: erf (no numpy ufunc) and a stable softplus.

The other activations (leaky_relu, elu, gelu, silu) are compositions of existing ops in
`nn.functional`; their second derivatives come from the ops they are made of.
"""

from __future__ import annotations

import math

import numpy as np

from ..function import Function
from .elementwise import Where

_erf = np.frompyfunc(math.erf, 1, 1)   # C's erf, one element at a time: exact to the last bit


class Erf(Function):
    """out = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt"""

    def forward(self, x):
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
        return np.asarray(_erf(x), dtype=x.dtype)   # (0-d: frompyfunc gives a float)

    def backward(self, grad):
        x = self.inputs[0]
        return grad * (2 / math.sqrt(math.pi)) * (-(x * x)).exp()   # dout/dx = 2/sqrt(pi) e^-x^2


class Softplus(Function):
    """out = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)

    Computed as max(z, 0) + log1p(exp(-|z|)) with z = beta x: exp never overflows.
    """

    def forward(self, x, beta=1.0, threshold=20.0):
        z = x * beta
        self.beta, self.linear = beta, z > threshold
        out = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(self.linear, x, out).astype(x.dtype, copy=False)

    def backward(self, grad):
        # dout/dx = sigmoid(beta x), and 1 on the linear part
        x = self.inputs[0]
        slope = (x * self.beta).sigmoid()
        return Where.apply(grad, grad * slope, condition=self.linear)
