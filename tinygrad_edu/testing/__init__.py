"""Tools to test gradients: numerical gradients, gradcheck, and hypothesis strategies.

`tinygrad_edu.testing.strategies` needs hypothesis (the `testing` extra).
"""

from .gradcheck import (
    ATOL,
    EPS,
    ROUNDING,
    RTOL,
    GradcheckError,
    assert_grads_close,
    check_grad,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)

__all__ = [
    "ATOL",
    "EPS",
    "ROUNDING",
    "RTOL",
    "GradcheckError",
    "assert_grads_close",
    "check_grad",
    "gradcheck",
    "gradgradcheck",
    "numerical_grad",
]
