"""Pitfalls that tripped other small autograd engines, each pinned by a named test.

Each test states the bug it guards against; the expected numbers are worked out by hand or
with plain numpy beside the test.
"""

import sys

import numpy as np
import pytest

from tinygrad_edu import GraphError, Tensor, no_grad
from tinygrad_edu.testing import assert_grads_close, gradcheck

# ---- recursion ------------------------------------------------------------------------------


def test_deep_graph_beyond_the_recursion_limit():
    # bug: a recursive topological sort raises RecursionError past ~1000 nodes
    depth = 2 * sys.getrecursionlimit()
    x = Tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(depth):
        y = y.tanh() + y * 0.0         # a chain with a diamond at every step
    y.sum().backward()
    expected = 1.0
    value = 0.5
    for _ in range(depth):
        expected *= 1 - np.tanh(value) ** 2
        value = np.tanh(value)
    np.testing.assert_allclose(x.grad.data, [expected], rtol=1e-10)


# ---- several paths --------------------------------------------------------------------------


def test_tensor_reused_on_several_paths_sums_its_gradients():
    # bug: each path assigns .grad (or the intermediate's gradient) instead of adding to it
    x = Tensor([3.0], requires_grad=True)
    a = x * 2                         # a = 6 reaches out along two paths
    out = a * a + a                   # d out / d a = 2a + 1 = 13
    out.backward()
    np.testing.assert_array_equal(x.grad.data, [26.0])


def test_diamond_graph_sums_both_branches():
    x = Tensor([2.0], requires_grad=True)
    left, right = x.exp(), x * 3
    (left * right).backward()         # d/dx (3 x e^x) = 3 e^x (1 + x)
    np.testing.assert_allclose(x.grad.data, [3 * np.exp(2.0) * 3], rtol=1e-6)


def test_x_times_x_gives_two_x():
    # bug: both operands are the same object, so one gradient overwrites the other (x, not 2x)
    x = Tensor([-1.5, 4.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-3.0, 8.0])


def test_x_over_x_has_zero_gradient():
    # d(x/x)/dx = 1/x - x/x^2 = 0: the two partial derivatives must be added
    x = Tensor([2.0, -0.5], requires_grad=True)
    (x / x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0], atol=1e-7)


def test_x_minus_x_and_x_plus_x():
    x = Tensor([1.0, 2.0], requires_grad=True)
    ((x - x) + (x + x)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


# ---- backward called twice ------------------------------------------------------------------


def test_backward_twice_with_retain_graph_accumulates():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * 3 * np.array([1.0, 4.0]))


def test_backward_twice_without_retain_graph_raises():
    # bug: the second pass silently uses freed or stale values
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(GraphError, match="retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])   # the first pass stands


def test_zeroing_only_some_gradients():
    # bug: zeroing one parameter's grad resets another's (shared buffers) or a stale
    # gradient leaks into the next step
    w = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([0.5], requires_grad=True)
    (w * 3 + b).sum().backward()
    w.grad = None                     # zero w only
    (w * 3 + b).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(b.grad.data, [4.0])       # 2 + 2: accumulated


def test_zeroing_a_gradient_in_place():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.grad.data[...] = 0.0            # zero_grad the in-place way
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])


# ---- broadcasting in backward ---------------------------------------------------------------


def test_bias_added_to_a_batch_gets_the_sum_over_the_batch():
    # bug: the bias gradient keeps the batch shape (N, C) instead of (C,)
    batch = Tensor(np.arange(12.0).reshape(4, 3))
    bias = Tensor(np.zeros(3), requires_grad=True)
    weights = np.arange(12.0).reshape(4, 3)
    ((batch + bias) * Tensor(weights)).sum().backward()
    assert bias.grad.shape == (3,)
    np.testing.assert_array_equal(bias.grad.data, weights.sum(axis=0))


def test_column_bias_of_samples_as_columns_sums_over_columns():
    # the layout of documents 000-003: z = W x + b with b of shape (n_out, 1)
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.zeros((2, 1)), requires_grad=True)
    x = Tensor(np.arange(15.0).reshape(3, 5))
    (w @ x + b).sum().backward()
    np.testing.assert_array_equal(b.grad.data, [[5.0], [5.0]])
    np.testing.assert_array_equal(w.grad.data, np.tile(np.arange(15.0).reshape(3, 5).sum(1),
                                                       (2, 1)))


def test_dividing_by_a_broadcast_tensor():
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    scale = Tensor([2.0, 4.0], requires_grad=True)
    (x / scale).sum().backward()
    np.testing.assert_array_equal(scale.grad.data, [-3 / 4, -3 / 16])


def test_mean_divides_the_gradient_by_the_count():
    x = Tensor(np.ones((4, 5)), requires_grad=True)
    x.mean().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((4, 5), 1 / 20))


# ---- parameter updates between steps --------------------------------------------------------


def test_in_place_parameter_updates_then_a_new_forward_give_correct_grads():
    # bug: a node keeps a stale copy (or a stale view) of the parameter, so the second step
    # differentiates at the old value
    rng = np.random.default_rng(1)
    x, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    lr = 0.1
    for _ in range(3):
        w.grad = None
        loss = ((Tensor(x) @ w - Tensor(target)) ** 2).mean()
        loss.backward()
        expected = 2 * x.T @ (x @ w.data - target) / target.size   # at the current w
        assert_grads_close(w.grad, expected, atol=1e-12)
        w.data -= lr * w.grad.data
    assert w.is_leaf and w.grad_fn is None


def test_updates_under_no_grad_record_nothing():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with no_grad():
        w_new = w - 0.1 * w.grad
    assert w_new.grad_fn is None and not w_new.requires_grad


# ---- memory shared between gradients --------------------------------------------------------


def test_two_leaves_grads_do_not_share_memory():
    # bug: Add passes the same gradient array to both inputs, and both .grad keep it
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.data *= 10                 # an optimizer modifying .grad in place
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_two_leaves_grads_do_not_share_memory_with_a_given_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)   # float64, like the gradient:
    y = Tensor(np.array([3.0, 4.0]), requires_grad=True)   # no conversion copies it
    gradient = np.array([1.0, 2.0])
    (x + y).backward(gradient)
    x.grad.data[0] = 100.0
    np.testing.assert_array_equal(y.grad.data, [1.0, 2.0])
    np.testing.assert_array_equal(gradient, [1.0, 2.0])


def test_leaf_and_retained_intermediate_grads_do_not_share_memory():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x + 0.0
    h.retain_grad()
    (h * 1.0).sum().backward()
    x.grad.data[...] = 0.0
    np.testing.assert_array_equal(h.grad.data, [1.0, 1.0])


def test_grads_are_writeable_arrays():
    # bug: the gradient of a sum is a read-only broadcast view; optimizers write into .grad
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()
    assert x.grad.data.flags.writeable
    x.grad.data *= 0.5


# ---- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_dtype_equals_the_leafs_dtype(dtype):
    # bug: a float64 constant promotes the gradient, and float32 parameters get float64 grads
    x = Tensor(np.array([1.0, 2.0], dtype=dtype), requires_grad=True)
    other = np.float64 if dtype == np.float32 else np.float32
    (x * Tensor(np.array([3.0, 4.0], dtype=other)) + x.exp()).sum().backward()
    assert x.grad.dtype == dtype


# ---- others seen in the wild ----------------------------------------------------------------


def test_polynomial_constant_term_has_no_nan_gradient_at_zero():
    # bug: d(x**0)/dx = 0 * x**-1 = 0 * inf = NaN at x = 0
    x = Tensor([0.0], requires_grad=True)
    (3.0 * x ** 0 + x ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0])


def test_permute_with_negative_dims_backpropagates():
    # bug: the inverse permutation was computed from the raw (negative) dims
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    weights = np.arange(24.0).reshape(4, 2, 3)
    (x.permute(-1, 0, -2) * Tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, weights.transpose(1, 2, 0))


def test_max_ties_do_not_give_every_maximum_the_full_gradient():
    x = Tensor([2.0, 2.0, 1.0], requires_grad=True)
    x.max().backward()
    assert x.grad.data.sum() == 1.0


def test_reflected_subtraction_and_division_have_the_right_sign():
    x = Tensor([2.0], requires_grad=True)
    (1.0 - x).backward()
    (1.0 / x).backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0 - 0.25])


def test_no_gradient_flows_through_detach():
    x = Tensor([2.0], requires_grad=True)
    (x * x.detach()).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0])   # not 4: the detached factor is constant


def test_gradcheck_of_a_0d_input_keeps_it_0d():
    # bug: np.ascontiguousarray turned a 0-d input into shape (1,), checking another function
    assert gradcheck(lambda t: t * t + t.exp(), [np.array(0.3)])
