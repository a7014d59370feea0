"""Optimisers (SGD, Adam) and learning-rate schedules (StepLR, CosineLR).

An optimiser holds the parameters and, after `loss.backward()` has filled their `.grad`,
`step()` moves each one against its gradient. Updates work in place on `param.data` with
numpy: nothing is recorded in the graph, and no array is copied that need not be. The
formulas are PyTorch's, step for step, so the numbers match `torch.optim`.

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
        if not p.requires_grad:
            raise ValueError(f"{op}: parameter {i} (shape {p.shape}) does not require grad; "
                             "create it with requires_grad=True")
        if not p.is_leaf:
            raise ValueError(f"{op}: parameter {i} (shape {p.shape}) is not a leaf tensor; "
                             "optimise the tensors you created, not values computed from them")
        if id(p) in seen:
            raise ValueError(f"{op}: parameter {i} (shape {p.shape}) appears twice in the "
                             "list; each parameter must be given once")
        seen.add(id(p))
    return params


def _check_range(op: str, name: str, value: float, low: float, high: float | None = None,
                 high_open: bool = False) -> float:
    is_number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
        value, bool)
    ok = is_number and value >= low and (high is None or (
        value < high if high_open else value <= high))
    if not ok:
        bound = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{op}: {name} must be >= {low}{bound}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: holds the parameters and the learning rate `lr` (schedules change it)."""

    def __init__(self, params: Iterable[Tensor], lr: float):
        name = type(self).__name__
        self.params = _check_params(name, params)
        self.lr = _check_range(name, "lr", lr, 0.0)
        self.state: dict[int, dict] = {}  # per parameter (by id): momentum buffers, steps

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set `.grad` to None)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def _grads(self) -> list:
        """(param, its data, its gradient array) for each parameter that has a gradient."""
        return [(p, p.data, p.grad.data) for p in self.params if p.grad is not None]


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
                    buf = state["momentum_buffer"] = g.copy()
                else:
                    buf *= mu
                    buf += (1.0 - self.dampening) * g if self.dampening else g
                g = g + mu * buf if self.nesterov else buf
            w -= lr * g


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
        if not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = int(step_size)
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
        if not isinstance(total_steps, (int, np.integer)) or total_steps < 1:
            raise ValueError(f"CosineLR: total_steps must be a positive int, got "
                             f"{total_steps!r}")
        self.total_steps = int(total_steps)
        self.min_lr = _check_range("CosineLR", "min_lr", min_lr, 0.0, self.base_lr)

    def lr_at(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
