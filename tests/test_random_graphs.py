"""Random expression graphs with shared subexpressions: backward equals numerical gradients.

Gradient bookkeeping bugs (a buffer added into in place while another tensor still waits on
it, a gradient overwritten instead of summed) show only in particular graph shapes: a leaf
reached both directly and through an intermediate, a value used by several consumers, in some
order. Hypothesis draws such graphs.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.testing import gradcheck
from tinygrad_edu.testing import strategies as tst

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "max": lambda a, b: a.maximum(b * 1.5 + 0.25),  # shifted so ties are unlikely
}
UNARY = {
    "scale": lambda a: a * 0.7,
    "tanh": lambda a: a.tanh(),
    "reshape": lambda a: a.reshape(-1).reshape(a.shape),
    "exp": lambda a: (a * 0.1).exp(),
}


@st.composite
def graphs(draw):
    """A list of steps; each combines earlier values (leaves or results) by index."""
    n_leaves = draw(st.integers(1, 2))
    steps = []
    for i in range(draw(st.integers(1, 10))):
        available = n_leaves + i
        if draw(st.booleans()):
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))),
                          draw(st.integers(0, available - 1)),
                          draw(st.integers(0, available - 1))))
        else:
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))),
                          draw(st.integers(0, available - 1)), None))
    # the output sums the first leaf and a drawn subset of all values, so values have many
    # consumers, and a leaf is reached both directly and through intermediates
    used = [0] + draw(st.lists(st.integers(0, n_leaves + len(steps) - 1), max_size=4))
    leaves = [draw(tst.arrays((3,), min_value=-2, max_value=2)) for _ in range(n_leaves)]
    return leaves, steps, used


def _evaluate(steps, used, leaves):
    values = list(leaves)
    for kind, name, i, j in steps:
        values.append(BINARY[name](values[i], values[j]) if kind == "binary"
                      else UNARY[name](values[i]))
    total = values[used[0]]
    for k in used[1:]:
        total = total + values[k]
    return (total * Tensor(np.array([1.0, -2.0, 0.5]))).sum()  # fresh, writable gradients


@given(graphs())
def test_random_graph_grads_match_numerical(graph):
    leaves, steps, used = graph
    assert gradcheck(lambda *xs: _evaluate(steps, used, xs), leaves)


def test_leaf_reached_directly_and_through_intermediate():
    """The regression behind this file: x feeds z = x + h, h = 3x and w = 2x."""
    x = Tensor([1.0], requires_grad=True)
    h = x * 3
    ((x + h + x * 2) * Tensor([1.0])).sum().backward()
    assert x.grad.item() == 6.0


def test_zero_dim_leaf_reached_three_times():
    """Sums of 0-d gradients are numpy scalars; the in-place path must still get an array."""
    x = Tensor(np.array(1.0), requires_grad=True)
    ((1.5 + x) * 2.5 - x / 4.0 - 0.5 * (1.0 - x)).backward()
    assert x.grad.item() == 2.75
