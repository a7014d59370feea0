"""Hand-written numpy backpropagation: the baselines every framework is measured against.

These are the seeds' closed-form formulas (`SEED_FORMULAS.md` ids in the comments), written
as plainly as a careful numpy programmer would: float32 throughout, every gradient computed
once, parameters updated in place. Two layouts:

- `MLPRows`: samples in rows, `Z = A W + b` with `W` of shape (inputs, outputs) -- the
  layout of `x @ w` code and of PyTorch-style batches.
- `MLPColumns`: samples in columns, `Z = W A + b` with `W` of shape (outputs, inputs) and
  `b` a column -- the layout of documents 000, 001 and 003.

Every hidden layer is ReLU; the output layer is softmax with cross-entropy averaged over
the batch. `step` runs forward, loss, backward and the update, and returns the loss.
"""

from __future__ import annotations

import numpy as np


def init_params(sizes, rng: np.random.Generator, layout: str = "rows", dtype=np.float32):
    """He-initialised weights and zero biases for layer sizes such as (784, 128, 10).

    Returns a flat list [W1, b1, W2, b2, ...] of arrays in the given layout (see the module
    docstring), so every framework can start from copies of the same numbers.
    """
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False):
        scale = np.sqrt(2.0 / n_in)
        w = rng.standard_normal((n_in, n_out), dtype=np.float32) * scale
        if layout == "rows":
            params += [w.astype(dtype), np.zeros(n_out, dtype=dtype)]
        else:
            params += [np.ascontiguousarray(w.T, dtype=dtype), np.zeros((n_out, 1), dtype=dtype)]
    return params


class SGD:
    """w := w - lr * dw, in place (000-update, 001-eq44-45)."""

    def __init__(self, params, lr: float):
        self.params, self.lr = params, lr

    def __call__(self, grads) -> None:
        for p, g in zip(self.params, grads, strict=True):
            g *= self.lr
            p -= g


class SGDAsWritten(SGD):
    """The same update written as one expression, `w -= lr * dw`, as the tutorial's loop
    writes it: numpy makes `lr * dw` a new array, then subtracts it (a third array, and
    more memory traffic than scaling dw in place). The baseline of the `[inplace]` variant's
    second ratio: what that expression costs in numpy itself."""

    def __call__(self, grads) -> None:
        for p, g in zip(self.params, grads, strict=True):
            p -= self.lr * g


class Adam:
    """Adam (Kingma & Ba), in place: the default preset's optimiser, written out."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def __call__(self, grads) -> None:
        b1, b2 = self.betas
        self.t += 1
        step = self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g                  # m = b1 m + (1 - b1) g
            v *= b2
            v += (1 - b2) * (g * g)            # v = b2 v + (1 - b2) g^2
            p -= step * m / (np.sqrt(v) + self.eps)


def _softmax_ce(z: np.ndarray, labels: np.ndarray, class_axis: int):
    """Mean cross-entropy of softmax(z) and its gradient dZ = (A - Y) / m (000-dZ2, 001-eq32)."""
    shifted = z - z.max(axis=class_axis, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=class_axis, keepdims=True)
    m = labels.shape[0]
    cols = np.arange(m)
    if class_axis == 1:
        loss = np.log(total[:, 0]).mean() - shifted[cols, labels].mean()
        dz = e / total
        dz[cols, labels] -= 1.0                # A - Y for one-hot Y
    else:
        loss = np.log(total[0]).mean() - shifted[labels, cols].mean()
        dz = e / total
        dz[labels, cols] -= 1.0
    dz /= m                                    # the loss is the mean over the m samples
    return float(loss), dz


class _MLP:
    """A ReLU MLP's forward pass and hand-written backprop; the layouts below say how a layer
    multiplies (`affine`) and what its gradients are (`weight_grad`, `bias_grad`, `back`)."""

    class_axis: int

    def __init__(self, params):
        self.params = params

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits, without keeping anything for backward (inference)."""
        a = x
        n = len(self.params) // 2
        for i in range(n):
            a = self.affine(self.params[2 * i], a, self.params[2 * i + 1])
            if i < n - 1:
                np.maximum(a, 0, out=a)
        return a

    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray):
        n = len(self.params) // 2
        acts, zs = [x], []
        for i in range(n):
            zs.append(self.affine(self.params[2 * i], acts[-1], self.params[2 * i + 1]))
            if i < n - 1:
                acts.append(np.maximum(zs[-1], 0))
        loss, dz = _softmax_ce(zs[-1], labels, self.class_axis)
        grads = [None] * (2 * n)
        for i in reversed(range(n)):
            grads[2 * i] = self.weight_grad(dz, acts[i])
            grads[2 * i + 1] = self.bias_grad(dz)
            if i:
                dz = self.back(self.params[2 * i], dz)
                dz *= zs[i - 1] > 0                 # ... times ReLU'(Z), ReLU'(0) = 0
        return loss, grads

    def step(self, x, labels, update) -> float:
        loss, grads = self.loss_and_grads(x, labels)
        update(grads)
        return loss


class MLPRows(_MLP):
    """ReLU MLP with samples in rows: Z_l = A_{l-1} W_l + b_l."""

    class_axis = 1

    @staticmethod
    def affine(w, a, b):
        return a @ w + b

    @staticmethod
    def weight_grad(dz, a_prev):
        return a_prev.T @ dz                       # dW = A_prev^T dZ (000-dW2 in rows)

    @staticmethod
    def bias_grad(dz):
        return dz.sum(axis=0)                      # db = sum over samples of dZ (000-db2)

    @staticmethod
    def back(w, dz):
        return dz @ w.T                            # W^T dZ (000-dZ1) ...


class MLPColumns(_MLP):
    """ReLU MLP with samples in columns, as in documents 000 and 001: Z_l = W_l A_{l-1} + b_l."""

    class_axis = 0

    @staticmethod
    def affine(w, a, b):
        return w @ a + b

    @staticmethod
    def weight_grad(dz, a_prev):
        return dz @ a_prev.T                       # dW = dZ A_prev^T (000-dW2, 001-eq35)

    @staticmethod
    def bias_grad(dz):
        return dz.sum(axis=1, keepdims=True)       # db (000-db2, 003-bias)

    @staticmethod
    def back(w, dz):
        return w.T @ dz                            # W^T dZ (000-dZ1, 001-eq38) ...


class MLPColumnsOuter(MLPColumns):
    """MLPColumns with the one-sample weight gradient written as a broadcasting product.

    With one sample, dZ is a column and A_prev^T a row, so dZ A_prev^T is an outer product.
    numpy's matmul has no fast kernel for an inner dimension of 1 and runs it several times
    slower than `dz * a_prev.T`, which gives the same numbers; tinygrad_edu's MatMul takes
    that route by itself. W3 reports this baseline too, so the ratio without numpy's slow
    path is in the same table.
    """

    @staticmethod
    def weight_grad(dz: np.ndarray, a_prev: np.ndarray) -> np.ndarray:
        return dz * a_prev.T if a_prev.shape[1] == 1 else dz @ a_prev.T
