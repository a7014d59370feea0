"""tinygrad_edu: automatic differentiation on numpy, for seeing and trusting backpropagation.

A `Tensor` records the ops applied to it; each op carries its backward rule beside its
forward; `loss.backward()` walks the recorded graph once, in reverse, and fills `.grad`.
"""

import numpy as np

from . import nn, optim
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from .errors import (
    AnomalyError,
    DimError,
    DtypeError,
    GraphError,
    GraphGrowthWarning,
    ShapeError,
    TinygradEduError,
)
from .function import Function
from .nn.checkpoint import load, save
from .random import manual_seed
from .tensor import Tensor, cat, maximum, minimum, stack, tensor, where

float32 = np.float32
float64 = np.float64

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "DimError",
    "DtypeError",
    "Function",
    "GraphError",
    "GraphGrowthWarning",
    "ShapeError",
    "Tensor",
    "TinygradEduError",
    "cat",
    "detect_anomaly",
    "enable_grad",
    "float32",
    "float64",
    "grad",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "optim",
    "save",
    "stack",
    "tensor",
    "where",
]
