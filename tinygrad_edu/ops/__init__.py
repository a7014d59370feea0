"""Every op: forward on numpy arrays and backward with Tensor ops, side by side.

Conventions (see `function.py`): inputs `x, y`, the incoming gradient `grad`, the op's
result `self.output`. Each returned gradient carries its partial derivative as a comment.
Gradients may keep a broadcast shape; the engine sums them back to each input's shape.

One module per kind: `elementwise` (binary with broadcasting, unary, clamp, cast), `reduce`
(sum, mean, max/min, softmax, log_softmax), `losses` (cross-entropy and NLL as single ops),
`normalization` (batch norm in training, as one op), `linalg` (matmul), `movement` (reshape,
permute, expand, indexing, cat, stack), `conv` (convolution, its two gradients, max pooling and
unpooling, padding), `activations` (erf, softplus).
Every op is also a name here: `ops.Add`, `ops.MatMul`.
"""

from .activations import (  # noqa: F401
    Erf,
    Softplus,
)
from .conv import (  # noqa: F401
    Conv2d,
    Conv2dWeight,
    ConvTranspose2d,
    MaxPool2d,
    MaxUnpool2d,
    Pad,
)
from .elementwise import (  # noqa: F401
    Abs,
    Add,
    Cast,
    Clamp,
    Div,
    Exp,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    ReLU,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
    _Broadcasting,
)
from .linalg import (  # noqa: F401
    Linear,
    MatMul,
)
from .losses import (  # noqa: F401
    CrossEntropy,
    NLLLoss,
    SoftmaxShift,
    _ClassIndexLoss,
)
from .movement import (  # noqa: F401
    Cat,
    Expand,
    GetItem,
    Permute,
    Reshape,
    ScatterAdd,
    Stack,
)
from .normalization import (  # noqa: F401
    BatchNorm,
)
from .reduce import (  # noqa: F401
    LogSoftmax,
    Max,
    Mean,
    Min,
    Softmax,
    Sum,
)
