"""Modules: layers that own their parameters, composed into networks.

A `Module` registers what is assigned to its attributes, as PyTorch does: a `Parameter` (or a
leaf Tensor with `requires_grad=True`) is a parameter, a Module a sub-module. So a layer is
written as plain Python::

    class Affine(Module):
        def __init__(self):
            self.weight = Parameter(np.ones((3, 2)))

        def forward(self, x):
            return x @ self.weight

and `Sequential(Linear(784, 128), ReLU(), Linear(128, 10))` names its parameters
`0.weight`, `0.bias`, `2.weight`, `2.bias`. Everything a module computes is ordinary Tensor
ops, so `loss.backward()` fills each parameter's `.grad`. Layers kept in a list or a dict are
registered through `ModuleList` and `ModuleDict`; saved values that are not trained (running
statistics) through `register_buffer`.

Document 004's design, a dense layer followed by an activation layer with each layer's output
the next one's input, is exactly this API: `Linear` is its dense layer (`Y = W X + B`),
`ReLU`/`Sigmoid`/`Tanh`/`Softmax` its activation layers, and `Sequential` the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..errors import TinygradEduError, warn_once
from ..function import mark_written, state
from ..tensor import Tensor


class StateDictError(TinygradEduError, ValueError):
    """A state dict does not fit the module: missing, unexpected, mis-shaped or mistyped."""


class UnregisteredWarning(UserWarning):
    """A list, tuple or dict of layers or parameters was assigned to a Module: not registered."""


class LoadResult(NamedTuple):
    """What `load_state_dict(..., strict=False)` left out."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter, trainable or frozen.

    Parameters
    ----------
    data : array_like or Tensor
        The values (a Tensor's or an ndarray's memory is shared, not copied).
    requires_grad : bool
        True by default; a parameter made with False (or frozen later with
        `requires_grad_(False)`) stays registered: in `parameters()` and `state_dict()`.

    Examples
    --------
    >>> import numpy as np
    >>> w = Parameter(np.zeros(2, np.float32))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _is_trainable_leaf(value) -> bool:
    return isinstance(value, Tensor) and value.requires_grad and value.is_leaf


# What a module reads before it has registered anything: subclasses need not call
# super().__init__(), so the registries are made on the first assignment.
_NOTHING: Mapping = MappingProxyType({})


class Module:
    """Base class of layers and networks: override `forward`, call the module like a function.

    Assigning an attribute registers it, as in PyTorch:

    - a `Parameter` is a parameter, and so is a *leaf* Tensor with `requires_grad=True`
      (`Tensor(w, requires_grad=True)`, unlike PyTorch, which needs `Parameter`): it is in
      `parameters()` and `state_dict()`, and stays there after `requires_grad_(False)`;
    - a Module is a sub-module: its parameters are this module's, named `child.weight`;
    - `register_buffer(name, array)` makes a buffer: saved in `state_dict()`, not trained.

    Not registered: a Tensor made by ops (an activation kept for later), a Tensor with
    `requires_grad=False` (a constant), and layers or parameters inside a plain list, tuple or
    dict (a warning says so: use `ModuleList` or `ModuleDict`). Replacing a parameter with a
    Tensor made by ops (`model.w = model.w - lr * g`) is a TypeError: update it in place under
    `no_grad()`. Calling `super().__init__()` in a subclass is optional.

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
    ...         self.factor = Parameter([2.0])
    ...         self.offset = Tensor([1.0])       # a constant: not registered
    ...     def forward(self, x):
    ...         return x * self.factor + self.offset
    >>> m = Scale()
    >>> [name for name, _ in m.named_parameters()]
    ['factor']
    >>> m(Tensor([1.0, 3.0])).sum().backward()
    >>> m.factor.grad
    Tensor([4.], dtype=float32)
    """

    training: bool = True
    _parameters: Mapping[str, Tensor | None] = _NOTHING
    _buffers: Mapping[str, Tensor | None] = _NOTHING
    _modules: Mapping[str, Module | None] = _NOTHING
    _non_persistent_buffers: frozenset[str] | set[str] = frozenset()

    def __init__(self):
        self._registries()

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

    # ---- registering attributes --------------------------------------------------------
    def _registries(self) -> tuple[dict, dict, dict]:
        """This module's parameters, buffers and sub-modules, made on first use."""
        attrs = self.__dict__
        if "_parameters" not in attrs:
            attrs["_parameters"], attrs["_buffers"], attrs["_modules"] = {}, {}, {}
            attrs["_non_persistent_buffers"] = set()
        return attrs["_parameters"], attrs["_buffers"], attrs["_modules"]

    def _place(self, name: str, value, registry: dict) -> None:
        """Store `value` under `name` in `registry`, and nowhere else."""
        for other in self._registries():
            if other is not registry:
                other.pop(name, None)
        self.__dict__.pop(name, None)
        self._non_persistent_buffers.discard(name)
        registry[name] = value

    def __setattr__(self, name: str, value) -> None:
        params, buffers, modules = self._registries()
        owner = type(self).__name__
        if isinstance(value, Parameter) or (name not in buffers and _is_trainable_leaf(value)):
            self._place(name, value, params)
        elif name in params:
            if value is not None and value is not params[name]:
                raise TypeError(_replace_parameter_message(owner, name, value))
            params[name] = value
        elif isinstance(value, Module):
            self._place(name, value, modules)
        elif name in modules:
            if value is not None:
                raise TypeError(f"{owner}.{name} is a sub-module: assign a Module or None, "
                                f"not a {type(value).__name__}")
            modules[name] = None
        elif name in buffers:
            buffers[name] = _as_buffer(f"{owner}.{name}", value)
        else:
            _warn_if_it_holds_layers(owner, name, value)
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # called only when normal lookup fails: registered names live in the registries
        attrs = self.__dict__
        for registry in ("_parameters", "_modules", "_buffers"):
            found = attrs.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in self._registries():
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()).union(*self._registries()))

    def _check_name(self, method: str, name, registry: Mapping) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{method}: the name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{method}: the name {name!r} must be non-empty and have no '.' "
                           "(dots separate the parts of a full name such as 'layers.0.weight')")
        if name not in registry and hasattr(self, name):
            raise KeyError(f"{method}: {type(self).__name__} already has an attribute "
                           f"{name!r}; choose another name")

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Register `param` (a leaf Tensor, trainable or not, or None) as parameter `name`.

        The Tensor itself is registered, not a copy. A frozen parameter
        (`requires_grad=False`) is still saved and loaded with the module.

        Raises
        ------
        TypeError
            `param` is not a Tensor or None, or is made by ops (not a leaf).
        KeyError
            The name is empty, has a '.', or is another attribute already.

        Examples
        --------
        >>> from tinygrad_edu import Tensor
        >>> m = Module()
        >>> m.register_parameter("scale", Tensor([1.0]))
        >>> [name for name, _ in m.named_parameters()]
        ['scale']
        """
        params = self._registries()[0]
        self._check_name("register_parameter", name, params)
        if param is not None and not isinstance(param, Tensor):
            raise TypeError(f"register_parameter: {name!r} must be a Tensor or None, got "
                            f"{type(param).__name__}; wrap an array in nn.Parameter(array)")
        if param is not None and not param.is_leaf:
            raise TypeError(f"register_parameter: {name!r} is made by an op "
                            f"(grad_fn={param.grad_fn.name}) and so cannot be trained; register "
                            "a leaf, for example nn.Parameter(t.detach())")
        self._place(name, param, params)

    def register_buffer(self, name: str, tensor: Tensor | np.ndarray | None,
                        persistent: bool = True) -> None:
        """Register `tensor` as buffer `name`: a value the module keeps but does not train.

        Buffers are in `buffers()` and, when `persistent`, in `state_dict()` (so they are
        saved and loaded); never in `parameters()`. An ndarray is wrapped without a copy.

        Examples
        --------
        >>> import numpy as np
        >>> m = Module()
        >>> m.register_buffer("running_mean", np.zeros(3, np.float32))
        >>> list(m.state_dict()), list(m.parameters())
        (['running_mean'], [])
        """
        buffers = self._registries()[1]
        self._check_name("register_buffer", name, buffers)
        self._place(name, _as_buffer(f"register_buffer: {name!r}", tensor), buffers)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` as sub-module `name` (assigning it does the same)."""
        modules = self._registries()[2]
        self._check_name("add_module", name, modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got "
                            f"{type(module).__name__}")
        self._place(name, module, modules)

    # ---- walking the registered attributes ---------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, in the order they were assigned."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`, '' by default) and every sub-module, depth first.

        Examples
        --------
        >>> from tinygrad_edu.nn import Linear, ReLU, Sequential
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

    def _named_tensors(self, prefix: str = "", params: bool = True, buffers: bool = False,
                       only_persistent: bool = False) -> Iterator[tuple[str, Tensor]]:
        """Each module's parameters, then its buffers, depth first; shared tensors once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            found = list(module._parameters.items()) if params else []
            if buffers:
                found += [(name, b) for name, b in module._buffers.items()
                          if not (only_persistent and name in module._non_persistent_buffers)]
            for attr, value in found:
                if value is not None and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{attr}" if module_name else attr), value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted name, such as `layers.0.weight`; shared ones once.

        Frozen parameters (`requires_grad=False`) are included, as in PyTorch. A parameter
        whose `.name` is None takes its full name, so graph drawings can label it.

        Examples
        --------
        >>> from tinygrad_edu.nn import Linear, ReLU, Sequential
        >>> net = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
        >>> [name for name, _ in net.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        for name, param in self._named_tensors(prefix):
            if param.name is None:
                param.name = name
            yield name, param

    def parameters(self) -> Iterator[Tensor]:
        """Every registered parameter, each once, frozen ones (`requires_grad=False`) included."""
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every buffer (persistent or not) with its dotted name; shared ones once."""
        return self._named_tensors(prefix, params=False, buffers=True)

    def buffers(self) -> Iterator[Tensor]:
        """Every registered buffer, each once."""
        for _, buffer in self.named_buffers():
            yield buffer

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
        """A copy of every parameter's and persistent buffer's values, by name.

        Every parameter, trainable or frozen, as in PyTorch. Copies, unlike PyTorch: a
        saved state dict does not change as training goes on.

        Examples
        --------
        >>> from tinygrad_edu.nn import Linear, ReLU, Sequential
        >>> layer = Linear(2, 1, rng=0)
        >>> _ = layer.weight.requires_grad_(False)          # frozen, still saved
        >>> list(layer.state_dict())
        ['weight', 'bias']
        """
        return {name: tensor.data.copy()
                for name, tensor in self._named_tensors(buffers=True, only_persistent=True)}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy values from `state_dict` into the parameters and buffers, in place: all or nothing.

        Every entry is checked first (names, shapes, dtypes); only then is anything written.

        Parameters
        ----------
        state_dict : mapping of name -> array or Tensor
            For example another model's `state_dict()`, or `tinygrad_edu.load(path)`.
        strict : bool
            Also fail on names that are missing from `state_dict` or that the module lacks;
            with strict=False those are skipped and returned. A shape that differs, or a value
            that does not cast to the tensor's dtype (casting='same_kind': complex numbers,
            strings or Python objects into float32), always fails.

        Returns
        -------
        LoadResult
            `missing_keys` and `unexpected_keys` (both empty after a strict load).

        Raises
        ------
        StateDictError
            Listing every difference: missing names, unexpected names, shape and dtype
            mismatches. Nothing is loaded when it is raised.

        Examples
        --------
        >>> from tinygrad_edu.nn import Linear, ReLU, Sequential
        >>> import numpy as np
        >>> layer = Linear(2, 1, rng=0)
        >>> layer.load_state_dict({"weight": np.ones((1, 2)), "bias": np.zeros(1)})
        LoadResult(missing_keys=[], unexpected_keys=[])
        >>> layer.weight.data
        array([[1., 1.]], dtype=float32)
        """
        targets = dict(self._named_tensors(buffers=True, only_persistent=True))
        values, unreadable = {}, []
        for name, value in state_dict.items():
            try:
                values[name] = np.asarray(value.data if isinstance(value, Tensor) else value)
            except (TypeError, ValueError) as exc:
                unreadable.append(f"{name}: {exc}")
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        mismatched, mistyped, read_only = [], [], []
        for name, tensor in targets.items():
            if name not in values:
                continue
            value = values[name]
            if value.shape != tensor.shape:
                mismatched.append(f"{name}: checkpoint {value.shape}, model {tensor.shape}")
            elif not np.can_cast(value.dtype, tensor.dtype, casting="same_kind"):
                mistyped.append(f"{name}: {value.dtype} does not cast to {tensor.dtype}")
            elif not tensor.data.flags.writeable:
                read_only.append(name)
        problems = []
        if strict and missing:
            problems.append("missing (in the model, not in the state dict): " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected (in the state dict, not in the model): "
                            + ", ".join(unexpected))
        if unreadable:
            problems.append("not an array: " + "; ".join(unreadable))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched)
                            + " (build the model with the layer sizes of the one that was saved)")
        if mistyped:
            problems.append("dtype mismatch (casting='same_kind'): " + "; ".join(mistyped)
                            + " (a state dict holds real numbers: convert those entries)")
        if read_only:
            problems.append("read-only in the model: " + ", ".join(read_only))
        if problems:
            raise StateDictError(
                f"load_state_dict: the state dict does not fit {type(self).__name__}; nothing "
                "was loaded:\n  " + "\n  ".join(problems))
        for name, tensor in targets.items():
            if name in values:
                np.copyto(tensor.data, values[name], casting="same_kind")
                mark_written(tensor.data)  # graphs recorded before the load refuse backward
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


def _replace_parameter_message(owner: str, name: str, value) -> str:
    made_by = (f"made by {value.grad_fn.name}" if isinstance(value, Tensor) and value.grad_fn
               else "a constant" if isinstance(value, Tensor) else f"a {type(value).__name__}")
    return (f"{owner}.{name} is a registered parameter and cannot be replaced by {made_by}: "
            "the optimiser and state_dict() would keep the old one. Update it in place: "
            f"`with no_grad(): model.{name} -= lr * model.{name}.grad`, or assign "
            f"nn.Parameter(values) (or None) to replace it")


def _as_buffer(where: str, value) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"{where}: a buffer must be a Tensor, an ndarray or None, got "
                    f"{type(value).__name__}")


def _warn_if_it_holds_layers(owner: str, name: str, value) -> None:
    if isinstance(value, (list, tuple)):
        items = value
    elif isinstance(value, dict):
        items = value.values()
    else:
        return
    kind = type(value).__name__
    if any(isinstance(item, Module) for item in items):
        container = "nn.ModuleDict" if isinstance(value, dict) else "nn.ModuleList"
        message = (f"{owner}.{name} is a {kind} holding Modules: their parameters are not "
                   "registered, so parameters(), state_dict() and optimisers miss them; "
                   f"use {container}(...) instead")
    elif any(isinstance(item, Parameter) or _is_trainable_leaf(item) for item in items):
        message = (f"{owner}.{name} is a {kind} holding parameters: they are not registered, "
                   "so parameters(), state_dict() and optimisers miss them; assign each to "
                   "its own attribute or call register_parameter(name, tensor)")
    else:
        return
    warn_once(f"unregistered:{owner}.{name}", message, UnregisteredWarning)
