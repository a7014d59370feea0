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
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from . import function
from .errors import DtypeError, ShapeError
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

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set `.grad` to None)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def _grads(self) -> list:
        """(param, its data, its gradient array) for each parameter that has a gradient.

        Every gradient is checked before step() changes anything, so a bad one leaves all
        parameters and all optimiser state as they were.
        """
        found = []
        for i, p in enumerate(self.params):
            grad = p.grad
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
            w -= lr * g
            function.mark_written(w)                   # graphs recorded before see the change


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with PyTorch's formulas (L2 weight decay, not AdamW).

    Per parameter `w` with gradient `g`, at its step t = 1, 2, ...:

        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g                (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g^2
        w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

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
                                             "exp_avg_sq": np.zeros_like(w),
                                             "scratch": np.empty_like(w)}
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
