"""Initialisers: fresh weight arrays drawn from a seeded `numpy.random.Generator`.

Each function takes the shape of the array to make and a generator (or an int seed, or None
for the global generator that `tinygrad_edu.manual_seed` seeds) and returns a new numpy array,
float32 by default. A weight matrix has the shape `(out_features, in_features)`, as `Linear`
stores it, so `fan_in = shape[1]` and `fan_out = shape[0]`. Pass one to
`Linear(..., init=...)` by name or as a function `f(shape, rng) -> ndarray` (use
`functools.partial` to fix other arguments).

The seed documents use two of their own:

- documents 000 and 003: `np.random.rand(rows, cols) - 0.5`, uniform in [-0.5, 0.5):
  `uniform(shape, rng)` with its defaults;
- document 002: `np.random.rand(rows, cols) * 0.01`, uniform in [0, 0.01):
  `uniform(shape, rng, low=0.0, high=0.01)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .. import random as _random

Initializer = Callable[..., np.ndarray]
SeedLike = _random.SeedLike

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}


def make_rng(rng: SeedLike) -> np.random.Generator:
    """A numpy Generator from a Generator (returned as is), an int seed, or None (the global
    generator that `tinygrad_edu.manual_seed` seeds)."""
    try:
        return _random.make_rng(rng)
    except TypeError as exc:
        raise TypeError(f"init: {exc}") from None


def calculate_gain(nonlinearity: str) -> float:
    """The gain that keeps activations' variance steady through `nonlinearity` (PyTorch's).

    Examples
    --------
    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; choose one "
                         f"of {sorted(_GAINS)}")
    return _GAINS[nonlinearity]


def _fans(op: str, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"{op}: needs a weight shape (out_features, in_features) to know the "
                         f"fans, got {shape}; initialise a bias with zeros or uniform instead")
    fan_out, fan_in = shape
    return fan_in, fan_out


def _shape(shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)


def zeros(shape: Sequence[int] | int, rng: SeedLike = None, dtype=np.float32) -> np.ndarray:
    """All zeros (`rng` is accepted, and unused, so every initialiser has one signature).

    Examples
    --------
    >>> zeros(3)
    array([0., 0., 0.], dtype=float32)
    """
    return np.zeros(_shape(shape), dtype=dtype)


def uniform(shape: Sequence[int] | int, rng: SeedLike = None, low: float = -0.5,
            high: float = 0.5, dtype=np.float32) -> np.ndarray:
    """Uniform in [low, high): `low + (high - low) * rng.random(shape)`.

    The defaults are documents 000/003's `np.random.rand(...) - 0.5`; `low=0, high=0.01`
    is document 002's `np.random.rand(...) * 0.01`.

    Examples
    --------
    >>> w = uniform((10, 784), rng=0)
    >>> bool(w.min() >= -0.5 and w.max() < 0.5), w.dtype
    (True, dtype('float32'))
    """
    if not low < high:
        raise ValueError(f"uniform: needs low < high, got low={low}, high={high}")
    values = make_rng(rng).random(_shape(shape))
    return (low + (high - low) * values).astype(dtype, copy=False)


def normal(shape: Sequence[int] | int, rng: SeedLike = None, mean: float = 0.0,
           std: float = 1.0, dtype=np.float32) -> np.ndarray:
    """Normal with the given mean and standard deviation.

    Examples
    --------
    >>> normal((2, 3), rng=0).shape
    (2, 3)
    """
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    values = make_rng(rng).standard_normal(_shape(shape))
    return (mean + std * values).astype(dtype, copy=False)


def kaiming_uniform(shape: Sequence[int], rng: SeedLike = None, nonlinearity: str = "relu",
                    mode: str = "fan_in", dtype=np.float32) -> np.ndarray:
    """He/Kaiming uniform: U(-bound, bound), bound = gain * sqrt(3 / fan).

    Keeps the variance of a ReLU network's activations (mode 'fan_in') or gradients
    (mode 'fan_out') about constant from layer to layer (He et al., 2015).

    Examples
    --------
    >>> w = kaiming_uniform((128, 784), rng=0)
    >>> bool(abs(w).max() <= (6 / 784) ** 0.5)
    True
    """
    fan = _pick_fan("kaiming_uniform", shape, mode)
    bound = calculate_gain(nonlinearity) * math.sqrt(3.0 / fan)
    return uniform(shape, rng, -bound, bound, dtype)


def kaiming_normal(shape: Sequence[int], rng: SeedLike = None, nonlinearity: str = "relu",
                   mode: str = "fan_in", dtype=np.float32) -> np.ndarray:
    """He/Kaiming normal: N(0, std^2), std = gain / sqrt(fan).

    Examples
    --------
    >>> kaiming_normal((64, 128), rng=0).dtype
    dtype('float32')
    """
    fan = _pick_fan("kaiming_normal", shape, mode)
    return normal(shape, rng, 0.0, calculate_gain(nonlinearity) / math.sqrt(fan), dtype)


def xavier_uniform(shape: Sequence[int], rng: SeedLike = None, gain: float = 1.0,
                   dtype=np.float32) -> np.ndarray:
    """Xavier/Glorot uniform: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).

    Suits sigmoid and tanh layers (Glorot and Bengio, 2010).

    Examples
    --------
    >>> w = xavier_uniform((10, 20), rng=0)
    >>> bool(abs(w).max() <= (6 / 30) ** 0.5)
    True
    """
    fan_in, fan_out = _fans("xavier_uniform", _shape(shape))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, rng, -bound, bound, dtype)


def xavier_normal(shape: Sequence[int], rng: SeedLike = None, gain: float = 1.0,
                  dtype=np.float32) -> np.ndarray:
    """Xavier/Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Examples
    --------
    >>> xavier_normal((10, 20), rng=0).shape
    (10, 20)
    """
    fan_in, fan_out = _fans("xavier_normal", _shape(shape))
    return normal(shape, rng, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), dtype)


def _pick_fan(op: str, shape, mode: str) -> int:
    fan_in, fan_out = _fans(op, _shape(shape))
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "uniform": uniform,
    "normal": normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
}


def get_initializer(init: str | Initializer) -> Initializer:
    """Look up an initialiser by name, or return a callable unchanged.

    Examples
    --------
    >>> get_initializer("xavier_uniform") is xavier_uniform
    True
    """
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"init: unknown initialiser {init!r}; use one of {sorted(INITIALIZERS)} "
                     "or a function f(shape, rng) -> ndarray")
