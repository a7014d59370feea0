"""Containers: Sequential, ModuleList and ModuleDict register the layers they hold."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from ..tensor import Tensor
from .modules import Module


class _LayerList(Module):
    """The list behaviour ModuleList and Sequential share: layers named '0', '1', ..."""

    def _set_layers(self, layers: Iterable[Module]) -> None:
        layers = list(layers)
        for i, layer in enumerate(layers):  # check them all before changing anything
            _check_layer(type(self).__name__, i, layer)
        modules = self._registries()[2]
        modules.clear()
        modules.update((str(i), layer) for i, layer in enumerate(layers))

    def _position(self, index) -> int:
        n = len(self._modules)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__}: index with an int or a slice, got "
                            f"{type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for "
                             f"{n} layers")
        return int(index) % n

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice):
        if isinstance(index, slice):  # a new container of the same type, sharing the layers
            part = object.__new__(type(self))
            part._set_layers(list(self)[index])
            return part
        return self._modules[str(self._position(index))]

    def __setitem__(self, index: int, layer: Module) -> None:
        position = self._position(index)
        self._registries()[2][str(position)] = _check_layer(type(self).__name__, position, layer)

    def __delitem__(self, index: int | slice) -> None:
        layers = list(self)
        del layers[index if isinstance(index, slice) else self._position(index)]
        self._set_layers(layers)  # renumbered: the names stay '0', '1', ...

    def append(self, layer: Module):
        """Add `layer` at the end; returns self."""
        n = len(self)
        self._registries()[2][str(n)] = _check_layer(type(self).__name__, n, layer)
        return self

    def extend(self, layers: Iterable[Module]):
        """Add every layer of `layers` at the end; returns self."""
        self._set_layers(list(self) + list(layers))
        return self

    def __iadd__(self, layers: Iterable[Module]):
        return self.extend(layers)

    def insert(self, index: int, layer: Module) -> None:
        """Insert `layer` before position `index` (as list.insert); later layers move up."""
        layers = list(self)
        layers.insert(index, layer)
        self._set_layers(layers)

    def pop(self, index: int = -1) -> Module:
        """Remove the layer at `index` (the last by default) and return it."""
        layer = self[index]
        del self[index]
        return layer


def _check_layer(owner: str, i: int, layer) -> Module:
    if not isinstance(layer, Module):
        raise TypeError(f"{owner}: layer {i} is a {type(layer).__name__}, not a Module; "
                        "wrap a function in a Module subclass")
    return layer


class ModuleList(_LayerList):
    """Layers held in a list, registered: their parameters are named '0.weight', '1.weight', ...

    Use it where a plain Python list of layers would be invisible to `parameters()`,
    `state_dict()` and optimisers. It has the list methods `append`, `extend` (and `+=`),
    `insert`, `pop`, indexing (a slice gives a ModuleList), `len`, iteration, assignment and
    `del`; it has no `forward`: the owning module decides how the layers are applied.

    Parameters
    ----------
    modules : iterable of Module, optional

    Examples
    --------
    >>> from tinygrad_edu.nn import Linear, ReLU
    >>> class Tower(Module):
    ...     def __init__(self, widths):
    ...         self.layers = ModuleList(Linear(a, b, rng=0)
    ...                                  for a, b in zip(widths[:-1], widths[1:]))
    ...     def forward(self, x):
    ...         for layer in self.layers:
    ...             x = layer(x).relu()
    ...         return x
    >>> [name for name, _ in Tower([4, 3, 2]).named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
    """

    def __init__(self, modules: Iterable[Module] = ()):
        self._set_layers(modules)


class ModuleDict(Module):
    """Layers held in a dict, registered: their parameters are named 'key.weight', ...

    A mapping from str to Module with `[key]`, `in`, `len`, iteration over the keys, `keys()`,
    `values()`, `items()`, `update()`, `pop()` and `clear()`, in insertion order. A key must
    not contain '.' nor be the name of a method (`keys`, `forward`, ...).

    Parameters
    ----------
    modules : mapping of str -> Module, or iterable of (str, Module) pairs, optional

    Examples
    --------
    >>> from tinygrad_edu.nn import Linear, ReLU
    >>> heads = ModuleDict({"digit": Linear(8, 10, rng=0), "parity": Linear(8, 2, rng=1)})
    >>> heads["parity"]
    Linear(in_features=8, out_features=2, bias=True)
    >>> [name for name, _ in heads.named_parameters()][:2]
    ['digit.weight', 'digit.bias']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] = ()):
        self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no layer {key!r}; its keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        _check_layer("ModuleDict", key, module)
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        return list(self._modules)

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace layers by key; every pair is checked before any is added."""
        pairs = list(modules.items() if isinstance(modules, Mapping) else modules)
        registry = self._registries()[2]
        for key, module in pairs:
            self._check_name("ModuleDict", key, registry)
            _check_layer("ModuleDict", key, module)
        for key, module in pairs:
            self._place(key, module, registry)

    def pop(self, key: str) -> Module:
        """Remove the layer `key` and return it."""
        module = self[key]
        del self._registries()[2][key]
        return module

    def clear(self) -> None:
        self._registries()[2].clear()


class Sequential(_LayerList):
    """Layers applied one after another, each output the next layer's input.

    Sub-modules are named '0', '1', ...; index a Sequential to get a layer back (a slice is a
    Sequential); `append`, `extend`, `insert` and `del` work as on a `ModuleList`.

    Examples
    --------
    >>> from tinygrad_edu.nn import Linear, ReLU
    >>> net = Sequential(Linear(784, 128, rng=0), ReLU(), Linear(128, 10, rng=1))
    >>> net[0]
    Linear(in_features=784, out_features=128, bias=True)
    >>> len(net), sum(p.size for p in net.parameters())
    (3, 101770)
    """

    def __init__(self, *layers: Module):
        self._set_layers(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self._modules.values():
            x = layer(x)
        return x
