"""matmul: numpy's rules for 1-D, 2-D and batched operands, gradients and second derivatives."""

import numpy as np
import pytest
from hypothesis import given

from tinygrad_edu import Tensor, nn, ops
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing import strategies as tst


@given(tst.matmul_arrays())
def test_matmul_matches_numpy(operands):
    x, y = operands
    out = Tensor(x) @ Tensor(y)
    expected = np.matmul(x, y)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Tensor(x).matmul(Tensor(y)).data, expected, rtol=1e-12,
                               atol=1e-12)


@given(tst.matmul_arrays(max_side=3, batch_dims=2))
def test_matmul_grad_and_second_derivative_match_numerical(operands):
    # bilinear: the second derivative is the cross term d2/dx dy, non-zero
    check_grad(lambda x, y: x @ y, *operands, order=2)


@given(tst.matmul_arrays(max_side=3))
def test_matmul_grads_have_the_operand_shapes(operands):
    x, y = (Tensor(a, requires_grad=True) for a in operands)
    (x @ y).sum().backward()
    assert x.grad.shape == x.shape and y.grad.shape == y.shape


@given(tst.arrays((3, 4)), tst.arrays((4, 2)))
def test_matmul_grads_are_the_textbook_formulas(x, y):
    a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    g = np.arange(6.0).reshape(3, 2)
    (a @ b).backward(g)
    assert_grads_close(a.grad, g @ y.T)   # dL/dx = grad @ y^T
    assert_grads_close(b.grad, x.T @ g)   # dL/dy = x^T @ grad


def test_dot_product_of_vectors_is_0d():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([4.0, 5.0, 6.0], requires_grad=True)
    out = x @ y
    assert out.shape == () and out.item() == 32.0
    out.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 2.0, 3.0])


def test_matmul_with_a_numpy_array_on_either_side():
    w = Tensor(np.eye(2) * 3, requires_grad=True)
    left = np.array([[1.0, 2.0]]) @ w
    right = w @ np.array([1.0, 1.0])
    assert isinstance(left, Tensor) and isinstance(right, Tensor)
    (left.sum() + right.sum()).backward()
    np.testing.assert_array_equal(w.grad.data, [[2.0, 2.0], [3.0, 3.0]])  # [1,2]^T 1 + 1 1^T


def test_batched_weights_shared_across_the_batch_get_summed_grads():
    x = Tensor(np.ones((5, 2, 3)))
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.full((3, 4), 10.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_keeps_the_dtype(dtype):
    x = Tensor(np.ones((2, 3), dtype=dtype), requires_grad=True)
    out = x @ Tensor(np.ones((3,), dtype=dtype))
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype


# ---- the Linear op (nn.Linear's layer in one op) ---------------------------------------------

@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (3,)], ids=["batch", "batch-dims", "1-D"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_op_grad_and_second_derivative_match_numerical(x_shape, bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((2, 3)), rng.standard_normal(2)
    if bias:
        check_grad(lambda x, w, b: ops.Linear.apply(x, w, b), x, w, b, order=2)
    else:
        check_grad(lambda x, w: ops.Linear.apply(x, w), x, w, order=2)


def test_linear_op_equals_matmul_with_the_transpose_plus_bias():
    rng = np.random.default_rng(1)
    x, w, b = (Tensor(rng.standard_normal(s)) for s in [(5, 3), (2, 3), (2,)])
    np.testing.assert_allclose(ops.Linear.apply(x, w, b).data, (x @ w.T + b).data, rtol=1e-12)


def test_linear_layer_keeps_its_weight_and_gradient_in_one_layout():
    layer = nn.Linear(3, 2, rng=0)
    assert layer.weight.data.flags.f_contiguous          # so W.T is a C-contiguous operand
    layer(Tensor(np.ones((4, 3), np.float32))).sum().backward()
    grad = layer.weight.grad.data
    assert grad.flags.f_contiguous and grad.flags.writeable   # the update reads both in order
    np.testing.assert_allclose(grad, np.full((2, 3), 4.0))
    assert layer.state_dict()["weight"].flags.c_contiguous   # copies are ordinary arrays


def test_a_gradient_view_that_nothing_else_holds_is_kept_and_a_shared_one_copied():
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    h = w.reshape(6)                                      # Reshape's rule returns a view
    (h * Tensor(np.arange(6.0))).sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.arange(6.0).reshape(2, 3))
    a, b = Tensor(np.ones(6), requires_grad=True), Tensor(np.ones((2, 3)), requires_grad=True)
    (a + b.reshape(6)).sum().backward()                   # one array reaches both, a view of it b
    a.grad.data[0] = 99.0
    assert b.grad.data[0, 0] == 1.0


def test_functional_linear_is_the_linear_op():
    from tinygrad_edu.nn import functional as F
    rng = np.random.default_rng(2)
    x, w, b = (Tensor(rng.standard_normal(s)) for s in [(4, 3), (2, 3), (2,)])
    np.testing.assert_allclose(F.linear(x, w, b).data, (x @ w.T + b).data, rtol=1e-12)
    assert F.linear(x, w).grad_fn is None and F.linear(x, w).shape == (4, 2)
    with pytest.raises(TypeError, match="linear"):
        F.linear(x.data, w)
