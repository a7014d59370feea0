"""The CNN workload: one training step of examples/mnist_cnn.py's default network at batch 64.

    conv 1->16 5x5 pad 2 (no bias), batch norm, ReLU, max pool 2 -> conv 16->32 5x5 (no
    bias), batch norm, ReLU, max pool 2 -> linear 800->128, ReLU, dropout 0.25 -> linear
    128->10; mean cross-entropy; Adam (lr 1e-3)

Frameworks: "numpy", the same network written by hand (im2col forward, its backward by hand,
in place where numpy allows: the floor every ratio is measured against), "tinygrad_edu" (the
network of nn layers, `loss.backward()`, `optimizer.step()`), and "torch" (PyTorch eager on
the CPU) when installed. Every framework starts from the same parameters and sees the same
batch; dropout masks come from each framework's own generator.

    python -m benchmarks.cnn [--rounds 7] [--memory] [--threads 1]

prints the median step time of each framework and its median same-round ratio to numpy, and
with --memory the peak bytes one epoch (125 steps of 64, the shipped sample's 8,000) adds,
counted by tracemalloc (numpy and Python allocations). tracemalloc cannot see PyTorch's C++
allocations, so torch's peak is not measured: it prints as n/a (None in the result).
"""

from __future__ import annotations

import sys

from . import blas_kernels, kernel_note, kernel_text, pin_threads

if __name__ == "__main__":   # BLAS threads for every framework, set before numpy loads
    pin_threads(sys.argv)

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

BATCH, LR, P_DROP, EPS = 64, 1e-3, 0.25, 1e-5


def init_params(rng: np.random.Generator) -> dict:
    """PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), BN weight 1."""
    def uniform(shape, fan_in):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    return {
        "c1.w": uniform((16, 1, 5, 5), 25),
        "bn1.w": np.ones(16, np.float32), "bn1.b": np.zeros(16, np.float32),
        "c2.w": uniform((32, 16, 5, 5), 400),
        "bn2.w": np.ones(32, np.float32), "bn2.b": np.zeros(32, np.float32),
        "l1.w": uniform((128, 800), 800), "l1.b": uniform(128, 800),
        "l2.w": uniform((10, 128), 128), "l2.b": uniform(10, 128),
    }


def data(rng: np.random.Generator, n: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


# ---- the numpy floor --------------------------------------------------------------------

def _conv(x, w, pad):
    """im2col and one product; returns the output (N, O, OH, OW) and cols for backward."""
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))           # N, C, OH, OW, kh, kw
    oh, ow = win.shape[2:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    out = cols @ w.reshape(o, -1).T
    return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2), cols


def _conv_backward(dy, cols, w, x_shape, pad, need_dx):
    n, o, oh, ow = dy.shape
    rows = dy.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (rows.T @ cols).reshape(w.shape)
    if not need_dx:
        return None, dw
    kh, kw = w.shape[2:]
    dcols = (rows @ w.reshape(o, -1)).reshape(n, oh, ow, x_shape[1], kh, kw)
    dxp = np.zeros((n, x_shape[1], x_shape[2] + 2 * pad, x_shape[3] + 2 * pad), np.float32)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + oh, j:j + ow] += dcols[..., i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + x_shape[2], pad:pad + x_shape[3]], dw


def _bn(x, w, b):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    centred = x - mean
    inv = 1 / np.sqrt((centred * centred).mean(axis=(0, 2, 3), keepdims=True) + EPS)
    xhat = centred * inv
    return xhat * w[:, None, None] + b[:, None, None], (xhat, inv)


def _bn_backward(dy, cache, w):
    xhat, inv = cache
    dw, db = (dy * xhat).sum(axis=(0, 2, 3)), dy.sum(axis=(0, 2, 3))
    dxhat = dy * w[:, None, None]
    dx = (dxhat - dxhat.mean(axis=(0, 2, 3), keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=(0, 2, 3), keepdims=True)) * inv
    return dx, dw, db


def _pool(x):
    """2x2 max pooling by a reshape; the mask marks the first maximum of each window."""
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // 2, w // 2, 4)
    best = win.argmax(-1)
    return np.take_along_axis(win, best[..., None], -1)[..., 0], best


def _pool_backward(dy, best, shape):
    n, c, h, w = shape
    dwin = np.zeros(dy.shape + (4,), np.float32)
    np.put_along_axis(dwin, best[..., None], dy[..., None], -1)
    return dwin.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


class NumpyCNN:
    """The default CNN's forward, backward and Adam step, by hand."""

    def __init__(self, params: dict, seed: int = 0):
        self.p = {k: v.copy() for k, v in params.items()}
        self.names = list(self.p)
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t, self.rng = 0, np.random.default_rng(seed)

    def step(self, x, labels):
        p = self.p
        z1, cols1 = _conv(x, p["c1.w"], 2)
        b1, bn1 = _bn(z1, p["bn1.w"], p["bn1.b"])
        r1 = np.maximum(b1, 0)
        a1, best1 = _pool(r1)
        z2, cols2 = _conv(a1, p["c2.w"], 0)
        b2, bn2 = _bn(z2, p["bn2.w"], p["bn2.b"])
        r2 = np.maximum(b2, 0)
        a2, best2 = _pool(r2)
        f = a2.reshape(len(x), -1)
        h = f @ p["l1.w"].T + p["l1.b"]
        relu_h = h > 0
        keep = (self.rng.random(h.shape, dtype=np.float32) >= P_DROP) * np.float32(
            1 / (1 - P_DROP))
        d = np.maximum(h, 0) * keep
        logits = d @ p["l2.w"].T + p["l2.b"]
        shifted = logits - logits.max(1, keepdims=True)
        e = np.exp(shifted)
        probs = e / e.sum(1, keepdims=True)
        loss = -np.log(probs[np.arange(len(x)), labels]).mean()
        g = probs
        g[np.arange(len(x)), labels] -= 1
        g /= len(x)
        grads = {"l2.w": g.T @ d, "l2.b": g.sum(0)}
        dh = (g @ p["l2.w"]) * keep * relu_h
        grads["l1.w"], grads["l1.b"] = dh.T @ f, dh.sum(0)
        da2 = (dh @ p["l1.w"]).reshape(a2.shape)
        dr2 = _pool_backward(da2, best2, r2.shape) * (b2 > 0)
        dz2, grads["bn2.w"], grads["bn2.b"] = _bn_backward(dr2, bn2, p["bn2.w"])
        da1, grads["c2.w"] = _conv_backward(dz2, cols2, p["c2.w"], a1.shape, 0, True)
        dr1 = _pool_backward(da1, best1, r1.shape) * (b1 > 0)
        dz1, grads["bn1.w"], grads["bn1.b"] = _bn_backward(dr1, bn1, p["bn1.w"])
        _, grads["c1.w"] = _conv_backward(dz1, cols1, p["c1.w"], x.shape, 2, False)
        self._adam(grads)
        return loss

    def _adam(self, grads, b1=0.9, b2=0.999, eps=1e-8):
        self.t += 1
        size = LR * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for k in self.names:
            g, m, v = grads[k], self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            self.p[k] -= size * m / (np.sqrt(v) + eps)


# ---- the frameworks ---------------------------------------------------------------------

def numpy_trainer(params):
    return NumpyCNN(params).step


TINYGRAD_NAMES = {"0.weight": "c1.w", "1.weight": "bn1.w", "1.bias": "bn1.b",
                  "4.weight": "c2.w", "5.weight": "bn2.w", "5.bias": "bn2.b",
                  "9.weight": "l1.w", "9.bias": "l1.b", "12.weight": "l2.w", "12.bias": "l2.b"}


def tinygrad_trainer(params):
    from tinygrad_edu import Tensor, nn, optim
    from tinygrad_edu.nn import functional as F
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 32, 5, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 128), nn.ReLU(), nn.Dropout(P_DROP), nn.Linear(128, 10))
    state = model.state_dict()
    state.update({k: params[v] for k, v in TINYGRAD_NAMES.items()})
    model.load_state_dict(state)
    opt = optim.Adam(model.parameters(), lr=LR)

    def train(x, labels):
        loss = F.cross_entropy(model(Tensor(x)), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    train.model = model
    return train


def torch_trainer(params):
    import torch
    from torch import nn
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS") or 1))  # as numpy's BLAS
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 32, 5, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 128), nn.ReLU(), nn.Dropout(P_DROP), nn.Linear(128, 10))
    names = ["c1.w", "bn1.w", "bn1.b", "c2.w", "bn2.w", "bn2.b", "l1.w", "l1.b", "l2.w",
             "l2.b"]
    with torch.no_grad():
        for p, name in zip(model.parameters(), names, strict=True):
            p.copy_(torch.from_numpy(params[name]))
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def train(x, labels):
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return train


FRAMEWORKS = {"numpy": numpy_trainer, "tinygrad_edu": tinygrad_trainer, "torch": torch_trainer}


def available() -> list[str]:
    try:
        import torch  # noqa: F401
    except ImportError:
        return ["numpy", "tinygrad_edu"]
    return list(FRAMEWORKS)


def time_steps(frameworks, rounds: int = 7, steps: int = 20) -> dict:
    """Interleaved rounds of `steps` steps each; per framework the median step time and the
    median of the same round's ratio to numpy."""
    rng = np.random.default_rng(0)
    params, (x, labels) = init_params(rng), data(rng)
    times = {fw: [] for fw in frameworks}
    for r in range(rounds):
        order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
        for fw in order:
            train = FRAMEWORKS[fw](params)
            train(x, labels)
            train(x, labels)                         # warm: first-call costs, allocator
            gc.collect()
            start = time.perf_counter()
            for _ in range(steps):
                train(x, labels)
            times[fw].append((time.perf_counter() - start) / steps)
    return {fw: {"median_s": statistics.median(t),
                 "median_ratio": statistics.median(a / b for a, b in zip(
                     t, times["numpy"], strict=True))} for fw, t in times.items()}


def epoch_peak_bytes(framework: str, samples: int = 8000) -> int:
    """Peak bytes (tracemalloc) that one epoch of `samples` in batches of 64 adds, after
    one warm-up step (first-call allocations are not the epoch's)."""
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x_all, y_all = data(rng, samples)
    train = FRAMEWORKS[framework](params)
    train(x_all[:BATCH], y_all[:BATCH])
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(0, samples, BATCH):
        train(x_all[i:i + BATCH], y_all[i:i + BATCH])
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/torch threads of every framework (default 1; read before "
                             "numpy loads when run as python -m benchmarks.cnn)")
    args = parser.parse_args(argv)
    frameworks = available()
    kernels = blas_kernels()
    print(f"CNN step, batch {BATCH}: {args.rounds} rounds x {args.steps} steps; "
          f"BLAS: {kernel_text(kernels)}")
    note = kernel_note(kernels)
    if note:
        print(note)
    result = time_steps(frameworks, args.rounds, args.steps)
    for fw, r in result.items():
        print(f"{fw:>13}: {r['median_s'] * 1e3:7.2f} ms/step  {r['median_ratio']:.2f}x numpy")
    if "torch" not in frameworks:
        print("        torch: not installed")
    if args.memory:
        for fw in frameworks:
            if fw == "torch":                    # its tensors live in C++: tracemalloc sees 0
                result[fw]["epoch_peak_bytes"] = None
                print(f"{fw:>13}: one epoch adds n/a (tracemalloc cannot see PyTorch's C++ "
                      "allocations)")
                continue
            result[fw]["epoch_peak_bytes"] = peak = epoch_peak_bytes(fw)
            print(f"{fw:>13}: one epoch adds {peak / 2**20:.1f} MiB at peak (tracemalloc)")
    return result


if __name__ == "__main__":
    main()
