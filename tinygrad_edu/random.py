"""The global random generator: `manual_seed`, and the numpy Generator that every random
draw uses when no `rng` is given (`Tensor.randn`, `Tensor.rand`, layer initialisation,
`DataLoader` shuffling without a seed).

Examples
--------
>>> import tinygrad_edu
>>> from tinygrad_edu import Tensor
>>> _ = tinygrad_edu.manual_seed(0)
>>> a = Tensor.randn(3)
>>> _ = tinygrad_edu.manual_seed(0)
>>> bool((Tensor.randn(3) == a).data.all())
True
"""

from __future__ import annotations

import numpy as np

SeedLike = np.random.Generator | int | None

_generator = [np.random.default_rng()]  # fresh entropy until manual_seed is called


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator (as `torch.manual_seed`); returns it.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Raises
    ------
    TypeError, ValueError
        For a seed that is not an int, or a negative one.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: the seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: the seed must be >= 0, got {seed}")
    _generator[0] = np.random.default_rng(int(seed))
    return _generator[0]


def make_rng(rng: SeedLike) -> np.random.Generator:
    """A numpy Generator from a Generator (returned as is), an int seed (a new Generator), or
    None (the global generator, which `manual_seed` seeds)."""
    if rng is None:
        return _generator[0]
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng: a seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got "
                    f"{type(rng).__name__}; for example rng=np.random.default_rng(0)")
