"""Optimisers (SGD, Adam) and learning-rate schedules (StepLR, CosineLR).

An optimiser holds the parameters and, after `loss.backward()` has filled their `.grad`,
`step()` moves each one against its gradient. Updates work in place on `param.data` with
numpy: nothing is recorded in the graph, and no array is copied that need not be. The
formulas are PyTorch's, step for step, so the numbers match `torch.optim`.

`step()` checks every gradient first (a Tensor of its parameter's shape, of a dtype that
casts to the parameter's) and changes nothing if one is wrong. Each update is an in-place
write: a graph recorded before `step()` that saved a parameter refuses to backpropagate
afterwards (its saved values are gone), as in PyTorch. Parameters that do not require grad
(frozen ones) are accepted and skipped while their `.grad` is None.

A training step::

    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()

`state_dict()` and `load_state_dict()` save and restore an optimiser as PyTorch's do: the
hyper-parameters in `param_groups` and each parameter's state (momentum buffer; Adam's step
and moving averages) keyed by the parameter's index, as numpy arrays, so training resumes
where it stopped (`tinygrad_edu.save(model, path, optimizer=optimizer)` keeps both).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from . import function
from .errors import DtypeError, ShapeError
from .inplace import add_scaled
from .tensor import Tensor


def _check_params(op: str, params) -> list[Tensor]:
    from .nn.modules import Module  # nn imports this package's tensor; import lazily

    if isinstance(params, Module):
        raise TypeError(f"{op}: pass the model's parameters, not the model: "
                        f"{op}(model.parameters(), ...)")
    if isinstance(params, Tensor):
        raise TypeError(f"{op}: params must be an iterable of Tensors, got a single Tensor; "
                        f"wrap it in a list: {op}([param], ...)")
    params = list(params)
    if not params:
        raise ValueError(f"{op}: got an empty parameter list; pass model.parameters() of a "
                         "model that has parameters (a generator can be used only once)")
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameter {i} is a {type(p).__name__}, not a Tensor")
        # a frozen parameter (requires_grad=False) is accepted, as in PyTorch: it has no
        # gradient, so step() skips it
        if not p.is_leaf:
            raise ValueError(f"{op}: parameter {i} (shape {p.shape}) is not a leaf tensor; "
                             "optimise the tensors you created, not values computed from them")
        if id(p) in seen:
            raise ValueError(f"{op}: parameter {i} (shape {p.shape}) appears twice in the "
                             "list; each parameter must be given once")
        seen.add(id(p))
    return params


def _number(op: str, name: str, value, what: str = "a number"):
    """A hyper-parameter given as a 0-d array or a one-element array or Tensor: its value."""
    if isinstance(value, (Tensor, np.ndarray)):
        if value.size != 1:
            kind = "a Tensor" if isinstance(value, Tensor) else "an array"
            raise ValueError(f"{op}: {name} must be {what}, got {kind} of shape "
                             f"{tuple(value.shape)}; pass one number")
        return (value.data if isinstance(value, Tensor) else value).item()
    return value


def _check_range(op: str, name: str, value: float, low: float, high: float | None = None,
                 high_open: bool = False) -> float:
    value = _number(op, name, value)
    is_number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
        value, bool)
    if is_number and not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value!r}")
    ok = is_number and value >= low and (high is None or (
        value < high if high_open else value <= high))
    if not ok:
        bound = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{op}: {name} must be >= {low}{bound}, got {value!r}")
    return float(value)


def _check_count(op: str, name: str, value) -> int:
    value = _number(op, name, value, "a positive int")
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def _describe(i: int, p: Tensor) -> str:
    """`parameter 1 ('0.bias', shape (3,))`: the name when a Module gave it one."""
    name = f"{p.name!r}, " if p.name is not None else ""
    return f"parameter {i} ({name}shape {p.shape})"


class Optimizer:
    """Base class: holds the parameters and the learning rate `lr` (schedules change it).

    `lr` (and every other hyper-parameter) may be given as a number, a 0-d numpy array or a
    one-element Tensor; its value is taken when it is given (a Tensor changed later does
    not change the learning rate).
    """

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = _check_params(type(self).__name__, params)
        self.lr = lr
        self.state: dict[int, dict] = {}  # per parameter (by id): momentum buffers, steps

    @property
    def lr(self) -> float:
        """The learning rate; setting it checks the value (a float >= 0)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_range(type(self).__name__, "lr", value, 0.0)

    # the constructor's hyper-parameters and the per-parameter state, by name (subclasses)
    hyper_parameters: tuple[str, ...] = ("lr",)
    state_names: tuple[str, ...] = ()

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyper_parameters)
        count = len(self.params)
        return f"{type(self).__name__}({count} parameter{'s' * (count != 1)}, {values})"

    def state_dict(self) -> dict:
        """The optimiser's state as PyTorch lays it out, to save and load later.

        Returns
        -------
        dict
            ``{"state": {index: {name: numpy array}}, "param_groups": [{hyper-parameter:
            value, ..., "params": [0, 1, ...]}]}``: one group holding every parameter; a
            parameter's state (copies of its arrays) under its index in ``params`` order,
            only for parameters that have state (after their first step).

        Examples
        --------
        >>> from tinygrad_edu import Tensor
        >>> w = Tensor([1.0, -1.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> state = opt.state_dict()
        >>> state["param_groups"]
        [{'lr': 0.1, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0.0, 'params': [0]}]
        >>> sorted(state["state"][0]), int(state["state"][0]["step"])
        (['exp_avg', 'exp_avg_sq', 'step'], 1)
        """
        group = {name: getattr(self, name) for name in self.hyper_parameters}
        group["params"] = list(range(len(self.params)))
        state = {}
        for i, p in enumerate(self.params):
            saved = self.state.get(id(p))
            if saved is not None:
                state[i] = {name: np.array(saved[name]) for name in self.state_names}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore hyper-parameters and per-parameter state saved by `state_dict()`.

        All or nothing: everything is checked against this optimiser's parameters (their
        count, each array's shape, the hyper-parameters' names and values) before anything
        changes. The parameters themselves are not touched (load the model's weights with
        `Module.load_state_dict`).

        Parameters
        ----------
        state_dict : mapping
            ``{"state": ..., "param_groups": [...]}`` as `state_dict()` returns it (indices
            may be ints or digit strings; arrays are cast to each parameter's dtype).

        Raises
        ------
        TypeError
            `state_dict` is not a mapping.
        StateDictError
            It does not fit: another optimiser's hyper-parameters, another parameter count,
            a state array of another shape, unknown or missing state entries.

        Examples
        --------
        >>> from tinygrad_edu import Tensor
        >>> w = Tensor([1.0, -1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> again = SGD([w], lr=0.5, momentum=0.5)
        >>> again.load_state_dict(opt.state_dict())
        >>> again
        SGD(1 parameter, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)
        """
        from .nn.modules import StateDictError  # nn imports this package: import lazily

        op = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{op}: expected the dict optimizer.state_dict() returns, got "
                            f"{type(state_dict).__name__}")
        missing = {"state", "param_groups"} - set(state_dict)
        if missing:
            raise StateDictError(f"{op}: the dict lacks {sorted(missing)}; pass what "
                                 "optimizer.state_dict() returned")
        groups = state_dict["param_groups"]
        if not (isinstance(groups, (list, tuple)) and len(groups) == 1
                and isinstance(groups[0], Mapping)):
            raise StateDictError(f"{op}: expected one parameter group (a list of one dict), "
                                 f"got {groups!r:.80}")
        group = dict(groups[0])
        n = len(self.params)
        indices = group.pop("params", None)
        if not isinstance(indices, (list, tuple)) or len(indices) != n:
            count = len(indices) if isinstance(indices, (list, tuple)) else "no"
            raise StateDictError(f"{op}: the state is for {count} parameters, this optimiser "
                                 f"has {n}; build it with the same parameters, in the same "
                                 "order, as the one that was saved")
        expected = set(self.hyper_parameters)
        if set(group) != expected:
            extra, lacking = sorted(set(group) - expected), sorted(expected - set(group))
            raise StateDictError(f"{op}: the hyper-parameters do not fit "
                                 f"{type(self).__name__} ({', '.join(self.hyper_parameters)}):"
                                 f" unexpected {extra}, missing {lacking}; was it saved from "
                                 "another kind of optimiser?")
        try:  # the constructor checks every value; a probe keeps this one unchanged
            probe = type(self)(self.params, **group)
        except (TypeError, ValueError) as exc:
            raise StateDictError(f"{op}: {exc}") from None
        state = self._checked_state(op, state_dict["state"], StateDictError)
        for name in self.hyper_parameters:
            setattr(self, name, getattr(probe, name))
        self.state = state

    def _checked_state(self, op: str, saved, error) -> dict[int, dict]:
        """The saved per-parameter state, checked and copied, keyed by id(param)."""
        if not isinstance(saved, Mapping):
            raise error(f"{op}: 'state' must be a dict index -> state, got "
                        f"{type(saved).__name__}")
        state: dict[int, dict] = {}
        for key, entry in saved.items():
            index = int(key) if isinstance(key, str) and key.isdigit() else key
            if not (isinstance(index, (int, np.integer)) and 0 <= index < len(self.params)):
                raise error(f"{op}: state for parameter {key!r}, but this optimiser has "
                            f"parameters 0..{len(self.params) - 1}")
            p = self.params[index]
            names = set(entry) if isinstance(entry, Mapping) else None
            if names != set(self.state_names):
                raise error(f"{op}: the state of {_describe(index, p)} has entries "
                            f"{sorted(names) if names is not None else entry!r}; "
                            f"{type(self).__name__} keeps {sorted(self.state_names)}")
            state[id(p)] = {name: self._checked_entry(op, error, index, p, name, entry[name])
                            for name in self.state_names}
        return state

    def _checked_entry(self, op, error, index: int, p: Tensor, name: str, value):
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if name == "step":
            if not (array.shape == () and array.dtype.kind in "iu" and array >= 0):
                raise error(f"{op}: the step count of {_describe(index, p)} must be an int "
                            f">= 0, got {value!r}")
            return int(array)
        if array.shape != p.shape:
            raise error(f"{op}: {name} of {_describe(index, p)} has shape {array.shape}; "
                        "it must have its parameter's shape: was the state saved for "
                        "another model?")
        if array.dtype.kind not in "fiu":
            raise error(f"{op}: {name} of {_describe(index, p)} has dtype {array.dtype}; "
                        "expected floats")
        return array.astype(p.data.dtype)  # a copy: the caller's arrays stay theirs

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set `.grad` to None)."""
        for p in self.params:
            p._grad = None

    def step(self) -> None:
        raise NotImplementedError

    def _grads(self) -> list:
        """(param, its data, its gradient array) for each parameter that has a gradient.

        Every gradient is checked before step() changes anything, so a bad one leaves all
        parameters and all optimiser state as they were.
        """
        found = []
        for i, p in enumerate(self.params):
            grad = p._grad  # (the attribute behind .grad: parameters are leaves)
            if grad is None:
                continue
            w = p.data
            if not (isinstance(grad, Tensor) and grad.data.shape == w.shape
                    and (grad.data.dtype == w.dtype
                         or np.can_cast(grad.data.dtype, w.dtype, "same_kind"))
                    and w.flags.writeable):
                raise self._grad_error(i, p)
            found.append((p, w, grad.data))
        return found

    def _grad_error(self, i: int, p: Tensor) -> Exception:
        where = f"{type(self).__name__}.step: {_describe(i, p)}"
        grad = p.grad
        if not isinstance(grad, Tensor):
            return TypeError(f"{where} has a .grad of type {type(grad).__name__}, not a Tensor; "
                             "nothing was updated. Set .grad to a Tensor (or None), or let "
                             "backward() fill it")
        g = grad.data
        if g.shape != p.shape:
            return ShapeError(f"{where} has a gradient of shape {g.shape}; a gradient must "
                              f"have its parameter's shape; nothing was updated. Set .grad to a "
                              f"Tensor of shape {p.shape}, or call zero_grad() first")
        if not p.data.flags.writeable:
            return ValueError(f"{where} holds a read-only array; give it a writable copy "
                              "(param.data = param.data.copy()); nothing was updated")
        return DtypeError(f"{where} has a gradient of dtype {g.dtype}, which cannot be cast "
                          f"to the parameter's dtype {p.data.dtype}; nothing was updated. Set "
                          f".grad to a Tensor of dtype {p.data.dtype}")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum, weight decay.

    Per parameter `w` with gradient `g` (PyTorch's formulas, dampening `d`):

        g = g + weight_decay * w
        b = g                          on the first step, else b = momentum * b + (1 - d) * g
        g = g + momentum * b           if nesterov, else g = b      (when momentum != 0)
        w = w - lr * g

    With no momentum and no decay this is the seeds' update `w := w - alpha * dw`.
    `state_dict()` holds each parameter's momentum buffer (after its first step).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()      # grad = 2 w
    >>> opt.step()
    >>> w
    Tensor([0.8, 1.6], dtype=float32, requires_grad=True)
    """

    hyper_parameters = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    state_names = ("momentum_buffer",)

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _check_range("SGD", "momentum", momentum, 0.0)
        self.dampening = _check_range("SGD", "dampening", dampening, 0.0, 1.0)
        self.weight_decay = _check_range("SGD", "weight_decay", weight_decay, 0.0)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={momentum}, dampening={dampening}")
        self.nesterov = bool(nesterov)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for p, w, g in self._grads():
            if wd:
                g = g + wd * w                          # a new array: p.grad stays as it was
            if mu:
                state = self.state.setdefault(id(p), {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.astype(w.dtype)  # a copy
                else:
                    buf *= mu
                    buf += (1.0 - self.dampening) * g if self.dampening else g
                g = g + mu * buf if self.nesterov else buf
            add_scaled(w, -lr, g)                       # w -= lr * g, in one pass
            function.mark_written(w)                   # graphs recorded before see the change


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with PyTorch's formulas (L2 weight decay, not AdamW).

    Per parameter `w` with gradient `g`, at its step t = 1, 2, ...:

        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g                (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g^2
        w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    `state_dict()` holds each parameter's step t, m (``exp_avg``) and v (``exp_avg_sq``).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> w = Tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()                    # the first step moves each weight by about lr
    >>> w
    Tensor([ 0.9, -0.9], dtype=float32, requires_grad=True)
    """

    hyper_parameters = ("lr", "betas", "eps", "weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if isinstance(betas, Tensor):
            betas = betas.data
        if isinstance(betas, np.ndarray) and betas.shape == (2,):
            betas = tuple(betas)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_range("Adam", "betas[0]", betas[0], 0.0, 1.0, high_open=True),
                      _check_range("Adam", "betas[1]", betas[1], 0.0, 1.0, high_open=True))
        self.eps = _check_range("Adam", "eps", eps, 0.0)
        self.weight_decay = _check_range("Adam", "weight_decay", weight_decay, 0.0)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        (beta1, beta2), wd = self.betas, self.weight_decay
        for p, w, g in self._grads():
            if wd:
                g = g + wd * w
            state = self.state.get(id(p))
            if state is None:
                state = self.state[id(p)] = {"step": 0, "exp_avg": np.zeros_like(w),
                                             "exp_avg_sq": np.zeros_like(w)}
            if "scratch" not in state:                         # not saved by state_dict()
                state["scratch"] = np.empty_like(w)
            state["step"] += 1
            t, m, v, tmp = state["step"], state["exp_avg"], state["exp_avg_sq"], state["scratch"]
            # the formulas above, in place: no array is allocated per step
            np.multiply(g, 1.0 - beta1, out=tmp)
            m *= beta1
            m += tmp                                           # m = b1 m + (1 - b1) g
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - beta2
            v *= beta2
            v += tmp                                           # v = b2 v + (1 - b2) g^2
            np.sqrt(v, out=tmp)
            tmp /= math.sqrt(1.0 - beta2 ** t)
            tmp += self.eps                                    # sqrt(v_hat) + eps
            np.divide(m, tmp, out=tmp)
            tmp *= self.lr / (1.0 - beta1 ** t)
            w -= tmp
            function.mark_written(w)


class _Schedule:
    """Base of learning-rate schedules: `step()` once per epoch (or per batch) sets `lr`."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optimiser (SGD, Adam), got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_step = 0

    def lr_at(self, step: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        """Advance one step and set the optimiser's `lr`; returns the new learning rate."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)
        return self.optimizer.lr

    def get_last_lr(self) -> float:
        return self.optimizer.lr


class StepLR(_Schedule):
    """Multiply the learning rate by `gamma` every `step_size` steps.

    lr(t) = base_lr * gamma ** floor(t / step_size)

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> opt = SGD([Tensor([0.0], requires_grad=True)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> [sched.step() for _ in range(4)]
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = _check_count("StepLR", "step_size", step_size)
        self.gamma = _check_range("StepLR", "gamma", gamma, 0.0)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR(_Schedule):
    """Lower the learning rate from its start to `min_lr` along half a cosine.

    lr(t) = min_lr + (base_lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2, for t up
    to `total_steps` (min_lr after that). PyTorch's CosineAnnealingLR, without restarts.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> opt = SGD([Tensor([0.0], requires_grad=True)], lr=1.0)
    >>> sched = CosineLR(opt, total_steps=4)
    >>> [round(sched.step(), 4) for _ in range(5)]
    [0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer)
        self.total_steps = _check_count("CosineLR", "total_steps", total_steps)
        self.min_lr = _check_range("CosineLR", "min_lr", min_lr, 0.0, self.base_lr)

    def lr_at(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
