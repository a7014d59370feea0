"""Modules: layers that own their parameters, composed into networks.

A `Module` finds its parameters and sub-modules by looking at its attributes: a Tensor
with `requires_grad=True` is a parameter, a Module a sub-module. So a layer is written as
plain Python::

    class Affine(Module):
        def __init__(self):
            self.weight = Tensor(np.ones((3, 2)), requires_grad=True)

        def forward(self, x):
            return x @ self.weight

and `Sequential(Linear(784, 128), ReLU(), Linear(128, 10))` names its parameters
`0.weight`, `0.bias`, `2.weight`, `2.bias`. Everything a module computes is ordinary Tensor
ops, so `loss.backward()` fills each parameter's `.grad`.

Document 004's design, a dense layer followed by an activation layer with each layer's output
the next one's input, is exactly this API: `Linear` is its dense layer (`Y = W X + B`),
`ReLU`/`Sigmoid`/`Tanh`/`Softmax` its activation layers, and `Sequential` the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..errors import TinygradEduError
from ..function import state
from ..tensor import Tensor
from . import init as init_
from .init import Initializer, SeedLike


class StateDictError(TinygradEduError, ValueError):
    """A state dict does not fit the module: missing, unexpected or mis-shaped entries."""


class LoadResult(NamedTuple):
    """What `load_state_dict(..., strict=False)` left out."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and networks: override `forward`, call the module like a function.

    Attributes
    ----------
    training : bool
        True after `train()` (the default), False after `eval()`; layers whose behaviour
        differs between training and evaluation read it.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> class Scale(Module):
    ...     def __init__(self):
    ...         self.factor = Tensor([2.0], requires_grad=True)
    ...     def forward(self, x):
    ...         return x * self.factor
    >>> m = Scale()
    >>> [name for name, _ in m.named_parameters()]
    ['factor']
    >>> m(Tensor([1.0, 3.0])).sum().backward()
    >>> m.factor.grad
    Tensor([4.], dtype=float32)
    """

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, x)")

    def __call__(self, *args, **kwargs):
        # ops made inside forward record this module on their graph node (for graph drawings)
        saved = state.module
        state.module = self
        try:
            return self.forward(*args, **kwargs)
        finally:
            state.module = saved

    # ---- walking the attributes --------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, in the order they were assigned."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`, '' by default) and every sub-module, depth first.

        Examples
        --------
        >>> net = Sequential(Linear(2, 3), ReLU())
        >>> [name for name, _ in net.named_modules()]
        ['', '0', '1']
        """
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m)
                        for child, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted name, such as `layers.0.weight`; shared ones once.

        A parameter whose `.name` is None takes its full name, so graph drawings can label it.

        Examples
        --------
        >>> net = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
        >>> [name for name, _ in net.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for attr, value in vars(module).items():
                if isinstance(value, Tensor) and value.requires_grad and id(value) not in seen:
                    seen.add(id(value))
                    name = f"{module_name}.{attr}" if module_name else attr
                    if value.name is None:
                        value.name = name
                    yield name, value

    def parameters(self) -> Iterator[Tensor]:
        """Every parameter (a Tensor with requires_grad=True), each once."""
        for _, param in self.named_parameters():
            yield param

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set `.grad` to None)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set `training` on this module and every sub-module; returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Same as `train(False)`."""
        return self.train(False)

    # ---- saving and loading ------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by name: name -> numpy array.

        Copies, unlike PyTorch: a saved state dict does not change as training goes on.
        """
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy values from `state_dict` into the parameters, in place.

        Parameters
        ----------
        state_dict : mapping of name -> array or Tensor
            For example another model's `state_dict()`, or `tinygrad_edu.load(path)`.
        strict : bool
            Also fail on names that are missing from `state_dict` or that the module lacks;
            with strict=False those are skipped and returned. A shape that differs always fails.

        Returns
        -------
        LoadResult
            `missing_keys` and `unexpected_keys` (both empty after a strict load).

        Raises
        ------
        StateDictError
            Listing every difference: missing names, unexpected names, shape mismatches.
            Nothing is loaded when it is raised.
        """
        params = dict(self.named_parameters())
        values = {name: np.asarray(v.data if isinstance(v, Tensor) else v)
                  for name, v in state_dict.items()}
        missing = [name for name in params if name not in values]
        unexpected = [name for name in values if name not in params]
        mismatched = [f"{name}: checkpoint {values[name].shape}, model {p.shape}"
                      for name, p in params.items()
                      if name in values and values[name].shape != p.shape]
        problems = []
        if strict and missing:
            problems.append("missing (in the model, not in the state dict): " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected (in the state dict, not in the model): "
                            + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise StateDictError(
                f"load_state_dict: the state dict does not fit {type(self).__name__}:\n  "
                + "\n  ".join(problems)
                + "\nbuild the model with the same layer sizes as the one that was saved")
        for name, param in params.items():
            if name in values:
                np.copyto(param.data, values[name], casting="same_kind")
        return LoadResult(missing if not strict else [], unexpected if not strict else [])

    # ---- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr; override in layers."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Linear(Module):
    """A dense layer: `y = x @ W.T + b`, with the weight stored as (out_features, in_features).

    This is document 004's "dense layer" (`Y = W X + B`, samples as columns), written for
    samples in rows; an activation is a separate layer (`ReLU`, `Sigmoid`, ...) and each
    layer's output is the next one's input, as in `Sequential`.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    bias : bool
        Learn an additive bias `b` of shape (out_features,).
    init : str or callable
        Initialiser of the weight: a name from `tinygrad_edu.nn.init` ('kaiming_uniform',
        the default; 'kaiming_normal', 'xavier_uniform', 'xavier_normal', 'uniform',
        'normal', 'zeros') or a function `f(shape, rng) -> ndarray`.
    bias_init : str or callable
        Initialiser of the bias, called with shape (out_features,); zeros by default.
    rng : numpy.random.Generator or int, optional
        Source of the random values (a seed makes them reproducible).
    dtype : numpy dtype
        float32 by default.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> layer = Linear(3, 2, rng=0)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 3), (2,))
    >>> layer(Tensor(np.ones((4, 3)))).shape
    (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | Initializer = "kaiming_uniform",
                 bias_init: str | Initializer = "zeros", rng: SeedLike = None,
                 dtype=np.float32):
        for label, size in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
                raise ValueError(f"Linear: {label} must be a positive int, got {size!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = init_.make_rng(rng)
        self.weight = Tensor(_initial("weight", init, (self.out_features, self.in_features),
                                      rng, dtype), requires_grad=True)
        self.bias = Tensor(_initial("bias", bias_init, (self.out_features,), rng, dtype),
                           requires_grad=True) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def _initial(what: str, init, shape: tuple[int, ...], rng, dtype) -> np.ndarray:
    values = np.asarray(init_.get_initializer(init)(shape, rng), dtype=dtype)
    if values.shape != shape:
        raise ValueError(f"Linear: the {what} initialiser returned shape {values.shape}, "
                         f"expected {shape}")
    return values


class Sequential(Module):
    """Layers applied one after another, each output the next layer's input.

    Sub-modules are named '0', '1', ...; index a Sequential to get a layer back.

    Examples
    --------
    >>> net = Sequential(Linear(784, 128, rng=0), ReLU(), Linear(128, 10, rng=1))
    >>> net[0]
    Linear(in_features=784, out_features=128, bias=True)
    >>> len(net), sum(p.size for p in net.parameters())
    (3, 101770)
    """

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a "
                                "Module; wrap a function in a Module subclass")
            setattr(self, str(i), layer)

    def _layers(self) -> list[Module]:
        return [m for _, m in self.named_children()]

    def __len__(self) -> int:
        return len(self._layers())

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers())

    def __getitem__(self, index: int | slice) -> Module:
        layers = self._layers()
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self._layers():
            x = layer(x)
        return x


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `dim` (-1 by default)."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - log(sum(exp(x))) along `dim` (-1 by default); pair it with `nll_loss`."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.log_softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Flatten(Module):
    """Merge dims `start_dim`..`end_dim` (1..-1 by default: (N, 28, 28) -> (N, 784)).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> Flatten()(Tensor.zeros(5, 28, 28)).shape
    (5, 784)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
