"""The twin catalogue: small functions written once for numpy and once for Tensors.

Each twin pairs a numpy reference with its Tensor version and the strategy of its inputs,
restricted away from poles and kinks (`min_value`, `min_magnitude`, `arrays_avoiding`,
`distinct_arrays`). The op tests compare forward values over every entry and gradcheck each;
`second_order` marks the twins whose second derivative is not identically zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from tinygrad_edu import Tensor, maximum, minimum, where
from tinygrad_edu.testing import strategies as tst

GRAD_SIZE = {"max_dims": 3, "max_side": 3}  # numerical gradients cost 2 calls per element


@dataclass(frozen=True)
class Twin:
    name: str
    numpy: Callable[..., np.ndarray]
    tensor: Callable[..., Tensor]
    inputs: Callable[..., st.SearchStrategy[tuple[np.ndarray, ...]]]  # size options -> arrays
    second_order: bool = True

    def __repr__(self) -> str:
        return self.name


def one(**values):
    """Inputs of a unary twin: one array with the given value options."""
    return lambda **size: tst.arrays(**values, **size).map(lambda a: (a,))


def avoiding(points, **values):
    return lambda **size: tst.arrays_avoiding(points, 1e-3, **values, **size).map(
        lambda a: (a,))


def two(**values):
    """Inputs of a binary twin: two arrays whose shapes broadcast."""
    return lambda **size: tst.broadcastable_arrays(2, **values, **size)


def two_distinct(**values):
    return lambda **size: tst.distinct_broadcastable_arrays(2, **values, **size)


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


UNARY = [
    Twin("neg", lambda a: -a, lambda t: -t, one(), second_order=False),
    Twin("exp", np.exp, Tensor.exp, one(max_value=5.0)),
    Twin("log", np.log, Tensor.log, one(min_value=0.1)),
    Twin("sqrt", np.sqrt, Tensor.sqrt, one(min_value=0.1)),
    Twin("abs", np.abs, abs, one(min_magnitude=1e-3), second_order=False),
    Twin("relu", lambda a: np.maximum(a, 0), Tensor.relu, one(min_magnitude=1e-3),
         second_order=False),
    Twin("sigmoid", _np_sigmoid, Tensor.sigmoid, one()),
    Twin("tanh", np.tanh, Tensor.tanh, one(min_value=-5.0, max_value=5.0)),
    Twin("square", lambda a: a ** 2, lambda t: t ** 2, one()),
    Twin("pow_half", lambda a: a ** 0.5, lambda t: t ** 0.5, one(min_value=0.1)),
    Twin("pow_minus_two", lambda a: a ** -2.0, lambda t: t ** -2.0, one(min_magnitude=0.5)),
    Twin("numbers_on_both_sides", lambda a: (1.5 + a) * 2.5 - a / 4.0 - 0.5 * (1.0 - a),
         lambda t: (1.5 + t) * 2.5 - t / 4.0 - 0.5 * (1.0 - t), one(), second_order=False),
    Twin("number_over_x", lambda a: 2.0 / a, lambda t: 2.0 / t, one(min_magnitude=0.5)),
    Twin("number_pow_x", lambda a: 2.0 ** a, lambda t: 2.0 ** t, one(max_value=5.0)),
    Twin("clamp", lambda a: np.clip(a, -1.0, 1.0), lambda t: t.clamp(-1.0, 1.0),
         avoiding((-1.0, 1.0), min_value=-3.0, max_value=3.0), second_order=False),
    Twin("clamp_one_sided", lambda a: np.maximum(a, 0.5) + np.minimum(a, -0.5),
         lambda t: t.clamp(min=0.5) + t.clamp(max=-0.5),
         avoiding((0.5, -0.5), min_value=-3.0, max_value=3.0), second_order=False),
    Twin("maximum_number", lambda a: np.maximum(a, 0.5) + np.minimum(a, 0.5),
         lambda t: t.maximum(0.5) + t.minimum(0.5), avoiding((0.5,)), second_order=False),
    # composites: each is a formula a user might write
    Twin("softplus", lambda a: np.log(1 + np.exp(a)), lambda t: (1 + t.exp()).log(),
         one(max_value=5.0)),
    Twin("swish", lambda a: a * _np_sigmoid(a), lambda t: t * t.sigmoid(), one()),
    Twin("gelu_tanh",
         lambda a: 0.5 * a * (1 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3))),
         lambda t: 0.5 * t * (1 + (0.7978845608 * (t + 0.044715 * t ** 3)).tanh()),
         one(min_value=-3.0, max_value=3.0)),
    Twin("polynomial", lambda a: 1.0 * a ** 0 + 2.0 * a - 3.0 * a ** 2 + 0.5 * a ** 3,
         lambda t: 1.0 * t ** 0 + 2.0 * t - 3.0 * t ** 2 + 0.5 * t ** 3,
         one(min_value=-3.0, max_value=3.0)),
]

BINARY = [
    Twin("add", np.add, lambda x, y: x + y, two(), second_order=False),
    Twin("sub", np.subtract, lambda x, y: x - y, two(), second_order=False),
    Twin("mul", np.multiply, lambda x, y: x * y, two()),
    Twin("div", np.divide, lambda x, y: x / y, two(min_magnitude=0.5)),
    Twin("pow", np.power, lambda x, y: x ** y, two(min_value=0.5, max_value=3.0)),
    Twin("maximum", np.maximum, maximum, two_distinct(), second_order=False),
    Twin("minimum", np.minimum, minimum, two_distinct(), second_order=False),
    Twin("where", lambda a, b: np.where(a > 0, a, b), lambda x, y: where(x > 0, x, y),
         two(min_magnitude=1e-3), second_order=False),
    Twin("hypot", lambda a, b: np.sqrt(a * a + b * b), lambda x, y: (x * x + y * y).sqrt(),
         two(min_magnitude=0.5)),
    Twin("product_and_ratio", lambda a, b: a * b + a / b, lambda x, y: x * y + x / y,
         two(min_magnitude=0.5)),
    Twin("squared_difference", lambda a, b: (a - b) ** 2, lambda x, y: (x - y) ** 2, two()),
]
