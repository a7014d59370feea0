"""Backward through a long chain of ops: the time per node must not grow with the length.

The chain alternates `y = y * 0.999` and `y = y + 0.001` on a one-element tensor, so each op
costs almost nothing in numpy and the time is the engine's own per-node work (recording
the node, ordering the graph, running the rule, freeing the node). A walk that is not
linear (recursion, repeated scans, a cycle collector that rescans the whole graph) shows
up as a time per node that grows from 10k to 1M nodes.
"""

from __future__ import annotations

import gc
import time

import numpy as np

FACTOR, OFFSET = 0.999, 0.001


def expected_grad(n_ops: int) -> float:
    """dy/dx of the chain: the product of the n_ops / 2 factors."""
    return FACTOR ** (n_ops // 2)


def _time_chain(x, n_ops: int, clock) -> tuple[float, float, float]:
    """(forward seconds, backward seconds, dy/dx) for a chain of `n_ops` ops starting at the
    one-element leaf `x` (a tinygrad_edu or a PyTorch tensor: the code is the same)."""
    start = clock()
    y = x
    for _ in range(n_ops // 2):
        y = y * FACTOR
        y = y + OFFSET
    loss = y.sum()
    middle = clock()
    loss.backward()
    end = clock()
    grad = x.grad[0].item()
    del x, y, loss
    gc.collect()
    return middle - start, end - middle, grad


def run_tinygrad(n_ops: int, clock=time.perf_counter) -> tuple[float, float, float]:
    """(forward seconds, backward seconds, dy/dx) for a chain of `n_ops` recorded ops."""
    from tinygrad_edu import Tensor

    return _time_chain(Tensor(np.array([0.5], dtype=np.float64), requires_grad=True), n_ops,
                       clock)


def run_torch(n_ops: int, clock=time.perf_counter) -> tuple[float, float, float]:
    import torch

    return _time_chain(torch.tensor([0.5], dtype=torch.float64, requires_grad=True), n_ops,
                       clock)


RUNNERS = {"tinygrad_edu": run_tinygrad, "torch": run_torch}
